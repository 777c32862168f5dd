/*
 * test_db.c - ocr-workers/db.c against a throwaway PostgreSQL 15 started by
 * tests/servers.sh: db/schema.sql applies twice, reads, every write's
 * effect on the row, the completed-row guard, processed_at as UTC wall
 * clock, markDocumentFailed's result_json, the BULI2 ticket conditions,
 * invalid UTF-8 / NUL handling, reconnect backoff and a server outage.
 */
#include <arpa/inet.h>
#include <check.h>

#include "check_run.h"
#include <fcntl.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/status.h"
#include "ocr-workers/db.h"
#include "ocr-workers/db_text.h"

static char tmp_dir[64];
static char db_url[256];
static char pgdata[256];
static char pg_port[16];
static int servers_rc = -1;
static int schema_rc[2] = {-1, -1};

/* Copies the value of "KEY=" from an env-file line when it matches. */
static void env_value(const char *line, const char *key, char *out, size_t len)
{
    size_t n = strlen(key);
    if (strncmp(line, key, n) != 0 || line[n] != '=')
        return;
    snprintf(out, len, "%s", line + n + 1);
    out[strcspn(out, "\r\n")] = '\0';
}

/* Applies db/schema.sql with psql; returns system()'s status. */
static int apply_schema(void)
{
    char cmd[768];
    snprintf(cmd, sizeof cmd,
             "psql -X -q -v ON_ERROR_STOP=1 -d '%s' -f db/schema.sql >>'%s/schema.log' 2>&1",
             db_url, tmp_dir);
    return system(cmd);
}

/* Unchecked fixture: starts PostgreSQL once and applies the schema twice. */
static void start_servers(void)
{
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/test_db_XXXXXX");
    if (mkdtemp(tmp_dir) == NULL)
        return;
    char cmd[256];
    snprintf(cmd, sizeof cmd, "tests/servers.sh start %s postgres", tmp_dir);
    servers_rc = system(cmd);
    char path[128];
    snprintf(path, sizeof path, "%s/env", tmp_dir);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return;
    char line[512];
    while (fgets(line, sizeof line, f) != NULL) {
        env_value(line, "DATABASE_URL", db_url, sizeof db_url);
        env_value(line, "PGDATA_DIR", pgdata, sizeof pgdata);
        env_value(line, "PG_PORT", pg_port, sizeof pg_port);
    }
    fclose(f);
    if (servers_rc == 0 && db_url[0] != '\0') {
        schema_rc[0] = apply_schema();
        schema_rc[1] = apply_schema();
    }
}

/* Unchecked fixture: stops the servers and removes the temp dir. */
static void stop_servers(void)
{
    if (tmp_dir[0] == '\0')
        return;
    char cmd[256];
    snprintf(cmd, sizeof cmd, "tests/servers.sh stop %s; rm -rf %s", tmp_dir, tmp_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "test_db: stopping the servers failed\n");
}

/* The test's own libpq connection for setting up and inspecting rows. */
static PGconn *admin(void)
{
    ck_assert_msg(servers_rc == 0 && db_url[0] != '\0', "PostgreSQL did not start");
    PGconn *c = PQconnectdb(db_url);
    ck_assert_msg(PQstatus(c) == CONNECTION_OK, "admin connect: %s", PQerrorMessage(c));
    return c;
}

/*
 * Runs a parameterised statement and copies the first cell into out;
 * returns out, or NULL when the cell is SQL NULL or there is no row.
 */
static char *q(PGconn *c, char *out, size_t len, const char *sql, int n, const char *p1,
               const char *p2)
{
    const char *params[2] = {p1, p2};
    PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    ck_assert_msg(st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK, "%s: %s", sql,
                  PQresultErrorMessage(r));
    char *ret = NULL;
    if (st == PGRES_TUPLES_OK && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0)) {
        snprintf(out, len, "%s", PQgetvalue(r, 0, 0));
        ret = out;
    }
    PQclear(r);
    return ret;
}

/* Inserts a user with a unique e-mail; its id goes to out (40 bytes). */
static void new_user(PGconn *c, char *out)
{
    ck_assert_ptr_nonnull(q(c, out, 40,
                            "INSERT INTO users (email) VALUES "
                            "(gen_random_uuid()::text || '@example.com') RETURNING id",
                            0, NULL, NULL));
}

