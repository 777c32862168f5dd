/*
 * test_job_metrics.c - the supervisor's sums of what workers write into
 * shared memory: deltas across readings, a worker restart (counters back
 * to 0) keeps the totals, forged values never make a total go backwards or
 * wrap, and queue samples are used only when fresh and in range.  The rows
 * are real shared memory from shm_pool_create().
 */
#include <check.h>

#include "check_run.h"
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "ipc/shm_pool.h"
#include "supervisor/job_metrics.h"

static struct shm_pool pool;
static struct job_metrics jm;

static void setup(void)
{
    char name[64], err[256];
    snprintf(name, sizeof name, "/filot-test-jm.%d", (int)getpid());
    ck_assert_msg(shm_pool_create(&pool, name, 4u << 20, 2, 2, err, sizeof err) == 0, "%s", err);
    memset(&jm, 0, sizeof jm);
}

static void teardown(void)
{
    shm_pool_close(&pool);
}

static struct shm_job_stats *row(int i)
{
    return &pool.hdr->workers[i].stats;
}

START_TEST(test_deltas_and_histogram)
{
    job_stats_completed(row(0), JOB_DOC_KTP, "gpu", "auto_approve", 100);
    job_stats_completed(row(0), JOB_DOC_KTP, "gpu", "needs_review", 1500);
    job_stats_completed(row(1), JOB_DOC_NPWP, "cpu", "needs_review", 99000);
    job_stats_count(row(1), JOB_FAILED);
    job_stats_count(row(1), JOB_RETRIED);
    for (int round = 0; round < 3; round++) /* reading again adds nothing */
        for (int i = 0; i < 2; i++)
            job_metrics_collect(&jm, i, row(i));
    ck_assert_uint_eq(jm.total.outcomes[JOB_COMPLETED], 3);
    ck_assert_uint_eq(jm.total.outcomes[JOB_FAILED], 1);
    ck_assert_uint_eq(jm.total.outcomes[JOB_RETRIED], 1);
    ck_assert_uint_eq(jm.total.decisions[JOB_AUTO_APPROVED], 1);
    ck_assert_uint_eq(jm.total.decisions[JOB_NEEDS_REVIEW], 2);
    /* le is inclusive: 100 ms in the 0.1 s bucket, 1500 ms in 2 s, 99 s in +Inf */
    ck_assert_uint_eq(jm.total.duration_buckets[JOB_DOC_KTP][JOB_PRE_GPU][0], 1);
    ck_assert_uint_eq(jm.total.duration_buckets[JOB_DOC_KTP][JOB_PRE_GPU][4], 1);
    ck_assert_uint_eq(jm.total.duration_buckets[JOB_DOC_NPWP][JOB_PRE_CPU][JOB_DURATION_BOUNDS], 1);
    ck_assert_uint_eq(jm.total.duration_sum_ms[JOB_DOC_KTP][JOB_PRE_GPU], 1600);
    ck_assert_uint_eq(jm.rejected_total, 0);
}
END_TEST

/* The supervisor's reap path: last reading, zero, successor counts from 0. */
START_TEST(test_restart_keeps_totals)
{
    for (int i = 0; i < 5; i++)
        job_stats_completed(row(0), JOB_DOC_KTP, "cpu", "auto_approve", 2000);
    job_metrics_collect(&jm, 0, row(0));
    job_stats_completed(row(0), JOB_DOC_KTP, "cpu", "auto_approve", 2000); /* not read yet */
    job_metrics_collect(&jm, 0, row(0));
    job_metrics_restart(&jm, 0, row(0));
    ck_assert_uint_eq(atomic_load(&row(0)->outcomes[JOB_COMPLETED]), 0);
    job_stats_completed(row(0), JOB_DOC_KTP, "cpu", "auto_approve", 2000);
    job_metrics_collect(&jm, 0, row(0));
    ck_assert_uint_eq(jm.total.outcomes[JOB_COMPLETED], 7);
    ck_assert_uint_eq(jm.total.duration_sum_ms[JOB_DOC_KTP][JOB_PRE_CPU], 14000);

    /* A worker that restarted without our zeroing (smaller value): from 0. */
    atomic_store(&row(0)->outcomes[JOB_COMPLETED], 0);
    job_metrics_collect(&jm, 0, row(0));
    atomic_store(&row(0)->outcomes[JOB_COMPLETED], 2);
    job_metrics_collect(&jm, 0, row(0));
    ck_assert_uint_eq(jm.total.outcomes[JOB_COMPLETED], 9);
}
END_TEST

