/*
 * http_health.c - renders GET /health as JSON in the style of the original
 * FiLot API ({"ok":true,"status":"ok","uptime":...,"timestamp":...}),
 * extended with the supervisor's view of its workers, GPU server and
 * children.
 *
 * The HTTP status is the contract with ECS (`curl -f .../health`): 200 when
 * the service can do work (snap->ready, degraded or not), 503 otherwise.
 * Draining always counts as not ready, even if a snapshot claims both.
 *
 * GET /ready is the readiness probe beside it (Kubernetes style): 200 only
 * while this instance can take work - workers ready, not draining and, in
 * queue mode, Redis and PostgreSQL reachable as the workers report them -
 * else 503 with the reason.  /health stays the liveness check ECS and the
 * image use, so a database outage does not make ECS replace healthy tasks.
 */
#include "supervisor/http.h"

#include <jansson.h>
#include <string.h>

#include "common/clock.h"
#include "common/json_text.h"
#include "common/log.h"

#define HTTP_OK          200
#define HTTP_UNAVAILABLE 503

/* True when the service can take work: ready and not draining. */
static int can_work(const struct sup_snapshot *snap)
{
    return snap->ready && !snap->draining;
}

/*
 * Returns a JSON string for a fixed-size char field that may lack its NUL,
 * or JSON null when it is empty and empty_is_null is set.  Text that is not
 * valid UTF-8 (jansson refuses it) becomes "?" rather than failing the page.
 */
static json_t *field_string(const char *s, size_t cap, int empty_is_null)
{
    size_t len = strnlen(s, cap);
    if (len == 0 && empty_is_null)
        return json_null();
    json_t *v = json_stringn(s, len);
    return v != NULL ? v : json_string("?");
}

/*
 * Picks the one-word status.  Ready: "ok", or "degraded" when a child is
 * crash-looping or failed.  Not ready: "draining" after SIGTERM; "starting"
 * while nothing has failed and no child is known yet or some child is
 * still starting; otherwise "unavailable".
 */
static const char *health_status(const struct sup_snapshot *snap)
{
    if (snap->draining)
        return "draining";
    if (can_work(snap))
        return snap->degraded ? "degraded" : "ok";
    if (snap->degraded)
        return "unavailable";
    if (snap->nchildren <= 0)
        return "starting";
    for (int i = 0; i < snap->nchildren && i < SUP_MAX_CHILDREN; i++) {
        const struct sup_child_view *c = &snap->children[i];
        if (strncmp(c->state, "starting", sizeof c->state) == 0)
            return "starting";
    }
    return "unavailable";
}

