/*
 * ipc_bench.c - round-trip latency of the worker -> gpu-server hand-off
 * (shared-memory slot + nng request/reply) against copying the same bytes
 * over a Unix stream socket.
 *
 * Usage: ipc-bench [-n ITERATIONS] [-s SIZES] [-o JSON]
 *   -n  iterations per size up to 1 MiB (default 1000); larger sizes run
 *       a fifth of that, at least 200
 *   -s  comma-separated sizes in bytes with an optional K/M suffix
 *       (default 1K,16K,256K,1M,4M,16M,32M)
 *   -o  also write the table as JSON to this file
 *
 * Three peer processes are forked before any nng use (nng_chan.h's rule):
 *   shm server: maps the pool and answers IPC_PREPROC requests on an nng
 *     REP socket (ipc://) the way gpu-server/server.c does: slot_gpu_take,
 *     read the first and last byte of the payload, slot_gpu_finish,
 *     IPC_PREPROC_REP; no pixel work;
 *   shm+sock server: the same, with the same binary messages over a Unix
 *     stream socket (socketpair) instead of nng;
 *   socket server: reads an 8-byte length and that many bytes from a Unix
 *     stream socket, answers one byte.
 * The client does what ocr-workers/reading/gpu_client.c does: slot_claim,
 * copy N bytes into the slot (stage_input), slot_lend, chan_call with the
 * encoded request, decode and check the reply, slot_release.  Per iteration
 * and size, each series gets one sample, in this order:
 *   shm_nng           claim .. release over nng, including the copy into
 *                     the slot (what a worker pays today)
 *   handoff           lend .. release of that same round trip: the hand-off
 *                     alone, the data already in place
 *   shm_sock_handoff  lend .. release with the control message over the
 *                     Unix socket (what the hand-off costs without nng)
 *   socket            first write .. the one-byte answer: the bytes
 *                     themselves copied through the kernel
 * The series alternate within every iteration, so all see the same machine
 * noise; each size starts with 20 unrecorded warm-up iterations.  Times are
 * microseconds, p50 and p99 (nearest rank) of each size.
 */
#include <errno.h>
#include <nng/nng.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/fd_io.h"
#include "common/status.h"
#include "ipc/ipc_msg.h"
#include "ipc/nng_chan.h"
#include "ipc/shm_pool.h"

#define MAX_SIZES   16
#define WARMUP      20
#define DEADLINE_MS 10000u

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/*
 * The gpu-server's side of one request (gpu-server/server.c): take the lent
 * slot, look at the first and last byte, finish, encode the reply.
 */
static size_t serve(struct shm_pool *pool, const uint8_t *msg, size_t len, uint8_t *out)
{
    struct ipc_preproc_req req;
    struct ipc_preproc_rep r = {0};
    if (ipc_decode_preproc_req(msg, len, &req) != 0 || req.slot >= pool->slot_count) {
        r.status = FILOT_EINVAL;
        return ipc_encode_preproc_rep(&r, out);
    }
    r.slot = req.slot;
    r.generation = req.generation;
    r.status = slot_gpu_take(pool, req.slot, req.generation);
    if (r.status == 0) {
        const volatile uint8_t *d = slot_data(pool, req.slot);
        uint64_t n = (uint64_t)req.in.stride * req.in.height;
        if (n > 0 && n <= slot_capacity(pool, req.slot)) {
            r.out_width = d[0];
            r.out_height = d[n - 1];
        }
        r.status = slot_gpu_finish(pool, req.slot, req.generation);
    }
    return ipc_encode_preproc_rep(&r, out);
}

/* The project's channel: an nng REP socket on ipc://. */
static int shm_server(struct shm_pool *pool, const char *url)
{
    nng_socket rep;
    if (chan_listen(url, &rep) != 0)
        return 1;
    for (;;) {
        nng_msg *msg = NULL;
        if (nng_recvmsg(rep, &msg, 0) != 0)
            return 1;
        uint8_t out[IPC_MSG_MAX];
        size_t len = serve(pool, nng_msg_body(msg), nng_msg_len(msg), out);
        nng_msg_free(msg);
        if (nng_send(rep, out, len, 0) != 0)
            return 1;
    }
}

