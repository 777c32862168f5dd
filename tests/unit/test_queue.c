/*
 * test_queue.c - the Redis scripts of the job queue against a real
 * redis-server: atomic claim, dedup on enqueue, lease renewal, completion
 * and retry only by the owner, and the reaper's rules.
 */
#include <check.h>

#include "check_run.h"
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "common/status.h"
#include "ocr-workers/queue.h"

static char dir[64];
static char url[128];
static redisContext *rc;

/* One redis-server for the suite (tests/servers.sh), flushed per test. */
static void suite_setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/filot-queue.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char cmd[256];
    snprintf(cmd, sizeof cmd, "tests/servers.sh start %s redis >/dev/null", dir);
    ck_assert_int_eq(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s/env", dir);
    FILE *f = fopen(cmd, "r");
    ck_assert_ptr_nonnull(f);
    char line[256];
    while (fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, "REDIS_URL=", 10) == 0)
            snprintf(url, sizeof url, "%.*s", (int)strcspn(line + 10, "\n"), line + 10);
    fclose(f);
}

static void suite_teardown(void)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "tests/servers.sh stop %s; rm -rf %s", dir, dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not stop the test redis\n");
}

static struct filot_config cfg;

static void setup(void)
{
    char err[256];
    setenv("REDIS_URL", url, 1);
    setenv("OCR_GPU_MAX_RETRIES", "2", 1);
    setenv("OCR_GPU_STUCK_TIMEOUT", "1000", 1);
    setenv("OCR_GPU_LOCK_TTL", "60", 1);
    ck_assert_int_eq(config_load(&cfg, err, sizeof err), 0);
    int port = atoi(strrchr(url, ':') + 1);
    rc = redisConnect("127.0.0.1", port);
    ck_assert(rc != NULL && rc->err == 0);
    freeReplyObject(redisCommand(rc, "FLUSHALL"));
}

static void teardown(void)
{
    redisFree(rc);
}

static long long rint_(const char *fmt, const char *a)
{
    redisReply *r = redisCommand(rc, fmt, a);
    long long v = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    return v;
}

static struct queue *open_q(const char *instance, int index)
{
    struct queue *q;
    char err[256];
    ck_assert_int_eq(queue_open(&cfg, instance, index, &q, err, sizeof err), 0);
    return q;
}

START_TEST(test_enqueue_dedup_and_claim)
{
    struct queue *q = open_q("inst-a", 0);
    bool added;
    ck_assert_int_eq(queue_enqueue(q, "doc-1", &added), 0);
    ck_assert(added);
    ck_assert_int_eq(queue_enqueue(q, "doc-1", &added), 0);
    ck_assert(!added); /* already queued */
    ck_assert_int_eq(rint_("LLEN %s", cfg.queue_key), 1);
    struct claim c;
    ck_assert_int_eq(queue_claim(q, &c), 0);
    ck_assert_str_eq(c.id, "doc-1");
    ck_assert_int_eq(c.attempts, 1);
    ck_assert_int_eq(strlen(c.correlation), 36);
    ck_assert_int_eq(rint_("SISMEMBER %s doc-1", cfg.processing_key), 1);
    ck_assert_int_eq(rint_("EXISTS %s", "filot:ocr:gpu:lock:doc-1"), 1);
    ck_assert_int_eq(queue_enqueue(q, "doc-1", &added), 0);
    ck_assert(!added); /* being processed */
    ck_assert_int_eq(queue_claim(q, &c), FILOT_EBUSY);
    queue_close(q);
}
END_TEST

