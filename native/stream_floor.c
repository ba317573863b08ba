/*
 * imc_stream_floor: the memory-copy limit of a byte stream between two processes on this machine, for the streams
 * benchmark (bench/Interconnect.StreamBench). Plain C, no library: a parent and its forked child share an anonymous
 * MAP_SHARED ring of CHUNK-byte slots. The parent produces each WRITE-byte message in a private buffer (every 8-byte
 * word holds the message's number, as every sender of the benchmark produces it), memcpy's it into the ring a chunk
 * at a time, publishing each chunk with a release store of the chunk count; the child waits for a chunk, consumes it
 * in place (a sum of its 8-byte words, the checksum every receiver of the benchmark computes over the bytes where its
 * transport hands them over) and gives the slot back (a release store). One copy per byte, through the shared mapping:
 * no transport between two processes can do with less, so this is the limit the others are measured against.
 *
 * The ring's shape decides how fast this goes (a ring larger than the cores' L2 caches cycles through L3; a 1 MiB
 * chunk is a whole L2), so the limit is the best of a few shapes, each run back to back: rings of 256 KiB, 1 MiB and
 * 4 MiB, chunks of 16 KiB and 64 KiB (never more than WRITE). An earlier version made one 1 MiB slot per 1 MiB write
 * in a 4 MiB ring and copied every chunk out again: it measured the cache thrash of that shape (below a Unix socket,
 * whose kernel cuts every write into small buffers), not the machine.
 *
 * Both sides spin, yielding the CPU after a few thousand empty looks (so that on a machine shared with other work a
 * waiting side does not hold the core the other side needs). With IMC_BENCH_PIN=A,B they are pinned as the benchmark
 * pins every transport, the sender on CPU A and the receiver on CPU B; without it neither is.
 *
 *   usage: imc_stream_floor WRITE_BYTES TOTAL_BYTES [RING_BYTES CHUNK_BYTES]    (without a shape: the best of all)
 *   prints: write <bytes> total <bytes> seconds <s> mib_per_s <rate> ring <bytes> chunk <bytes> sum <checksum>
 *   and, on stderr, one such line for each shape tried.
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

/*
 * IMC_BENCH_PIN=A,B, as the benchmark pins every transport: the sender (the parent) on CPU A, the receiver (the child)
 * on CPU B. Returns 1 with the two CPUs when it is set, 0 when it is not (no pinning), -1 (after a message) when it is
 * not two CPU numbers.
 */
static int pinned_cpus(int *sender, int *receiver)
{
    const char *value = getenv("IMC_BENCH_PIN");
    if (value == NULL || *value == '\0') {
        return 0;
    }
    char end;
    if (sscanf(value, "%d,%d%c", sender, receiver, &end) != 2 || *sender < 0 || *receiver < 0 ||
        *sender >= CPU_SETSIZE || *receiver >= CPU_SETSIZE) {
        fprintf(stderr, "imc_stream_floor: IMC_BENCH_PIN=%s: give two CPU numbers, the sender's and the receiver's (like 0,1)\n", value);
        return -1;
    }
    return 1;
}

static void pin(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) {
        perror("imc_stream_floor: sched_setaffinity (IMC_BENCH_PIN)");
    }
}

struct control {
    _Alignas(64) volatile uint64_t written;
    _Alignas(64) volatile uint64_t read;
    _Alignas(64) volatile uint64_t sum;
};

