/*
 * http.h - GET /health and GET /metrics, served by libmicrohttpd from its
 * own thread.
 *
 * The supervisor's main loop owns all state.  After each tick it publishes
 * a copy (struct sup_snapshot) with http_publish(); request handlers only
 * read the latest copy under a mutex, so a slow or hostile HTTP client can
 * never stall supervision.
 */
#ifndef FILOT_HTTP_H
#define FILOT_HTTP_H

#include <stdbool.h>
#include <stdint.h>

#include "ipc/job_stats.h"
#include "supervisor/job_metrics.h"
#include "supervisor/proc_metrics.h"

#define SUP_MAX_CHILDREN 66 /* 64 workers + gpu server + spare */

struct sup_child_view {
    char program[24];     /* "filot-ocr-worker" | "filot-gpu-server" */
    int index;            /* worker index, -1 for the gpu server */
    int pid;              /* 0 when not running */
    char state[16];       /* "starting" "ready" "busy" "backoff" "stopped" "failed" "disabled" */
    uint64_t restarts;    /* times this child was started again */
    uint64_t jobs_done;   /* jobs finished by this slot's workers (all incarnations) */
    uint64_t busy_ms;     /* how long the current job has run, 0 when idle */
    int last_exit_code;   /* -1 if none or killed by a signal */
    int last_exit_signal; /* 0 if none */
    uint64_t rss_bytes;   /* resident memory (kernel's view), 0 when not running */
};

/* Exclusive states of a worker slot (each worker is in exactly one). */
enum sup_worker_state {
    SW_STARTING = 0,
    SW_IDLE,
    SW_BUSY,
    SW_BACKOFF,
    SW_STOPPING,
    SW_STOPPED,
    SW_FAILED,
    SW_STATES
};

struct sup_snapshot {
    uint64_t uptime_ms;
    bool ready;       /* at least one worker can take a job and not draining */
    bool draining;    /* SIGTERM received */
    bool degraded;    /* a child is crash-looping or failed permanently */
    char reason[160]; /* why not ready / degraded, "" when healthy */
    int workers_total;
    int workers_ready; /* idle + busy */
    int workers_busy;
    char gpu_state[16];  /* "ready" "starting" "unavailable" "disabled" "down" */
    char gpu_device[64]; /* device name or "" */
    char redis_state[8]; /* "up" "down" "n/a" (n/a: no worker uses Redis) */
    char postgres_state[8];
    uint64_t restarts_total;
    uint64_t crashes_total;      /* abnormal exits (signal or unexpected code) */
    uint64_t job_timeouts_total; /* workers killed for OCR_JOB_TIMEOUT_MS */
    uint64_t recycles_total;     /* workers replaced for job count / RSS */
    uint64_t jobs_total;
    uint64_t gpu_jobs_total;        /* preprocessed by the GPU server */
    uint64_t cpu_jobs_total;        /* preprocessed by the CPU twin */
    uint64_t listener_resets_total; /* nng listener re-created (nng #1518) */
    uint32_t slots_total;
    uint32_t slots_in_use;
    uint64_t shm_bytes;
    uint64_t rss_kb; /* supervisor's own RSS */
    /* readiness (/ready): can this instance take work now? */
    bool queue_mode;         /* jobs come from Redis (not filot-ocr's channel) */
    bool accepting;          /* workers ready, dependencies up, not draining */
    char not_accepting[160]; /* why not, "" when accepting */
    int workers_by_state[SW_STATES];
    struct job_totals jobs;         /* summed over every worker incarnation */
    uint64_t counter_rejects_total; /* implausible shared-memory readings ignored */
    struct job_queue_gauges queue;  /* Redis sizes as a worker sampled them */
    struct proc_figures proc;       /* the supervisor process */
    int nchildren;
    struct sup_child_view children[SUP_MAX_CHILDREN];
};

struct http_server;

/* Binds bind_addr:port (IPv4 dotted) and starts serving; port 0 is refused. */
int http_start(const char *bind_addr, int port, struct http_server **out);

/* Replaces the snapshot the handlers serve (copied under the mutex). */
void http_publish(struct http_server *srv, const struct sup_snapshot *snap);

/* Stops the server thread and frees everything.  NULL is a no-op. */
void http_stop(struct http_server *srv);

/* Renderers, exposed for tests.  Return malloc'd text (caller frees) or NULL. */
char *http_render_health(const struct sup_snapshot *snap, int *status);
char *http_render_ready(const struct sup_snapshot *snap, int *status);
char *http_render_metrics(const struct sup_snapshot *snap);

#endif
