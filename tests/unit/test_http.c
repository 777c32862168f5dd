/*
 * test_http.c - /health, /ready and /metrics renderers, and the live server
 * on 127.0.0.1 (status lines, headers, 404/405, port in use), with the
 * /metrics output checked by `promtool check metrics`.
 */
#include <arpa/inet.h>
#include <check.h>

#include "check_run.h"
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "common/status.h"
#include "supervisor/http.h"

/* Fills *s with two workers and a GPU server in a consistent state. */
static void fill_snapshot(struct sup_snapshot *s, bool ready, bool draining, bool degraded)
{
    memset(s, 0, sizeof *s);
    s->uptime_ms = 12345;
    s->ready = ready;
    s->draining = draining;
    s->degraded = degraded;
    if (degraded)
        snprintf(s->reason, sizeof s->reason, "filot-gpu-server crash-looping");
    else if (!ready)
        snprintf(s->reason, sizeof s->reason, "no worker ready");
    s->workers_total = 2;
    s->workers_ready = ready ? 2 : 0;
    s->workers_busy = ready ? 1 : 0;
    snprintf(s->gpu_state, sizeof s->gpu_state, "%s", degraded ? "down" : "ready");
    snprintf(s->gpu_device, sizeof s->gpu_device, "NVIDIA A10G");
    s->restarts_total = 5;
    s->crashes_total = 3;
    s->job_timeouts_total = 1;
    s->recycles_total = 2;
    s->jobs_total = 40;
    s->gpu_jobs_total = 30;
    s->cpu_jobs_total = 8;
    s->listener_resets_total = 1;
    s->slots_total = 8;
    s->slots_in_use = 3;
    s->shm_bytes = 8u * 16u * 1024u * 1024u;
    s->rss_kb = 5120;
    s->queue_mode = true;
    s->accepting = ready && !draining;
    if (!s->accepting)
        snprintf(s->not_accepting, sizeof s->not_accepting, "%s",
                 draining ? "draining" : "no worker is ready");
    snprintf(s->redis_state, sizeof s->redis_state, "up");
    snprintf(s->postgres_state, sizeof s->postgres_state, "up");
    s->workers_by_state[SW_IDLE] = ready ? 1 : 0;
    s->workers_by_state[SW_BUSY] = ready ? 1 : 0;
    s->workers_by_state[SW_BACKOFF] = ready ? 0 : 2;
    s->jobs.outcomes[JOB_COMPLETED] = 38;
    s->jobs.outcomes[JOB_FAILED] = 2;
    s->jobs.outcomes[JOB_RETRIED] = 4;
    s->jobs.decisions[JOB_AUTO_APPROVED] = 30;
    s->jobs.decisions[JOB_NEEDS_REVIEW] = 8;
    /* ktp on the GPU: 30 jobs, 10 of 0.1 s, 20 of 1.5 s; npwp on the CPU: 8 of 40 s */
    s->jobs.duration_buckets[JOB_DOC_KTP][JOB_PRE_GPU][0] = 10;
    s->jobs.duration_buckets[JOB_DOC_KTP][JOB_PRE_GPU][4] = 20;
    s->jobs.duration_sum_ms[JOB_DOC_KTP][JOB_PRE_GPU] = 10 * 100 + 20 * 1500;
    s->jobs.duration_buckets[JOB_DOC_NPWP][JOB_PRE_CPU][JOB_DURATION_BOUNDS - 1] = 8;
    s->jobs.duration_sum_ms[JOB_DOC_NPWP][JOB_PRE_CPU] = 8 * 40000 + 7;
    s->queue = (struct job_queue_gauges){true, 1200, 17, 2, 3, 1};
    s->proc = (struct proc_figures){1.25, 1764680000.5, 5242880, 104857600, 12, 1024};
    s->nchildren = 3;
    for (int i = 0; i < 3; i++) {
        struct sup_child_view *c = &s->children[i];
        snprintf(c->program, sizeof c->program, "%s",
                 i == 2 ? "filot-gpu-server" : "filot-ocr-worker");
        c->index = i == 2 ? -1 : i;
        c->pid = 1000 + i;
        snprintf(c->state, sizeof c->state, "%s", i == 1 && ready ? "busy" : "ready");
        c->restarts = (uint64_t)i + 1;
        c->jobs_done = 10u * (uint64_t)i;
        c->busy_ms = i == 1 ? 2500 : 0;
        c->last_exit_code = i == 0 ? 1 : -1;
        c->last_exit_signal = i == 2 ? 9 : 0;
        c->rss_bytes = (uint64_t)(i + 1) << 20;
    }
}

