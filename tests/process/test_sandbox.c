/*
 * test_sandbox.c - OCR_SECCOMP with the real programs (issue 9): a worker
 * started by filot-ocrd runs with NoNewPrivs and a seccomp filter and says
 * so once in its log; real documents (JPEG, PNG, a PDF) still complete
 * with the filter on; OCR_SECCOMP=off leaves the worker unfiltered; a bad
 * value is a configuration error naming the variable.
 *
 * That a forbidden system call ends the process with SIGSYS is shown by
 * tests/unit/test_seccomp.c, which applies the same filter in forked
 * children: the worker has no way (and must have none) to be told to
 * call execve.
 */
#include <check.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipeline_util.h"
#include "proc_util.h"

#define WORKER "filot-ocr-worker"

static const char OCR_BIN[] = TEST_BIN_DIR "/filot-ocr";
static const char OCRD_BIN[] = TEST_BIN_DIR "/filot-ocrd";

static char dir[64]; /* scratch of the whole suite */
static char png[160], jpg[160], pdf[160];

#define note(...) pu_note("test_sandbox", __VA_ARGS__)

/* One KTP card as PNG, JPEG and PDF (unchecked fixture, runner process). */
static void make_documents(void)
{
    char cards[128];
    snprintf(dir, sizeof dir, "/tmp/test_sandbox.XXXXXX");
    ck_assert_int_eq(pu_mkdtemp(dir), 0);
    snprintf(cards, sizeof cards, "%s/cards", dir);
    const char *const gen[] = {
        "tests/gen-cards.sh", "--seed", "11",  "--count", "1", "--type", "KTP",
        "--degrade",          "light",  cards, NULL};
    ck_assert_int_eq(pl_run(gen, 60000), 0);
    snprintf(png, sizeof png, "%s/ktp-0001.png", cards);
    snprintf(jpg, sizeof jpg, "%s/card.jpg", dir);
    snprintf(pdf, sizeof pdf, "%s/card.pdf", dir);
    const char *const conv[] = {"convert", png, "-quality", "85", jpg, NULL};
    ck_assert_int_eq(pl_run(conv, 60000), 0);
    ck_assert_int_eq(pl_png_to_pdf(png, pdf, 300.0), 0);
}

static void remove_documents(void)
{
    pu_kill_descendants(NULL);
    if (dir[0] != '\0')
        pu_rm_rf(dir);
}

static void case_teardown(void)
{
    pu_kill_descendants(NULL);
}

/* The value of "Name:" in /proc/<pid>/status, or -1. */
static long proc_status_field(pid_t pid, const char *name)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    char *text = pu_read_file(path, NULL);
    if (text == NULL)
        return -1;
    char key[64];
    snprintf(key, sizeof key, "\n%s:", name);
    const char *p = strstr(text, key);
    long v = p != NULL ? strtol(p + strlen(key), NULL, 10) : -1;
    free(text);
    return v;
}

/* Log lines (JSON) of path whose message is msg and whose "seccomp" is mode. */
static int count_sandbox_lines(const char *path, const char *mode)
{
    json_t *lines = pu_json_file(path);
    ck_assert_msg(lines != NULL, "%s is missing or not JSON lines", path);
    size_t i;
    json_t *line;
    int n = 0;
    json_array_foreach(lines, i, line)
    {
        if (strcmp(pu_str(line, "message"), "Worker sandbox") == 0 &&
            strcmp(pu_str(line, "seccomp"), mode) == 0)
            n++;
    }
    json_decref(lines);
    return n;
}

struct daemon {
    pid_t pid;
    int port;
    char out[128], err[128], rundir[128];
};

/* filot-ocrd, one idle worker (its job channel has no server), OCR_SECCOMP=mode. */
static void ocrd_start(struct daemon *d, const char *tag, const char *seccomp)
{
    char port[32], rundir[160], source[192], mode[32];
    d->port = pu_free_port();
    ck_assert_int_gt(d->port, 0);
    pu_scratch(d->out, sizeof d->out, dir, tag, ".out");
    pu_scratch(d->err, sizeof d->err, dir, tag, ".err");
    pu_scratch(d->rundir, sizeof d->rundir, dir, tag, ".run");
    snprintf(port, sizeof port, "HEALTH_PORT=%d", d->port);
    snprintf(rundir, sizeof rundir, "OCR_RUNTIME_DIR=%s", d->rundir);
    snprintf(source, sizeof source, "OCR_JOB_SOURCE=ipc://%s/idle.sock", d->rundir);
    snprintf(mode, sizeof mode, "OCR_SECCOMP=%s", seccomp);
    const char *argv[] = {OCRD_BIN, NULL};
    const char *env[] = {"OCR_SHM_SIZE=64M",
                         "OCR_GPU_CONCURRENCY=1",
                         "NOTIFY_SOCKET",
                         "WATCHDOG_USEC",
                         source,
                         port,
                         rundir,
                         mode,
                         NULL};
    struct pu_spec sp = {.argv = argv, .env = env, .out_path = d->out, .err_path = d->err};
    d->pid = pu_spawn(&sp);
    ck_assert_int_gt(d->pid, 0);
}

/* Pid of worker 0 once /health says it is ready. */
static pid_t ready_worker(const struct daemon *d)
{
    uint64_t deadline = pu_now_ms() + 60000u;
    while (pu_now_ms() < deadline && !pu_exited(d->pid)) {
        int code;
        json_t *h = pu_health(d->port, &code);
        const json_t *c = pu_health_child(h, WORKER, 0);
        pid_t pid = (pid_t)pu_int(c, "pid", 0);
        bool ready = code == 200 && pid > 0 && strcmp(pu_str(c, "state"), "ready") == 0;
        json_decref(h);
        if (ready)
            return pid;
        pu_sleep_ms(20);
    }
    ck_abort_msg("filot-ocrd never had a ready worker (log %s)", d->out);
    return 0;
}

