/*
 * snapshot.c - health and metrics view of the supervisor.
 *
 * "ready" means the service can do work right now: at least one worker is
 * ready and we are not draining.  "degraded" means something needs an
 * operator (a crash-looping child, a child failed permanently) even if work
 * still gets done.  "accepting" (GET /ready) is stricter: in queue mode the
 * workers must also report Redis and PostgreSQL reachable.
 *
 * Everything read from shared memory is a worker's word: job counters go
 * through job_metrics.c, which bounds them; memory figures come from /proc.
 */
#include "snapshot.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/child_proc.h"
#include "../common/status.h"
#include "supervisor.h"

static void view_child(const struct supervisor *s, const struct child *c, uint64_t now,
                       struct sup_child_view *v)
{
    memset(v, 0, sizeof *v);
    snprintf(v->program, sizeof v->program, "%s", c->program);
    v->index = c->index;
    v->pid = c->pid;
    v->restarts = c->restarts;
    snprintf(v->state, sizeof v->state, "%s", child_state_name(c->state));
    v->last_exit_code = -1;
    if (c->last_status != -1 && WIFEXITED(c->last_status))
        v->last_exit_code = WEXITSTATUS(c->last_status);
    if (c->last_status != -1 && WIFSIGNALED(c->last_status))
        v->last_exit_signal = WTERMSIG(c->last_status);
    int rss_slot = c->index < 0 ? 0 : 1 + c->index;
    if (c->pid > 0 && rss_slot < (int)(sizeof s->child_rss / sizeof s->child_rss[0]))
        v->rss_bytes = s->child_rss[rss_slot];
    if (c->index < 0) {
        if (!s->gpu_wanted)
            snprintf(v->state, sizeof v->state, "disabled");
        return;
    }
    const struct shm_worker *w = &s->pool.hdr->workers[c->index];
    v->jobs_done = atomic_load(&w->jobs_done);
    uint64_t started = atomic_load(&w->job_started_ms);
    if (c->state == CS_UP && atomic_load(&w->state) == WS_BUSY && started != 0) {
        snprintf(v->state, sizeof v->state, "busy");
        v->busy_ms = now > started ? now - started : 0;
    }
}

static const char *gpu_state_name(const struct supervisor *s)
{
    if (!s->gpu_wanted)
        return "disabled";
    if (s->gpu.state == CS_FAILED)
        return "unavailable";
    if (s->gpu.state == CS_UP)
        return "ready";
    if (s->gpu.state == CS_STARTING)
        return "starting";
    return "down";
}

/* "down" if any worker reports the dependency down, "up" if some report it up. */
static void dependency_state(const struct supervisor *s, uint32_t known, uint32_t up, char *out,
                             size_t len)
{
    bool any = false, down = false;
    for (int i = 0; i < s->nworkers; i++) {
        uint32_t d = atomic_load(&s->pool.hdr->workers[i].deps);
        if (!(d & known) || s->workers[i].state != CS_UP)
            continue;
        any = true;
        if (!(d & up))
            down = true;
    }
    snprintf(out, len, "%s", !any ? "n/a" : down ? "down" : "up");
}

/* The one exclusive state of a worker slot, from its child state and view. */
static enum sup_worker_state worker_state(const struct child *c, const struct sup_child_view *v)
{
    switch (c->state) {
    case CS_STARTING:
        return SW_STARTING;
    case CS_UP:
        return strcmp(v->state, "busy") == 0 ? SW_BUSY : SW_IDLE;
    case CS_BACKOFF:
        return SW_BACKOFF;
    case CS_STOPPING:
        return SW_STOPPING;
    case CS_FAILED:
        return SW_FAILED;
    default:
        return SW_STOPPED;
    }
}

/*
 * Whether this instance can take work (GET /ready) and, if not, the first
 * reason: draining, no worker ready, or (queue mode) Redis / PostgreSQL not
 * reported reachable by the workers.
 */
static void readiness(const struct supervisor *s, struct sup_snapshot *snap)
{
    snap->queue_mode = s->cfg.job_source[0] == '\0';
    const char *why = NULL;
    char dep[64] = "";
    if (s->draining)
        why = "draining";
    else if (snap->workers_ready == 0)
        why = "no worker is ready";
    else if (snap->queue_mode && strcmp(snap->redis_state, "up") != 0)
        snprintf(dep, sizeof dep, "redis %s",
                 strcmp(snap->redis_state, "down") == 0 ? "unreachable" : "not reported yet");
    else if (snap->queue_mode && strcmp(snap->postgres_state, "up") != 0)
        snprintf(dep, sizeof dep, "postgres %s",
                 strcmp(snap->postgres_state, "down") == 0 ? "unreachable" : "not reported yet");
    if (why == NULL && dep[0] != '\0')
        why = dep;
    snap->accepting = why == NULL;
    snprintf(snap->not_accepting, sizeof snap->not_accepting, "%s", why ? why : "");
}

/*
 * Sums what the workers reported since the last tick and, once a second,
 * reads our own process figures and the children's memory.
 */