/* Renders /health, checks the status code and returns the parsed JSON. */
static json_t *health_doc(const struct sup_snapshot *s, int want_code)
{
    int code = 0;
    char *text = http_render_health(s, &code);
    ck_assert_ptr_nonnull(text);
    ck_assert_int_eq(code, want_code);
    json_error_t err;
    json_t *doc = json_loads(text, JSON_REJECT_DUPLICATES, &err);
    ck_assert_msg(doc != NULL, "bad JSON: %s in %s", err.text, text);
    free(text);
    return doc;
}

/* Returns the string member key of obj (asserting it exists). */
static const char *str_member(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    ck_assert_msg(json_is_string(v), "%s is not a string", key);
    return json_string_value(v);
}

START_TEST(test_health_ready)
{
    struct sup_snapshot s;
    fill_snapshot(&s, true, false, false);
    json_t *doc = health_doc(&s, 200);
    ck_assert(json_is_true(json_object_get(doc, "ok")));
    ck_assert_str_eq(str_member(doc, "status"), "ok");
    ck_assert(json_is_number(json_object_get(doc, "uptime")));
    ck_assert(json_number_value(json_object_get(doc, "uptime")) > 12.3);
    const char *ts = str_member(doc, "timestamp");
    ck_assert_int_eq(strlen(ts), 24);
    ck_assert_int_eq(ts[23], 'Z');
    ck_assert(json_is_true(json_object_get(doc, "ready")));
    ck_assert(json_is_false(json_object_get(doc, "draining")));
    ck_assert(json_is_false(json_object_get(doc, "degraded")));
    ck_assert_ptr_null(json_object_get(doc, "reason"));

    int total = -1, ready = -1, busy = -1;
    ck_assert_int_eq(json_unpack(json_object_get(doc, "workers"), "{s:i, s:i, s:i !}", "total",
                                 &total, "ready", &ready, "busy", &busy),
                     0);
    ck_assert_int_eq(total, 2);
    ck_assert_int_eq(ready, 2);
    ck_assert_int_eq(busy, 1);
    json_t *gpu = json_object_get(doc, "gpu");
    ck_assert_str_eq(str_member(gpu, "state"), "ready");
    ck_assert_str_eq(str_member(gpu, "device"), "NVIDIA A10G");

    json_t *children = json_object_get(doc, "children");
    ck_assert_int_eq(json_array_size(children), 3);
    const char *program, *state;
    int index, pid, code, sig;
    json_int_t restarts, jobs, busy_ms;
    ck_assert_int_eq(json_unpack(json_array_get(children, 1),
                                 "{s:s, s:i, s:i, s:s, s:I, s:I, s:I, s:i, s:i !}", "program",
                                 &program, "index", &index, "pid", &pid, "state", &state,
                                 "restarts", &restarts, "jobsDone", &jobs, "busyMs", &busy_ms,
                                 "lastExitCode", &code, "lastExitSignal", &sig),
                     0);
    ck_assert_str_eq(program, "filot-ocr-worker");
    ck_assert_int_eq(index, 1);
    ck_assert_int_eq(pid, 1001);
    ck_assert_str_eq(state, "busy");
    ck_assert_int_eq(restarts, 2);
    ck_assert_int_eq(jobs, 10);
    ck_assert_int_eq(busy_ms, 2500);
    ck_assert_int_eq(code, -1);
    ck_assert_int_eq(sig, 0);
    json_t *gs = json_array_get(children, 2);
    ck_assert_int_eq(json_integer_value(json_object_get(gs, "index")), -1);
    ck_assert_int_eq(json_integer_value(json_object_get(gs, "lastExitSignal")), 9);
    json_decref(doc);
}
END_TEST

