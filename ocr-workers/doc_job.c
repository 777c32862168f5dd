/*
 * doc_job.c - the document job: fetch, OCR, score, write, publish, escalate.
 */
#include "doc_job.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/clock.h"
#include "../common/emf.h"
#include "../common/log.h"
#include "../common/status.h"
#include "buli2.h"
#include "pii.h"
#include "stage_times.h"

#define ERR_LEN           512
#define INFRA_RETRY_MAXMS 60000u
#define FAULT_RETRY_MAXMS 300000u

enum attempt_rc {
    ATTEMPT_OK = 0,
    ATTEMPT_SKIP,      /* already completed: a duplicate job */
    ATTEMPT_BAD_INPUT, /* fails at once, no retry helps */
    ATTEMPT_FAULT,     /* counts against the retry limit */
    ATTEMPT_INFRA      /* database / storage / Redis outage: retry, do not count */
};

struct attempt {
    const struct claim *c;
    uint64_t start_us;
    struct doc_row row;
    bool have_row;
    bool not_found;
    json_t *result; /* pipeline result on success */
    struct stage_times st;
    char err[ERR_LEN];
};

#define LOGJ(level, msg, c, ...)                                                                   \
    log_kv(level, msg, LF_STR, "documentId", (c)->id, LF_STR, "correlationId", (c)->correlation,   \
           __VA_ARGS__)

/* db_rc -> attempt class, with the error text already in a->err. */
static enum attempt_rc db_class(int rc)
{
    return rc == DB_UNAVAILABLE ? ATTEMPT_INFRA : ATTEMPT_FAULT;
}

/* Reads the row, marks it processing, fetches and OCRs the document. */
static enum attempt_rc fetch_and_ocr(struct job_env *env, struct attempt *a, bool force_cpu)
{
    const struct claim *c = a->c;
    uint64_t t = clock_mono_us();
    int rc = db_get_doc(env->db, c->id, &a->row, a->err, sizeof a->err);
    stage_lap(&a->st, STAGE_ROW_READ, &t);
    if (rc == DB_NOT_FOUND) {
        a->not_found = true;
        snprintf(a->err, sizeof a->err, "Document not found");
        return ATTEMPT_BAD_INPUT;
    }
    if (rc != DB_OK)
        return db_class(rc);
    a->have_row = true;
    if (strcmp(a->row.status, "completed") == 0)
        return ATTEMPT_SKIP;
    rc = db_set_processing(env->db, c->id, a->err, sizeof a->err);
    stage_lap(&a->st, STAGE_ROW_WRITE, &t);
    if (rc != DB_OK)
        return db_class(rc);
    enum doc_type type;
    if (doc_type_parse(a->row.type, &type) != 0) {
        snprintf(a->err, sizeof a->err, "Unknown document type: %.60s", a->row.type);
        return ATTEMPT_BAD_INPUT;
    }
    if (a->row.file_url == NULL || a->row.file_url[0] == '\0') {
        snprintf(a->err, sizeof a->err, "Document has no file URL");
        return ATTEMPT_BAD_INPUT;
    }
    LOGJ(LOG_INFO, "Starting GPU OCR for document", c, LF_STR, "documentType", a->row.type, LF_INT,
         "attempt", (long long)c->attempts, LF_BOOL, "cpuFallback", force_cpu, LF_END);
    uint8_t *buf = NULL;
    size_t len = 0;
    enum storage_error_kind kind;
    t = clock_mono_us();
    rc = storage_fetch(env->st, a->row.file_url, &buf, &len, &kind, a->err, sizeof a->err);
    stage_lap(&a->st, STAGE_FETCH, &t);
    if (rc != 0) {
        LOGJ(LOG_WARN,
             storage_is_local(env->st) ? "Document file read failed" : "Object fetch failed", c,
             LF_STR, "key", a->row.file_url, LF_STR, "reason", a->err, LF_BOOL, "transient",
             kind == STORAGE_TRANSIENT, LF_END);
        return kind == STORAGE_TRANSIENT ? ATTEMPT_INFRA : ATTEMPT_BAD_INPUT;
    }
    struct pipeline_opts opts = {.type = type, .force_cpu = force_cpu, .times = &a->st};
    bool retryable = false;
    a->result = pipeline_run(env->pl, buf, len, &opts, &retryable);
    free(buf);
    if (a->result == NULL) {
        snprintf(a->err, sizeof a->err, "out of memory");
        return ATTEMPT_FAULT;
    }
    if (!json_is_true(json_object_get(a->result, "success"))) {
        snprintf(a->err, sizeof a->err, "%s",
                 json_string_value(json_object_get(a->result, "error")));
        return retryable ? ATTEMPT_FAULT : ATTEMPT_BAD_INPUT;
    }
    return ATTEMPT_OK;
}