void snapshot_collect(struct supervisor *s, uint64_t now)
{
    for (int i = 0; i < s->nworkers && i < SHM_MAX_WORKERS; i++)
        job_metrics_collect(&s->jobs, i, &s->pool.hdr->workers[i].stats);
    if (now < s->next_proc_sample_ms)
        return;
    s->next_proc_sample_ms = now + PROC_SAMPLE_MS;
    proc_figures_read(&s->proc, now - s->start_ms);
    s->child_rss[0] = proc_child_rss_bytes(s->gpu.pid);
    for (int i = 0; i < s->nworkers && i < SHM_MAX_WORKERS; i++)
        s->child_rss[1 + i] = proc_child_rss_bytes(s->workers[i].pid);
}

/* Job totals, queue sizes and process figures for /metrics. */
static void metrics_view(const struct supervisor *s, uint64_t now, struct sup_snapshot *snap)
{
    snap->jobs = s->jobs.total;
    snap->counter_rejects_total = s->jobs.rejected_total;
    snap->proc = s->proc;
    bool live[SHM_MAX_WORKERS] = {false};
    int n = s->nworkers < SHM_MAX_WORKERS ? s->nworkers : SHM_MAX_WORKERS;
    for (int i = 0; i < n; i++)
        live[i] = s->workers[i].state == CS_UP;
    job_metrics_queue(s->pool.hdr->workers, live, n, now, &snap->queue);
}

void snapshot_build(const struct supervisor *s, uint64_t now, struct sup_snapshot *snap)
{
    memset(snap, 0, sizeof *snap);
    snap->uptime_ms = now - s->start_ms;
    snap->draining = s->draining;
    snap->workers_total = s->nworkers;
    snap->gpu_state[0] = '\0';
    snprintf(snap->gpu_state, sizeof snap->gpu_state, "%s", gpu_state_name(s));
    shm_gpu_device(&s->pool, snap->gpu_device, sizeof snap->gpu_device);
    const struct child *all[SUP_MAX_CHILDREN];
    int n = 0;
    all[n++] = &s->gpu;
    for (int i = 0; i < s->nworkers; i++)
        all[n++] = &s->workers[i];
    for (int i = 0; i < n; i++) {
        const struct child *c = all[i];
        struct sup_child_view *v = &snap->children[snap->nchildren++];
        view_child(s, c, now, v);
        snap->restarts_total += c->restarts;
        snap->crashes_total += c->crashes;
        if (c->index >= 0) {
            enum sup_worker_state ws = worker_state(c, v);
            snap->workers_by_state[ws]++;
            snap->workers_ready += ws == SW_IDLE || ws == SW_BUSY;
            snap->workers_busy += ws == SW_BUSY;
        }
        bool gpu_unavailable = c->index < 0 && WIFEXITED(c->last_status) &&
                               WEXITSTATUS(c->last_status) == FILOT_EXIT_NO_DEVICE;
        if (c->state == CS_FAILED && !gpu_unavailable) {
            snap->degraded = true;
            snprintf(snap->reason, sizeof snap->reason, "%s %d failed permanently", c->program,
                     c->index);
        } else if (child_crashlooping(c, now, &s->policy)) {
            snap->degraded = true;
            snprintf(snap->reason, sizeof snap->reason, "%s %d is crash-looping", c->program,
                     c->index);
        }
        if (c->index >= 0) {
            const struct shm_worker *w = &s->pool.hdr->workers[c->index];
            snap->jobs_total += atomic_load(&w->jobs_done);
            snap->gpu_jobs_total += atomic_load(&w->gpu_jobs);
            snap->cpu_jobs_total += atomic_load(&w->cpu_jobs);
        }
    }
    dependency_state(s, DEP_REDIS_KNOWN, DEP_REDIS_UP, snap->redis_state, sizeof snap->redis_state);
    dependency_state(s, DEP_DB_KNOWN, DEP_DB_UP, snap->postgres_state, sizeof snap->postgres_state);
    if (strcmp(snap->redis_state, "down") == 0 || strcmp(snap->postgres_state, "down") == 0) {
        snap->degraded = true;
        snprintf(snap->reason, sizeof snap->reason, "redis %s, postgres %s", snap->redis_state,
                 snap->postgres_state);
    }
    snap->ready = snap->workers_ready > 0 && !s->draining;
    if (!snap->ready && snap->reason[0] == '\0')
        snprintf(snap->reason, sizeof snap->reason, "%s",
                 s->draining ? "draining" : "no worker is ready");
    snap->job_timeouts_total = s->timeouts_total;
    snap->recycles_total = s->recycles_total;
    snap->listener_resets_total = atomic_load(&s->pool.hdr->listener_resets);
    snap->slots_total = s->pool.slot_count;
    snap->slots_in_use = shm_slots_in_use(&s->pool);
    snap->shm_bytes = s->pool.size;
    snap->rss_kb = child_proc_rss_kb();
    readiness(s, snap);
    metrics_view(s, now, snap);
}
