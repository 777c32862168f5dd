/*
 * worker.c - start-up and the job loop of filot-ocr-worker.
 */
#include "worker.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/child_proc.h"
#include "../common/clock.h"
#include "../common/emf.h"
#include "../common/log.h"
#include "../common/net_url.h"
#include "../common/sandbox.h"
#include "../common/status.h"
#include "reading/decode.h"

#define IDLE_WAIT_MS 50
/* The Redis sizes in /metrics are at most this old (one worker samples). */
#define QUEUE_SAMPLE_MS       5000u
#define QUEUE_SAMPLE_CHECK_MS 1000u

static void report_deps(void *arg);

/* filot-ocr's private instance: jobs come over its nng channel. */
static int open_ipc_mode(struct worker *w)
{
    w->ipc_mode = true;
    return job_source_open(&w->src, w->cfg.job_source, w->index) == 0 ? 0 : FILOT_EXIT_FAILURE;
}

/* The daemon: Redis queue, PostgreSQL rows, R2 objects, BULI2 escalations. */
static int open_queue_mode(struct worker *w)
{
    char err[512];
    const char *inst = getenv("OCR_INSTANCE_ID");
    snprintf(w->instance, sizeof w->instance, "%s", inst ? inst : "standalone");
    struct storage_config sc = {w->cfg.r2_endpoint,
                                w->cfg.r2_access_key,
                                w->cfg.r2_secret_key,
                                w->cfg.r2_bucket,
                                w->cfg.max_download_bytes,
                                10000,
                                120000};
    if (config_check_pipeline(&w->cfg, err, sizeof err) != 0 ||
        queue_open(&w->cfg, w->instance, w->index, &w->q, err, sizeof err) != 0) {
        log_kv(LOG_ERROR, "Invalid configuration", LF_STR, "error", err, LF_END);
        return FILOT_EXIT_CONFIG;
    }
    if (db_open(w->cfg.database_url, &w->db) != 0 || storage_open(&sc, &w->st) != 0) {
        log_kv(LOG_ERROR, "Invalid configuration", LF_STR, "error",
               "DATABASE_URL or CF_R2_* settings were refused (see the line above)", LF_END);
        return FILOT_EXIT_CONFIG;
    }
    net_warn_plain_http("BULI2_API_URL", w->cfg.buli2_url);
    if (lease_start(&w->lease, &w->cfg, w->instance, w->index) != 0)
        return FILOT_EXIT_FAILURE;
    w->env = (struct job_env){&w->cfg, &w->pl, w->q,        w->db, w->st,        &w->lease,
                              0,       0,      report_deps, w,     &w->me->stats};
    return 0;
}

/* OCR_SECCOMP: from here on only the system calls a job needs (common/sandbox.h). */
static int apply_sandbox(struct worker *w)
{
    char err[256];
    if (sandbox_apply(w->cfg.seccomp, err, sizeof err) != 0) {
        log_kv(LOG_ERROR, "Cannot apply the seccomp filter; OCR_SECCOMP=off runs without it",
               LF_STR, "error", err, LF_END);
        return FILOT_EXIT_CONFIG;
    }
    log_kv(w->cfg.seccomp == SANDBOX_ON ? LOG_INFO : LOG_WARN, "Worker sandbox", LF_INT, "index",
           (long long)w->index, LF_STR, "seccomp", sandbox_mode_name(w->cfg.seccomp), LF_INT,
           "allowedSyscalls",
           (long long)(w->cfg.seccomp == SANDBOX_OFF ? 0 : sandbox_allowed_count()), LF_BOOL,
           "noNewPrivs", w->cfg.seccomp != SANDBOX_OFF, LF_END);
    return 0;
}

int worker_init(struct worker *w)
{
    char err[512];
    memset(w, 0, sizeof *w);
    w->started_us = clock_mono_us();
    log_init("filot-ocr-worker", LOG_INFO);
    if (config_load(&w->cfg, err, sizeof err) != 0) {
        log_kv(LOG_ERROR, "Invalid configuration", LF_STR, "error", err, LF_END);
        return FILOT_EXIT_CONFIG;
    }
    log_init("filot-ocr-worker", w->cfg.log_level);
    int shm_fd, rc;
    if (child_proc_inherited("OCR_WORKER_INDEX", &w->index) != 0 ||
        child_proc_inherited("OCR_SHM_FD", &shm_fd) != 0 ||
        child_proc_inherited("OCR_PARENT_FD", &w->parent_fd) != 0 || w->index >= SHM_MAX_WORKERS)
        return FILOT_EXIT_CONFIG;
    if (shm_pool_attach_fd(&w->pool, shm_fd, err, sizeof err) != 0) {
        log_kv(LOG_ERROR, "Cannot attach shared memory", LF_STR, "error", err, LF_END);
        return FILOT_EXIT_FAILURE;
    }
    w->me = &w->pool.hdr->workers[w->index];
    atomic_store(&w->me->state, WS_STARTING);
    uint64_t t0 = clock_mono_ms();
    w->pl.cfg = &w->cfg;
    pp_steps_parse(w->cfg.preprocess, &w->pl.steps);
    if (engine_open(w->cfg.langs, &w->pl.engine) != 0) {
        log_kv(LOG_ERROR, "Cannot load Tesseract models; check OCR_LANGS and tessdata", LF_STR,
               "langs", w->cfg.langs, LF_END);
        return FILOT_EXIT_CONFIG;
    }
    gpu_client_init(&w->pl.gpu, &w->pool, getenv("OCR_RUNTIME_DIR"), w->index,
                    w->cfg.gpu_deadline_ms);
    rc = w->cfg.job_source[0] != '\0' ? open_ipc_mode(w) : open_queue_mode(w);
    if (rc == 0)
        rc = apply_sandbox(w);
    if (rc != 0)
        return rc;
    atomic_store(&w->me->job_started_ms, 0);
    atomic_store(&w->me->state, WS_IDLE);
    log_kv(LOG_INFO, "Worker ready", LF_INT, "index", (long long)w->index, LF_STR, "langs",
           w->cfg.langs, LF_INT, "initMs", (long long)(clock_mono_ms() - t0), LF_END);
    return 0;
}

