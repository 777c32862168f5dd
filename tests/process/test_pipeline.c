/*
 * test_pipeline.c - filot-ocrd as the drop-in FiLot GPU OCR worker, against
 * real servers: redis-server, PostgreSQL, moto in IAM-auth mode as R2 (so
 * SigV4 is really verified) and the BULI2 stand-in, all started once per
 * suite by tests/servers.sh.
 *
 * Cases: end to end (KTP, NPWP, PDF, an unreadable card; rows, published
 * messages, BULI2 escalations, Redis keys, throughput), the original API's
 * way of enqueueing, a worker SIGKILLed mid-job, Redis and PostgreSQL
 * stopped and restarted mid-run, BULI2 failing then recovering, bad input,
 * retries that really run, and two instances on one queue.  The real
 * messages and result_json rows are checked against doc/schema, /metrics
 * against what the case did and against Redis, /ready against outages.
 *
 * Run from the repository root.  Every case starts its own filot-ocrd and
 * stops it by pid; the unchecked per-case setup (in the runner process)
 * flushes Redis and empties the documents table, its teardown kills what
 * a failed case left running (pids recorded in a file, never by name).
 * PIPELINE_KEEP=1 keeps the scratch directory (logs, messages) after a pass.
 */
#include <check.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <uuid/uuid.h>

#include "metrics_util.h"
#include "pipeline_util.h"
#include "proc_util.h"

#define NCARDS       12
#define CASE_TIMEOUT 150
#define MAX_ENV      40
#define MAX_DOCS     24
#define SETTLE_MS    90000u
#define BULI2_KEY    "pl-test-key"
#define USER_ID      "5b0e8f40-7a4c-4d7e-9f51-3c1a2b4d6e70"
#define CHANNEL      "filot:ocr:gpu:results"
#define K_QUEUE      "filot:ocr:gpu:queue"
#define K_PROCESSING "filot:ocr:gpu:processing"
#define K_ATTEMPTS   "filot:ocr:gpu:attempts"
#define K_OWNERS     "filot:ocr:gpu:owners"
#define K_DELAYED    "filot:ocr:gpu:delayed"
#define K_OUTBOX     "filot:ocr:gpu:buli2:outbox"

static const char OCRD_BIN[] = TEST_BIN_DIR "/filot-ocrd";
static const char OCR_BIN[] = TEST_BIN_DIR "/filot-ocr";

/* Per-document hashes of the original (and ours) that must forget a finished job. */
static const char *const JOB_HASHES[] = {K_ATTEMPTS, "filot:ocr:gpu:correlation",
                                         "filot:ocr:gpu:processing:timestamps", K_OWNERS};

/* Fields of the original's success message (doc/COMPATIBILITY.md 1.7). */
static const char *const ORIGINAL_FIELDS[] = {
    "success", "documentId", "correlationId", "ocrText",      "parsedResult",
    "score",   "decision",   "outcome",       "gpuProcessed", "processingTimeMs"};

/* Suite state, set up in the runner process and inherited by each case. */
static char suite_dir[64];
static struct pl_servers srv;
static bool suite_ready;
static char card_png[NCARDS][400]; /* generated cards */
static char card_type[NCARDS][8];  /* KTP / NPWP */
static json_t *card_truth[NCARDS]; /* their ground truth */
static char grey_png[160];         /* a blank card: nothing to read */
static char card_pdf[160];         /* card 0 as a PDF */
static char pid_file[160];         /* pids a case started, for the teardown */
static uint64_t case_started_ms;
static int case_index = -1; /* which case runs, for the teardown's notes */
static const char *const CASE_NAMES[] = {"end_to_end", "compat",   "sigkill",
                                         "redis",      "postgres", "buli2",
                                         "bad_input",  "retries",  "scale_out"};

#define note(...)                      pu_note("test_pipeline", __VA_ARGS__)
#define scratch(buf, len, tag, suffix) pu_scratch(buf, len, suite_dir, tag, suffix)

/* Appends a pid the teardown must kill if the case fails. */
static void remember_pid(pid_t pid)
{
    FILE *f = fopen(pid_file, "a");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "%d\n", (int)pid);
    fclose(f);
}

/* ---- suite set-up (runner process) -------------------------------------- */

static void run_ok(const char *const *argv, unsigned timeout_ms)
{
    int rc = pl_run(argv, timeout_ms);
    ck_assert_msg(rc == 0, "%s failed (%d)", argv[0], rc);
}

/* Cards from tests/gen-cards.sh, a blank grey card and a PDF of card 0. */
static void generate_documents(void)
{
    char dir[96], manifest[128], line[256];
    scratch(dir, sizeof dir, "cards", "");
    const char *const gen[] = {
        "tests/gen-cards.sh", "--seed", "11",     "--count", "12", "--type", "mixed",
        "--degrade",          "light",  "--jobs", "2",       dir,  NULL};
    run_ok(gen, 180000);
    snprintf(manifest, sizeof manifest, "%s/manifest.tsv", dir);
    FILE *f = fopen(manifest, "r");
    ck_assert_ptr_nonnull(f);
    int n = 0;
    while (n < NCARDS && fgets(line, sizeof line, f) != NULL) {
        char *tab = strchr(line, '\t');
        ck_assert_ptr_nonnull(tab);
        *tab = '\0';
        tab[1 + strcspn(tab + 1, "\n")] = '\0';
        snprintf(card_type[n], sizeof card_type[n], "%.4s", tab + 1);
        snprintf(card_png[n], sizeof card_png[n], "%s/%s", dir, line);
        char truth[400];
        snprintf(truth, sizeof truth, "%s/%.*s.json", dir, (int)(strlen(line) - 4), line);
        card_truth[n] = json_load_file(truth, 0, NULL);
        ck_assert_ptr_nonnull(card_truth[n]);
        n++;
    }
    fclose(f);
    ck_assert_int_eq(n, NCARDS);
    scratch(grey_png, sizeof grey_png, "grey", ".png");
    const char *const grey[] = {"convert", "-size", "1011x638", "xc:#808080", grey_png, NULL};
    run_ok(grey, 30000);
    scratch(card_pdf, sizeof card_pdf, "card0", ".pdf");
    ck_assert_int_eq(pl_png_to_pdf(card_png[0], card_pdf, 300.0), 0);
}

static void suite_setup(void)
{
    snprintf(suite_dir, sizeof suite_dir, "/tmp/test_pipeline.XXXXXX");
    ck_assert_int_eq(pu_mkdtemp(suite_dir), 0);
    ck_assert_int_eq(chmod(suite_dir, 0755), 0); /* PostgreSQL runs as its own user */
    scratch(pid_file, sizeof pid_file, "pids", "");
    char dir[96];
    scratch(dir, sizeof dir, "servers", "");
    ck_assert_msg(pl_servers_start(&srv, dir) == 0, "tests/servers.sh start failed");
    PGconn *c = pl_pg_connect(srv.database_url);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(pl_pg_exec_file(c, "db/schema.sql"), 0);
    ck_assert_int_eq(pl_pg_exec(c, "INSERT INTO users (id, email) VALUES ('" USER_ID
                                   "', 'pipeline@test') ON CONFLICT DO NOTHING"),
                     0);
    PQfinish(c);
    generate_documents();
    suite_ready = true;
}

/* Unchecked setup: servers once, then a clean Redis, table and BULI2. */
static void case_setup(void)
{
    if (!suite_ready)
        suite_setup();
    if (!pl_postgres_up(&srv)) /* a failed outage case may have left it down */
        ck_assert_int_eq(pl_postgres_start(&srv), 0);
    redisContext *r = pl_redis_connect(srv.redis_port);
    ck_assert_ptr_nonnull(r);
    freeReplyObject(pl_redis(r, "FLUSHALL"));
    redisFree(r);
    PGconn *c = pl_pg_connect(srv.database_url);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(pl_pg_exec(c, "DROP TRIGGER IF EXISTS pl_fault ON documents; "
                                   "TRUNCATE documents CASCADE"),
                     0);
    PQfinish(c);
    ck_assert_int_eq(pl_buli2_fail(&srv, 500, 0), 0);
    unlink(pid_file);
    case_index++;
    case_started_ms = pu_now_ms();
}

/* Unchecked teardown: kills what the case started and left running. */
static void case_teardown(void)
{
    FILE *f = fopen(pid_file, "r");
    int pid, killed = 0;
    while (f != NULL && fscanf(f, "%d", &pid) == 1) {
        if (pl_pid_alive(pid)) {
            pl_kill_tree(pid);
            killed++;
        }
    }
    if (f != NULL)
        fclose(f);
    const char *name = CASE_NAMES[case_index];
    if (killed > 0)
        note("%s: killed %d process(es) the case left running", name, killed);
    note("runtime %-12s %6.1f s", name, (double)(pu_now_ms() - case_started_ms) / 1000.0);
}

/* ---- filot-ocrd ----------------------------------------------------------- */

struct daemon {
    pid_t pid;
    int port;
    char out[128], err[128];
};

/*
 * Starts filot-ocrd in queue mode against the suite's servers (redis_url
 * NULL: the suite's Redis), two workers, fast polling, plus env.
 */
