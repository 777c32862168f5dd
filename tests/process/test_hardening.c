/*
 * test_hardening.c - what filot-ocrd exposes to other users and to its own
 * children, with the real programs: an OCR_RUNTIME_DIR that someone else
 * could reach (wrong mode, wrong owner, a symlink) is refused, the default
 * runtime directory is a fresh mkdtemp() one, the control sockets are 0600,
 * and filot-gpu-server does not inherit the workers' credentials.
 *
 * Run from the repository root; quick (a few seconds): filot-ocrd runs with
 * one worker whose job source is a channel nobody serves.
 */
#include <check.h>
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ipc/nng_chan.h"
#include "proc_util.h"

#define CASE_TIMEOUT 60
#define MAX_ENV      24
#define GPU_SERVER   "filot-gpu-server"
#define WORKER       "filot-ocr-worker"

static const char OCRD_BIN[] = TEST_BIN_DIR "/filot-ocrd";

static char suite_dir[64];
static struct pu_cases cases = {.suite = "test_hardening"};

#define note(...)                      pu_note("test_hardening", __VA_ARGS__)
#define scratch(buf, len, tag, suffix) pu_scratch(buf, len, suite_dir, tag, suffix)

/* Unchecked setup: the suite's scratch folder once, then the case's bookkeeping. */
static void case_setup(void)
{
    if (suite_dir[0] == '\0') {
        snprintf(suite_dir, sizeof suite_dir, "/tmp/test_hardening.XXXXXX");
        ck_assert_int_eq(pu_mkdtemp(suite_dir), 0);
    }
    pu_case_begin(&cases);
}

/* Unchecked teardown: kills leftovers of a failed case, prints its runtime. */
static void case_teardown(void)
{
    pu_case_end(&cases);
}

struct daemon {
    pid_t pid;
    int port;
    char out[128];
};

/*
 * Starts filot-ocrd (one worker, 64 MiB of shm, an idle job channel in the
 * suite directory) with env added; runtime_dir NULL leaves OCR_RUNTIME_DIR
 * unset (the default directory).
 */
static void ocrd_start(struct daemon *d, const char *tag, const char *runtime_dir,
                       const char *const *env)
{
    const char *argv[] = {OCRD_BIN, NULL};
    const char *envv[MAX_ENV];
    char port[32], rundir[192], source[192];
    int k = 0;
    scratch(d->out, sizeof d->out, tag, ".out");
    snprintf(port, sizeof port, "HEALTH_PORT=%d", d->port);
    snprintf(source, sizeof source, "OCR_JOB_SOURCE=ipc://%s/%s-idle.sock", suite_dir, tag);
    snprintf(rundir, sizeof rundir, "OCR_RUNTIME_DIR=%s", runtime_dir ? runtime_dir : "");
    envv[k++] = "OCR_SHM_SIZE=64M";
    envv[k++] = "OCR_GPU_CONCURRENCY=1";
    envv[k++] = source;
    envv[k++] = "NOTIFY_SOCKET";
    envv[k++] = "WATCHDOG_USEC";
    envv[k++] = port;
    envv[k++] = runtime_dir != NULL ? rundir : "OCR_RUNTIME_DIR";
    for (int i = 0; env != NULL && env[i] != NULL && k < MAX_ENV - 1; i++)
        envv[k++] = env[i];
    envv[k] = NULL;
    struct pu_spec sp = {.argv = argv, .env = envv, .out_path = d->out, .err_path = d->out};
    d->pid = pu_spawn(&sp);
    ck_assert_int_gt(d->pid, 0);
}

static int ocrd_wait(struct daemon *d, unsigned timeout_ms)
{
    int st;
    ck_assert_msg(pu_wait(d->pid, timeout_ms, &st) == 0, "filot-ocrd (pid %d) still running",
                  (int)d->pid);
    d->pid = 0;
    return pu_exit_code(st);
}

