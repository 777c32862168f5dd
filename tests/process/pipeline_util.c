/*
 * pipeline_util.c - see pipeline_util.h.
 */
#include "pipeline_util.h"

#include <cairo-pdf.h>
#include <cairo.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc_util.h"

#define PGBIN          "/usr/lib/postgresql/15/bin"
#define SERVERS_SH     "tests/servers.sh"
#define HTTP_TIMEOUT_S 10L
#define SUB_WAIT_MS    5000u

int pl_run(const char *const *argv, unsigned timeout_ms)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0)
            dup2(null, STDOUT_FILENO);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    int st;
    if (pu_wait(pid, timeout_ms, &st) != 0) {
        kill(pid, SIGKILL);
        pu_wait(pid, 5000, &st);
        return -1;
    }
    return pu_exit_code(st);
}

/* Copies the value of "NAME=value" lines into the fields of s. */
static void parse_env_line(struct pl_servers *s, const char *line)
{
    static const struct {
        const char *name;
        size_t off;
        size_t len;
    } fields[] = {
#define F(n, m) {n, offsetof(struct pl_servers, m), sizeof((struct pl_servers *)0)->m}
        F("REDIS_URL", redis_url),         F("DATABASE_URL", database_url),
        F("PGDATA_DIR", pgdata),           F("CF_R2_ENDPOINT", r2_endpoint),
        F("CF_R2_ACCESS_KEY_ID", r2_key),  F("CF_R2_SECRET_ACCESS_KEY", r2_secret),
        F("CF_R2_BUCKET_NAME", r2_bucket), F("BULI2_API_URL", buli2_url),
#undef F
    };
    const char *eq = strchr(line, '=');
    if (eq == NULL)
        return;
    size_t nlen = (size_t)(eq - line);
    if (nlen == 10 && strncmp(line, "REDIS_PORT", nlen) == 0)
        s->redis_port = atoi(eq + 1);
    if (nlen == 7 && strncmp(line, "PG_PORT", nlen) == 0)
        s->pg_port = atoi(eq + 1);
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        if (strlen(fields[i].name) == nlen && strncmp(line, fields[i].name, nlen) == 0)
            snprintf((char *)s + fields[i].off, fields[i].len, "%s", eq + 1);
    }
}

int pl_servers_start(struct pl_servers *s, const char *dir)
{
    memset(s, 0, sizeof *s);
    snprintf(s->dir, sizeof s->dir, "%s", dir);
    const char *const argv[] = {SERVERS_SH, "start", dir, NULL};
    if (pl_run(argv, 120000) != 0) {
        fprintf(stderr, "%s start %s failed\n", SERVERS_SH, dir);
        return -1;
    }
    char path[300], line[600];
    snprintf(path, sizeof path, "%s/env", dir);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        parse_env_line(s, line);
    }
    fclose(f);
    return s->redis_port > 0 && s->pg_port > 0 && s->r2_endpoint[0] && s->buli2_url[0] ? 0 : -1;
}

void pl_servers_stop(const struct pl_servers *s)
{
    const char *const argv[] = {SERVERS_SH, "stop", s->dir, NULL};
    if (s->dir[0] != '\0')
        pl_run(argv, 60000);
}

/* pg_ctl ACTION as the postgres user, with the options of tests/servers.sh. */
static int pg_ctl(const struct pl_servers *s, const char *action)
{
    char sockdir[512], opts[700], logf[600];
    snprintf(sockdir, sizeof sockdir, "%s", s->pgdata);
    char *parent = dirname(sockdir); /* DIR/pg: the socket directory */
    snprintf(opts, sizeof opts,
             "-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
             "-c full_page_writes=off",
             s->pg_port, parent);
    snprintf(logf, sizeof logf, "%s/pg.log", parent);
    if (strcmp(action, "start") == 0) {
        const char *const argv[] = {
            "runuser", "-u", "postgres", "--", PGBIN "/pg_ctl", "-D", s->pgdata, "-l", logf, "-w",
            "-t",      "30", "-o",       opts, "start",         NULL};
        return pl_run(argv, 60000) == 0 ? 0 : -1;
    }
    const char *const argv[] = {"runuser", "-u",      "postgres", "--",   PGBIN "/pg_ctl",
                                "-D",      s->pgdata, "-m",       "fast", "-w",
                                "-t",      "30",      action,     NULL};
    return pl_run(argv, 60000) == 0 ? 0 : -1;
}

