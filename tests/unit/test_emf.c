/*
 * test_emf.c - CloudWatch Embedded Metric Format lines: structure (every
 * metric a directive names is a top-level number, namespace and dimensions
 * present, Timestamp an integer in ms), argument validation, one line per
 * write, "off" when the namespace is empty.
 *
 * test_sample_line also prints one line with the four production metrics
 * on stdout; tests/infra/check_emf.py validates it (and tests/infra/run.sh
 * compares its names with the alarms and the scaling policy).
 */
#include <check.h>

#include "check_run.h"
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/emf.h"
#include "common/status.h"

static const struct emf_metric four[] = {
    {EMF_QUEUE_DEPTH, EMF_UNIT_COUNT, 12},
    {EMF_DOCUMENTS_PROCESSED, EMF_UNIT_COUNT, 3},
    {EMF_DOCUMENTS_FAILED, EMF_UNIT_COUNT, 0},
    {EMF_PROCESSING_TIME_MS, EMF_UNIT_MILLISECONDS, 1834.5},
};
#define NFOUR (sizeof four / sizeof four[0])

/* Checks the EMF structure of line; returns the parsed object. */
static json_t *check_structure(const char *line, size_t nmetrics)
{
    json_error_t jerr;
    json_t *root = json_loads(line, JSON_REJECT_DUPLICATES, &jerr);
    ck_assert_msg(root != NULL, "not JSON: %s", jerr.text);
    ck_assert(json_is_object(root));
    json_t *aws = json_object_get(root, "_aws");
    ck_assert(json_is_object(aws));
    ck_assert(json_is_integer(json_object_get(aws, "Timestamp")));
    json_t *dirs = json_object_get(aws, "CloudWatchMetrics");
    ck_assert(json_is_array(dirs));
    ck_assert_uint_eq(json_array_size(dirs), 1);
    json_t *d = json_array_get(dirs, 0);
    ck_assert(json_is_string(json_object_get(d, "Namespace")));
    json_t *dims = json_object_get(d, "Dimensions");
    ck_assert(json_is_array(dims));
    ck_assert_uint_eq(json_array_size(dims), 1);
    json_t *set = json_array_get(dims, 0);
    ck_assert_uint_eq(json_array_size(set), 1);
    const char *dim = json_string_value(json_array_get(set, 0));
    ck_assert_str_eq(dim, EMF_DIMENSION);
    ck_assert(json_is_string(json_object_get(root, dim)));
    json_t *defs = json_object_get(d, "Metrics");
    ck_assert(json_is_array(defs));
    ck_assert_uint_eq(json_array_size(defs), nmetrics);
    for (size_t i = 0; i < nmetrics; i++) {
        json_t *def = json_array_get(defs, i);
        const char *name = json_string_value(json_object_get(def, "Name"));
        ck_assert_ptr_nonnull(name);
        ck_assert_ptr_nonnull(json_string_value(json_object_get(def, "Unit")));
        ck_assert_msg(json_is_number(json_object_get(root, name)), "metric %s has no value", name);
    }
    return root;
}

START_TEST(test_structure)
{
    char *line = emf_format("FiLot/OCR", EMF_SERVICE, four, NFOUR, 1732923038123ULL);
    ck_assert_ptr_nonnull(line);
    ck_assert_ptr_null(strchr(line, '\n'));
    json_t *root = check_structure(line, NFOUR);
    json_t *aws = json_object_get(root, "_aws");
    ck_assert_int_eq(json_integer_value(json_object_get(aws, "Timestamp")), 1732923038123LL);
    json_t *d = json_array_get(json_object_get(aws, "CloudWatchMetrics"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(d, "Namespace")), "FiLot/OCR");
    ck_assert_str_eq(json_string_value(json_object_get(root, "Service")), EMF_SERVICE);
    json_t *defs = json_object_get(d, "Metrics");
    for (size_t i = 0; i < NFOUR; i++) {
        json_t *def = json_array_get(defs, i);
        ck_assert_str_eq(json_string_value(json_object_get(def, "Name")), four[i].name);
        ck_assert_str_eq(json_string_value(json_object_get(def, "Unit")), four[i].unit);
        ck_assert(fabs(json_number_value(json_object_get(root, four[i].name)) - four[i].value) <
                  1e-9);
    }
    /* whole numbers are JSON integers, fractions reals */
    ck_assert(json_is_integer(json_object_get(root, EMF_QUEUE_DEPTH)));
    ck_assert(json_is_real(json_object_get(root, EMF_PROCESSING_TIME_MS)));
    json_decref(root);
    free(line);
}
END_TEST

