/*
 * emf.c - CloudWatch Embedded Metric Format lines, built with jansson.
 *
 * Specification: CloudWatch "Embedded metric format specification"
 * (root member _aws with Timestamp in ms and CloudWatchMetrics directives;
 * every dimension and metric named by a directive is a top-level member).
 */
#include "emf.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "fd_io.h"
#include "json_text.h"
#include "status.h"

/* CloudWatch StandardUnit values (the PutMetricData / EMF unit names). */
static const char *const units[] = {
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
};

int emf_unit_valid(const char *unit)
{
    if (unit == NULL)
        return 0;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp(unit, units[i]) == 0)
            return 1;
    return 0;
}

/* 1 when s is 1..max printable ASCII characters. */
static int ascii_name(const char *s, size_t max)
{
    if (s == NULL || *s == '\0')
        return 0;
    size_t len = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++, len++)
        if (*p < 0x20 || *p > 0x7e || len >= max)
            return 0;
    return 1;
}

static int metrics_valid(const struct emf_metric *m, size_t n)
{
    if (m == NULL || n == 0 || n > EMF_MAX_METRICS)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (!ascii_name(m[i].name, 255) || strcmp(m[i].name, "_aws") == 0 ||
            strcmp(m[i].name, EMF_DIMENSION) == 0)
            return 0;
        if (m[i].unit != NULL && !emf_unit_valid(m[i].unit))
            return 0;
        if (!isfinite(m[i].value))
            return 0;
        for (size_t j = 0; j < i; j++)
            if (strcmp(m[i].name, m[j].name) == 0)
                return 0;
    }
    return 1;
}

/* Whole numbers print as JSON integers ("QueueDepth":12), others as reals. */
static json_t *number(double v)
{
    if (v == floor(v) && fabs(v) < 9007199254740992.0)
        return json_integer((json_int_t)v);
    return json_real(v);
}

char *emf_format(const char *ns, const char *service, const struct emf_metric *metrics, size_t n,
                 uint64_t ts_ms)
{
    if (!ascii_name(ns, 255) || !ascii_name(service, 1024) || !metrics_valid(metrics, n))
        return NULL;
    json_t *root = json_object();
    json_t *aws = json_object();
    json_t *directive = json_object();
    json_t *dims = json_pack("[[s]]", EMF_DIMENSION);
    json_t *defs = json_array();
    json_t *directives = json_array();
    char *line = NULL;
    if (root == NULL || aws == NULL || directive == NULL || dims == NULL || defs == NULL ||
        directives == NULL) {
        json_decref(aws);
        json_decref(directive);
        json_decref(dims);
        json_decref(defs);
        json_decref(directives);
        json_decref(root);
        return NULL;
    }
    json_object_set_new(directive, "Namespace", json_string(ns));
    json_object_set_new(directive, "Dimensions", dims);
    json_object_set_new(directive, "Metrics", defs);
    json_array_append_new(directives, directive);
    json_object_set_new(aws, "Timestamp", json_integer((json_int_t)ts_ms));
    json_object_set_new(aws, "CloudWatchMetrics", directives);
    json_object_set_new(root, "_aws", aws);
    json_object_set_new(root, EMF_DIMENSION, json_string(service));
    int ok = 1;
    for (size_t i = 0; i < n && ok; i++) {
        json_t *def = json_pack("{s:s, s:s}", "Name", metrics[i].name, "Unit",
                                metrics[i].unit ? metrics[i].unit : "None");
        json_t *val = number(metrics[i].value);
        if (def == NULL || val == NULL) {
            json_decref(def);
            json_decref(val);
            ok = 0;
            break;
        }
        /* the _new setters take the reference even when they fail */
        int a = json_array_append_new(defs, def);
        int b = json_object_set_new(root, metrics[i].name, val);
        ok = a == 0 && b == 0;
    }
    if (ok)
        line =
            json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII | JSON_REAL_15);
    json_decref(root);
    return line;
}

int emf_write(int fd, const char *ns, const char *service, const struct emf_metric *metrics,
              size_t n)
{
    if (ns == NULL || *ns == '\0')
        return FILOT_OK;
    char *line = emf_format(ns, service, metrics, n, clock_wall_ms());
    if (line == NULL)
        return FILOT_EINVAL;
    size_t len = strlen(line);
    char *buf = realloc(line, len + 2);
    if (buf == NULL) {
        free(line);
        return FILOT_ENOMEM;
    }
    buf[len] = '\n';
    buf[len + 1] = '\0';
    int rc = fd_write_all(fd, buf, len + 1);
    free(buf);
    return rc;
}

int emf_emit(const char *ns, const char *service, const struct emf_metric *metrics, size_t n)
{
    return emf_write(STDOUT_FILENO, ns, service, metrics, n);
}
