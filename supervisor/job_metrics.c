/*
 * job_metrics.c - bounded accumulation of the workers' job statistics.
 */
#include "job_metrics.h"

#include <string.h>

#include "../common/log.h"

/* total += delta without wrapping. */
static void add_saturating(uint64_t *total, uint64_t delta)
{
    *total = *total > UINT64_MAX - delta ? UINT64_MAX : *total + delta;
}

/*
 * The growth of one counter since the last reading: a smaller value means
 * the counter restarted from 0.  Returns false (and keeps *seen) when the
 * growth exceeds max: that reading is ignored.
 */
static bool counter_delta(uint64_t cur, uint64_t *seen, uint64_t max, uint64_t *delta)
{
    uint64_t d = cur >= *seen ? cur - *seen : cur;
    if (d > max)
        return false;
    *seen = cur;
    *delta = d;
    return true;
}

/* Adds one counter's growth to total; false when the reading was refused. */
static bool collect_one(const _Atomic uint64_t *src, uint64_t *seen, uint64_t *total, uint64_t max)
{
    uint64_t d;
    if (!counter_delta(atomic_load(src), seen, max, &d))
        return false;
    add_saturating(total, d);
    return true;
}

/* One histogram cell: the sum may grow by at most its jobs times the longest job. */
static bool collect_cell(struct job_metrics *m, int index, const struct shm_job_stats *st,
                         unsigned t, unsigned p)
{
    struct job_totals *seen = &m->seen[index];
    bool ok = true;
    uint64_t jobs = 0;
    for (unsigned b = 0; b < JOB_DURATION_BUCKETS; b++) {
        uint64_t before = m->total.duration_buckets[t][p][b];
        ok &= collect_one(&st->duration_buckets[t][p][b], &seen->duration_buckets[t][p][b],
                          &m->total.duration_buckets[t][p][b], JOB_METRICS_MAX_DELTA);
        jobs += m->total.duration_buckets[t][p][b] - before;
    }
    ok &= collect_one(&st->duration_sum_ms[t][p], &seen->duration_sum_ms[t][p],
                      &m->total.duration_sum_ms[t][p], jobs * (uint64_t)JOB_METRICS_MAX_JOB_MS);
    return ok;
}

void job_metrics_collect(struct job_metrics *m, int index, const struct shm_job_stats *st)
{
    if (index < 0 || index >= SHM_MAX_WORKERS)
        return;
    struct job_totals *seen = &m->seen[index];
    bool ok = true;
    for (unsigned t = 0; t < JOB_DOC_TYPES; t++)
        for (unsigned p = 0; p < JOB_PREPROCESS; p++)
            ok &= collect_cell(m, index, st, t, p);
    for (unsigned i = 0; i < JOB_DECISIONS; i++)
        ok &= collect_one(&st->decisions[i], &seen->decisions[i], &m->total.decisions[i],
                          JOB_METRICS_MAX_DELTA);
    for (unsigned i = 0; i < JOB_OUTCOMES; i++)
        ok &= collect_one(&st->outcomes[i], &seen->outcomes[i], &m->total.outcomes[i],
                          JOB_METRICS_MAX_DELTA);
    if (ok)
        return;
    add_saturating(&m->rejected_total, 1);
    if (!m->warned[index]) {
        m->warned[index] = true;
        log_kv(LOG_WARN, "Ignoring an implausible job counter in shared memory", LF_INT, "index",
               (long long)index, LF_END);
    }
}

void job_metrics_restart(struct job_metrics *m, int index, struct shm_job_stats *st)
{
    if (index < 0 || index >= SHM_MAX_WORKERS)
        return;
    job_stats_reset(st);
    memset(&m->seen[index], 0, sizeof m->seen[index]);
    m->warned[index] = false;
}

/* One row's sample if it is fresh and every size is in range. */
static bool sample_valid(const struct shm_queue_sample *q, uint64_t now, struct job_queue_gauges *g)
{
    uint64_t at = atomic_load(&q->sampled_ms);
    if (at == 0 || at > now || now - at > JOB_QUEUE_SAMPLE_MAX_AGE_MS)
        return false;
    g->age_ms = now - at;
    g->queued = atomic_load(&q->queued);
    g->processing = atomic_load(&q->processing);
    g->delayed = atomic_load(&q->delayed);
    g->outbox = atomic_load(&q->outbox);
    const int64_t v[] = {g->queued, g->processing, g->delayed, g->outbox};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        if (v[i] < 0 || v[i] > JOB_QUEUE_SIZE_MAX)
            return false;
    return atomic_load(&q->sampled_ms) == at; /* not rewritten while we read */
}

void job_metrics_queue(const struct shm_worker *rows, const bool *live, int n, uint64_t now,
                       struct job_queue_gauges *out)
{
    memset(out, 0, sizeof *out);
    if (n > SHM_MAX_WORKERS)
        n = SHM_MAX_WORKERS;
    for (int i = 0; i < n; i++) {
        struct job_queue_gauges g;
        if (!live[i] || !sample_valid(&rows[i].queue, now, &g))
            continue;
        if (!out->known || g.age_ms < out->age_ms) {
            *out = g;
            out->known = true;
        }
    }
}
