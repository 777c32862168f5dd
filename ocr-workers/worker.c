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

#include "../common/clock.h"
#include "../common/log.h"
#include "../common/status.h"
#include "decode.h"

#define IDLE_WAIT_MS 50

/* Reads one of the descriptors/indices filot-ocrd hands its children. */
static int inherited_int(const char *name, int *out)
{
    const char *v = getenv(name);
    char *end = NULL;
    long n = v ? strtol(v, &end, 10) : -1;
    if (v == NULL || *end != '\0' || n < 0 || n > 1 << 20) {
        log_kv(LOG_ERROR, "filot-ocr-worker must be started by filot-ocrd", LF_STR, "missing",
               name, LF_END);
        return FILOT_EINVAL;
    }
    *out = (int)n;
    return 0;
}

int worker_init(struct worker *w)
{
    char err[512];
    memset(w, 0, sizeof *w);
    log_init("filot-ocr-worker", LOG_INFO);
    if (config_load(&w->cfg, err, sizeof err) != 0) {
        log_kv(LOG_ERROR, "Invalid configuration", LF_STR, "error", err, LF_END);
        return FILOT_EXIT_CONFIG;
    }
    log_init("filot-ocr-worker", w->cfg.log_level);
    int shm_fd;
    if (inherited_int("OCR_WORKER_INDEX", &w->index) != 0 ||
        inherited_int("OCR_SHM_FD", &shm_fd) != 0 ||
        inherited_int("OCR_PARENT_FD", &w->parent_fd) != 0 || w->index >= SHM_MAX_WORKERS)
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
    if (w->cfg.job_source[0] != '\0' &&
        job_source_open(&w->src, w->cfg.job_source, w->index) == 0)
        w->have_source = true;
    atomic_store(&w->me->job_started_ms, 0);
    atomic_store(&w->me->state, WS_IDLE);
    log_kv(LOG_INFO, "Worker ready", LF_INT, "index", (long long)w->index, LF_STR, "langs",
           w->cfg.langs, LF_INT, "initMs", (long long)(clock_mono_ms() - t0), LF_END);
    return 0;
}

/* Waits up to ms for the parent pipe; false once the supervisor is gone. */
static bool parent_alive(int fd, int ms)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    int n = poll(&pfd, 1, ms);
    if (n <= 0)
        return true;
    char c;
    return read(fd, &c, 1) != 0 || errno == EAGAIN;
}

static uint64_t rss_kb(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, rss = 0;
    if (f == NULL)
        return 0;
    if (fscanf(f, "%lu %lu", &size, &rss) != 2)
        rss = 0;
    fclose(f);
    return (uint64_t)rss * (uint64_t)(sysconf(_SC_PAGESIZE) / 1024);
}

/* Reads the file a job names and runs it through the pipeline. */
static json_t *run_job(struct worker *w, json_t *job)
{
    uint64_t start = clock_mono_us();
    const char *path = json_string_value(json_object_get(job, "path"));
    const char *type_s = json_string_value(json_object_get(job, "documentType"));
    enum doc_type type = DOC_NONE;
    if (type_s != NULL && doc_type_parse(type_s, &type) != 0) {
        char msg[96];
        snprintf(msg, sizeof msg, "Unknown document type: %.40s", type_s);
        return pipeline_failure(msg, DOC_NONE, start);
    }
    if (path == NULL)
        return pipeline_failure("job has no path", type, start);
    char err[256];
    uint8_t *buf = NULL;
    size_t len = 0;
    if (decode_read_file(path, w->cfg.max_download_bytes, &buf, &len, err, sizeof err) != 0)
        return pipeline_failure(err, type, start);
    json_t *result = pipeline_run(&w->pl, buf, len, type);
    free(buf);
    return result;
}

/* Records the job in the worker table and decides whether to recycle. */
static bool finish_job(struct worker *w, int *code)
{
    atomic_store(&w->me->job_started_ms, 0);
    atomic_store(&w->me->state, WS_IDLE);
    atomic_fetch_add(&w->me->jobs_done, 1);
    atomic_store(&w->me->gpu_jobs, atomic_load(&w->me->gpu_jobs) + w->pl.gpu_jobs);
    atomic_store(&w->me->cpu_jobs, atomic_load(&w->me->cpu_jobs) + w->pl.cpu_jobs);
    w->pl.gpu_jobs = w->pl.cpu_jobs = 0;
    w->jobs_this_process++;
    uint64_t rss = rss_kb();
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

bool worker_step(struct worker *w, int *code)
{
    if (atomic_load(&w->pool.hdr->draining)) {
        *code = FILOT_EXIT_OK;
        return false;
    }
    if (!w->have_source) {
        if (!w->warned_no_source)
            log_kv(LOG_WARN, "No job source configured (OCR_JOB_SOURCE unset); idle", LF_END);
        w->warned_no_source = true;
        if (!parent_alive(w->parent_fd, 1000)) {
            *code = FILOT_EXIT_PARENT_GONE;
            return false;
        }
        return true;
    }
    json_t *job = NULL;
    if (job_source_next(&w->src, &job) != 0) {
        if (!parent_alive(w->parent_fd, IDLE_WAIT_MS)) {
            *code = FILOT_EXIT_PARENT_GONE;
            return false;
        }
        return true;
    }
    atomic_store(&w->me->job_started_ms, clock_mono_ms());
    atomic_store(&w->me->state, WS_BUSY);
    json_int_t id = json_integer_value(json_object_get(job, "id"));
    json_t *result = run_job(w, job);
    json_decref(job);
    if (result != NULL)
        job_source_result(&w->src, id, result);
    return finish_job(w, code);
}

void worker_close(struct worker *w)
{
    atomic_store(&w->me->state, WS_EXITING);
    job_source_close(&w->src);
    gpu_client_close(&w->pl.gpu);
    engine_close(w->pl.engine);
    shm_pool_close(&w->pool);
}