START_TEST(test_health_degraded_still_200)
{
    struct sup_snapshot s;
    fill_snapshot(&s, true, false, true);
    json_t *doc = health_doc(&s, 200);
    ck_assert(json_is_true(json_object_get(doc, "ok")));
    ck_assert_str_eq(str_member(doc, "status"), "degraded");
    ck_assert(json_is_true(json_object_get(doc, "degraded")));
    ck_assert_str_eq(str_member(doc, "reason"), "filot-gpu-server crash-looping");
    ck_assert_str_eq(str_member(json_object_get(doc, "gpu"), "state"), "down");
    json_decref(doc);
}
END_TEST

START_TEST(test_health_not_ready_503)
{
    struct sup_snapshot s;
    fill_snapshot(&s, false, false, false);
    json_t *doc = health_doc(&s, 503);
    ck_assert(json_is_false(json_object_get(doc, "ok")));
    ck_assert(json_is_false(json_object_get(doc, "ready")));
    ck_assert_str_eq(str_member(doc, "status"), "unavailable");
    ck_assert_str_eq(str_member(doc, "reason"), "no worker ready");
    json_decref(doc);

    /* A child still starting, nothing failed: "starting". */
    snprintf(s.children[0].state, sizeof s.children[0].state, "starting");
    doc = health_doc(&s, 503);
    ck_assert_str_eq(str_member(doc, "status"), "starting");
    json_decref(doc);

    /* Not ready and degraded: "unavailable" even while one is starting. */
    s.degraded = true;
    doc = health_doc(&s, 503);
    ck_assert_str_eq(str_member(doc, "status"), "unavailable");
    json_decref(doc);

    /* No children known yet, empty device: "starting", device null. */
    memset(&s, 0, sizeof s);
    doc = health_doc(&s, 503);
    ck_assert_str_eq(str_member(doc, "status"), "starting");
    ck_assert(json_is_null(json_object_get(json_object_get(doc, "gpu"), "device")));
    ck_assert_int_eq(json_array_size(json_object_get(doc, "children")), 0);
    json_decref(doc);
}
END_TEST

START_TEST(test_health_draining_503)
{
    struct sup_snapshot s;
    fill_snapshot(&s, false, true, false);
    json_t *doc = health_doc(&s, 503);
    ck_assert_str_eq(str_member(doc, "status"), "draining");
    ck_assert(json_is_true(json_object_get(doc, "draining")));
    json_decref(doc);

    /* Even a snapshot claiming ready while draining answers 503. */
    s.ready = true;
    doc = health_doc(&s, 503);
    ck_assert_str_eq(str_member(doc, "status"), "draining");
    ck_assert(json_is_false(json_object_get(doc, "ok")));
    json_decref(doc);
}
END_TEST

START_TEST(test_health_unterminated_and_bad_utf8)
{
    struct sup_snapshot s;
    fill_snapshot(&s, true, false, false);
    memset(s.children[0].program, 'x', sizeof s.children[0].program); /* no NUL */
    memcpy(s.gpu_device, "\xff\xfe bad", 7);
    json_t *doc = health_doc(&s, 200);
    json_t *c0 = json_array_get(json_object_get(doc, "children"), 0);
    ck_assert_int_eq(strlen(str_member(c0, "program")), sizeof s.children[0].program);
    ck_assert_str_eq(str_member(json_object_get(doc, "gpu"), "device"), "?");
    json_decref(doc);
}
END_TEST

/* Asserts that text contains needle. */
static void assert_has(const char *text, const char *needle)
{
    ck_assert_msg(strstr(text, needle) != NULL, "missing \"%s\" in:\n%s", needle, text);
}

