/*
 * config.c - the table of environment variables and their validation.
 *
 * Each row names a variable, its default, a one-line description and how
 * to parse it into struct filot_config.  Nothing else in the tree calls
 * getenv() for settings, so this table is the complete list.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "preproc.h"
#include "status.h"

enum var_kind {
    K_INT,
    K_SIZE,
    K_STR,
    K_BOOL_TRUE1,
    K_BOOL_NOTFALSE,
    K_BOOL_01,
    K_LOGLEVEL,
    K_STEPS,
    K_PII
};

struct var_def {
    struct config_var pub;
    enum var_kind kind;
    size_t offset;   /* into struct filot_config; (size_t)-1 = handled specially */
    long long min;   /* K_INT / K_SIZE bounds */
    long long max;
    size_t strsize;  /* K_STR capacity */
};

#define OFF(field)  offsetof(struct filot_config, field)
#define SIZE(field) sizeof(((struct filot_config *)0)->field)
#define STR(name, def, help, field) {{name, def, help}, K_STR, OFF(field), 0, 0, SIZE(field)}
#define INT(name, def, help, field, lo, hi) {{name, def, help}, K_INT, OFF(field), lo, hi, 0}
#define NONE ((size_t)-1)

static const struct var_def vars[] = {
    {{"OCR_GPU_CONCURRENCY", "2", "number of OCR worker processes"}, K_INT, OFF(concurrency), 1, 64, 0},
    {{"OCR_GPU_ENABLED", "", "\"true\" or \"1\" lets the GPU server preprocess on the GPU"},
     K_BOOL_TRUE1, OFF(gpu_enabled), 0, 0, 0},
    {{"NVIDIA_VISIBLE_DEVICES", "", "\"none\" disables the GPU whatever OCR_GPU_ENABLED says"},
     K_STR, NONE, 0, 0, 0},
    {{"OCR_GPU_AUTOFALLBACK", "true",
      "anything but \"false\": workers preprocess on the CPU when the GPU server cannot"},
     K_BOOL_NOTFALSE, OFF(gpu_autofallback), 0, 0, 0},
    {{"HEALTH_PORT", "8080", "port of GET /health and GET /metrics; 0 disables"}, K_INT,
     OFF(health_port), 0, 65535, 0},
    {{"OCR_HEALTH_BIND", "0.0.0.0", "IPv4 address the health server binds"}, K_STR,
     OFF(health_bind), 0, 0, sizeof(((struct filot_config *)0)->health_bind)},
    {{"OCR_DRAIN_TIMEOUT_MS", "30000", "on SIGTERM, how long in-flight jobs may take to finish"},
     K_INT, OFF(drain_timeout_ms), 0, 3600000, 0},
    {{"OCR_JOB_TIMEOUT_MS", "120000", "a job running longer is ended with SIGKILL"}, K_INT,
     OFF(job_timeout_ms), 10, 3600000, 0},
    {{"OCR_GPU_DEADLINE_MS", "2000",
      "how long a worker waits for the GPU server before using the CPU twin"},
     K_INT, OFF(gpu_deadline_ms), 1, 600000, 0},
    {{"OCR_RESTART_BACKOFF_MIN_MS", "100", "first restart delay of a crashed child"}, K_INT,
     OFF(backoff_min_ms), 0, 3600000, 0},
    {{"OCR_RESTART_BACKOFF_MAX_MS", "30000", "restart delay cap (doubling from the minimum)"},
     K_INT, OFF(backoff_max_ms), 0, 3600000, 0},
    {{"OCR_SHM_SIZE", "2G", "shared-memory slot pool size (bytes, or k/M/G suffix)"}, K_SIZE,
     OFF(shm_size), 16LL << 20, 64LL << 30, 0},
    {{"OCR_MAX_PIXELS", "25000000", "images with more pixels are refused before decoding"},
     K_SIZE, OFF(max_pixels), 1024, 400000000, 0},
    {{"OCR_WORKER_MAX_JOBS", "1000", "a worker is replaced after this many jobs"}, K_INT,
     OFF(worker_max_jobs), 1, 100000000, 0},
    {{"OCR_WORKER_MAX_RSS_MB", "600", "a worker is replaced when its RSS passes this"}, K_INT,
     OFF(worker_max_rss_mb), 64, 1000000, 0},
    {{"OCR_LANGS", "ind+eng", "Tesseract languages"}, K_STR, OFF(langs), 0, 0,
     sizeof(((struct filot_config *)0)->langs)},
    {{"OCR_PREPROCESS", "auto", "preprocessing steps: auto, none, or rescale,bgnorm,deskew,binarize"},
     K_STEPS, OFF(preprocess), 0, 0, sizeof(((struct filot_config *)0)->preprocess)},
    {{"OCR_GPU_EMULATE", "0",
      "1: the GPU server runs the CPU twin instead of CUDA (tests on machines without a GPU)"},
     K_BOOL_01, OFF(gpu_emulate), 0, 0, 0},
    {{"OCR_RUNTIME_DIR", "", "directory for control sockets; default /tmp/filot-ocrd.<pid>"},
     K_STR, OFF(runtime_dir), 0, 0, sizeof(((struct filot_config *)0)->runtime_dir)},
    {{"OCR_LOG_LEVEL", "info", "debug, info, warn or error"}, K_LOGLEVEL, OFF(log_level), 0, 0, 0},
    {{"OCR_JOB_SOURCE", "", "ipc:// URL workers take jobs from (set by filot-ocr for its private instance)"},
     K_STR, OFF(job_source), 0, 0, sizeof(((struct filot_config *)0)->job_source)},
    {{"OCR_MAX_DOWNLOAD_BYTES", "20M", "largest document (file or object) accepted, bytes"}, K_SIZE,
     OFF(max_download_bytes), 1024, 1LL << 30, 0},
    STR("OCR_GPU_QUEUE_KEY", "filot:ocr:gpu:queue", "Redis list of document ids to process",
        queue_key),
    STR("OCR_GPU_PROCESSING_KEY", "filot:ocr:gpu:processing", "Redis set of claimed document ids",
        processing_key),
    STR("OCR_GPU_ATTEMPTS_KEY", "filot:ocr:gpu:attempts", "Redis hash of attempt counts",
        attempts_key),
    STR("OCR_GPU_PUBLISH_CHANNEL", "filot:ocr:gpu:results", "Redis channel results are published on",
        publish_channel),
    INT("OCR_GPU_POLL_INTERVAL", "1000", "ms between queue polls when the queue is empty",
        poll_interval_ms, 10, 600000),
    INT("OCR_GPU_MAX_RETRIES", "3", "attempts before the CPU fallback attempt / failure",
        max_retries, 1, 100),
    INT("OCR_GPU_STUCK_TIMEOUT", "300000",
        "ms without a lease renewal after which a claimed job counts as stuck", stuck_timeout_ms,
        1000, 86400000),
    INT("OCR_GPU_REAPER_INTERVAL", "60000", "ms between stuck-job sweeps", reaper_interval_ms,
        500, 86400000),
    INT("OCR_GPU_LOCK_TTL", "600", "seconds a job lock lives without renewal", lock_ttl_s, 1,
        86400),
    INT("OCR_RETRY_BACKOFF_MS", "2000", "delay before the first retry of a failed job (doubles)",
        retry_backoff_ms, 0, 3600000),
    STR("REDIS_URL", "redis://localhost:6379", "Redis URL (redis://[:password@]host:port[/db])",
        redis_url),
    STR("REDIS_PASSWORD", "", "Redis password; overrides the one in REDIS_URL", redis_password),
    STR("DATABASE_URL", "", "PostgreSQL connection string (URI or key=value, sslmode allowed)",
        database_url),
    STR("CF_R2_ENDPOINT", "", "R2 S3 endpoint https://<account>.r2.cloudflarestorage.com, or file:///dir",
        r2_endpoint),
    STR("CF_R2_ACCESS_KEY_ID", "", "R2 access key id", r2_access_key),
    STR("CF_R2_SECRET_ACCESS_KEY", "", "R2 secret access key", r2_secret_key),
    STR("CF_R2_BUCKET_NAME", "", "R2 bucket holding the uploads", r2_bucket),
    STR("BULI2_API_URL", "http://localhost:8080", "BULI2 manual-review service base URL",
        buli2_url),
    STR("BULI2_API_KEY", "", "BULI2 bearer token; no Authorization header when empty", buli2_key),
    INT("OCR_PDF_MAX_PAGES", "5", "PDF pages read per document", pdf_max_pages, 1, 100),
    INT("OCR_PDF_DPI", "300", "resolution PDF pages are rendered at", pdf_dpi, 72, 600),
    {{"OCR_RESULT_PII", "masked",
      "masked: NIK/NPWP masked in published results; full: as the original published them"},
     K_PII, OFF(result_pii_full), 0, 0, 0},
    STR("OCR_EMF_NAMESPACE", "FiLot/OCR", "CloudWatch EMF namespace of metric log lines; empty: off",
        emf_namespace),
};

