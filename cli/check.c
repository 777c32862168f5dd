/*
 * check.c - `filot-ocr check [--connect]`: a dry run before a deploy.
 *
 * Validates every variable at once (exit 2 listing each bad one), shows
 * the effective configuration with secrets masked and, with --connect,
 * probes Redis, PostgreSQL, R2 and BULI2 one by one, each OK or FAIL with
 * the reason (exit 1 when one fails).
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/config.h"
#include "../common/log.h"
#include "../common/status.h"
#include "../ocr-workers/db.h"
#include "../ocr-workers/queue.h"
#include "../ocr-workers/storage.h"
#include "cli.h"

#define PROBE_TIMEOUT_MS 5000L
/* storage's answer for a key that does not exist: the bucket was reached */
#define MISSING_KEY_ANSWER "The specified key does not exist."

/*
 * Copies val with every password hidden: the whole value of a secret
 * variable, and the password of a URL's user info ("scheme://user:pw@")
 * or of a libpq "password=" pair in any other value.
 */
static void mask_value(const char *val, bool secret, char *out, size_t len)
{
    if (secret) {
        snprintf(out, len, "%s", val[0] ? "********" : "");
        return;
    }
    snprintf(out, len, "%s", val);
    char *scheme = strstr(out, "://");
    char *at = scheme ? strchr(scheme + 3, '@') : NULL;
    char *colon = scheme ? strchr(scheme + 3, ':') : NULL;
    if (at != NULL && colon != NULL && colon < at) {
        char rest[1024];
        snprintf(rest, sizeof rest, "%s", at);
        snprintf(colon + 1, len - (size_t)(colon + 1 - out), "********%s", rest);
    }
    char *pw = strstr(out, "password=");
    if (pw != NULL) {
        char *end = pw + strlen("password=");
        char rest[1024];
        snprintf(rest, sizeof rest, "%s", end + strcspn(end, " "));
        snprintf(end, len - (size_t)(end - out), "********%s", rest);
    }
}

/* NAME=value (masked), marking values that differ from the default. */
static void print_effective(void)
{
    size_t n;
    const struct config_var *v = config_vars(&n);
    for (size_t i = 0; i < n; i++) {
        const char *env = getenv(v[i].name);
        char shown[1200];
        mask_value(env ? env : v[i].def, v[i].secret, shown, sizeof shown);
        printf("  %-28s %s%s\n", v[i].name, shown, env ? "" : "  (default)");
    }
}

static int report(const char *what, int rc, const char *detail)
{
    printf("%-10s %s  %s\n", what, rc == 0 ? "OK  " : "FAIL", detail);
    fflush(stdout);
    return rc == 0 ? 0 : 1;
}

static int probe_redis(const struct filot_config *cfg)
{
    char err[512], detail[600];
    struct queue *q = NULL;
    if (queue_open(cfg, "filot-ocr-check", 0, &q, err, sizeof err) != 0)
        return report("Redis", -1, err);
    struct queue_status st;
    int rc = queue_ensure(q);
    if (rc != 0) {
        snprintf(detail, sizeof detail, "%s", queue_last_error(q));
    } else if ((rc = queue_status_read(q, &st, 0)) != 0) {
        snprintf(detail, sizeof detail, "connected, but the queue keys cannot be read");
    } else {
        snprintf(detail, sizeof detail, "PING answered; %lld queued, %lld claimed", st.queued,
                 st.claimed);
        queue_status_free(&st);
    }
    queue_close(q);
    return report("Redis", rc, detail);
}

static int probe_postgres(const struct filot_config *cfg)
{
    char err[512];
    struct db *db = NULL;
    if (cfg->database_url[0] == '\0')
        return report("PostgreSQL", -1, "DATABASE_URL is not set");
    if (db_open(cfg->database_url, &db) != DB_OK)
        return report("PostgreSQL", -1, "DATABASE_URL is not a valid connection string");
    json_t *rows = NULL;
    long long failed = 0;
    int rc = db_recent_failures(db, 1, &rows, &failed, err, sizeof err);
    if (rc == DB_OK)
        snprintf(err, sizeof err, "connected; the documents table is readable");
    else if (rc == DB_UNAVAILABLE)
        snprintf(err, sizeof err, "cannot connect (reason above)");
    json_decref(rows);
    db_close(db);
    return report("PostgreSQL", rc, err);
}