int pl_postgres_stop(const struct pl_servers *s)
{
    return pg_ctl(s, "stop");
}

int pl_postgres_start(const struct pl_servers *s)
{
    return pg_ctl(s, "start");
}

bool pl_postgres_up(const struct pl_servers *s)
{
    PGconn *c = PQconnectdb(s->database_url);
    bool up = PQstatus(c) == CONNECTION_OK;
    PQfinish(c);
    return up;
}

/* ---- PostgreSQL --------------------------------------------------------- */

/* NOTICEs (TRUNCATE cascades, IF EXISTS skips) are not worth printing. */
static void quiet_notice(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

PGconn *pl_pg_connect(const char *url)
{
    PGconn *c = PQconnectdb(url);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "pl_pg_connect: %s", PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    PQsetNoticeProcessor(c, quiet_notice, NULL);
    return c;
}

int pl_pg_exec(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    int rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : -1;
    if (rc != 0)
        fprintf(stderr, "pl_pg_exec: %s", PQerrorMessage(c));
    PQclear(r);
    return rc;
}

int pl_pg_exec_file(PGconn *c, const char *path)
{
    char *sql = pu_read_file(path, NULL);
    int rc = sql != NULL ? pl_pg_exec(c, sql) : -1;
    free(sql);
    return rc;
}

json_t *pl_pg_rows(PGconn *c, const char *sql, int nparams, const char *const *params)
{
    PGresult *r = PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "pl_pg_rows: %s", PQerrorMessage(c));
        PQclear(r);
        return NULL;
    }
    json_t *rows = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        json_t *row = json_object();
        for (int k = 0; k < PQnfields(r); k++)
            json_object_set_new(row, PQfname(r, k),
                                PQgetisnull(r, i, k) ? json_null()
                                                     : json_string(PQgetvalue(r, i, k)));
        json_array_append_new(rows, row);
    }
    PQclear(r);
    return rows;
}

char *pl_pg_value(PGconn *c, const char *sql, int nparams, const char *const *params)
{
    PGresult *r = PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);
    char *v = NULL;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
        v = strdup(PQgetvalue(r, 0, 0));
    else if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fprintf(stderr, "pl_pg_value: %s", PQerrorMessage(c));
    PQclear(r);
    return v;
}

/* ---- Redis -------------------------------------------------------------- */

redisContext *pl_redis_connect(int port)
{
    struct timeval tv = {.tv_sec = 5};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    if (c == NULL || c->err) {
        fprintf(stderr, "pl_redis_connect: %s\n", c ? c->errstr : "out of memory");
        redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    return c;
}

redisReply *pl_redis(redisContext *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    return r;
}

long long pl_redis_int(redisContext *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    long long v = r != NULL && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    return v;
}

/* ---- HTTP and storage --------------------------------------------------- */

struct membuf {
    char *data;
    size_t len;
    size_t off; /* read position of an upload */
};

static size_t on_write(char *p, size_t size, size_t n, void *arg)
{
    struct membuf *b = arg;
    size_t add = size * n;
    char *d = realloc(b->data, b->len + add + 1);
    if (d == NULL)
        return 0;
    memcpy(d + b->len, p, add);
    b->len += add;
    d[b->len] = '\0';
    b->data = d;
    return add;
}

static size_t on_read(char *p, size_t size, size_t n, void *arg)
{
    struct membuf *b = arg;
    size_t take = b->len - b->off < size * n ? b->len - b->off : size * n;
    memcpy(p, b->data + b->off, take);
    b->off += take;
    return take;
}

/* Performs a prepared request; the status code and optionally the body. */
static int perform(CURL *h, char **resp)
{
    struct membuf out = {0};
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &out);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, HTTP_TIMEOUT_S);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    long code = -1;
    CURLcode rc = curl_easy_perform(h);
    if (rc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    else
        fprintf(stderr, "pipeline_util: HTTP request failed: %s\n", curl_easy_strerror(rc));
    if (resp != NULL)
        *resp = out.data != NULL ? out.data : strdup("");
    else
        free(out.data);
    return (int)code;
}

