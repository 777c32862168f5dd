/*
 * queue_cmd.c - the operator's view of the job pipeline:
 *   enqueue ID...            the upload API's enqueue (dedup, atomic)
 *   status [--json]          queue, claimed, stuck, delayed, outbox, failures
 *   requeue [--force] ID...  failed documents back to work
 * Key names and scripts are queue.c's, statements db.c's: nothing here
 * knows a Redis key or a column beyond what those export.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/clock.h"
#include "../common/config.h"
#include "../common/log.h"
#include "../common/status.h"
#include "../ocr-workers/db.h"
#include "../ocr-workers/queue.h"
#include "cli.h"

#define STATUS_MAX_JOBS 1000

/* Opens the queue for a subcommand; prints the reason and returns NULL on failure. */
static struct queue *open_queue(const struct filot_config *cfg)
{
    char err[512];
    struct queue *q = NULL;
    if (queue_open(cfg, "filot-ocr-cli", 0, &q, err, sizeof err) != 0) {
        cli_error("%s", err);
        return NULL;
    }
    if (queue_ensure(q) != 0) {
        cli_error("Redis unavailable at REDIS_URL: %s", queue_last_error(q));
        queue_close(q);
        return NULL;
    }
    return q;
}

/* Opens the database; prints the reason and returns NULL on failure. */
static struct db *open_db(const struct filot_config *cfg)
{
    struct db *db = NULL;
    if (cfg->database_url[0] == '\0') {
        cli_error("DATABASE_URL must be set");
        return NULL;
    }
    if (db_open(cfg->database_url, &db) != DB_OK) {
        cli_error("DATABASE_URL is not a valid connection string");
        return NULL;
    }
    return db;
}

/* The original's enqueueForGPU, atomic (one Lua script per id). */
int cmd_enqueue(int argc, char **argv)
{
    struct filot_config cfg;
    if (cli_wants_help(argc, argv))
        return FILOT_EXIT_OK;
    if (argc < 2) {
        cli_error("enqueue: no DOCUMENT_ID given");
        return FILOT_EXIT_CONFIG;
    }
    if (cli_load_config(&cfg, LOG_WARN) != 0)
        return FILOT_EXIT_CONFIG;
    struct queue *q = open_queue(&cfg);
    if (q == NULL)
        return FILOT_EXIT_FAILURE;
    int rc = FILOT_EXIT_OK;
    for (int i = 1; i < argc; i++) {
        bool added = false;
        if (queue_enqueue(q, argv[i], &added) != 0) {
            cli_error("cannot enqueue %s: Redis unavailable", argv[i]);
            rc = FILOT_EXIT_FAILURE;
            continue;
        }
        printf("%s\t%s\n", argv[i], added ? "enqueued" : "already queued or processing");
    }
    queue_close(q);
    return rc;
}

/* "3m12s" style age of an epoch-ms time. */
static void format_age(long long then_ms, long long now_ms, char *out, size_t len)
{
    long long s = then_ms > 0 && now_ms > then_ms ? (now_ms - then_ms) / 1000 : 0;
    if (then_ms <= 0)
        snprintf(out, len, "?");
    else if (s < 60)
        snprintf(out, len, "%llds", s);
    else if (s < 3600)
        snprintf(out, len, "%lldm%02llds", s / 60, s % 60);
    else
        snprintf(out, len, "%lldh%02lldm", s / 3600, (s / 60) % 60);
}