START_TEST(test_exact_text)
{
    const struct emf_metric m[] = {{EMF_QUEUE_DEPTH, EMF_UNIT_COUNT, 12}};
    char *line = emf_format("FiLot/OCR", EMF_SERVICE, m, 1, 1000);
    ck_assert_ptr_nonnull(line);
    ck_assert_str_eq(line, "{\"_aws\":{\"Timestamp\":1000,\"CloudWatchMetrics\":[{\"Namespace\":"
                           "\"FiLot/OCR\",\"Dimensions\":[[\"Service\"]],\"Metrics\":[{\"Name\":"
                           "\"QueueDepth\",\"Unit\":\"Count\"}]}]},\"Service\":"
                           "\"filot-ocr-gpu-worker\",\"QueueDepth\":12}");
    free(line);
}
END_TEST

/* Microseconds / 1000.0 printed as 1491.2349999999999 before JSON_REAL_15. */
START_TEST(test_no_float_noise)
{
    const struct emf_metric m[] = {
        {EMF_PROCESSING_TIME_MS, EMF_UNIT_MILLISECONDS, (double)1491235 / 1000.0}};
    char *line = emf_format("FiLot/OCR", EMF_SERVICE, m, 1, 1000);
    ck_assert_ptr_nonnull(line);
    ck_assert_msg(strstr(line, "\"ProcessingTimeMs\":1491.235}") != NULL, "%s", line);
    free(line);
}
END_TEST

START_TEST(test_null_unit_is_none)
{
    const struct emf_metric m[] = {{"Ratio", NULL, 0.25}};
    char *line = emf_format("X", "s", m, 1, 1);
    ck_assert_ptr_nonnull(line);
    ck_assert_ptr_nonnull(strstr(line, "\"Unit\":\"None\""));
    free(line);
}
END_TEST

START_TEST(test_invalid_arguments)
{
    const struct emf_metric ok[] = {{"A", "Count", 1}};
    const struct emf_metric nan[] = {{"A", "Count", NAN}};
    const struct emf_metric inf[] = {{"A", "Count", INFINITY}};
    const struct emf_metric unit[] = {{"A", "Documents", 1}};
    const struct emf_metric dup[] = {{"A", "Count", 1}, {"A", "Count", 2}};
    const struct emf_metric dim[] = {{"Service", "Count", 1}};
    const struct emf_metric aws[] = {{"_aws", "Count", 1}};
    const struct emf_metric empty[] = {{"", "Count", 1}};
    const struct emf_metric noname[] = {{NULL, "Count", 1}};
    const struct emf_metric ctl[] = {{"A\nB", "Count", 1}};
    char *good = emf_format("N", "s", ok, 1, 1);
    ck_assert_ptr_nonnull(good);
    free(good);
    ck_assert_ptr_null(emf_format("N", "s", nan, 1, 1));
    ck_assert_ptr_null(emf_format("N", "s", inf, 1, 1));
    ck_assert_ptr_null(emf_format("N", "s", unit, 1, 1));
    ck_assert_ptr_null(emf_format("N", "s", dup, 2, 1));
    ck_assert_ptr_null(emf_format("N", "s", dim, 1, 1));
    ck_assert_ptr_null(emf_format("N", "s", aws, 1, 1));
    ck_assert_ptr_null(emf_format("N", "s", empty, 1, 1));
    ck_assert_ptr_null(emf_format("N", "s", noname, 1, 1));
    ck_assert_ptr_null(emf_format("N", "s", ctl, 1, 1));
    ck_assert_ptr_null(emf_format("N", "s", ok, 0, 1));
    ck_assert_ptr_null(emf_format("N", "s", NULL, 1, 1));
    ck_assert_ptr_null(emf_format("", "s", ok, 1, 1));
    ck_assert_ptr_null(emf_format("N", "", ok, 1, 1));
    ck_assert_ptr_null(emf_format("N", NULL, ok, 1, 1));
    struct emf_metric many[EMF_MAX_METRICS + 1];
    char names[EMF_MAX_METRICS + 1][8];
    for (int i = 0; i <= EMF_MAX_METRICS; i++) {
        snprintf(names[i], sizeof names[i], "M%d", i);
        many[i] = (struct emf_metric){names[i], "Count", i};
    }
    char *line = emf_format("N", "s", many, EMF_MAX_METRICS, 1);
    ck_assert_ptr_nonnull(line);
    free(line);
    ck_assert_ptr_null(emf_format("N", "s", many, EMF_MAX_METRICS + 1, 1));
}
END_TEST

