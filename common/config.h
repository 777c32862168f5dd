/*
 * config.h - every setting, read from the environment once at start-up.
 *
 * The table in config.c is the single list of variables filot-ocrd reads:
 * documentation and deployment files are checked against it
 * (filot-ocr config --list).  Validation failures name the variable, e.g.
 *   OCR_GPU_CONCURRENCY must be an integer 1..64, got "abc"
 * and the program exits with FILOT_EXIT_CONFIG.
 */
#ifndef FILOT_CONFIG_H
#define FILOT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "sandbox.h"

struct filot_config {
    /* compatibility names (doc/COMPATIBILITY.md section 9) */
    int concurrency;       /* OCR_GPU_CONCURRENCY: number of OCR workers */
    bool gpu_enabled;      /* OCR_GPU_ENABLED "true"/"1" and NVIDIA_VISIBLE_DEVICES != "none" */
    bool gpu_autofallback; /* OCR_GPU_AUTOFALLBACK: anything but "false" */
    char nvidia_visible_devices[64]; /* NVIDIA_VISIBLE_DEVICES: "none" disables the GPU */
    /* runtime */
    int health_port;            /* HEALTH_PORT, 0 disables the HTTP server */
    char health_bind[64];       /* OCR_HEALTH_BIND, default 127.0.0.1 */
    uint32_t drain_timeout_ms;  /* OCR_DRAIN_TIMEOUT_MS */
    uint32_t job_timeout_ms;    /* OCR_JOB_TIMEOUT_MS */
    uint32_t gpu_deadline_ms;   /* OCR_GPU_DEADLINE_MS: worker waits this long for the GPU server */
    uint32_t backoff_min_ms;    /* OCR_RESTART_BACKOFF_MIN_MS */
    uint32_t backoff_max_ms;    /* OCR_RESTART_BACKOFF_MAX_MS */
    uint64_t shm_size;          /* OCR_SHM_SIZE, bytes */
    uint64_t max_pixels;        /* OCR_MAX_PIXELS */
    uint32_t worker_max_jobs;   /* OCR_WORKER_MAX_JOBS */
    uint32_t worker_max_rss_mb; /* OCR_WORKER_MAX_RSS_MB */
    char langs[64];             /* OCR_LANGS */
    char preprocess[128];       /* OCR_PREPROCESS: comma list of steps, "auto" or "none" */
    bool gpu_emulate;           /* OCR_GPU_EMULATE: gpu-server runs the CPU twin (tests) */
    char runtime_dir[108];      /* OCR_RUNTIME_DIR: sockets; default per instance */
    enum log_level log_level;   /* OCR_LOG_LEVEL */
    char job_source[160];       /* OCR_JOB_SOURCE: ipc:// URL of a job channel (filot-ocr) */
    uint64_t max_download_bytes; /* OCR_MAX_DOWNLOAD_BYTES: largest document accepted */

    /* job pipeline: Redis queue (doc/COMPATIBILITY.md section 1) */
    char queue_key[128];         /* OCR_GPU_QUEUE_KEY */
    char processing_key[128];    /* OCR_GPU_PROCESSING_KEY */
    char attempts_key[128];      /* OCR_GPU_ATTEMPTS_KEY */
    char publish_channel[128];   /* OCR_GPU_PUBLISH_CHANNEL */
    uint32_t poll_interval_ms;   /* OCR_GPU_POLL_INTERVAL */
    uint32_t max_retries;        /* OCR_GPU_MAX_RETRIES */
    uint32_t stuck_timeout_ms;   /* OCR_GPU_STUCK_TIMEOUT */
    uint32_t reaper_interval_ms; /* OCR_GPU_REAPER_INTERVAL */
    uint32_t lock_ttl_s;         /* OCR_GPU_LOCK_TTL */
    uint32_t retry_backoff_ms;   /* OCR_RETRY_BACKOFF_MS: first retry delay, doubling */
    char redis_url[512];         /* REDIS_URL */
    char redis_password[256];    /* REDIS_PASSWORD */
    char database_url[1024];     /* DATABASE_URL */
    char r2_endpoint[512];       /* CF_R2_ENDPOINT */
    char r2_access_key[256];     /* CF_R2_ACCESS_KEY_ID */
    char r2_secret_key[256];     /* CF_R2_SECRET_ACCESS_KEY */
    char r2_bucket[128];         /* CF_R2_BUCKET_NAME */
    char buli2_url[512];         /* BULI2_API_URL */
    char buli2_key[512];         /* BULI2_API_KEY */
    uint32_t pdf_max_pages;      /* OCR_PDF_MAX_PAGES */
    uint32_t pdf_dpi;            /* OCR_PDF_DPI */
    bool result_pii_full;        /* OCR_RESULT_PII=full: publish NIK/NPWP unmasked */
    bool decision_compat;        /* OCR_DECISION_POLICY=compat: the original's score rule */
    char emf_namespace[64];      /* OCR_EMF_NAMESPACE: "" disables EMF metric lines */
    enum sandbox_mode seccomp;   /* OCR_SECCOMP: filter of the OCR workers (sandbox.h) */
};

/* Every bad variable of one start, in table order (the first 16 kept). */
#define CONFIG_MAX_ERRORS 16
struct config_errors {
    int count; /* bad variables found; may exceed CONFIG_MAX_ERRORS */
    char msg[CONFIG_MAX_ERRORS][320];
};

/*
 * Reads and validates every variable, collecting one message naming the
 * variable per bad one (a bad variable keeps its default in cfg, so later
 * checks still run).  0, or FILOT_EINVAL with errs filled; callers report
 * each message and exit with FILOT_EXIT_CONFIG.
 */
int config_load_all(struct filot_config *cfg, struct config_errors *errs);

/* config_load_all() with the messages joined by "; " into err. */
int config_load(struct filot_config *cfg, char *err, size_t errlen);

/*
 * Queue mode (no OCR_JOB_SOURCE) needs a database and storage: checks that
 * DATABASE_URL and CF_R2_ENDPOINT (with credentials and bucket for
 * http(s)) are set.  The _all form appends one message per missing
 * variable to errs; the other joins them into err.
 */
int config_check_pipeline_all(const struct filot_config *cfg, struct config_errors *errs);
int config_check_pipeline(const struct filot_config *cfg, char *err, size_t errlen);

/* Iterates the table: name, default (may be ""), one-line description. */
struct config_var {
    const char *name;
    const char *def;
    const char *help;
    bool secret; /* a password or key: shown masked */
};
const struct config_var *config_vars(size_t *count);

/* Parses "2G", "512M", "64k" or plain bytes.  Returns 0 or FILOT_EINVAL. */
int config_parse_size(const char *s, uint64_t *out);

#endif