/* The status as one JSON object (the --json contract). */
static json_t *status_json(const struct queue_status *st, json_t *failures, long long nfailed,
                           long long now)
{
    json_t *jobs = json_array();
    int stuck = 0;
    for (int i = 0; i < st->njobs; i++) {
        const struct queue_job *j = &st->jobs[i];
        stuck += j->stuck;
        json_array_append_new(jobs, json_pack("{s:s, s:s, s:I, s:I, s:i, s:b}", "documentId", j->id,
                                              "owner", j->owner, "leaseRenewedAt",
                                              (json_int_t)j->lease_ms, "ageMs",
                                              (json_int_t)(j->lease_ms > 0 ? now - j->lease_ms : 0),
                                              "attempts", j->attempts, "stuck", j->stuck));
    }
    return json_pack(
        "{s:I, s:I, s:i, s:o, s:{s:I, s:I}, s:I, s:{s:I, s:o}}", "queued", (json_int_t)st->queued,
        "claimed", (json_int_t)st->claimed, "stuck", stuck, "claimedJobs", jobs, "delayedRetries",
        "count", (json_int_t)st->delayed, "nextDueAt", (json_int_t)st->next_retry_ms, "buli2Outbox",
        (json_int_t)st->outbox, "failed", "total", (json_int_t)nfailed, "recent", failures);
}

static void status_text(const struct queue_status *st, const json_t *failures, long long nfailed,
                        long long now)
{
    char age[32];
    int stuck = 0;
    for (int i = 0; i < st->njobs; i++)
        stuck += st->jobs[i].stuck;
    printf("queue:            %lld waiting\n", st->queued);
    printf("claimed:          %lld (%d stuck)\n", st->claimed, stuck);
    for (int i = 0; i < st->njobs; i++) {
        const struct queue_job *j = &st->jobs[i];
        format_age(j->lease_ms, now, age, sizeof age);
        printf("  %-36s  owner %-40s  lease %-7s ago  attempt %d%s\n", j->id,
               j->owner[0] ? j->owner : "?", age, j->attempts, j->stuck ? "  STUCK" : "");
    }
    if (st->delayed > 0) {
        format_age(now, st->next_retry_ms, age, sizeof age);
        printf("delayed retries:  %lld (next due in %s)\n", st->delayed, age);
    } else {
        printf("delayed retries:  0\n");
    }
    printf("BULI2 outbox:     %lld undelivered\n", st->outbox);
    printf("failed documents: %lld%s\n", nfailed, nfailed > 0 ? ", newest first:" : "");
    size_t i;
    json_t *f;
    json_array_foreach(failures, i, f)
    {
        const char *err = json_string_value(json_object_get(f, "error"));
        const char *at = json_string_value(json_object_get(f, "failedAt"));
        printf("  %-36s  %-4s  %-24s  %s\n", json_string_value(json_object_get(f, "documentId")),
               json_string_value(json_object_get(f, "type")), at ? at : "-",
               err ? err : "(no reason recorded)");
    }
}

int cmd_status(int argc, char **argv)
{
    static const struct option longopts[] = {{"json", no_argument, NULL, 'j'},
                                             {"limit", required_argument, NULL, 'n'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    bool as_json = false;
    int limit = 10, c;
    char *end;
    if (cli_wants_help(argc, argv))
        return FILOT_EXIT_OK;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "jn:h", longopts, NULL)) != -1) {
        if (c == 'j') {
            as_json = true;
            continue;
        }
        if (c == 'n' && (limit = (int)strtol(optarg, &end, 10)) >= 0 && limit <= 1000 &&
            *end == '\0' && optarg[0] != '\0')
            continue;
        cli_error("status: usage: filot-ocr status [--json] [--limit 0..1000]");
        return FILOT_EXIT_CONFIG;
    }
    if (optind < argc) {
        cli_error("status: unexpected argument \"%s\"", argv[optind]);
        return FILOT_EXIT_CONFIG;
    }
    struct filot_config cfg;
    if (cli_load_config(&cfg, LOG_ERROR) != 0)
        return FILOT_EXIT_CONFIG;
    struct queue *q = open_queue(&cfg);
    struct db *db = q != NULL ? open_db(&cfg) : NULL;
    struct queue_status st;
    json_t *failures = NULL;
    long long nfailed = 0;
    char err[512];
    int rc = FILOT_EXIT_FAILURE;
    if (db == NULL) {
        /* reason printed */
    } else if (queue_status_read(q, &st, STATUS_MAX_JOBS) != 0) {
        cli_error("cannot read the queue from Redis: %s", queue_last_error(q));
    } else {
        if (db_recent_failures(db, limit, &failures, &nfailed, err, sizeof err) != DB_OK) {
            cli_error("cannot read failed documents from PostgreSQL: %s", err);
        } else {
            long long now = (long long)clock_wall_ms();
            if (as_json) {
                json_t *all = status_json(&st, failures, nfailed, now);
                failures = NULL; /* stolen by all */
                char *text = all ? json_dumps(all, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
                if (text != NULL)
                    puts(text);
                free(text);
                json_decref(all);
            } else {
                status_text(&st, failures, nfailed, now);
            }
            rc = FILOT_EXIT_OK;
        }
        queue_status_free(&st);
    }
    json_decref(failures);
    if (db != NULL)
        db_close(db);
    queue_close(q);
    return rc;
}