int pl_http(const char *method, const char *url, const char *body, char **resp)
{
    CURL *h = curl_easy_init();
    if (h == NULL)
        return -1;
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    if (body != NULL)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    int code = perform(h, resp);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    return code;
}

/* A signed PUT of len bytes to endpoint/path. */
static int s3_put(const struct pl_servers *s, const char *path, const void *data, size_t len)
{
    char url[1024], user[300];
    snprintf(url, sizeof url, "%s/%s", s->r2_endpoint, path);
    snprintf(user, sizeof user, "%s:%s", s->r2_key, s->r2_secret);
    CURL *h = curl_easy_init();
    if (h == NULL)
        return -1;
    struct membuf in = {.data = (char *)data, .len = len};
    struct curl_slist *hdr = curl_slist_append(NULL, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_AWS_SIGV4, "aws:amz:us-east-1:s3");
    curl_easy_setopt(h, CURLOPT_USERPWD, user);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(h, CURLOPT_READDATA, &in);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
    int code = perform(h, NULL);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    return code;
}

int pl_s3_put(const struct pl_servers *s, const char *bucket, const char *key, const void *data,
              size_t len)
{
    char path[900];
    snprintf(path, sizeof path, "%s/%s", bucket != NULL ? bucket : s->r2_bucket, key);
    return s3_put(s, path, data, len);
}

int pl_s3_create_bucket(const struct pl_servers *s, const char *bucket)
{
    return s3_put(s, bucket, "", 0);
}

json_t *pl_buli2_stats(const struct pl_servers *s)
{
    char url[200], *body = NULL;
    snprintf(url, sizeof url, "%s/_stats", s->buli2_url);
    int code = pl_http("GET", url, NULL, &body);
    json_t *j = code == 200 ? json_loads(body, 0, NULL) : NULL;
    free(body);
    return j;
}

int pl_buli2_fail(const struct pl_servers *s, int status, int count)
{
    char url[240];
    snprintf(url, sizeof url, "%s/_fail?status=%d&count=%d", s->buli2_url, status, count);
    return pl_http("POST", url, "", NULL) == 200 ? 0 : -1;
}

/* ---- results channel ---------------------------------------------------- */

/*
 * redis-cli prints each pushed element on its own line when stdout is not a
 * terminal: "message", the channel, the payload.  Payloads are compact JSON
 * (no raw newlines).
 */
