/*
 * metrics_util.h - reading filot-ocrd's /metrics text and checking real
 * outputs against the repository's contracts: `promtool check metrics` and
 * the JSON Schemas in doc/schema (tests/infra/check_schema.py).
 */
#ifndef FILOT_METRICS_UTIL_H
#define FILOT_METRICS_UTIL_H

#include <jansson.h>

/* The value of the sample whose series is exactly series ("name{labels}"); -1 when absent. */
double mu_metric(const char *text, const char *series);

/* The sum of every sample whose line starts with prefix (e.g. "name{"); 0 when none. */
double mu_metric_sum(const char *text, const char *prefix);

/* Writes text to path and runs `promtool check metrics` on it; its exit status. */
int mu_promtool(const char *text, const char *path);

/*
 * Writes each item of docs as one JSON line to path and validates them
 * against doc/schema/<schema> with tests/infra/check_schema.py; its exit
 * status (0: at least one document, all valid).
 */
int mu_schema_check(const char *schema, const json_t *docs, const char *path);

#endif