START_TEST(test_metrics_families)
{
    static const char *const families[][2] = {
        {"filot_ocrd_up", "gauge"},
        {"filot_ocrd_ready", "gauge"},
        {"filot_ocrd_draining", "gauge"},
        {"filot_ocrd_degraded", "gauge"},
        {"filot_ocrd_uptime_seconds", "gauge"},
        {"filot_ocrd_build_info", "gauge"},
        {"filot_ocrd_workers", "gauge"},
        {"filot_ocrd_workers_configured", "gauge"},
        {"filot_ocrd_gpu_available", "gauge"},
        {"filot_ocrd_child_restarts_total", "counter"},
        {"filot_ocrd_child_crashes_total", "counter"},
        {"filot_ocrd_job_timeouts_total", "counter"},
        {"filot_ocrd_worker_recycles_total", "counter"},
        {"filot_ocrd_worker_reports_rejected_total", "counter"},
        {"filot_ocrd_jobs_total", "counter"},
        {"filot_ocrd_job_decisions_total", "counter"},
        {"filot_ocrd_job_duration_seconds", "histogram"},
        {"filot_ocrd_queue_depth", "gauge"},
        {"filot_ocrd_queue_processing", "gauge"},
        {"filot_ocrd_queue_delayed", "gauge"},
        {"filot_ocrd_buli2_outbox_pending", "gauge"},
        {"filot_ocrd_queue_sample_age_seconds", "gauge"},
        {"filot_ocrd_ipc_listener_resets_total", "counter"},
        {"filot_ocrd_shm_slots", "gauge"},
        {"filot_ocrd_shm_slots_in_use", "gauge"},
        {"filot_ocrd_shm_bytes", "gauge"},
        {"filot_ocrd_supervisor_rss_bytes", "gauge"},
        {"process_cpu_seconds_total", "counter"},
        {"process_start_time_seconds", "gauge"},
        {"process_resident_memory_bytes", "gauge"},
        {"process_virtual_memory_bytes", "gauge"},
        {"process_open_fds", "gauge"},
        {"process_max_fds", "gauge"},
        {"filot_ocrd_child_resident_memory_bytes", "gauge"},
    };
    struct sup_snapshot s;
    fill_snapshot(&s, true, false, false);
    char *text = http_render_metrics(&s);
    ck_assert_ptr_nonnull(text);
    char line[160];
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++) {
        snprintf(line, sizeof line, "# HELP %s ", families[i][0]);
        assert_has(text, line);
        snprintf(line, sizeof line, "# TYPE %s %s\n", families[i][0], families[i][1]);
        assert_has(text, line);
    }
    assert_has(text, "\nfilot_ocrd_up 1\n");
    assert_has(text, "\nfilot_ocrd_ready 1\n");
    assert_has(text, "\nfilot_ocrd_draining 0\n");
    assert_has(text, "\nfilot_ocrd_uptime_seconds 12.345\n");
    assert_has(text, "\nfilot_ocrd_build_info{version=\"" FILOT_VERSION "\"} 1\n");
    assert_has(text, "\nfilot_ocrd_workers{state=\"idle\"} 1\n");
    assert_has(text, "\nfilot_ocrd_workers{state=\"busy\"} 1\n");
    assert_has(text, "\nfilot_ocrd_workers{state=\"starting\"} 0\n");
    ck_assert_ptr_null(strstr(text, "state=\"ready\""));
    assert_has(text, "\nfilot_ocrd_workers_configured 2\n");
    assert_has(text, "\nfilot_ocrd_gpu_available 1\n");
    assert_has(text, "\nfilot_ocrd_child_restarts_total{program=\"filot-ocr-worker\"} 3\n");
    assert_has(text, "\nfilot_ocrd_child_restarts_total{program=\"filot-gpu-server\"} 3\n");
    assert_has(text, "\nfilot_ocrd_child_crashes_total 3\n");
    assert_has(text, "\nfilot_ocrd_job_timeouts_total 1\n");
    assert_has(text, "\nfilot_ocrd_worker_recycles_total 2\n");
    assert_has(text, "\nfilot_ocrd_jobs_total{outcome=\"completed\"} 38\n");
    assert_has(text, "\nfilot_ocrd_jobs_total{outcome=\"failed\"} 2\n");
    assert_has(text, "\nfilot_ocrd_jobs_total{outcome=\"retried\"} 4\n");
    assert_has(text, "\nfilot_ocrd_jobs_total{outcome=\"duplicate\"} 0\n");
    ck_assert_ptr_null(strstr(text, "preprocess=\"none\""));
    assert_has(text, "\nfilot_ocrd_job_decisions_total{decision=\"auto_approved\"} 30\n");
    assert_has(text, "\nfilot_ocrd_job_decisions_total{decision=\"needs_review\"} 8\n");
    assert_has(text, "\nfilot_ocrd_queue_depth 17\n");
    assert_has(text, "\nfilot_ocrd_queue_processing 2\n");
    assert_has(text, "\nfilot_ocrd_queue_delayed 3\n");
    assert_has(text, "\nfilot_ocrd_buli2_outbox_pending 1\n");
    assert_has(text, "\nfilot_ocrd_queue_sample_age_seconds 1.200\n");
    assert_has(text, "\nfilot_ocrd_ipc_listener_resets_total 1\n");
    assert_has(text, "\nfilot_ocrd_shm_slots 8\n");
    assert_has(text, "\nfilot_ocrd_shm_slots_in_use 3\n");
    assert_has(text, "\nfilot_ocrd_shm_bytes 134217728\n");
    assert_has(text, "\nfilot_ocrd_supervisor_rss_bytes 5242880\n");
    assert_has(text, "\nprocess_cpu_seconds_total 1.250000\n");
    assert_has(text, "\nprocess_start_time_seconds 1764680000.500\n");
    assert_has(text, "\nprocess_resident_memory_bytes 5242880\n");
    assert_has(text, "\nprocess_open_fds 12\n");
    assert_has(text, "\nprocess_max_fds 1024\n");
    /* the GPU server by role, not as index -1 */
    assert_has(text, "\nfilot_ocrd_child_resident_memory_bytes{role=\"gpu_server\"} 3145728\n");
    assert_has(text,
               "\nfilot_ocrd_child_resident_memory_bytes{role=\"worker\",worker=\"1\"} 2097152\n");
    ck_assert_ptr_null(strstr(text, "index=\"-1\""));
    ck_assert_int_eq(text[strlen(text) - 1], '\n');
    free(text);

    /* Not ready, draining, GPU down; no queue sample: no queue gauges. */
    fill_snapshot(&s, true, true, true);
    s.queue.known = false;
    text = http_render_metrics(&s);
    ck_assert_ptr_nonnull(text);
    assert_has(text, "\nfilot_ocrd_ready 0\n");
    assert_has(text, "\nfilot_ocrd_draining 1\n");
    assert_has(text, "\nfilot_ocrd_degraded 1\n");
    assert_has(text, "\nfilot_ocrd_gpu_available 0\n");
    ck_assert_ptr_null(strstr(text, "filot_ocrd_queue_depth"));
    free(text);
}
END_TEST

