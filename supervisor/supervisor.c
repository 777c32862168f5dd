/*
 * supervisor.c - start-up, signal handling, the periodic tick and shutdown
 * of filot-ocrd.
 */
#include "supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/clock.h"
#include "../common/log.h"
#include "../common/status.h"
#include "notify.h"
#include "snapshot.h"

extern char **environ;

#define STABLE_MS       60000u
#define CRASHLOOP_COUNT 5u
#define CRASHLOOP_MS    10000u
#define GPU_STOP_MS     3000u

/* Directory of our own executable: the other programs live beside it. */
static int find_bin_dir(char *out, size_t len)
{
    ssize_t n = readlink("/proc/self/exe", out, len - 1);
    if (n <= 0)
        return FILOT_EIO;
    out[n] = '\0';
    char *slash = strrchr(out, '/');
    if (slash == NULL)
        return FILOT_EIO;
    *slash = '\0';
    return 0;
}

/*
 * Why an existing OCR_RUNTIME_DIR cannot hold our sockets, or NULL when it
 * can: it must be a directory itself (not a symlink to one), owned by our
 * effective uid and closed to group and others (0700), so nobody else can
 * plant, replace or reach the control sockets.
 */
static const char *runtime_dir_unsafe(const char *path, char *why, size_t len)
{
    struct stat sb;
    if (lstat(path, &sb) != 0) {
        snprintf(why, len, "cannot stat it: %s", strerror(errno));
        return why;
    }
    if (S_ISLNK(sb.st_mode))
        return "it is a symbolic link; give the real directory";
    if (!S_ISDIR(sb.st_mode))
        return "it is not a directory";
    if (sb.st_uid != geteuid()) {
        snprintf(why, len, "it is owned by uid %u, not by this user (uid %u)", (unsigned)sb.st_uid,
                 (unsigned)geteuid());
        return why;
    }
    if ((sb.st_mode & 077) != 0) {
        snprintf(why, len, "its mode is %04o: group and others must have no access (chmod 0700)",
                 (unsigned)(sb.st_mode & 07777));
        return why;
    }
    return NULL;
}

/*
 * OCR_RUNTIME_DIR (created 0700 when missing, refused when unsafe:
 * FILOT_EINVAL), or a fresh private mkdtemp() directory
 * /tmp/filot-ocrd.XXXXXX we create and remove: a predictable name could be
 * created first by another user.
 */
static int make_runtime_dir(struct supervisor *s)
{
    char why[160];
    if (s->cfg.runtime_dir[0] == '\0') {
        snprintf(s->runtime_dir, sizeof s->runtime_dir, "/tmp/filot-ocrd.XXXXXX");
        if (mkdtemp(s->runtime_dir) == NULL) {
            log_kv(LOG_ERROR, "cannot create runtime directory", LF_STR, "path", s->runtime_dir,
                   LF_STR, "error", strerror(errno), LF_END);
            return FILOT_EIO;
        }
        s->own_runtime_dir = true;
        return 0;
    }
    snprintf(s->runtime_dir, sizeof s->runtime_dir, "%s", s->cfg.runtime_dir);
    /* "dir/" would make lstat() follow a symlink named dir */
    for (size_t n = strlen(s->runtime_dir); n > 1 && s->runtime_dir[n - 1] == '/'; n--)
        s->runtime_dir[n - 1] = '\0';
    if (mkdir(s->runtime_dir, 0700) != 0 && errno != EEXIST) {
        log_kv(LOG_ERROR, "OCR_RUNTIME_DIR cannot be created", LF_STR, "path", s->runtime_dir,
               LF_STR, "error", strerror(errno), LF_END);
        return FILOT_EIO;
    }
    const char *unsafe = runtime_dir_unsafe(s->runtime_dir, why, sizeof why);
    if (unsafe != NULL) {
        char msg[384];
        snprintf(msg, sizeof msg, "OCR_RUNTIME_DIR %s is refused: %s", s->runtime_dir, unsafe);
        log_kv(LOG_ERROR, "Invalid configuration", LF_STR, "error", msg, LF_END);
        return FILOT_EINVAL;
    }
    return 0;
}

/* SIGCHLD, SIGTERM, SIGINT, SIGHUP arrive through a signalfd in the loop. */
static int setup_signals(struct supervisor *s)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGQUIT);
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
        return FILOT_EIO;
    signal(SIGPIPE, SIG_IGN);
    s->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    return s->sigfd >= 0 ? 0 : FILOT_EIO;
}

