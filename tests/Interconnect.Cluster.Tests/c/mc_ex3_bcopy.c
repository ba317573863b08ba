/*
 * Example 10-3 of the manual (examples/c/mc_ex3.c) for a cluster across machines, where a plain store cannot reach
 * another machine and a region C creates with flag 0 (direct) is refused with IMC_NOTSUPPORTED: the region is made
 * with IMC_EMULATED and every store through the transmit pointer is written through imc_write32 or imc_bcopy instead.
 * Otherwise the same message: msg_arrived, send_count (the transmitter's error count), remainder[i] = i. The receiver
 * also checks what it received and says so (the manual's receiver leaves the body to the reader):
 * "received: msg_arrived=1 send_count=N error_count=N remainder_ok=2046", exit 0 when all hold, 1 otherwise.
 *
 * cc -I native/include [-DTRANSMIT] -o mc_ex3_bcopy tests/Interconnect.Cluster.Tests/c/mc_ex3_bcopy.c -L native/lib -limc
 */

#include <stdio.h>
#include <stddef.h>
#include <sys/imc.h>

#define mb() __sync_synchronize()
#define WORDS 2046

typedef struct {
    volatile int msg_arrived;
    int send_count;
    int remainder[WORDS];
} global_page;

static int check(const char *what, int status)
{
    if (status != IMC_SUCCESS) {
        imc_perror((char *)what, status);
        return 0;
    }
    return 1;
}

int main(void)
{
    global_page *mypage_rx, *mypage_tx;
    imc_asid_t glob_id;
    int i, ok;
    volatile int err_count;

    if (!check("imc_api_init", imc_api_init(NULL)) ||
        !check("imc_asalloc", imc_asalloc(1234, 8192, IMC_URW, IMC_EMULATED, &glob_id, 0)))
        return 2;

#ifdef TRANSMIT
    static int remainder[WORDS];

    if (!check("imc_asattach transmit", imc_asattach(glob_id, IMC_TRANSMIT, IMC_SHARED, IMC_LOOPBACK, (caddr_t *)&mypage_tx)) ||
        !check("imc_asattach receive", imc_asattach(glob_id, IMC_RECEIVE, IMC_SHARED, 0, (caddr_t *)&mypage_rx)))
        return 2;

    /* save the error count */
    while ((err_count = imc_rderrcnt_mr(0)) < 0)
        ;
    if (!check("imc_write32 send_count", imc_write32(&mypage_tx->send_count, err_count)))
        return 2;

    /* store message data */
    for (i = 0; i < WORDS; i++)
        remainder[i] = i;
    if (!check("imc_bcopy remainder", imc_bcopy(remainder, mypage_tx->remainder, sizeof remainder)))
        return 2;

    /* now mark as valid */
    mb();
    do {
        if (!check("imc_write32 msg_arrived", imc_write32((int *)&mypage_tx->msg_arrived, 1)))
            return 2;
    } while (mypage_rx->msg_arrived != 1); /* ensure no error on valid flag */
    (void)ok;
    return 0;
#else
    (void)mypage_tx;
    if (!check("imc_asattach receive", imc_asattach(glob_id, IMC_RECEIVE, IMC_SHARED, 0, (caddr_t *)&mypage_rx)))
        return 2;
    printf("waiting for the message\n");
    fflush(stdout);

    /* wait for message arrival */
    while (mypage_rx->msg_arrived == 0)
        ;

    /* get this systems error count */
    while ((err_count = imc_rderrcnt_mr(0)) < 0)
        ;

    ok = 0;
    for (i = 0; i < WORDS; i++)
        if (mypage_rx->remainder[i] == i)
            ok++;
    printf("received: msg_arrived=%d send_count=%d error_count=%d remainder_ok=%d\n",
           mypage_rx->msg_arrived, mypage_rx->send_count, err_count, ok);
    return mypage_rx->msg_arrived == 1 && err_count == mypage_rx->send_count && ok == WORDS ? 0 : 1;
#endif
}
