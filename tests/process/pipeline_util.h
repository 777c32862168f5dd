/*
 * pipeline_util.h - helpers of the job-pipeline process tests: the
 * throwaway servers of tests/servers.sh (Redis, PostgreSQL, moto as R2, the
 * BULI2 stand-in), SQL and Redis commands to set up and inspect state,
 * signed uploads to the S3 API, a results-channel subscriber, and PNG to
 * PDF conversion.
 *
 * Everything talks to the real servers; nothing here stands in for
 * filot-ocrd.
 */
#ifndef FILOT_PIPELINE_UTIL_H
#define FILOT_PIPELINE_UTIL_H

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* What tests/servers.sh start wrote to DIR/env. */
struct pl_servers {
    char dir[256];
    int redis_port;
    int pg_port;
    char redis_url[128];
    char database_url[256];
    char pgdata[512];
    char r2_endpoint[128];
    char r2_key[128];
    char r2_secret[128];
    char r2_bucket[64];
    char buli2_url[128];
};

/* Runs argv (PATH searched, stdout discarded) to completion; its exit code, -1 on timeout or
 * signal. */
int pl_run(const char *const *argv, unsigned timeout_ms);

/* `tests/servers.sh start DIR` and reads DIR/env.  0 or -1. */
int pl_servers_start(struct pl_servers *s, const char *dir);

/* `tests/servers.sh stop DIR`. */
void pl_servers_stop(const struct pl_servers *s);

/* pg_ctl stop -m fast / start with the options tests/servers.sh uses.  0 or -1. */
int pl_postgres_stop(const struct pl_servers *s);
int pl_postgres_start(const struct pl_servers *s);

/* True when the server accepts connections. */
bool pl_postgres_up(const struct pl_servers *s);

/* ---- PostgreSQL --------------------------------------------------------- */

/* A connection, or NULL (the reason is printed). */
PGconn *pl_pg_connect(const char *url);

/* Runs SQL text (several statements allowed).  0 or -1 (printed). */
int pl_pg_exec(PGconn *c, const char *sql);

/* The SQL in a file, run with pl_pg_exec. */
int pl_pg_exec_file(PGconn *c, const char *path);

/*
 * Runs a parameterised query; returns an array with one object per row
 * (column name -> string, or null for SQL NULL), NULL on error.
 */
json_t *pl_pg_rows(PGconn *c, const char *sql, int nparams, const char *const *params);

/* First column of the first row as a malloc'd string; NULL when none or NULL. */
char *pl_pg_value(PGconn *c, const char *sql, int nparams, const char *const *params);

/* ---- Redis -------------------------------------------------------------- */

/* A connection to 127.0.0.1:port, or NULL. */
redisContext *pl_redis_connect(int port);

/* redisCommand; the reply (caller frees) or NULL. */
redisReply *pl_redis(redisContext *c, const char *fmt, ...);

/* An integer reply, or -1 on error / another type. */
long long pl_redis_int(redisContext *c, const char *fmt, ...);

/* ---- HTTP and storage --------------------------------------------------- */

/*
 * An HTTP request; returns the status code (-1: no answer) and, when resp
 * is not NULL, the malloc'd body.
 */
int pl_http(const char *method, const char *url, const char *body, char **resp);

/* PUT of len bytes as key into the bucket, SigV4-signed.  The HTTP status. */
int pl_s3_put(const struct pl_servers *s, const char *bucket, const char *key, const void *data,
              size_t len);

/* PUT of a bucket.  The HTTP status. */
int pl_s3_create_bucket(const struct pl_servers *s, const char *bucket);

/* GET /_stats of the BULI2 stand-in, parsed; NULL on failure. */
json_t *pl_buli2_stats(const struct pl_servers *s);

/* POST /_fail?status=...&count=... to the BULI2 stand-in.  0 or -1. */
int pl_buli2_fail(const struct pl_servers *s, int status, int count);

/* ---- results channel ---------------------------------------------------- */

/* A `redis-cli subscribe` writing the channel's messages to a file. */
struct pl_sub {
    pid_t pid;
    char path[256];
};

/* Starts the subscriber and waits until it is subscribed.  0 or -1. */
int pl_sub_start(struct pl_sub *sub, int port, const char *channel, const char *path);

/* The messages received so far, parsed (a new array; a non-JSON one is a string). */
json_t *pl_sub_messages(const struct pl_sub *sub);

/* Ends the subscriber. */
void pl_sub_stop(struct pl_sub *sub);

/* ---- files and processes ------------------------------------------------ */

/* A one-page PDF holding the PNG at dpi (cairo).  0 or -1. */
int pl_png_to_pdf(const char *png, const char *pdf, double dpi);

/* True while pid runs (exists and is not a zombie). */
bool pl_pid_alive(pid_t pid);

/* SIGKILLs pid and its direct children (found through /proc). */
void pl_kill_tree(pid_t pid);

/* The first line of a file as an integer, -1 when unreadable. */
long pl_read_pid(const char *path);

#endif
