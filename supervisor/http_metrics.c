/*
 * http_metrics.c - renders GET /metrics in the Prometheus text exposition
 * format 0.0.4, written by hand (Debian has no C client library).
 *
 * Every family gets HELP and TYPE lines, counters end in _total, names
 * start with filot_ocrd_ (or process_ for the standard process figures) and
 * use base units, so `promtool check metrics` reports no lint problems.
 * Job figures are the supervisor's bounded sums of what workers report
 * (job_metrics.c), so they survive worker restarts and never go backwards.
 * Seconds derived from milliseconds print as exact decimals, not floats.
 */
#include "supervisor/http.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "ipc/job_stats.h"

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

/* Writes name{labels} with milliseconds as exact decimal seconds (1491 -> 1.491). */
static void pb_ms_as_seconds(struct prom_buf *b, const char *name, const char *labels, uint64_t ms)
{
    pb_printf(b, "%s%s %" PRIu64 ".%03u\n", name, labels, ms / 1000u, (unsigned)(ms % 1000u));
}

/* A bucket bound in ms as the shortest decimal number of seconds ("0.25", "8"). */
static void bound_text(uint32_t ms, char *out, size_t len)
{
    if (ms % 1000u == 0) {
        snprintf(out, len, "%u", ms / 1000u);
        return;
    }
    snprintf(out, len, "%u.%03u", ms / 1000u, ms % 1000u);
    size_t n = strlen(out);
    while (n > 0 && out[n - 1] == '0')
        out[--n] = '\0';
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
    pb_family(b, "filot_ocrd_ready", "gauge",
              "1 when this instance can take work (GET /ready answers 200).");
    pb_u64(b, "filot_ocrd_ready", snap->accepting && !snap->draining);
    pb_family(b, "filot_ocrd_draining", "gauge", "1 after SIGTERM, while jobs finish.");
    pb_u64(b, "filot_ocrd_draining", snap->draining);
    pb_family(b, "filot_ocrd_degraded", "gauge",
              "1 when a child is crash-looping or failed permanently.");
    pb_u64(b, "filot_ocrd_degraded", snap->degraded);
    pb_family(b, "filot_ocrd_uptime_seconds", "gauge", "Seconds since the supervisor started.");
    pb_ms_as_seconds(b, "filot_ocrd_uptime_seconds", "", snap->uptime_ms);
    pb_family(b, "filot_ocrd_build_info", "gauge", "Always 1; the version label names the build.");
    pb_printf(b, "filot_ocrd_build_info{version=\"%s\"} 1\n", FILOT_VERSION);
}