static void ocrd_start(struct daemon *d, const char *tag, const char *redis_url,
                       const char *const *env)
{
    char vars[14][600];
    const char *envv[MAX_ENV];
    int k = 0, v = 0;
    d->port = pu_free_port();
    ck_assert_int_gt(d->port, 0);
    scratch(d->out, sizeof d->out, tag, ".out");
    scratch(d->err, sizeof d->err, tag, ".err");
    snprintf(vars[v++], sizeof vars[0], "HEALTH_PORT=%d", d->port);
    snprintf(vars[v++], sizeof vars[0], "OCR_RUNTIME_DIR=%s/%s.run", suite_dir, tag);
    snprintf(vars[v++], sizeof vars[0], "REDIS_URL=%s", redis_url ? redis_url : srv.redis_url);
    snprintf(vars[v++], sizeof vars[0], "DATABASE_URL=%s", srv.database_url);
    snprintf(vars[v++], sizeof vars[0], "CF_R2_ENDPOINT=%s", srv.r2_endpoint);
    snprintf(vars[v++], sizeof vars[0], "CF_R2_ACCESS_KEY_ID=%s", srv.r2_key);
    snprintf(vars[v++], sizeof vars[0], "CF_R2_SECRET_ACCESS_KEY=%s", srv.r2_secret);
    snprintf(vars[v++], sizeof vars[0], "CF_R2_BUCKET_NAME=%s", srv.r2_bucket);
    snprintf(vars[v++], sizeof vars[0], "BULI2_API_URL=%s", srv.buli2_url);
    for (int i = 0; i < v; i++)
        envv[k++] = vars[i];
    static const char *const fixed[] = {"OCR_SHM_SIZE=64M",
                                        "OCR_GPU_CONCURRENCY=2",
                                        "OCR_GPU_POLL_INTERVAL=100",
                                        "OCR_RETRY_BACKOFF_MS=300",
                                        "OCR_GPU_REAPER_INTERVAL=5000",
                                        "BULI2_API_KEY=" BULI2_KEY,
                                        "OCR_JOB_SOURCE",
                                        "NOTIFY_SOCKET",
                                        "WATCHDOG_USEC",
                                        "OCR_RESULT_PII",
                                        NULL};
    for (int i = 0; fixed[i] != NULL; i++)
        envv[k++] = fixed[i];
    for (int i = 0; env != NULL && env[i] != NULL; i++)
        envv[k++] = env[i];
    ck_assert_int_lt(k, MAX_ENV);
    envv[k] = NULL;
    const char *const argv[] = {OCRD_BIN, NULL};
    struct pu_spec sp = {.argv = argv, .env = envv, .out_path = d->out, .err_path = d->err};
    d->pid = pu_spawn(&sp);
    ck_assert_int_gt(d->pid, 0);
    remember_pid(d->pid);
}

/* Polls /health until it answers 200; returns the document. */
static json_t *ocrd_ready(const struct daemon *d)
{
    uint64_t deadline = pu_now_ms() + 60000u;
    while (pu_now_ms() < deadline && !pu_exited(d->pid)) {
        int code;
        json_t *h = pu_health(d->port, &code);
        if (code == 200)
            return h;
        json_decref(h);
        pu_sleep_ms(50);
    }
    ck_abort_msg("filot-ocrd never became ready (log %s)", d->out);
    return NULL;
}

/* SIGTERM (drain), expecting exit 0. */
static void ocrd_stop(struct daemon *d)
{
    int st;
    ck_assert_int_eq(kill(d->pid, SIGTERM), 0);
    ck_assert_msg(pu_wait(d->pid, 40000, &st) == 0, "filot-ocrd did not stop (log %s)", d->out);
    ck_assert_msg(pu_exit_code(st) == 0, "filot-ocrd exit status %d (log %s)", st, d->out);
    d->pid = 0;
}

/*
 * JSON log lines of the daemons (stdout and stderr of each) whose message
 * is msg and, when doc is not NULL, whose documentId is doc.
 */
static int count_log(const struct daemon *ds, int nd, const char *msg, const char *doc)
{
    int n = 0;
    for (int i = 0; i < nd; i++) {
        const char *paths[] = {ds[i].out, ds[i].err};
        for (int p = 0; p < 2; p++) {
            char *text = pu_read_file(paths[p], NULL), *save = NULL;
            for (char *line = text ? strtok_r(text, "\n", &save) : NULL; line != NULL;
                 line = strtok_r(NULL, "\n", &save)) {
                json_t *j = json_loads(line, 0, NULL);
                if (j != NULL && strcmp(pu_str(j, "message"), msg) == 0 &&
                    (doc == NULL || strcmp(pu_str(j, "documentId"), doc) == 0))
                    n++;
                json_decref(j);
            }
            free(text);
        }
    }
    return n;
}

/* ---- documents ------------------------------------------------------------ */

struct doc {
    char id[40];
    char type[8];
    int card; /* index into the generated cards, -1 for none */
};

struct docs {
    struct doc d[MAX_DOCS];
    int n;
    PGconn *pg;
};

static void docs_open(struct docs *ds)
{
    memset(ds, 0, sizeof *ds);
    ds->pg = pl_pg_connect(srv.database_url);
    ck_assert_ptr_nonnull(ds->pg);
}

static void docs_close(struct docs *ds)
{
    PQfinish(ds->pg);
}

/* Inserts a row (file_url as given) and returns the new document. */
static struct doc *doc_row(struct docs *ds, const char *type, const char *file_url, int card)
{
    ck_assert_int_lt(ds->n, MAX_DOCS);
    const char *const params[] = {type, file_url};
    char *id = pl_pg_value(ds->pg,
                           "INSERT INTO documents (user_id, type, file_url) VALUES ('" USER_ID
                           "', $1, $2) RETURNING id",
                           2, params);
    ck_assert_ptr_nonnull(id);
    struct doc *d = &ds->d[ds->n++];
    snprintf(d->id, sizeof d->id, "%s", id);
    snprintf(d->type, sizeof d->type, "%s", type);
    d->card = card;
    free(id);
    return d;
}

/* Uploads bytes under the upload API's key form and inserts the row. */
static struct doc *doc_bytes(struct docs *ds, const char *type, const void *data, size_t len,
                             const char *ext, int card)
{
    char key[200];
    uuid_t u;
    char us[40];
    uuid_generate_random(u);
    uuid_unparse_lower(u, us);
    snprintf(key, sizeof key, "%s/%s_%s.%s", USER_ID, type, us, ext);
    int code = pl_s3_put(&srv, NULL, key, data, len);
    ck_assert_msg(code == 200, "upload of %s answered %d", key, code);
    return doc_row(ds, type, key, card);
}

static struct doc *doc_file(struct docs *ds, const char *type, const char *path, int card)
{
    size_t len;
    char *data = pu_read_file(path, &len);
    ck_assert_msg(data != NULL, "cannot read %s", path);
    const char *ext = strrchr(path, '.');
    struct doc *d = doc_bytes(ds, type, data, len, ext ? ext + 1 : "bin", card);
    free(data);
    return d;
}

static struct doc *doc_card(struct docs *ds, int i)
{
    return doc_file(ds, card_type[i], card_png[i], i);
}

/* `filot-ocr enqueue` of every document (the original's enqueueForGPU). */
static void enqueue_all(const struct docs *ds, const char *redis_url)
{
    const char *argv[MAX_DOCS + 3];
    char env_url[200];
    int k = 0;
    argv[k++] = OCR_BIN;
    argv[k++] = "enqueue";
    for (int i = 0; i < ds->n; i++)
        argv[k++] = ds->d[i].id;
    argv[k] = NULL;
    snprintf(env_url, sizeof env_url, "REDIS_URL=%s", redis_url ? redis_url : srv.redis_url);
    const char *const env[] = {env_url, NULL};
    struct pu_spec sp = {.argv = argv, .env = env};
    pid_t pid = pu_spawn(&sp);
    int st;
    ck_assert_int_gt(pid, 0);
    ck_assert_int_eq(pu_wait(pid, 20000, &st), 0);
    ck_assert_msg(pu_exit_code(st) == 0, "filot-ocr enqueue failed: %d", st);
}

/* "{id,id,...}" for a uuid[] parameter. */
static void id_array(const struct docs *ds, char *buf, size_t len)
{
    size_t o = (size_t)snprintf(buf, len, "{");
    for (int i = 0; i < ds->n && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? "," : "", ds->d[i].id);
    ck_assert_int_lt(o + 2, len);
    snprintf(buf + o, len - o, "}");
}

/* Rows of the documents, in insertion order, with result_json parsed. */
static json_t *doc_rows(const struct docs *ds)
{
    char ids[MAX_DOCS * 40];
    id_array(ds, ids, sizeof ids);
    const char *const params[] = {ids};
    json_t *rows = pl_pg_rows(
        ds->pg,
        "SELECT d.id, type, status::text AS status, verification_status, ai_score, ai_decision, "
        "buli2_ticket_id, result_json::text AS result_json, ocr_text, processed_at, "
        "abs(extract(epoch FROM (now() AT TIME ZONE 'UTC') - processed_at)) < 300 AS utc_now "
        "FROM unnest($1::uuid[]) WITH ORDINALITY AS u(id, n) JOIN documents d ON d.id = u.id "
        "ORDER BY u.n",
        1, params);
    ck_assert_ptr_nonnull(rows);
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        const char *rj = json_string_value(json_object_get(row, "result_json"));
        json_object_set_new(row, "result", rj ? json_loads(rj, 0, NULL) : json_null());
    }
    return rows;
}