struct result {
    double seconds;
    uint64_t sum;
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

static uint64_t sum_words(const unsigned char *bytes, size_t length)
{
    const uint64_t *words = (const uint64_t *)bytes;
    uint64_t a = 0, b = 0, c = 0, d = 0;
    size_t n = length / 8, i = 0;
    for (; i + 4 <= n; i += 4) {
        a += words[i];
        b += words[i + 1];
        c += words[i + 2];
        d += words[i + 3];
    }
    for (; i < n; i++) {
        a += words[i];
    }
    return a + b + c + d;
}

static int run(size_t write, uint64_t total, size_t ring, size_t chunk, struct result *result)
{
    int sender_cpu, receiver_cpu;
    int pinned = pinned_cpus(&sender_cpu, &receiver_cpu);
    if (pinned < 0) {
        return 2;
    }
    uint64_t slots = ring / chunk;
    uint64_t count = total / write;
    uint64_t chunks_per_write = write / chunk;
    uint64_t chunks = count * chunks_per_write;
    struct control *control = mmap(NULL, sizeof *control + slots * chunk, PROT_READ | PROT_WRITE,
        MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (control == MAP_FAILED) {
        perror("imc_stream_floor: mmap");
        return 2;
    }
    unsigned char *data = (unsigned char *)(control + 1);
    memset(data, 0, slots * chunk); /* no first-touch page faults inside the measurement */
    uint64_t *buffer = malloc(write);
    memset(buffer, 0, write);

    pid_t child = fork();
    if (child == 0) {
        if (pinned) {
            pin(receiver_cpu);
        }
        uint64_t sum = 0;
        for (uint64_t i = 0; i < chunks; i++) {
            unsigned spins = 0;
            while (__atomic_load_n(&control->written, __ATOMIC_ACQUIRE) <= i) {
                wait_a_little(&spins);
            }
            sum += sum_words(data + (i % slots) * chunk, chunk);
            __atomic_store_n(&control->read, i + 1, __ATOMIC_RELEASE);
        }
        control->sum = sum;
        _exit(0);
    }
    if (pinned) {
        pin(sender_cpu);
    }
    double start = now();
    uint64_t next = 0;
    for (uint64_t m = 0; m < count; m++) {
        for (size_t w = 0; w < write / 8; w++) {
            buffer[w] = m; /* produce the message */
        }
        for (uint64_t c = 0; c < chunks_per_write; c++, next++) {
            unsigned spins = 0;
            while (next - __atomic_load_n(&control->read, __ATOMIC_ACQUIRE) >= slots) {
                wait_a_little(&spins);
            }
            memcpy(data + (next % slots) * chunk, (unsigned char *)buffer + c * chunk, chunk);
            __atomic_store_n(&control->written, next + 1, __ATOMIC_RELEASE);
        }
    }
    unsigned spins = 0;
    while (__atomic_load_n(&control->read, __ATOMIC_ACQUIRE) < chunks) {
        wait_a_little(&spins);
    }
    result->seconds = now() - start;
    int status;
    waitpid(child, &status, 0);
    result->sum = control->sum;
    free(buffer);
    munmap(control, sizeof *control + slots * chunk);
    return 0;
}

static void print(FILE *to, size_t write, uint64_t total, size_t ring, size_t chunk, const struct result *r)
{
    fprintf(to, "write %zu total %llu seconds %.6f mib_per_s %.1f ring %zu chunk %zu sum %llu\n", write,
        (unsigned long long)total, r->seconds, (double)total / r->seconds / (1 << 20), ring, chunk,
        (unsigned long long)r->sum);
}

int main(int argc, char **argv)
{
    if (argc != 3 && argc != 5) {
        fprintf(stderr, "usage: imc_stream_floor WRITE_BYTES TOTAL_BYTES [RING_BYTES CHUNK_BYTES]\n");
        return 2;
    }
    size_t write = strtoull(argv[1], NULL, 10);
    uint64_t total = strtoull(argv[2], NULL, 10);
    if (write == 0 || write % 64 != 0 || total < write) {
        fprintf(stderr, "imc_stream_floor: give WRITE_BYTES a multiple of 64, at most TOTAL_BYTES\n");
        return 2;
    }
    total = total / write * write;
    static const size_t rings[] = { 256 << 10, 1 << 20, 4 << 20 };
    static const size_t chunks[] = { 16 << 10, 64 << 10 };
    size_t best_ring = 0, best_chunk = 0;
    struct result best = { 0, 0 };
    for (size_t r = 0; r < sizeof rings / sizeof rings[0]; r++) {
        for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
            size_t ring = argc == 5 ? strtoull(argv[3], NULL, 10) : rings[r];
            size_t chunk = argc == 5 ? strtoull(argv[4], NULL, 10) : chunks[c];
            if (chunk > write) {
                chunk = write;
            }
            if (chunk == 0 || write % chunk != 0 || ring < 2 * chunk) {
                fprintf(stderr, "imc_stream_floor: give a chunk that divides WRITE_BYTES, a ring of two chunks or more\n");
                return 2;
            }
            struct result result;
            if (run(write, total, ring, chunk, &result) != 0) {
                return 2;
            }
            print(stderr, write, total, ring, chunk, &result);
            if (best.seconds == 0 || result.seconds < best.seconds) {
                best = result;
                best_ring = ring;
                best_chunk = chunk;
            }
            if (argc == 5) {
                goto done;
            }
        }
    }
done:
    print(stdout, write, total, best_ring, best_chunk, &best);
    return 0;
}