static void ocrd_stop(struct daemon *d)
{
    ck_assert_int_eq(kill(d->pid, SIGTERM), 0);
    ck_assert_int_eq(ocrd_wait(d, 15000), 0);
}

/* Polls /health until 200 (and, with want_gpu, the GPU server ready). */
static json_t *wait_ready(const struct daemon *d, bool want_gpu)
{
    uint64_t deadline = pu_now_ms() + 30000u;
    while (pu_now_ms() < deadline && !pu_exited(d->pid)) {
        int code;
        json_t *h = pu_health(d->port, &code);
        if (code == 200 &&
            (!want_gpu || strcmp(pu_str(json_object_get(h, "gpu"), "state"), "ready") == 0))
            return h;
        json_decref(h);
        pu_sleep_ms(50);
    }
    ck_abort_msg("filot-ocrd never became ready on port %d (log %s)", d->port, d->out);
    return NULL;
}

/* The first log line with this message; borrowed from log, NULL when none. */
static json_t *log_line(const json_t *log, const char *msg)
{
    size_t i;
    json_t *line;
    json_array_foreach(log, i, line)
    {
        if (strcmp(pu_str(line, "message"), msg) == 0)
            return line;
    }
    return NULL;
}

/* filot-ocrd must exit 2 and name OCR_RUNTIME_DIR and why. */
static void expect_refused(const char *tag, const char *dir, const char *reason)
{
    struct daemon d = {.port = 0};
    ocrd_start(&d, tag, dir, NULL);
    int code = ocrd_wait(&d, 10000);
    char *text = pu_read_file(d.out, NULL);
    ck_assert_ptr_nonnull(text);
    ck_assert_msg(code == 2, "%s: exit %d, want 2 (configuration error); log:\n%s", tag, code,
                  text);
    json_t *log = pu_json_lines(text, &(int){0});
    ck_assert_msg(log != NULL, "%s: log is not JSON lines:\n%s", tag, text);
    const char *err = pu_str(log_line(log, "Invalid configuration"), "error");
    ck_assert_msg(strstr(err, "OCR_RUNTIME_DIR") != NULL && strstr(err, reason) != NULL,
                  "%s: no error naming OCR_RUNTIME_DIR and \"%s\"; log:\n%s", tag, reason, text);
    note("%s: refused: %s", tag, err);
    json_decref(log);
    free(text);
}

/* Nothing was created in dir (no socket planted where we refused to be). */
static void expect_empty(const char *dir)
{
    char path[192];
    static const char *const names[] = {"gpu.sock", "jobs.sock"};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        ck_assert_msg(access(path, F_OK) != 0, "%s exists", path);
    }
}

/* An existing OCR_RUNTIME_DIR others can reach is refused with exit 2. */
START_TEST(test_runtime_dir_refused)
{
    char open_dir[128], good[128], link[128], foreign[128];
    /* mode 0777 (root-owned when the suite runs as root) */
    scratch(open_dir, sizeof open_dir, "open", ".dir");
    ck_assert_int_eq(mkdir(open_dir, 0700), 0);
    ck_assert_int_eq(chmod(open_dir, 0777), 0);
    expect_refused("open", open_dir, "mode is 0777");
    expect_empty(open_dir);
    /* group-readable is enough to be refused */
    ck_assert_int_eq(chmod(open_dir, 0750), 0);
    expect_refused("group", open_dir, "mode is 0750");

    /* a symlink, even to a directory that would be accepted */
    scratch(good, sizeof good, "good", ".dir");
    scratch(link, sizeof link, "link", ".dir");
    ck_assert_int_eq(mkdir(good, 0700), 0);
    ck_assert_int_eq(symlink(good, link), 0);
    expect_refused("link", link, "symbolic link");
    char slash[160];
    snprintf(slash, sizeof slash, "%s/", link); /* "link/" must not follow it either */
    expect_refused("link-slash", slash, "symbolic link");
    expect_empty(good);

    /* not a directory */
    char file[128];
    scratch(file, sizeof file, "file", ".txt");
    ck_assert_int_eq(pu_write_file(file, "x", 1), 0);
    expect_refused("file", file, "not a directory");

    /* owned by someone else (needs root to create) */
    if (geteuid() == 0) {
        scratch(foreign, sizeof foreign, "foreign", ".dir");
        ck_assert_int_eq(mkdir(foreign, 0700), 0);
        ck_assert_int_eq(chown(foreign, 65534, 65534), 0);
        expect_refused("foreign", foreign, "owned by uid 65534");
        expect_empty(foreign);
    } else {
        note("runtime_dir: not root, the foreign-owner check is skipped");
    }
}
END_TEST

