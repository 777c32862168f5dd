/*
 * supervisor.h - the state of filot-ocrd and the steps of its main loop.
 *
 * The supervisor creates the shared-memory segment, the runtime directory
 * and the parent-death pipe, then starts, watches and restarts children.
 * It never reads or writes job data (the PostgreSQL postmaster rule): the
 * only shared state it touches is liveness (worker table) and the recovery
 * of slots whose owner died.
 */
#ifndef FILOT_SUPERVISOR_H
#define FILOT_SUPERVISOR_H

#include <stdbool.h>
#include <stdint.h>

#include "../common/config.h"
#include "../ipc/shm_pool.h"
#include "child.h"
#include "http.h"
#include "job_metrics.h"
#include "proc_metrics.h"

struct supervisor {
    struct filot_config cfg;
    struct shm_pool pool;
    struct http_server *http;
    struct child gpu;
    struct child workers[SHM_MAX_WORKERS];
    int nworkers;
    bool gpu_wanted;
    struct child_policy policy;
    struct spawn_env env;
    char bin_dir[4096];
    char runtime_dir[108];
    char instance_id[128];
    bool own_runtime_dir;
    int parent_pipe[2]; /* children hold [0]; EOF tells them we are gone */
    int sigfd;
    uint64_t start_ms;
    bool draining;
    uint64_t drain_deadline_ms;
    bool drain_killed;
    bool notified_ready;
    uint64_t watchdog_interval_us;
    uint64_t next_watchdog_ms;
    uint64_t timeouts_total;
    uint64_t recycles_total;
    char last_status_line[128];
    struct job_metrics jobs;                 /* the workers' job counts, summed */
    struct proc_figures proc;                /* our own process figures */
    uint64_t child_rss[SHM_MAX_WORKERS + 1]; /* [0] gpu server, [1 + i] worker i */
    uint64_t next_proc_sample_ms;
};

/* Start-up: everything before the first spawn.  Returns 0 or an exit code. */
int sup_init(struct supervisor *s);

/* Waits for signals up to timeout_ms and handles them (reap, drain). */
void sup_wait_signals(struct supervisor *s, uint32_t timeout_ms);

/* Periodic work: backoff timers, readiness, job deadlines, drain progress. */
void sup_tick(struct supervisor *s, uint64_t now);

/* Publishes health/metrics and talks to systemd. */
void sup_report(struct supervisor *s, uint64_t now);

/* True once draining has finished (every child is down). */
bool sup_done(const struct supervisor *s);

void sup_shutdown(struct supervisor *s);

#endif