/* hostname-pid-random: unique per run, so leases of a dead run are known dead. */
static void make_instance_id(char *out, size_t len)
{
    char host[64] = "host";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    unsigned int rnd = 0;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (read(fd, &rnd, sizeof rnd) != (ssize_t)sizeof rnd)
            rnd = (unsigned int)clock_wall_ms();
        close(fd);
    }
    snprintf(out, len, "%s-%d-%08x", host, (int)getpid(), rnd);
}

static void init_children(struct supervisor *s)
{
    s->gpu = (struct child){.program = "filot-gpu-server", .index = -1, .last_status = -1};
    for (int i = 0; i < s->nworkers; i++)
        s->workers[i] =
            (struct child){.program = "filot-ocr-worker", .index = i, .last_status = -1};
}

/*
 * A start that fails after the pool exists leaves nothing behind: the
 * segment, the children's pipe and our own runtime directory go.
 */
static void undo_start(struct supervisor *s)
{
    shm_pool_close(&s->pool);
    for (int i = 0; i < 2; i++)
        if (s->parent_pipe[i] >= 0)
            close(s->parent_pipe[i]);
    s->parent_pipe[0] = s->parent_pipe[1] = -1;
    if (s->own_runtime_dir)
        rmdir(s->runtime_dir);
}

/* Reads the environment; logs every bad variable, not only the first. */
static int load_config(struct supervisor *s)
{
    struct config_errors errs;
    int rc = config_load_all(&s->cfg, &errs);
    log_init("filot-ocrd", rc == 0 ? s->cfg.log_level : LOG_INFO);
    if (s->cfg.job_source[0] == '\0')
        rc |= config_check_pipeline_all(&s->cfg, &errs);
    for (int i = 0; i < errs.count && i < CONFIG_MAX_ERRORS; i++)
        log_kv(LOG_ERROR, "Invalid configuration", LF_STR, "error", errs.msg[i], LF_END);
    return rc == 0 ? 0 : FILOT_EINVAL;
}

int sup_init(struct supervisor *s)
{
    char err[512];
    memset(s, 0, sizeof *s);
    s->sigfd = -1;
    s->parent_pipe[0] = s->parent_pipe[1] = -1;
    log_init("filot-ocrd", LOG_INFO);
    if (load_config(s) != 0)
        return FILOT_EXIT_CONFIG;
    s->start_ms = clock_mono_ms();
    make_instance_id(s->instance_id, sizeof s->instance_id);
    s->nworkers = s->cfg.concurrency;
    s->gpu_wanted = s->cfg.gpu_enabled || s->cfg.gpu_emulate;
    s->policy = (struct child_policy){s->cfg.backoff_min_ms, s->cfg.backoff_max_ms, STABLE_MS,
                                      CRASHLOOP_COUNT, CRASHLOOP_MS};
    if (find_bin_dir(s->bin_dir, sizeof s->bin_dir) != 0 || setup_signals(s) != 0)
        return FILOT_EXIT_FAILURE;
    int rc = make_runtime_dir(s);
    if (rc != 0)
        return rc == FILOT_EINVAL ? FILOT_EXIT_CONFIG : FILOT_EXIT_FAILURE;
    char name[64];
    shm_pool_remove_stale("filot-ocrd");
    snprintf(name, sizeof name, "/filot-ocrd.%d", (int)getpid());
    if (shm_pool_create(&s->pool, name, s->cfg.shm_size, (uint32_t)s->nworkers,
                        (uint32_t)s->nworkers * 2, err, sizeof err) != 0) {
        log_kv(LOG_ERROR, "Cannot create the shared-memory pool", LF_STR, "error", err, LF_END);
        return FILOT_EXIT_CONFIG;
    }
    if (shm_pool_share_fd(&s->pool) != 0 || pipe2(s->parent_pipe, O_CLOEXEC) != 0 ||
        fcntl(s->parent_pipe[0], F_SETFD, 0) != 0) {
        log_kv(LOG_ERROR, "Cannot set up descriptors for children", LF_STR, "error",
               strerror(errno), LF_END);
        undo_start(s);
        return FILOT_EXIT_FAILURE;
    }
    s->env = (struct spawn_env){s->bin_dir,        environ,        s->pool.fd,
                                s->parent_pipe[0], s->runtime_dir, s->instance_id};
    if (s->cfg.health_port != 0 &&
        http_start(s->cfg.health_bind, s->cfg.health_port, &s->http) != 0) {
        log_kv(LOG_ERROR, "filot-ocrd cannot start", LF_STR, "hint",
               "HEALTH_PORT is taken or not allowed: set HEALTH_PORT to a free port (0 disables "
               "/health and /metrics)",
               LF_INT, "healthPort", (long long)s->cfg.health_port, LF_END);
        undo_start(s);
        return FILOT_EXIT_FAILURE;
    }
    notify_watchdog_interval_us(&s->watchdog_interval_us);
    init_children(s);
    log_kv(LOG_INFO, "filot-ocrd started", LF_INT, "concurrency", (long long)s->nworkers, LF_BOOL,
           "gpuEnabled", s->cfg.gpu_enabled, LF_BOOL, "gpuEmulate", s->cfg.gpu_emulate, LF_BOOL,
           "autoFallbackEnabled", s->cfg.gpu_autofallback, LF_INT, "shmBytes",
           (long long)s->cfg.shm_size, LF_INT, "slotBytes", (long long)s->pool.slot_bytes, LF_INT,
           "healthPort", (long long)s->cfg.health_port, LF_STR, "runtimeDir", s->runtime_dir,
           LF_STR, "instanceId", s->instance_id, LF_STR, "mode",
           s->cfg.job_source[0] ? "ipc" : "queue", LF_END);
    uint64_t now = clock_mono_ms();
    if (s->gpu_wanted)
        child_event(&s->gpu, EV_START, now, &s->policy, &s->env);
    for (int i = 0; i < s->nworkers; i++)
        child_event(&s->workers[i], EV_START, now, &s->policy, &s->env);
    return 0;
}

