/*
 * worker.h - the state of one filot-ocr-worker process and its loop steps.
 */
#ifndef FILOT_WORKER_H
#define FILOT_WORKER_H

#include <stdbool.h>

#include "../common/config.h"
#include "../ipc/shm_pool.h"
#include "db.h"
#include "doc_job.h"
#include "job_source.h"
#include "lease.h"
#include "reading/pipeline.h"
#include "queue.h"
#include "storage.h"

struct worker {
    struct filot_config cfg;
    struct shm_pool pool;
    struct shm_worker *me; /* our row of the worker table */
    int index;
    int parent_fd;
    struct pipeline pl;
    uint32_t jobs_this_process;
    uint64_t started_us; /* worker_init, for the first-claim line's startupMs */
    bool claimed_once;
    /* ipc mode: jobs from filot-ocr's channel */
    struct job_source src;
    bool ipc_mode;
    /* queue mode: jobs from Redis, results to PostgreSQL */
    char instance[128];
    struct queue *q;
    struct db *db;
    struct storage *st;
    struct lease lease;
    struct job_env env;
    uint64_t next_reap_ms;
    uint64_t next_metrics_ms;
    uint64_t next_sample_ms; /* next look at the queue sample (sample_queue) */
    bool reaped_once;
};

/*
 * Start-up; ends by applying OCR_SECCOMP (common/sandbox.h) before the
 * worker reports ready.  Returns 0 or a process exit code (FILOT_EXIT_*).
 */
int worker_init(struct worker *w);

/*
 * Takes and runs at most one job.  Returns false when the loop must end,
 * with the process exit code in *code.
 */
bool worker_step(struct worker *w, int *code);

void worker_close(struct worker *w);

#endif
