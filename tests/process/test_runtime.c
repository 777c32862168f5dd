/*
 * test_runtime.c - the runtime core as a whole, with real processes and
 * real signals: `filot-ocr ocr` on generated KTP cards (accuracy, a worker
 * SIGKILLed or SIGSEGVed mid-run, the GPU server killed, a job timeout, bad
 * input files) and filot-ocrd on its own (/health and /metrics, SIGTERM
 * drain, sd_notify datagrams, configuration errors).
 *
 * Run from the repository root: the programs are taken from TEST_BIN_DIR and
 * the cards are rendered by tests/gen-cards.sh once per suite into a
 * temporary directory.  Each case is its own TCase whose unchecked
 * teardown (in the runner process, which is the subreaper of everything
 * the tests start) kills whatever a failed case left running.
 */
#include <check.h>
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ipc/ipc_msg.h"
#include "ipc/nng_chan.h"
#include "ipc/shm_pool.h"
#include "proc_util.h"

#define NCARDS       20
#define CASE_TIMEOUT 180
#define MAX_ARGS     64
#define MAX_ENV      16
#define POLL_MS      10u
#define WORKER       "filot-ocr-worker"
#define GPU_SERVER   "filot-gpu-server"
#define WATCH_WINDOW 2000u

static const char OCR_BIN[] = TEST_BIN_DIR "/filot-ocr";
static const char OCRD_BIN[] = TEST_BIN_DIR "/filot-ocrd";
static const char *const KTP2[] = {"--type", "KTP", "--workers", "2", NULL};
static const char *const KTP1[] = {"--type", "KTP", "--workers", "1", NULL};

static char suite_dir[64];         /* scratch of the whole suite */
static char card_buf[NCARDS][160]; /* rendered cards, manifest order */
static const char *cards[NCARDS];  /* pointers into card_buf */
static bool cards_ready;
static struct pu_cases cases = {.suite = "test_runtime"};

#define note(...)                      pu_note("test_runtime", __VA_ARGS__)
#define scratch(buf, len, tag, suffix) pu_scratch(buf, len, suite_dir, tag, suffix)

/* Renders the cards once (unchecked fixture: runs in the runner process). */
static void generate_cards(void)
{
    char dir[96], manifest[128];
    snprintf(suite_dir, sizeof suite_dir, "/tmp/test_runtime.XXXXXX");
    ck_assert_int_eq(pu_mkdtemp(suite_dir), 0);
    scratch(dir, sizeof dir, "cards", "");
    const char *const argv[] = {"tests/gen-cards.sh",
                                "--seed",
                                "7",
                                "--count",
                                "20",
                                "--type",
                                "KTP",
                                "--degrade",
                                "light",
                                "--layout",
                                "inline",
                                "--jobs",
                                "2",
                                dir,
                                NULL};
    struct pu_spec sp = {.argv = argv};
    pid_t pid = pu_spawn(&sp);
    int st;
    ck_assert_int_gt(pid, 0);
    ck_assert_msg(pu_wait(pid, 150000, &st) == 0, "gen-cards.sh did not finish");
    ck_assert_msg(pu_exit_code(st) == 0, "gen-cards.sh failed: status %d", st);
    snprintf(manifest, sizeof manifest, "%s/manifest.tsv", dir);
    FILE *f = fopen(manifest, "r");
    ck_assert_ptr_nonnull(f);
    char line[256];
    int n = 0;
    while (n < NCARDS && fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\t\n")] = '\0';
        int len = snprintf(card_buf[n], sizeof card_buf[n], "%s/%s", dir, line);
        ck_assert_int_lt(len, (int)sizeof card_buf[n]);
        cards[n] = card_buf[n];
        n++;
    }
    fclose(f);
    ck_assert_int_eq(n, NCARDS);
    cards_ready = true;
}

/* Unchecked setup: cards once per suite, then the case's bookkeeping. */
static void case_setup(void)
{
    if (!cards_ready)
        generate_cards();
    pu_case_begin(&cases);
}

/* Unchecked teardown: kills leftovers of a failed case, prints its runtime. */
static void case_teardown(void)
{
    pu_case_end(&cases);
}

/* ---- filot-ocr ocr ---------------------------------------------------- */

struct ocr {
    pid_t pid;
    int port; /* --health-port, 0: none */
    char out[128], err[128], log[128];
};

/*
 * Starts `filot-ocr ocr --log LOG [--health-port P] OPTS FILES` with
 * OCR_SHM_SIZE=64M plus env; output goes to scratch files named by tag.
 */
static void ocr_start(struct ocr *o, const char *tag, const char *const *opts,
                      const char *const *files, int nfiles, const char *const *env)
{
    const char *argv[MAX_ARGS], *envv[MAX_ENV];
    char port[16];
    int n = 0, k = 0;
    scratch(o->out, sizeof o->out, tag, ".out");
    scratch(o->err, sizeof o->err, tag, ".err");
    scratch(o->log, sizeof o->log, tag, ".log");
    argv[n++] = OCR_BIN;
    argv[n++] = "ocr";
    argv[n++] = "--log";
    argv[n++] = o->log;
    if (o->port > 0) {
        snprintf(port, sizeof port, "%d", o->port);
        argv[n++] = "--health-port";
        argv[n++] = port;
    }
    for (int i = 0; opts[i] != NULL; i++)
        argv[n++] = opts[i];
    ck_assert_int_lt(n + nfiles, MAX_ARGS);
    for (int i = 0; i < nfiles; i++)
        argv[n++] = files[i];
    argv[n] = NULL;
    envv[k++] = "OCR_SHM_SIZE=64M";
    for (int i = 0; env != NULL && env[i] != NULL && k < MAX_ENV - 1; i++)
        envv[k++] = env[i];
    envv[k] = NULL;
    struct pu_spec sp = {.argv = argv, .env = envv, .out_path = o->out, .err_path = o->err};
    o->pid = pu_spawn(&sp);
    ck_assert_int_gt(o->pid, 0);
}

