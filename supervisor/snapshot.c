/*
 * snapshot.c - health and metrics view of the supervisor.
 *
 * "ready" means the service can do work right now: at least one worker is
 * ready and we are not draining.  "degraded" means something needs an
 * operator (a crash-looping child, a child failed permanently) even if work
 * still gets done.
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
        if (c->index >= 0 && c->state == CS_UP)
            snap->workers_ready++;
        if (c->index >= 0 && v->busy_ms > 0)
            snap->workers_busy++;
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
}