/* The histogram: cumulative buckets, +Inf == _count, _sum in exact seconds. */
START_TEST(test_metrics_histogram)
{
    struct sup_snapshot s;
    fill_snapshot(&s, true, false, false);
    char *text = http_render_metrics(&s);
    ck_assert_ptr_nonnull(text);
#define KTP_GPU  "document_type=\"ktp\",preprocess=\"gpu\""
#define NPWP_CPU "document_type=\"npwp\",preprocess=\"cpu\""
    assert_has(text, "\nfilot_ocrd_job_duration_seconds_bucket{" KTP_GPU ",le=\"0.1\"} 10\n");
    assert_has(text, "\nfilot_ocrd_job_duration_seconds_bucket{" KTP_GPU ",le=\"0.25\"} 10\n");
    assert_has(text, "\nfilot_ocrd_job_duration_seconds_bucket{" KTP_GPU ",le=\"1\"} 10\n");
    assert_has(text, "\nfilot_ocrd_job_duration_seconds_bucket{" KTP_GPU ",le=\"2\"} 30\n");
    assert_has(text, "\nfilot_ocrd_job_duration_seconds_bucket{" KTP_GPU ",le=\"+Inf\"} 30\n");
    assert_has(text, "\nfilot_ocrd_job_duration_seconds_sum{" KTP_GPU "} 31.000\n");
    assert_has(text, "\nfilot_ocrd_job_duration_seconds_count{" KTP_GPU "} 30\n");
    assert_has(text, "\nfilot_ocrd_job_duration_seconds_bucket{" NPWP_CPU ",le=\"30\"} 0\n");
    assert_has(text, "\nfilot_ocrd_job_duration_seconds_bucket{" NPWP_CPU ",le=\"60\"} 8\n");
    assert_has(text, "\nfilot_ocrd_job_duration_seconds_sum{" NPWP_CPU "} 320.007\n");
    assert_has(text, "\nfilot_ocrd_job_duration_seconds_count{" NPWP_CPU "} 8\n");
    assert_has(text, "\nfilot_ocrd_job_duration_seconds_count{document_type=\"none\","
                     "preprocess=\"cpu\"} 0\n");
#undef KTP_GPU
#undef NPWP_CPU
    free(text);
}
END_TEST