/* Reads the file a job names and runs it through the pipeline; *type_out: its type. */
static json_t *run_job(struct worker *w, json_t *job, enum doc_type *type_out)
{
    uint64_t start = clock_mono_us();
    const char *path = json_string_value(json_object_get(job, "path"));
    const char *type_s = json_string_value(json_object_get(job, "documentType"));
    enum doc_type type = DOC_NONE;
    *type_out = DOC_NONE;
    if (type_s != NULL && doc_type_parse(type_s, &type) != 0) {
        char msg[96];
        snprintf(msg, sizeof msg, "Unknown document type: %.40s", type_s);
        return pipeline_failure(msg, DOC_NONE, start);
    }
    *type_out = type;
    if (path == NULL)
        return pipeline_failure("job has no path", type, start);
    char err[256];
    uint8_t *buf = NULL;
    size_t len = 0;
    if (decode_read_file(path, w->cfg.max_download_bytes, &buf, &len, err, sizeof err) != 0)
        return pipeline_failure(err, type, start);
    struct pipeline_opts opts = {.type = type};
    json_t *result = pipeline_run(&w->pl, buf, len, &opts, NULL);
    free(buf);
    return result;
}

/* Once per process: how long from start (worker_init) to the first job claimed. */
static void note_first_claim(struct worker *w)
{
    if (w->claimed_once)
        return;
    w->claimed_once = true;
    log_kv(LOG_INFO, "Worker claimed its first job", LF_INT, "index", (long long)w->index, LF_DBL,
           "startupMs", (double)((clock_mono_us() - w->started_us + 5u) / 10u) / 100.0, LF_END);
}

/* Records the job in the worker table and decides whether to recycle. */
static bool finish_job(struct worker *w, int *code)
{
    atomic_store(&w->me->job_started_ms, 0);
    atomic_store(&w->me->state, WS_IDLE);
    atomic_fetch_add(&w->me->jobs_done, 1);
    atomic_fetch_add(&w->me->gpu_jobs, w->pl.gpu_jobs);
    atomic_fetch_add(&w->me->cpu_jobs, w->pl.cpu_jobs);
    w->pl.gpu_jobs = w->pl.cpu_jobs = 0;
    w->jobs_this_process++;
    uint64_t rss = child_proc_rss_kb();
    atomic_store(&w->me->rss_kb, rss);
    if (w->jobs_this_process >= w->cfg.worker_max_jobs ||
        rss > (uint64_t)w->cfg.worker_max_rss_mb * 1024u) {
        log_kv(LOG_INFO, "Worker recycling", LF_INT, "index", (long long)w->index, LF_INT, "jobs",
               (long long)w->jobs_this_process, LF_INT, "rssKb", (long long)rss, LF_END);
        *code = FILOT_EXIT_RECYCLE;
        return false;
    }
    return true;
}

/* ipc mode: ask filot-ocr for the next file. */
static bool step_ipc(struct worker *w, int *code)
{
    json_t *job = NULL;
    if (job_source_next(&w->src, &job) != 0) {
        if (!child_proc_parent_alive(w->parent_fd, IDLE_WAIT_MS)) {
            *code = FILOT_EXIT_PARENT_GONE;
            return false;
        }
        return true;
    }
    note_first_claim(w);
    uint64_t start = clock_mono_ms();
    atomic_store(&w->me->job_started_ms, start);
    atomic_store(&w->me->state, WS_BUSY);
    json_int_t id = json_integer_value(json_object_get(job, "id"));
    enum doc_type type;
    json_t *result = run_job(w, job, &type);
    json_decref(job);
    if (result != NULL) {
        doc_job_count_result(&w->me->stats, type, result, clock_mono_ms() - start);
        job_source_result(&w->src, id, result);
    }
    return finish_job(w, code);
}

/* Publishes Redis / PostgreSQL health for /health. */
static void report_deps(void *arg)
{
    struct worker *w = arg;
    uint32_t d = DEP_REDIS_KNOWN | DEP_DB_KNOWN;
    if (queue_healthy(w->q))
        d |= DEP_REDIS_UP;
    if (db_healthy(w->db))
        d |= DEP_DB_UP;
    atomic_store(&w->me->deps, d);
}