/* Number of the documents whose row is completed or failed. */
static int settled_count(const struct docs *ds)
{
    char ids[MAX_DOCS * 40];
    id_array(ds, ids, sizeof ids);
    const char *const params[] = {ids};
    char *v = pl_pg_value(ds->pg,
                          "SELECT count(*) FROM documents WHERE id = ANY($1::uuid[]) "
                          "AND status IN ('completed', 'failed')",
                          1, params);
    int n = v ? atoi(v) : -1;
    free(v);
    return n;
}

/* Waits until want rows are settled; returns the milliseconds it took. */
static uint64_t wait_settled(struct docs *ds, int want, unsigned timeout_ms)
{
    uint64_t t0 = pu_now_ms(), deadline = t0 + timeout_ms;
    int n = 0;
    while (pu_now_ms() < deadline) {
        n = settled_count(ds);
        if (n < 0) { /* the database is being restarted: reconnect */
            PQreset(ds->pg);
        } else if (n >= want) {
            return pu_now_ms() - t0;
        }
        pu_sleep_ms(50);
    }
    ck_abort_msg("only %d of %d documents settled within %u ms", n, want, timeout_ms);
    return 0;
}

/* ---- published messages -------------------------------------------------- */

static void sub_start(struct pl_sub *sub, const char *tag)
{
    char path[128];
    scratch(path, sizeof path, tag, ".sub");
    ck_assert_msg(pl_sub_start(sub, srv.redis_port, CHANNEL, path) == 0, "SUBSCRIBE failed");
    remember_pid(sub->pid);
}

/* The messages about doc, and how many there were. */
static json_t *messages_for(const json_t *msgs, const char *doc, int *count)
{
    size_t i;
    json_t *m, *last = NULL;
    *count = 0;
    json_array_foreach(msgs, i, m)
    {
        if (strcmp(pu_str(m, "documentId"), doc) == 0) {
            last = m;
            (*count)++;
        }
    }
    return last;
}

/* Waits until every document has a message; returns them all. */
static json_t *wait_messages(const struct pl_sub *sub, const struct docs *ds, unsigned timeout_ms)
{
    uint64_t deadline = pu_now_ms() + timeout_ms;
    for (;;) {
        json_t *msgs = pl_sub_messages(sub);
        int have = 0, c;
        for (int i = 0; i < ds->n; i++) {
            messages_for(msgs, ds->d[i].id, &c);
            have += c > 0;
        }
        if (have == ds->n || pu_now_ms() >= deadline) {
            ck_assert_msg(have == ds->n, "messages for %d of %d documents", have, ds->n);
            return msgs;
        }
        json_decref(msgs);
        pu_sleep_ms(50);
    }
}

/* The one message about doc (exactly one must have been published). */
static json_t *one_message(const json_t *msgs, const char *doc)
{
    int c;
    json_t *m = messages_for(msgs, doc, &c);
    ck_assert_msg(c == 1, "%d messages published for %s", c, doc);
    return m;
}

static bool is_uuid(const char *s)
{
    uuid_t u;
    return strlen(s) == 36 && uuid_parse(s, u) == 0;
}

/* A success message carries every field of the original, with its meaning. */
static void assert_original_success(const json_t *m, const char *doc)
{
    for (size_t i = 0; i < sizeof ORIGINAL_FIELDS / sizeof ORIGINAL_FIELDS[0]; i++)
        ck_assert_msg(json_object_get(m, ORIGINAL_FIELDS[i]) != NULL, "message lacks %s",
                      ORIGINAL_FIELDS[i]);
    ck_assert(json_is_true(json_object_get(m, "success")));
    ck_assert_str_eq(pu_str(m, "documentId"), doc);
    ck_assert_msg(is_uuid(pu_str(m, "correlationId")), "correlationId %s",
                  pu_str(m, "correlationId"));
    ck_assert(json_is_string(json_object_get(m, "ocrText")));
    ck_assert(json_is_object(json_object_get(m, "parsedResult")));
    json_int_t score = json_integer_value(json_object_get(m, "score"));
    ck_assert(json_is_integer(json_object_get(m, "score")));
    ck_assert(score >= 0 && score <= 100);
    /* strict policy (default): approved only at score >= 75 and with no review reason */
    json_t *reasons = json_object_get(m, "reviewReasons");
    ck_assert(json_is_array(reasons));
    bool approve = score >= 75 && json_array_size(reasons) == 0;
    ck_assert_str_eq(pu_str(m, "decision"), approve ? "auto_approve" : "needs_review");
    ck_assert_str_eq(pu_str(m, "outcome"), approve ? "auto_approved" : "pending_manual_review");
    ck_assert(json_is_true(json_object_get(m, "gpuProcessed")));
    ck_assert(json_is_integer(json_object_get(m, "processingTimeMs")));
    ck_assert_int_ge(json_integer_value(json_object_get(m, "processingTimeMs")), 0);
}

/* A completed row agrees with its success message. */
static void assert_row_matches(const json_t *row, const json_t *m)
{
    ck_assert_str_eq(pu_str(row, "status"), "completed");
    ck_assert_str_eq(pu_str(row, "verification_status"), pu_str(m, "outcome"));
    ck_assert_str_eq(pu_str(row, "ai_decision"), pu_str(m, "decision"));
    ck_assert_int_eq(atoi(pu_str(row, "ai_score")),
                     json_integer_value(json_object_get(m, "score")));
    ck_assert_msg(json_is_string(json_object_get(row, "processed_at")), "processed_at not set");
    ck_assert_msg(strcmp(pu_str(row, "utc_now"), "t") == 0, "processed_at %s is not UTC now",
                  pu_str(row, "processed_at"));
    ck_assert_msg(json_is_string(json_object_get(row, "ocr_text")), "ocr_text not set");
    json_t *result = json_object_get(row, "result");
    ck_assert(json_is_object(result));
    ck_assert_int_eq(json_object_size(result),
                     json_object_size(json_object_get(m, "parsedResult")));
}

/* ---- Redis state ------------------------------------------------------------ */

/* What is left of the jobs in Redis, as text in buf; false when nothing. */
static bool redis_leftover(redisContext *r, const struct docs *ds, char *buf, size_t len)
{
    static const char *const counts[][2] = {
        {"LLEN", K_QUEUE}, {"SCARD", K_PROCESSING}, {"ZCARD", K_DELAYED}};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        long long n = pl_redis_int(r, "%s %s", counts[i][0], counts[i][1]);
        if (n != 0) {
            snprintf(buf, len, "%s %s = %lld", counts[i][0], counts[i][1], n);
            return true;
        }
    }
    for (int i = 0; i < ds->n; i++) {
        const char *id = ds->d[i].id;
        for (size_t h = 0; h < sizeof JOB_HASHES / sizeof JOB_HASHES[0]; h++) {
            if (pl_redis_int(r, "HEXISTS %s %s", JOB_HASHES[h], id) != 0) {
                snprintf(buf, len, "%s still holds %s", JOB_HASHES[h], id);
                return true;
            }
        }
        if (pl_redis_int(r, "HEXISTS %s %s", K_OUTBOX, id) != 0) {
            snprintf(buf, len, "%s still holds %s", K_OUTBOX, id);
            return true;
        }
    }
    redisReply *keys = pl_redis(r, "KEYS filot:ocr:gpu:lock:*");
    bool left = keys == NULL || keys->elements > 0;
    snprintf(buf, len, "%s",
             keys == NULL     ? "KEYS failed"
             : keys->elements ? keys->element[0]->str
                              : "");
    freeReplyObject(keys);
    return left;
}

/*
 * Waits up to timeout_ms until no trace of the jobs is left (queue, sets,
 * hashes, locks, outbox); returns the milliseconds it took.
 */
static uint64_t wait_redis_clean(int port, const struct docs *ds, unsigned timeout_ms)
{
    redisContext *r = pl_redis_connect(port);
    ck_assert_ptr_nonnull(r);
    uint64_t t0 = pu_now_ms();
    char what[300];
    while (redis_leftover(r, ds, what, sizeof what)) {
        ck_assert_msg(pu_now_ms() - t0 < timeout_ms, "after %u ms Redis still has: %s", timeout_ms,
                      what);
        pu_sleep_ms(100);
    }
    redisFree(r);
    return pu_now_ms() - t0;
}

/* No trace of the jobs is left (their keys go right after the row settles). */
static void assert_redis_clean(int port, const struct docs *ds)
{
    wait_redis_clean(port, ds, 2000);
}

/* ---- BULI2 ------------------------------------------------------------------ */

/* The reviews the stand-in accepted for doc. */
static int reviews_for(const json_t *stats, const char *doc, json_t **last)
{
    size_t i;
    json_t *rv;
    int n = 0;
    json_array_foreach(json_object_get(stats, "reviews"), i, rv)
    {
        if (strcmp(pu_str(json_object_get(rv, "body"), "documentId"), doc) == 0) {
            n++;
            if (last != NULL)
                *last = rv;
        }
    }
    return n;
}

