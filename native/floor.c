/*
 * imc_floor: the physical floor of the Interconnect latency harness (bench/Interconnect.Latency).
 *
 * Plain C over shared mappings, no library: what two processes on this machine can do at best when one writes a
 * message into memory the other one spins on. The harness runs the same protocol over the Imc API, so the ratio
 * of the two is the cost of the library. Every mapping is a file in /dev/shm mapped MAP_SHARED by each process
 * (as an emulated host's receive memory is); the two processes are a parent and its forked child, each pinned to
 * its own CPU where the machine has two.
 *
 * Modes (each prints histograms on stdout, see "Output" below):
 *
 *   pingpong   a message of S bytes (payload at [0, S), then an 8-byte flag at S) goes from the parent to the
 *              child through mapping "ping"; the child copies the payload into mapping "pong" and writes the flag
 *              after it; the parent spins until the flag comes back. Sample: the round trip (one-way = half).
 *   broadcast  the parent copies 4 KiB into each of N receivers' mappings, then writes the flag after it in each;
 *              the child (one process polling all N mappings, since two cores cannot spin N receivers) takes a
 *              timestamp when the last receiver has the flag and sends it back. Samples: "delivery" = that
 *              timestamp minus the one taken before the first copy (CLOCK_MONOTONIC is one clock for the whole
 *              machine), and "write" = the parent's own time spent copying and flagging.
 *   cacheline  one 8-byte word on one cache line, incremented in turn by each process: the cost of moving a line
 *              between two cores and back (the floor of a lock hand-off). Sample: the round trip.
 *
 * The flag protocol (the harness's PingPongProtocol.cs is the same): a flag is (sequence << 8) | command, the
 * sequence rising by one with every message, commands included. Command 0 is data; 1..127 switches the parameter
 * (pingpong: the size becomes 1 << command; broadcast: the receiver count becomes command); 254 marks the start of
 * the measured part; 255 stops. The receiver acknowledges a command by echoing its flag, then switches.
 *
 * Output, one histogram per measured parameter, values in nanoseconds:
 *   begin <mode> <parameter> <metric>
 *   h <value> <count>            (ascending, one line per distinct value)
 *   end <mode> <parameter> <metric> samples <n>
 * Lines starting with '#' are comments for people.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CMD_DATA 0u
#define CMD_MARK 254u
#define CMD_STOP 255u
#define MAX_LIST 16
#define MAX_RECEIVERS 4
#define MESSAGE_AREA (65536 + 64)      /* the largest payload, then its flag on a line of its own */
#define MAPPING_SIZE (128 * 1024)
#define BROADCAST_PAYLOAD 4096
#define PAYLOAD_BYTE 0x5a              /* 0x5a5a... >> 8 is never a sequence number reached here */

struct options {
    const char *mode;
    long sizes[MAX_LIST];
    int size_count;
    long receivers[MAX_LIST];
    int receiver_count;
    long warmup_ms;
    long duration_ms;
    long max_samples;
    int cpus[2];
    const char *dir;
};

static char s_paths[MAX_RECEIVERS + 2][256];
static int s_path_count;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
    fprintf(stderr, "imc_floor: %s: %s\n", what, strerror(errno));
    exit(2);
}

#ifdef IMC_MAPPINGS
/*
 * imc_cpingpong (floor.c built with -DIMC_MAPPINGS, linked with libimc.so): the same ping-pong, but "ping" and
 * "pong" are regions of the Imc API attached from C (sys/imc.h), the parent a process of host alpha and the child
 * of host beta in the cluster IMC_ROOT/IMC_CLUSTER names. Regions made from C are direct: the transmit pointer is
 * the receivers' memory, so the data path is the same plain stores and loads; only the mappings come from the
 * library. Only the pingpong mode.
 */
#include <sys/imc.h>

#define IMC_PING_KEY 0x1f100

static void imc_side(const char *host)
{
    setenv("IMC_HOST", host, 1);
    setenv("IMC_AUTO_INIT", "1", 1);
    int status = imc_api_init(NULL);
    if (status != IMC_SUCCESS) {
        imc_perror("imc_cpingpong: imc_api_init", status);
        exit(2);
    }
}

