/*
 * proc_util.c - see proc_util.h.
 */
#include "proc_util.h"

#include "../unit/check_run.h"

#include <arpa/inet.h>
#include <check.h>
#include <stdarg.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define HTTP_TIMEOUT_S  3
#define MAX_PROCS       32768
#define REAP_TIMEOUT_MS 5000u

/* Monotonic clock in milliseconds. */
uint64_t pu_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Sleeps ms milliseconds, resuming after signals. */
void pu_sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000u, .tv_nsec = (long)(ms % 1000u) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Opens an output file for a child, /dev/null when path is NULL. */
static int open_output(const char *path)
{
    return open(path != NULL ? path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
}

/* In the forked child: applies sp->env entries and the WATCHDOG_PID trick. */
static void child_environment(const struct pu_spec *sp)
{
    for (size_t i = 0; sp->env != NULL && sp->env[i] != NULL; i++) {
        const char *eq = strchr(sp->env[i], '=');
        if (eq == NULL) {
            unsetenv(sp->env[i]);
            continue;
        }
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)(eq - sp->env[i]), sp->env[i]);
        setenv(name, eq + 1, 1);
    }
    if (sp->watchdog_pid_self) {
        char pid[24];
        snprintf(pid, sizeof pid, "%d", (int)getpid());
        setenv("WATCHDOG_PID", pid, 1);
    }
}

/* Starts a process with extra environment and redirected output. */
pid_t pu_spawn(const struct pu_spec *sp)
{
    int out = open_output(sp->out_path);
    int err = open_output(sp->err_path);
    pid_t pid = -1;
    if (out >= 0 && err >= 0)
        pid = fork();
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        struct rlimit no_core = {0, 0};
        setrlimit(RLIMIT_CORE, &no_core);
        child_environment(sp);
        dup2(out, STDOUT_FILENO);
        dup2(err, STDERR_FILENO);
        execvp(sp->argv[0], (char *const *)sp->argv);
        _exit(127);
    }
    if (out >= 0)
        close(out);
    if (err >= 0)
        close(err);
    return pid;
}

/* Polls waitpid until pid is reaped or the deadline passes. */
int pu_wait(pid_t pid, unsigned timeout_ms, int *status)
{
    uint64_t deadline = pu_now_ms() + timeout_ms;
    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid)
            return 0;
        if (r < 0 && errno != EINTR)
            return -1;
        if (pu_now_ms() >= deadline)
            return -1;
        pu_sleep_ms(10);
    }
}

/* True once pid has exited; leaves it to be reaped by pu_wait. */
bool pu_exited(pid_t pid)
{
    siginfo_t info = {0};
    return waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid != 0;
}

/* Exit code of a wait status, or -1 for death by signal. */
int pu_exit_code(int status)
{
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* True while /proc/<pid> exists. */
bool pu_pid_exists(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d", (int)pid);
    return pid > 0 && access(path, F_OK) == 0;
}

/* Reads a whole file into a NUL-terminated malloc'd buffer. */
char *pu_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf != NULL) {
        n += fread(buf + n, 1, cap - n - 1, f);
        if (n < cap - 1)
            break;
        char *bigger = realloc(buf, cap * 2);
        if (bigger == NULL) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = bigger;
        cap *= 2;
    }
    fclose(f);
    if (buf == NULL)
        return NULL;
    buf[n] = '\0';
    if (len != NULL)
        *len = n;
    return buf;
}

/* Writes len bytes to path. */
int pu_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return -1;
    size_t n = fwrite(data, 1, len, f);
    return fclose(f) == 0 && n == len ? 0 : -1;
}

/* Counts newline characters, i.e. complete lines. */
int pu_count_lines(const char *path)
{
    char *text = pu_read_file(path, NULL);
    int n = 0;
    for (const char *p = text; p != NULL && *p != '\0'; p++)
        n += *p == '\n';
    free(text);
    return n;
}

/* Parses each non-empty line as JSON into a new array. */
json_t *pu_json_lines(const char *text, int *bad_line)
{
    json_t *arr = json_array();
    int lineno = 0;
    *bad_line = 0;
    for (const char *p = text; arr != NULL && *p != '\0';) {
        const char *nl = strchr(p, '\n');
        size_t len = nl != NULL ? (size_t)(nl - p) : strlen(p);
        lineno++;
        if (len > 0) {
            json_t *v = json_loadb(p, len, 0, NULL);
            if (v == NULL || json_array_append_new(arr, v) != 0) {
                *bad_line = lineno;
                json_decref(arr);
                arr = NULL;
            }
        }
        p += len + (nl != NULL);
    }
    return arr;
}

/* pu_json_lines of a file. */
json_t *pu_json_file(const char *path)
{
    char *text = pu_read_file(path, NULL);
    int bad;
    json_t *arr = text != NULL ? pu_json_lines(text, &bad) : NULL;
    free(text);
    return arr;
}