static struct child *find_child(struct supervisor *s, pid_t pid)
{
    if (s->gpu.pid == pid)
        return &s->gpu;
    for (int i = 0; i < s->nworkers; i++)
        if (s->workers[i].pid == pid)
            return &s->workers[i];
    return NULL;
}

/* Records the exit in shared memory and frees what the dead process held. */
static void record_exit(struct supervisor *s, struct child *c, int status)
{
    if (c->index < 0) {
        atomic_store(&s->pool.hdr->gpu_state, GPU_DOWN);
        atomic_store(&s->pool.hdr->gpu_pid, 0);
        shm_reclaim_gpu(&s->pool);
        return;
    }
    struct shm_worker *w = &s->pool.hdr->workers[c->index];
    child_note_jobs(c, atomic_load(&w->jobs_done));
    atomic_store(&w->last_pid, c->pid);
    atomic_store(&w->last_status, status);
    atomic_store(&w->last_reason, c->kill_for_timeout ? ER_JOB_TIMEOUT
                                  : s->drain_killed   ? ER_DRAIN_KILL
                                                      : ER_NONE);
    atomic_store(&w->state, WS_EMPTY);
    atomic_store(&w->job_started_ms, 0);
    atomic_store(&w->pid, 0);
    atomic_fetch_add(&w->exits, 1);
    /* its last counts, then a clean slate for its successor */
    job_metrics_collect(&s->jobs, c->index, &w->stats);
    job_metrics_restart(&s->jobs, c->index, &w->stats);
    shm_reclaim_worker(&s->pool, c->pid);
}

static void log_exit(const struct child *c, int status)
{
    if (WIFSIGNALED(status))
        log_kv(LOG_WARN, "Child exited on signal", LF_STR, "child", c->program, LF_INT, "index",
               (long long)c->index, LF_INT, "childPid", (long long)c->pid, LF_INT, "signal",
               (long long)WTERMSIG(status), LF_BOOL, "coreDumped", WCOREDUMP(status), LF_BOOL,
               "jobTimeout", c->kill_for_timeout, LF_END);
    else
        log_kv(WEXITSTATUS(status) == 0 ? LOG_INFO : LOG_WARN, "Child exited", LF_STR, "child",
               c->program, LF_INT, "index", (long long)c->index, LF_INT, "childPid",
               (long long)c->pid, LF_INT, "exitCode", (long long)WEXITSTATUS(status), LF_END);
}