START_TEST(test_metrics_label_escaping)
{
    struct sup_snapshot s;
    fill_snapshot(&s, true, false, false);
    snprintf(s.children[0].program, sizeof s.children[0].program, "a\"b\\c\nd");
    char *text = http_render_metrics(&s);
    ck_assert_ptr_nonnull(text);
    assert_has(text, "{program=\"a\\\"b\\\\c\\nd\"} 1\n");
    free(text);
}
END_TEST

/* Renders /ready, checks the status code and returns the parsed JSON. */
static json_t *ready_doc(const struct sup_snapshot *s, int want_code)
{
    int code = 0;
    char *text = http_render_ready(s, &code);
    ck_assert_ptr_nonnull(text);
    ck_assert_int_eq(code, want_code);
    json_error_t err;
    json_t *doc = json_loads(text, JSON_REJECT_DUPLICATES, &err);
    ck_assert_msg(doc != NULL, "bad JSON: %s in %s", err.text, text);
    free(text);
    return doc;
}

START_TEST(test_ready_200_when_accepting)
{
    struct sup_snapshot s;
    fill_snapshot(&s, true, false, false);
    json_t *doc = ready_doc(&s, 200);
    ck_assert(json_is_true(json_object_get(doc, "ready")));
    ck_assert_ptr_null(json_object_get(doc, "reason"));
    ck_assert_str_eq(str_member(json_object_get(doc, "dependencies"), "redis"), "up");
    json_decref(doc);
}
END_TEST

/* /health is liveness: 200 with Redis down; /ready says 503 and why. */
START_TEST(test_ready_503_with_reason)
{
    struct sup_snapshot s;
    fill_snapshot(&s, true, false, false);
    snprintf(s.redis_state, sizeof s.redis_state, "down");
    s.accepting = false;
    snprintf(s.not_accepting, sizeof s.not_accepting, "redis unreachable");
    json_decref(health_doc(&s, 200));
    json_t *doc = ready_doc(&s, 503);
    ck_assert(json_is_false(json_object_get(doc, "ready")));
    ck_assert_str_eq(str_member(doc, "reason"), "redis unreachable");
    ck_assert_str_eq(str_member(json_object_get(doc, "dependencies"), "redis"), "down");
    json_decref(doc);

    /* draining wins even over a snapshot that claims to accept */
    fill_snapshot(&s, true, true, false);
    s.accepting = true;
    doc = ready_doc(&s, 503);
    ck_assert_str_eq(str_member(doc, "reason"), "draining");
    json_decref(doc);

    /* nothing published yet */
    memset(&s, 0, sizeof s);
    doc = ready_doc(&s, 503);
    ck_assert_str_eq(str_member(doc, "reason"), "supervisor starting");
    json_decref(doc);
}
END_TEST

/* jansson's default 17 digits printed 3.954 s as 3.9540000000000002. */
START_TEST(test_health_uptime_no_float_noise)
{
    struct sup_snapshot s;
    fill_snapshot(&s, true, false, false);
    s.uptime_ms = 3954;
    int code;
    char *text = http_render_health(&s, &code);
    ck_assert_ptr_nonnull(text);
    assert_has(text, "\"uptime\":3.954,");
    free(text);
}
END_TEST

/* Fails the test with a clear message when promtool is not installed. */
static void require_promtool(void)
{
    int rc = system("command -v promtool >/dev/null 2>&1");
    ck_assert_msg(rc == 0, "promtool not found: install the 'prometheus' package (make deps)");
}

/* Runs `promtool check metrics` on text; returns its exit status. */
static int promtool_check(const char *text)
{
    require_promtool();
    char path[] = "/tmp/test_http_metrics_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    size_t len = strlen(text);
    ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
    close(fd);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "promtool check metrics < %s", path);
    int rc = system(cmd);
    unlink(path);
    ck_assert_msg(rc != -1 && WIFEXITED(rc), "promtool did not run");
    return WEXITSTATUS(rc);
}