/* The original API's way: RPUSH + HSET attempts 0, no correlation. */
START_TEST(test_claims_original_payloads)
{
    freeReplyObject(redisCommand(rc, "RPUSH %s doc-2", cfg.queue_key));
    freeReplyObject(redisCommand(rc, "HSET %s doc-2 0", cfg.attempts_key));
    struct queue *q = open_q("inst-a", 0);
    struct claim c;
    ck_assert_int_eq(queue_claim(q, &c), 0);
    ck_assert_str_eq(c.id, "doc-2");
    ck_assert_int_eq(c.attempts, 1);
    redisReply *r = redisCommand(rc, "HGET filot:ocr:gpu:correlation doc-2");
    ck_assert_str_eq(r->str, c.correlation);
    freeReplyObject(r);
    queue_close(q);
}
END_TEST

START_TEST(test_only_the_owner_completes)
{
    struct queue *a = open_q("inst-a", 0), *b = open_q("inst-b", 0);
    bool added;
    queue_enqueue(a, "doc-3", &added);
    struct claim c;
    ck_assert_int_eq(queue_claim(a, &c), 0);
    ck_assert_int_eq(queue_complete(b, &c), FILOT_ESTALE);
    ck_assert_int_eq(queue_renew(b, &c), FILOT_ESTALE);
    ck_assert_int_eq(queue_renew(a, &c), 0);
    ck_assert_int_eq(queue_complete(a, &c), 0);
    ck_assert_int_eq(rint_("SCARD %s", cfg.processing_key), 0);
    ck_assert_int_eq(rint_("HEXISTS %s doc-3", cfg.attempts_key), 0);
    ck_assert_int_eq(rint_("EXISTS %s", "filot:ocr:gpu:lock:doc-3"), 0);
    ck_assert_int_eq(rint_("HLEN %s", "filot:ocr:gpu:owners"), 0);
    queue_close(a);
    queue_close(b);
}
END_TEST

START_TEST(test_retry_waits_and_uncounted_gives_back)
{
    struct queue *q = open_q("inst-a", 0);
    bool added;
    queue_enqueue(q, "doc-4", &added);
    struct claim c;
    queue_claim(q, &c);
    ck_assert_int_eq(queue_retry_later(q, &c, 400, false), 0);
    ck_assert_int_eq(queue_claim(q, &c), FILOT_EBUSY); /* not due yet */
    usleep(500 * 1000);
    ck_assert_int_eq(queue_claim(q, &c), 0);
    ck_assert_int_eq(c.attempts, 1); /* the outage did not count */
    ck_assert_int_eq(queue_retry_later(q, &c, 0, true), 0);
    ck_assert_int_eq(queue_claim(q, &c), 0);
    ck_assert_int_eq(c.attempts, 2);
    queue_close(q);
}
END_TEST

/* Jobs of a dead instance go back; past the limit they are handed over to fail. */
START_TEST(test_reaper_rules)
{
    struct queue *dead = open_q("inst-dead", 1), *live = open_q("inst-live", 0);
    bool added;
    queue_enqueue(dead, "doc-5", &added);
    queue_enqueue(dead, "doc-6", &added);
    struct claim c5, c6;
    queue_claim(dead, &c5);
    queue_claim(dead, &c6);
    freeReplyObject(redisCommand(rc, "HSET %s doc-6 2", cfg.attempts_key)); /* at the limit */
    queue_heartbeat(live);
    struct reaped out[4];
    int n, requeued;
    /* the dead instance never sent a heartbeat: its jobs are abandoned */
    ck_assert_int_eq(queue_reap(live, true, out, 4, &n, &requeued), 0);
    ck_assert_int_eq(requeued, 1);
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(out[0].id, "doc-6");
    ck_assert_str_eq(out[0].correlation, c6.correlation);
    struct claim back;
    ck_assert_int_eq(queue_claim(live, &back), 0);
    ck_assert_str_eq(back.id, "doc-5");
    /* the exhausted one is now ours: we can complete it after failing it */
    struct claim mine = {.attempts = 2};
    snprintf(mine.id, sizeof mine.id, "doc-6");
    ck_assert_int_eq(queue_complete(live, &mine), 0);
    /* a live job of a live instance is never touched */
    ck_assert_int_eq(queue_reap(dead, true, out, 4, &n, &requeued), 0);
    ck_assert_int_eq(requeued + n, 0);
    /* the reaper runs once per interval fleet-wide unless forced */
    ck_assert_int_eq(queue_reap(live, false, out, 4, &n, &requeued), 0);
    ck_assert_int_eq(queue_reap(dead, false, out, 4, &n, &requeued), FILOT_EBUSY);
    queue_close(dead);
    queue_close(live);
}
END_TEST