static unsigned char *imc_map(int index, size_t size, int writable)
{
    imc_asid_t id;
    caddr_t address = 0;
    int status = imc_asalloc(IMC_PING_KEY + index, (imc_size_t)size, IMC_URW, 0, &id, 0);
    if (status == IMC_SUCCESS) {
        status = imc_asattach(id, writable ? IMC_TRANSMIT : IMC_RECEIVE, IMC_SHARED, 0, &address);
    }
    if (status != IMC_SUCCESS) {
        imc_perror("imc_cpingpong: a region", status);
        exit(2);
    }
    return (unsigned char *)address;
}

#define SIDE(host) imc_side(host)
#define CREATE(index, dir, name, size) ((void)0)
#define MAP(index, size, writable) imc_map(index, size, writable)
#else
#define SIDE(host) ((void)0)
#define CREATE(index, dir, name, size) create_file(index, dir, name, size)
#define MAP(index, size, writable) map_file(index, size, writable)
#endif

static void usage(void)
{
    fprintf(stderr,
        "usage: imc_floor pingpong|broadcast|cacheline [--sizes 8,64,...] [--receivers 1,2,4]\n"
        "                 [--warmup-ms N] [--duration-ms N] [--max-samples N] [--cpus A,B] [--dir /dev/shm]\n"
        "Prints one histogram of nanosecond samples per parameter (see the comment at the top of floor.c).\n");
    exit(2);
}

static int parse_list(const char *text, long *out)
{
    int n = 0;
    char *copy = strdup(text);
    for (char *save = NULL, *item = strtok_r(copy, ",", &save); item != NULL; item = strtok_r(NULL, ",", &save)) {
        if (n == MAX_LIST) {
            usage();
        }
        out[n++] = strtol(item, NULL, 10);
    }
    free(copy);
    return n;
}

static void parse(int argc, char **argv, struct options *o)
{
    if (argc < 2) {
        usage();
    }
    memset(o, 0, sizeof *o);
    o->mode = argv[1];
    o->size_count = parse_list("8,64,256,1024,4096,65536", o->sizes);
    o->receiver_count = parse_list("1,2,4", o->receivers);
    o->warmup_ms = 200;
    o->duration_ms = 1000;
    o->max_samples = 2000000;
    o->cpus[0] = 0;
    o->cpus[1] = 1;
    o->dir = "/dev/shm";
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL) {
            usage();
        }
        if (strcmp(a, "--sizes") == 0) {
            o->size_count = parse_list(v, o->sizes);
        } else if (strcmp(a, "--receivers") == 0) {
            o->receiver_count = parse_list(v, o->receivers);
        } else if (strcmp(a, "--warmup-ms") == 0) {
            o->warmup_ms = strtol(v, NULL, 10);
        } else if (strcmp(a, "--duration-ms") == 0) {
            o->duration_ms = strtol(v, NULL, 10);
        } else if (strcmp(a, "--max-samples") == 0) {
            o->max_samples = strtol(v, NULL, 10);
        } else if (strcmp(a, "--cpus") == 0) {
            if (sscanf(v, "%d,%d", &o->cpus[0], &o->cpus[1]) != 2) {
                usage();
            }
        } else if (strcmp(a, "--dir") == 0) {
            o->dir = v;
        } else {
            usage();
        }
        i++;
    }
    for (int i = 0; i < o->size_count; i++) {
        long s = o->sizes[i];
        if (s < 8 || s > 65536 || (s & (s - 1)) != 0) {
            fprintf(stderr, "imc_floor: sizes are powers of two from 8 to 65536, not %ld\n", s);
            exit(2);
        }
    }
    for (int i = 0; i < o->receiver_count; i++) {
        if (o->receivers[i] < 1 || o->receivers[i] > MAX_RECEIVERS) {
            fprintf(stderr, "imc_floor: receivers are 1 to %d, not %ld\n", MAX_RECEIVERS, o->receivers[i]);
            exit(2);
        }
    }
    if (o->max_samples < 1 || o->duration_ms < 1 || o->warmup_ms < 0) {
        usage();
    }
}

/* Pins the calling thread to one CPU; says so on stdout when it cannot. */
static void pin(int cpu)
{
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    if (online < 2) {
        printf("# not pinned: %ld CPU online\n", online);
        fflush(stdout);
        return;
    }
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) {
        printf("# not pinned to CPU %d: %s\n", cpu, strerror(errno));
    }
    fflush(stdout); /* the child ends with _exit, which does not flush */
}

static void create_file(int index, const char *dir, const char *name, size_t size)
{
    snprintf(s_paths[index], sizeof s_paths[index], "%s/imc-floor-%d-%s", dir, (int)getpid(), name);
    int fd = open(s_paths[index], O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        die(s_paths[index]);
    }
    if (ftruncate(fd, (off_t)size) != 0) {
        die("ftruncate");
    }
    close(fd);
    if (index + 1 > s_path_count) {
        s_path_count = index + 1;
    }
}