START_TEST(test_metrics_promtool)
{
    struct sup_snapshot s;
    fill_snapshot(&s, true, false, true);
    char *text = http_render_metrics(&s);
    ck_assert_ptr_nonnull(text);
    ck_assert_int_eq(promtool_check(text), 0);
    free(text);

    /* The check can fail: a counter without _total is a lint problem. */
    ck_assert_int_ne(promtool_check("# HELP x_jobs Jobs.\n# TYPE x_jobs counter\nx_jobs 1\n"), 0);
}
END_TEST

/* Returns a TCP port on 127.0.0.1 that was free a moment ago. */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = 0};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    socklen_t len = sizeof sin;
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    close(fd);
    return ntohs(sin.sin_port);
}

/*
 * Sends one raw HTTP/1.1 request to 127.0.0.1:port and returns the whole
 * response (malloc'd), read until the server closes.
 */
static char *http_fetch(int port, const char *method, const char *path, const char *body)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    char req[512];
    int n = snprintf(req, sizeof req,
                     "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                     "Content-Length: %zu\r\n\r\n%s",
                     method, path, body ? strlen(body) : 0, body ? body : "");
    ck_assert_int_eq(send(fd, req, (size_t)n, MSG_NOSIGNAL), n);
    size_t cap = 65536, len = 0;
    char *resp = malloc(cap);
    ck_assert_ptr_nonnull(resp);
    for (;;) {
        if (len + 1 == cap) {
            cap *= 2;
            resp = realloc(resp, cap);
            ck_assert_ptr_nonnull(resp);
        }
        ssize_t r = recv(fd, resp + len, cap - len - 1, 0);
        ck_assert_msg(r >= 0, "recv: %s", strerror(errno));
        if (r == 0)
            break;
        len += (size_t)r;
    }
    resp[len] = '\0';
    close(fd);
    return resp;
}

/* Returns the body of a raw response (after the blank line). */
static const char *resp_body(const char *resp)
{
    const char *p = strstr(resp, "\r\n\r\n");
    ck_assert_ptr_nonnull(p);
    return p + 4;
}

/* Asserts that a raw response starts with the given status code. */
static void assert_status(const char *resp, int code)
{
    char want[32];
    snprintf(want, sizeof want, "HTTP/1.1 %d ", code);
    ck_assert_msg(strncmp(resp, want, strlen(want)) == 0, "want %d, got: %.200s", code, resp);
}

