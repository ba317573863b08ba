/*
 * imc_stream_floor: the memory-copy limit of a byte stream between two processes on this machine, for the streams
 * benchmark (bench/Interconnect.StreamBench). Plain C, no library: a parent and its forked child share an anonymous
 * MAP_SHARED ring of SLOTS slots of WRITE bytes; the parent memcpy's each write from a private buffer into the next
 * free slot and publishes it (a release store of the write count); the child waits for it, memcpy's the slot into
 * its own private buffer (as a reader that consumes the bytes does) and gives the slot back (a release store of the
 * read count). Both spin, yielding the CPU after a few thousand empty looks (so that on a machine shared with other
 * work a waiting side does not hold the core the other side needs); each is pinned to its own CPU where the machine
 * has two. That is two copies per byte, the
 * same two a socket or pipe makes (into and out of the kernel); the Imc stream makes the same two plus the caller's
 * own copy into the span it was given.
 *
 *   usage: imc_stream_floor WRITE_BYTES TOTAL_BYTES [RING_BYTES]      (ring default 4 MiB, as imccat's)
 *   prints: write <bytes> total <bytes> seconds <s> mib_per_s <rate>
 */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct control {
    _Alignas(64) volatile uint64_t written;
    _Alignas(64) volatile uint64_t read;
};

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void wait_a_little(unsigned *spins)
{
    if (++*spins >= 4096) {
        *spins = 0;
        sched_yield();
    }
}

static void pin(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sysconf(_SC_NPROCESSORS_ONLN) >= 2) {
        (void)sched_setaffinity(0, sizeof set, &set);
    }
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: imc_stream_floor WRITE_BYTES TOTAL_BYTES [RING_BYTES]\n");
        return 2;
    }
    size_t write = strtoull(argv[1], NULL, 10);
    uint64_t total = strtoull(argv[2], NULL, 10);
    size_t ring = argc > 3 ? strtoull(argv[3], NULL, 10) : (size_t)4 << 20;
    if (write == 0 || ring < write) {
        fprintf(stderr, "imc_stream_floor: give 0 < WRITE_BYTES <= RING_BYTES\n");
        return 2;
    }
    uint64_t slots = ring / write;
    uint64_t count = total / write;
    struct control *control = mmap(NULL, sizeof *control + slots * write, PROT_READ | PROT_WRITE,
        MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (control == MAP_FAILED) {
        perror("imc_stream_floor: mmap");
        return 2;
    }
    unsigned char *data = (unsigned char *)(control + 1);
    unsigned char *buffer = malloc(write);
    memset(buffer, 0x5a, write);

    pid_t child = fork();
    if (child == 0) {
        pin(1);
        for (uint64_t i = 0; i < count; i++) {
            unsigned spins = 0;
            while (__atomic_load_n(&control->written, __ATOMIC_ACQUIRE) <= i) {
                wait_a_little(&spins);
            }
            memcpy(buffer, data + (i % slots) * write, write);
            __atomic_store_n(&control->read, i + 1, __ATOMIC_RELEASE);
        }
        _exit(0);
    }
    pin(0);
    double start = now();
    for (uint64_t i = 0; i < count; i++) {
        unsigned spins = 0;
        while (i - __atomic_load_n(&control->read, __ATOMIC_ACQUIRE) >= slots) {
            wait_a_little(&spins);
        }
        memcpy(data + (i % slots) * write, buffer, write);
        __atomic_store_n(&control->written, i + 1, __ATOMIC_RELEASE);
    }
    unsigned spins = 0;
    while (__atomic_load_n(&control->read, __ATOMIC_ACQUIRE) < count) {
        wait_a_little(&spins);
    }
    double seconds = now() - start;
    int status;
    waitpid(child, &status, 0);
    printf("write %zu total %llu seconds %.6f mib_per_s %.1f\n", write, (unsigned long long)(count * write), seconds,
        (double)(count * write) / seconds / (1 << 20));
    return 0;
}