/* Reaps every dead child, ours or orphans re-parented to us as PID 1. */
static void reap(struct supervisor *s)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        struct child *c = find_child(s, pid);
        if (c == NULL)
            continue;
        c->last_status = status;
        log_exit(c, status);
        record_exit(s, c, status);
        enum child_event ev = child_exit_event(c, status);
        if (ev == EV_EXIT_RECYCLE && c->kill_for_timeout)
            s->timeouts_total++;
        else if (ev == EV_EXIT_RECYCLE)
            s->recycles_total++;
        c->pid = 0;
        if (ev == EV_EXIT_PERMANENT && c->index < 0 && WEXITSTATUS(status) == FILOT_EXIT_NO_DEVICE)
            atomic_store(&s->pool.hdr->gpu_state, GPU_UNAVAILABLE);
        shm_pool_restore_layout(&s->pool); /* before a respawn attaches */
        child_event(c, ev, clock_mono_ms(), &s->policy, &s->env);
    }
}

/* First signal: stop taking work and let jobs finish.  Second: kill now. */
static void begin_drain(struct supervisor *s, int sig)
{
    uint64_t now = clock_mono_ms();
    if (s->draining) {
        log_kv(LOG_WARN, "Second stop signal: killing children now", LF_INT, "signal",
               (long long)sig, LF_END);
        s->drain_deadline_ms = now;
        return;
    }
    s->draining = true;
    s->drain_deadline_ms = now + s->cfg.drain_timeout_ms;
    atomic_store(&s->pool.hdr->draining, 1);
    notify_stopping();
    log_kv(LOG_INFO, "Draining: no new jobs; waiting for in-flight jobs", LF_INT, "signal",
           (long long)sig, LF_INT, "drainTimeoutMs", (long long)s->cfg.drain_timeout_ms, LF_END);
    for (int i = 0; i < s->nworkers; i++)
        child_event(&s->workers[i], EV_STOP, now, &s->policy, &s->env);
}

