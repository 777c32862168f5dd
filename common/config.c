/*
 * config.c - the table of environment variables and their validation.
 *
 * Each row names a variable, its default, a one-line description and how
 * to parse it into struct filot_config.  Nothing else in the tree calls
 * getenv() for settings, so this table is the complete list.
 */
#include "config.h"

#include <arpa/inet.h>
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
    K_SECRET, /* a K_STR never shown in clear (filot-ocr check masks it) */
    K_BOOL_TRUE1,
    K_BOOL_NOTFALSE,
    K_BOOL_01,
    K_LOGLEVEL,
    K_STEPS,
    K_PII,
    K_DECISION,
    K_SECCOMP
};

struct var_def {
    struct config_var pub;
    enum var_kind kind;
    size_t offset; /* into struct filot_config */
    long long min; /* K_INT / K_SIZE bounds */
    long long max;
    size_t strsize; /* K_STR capacity */
};

#define OFF(field) offsetof(struct filot_config, field)
/* One row: kind, name, default, field, bounds (K_INT / K_SIZE), help. */
#define VAR(kind, name, def, field, lo, hi, help)                                                  \
    {                                                                                              \
        {name, def, help, (kind) == K_SECRET}, kind, OFF(field), lo, hi,                           \
            sizeof(((struct filot_config *)0)->field)                                              \
    }