/* Waits until every pending_manual_review row has its ticket. */
static void wait_tickets(struct docs *ds, int want, unsigned timeout_ms)
{
    char ids[MAX_DOCS * 40];
    id_array(ds, ids, sizeof ids);
    const char *const params[] = {ids};
    uint64_t deadline = pu_now_ms() + timeout_ms;
    int n = 0;
    while (pu_now_ms() < deadline) {
        char *v = pl_pg_value(ds->pg,
                              "SELECT count(*) FROM documents WHERE id = ANY($1::uuid[]) "
                              "AND buli2_ticket_id IS NOT NULL",
                              1, params);
        n = v ? atoi(v) : 0;
        free(v);
        if (n >= want)
            return;
        pu_sleep_ms(100);
    }
    ck_abort_msg("%d of %d escalations delivered within %u ms", n, want, timeout_ms);
}

/* One review per pending document, in the original's body shape. */
static void assert_escalations(const json_t *rows, int *pending)
{
    json_t *stats = pl_buli2_stats(&srv);
    ck_assert_ptr_nonnull(stats);
    size_t i;
    json_t *row;
    *pending = 0;
    json_array_foreach(rows, i, row)
    {
        const char *id = pu_str(row, "id");
        json_t *rv = NULL;
        int n = reviews_for(stats, id, &rv);
        if (strcmp(pu_str(row, "verification_status"), "pending_manual_review") != 0) {
            ck_assert_msg(n == 0, "%s is not pending review but was escalated", id);
            continue;
        }
        (*pending)++;
        ck_assert_msg(n == 1, "%s escalated %d times", id, n);
        ck_assert_str_eq(pu_str(rv, "authorization"), "Bearer " BULI2_KEY);
        ck_assert_str_eq(pu_str(row, "buli2_ticket_id"), pu_str(rv, "taskId"));
        json_t *b = json_object_get(rv, "body");
        ck_assert_str_eq(pu_str(b, "userId"), USER_ID);
        ck_assert_str_eq(pu_str(b, "documentType"), pu_str(row, "type"));
        ck_assert(json_is_object(json_object_get(b, "parsedData")));
        ck_assert_int_eq(json_integer_value(json_object_get(b, "aiScore")),
                         atoi(pu_str(row, "ai_score")));
        char prefix[64];
        snprintf(prefix, sizeof prefix, "esc-%s-", id);
        const char *corr = pu_str(b, "correlationId");
        ck_assert_msg(strncmp(corr, prefix, strlen(prefix)) == 0 &&
                          strspn(corr + strlen(prefix), "0123456789") ==
                              strlen(corr + strlen(prefix)) &&
                          strlen(corr) > strlen(prefix),
                      "correlationId %s", corr);
        const char *at = pu_str(json_object_get(b, "metadata"), "submittedAt");
        ck_assert_msg(strlen(at) == 24 && at[10] == 'T' && at[23] == 'Z', "submittedAt %s", at);
    }
    json_decref(stats);
}

/* ---- contracts: JSON Schemas, /metrics, /ready ----------------------------------- */

/* The published messages and the rows' result_json against doc/schema. */
static void assert_schemas(const json_t *msgs, const json_t *rows, const char *tag)
{
    char path[128];
    scratch(path, sizeof path, tag, ".messages.jsonl");
    ck_assert_msg(mu_schema_check("ocr-message.schema.json", msgs, path) == 0,
                  "messages in %s break doc/schema/ocr-message.schema.json", path);
    json_t *results = json_array();
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        json_t *r = json_object_get(row, "result");
        if (json_is_object(r))
            json_array_append(results, r);
    }
    scratch(path, sizeof path, tag, ".results.jsonl");
    ck_assert_msg(mu_schema_check("ocr-result.schema.json", results, path) == 0,
                  "result_json rows in %s break doc/schema/ocr-result.schema.json", path);
    json_decref(results);
}

/* GET /metrics (200, promtool clean); the malloc'd text. */
static char *scrape(const struct daemon *d, const char *tag)
{
    char *text = NULL, path[128];
    ck_assert_int_eq(pu_http_get(d->port, "/metrics", &text), 200);
    scratch(path, sizeof path, tag, ".metrics");
    ck_assert_msg(mu_promtool(text, path) == 0, "promtool check metrics failed on %s", path);
    return text;
}

/* Polls /metrics until completed jobs reach want (workers count right after publishing). */
static char *scrape_completed(const struct daemon *d, const char *tag, int want)
{
    uint64_t deadline = pu_now_ms() + 15000u;
    for (;;) {
        char *text = scrape(d, tag);
        if (mu_metric(text, "filot_ocrd_jobs_total{outcome=\"completed\"}") >= want ||
            pu_now_ms() >= deadline)
            return text;
        free(text);
        pu_sleep_ms(100);
    }
}

/*
 * The job figures of /metrics equal what the case saw: every completed
 * document once in the histogram and in jobs_total, decisions as published.
 */
/*
 * The per-stage times of every completed document (the job-done line's
 * "stagesMs"): all stages present, none negative, the job's stages (all but
 * the claim, which comes before the job's clock starts) within its
 * processingTimeMs (an integer, truncated; the stages are rounded to 0.01 ms).
 * A card job decodes and recognises, so those two are above zero.
 */
static void assert_stage_times(const struct daemon *d, const struct docs *ds)
{
    static const char *const keys[] = {"claim",    "rowRead",    "fetch",     "decode",
                                       "handoff",  "preprocess", "recognise", "extract",
                                       "rowWrite", "publish",    "escalate"};
    const size_t nkeys = sizeof keys / sizeof keys[0];
    char *text = pu_read_file(d->out, NULL), *save = NULL;
    int seen = 0;
    for (char *line = text ? strtok_r(text, "\n", &save) : NULL; line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        json_t *j = json_loads(line, 0, NULL);
        if (j == NULL || strcmp(pu_str(j, "message"), "GPU Document OCR processed successfully")) {
            json_decref(j);
            continue;
        }
        json_t *st = json_object_get(j, "stagesMs");
        ck_assert_msg(json_is_object(st), "no stagesMs in %s", line);
        ck_assert_int_eq((int)json_object_size(st), (int)nkeys);
        double sum = 0;
        for (size_t k = 0; k < nkeys; k++) {
            json_t *v = json_object_get(st, keys[k]);
            ck_assert_msg(json_is_number(v), "stagesMs.%s missing in %s", keys[k], line);
            ck_assert_msg(json_number_value(v) >= 0, "stagesMs.%s negative", keys[k]);
            if (strcmp(keys[k], "claim") != 0)
                sum += json_number_value(v);
        }
        ck_assert_msg(json_number_value(json_object_get(st, "decode")) > 0, "no decode: %s", line);
        ck_assert_msg(json_number_value(json_object_get(st, "recognise")) > 0, "no recognise: %s",
                      line);
        double total = (double)pu_int(j, "processingTimeMs", -1);
        ck_assert_msg(sum <= total + 1.0 + 0.01 * (double)nkeys,
                      "stages add up to %.2f ms, more than processingTimeMs %.0f: %s", sum, total,
                      line);
        seen++;
        json_decref(j);
    }
    free(text);
    ck_assert_int_eq(seen, ds->n);
}

static void assert_job_metrics(const struct daemon *d, int completed, int approved, int failed)
{
    char *text = scrape_completed(d, "metrics", completed);
    double hist = mu_metric_sum(text, "filot_ocrd_job_duration_seconds_count{");
    double done = mu_metric(text, "filot_ocrd_jobs_total{outcome=\"completed\"}");
    ck_assert_msg(hist == completed && done == completed,
                  "histogram count %.0f, completed %.0f, want %d", hist, done, completed);
    ck_assert_int_eq((int)mu_metric(text, "filot_ocrd_jobs_total{outcome=\"failed\"}"), failed);
    ck_assert_int_eq(
        (int)mu_metric(text, "filot_ocrd_job_decisions_total{decision=\"auto_approved\"}"),
        approved);
    ck_assert_int_eq(
        (int)mu_metric(text, "filot_ocrd_job_decisions_total{decision=\"needs_review\"}"),
        completed - approved);
    ck_assert_int_eq((int)mu_metric_sum(text, "filot_ocrd_workers{"), 2);
    ck_assert(mu_metric(text, "filot_ocrd_build_info{version=\"" FILOT_VERSION "\"}") == 1);
    ck_assert(mu_metric(text, "process_resident_memory_bytes") > 0);
    note("metrics: histogram count %.0f = jobs completed %.0f = documents %d; %d auto_approved",
         hist, done, completed, approved);
    free(text);
}

/*
 * The Redis gauges equal LLEN/SCARD/ZCARD/HLEN of the real keys.  Probes
 * not due for a day make the delayed set and the outbox non-empty; they are
 * removed again.
 */