/* Builds the JSON object for one child slot; NULL on allocation failure. */
static json_t *child_json(const struct sup_child_view *c)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    int rc = 0;
    rc |= json_object_set_new(o, "program", field_string(c->program, sizeof c->program, 0));
    rc |= json_object_set_new(o, "index", json_integer(c->index));
    rc |= json_object_set_new(o, "pid", json_integer(c->pid));
    rc |= json_object_set_new(o, "state", field_string(c->state, sizeof c->state, 0));
    rc |= json_object_set_new(o, "restarts", json_integer((json_int_t)c->restarts));
    rc |= json_object_set_new(o, "jobsDone", json_integer((json_int_t)c->jobs_done));
    rc |= json_object_set_new(o, "busyMs", json_integer((json_int_t)c->busy_ms));
    rc |= json_object_set_new(o, "lastExitCode", json_integer(c->last_exit_code));
    rc |= json_object_set_new(o, "lastExitSignal", json_integer(c->last_exit_signal));
    if (rc != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* Builds the "children" array; NULL on allocation failure. */
static json_t *children_json(const struct sup_snapshot *snap)
{
    json_t *arr = json_array();
    if (arr == NULL)
        return NULL;
    int n = snap->nchildren;
    if (n > SUP_MAX_CHILDREN)
        n = SUP_MAX_CHILDREN;
    for (int i = 0; i < n; i++) {
        if (json_array_append_new(arr, child_json(&snap->children[i])) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

/* Builds the whole /health document; NULL on allocation failure. */
static json_t *health_json(const struct sup_snapshot *snap)
{
    char ts[40];
    clock_iso8601(clock_wall_ms(), ts, sizeof ts);

    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    int rc = 0;
    rc |= json_object_set_new(o, "ok", json_boolean(can_work(snap)));
    rc |= json_object_set_new(o, "status", json_string(health_status(snap)));
    rc |= json_object_set_new(o, "uptime", json_real((double)snap->uptime_ms / 1000.0));
    rc |= json_object_set_new(o, "timestamp", json_string(ts));
    rc |= json_object_set_new(o, "ready", json_boolean(can_work(snap)));
    rc |= json_object_set_new(o, "draining", json_boolean(snap->draining));
    rc |= json_object_set_new(o, "degraded", json_boolean(snap->degraded));
    if (strnlen(snap->reason, sizeof snap->reason) > 0)
        rc |= json_object_set_new(o, "reason", field_string(snap->reason, sizeof snap->reason, 0));
    rc |= json_object_set_new(o, "workers",
                              json_pack("{s:i, s:i, s:i}", "total", snap->workers_total, "ready",
                                        snap->workers_ready, "busy", snap->workers_busy));
    rc |= json_object_set_new(
        o, "gpu",
        json_pack("{s:o, s:o}", "state", field_string(snap->gpu_state, sizeof snap->gpu_state, 0),
                  "device", field_string(snap->gpu_device, sizeof snap->gpu_device, 1)));
    rc |= json_object_set_new(
        o, "dependencies",
        json_pack("{s:o, s:o}", "redis",
                  field_string(snap->redis_state, sizeof snap->redis_state, 0), "postgres",
                  field_string(snap->postgres_state, sizeof snap->postgres_state, 0)));
    rc |= json_object_set_new(o, "children", children_json(snap));
    if (rc != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* Serialises doc (taken) with our real-number format; NULL when out of memory. */
static char *dump_json(json_t *doc, const char *what)
{
    char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_15) : NULL;
    json_decref(doc);
    if (text == NULL)
        log_kv(LOG_ERROR, "Out of memory rendering an HTTP answer", LF_STR, "path", what, LF_END);
    return text;
}

/*
 * Renders the /health body and sets *status to 200 (ready) or 503.  Returns
 * malloc'd JSON text the caller frees, or NULL when memory ran out (then
 * *status is 503 too).
 */
char *http_render_health(const struct sup_snapshot *snap, int *status)
{
    char *text = dump_json(health_json(snap), "/health");
    *status = text != NULL && can_work(snap) ? HTTP_OK : HTTP_UNAVAILABLE;
    return text;
}

/*
 * Renders the /ready body: {"ready":bool, "reason":"..." (when not),
 * "draining", "workers":{"ready","total"}, "dependencies":{...}}.  *status
 * is 200 only when snap->accepting (and not draining); NULL when out of
 * memory (then 503).
 */
char *http_render_ready(const struct sup_snapshot *snap, int *status)
{
    bool ready = snap->accepting && !snap->draining;
    json_t *o = json_pack("{s:b, s:b, s:{s:i, s:i}, s:{s:o, s:o}}", "ready", ready, "draining",
                          snap->draining, "workers", "ready", snap->workers_ready, "total",
                          snap->workers_total, "dependencies", "redis",
                          field_string(snap->redis_state, sizeof snap->redis_state, 0), "postgres",
                          field_string(snap->postgres_state, sizeof snap->postgres_state, 0));
    if (o != NULL && !ready) {
        const char *why = snap->draining ? "draining" : snap->not_accepting;
        json_object_set_new(o, "reason",
                            why[0] ? field_string(why, sizeof snap->not_accepting, 0)
                                   : json_string("supervisor starting"));
    }
    char *text = dump_json(o, "/ready");
    *status = text != NULL && ready ? HTTP_OK : HTTP_UNAVAILABLE;
    return text;
}
