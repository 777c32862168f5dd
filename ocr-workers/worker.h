/*
 * worker.h - the state of one filot-ocr-worker process and its loop steps.
 */
#ifndef FILOT_WORKER_H
#define FILOT_WORKER_H

#include <stdbool.h>

#include "../common/config.h"
#include "../ipc/shm_pool.h"
#include "job_source.h"
#include "pipeline.h"

struct worker {
    struct filot_config cfg;
    struct shm_pool pool;
    struct shm_worker *me; /* our row of the worker table */
    int index;
    int parent_fd;
    struct pipeline pl;
    struct job_source src;
    bool have_source;
    bool warned_no_source;
    uint32_t jobs_this_process;
};

/* Start-up.  Returns 0 or a process exit code (FILOT_EXIT_*). */
int worker_init(struct worker *w);

/*
 * Takes and runs at most one job.  Returns false when the loop must end,
 * with the process exit code in *code.
 */
bool worker_step(struct worker *w, int *code);

void worker_close(struct worker *w);

#endif