/* Waits for filot-ocr; returns its result lines and sets *code. */
static json_t *ocr_finish(struct ocr *o, unsigned timeout_ms, int *code)
{
    int st;
    ck_assert_msg(pu_wait(o->pid, timeout_ms, &st) == 0, "filot-ocr still running after %u ms",
                  timeout_ms);
    o->pid = 0;
    *code = pu_exit_code(st);
    json_t *lines = pu_json_file(o->out);
    ck_assert_msg(lines != NULL, "stdout of filot-ocr (%s) is not JSON lines", o->out);
    return lines;
}

/* Asserts one result per file, in input order. */
static void assert_in_order(const json_t *lines, const char *const *files, int n)
{
    ck_assert_int_eq((int)json_array_size(lines), n);
    for (int i = 0; i < n; i++)
        ck_assert_str_eq(pu_str(json_array_get(lines, (size_t)i), "file"), files[i]);
}

/* Asserts every result succeeded. */
static void assert_all_succeeded(const json_t *lines)
{
    size_t i;
    json_t *r;
    json_array_foreach(lines, i, r)
    {
        ck_assert_msg(json_is_true(json_object_get(r, "success")), "%s failed: %s",
                      pu_str(r, "file"), pu_str(r, "error"));
    }
}

/* Asserts a result failed with an error that contains want. */
static void assert_failed_with(const json_t *r, const char *want)
{
    ck_assert_msg(json_is_false(json_object_get(r, "success")), "%s: success is not false",
                  pu_str(r, "file"));
    ck_assert_msg(strstr(pu_str(r, "error"), want) != NULL, "%s: error \"%s\" lacks \"%s\"",
                  pu_str(r, "file"), pu_str(r, "error"), want);
}

/*
 * Polls /health until a worker other than not_pid is busy; returns its pid
 * (and index).  Fails when filot-ocr ends first.
 */
static pid_t wait_busy_worker(const struct ocr *o, pid_t not_pid, int *index)
{
    uint64_t deadline = pu_now_ms() + 60000u;
    while (pu_now_ms() < deadline && !pu_exited(o->pid)) {
        json_t *h = pu_health(o->port, NULL);
        pid_t pid = h != NULL ? pu_busy_worker(h, not_pid, index) : 0;
        json_decref(h);
        if (pid > 0)
            return pid;
        pu_sleep_ms(POLL_MS);
    }
    ck_abort_msg("no busy worker seen on /health (port %d) before filot-ocr ended", o->port);
    return 0;
}

/*
 * Polls /health until worker index runs a new pid that is ready or busy.
 * Returns milliseconds since killed_at and its restart count, or 0 when
 * filot-ocr finished first.
 */
static uint64_t wait_worker_back(const struct ocr *o, int index, pid_t old, uint64_t killed_at,
                                 long long *restarts)
{
    uint64_t deadline = pu_now_ms() + 30000u;
    while (pu_now_ms() < deadline && !pu_exited(o->pid)) {
        json_t *h = pu_health(o->port, NULL);
        const json_t *c = pu_health_child(h, WORKER, index);
        pid_t pid = (pid_t)pu_int(c, "pid", 0);
        const char *state = pu_str(c, "state");
        bool back = pid > 0 && pid != old && (!strcmp(state, "ready") || !strcmp(state, "busy"));
        *restarts = pu_int(c, "restarts", -1);
        json_decref(h);
        if (back)
            return pu_now_ms() - killed_at;
        pu_sleep_ms(POLL_MS);
    }
    return 0;
}

/* ---- supervisor log --------------------------------------------------- */

/*
 * Counts log lines whose message contains msg and, when key is given,
 * whose integer member key equals val.
 */
static int log_count(const json_t *log, const char *msg, const char *key, long long val)
{
    size_t i;
    json_t *line;
    int n = 0;
    json_array_foreach(log, i, line)
    {
        if (strstr(pu_str(line, "message"), msg) != NULL &&
            (key == NULL || pu_int(line, key, val - 1) == val))
            n++;
    }
    return n;
}

/* The supervisor log of a finished run, parsed. */
static json_t *read_log(const char *path)
{
    json_t *log = pu_json_file(path);
    ck_assert_msg(log != NULL, "log %s is missing or not JSON lines", path);
    return log;
}

/* ---- filot-ocrd on its own -------------------------------------------- */

struct daemon {
    pid_t pid;
    int port; /* HEALTH_PORT; 0 turns the HTTP server off */
    char out[128], err[128], rundir[128];
};

/*
 * Starts filot-ocrd with two workers, 64 MiB of shm, its own runtime dir
 * and HEALTH_PORT, plus env (later entries win).  Its job source is a
 * channel nobody serves, so the workers start and stay idle without the
 * Redis/PostgreSQL pipeline.
 */
static void ocrd_start(struct daemon *d, const char *tag, const char *const *env,
                       bool watchdog_pid_self)
{
    const char *argv[] = {OCRD_BIN, NULL};
    const char *envv[MAX_ENV];
    char port[32], rundir[160], source[192];
    int k = 0;
    scratch(d->out, sizeof d->out, tag, ".out");
    scratch(d->err, sizeof d->err, tag, ".err");
    scratch(d->rundir, sizeof d->rundir, tag, ".run");
    snprintf(port, sizeof port, "HEALTH_PORT=%d", d->port);
    snprintf(rundir, sizeof rundir, "OCR_RUNTIME_DIR=%s", d->rundir);
    snprintf(source, sizeof source, "OCR_JOB_SOURCE=ipc://%s/idle.sock", d->rundir);
    envv[k++] = "OCR_SHM_SIZE=64M";
    envv[k++] = "OCR_GPU_CONCURRENCY=2";
    envv[k++] = source;
    envv[k++] = "NOTIFY_SOCKET";
    envv[k++] = "WATCHDOG_USEC";
    envv[k++] = port;
    envv[k++] = rundir;
    for (int i = 0; env != NULL && env[i] != NULL && k < MAX_ENV - 1; i++)
        envv[k++] = env[i];
    envv[k] = NULL;
    struct pu_spec sp = {.argv = argv,
                         .env = envv,
                         .out_path = d->out,
                         .err_path = d->err,
                         .watchdog_pid_self = watchdog_pid_self};
    d->pid = pu_spawn(&sp);
    ck_assert_int_gt(d->pid, 0);
}

