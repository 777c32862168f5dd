/*
 * metrics_util.c - /metrics text lookups and the promtool / JSON Schema
 * checks of real outputs.
 */
#include "metrics_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

/* The value after "prefix... " on the line starting at line, or -1. */
static double line_value(const char *line)
{
    const char *sp = strchr(line, ' ');
    const char *nl = strchr(line, '\n');
    if (sp == NULL || (nl != NULL && sp > nl))
        return -1;
    return strtod(sp + 1, NULL);
}

/* The line after p's, or NULL at the end. */
static const char *next_line(const char *p)
{
    const char *nl = strchr(p, '\n');
    return nl != NULL ? nl + 1 : NULL;
}

double mu_metric(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = text; p != NULL && *p; p = next_line(p))
        if (strncmp(p, series, n) == 0 && p[n] == ' ')
            return line_value(p);
    return -1;
}

double mu_metric_sum(const char *text, const char *prefix)
{
    size_t n = strlen(prefix);
    double sum = 0;
    for (const char *p = text; p != NULL && *p; p = next_line(p))
        if (strncmp(p, prefix, n) == 0)
            sum += line_value(p);
    return sum;
}

/* Runs a shell command line; its exit status, or -1. */
static int run_status(const char *cmd)
{
    int rc = system(cmd);
    return rc != -1 && WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

int mu_promtool(const char *text, const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    fputs(text, f);
    fclose(f);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "promtool check metrics < '%s'", path);
    return run_status(cmd);
}

int mu_schema_check(const char *schema, const json_t *docs, const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    size_t i;
    json_t *d;
    json_array_foreach(docs, i, d)
    {
        char *line = json_dumps(d, JSON_COMPACT | JSON_ENCODE_ANY);
        if (line != NULL)
            fprintf(f, "%s\n", line);
        free(line);
    }
    fclose(f);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "python3 tests/infra/check_schema.py 'doc/schema/%s' '%s'", schema,
             path);
    return run_status(cmd);
}