/* Records the escalation durably before the row says pending_manual_review. */
static int record_escalation(struct job_env *env, struct attempt *a, json_t *parsed, int score)
{
    json_t *body = buli2_body(a->c->id, a->row.user_id, a->row.type, parsed, score,
                              (long long)clock_wall_ms());
    json_t *payload = json_pack("{s:o, s:i, s:s}", "body", body, "attempts", 0, "correlationId",
                                a->c->correlation);
    char *text = payload ? json_dumps(payload, JSON_COMPACT) : NULL;
    json_decref(payload);
    int rc = text ? queue_outbox_put(env->q, a->c->id, text) : FILOT_ENOMEM;
    free(text);
    return rc;
}

/* The row writes of a successful OCR; the last one completes the document. */
static enum attempt_rc write_results(struct job_env *env, struct attempt *a, bool *applied)
{
    const char *id = a->c->id;
    json_t *r = a->result;
    const char *text = json_string_value(json_object_get(r, "ocrText"));
    json_t *parsed = json_object_get(r, "parsedResult");
    int score = (int)json_integer_value(json_object_get(r, "score"));
    const char *decision = json_string_value(json_object_get(r, "decision"));
    const char *outcome = json_string_value(json_object_get(r, "outcome"));
    uint64_t t = clock_mono_us();
    int rc = db_set_ocr_completed(env->db, id, text, a->err, sizeof a->err);
    stage_lap(&a->st, STAGE_ROW_WRITE, &t);
    if (rc == DB_OK)
        LOGJ(LOG_INFO, "GPU OCR extraction completed", a->c, LF_INT, "textLength",
             (long long)strlen(text), LF_STR, "preprocess",
             json_string_value(json_object_get(r, "preprocess")), LF_END);
    if (rc == DB_OK) {
        t = clock_mono_us();
        rc = db_set_ai_evaluated(env->db, id, score, decision, parsed, a->err, sizeof a->err);
        stage_lap(&a->st, STAGE_ROW_WRITE, &t);
    }
    if (rc != DB_OK)
        return db_class(rc);
    LOGJ(LOG_INFO, "AI evaluation completed", a->c, LF_INT, "score", (long long)score, LF_STR,
         "decision", decision, LF_STR, "outcome", outcome, LF_END);
    t = clock_mono_us();
    if (strcmp(outcome, "pending_manual_review") == 0 &&
        record_escalation(env, a, parsed, score) != 0) {
        snprintf(a->err, sizeof a->err, "cannot record the BULI2 escalation (Redis unavailable)");
        return ATTEMPT_INFRA;
    }
    stage_lap(&a->st, STAGE_ESCALATE, &t);
    rc = db_complete(env->db, id, outcome, score, decision, parsed, text, applied, a->err,
                     sizeof a->err);
    stage_lap(&a->st, STAGE_ROW_WRITE, &t);
    return rc == DB_OK ? ATTEMPT_OK : db_class(rc);
}

/*
 * Redis may be down right when a job ends.  The database already holds the
 * outcome, so the Redis side (publish, key clean-up, requeue) is retried for
 * a while instead of being left to the reaper; the lease thread keeps the
 * job ours meanwhile.
 */
#define REDIS_SETTLE_MS 30000u