/* Forged values: ignored jumps, no wrap, never backwards. */
START_TEST(test_forged_values)
{
    job_stats_count(row(1), JOB_FAILED);
    job_metrics_collect(&jm, 1, row(1));
    atomic_store(&row(1)->outcomes[JOB_FAILED], UINT64_MAX);
    atomic_store(&row(1)->duration_sum_ms[JOB_DOC_KTP][JOB_PRE_GPU], UINT64_MAX - 5);
    job_metrics_collect(&jm, 1, row(1));
    ck_assert_uint_eq(jm.total.outcomes[JOB_FAILED], 1);
    ck_assert_uint_eq(jm.total.duration_sum_ms[JOB_DOC_KTP][JOB_PRE_GPU], 0);
    ck_assert_uint_eq(jm.rejected_total, 1);
    /* a duration sum without jobs cannot grow either */
    atomic_store(&row(1)->duration_sum_ms[JOB_DOC_KTP][JOB_PRE_GPU], 5000);
    job_metrics_collect(&jm, 1, row(1));
    ck_assert_uint_eq(jm.total.duration_sum_ms[JOB_DOC_KTP][JOB_PRE_GPU], 0);
    /* a total near the top saturates instead of wrapping */
    jm.total.outcomes[JOB_RETRIED] = UINT64_MAX - 1;
    atomic_store(&row(1)->outcomes[JOB_RETRIED], 5);
    job_metrics_collect(&jm, 1, row(1));
    ck_assert_uint_eq(jm.total.outcomes[JOB_RETRIED], UINT64_MAX);
    /* out-of-range index: ignored */
    job_metrics_collect(&jm, -1, row(1));
    job_metrics_collect(&jm, SHM_MAX_WORKERS, row(1));
}
END_TEST

START_TEST(test_queue_sample)
{
    bool live[2] = {true, true};
    struct job_queue_gauges g;
    job_metrics_queue(pool.hdr->workers, live, 2, 100000, &g);
    ck_assert(!g.known);
    job_queue_sample_store(&pool.hdr->workers[0].queue, 90000, 5, 1, 2, 3);
    job_queue_sample_store(&pool.hdr->workers[1].queue, 95000, 6, 1, 2, 3);
    job_metrics_queue(pool.hdr->workers, live, 2, 100000, &g);
    ck_assert(g.known);
    ck_assert_int_eq(g.queued, 6); /* the newest */
    ck_assert_uint_eq(g.age_ms, 5000);
    live[1] = false; /* a dead worker's sample is not used */
    job_metrics_queue(pool.hdr->workers, live, 2, 100000, &g);
    ck_assert_int_eq(g.queued, 5);
    /* stale, from the future, negative or absurd: refused */
    job_metrics_queue(pool.hdr->workers, live, 2, 90000 + JOB_QUEUE_SAMPLE_MAX_AGE_MS + 1, &g);
    ck_assert(!g.known);
    job_queue_sample_store(&pool.hdr->workers[0].queue, 200000, 5, 1, 2, 3);
    job_metrics_queue(pool.hdr->workers, live, 2, 100000, &g);
    ck_assert(!g.known);
    job_queue_sample_store(&pool.hdr->workers[0].queue, 99000, -1, 1, 2, 3);
    job_metrics_queue(pool.hdr->workers, live, 2, 100000, &g);
    ck_assert(!g.known);
    job_queue_sample_store(&pool.hdr->workers[0].queue, 99000, 5, 1, 2, INT64_MAX);
    job_metrics_queue(pool.hdr->workers, live, 2, 100000, &g);
    ck_assert(!g.known);
    /* n beyond the table is bounded */
    bool all[SHM_MAX_WORKERS + 8] = {false};
    job_metrics_queue(pool.hdr->workers, all, SHM_MAX_WORKERS + 8, 100000, &g);
    ck_assert(!g.known);
}
END_TEST

START_TEST(test_bucket_bounds)
{
    ck_assert_uint_eq(job_duration_bucket(0), 0);
    ck_assert_uint_eq(job_duration_bucket(100), 0);
    ck_assert_uint_eq(job_duration_bucket(101), 1);
    ck_assert_uint_eq(job_duration_bucket(60000), JOB_DURATION_BOUNDS - 1);
    ck_assert_uint_eq(job_duration_bucket(60001), JOB_DURATION_BOUNDS);
    ck_assert_int_eq(job_decision_parse("auto_approve"), JOB_AUTO_APPROVED);
    ck_assert_int_eq(job_decision_parse("needs_review"), JOB_NEEDS_REVIEW);
    ck_assert_int_eq(job_decision_parse("reject"), -1);
    ck_assert_int_eq(job_decision_parse(NULL), -1);
}
END_TEST

static Suite *job_metrics_suite(void)
{
    Suite *s = suite_create("job_metrics");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_deltas_and_histogram);
    tcase_add_test(tc, test_restart_keeps_totals);
    tcase_add_test(tc, test_forged_values);
    tcase_add_test(tc, test_queue_sample);
    tcase_add_test(tc, test_bucket_bounds);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    log_init("test_job_metrics", LOG_ERROR);
    return check_run(job_metrics_suite());
}