static void remove_files(void)
{
    for (int i = 0; i < s_path_count; i++) {
        unlink(s_paths[i]);
    }
}

static unsigned char *map_file(int index, size_t size, int writable)
{
    int fd = open(s_paths[index], writable ? O_RDWR : O_RDONLY);
    if (fd < 0) {
        die(s_paths[index]);
    }
    void *p = mmap(NULL, size, PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        die("mmap");
    }
    close(fd);
    return p;
}

static inline void store_flag(unsigned char *p, uint64_t v)
{
    __atomic_store_n((uint64_t *)p, v, __ATOMIC_RELEASE); /* release: the payload before it lands first */
}

static inline uint64_t load_flag(const unsigned char *p)
{
    return __atomic_load_n((const uint64_t *)p, __ATOMIC_ACQUIRE); /* acquire: the payload after it is complete */
}

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void emit(const char *mode, long parameter, const char *metric, uint64_t *samples, long n)
{
    qsort(samples, (size_t)n, sizeof *samples, compare_u64);
    printf("begin %s %ld %s\n", mode, parameter, metric);
    for (long i = 0; i < n;) {
        long j = i;
        while (j < n && samples[j] == samples[i]) {
            j++;
        }
        printf("h %llu %ld\n", (unsigned long long)samples[i], j - i);
        i = j;
    }
    printf("end %s %ld %s samples %ld\n", mode, parameter, metric, n);
    fflush(stdout);
}

static int log2_of(long v)
{
    int k = 0;
    while ((1L << k) < v) {
        k++;
    }
    return k;
}

/* ---- pingpong ----------------------------------------------------------------------------------------------- */

struct pinger {
    unsigned char *ping;
    const unsigned char *pong;
    long size;
    uint64_t seq;
    unsigned char payload[65536];
};

/* Sends a command at the current size and waits for its echo. */
static void pinger_command(struct pinger *p, unsigned command)
{
    uint64_t flag = (++p->seq << 8) | command;
    store_flag(p->ping + p->size, flag);
    while (load_flag(p->pong + p->size) != flag) {
    }
}

static void pinger_switch(struct pinger *p, long size)
{
    if (size != p->size) {
        pinger_command(p, (unsigned)log2_of(size));
        p->size = size;
    }
}

/* Round trips at the current size until the deadline or the sample count; returns the samples taken. */
static long pinger_run(struct pinger *p, uint64_t *samples, long max, uint64_t until)
{
    long n = 0;
    long size = p->size;
    unsigned char *ping = p->ping;
    const unsigned char *pong = p->pong;
    uint64_t t = now_ns();
    while (n < max) {
        uint64_t flag = ++p->seq << 8;
        memcpy(ping, p->payload, (size_t)size);
        store_flag(ping + size, flag);
        while (load_flag(pong + size) != flag) {
        }
        uint64_t t2 = now_ns();
        if (samples != NULL) {
            samples[n] = t2 - t;
        }
        n++;
        t = t2;
        if (t2 >= until) {
            break;
        }
    }
    return n;
}

static void ponger(const unsigned char *ping, unsigned char *pong, long size)
{
    uint64_t expected = 1;
    for (;;) {
        uint64_t v;
        while (((v = load_flag(ping + size)) >> 8) != expected) {
        }
        expected++;
        unsigned command = (unsigned)(v & 0xff);
        if (command == CMD_DATA) {
            memcpy(pong, ping, (size_t)size);
            store_flag(pong + size, v);
            continue;
        }
        store_flag(pong + size, v);
        if (command == CMD_STOP) {
            return;
        }
        if (command != CMD_MARK) {
            size = 1L << command;
        }
    }
}