static void assert_queue_gauges(const struct daemon *d, int redis_port)
{
    redisContext *r = pl_redis_connect(redis_port);
    ck_assert_ptr_nonnull(r);
    long long later = (long long)time(NULL) * 1000 + 86400000LL;
    ck_assert_int_eq(pl_redis_int(r, "ZADD %s %lld metrics-probe-1 %lld metrics-probe-2", K_DELAYED,
                                  later, later),
                     2);
    ck_assert_int_eq(pl_redis_int(r, "HSET %s metrics-probe-3 {}", K_OUTBOX), 1);
    ck_assert_int_eq(pl_redis_int(r, "ZADD filot:ocr:gpu:buli2:due %lld metrics-probe-3", later),
                     1);
    long long want[4] = {0};
    double got[4] = {0};
    static const char *const names[4] = {"filot_ocrd_queue_depth", "filot_ocrd_queue_processing",
                                         "filot_ocrd_queue_delayed",
                                         "filot_ocrd_buli2_outbox_pending"};
    uint64_t deadline = pu_now_ms() + 20000u;
    bool same = false;
    while (!same && pu_now_ms() < deadline) {
        want[0] = pl_redis_int(r, "LLEN %s", K_QUEUE);
        want[1] = pl_redis_int(r, "SCARD %s", K_PROCESSING);
        want[2] = pl_redis_int(r, "ZCARD %s", K_DELAYED);
        want[3] = pl_redis_int(r, "HLEN %s", K_OUTBOX);
        char *text = scrape(d, "gauges");
        same = true;
        for (int i = 0; i < 4; i++) {
            got[i] = mu_metric(text, names[i]);
            same &= got[i] == (double)want[i];
        }
        free(text);
        if (!same)
            pu_sleep_ms(250);
    }
    ck_assert_msg(same, "gauges %.0f/%.0f/%.0f/%.0f, Redis %lld/%lld/%lld/%lld", got[0], got[1],
                  got[2], got[3], want[0], want[1], want[2], want[3]);
    note("metrics: queue/processing/delayed/outbox gauges = Redis %lld/%lld/%lld/%lld", want[0],
         want[1], want[2], want[3]);
    pl_redis_int(r, "ZREM %s metrics-probe-1 metrics-probe-2", K_DELAYED);
    pl_redis_int(r, "HDEL %s metrics-probe-3", K_OUTBOX);
    pl_redis_int(r, "ZREM filot:ocr:gpu:buli2:due metrics-probe-3");
    redisFree(r);
}

/* ---- the cases ---------------------------------------------------------------- */

/* The card's key field, as the row's result_json has it, equals the truth. */
static bool matches_truth(const json_t *result, int card)
{
    const char *field = strcmp(card_type[card], "KTP") == 0 ? "nik" : "npwpNumber";
    return strcmp(pu_str(result, field), pu_str(card_truth[card], field)) == 0;
}

START_TEST(test_end_to_end)
{
    struct docs ds;
    struct pl_sub sub;
    struct daemon d;
    docs_open(&ds);
    for (int i = 0; i < NCARDS; i++)
        doc_card(&ds, i);
    struct doc *pdf = doc_file(&ds, card_type[0], card_pdf, 0);
    struct doc *grey = doc_file(&ds, "KTP", grey_png, -1);
    sub_start(&sub, "e2e");
    ocrd_start(&d, "e2e", NULL, NULL);
    json_decref(ocrd_ready(&d));

    uint64_t t0 = pu_now_ms();
    enqueue_all(&ds, NULL);
    wait_settled(&ds, ds.n, SETTLE_MS);
    double secs = (double)(pu_now_ms() - t0) / 1000.0;
    json_t *msgs = wait_messages(&sub, &ds, 10000);
    json_t *rows = doc_rows(&ds);
    int npending = 0;
    for (size_t i = 0; i < json_array_size(rows); i++)
        npending += strcmp(pu_str(json_array_get(rows, i), "verification_status"),
                           "pending_manual_review") == 0;
    wait_tickets(&ds, npending, 30000);
    json_decref(rows);
    rows = doc_rows(&ds);
    ck_assert_int_eq((int)json_array_size(rows), ds.n);

    int approved = 0, truth = 0, pending = 0;
    for (int i = 0; i < ds.n; i++) {
        const struct doc *doc = &ds.d[i];
        json_t *row = json_array_get(rows, (size_t)i);
        json_t *m = one_message(msgs, doc->id);
        assert_original_success(m, doc->id);
        assert_row_matches(row, m);
        approved += strcmp(pu_str(m, "outcome"), "auto_approved") == 0;
        if (doc == grey) {
            ck_assert_str_eq(pu_str(row, "verification_status"), "pending_manual_review");
            continue;
        }
        ck_assert_msg(strlen(pu_str(row, "ocr_text")) > 50, "%s: little OCR text", doc->id);
        ck_assert_msg(strcmp(pu_str(m, "outcome"), "auto_approved") == 0,
                      "card %d (%s) scored %lld", doc->card, doc->type,
                      json_integer_value(json_object_get(m, "score")));
        truth += matches_truth(json_object_get(row, "result"), doc->card);
        /* NIK / NPWP are masked on the channel (OCR_RESULT_PII unset) */
        const char *nik = pu_str(card_truth[doc->card], "nik");
        char *text = json_dumps(m, JSON_COMPACT);
        ck_assert_msg(nik[0] == '\0' || strstr(text, nik) == NULL, "NIK %s published", nik);
        free(text);
    }
    ck_assert_int_eq(json_integer_value(json_object_get(one_message(msgs, pdf->id), "pages")), 1);
    assert_escalations(rows, &pending);
    ck_assert_int_ge(pending, 1);
    ck_assert_int_ge(truth, NCARDS - 1);
    assert_redis_clean(srv.redis_port, &ds);
    assert_schemas(msgs, rows, "e2e");
    assert_job_metrics(&d, ds.n, approved, 0);
    assert_stage_times(&d, &ds);
    ck_assert_int_ge(count_log(&d, 1, "Worker claimed its first job", NULL), 1);
    assert_queue_gauges(&d, srv.redis_port);
    note("end to end: %d documents (%d cards, 1 PDF, 1 blank) in %.2f s = %.2f documents/s "
         "with 2 workers (enqueue to last completion)",
         ds.n, NCARDS, secs, ds.n / secs);
    note("end to end: %d auto_approved, %d pending_manual_review escalated once each, "
         "key field right on %d of %d cards + PDF, %zu messages",
         approved, pending, truth, NCARDS + 1, json_array_size(msgs));
    ocrd_stop(&d);
    /* the CloudWatch EMF lines of this real run have the EMF structure */
    char cmd[300];
    snprintf(cmd, sizeof cmd, "python3 tests/infra/check_emf.py < %s >/dev/null", d.out);
    ck_assert_msg(system(cmd) == 0, "EMF lines in %s are invalid or missing", d.out);
    pl_sub_stop(&sub);
    json_decref(rows);
    json_decref(msgs);
    docs_close(&ds);
}
END_TEST

START_TEST(test_original_enqueue)
{
    struct docs ds;
    struct pl_sub sub;
    struct daemon d;
    docs_open(&ds);
    struct doc *doc = doc_card(&ds, 1);
    sub_start(&sub, "compat");
    ocrd_start(&d, "compat", NULL, NULL);
    json_decref(ocrd_ready(&d));
    /* the original API: RPUSH, then HSET attempts 0; no correlation id */
    redisContext *r = pl_redis_connect(srv.redis_port);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(pl_redis_int(r, "RPUSH %s %s", K_QUEUE, doc->id), 1);
    ck_assert_int_ge(pl_redis_int(r, "HSET %s %s 0", K_ATTEMPTS, doc->id), 0);
    redisFree(r);
    wait_settled(&ds, 1, 30000);
    json_t *msgs = wait_messages(&sub, &ds, 10000);
    json_t *rows = doc_rows(&ds);
    json_t *m = one_message(msgs, doc->id);
    assert_original_success(m, doc->id);
    assert_row_matches(json_array_get(rows, 0), m);
    assert_redis_clean(srv.redis_port, &ds);
    /* one job: the other worker never needed the database, which is up all the same */
    json_t *h = pu_health(d.port, NULL);
    json_t *deps = json_object_get(h, "dependencies");
    ck_assert_msg(
        strcmp(pu_str(deps, "postgres"), "up") == 0 && strcmp(pu_str(deps, "redis"), "up") == 0 &&
            strcmp(pu_str(h, "status"), "ok") == 0,
        "/health says %s (redis %s, postgres %s: %s) with both servers up", pu_str(h, "status"),
        pu_str(deps, "redis"), pu_str(deps, "postgres"), pu_str(h, "reason"));
    json_decref(h);
    char *text = json_dumps(m, JSON_COMPACT | JSON_PRESERVE_ORDER);
    note("original enqueue: processed, message %.200s...", text);
    free(text);
    ocrd_stop(&d);
    pl_sub_stop(&sub);
    json_decref(rows);
    json_decref(msgs);
    docs_close(&ds);
}
END_TEST

/* The document a worker (by index) holds, from the owners hash. */
static void owned_by(int index, char *id, size_t len)
{
    redisContext *r = pl_redis_connect(srv.redis_port);
    ck_assert_ptr_nonnull(r);
    redisReply *h = pl_redis(r, "HGETALL %s", K_OWNERS);
    char suffix[16];
    snprintf(suffix, sizeof suffix, "#%d", index);
    id[0] = '\0';
    for (size_t i = 0; h != NULL && i + 1 < h->elements; i += 2) {
        const char *owner = h->element[i + 1]->str;
        size_t ol = strlen(owner), sl = strlen(suffix);
        if (ol >= sl && strcmp(owner + ol - sl, suffix) == 0)
            snprintf(id, len, "%s", h->element[i]->str);
    }
    freeReplyObject(h);
    redisFree(r);
}

