/*
 * db.c - the documents table through libpq (doc/COMPATIBILITY.md section 2).
 *
 * One connection, opened lazily by db_ensure().  A failed connect starts a
 * backoff (200 ms doubling to 5 s) during which db_ensure() answers
 * DB_UNAVAILABLE at once.  An outage is logged once when it starts and once
 * when it ends.  Statements autocommit, as in the original; every write is
 * a single UPDATE guarded by "status IS DISTINCT FROM 'completed'" (unlike
 * "<>" it also matches a NULL status), so a duplicate run cannot undo a
 * completion.  Statement errors are not logged here: they go back in err
 * and the caller, which knows the job, logs them once.
 */
#include "db.h"

#include <libpq-fe.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/clock.h"
#include "../common/log.h"
#include "../common/status.h"
#include "db_text.h"

#define BACKOFF_MIN_MS 200u
#define BACKOFF_MAX_MS 5000u
#define MAX_PARAMS     6

struct db {
    char *conninfo;
    bool add_timeout; /* conninfo (and PGCONNECT_TIMEOUT) set no connect_timeout */
    PGconn *conn;     /* NULL while disconnected */
    bool ever_connected;
    bool down_logged; /* "connection lost" written for the current outage */
    uint32_t backoff_ms;
    uint64_t next_try_ms;
    char async_err[256]; /* last ERROR/FATAL the server sent while we were idle */
};

static const char SQL_GET[] = "SELECT id, user_id, type, file_url, status, verification_status, "
                              "buli2_ticket_id IS NOT NULL FROM documents WHERE id = $1::uuid";

static const char SQL_PROCESSING[] = "UPDATE documents SET status = 'processing' "
                                     "WHERE id = $1::uuid AND status IS DISTINCT FROM 'completed'";

static const char SQL_OCR_COMPLETED[] =
    "UPDATE documents SET verification_status = 'ocr_completed', ocr_text = $2 "
    "WHERE id = $1::uuid AND status IS DISTINCT FROM 'completed'";

static const char SQL_AI_EVALUATED[] =
    "UPDATE documents SET verification_status = 'ai_evaluated', ai_score = $2::integer, "
    "ai_decision = $3, result_json = $4::jsonb "
    "WHERE id = $1::uuid AND status IS DISTINCT FROM 'completed'";

/* processed_at: UTC wall clock at millisecond precision, as Date.toISOString() wrote it. */
static const char SQL_COMPLETE[] =
    "UPDATE documents SET status = 'completed', verification_status = $2, "
    "ai_score = $3::integer, ai_decision = $4, result_json = $5::jsonb, ocr_text = $6, "
    "processed_at = date_trunc('milliseconds', now() AT TIME ZONE 'UTC') "
    "WHERE id = $1::uuid AND status IS DISTINCT FROM 'completed'";

static const char SQL_FAILED[] = "UPDATE documents SET status = 'failed', result_json = $2::jsonb "
                                 "WHERE id = $1::uuid AND status IS DISTINCT FROM 'completed'";

/* An operator's requeue: what the upload API's retry sets before it enqueues. */
static const char SQL_REQUEUE[] = "UPDATE documents SET status = 'processing' "
                                  "WHERE id = $1::uuid AND status IS DISTINCT FROM 'completed' "
                                  "AND ($2::boolean OR status = 'failed')";

static const char SQL_FAILURES[] =
    "SELECT id, type, result_json->>'error', result_json->>'failedAt', count(*) OVER () "
    "FROM documents WHERE status = 'failed' "
    "ORDER BY result_json->>'failedAt' DESC NULLS LAST, created_at DESC LIMIT $1::integer";

static const char SQL_TICKET[] =
    "UPDATE documents SET buli2_ticket_id = $2, verification_status = 'pending_manual_review', "
    "ai_score = $3::integer, ai_decision = 'needs_review' "
    "WHERE id = $1::uuid AND status = 'completed' "
    "AND verification_status = 'pending_manual_review' AND buli2_ticket_id IS NULL";

