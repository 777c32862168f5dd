/*
 * http.c - the HTTP server: libmicrohttpd with one internal polling thread,
 * serving GET/HEAD /health, /ready and /metrics from the last published
 * snapshot.
 *
 * The supervisor's main loop calls http_publish(); handlers take a copy of
 * the snapshot under the mutex and render from the copy, so the lock is
 * held only for a memcpy and a slow client never blocks supervision.
 */
#include "supervisor/http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/log.h"
#include "common/status.h"

#define HTTP_CONNECTION_TIMEOUT_S 10
#define HTTP_CONNECTION_LIMIT     64

static const char JSON_TYPE[] = "application/json";
static const char PROM_TYPE[] = "text/plain; version=0.0.4; charset=utf-8";

struct http_server {
    struct MHD_Daemon *daemon;
    pthread_mutex_t lock; /* guards snap */
    struct sup_snapshot snap;
    atomic_bool started;   /* MHD_start_daemon() has returned */
    char start_error[256]; /* last MHD message before that */
};

/*
 * Routes libmicrohttpd's own error messages into our JSON log.  Until the
 * daemon has started the message is kept instead, so a failed start logs
 * one line holding both our address and MHD's reason.
 */
static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
    struct http_server *srv = cls;
    char buf[sizeof srv->start_error];
    vsnprintf(buf, sizeof buf, fmt, ap);
    size_t len = strlen(buf);
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
        buf[--len] = '\0';
    if (!atomic_load(&srv->started)) {
        memcpy(srv->start_error, buf, sizeof buf);
        return;
    }
    log_kv(LOG_WARN, "HTTP server error", LF_STR, "detail", buf, LF_END);
}

/*
 * Queues a response whose body is malloc'd text (ownership passes to
 * libmicrohttpd, which frees it).  NULL text means rendering ran out of
 * memory: answer 500 with an empty body.
 */
static enum MHD_Result send_text(struct MHD_Connection *conn, unsigned int code, char *text,
                                 const char *type)
{
    struct MHD_Response *resp;
    if (text == NULL) {
        code = MHD_HTTP_INTERNAL_SERVER_ERROR;
        resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    } else {
        resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
        if (resp == NULL)
            free(text);
    }
    if (resp == NULL)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (code == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result ret = MHD_queue_response(conn, code, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* Queues a small fixed JSON error body such as {"ok":false,...}. */
static enum MHD_Result send_error(struct MHD_Connection *conn, unsigned int code, const char *msg)
{
    char buf[128];
    snprintf(buf, sizeof buf, "{\"ok\":false,\"error\":\"%s\"}", msg);
    return send_text(conn, code, strdup(buf), JSON_TYPE);
}

/* Copies the current snapshot out under the lock. */
static void snapshot_copy(struct http_server *srv, struct sup_snapshot *out)
{
    pthread_mutex_lock(&srv->lock);
    memcpy(out, &srv->snap, sizeof *out);
    pthread_mutex_unlock(&srv->lock);
}

/*
 * libmicrohttpd request handler (runs on the server thread).  Answers on
 * the first call, once headers are in; a request body is never read.
 */
static enum MHD_Result handle_request(void *cls, struct MHD_Connection *conn, const char *url,
                                      const char *method, const char *version,
                                      const char *upload_data, size_t *upload_data_size,
                                      void **con_cls)
{
    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    (void)con_cls;
    struct http_server *srv = cls;

    int is_health = strcmp(url, "/health") == 0;
    int is_ready = strcmp(url, "/ready") == 0;
    int is_metrics = strcmp(url, "/metrics") == 0;
    if (!is_health && !is_ready && !is_metrics)
        return send_error(conn, MHD_HTTP_NOT_FOUND, "not found");
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return send_error(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed");

    struct sup_snapshot *snap = malloc(sizeof *snap);
    if (snap == NULL)
        return send_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, JSON_TYPE);
    snapshot_copy(srv, snap);
    enum MHD_Result ret;
    if (is_health || is_ready) {
        int code;
        char *text = is_health ? http_render_health(snap, &code) : http_render_ready(snap, &code);
        ret = send_text(conn, (unsigned int)code, text, JSON_TYPE);
    } else {
        ret = send_text(conn, MHD_HTTP_OK, http_render_metrics(snap), PROM_TYPE);
    }
    free(snap);
    return ret;
}

/* Fills the snapshot served before the first http_publish(). */
static void snapshot_initial(struct sup_snapshot *snap)
{
    memset(snap, 0, sizeof *snap);
    snprintf(snap->reason, sizeof snap->reason, "supervisor starting");
    snprintf(snap->gpu_state, sizeof snap->gpu_state, "starting");
}

/*
 * Binds bind_addr:port (IPv4 dotted quad) and starts the server thread.
 * Returns 0 and sets *out, FILOT_EINVAL for a bad address or port 0,
 * FILOT_ENOMEM, or FILOT_EIO when the daemon cannot start (port in use).
 */
int http_start(const char *bind_addr, int port, struct http_server **out)
{
    *out = NULL;
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)port);
    if (port <= 0 || port > 65535 || bind_addr == NULL ||
        inet_pton(AF_INET, bind_addr, &sin.sin_addr) != 1) {
        log_kv(LOG_ERROR, "Invalid HTTP listen address", LF_STR, "address", bind_addr, LF_INT,
               "port", (long long)port, LF_END);
        return FILOT_EINVAL;
    }

    struct http_server *srv = calloc(1, sizeof *srv);
    if (srv == NULL) {
        log_msg(LOG_ERROR, "Out of memory starting the HTTP server");
        return FILOT_ENOMEM;
    }
    atomic_init(&srv->started, false);
    snapshot_initial(&srv->snap);
    if (pthread_mutex_init(&srv->lock, NULL) != 0) {
        free(srv);
        log_msg(LOG_ERROR, "Cannot create the HTTP snapshot mutex");
        return FILOT_EIO;
    }

    unsigned int flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
    /* The logger must come first or MHD logs its early errors to stderr. */
    srv->daemon = MHD_start_daemon(
        flags, (uint16_t)port, NULL, NULL, handle_request, srv, MHD_OPTION_EXTERNAL_LOGGER,
        mhd_logger, srv, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sin,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)HTTP_CONNECTION_TIMEOUT_S,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)HTTP_CONNECTION_LIMIT, MHD_OPTION_END);
    atomic_store(&srv->started, true);
    if (srv->daemon == NULL) {
        log_kv(LOG_ERROR, "Cannot start the HTTP server", LF_STR, "address", bind_addr, LF_INT,
               "port", (long long)port, LF_STR, "detail", srv->start_error, LF_END);
        pthread_mutex_destroy(&srv->lock);
        free(srv);
        return FILOT_EIO;
    }
    log_kv(LOG_INFO, "HTTP server listening", LF_STR, "address", bind_addr, LF_INT, "port",
           (long long)port, LF_END);
    *out = srv;
    return 0;
}

/* Replaces the served snapshot with a copy of *snap. */
void http_publish(struct http_server *srv, const struct sup_snapshot *snap)
{
    if (srv == NULL || snap == NULL)
        return;
    pthread_mutex_lock(&srv->lock);
    memcpy(&srv->snap, snap, sizeof srv->snap);
    pthread_mutex_unlock(&srv->lock);
}

/* Stops the server thread (waits for it) and frees the server. */
void http_stop(struct http_server *srv)
{
    if (srv == NULL)
        return;
    MHD_stop_daemon(srv->daemon);
    pthread_mutex_destroy(&srv->lock);
    free(srv);
}
