/*
 * doc_job.h - one FiLot document job in queue mode: the original's
 * processDocumentGPU flow (doc/COMPATIBILITY.md 1.5 and 2.3) without its bugs.
 *
 * Row writes follow the original's order (processing -> ocr_completed ->
 * ai_evaluated -> completed), the final write is one idempotent statement,
 * the result is published only after it committed, and an escalation is
 * recorded durably (Redis outbox) before the commit so it cannot be lost
 * (B2).  Failures are classified: bad input fails the document at once
 * with a specific error; a fault counts against OCR_GPU_MAX_RETRIES and
 * is retried after a backoff (B1), then the CPU fallback rule applies;
 * an infrastructure outage (database, storage) is retried without end.
 */
#ifndef FILOT_DOC_JOB_H
#define FILOT_DOC_JOB_H

#include "../common/config.h"
#include "../ipc/job_stats.h"
#include "db.h"
#include "lease.h"
#include "reading/pipeline.h"
#include "queue.h"
#include "storage.h"

struct job_env {
    const struct filot_config *cfg;
    struct pipeline *pl;
    struct queue *q;
    struct db *db;
    struct storage *st;
    struct lease *lease;
    uint64_t processed; /* counters for metrics, since the last EMF line */
    uint64_t failed;
    /* called while waiting out an outage, so the worker can report it */
    void (*waiting)(void *ctx);
    void *waiting_ctx;
    struct shm_job_stats *stats; /* the worker's row (/metrics); NULL: not counted */
};

/*
 * Runs a claimed job to one of: completed, failed, or queued for retry.
 * claim_us: how long the claim took, the first of the job-done line's
 * "stagesMs" (stage_times.h).
 */
void doc_job_run(struct job_env *env, const struct claim *c, uint64_t claim_us);

/*
 * Counts a finished pipeline result in st for /metrics: completed (with its
 * decision, duration and preprocess) when "success" is true, else failed.
 */
void doc_job_count_result(struct shm_job_stats *st, enum doc_type type, const json_t *result,
                          uint64_t duration_ms);

/* Fails a job the reaper found stuck past the retry limit (now ours). */
void doc_job_fail_stuck(struct job_env *env, const struct claim *c);

/* Delivers up to max due BULI2 escalations; returns how many were handled. */
int doc_job_deliver_escalations(struct job_env *env, int max);

#endif