/* Inserts a KTP document for a new user with the given status. */
static void new_doc(PGconn *c, const char *status, const char *file_url, char *out)
{
    char user[40];
    new_user(c, user);
    PGresult *r = PQexecParams(c,
                               "INSERT INTO documents (user_id, type, file_url, status) "
                               "VALUES ($1, 'KTP', $2, $3::document_status) RETURNING id",
                               3, NULL, (const char *[]){user, file_url, status}, NULL, NULL, 0);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "insert: %s", PQresultErrorMessage(r));
    snprintf(out, 40, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
}

/* One column of a document as text (NULL when SQL NULL). */
static char *col(PGconn *c, const char *id, const char *column, char *out, size_t len)
{
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT %s::text FROM documents WHERE id = $1", column);
    return q(c, out, len, sql, 1, id, NULL);
}

/* Opens a db handle on the test server. */
static struct db *open_db(void)
{
    struct db *db = NULL;
    ck_assert_int_eq(db_open(db_url, &db), FILOT_OK);
    ck_assert_ptr_nonnull(db);
    return db;
}

/* Sends this process's stdout (the JSON log) to a file; returns its path. */
static void capture_stdout(char *path, size_t len)
{
    snprintf(path, len, "%s/log_XXXXXX", tmp_dir);
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    fflush(stdout);
    ck_assert_int_ge(dup2(fd, STDOUT_FILENO), 0);
    close(fd);
}

/* Counts the occurrences of needle in the file at path. */
static int count_in_file(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char line[2048];
    int n = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        for (const char *p = line; (p = strstr(p, needle)) != NULL; p++)
            n++;
    }
    fclose(f);
    return n;
}