/* Connects a TCP socket to 127.0.0.1:port with send/receive timeouts. */
static int connect_local(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {.tv_sec = HTTP_TIMEOUT_S};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Reads until EOF into a malloc'd NUL-terminated buffer; NULL on error. */
static char *read_all(int fd)
{
    size_t cap = 8192, n = 0;
    char *buf = malloc(cap);
    while (buf != NULL) {
        ssize_t r = read(fd, buf + n, cap - n - 1);
        if (r == 0)
            break;
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            free(buf);
            return NULL;
        }
        n += (size_t)r;
        if (n == cap - 1) {
            char *bigger = realloc(buf, cap * 2);
            if (bigger == NULL)
                free(buf);
            buf = bigger;
            cap *= 2;
        }
    }
    if (buf != NULL)
        buf[n] = '\0';
    return buf;
}

/* One HTTP/1.0 GET; returns the status code and optionally the body. */
int pu_http_get(int port, const char *path, char **body)
{
    if (body != NULL)
        *body = NULL;
    int fd = connect_local(port);
    if (fd < 0)
        return -1;
    char req[512];
    int len = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
    char *resp = NULL;
    if (len > 0 && (size_t)len < sizeof req && write(fd, req, (size_t)len) == len)
        resp = read_all(fd);
    close(fd);
    int code = -1;
    if (resp == NULL || sscanf(resp, "HTTP/1.%*d %d", &code) != 1) {
        free(resp);
        return -1;
    }
    const char *start = strstr(resp, "\r\n\r\n");
    if (body != NULL)
        *body = strdup(start != NULL ? start + 4 : "");
    free(resp);
    return code;
}

/* GET /health as JSON. */
json_t *pu_health(int port, int *code)
{
    char *body = NULL;
    int c = pu_http_get(port, "/health", &body);
    if (code != NULL)
        *code = c;
    json_t *doc = body != NULL ? json_loads(body, 0, NULL) : NULL;
    free(body);
    return doc;
}

/* Binds port 0 and reports the port the kernel chose. */
int pu_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    int port = -1;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &sl) == 0)
        port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

/* String member or "". */
const char *pu_str(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s != NULL ? s : "";
}

/* Integer member or dflt. */
long long pu_int(const json_t *obj, const char *key, long long dflt)
{
    const json_t *v = json_object_get(obj, key);
    return json_is_integer(v) ? (long long)json_integer_value(v) : dflt;
}

/* Finds a child entry by program and index in a /health document. */
json_t *pu_health_child(const json_t *health, const char *program, int index)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(health, "children"), i, c)
    {
        if (strcmp(pu_str(c, "program"), program) == 0 &&
            (index < 0 || pu_int(c, "index", -2) == index))
            return c;
    }
    return NULL;
}

/* First busy worker other than not_pid. */
pid_t pu_busy_worker(const json_t *health, pid_t not_pid, int *index)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(health, "children"), i, c)
    {
        pid_t pid = (pid_t)pu_int(c, "pid", 0);
        if (strcmp(pu_str(c, "program"), "filot-ocr-worker") != 0 ||
            strcmp(pu_str(c, "state"), "busy") != 0 || pid <= 0 || pid == not_pid)
            continue;
        if (index != NULL)
            *index = (int)pu_int(c, "index", -1);
        return pid;
    }
    return 0;
}

/* Polls a predicate until it holds or time runs out. */
bool pu_wait_until(bool (*pred)(void *), void *arg, unsigned timeout_ms, unsigned interval_ms)
{
    uint64_t deadline = pu_now_ms() + timeout_ms;
    for (;;) {
        if (pred(arg))
            return true;
        if (pu_now_ms() >= deadline)
            return false;
        pu_sleep_ms(interval_ms);
    }
}

/* mkdtemp returning 0 or -1. */
int pu_mkdtemp(char *templ)
{
    return mkdtemp(templ) != NULL ? 0 : -1;
}

/* nftw callback: removes one entry (depth first). */
static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_DP)
        rmdir(path);
    else
        unlink(path);
    return 0;
}

/* rm -rf path. */
void pu_rm_rf(const char *path)
{
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* prctl(PR_SET_CHILD_SUBREAPER). */
int pu_become_subreaper(void)
{
    return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
}

/* Parent pid and state letter of pid from /proc/<pid>/stat; -1 when gone. */
static pid_t parent_of(pid_t pid, char *state)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    /* the command name may hold spaces and parentheses: skip to the last ')' */
    const char *p = strrchr(buf, ')');
    int ppid;
    if (p == NULL || sscanf(p + 1, " %c %d", state, &ppid) != 2)
        return -1;
    return (pid_t)ppid;
}

/*
 * Lists (pid, ppid) of every process; zombies get their pid negated so
 * they count as parents but not as something to kill.  Returns the count.
 */