void sup_wait_signals(struct supervisor *s, uint32_t timeout_ms)
{
    struct pollfd pfd = {.fd = s->sigfd, .events = POLLIN};
    if (poll(&pfd, 1, (int)timeout_ms) <= 0)
        return;
    struct signalfd_siginfo si;
    while (read(s->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
        switch (si.ssi_signo) {
        case SIGCHLD:
            reap(s);
            break;
        case SIGTERM:
        case SIGINT:
        case SIGQUIT:
            begin_drain(s, (int)si.ssi_signo);
            break;
        default: /* SIGHUP: nothing to reload; logged for the operator */
            log_kv(LOG_INFO, "Ignoring signal", LF_INT, "signal", (long long)si.ssi_signo, LF_END);
            break;
        }
    }
}

/* Kills a worker whose job runs past OCR_JOB_TIMEOUT_MS (Tesseract's own
 * deadline does not cover layout analysis, where it can hang). */
static void enforce_job_deadline(struct supervisor *s, struct child *c, uint64_t now)
{
    struct shm_worker *w = &s->pool.hdr->workers[c->index];
    uint64_t started = atomic_load(&w->job_started_ms);
    if (c->pid <= 0 || c->kill_for_timeout || atomic_load(&w->state) != WS_BUSY || started == 0 ||
        now - started <= s->cfg.job_timeout_ms)
        return;
    log_kv(LOG_ERROR, "Job exceeded OCR_JOB_TIMEOUT_MS; killing worker", LF_INT, "index",
           (long long)c->index, LF_INT, "childPid", (long long)c->pid, LF_INT, "runningMs",
           (long long)(now - started), LF_INT, "timeoutMs", (long long)s->cfg.job_timeout_ms,
           LF_END);
    c->kill_for_timeout = true;
    kill(c->pid, SIGKILL);
}

static bool worker_reports_ready(const struct supervisor *s, const struct child *c)
{
    const struct shm_worker *w = &s->pool.hdr->workers[c->index];
    uint32_t st = atomic_load(&w->state);
    return atomic_load(&w->pid) == c->pid && (st == WS_IDLE || st == WS_BUSY);
}

/* Children are registered in shm by pid as soon as they are spawned. */
static void register_pid(struct supervisor *s, struct child *c)
{
    if (c->index >= 0 && c->pid > 0 && c->state == CS_STARTING)
        atomic_store(&s->pool.hdr->workers[c->index].pid, c->pid);
}

static void tick_child(struct supervisor *s, struct child *c, uint64_t now)
{
    register_pid(s, c);
    if (c->state == CS_BACKOFF && now >= c->restart_at_ms && !s->draining) {
        shm_pool_restore_layout(&s->pool); /* a child may have scribbled on it */
        child_event(c, EV_TIMER, now, &s->policy, &s->env);
    }
    if (c->state == CS_STARTING) {
        bool ready = c->index < 0 ? atomic_load(&s->pool.hdr->gpu_state) == GPU_READY &&
                                        atomic_load(&s->pool.hdr->gpu_pid) == c->pid
                                  : worker_reports_ready(s, c);
        if (ready)
            child_event(c, EV_READY, now, &s->policy, &s->env);
    }
    if (c->index >= 0)
        enforce_job_deadline(s, c, now);
}

static bool workers_down(const struct supervisor *s)
{
    for (int i = 0; i < s->nworkers; i++)
        if (s->workers[i].pid > 0)
            return false;
    return true;
}

/* Drain: workers finish their job and exit; then the GPU server goes. */
static void tick_drain(struct supervisor *s, uint64_t now)
{
    if (!s->drain_killed && now >= s->drain_deadline_ms && !workers_down(s)) {
        log_kv(LOG_WARN, "Drain timeout: killing remaining workers", LF_INT, "drainTimeoutMs",
               (long long)s->cfg.drain_timeout_ms, LF_END);
        s->drain_killed = true;
        for (int i = 0; i < s->nworkers; i++)
            if (s->workers[i].pid > 0)
                kill(s->workers[i].pid, SIGKILL);
    }
    if (workers_down(s) && s->gpu.pid > 0 && s->gpu.state != CS_STOPPING) {
        child_event(&s->gpu, EV_STOP, now, &s->policy, &s->env);
        s->drain_deadline_ms = now + GPU_STOP_MS;
    } else if (workers_down(s) && s->gpu.pid > 0 && now >= s->drain_deadline_ms) {
        kill(s->gpu.pid, SIGKILL);
    }
    if (workers_down(s) && s->gpu.pid <= 0 && s->gpu.state == CS_BACKOFF)
        child_event(&s->gpu, EV_STOP, now, &s->policy, &s->env);
}

void sup_tick(struct supervisor *s, uint64_t now)
{
    if (s->gpu_wanted)
        tick_child(s, &s->gpu, now);
    for (int i = 0; i < s->nworkers; i++)
        tick_child(s, &s->workers[i], now);
    if (s->draining)
        tick_drain(s, now);
}

void sup_report(struct supervisor *s, uint64_t now)
{
    static struct sup_snapshot snap;
    snapshot_collect(s, now);
    snapshot_build(s, now, &snap);
    if (s->http != NULL)
        http_publish(s->http, &snap);
    if (!s->notified_ready && snap.workers_ready == s->nworkers && !s->draining) {
        s->notified_ready = true;
        notify_ready("all workers ready");
        log_kv(LOG_INFO, "GPU OCR worker started", LF_INT, "concurrency", (long long)s->nworkers,
               LF_STR, "gpu", snap.gpu_state, LF_INT, "startupMs", (long long)snap.uptime_ms,
               LF_END);
    }
    char line[128];
    snprintf(line, sizeof line, "%d/%d workers ready, %d busy, gpu %s%s", snap.workers_ready,
             s->nworkers, snap.workers_busy, snap.gpu_state, s->draining ? ", draining" : "");
    if (strcmp(line, s->last_status_line) != 0) {
        memcpy(s->last_status_line, line, sizeof line);
        notify_status("%s", line);
    }
    if (s->watchdog_interval_us != 0 && now >= s->next_watchdog_ms) {
        notify_watchdog();
        s->next_watchdog_ms = now + s->watchdog_interval_us / 1000u;
    }
}

bool sup_done(const struct supervisor *s)
{
    return s->draining && workers_down(s) && s->gpu.pid <= 0;
}

void sup_shutdown(struct supervisor *s)
{
    log_kv(LOG_INFO, "filot-ocrd stopped", LF_INT, "uptimeMs",
           (long long)(clock_mono_ms() - s->start_ms), LF_END);
    http_stop(s->http);
    shm_pool_close(&s->pool);
    if (s->own_runtime_dir) {
        char path[160];
        const char *socks[] = {"gpu.sock", "jobs.sock"};
        for (int i = 0; i < 2; i++) {
            snprintf(path, sizeof path, "%s/%s", s->runtime_dir, socks[i]);
            unlink(path);
        }
        rmdir(s->runtime_dir);
    }
}
