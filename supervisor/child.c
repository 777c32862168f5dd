/*
 * child.c - the per-child state machine and fork+exec.
 *
 * The table says, for each (state, event), the next state and the action.
 * Actions are the only place with side effects.
 */
#include "child.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/status.h"

enum action {
    A_NONE = 0,
    A_SPAWN,   /* start it now */
    A_BACKOFF, /* record the crash, schedule a restart */
    A_TERM,    /* send SIGTERM */
    A_FAIL,    /* permanent failure */
    A_READY,   /* note readiness */
    A_FORGET   /* stopped while waiting: nothing to do */
};

struct step {
    enum child_state next;
    enum action act;
};

#define S(n, a)                                                                                    \
    {                                                                                              \
        CS_##n, A_##a                                                                              \
    }
/* Unlisted pairs keep the state and do nothing. */
static const struct step table[CS_NSTATES][EV_NEVENTS] = {
    /*                START          READY        NORMAL          RECYCLE        CRASH
                      PERMANENT      TIMER        STOP */
    [CS_DOWN] = {S(STARTING, SPAWN), S(DOWN, NONE), S(DOWN, NONE), S(DOWN, NONE), S(DOWN, NONE),
                 S(DOWN, NONE), S(DOWN, NONE), S(DOWN, NONE)},
    [CS_STARTING] = {S(STARTING, NONE), S(UP, READY), S(BACKOFF, BACKOFF), S(STARTING, SPAWN),
                     S(BACKOFF, BACKOFF), S(FAILED, FAIL), S(STARTING, NONE), S(STOPPING, TERM)},
    [CS_UP] = {S(UP, NONE), S(UP, NONE), S(BACKOFF, BACKOFF), S(STARTING, SPAWN),
               S(BACKOFF, BACKOFF), S(FAILED, FAIL), S(UP, NONE), S(STOPPING, TERM)},
    [CS_BACKOFF] = {S(BACKOFF, NONE), S(BACKOFF, NONE), S(BACKOFF, NONE), S(BACKOFF, NONE),
                    S(BACKOFF, NONE), S(BACKOFF, NONE), S(STARTING, SPAWN), S(DOWN, FORGET)},
    [CS_STOPPING] = {S(STOPPING, NONE), S(STOPPING, NONE), S(DOWN, NONE), S(DOWN, NONE),
                     S(DOWN, NONE), S(DOWN, NONE), S(STOPPING, NONE), S(STOPPING, NONE)},
    [CS_FAILED] = {S(FAILED, NONE), S(FAILED, NONE), S(FAILED, NONE), S(FAILED, NONE),
                   S(FAILED, NONE), S(FAILED, NONE), S(FAILED, NONE), S(FAILED, NONE)},
};
#undef S

static const char *const state_names[CS_NSTATES] = {"stopped", "starting", "ready",
                                                    "backoff", "stopping", "failed"};

const char *child_state_name(enum child_state s)
{
    return s < CS_NSTATES ? state_names[s] : "?";
}

enum child_event child_exit_event(const struct child *c, int st)
{
    if (c->kill_for_timeout)
        return EV_EXIT_RECYCLE;
    if (WIFSIGNALED(st))
        return EV_EXIT_CRASH;
    switch (WEXITSTATUS(st)) {
    case FILOT_EXIT_OK:
        return EV_EXIT_NORMAL;
    case FILOT_EXIT_RECYCLE:
        return EV_EXIT_RECYCLE;
    case FILOT_EXIT_CONFIG:
    case FILOT_EXIT_NO_DEVICE:
        return EV_EXIT_PERMANENT;
    default:
        return EV_EXIT_CRASH;
    }
}

bool child_crashlooping(const struct child *c, uint64_t now, const struct child_policy *pol)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < 5 && i < pol->crashloop_count; i++)
        if (c->crash_times[i] != 0 && now - c->crash_times[i] <= pol->crashloop_ms)
            n++;
    return n >= pol->crashloop_count;
}