/* Waits for filot-ocrd to exit; returns its exit code (-1: signal). */
static int ocrd_wait(struct daemon *d, unsigned timeout_ms)
{
    int st;
    ck_assert_msg(pu_wait(d->pid, timeout_ms, &st) == 0, "filot-ocrd (pid %d) still running",
                  (int)d->pid);
    d->pid = 0;
    return pu_exit_code(st);
}

/* SIGTERM, then expects exit 0 within timeout_ms. */
static void ocrd_stop(struct daemon *d, unsigned timeout_ms)
{
    ck_assert_int_eq(kill(d->pid, SIGTERM), 0);
    ck_assert_int_eq(ocrd_wait(d, timeout_ms), 0);
}

/*
 * Polls /health until it answers 200 (and, with want_gpu, the GPU server
 * is ready too); returns the document.
 */
static json_t *wait_ready(const struct daemon *d, bool want_gpu)
{
    uint64_t deadline = pu_now_ms() + 60000u;
    while (pu_now_ms() < deadline && !pu_exited(d->pid)) {
        int code;
        json_t *h = pu_health(d->port, &code);
        json_t *gpu = json_object_get(h, "gpu");
        if (code == 200 && (!want_gpu || strcmp(pu_str(gpu, "state"), "ready") == 0))
            return h;
        json_decref(h);
        pu_sleep_ms(50);
    }
    ck_abort_msg("filot-ocrd never became ready on port %d (log %s)", d->port, d->out);
    return NULL;
}

/* ---- the cases -------------------------------------------------------- */

/* Ground-truth NIK of card i (the JSON beside the PNG). */
static const char *truth_nik(int i, json_t **holder)
{
    char path[192];
    snprintf(path, sizeof path, "%.*s.json", (int)(strlen(cards[i]) - 4), cards[i]);
    *holder = json_load_file(path, 0, NULL);
    ck_assert_msg(*holder != NULL, "no ground truth %s", path);
    return pu_str(*holder, "nik");
}

/* 20 KTP cards, 2 workers: NIK read exactly on at least 19; prints cards/s. */
START_TEST(test_accuracy)
{
    struct ocr o = {0};
    int code;
    uint64_t t0 = pu_now_ms();
    ocr_start(&o, "accuracy", KTP2, cards, NCARDS, NULL);
    json_t *lines = ocr_finish(&o, 150000, &code);
    double secs = (double)(pu_now_ms() - t0) / 1000.0;
    assert_in_order(lines, cards, NCARDS);
    assert_all_succeeded(lines);
    ck_assert_int_eq(code, 0);
    int exact = 0;
    for (int i = 0; i < NCARDS; i++) {
        json_t *truth;
        const char *want = truth_nik(i, &truth);
        const json_t *parsed = json_object_get(json_array_get(lines, (size_t)i), "parsedResult");
        const char *got = pu_str(parsed, "nik");
        if (strcmp(got, want) == 0)
            exact++;
        else
            note("accuracy: %s: NIK \"%s\", truth \"%s\"", cards[i], got, want);
        json_decref(truth);
    }
    note("accuracy: NIK exact on %d/%d cards; %.2f s wall, %.2f cards/s with 2 workers", exact,
         NCARDS, secs, NCARDS / secs);
    ck_assert_int_ge(exact, NCARDS - 1);
    json_decref(lines);
}
END_TEST

/* SIGKILL a busy worker mid-run: every file still succeeds, the worker is restarted. */
START_TEST(test_worker_sigkill)
{
    enum { NFILES = 8 };
    struct ocr o = {.port = pu_free_port()};
    int index = -1, code;
    long long restarts = -1;
    ocr_start(&o, "sigkill", KTP2, cards, NFILES, NULL);
    pid_t victim = wait_busy_worker(&o, 0, &index);
    ck_assert_int_eq(kill(victim, SIGKILL), 0);
    uint64_t back_ms = wait_worker_back(&o, index, victim, pu_now_ms(), &restarts);
    if (back_ms > 0) {
        note("sigkill: worker %d (pid %d) back %llu ms after SIGKILL, restarts %lld", index,
             (int)victim, (unsigned long long)back_ms, restarts);
        ck_assert_int_ge(restarts, 1);
    } else {
        note("sigkill: run ended before worker %d was seen back", index);
    }
    json_t *lines = ocr_finish(&o, 120000, &code);
    assert_in_order(lines, cards, NFILES);
    assert_all_succeeded(lines);
    ck_assert_int_eq(code, 0);
    json_t *log = read_log(o.log);
    ck_assert_int_eq(log_count(log, "Child exited on signal", "childPid", victim), 1);
    ck_assert_int_ge(log_count(log, "Child started", "index", index), 2);
    json_decref(log);
    json_decref(lines);
}
END_TEST

/* A file whose worker dies twice (SIGSEGV) is reported, not retried forever. */
START_TEST(test_worker_sigsegv_twice)
{
    struct ocr o = {.port = pu_free_port()};
    int code;
    pid_t prev = 0;
    ocr_start(&o, "sigsegv", KTP1, cards, 1, NULL);
    for (int round = 0; round < 2; round++) {
        pid_t pid = wait_busy_worker(&o, prev, NULL);
        ck_assert_int_eq(kill(pid, SIGSEGV), 0);
        prev = pid;
    }
    json_t *lines = ocr_finish(&o, 60000, &code);
    assert_in_order(lines, cards, 1);
    assert_failed_with(json_array_get(lines, 0), "signal 11");
    note("sigsegv: %s", pu_str(json_array_get(lines, 0), "error"));
    ck_assert_int_eq(code, 1);
    json_decref(lines);
}
END_TEST