static const struct var_def vars[] = {
    VAR(K_INT, "OCR_GPU_CONCURRENCY", "2", concurrency, 1, 64, "number of OCR worker processes"),
    VAR(K_BOOL_TRUE1, "OCR_GPU_ENABLED", "", gpu_enabled, 0, 0,
        "\"true\" or \"1\" lets the GPU server preprocess on the GPU"),
    VAR(K_STR, "NVIDIA_VISIBLE_DEVICES", "", nvidia_visible_devices, 0, 0,
        "\"none\" disables the GPU whatever OCR_GPU_ENABLED says"),
    VAR(K_BOOL_NOTFALSE, "OCR_GPU_AUTOFALLBACK", "true", gpu_autofallback, 0, 0,
        "anything but \"false\": workers preprocess on the CPU when the GPU server cannot"),
    VAR(K_INT, "HEALTH_PORT", "8080", health_port, 0, 65535,
        "port of GET /health and GET /metrics; 0 disables"),
    VAR(K_STR, "OCR_HEALTH_BIND", "127.0.0.1", health_bind, 0, 0,
        "IPv4 address the health server binds; 0.0.0.0 only where /metrics is scraped"),
    VAR(K_INT, "OCR_DRAIN_TIMEOUT_MS", "30000", drain_timeout_ms, 0, 3600000,
        "on SIGTERM, how long in-flight jobs may take to finish"),
    VAR(K_INT, "OCR_JOB_TIMEOUT_MS", "120000", job_timeout_ms, 10, 3600000,
        "a job running longer is ended with SIGKILL"),
    VAR(K_INT, "OCR_GPU_DEADLINE_MS", "2000", gpu_deadline_ms, 1, 600000,
        "how long a worker waits for the GPU server before using the CPU twin"),
    VAR(K_INT, "OCR_RESTART_BACKOFF_MIN_MS", "100", backoff_min_ms, 0, 3600000,
        "first restart delay of a crashed child"),
    VAR(K_INT, "OCR_RESTART_BACKOFF_MAX_MS", "30000", backoff_max_ms, 0, 3600000,
        "restart delay cap (doubling from the minimum)"),
    VAR(K_SIZE, "OCR_SHM_SIZE", "2G", shm_size, 16LL << 20, 64LL << 30,
        "shared-memory slot pool size (bytes, or k/M/G suffix)"),
    VAR(K_SIZE, "OCR_MAX_PIXELS", "25000000", max_pixels, 1024, 400000000,
        "images with more pixels are refused before decoding"),
    VAR(K_INT, "OCR_WORKER_MAX_JOBS", "1000", worker_max_jobs, 1, 100000000,
        "a worker is replaced after this many jobs"),
    VAR(K_INT, "OCR_WORKER_MAX_RSS_MB", "600", worker_max_rss_mb, 64, 1000000,
        "a worker is replaced when its RSS passes this"),
    VAR(K_STR, "OCR_LANGS", "ind+eng", langs, 0, 0, "Tesseract languages"),
    VAR(K_STEPS, "OCR_PREPROCESS", "auto", preprocess, 0, 0,
        "preprocessing steps: auto, none, or card,rescale,bgnorm,deskew,binarize"),
    VAR(K_BOOL_01, "OCR_GPU_EMULATE", "0", gpu_emulate, 0, 0,
        "1: the GPU server runs the CPU twin instead of CUDA (tests on machines without a GPU)"),
    VAR(K_STR, "OCR_RUNTIME_DIR", "", runtime_dir, 0, 0,
        "directory for control sockets; if it exists: ours, mode 0700, no symlink; default a new "
        "/tmp/filot-ocrd.XXXXXX"),
    VAR(K_LOGLEVEL, "OCR_LOG_LEVEL", "info", log_level, 0, 0, "debug, info, warn or error"),
    VAR(K_STR, "OCR_JOB_SOURCE", "", job_source, 0, 0,
        "ipc:// URL workers take jobs from (set by filot-ocr for its private instance)"),
    VAR(K_SIZE, "OCR_MAX_DOWNLOAD_BYTES", "20M", max_download_bytes, 1024, 1LL << 30,
        "largest document (file or object) accepted, bytes"),
    VAR(K_STR, "OCR_GPU_QUEUE_KEY", "filot:ocr:gpu:queue", queue_key, 0, 0,
        "Redis list of document ids to process"),
    VAR(K_STR, "OCR_GPU_PROCESSING_KEY", "filot:ocr:gpu:processing", processing_key, 0, 0,
        "Redis set of claimed document ids"),
    VAR(K_STR, "OCR_GPU_ATTEMPTS_KEY", "filot:ocr:gpu:attempts", attempts_key, 0, 0,
        "Redis hash of attempt counts"),
    VAR(K_STR, "OCR_GPU_PUBLISH_CHANNEL", "filot:ocr:gpu:results", publish_channel, 0, 0,
        "Redis channel results are published on"),
    VAR(K_INT, "OCR_GPU_POLL_INTERVAL", "1000", poll_interval_ms, 10, 600000,
        "ms between queue polls when the queue is empty"),
    VAR(K_INT, "OCR_GPU_MAX_RETRIES", "3", max_retries, 1, 100,
        "attempts before the CPU fallback attempt / failure"),
    VAR(K_INT, "OCR_GPU_STUCK_TIMEOUT", "300000", stuck_timeout_ms, 1000, 86400000,
        "ms without a lease renewal after which a claimed job counts as stuck"),
    VAR(K_INT, "OCR_GPU_REAPER_INTERVAL", "60000", reaper_interval_ms, 500, 86400000,
        "ms between stuck-job sweeps"),
    VAR(K_INT, "OCR_GPU_LOCK_TTL", "600", lock_ttl_s, 1, 86400,
        "seconds a job lock lives without renewal"),
    VAR(K_INT, "OCR_RETRY_BACKOFF_MS", "2000", retry_backoff_ms, 0, 3600000,
        "delay before the first retry of a failed job (doubles)"),
    VAR(K_STR, "REDIS_URL", "redis://localhost:6379", redis_url, 0, 0,
        "Redis URL (redis://[[user]:password@]host:port[/db]); a user is a Redis 6 ACL user "
        "(AUTH user password)"),
    VAR(K_SECRET, "REDIS_PASSWORD", "", redis_password, 0, 0,
        "Redis password; overrides the one in REDIS_URL"),
    VAR(K_STR, "DATABASE_URL", "", database_url, 0, 0,
        "PostgreSQL connection string (URI or key=value, sslmode allowed)"),
    VAR(K_STR, "CF_R2_ENDPOINT", "", r2_endpoint, 0, 0,
        "R2 S3 endpoint https://<account>.r2.cloudflarestorage.com, or file:///dir"),
    VAR(K_STR, "CF_R2_ACCESS_KEY_ID", "", r2_access_key, 0, 0, "R2 access key id"),
    VAR(K_SECRET, "CF_R2_SECRET_ACCESS_KEY", "", r2_secret_key, 0, 0, "R2 secret access key"),
    VAR(K_STR, "CF_R2_BUCKET_NAME", "", r2_bucket, 0, 0, "R2 bucket holding the uploads"),
    VAR(K_STR, "BULI2_API_URL", "http://localhost:8080", buli2_url, 0, 0,
        "BULI2 manual-review service base URL"),
    VAR(K_SECRET, "BULI2_API_KEY", "", buli2_key, 0, 0,
        "BULI2 bearer token; no Authorization header when empty"),
    VAR(K_INT, "OCR_PDF_MAX_PAGES", "5", pdf_max_pages, 1, 100, "PDF pages read per document"),
    VAR(K_INT, "OCR_PDF_DPI", "300", pdf_dpi, 72, 600, "resolution PDF pages are rendered at"),
    VAR(K_PII, "OCR_RESULT_PII", "masked", result_pii_full, 0, 0,
        "masked: NIK/NPWP masked in published results; full: as the original published them"),
    VAR(K_DECISION, "OCR_DECISION_POLICY", "strict", decision_compat, 0, 0,
        "strict: auto_approve needs the declared type's words, the essential fields read surely "
        "and a NIK agreeing with them; compat: the original's score >= 75"),
    VAR(K_SECCOMP, "OCR_SECCOMP", "on", seccomp, 0, 0,
        "on: OCR workers run under a seccomp allow-list, other system calls kill them; log: "
        "only logged (audit log), the dangerous ones still kill; off: no filter"),
    VAR(K_STR, "OCR_EMF_NAMESPACE", "FiLot/OCR", emf_namespace, 0, 0,
        "CloudWatch EMF namespace of metric log lines; empty: off"),
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
            snprintf(err, errlen,
                     "%s must be a size %lld..%lld (suffix k, M or G allowed), got \"%s\"",
                     d->pub.name, d->min, d->max, val);
            return FILOT_EINVAL;
        }
        *(uint64_t *)(base + d->offset) = sz;
        return 0;
    case K_STR:
    case K_SECRET:
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
                     "%s must be auto, none or a comma list of rescale,bgnorm,deskew,binarize, got "
                     "\"%s\"",
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
    case K_DECISION:
        if (strcmp(val, "strict") != 0 && strcmp(val, "compat") != 0) {
            snprintf(err, errlen, "%s must be strict or compat, got \"%s\"", d->pub.name, val);
            return FILOT_EINVAL;
        }
        *(bool *)(base + d->offset) = strcmp(val, "compat") == 0;
        return 0;
    case K_SECCOMP:
        if (sandbox_mode_parse(val, (enum sandbox_mode *)(base + d->offset)) != 0) {
            snprintf(err, errlen, "%s must be on, log or off, got \"%s\"", d->pub.name, val);
            return FILOT_EINVAL;
        }
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