#define NVARS (sizeof vars / sizeof vars[0])

const struct config_var *config_vars(size_t *count)
{
    static struct config_var pub[NVARS];
    for (size_t i = 0; i < NVARS; i++)
        pub[i] = vars[i].pub;
    *count = NVARS;
    return pub;
}

int config_parse_size(const char *s, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    if (*s == '\0' || *s == '-')
        return FILOT_EINVAL;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s)
        return FILOT_EINVAL;
    unsigned shift = 0;
    if (*end != '\0') {
        switch (*end) {
        case 'k':
        case 'K':
            shift = 10;
            break;
        case 'm':
        case 'M':
            shift = 20;
            break;
        case 'g':
        case 'G':
            shift = 30;
            break;
        default:
            return FILOT_EINVAL;
        }
        end++;
        if (*end == 'i' || *end == 'B')
            end++;
        if (*end == 'B')
            end++;
        if (*end != '\0')
            return FILOT_EINVAL;
    }
    if (shift && v > (ULLONG_MAX >> shift))
        return FILOT_EINVAL;
    *out = (uint64_t)v << shift;
    return 0;
}

static int parse_int(const char *s, long long *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0')
        return FILOT_EINVAL;
    *out = v;
    return 0;
}

/* Parses one variable's text into cfg; on error writes the message. */
static int parse_var(const struct var_def *d, const char *val, struct filot_config *cfg, char *err,
                     size_t errlen)
{
    char *base = (char *)cfg;
    long long n;
    uint64_t sz;
    switch (d->kind) {
    case K_INT:
        if (parse_int(val, &n) != 0 || n < d->min || n > d->max) {
            snprintf(err, errlen, "%s must be an integer %lld..%lld, got \"%s\"", d->pub.name,
                     d->min, d->max, val);
            return FILOT_EINVAL;
        }
        if (d->offset == OFF(concurrency) || d->offset == OFF(health_port)) /* int fields */
            *(int *)(base + d->offset) = (int)n;
        else
            *(uint32_t *)(base + d->offset) = (uint32_t)n;
        return 0;
    case K_SIZE:
        if (config_parse_size(val, &sz) != 0 || sz < (uint64_t)d->min || sz > (uint64_t)d->max) {
            snprintf(err, errlen, "%s must be a size %lld..%lld (suffix k, M or G allowed), got \"%s\"",
                     d->pub.name, d->min, d->max, val);
            return FILOT_EINVAL;
        }
        *(uint64_t *)(base + d->offset) = sz;
        return 0;
    case K_STR:
        if (d->offset == NONE)
            return 0;
        if (strlen(val) >= d->strsize) {
            snprintf(err, errlen, "%s is too long (at most %zu characters)", d->pub.name,
                     d->strsize - 1);
            return FILOT_EINVAL;
        }
        memcpy(base + d->offset, val, strlen(val) + 1);
        return 0;
    case K_STEPS: {
        uint32_t steps;
        if (strlen(val) >= d->strsize || pp_steps_parse(val, &steps) != 0) {
            snprintf(err, errlen,
                     "%s must be auto, none or a comma list of rescale,bgnorm,deskew,binarize, got \"%s\"",
                     d->pub.name, val);
            return FILOT_EINVAL;
        }
        memcpy(base + d->offset, val, strlen(val) + 1);
        return 0;
    }
    case K_BOOL_TRUE1:
        *(bool *)(base + d->offset) = strcmp(val, "true") == 0 || strcmp(val, "1") == 0;
        return 0;
    case K_BOOL_NOTFALSE:
        *(bool *)(base + d->offset) = strcasecmp(val, "false") != 0;
        return 0;
    case K_BOOL_01:
        if (strcmp(val, "0") != 0 && strcmp(val, "1") != 0) {
            snprintf(err, errlen, "%s must be 0 or 1, got \"%s\"", d->pub.name, val);
            return FILOT_EINVAL;
        }
        *(bool *)(base + d->offset) = val[0] == '1';
        return 0;
    case K_PII:
        if (strcmp(val, "masked") != 0 && strcmp(val, "full") != 0) {
            snprintf(err, errlen, "%s must be masked or full, got \"%s\"", d->pub.name, val);
            return FILOT_EINVAL;
        }
        *(bool *)(base + d->offset) = strcmp(val, "full") == 0;
        return 0;
    case K_LOGLEVEL:
        if (log_level_parse(val, (enum log_level *)(base + d->offset)) != 0) {
            snprintf(err, errlen, "%s must be debug, info, warn or error, got \"%s\"", d->pub.name,
                     val);
            return FILOT_EINVAL;
        }
        return 0;
    }
    return FILOT_EINVAL;
}