/* A restarted worker in the same slot requeues its predecessor's job at once. */
START_TEST(test_predecessor_recovery)
{
    struct queue *before = open_q("inst-a", 3);
    queue_heartbeat(before);
    bool added;
    queue_enqueue(before, "doc-7", &added);
    struct claim c;
    queue_claim(before, &c);
    queue_close(before); /* "killed" */
    struct queue *after = open_q("inst-a", 3);
    struct reaped out[2];
    int n, requeued;
    ck_assert_int_eq(queue_reap(after, true, out, 2, &n, &requeued), 0);
    ck_assert_int_eq(requeued, 1);
    ck_assert_int_eq(queue_claim(after, &c), 0);
    ck_assert_str_eq(c.id, "doc-7");
    ck_assert_int_eq(c.attempts, 2);
    queue_close(after);
}
END_TEST

START_TEST(test_outbox_lease_and_defer)
{
    struct queue *q = open_q("inst-a", 0);
    ck_assert_int_eq(queue_outbox_put(q, "doc-8", "{\"attempts\":0}"), 0);
    char id[64], *payload = NULL;
    ck_assert_int_eq(queue_outbox_take(q, 60000, id, sizeof id, &payload), 0);
    ck_assert_str_eq(id, "doc-8");
    free(payload);
    /* leased: a second worker does not get it */
    ck_assert_int_eq(queue_outbox_take(q, 60000, id, sizeof id, &payload), FILOT_EBUSY);
    ck_assert_int_eq(queue_outbox_defer(q, "doc-8", "{\"attempts\":1}", 0), 0);
    ck_assert_int_eq(queue_outbox_take(q, 60000, id, sizeof id, &payload), 0);
    ck_assert_str_eq(payload, "{\"attempts\":1}");
    free(payload);
    ck_assert_int_eq(queue_outbox_done(q, "doc-8"), 0);
    ck_assert_int_eq(queue_outbox_length(q), 0);
    queue_close(q);
}
END_TEST

START_TEST(test_unreachable_and_tls_refused)
{
    struct filot_config c2 = cfg;
    snprintf(c2.redis_url, sizeof c2.redis_url, "redis://127.0.0.1:1");
    struct queue *q;
    char err[256];
    ck_assert_int_eq(queue_open(&c2, "x", 0, &q, err, sizeof err), 0);
    struct claim c;
    ck_assert_int_eq(queue_claim(q, &c), FILOT_EUNAVAIL);
    ck_assert(!queue_healthy(q));
    queue_close(q);
    snprintf(c2.redis_url, sizeof c2.redis_url, "rediss://redis.example:6380");
    ck_assert_int_eq(queue_open(&c2, "x", 0, &q, err, sizeof err), FILOT_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "rediss://"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("queue");
    TCase *tc = tcase_create("redis");
    tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_enqueue_dedup_and_claim);
    tcase_add_test(tc, test_claims_original_payloads);
    tcase_add_test(tc, test_only_the_owner_completes);
    tcase_add_test(tc, test_retry_waits_and_uncounted_gives_back);
    tcase_add_test(tc, test_reaper_rules);
    tcase_add_test(tc, test_predecessor_recovery);
    tcase_add_test(tc, test_outbox_lease_and_defer);
    tcase_add_test(tc, test_unreachable_and_tls_refused);
    suite_add_tcase(s, tc);
    return check_run(s);
}