START_TEST(test_units)
{
    ck_assert(emf_unit_valid("Count"));
    ck_assert(emf_unit_valid("Milliseconds"));
    ck_assert(emf_unit_valid("Count/Second"));
    ck_assert(emf_unit_valid("None"));
    ck_assert(!emf_unit_valid("count"));
    ck_assert(!emf_unit_valid("ms"));
    ck_assert(!emf_unit_valid(NULL));
}
END_TEST

/* emf_write: exactly one newline-terminated line, current time stamp. */
START_TEST(test_write_one_line)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    uint64_t before = clock_wall_ms();
    ck_assert_int_eq(emf_write(fds[1], "FiLot/OCR", EMF_SERVICE, four, NFOUR), FILOT_OK);
    uint64_t after = clock_wall_ms();
    close(fds[1]);
    char buf[4096];
    ssize_t got = 0, n;
    while ((n = read(fds[0], buf + got, sizeof buf - 1 - (size_t)got)) > 0)
        got += n;
    close(fds[0]);
    buf[got] = '\0';
    ck_assert_int_gt(got, 1);
    ck_assert_int_eq(buf[got - 1], '\n');
    ck_assert_ptr_eq(strchr(buf, '\n'), buf + got - 1);
    buf[got - 1] = '\0';
    json_t *root = check_structure(buf, NFOUR);
    json_int_t ts = json_integer_value(json_object_get(json_object_get(root, "_aws"), "Timestamp"));
    ck_assert_int_ge(ts, (json_int_t)before);
    ck_assert_int_le(ts, (json_int_t)after);
    json_decref(root);
}
END_TEST

/* Empty namespace (OCR_EMF_NAMESPACE="") switches metric lines off. */
START_TEST(test_namespace_off)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    ck_assert_int_eq(emf_write(fds[1], "", EMF_SERVICE, four, NFOUR), FILOT_OK);
    ck_assert_int_eq(emf_write(fds[1], NULL, EMF_SERVICE, four, NFOUR), FILOT_OK);
    ck_assert_int_eq(emf_write(fds[1], "N", "s", four, 0), FILOT_EINVAL);
    close(fds[1]);
    char c;
    ck_assert_int_eq(read(fds[0], &c, 1), 0);
    close(fds[0]);
}
END_TEST

/* Prints the production line on stdout for tests/infra/check_emf.py. */
START_TEST(test_sample_line)
{
    ck_assert_int_eq(emf_emit(EMF_NAMESPACE_DEFAULT, EMF_SERVICE, four, NFOUR), FILOT_OK);
}
END_TEST

static Suite *emf_suite(void)
{
    Suite *s = suite_create("emf");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_structure);
    tcase_add_test(tc, test_exact_text);
    tcase_add_test(tc, test_no_float_noise);
    tcase_add_test(tc, test_null_unit_is_none);
    tcase_add_test(tc, test_invalid_arguments);
    tcase_add_test(tc, test_units);
    tcase_add_test(tc, test_write_one_line);
    tcase_add_test(tc, test_namespace_off);
    tcase_add_test(tc, test_sample_line);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return check_run(emf_suite());
}