static void ocrd_stop(struct daemon *d)
{
    int st;
    ck_assert_int_eq(kill(d->pid, SIGTERM), 0);
    ck_assert_int_eq(pu_wait(d->pid, 30000, &st), 0);
    ck_assert_int_eq(pu_exit_code(st), 0);
    d->pid = 0;
}

/* OCR_SECCOMP=on (the default): the ready worker is filtered, the supervisor is not. */
START_TEST(test_worker_filtered)
{
    struct daemon d = {0};
    ocrd_start(&d, "on", "on");
    pid_t w = ready_worker(&d);
    long seccomp = proc_status_field(w, "Seccomp"), nnp = proc_status_field(w, "NoNewPrivs");
    note("worker %d: Seccomp %ld, NoNewPrivs %ld; supervisor Seccomp %ld", (int)w, seccomp, nnp,
         proc_status_field(d.pid, "Seccomp"));
    ck_assert_int_eq(seccomp, 2); /* SECCOMP_MODE_FILTER */
    ck_assert_int_eq(nnp, 1);
    /* filot-ocrd itself forks and execs its children: no filter there */
    ck_assert_int_eq(proc_status_field(d.pid, "Seccomp"), 0);
    ocrd_stop(&d);
    ck_assert_int_eq(count_sandbox_lines(d.out, "on"), 1);
}
END_TEST

START_TEST(test_off_leaves_worker_alone)
{
    struct daemon d = {0};
    ocrd_start(&d, "off", "off");
    pid_t w = ready_worker(&d);
    ck_assert_int_eq(proc_status_field(w, "Seccomp"), 0);
    ck_assert_int_eq(proc_status_field(w, "NoNewPrivs"), 0);
    ocrd_stop(&d);
    ck_assert_int_eq(count_sandbox_lines(d.out, "off"), 1);
}
END_TEST

/* A JPEG, a PNG and a PDF through filot-ocr with the filter on: all succeed. */
START_TEST(test_jobs_complete_filtered)
{
    char out[128], err[128], log[128];
    pu_scratch(out, sizeof out, dir, "ocr", ".out");
    pu_scratch(err, sizeof err, dir, "ocr", ".err");
    pu_scratch(log, sizeof log, dir, "ocr", ".log");
    const char *argv[] = {OCR_BIN,     "ocr", "--log", log, "--type", "KTP",
                          "--workers", "1",   jpg,     png, pdf,      NULL};
    const char *env[] = {"OCR_SHM_SIZE=64M", "OCR_SECCOMP=on", NULL};
    struct pu_spec sp = {.argv = argv, .env = env, .out_path = out, .err_path = err};
    pid_t pid = pu_spawn(&sp);
    ck_assert_int_gt(pid, 0);
    int st;
    ck_assert_int_eq(pu_wait(pid, 120000, &st), 0);
    ck_assert_msg(pu_exit_code(st) == 0, "filot-ocr exit status 0x%x (stderr %s)", st, err);
    json_t *lines = pu_json_file(out);
    ck_assert_ptr_nonnull(lines);
    ck_assert_int_eq(json_array_size(lines), 3);
    for (size_t i = 0; i < 3; i++) {
        const json_t *r = json_array_get(lines, i);
        ck_assert_msg(json_is_true(json_object_get(r, "success")), "document %zu: %s", i,
                      pu_str(r, "error"));
        const char *nik = pu_str(json_object_get(r, "parsedResult"), "nik");
        note("filtered job %zu: success, NIK %s", i, nik);
        ck_assert_int_eq(strlen(nik), 16);
    }
    json_decref(lines);
    ck_assert_int_ge(count_sandbox_lines(log, "on"), 1);
}
END_TEST

/* OCR_SECCOMP=yes: exit 2 before anything starts, the message names the variable. */
START_TEST(test_bad_value)
{
    char out[128];
    pu_scratch(out, sizeof out, dir, "bad", ".out");
    const char *argv[] = {OCRD_BIN, NULL};
    const char *env[] = {"OCR_SECCOMP=yes", "NOTIFY_SOCKET", "HEALTH_PORT=0", NULL};
    struct pu_spec sp = {.argv = argv, .env = env, .out_path = out, .err_path = out};
    pid_t pid = pu_spawn(&sp);
    ck_assert_int_gt(pid, 0);
    int st;
    ck_assert_int_eq(pu_wait(pid, 10000, &st), 0);
    ck_assert_int_eq(pu_exit_code(st), 2);
    char *text = pu_read_file(out, NULL);
    ck_assert_ptr_nonnull(text);
    ck_assert_msg(strstr(text, "OCR_SECCOMP must be on, log or off, got \\\"yes\\\"") != NULL,
                  "no clear message in: %s", text);
    free(text);
}
END_TEST

int main(void)
{
    if (pu_become_subreaper() != 0)
        return 1;
    Suite *s = suite_create("sandbox");
    TCase *tc = tcase_create("seccomp");
    tcase_add_unchecked_fixture(tc, make_documents, remove_documents);
    tcase_add_checked_fixture(tc, NULL, case_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_worker_filtered);
    tcase_add_test(tc, test_off_leaves_worker_alone);
    tcase_add_test(tc, test_jobs_complete_filtered);
    tcase_add_test(tc, test_bad_value);
    suite_add_tcase(s, tc);
    return pu_run_cases(s);
}
