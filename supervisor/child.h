/*
 * child.h - one supervised child process and its state machine.
 *
 * The supervisor keeps one struct child per program instance (the GPU
 * server and each worker index).  Events from the main loop go through
 * child_event(), which looks up the next state and action in a table
 * (s6-supervise style) instead of nested conditionals.
 */
#ifndef FILOT_CHILD_H
#define FILOT_CHILD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

enum child_state {
    CS_DOWN = 0, /* never started, or stopped on purpose */
    CS_STARTING, /* running, not yet ready */
    CS_UP,       /* ready */
    CS_BACKOFF,  /* waiting to be restarted */
    CS_STOPPING, /* asked to stop */
    CS_FAILED,   /* permanent failure: not restarted */
    CS_NSTATES
};

enum child_event {
    EV_START = 0,      /* main loop wants it running */
    EV_READY,          /* reported ready (shm) */
    EV_EXIT_NORMAL,    /* exit 0 */
    EV_EXIT_RECYCLE,   /* asked to be replaced, or killed for a job timeout */
    EV_EXIT_CRASH,     /* signal or unexpected exit code */
    EV_EXIT_PERMANENT, /* config error / no device: do not restart */
    EV_TIMER,          /* backoff delay elapsed */
    EV_STOP,           /* shutdown */
    EV_NEVENTS
};

struct child {
    const char *program; /* basename, e.g. "filot-ocr-worker" */
    int index;           /* worker index, -1 for the gpu server */
    enum child_state state;
    pid_t pid;
    uint64_t started_ms;    /* monotonic, last spawn */
    uint64_t restart_at_ms; /* CS_BACKOFF: when to spawn again */
    uint32_t backoff_step;  /* consecutive quick crashes */
    uint64_t restarts;
    uint64_t crashes;
    uint64_t crash_times[5]; /* ring of recent crash times: crash-loop detection */
    uint32_t crash_ring;
    int last_status;       /* raw wait status, -1 if none */
    bool kill_for_timeout; /* we SIGKILLed it for OCR_JOB_TIMEOUT_MS */
    bool ever_ready;
    uint64_t jobs_seen; /* highest jobs-done counter read at an exit */
    bool progressed;    /* the last incarnation completed a job */
};

struct child_policy {
    uint32_t backoff_min_ms;
    uint32_t backoff_max_ms;
    uint32_t stable_ms;       /* running this long resets the backoff */
    uint32_t crashloop_count; /* this many crashes ... */
    uint32_t crashloop_ms;    /* ... within this window = degraded */
};

/* Everything a spawn needs, prepared before fork (no allocation after). */
struct spawn_env {
    const char *bin_dir;
    char *const *base_env; /* environ, filtered */
    int shm_fd;
    int parent_fd;
    const char *runtime_dir;
    const char *instance_id; /* names this run in Redis leases */
};

/* Classifies a wait status into an exit event. */
enum child_event child_exit_event(const struct child *c, int wait_status);

/*
 * Feeds one event.  Spawns, schedules or records as the table says; now is
 * monotonic ms.  Returns the new state.
 */
enum child_state child_event(struct child *c, enum child_event ev, uint64_t now,
                             const struct child_policy *pol, const struct spawn_env *env);

/*
 * Records the child's jobs-done counter (the worker table, written by the
 * child itself) when it exits, before the exit event.  A counter above the
 * last one seen means this incarnation completed work, so its death is not
 * a crash loop and the next restart waits only the minimum delay.  The
 * number is only compared, never used to address anything; one that went
 * backwards counts as no progress.
 */
void child_note_jobs(struct child *c, uint64_t jobs_done);

/* True if the child crashed crashloop_count times within crashloop_ms. */
bool child_crashlooping(const struct child *c, uint64_t now, const struct child_policy *pol);

const char *child_state_name(enum child_state s);

/*
 * True when the "NAME=value" entry may pass to filot-gpu-server (index -1):
 * its own OCR_* settings, CUDA/NVIDIA, locale, PATH, HOME, TZ, TMPDIR,
 * LD_LIBRARY_PATH and sanitizer options; never the workers' credentials.
 */
bool child_gpu_env_allowed(const char *entry);

/*
 * fork + exec of bin_dir/program with the prepared environment; index < 0
 * (the GPU server) gets only what child_gpu_env_allowed() lets through.
 */
pid_t child_spawn(const char *program, int index, const struct spawn_env *env);

#endif