/* snprintf into the caller's err buffer, which may be NULL or empty. */
__attribute__((format(printf, 3, 4))) static void set_err(char *err, size_t errlen, const char *fmt,
                                                          ...)
{
    if (err == NULL || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Copies a libpq message without its trailing newlines. */
static void copy_msg(char *dst, size_t len, const char *msg)
{
    if (dst == NULL || len == 0)
        return;
    snprintf(dst, len, "%s", msg ? msg : "");
    size_t n = strlen(dst);
    while (n > 0 && (dst[n - 1] == '\n' || dst[n - 1] == '\r'))
        dst[--n] = '\0';
}

/*
 * Parses conninfo once so a malformed DATABASE_URL is a configuration error
 * at start-up, and notes whether it sets connect_timeout.  libpq's parse
 * message is not logged: it may quote part of the URL, password included.
 */
int db_open(const char *conninfo, struct db **out)
{
    *out = NULL;
    if (conninfo == NULL)
        return FILOT_EINVAL;
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &perr);
    if (opts == NULL) {
        PQfreemem(perr);
        log_kv(LOG_ERROR, "DATABASE_URL is not a valid PostgreSQL connection string", LF_END);
        return FILOT_EINVAL;
    }
    bool has_timeout = getenv("PGCONNECT_TIMEOUT") != NULL;
    for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
        if (strcmp(o->keyword, "connect_timeout") == 0 && o->val != NULL && o->val[0] != '\0')
            has_timeout = true;
    }
    PQconninfoFree(opts);

    struct db *db = calloc(1, sizeof *db);
    if (db == NULL)
        return FILOT_ENOMEM;
    db->conninfo = strdup(conninfo);
    if (db->conninfo == NULL) {
        free(db);
        return FILOT_ENOMEM;
    }
    db->add_timeout = !has_timeout;
    *out = db;
    return FILOT_OK;
}

/* Closes the connection (if any) and frees the handle. */
void db_close(struct db *db)
{
    if (db == NULL)
        return;
    if (db->conn != NULL)
        PQfinish(db->conn);
    free(db->conninfo);
    free(db);
}

/*
 * Notice receiver.  An ERROR or FATAL arriving while idle (e.g. "terminating
 * connection due to administrator command") is kept as the outage reason;
 * ordinary notices are logged as warnings.
 */
static void on_notice(void *arg, const PGresult *res)
{
    struct db *db = arg;
    const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    if (sev != NULL &&
        (strcmp(sev, "ERROR") == 0 || strcmp(sev, "FATAL") == 0 || strcmp(sev, "PANIC") == 0)) {
        copy_msg(db->async_err, sizeof db->async_err, msg);
        return;
    }
    log_kv(LOG_WARN, "PostgreSQL notice", LF_STR, "severity", sev, LF_STR, "notice", msg, LF_END);
}

/*
 * One connection attempt (blocks up to connect_timeout).  The URL is passed
 * as an expanded dbname so URIs and key=value strings both work; the
 * keywords after it add connect_timeout=5 when none was given and force
 * UTF-8, the encoding of everything this module sends.
 */