/* Mode bits of path (lstat), -1 when it is missing. */
static int mode_of(const char *path, mode_t type)
{
    struct stat sb;
    if (lstat(path, &sb) != 0)
        return -1;
    ck_assert_msg((sb.st_mode & S_IFMT) == type, "%s has the wrong file type", path);
    return (int)(sb.st_mode & 07777);
}

/*
 * Without OCR_RUNTIME_DIR: a fresh /tmp/filot-ocrd.XXXXXX (not the
 * predictable /tmp/filot-ocrd.<pid>), 0700, the GPU socket 0600 in it,
 * all removed at exit.  A pre-created 0700 OCR_RUNTIME_DIR is accepted.
 */
START_TEST(test_default_dir_and_sockets)
{
    static const char *const env[] = {"OCR_GPU_EMULATE=1", NULL};
    struct daemon d = {.port = pu_free_port()};
    ocrd_start(&d, "default", NULL, env);
    json_decref(wait_ready(&d, true));
    json_t *log = pu_json_file(d.out);
    ck_assert_ptr_nonnull(log);
    char dir[128], predictable[64], sock[192];
    snprintf(dir, sizeof dir, "%s", pu_str(log_line(log, "filot-ocrd started"), "runtimeDir"));
    json_decref(log);
    snprintf(predictable, sizeof predictable, "/tmp/filot-ocrd.%d", (int)d.pid);
    note("default: runtime directory %s (pid %d)", dir, (int)d.pid);
    ck_assert_msg(strncmp(dir, "/tmp/filot-ocrd.", 16) == 0 && strlen(dir) == 16 + 6,
                  "runtime directory \"%s\" is not a mkdtemp() name", dir);
    ck_assert_str_ne(dir, predictable);
    ck_assert_int_eq(mode_of(dir, S_IFDIR), 0700);
    snprintf(sock, sizeof sock, "%s/gpu.sock", dir);
    int mode = mode_of(sock, S_IFSOCK);
    ck_assert_msg(mode == 0600, "%s has mode %04o, want 0600", sock, mode);
    ocrd_stop(&d);
    ck_assert_msg(access(dir, F_OK) != 0 && errno == ENOENT, "%s was not removed", dir);

    /* a given directory that is ours and 0700 is used as it is */
    char given[128];
    scratch(given, sizeof given, "given", ".dir");
    ck_assert_int_eq(mkdir(given, 0700), 0);
    d = (struct daemon){.port = pu_free_port()};
    ocrd_start(&d, "given", given, env);
    json_decref(wait_ready(&d, true));
    snprintf(sock, sizeof sock, "%s/gpu.sock", given);
    mode = mode_of(sock, S_IFSOCK);
    ck_assert_msg(mode == 0600, "%s has mode %04o, want 0600", sock, mode);
    ocrd_stop(&d);
}
END_TEST

/* Every listener chan_listen() creates is 0600, whatever the umask. */
START_TEST(test_listener_mode)
{
    char path[128], url[192];
    scratch(path, sizeof path, "chan", ".sock");
    snprintf(url, sizeof url, "ipc://%s", path);
    mode_t old = umask(0);
    nng_socket s;
    int rc = chan_listen(url, &s);
    umask(old);
    ck_assert_int_eq(rc, 0);
    int mode = mode_of(path, S_IFSOCK);
    nng_close(s);
    ck_assert_msg(mode == 0600, "%s has mode %04o, want 0600", path, mode);
}
END_TEST