/* One id: reset the row, then enqueue it; says what it did on stdout. */
static int requeue_one(struct db *db, struct queue *q, const char *id, bool force)
{
    char err[512];
    struct doc_row row;
    int rc = db_get_doc(db, id, &row, err, sizeof err);
    if (rc == DB_NOT_FOUND) {
        cli_error("requeue %s: no such document", id);
        return FILOT_EXIT_FAILURE;
    }
    if (rc != DB_OK) {
        cli_error("requeue %s: %s", id, err);
        return FILOT_EXIT_FAILURE;
    }
    char was[sizeof row.status];
    snprintf(was, sizeof was, "%s", row.status);
    db_row_free(&row);
    if (strcmp(was, "completed") == 0 || (strcmp(was, "failed") != 0 && !force)) {
        cli_error("requeue %s: refused: status is %s, not failed%s", id, was,
                  strcmp(was, "completed") == 0 ? " (completed documents are never redone)"
                                                : " (--force takes it anyway)");
        return FILOT_EXIT_FAILURE;
    }
    bool applied = false, added = false;
    if (db_requeue(db, id, force, &applied, err, sizeof err) != DB_OK || !applied) {
        cli_error("requeue %s: the row could not be reset%s%s", id,
                  applied ? "" : " (it changed meanwhile) ", err);
        return FILOT_EXIT_FAILURE;
    }
    if (queue_enqueue(q, id, &added) != 0) {
        cli_error("requeue %s: row set to processing but Redis is unavailable: run requeue --force "
                  "again",
                  id);
        return FILOT_EXIT_FAILURE;
    }
    printf("%s\t%s -> processing, %s\n", id, was,
           added ? "enqueued" : "already queued or processing (not enqueued twice)");
    return FILOT_EXIT_OK;
}

int cmd_requeue(int argc, char **argv)
{
    bool force = false;
    int first = 1;
    if (cli_wants_help(argc, argv))
        return FILOT_EXIT_OK;
    if (argc > 1 && strcmp(argv[1], "--force") == 0) {
        force = true;
        first = 2;
    }
    if (first >= argc) {
        cli_error("requeue: no DOCUMENT_ID given");
        return FILOT_EXIT_CONFIG;
    }
    struct filot_config cfg;
    if (cli_load_config(&cfg, LOG_ERROR) != 0)
        return FILOT_EXIT_CONFIG;
    struct queue *q = open_queue(&cfg);
    struct db *db = q != NULL ? open_db(&cfg) : NULL;
    int rc = db != NULL ? FILOT_EXIT_OK : FILOT_EXIT_FAILURE;
    for (int i = first; db != NULL && i < argc; i++)
        if (requeue_one(db, q, argv[i], force) != FILOT_EXIT_OK)
            rc = FILOT_EXIT_FAILURE;
    if (db != NULL)
        db_close(db);
    queue_close(q);
    return rc;
}