/*
 * The common opening of a fault test: n card documents, a subscriber, a
 * ready filot-ocrd, everything enqueued.
 */
static void start_cards(struct docs *ds, struct pl_sub *sub, struct daemon *d, int n,
                        const char *tag)
{
    docs_open(ds);
    for (int i = 0; i < n; i++)
        doc_card(ds, i);
    sub_start(sub, tag);
    ocrd_start(d, tag, NULL, NULL);
    json_decref(ocrd_ready(d));
    enqueue_all(ds, NULL);
}

START_TEST(test_worker_sigkill)
{
    struct docs ds;
    struct pl_sub sub;
    struct daemon d;
    start_cards(&ds, &sub, &d, 6, "sigkill");

    /* a worker well inside a job (past the claim, in the OCR) */
    pid_t victim = 0;
    int index = -1;
    char victim_doc[64] = "";
    uint64_t deadline = pu_now_ms() + 30000u;
    while (victim == 0 && pu_now_ms() < deadline) {
        json_t *h = pu_health(d.port, NULL);
        int idx;
        pid_t pid = pu_busy_worker(h, 0, &idx);
        json_t *c = pu_health_child(h, "filot-ocr-worker", idx);
        if (pid > 0 && pu_int(c, "busyMs", 0) >= 150) {
            owned_by(idx, victim_doc, sizeof victim_doc);
            if (victim_doc[0] != '\0' && kill(pid, SIGKILL) == 0) {
                victim = pid;
                index = idx;
            }
        }
        json_decref(h);
        pu_sleep_ms(20);
    }
    ck_assert_msg(victim > 0, "never saw a busy worker");
    wait_settled(&ds, ds.n, SETTLE_MS);
    json_t *msgs = wait_messages(&sub, &ds, 10000);
    json_t *rows = doc_rows(&ds);
    for (int i = 0; i < ds.n; i++) {
        json_t *m = one_message(msgs, ds.d[i].id);
        assert_original_success(m, ds.d[i].id);
        assert_row_matches(json_array_get(rows, (size_t)i), m);
        ck_assert_int_eq(count_log(&d, 1, "GPU Document OCR processed successfully", ds.d[i].id),
                         1);
    }
    int dequeued = count_log(&d, 1, "Document dequeued for GPU processing", victim_doc);
    ck_assert_int_ge(dequeued, 2);
    json_t *h = pu_health(d.port, NULL);
    json_t *c = pu_health_child(h, "filot-ocr-worker", index);
    pid_t now_pid = (pid_t)pu_int(c, "pid", 0);
    ck_assert_msg(now_pid > 0 && now_pid != victim, "worker %d not restarted", index);
    ck_assert_int_ge(pu_int(c, "restarts", 0), 1);
    assert_redis_clean(srv.redis_port, &ds);
    note("sigkill: worker %d (pid %d) killed holding %s; it was dequeued %d times, completed "
         "once, 1 message; worker restarted as pid %d; %d/%d documents completed",
         index, (int)victim, victim_doc, dequeued, (int)now_pid, ds.n, ds.n);
    json_decref(h);
    ocrd_stop(&d);
    pl_sub_stop(&sub);
    json_decref(rows);
    json_decref(msgs);
    docs_close(&ds);
}
END_TEST

/* Every row completed, none left processing, nothing left in Redis. */
static void assert_all_completed(struct docs *ds, int redis_port)
{
    json_t *rows = doc_rows(ds);
    ck_assert_int_eq((int)json_array_size(rows), ds->n);
    for (int i = 0; i < ds->n; i++) {
        json_t *row = json_array_get(rows, (size_t)i);
        ck_assert_msg(strcmp(pu_str(row, "status"), "completed") == 0, "%s is %s (%s)", ds->d[i].id,
                      pu_str(row, "status"), pu_str(row, "result_json"));
        ck_assert(json_is_string(json_object_get(row, "processed_at")));
    }
    json_decref(rows);
    assert_redis_clean(redis_port, ds);
}

/*
 * Polls /health for dependency dep for ms; true once seen "down".  While it
 * is down, /health must stay 200 (liveness) and /ready answer 503 naming it.
 */
static bool health_shows_down(const struct daemon *d, const char *dep, unsigned ms)
{
    uint64_t deadline = pu_now_ms() + ms;
    bool seen = false, ready_checked = false;
    while (pu_now_ms() < deadline) {
        int code = 0;
        json_t *h = pu_health(d->port, &code);
        bool down = strcmp(pu_str(json_object_get(h, "dependencies"), dep), "down") == 0;
        json_decref(h);
        char *body = NULL;
        int rcode = down ? pu_http_get(d->port, "/ready", &body) : 0;
        if (down && !ready_checked) {
            ck_assert_msg(code == 200, "/health %d while %s is down (liveness must stay 200)", code,
                          dep);
            ck_assert_msg(rcode == 503 && body != NULL && strstr(body, dep) != NULL,
                          "/ready %d \"%s\" while %s is down", rcode, body ? body : "", dep);
            note("%s down: /health 200, /ready 503 %s", dep, body);
            ready_checked = true;
        }
        free(body);
        seen |= down;
        pu_sleep_ms(50);
    }
    return seen;
}

/* Waits until at least n of the documents are settled (mid-run point). */
static void wait_some(struct docs *ds, int n)
{
    uint64_t deadline = pu_now_ms() + 60000u;
    while (settled_count(ds) < n && pu_now_ms() < deadline)
        pu_sleep_ms(20);
    ck_assert_int_ge(settled_count(ds), n);
}

/*
 * Redis outage.  The suite's Redis runs without persistence, so a restart
 * would lose the queue by design of that server, not of filot-ocrd: this
 * case runs its own redis-server with the append-only file fsynced on every
 * write, stops it with SHUTDOWN NOSAVE mid-run and starts it again with the
 * same command line after 2 s.
 */
START_TEST(test_redis_restart)
{
    char dir[128], pidf[160], portstr[16], url[64];
    scratch(dir, sizeof dir, "redis-aof", "");
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    snprintf(pidf, sizeof pidf, "%s/redis.pid", dir);
    int port = pu_free_port();
    snprintf(portstr, sizeof portstr, "%d", port);
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
    const char *const redis[] = {"redis-server",
                                 "--port",
                                 portstr,
                                 "--bind",
                                 "127.0.0.1",
                                 "--save",
                                 "",
                                 "--appendonly",
                                 "yes",
                                 "--appendfsync",
                                 "always",
                                 "--daemonize",
                                 "yes",
                                 "--pidfile",
                                 pidf,
                                 "--dir",
                                 dir,
                                 "--logfile",
                                 "redis.log",
                                 NULL};
    const char *const ping[] = {"redis-cli", "-p", portstr, "ping", NULL};
    const char *const shutdown[] = {"redis-cli", "-p", portstr, "shutdown", "nosave", NULL};
    run_ok(redis, 10000);
    while (pl_run(ping, 5000) != 0)
        pu_sleep_ms(50);
    remember_pid((pid_t)pl_read_pid(pidf));

    struct docs ds;
    struct daemon d;
    docs_open(&ds);
    for (int i = 0; i < 8; i++)
        doc_card(&ds, i);
    ocrd_start(&d, "redis", url, NULL);
    json_decref(ocrd_ready(&d));
    enqueue_all(&ds, url);
    wait_some(&ds, 2);
    long rpid = pl_read_pid(pidf);
    pl_run(shutdown, 10000);
    while (rpid > 0 && pu_pid_exists((pid_t)rpid))
        pu_sleep_ms(20);
    int done_at_stop = settled_count(&ds);
    bool down = health_shows_down(&d, "redis", 2000);
    run_ok(redis, 10000);
    while (pl_run(ping, 5000) != 0)
        pu_sleep_ms(50);
    remember_pid((pid_t)pl_read_pid(pidf));
    uint64_t ms = wait_settled(&ds, ds.n, SETTLE_MS);
    /* jobs that finished while Redis was down are cleaned up by their own worker's reaper */
    uint64_t clean_ms = wait_redis_clean(port, &ds, 30000);
    assert_all_completed(&ds, port);
    int retries = count_log(&d, 1, "GPU processing failed, will retry", NULL);
    int dequeued = count_log(&d, 1, "Document dequeued for GPU processing", NULL);
    note("redis restart: %d/%d done when stopped, /health redis down seen: %s; all %d "
         "completed %.1f s after the restart, Redis clean %.1f s later; %d dequeues, %d "
         "retries, %d results published (the rest finished while Redis was down)",
         done_at_stop, ds.n, down ? "yes" : "no", ds.n, (double)ms / 1000.0,
         (double)clean_ms / 1000.0, dequeued, retries,
         count_log(&d, 1, "GPU OCR result published", NULL));
    ck_assert_msg(down, "/health never showed redis down during the outage");
    ocrd_stop(&d);
    pl_run(shutdown, 10000);
    docs_close(&ds);
}
END_TEST