static size_t list_processes(pid_t *pids, pid_t *ppids, size_t cap)
{
    DIR *d = opendir("/proc");
    size_t n = 0;
    struct dirent *e;
    while (d != NULL && n < cap && (e = readdir(d)) != NULL) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end != '\0' || pid <= 0)
            continue;
        char state;
        pid_t ppid = parent_of((pid_t)pid, &state);
        if (ppid < 0)
            continue;
        pids[n] = state == 'Z' ? -(pid_t)pid : (pid_t)pid;
        ppids[n] = ppid;
        n++;
    }
    if (d != NULL)
        closedir(d);
    return n;
}

/* Marks the descendants of root in the table; returns how many. */
static size_t mark_descendants(pid_t root, const pid_t *pids, const pid_t *ppids, bool *mark,
                               size_t n)
{
    size_t found = 0;
    bool grew = true;
    while (grew) {
        grew = false;
        for (size_t i = 0; i < n; i++) {
            if (mark[i] || pids[i] == root)
                continue;
            bool under = ppids[i] == root;
            for (size_t j = 0; !under && j < n; j++)
                under = mark[j] && abs(pids[j]) == ppids[i];
            if (under) {
                mark[i] = true;
                grew = true;
                found++;
            }
        }
    }
    return found;
}

/* SIGKILLs every descendant and reaps every child of ours. */
int pu_kill_descendants(void (*on_kill)(pid_t))
{
    pid_t *pids = calloc(MAX_PROCS, sizeof *pids);
    pid_t *ppids = calloc(MAX_PROCS, sizeof *ppids);
    bool *mark = calloc(MAX_PROCS, sizeof *mark);
    int killed = 0;
    if (pids != NULL && ppids != NULL && mark != NULL) {
        size_t n = list_processes(pids, ppids, MAX_PROCS);
        mark_descendants(getpid(), pids, ppids, mark, n);
        for (size_t i = 0; i < n; i++) {
            if (!mark[i] || pids[i] <= 0 || kill(pids[i], SIGKILL) != 0)
                continue;
            killed++;
            if (on_kill != NULL)
                on_kill(pids[i]);
        }
    }
    free(pids);
    free(ppids);
    free(mark);
    uint64_t deadline = pu_now_ms() + REAP_TIMEOUT_MS;
    while (pu_now_ms() < deadline) {
        pid_t r = waitpid(-1, NULL, WNOHANG);
        if (r < 0 && errno == ECHILD)
            break;
        if (r <= 0)
            pu_sleep_ms(10);
    }
    return killed;
}

void pu_note(const char *suite, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("# %s: ", suite);
    vprintf(fmt, ap);
    putchar('\n');
    va_end(ap);
    fflush(stdout);
}

void pu_scratch(char *buf, size_t len, const char *dir, const char *tag, const char *suffix)
{
    int n = snprintf(buf, len, "%s/%s%s", dir, tag, suffix);
    ck_assert_msg(n > 0 && (size_t)n < len, "scratch path too long: %s%s", tag, suffix);
}

void pu_add_case(struct pu_cases *c, Suite *s, const char *name, const TTest *test, int timeout_s,
                 void (*setup)(void), void (*teardown)(void))
{
    TCase *tc = tcase_create(name);
    if (c->n < (int)(sizeof c->names / sizeof c->names[0]))
        c->names[c->n++] = name;
    tcase_set_timeout(tc, timeout_s);
    if (setup != NULL || teardown != NULL)
        tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test);
    suite_add_tcase(s, tc);
}

void pu_case_begin(struct pu_cases *c)
{
    const char *only = getenv("CK_RUN_CASE");
    c->current = only != NULL ? only : c->begun < c->n ? c->names[c->begun] : "?";
    c->begun++;
    c->started_ms = pu_now_ms();
}

/* A SIGKILLed filot-ocrd cannot remove its segment: do it for it. */
static void remove_segment(pid_t pid)
{
    char name[64];
    snprintf(name, sizeof name, "/filot-ocrd.%d", (int)pid);
    shm_unlink(name);
}

void pu_case_end(struct pu_cases *c)
{
    const char *name = c->current != NULL ? c->current : "?";
    int killed = pu_kill_descendants(remove_segment);
    if (killed > 0)
        pu_note(c->suite, "%s: killed %d process(es) the case left running", name, killed);
    pu_note(c->suite, "runtime %-12s %6.1f s", name,
            (double)(pu_now_ms() - c->started_ms) / 1000.0);
}

int pu_run_cases(Suite *s)
{
    return check_run(s);
}

void pu_scratch_done(const char *suite, const char *scratch, bool remove)
{
    if (scratch[0] == '\0')
        return;
    if (remove)
        pu_rm_rf(scratch);
    else
        printf("# %s: scratch kept in %s\n", suite, scratch);
}

int pu_run_suite(Suite *s, const char *suite, const char *scratch)
{
    int rc = pu_run_cases(s);
    pu_scratch_done(suite, scratch, rc == 0);
    return rc;
}