START_TEST(test_schema)
{
    ck_assert_int_eq(servers_rc, 0);
    ck_assert_msg(schema_rc[0] == 0, "first schema apply failed (see schema.log)");
    ck_assert_msg(schema_rc[1] == 0, "second schema apply failed: not idempotent");
    PGconn *c = admin();
    char buf[128];
    q(c, buf, sizeof buf,
      "SELECT count(*) FROM pg_type WHERE typname IN "
      "('document_status', 'verification_status', 'review_status')",
      0, NULL, NULL);
    ck_assert_str_eq(buf, "3");
    q(c, buf, sizeof buf,
      "SELECT string_agg(enumlabel, ',' ORDER BY enumsortorder) FROM pg_enum e "
      "JOIN pg_type t ON t.oid = e.enumtypid WHERE t.typname = 'document_status'",
      0, NULL, NULL);
    ck_assert_str_eq(buf, "uploaded,processing,completed,failed");
    const char *sql = "SELECT data_type || coalesce(':' || character_maximum_length, '') "
                      "FROM information_schema.columns "
                      "WHERE table_name = 'documents' AND column_name = $1";
    const char *want[][2] = {
        {"id", "uuid"},
        {"user_id", "uuid"},
        {"type", "character varying:50"},
        {"file_url", "text"},
        {"status", "USER-DEFINED"},
        {"verification_status", "character varying:50"},
        {"ai_score", "integer"},
        {"ai_decision", "character varying:50"},
        {"buli2_ticket_id", "character varying:255"},
        {"result_json", "jsonb"},
        {"ocr_text", "text"},
        {"created_at", "timestamp without time zone"},
        {"processed_at", "timestamp without time zone"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        ck_assert_ptr_nonnull(q(c, buf, sizeof buf, sql, 1, want[i][0], NULL));
        ck_assert_msg(strcmp(buf, want[i][1]) == 0, "%s is %s", want[i][0], buf);
    }
    q(c, buf, sizeof buf,
      "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public' "
      "AND table_name IN ('users', 'documents', 'manual_reviews')",
      0, NULL, NULL);
    ck_assert_str_eq(buf, "3");
    PQfinish(c);
}
END_TEST

START_TEST(test_get_doc)
{
    PGconn *c = admin();
    char id[40], bare[40];
    new_doc(c, "uploaded", "u1/KTP_x.jpg", id);
    new_doc(c, "processing", NULL, bare);
    struct db *db = open_db();
    char err[256];
    struct doc_row row;

    ck_assert_int_eq(db_get_doc(db, id, &row, err, sizeof err), DB_OK);
    ck_assert_str_eq(row.id, id);
    ck_assert_int_eq(strlen(row.user_id), 36);
    ck_assert_str_eq(row.type, "KTP");
    ck_assert_str_eq(row.file_url, "u1/KTP_x.jpg");
    ck_assert_str_eq(row.status, "uploaded");
    ck_assert_str_eq(row.verification_status, "pending");
    ck_assert(!row.has_ticket);
    ck_assert(db_healthy(db));
    db_row_free(&row);
    ck_assert_ptr_null(row.file_url);

    ck_assert_int_eq(db_get_doc(db, bare, &row, err, sizeof err), DB_OK);
    ck_assert_ptr_null(row.file_url);
    ck_assert_str_eq(row.status, "processing");
    db_row_free(&row);

    /* Upper case is still the same uuid. */
    char upper[40];
    for (size_t i = 0; i <= strlen(id); i++)
        upper[i] = (char)(id[i] >= 'a' && id[i] <= 'f' ? id[i] - 32 : id[i]);
    ck_assert_int_eq(db_get_doc(db, upper, &row, err, sizeof err), DB_OK);
    ck_assert_str_eq(row.id, id);
    db_row_free(&row);

    ck_assert_int_eq(db_get_doc(db, "00000000-0000-0000-0000-000000000000", &row, err, sizeof err),
                     DB_NOT_FOUND);
    ck_assert_int_eq(db_get_doc(db, "abc", &row, err, sizeof err), DB_NOT_FOUND);
    ck_assert_int_eq(db_get_doc(db, "", &row, err, sizeof err), DB_NOT_FOUND);
    /* The connection survives the failed statement. */
    ck_assert(db_healthy(db));
    ck_assert_int_eq(db_get_doc(db, id, &row, err, sizeof err), DB_OK);
    db_row_free(&row);

    q(c, err, sizeof err, "UPDATE documents SET buli2_ticket_id = 'T-1' WHERE id = $1", 1, id,
      NULL);
    ck_assert_int_eq(db_get_doc(db, id, &row, err, sizeof err), DB_OK);
    ck_assert(row.has_ticket);
    db_row_free(&row);
    db_close(db);
    PQfinish(c);
}
END_TEST

START_TEST(test_writes)
{
    PGconn *c = admin();
    char id[40], buf[512], err[256];
    new_doc(c, "uploaded", "k", id);
    struct db *db = open_db();

    ck_assert_int_eq(db_set_processing(db, id, err, sizeof err), DB_OK);
    ck_assert_str_eq(col(c, id, "status", buf, sizeof buf), "processing");

    ck_assert_int_eq(db_set_ocr_completed(db, id, "NIK : 3171234567890123", err, sizeof err),
                     DB_OK);
    ck_assert_str_eq(col(c, id, "verification_status", buf, sizeof buf), "ocr_completed");
    ck_assert_str_eq(col(c, id, "ocr_text", buf, sizeof buf), "NIK : 3171234567890123");
    ck_assert_str_eq(col(c, id, "status", buf, sizeof buf), "processing");

    json_t *parsed =
        json_pack("{s:s, s:i, s:[s,s]}", "nik", "3171", "score", 80, "issues", "a", "b");
    ck_assert_int_eq(db_set_ai_evaluated(db, id, 80, "approve", parsed, err, sizeof err), DB_OK);
    ck_assert_str_eq(col(c, id, "verification_status", buf, sizeof buf), "ai_evaluated");
    ck_assert_str_eq(col(c, id, "ai_score", buf, sizeof buf), "80");
    ck_assert_str_eq(col(c, id, "ai_decision", buf, sizeof buf), "approve");
    q(c, buf, sizeof buf, "SELECT result_json = $2::jsonb FROM documents WHERE id = $1", 2, id,
      "{\"nik\":\"3171\",\"score\":80,\"issues\":[\"a\",\"b\"]}");
    ck_assert_str_eq(buf, "t");
    ck_assert_ptr_null(col(c, id, "processed_at", buf, sizeof buf));

    /* A NULL parsed result is SQL NULL. */
    ck_assert_int_eq(db_set_ai_evaluated(db, id, 10, "reject", NULL, err, sizeof err), DB_OK);
    ck_assert_ptr_null(col(c, id, "result_json", buf, sizeof buf));

    /* A bad id is a statement failure carrying the server's message. */
    ck_assert_int_eq(db_set_processing(db, "abc", err, sizeof err), DB_FAILED);
    ck_assert_msg(strstr(err, "invalid input syntax for type uuid") != NULL, "err: %s", err);
    ck_assert(db_healthy(db));
    /* A missing row is not an error for these writes. */
    ck_assert_int_eq(db_set_processing(db, "00000000-0000-0000-0000-000000000000", err, sizeof err),
                     DB_OK);

    /* A failed row can be processed again; a NULL status counts as not completed. */
    q(c, buf, sizeof buf, "UPDATE documents SET status = NULL WHERE id = $1", 1, id, NULL);
    ck_assert_int_eq(db_set_processing(db, id, err, sizeof err), DB_OK);
    ck_assert_str_eq(col(c, id, "status", buf, sizeof buf), "processing");
    json_decref(parsed);
    db_close(db);
    PQfinish(c);
}
END_TEST

START_TEST(test_complete_once)
{
    PGconn *c = admin();
    char id[40], before[4096], after[4096], buf[512], err[256];
    new_doc(c, "processing", "k", id);
    struct db *db = open_db();
    json_t *parsed = json_pack("{s:s, s:b}", "documentType", "KTP", "success", 1);
    bool applied = false;

    ck_assert_int_eq(db_complete(db, id, "auto_approved", 92, "approve", parsed, "TEXT", &applied,
                                 err, sizeof err),
                     DB_OK);
    ck_assert(applied);
    ck_assert_str_eq(col(c, id, "status", buf, sizeof buf), "completed");
    ck_assert_str_eq(col(c, id, "verification_status", buf, sizeof buf), "auto_approved");
    ck_assert_str_eq(col(c, id, "ai_score", buf, sizeof buf), "92");
    ck_assert_str_eq(col(c, id, "ai_decision", buf, sizeof buf), "approve");
    ck_assert_str_eq(col(c, id, "ocr_text", buf, sizeof buf), "TEXT");
    ck_assert_str_eq(col(c, id, "result_json", buf, sizeof buf),
                     "{\"success\": true, \"documentType\": \"KTP\"}");
    ck_assert_ptr_nonnull(col(c, id, "processed_at", buf, sizeof buf));
    ck_assert_ptr_nonnull(
        q(c, before, sizeof before, "SELECT d::text FROM documents d WHERE id = $1", 1, id, NULL));

    /* A duplicate run: nothing changes, processed_at included. */
    clock_sleep_ms(30);
    json_t *other = json_pack("{s:s}", "documentType", "NPWP");
    ck_assert_int_eq(db_complete(db, id, "pending_manual_review", 10, "reject", other, "OTHER",
                                 &applied, err, sizeof err),
                     DB_OK);
    ck_assert(!applied);
    ck_assert_int_eq(db_mark_failed(db, id, "late failure", true, err, sizeof err), DB_OK);
    ck_assert_int_eq(db_set_processing(db, id, err, sizeof err), DB_OK);
    ck_assert_int_eq(db_set_ocr_completed(db, id, "OTHER", err, sizeof err), DB_OK);
    ck_assert_int_eq(db_set_ai_evaluated(db, id, 1, "reject", other, err, sizeof err), DB_OK);
    q(c, after, sizeof after, "SELECT d::text FROM documents d WHERE id = $1", 1, id, NULL);
    ck_assert_str_eq(after, before);

    /* A missing row is simply not applied. */
    ck_assert_int_eq(db_complete(db, "00000000-0000-0000-0000-000000000000", "auto_approved", 1,
                                 "approve", parsed, "x", &applied, err, sizeof err),
                     DB_OK);
    ck_assert(!applied);
    json_decref(other);
    json_decref(parsed);
    db_close(db);
    PQfinish(c);
}
END_TEST

START_TEST(test_processed_at_utc)
{
    /* The image runs with TZ=Asia/Jakarta; make the session use it too. */
    setenv("TZ", "Asia/Jakarta", 1);
    setenv("PGTZ", "Asia/Jakarta", 1);
    tzset();
    PGconn *c = admin();
    char id[40], buf[128], err[256];
    new_doc(c, "processing", "k", id);
    struct db *db = open_db();
    bool applied = false;
    ck_assert_int_eq(
        db_complete(db, id, "auto_approved", 90, "approve", NULL, "t", &applied, err, sizeof err),
        DB_OK);
    ck_assert(applied);
    unsetenv("PGTZ");
    q(c, buf, sizeof buf,
      "SELECT abs(extract(epoch FROM processed_at - (now() AT TIME ZONE 'UTC'))) < 5 "
      "FROM documents WHERE id = $1",
      1, id, NULL);
    ck_assert_msg(strcmp(buf, "t") == 0, "processed_at is not UTC wall clock");
    /* Millisecond precision, like Date.toISOString(). */
    q(c, buf, sizeof buf,
      "SELECT extract(microseconds FROM processed_at)::bigint % 1000 FROM documents "
      "WHERE id = $1",
      1, id, NULL);
    ck_assert_str_eq(buf, "0");
    db_close(db);
    PQfinish(c);
}
END_TEST

START_TEST(test_mark_failed)
{
    PGconn *c = admin();
    char id[40], id2[40], buf[512], err[256];
    new_doc(c, "processing", "k", id);
    new_doc(c, "processing", "k", id2);
    struct db *db = open_db();

    ck_assert_int_eq(db_mark_failed(db, id, "Download failed: 404", true, err, sizeof err), DB_OK);
    ck_assert_str_eq(col(c, id, "status", buf, sizeof buf), "failed");
    q(c, buf, sizeof buf,
      "SELECT string_agg(k, ',' ORDER BY k) FROM documents, jsonb_object_keys(result_json) k "
      "WHERE id = $1",
      1, id, NULL);
    ck_assert_str_eq(buf, "error,failedAt,maxRetriesExceeded");
    q(c, buf, sizeof buf, "SELECT result_json->>'error' FROM documents WHERE id = $1", 1, id, NULL);
    ck_assert_str_eq(buf, "Download failed: 404");
    q(c, buf, sizeof buf,
      "SELECT result_json->'maxRetriesExceeded' = 'true'::jsonb FROM documents WHERE id = $1", 1,
      id, NULL);
    ck_assert_str_eq(buf, "t");
    q(c, buf, sizeof buf,
      "SELECT (result_json->>'failedAt') ~ '^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z$' "
      "AND abs(extract(epoch FROM (result_json->>'failedAt')::timestamptz - now())) < 5 "
      "FROM documents WHERE id = $1",
      1, id, NULL);
    ck_assert_str_eq(buf, "t");
    /* Other columns are left as they were. */
    ck_assert_str_eq(col(c, id, "verification_status", buf, sizeof buf), "pending");

    /* false, and an error text that is not valid UTF-8. */
    ck_assert_int_eq(db_mark_failed(db, id2, "bad \xff name", false, err, sizeof err), DB_OK);
    q(c, buf, sizeof buf,
      "SELECT result_json->'maxRetriesExceeded' = 'false'::jsonb FROM documents WHERE id = $1", 1,
      id2, NULL);
    ck_assert_str_eq(buf, "t");
    q(c, buf, sizeof buf, "SELECT result_json->>'error' FROM documents WHERE id = $1", 1, id2,
      NULL);
    ck_assert_str_eq(buf, "bad \xEF\xBF\xBD name");
    db_close(db);
    PQfinish(c);
}
END_TEST

START_TEST(test_set_ticket)
{
    PGconn *c = admin();
    char id[40], auto_id[40], open_id[40], buf[512], err[256];
    new_doc(c, "processing", "k", id);
    new_doc(c, "processing", "k", auto_id);
    new_doc(c, "processing", "k", open_id);
    struct db *db = open_db();
    bool applied = false;

    /* Not completed yet: no ticket. */
    q(c, buf, sizeof buf,
      "UPDATE documents SET verification_status = 'pending_manual_review' WHERE id = $1", 1,
      open_id, NULL);
    ck_assert_int_eq(db_set_ticket(db, open_id, "T-0", 40, &applied, err, sizeof err), DB_OK);
    ck_assert(!applied);
    ck_assert_ptr_null(col(c, open_id, "buli2_ticket_id", buf, sizeof buf));

    ck_assert_int_eq(db_complete(db, id, "pending_manual_review", 55, "review", NULL, "t", &applied,
                                 err, sizeof err),
                     DB_OK);
    ck_assert(applied);
    ck_assert_int_eq(db_set_ticket(db, id, "T-123", 55, &applied, err, sizeof err), DB_OK);
    ck_assert(applied);
    ck_assert_str_eq(col(c, id, "buli2_ticket_id", buf, sizeof buf), "T-123");
    ck_assert_str_eq(col(c, id, "verification_status", buf, sizeof buf), "pending_manual_review");
    ck_assert_str_eq(col(c, id, "ai_score", buf, sizeof buf), "55");
    ck_assert_str_eq(col(c, id, "ai_decision", buf, sizeof buf), "needs_review");
    ck_assert_str_eq(col(c, id, "status", buf, sizeof buf), "completed");

    /* Only once. */
    ck_assert_int_eq(db_set_ticket(db, id, "T-456", 55, &applied, err, sizeof err), DB_OK);
    ck_assert(!applied);
    ck_assert_str_eq(col(c, id, "buli2_ticket_id", buf, sizeof buf), "T-123");

    /* Auto-approved rows never get one. */
    ck_assert_int_eq(db_complete(db, auto_id, "auto_approved", 95, "approve", NULL, "t", &applied,
                                 err, sizeof err),
                     DB_OK);
    ck_assert_int_eq(db_set_ticket(db, auto_id, "T-9", 95, &applied, err, sizeof err), DB_OK);
    ck_assert(!applied);
    ck_assert_ptr_null(col(c, auto_id, "buli2_ticket_id", buf, sizeof buf));
    db_close(db);
    PQfinish(c);
}
END_TEST

START_TEST(test_text_cleaning)
{
    PGconn *c = admin();
    char id[40], buf[512], err[256];
    new_doc(c, "processing", "k", id);
    struct db *db = open_db();

    /* Invalid byte, surrogate, overlong '/', truncated sequence, above U+10FFFF. */
    ck_assert_int_eq(db_set_ocr_completed(db, id,
                                          "a\xff"
                                          "b\xed\xa0\x80"
                                          "c\xc0\xaf"
                                          "d\xe2\x82"
                                          "e\xf4\x90\x80\x80"
                                          "f \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
                                          err, sizeof err),
                     DB_OK);
    const char *want = "a\xEF\xBF\xBD"
                       "b\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"
                       "c\xEF\xBF\xBD\xEF\xBF\xBD"
                       "d\xEF\xBF\xBD\xEF\xBF\xBD"
                       "e\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"
                       "f \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
    ck_assert_str_eq(col(c, id, "ocr_text", buf, sizeof buf), want);

    /* A C string ends at its first NUL: the rest never reaches the row. */
    ck_assert_int_eq(db_set_ocr_completed(db, id, "abc\0def", err, sizeof err), DB_OK);
    ck_assert_str_eq(col(c, id, "ocr_text", buf, sizeof buf), "abc");

    /* jsonb refuses \u0000: it becomes U+FFFD; an escaped backslash stays. */
    json_t *parsed = json_object();
    json_object_set_new(parsed, "nul", json_stringn("x\0y", 3));
    json_object_set_new(parsed, "lit", json_string("\\u0000"));
    bool applied = false;
    ck_assert_int_eq(db_complete(db, id, "auto_approved", 90, "approve", parsed, "z\x80", &applied,
                                 err, sizeof err),
                     DB_OK);
    ck_assert(applied);
    q(c, buf, sizeof buf, "SELECT result_json->>'nul' FROM documents WHERE id = $1", 1, id, NULL);
    ck_assert_str_eq(buf, "x\xEF\xBF\xBDy");
    q(c, buf, sizeof buf, "SELECT result_json->>'lit' FROM documents WHERE id = $1", 1, id, NULL);
    ck_assert_str_eq(buf, "\\u0000");
    ck_assert_str_eq(col(c, id, "ocr_text", buf, sizeof buf), "z\xEF\xBF\xBD");
    json_decref(parsed);
    db_close(db);
    PQfinish(c);
}
END_TEST

START_TEST(test_db_text)
{
    ck_assert_uint_eq(db_text_utf8_len("A"), 1);
    ck_assert_uint_eq(db_text_utf8_len("\xc3\xa9"), 2);
    ck_assert_uint_eq(db_text_utf8_len("\xe0\x9f\x80"), 0); /* overlong */
    ck_assert_uint_eq(db_text_utf8_len("\xef\xbf\xbd"), 3);
    ck_assert_uint_eq(db_text_utf8_len("\xf4\x8f\xbf\xbf"), 4);
    ck_assert_uint_eq(db_text_utf8_len("\xf0\x9f\x98"), 0); /* cut short by the NUL */
    ck_assert_uint_eq(db_text_invalid_bytes("ok \xc3\xa9"), 0);
    ck_assert_uint_eq(db_text_invalid_bytes("\xfe\xff"), 2);
    char *s = db_text_utf8_clean("");
    ck_assert_str_eq(s, "");
    free(s);

    json_t *j = json_pack("[s, s#]", "\\\\u0000", "a\0b", 3);
    s = db_text_json(j);
    ck_assert_str_eq(s, "[\"\\\\\\\\u0000\",\"a\\ufffdb\"]");
    free(s);
    json_decref(j);
    /* A string that is not valid UTF-8 cannot be serialised. */
    j = json_pack("{s:o}", "k", json_stringn_nocheck("\xff", 1));
    ck_assert_ptr_null(db_text_json(j));
    json_decref(j);
}
END_TEST

/* A fake server that accepts connections and closes them at once, counting them. */
struct closer {
    int fd;
    int port;
    volatile int accepted;
    volatile int stop;
    pthread_t thread;
};

/* Accept loop of the fake server. */
static void *closer_run(void *arg)
{
    struct closer *cl = arg;
    while (!cl->stop) {
        struct pollfd p = {.fd = cl->fd, .events = POLLIN};
        if (poll(&p, 1, 20) <= 0)
            continue;
        int s = accept(cl->fd, NULL, NULL);
        if (s >= 0) {
            close(s);
            __atomic_add_fetch(&cl->accepted, 1, __ATOMIC_SEQ_CST);
        }
    }
    return NULL;
}

/* Listens on a free loopback port and starts the accept thread. */
static void closer_start(struct closer *cl)
{
    memset(cl, 0, sizeof *cl);
    cl->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(cl->fd, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(cl->fd, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t sl = sizeof sa;
    ck_assert_int_eq(getsockname(cl->fd, (struct sockaddr *)&sa, &sl), 0);
    cl->port = ntohs(sa.sin_port);
    ck_assert_int_eq(listen(cl->fd, 16), 0);
    ck_assert_int_eq(pthread_create(&cl->thread, NULL, closer_run, cl), 0);
}

/* Stops the accept thread and closes the socket. */
static void closer_stop(struct closer *cl)
{
    cl->stop = 1;
    pthread_join(cl->thread, NULL);
    close(cl->fd);
}

/* Waits briefly for the accept thread to count n connections. */
static int closer_count(struct closer *cl, int n)
{
    for (int i = 0; i < 100 && __atomic_load_n(&cl->accepted, __ATOMIC_SEQ_CST) < n; i++)
        clock_sleep_ms(5);
    clock_sleep_ms(30);
    return __atomic_load_n(&cl->accepted, __ATOMIC_SEQ_CST);
}

START_TEST(test_unreachable_backoff)
{
    /* The server hangs up at once; the password must never reach the log. */
    log_init("test_db", LOG_DEBUG);
    char log_path[128];
    capture_stdout(log_path, sizeof log_path);
    struct closer cl;
    closer_start(&cl);
    char url[128];
    snprintf(url, sizeof url, "postgresql://postgres:s3cretpw@127.0.0.1:%d/postgres", cl.port);
    struct db *db = NULL;
    ck_assert_int_eq(db_open(url, &db), FILOT_OK);
    ck_assert(!db_healthy(db));
    ck_assert_int_eq(closer_count(&cl, 0), 0); /* lazy: no connection yet */
    ck_assert_int_eq(db_ensure(db), DB_UNAVAILABLE);
    ck_assert(!db_healthy(db));
    ck_assert_int_eq(closer_count(&cl, 1), 1);

    /* In backoff (200 ms): answered at once, without connecting. */
    uint64_t t0 = clock_mono_ms();
    for (int i = 0; i < 100; i++)
        ck_assert_int_eq(db_ensure(db), DB_UNAVAILABLE);
    char err[256];
    struct doc_row row;
    ck_assert_int_eq(db_get_doc(db, "abc", &row, err, sizeof err), DB_UNAVAILABLE);
    ck_assert_int_eq(db_set_processing(db, "abc", err, sizeof err), DB_UNAVAILABLE);
    ck_assert_uint_lt(clock_mono_ms() - t0, 100);
    ck_assert_int_eq(closer_count(&cl, 2), 1);

    /* After the backoff one more attempt; the next wait is longer (400 ms). */
    clock_sleep_ms(250);
    ck_assert_int_eq(db_ensure(db), DB_UNAVAILABLE);
    ck_assert_int_eq(closer_count(&cl, 2), 2);
    clock_sleep_ms(250);
    ck_assert_int_eq(db_ensure(db), DB_UNAVAILABLE);
    ck_assert_int_eq(closer_count(&cl, 3), 2);
    clock_sleep_ms(200);
    ck_assert_int_eq(db_ensure(db), DB_UNAVAILABLE);
    ck_assert_int_eq(closer_count(&cl, 3), 3);
    db_close(db);
    closer_stop(&cl);
    fflush(stdout);
    ck_assert_int_eq(count_in_file(log_path, "PostgreSQL connection lost"), 1);
    ck_assert_int_eq(count_in_file(log_path, "s3cretpw"), 0);

    /* A malformed DATABASE_URL is refused up front, also without the password. */
    ck_assert_int_eq(db_open("postgresql://u:s3cretpw@h/d?bogus_option=1", &db), FILOT_EINVAL);
    ck_assert_ptr_null(db);
    ck_assert_int_eq(db_open("host=x port", &db), FILOT_EINVAL);
    fflush(stdout);
    ck_assert_int_eq(count_in_file(log_path, "s3cretpw"), 0);

    /* key=value strings work as well as URIs. */
    char kv[128];
    snprintf(kv, sizeof kv, "host=127.0.0.1 port=%s user=postgres dbname=postgres", pg_port);
    ck_assert_int_eq(db_open(kv, &db), FILOT_OK);
    ck_assert_int_eq(db_ensure(db), DB_OK);
    ck_assert(db_healthy(db));
    db_close(db);
}
END_TEST

/* Runs pg_ctl as the postgres user, as tests/servers.sh does. */
static int pg_ctl(const char *args)
{
    const char *bin = getenv("PGBIN") ? getenv("PGBIN") : "/usr/lib/postgresql/15/bin";
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "runuser -u postgres -- %s/pg_ctl -D %s %s >/dev/null 2>&1", bin,
             pgdata, args);
    return system(cmd);
}

START_TEST(test_outage)
{
    log_init("test_db", LOG_DEBUG);
    char log_path[128];
    capture_stdout(log_path, sizeof log_path);
    PGconn *c = admin();
    char id[40], buf[256], err[256];
    new_doc(c, "uploaded", "k", id);
    PQfinish(c);
    struct db *db = open_db();
    ck_assert_int_eq(db_set_processing(db, id, err, sizeof err), DB_OK);
    ck_assert(db_healthy(db));

    ck_assert_int_eq(pg_ctl("-m fast -w -t 20 stop"), 0);
    ck_assert_int_eq(db_set_ocr_completed(db, id, "x", err, sizeof err), DB_UNAVAILABLE);
    ck_assert(!db_healthy(db));
    bool applied = true;
    ck_assert_int_eq(
        db_complete(db, id, "auto_approved", 1, "approve", NULL, "x", &applied, err, sizeof err),
        DB_UNAVAILABLE);
    ck_assert(!applied);
    ck_assert_int_eq(db_ensure(db), DB_UNAVAILABLE);

    char opts[512];
    snprintf(opts, sizeof opts,
             "-l %s/pg/pg.log -w -t 30 -o \"-p %s -k %s/pg -c listen_addresses=127.0.0.1 "
             "-c fsync=off -c synchronous_commit=off -c full_page_writes=off\" start",
             tmp_dir, pg_port, tmp_dir);
    ck_assert_int_eq(pg_ctl(opts), 0);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "head -1 %s/postmaster.pid >%s/postgres.pid", pgdata, tmp_dir);
    ck_assert_int_eq(system(cmd), 0);

    uint64_t t0 = clock_mono_ms();
    while (db_ensure(db) != DB_OK && clock_mono_ms() - t0 < 10000)
        clock_sleep_ms(50);
    ck_assert_msg(db_healthy(db), "no reconnect within 10 s");
    ck_assert_uint_lt(clock_mono_ms() - t0, 6000);
    ck_assert_int_eq(db_set_ocr_completed(db, id, "after", err, sizeof err), DB_OK);
    c = admin();
    ck_assert_str_eq(col(c, id, "ocr_text", buf, sizeof buf), "after");
    PQfinish(c);

    /* A restart while idle is noticed before the next statement is sent. */
    ck_assert_int_eq(pg_ctl("-m fast -w -t 20 stop"), 0);
    ck_assert_int_eq(pg_ctl(opts), 0);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_eq(db_set_ocr_completed(db, id, "again", err, sizeof err), DB_OK);
    db_close(db);

    fflush(stdout);
    ck_assert_int_eq(count_in_file(log_path, "PostgreSQL connection lost"), 2);
    ck_assert_int_eq(count_in_file(log_path, "PostgreSQL connection restored"), 2);
}
END_TEST

/* The suite: one PostgreSQL for every test; the outage test runs last. */
static Suite *db_suite(void)
{
    Suite *s = suite_create("db");
    TCase *tc = tcase_create("postgres");
    tcase_set_timeout(tc, 60);
    tcase_add_unchecked_fixture(tc, start_servers, stop_servers);
    tcase_add_test(tc, test_schema);
    tcase_add_test(tc, test_get_doc);
    tcase_add_test(tc, test_writes);
    tcase_add_test(tc, test_complete_once);
    tcase_add_test(tc, test_processed_at_utc);
    tcase_add_test(tc, test_mark_failed);
    tcase_add_test(tc, test_set_ticket);
    tcase_add_test(tc, test_text_cleaning);
    tcase_add_test(tc, test_db_text);
    tcase_add_test(tc, test_unreachable_backoff);
    tcase_add_test(tc, test_outage);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    log_init("test_db", LOG_WARN);
    return check_run(db_suite());
}
