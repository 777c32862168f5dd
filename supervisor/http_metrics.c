/*
 * http_metrics.c - renders GET /metrics in the Prometheus text exposition
 * format 0.0.4, written by hand (Debian has no C client library).
 *
 * Every family gets HELP and TYPE lines, counters end in _total, names
 * start with filot_ocrd_ and use base units, so `promtool check metrics`
 * reports no lint problems.
 */
#include "supervisor/http.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

#define PROM_PROGRAMS_MAX (SUP_MAX_CHILDREN + 2)

/* Growing text buffer; failed sticks once an allocation fails. */
struct prom_buf {
    char *text;
    size_t len;
    size_t cap;
    int failed;
};

/* Appends printf-style text, growing the buffer as needed. */
__attribute__((format(printf, 2, 3))) static void pb_printf(struct prom_buf *b, const char *fmt,
                                                            ...)
{
    if (b->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->text + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = 1;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap * 2;
        while (cap - b->len <= (size_t)n)
            cap *= 2;
        char *p = realloc(b->text, cap);
        if (p == NULL) {
            b->failed = 1;
            return;
        }
        b->text = p;
        b->cap = cap;
    }
}

/* Writes the HELP and TYPE lines that open a family. */
static void pb_family(struct prom_buf *b, const char *name, const char *type, const char *help)
{
    pb_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Writes one unlabelled sample of an unsigned integer. */
static void pb_u64(struct prom_buf *b, const char *name, uint64_t value)
{
    pb_printf(b, "%s %" PRIu64 "\n", name, value);
}

/*
 * Copies a label value out of a fixed-size field (maybe unterminated),
 * escaping backslash, double quote and newline as the format requires.
 */
static void label_escape(const char *s, size_t cap, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < cap && s[i] != '\0' && o + 3 < outlen; i++) {
        char c = s[i];
        if (c == '\\' || c == '"') {
            out[o++] = '\\';
            out[o++] = c;
        } else if (c == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else {
            out[o++] = c;
        }
    }
    out[o] = '\0';
}

/* Process-wide state gauges: up, ready, draining, degraded, uptime. */
static void render_state(struct prom_buf *b, const struct sup_snapshot *snap)
{
    pb_family(b, "filot_ocrd_up", "gauge", "1 while the supervisor answers.");
    pb_u64(b, "filot_ocrd_up", 1);
    pb_family(b, "filot_ocrd_ready", "gauge", "1 when at least one worker can take a job.");
    pb_u64(b, "filot_ocrd_ready", snap->ready && !snap->draining);
    pb_family(b, "filot_ocrd_draining", "gauge", "1 after SIGTERM, while jobs finish.");
    pb_u64(b, "filot_ocrd_draining", snap->draining);
    pb_family(b, "filot_ocrd_degraded", "gauge",
              "1 when a child is crash-looping or failed permanently.");
    pb_u64(b, "filot_ocrd_degraded", snap->degraded);
    pb_family(b, "filot_ocrd_uptime_seconds", "gauge", "Seconds since the supervisor started.");
    pb_printf(b, "filot_ocrd_uptime_seconds %.3f\n", (double)snap->uptime_ms / 1000.0);
}

/* Worker pool and GPU server gauges. */
static void render_pool(struct prom_buf *b, const struct sup_snapshot *snap)
{
    pb_family(b, "filot_ocrd_workers", "gauge",
              "OCR workers by state (ready counts idle and busy workers).");
    pb_printf(b, "filot_ocrd_workers{state=\"ready\"} %d\n", snap->workers_ready);
    pb_printf(b, "filot_ocrd_workers{state=\"busy\"} %d\n", snap->workers_busy);
    pb_family(b, "filot_ocrd_workers_configured", "gauge", "OCR worker slots configured.");
    pb_printf(b, "filot_ocrd_workers_configured %d\n", snap->workers_total);
    int gpu_ready = strncmp(snap->gpu_state, "ready", sizeof snap->gpu_state) == 0;
    pb_family(b, "filot_ocrd_gpu_available", "gauge", "1 when the GPU server is ready.");
    pb_u64(b, "filot_ocrd_gpu_available", (uint64_t)gpu_ready);
    pb_family(b, "filot_ocrd_dependency_up", "gauge",
              "1 when every worker reaches the dependency (absent when unused).");
    if (strncmp(snap->redis_state, "n/a", sizeof snap->redis_state) != 0)
        pb_printf(b, "filot_ocrd_dependency_up{name=\"redis\"} %d\n",
                  strncmp(snap->redis_state, "up", sizeof snap->redis_state) == 0);
    if (strncmp(snap->postgres_state, "n/a", sizeof snap->postgres_state) != 0)
        pb_printf(b, "filot_ocrd_dependency_up{name=\"postgres\"} %d\n",
                  strncmp(snap->postgres_state, "up", sizeof snap->postgres_state) == 0);
}

/*
 * Restarts summed per program.  The two known programs always appear (0
 * when absent) so the series exist from the first scrape.
 */
static void render_restarts(struct prom_buf *b, const struct sup_snapshot *snap)
{
    static const char *const known[] = {"filot-ocr-worker", "filot-gpu-server"};
    char names[PROM_PROGRAMS_MAX][sizeof snap->children[0].program];
    uint64_t sums[PROM_PROGRAMS_MAX];
    int nprog = 0;
    for (size_t k = 0; k < sizeof known / sizeof known[0]; k++) {
        snprintf(names[nprog], sizeof names[nprog], "%s", known[k]);
        sums[nprog++] = 0;
    }
    int n = snap->nchildren < SUP_MAX_CHILDREN ? snap->nchildren : SUP_MAX_CHILDREN;
    for (int i = 0; i < n; i++) {
        const struct sup_child_view *c = &snap->children[i];
        int p = 0;
        while (p < nprog && strncmp(names[p], c->program, sizeof names[p]) != 0)
            p++;
        if (p == nprog) {
            memcpy(names[p], c->program, sizeof names[p]);
            names[p][sizeof names[p] - 1] = '\0';
            sums[p] = 0;
            nprog++;
        }
        sums[p] += c->restarts;
    }
    pb_family(b, "filot_ocrd_child_restarts_total", "counter",
              "Times a child process was started again, by program.");
    for (int p = 0; p < nprog; p++) {
        char esc[2 * sizeof names[p] + 1];
        label_escape(names[p], sizeof names[p], esc, sizeof esc);
        pb_printf(b, "filot_ocrd_child_restarts_total{program=\"%s\"} %" PRIu64 "\n", esc, sums[p]);
    }
}

/* Supervision and job counters. */
static void render_counters(struct prom_buf *b, const struct sup_snapshot *snap)
{
    pb_family(b, "filot_ocrd_child_crashes_total", "counter",
              "Abnormal child exits (signal or unexpected exit code).");
    pb_u64(b, "filot_ocrd_child_crashes_total", snap->crashes_total);
    pb_family(b, "filot_ocrd_job_timeouts_total", "counter",
              "Workers killed for running past OCR_JOB_TIMEOUT_MS.");
    pb_u64(b, "filot_ocrd_job_timeouts_total", snap->job_timeouts_total);
    pb_family(b, "filot_ocrd_worker_recycles_total", "counter",
              "Workers replaced after their job count or RSS limit.");
    pb_u64(b, "filot_ocrd_worker_recycles_total", snap->recycles_total);

    uint64_t pre = snap->gpu_jobs_total + snap->cpu_jobs_total;
    uint64_t none = snap->jobs_total > pre ? snap->jobs_total - pre : 0;
    pb_family(b, "filot_ocrd_jobs_total", "counter",
              "Jobs finished, by where they were preprocessed (none: not preprocessed).");
    pb_printf(b, "filot_ocrd_jobs_total{preprocess=\"gpu\"} %" PRIu64 "\n", snap->gpu_jobs_total);
    pb_printf(b, "filot_ocrd_jobs_total{preprocess=\"cpu\"} %" PRIu64 "\n", snap->cpu_jobs_total);
    pb_printf(b, "filot_ocrd_jobs_total{preprocess=\"none\"} %" PRIu64 "\n", none);

    pb_family(b, "filot_ocrd_ipc_listener_resets_total", "counter",
              "Times the nng IPC listener was re-created.");
    pb_u64(b, "filot_ocrd_ipc_listener_resets_total", snap->listener_resets_total);
}

/* Shared-memory slot pool and supervisor memory gauges. */
static void render_memory(struct prom_buf *b, const struct sup_snapshot *snap)
{
    pb_family(b, "filot_ocrd_shm_slots", "gauge", "Shared-memory image slots in the pool.");
    pb_u64(b, "filot_ocrd_shm_slots", snap->slots_total);
    pb_family(b, "filot_ocrd_shm_slots_in_use", "gauge", "Shared-memory image slots in use.");
    pb_u64(b, "filot_ocrd_shm_slots_in_use", snap->slots_in_use);
    pb_family(b, "filot_ocrd_shm_bytes", "gauge", "Size of the shared-memory slot pool.");
    pb_u64(b, "filot_ocrd_shm_bytes", snap->shm_bytes);
    pb_family(b, "filot_ocrd_supervisor_rss_bytes", "gauge",
              "Resident set size of the supervisor process.");
    pb_u64(b, "filot_ocrd_supervisor_rss_bytes", snap->rss_kb * 1024u);
}

/* Per-child counters, labelled by program and index. */
static void render_children(struct prom_buf *b, const struct sup_snapshot *snap)
{
    pb_family(b, "filot_ocrd_child_jobs_done_total", "counter",
              "Jobs finished by a child slot over all its incarnations.");
    int n = snap->nchildren < SUP_MAX_CHILDREN ? snap->nchildren : SUP_MAX_CHILDREN;
    for (int i = 0; i < n; i++) {
        const struct sup_child_view *c = &snap->children[i];
        char esc[2 * sizeof c->program + 1];
        label_escape(c->program, sizeof c->program, esc, sizeof esc);
        pb_printf(b, "filot_ocrd_child_jobs_done_total{program=\"%s\",index=\"%d\"} %" PRIu64 "\n",
                  esc, c->index, c->jobs_done);
    }
}

/* Renders the /metrics body; malloc'd text the caller frees, or NULL. */
char *http_render_metrics(const struct sup_snapshot *snap)
{
    struct prom_buf b = {.cap = 4096};
    b.text = malloc(b.cap);
    if (b.text == NULL) {
        log_msg(LOG_ERROR, "Out of memory rendering /metrics");
        return NULL;
    }
    b.text[0] = '\0';
    render_state(&b, snap);
    render_pool(&b, snap);
    render_restarts(&b, snap);
    render_counters(&b, snap);
    render_memory(&b, snap);
    render_children(&b, snap);
    if (b.failed) {
        free(b.text);
        log_msg(LOG_ERROR, "Out of memory rendering /metrics");
        return NULL;
    }
    return b.text;
}