static PGconn *connect_once(struct db *db, char *reason, size_t len)
{
    const char *kw[5];
    const char *val[5];
    int n = 0;
    kw[n] = "dbname";
    val[n++] = db->conninfo;
    kw[n] = "fallback_application_name";
    val[n++] = "filot-ocr-worker";
    if (db->add_timeout) {
        kw[n] = "connect_timeout";
        val[n++] = "5";
    }
    kw[n] = "client_encoding";
    val[n++] = "UTF8";
    kw[n] = NULL;
    val[n] = NULL;

    PGconn *c = PQconnectdbParams(kw, val, 1);
    if (c == NULL) {
        copy_msg(reason, len, "out of memory");
        return NULL;
    }
    if (PQstatus(c) != CONNECTION_OK) {
        copy_msg(reason, len, PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    PQsetNoticeReceiver(c, on_notice, db);
    return c;
}

/*
 * Drops the connection and logs the outage unless already logged.  The next
 * attempt is allowed at once: the backoff starts with the first failed
 * reconnect.
 */
static void mark_down(struct db *db, const char *reason)
{
    if (db->conn != NULL) {
        PQfinish(db->conn);
        db->conn = NULL;
    }
    if (!db->down_logged) {
        log_kv(LOG_ERROR, "PostgreSQL connection lost", LF_STR, "reason", reason, LF_END);
        db->down_logged = true;
    }
    db->async_err[0] = '\0';
}

/*
 * Checks an idle connection without a round trip: anything readable is
 * consumed (a server that shut down sends FATAL then EOF, which libpq turns
 * into CONNECTION_BAD).  reason gets the cause when the answer is false.
 */
static bool conn_alive(struct db *db, char *reason, size_t len)
{
    PGconn *c = db->conn;
    struct pollfd p = {.fd = PQsocket(c), .events = POLLIN};
    for (int i = 0; i < 4 && PQstatus(c) == CONNECTION_OK; i++) {
        if (p.fd < 0 || poll(&p, 1, 0) <= 0)
            break;
        if (!PQconsumeInput(c))
            break;
        PQisBusy(c); /* parses what arrived: notices go to on_notice */
        PGnotify *note;
        while ((note = PQnotifies(c)) != NULL)
            PQfreemem(note);
    }
    if (PQstatus(c) == CONNECTION_OK)
        return true;
    copy_msg(reason, len, db->async_err[0] != '\0' ? db->async_err : PQerrorMessage(c));
    return false;
}

/* Connects when needed; DB_UNAVAILABLE without trying while in backoff. */
int db_ensure(struct db *db)
{
    char reason[256];
    if (db->conn != NULL) {
        if (conn_alive(db, reason, sizeof reason))
            return DB_OK;
        mark_down(db, reason);
    }
    if (clock_mono_ms() < db->next_try_ms)
        return DB_UNAVAILABLE;

    PGconn *c = connect_once(db, reason, sizeof reason);
    if (c == NULL) {
        mark_down(db, reason);
        if (db->backoff_ms == 0)
            db->backoff_ms = BACKOFF_MIN_MS;
        else if (db->backoff_ms < BACKOFF_MAX_MS / 2)
            db->backoff_ms *= 2;
        else
            db->backoff_ms = BACKOFF_MAX_MS;
        db->next_try_ms = clock_mono_ms() + db->backoff_ms;
        return DB_UNAVAILABLE;
    }
    db->conn = c;
    db->backoff_ms = 0;
    db->next_try_ms = 0;
    if (db->down_logged)
        log_kv(LOG_INFO, "PostgreSQL connection restored", LF_END);
    else if (!db->ever_connected)
        log_kv(LOG_INFO, "PostgreSQL connected", LF_STR, "host", PQhost(c), LF_STR, "port",
               PQport(c), LF_STR, "database", PQdb(c), LF_END);
    db->down_logged = false;
    db->ever_connected = true;
    return DB_OK;
}

/* True while a connection is up (as of the last call that used it). */
bool db_healthy(const struct db *db)
{
    return db != NULL && db->conn != NULL;
}

/*
 * Runs one parameterised statement (text parameters, text results).  A
 * parameter that is not valid UTF-8 is bound as a cleaned copy, so OCR
 * text can never make the statement fail.  On DB_OK *res holds the result
 * (caller clears it).  On a failure the connection's state decides:
 * CONNECTION_BAD is DB_UNAVAILABLE (the connection is dropped and the next
 * db_ensure() reconnects), anything else DB_FAILED with the server's
 * message; sqlstate (6 bytes) gets the error code when given.
 */
static int run_stmt(struct db *db, const char *sql, int nparams, const char *const *params,
                    PGresult **res, char *sqlstate, char *err, size_t errlen)
{
    *res = NULL;
    if (sqlstate != NULL)
        sqlstate[0] = '\0';
    if (db_ensure(db) != DB_OK) {
        set_err(err, errlen, "database unavailable");
        return DB_UNAVAILABLE;
    }

    const char *vals[MAX_PARAMS];
    char *owned[MAX_PARAMS] = {0};
    size_t bad = 0;
    for (int i = 0; i < nparams; i++) {
        vals[i] = params[i];
        size_t n = params[i] != NULL ? db_text_invalid_bytes(params[i]) : 0;
        if (n == 0)
            continue;
        owned[i] = db_text_utf8_clean(params[i]);
        if (owned[i] == NULL) {
            for (int k = 0; k < i; k++)
                free(owned[k]);
            set_err(err, errlen, "out of memory");
            return DB_FAILED;
        }
        vals[i] = owned[i];
        bad += n;
    }
    if (bad > 0)
        log_kv(LOG_WARN, "Invalid UTF-8 replaced with U+FFFD before a database write", LF_INT,
               "bytes", (long long)bad, LF_END);

    PGresult *r = PQexecParams(db->conn, sql, nparams, NULL, vals, NULL, NULL, 0);
    for (int i = 0; i < nparams; i++)
        free(owned[i]);

    ExecStatusType st = r != NULL ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        *res = r;
        return DB_OK;
    }
    const char *msg = r != NULL ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (msg == NULL)
        msg = PQerrorMessage(db->conn);
    int rc;
    if (PQstatus(db->conn) == CONNECTION_BAD) {
        char reason[256];
        copy_msg(reason, sizeof reason, msg);
        set_err(err, errlen, "database unavailable: %s", reason);
        mark_down(db, reason);
        rc = DB_UNAVAILABLE;
    } else {
        char text[512];
        copy_msg(text, sizeof text, msg);
        set_err(err, errlen, "%s", text);
        const char *code = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
        if (sqlstate != NULL && code != NULL)
            snprintf(sqlstate, 6, "%s", code);
        rc = DB_FAILED;
    }
    PQclear(r);
    return rc;
}

/* Runs an UPDATE; *applied (when given) is true when it changed one row. */
static int exec_update(struct db *db, const char *sql, int nparams, const char *const *params,
                       bool *applied, char *err, size_t errlen)
{
    if (applied != NULL)
        *applied = false;
    if (db == NULL || params[0] == NULL) {
        set_err(err, errlen, "invalid argument");
        return DB_FAILED;
    }
    PGresult *r;
    int rc = run_stmt(db, sql, nparams, params, &r, NULL, err, errlen);
    if (rc != DB_OK)
        return rc;
    if (applied != NULL)
        *applied = strcmp(PQcmdTuples(r), "1") == 0;
    PQclear(r);
    return DB_OK;
}

/* Copies a result field into a fixed buffer ("" for NULL). */
static void copy_field(char *dst, size_t len, const PGresult *r, int col)
{
    snprintf(dst, len, "%s", PQgetisnull(r, 0, col) ? "" : PQgetvalue(r, 0, col));
}

/*
 * Reads the fields the worker needs.  A missing row and an id that is not
 * a uuid (SQLSTATE 22P02) are both DB_NOT_FOUND, like the original's
 * "Document not found".
 */
int db_get_doc(struct db *db, const char *id, struct doc_row *row, char *err, size_t errlen)
{
    memset(row, 0, sizeof *row);
    if (db == NULL || id == NULL) {
        set_err(err, errlen, "invalid argument");
        return DB_FAILED;
    }
    const char *params[1] = {id};
    PGresult *r;
    char state[6];
    int rc = run_stmt(db, SQL_GET, 1, params, &r, state, err, errlen);
    if (rc == DB_FAILED && strcmp(state, "22P02") == 0) {
        set_err(err, errlen, "document not found");
        return DB_NOT_FOUND;
    }
    if (rc != DB_OK)
        return rc;
    if (PQntuples(r) != 1) {
        PQclear(r);
        set_err(err, errlen, "document not found");
        return DB_NOT_FOUND;
    }
    copy_field(row->id, sizeof row->id, r, 0);
    copy_field(row->user_id, sizeof row->user_id, r, 1);
    copy_field(row->type, sizeof row->type, r, 2);
    if (!PQgetisnull(r, 0, 3)) {
        row->file_url = strdup(PQgetvalue(r, 0, 3));
        if (row->file_url == NULL) {
            PQclear(r);
            set_err(err, errlen, "out of memory");
            return DB_FAILED;
        }
    }
    copy_field(row->status, sizeof row->status, r, 4);
    copy_field(row->verification_status, sizeof row->verification_status, r, 5);
    row->has_ticket = strcmp(PQgetvalue(r, 0, 6), "t") == 0;
    PQclear(r);
    return DB_OK;
}

/* Frees what db_get_doc allocated in row. */
void db_row_free(struct doc_row *row)
{
    if (row == NULL)
        return;
    free(row->file_url);
    row->file_url = NULL;
}

/* status='processing' (step 2); DB_OK also when the row was completed or missing. */
int db_set_processing(struct db *db, const char *id, char *err, size_t errlen)
{
    const char *params[1] = {id};
    return exec_update(db, SQL_PROCESSING, 1, params, NULL, err, errlen);
}

/* verification_status='ocr_completed' and the OCR text (step 4). */
int db_set_ocr_completed(struct db *db, const char *id, const char *ocr_text, char *err,
                         size_t errlen)
{
    const char *params[2] = {id, ocr_text};
    return exec_update(db, SQL_OCR_COMPLETED, 2, params, NULL, err, errlen);
}

/*
 * Serialises parsed for a jsonb parameter into *out (NULL stays SQL NULL).
 * DB_FAILED when it cannot be serialised.
 */
static int json_param(const json_t *parsed, char **out, char *err, size_t errlen)
{
    *out = NULL;
    if (parsed == NULL)
        return DB_OK;
    *out = db_text_json(parsed);
    if (*out == NULL) {
        set_err(err, errlen, "result_json cannot be serialised");
        return DB_FAILED;
    }
    return DB_OK;
}

/* The score as text and the parsed fields as jsonb text, for both result writes. */
static int result_params(const json_t *parsed, int score, char num[16], char **json, char *err,
                         size_t errlen)
{
    snprintf(num, 16, "%d", score);
    return json_param(parsed, json, err, errlen);
}

/* verification_status='ai_evaluated', score, decision, result_json (step 6). */
int db_set_ai_evaluated(struct db *db, const char *id, int score, const char *decision,
                        const json_t *parsed, char *err, size_t errlen)
{
    char num[16], *json;
    int rc = result_params(parsed, score, num, &json, err, errlen);
    if (rc != DB_OK)
        return rc;
    const char *params[4] = {id, num, decision, json};
    rc = exec_update(db, SQL_AI_EVALUATED, 4, params, NULL, err, errlen);
    free(json);
    return rc;
}

/* The final write (step 7, or the CPU path's single update). */
int db_complete(struct db *db, const char *id, const char *outcome, int score, const char *decision,
                const json_t *parsed, const char *ocr_text, bool *applied, char *err, size_t errlen)
{
    if (applied != NULL)
        *applied = false;
    char num[16], *json;
    int rc = result_params(parsed, score, num, &json, err, errlen);
    if (rc != DB_OK)
        return rc;
    const char *params[6] = {id, outcome, num, decision, json, ocr_text};
    rc = exec_update(db, SQL_COMPLETE, 6, params, applied, err, errlen);
    free(json);
    return rc;
}

/*
 * markDocumentFailed: result_json is {"error", "failedAt", "maxRetriesExceeded"}
 * in that order, failedAt as Date.toISOString() (UTC, milliseconds).
 */
int db_mark_failed(struct db *db, const char *id, const char *msg, bool max_retries_exceeded,
                   char *err, size_t errlen)
{
    char *clean = db_text_utf8_clean(msg != NULL ? msg : "");
    char iso[40];
    clock_iso8601(clock_wall_ms(), iso, sizeof iso);
    json_t *obj = json_object();
    if (clean == NULL || obj == NULL ||
        json_object_set_new(obj, "error", json_string(clean)) != 0 ||
        json_object_set_new(obj, "failedAt", json_string(iso)) != 0 ||
        json_object_set_new(obj, "maxRetriesExceeded", json_boolean(max_retries_exceeded)) != 0) {
        free(clean);
        json_decref(obj);
        set_err(err, errlen, "out of memory");
        return DB_FAILED;
    }
    free(clean);
    char *json;
    int rc = json_param(obj, &json, err, errlen);
    json_decref(obj);
    if (rc != DB_OK)
        return rc;
    const char *params[2] = {id, json};
    rc = exec_update(db, SQL_FAILED, 2, params, NULL, err, errlen);
    free(json);
    return rc;
}

/* Records the BULI2 ticket (step 8) under the conditions in db.h. */
int db_set_ticket(struct db *db, const char *id, const char *ticket, int score, bool *applied,
                  char *err, size_t errlen)
{
    char num[16];
    snprintf(num, sizeof num, "%d", score);
    const char *params[3] = {id, ticket, num};
    return exec_update(db, SQL_TICKET, 3, params, applied, err, errlen);
}

int db_requeue(struct db *db, const char *id, bool any_status, bool *applied, char *err,
               size_t errlen)
{
    const char *params[2] = {id, any_status ? "true" : "false"};
    return exec_update(db, SQL_REQUEUE, 2, params, applied, err, errlen);
}

/* A result field as a JSON string, null for SQL NULL. */
static json_t *field_json(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? json_null() : json_string(PQgetvalue(r, row, col));
}

int db_recent_failures(struct db *db, int limit, json_t **rows, long long *total, char *err,
                       size_t errlen)
{
    char lim[16];
    snprintf(lim, sizeof lim, "%d", limit);
    const char *params[1] = {lim};
    PGresult *r;
    *rows = NULL;
    *total = 0;
    int rc = run_stmt(db, SQL_FAILURES, 1, params, &r, NULL, err, errlen);
    if (rc != DB_OK)
        return rc;
    json_t *out = json_array();
    for (int i = 0; out != NULL && i < PQntuples(r); i++) {
        *total = strtoll(PQgetvalue(r, i, 4), NULL, 10);
        json_array_append_new(out,
                              json_pack("{s:o, s:o, s:o, s:o}", "documentId", field_json(r, i, 0),
                                        "type", field_json(r, i, 1), "error", field_json(r, i, 2),
                                        "failedAt", field_json(r, i, 3)));
    }
    PQclear(r);
    if (out == NULL) {
        set_err(err, errlen, "out of memory");
        return DB_FAILED;
    }
    *rows = out;
    return DB_OK;
}