/* Polls /health until the GPU server is ready; returns its pid. */
static pid_t wait_gpu_ready(const struct ocr *o)
{
    uint64_t deadline = pu_now_ms() + 30000u;
    while (pu_now_ms() < deadline && !pu_exited(o->pid)) {
        json_t *h = pu_health(o->port, NULL);
        const char *state = pu_str(json_object_get(h, "gpu"), "state");
        pid_t pid = (pid_t)pu_int(pu_health_child(h, GPU_SERVER, -1), "pid", 0);
        bool ready = strcmp(state, "ready") == 0 && pid > 0;
        json_decref(h);
        if (ready)
            return pid;
        pu_sleep_ms(POLL_MS);
    }
    ck_abort_msg("GPU server (emulated) never ready on /health port %d", o->port);
    return 0;
}

/* Polls /health until gpu.state is no longer "ready". */
static bool gpu_down(void *arg)
{
    const struct ocr *o = arg;
    json_t *h = pu_health(o->port, NULL);
    bool down = h != NULL && strcmp(pu_str(json_object_get(h, "gpu"), "state"), "ready") != 0;
    json_decref(h);
    return down;
}

/* Predicate: filot-ocr has printed at least one result line. */
static bool has_result(void *arg)
{
    const struct ocr *o = arg;
    return pu_count_lines(o->out) >= 1 || pu_exited(o->pid);
}

/* GPU server (emulated) killed mid-run: later files go through the CPU twin. */
START_TEST(test_gpu_server_kill)
{
    enum { NFILES = 7 };
    static const char *const env[] = {"OCR_GPU_EMULATE=1", "OCR_RESTART_BACKOFF_MIN_MS=60000",
                                      "OCR_RESTART_BACKOFF_MAX_MS=60000", NULL};
    struct ocr o = {.port = pu_free_port()};
    int code;
    ocr_start(&o, "gpukill", KTP1, cards, NFILES, env);
    pid_t gpu = wait_gpu_ready(&o);
    ck_assert(pu_wait_until(has_result, &o, 60000, POLL_MS));
    /* results stream: what is printed now was preprocessed before the kill */
    char *text = pu_read_file(o.out, NULL);
    int bad;
    json_t *before = pu_json_lines(text != NULL ? text : "", &bad);
    free(text);
    ck_assert_ptr_nonnull(before);
    ck_assert_int_eq(kill(gpu, SIGKILL), 0);
    int seen = (int)json_array_size(before);
    const json_t *first = json_array_get(before, 0);
    ck_assert_msg(json_is_true(json_object_get(first, "success")), "first file failed");
    ck_assert_str_eq(pu_str(first, "preprocess"), "gpu");
    ck_assert_msg(pu_wait_until(gpu_down, &o, 5000, POLL_MS), "/health still says gpu ready");
    json_t *lines = ocr_finish(&o, 120000, &code);
    assert_in_order(lines, cards, NFILES);
    assert_all_succeeded(lines);
    ck_assert_int_eq(code, 0);
    /* the file after the last printed one may have been on the GPU already */
    int cpu_from = seen + 1;
    ck_assert_int_ge(NFILES - cpu_from, 2);
    for (int i = cpu_from; i < NFILES; i++)
        ck_assert_str_eq(pu_str(json_array_get(lines, (size_t)i), "preprocess"), "cpu");
    note("gpukill: %d result(s) before the kill, files %d..%d on the CPU twin", seen, cpu_from + 1,
         NFILES);
    json_decref(before);
    json_decref(lines);
}
END_TEST

/* Jobs past OCR_JOB_TIMEOUT_MS are SIGKILLed and reported; the run ends. */
START_TEST(test_job_timeout)
{
    static const char *const env[] = {"OCR_JOB_TIMEOUT_MS=200", NULL};
    struct ocr o = {0};
    int code;
    uint64_t t0 = pu_now_ms();
    ocr_start(&o, "timeout", KTP2, cards, 2, env);
    json_t *lines = ocr_finish(&o, 60000, &code);
    note("timeout: run finished in %.1f s", (double)(pu_now_ms() - t0) / 1000.0);
    assert_in_order(lines, cards, 2);
    for (size_t i = 0; i < 2; i++) {
        assert_failed_with(json_array_get(lines, i), "OCR_JOB_TIMEOUT_MS");
        assert_failed_with(json_array_get(lines, i), "signal 9");
    }
    ck_assert_int_eq(code, 1);
    json_t *log = read_log(o.log);
    ck_assert_int_ge(log_count(log, "OCR_JOB_TIMEOUT_MS", NULL, 0), 2);
    json_decref(log);
    json_decref(lines);
}
END_TEST

/* OCR_WORKER_MAX_JOBS: workers are replaced after their quota, no file is lost. */
START_TEST(test_worker_recycle)
{
    static const char *const env[] = {"OCR_WORKER_MAX_JOBS=2", NULL};
    struct ocr o = {0};
    int code;
    ocr_start(&o, "recycle", KTP2, cards, 6, env);
    json_t *lines = ocr_finish(&o, 120000, &code);
    ck_assert_int_eq(code, 0);
    assert_in_order(lines, cards, 6);
    assert_all_succeeded(lines);
    json_t *log = read_log(o.log);
    int recycled = log_count(log, "Worker recycling", NULL, 0);
    note("recycle: 6 files, %d worker recycles with OCR_WORKER_MAX_JOBS=2", recycled);
    ck_assert_int_ge(recycled, 2);
    json_decref(log);
    json_decref(lines);
}
END_TEST

