/*
 * job_metrics.h - the supervisor's running totals of what its workers
 * report through shared memory (job outcomes, durations, queue sizes).
 *
 * A worker can write anything into its row, so nothing is taken as is:
 * counters become deltas against the last reading of the same row, a
 * smaller reading counts as a restart from 0, implausible jumps are
 * ignored and totals saturate, so a forged value can never make a total
 * go backwards or wrap.  Queue sizes are used only when fresh and in range.
 */
#ifndef FILOT_JOB_METRICS_H
#define FILOT_JOB_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "../ipc/shm_pool.h"

/* The most one counter may grow between two readings (10 per ms at 10 Hz). */
#define JOB_METRICS_MAX_DELTA 1000u
/* The longest a job can plausibly run (OCR_JOB_TIMEOUT_MS is far below). */
#define JOB_METRICS_MAX_JOB_MS (24u * 3600u * 1000u)
/* Queue sizes older than this are not shown. */
#define JOB_QUEUE_SAMPLE_MAX_AGE_MS 30000u
/* Larger queue sizes are treated as forged. */
#define JOB_QUEUE_SIZE_MAX 1000000000000LL

struct job_metrics {
    struct job_totals total;                 /* what /metrics shows */
    struct job_totals seen[SHM_MAX_WORKERS]; /* last reading of each worker row */
    bool warned[SHM_MAX_WORKERS];            /* one log line per row and incarnation */
    uint64_t rejected_total;                 /* readings ignored as implausible */
};

/* The Redis sizes /metrics shows; known is false when no fresh sample exists. */
struct job_queue_gauges {
    bool known;
    uint64_t age_ms;
    int64_t queued, processing, delayed, outbox;
};

/* Adds what row index reported since the last reading (index < SHM_MAX_WORKERS). */
void job_metrics_collect(struct job_metrics *m, int index, const struct shm_job_stats *st);

/*
 * After the last reading of a reaped worker: zeroes its row's counters and
 * our memory of them, so its successor counts from 0.
 */
void job_metrics_restart(struct job_metrics *m, int index, struct shm_job_stats *st);

/*
 * Picks the newest valid queue sample among the rows whose live[i] is set
 * (n rows, at most SHM_MAX_WORKERS).  now is monotonic ms.
 */
void job_metrics_queue(const struct shm_worker *rows, const bool *live, int n, uint64_t now,
                       struct job_queue_gauges *out);

#endif