/* The NUL-separated environment of pid; *len gets its size. */
static char *environ_of(pid_t pid, size_t *len)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
    char *env = pu_read_file(path, len);
    ck_assert_msg(env != NULL, "cannot read %s", path);
    return env;
}

/* True when some entry of a NUL-separated environment contains needle. */
static bool env_has(const char *env, size_t len, const char *needle)
{
    for (size_t off = 0; off < len; off += strlen(env + off) + 1)
        if (strstr(env + off, needle) != NULL)
            return true;
    return false;
}

static const char *const SECRETS[] = {"CF_R2_SECRET_ACCESS_KEY=topsecret-r2",
                                      "CF_R2_ACCESS_KEY_ID=AKIDR2EXAMPLE",
                                      "DATABASE_URL=postgres://u:dbpw-secret@db.example.com/filot",
                                      "REDIS_URL=redis://:redispw-secret@redis.example.com:6379/0",
                                      "REDIS_PASSWORD=redispw2-secret",
                                      "BULI2_API_KEY=buli2-token-secret",
                                      "AWS_SECRET_ACCESS_KEY=aws-secret",
                                      "SOME_OTHER_TOKEN=other-secret",
                                      NULL};

/* filot-gpu-server gets its settings and the driver's, not the credentials. */
START_TEST(test_gpu_server_environment)
{
    const char *env[MAX_ENV];
    int k = 0;
    env[k++] = "OCR_GPU_EMULATE=1";
    env[k++] = "CUDA_CACHE_MAXSIZE=1048576";
    env[k++] = "LANG=C.UTF-8";
    for (int i = 0; SECRETS[i] != NULL; i++)
        env[k++] = SECRETS[i];
    env[k] = NULL;
    struct daemon d = {.port = pu_free_port()};
    ocrd_start(&d, "env", NULL, env);
    json_t *h = wait_ready(&d, true);
    pid_t gpu = (pid_t)pu_int(pu_health_child(h, GPU_SERVER, -1), "pid", 0);
    pid_t worker = (pid_t)pu_int(pu_health_child(h, WORKER, 0), "pid", 0);
    json_decref(h);
    ck_assert_int_gt(gpu, 0);
    ck_assert_int_gt(worker, 0);
    size_t glen, wlen;
    char *genv = environ_of(gpu, &glen);
    char *wenv = environ_of(worker, &wlen);
    for (int i = 0; SECRETS[i] != NULL; i++) {
        const char *eq = strchr(SECRETS[i], '=');
        char name[64];
        snprintf(name, sizeof name, "%.*s=", (int)(eq - SECRETS[i]), SECRETS[i]);
        ck_assert_msg(!env_has(genv, glen, name), "the GPU server sees %s", name);
        ck_assert_msg(!env_has(genv, glen, eq + 1), "the GPU server sees the value of %s", name);
        ck_assert_msg(env_has(wenv, wlen, SECRETS[i]), "the worker lacks %s", name);
    }
    static const char *const kept[] = {"OCR_GPU_EMULATE=1",  "CUDA_CACHE_MAXSIZE=1048576",
                                       "LANG=C.UTF-8",       "OCR_RUNTIME_DIR=/tmp/filot-ocrd.",
                                       "OMP_THREAD_LIMIT=1", "PATH=",
                                       "OCR_SHM_FD=",        "OCR_INSTANCE_ID="};
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++)
        ck_assert_msg(env_has(genv, glen, kept[i]), "the GPU server lacks %s", kept[i]);
    free(genv);
    free(wenv);
    ocrd_stop(&d);
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
    Suite *s = suite_create("hardening");
    add_case(s, "runtime_dir", test_runtime_dir_refused);
    add_case(s, "default_dir", test_default_dir_and_sockets);
    add_case(s, "listener", test_listener_mode);
    add_case(s, "gpu_env", test_gpu_server_environment);
    return pu_run_suite(s, "test_hardening", suite_dir);
}
