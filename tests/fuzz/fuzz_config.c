/*
 * fuzz_config.c - the environment as configuration: config_load() and
 * config_check_pipeline() over every variable of the table, then the
 * parsers that take a setting apart later (REDIS_URL in queue_open(),
 * CF_R2_* in storage_open()) and config_parse_size() on each value.
 *
 * Input: byte 0 picks the first variable of the table; then values, one a
 * line, given to that variable and the ones after it in table order (the
 * others keep their defaults).
 * Properties: a refusal is one terminated line that names the variable
 * (README: "a message naming the variable"); an accepted configuration
 * keeps every number inside its documented bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "ocr-workers/queue.h"
#include "ocr-workers/storage.h"
#include "tests/fuzz/util.h"

/* Fails unless err is terminated and names one of the table's variables. */
static void check_refusal(const char *err, size_t cap, const struct config_var *vars, size_t n)
{
    fuzz_check_terminated(err, cap, "config error is not terminated");
    for (size_t i = 0; i < n; i++)
        if (strstr(err, vars[i].name) != NULL)
            return;
    fuzz_fail("config error names no variable");
}

/* A few of the bounds the table promises. */
static void check_bounds(const struct filot_config *c)
{
    if (c->concurrency < 1 || c->concurrency > 64 || c->health_port < 0 || c->health_port > 65535 ||
        c->backoff_max_ms < c->backoff_min_ms || c->max_pixels < 1024 ||
        c->max_download_bytes < 1024 || c->pdf_dpi < 72 || c->pdf_dpi > 600 ||
        c->pdf_max_pages < 1 || c->pdf_max_pages > 100)
        fuzz_fail("accepted configuration out of its bounds");
}

/* The later parsers of an accepted configuration: they may refuse, not crash. */
static void open_consumers(const struct filot_config *c)
{
    char err[512];
    struct queue *q = NULL;
    if (queue_open(c, "fuzz", 0, &q, err, sizeof err) == 0)
        queue_close(q);
    else
        fuzz_check_terminated(err, sizeof err, "queue_open error is not terminated");
    (void)config_check_pipeline(c, err, sizeof err);
    struct storage_config sc = {c->r2_endpoint,
                                c->r2_access_key,
                                c->r2_secret_key,
                                c->r2_bucket,
                                c->max_download_bytes,
                                1000,
                                1000};
    struct storage *st = NULL;
    if (storage_open(&sc, &st) == 0)
        storage_close(st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct filot_config cfg;
    static int quiet;
    if (!quiet++)
        fuzz_quiet_logs();
    if (size == 0)
        return 0;
    size_t n;
    const struct config_var *vars = config_vars(&n);
    char *text = fuzz_cstring(data + 1, size - 1);
    size_t first = data[0] % n, set = 0;
    char *save = NULL;
    for (char *v = strtok_r(text, "\n", &save); v != NULL && set < n;
         v = strtok_r(NULL, "\n", &save), set++) {
        uint64_t bytes;
        (void)config_parse_size(v, &bytes);
        setenv(vars[(first + set) % n].name, v, 1);
    }
    char err[512];
    memset(err, 'x', sizeof err);
    if (config_load(&cfg, err, sizeof err) != 0) {
        check_refusal(err, sizeof err, vars, n);
    } else {
        check_bounds(&cfg);
        open_consumers(&cfg);
    }
    for (size_t i = 0; i < set; i++)
        unsetenv(vars[(first + i) % n].name);
    free(text);
    return 0;
}