START_TEST(test_postgres_restart)
{
    struct docs ds;
    struct pl_sub sub;
    struct daemon d;
    start_cards(&ds, &sub, &d, 8, "pg");
    wait_some(&ds, 2);
    json_t *h = pu_health(d.port, NULL);
    ck_assert_str_eq(pu_str(json_object_get(h, "dependencies"), "postgres"), "up");
    json_decref(h);
    ck_assert_int_eq(pl_postgres_stop(&srv), 0);
    bool down = health_shows_down(&d, "postgres", 2000);
    ck_assert_int_eq(pl_postgres_start(&srv), 0);
    PQreset(ds.pg);
    uint64_t ms = wait_settled(&ds, ds.n, SETTLE_MS);
    assert_all_completed(&ds, srv.redis_port);
    json_t *msgs = wait_messages(&sub, &ds, 10000);
    int max_attempts = 0;
    for (int i = 0; i < ds.n; i++) {
        json_t *m = one_message(msgs, ds.d[i].id);
        assert_original_success(m, ds.d[i].id);
        int a = (int)pu_int(m, "attempts", 0);
        max_attempts = a > max_attempts ? a : max_attempts;
    }
    int retries = count_log(&d, 1, "GPU processing failed, will retry", NULL);
    note("postgres restart: /health postgres down seen: %s; all %d completed %.1f s after the "
         "restart, one message each; %d retries logged, most attempts of a document %d",
         down ? "yes" : "no", ds.n, (double)ms / 1000.0, retries, max_attempts);
    ck_assert_msg(down, "/health never showed postgres down during the outage");
    ocrd_stop(&d);
    pl_sub_stop(&sub);
    json_decref(msgs);
    docs_close(&ds);
}
END_TEST

/* Reviews accepted and failed POSTs for the documents, from /_stats. */
static int reviews_of(const struct docs *ds, int *dups, int *failed)
{
    json_t *stats = pl_buli2_stats(&srv);
    ck_assert_ptr_nonnull(stats);
    int n = 0;
    *dups = 0;
    for (int i = 0; i < ds->n; i++) {
        int k = reviews_for(stats, ds->d[i].id, NULL);
        n += k;
        *dups += k > 1 ? k - 1 : 0;
    }
    *failed = (int)pu_int(stats, "failed", 0);
    json_decref(stats);
    return n;
}

START_TEST(test_buli2_outage)
{
    struct docs ds;
    struct daemon d;
    docs_open(&ds);
    for (int i = 0; i < 3; i++)
        doc_file(&ds, "KTP", grey_png, -1);
    doc_card(&ds, 2);
    int dups, failed0, failed;
    reviews_of(&ds, &dups, &failed0);
    ck_assert_int_eq(pl_buli2_fail(&srv, 500, -1), 0);
    ocrd_start(&d, "buli2", NULL, NULL);
    json_decref(ocrd_ready(&d));
    enqueue_all(&ds, NULL);
    wait_settled(&ds, ds.n, SETTLE_MS);
    uint64_t deadline = pu_now_ms() + 30000u;
    while (reviews_of(&ds, &dups, &failed) == 0 && failed - failed0 < 3 && pu_now_ms() < deadline)
        pu_sleep_ms(100);
    ck_assert_msg(failed - failed0 >= 3, "only %d failed POSTs during the outage",
                  failed - failed0);
    ck_assert_int_eq(reviews_of(&ds, &dups, &failed), 0);
    pu_sleep_ms(1000);
    int failed_in_outage = failed - failed0;
    ck_assert_int_eq(pl_buli2_fail(&srv, 500, 0), 0);
    uint64_t t0 = pu_now_ms();
    wait_tickets(&ds, 3, 60000);
    double after = (double)(pu_now_ms() - t0) / 1000.0;
    pu_sleep_ms(2000); /* a duplicate would show up now */
    int n = reviews_of(&ds, &dups, &failed);
    json_t *rows = doc_rows(&ds);
    int pending;
    assert_escalations(rows, &pending);
    ck_assert_int_eq(pending, 3);
    ck_assert_int_eq(n, 3);
    ck_assert_int_eq(dups, 0);
    assert_all_completed(&ds, srv.redis_port);
    note("buli2 outage: %d POSTs answered 500, then all %d escalations delivered once, %.1f s "
         "after recovery, 0 duplicates",
         failed_in_outage, n, after);
    ocrd_stop(&d);
    json_decref(rows);
    docs_close(&ds);
}
END_TEST

/* One bad document and the error it must fail with. */
struct bad {
    struct doc *doc;
    const char *what;
    const char *error; /* substring of the error */
};

/* Writes the first half of a JPEG of card 0 to path. */
static void make_truncated_jpeg(const char *path)
{
    char full[128];
    scratch(full, sizeof full, "card0", ".jpg");
    const char *const argv[] = {"convert", card_png[0], full, NULL};
    run_ok(argv, 30000);
    size_t len;
    char *jpeg = pu_read_file(full, &len);
    ck_assert_ptr_nonnull(jpeg);
    ck_assert_int_eq(pu_write_file(path, jpeg, len / 2), 0);
    free(jpeg);
}

START_TEST(test_bad_input)
{
    static const char notes[] = "these are meeting notes, not a scanned card\n";
    struct docs ds;
    struct pl_sub sub;
    struct daemon d;
    char trunc[128], url[300], missing[40];
    uuid_t u;
    docs_open(&ds);
    uuid_generate_random(u);
    uuid_unparse_lower(u, missing);
    scratch(trunc, sizeof trunc, "truncated", ".jpeg");
    make_truncated_jpeg(trunc);
    size_t big = 3u << 20;
    char *oversized = calloc(1, big);
    ck_assert_ptr_nonnull(oversized);
    memcpy(oversized, "\x89PNG\r\n\x1a\n", 8);
    snprintf(url, sizeof url, "%s/other-bucket/%s/KTP_x.png", srv.r2_endpoint, USER_ID);

    struct bad bad[] = {
        {NULL, "missing row", "Document not found"},
        {doc_row(&ds, "KTP", "", -1), "empty file_url", "Document has no file URL"},
        {doc_row(&ds, "KTP", url, -1), "another bucket", "not the configured bucket"},
        {doc_row(&ds, "KTP", "http://169.254.169.254/latest/meta-data", -1), "metadata URL",
         "outside the configured R2 endpoint"},
        {doc_bytes(&ds, "KTP", "", 0, "png", -1), "zero bytes", "No data received from R2"},
        {doc_file(&ds, "KTP", trunc, -1), "truncated JPEG", "truncated"},
        {doc_bytes(&ds, "NPWP", notes, sizeof notes - 1, "png", -1), "non-image", "not an image"},
        {doc_bytes(&ds, "KTP", oversized, big, "png", -1), "oversized", "OCR_MAX_DOWNLOAD_BYTES"},
        {doc_file(&ds, "SIM", card_png[3], -1), "type SIM", "Unknown document type: SIM"},
    };
    free(oversized);
    size_t nbad = sizeof bad / sizeof bad[0];
    struct doc *good = doc_card(&ds, 4);
    /* the missing row goes first on the queue, then the others, the good one last */
    struct docs all = {.n = 0};
    snprintf(all.d[all.n++].id, sizeof all.d[0].id, "%s", missing);
    for (int i = 0; i < ds.n; i++)
        all.d[all.n++] = ds.d[i];

    sub_start(&sub, "bad");
    const char *const env[] = {"OCR_MAX_DOWNLOAD_BYTES=2M", NULL};
    ocrd_start(&d, "bad", NULL, env);
    json_decref(ocrd_ready(&d));
    enqueue_all(&all, NULL);
    wait_settled(&ds, ds.n, SETTLE_MS);
    json_t *msgs = wait_messages(&sub, &all, 10000);
    json_t *rows = doc_rows(&ds);
    for (size_t i = 0; i < nbad; i++) {
        const char *id = bad[i].doc ? bad[i].doc->id : missing;
        json_t *m = one_message(msgs, id);
        const char *err = pu_str(m, "error");
        ck_assert(json_is_false(json_object_get(m, "success")));
        ck_assert_msg(is_uuid(pu_str(m, "correlationId")), "no correlationId for %s", bad[i].what);
        ck_assert(json_is_false(json_object_get(m, "gpuProcessed")));
        ck_assert_msg(strstr(err, bad[i].error) != NULL, "%s: error \"%s\", want \"%s\"",
                      bad[i].what, err, bad[i].error);
        note("bad input: %-15s -> %s (%lld ms)", bad[i].what, err,
             pu_int(m, "processingTimeMs", -1));
        if (bad[i].doc == NULL) {
            ck_assert_str_eq(err, "Document not found");
            ck_assert_ptr_null(json_object_get(m, "processingTimeMs"));
            continue;
        }
        ck_assert(json_is_integer(json_object_get(m, "processingTimeMs")));
        /* refused, not attempted: a request to 169.254.169.254 would hang until timeout */
        ck_assert_int_lt(pu_int(m, "processingTimeMs", 0), 2000);
        json_t *row = NULL;
        for (int k = 0; k < ds.n; k++)
            if (strcmp(ds.d[k].id, id) == 0)
                row = json_array_get(rows, (size_t)k);
        ck_assert_str_eq(pu_str(row, "status"), "failed");
        json_t *result = json_object_get(row, "result");
        ck_assert_str_eq(pu_str(result, "error"), err);
        ck_assert(json_is_string(json_object_get(result, "failedAt")));
        ck_assert(json_is_boolean(json_object_get(result, "maxRetriesExceeded")));
        ck_assert_int_eq(count_log(&d, 1, "Document dequeued for GPU processing", id), 1);
    }
    json_t *gm = one_message(msgs, good->id);
    assert_original_success(gm, good->id);
    assert_row_matches(json_array_get(rows, (size_t)(ds.n - 1)), gm);
    int code;
    json_t *h = pu_health(d.port, &code);
    ck_assert_int_eq(code, 200);
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(pu_int(pu_health_child(h, "filot-ocr-worker", i), "restarts", -1), 0);
    json_decref(h);
    assert_redis_clean(srv.redis_port, &all);
    assert_schemas(msgs, rows, "bad");
    /* failures before preprocessing count as failed, not as a preprocess kind */
    assert_job_metrics(&d, 1, strcmp(pu_str(gm, "outcome"), "auto_approved") == 0, (int)nbad);
    note("bad input: %zu bad documents failed at once with their errors; the good one enqueued "
         "after them completed",
         nbad);
    ocrd_stop(&d);
    pl_sub_stop(&sub);
    json_decref(rows);
    json_decref(msgs);
    docs_close(&ds);
}
END_TEST