static json_t *sub_parse(const char *text, int *subscribed)
{
    json_t *out = json_array();
    char *copy = strdup(text != NULL ? text : "");
    char *save = NULL;
    int state = 0; /* 1: after "message", 2: after its channel */
    *subscribed = 0;
    for (char *line = strtok_r(copy, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        if (state == 2) {
            json_t *j = json_loads(line, 0, NULL);
            json_array_append_new(out, j != NULL ? j : json_string(line));
            state = 0;
        } else if (state == 1) {
            state = 2;
        } else if (strcmp(line, "message") == 0) {
            state = 1;
        } else if (strcmp(line, "subscribe") == 0) {
            *subscribed = 1;
        }
    }
    free(copy);
    return out;
}

int pl_sub_start(struct pl_sub *sub, int port, const char *channel, const char *path)
{
    char p[16];
    snprintf(p, sizeof p, "%d", port);
    snprintf(sub->path, sizeof sub->path, "%s", path);
    const char *const argv[] = {"redis-cli", "-p", p, "subscribe", channel, NULL};
    struct pu_spec sp = {.argv = argv, .out_path = path};
    sub->pid = pu_spawn(&sp);
    if (sub->pid <= 0)
        return -1;
    uint64_t deadline = pu_now_ms() + SUB_WAIT_MS;
    while (pu_now_ms() < deadline) {
        char *text = pu_read_file(path, NULL);
        int subscribed;
        json_decref(sub_parse(text, &subscribed));
        /* "subscribe", channel, count: the count line ends the confirmation */
        bool done = subscribed && text != NULL && strstr(text, "\n1\n") != NULL;
        free(text);
        if (done)
            return 0;
        pu_sleep_ms(20);
    }
    return -1;
}

json_t *pl_sub_messages(const struct pl_sub *sub)
{
    char *text = pu_read_file(sub->path, NULL);
    int subscribed;
    json_t *out = sub_parse(text, &subscribed);
    free(text);
    return out;
}

void pl_sub_stop(struct pl_sub *sub)
{
    int st;
    if (sub->pid > 0) {
        kill(sub->pid, SIGTERM);
        if (pu_wait(sub->pid, 3000, &st) != 0) {
            kill(sub->pid, SIGKILL);
            pu_wait(sub->pid, 3000, &st);
        }
    }
    sub->pid = 0;
}

/* ---- files and processes ------------------------------------------------ */

int pl_png_to_pdf(const char *png, const char *pdf, double dpi)
{
    cairo_surface_t *img = cairo_image_surface_create_from_png(png);
    if (cairo_surface_status(img) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(img);
        return -1;
    }
    double scale = 72.0 / dpi;
    int w = cairo_image_surface_get_width(img), h = cairo_image_surface_get_height(img);
    cairo_surface_t *doc = cairo_pdf_surface_create(pdf, w * scale, h * scale);
    cairo_t *cr = cairo_create(doc);
    cairo_scale(cr, scale, scale);
    cairo_set_source_surface(cr, img, 0, 0);
    cairo_paint(cr);
    cairo_show_page(cr);
    int rc = cairo_status(cr) == CAIRO_STATUS_SUCCESS ? 0 : -1;
    cairo_destroy(cr);
    cairo_surface_finish(doc);
    if (cairo_surface_status(doc) != CAIRO_STATUS_SUCCESS)
        rc = -1;
    cairo_surface_destroy(doc);
    cairo_surface_destroy(img);
    return rc;
}

/* Parent pid of pid from /proc/<pid>/stat, -1 when gone. */
static pid_t parent_of(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *rp = strrchr(buf, ')'); /* the command name may hold spaces */
    int ppid = -1;
    if (rp == NULL || sscanf(rp + 1, " %*c %d", &ppid) != 1)
        return -1;
    return (pid_t)ppid;
}

bool pl_pid_alive(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return false;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *rp = strrchr(buf, ')');
    char state = 'X';
    return rp != NULL && sscanf(rp + 1, " %c", &state) == 1 && state != 'Z' && state != 'X';
}

void pl_kill_tree(pid_t pid)
{
    if (pid <= 0)
        return;
    kill(pid, SIGSTOP); /* no new children while we look */
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        pid_t p = (pid_t)atoi(e->d_name);
        if (p > 0 && parent_of(p) == pid)
            kill(p, SIGKILL);
    }
    if (d != NULL)
        closedir(d);
    kill(pid, SIGKILL);
}

long pl_read_pid(const char *path)
{
    char *text = pu_read_file(path, NULL);
    long v = text != NULL ? strtol(text, NULL, 10) : -1;
    free(text);
    return v > 0 ? v : -1;
}
