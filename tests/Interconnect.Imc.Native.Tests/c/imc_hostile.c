/*
 * Test helper: hostile input at the C boundary. Calls every function of sys/imc.h with null pointers, ids it was
 * never given, bad sizes, flags, rails and signals, and checks the status each returns; prints "ok LABEL" or
 * "FAIL LABEL: got X, expected Y" per check and exits with the number of failures. Run on host alpha of a cluster
 * where alpha and beta are up (and no other process uses keys 1 to 3); no call may crash it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/imc.h>

static int failures;

static void expect(const char *label, int got, int expected)
{
    if (got == expected) {
        printf("ok %s\n", label);
    } else {
        printf("FAIL %s: got %d, expected %d\n", label, got, expected);
        failures++;
    }
}

int main(void)
{
    imc_asid_t direct, emulated;
    imc_lkid_t locks;
    int n = 4, count = 0, i;
    caddr_t tx = 0, rx = 0, etx = 0, erx = 0, p = 0;
    imc_railinfo mask;
    imc_hostinfo hosts;
    imc_infoType items[2] = { IMC_GET_HOSTS, 0 };
    imc_infoType bad_items[2] = { 77, 0 };
    imc_eventType events[2] = { IMC_CC_EVENT_HOST, 0 };
    char buffer[16], source[16] = "0123456789abcde", long_host[300];

    /* Before imc_api_init. */
    expect("asalloc before init", imc_asalloc(1, 8192, IMC_URW, 0, &direct, 0), IMC_NOTINIT);
    expect("asattach before init", imc_asattach(1, IMC_RECEIVE, IMC_SHARED, 0, &p), IMC_NOTINIT);
    expect("lkacquire before init", imc_lkacquire(1, 0, 0, IMC_LOCKWAIT), IMC_NOTINIT);
    expect("rderrcnt before init", imc_rderrcnt_mr(0), IMC_NOTINIT);
    expect("api_init", imc_api_init(NULL), IMC_SUCCESS);
    expect("api_init again", imc_api_init(NULL), IMC_SUCCESS);

    /* Regions. */
    expect("asalloc NULL id", imc_asalloc(1, 8192, IMC_URW, 0, NULL, 0), IMC_BADPARM);
    expect("asalloc size 0", imc_asalloc(1, 0, IMC_URW, 0, &direct, 0), IMC_BADSIZE);
    expect("asalloc size -8192", imc_asalloc(1, -8192, IMC_URW, 0, &direct, 0), IMC_BADSIZE);
    expect("asalloc size 2^62", imc_asalloc(1, 1L << 62, IMC_URW, 0, &direct, 0), IMC_MCFULL);
    expect("asalloc flag 0x42", imc_asalloc(1, 8192, IMC_URW, 0x42, &direct, 0), IMC_BADPARM);
    expect("asalloc rail 9", imc_asalloc(1, 8192, IMC_URW, 0, &direct, 9), IMC_BADRAIL);
    expect("asalloc rail -1", imc_asalloc(1, 8192, IMC_URW, 0, &direct, -1), IMC_BADRAIL);
    expect("asalloc perm 0", imc_asalloc(1, 8192, 0, 0, &direct, 0), IMC_BADPARM);
    expect("asalloc perm 07777", imc_asalloc(1, 8192, 07777, 0, &direct, 0), IMC_BADPARM);
    expect("asalloc key -1", imc_asalloc(-1, 8192, IMC_URW, 0, &direct, 0), IMC_BADPARM);
    expect("asalloc", imc_asalloc(1, 8192, IMC_URW, 0, &direct, 0), IMC_SUCCESS);
    expect("asalloc twice", imc_asalloc(1, 8192, IMC_URW, 0, &direct, 0), IMC_PRIOR);
    expect("asattach id 9999", imc_asattach(9999, IMC_RECEIVE, IMC_SHARED, 0, &p), IMC_BADREGION);
    expect("asattach id -1", imc_asattach(-1, IMC_RECEIVE, IMC_SHARED, 0, &p), IMC_BADREGION);
    expect("asattach direction 7", imc_asattach(direct, 7, IMC_SHARED, 0, &p), IMC_BADPARM);
    expect("asattach share 0", imc_asattach(direct, IMC_RECEIVE, 0, 0, &p), IMC_BADPARM);
    expect("asattach NULL address", imc_asattach(direct, IMC_RECEIVE, IMC_SHARED, 0, NULL), IMC_BADPARM);
    expect("asattach receive with a flag", imc_asattach(direct, IMC_RECEIVE, IMC_SHARED, IMC_LOOPBACK, &p), IMC_BADPARM);
    expect("asattach transmit flag 8", imc_asattach(direct, IMC_TRANSMIT, IMC_SHARED, 8, &p), IMC_BADPARM);
    expect("asattach receive", imc_asattach(direct, IMC_RECEIVE, IMC_SHARED, 0, &rx), IMC_SUCCESS);
    expect("asattach receive twice", imc_asattach(direct, IMC_RECEIVE, IMC_SHARED, 0, &p), IMC_RXMAPPED);
    expect("direct: transmit without loopback where this host receives",
           imc_asattach(direct, IMC_TRANSMIT, IMC_SHARED, 0, &tx), IMC_NOTSUPPORTED);
    expect("direct: point-to-point", imc_asattach_ptp(direct, "beta", IMC_SHARED, 0, &tx), IMC_NOTSUPPORTED);
    expect("asattach_ptp NULL host", imc_asattach_ptp(direct, NULL, IMC_SHARED, 0, &tx), IMC_BADPARM);
    expect("direct: transmit with loopback", imc_asattach(direct, IMC_TRANSMIT, IMC_SHARED, IMC_LOOPBACK, &tx), IMC_SUCCESS);
    expect("asattach transmit twice", imc_asattach(direct, IMC_TRANSMIT, IMC_SHARED, IMC_LOOPBACK, &p), IMC_TXMAPPED);
    ((volatile int *)tx)[5] = 4242;
    expect("direct: a plain store comes back", ((volatile int *)rx)[5], 4242);
    expect("asdealloc while attached", imc_asdealloc(direct), IMC_ATTACHED);
    expect("asdetach id 12345", imc_asdetach(12345), IMC_BADREGION);

    /* An emulated region: explicit writes with full semantics. */
    expect("emulated: asalloc", imc_asalloc(2, 8192, IMC_URW, IMC_EMULATED, &emulated, 0), IMC_SUCCESS);
    expect("emulated: point-to-point to an unknown host", imc_asattach_ptp(emulated, "nosuch", IMC_SHARED, 0, &etx), IMC_BADHOST);
    expect("emulated: point-to-point to this host", imc_asattach_ptp(emulated, "alpha", IMC_SHARED, 0, &etx), IMC_PTPERR);
    expect("emulated: receive", imc_asattach(emulated, IMC_RECEIVE, IMC_SHARED, 0, &erx), IMC_SUCCESS);
    expect("emulated: transmit without loopback", imc_asattach(emulated, IMC_TRANSMIT, IMC_SHARED, 0, &etx), IMC_SUCCESS);
    expect("emulated: write32", imc_write32(etx + 8, 77), IMC_SUCCESS);
    expect("emulated: without loopback this host does not see it", ((volatile int *)erx)[2], 0);
    expect("emulated: detach", imc_asdetach(emulated), IMC_SUCCESS);
    expect("emulated: receive again", imc_asattach(emulated, IMC_RECEIVE, IMC_SHARED, 0, &erx), IMC_SUCCESS);
    expect("emulated: transmit with loopback", imc_asattach(emulated, IMC_TRANSMIT, IMC_SHARED, IMC_LOOPBACK, &etx), IMC_SUCCESS);
    expect("emulated: write64", imc_write64(etx + 16, 0x0102030405060708UL), IMC_SUCCESS);
    expect("emulated: write64 came back", ((volatile unsigned long *)erx)[2] == 0x0102030405060708UL, 1);
    expect("emulated: bcopy", imc_bcopy(source, etx + 100, 15), IMC_SUCCESS);
    expect("emulated: bcopy came back", memcmp(erx + 100, source, 15), 0);
    expect("bcopy past the end of a transmit region", imc_bcopy(source, etx + 8190, 16), IMC_BADSIZE);
    expect("write32 past the end of a transmit region", imc_write32(etx + 8190, 1), IMC_BADADDR);
    expect("write32 outside any transmit region", imc_write32(buffer, 1), IMC_BADADDR);
    expect("write64 to NULL", imc_write64(NULL, 1), IMC_BADADDR);
    expect("direct: write32 through the library", imc_write32(tx + 24, 99), IMC_SUCCESS);
    expect("direct: write32 came back", ((volatile int *)rx)[6], 99);
    expect("bcopy NULL source", imc_bcopy(NULL, buffer, 8), IMC_BADPARM);
    expect("bcopy NULL destination", imc_bcopy(source, NULL, 8), IMC_BADPARM);
    expect("bcopy length -1", imc_bcopy(source, buffer, -1), IMC_BADSIZE);
    expect("bcopy length 0 of NULL", imc_bcopy(NULL, NULL, 0), IMC_SUCCESS);
    expect("bcopy between ordinary buffers", imc_bcopy(source, buffer, 16), IMC_SUCCESS);
    expect("bcopy between ordinary buffers copied", memcmp(buffer, source, 16), 0);

    /* Locks. */
    expect("lkalloc NULL count", imc_lkalloc(3, NULL, IMC_LKU, 0, &locks), IMC_BADPARM);
    expect("lkalloc NULL id", imc_lkalloc(3, &n, IMC_LKU, 0, NULL), IMC_BADPARM);
    n = 0;
    expect("lkalloc 0 locks", imc_lkalloc(3, &n, IMC_LKU, 0, &locks), IMC_BADPARM);
    n = -4;
    expect("lkalloc -4 locks", imc_lkalloc(3, &n, IMC_LKU, 0, &locks), IMC_BADPARM);
    n = 4;
    expect("lkalloc flag 5", imc_lkalloc(3, &n, IMC_LKU, 5, &locks), IMC_BADPARM);
    expect("lkalloc perm 99", imc_lkalloc(3, &n, 99, 0, &locks), IMC_BADPARM);
    expect("lkalloc creator", imc_lkalloc(3, &n, IMC_LKU, IMC_CREATOR, &locks), IMC_SUCCESS);
    expect("lkalloc creator again", imc_lkalloc(3, &n, IMC_LKU, IMC_CREATOR, &i), IMC_EXISTS);
    expect("lkacquire held lock 0", imc_lkacquire(locks, 0, 0, IMC_LOCKWAIT), IMC_LOCKPRIOR);
    expect("lkacquire nowait held lock 0", imc_lkacquire(locks, 0, 0, IMC_LOCKNOWAIT), IMC_LOCKPRIOR);
    expect("lkacquire id 777", imc_lkacquire(777, 0, 0, IMC_LOCKWAIT), IMC_BADLOCK);
    expect("lkacquire index 4", imc_lkacquire(locks, 4, 0, IMC_LOCKWAIT), IMC_BADLOCK);
    expect("lkacquire index -1", imc_lkacquire(locks, -1, 0, IMC_LOCKWAIT), IMC_BADLOCK);
    expect("lkacquire flag 7", imc_lkacquire(locks, 1, 0, 7), IMC_BADPARM);
    expect("lkacquire retry -1", imc_lkacquire(locks, 1, -1, IMC_LOCKWAIT), IMC_BADPARM);
    expect("lkrelease not held", imc_lkrelease(locks, 1), IMC_LOCKNOTHELD);
    expect("lkrelease index 1000", imc_lkrelease(locks, 1000), IMC_BADLOCK);
    expect("lkdealloc while holding", imc_lkdealloc(locks), IMC_LOCKACTIVE);
    expect("lkrelease", imc_lkrelease(locks, 0), IMC_SUCCESS);
    expect("lkdealloc", imc_lkdealloc(locks), IMC_SUCCESS);
    expect("lkdealloc twice", imc_lkdealloc(locks), IMC_BADLOCK);

    /* Error counts, signals, information. */
    expect("ckerrcnt NULL", imc_ckerrcnt_mr(NULL, 0), IMC_BADPARM);
    expect("ckerrcnt rail 99", imc_ckerrcnt_mr(&count, 99), IMC_BADRAIL);
    expect("rderrcnt rail -3", imc_rderrcnt_mr(-3), IMC_BADRAIL);
    expect("kill NULL host", imc_kill(NULL, getpid(), 10), IMC_BADPARM);
    expect("kill signal 0", imc_kill("alpha", getpid(), 0), IMC_INVSIG);
    expect("kill signal 65", imc_kill("alpha", getpid(), 65), IMC_INVSIG);
    expect("kill pid 0", imc_kill("alpha", 0, 10), IMC_BADPARM);
    expect("kill unknown host", imc_kill("nosuch", getpid(), 10), IMC_BADHOST);
    memset(long_host, 'h', sizeof long_host); /* not terminated within 256 bytes */
    long_host[sizeof long_host - 1] = 0;
    expect("kill a 299-character host", imc_kill(long_host, getpid(), 10), IMC_BADHOST);
    expect("getclusterinfo NULL items", imc_getclusterinfo(NULL, 1, mask, sizeof(imc_railinfo), &hosts, sizeof hosts), IMC_BADPARM);
    expect("getclusterinfo -1 items", imc_getclusterinfo(items, -1, mask, sizeof(imc_railinfo), &hosts, sizeof hosts), IMC_BADPARM);
    expect("getclusterinfo unknown item", imc_getclusterinfo(bad_items, 1, mask, sizeof(imc_railinfo), &hosts, sizeof hosts), IMC_BADPARM);
    expect("getclusterinfo NULL hosts", imc_getclusterinfo(items, 1, mask, sizeof(imc_railinfo), NULL, sizeof hosts), IMC_BADPARM);
    expect("getclusterinfo small hosts", imc_getclusterinfo(items, 1, mask, sizeof(imc_railinfo), &hosts, 3), IMC_BADPARM);
    expect("getclusterinfo", imc_getclusterinfo(items, 1, mask, sizeof(imc_railinfo), &hosts, sizeof hosts), IMC_SUCCESS);
    expect("getclusterinfo: two hosts", hosts.num_hosts, 2);
    expect("getclusterinfo: alpha and beta", strcmp(hosts.hosts[0], "alpha") == 0 && strcmp(hosts.hosts[1], "beta") == 0, 1);
    expect("wait_cluster_event 0 events", imc_wait_cluster_event(events, 0, 1, mask, sizeof(imc_railinfo), &hosts, sizeof hosts), IMC_BADPARM);
    expect("wait_cluster_event timeout -1", imc_wait_cluster_event(events, 1, -1, mask, sizeof(imc_railinfo), &hosts, sizeof hosts), IMC_BADPARM);
    expect("wait_cluster_event times out", imc_wait_cluster_event(events, 1, 1, mask, sizeof(imc_railinfo), &hosts, sizeof hosts), IMC_TIMEOUT);
    imc_perror(NULL, IMC_BADPARM);
    imc_perror("unknown status:", 12345);

    /* Clean up, strictly. */
    expect("asdetach", imc_asdetach(direct), IMC_SUCCESS);
    expect("asdealloc", imc_asdealloc(direct), IMC_SUCCESS);
    expect("asdealloc twice", imc_asdealloc(direct), IMC_BADREGION);
    expect("emulated: asdetach", imc_asdetach(emulated), IMC_SUCCESS);
    expect("emulated: asdealloc", imc_asdealloc(emulated), IMC_SUCCESS);
    printf("%d failure(s)\n", failures);
    return failures;
}
