/*
 * A C program that writes and exits at once, for API.md "Faults across machines" (a process exits right after
 * writing: every write it completed lands, or the count rises), through libimc.so in a cluster across machines.
 *
 * write_and_exit WORDS BASE [ROUNDS]
 *   -DTRANSMIT: with no ROUNDS, writes BASE + i into word i for i = 1..WORDS with imc_write32, one call each; with
 *   ROUNDS, writes words 1..WORDS ROUNDS times with one imc_bcopy each, round r (from 1) with BASE + i - (ROUNDS - r),
 *   so the last round leaves BASE + i; then BASE + WORDS into word 0 (the marker), and returns from main at once
 *   (with -DWAIT_BEFORE_EXIT too: prints "written" and returns once a line comes on standard input).
 *   Receiver: prints "ready" once attached, waits up to 30 s for the marker, then prints
 *   "marker=M missing=N count_before=B count_after=A" and exits 0.
 *
 * cc -I native/include [-DTRANSMIT] -o write_and_exit tests/Interconnect.Cluster.Tests/c/write_and_exit.c -L native/lib -limc
 */

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <sys/imc.h>

static int check(const char *what, int status)
{
    if (status != IMC_SUCCESS) {
        imc_perror((char *)what, status);
        return 0;
    }
    return 1;
}

static int settled_count(void)
{
    int count;
    while ((count = imc_rderrcnt_mr(0)) < 0)
        ;
    return count;
}

int main(int argc, char **argv)
{
    imc_asid_t id;
    volatile int *words;
    int count, base, rounds, i;

    if (argc != 3 && argc != 4)
        return 2;
    count = atoi(argv[1]);
    base = atoi(argv[2]);
    rounds = argc == 4 ? atoi(argv[3]) : 0;
    if (count <= 0 || (count + 1) * 4 > 65536)
        return 2;
    if (!check("imc_api_init", imc_api_init(NULL)) ||
        !check("imc_asalloc", imc_asalloc(4321, 65536, IMC_URW, IMC_EMULATED, &id, 0)))
        return 2;

#ifdef TRANSMIT
    if (!check("imc_asattach transmit", imc_asattach(id, IMC_TRANSMIT, IMC_SHARED, 0, (caddr_t *)&words)))
        return 2;
    if (rounds == 0) {
        for (i = 1; i <= count; i++)
            if (!check("imc_write32", imc_write32((int *)&words[i], base + i)))
                return 2;
    } else {
        static int block[16384];
        int r;
        for (r = 1; r <= rounds; r++) {
            for (i = 1; i <= count; i++)
                block[i - 1] = base + i - (rounds - r);
            if (!check("imc_bcopy", imc_bcopy(block, (void *)&words[1], count * 4)))
                return 2;
        }
    }
    if (!check("imc_write32 marker", imc_write32((int *)&words[0], base + count)))
        return 2;
#ifdef WAIT_BEFORE_EXIT
    printf("written\n"); /* then returns once a line comes on standard input */
    fflush(stdout);
    (void)getchar();
#endif
    return 0; /* at once: the library flushes on the way out */
#else
    int before, missing = 0;
    struct timespec start, now;

    if (!check("imc_asattach receive", imc_asattach(id, IMC_RECEIVE, IMC_SHARED, 0, (caddr_t *)&words)))
        return 2;
    before = settled_count();
    printf("ready\n");
    fflush(stdout);
    clock_gettime(CLOCK_MONOTONIC, &start);
    do {
        if (words[0] == base + count)
            break;
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while (now.tv_sec - start.tv_sec < 30);
    for (i = 1; i <= count; i++)
        if (words[i] != base + i)
            missing++;
    printf("marker=%d missing=%d count_before=%d count_after=%d\n", words[0], missing, before, settled_count());
    return 0;
#endif
}
