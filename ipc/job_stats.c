/*
 * job_stats.c - the worker side of the job statistics in shared memory and
 * the label words both sides use.
 */
#include "job_stats.h"

#include <stddef.h>
#include <string.h>

const char *const job_outcome_names[JOB_OUTCOMES] = {"completed", "failed", "retried", "duplicate"};
const char *const job_decision_names[JOB_DECISIONS] = {"auto_approved", "needs_review"};
const char *const job_doc_type_names[JOB_DOC_TYPES] = {"none", "ktp", "npwp"};
const char *const job_preprocess_names[JOB_PREPROCESS] = {"cpu", "gpu"};
const uint32_t job_duration_bounds_ms[JOB_DURATION_BOUNDS] = JOB_DURATION_BOUNDS_MS;

/* Buckets are "less than or equal" (Prometheus le): 100 ms falls in le=0.1. */
unsigned job_duration_bucket(uint64_t ms)
{
    unsigned i = 0;
    while (i < JOB_DURATION_BOUNDS && ms > job_duration_bounds_ms[i])
        i++;
    return i;
}

void job_stats_count(struct shm_job_stats *st, enum job_outcome o)
{
    if (st != NULL && (unsigned)o < JOB_OUTCOMES)
        atomic_fetch_add(&st->outcomes[o], 1);
}

/* The pipeline's words are "auto_approve" and "needs_review". */
int job_decision_parse(const char *decision)
{
    if (decision == NULL)
        return -1;
    if (strcmp(decision, "auto_approve") == 0)
        return JOB_AUTO_APPROVED;
    if (strcmp(decision, "needs_review") == 0)
        return JOB_NEEDS_REVIEW;
    return -1;
}

/*
 * The bucket is added before the sum and the outcome: a reader that sees
 * the completed count grow never sees a histogram that lacks the job.
 */
void job_stats_completed(struct shm_job_stats *st, enum job_doc_type type, const char *preprocess,
                         const char *decision, uint64_t duration_ms)
{
    if (st == NULL)
        return;
    unsigned t = (unsigned)type < JOB_DOC_TYPES ? (unsigned)type : JOB_DOC_NONE;
    unsigned p = preprocess != NULL && strcmp(preprocess, "gpu") == 0 ? JOB_PRE_GPU : JOB_PRE_CPU;
    atomic_fetch_add(&st->duration_buckets[t][p][job_duration_bucket(duration_ms)], 1);
    atomic_fetch_add(&st->duration_sum_ms[t][p], duration_ms);
    int d = job_decision_parse(decision);
    if (d >= 0)
        atomic_fetch_add(&st->decisions[d], 1);
    atomic_fetch_add(&st->outcomes[JOB_COMPLETED], 1);
}

/* The time goes last: a reader that sees it sees the sizes it stamps. */
void job_queue_sample_store(struct shm_queue_sample *s, uint64_t now, int64_t queued,
                            int64_t processing, int64_t delayed, int64_t outbox)
{
    atomic_store(&s->queued, queued);
    atomic_store(&s->processing, processing);
    atomic_store(&s->delayed, delayed);
    atomic_store(&s->outbox, outbox);
    atomic_store(&s->sampled_ms, now);
}

void job_stats_reset(struct shm_job_stats *st)
{
    for (unsigned i = 0; i < JOB_OUTCOMES; i++)
        atomic_store(&st->outcomes[i], 0);
    for (unsigned i = 0; i < JOB_DECISIONS; i++)
        atomic_store(&st->decisions[i], 0);
    for (unsigned t = 0; t < JOB_DOC_TYPES; t++)
        for (unsigned p = 0; p < JOB_PREPROCESS; p++) {
            for (unsigned b = 0; b < JOB_DURATION_BUCKETS; b++)
                atomic_store(&st->duration_buckets[t][p][b], 0);
            atomic_store(&st->duration_sum_ms[t][p], 0);
        }
}