/* Pipes text into `promtool check metrics`; returns its exit code. */
static int promtool_check(const char *text)
{
    FILE *p = popen("promtool check metrics", "w");
    ck_assert_ptr_nonnull(p);
    fputs(text, p);
    int st = pclose(p);
    return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* /health 200 once ready, /metrics passes promtool, unknown paths 404. */
START_TEST(test_health_metrics)
{
    struct daemon d = {.port = pu_free_port()};
    ocrd_start(&d, "health", NULL, false);
    json_t *h = wait_ready(&d, false);
    ck_assert(json_is_true(json_object_get(h, "ok")));
    ck_assert(json_is_true(json_object_get(h, "ready")));
    ck_assert(json_is_false(json_object_get(h, "draining")));
    ck_assert_str_eq(pu_str(h, "status"), "ok");
    ck_assert_int_eq(pu_int(json_object_get(h, "workers"), "total", -1), 2);
    ck_assert_int_ge(pu_int(json_object_get(h, "workers"), "ready", -1), 1);
    json_decref(h);
    char *body = NULL;
    ck_assert_int_eq(pu_http_get(d.port, "/metrics", &body), 200);
    ck_assert_ptr_nonnull(strstr(body, "\nfilot_ocrd_up 1\n"));
    ck_assert_ptr_nonnull(strstr(body, "\nfilot_ocrd_workers_configured 2\n"));
    ck_assert_int_eq(promtool_check(body), 0);
    free(body);
    ck_assert_int_eq(pu_http_get(d.port, "/no-such-page", NULL), 404);
    ocrd_stop(&d, 15000);
}
END_TEST

/* Collects the pids of every running child listed on /health. */
static int child_pids(const json_t *h, pid_t *pids, int cap)
{
    size_t i;
    json_t *c;
    int n = 0;
    json_array_foreach(json_object_get(h, "children"), i, c)
    {
        if (n < cap && pu_int(c, "pid", 0) > 0)
            pids[n++] = (pid_t)pu_int(c, "pid", 0);
    }
    return n;
}

/* SIGTERM: 503 "draining", exit 0 soon, no child left, segment removed. */
START_TEST(test_drain)
{
    static const char *const env[] = {"OCR_GPU_EMULATE=1", NULL};
    struct daemon d = {.port = pu_free_port()};
    pid_t kids[8];
    char shm[64];
    ocrd_start(&d, "drain", env, false);
    pid_t sup = d.pid;
    snprintf(shm, sizeof shm, "/dev/shm/filot-ocrd.%d", (int)sup);
    json_t *h = wait_ready(&d, true);
    int nkids = child_pids(h, kids, 8);
    json_decref(h);
    ck_assert_int_eq(nkids, 3);
    ck_assert_int_eq(access(shm, F_OK), 0);
    uint64_t t0 = pu_now_ms();
    ck_assert_int_eq(kill(sup, SIGTERM), 0);
    /* the first answer that is not 200 must say draining, or nobody answers */
    int code = 200;
    json_t *doc = NULL;
    while (code == 200 && pu_now_ms() < t0 + 10000u) {
        json_decref(doc);
        doc = pu_health(d.port, &code);
        if (code == 200)
            pu_sleep_ms(5);
    }
    if (code != -1) {
        ck_assert_int_eq(code, 503);
        ck_assert_str_eq(pu_str(doc, "status"), "draining");
        ck_assert(json_is_true(json_object_get(doc, "draining")));
    }
    json_decref(doc);
    ck_assert_int_eq(ocrd_wait(&d, 10000), 0);
    double secs = (double)(pu_now_ms() - t0) / 1000.0;
    note("drain: first non-200 /health answer %d; exit 0 %.2f s after SIGTERM", code, secs);
    ck_assert(secs < 5.0);
    for (int i = 0; i < nkids; i++)
        ck_assert_msg(!pu_pid_exists(kids[i]), "child %d outlived filot-ocrd", (int)kids[i]);
    ck_assert_msg(access(shm, F_OK) != 0 && errno == ENOENT, "%s was not removed", shm);
}
END_TEST

/* What arrived on the notify socket. */
struct notes {
    uint64_t ready_ms;   /* when READY=1 arrived, 0 before */
    int status;          /* STATUS= lines */
    int watchdog;        /* WATCHDOG=1 in total */
    int watchdog_window; /* WATCHDOG=1 within WATCH_WINDOW ms after READY=1 */
    bool stopping;       /* STOPPING=1 */
    char last_status[256];
};

/* Accounts for one line of a notification datagram. */
static void note_line(struct notes *n, const char *line, uint64_t now)
{
    if (strcmp(line, "READY=1") == 0 && n->ready_ms == 0)
        n->ready_ms = now;
    if (strncmp(line, "STATUS=", 7) == 0) {
        n->status++;
        snprintf(n->last_status, sizeof n->last_status, "%s", line + 7);
    }
    if (strcmp(line, "WATCHDOG=1") == 0) {
        n->watchdog++;
        n->watchdog_window += n->ready_ms != 0 && now <= n->ready_ms + WATCH_WINDOW;
    }
    if (strcmp(line, "STOPPING=1") == 0)
        n->stopping = true;
}

/*
 * Receives datagrams on fd until done(n); false after timeout_ms, or when
 * nothing is queued and sender (our child) has exited.
 */
static bool collect(int fd, pid_t sender, struct notes *n, bool (*done)(const struct notes *),
                    unsigned timeout_ms)
{
    uint64_t deadline = pu_now_ms() + timeout_ms;
    while (!done(n)) {
        char buf[1024];
        ssize_t len = recv(fd, buf, sizeof buf - 1, 0);
        if (len <= 0 && (pu_now_ms() >= deadline || pu_exited(sender)))
            return false;
        if (len <= 0)
            continue;
        buf[len] = '\0';
        uint64_t now = pu_now_ms();
        for (char *save = NULL, *line = strtok_r(buf, "\n", &save); line != NULL;
             line = strtok_r(NULL, "\n", &save))
            note_line(n, line, now);
    }
    return true;
}

/* collect() stop condition: READY=1 has arrived. */
static bool ready_seen(const struct notes *n)
{
    return n->ready_ms != 0;
}

/* collect() stop condition: the watchdog window after READY=1 is over. */
static bool window_over(const struct notes *n)
{
    return pu_now_ms() > n->ready_ms + WATCH_WINDOW;
}

/* collect() stop condition: STOPPING=1 has arrived. */
static bool stopping_seen(const struct notes *n)
{
    return n->stopping;
}

/* collect() stop condition: none; reads until the sender has exited. */
static bool sender_gone(const struct notes *n)
{
    (void)n;
    return false;
}

/* Binds a datagram socket at path with a short receive timeout. */
static int bind_notify_socket(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    ck_assert_int_lt(strlen(path), sizeof sun.sun_path);
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof sun), 0);
    struct timeval tv = {.tv_usec = 50000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

/* READY=1, STATUS=, WATCHDOG=1 at WATCHDOG_USEC/2, STOPPING=1 on a datagram socket. */
START_TEST(test_sd_notify)
{
    char path[96], env_sock[128];
    scratch(path, sizeof path, "notify", ".sock");
    snprintf(env_sock, sizeof env_sock, "NOTIFY_SOCKET=%s", path);
    int fd = bind_notify_socket(path);
    const char *const env[] = {env_sock, "WATCHDOG_USEC=400000", NULL};
    struct daemon d = {.port = 0};
    struct notes n = {0};
    ocrd_start(&d, "notify", env, true);
    ck_assert_msg(collect(fd, d.pid, &n, ready_seen, 60000), "no READY=1 (log %s)", d.out);
    ck_assert(collect(fd, d.pid, &n, window_over, WATCH_WINDOW + 1000));
    note("sd_notify: %d STATUS= (last \"%s\"), %d WATCHDOG=1 in the %u ms after READY=1", n.status,
         n.last_status, n.watchdog_window, WATCH_WINDOW);
    ck_assert_int_ge(n.status, 1);
    ck_assert_int_ge(n.watchdog_window, 4);
    ck_assert_int_le(n.watchdog_window, 20);
    ck_assert_int_eq(kill(d.pid, SIGTERM), 0);
    ck_assert_msg(collect(fd, d.pid, &n, stopping_seen, 10000), "no STOPPING=1 after SIGTERM");
    /* Keep reading as systemd does: sd_notify blocks once 10 datagrams are queued. */
    (void)collect(fd, d.pid, &n, sender_gone, 15000);
    ck_assert_int_eq(ocrd_wait(&d, 1000), 0);
    close(fd);
}
END_TEST

/* True when some JSON log line's "error" mentions what. */
static bool log_error_mentions(const json_t *log, const char *what)
{
    size_t i;
    json_t *line;
    json_array_foreach(log, i, line)
    {
        if (strstr(pu_str(line, "error"), what) != NULL)
            return true;
    }
    return false;
}

/* Bad settings: exit 2 with a message naming the variable. */
START_TEST(test_config_errors)
{
    static const char *const bad_workers[] = {"OCR_GPU_CONCURRENCY=abc", NULL};
    static const char *const bad_shm[] = {"OCR_SHM_SIZE=1", NULL};
    static const char *const no_opts[] = {NULL};
    struct daemon d = {.port = 0};
    ocrd_start(&d, "config-ocrd", bad_workers, false);
    ck_assert_int_eq(ocrd_wait(&d, 10000), 2);
    json_t *log = read_log(d.out);
    ck_assert_msg(log_error_mentions(log, "OCR_GPU_CONCURRENCY"), "no error naming the variable");
    json_decref(log);

    struct ocr o = {0};
    int code;
    ocr_start(&o, "config-cli", no_opts, cards, 1, bad_shm);
    json_t *lines = ocr_finish(&o, 10000, &code);
    ck_assert_int_eq(code, 2);
    ck_assert_int_eq((int)json_array_size(lines), 0);
    char *err = pu_read_file(o.err, NULL);
    ck_assert_ptr_nonnull(err);
    ck_assert_msg(strstr(err, "OCR_SHM_SIZE") != NULL, "stderr lacks OCR_SHM_SIZE: %s", err);
    free(err);
    json_decref(lines);
}
END_TEST

/* Writes the first half of a JPEG rendering of card 0 to path. */
static void make_truncated_jpeg(const char *path)
{
    char full[128];
    scratch(full, sizeof full, "card0", ".jpg");
    const char *const argv[] = {"convert", cards[0], full, NULL};
    struct pu_spec sp = {.argv = argv};
    pid_t pid = pu_spawn(&sp);
    int st;
    ck_assert_int_gt(pid, 0);
    ck_assert_int_eq(pu_wait(pid, 30000, &st), 0);
    ck_assert_int_eq(pu_exit_code(st), 0);
    size_t len;
    char *jpeg = pu_read_file(full, &len);
    ck_assert_ptr_nonnull(jpeg);
    ck_assert_int_gt(len, 1000);
    ck_assert_int_eq(pu_write_file(path, jpeg, len / 2), 0);
    free(jpeg);
}

/* Unreadable inputs fail one by one with specific errors; the good card succeeds. */
START_TEST(test_bad_files)
{
    static const char text[] = "these are notes, not an image\n";
    char notes[128], trunc[128], missing[128];
    scratch(notes, sizeof notes, "notes", ".txt");
    scratch(trunc, sizeof trunc, "truncated", ".jpg");
    scratch(missing, sizeof missing, "missing", ".png");
    ck_assert_int_eq(pu_write_file(notes, text, sizeof text - 1), 0);
    make_truncated_jpeg(trunc);
    const char *const files[] = {notes, trunc, missing, cards[1]};
    static const char *const want[] = {"not an image", "truncated", "No such file or directory"};
    struct ocr o = {0};
    int code;
    ocr_start(&o, "badfiles", KTP2, files, 4, NULL);
    json_t *lines = ocr_finish(&o, 60000, &code);
    assert_in_order(lines, files, 4);
    for (size_t i = 0; i < 3; i++) {
        assert_failed_with(json_array_get(lines, i), want[i]);
        note("badfiles: %s -> %s", files[i], pu_str(json_array_get(lines, i), "error"));
    }
    ck_assert(json_is_true(json_object_get(json_array_get(lines, 3), "success")));
    ck_assert_int_eq(code, 1);
    json_decref(lines);
}
END_TEST

/* What the killer waits for: worker 0 busy under a pid that has finished a job. */
struct progress_watch {
    const struct ocr *o;
    pid_t killed;        /* pid killed last (0: none yet) */
    long long jobs_then; /* worker 0's jobsDone when it was killed */
    pid_t victim;        /* out: the pid to kill now */
};

static bool busy_after_progress(void *arg)
{
    struct progress_watch *w = arg;
    if (pu_exited(w->o->pid))
        return true;
    json_t *h = pu_health(w->o->port, NULL);
    const json_t *c = pu_health_child(h, WORKER, 0);
    pid_t pid = (pid_t)pu_int(c, "pid", 0);
    long long jobs = pu_int(c, "jobsDone", 0);
    bool ok = pid > 0 && pid != w->killed && jobs > w->jobs_then &&
              strcmp(pu_str(c, "state"), "busy") == 0;
    if (ok) {
        w->victim = pid;
        w->jobs_then = jobs;
    }
    json_decref(h);
    return ok;
}

/*
 * A worker SIGKILLed three times, each time after its new incarnation
 * completed a job (an OOM killer, not a crash loop), is restarted after
 * the minimum delay every time instead of a doubling one.
 */
START_TEST(test_kill_after_progress)
{
    static const char *const env[] = {"OCR_RESTART_BACKOFF_MIN_MS=100",
                                      "OCR_RESTART_BACKOFF_MAX_MS=30000", NULL};
    struct ocr o = {.port = pu_free_port()};
    struct progress_watch w = {.o = &o};
    int code, kills = 0;
    ocr_start(&o, "killprogress", KTP1, cards, 12, env);
    for (int i = 0; i < 3; i++) {
        ck_assert(pu_wait_until(busy_after_progress, &w, 60000, POLL_MS));
        if (pu_exited(o.pid))
            break;
        ck_assert_int_eq(kill(w.victim, SIGKILL), 0);
        w.killed = w.victim;
        kills++;
    }
    json_t *lines = ocr_finish(&o, 120000, &code);
    assert_in_order(lines, cards, 12);
    assert_all_succeeded(lines);
    ck_assert_int_eq(kills, 3);
    json_t *log = read_log(o.log);
    ck_assert_int_eq(log_count(log, "restarting after backoff", NULL, 0), 3);
    ck_assert_int_eq(log_count(log, "restarting after backoff", "delayMs", 100), 3);
    note("killprogress: 3 kills after progress, every restart delayed 100 ms");
    json_decref(log);
    json_decref(lines);
}
END_TEST

/* ---- hostile peers on the shared segment ------------------------------ */

/* Maps the running daemon's segment as any child could (by name, same user). */
static void attach_segment(const struct daemon *d, struct shm_pool *pool)
{
    char name[64], err[256];
    snprintf(name, sizeof name, "/filot-ocrd.%d", (int)d->pid);
    ck_assert_msg(shm_pool_attach_name(pool, name, err, sizeof err) == 0, "%s", err);
}

/* A copy of the header fields a forged write must not reach. */
struct header_id {
    uint64_t magic, total_size, slot_bytes;
    uint32_t version, header_size, slot_count;
};

static struct header_id header_id(const struct shm_header *h)
{
    return (struct header_id){h->magic,   h->total_size,  h->slot_bytes,
                              h->version, h->header_size, h->slot_count};
}

/*
 * Sends one IPC_PREPROC request for slot/gen with the given geometry to
 * the GPU server and returns the status of its reply (fails the check when
 * no reply comes: the server died or hangs).
 */
static int gpu_request(nng_socket sock, uint32_t slot, uint64_t gen, uint64_t out_offset,
                       uint64_t out_capacity)
{
    struct ipc_preproc_req r = {.slot = slot, .generation = gen};
    r.in.width = r.in.height = r.in.stride = 8;
    r.in.format = PP_GRAY8;
    r.out_offset = out_offset;
    r.out_capacity = out_capacity;
    pp_params_default(0, &r.params);
    uint8_t buf[IPC_MSG_MAX];
    size_t len = ipc_encode_preproc_req(&r, buf);
    nng_msg *msg = NULL;
    ck_assert_msg(chan_call(sock, buf, len, &msg, 10000) == 0, "GPU server did not answer");
    struct ipc_preproc_rep rep;
    ck_assert_int_eq(ipc_decode_preproc_rep(nng_msg_body(msg), nng_msg_len(msg), &rep), 0);
    nng_msg_free(msg);
    return rep.status;
}

/* Claims and lends a slot of worker 1's range as a worker would. */
static uint64_t lend_slot(struct shm_pool *pool, uint32_t *slot)
{
    uint64_t gen;
    ck_assert_int_eq(slot_claim(pool, getpid(), 2, 2, slot, &gen), 0);
    ck_assert_int_eq(slot_lend(pool, *slot, gen), 0);
    return gen;
}

/*
 * A worker that lies to the GPU server: an output offset that wraps past
 * 2^64 onto the segment's first byte, then a slot table rewritten to point
 * slot offsets at the header.  The server refuses the first, serves the
 * second from its own copy of the geometry, never writes the header, and
 * is not restarted.
 */
START_TEST(test_gpu_server_hostile_requests)
{
    static const char *const env[] = {"OCR_GPU_EMULATE=1", NULL};
    struct daemon d = {.port = pu_free_port()};
    ocrd_start(&d, "gpuhostile", env, false);
    json_t *h = wait_ready(&d, true);
    pid_t gpu = (pid_t)pu_int(pu_health_child(h, GPU_SERVER, -1), "pid", 0);
    json_decref(h);
    struct shm_pool pool;
    attach_segment(&d, &pool);
    struct header_id before = header_id(pool.hdr);
    char device[sizeof pool.hdr->gpu_device];
    memcpy(device, pool.hdr->gpu_device, sizeof device);
    char url[256];
    nng_socket sock;
    ck_assert_int_eq(chan_url(d.rundir, "gpu.sock", url, sizeof url), 0);
    ck_assert_int_eq(chan_dial(url, &sock), 0);

    uint32_t slot;
    uint64_t gen = lend_slot(&pool, &slot);
    uint64_t slot_off = (uint64_t)(slot_data(&pool, slot) - pool.base);
    memset(slot_data(&pool, slot), 0x5a, 64);
    /* offset + capacity wraps to 64: "fits" a check done with a plain sum */
    int rc = gpu_request(sock, slot, gen, 0 - slot_off, slot_off + 64);
    ck_assert_int_ne(rc, 0);
    ck_assert_msg(pool.hdr->magic == SHM_MAGIC, "the wrapped request overwrote the header");
    slot_release(&pool, slot, gen);

    uint8_t *mem[2] = {slot_data(&pool, 2), slot_data(&pool, 3)}; /* before the forgery */
    for (uint32_t i = 0; i < pool.hdr->slot_count; i++) {
        pool.hdr->slots[i].offset = 0;
        pool.hdr->slots[i].capacity = pool.size;
    }
    gen = lend_slot(&pool, &slot);
    memset(mem[slot - 2], 0x5a, 64);
    ck_assert_int_eq(gpu_request(sock, slot, gen, 64, 64), 0);
    struct header_id after = header_id(pool.hdr);
    ck_assert_msg(before.magic == after.magic && before.total_size == after.total_size &&
                      before.slot_bytes == after.slot_bytes && before.version == after.version &&
                      before.header_size == after.header_size &&
                      before.slot_count == after.slot_count &&
                      memcmp(device, pool.hdr->gpu_device, sizeof device) == 0,
                  "a forged slot table made the server write the header");
    ck_assert_uint_eq(mem[slot - 2][64], 0x5a); /* the grey copy landed in the slot */
    slot_release(&pool, slot, gen);

    h = pu_health(d.port, NULL);
    const json_t *c = pu_health_child(h, GPU_SERVER, -1);
    ck_assert_int_eq(pu_int(c, "pid", 0), gpu);
    ck_assert_int_eq(pu_int(c, "restarts", -1), 0);
    json_decref(h);
    nng_close(sock);
    shm_pool_close(&pool);
    ocrd_stop(&d, 15000);
}
END_TEST

/* Predicate: worker 0 of the daemon in arg runs again under a new pid. */
struct respawn {
    const struct daemon *d;
    pid_t old;
};

static bool worker_respawned(void *arg)
{
    const struct respawn *r = arg;
    json_t *h = pu_health(r->d->port, NULL);
    const json_t *c = pu_health_child(h, WORKER, 0);
    pid_t pid = (pid_t)pu_int(c, "pid", 0);
    bool back = pid > 0 && pid != r->old && strcmp(pu_str(c, "state"), "ready") == 0;
    json_decref(h);
    return back;
}

/*
 * Any child can write the header: slot_count 0x7fffffff, an unterminated
 * device name, slot offsets pointing anywhere.  The supervisor (PID 1 in a
 * container) keeps answering /health and keeps reaping and restarting.
 */
START_TEST(test_supervisor_forged_header)
{
    struct daemon d = {.port = pu_free_port()};
    ocrd_start(&d, "forged", NULL, false);
    json_t *h = wait_ready(&d, false);
    struct respawn r = {&d, (pid_t)pu_int(pu_health_child(h, WORKER, 0), "pid", 0)};
    json_decref(h);
    ck_assert_int_gt(r.old, 0);
    struct shm_pool pool;
    attach_segment(&d, &pool);
    for (uint32_t i = 0; i < pool.hdr->slot_count; i++) {
        pool.hdr->slots[i].offset = UINT64_MAX / 2;
        pool.hdr->slots[i].capacity = UINT64_MAX;
    }
    pool.hdr->slot_count = 0x7fffffffu;
    pool.hdr->worker_count = 0x7fffffffu;
    memset(pool.hdr->gpu_device, 'A', sizeof pool.hdr->gpu_device);
    ck_assert_int_eq(kill(r.old, SIGKILL), 0);
    ck_assert_msg(pu_wait_until(worker_respawned, &r, 30000, 50),
                  "worker 0 was not restarted after the header was forged");
    int code = 0;
    h = pu_health(d.port, &code);
    ck_assert_int_eq(code, 200);
    ck_assert_int_eq(strlen(pu_str(json_object_get(h, "gpu"), "device")),
                     sizeof pool.hdr->gpu_device - 1);
    json_decref(h);
    ck_assert(!pu_exited(d.pid));
    shm_pool_close(&pool);
    ocrd_stop(&d, 15000);
}
END_TEST

static void add_case(Suite *s, const char *name, const TTest *test)
{
    pu_add_case(&cases, s, name, test, CASE_TIMEOUT, case_setup, case_teardown);
}

int main(void)
{
    if (pu_become_subreaper() != 0)
        perror("PR_SET_CHILD_SUBREAPER");
    Suite *s = suite_create("runtime");
    add_case(s, "config", test_config_errors);
    add_case(s, "health", test_health_metrics);
    add_case(s, "drain", test_drain);
    add_case(s, "sd_notify", test_sd_notify);
    add_case(s, "accuracy", test_accuracy);
    add_case(s, "sigkill", test_worker_sigkill);
    add_case(s, "sigsegv", test_worker_sigsegv_twice);
    add_case(s, "gpu_kill", test_gpu_server_kill);
    add_case(s, "job_timeout", test_job_timeout);
    add_case(s, "recycle", test_worker_recycle);
    add_case(s, "bad_files", test_bad_files);
    add_case(s, "kill_progress", test_kill_after_progress);
    add_case(s, "gpu_hostile", test_gpu_server_hostile_requests);
    add_case(s, "forged_header", test_supervisor_forged_header);
    return pu_run_suite(s, "test_runtime", suite_dir);
}