void child_note_jobs(struct child *c, uint64_t jobs_done)
{
    c->progressed = jobs_done > c->jobs_seen;
    if (c->progressed)
        c->jobs_seen = jobs_done;
}

/*
 * Doubling delay from the minimum, capped; reset after a stable run or an
 * incarnation that completed a job (killed by an OOM killer or a bad node,
 * not crash-looping: doubling would starve throughput for nothing).
 */
static void schedule_restart(struct child *c, uint64_t now, const struct child_policy *pol)
{
    if ((c->started_ms != 0 && now - c->started_ms >= pol->stable_ms) || c->progressed)
        c->backoff_step = 0;
    c->progressed = false;
    uint64_t delay = pol->backoff_min_ms;
    for (uint32_t i = 0; i < c->backoff_step && delay < pol->backoff_max_ms; i++)
        delay *= 2;
    if (delay > pol->backoff_max_ms)
        delay = pol->backoff_max_ms;
    c->backoff_step++;
    c->crashes++;
    c->crash_times[c->crash_ring++ % 5] = now;
    c->restart_at_ms = now + delay;
    log_kv(LOG_WARN, "Child exited; restarting after backoff", LF_STR, "child", c->program, LF_INT,
           "index", (long long)c->index, LF_INT, "delayMs", (long long)delay, LF_INT, "attempt",
           (long long)c->backoff_step, LF_INT, "jobsDone", (long long)c->jobs_seen, LF_END);
}

enum child_state child_event(struct child *c, enum child_event ev, uint64_t now,
                             const struct child_policy *pol, const struct spawn_env *env)
{
    const struct step *s = &table[c->state][ev];
    c->state = s->next;
    switch (s->act) {
    case A_SPAWN:
        if (c->started_ms != 0)
            c->restarts++;
        c->kill_for_timeout = false;
        c->pid = child_spawn(c->program, c->index, env);
        c->started_ms = now;
        if (c->pid < 0) {
            c->pid = 0;
            c->state = CS_BACKOFF;
            schedule_restart(c, now, pol);
        }
        break;
    case A_BACKOFF:
        schedule_restart(c, now, pol);
        break;
    case A_TERM:
        if (c->pid > 0)
            kill(c->pid, SIGTERM);
        break;
    case A_FAIL:
        log_kv(LOG_ERROR, "Child failed permanently; not restarting", LF_STR, "child", c->program,
               LF_INT, "index", (long long)c->index, LF_INT, "exitCode",
               (long long)(WIFEXITED(c->last_status) ? WEXITSTATUS(c->last_status) : -1), LF_END);
        break;
    case A_READY:
        c->ever_ready = true;
        break;
    case A_NONE:
    case A_FORGET:
        break;
    }
    return c->state;
}

/* Formats NAME=value into a fresh string; NULL on allocation failure. */
static char *env_entry(const char *name, long long value)
{
    char *s = NULL;
    if (asprintf(&s, "%s=%lld", name, value) < 0)
        return NULL;
    return s;
}

static const char *const private_vars[] = {
    "OCR_SHM_FD=",    "OCR_PARENT_FD=", "OCR_WORKER_INDEX=", "OMP_THREAD_LIMIT=", "NOTIFY_SOCKET=",
    "WATCHDOG_USEC=", "WATCHDOG_PID=",  "OCR_RUNTIME_DIR=",  "OCR_INSTANCE_ID=",  NULL};

static bool is_private(const char *entry)
{
    for (int i = 0; private_vars[i] != NULL; i++)
        if (strncmp(entry, private_vars[i], strlen(private_vars[i])) == 0)
            return true;
    return false;
}

/*
 * What filot-gpu-server may see of our environment: its own settings
 * (OCR_*), the CUDA/NVIDIA driver's, the C library's (locale, time zone,
 * PATH, HOME, TMPDIR), the loader's library path (CUDA images put the
 * driver there) and sanitizer options.  Everything else - REDIS_URL,
 * DATABASE_URL, CF_R2_*, BULI2_*, AWS_* and whatever the host adds - is
 * for the workers only: the GPU server talks to nothing but its socket.
 * Variables of the config table that are dropped fall back to their
 * defaults there, which are valid and unused by the server.
 */
