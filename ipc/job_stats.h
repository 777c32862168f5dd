/*
 * job_stats.h - what a worker tells the supervisor about the jobs it ran
 * and the queue it sees, through its row of the shared worker table.
 *
 * Every field is written by one worker process and read by the supervisor,
 * which trusts none of it: counters are turned into bounded deltas and
 * queue sizes into bounded gauges (supervisor/job_metrics.c).  A worker's
 * counters start from 0 in each incarnation (the supervisor zeroes the
 * block when it reaps the previous one), so the supervisor's totals survive
 * restarts.  No job data is stored here, only counts and durations.
 */
#ifndef FILOT_JOB_STATS_H
#define FILOT_JOB_STATS_H

#include <stdatomic.h>
#include <stdint.h>

/* How a claimed job ended (one per job and attempt). */
enum job_outcome {
    JOB_COMPLETED = 0, /* result written and published */
    JOB_FAILED,        /* final failure recorded */
    JOB_RETRIED,       /* attempt failed; back to the queue after a delay */
    JOB_DUPLICATE,     /* already completed: the job was dropped */
    JOB_OUTCOMES
};

/* The verdict of a completed, typed document. */
enum job_decision { JOB_AUTO_APPROVED = 0, JOB_NEEDS_REVIEW, JOB_DECISIONS };

/* Document types, in the order of enum doc_type (ocr-workers/reading). */
enum job_doc_type { JOB_DOC_NONE = 0, JOB_DOC_KTP, JOB_DOC_NPWP, JOB_DOC_TYPES };

/* Where the pages were preprocessed. */
enum job_preprocess { JOB_PRE_CPU = 0, JOB_PRE_GPU, JOB_PREPROCESS };

/* Upper bounds (ms) of the job-duration buckets; one more bucket is +Inf. */
#define JOB_DURATION_BOUNDS_MS                                                                     \
    {                                                                                              \
        100, 250, 500, 1000, 2000, 3000, 5000, 8000, 12000, 20000, 30000, 60000                    \
    }
#define JOB_DURATION_BOUNDS  12
#define JOB_DURATION_BUCKETS (JOB_DURATION_BOUNDS + 1)

/* Counters of one worker incarnation (monotonic while it lives). */
struct shm_job_stats {
    _Atomic uint64_t outcomes[JOB_OUTCOMES];
    _Atomic uint64_t decisions[JOB_DECISIONS];
    /* completed jobs: per-bucket (not cumulative) counts and summed ms */
    _Atomic uint64_t duration_buckets[JOB_DOC_TYPES][JOB_PREPROCESS][JOB_DURATION_BUCKETS];
    _Atomic uint64_t duration_sum_ms[JOB_DOC_TYPES][JOB_PREPROCESS];
};

/* Sizes of the Redis structures, sampled by one worker every few seconds. */
struct shm_queue_sample {
    _Atomic uint64_t sampled_ms; /* monotonic ms of the sample; 0 = none yet */
    _Atomic int64_t queued;      /* LLEN of the queue list */
    _Atomic int64_t processing;  /* SCARD of the processing set */
    _Atomic int64_t delayed;     /* ZCARD of the delayed retries */
    _Atomic int64_t outbox;      /* HLEN of the BULI2 outbox */
};

/* Plain totals with the same shape (the supervisor's sums, /metrics). */
struct job_totals {
    uint64_t outcomes[JOB_OUTCOMES];
    uint64_t decisions[JOB_DECISIONS];
    uint64_t duration_buckets[JOB_DOC_TYPES][JOB_PREPROCESS][JOB_DURATION_BUCKETS];
    uint64_t duration_sum_ms[JOB_DOC_TYPES][JOB_PREPROCESS];
};

/* Label values, indexed by the enums above. */
extern const char *const job_outcome_names[JOB_OUTCOMES];
extern const char *const job_decision_names[JOB_DECISIONS];
extern const char *const job_doc_type_names[JOB_DOC_TYPES];
extern const char *const job_preprocess_names[JOB_PREPROCESS];
extern const uint32_t job_duration_bounds_ms[JOB_DURATION_BOUNDS];

/* Index of the bucket a duration falls in (the last one is +Inf). */
unsigned job_duration_bucket(uint64_t ms);

/* Worker side.  st may be NULL (no shared memory): then nothing is counted. */
void job_stats_count(struct shm_job_stats *st, enum job_outcome o);

/*
 * Counts a completed job: the outcome, its decision (NULL or an unknown
 * word: none), and its duration under (type, preprocess).  preprocess is
 * the result's "preprocess" word ("gpu" or anything else: cpu).
 */
void job_stats_completed(struct shm_job_stats *st, enum job_doc_type type, const char *preprocess,
                         const char *decision, uint64_t duration_ms);

/* Publishes one sample of the Redis sizes (negative: unknown), taken at now. */
void job_queue_sample_store(struct shm_queue_sample *s, uint64_t now, int64_t queued,
                            int64_t processing, int64_t delayed, int64_t outbox);

/* Supervisor side: zeroes the counters of a reaped worker for its successor. */
void job_stats_reset(struct shm_job_stats *st);

/* Decision word of a result ("auto_approve", "needs_review") -> index, or -1. */
int job_decision_parse(const char *decision);

#endif