/* Fetches a key that does not exist: "not found" proves endpoint, credentials and bucket. */
static int probe_r2(const struct filot_config *cfg)
{
    struct storage_config sc = {cfg->r2_endpoint,
                                cfg->r2_access_key,
                                cfg->r2_secret_key,
                                cfg->r2_bucket,
                                1024,
                                (uint32_t)PROBE_TIMEOUT_MS,
                                (uint32_t)PROBE_TIMEOUT_MS};
    struct storage *st = NULL;
    if (cfg->r2_endpoint[0] == '\0')
        return report("R2", -1, "CF_R2_ENDPOINT is not set");
    if (storage_open(&sc, &st) != 0)
        return report("R2", -1, "the storage configuration was refused (reason above)");
    uint8_t *buf = NULL;
    size_t len = 0;
    enum storage_error_kind kind;
    char err[512];
    int rc = storage_fetch(st, ".filot-ocr-check-probe", &buf, &len, &kind, err, sizeof err);
    free(buf);
    storage_close(st);
    if (rc == 0 || strcmp(err, MISSING_KEY_ANSWER) == 0)
        return report("R2", 0,
                      strncmp(cfg->r2_endpoint, "file://", 7) == 0
                          ? "file:// root readable"
                          : "endpoint reached, credentials and bucket accepted");
    return report("R2", -1, err);
}

/* A plain GET of BULI2_API_URL: any HTTP answer proves the service is reachable. */
static int probe_buli2(const struct filot_config *cfg)
{
    char detail[CURL_ERROR_SIZE + 600] = "";
    CURL *c = curl_easy_init();
    if (c == NULL)
        return report("BULI2", -1, "out of memory");
    curl_easy_setopt(c, CURLOPT_URL, cfg->buli2_url);
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, PROBE_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, detail);
    CURLcode cc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    if (cc != CURLE_OK) {
        if (detail[0] == '\0')
            snprintf(detail, sizeof detail, "%s", curl_easy_strerror(cc));
        return report("BULI2", -1, detail);
    }
    snprintf(detail, sizeof detail, "reachable (HTTP %ld from %s)", status, cfg->buli2_url);
    return report("BULI2", 0, detail);
}

int cmd_check(int argc, char **argv)
{
    bool connect = false;
    if (cli_wants_help(argc, argv))
        return FILOT_EXIT_OK;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--connect") != 0) {
            cli_error("check: unknown argument \"%s\" (only --connect)", argv[i]);
            return FILOT_EXIT_CONFIG;
        }
        connect = true;
    }
    struct filot_config cfg;
    struct config_errors errs;
    log_set_fd(STDERR_FILENO);
    log_init("filot-ocr", LOG_ERROR);
    config_load_all(&cfg, &errs);
    if (cfg.job_source[0] == '\0')
        config_check_pipeline_all(&cfg, &errs);
    puts("Effective configuration (secrets masked):");
    print_effective();
    if (errs.count > 0) {
        for (int i = 0; i < errs.count && i < CONFIG_MAX_ERRORS; i++)
            cli_error("%s", errs.msg[i]);
        cli_error("%d bad setting%s; filot-ocrd would refuse to start", errs.count,
                  errs.count == 1 ? "" : "s");
        return FILOT_EXIT_CONFIG;
    }
    puts("Configuration: OK");
    if (!connect)
        return FILOT_EXIT_OK;
    fflush(stdout);
    int failed = probe_redis(&cfg) + probe_postgres(&cfg) + probe_r2(&cfg) + probe_buli2(&cfg);
    if (failed > 0) {
        cli_error("%d of 4 services failed the probe", failed);
        return FILOT_EXIT_FAILURE;
    }
    return FILOT_EXIT_OK;
}