int config_load(struct filot_config *cfg, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < NVARS; i++) {
        const char *val = getenv(vars[i].pub.name);
        if (val == NULL)
            val = vars[i].pub.def;
        if (parse_var(&vars[i], val, cfg, err, errlen) != 0)
            return FILOT_EINVAL;
    }
    const char *nvd = getenv("NVIDIA_VISIBLE_DEVICES");
    if (nvd != NULL && strcmp(nvd, "none") == 0)
        cfg->gpu_enabled = false;
    if (cfg->backoff_max_ms < cfg->backoff_min_ms) {
        snprintf(err, errlen, "OCR_RESTART_BACKOFF_MAX_MS (%u) must be >= OCR_RESTART_BACKOFF_MIN_MS (%u)",
                 cfg->backoff_max_ms, cfg->backoff_min_ms);
        return FILOT_EINVAL;
    }
    return 0;
}

int config_check_pipeline(const struct filot_config *cfg, char *err, size_t errlen)
{
    const char *missing = NULL;
    bool file_root = strncmp(cfg->r2_endpoint, "file://", 7) == 0;
    if (cfg->database_url[0] == '\0')
        missing = "DATABASE_URL";
    else if (cfg->r2_endpoint[0] == '\0')
        missing = "CF_R2_ENDPOINT";
    else if (!file_root && cfg->r2_bucket[0] == '\0')
        missing = "CF_R2_BUCKET_NAME";
    else if (!file_root && cfg->r2_access_key[0] == '\0')
        missing = "CF_R2_ACCESS_KEY_ID";
    else if (!file_root && cfg->r2_secret_key[0] == '\0')
        missing = "CF_R2_SECRET_ACCESS_KEY";
    if (missing == NULL)
        return 0;
    snprintf(err, errlen, "%s must be set: filot-ocrd takes jobs from the Redis queue "
             "(or set OCR_JOB_SOURCE for a private filot-ocr instance)", missing);
    return FILOT_EINVAL;
}