static void run_pingpong(const struct options *o, uint64_t *samples)
{
    CREATE(0, o->dir, "ping", MAPPING_SIZE);
    CREATE(1, o->dir, "pong", MAPPING_SIZE);
    pid_t child = fork();
    if (child < 0) {
        die("fork");
    }
    if (child == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        pin(o->cpus[1]);
        SIDE("beta");
        const unsigned char *ping = MAP(0, MAPPING_SIZE, 0);
        unsigned char *pong = MAP(1, MAPPING_SIZE, 1);
        ponger(ping, pong, o->sizes[0]);
        _exit(0);
    }

    pin(o->cpus[0]);
    static struct pinger p;
    SIDE("alpha");
    p.ping = MAP(0, MAPPING_SIZE, 1);
    p.pong = MAP(1, MAPPING_SIZE, 0);
    p.size = o->sizes[0];
    memset(p.payload, PAYLOAD_BYTE, sizeof p.payload);

    uint64_t slice = (uint64_t)o->warmup_ms * 1000000u / (uint64_t)o->size_count;
    for (int i = 0; i < o->size_count; i++) {
        pinger_switch(&p, o->sizes[i]);
        pinger_run(&p, NULL, o->max_samples, now_ns() + slice);
    }
    pinger_command(&p, CMD_MARK);
    for (int i = 0; i < o->size_count; i++) {
        pinger_switch(&p, o->sizes[i]);
        long n = pinger_run(&p, samples, o->max_samples, now_ns() + (uint64_t)o->duration_ms * 1000000u);
        emit("pingpong", o->sizes[i], "rtt", samples, n);
    }
    pinger_command(&p, CMD_STOP);
    waitpid(child, NULL, 0);
}

/* ---- broadcast ---------------------------------------------------------------------------------------------- */

static void broadcast_receiver(const unsigned char *rx[], unsigned char *ack, long receivers)
{
    uint64_t expected = 1;
    for (;;) {
        uint64_t v = 0;
        for (long i = 0; i < receivers; i++) {
            while (((v = load_flag(rx[i] + BROADCAST_PAYLOAD)) >> 8) != expected) {
            }
        }
        uint64_t t = now_ns();
        expected++;
        *(volatile uint64_t *)ack = t;
        store_flag(ack + 8, v); /* after the timestamp */
        unsigned command = (unsigned)(v & 0xff);
        if (command == CMD_STOP) {
            return;
        }
        if (command != CMD_DATA && command != CMD_MARK) {
            receivers = command;
        }
    }
}

struct sender {
    unsigned char *rx[MAX_RECEIVERS];
    const unsigned char *ack;
    long receivers;
    uint64_t seq;
    unsigned char payload[BROADCAST_PAYLOAD];
};

static void sender_command(struct sender *s, unsigned command)
{
    uint64_t flag = (++s->seq << 8) | command;
    for (long i = 0; i < s->receivers; i++) {
        store_flag(s->rx[i] + BROADCAST_PAYLOAD, flag);
    }
    while (load_flag(s->ack + 8) != flag) {
    }
}

static long sender_run(struct sender *s, uint64_t *delivery, uint64_t *write, long max, uint64_t until)
{
    long n = 0;
    long receivers = s->receivers;
    while (n < max) {
        uint64_t flag = ++s->seq << 8;
        uint64_t t0 = now_ns();
        for (long i = 0; i < receivers; i++) {
            memcpy(s->rx[i], s->payload, BROADCAST_PAYLOAD);
        }
        for (long i = 0; i < receivers; i++) {
            store_flag(s->rx[i] + BROADCAST_PAYLOAD, flag);
        }
        uint64_t sent = now_ns();
        while (load_flag(s->ack + 8) != flag) {
        }
        uint64_t arrived = *(const volatile uint64_t *)s->ack;
        if (delivery != NULL) {
            delivery[n] = arrived - t0;
            write[n] = sent - t0;
        }
        n++;
        if (sent >= until) {
            break;
        }
    }
    return n;
}