/* Worker pool and GPU server gauges. */
static void render_pool(struct prom_buf *b, const struct sup_snapshot *snap)
{
    static const char *const state_names[SW_STATES] = {"starting", "idle",    "busy",  "backoff",
                                                       "stopping", "stopped", "failed"};
    pb_family(b, "filot_ocrd_workers", "gauge",
              "OCR workers by state; each worker is in exactly one state.");
    for (int i = 0; i < SW_STATES; i++)
        pb_printf(b, "filot_ocrd_workers{state=\"%s\"} %d\n", state_names[i],
                  snap->workers_by_state[i]);
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

    pb_family(b, "filot_ocrd_worker_reports_rejected_total", "counter",
              "Implausible job counts read from shared memory and ignored.");
    pb_u64(b, "filot_ocrd_worker_reports_rejected_total", snap->counter_rejects_total);
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

/*
 * Jobs by how they ended, and completed documents by decision.  A job that
 * fails before preprocessing counts as failed; where its pages were
 * preprocessed is a label of the duration histogram, not of this count.
 */
static void render_jobs(struct prom_buf *b, const struct sup_snapshot *snap)
{
    pb_family(b, "filot_ocrd_jobs_total", "counter",
              "Job attempts by outcome: completed, failed (final), retried (back to the queue), "
              "duplicate (already completed, dropped).");
    for (int i = 0; i < JOB_OUTCOMES; i++)
        pb_printf(b, "filot_ocrd_jobs_total{outcome=\"%s\"} %" PRIu64 "\n", job_outcome_names[i],
                  snap->jobs.outcomes[i]);
    pb_family(b, "filot_ocrd_job_decisions_total", "counter",
              "Completed KTP/NPWP documents by decision.");
    for (int i = 0; i < JOB_DECISIONS; i++)
        pb_printf(b, "filot_ocrd_job_decisions_total{decision=\"%s\"} %" PRIu64 "\n",
                  job_decision_names[i], snap->jobs.decisions[i]);
}

/* Duration of completed jobs, by document type and preprocessing device. */
static void render_duration(struct prom_buf *b, const struct sup_snapshot *snap)
{
    static const char name[] = "filot_ocrd_job_duration_seconds";
    pb_family(b, name, "histogram",
              "Time from claim to result of completed jobs, by document type and preprocess.");
    for (int t = 0; t < JOB_DOC_TYPES; t++)
        for (int p = 0; p < JOB_PREPROCESS; p++) {
            char labels[96];
            snprintf(labels, sizeof labels, "document_type=\"%s\",preprocess=\"%s\"",
                     job_doc_type_names[t], job_preprocess_names[p]);
            uint64_t cumulative = 0;
            for (int i = 0; i < JOB_DURATION_BUCKETS; i++) {
                char le[16] = "+Inf";
                if (i < JOB_DURATION_BOUNDS)
                    bound_text(job_duration_bounds_ms[i], le, sizeof le);
                cumulative += snap->jobs.duration_buckets[t][p][i];
                pb_printf(b, "%s_bucket{%s,le=\"%s\"} %" PRIu64 "\n", name, labels, le, cumulative);
            }
            char braced[sizeof labels + 2];
            snprintf(braced, sizeof braced, "{%s}", labels);
            pb_printf(b, "%s_sum", name);
            pb_ms_as_seconds(b, "", braced, snap->jobs.duration_sum_ms[t][p]);
            pb_printf(b, "%s_count%s %" PRIu64 "\n", name, braced, cumulative);
        }
}

/* Redis sizes a worker sampled; absent while no fresh sample exists. */
static void render_queue(struct prom_buf *b, const struct sup_snapshot *snap)
{
    if (!snap->queue.known)
        return;
    const struct {
        const char *name, *help;
        int64_t value;
    } g[] = {
        {"filot_ocrd_queue_depth", "Documents waiting in the Redis queue list.",
         snap->queue.queued},
        {"filot_ocrd_queue_processing", "Documents in the Redis processing set (claimed).",
         snap->queue.processing},
        {"filot_ocrd_queue_delayed", "Documents waiting out a retry delay.", snap->queue.delayed},
        {"filot_ocrd_buli2_outbox_pending", "BULI2 escalations not yet delivered.",
         snap->queue.outbox},
    };
    for (size_t i = 0; i < sizeof g / sizeof g[0]; i++) {
        pb_family(b, g[i].name, "gauge", g[i].help);
        pb_printf(b, "%s %" PRId64 "\n", g[i].name, g[i].value);
    }
    pb_family(b, "filot_ocrd_queue_sample_age_seconds", "gauge",
              "Age of the Redis sizes above (sampled by a worker every few seconds).");
    pb_ms_as_seconds(b, "filot_ocrd_queue_sample_age_seconds", "", snap->queue.age_ms);
}

/* The standard process_* figures of the supervisor itself. */
static void render_process(struct prom_buf *b, const struct sup_snapshot *snap)
{
    const struct proc_figures *f = &snap->proc;
    pb_family(b, "process_cpu_seconds_total", "counter",
              "Total user and system CPU time spent in seconds.");
    pb_printf(b, "process_cpu_seconds_total %.6f\n", f->cpu_seconds);
    pb_family(b, "process_start_time_seconds", "gauge",
              "Start time of the process since unix epoch in seconds.");
    pb_printf(b, "process_start_time_seconds %.3f\n", f->start_time_seconds);
    pb_family(b, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
    pb_u64(b, "process_resident_memory_bytes", f->rss_bytes);
    pb_family(b, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
    pb_u64(b, "process_virtual_memory_bytes", f->virtual_bytes);
    pb_family(b, "process_open_fds", "gauge", "Number of open file descriptors.");
    pb_u64(b, "process_open_fds", f->open_fds);
    if (f->max_fds > 0) {
        pb_family(b, "process_max_fds", "gauge", "Maximum number of open file descriptors.");
        pb_u64(b, "process_max_fds", f->max_fds);
    }
}

/* Resident memory of each running child, by role (and worker index). */
static void render_children(struct prom_buf *b, const struct sup_snapshot *snap)
{
    pb_family(b, "filot_ocrd_child_resident_memory_bytes", "gauge",
              "Resident memory of a running child process (the GPU server or a worker).");
    int n = snap->nchildren < SUP_MAX_CHILDREN ? snap->nchildren : SUP_MAX_CHILDREN;
    for (int i = 0; i < n; i++) {
        const struct sup_child_view *c = &snap->children[i];
        if (c->pid <= 0 || c->rss_bytes == 0)
            continue;
        if (c->index < 0)
            pb_printf(b,
                      "filot_ocrd_child_resident_memory_bytes{role=\"gpu_server\"} "
                      "%" PRIu64 "\n",
                      c->rss_bytes);
        else
            pb_printf(b,
                      "filot_ocrd_child_resident_memory_bytes{role=\"worker\",worker=\"%d\"} "
                      "%" PRIu64 "\n",
                      c->index, c->rss_bytes);
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
    render_jobs(&b, snap);
    render_duration(&b, snap);
    render_queue(&b, snap);
    render_memory(&b, snap);
    render_process(&b, snap);
    render_children(&b, snap);
    if (b.failed) {
        free(b.text);
        log_msg(LOG_ERROR, "Out of memory rendering /metrics");
        return NULL;
    }
    return b.text;
}