static bool redis_settled(struct job_env *env, int rc, uint64_t deadline)
{
    if (rc != FILOT_EUNAVAIL || clock_mono_ms() >= deadline)
        return true;
    if (env->waiting != NULL)
        env->waiting(env->waiting_ctx);
    clock_sleep_ms(200);
    return false;
}

/* Publishes a result in the original's shape (doc/COMPATIBILITY.md 1.7). */
static void publish(struct job_env *env, const struct claim *c, json_t *msg)
{
    char *text = json_dumps(msg, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (text == NULL)
        return;
    uint64_t deadline = clock_mono_ms() + REDIS_SETTLE_MS;
    int rc;
    do
        rc = queue_publish(env->q, text);
    while (!redis_settled(env, rc, deadline));
    if (rc == 0)
        LOGJ(LOG_INFO, "GPU OCR result published", c, LF_BOOL, "success",
             json_is_true(json_object_get(msg, "success")), LF_END);
    else
        LOGJ(LOG_WARN, "GPU OCR result not published: Redis unavailable", c, LF_END);
    free(text);
}

static void publish_success(struct job_env *env, struct attempt *a)
{
    uint64_t t = clock_mono_us();
    json_t *r = a->result;
    json_t *parsed = json_deep_copy(json_object_get(r, "parsedResult"));
    const char *text = json_string_value(json_object_get(r, "ocrText"));
    char *masked = env->cfg->result_pii_full ? strdup(text) : pii_mask_text(text);
    if (!env->cfg->result_pii_full)
        pii_mask_parsed(parsed);
    json_t *msg = json_pack(
        "{s:b, s:s, s:s, s:s?, s:o, s:O, s:O, s:O, s:O?, s:b, s:I, s:O, s:O, s:O, s:i, s:s}",
        "success", 1, "documentId", a->c->id, "correlationId", a->c->correlation, "ocrText", masked,
        "parsedResult", parsed, "score", json_object_get(r, "score"), "decision",
        json_object_get(r, "decision"), "outcome", json_object_get(r, "outcome"), "reviewReasons",
        json_object_get(r, "reviewReasons"), "gpuProcessed", 1, "processingTimeMs",
        (json_int_t)((clock_mono_us() - a->start_us) / 1000u), "preprocess",
        json_object_get(r, "preprocess"), "meanConfidence", json_object_get(r, "meanConfidence"),
        "pages", json_object_get(r, "pages"), "attempts", a->c->attempts, "documentType",
        a->row.type);
    free(masked);
    if (msg != NULL)
        publish(env, a->c, msg);
    json_decref(msg);
    stage_lap(&a->st, STAGE_PUBLISH, &t);
}

static void publish_failure(struct job_env *env, const struct claim *c, const char *error,
                            uint64_t start_us, bool with_time)
{
    json_t *msg = json_pack("{s:b, s:s, s:s, s:s, s:b}", "success", 0, "documentId", c->id,
                            "correlationId", c->correlation, "error", error, "gpuProcessed", 0);
    if (msg == NULL)
        return;
    if (with_time) /* the original omits it for "Document not found" */
        json_object_set_new(msg, "processingTimeMs",
                            json_integer((json_int_t)((clock_mono_us() - start_us) / 1000u)));
    json_object_set_new(msg, "attempts", json_integer(c->attempts));
    publish(env, c, msg);
    json_decref(msg);
}

static void emit_metrics(struct job_env *env, bool ok, uint64_t start_us)
{
    struct emf_metric m[] = {
        {EMF_DOCUMENTS_PROCESSED, EMF_UNIT_COUNT, ok ? 1 : 0},
        {EMF_DOCUMENTS_FAILED, EMF_UNIT_COUNT, ok ? 0 : 1},
        {EMF_PROCESSING_TIME_MS, EMF_UNIT_MILLISECONDS,
         (double)(clock_mono_us() - start_us) / 1000.0},
    };
    emf_emit(env->cfg->emf_namespace, EMF_SERVICE, m, 3);
}

/* Drops every Redis key of the job (the original's markGPUComplete). */
static void finish(struct job_env *env, const struct claim *c)
{
    uint64_t deadline = clock_mono_ms() + REDIS_SETTLE_MS;
    int rc;
    do
        rc = queue_complete(env->q, c);
    while (!redis_settled(env, rc, deadline));
    if (rc == 0)
        LOGJ(LOG_INFO, "Document marked complete in GPU processing", c, LF_END);
}

_Static_assert(DOC_NONE == (int)JOB_DOC_NONE && DOC_KTP == (int)JOB_DOC_KTP &&
                   DOC_NPWP == (int)JOB_DOC_NPWP,
               "job_stats.h lists the document types in enum doc_type's order");

void doc_job_count_result(struct shm_job_stats *st, enum doc_type type, const json_t *result,
                          uint64_t duration_ms)
{
    if (!json_is_true(json_object_get(result, "success"))) {
        job_stats_count(st, JOB_FAILED);
        return;
    }
    job_stats_completed(st, (enum job_doc_type)type,
                        json_string_value(json_object_get(result, "preprocess")),
                        json_string_value(json_object_get(result, "decision")), duration_ms);
}

/* Final failure: the row (when it exists), the channel, the keys. */
static void fail_final(struct job_env *env, const struct claim *c, const char *error,
                       bool max_exceeded, bool row_exists, uint64_t start_us)
{
    char err[ERR_LEN];
    LOGJ(LOG_ERROR, "GPU OCR processing failed", c, LF_STR, "error", error, LF_INT, "attempts",
         (long long)c->attempts, LF_BOOL, "maxRetriesExceeded", max_exceeded, LF_END);
    if (row_exists && db_mark_failed(env->db, c->id, error, max_exceeded, err, sizeof err) != 0) {
        /* The database is down: keep the job so the failure is recorded later. */
        LOGJ(LOG_WARN, "Cannot record the failure yet; requeueing", c, LF_STR, "error", err,
             LF_END);
        queue_retry_later(env->q, c, INFRA_RETRY_MAXMS, false);
        job_stats_count(env->stats, JOB_RETRIED);
        return;
    }
    publish_failure(env, c, error, start_us, strcmp(error, "Document not found") != 0);
    finish(env, c);
    job_stats_count(env->stats, JOB_FAILED);
    env->failed++;
    emit_metrics(env, false, start_us);
}

static uint32_t backoff_ms(uint32_t base, int attempts, uint32_t cap)
{
    uint64_t d = base;
    for (int i = 1; i < attempts && d < cap; i++)
        d *= 2;
    return d > cap ? cap : (uint32_t)d;
}

/* One attempt; on success also writes, publishes and cleans up. */
static enum attempt_rc attempt_once(struct job_env *env, const struct claim *c, bool force_cpu,
                                    uint64_t claim_us, char *err, size_t errlen, bool *row_exists)
{
    struct attempt a = {.c = c, .start_us = clock_mono_us()};
    stage_add(&a.st, STAGE_CLAIM, claim_us);
    enum attempt_rc rc = fetch_and_ocr(env, &a, force_cpu);
    bool applied = false;
    if (rc == ATTEMPT_OK)
        rc = write_results(env, &a, &applied);
    if (rc == ATTEMPT_OK && applied) {
        publish_success(env, &a);
        json_t *stages = stage_times_json(&a.st);
        LOGJ(LOG_INFO, "GPU Document OCR processed successfully", c, LF_INT, "processingTimeMs",
             (long long)((clock_mono_us() - a.start_us) / 1000u), LF_JSON, "stagesMs", stages,
             LF_END);
        json_decref(stages);
        env->processed++;
        enum doc_type type = DOC_NONE;
        doc_type_parse(a.row.type, &type);
        doc_job_count_result(env->stats, type, a.result, (clock_mono_us() - a.start_us) / 1000u);
        emit_metrics(env, true, a.start_us);
    }
    if (rc == ATTEMPT_SKIP || (rc == ATTEMPT_OK && !applied)) {
        LOGJ(LOG_INFO, "Document already completed; dropping the duplicate job", c, LF_END);
        job_stats_count(env->stats, JOB_DUPLICATE);
    }
    snprintf(err, errlen, "%s", a.err);
    *row_exists = a.have_row;
    json_decref(a.result);
    if (a.have_row)
        db_row_free(&a.row);
    return rc;
}

void doc_job_run(struct job_env *env, const struct claim *c, uint64_t claim_us)
{
    uint64_t start = clock_mono_us();
    char err[ERR_LEN];
    bool row_exists = false;
    LOGJ(LOG_INFO, "Document dequeued for GPU processing", c, LF_END);
    LOGJ(LOG_INFO, "Incremented GPU attempt count", c, LF_INT, "attempts", (long long)c->attempts,
         LF_END);
    lease_hold(env->lease, c);
    enum attempt_rc rc = attempt_once(env, c, false, claim_us, err, sizeof err, &row_exists);
    if (rc == ATTEMPT_FAULT && c->attempts >= (int)env->cfg->max_retries) {
        LOGJ(LOG_WARN, "GPU processing max retries exceeded", c, LF_STR, "error", err, LF_END);
        if (env->cfg->gpu_autofallback) {
            LOGJ(LOG_INFO, "Falling back to CPU OCR processing", c, LF_END);
            char cpu_err[ERR_LEN];
            rc = attempt_once(env, c, true, claim_us, cpu_err, sizeof cpu_err, &row_exists);
            if (rc == ATTEMPT_FAULT || rc == ATTEMPT_BAD_INPUT)
                snprintf(err, sizeof err, "GPU and CPU processing both failed: %.400s", cpu_err);
        } else {
            char tmp[ERR_LEN];
            snprintf(tmp, sizeof tmp, "GPU processing failed after %d attempts: %.400s",
                     c->attempts, err);
            snprintf(err, sizeof err, "%s", tmp);
            rc = ATTEMPT_BAD_INPUT;
        }
        if (rc == ATTEMPT_FAULT)
            rc = ATTEMPT_BAD_INPUT; /* nothing left to try */
    }
    switch (rc) {
    case ATTEMPT_OK:
    case ATTEMPT_SKIP:
        finish(env, c);
        break;
    case ATTEMPT_BAD_INPUT:
        fail_final(env, c, err, c->attempts >= (int)env->cfg->max_retries, row_exists, start);
        break;
    case ATTEMPT_FAULT:
    case ATTEMPT_INFRA: {
        uint32_t cap = rc == ATTEMPT_INFRA ? INFRA_RETRY_MAXMS : FAULT_RETRY_MAXMS;
        uint32_t delay = backoff_ms(env->cfg->retry_backoff_ms, c->attempts, cap);
        LOGJ(LOG_WARN, "GPU processing failed, will retry", c, LF_STR, "error", err, LF_INT,
             "attempts", (long long)c->attempts, LF_BOOL, "infrastructure", rc == ATTEMPT_INFRA,
             LF_END);
        uint64_t deadline = clock_mono_ms() + REDIS_SETTLE_MS;
        int qrc;
        do
            qrc = queue_retry_later(env->q, c, delay, rc == ATTEMPT_FAULT);
        while (!redis_settled(env, qrc, deadline));
        if (qrc == 0)
            LOGJ(LOG_INFO, "Document requeued for GPU retry", c, LF_INT, "delayMs",
                 (long long)delay, LF_END);
        job_stats_count(env->stats, JOB_RETRIED);
        break;
    }
    }
    lease_release(env->lease);
}

void doc_job_fail_stuck(struct job_env *env, const struct claim *c)
{
    char msg[128];
    snprintf(msg, sizeof msg, "Job stuck and exceeded %u retries", env->cfg->max_retries);
    LOGJ(LOG_WARN, "Stuck job detected", c, LF_INT, "attempts", (long long)c->attempts, LF_END);
    struct doc_row row;
    char err[ERR_LEN];
    /* Only a row known to be missing is skipped: with the database down the
     * failure write fails too, and fail_final() keeps the job for later. */
    int rc = db_get_doc(env->db, c->id, &row, err, sizeof err);
    if (rc == DB_OK)
        db_row_free(&row);
    fail_final(env, c, msg, true, rc != DB_NOT_FOUND, clock_mono_us());
}

/* Whether the row still waits for its escalation (and what to do if not). */
enum esc_state { ESC_DELIVER, ESC_DROP, ESC_WAIT };

static enum esc_state escalation_state(struct job_env *env, const char *id)
{
    struct doc_row row;
    char err[ERR_LEN];
    int rc = db_get_doc(env->db, id, &row, err, sizeof err);
    if (rc == DB_NOT_FOUND)
        return ESC_DROP;
    if (rc != DB_OK)
        return ESC_WAIT;
    enum esc_state st = ESC_DROP;
    if (strcmp(row.status, "processing") == 0)
        st = ESC_WAIT; /* recorded before the completing write, which has not landed yet */
    else if (strcmp(row.status, "completed") == 0 &&
             strcmp(row.verification_status, "pending_manual_review") == 0 && !row.has_ticket)
        st = ESC_DELIVER;
    db_row_free(&row);
    return st;
}

/* Sends one escalation; reschedules it with backoff unless delivered. */
static void deliver_one(struct job_env *env, const char *id, json_t *payload)
{
    json_t *body = json_object_get(payload, "body");
    int attempts = (int)json_integer_value(json_object_get(payload, "attempts")) + 1;
    /* the job's correlation id (absent in escalations an older version recorded) */
    const char *corr = json_string_value(json_object_get(payload, "correlationId"));
    struct buli2_config bc = {env->cfg->buli2_url, env->cfg->buli2_key, 30000};
    char ticket[256], err[ERR_LEN];
    enum buli2_outcome o = buli2_post(&bc, body, ticket, sizeof ticket, err, sizeof err);
    if (o == BULI2_DELIVERED) {
        int score = (int)json_integer_value(json_object_get(body, "aiScore"));
        bool applied = false;
        db_set_ticket(env->db, id, ticket, score, &applied, err, sizeof err);
        queue_outbox_done(env->q, id);
        log_kv(LOG_INFO, "Document escalated to BULI2 for manual review", LF_STR, "documentId", id,
               LF_STR, "correlationId", corr, LF_STR, "ticketId", ticket, LF_INT, "attempts",
               (long long)attempts, LF_END);
        return;
    }
    /* REJECTED (4xx) is usually configuration (a bad BULI2_API_KEY): keep it, slowly. */
    uint32_t delay = o == BULI2_REJECTED ? 900000u : backoff_ms(5000, attempts, 300000);
    log_kv(LOG_WARN, "BULI2 escalation failed; will retry", LF_STR, "documentId", id, LF_STR,
           "correlationId", corr, LF_STR, "error", err, LF_INT, "attempts", (long long)attempts,
           LF_INT, "retryInMs", (long long)delay, LF_END);
    json_object_set_new(payload, "attempts", json_integer(attempts));
    char *text = json_dumps(payload, JSON_COMPACT);
    if (text != NULL)
        queue_outbox_defer(env->q, id, text, delay);
    free(text);
}

/* The row is not settled yet: look again shortly. */
static void defer_unchanged(struct job_env *env, const char *id, json_t *payload)
{
    char *text = json_dumps(payload, JSON_COMPACT);
    if (text != NULL)
        queue_outbox_defer(env->q, id, text, 5000);
    free(text);
}

int doc_job_deliver_escalations(struct job_env *env, int max)
{
    int n = 0;
    for (; n < max; n++) {
        char id[128];
        char *text = NULL;
        if (queue_outbox_take(env->q, 60000, id, sizeof id, &text) != 0)
            break;
        json_error_t jerr;
        json_t *payload = json_loads(text, 0, &jerr);
        free(text);
        enum esc_state st = payload ? escalation_state(env, id) : ESC_DROP;
        if (st == ESC_DELIVER)
            deliver_one(env, id, payload);
        else if (st == ESC_DROP)
            queue_outbox_done(env->q, id);
        else
            defer_unchanged(env, id, payload);
        json_decref(payload);
    }
    return n;
}