/*
 * Retries (B1).  A trigger makes the database refuse the "processing"
 * update of one document twice (a real server error, which the job counts
 * as a fault) and of another one always; sequences count the refusals
 * because they survive the aborted statement.
 */
static void install_fault_trigger(PGconn *pg, const char *twice, const char *always)
{
    char sql[1600];
    snprintf(sql, sizeof sql,
             "CREATE SEQUENCE IF NOT EXISTS pl_fault_seq; ALTER SEQUENCE pl_fault_seq RESTART;"
             "CREATE OR REPLACE FUNCTION pl_fault() RETURNS trigger LANGUAGE plpgsql AS $f$\n"
             "BEGIN\n"
             "  IF NEW.status = 'processing' THEN\n"
             "    IF NEW.id = '%s' THEN\n"
             "      IF nextval('pl_fault_seq') <= 2 THEN\n"
             "        RAISE EXCEPTION 'injected fault (test_pipeline)';\n"
             "      END IF;\n"
             "    ELSIF NEW.id = '%s' THEN\n"
             "      RAISE EXCEPTION 'injected fault (test_pipeline)';\n"
             "    END IF;\n"
             "  END IF;\n"
             "  RETURN NEW;\n"
             "END $f$;\n"
             "CREATE TRIGGER pl_fault BEFORE UPDATE ON documents FOR EACH ROW "
             "EXECUTE FUNCTION pl_fault();",
             twice, always);
    ck_assert_int_eq(pl_pg_exec(pg, sql), 0);
}

START_TEST(test_retries)
{
    struct docs ds;
    struct pl_sub sub;
    struct daemon d;
    docs_open(&ds);
    struct doc *x = doc_card(&ds, 5);
    struct doc *y = doc_card(&ds, 6);
    install_fault_trigger(ds.pg, x->id, y->id);
    sub_start(&sub, "retries");
    const char *const env[] = {"OCR_GPU_MAX_RETRIES=3", NULL};
    ocrd_start(&d, "retries", NULL, env);
    json_decref(ocrd_ready(&d));
    uint64_t t0 = pu_now_ms();
    enqueue_all(&ds, NULL);
    wait_settled(&ds, ds.n, SETTLE_MS);
    double secs = (double)(pu_now_ms() - t0) / 1000.0;
    json_t *msgs = wait_messages(&sub, &ds, 10000);
    json_t *rows = doc_rows(&ds);

    json_t *mx = one_message(msgs, x->id);
    assert_original_success(mx, x->id);
    assert_row_matches(json_array_get(rows, 0), mx);
    ck_assert_int_eq(pu_int(mx, "attempts", 0), 3);
    int rx = count_log(&d, 1, "Document requeued for GPU retry", x->id);
    ck_assert_int_eq(rx, 2);
    ck_assert_int_eq(count_log(&d, 1, "Document dequeued for GPU processing", x->id), 3);
    ck_assert_msg(secs >= 0.9, "two backoffs of 300 and 600 ms took %.2f s", secs);

    json_t *my = one_message(msgs, y->id);
    const char *err = pu_str(my, "error");
    ck_assert(json_is_false(json_object_get(my, "success")));
    ck_assert_msg(strstr(err, "GPU and CPU processing both failed") && strstr(err, "injected"),
                  "error %s", err);
    json_t *ry = json_array_get(rows, 1);
    ck_assert_str_eq(pu_str(ry, "status"), "failed");
    ck_assert_str_eq(pu_str(json_object_get(ry, "result"), "error"), err);
    ck_assert(json_is_true(json_object_get(json_object_get(ry, "result"), "maxRetriesExceeded")));
    ck_assert_int_eq(count_log(&d, 1, "Document requeued for GPU retry", y->id), 2);
    ck_assert_int_eq(count_log(&d, 1, "Falling back to CPU OCR processing", y->id), 1);
    assert_redis_clean(srv.redis_port, &ds);
    note("retries: refused twice -> completed on attempt %lld after %d requeues (%.2f s); "
         "refused always -> %d requeues, CPU fallback, failed: %s",
         pu_int(mx, "attempts", 0), rx, secs,
         count_log(&d, 1, "Document requeued for GPU retry", y->id), err);
    ocrd_stop(&d);
    pl_sub_stop(&sub);
    ck_assert_int_eq(pl_pg_exec(ds.pg, "DROP TRIGGER pl_fault ON documents"), 0);
    json_decref(rows);
    json_decref(msgs);
    docs_close(&ds);
}
END_TEST

START_TEST(test_scale_out)
{
    struct docs ds;
    struct pl_sub sub;
    struct daemon d[2];
    docs_open(&ds);
    for (int i = 0; i < NCARDS; i++)
        doc_card(&ds, i);
    sub_start(&sub, "scale");
    ocrd_start(&d[0], "scale-a", NULL, NULL);
    ocrd_start(&d[1], "scale-b", NULL, NULL);
    json_decref(ocrd_ready(&d[0]));
    json_decref(ocrd_ready(&d[1]));
    uint64_t t0 = pu_now_ms();
    enqueue_all(&ds, NULL);
    wait_settled(&ds, ds.n, SETTLE_MS);
    double secs = (double)(pu_now_ms() - t0) / 1000.0;
    json_t *msgs = wait_messages(&sub, &ds, 10000);
    ck_assert_int_eq((int)json_array_size(msgs), ds.n);
    int by[2] = {0, 0};
    for (int i = 0; i < ds.n; i++) {
        one_message(msgs, ds.d[i].id);
        for (int k = 0; k < 2; k++)
            by[k] += count_log(&d[k], 1, "Document dequeued for GPU processing", ds.d[i].id);
        ck_assert_int_eq(count_log(d, 2, "Document dequeued for GPU processing", ds.d[i].id), 1);
    }
    assert_all_completed(&ds, srv.redis_port);
    note("scale-out: 2 instances x 2 workers, %d documents in %.2f s (%.2f documents/s), "
         "%d + %d dequeued, each exactly once, %zu messages",
         ds.n, secs, ds.n / secs, by[0], by[1], json_array_size(msgs));
    ck_assert_int_ge(by[0], 1);
    ck_assert_int_ge(by[1], 1);
    ocrd_stop(&d[0]);
    ocrd_stop(&d[1]);
    pl_sub_stop(&sub);
    json_decref(msgs);
    docs_close(&ds);
}
END_TEST

/* One TCase per case, so a failed case's processes die before the next. */
static void add_case(Suite *s, const char *name, const TTest *test)
{
    static int n;
    if (strcmp(CASE_NAMES[n++], name) != 0) /* the teardown names cases by order */
        abort();
    TCase *tc = tcase_create(name);
    tcase_set_timeout(tc, CASE_TIMEOUT);
    tcase_add_unchecked_fixture(tc, case_setup, case_teardown);
    tcase_add_test(tc, test);
    suite_add_tcase(s, tc);
}

int main(void)
{
    Suite *s = suite_create("pipeline");
    add_case(s, "end_to_end", test_end_to_end);
    add_case(s, "compat", test_original_enqueue);
    add_case(s, "sigkill", test_worker_sigkill);
    add_case(s, "redis", test_redis_restart);
    add_case(s, "postgres", test_postgres_restart);
    add_case(s, "buli2", test_buli2_outage);
    add_case(s, "bad_input", test_bad_input);
    add_case(s, "retries", test_retries);
    add_case(s, "scale_out", test_scale_out);
    int rc = pu_run_cases(s);
    if (srv.dir[0] != '\0')
        pl_servers_stop(&srv);
    for (int i = 0; i < NCARDS; i++)
        json_decref(card_truth[i]);
    pu_scratch_done("test_pipeline", suite_dir, rc == 0 && getenv("PIPELINE_KEEP") == NULL);
    return rc;
}