/* Sweeps abandoned jobs (forced once at start: our predecessor's). */
static void reap(struct worker *w, uint64_t now)
{
    if (now < w->next_reap_ms)
        return;
    w->next_reap_ms = now + w->cfg.reaper_interval_ms;
    struct reaped out[8];
    int n = 0, requeued = 0;
    if (queue_reap(w->q, !w->reaped_once, out, 8, &n, &requeued) != 0)
        return;
    w->reaped_once = true;
    if (requeued > 0)
        log_kv(LOG_WARN, "Requeueing stuck job for retry", LF_INT, "count", (long long)requeued,
               LF_END);
    for (int i = 0; i < n; i++) {
        struct claim c = {.attempts = out[i].attempts};
        _Static_assert(sizeof c.id == sizeof out[i].id, "id sizes");
        _Static_assert(sizeof c.correlation == sizeof out[i].correlation, "correlation sizes");
        memcpy(c.id, out[i].id, sizeof c.id);
        memcpy(c.correlation, out[i].correlation, sizeof c.correlation);
        doc_job_fail_stuck(&w->env, &c);
    }
}

/* Worker 0 reports the queue depth for autoscaling, once a minute. */
static void emit_queue_depth(struct worker *w, uint64_t now)
{
    if (w->index != 0 || now < w->next_metrics_ms)
        return;
    w->next_metrics_ms = now + 60000u;
    long long depth = queue_length(w->q);
    if (depth < 0)
        return;
    struct emf_metric m = {EMF_QUEUE_DEPTH, EMF_UNIT_COUNT, (double)depth};
    emf_emit(w->cfg.emf_namespace, EMF_SERVICE, &m, 1);
}

/* Age of the newest queue sample any worker of this instance published. */
static uint64_t newest_sample_age(const struct worker *w, uint64_t now)
{
    uint32_t n = w->pool.worker_count; /* private copy taken at attach */
    uint64_t newest = 0;
    for (uint32_t i = 0; i < n && i < SHM_MAX_WORKERS; i++) {
        uint64_t at = atomic_load(&w->pool.hdr->workers[i].queue.sampled_ms);
        if (at <= now && at > newest)
            newest = at;
    }
    return now - newest;
}

/*
 * Publishes the Redis sizes for /metrics (the supervisor never talks to
 * Redis).  Every worker looks once a second; the one that finds the newest
 * sample older than QUEUE_SAMPLE_MS takes a new one, so an instance asks
 * Redis about once per QUEUE_SAMPLE_MS whichever workers are alive.
 */
static void sample_queue(struct worker *w, uint64_t now)
{
    if (now < w->next_sample_ms)
        return;
    w->next_sample_ms = now + QUEUE_SAMPLE_CHECK_MS;
    if (newest_sample_age(w, now) < QUEUE_SAMPLE_MS)
        return;
    struct queue_sizes z;
    queue_sizes(w->q, &z);
    if (z.queued < 0 || z.processing < 0 || z.delayed < 0 || z.outbox < 0)
        return;
    job_queue_sample_store(&w->me->queue, clock_mono_ms(), z.queued, z.processing, z.delayed,
                           z.outbox);
}

/* queue mode: housekeeping, then claim and run one document. */
static bool step_queue(struct worker *w, int *code)
{
    uint64_t now = clock_mono_ms();
    reap(w, now);
    doc_job_deliver_escalations(&w->env, 4);
    emit_queue_depth(w, now);
    sample_queue(w, now);
    struct claim c;
    uint64_t claim_start = clock_mono_us();
    int rc = queue_claim(w->q, &c);
    uint64_t claim_us = clock_mono_us() - claim_start;
    db_ensure(w->db); /* keeps the connection (and /health's view of it) current */
    report_deps(w);
    if (rc != 0) {
        if (!child_proc_parent_alive(w->parent_fd, (int)w->cfg.poll_interval_ms)) {
            *code = FILOT_EXIT_PARENT_GONE;
            return false;
        }
        return true;
    }
    note_first_claim(w);
    atomic_store(&w->me->job_started_ms, clock_mono_ms());
    atomic_store(&w->me->state, WS_BUSY);
    doc_job_run(&w->env, &c, claim_us);
    report_deps(w);
    return finish_job(w, code);
}

bool worker_step(struct worker *w, int *code)
{
    if (atomic_load(&w->pool.hdr->draining)) {
        *code = FILOT_EXIT_OK;
        return false;
    }
    return w->ipc_mode ? step_ipc(w, code) : step_queue(w, code);
}

void worker_close(struct worker *w)
{
    atomic_store(&w->me->state, WS_EXITING);
    job_source_close(&w->src);
    lease_stop(&w->lease);
    queue_close(w->q);
    db_close(w->db);
    storage_close(w->st);
    gpu_client_close(&w->pl.gpu);
    engine_close(w->pl.engine);
    shm_pool_close(&w->pool);
}