static const char *const gpu_env_prefixes[] = {"OCR_", "CUDA_", "NVIDIA_", "__NV_", "LC_", NULL};
static const char *const gpu_env_names[] = {
    "PATH",         "HOME",          "LANG",         "LANGUAGE", "TZ", "TMPDIR", "LD_LIBRARY_PATH",
    "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", NULL};

bool child_gpu_env_allowed(const char *entry)
{
    const char *eq = strchr(entry, '=');
    if (eq == NULL)
        return false;
    size_t len = (size_t)(eq - entry);
    for (int i = 0; gpu_env_prefixes[i] != NULL; i++)
        if (strncmp(entry, gpu_env_prefixes[i], strlen(gpu_env_prefixes[i])) == 0)
            return true;
    for (int i = 0; gpu_env_names[i] != NULL; i++)
        if (strlen(gpu_env_names[i]) == len && strncmp(entry, gpu_env_names[i], len) == 0)
            return true;
    return false;
}

/*
 * Builds argv/envp before fork: after fork only async-signal-safe calls
 * happen (the HTTP thread may hold malloc locks).  OMP_THREAD_LIMIT=1 must
 * be in the environment at exec: libgomp reads it before main().
 */
pid_t child_spawn(const char *program, int index, const struct spawn_env *env)
{
    size_t n = 0;
    while (env->base_env[n] != NULL)
        n++;
    char **envp = calloc(n + 10, sizeof *envp);
    char *path = NULL;
    char *rtdir = NULL;
    char *owned[6] = {NULL};
    pid_t pid = -1;
    if (envp == NULL || asprintf(&path, "%s/%s", env->bin_dir, program) < 0 ||
        asprintf(&rtdir, "OCR_RUNTIME_DIR=%s", env->runtime_dir) < 0) {
        log_kv(LOG_ERROR, "Cannot prepare child environment", LF_STR, "child", program, LF_END);
        goto out;
    }
    size_t k = 0;
    bool gpu_server = index < 0;
    for (size_t i = 0; i < n; i++)
        if (!is_private(env->base_env[i]) &&
            (!gpu_server || child_gpu_env_allowed(env->base_env[i])))
            envp[k++] = env->base_env[i];
    owned[0] = env_entry("OCR_SHM_FD", env->shm_fd);
    owned[1] = env_entry("OCR_PARENT_FD", env->parent_fd);
    owned[2] = env_entry("OCR_WORKER_INDEX", index);
    owned[3] = strdup("OMP_THREAD_LIMIT=1");
    owned[4] = rtdir;
    if (asprintf(&owned[5], "OCR_INSTANCE_ID=%s", env->instance_id) < 0)
        owned[5] = NULL;
    for (int i = 0; i < 6; i++) {
        if (owned[i] == NULL)
            goto out;
        envp[k++] = owned[i];
    }
    char *argv[] = {(char *)program, NULL};
    sigset_t all;
    sigemptyset(&all);
    pid = fork();
    if (pid == 0) {
        /* child: async-signal-safe only */
        sigprocmask(SIG_SETMASK, &all, NULL);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        setpgid(0, 0);
        execve(path, argv, envp);
        _exit(127);
    }
    if (pid < 0)
        log_kv(LOG_ERROR, "fork failed", LF_STR, "child", program, LF_STR, "error", strerror(errno),
               LF_END);
    else
        log_kv(LOG_INFO, "Child started", LF_STR, "child", program, LF_INT, "index",
               (long long)index, LF_INT, "childPid", (long long)pid, LF_END);
out:
    for (int i = 0; i < 6; i++)
        free(owned[i]);
    if (owned[4] == NULL)
        free(rtdir);
    free(path);
    free(envp);
    return pid;
}