START_TEST(test_live_server)
{
    int port = free_port();
    struct http_server *srv = NULL;
    ck_assert_int_eq(http_start("127.0.0.1", port, &srv), 0);
    ck_assert_ptr_nonnull(srv);

    /* Before the first publish: 503 "starting". */
    char *r = http_fetch(port, "GET", "/health", NULL);
    assert_status(r, 503);
    assert_has(r, "\"status\":\"starting\"");
    free(r);

    struct sup_snapshot s;
    fill_snapshot(&s, true, false, false);
    http_publish(srv, &s);

    r = http_fetch(port, "GET", "/health", NULL);
    assert_status(r, 200);
    assert_has(r, "Content-Type: application/json\r\n");
    json_error_t err;
    json_t *doc = json_loads(resp_body(r), 0, &err);
    ck_assert_msg(doc != NULL, "bad JSON: %s", err.text);
    ck_assert_str_eq(str_member(doc, "status"), "ok");
    ck_assert_int_eq(json_array_size(json_object_get(doc, "children")), 3);
    json_decref(doc);
    free(r);

    r = http_fetch(port, "HEAD", "/health", NULL);
    assert_status(r, 200);
    ck_assert_str_eq(resp_body(r), "");
    free(r);

    r = http_fetch(port, "GET", "/metrics", NULL);
    assert_status(r, 200);
    assert_has(r, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n");
    assert_has(resp_body(r), "filot_ocrd_up 1\n");
    ck_assert_int_eq(promtool_check(resp_body(r)), 0);
    free(r);

    r = http_fetch(port, "GET", "/ready", NULL);
    assert_status(r, 200);
    assert_has(r, "Content-Type: application/json\r\n");
    assert_has(resp_body(r), "\"ready\":true");
    free(r);

    r = http_fetch(port, "GET", "/nope", NULL);
    assert_status(r, 404);
    ck_assert_str_eq(resp_body(r), "{\"ok\":false,\"error\":\"not found\"}");
    free(r);

    r = http_fetch(port, "POST", "/health", "{\"x\":1}");
    assert_status(r, 405);
    assert_has(r, "Allow: GET, HEAD\r\n");
    free(r);

    /* Not ready, then draining: 503. */
    fill_snapshot(&s, false, false, false);
    http_publish(srv, &s);
    r = http_fetch(port, "GET", "/health", NULL);
    assert_status(r, 503);
    assert_has(resp_body(r), "\"ok\":false");
    free(r);
    fill_snapshot(&s, false, true, false);
    http_publish(srv, &s);
    r = http_fetch(port, "GET", "/health", NULL);
    assert_status(r, 503);
    assert_has(resp_body(r), "\"status\":\"draining\"");
    free(r);
    r = http_fetch(port, "GET", "/ready", NULL);
    assert_status(r, 503);
    assert_has(resp_body(r), "\"reason\":\"draining\"");
    free(r);

    http_stop(srv);
    http_stop(NULL);
}
END_TEST

START_TEST(test_port_in_use)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = 0};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    ck_assert_int_eq(listen(fd, 4), 0);
    socklen_t len = sizeof sin;
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    int port = ntohs(sin.sin_port);

    struct http_server *srv = (struct http_server *)&srv; /* must be reset */
    ck_assert_int_eq(http_start("127.0.0.1", port, &srv), FILOT_EIO);
    ck_assert_ptr_null(srv);
    close(fd);

    /* Two servers on one port: the second fails, the first keeps serving. */
    port = free_port();
    struct http_server *a = NULL, *b = NULL;
    ck_assert_int_eq(http_start("127.0.0.1", port, &a), 0);
    ck_assert_int_eq(http_start("127.0.0.1", port, &b), FILOT_EIO);
    ck_assert_ptr_null(b);
    char *r = http_fetch(port, "GET", "/metrics", NULL);
    assert_status(r, 200);
    free(r);
    http_stop(a);
}
END_TEST

START_TEST(test_bad_arguments)
{
    struct http_server *srv = NULL;
    ck_assert_int_eq(http_start("127.0.0.1", 0, &srv), FILOT_EINVAL);
    ck_assert_int_eq(http_start("127.0.0.1", 70000, &srv), FILOT_EINVAL);
    ck_assert_int_eq(http_start("localhost", 8080, &srv), FILOT_EINVAL);
    ck_assert_int_eq(http_start("::1", 8080, &srv), FILOT_EINVAL);
    ck_assert_ptr_null(srv);
}
END_TEST

/* Builds the suite: renderers, promtool, live server. */
static Suite *http_suite(void)
{
    Suite *s = suite_create("http");
    TCase *render = tcase_create("render");
    tcase_add_test(render, test_health_ready);
    tcase_add_test(render, test_health_degraded_still_200);
    tcase_add_test(render, test_health_not_ready_503);
    tcase_add_test(render, test_health_draining_503);
    tcase_add_test(render, test_health_unterminated_and_bad_utf8);
    tcase_add_test(render, test_metrics_families);
    tcase_add_test(render, test_metrics_histogram);
    tcase_add_test(render, test_metrics_label_escaping);
    tcase_add_test(render, test_ready_200_when_accepting);
    tcase_add_test(render, test_ready_503_with_reason);
    tcase_add_test(render, test_health_uptime_no_float_noise);
    suite_add_tcase(s, render);

    TCase *promtool = tcase_create("promtool");
    tcase_set_timeout(promtool, 30);
    tcase_add_test(promtool, test_metrics_promtool);
    suite_add_tcase(s, promtool);

    TCase *live = tcase_create("live");
    tcase_set_timeout(live, 30);
    tcase_add_test(live, test_live_server);
    tcase_add_test(live, test_port_in_use);
    tcase_add_test(live, test_bad_arguments);
    suite_add_tcase(s, live);
    return s;
}

int main(void)
{
    log_init("test_http", LOG_WARN);
    return check_run(http_suite());
}