/* Appends one message; counts every error even when the list is full. */
static void add_error(struct config_errors *errs, const char *msg)
{
    if (errs->count < CONFIG_MAX_ERRORS)
        snprintf(errs->msg[errs->count], sizeof errs->msg[0], "%s", msg);
    errs->count++;
}

int config_load_all(struct filot_config *cfg, struct config_errors *errs)
{
    char err[sizeof errs->msg[0]];
    memset(cfg, 0, sizeof *cfg);
    errs->count = 0;
    for (size_t i = 0; i < NVARS; i++) {
        const char *val = getenv(vars[i].pub.name);
        if (val == NULL)
            val = vars[i].pub.def;
        if (parse_var(&vars[i], val, cfg, err, sizeof err) != 0) {
            add_error(errs, err);
            /* the rest is checked against the default, never a half-parsed value */
            parse_var(&vars[i], vars[i].pub.def, cfg, err, sizeof err);
        }
    }
    struct in_addr bind_addr;
    if (inet_pton(AF_INET, cfg->health_bind, &bind_addr) != 1) {
        snprintf(err, sizeof err,
                 "OCR_HEALTH_BIND must be an IPv4 address such as 127.0.0.1, got \"%s\"",
                 cfg->health_bind);
        add_error(errs, err);
    }
    if (strcmp(cfg->nvidia_visible_devices, "none") == 0)
        cfg->gpu_enabled = false;
    if (cfg->backoff_max_ms < cfg->backoff_min_ms) {
        snprintf(err, sizeof err,
                 "OCR_RESTART_BACKOFF_MAX_MS (%u) must be >= OCR_RESTART_BACKOFF_MIN_MS (%u)",
                 cfg->backoff_max_ms, cfg->backoff_min_ms);
        add_error(errs, err);
    }
    return errs->count == 0 ? 0 : FILOT_EINVAL;
}

/* Joins the messages into one line: "A ...; B ...". */
static void join_errors(const struct config_errors *errs, char *err, size_t errlen)
{
    size_t used = 0;
    int shown = errs->count < CONFIG_MAX_ERRORS ? errs->count : CONFIG_MAX_ERRORS;
    err[0] = '\0';
    for (int i = 0; i < shown && used < errlen; i++) {
        int n = snprintf(err + used, errlen - used, "%s%s", i ? "; " : "", errs->msg[i]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

int config_load(struct filot_config *cfg, char *err, size_t errlen)
{
    struct config_errors errs;
    if (config_load_all(cfg, &errs) == 0)
        return 0;
    join_errors(&errs, err, errlen);
    return FILOT_EINVAL;
}

int config_check_pipeline_all(const struct filot_config *cfg, struct config_errors *errs)
{
    bool file_root = strncmp(cfg->r2_endpoint, "file://", 7) == 0;
    const struct {
        const char *name;
        bool missing;
    } need[] = {
        {"DATABASE_URL", cfg->database_url[0] == '\0'},
        {"CF_R2_ENDPOINT", cfg->r2_endpoint[0] == '\0'},
        {"CF_R2_BUCKET_NAME", !file_root && cfg->r2_endpoint[0] && cfg->r2_bucket[0] == '\0'},
        {"CF_R2_ACCESS_KEY_ID", !file_root && cfg->r2_endpoint[0] && cfg->r2_access_key[0] == '\0'},
        {"CF_R2_SECRET_ACCESS_KEY",
         !file_root && cfg->r2_endpoint[0] && cfg->r2_secret_key[0] == '\0'},
    };
    int before = errs->count;
    char err[sizeof errs->msg[0]];
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++) {
        if (!need[i].missing)
            continue;
        snprintf(err, sizeof err,
                 "%s must be set: filot-ocrd takes jobs from the Redis queue "
                 "(or set OCR_JOB_SOURCE for a private filot-ocr instance)",
                 need[i].name);
        add_error(errs, err);
    }
    return errs->count == before ? 0 : FILOT_EINVAL;
}

int config_check_pipeline(const struct filot_config *cfg, char *err, size_t errlen)
{
    struct config_errors errs = {0};
    if (config_check_pipeline_all(cfg, &errs) == 0)
        return 0;
    join_errors(&errs, err, errlen);
    return FILOT_EINVAL;
}