static void run_broadcast(const struct options *o, uint64_t *delivery, uint64_t *write)
{
    for (int i = 0; i < MAX_RECEIVERS; i++) {
        char name[16];
        snprintf(name, sizeof name, "rx%d", i);
        create_file(i, o->dir, name, 2 * BROADCAST_PAYLOAD);
    }
    create_file(MAX_RECEIVERS, o->dir, "ack", 4096);
    pid_t child = fork();
    if (child < 0) {
        die("fork");
    }
    if (child == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        pin(o->cpus[1]);
        const unsigned char *rx[MAX_RECEIVERS];
        for (int i = 0; i < MAX_RECEIVERS; i++) {
            rx[i] = map_file(i, 2 * BROADCAST_PAYLOAD, 0);
        }
        broadcast_receiver(rx, map_file(MAX_RECEIVERS, 4096, 1), o->receivers[0]);
        _exit(0);
    }

    pin(o->cpus[0]);
    static struct sender s;
    for (int i = 0; i < MAX_RECEIVERS; i++) {
        s.rx[i] = map_file(i, 2 * BROADCAST_PAYLOAD, 1);
    }
    s.ack = map_file(MAX_RECEIVERS, 4096, 0);
    s.receivers = o->receivers[0];
    memset(s.payload, PAYLOAD_BYTE, sizeof s.payload);

    uint64_t slice = (uint64_t)o->warmup_ms * 1000000u / (uint64_t)o->receiver_count;
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            sender_command(&s, CMD_MARK);
        }
        for (int i = 0; i < o->receiver_count; i++) {
            if (o->receivers[i] != s.receivers) {
                sender_command(&s, (unsigned)o->receivers[i]);
                s.receivers = o->receivers[i];
            }
            if (pass == 0) {
                sender_run(&s, NULL, NULL, o->max_samples, now_ns() + slice);
                continue;
            }
            long n = sender_run(&s, delivery, write, o->max_samples, now_ns() + (uint64_t)o->duration_ms * 1000000u);
            emit("broadcast", s.receivers, "delivery", delivery, n);
            emit("broadcast", s.receivers, "write", write, n);
        }
    }
    sender_command(&s, CMD_STOP);
    waitpid(child, NULL, 0);
}

/* ---- cacheline ---------------------------------------------------------------------------------------------- */

#define CACHELINE_STOP UINT64_MAX

static void run_cacheline(const struct options *o, uint64_t *samples)
{
    create_file(0, o->dir, "line", 4096);
    pid_t child = fork();
    if (child < 0) {
        die("fork");
    }
    if (child == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        pin(o->cpus[1]);
        unsigned char *line = map_file(0, 4096, 1);
        for (uint64_t expected = 1;; expected += 2) {
            uint64_t v;
            while ((v = load_flag(line)) != expected) {
                if (v == CACHELINE_STOP) {
                    _exit(0);
                }
            }
            store_flag(line, expected + 1);
        }
    }

    pin(o->cpus[0]);
    unsigned char *line = map_file(0, 4096, 1);
    uint64_t value = 0;
    for (int pass = 0; pass < 2; pass++) {
        uint64_t until = now_ns() + (uint64_t)(pass == 0 ? o->warmup_ms : o->duration_ms) * 1000000u;
        long n = 0;
        uint64_t t = now_ns();
        while (n < o->max_samples) {
            store_flag(line, ++value);
            ++value;
            while (load_flag(line) != value) {
            }
            uint64_t t2 = now_ns();
            samples[n++] = t2 - t;
            t = t2;
            if (t2 >= until) {
                break;
            }
        }
        if (pass == 1) {
            emit("cacheline", 8, "rtt", samples, n);
        }
    }
    store_flag(line, CACHELINE_STOP);
    waitpid(child, NULL, 0);
}

int main(int argc, char **argv)
{
    struct options o;
    parse(argc, argv, &o);
    long phases = o.size_count > o.receiver_count ? o.size_count : o.receiver_count;
    /* A peer that dies leaves the other spinning: the alarm ends it (the child also dies with its parent). */
    alarm((unsigned)(30 + 3 * (o.warmup_ms + phases * o.duration_ms) / 1000));
    atexit(remove_files);

    uint64_t *a = malloc((size_t)o.max_samples * sizeof *a);
    uint64_t *b = malloc((size_t)o.max_samples * sizeof *b);
    if (a == NULL || b == NULL) {
        die("malloc");
    }
    /* Touch the sample arrays now, so no page fault lands inside a measured round trip. */
    memset(a, 0, (size_t)o.max_samples * sizeof *a);
    memset(b, 0, (size_t)o.max_samples * sizeof *b);
    printf("# imc_floor %s: CLOCK_MONOTONIC, cpus %d,%d, warm-up %ld ms, %ld ms or %ld samples per parameter\n",
        o.mode, o.cpus[0], o.cpus[1], o.warmup_ms, o.duration_ms, o.max_samples);
    fflush(stdout);

    if (strcmp(o.mode, "pingpong") == 0) {
        run_pingpong(&o, a);
#ifdef IMC_MAPPINGS
    } else if (1) {
        usage(); /* imc_cpingpong: pingpong only */
#endif
    } else if (strcmp(o.mode, "broadcast") == 0) {
        run_broadcast(&o, a, b);
    } else if (strcmp(o.mode, "cacheline") == 0) {
        run_cacheline(&o, a);
    } else {
        usage();
    }
    free(a);
    free(b);
    return 0;
}