/* The same control messages over a Unix stream socket instead of nng. */
static int shm_sock_server(struct shm_pool *pool, int fd, size_t req_len)
{
    for (;;) {
        uint8_t in[IPC_MSG_MAX], out[IPC_MSG_MAX];
        if (fd_read_all(fd, in, req_len) != 0)
            return 0; /* the client closed: done */
        size_t len = serve(pool, in, req_len, out);
        if (fd_write_all(fd, out, len) != 0)
            return 1;
    }
}

/* The socket peer: read a length and the bytes, answer one byte. */
static int socket_server(int fd, size_t max)
{
    uint8_t *buf = malloc(max);
    if (buf == NULL)
        return 1;
    memset(buf, 0, max);
    for (;;) {
        uint64_t n;
        if (fd_read_all(fd, &n, sizeof n) != 0)
            return 0; /* the client closed: done */
        if (n > max || fd_read_all(fd, buf, (size_t)n) != 0)
            return 1;
        uint8_t ack = buf[0];
        if (fd_write_all(fd, &ack, 1) != 0)
            return 1;
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* p in 0..100 of n sorted values (nearest rank). */
static double pct(const double *v, int n, double p)
{
    int k = (int)(p / 100.0 * n + 0.999999) - 1;
    if (k < 0)
        k = 0;
    if (k >= n)
        k = n - 1;
    return v[k];
}

static int parse_sizes(const char *s, uint64_t *out, int max)
{
    int n = 0;
    while (*s != '\0' && n < max) {
        char *end;
        unsigned long long v = strtoull(s, &end, 10);
        if (end == s)
            return -1;
        if (*end == 'K' || *end == 'k')
            v <<= 10, end++;
        else if (*end == 'M' || *end == 'm')
            v <<= 20, end++;
        if (v == 0)
            return -1;
        out[n++] = v;
        if (*end == ',')
            end++;
        else if (*end != '\0')
            return -1;
        s = end;
    }
    return *s == '\0' ? n : -1;
}

/* The four series: what each column of the table measures. */
enum { S_TOTAL, S_HANDOFF, S_CTL_SOCK, S_SOCKET, NSERIES };
static const char *const series_key[NSERIES] = {"shm_nng", "handoff", "shm_sock_handoff", "socket"};
static const char *const series_title[NSERIES] = {"shm+nng p50/p99 us", "hand-off p50/p99 us",
                                                  "shm+sock ctl p50/p99", "socket p50/p99 us"};

struct row {
    uint64_t bytes;
    int iters;
    double p50[NSERIES], p99[NSERIES];
};

/* One shm round trip as gpu_client.c does it; times in *total, *handoff. */
static int shm_round(struct shm_pool *pool, nng_socket s, int fd, const uint8_t *src, uint64_t size,
                     double *total, double *handoff)
{
    double t0 = now_us();
    struct ipc_preproc_req req = {0};
    if (slot_claim(pool, getpid(), 0, 2, &req.slot, &req.generation) != 0)
        return -1;
    memcpy(slot_data(pool, req.slot), src, size);
    req.in.width = (uint32_t)size;
    req.in.height = 1;
    req.in.stride = (uint32_t)size;
    req.in.format = 1;
    req.out_offset = (size + 63) / 64 * 64;
    double t1 = now_us();
    slot_lend(pool, req.slot, req.generation);
    uint8_t buf[IPC_MSG_MAX];
    size_t len = ipc_encode_preproc_req(&req, buf);
    struct ipc_preproc_rep rep;
    int rc;
    if (fd < 0) {
        nng_msg *msg = NULL;
        rc = chan_call(s, buf, len, &msg, DEADLINE_MS);
        if (rc == 0) {
            rc = ipc_decode_preproc_rep(nng_msg_body(msg), nng_msg_len(msg), &rep);
            nng_msg_free(msg);
        }
    } else {
        uint8_t in[IPC_MSG_MAX];
        size_t rep_len = ipc_encode_preproc_rep(&(struct ipc_preproc_rep){0}, in);
        rc = fd_write_all(fd, buf, len) == 0 && fd_read_all(fd, in, rep_len) == 0
                 ? ipc_decode_preproc_rep(in, rep_len, &rep)
                 : -1;
    }
    if (rc == 0 && (rep.status != 0 || rep.slot != req.slot || rep.generation != req.generation ||
                    rep.out_width != src[0] || rep.out_height != src[size - 1]))
        rc = -1;
    if (rc != 0) {
        fprintf(stderr, "ipc-bench: shm round trip failed (%d)\n", rc);
        return -1;
    }
    slot_release(pool, req.slot, req.generation);
    double t2 = now_us();
    *total = t2 - t0;
    *handoff = t2 - t1;
    return 0;
}

static int socket_round(int fd, const uint8_t *src, uint64_t size, double *t)
{
    double t0 = now_us();
    uint8_t ack;
    if (fd_write_all(fd, &size, sizeof size) != 0 || fd_write_all(fd, src, (size_t)size) != 0 ||
        fd_read_all(fd, &ack, 1) != 0 || ack != src[0]) {
        fprintf(stderr, "ipc-bench: socket round trip failed\n");
        return -1;
    }
    *t = now_us() - t0;
    return 0;
}

static int write_json(const char *path, const struct row *rows, int nrows)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        perror(path);
        return -1;
    }
    fprintf(f, "{\n  \"unit\": \"us\",\n  \"rows\": [\n");
    for (int i = 0; i < nrows; i++) {
        const struct row *r = &rows[i];
        fprintf(f, "    {\"bytes\": %llu, \"iterations\": %d", (unsigned long long)r->bytes,
                r->iters);
        for (int k = 0; k < NSERIES; k++)
            fprintf(f, ", \"%s_p50_us\": %.1f, \"%s_p99_us\": %.1f", series_key[k], r->p50[k],
                    series_key[k], r->p99[k]);
        fprintf(f, "}%s\n", i + 1 < nrows ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
    return fclose(f) == 0 ? 0 : -1;
}

static void human(uint64_t b, char *out, size_t len)
{
    if (b >= (1u << 20) && b % (1u << 20) == 0)
        snprintf(out, len, "%llu MiB", (unsigned long long)(b >> 20));
    else if (b >= 1024 && b % 1024 == 0)
        snprintf(out, len, "%llu KiB", (unsigned long long)(b >> 10));
    else
        snprintf(out, len, "%llu B", (unsigned long long)b);
}

int main(int argc, char **argv)
{
    uint64_t sizes[MAX_SIZES];
    int nsizes = parse_sizes("1K,16K,256K,1M,4M,16M,32M", sizes, MAX_SIZES);
    int iters = 1000;
    const char *json = NULL;
    int opt;

    while ((opt = getopt(argc, argv, "n:s:o:h")) != -1) {
        switch (opt) {
        case 'n':
            iters = atoi(optarg);
            break;
        case 's':
            nsizes = parse_sizes(optarg, sizes, MAX_SIZES);
            break;
        case 'o':
            json = optarg;
            break;
        default:
            fprintf(stderr, "usage: ipc-bench [-n ITERATIONS] [-s SIZES] [-o JSON]\n");
            return opt == 'h' ? 0 : 2;
        }
    }
    if (nsizes <= 0 || iters < 1 || iters > 1000000) {
        fprintf(stderr, "ipc-bench: bad -s or -n\n");
        return 2;
    }
    uint64_t max = 0;
    for (int i = 0; i < nsizes; i++)
        max = sizes[i] > max ? sizes[i] : max;
    if (max > UINT32_MAX) {
        fprintf(stderr, "ipc-bench: sizes must stay below 4 GiB\n");
        return 2;
    }

    /* Two slots (one worker's range) large enough for the biggest payload. */
    struct shm_pool pool;
    char err[256], name[64], dir[] = "/tmp/filot-ipcbench.XXXXXX", url[192];
    snprintf(name, sizeof name, "/filot-ipcbench.%d", (int)getpid());
    uint64_t slot_bytes = (max + 64 + 4095) / 4096 * 4096;
    if (shm_pool_create(&pool, name, 2 * slot_bytes + (1u << 20), 1, 2, err, sizeof err) != 0) {
        fprintf(stderr, "ipc-bench: %s\n", err);
        return 1;
    }
    if (mkdtemp(dir) == NULL || chan_url(dir, "ipc.sock", url, sizeof url) != 0) {
        fprintf(stderr, "ipc-bench: cannot make a socket directory\n");
        shm_pool_close(&pool);
        return 1;
    }
    int sv[2], cv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0 ||
        socketpair(AF_UNIX, SOCK_STREAM, 0, cv) != 0) {
        perror("ipc-bench: socketpair");
        shm_pool_close(&pool);
        return 1;
    }
    uint8_t probe[IPC_MSG_MAX];
    size_t req_len = ipc_encode_preproc_req(&(struct ipc_preproc_req){0}, probe);
    pid_t pids[3];
    pids[0] = fork();
    if (pids[0] == 0) {
        close(sv[0]), close(sv[1]), close(cv[0]), close(cv[1]);
        _exit(shm_server(&pool, url));
    }
    pids[1] = fork();
    if (pids[1] == 0) {
        close(sv[0]), close(cv[0]), close(cv[1]);
        _exit(socket_server(sv[1], (size_t)max));
    }
    pids[2] = fork();
    if (pids[2] == 0) {
        close(sv[0]), close(sv[1]), close(cv[0]);
        _exit(shm_sock_server(&pool, cv[1], req_len));
    }
    close(sv[1]);
    close(cv[1]);

    int rc = 1;
    nng_socket req;
    uint8_t *src = malloc((size_t)max);
    int cap = iters > 200 ? iters : 200;
    double *t[NSERIES];
    int have = src != NULL && pids[0] > 0 && pids[1] > 0 && pids[2] > 0;
    for (int k = 0; k < NSERIES; k++)
        have &= (t[k] = calloc((size_t)cap, sizeof(double))) != NULL;
    struct row rows[MAX_SIZES];
    if (!have || chan_dial(url, &req) != 0)
        goto out;
    for (uint64_t i = 0; i < max; i++)
        src[i] = (uint8_t)(i * 131u + 7u);

    printf("%-8s %6s", "size", "iters");
    for (int k = 0; k < NSERIES; k++)
        printf(" | %21s", series_title[k]);
    printf("\n");
    for (int s = 0; s < nsizes; s++) {
        uint64_t size = sizes[s];
        int n = size <= (1u << 20) ? iters : (iters / 5 > 200 ? iters / 5 : 200);
        for (int k = -WARMUP; k < n; k++) {
            int i = k < 0 ? 0 : k; /* warm-up rounds overwrite entry 0 */
            double unused;
            if (shm_round(&pool, req, -1, src, size, &t[S_TOTAL][i], &t[S_HANDOFF][i]) != 0 ||
                shm_round(&pool, req, cv[0], src, size, &unused, &t[S_CTL_SOCK][i]) != 0 ||
                socket_round(sv[0], src, size, &t[S_SOCKET][i]) != 0)
                goto out;
        }
        struct row *r = &rows[s];
        r->bytes = size;
        r->iters = n;
        char h[32];
        human(size, h, sizeof h);
        printf("%-8s %6d", h, n);
        for (int k = 0; k < NSERIES; k++) {
            qsort(t[k], (size_t)n, sizeof(double), cmp_double);
            r->p50[k] = pct(t[k], n, 50);
            r->p99[k] = pct(t[k], n, 99);
            printf(" | %10.1f %10.1f", r->p50[k], r->p99[k]);
        }
        printf("\n");
        fflush(stdout);
    }
    rc = json != NULL && write_json(json, rows, nsizes) != 0 ? 1 : 0;
out:
    close(sv[0]);
    close(cv[0]);
    for (int k = 0; k < 3; k++)
        if (pids[k] > 0)
            kill(pids[k], SIGTERM);
    for (int k = 0; k < 3; k++)
        if (pids[k] > 0)
            waitpid(pids[k], NULL, 0);
    snprintf(url, sizeof url, "%s/ipc.sock", dir);
    unlink(url);
    rmdir(dir);
    shm_pool_close(&pool);
    free(src);
    for (int k = 0; k < NSERIES; k++)
        free(t[k]);
    return rc;
}
