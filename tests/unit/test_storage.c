/*
 * test_storage.c - ocr-workers/storage.c: file_url to key extraction (SSRF
 * and path escapes refused), configuration checks, the bytes on the wire
 * (a one-shot HTTP listener in a thread records the request and plays canned
 * answers), a real moto_server in IAM-auth mode (SigV4 verified), a closed
 * port, and the file:// root.
 */
#include <arpa/inet.h>
#include <check.h>

#include "check_run.h"
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdatomic.h>
#include <sys/syscall.h>
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

#include "common/log.h"
#include "common/status.h"
#include "ocr-workers/storage.h"

#define R2_HOST "acct.r2.cloudflarestorage.com"
#define AKID    "AKIDTESTKEY0000"
#define SECRET  "sEcReT/Never+On+The+Wire"
/* SHA-256 of zero bytes, the payload hash storage.c sends for a GET */
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* ---------- helpers ---------- */

/* Opens an S3 storage; the test fails when that is refused. */
static struct storage *open_s3(const char *endpoint, const char *bucket, const char *key,
                               const char *secret, uint64_t max, uint32_t total_ms)
{
    struct storage_config cfg = {.endpoint = endpoint,
                                 .access_key = key,
                                 .secret_key = secret,
                                 .bucket = bucket,
                                 .max_bytes = max,
                                 .connect_timeout_ms = 2000,
                                 .total_timeout_ms = total_ms};
    struct storage *st = NULL;

    ck_assert_int_eq(storage_open(&cfg, &st), 0);
    ck_assert_ptr_nonnull(st);
    return st;
}

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* A loopback port nothing listens on (bound, then closed). */
static int closed_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* ---------- key extraction ---------- */

struct key_case {
    const char *url;
    const char *key; /* expected key, or NULL when refused */
    const char *err; /* substring of the refusal */
};

static const struct key_case key_cases[] = {
    /* bare keys: used as they are, never decoded */
    {"user1/KTP_0b7c.png", "user1/KTP_0b7c.png", NULL},
    {"user1/scan 01+x.png", "user1/scan 01+x.png", NULL},
    {"user1/a%20b.png", "user1/a%20b.png", NULL},
    {"KTP.png", "KTP.png", NULL},
    {"http:foo", "http:foo", NULL},
    /* path style on the endpoint host: the bucket segment is stripped */
    {"https://" R2_HOST "/docs/user1/KTP_0b7c.png", "user1/KTP_0b7c.png", NULL},
    {"https://ACCT.R2.cloudflarestorage.com/docs/k.png", "k.png", NULL},
    {"https://" R2_HOST ":443/docs/k.png", "k.png", NULL},
    {"http://" R2_HOST "/docs/k.png", "k.png", NULL},
    {"https://" R2_HOST "/docs/user1/k.png?X-Amz-Signature=abc&x=1#frag", "user1/k.png", NULL},
    /* percent-escapes decoded exactly once */
    {"https://" R2_HOST "/docs/user1/scan%2001%2Bx.png", "user1/scan 01+x.png", NULL},
    {"https://" R2_HOST "/docs/a%2520b", "a%20b", NULL},
    {"https://" R2_HOST "/docs/a+b", "a+b", NULL},
    /* virtual-hosted style: the whole path is the key */
    {"https://docs." R2_HOST "/user1/KTP.png", "user1/KTP.png", NULL},
    {"https://docs." R2_HOST "/docs/KTP.png", "docs/KTP.png", NULL},
    /* other hosts: SSRF refused */
    {"http://169.254.169.254/latest/meta-data", NULL, "outside the configured R2 endpoint"},
    {"http://169.254.169.254/docs/k", NULL, "outside the configured R2 endpoint"},
    {"https://evil.example.com/docs/k.png", NULL, "outside the configured R2 endpoint"},
    {"https://" R2_HOST ".evil.com/docs/k.png", NULL, "outside the configured R2 endpoint"},
    {"https://" R2_HOST ":8443/docs/k.png", NULL, "outside the configured R2 endpoint"},
    {"https://" R2_HOST "@169.254.169.254/docs/k", NULL, "outside the configured R2 endpoint"},
    {"http://[::1]/docs/k", NULL, "outside the configured R2 endpoint"},
    {"http://localhost/docs/k", NULL, "outside the configured R2 endpoint"},
    {"https://r2.cloudflarestorage.com/docs/k", NULL, "outside the configured R2 endpoint"},
    {"file:///etc/passwd", NULL, "outside the configured R2 endpoint"},
    /* other buckets */
    {"https://" R2_HOST "/other/k.png", NULL, "file_url names bucket other, not the configured"},
    {"https://other." R2_HOST "/k.png", NULL, "file_url names bucket other, not the configured"},
    {"https://a.docs." R2_HOST "/k.png", NULL, "names bucket a.docs"},
    {"https://" R2_HOST "/Docs/k.png", NULL, "names bucket Docs"},
    {"https://" R2_HOST "/docsx/k.png", NULL, "names bucket docsx"},
    {"https://" R2_HOST "/docs/", NULL, "no object key"},
    {"https://" R2_HOST "/docs", NULL, "no object key"},
    {"https://" R2_HOST "/", NULL, "no object key"},
    {"https://docs." R2_HOST "/", NULL, "no object key"},
    /* escapes and bad bytes */
    {"../etc/passwd", NULL, "'..' segments"},
    {"user1/../../etc/passwd", NULL, "'..' segments"},
    {"user1/..", NULL, "'..' segments"},
    {"./k.png", NULL, "'..' segments"},
    {"/etc/passwd", NULL, "must not start with '/'"},
    {"user1/a\nb.png", NULL, "control character"},
    {"user1/a\x7f.png", NULL, "control character"},
    {"https://" R2_HOST "/docs/a/%2E%2E/%2e%2e/etc/passwd", NULL, "'..' segments"},
    {"https://" R2_HOST "/docs/../etc/passwd", NULL, "names bucket etc"},
    {"https://" R2_HOST "/docs/a%00b.png", NULL, "control character"},
    {"https://" R2_HOST "/docs/a%0Ab.png", NULL, "control character"},
    {"https://" R2_HOST "/docs/%2Fetc/passwd", NULL, "must not start with '/'"},
    /* schemes */
    {"ftp://" R2_HOST "/docs/k.png", NULL, "scheme ftp is not supported"},
    {"gopher://" R2_HOST "/docs/k.png", NULL, "scheme gopher is not supported"},
    {"s3://docs/k.png", NULL, "scheme s3 is not supported"},
    {"", NULL, "Document has no file URL"},
};

START_TEST(test_key_table)
{
    const struct key_case *c = &key_cases[_i];
    struct storage *st = open_s3("https://" R2_HOST, "docs", AKID, SECRET, 1 << 20, 5000);
    char key[1100] = "unset", err[256] = "";
    int rc = storage_key_from_url(st, c->url, key, sizeof(key), err, sizeof(err));

    if (c->key != NULL) {
        ck_assert_msg(rc == 0, "%s: refused: %s", c->url, err);
        ck_assert_str_eq(key, c->key);
    } else {
        ck_assert_msg(rc == FILOT_EINVAL, "%s: accepted as \"%s\"", c->url, key);
        ck_assert_msg(strstr(err, c->err) != NULL, "%s: error \"%s\" lacks \"%s\"", c->url, err,
                      c->err);
    }
    storage_close(st);
}
END_TEST

/* Key length: 1024 bytes is S3's limit and allowed, 1025 is refused; a NULL url too. */
START_TEST(test_key_limits)
{
    struct storage *st = open_s3("https://" R2_HOST, "docs", AKID, SECRET, 1 << 20, 5000);
    char url[1100], key[1100], small[8], err[256];

    memset(url, 'k', 1024);
    url[1024] = '\0';
    ck_assert_int_eq(storage_key_from_url(st, url, key, sizeof(key), err, sizeof(err)), 0);
    ck_assert_uint_eq(strlen(key), 1024);
    url[1024] = 'k';
    url[1025] = '\0';
    ck_assert_int_eq(storage_key_from_url(st, url, key, sizeof(key), err, sizeof(err)),
                     FILOT_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "longer than 1024"));
    ck_assert_int_eq(
        storage_key_from_url(st, "user1/long-name.png", small, sizeof(small), err, sizeof(err)),
        FILOT_EINVAL);
    ck_assert_int_eq(storage_key_from_url(st, NULL, key, sizeof(key), err, sizeof(err)),
                     FILOT_EINVAL);
    ck_assert_str_eq(err, "Document has no file URL");
    storage_close(st);
}
END_TEST

/* ---------- storage_open ---------- */

START_TEST(test_open_refusals)
{
    struct storage_config cfg = {
        .access_key = AKID, .secret_key = SECRET, .bucket = "docs", .max_bytes = 1 << 20};
    static const char *const bad[] = {
        NULL,
        "",
        "ftp://" R2_HOST,
        "gopher://x",
        "https://" R2_HOST "/docs",
        "https://" R2_HOST "/?x=1",
        "https://u:p@" R2_HOST,
        "not a url",
        "file:///nonexistent/dir",
        "file:///etc/passwd",
        "file://otherhost/tmp",
    };
    struct storage *st = (struct storage *)&cfg;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cfg.endpoint = bad[i];
        ck_assert_msg(storage_open(&cfg, &st) == FILOT_EINVAL, "accepted %s",
                      bad[i] ? bad[i] : "NULL");
        ck_assert_ptr_null(st);
    }
    cfg.endpoint = "https://" R2_HOST;
    cfg.bucket = NULL;
    ck_assert_int_eq(storage_open(&cfg, &st), FILOT_EINVAL);
    cfg.bucket = "";
    ck_assert_int_eq(storage_open(&cfg, &st), FILOT_EINVAL);
    cfg.bucket = "a/b";
    ck_assert_int_eq(storage_open(&cfg, &st), FILOT_EINVAL);
    cfg.bucket = "docs";
    cfg.secret_key = "";
    ck_assert_int_eq(storage_open(&cfg, &st), FILOT_EINVAL);
    cfg.secret_key = SECRET;
    cfg.access_key = NULL;
    ck_assert_int_eq(storage_open(&cfg, &st), FILOT_EINVAL);
    cfg.access_key = AKID;
    cfg.max_bytes = 0;
    ck_assert_int_eq(storage_open(&cfg, &st), FILOT_EINVAL);
    cfg.max_bytes = 1 << 20;
    /* good ones: https with a trailing slash, non-loopback http (warned), a file root */
    cfg.endpoint = "https://" R2_HOST "/";
    ck_assert_int_eq(storage_open(&cfg, &st), 0);
    storage_close(st);
    cfg.endpoint = "http://minio.internal:9000";
    ck_assert_int_eq(storage_open(&cfg, &st), 0);
    storage_close(st);
    cfg.endpoint = "file:///tmp";
    cfg.bucket = NULL;
    ck_assert_int_eq(storage_open(&cfg, &st), 0);
    storage_close(st);
    storage_close(NULL);
}
END_TEST

/* ---------- a one-shot HTTP listener: real bytes on the wire ---------- */

struct fake {
    int lfd;
    int port;
    int nconn;        /* connections to serve */
    const char *resp; /* canned answer, written after the request head */
    size_t resp_len;
    bool stall;      /* never answer; wait for the client to give up */
    char req[16384]; /* every request head received, concatenated */
    size_t req_len;
};

/* Serves fk->nconn connections, one request each, then closes. */
static void *fake_main(void *arg)
{
    struct fake *fk = arg;

    for (int n = 0; n < fk->nconn; n++) {
        int fd = accept(fk->lfd, NULL, NULL);
        size_t start = fk->req_len;
        if (fd < 0)
            break;
        while (fk->req_len + 1 < sizeof(fk->req)) {
            struct pollfd p = {.fd = fd, .events = POLLIN};
            if (poll(&p, 1, 5000) <= 0)
                break;
            ssize_t r = recv(fd, fk->req + fk->req_len, sizeof(fk->req) - 1 - fk->req_len, 0);
            if (r <= 0)
                break;
            fk->req_len += (size_t)r;
            fk->req[fk->req_len] = '\0';
            if (strstr(fk->req + start, "\r\n\r\n") != NULL)
                break;
        }
        if (fk->stall) {
            char c;
            struct pollfd p = {.fd = fd, .events = POLLIN};
            if (poll(&p, 1, 5000) > 0)
                (void)recv(fd, &c, 1, 0);
        } else {
            size_t off = 0;
            while (off < fk->resp_len) {
                ssize_t w = send(fd, fk->resp + off, fk->resp_len - off, MSG_NOSIGNAL);
                if (w <= 0)
                    break;
                off += (size_t)w;
            }
        }
        close(fd);
    }
    return NULL;
}

static void fake_start(struct fake *fk, pthread_t *th)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);

    fk->lfd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fk->lfd, 0);
    ck_assert_int_eq(bind(fk->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(listen(fk->lfd, 4), 0);
    ck_assert_int_eq(getsockname(fk->lfd, (struct sockaddr *)&a, &al), 0);
    fk->port = ntohs(a.sin_port);
    if (fk->nconn == 0)
        fk->nconn = 1;
    if (fk->resp_len == 0 && fk->resp != NULL)
        fk->resp_len = strlen(fk->resp);
    ck_assert_int_eq(pthread_create(th, NULL, fake_main, fk), 0);
}

static void fake_stop(struct fake *fk, pthread_t th)
{
    shutdown(fk->lfd, SHUT_RDWR);
    pthread_join(th, NULL);
    close(fk->lfd);
}

/* Fetches url from a fake endpoint with bucket "b". */
static int fake_fetch(struct fake *fk, const char *url, uint64_t max, uint32_t total_ms,
                      uint8_t **buf, size_t *len, enum storage_error_kind *kind, char *err,
                      size_t errlen)
{
    char ep[64];
    struct storage *st;
    int rc;

    snprintf(ep, sizeof(ep), "http://127.0.0.1:%d", fk->port);
    st = open_s3(ep, "b", AKID, SECRET, max, total_ms);
    rc = storage_fetch(st, url, buf, len, kind, err, errlen);
    storage_close(st);
    return rc;
}

/*
 * The request as sent: path-style, each segment percent-encoded, signed by
 * curl with region "auto" and service "s3", x-amz-content-sha256 present and
 * signed, no secret anywhere.
 */
START_TEST(test_wire_request)
{
    struct fake fk = {.resp = "HTTP/1.1 200 OK\r\nContent-Length: 9\r\nConnection: close\r\n\r\n"
                              "\x89PNG\r\n\x1a\n!"};
    pthread_t th;
    uint8_t *buf = NULL;
    size_t len = 0;
    enum storage_error_kind kind;
    char err[256] = "";

    fake_start(&fk, &th);
    ck_assert_int_eq(
        fake_fetch(&fk, "user1/a b+c%.png", 1024, 5000, &buf, &len, &kind, err, sizeof(err)), 0);
    fake_stop(&fk, th);
    ck_assert_int_eq(kind, STORAGE_OK);
    ck_assert_uint_eq(len, 9);
    ck_assert_mem_eq(buf, "\x89PNG\r\n\x1a\n!", 9);
    free(buf);
    ck_assert_msg(strncmp(fk.req, "GET /b/user1/a%20b%2Bc%25.png HTTP/1.1\r\n", 40) == 0, "%s",
                  fk.req);
    ck_assert_msg(strcasestr(fk.req, "\r\nx-amz-content-sha256: " EMPTY_SHA256 "\r\n"), "%s",
                  fk.req);
    ck_assert_msg(strcasestr(fk.req, "\r\nx-amz-date: "), "%s", fk.req);
    ck_assert_msg(strstr(fk.req, "\r\nAuthorization: AWS4-HMAC-SHA256 Credential=" AKID "/"), "%s",
                  fk.req);
    ck_assert_msg(strstr(fk.req, "/auto/s3/aws4_request"), "%s", fk.req);
#if LIBCURL_VERSION_NUM >= 0x075700 /* 7.87 signs an app-supplied x-amz-content-sha256 */
    ck_assert_msg(strstr(fk.req, "SignedHeaders=host;x-amz-content-sha256;x-amz-date,"), "%s",
                  fk.req);
#endif
    ck_assert_ptr_null(strstr(fk.req, SECRET));
    ck_assert_ptr_null(strstr(fk.req, "sEcReT"));
}
END_TEST

/* One storage, several fetches: the handle is reusable and keeps its settings. */
START_TEST(test_wire_reuse)
{
    struct fake fk = {.nconn = 3,
                      .resp = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\n"
                              "abc"};
    pthread_t th;
    char ep[64], err[256];
    struct storage *st;
    enum storage_error_kind kind;

    fake_start(&fk, &th);
    snprintf(ep, sizeof(ep), "http://127.0.0.1:%d", fk.port);
    st = open_s3(ep, "b", AKID, SECRET, 1024, 5000);
    for (int i = 0; i < 3; i++) {
        uint8_t *buf = NULL;
        size_t len = 0;
        ck_assert_int_eq(storage_fetch(st, "k1", &buf, &len, &kind, err, sizeof(err)), 0);
        ck_assert_mem_eq(buf, "abc", 3);
        free(buf);
    }
    storage_close(st);
    fake_stop(&fk, th);
    ck_assert_ptr_nonnull(strstr(fk.req, "GET /b/k1 HTTP/1.1"));
    /* each of the three requests carried the header */
    const char *p = fk.req;
    int n = 0;
    while ((p = strcasestr(p, "x-amz-content-sha256: " EMPTY_SHA256)) != NULL) {
        n++;
        p++;
    }
    ck_assert_int_eq(n, 3);
}
END_TEST

struct wire_case {
    const char *head; /* status line and extra headers, or the whole answer when raw */
    const char *body; /* sent with a matching Content-Length */
    bool raw;
    uint32_t total_ms;
    bool stall;
    int rc;
    enum storage_error_kind kind;
    const char *err;
};

static const struct wire_case wire_cases[] = {
    /* Content-Length above the cap: refused before the body */
    {"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n", NULL, true, 5000, false, FILOT_ETOOBIG,
     STORAGE_PERMANENT, "object is larger than OCR_MAX_DOWNLOAD_BYTES=1024 bytes"},
    /* 200 with nothing in it */
    {"HTTP/1.1 200 OK\r\n", "", false, 5000, false, FILOT_EFORMAT, STORAGE_PERMANENT,
     "No data received from R2"},
    /* throttled and unavailable: worth a retry */
    {"HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\n",
     "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>",
     false, 5000, false, FILOT_EUNAVAIL, STORAGE_TRANSIENT,
     "R2 returned status 503: SlowDown: Please reduce your request rate."},
    {"HTTP/1.1 500 Internal\r\n", "", false, 5000, false, FILOT_EUNAVAIL, STORAGE_TRANSIENT,
     "R2 returned status 500"},
    {"HTTP/1.1 429 Too Many\r\n", "", false, 5000, false, FILOT_EUNAVAIL, STORAGE_TRANSIENT,
     "R2 returned status 429"},
    /* a redirect is not followed (the Location would be an SSRF) */
    {"HTTP/1.1 302 Found\r\nLocation: http://169.254.169.254/latest/meta-data\r\n", "", false, 5000,
     false, FILOT_EIO, STORAGE_TRANSIENT, "R2 returned status 302"},
    /* bad credentials: the operator's problem, not the document's */
    {"HTTP/1.1 403 Forbidden\r\n",
     "<Error><Code>InvalidAccessKeyId</Code><Message>The key &amp; &lt;id&gt; is bad"
     "</Message></Error>",
     false, 5000, false, FILOT_EIO, STORAGE_TRANSIENT, "InvalidAccessKeyId: The key & <id> is bad"},
    {"HTTP/1.1 401 Unauthorized\r\n", "", false, 5000, false, FILOT_EIO, STORAGE_TRANSIENT,
     "R2 returned status 401"},
    /* other 4xx: about this request */
    {"HTTP/1.1 400 Bad Request\r\n",
     "<Error><Code>KeyTooLongError</Code><Message>Your key is too long</Message></Error>", false,
     5000, false, FILOT_EINVAL, STORAGE_PERMANENT,
     "R2 returned status 400: KeyTooLongError: Your key is too long"},
    /* 404 without a body still reads like the SDK */
    {"HTTP/1.1 404 Not Found\r\n", "", false, 5000, false, FILOT_EINVAL, STORAGE_PERMANENT,
     "The specified key does not exist."},
    /* a missing bucket is configuration: retried */
    {"HTTP/1.1 404 Not Found\r\n",
     "<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message>"
     "</Error>",
     false, 5000, false, FILOT_EIO, STORAGE_TRANSIENT,
     "NoSuchBucket: The specified bucket does not exist"},
    /* garbage instead of HTTP */
    {"SSH-2.0-OpenSSH_9.2\r\n\r\n", NULL, true, 5000, false, FILOT_EIO, STORAGE_TRANSIENT, ""},
    /* a server that never answers: bounded by the total timeout */
    {NULL, NULL, true, 300, true, FILOT_ETIMEDOUT, STORAGE_TRANSIENT, "timed out"},
};

START_TEST(test_wire_answers)
{
    const struct wire_case *c = &wire_cases[_i];
    char resp[1024];
    struct fake fk = {.resp = c->head, .stall = c->stall};
    pthread_t th;
    uint8_t *buf = (uint8_t *)"x";
    size_t len = 99;
    enum storage_error_kind kind = STORAGE_OK;
    char err[256] = "";
    double t0 = now_ms(), ms;
    int rc;

    if (!c->raw) {
        snprintf(resp, sizeof(resp), "%sContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
                 c->head, strlen(c->body), c->body);
        fk.resp = resp;
    }
    fake_start(&fk, &th);
    rc = fake_fetch(&fk, "user1/k.png", 1024, c->total_ms, &buf, &len, &kind, err, sizeof(err));
    ms = now_ms() - t0;
    fake_stop(&fk, th);
    ck_assert_msg(rc == c->rc, "case %d: rc %d, want %d (%s)", _i, rc, c->rc, err);
    ck_assert_int_eq(kind, c->kind);
    ck_assert_msg(strstr(err, c->err) != NULL, "case %d: \"%s\" lacks \"%s\"", _i, err, c->err);
    ck_assert_msg(err[0] != '\0', "case %d: empty error", _i);
    ck_assert_ptr_null(buf);
    ck_assert_uint_eq(len, 0);
    ck_assert_msg(ms < 3000, "case %d took %.0f ms", _i, ms);
    /* one request only, nothing went to the redirect target */
    ck_assert_ptr_null(strstr(fk.req, "169.254"));
}
END_TEST

/* A chunked body (no Content-Length) growing past the cap is cut off by the write callback. */
START_TEST(test_wire_chunked_too_big)
{
    static char resp[8192];
    struct fake fk = {0};
    pthread_t th;
    uint8_t *buf = NULL;
    size_t len = 0, off;
    enum storage_error_kind kind = STORAGE_OK;
    char err[256] = "";

    off = (size_t)snprintf(resp, sizeof(resp),
                           "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 6; i++) {
        off += (size_t)snprintf(resp + off, sizeof(resp) - off, "200\r\n");
        memset(resp + off, 'x', 512);
        off += 512;
        off += (size_t)snprintf(resp + off, sizeof(resp) - off, "\r\n");
    }
    off += (size_t)snprintf(resp + off, sizeof(resp) - off, "0\r\n\r\n");
    fk.resp = resp;
    fk.resp_len = off;
    fake_start(&fk, &th);
    ck_assert_int_eq(fake_fetch(&fk, "k", 2048, 5000, &buf, &len, &kind, err, sizeof(err)),
                     FILOT_ETOOBIG);
    fake_stop(&fk, th);
    ck_assert_int_eq(kind, STORAGE_PERMANENT);
    ck_assert_str_eq(err, "object is larger than OCR_MAX_DOWNLOAD_BYTES=2048 bytes");
    ck_assert_ptr_null(buf);
    /* and the same body fits under a larger cap */
    fk = (struct fake){.resp = resp, .resp_len = off};
    fake_start(&fk, &th);
    ck_assert_int_eq(fake_fetch(&fk, "k", 4096, 5000, &buf, &len, &kind, err, sizeof(err)), 0);
    fake_stop(&fk, th);
    ck_assert_uint_eq(len, 3072);
    free(buf);
}
END_TEST

/* A closed port fails fast and is worth a retry. */
START_TEST(test_connection_refused)
{
    char ep[64], err[256] = "";
    struct storage *st;
    uint8_t *buf = NULL;
    size_t len = 0;
    enum storage_error_kind kind = STORAGE_OK;
    double t0;

    snprintf(ep, sizeof(ep), "http://127.0.0.1:%d", closed_port());
    st = open_s3(ep, "b", AKID, SECRET, 1024, 5000);
    t0 = now_ms();
    ck_assert_int_eq(storage_fetch(st, "user1/k.png", &buf, &len, &kind, err, sizeof(err)),
                     FILOT_EIO);
    ck_assert_double_lt(now_ms() - t0, 1000.0);
    ck_assert_int_eq(kind, STORAGE_TRANSIENT);
    ck_assert_msg(strcasestr(err, "connect") != NULL, "%s", err);
    ck_assert_ptr_null(buf);
    /* a refused file_url never reaches the network */
    ck_assert_int_eq(storage_fetch(st, "http://169.254.169.254/latest/meta-data", &buf, &len, &kind,
                                   err, sizeof(err)),
                     FILOT_EINVAL);
    ck_assert_int_eq(kind, STORAGE_PERMANENT);
    ck_assert_str_eq(err, "file_url points outside the configured R2 endpoint");
    /* NULL err and kind are allowed */
    ck_assert_int_eq(storage_fetch(st, "../x", &buf, &len, NULL, NULL, 0), FILOT_EINVAL);
    storage_close(st);
}
END_TEST

/* ---------- moto_server in IAM-auth mode ---------- */

static char moto_dir[64];
static char moto_endpoint[128], moto_key[128], moto_secret[128], moto_bucket[64];
static char moto_why[512] = "moto_server fixture did not run";
static bool moto_ready;

#define BENCH_BYTES (200 * 1024)

/* Reads one KEY=VALUE from the env file servers.sh wrote. */
static bool env_get(const char *path, const char *name, char *out, size_t outlen)
{
    char line[512];
    size_t n = strlen(name);
    FILE *f = fopen(path, "r");
    bool found = false;

    if (f == NULL)
        return false;
    while (!found && fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, name, n) == 0 && line[n] == '=') {
            line[strcspn(line, "\r\n")] = '\0';
            snprintf(out, outlen, "%s", line + n + 1);
            found = true;
        }
    }
    fclose(f);
    return found;
}

struct upload {
    const uint8_t *data;
    size_t len, off;
};

static size_t upload_read(char *dst, size_t size, size_t nmemb, void *userdata)
{
    struct upload *u = userdata;
    size_t n = size * nmemb;

    if (n > u->len - u->off)
        n = u->len - u->off;
    memcpy(dst, u->data + u->off, n);
    u->off += n;
    return n;
}

/* CURLOPT_WRITEFUNCTION for answers nobody reads. */
static size_t discard(char *data, size_t size, size_t nmemb, void *userdata)
{
    (void)data;
    (void)userdata;
    return size * nmemb;
}

/* PUTs an object into moto with the test's own libcurl code (status 200 expected). */
static bool put_object(const char *key, const uint8_t *data, size_t len)
{
    char path[512], *url = NULL;
    struct upload up = {.data = data, .len = len};
    struct curl_slist *h = NULL;
    CURL *c = curl_easy_init();
    CURLU *u = curl_url();
    long status = 0;
    CURLcode cc = CURLE_FAILED_INIT;

    snprintf(path, sizeof(path), "/%s/%s", moto_bucket, key);
    if (c != NULL && u != NULL && curl_url_set(u, CURLUPART_URL, moto_endpoint, 0) == CURLUE_OK &&
        curl_url_set(u, CURLUPART_PATH, path, CURLU_URLENCODE) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_URL, &url, 0) == CURLUE_OK) {
        /* curl 7.87+ signs this; moto does not check the body against it */
        h = curl_slist_append(h, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, upload_read);
        curl_easy_setopt(c, CURLOPT_READDATA, &up);
        curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
        curl_easy_setopt(c, CURLOPT_AWS_SIGV4, "aws:amz:auto:s3");
        curl_easy_setopt(c, CURLOPT_USERNAME, moto_key);
        curl_easy_setopt(c, CURLOPT_PASSWORD, moto_secret);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
        cc = curl_easy_perform(c);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    }
    if (cc != CURLE_OK || status != 200)
        snprintf(moto_why, sizeof(moto_why), "PUT %s: curl %d, status %ld", key, (int)cc, status);
    curl_free(url);
    curl_slist_free_all(h);
    curl_url_cleanup(u);
    curl_easy_cleanup(c);
    return cc == CURLE_OK && status == 200;
}

/* Deterministic bytes that start like a PNG. */
static void fill_png_like(uint8_t *p, size_t n, unsigned seed)
{
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (uint8_t)(seed >> 16);
    }
    memcpy(p, sig, n < 8 ? n : 8);
}

/*
 * Unchecked fixture (runs once, in the runner): starts moto in IAM-auth mode
 * and uploads the objects the tests read.  Failures are reported by each test
 * through moto_why.
 */
static void moto_setup(void)
{
    char cmd[256], env[128];
    static uint8_t small[4096], big[5000], bench[BENCH_BYTES];

    snprintf(moto_dir, sizeof(moto_dir), "/tmp/test_storage.XXXXXX");
    if (mkdtemp(moto_dir) == NULL) {
        snprintf(moto_why, sizeof(moto_why), "mkdtemp: %s", strerror(errno));
        return;
    }
    snprintf(cmd, sizeof(cmd), "tests/servers.sh start %s moto", moto_dir);
    if (system(cmd) != 0) {
        snprintf(moto_why, sizeof(moto_why), "'%s' failed (moto_server installed?)", cmd);
        return;
    }
    snprintf(env, sizeof(env), "%s/env", moto_dir);
    if (!env_get(env, "CF_R2_ENDPOINT", moto_endpoint, sizeof(moto_endpoint)) ||
        !env_get(env, "CF_R2_ACCESS_KEY_ID", moto_key, sizeof(moto_key)) ||
        !env_get(env, "CF_R2_SECRET_ACCESS_KEY", moto_secret, sizeof(moto_secret)) ||
        !env_get(env, "CF_R2_BUCKET_NAME", moto_bucket, sizeof(moto_bucket))) {
        snprintf(moto_why, sizeof(moto_why), "%s lacks the CF_R2_* variables", env);
        return;
    }
    fill_png_like(small, sizeof(small), 1);
    fill_png_like(big, sizeof(big), 2);
    fill_png_like(bench, sizeof(bench), 3);
    moto_ready = put_object("user1/KTP_0b7c.png", small, sizeof(small)) &&
                 put_object("empty.png", small, 0) && put_object("big.bin", big, sizeof(big)) &&
                 put_object("user1/scan 01 copy.png", small, 100) &&
                 put_object("bench.bin", bench, sizeof(bench));
}

static void moto_teardown(void)
{
    char cmd[256];

    if (moto_dir[0] == '\0' || strncmp(moto_dir, "/tmp/test_storage.", 18) != 0)
        return;
    snprintf(cmd, sizeof(cmd), "tests/servers.sh stop %s; rm -rf %s", moto_dir, moto_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "test_storage: '%s' failed\n", cmd);
}

static struct storage *open_moto(const char *secret, uint64_t max)
{
    ck_assert_msg(moto_ready, "%s", moto_why);
    return open_s3(moto_endpoint, moto_bucket, moto_key, secret ? secret : moto_secret, max, 10000);
}

/* The same object through a bare key, a path-style and a virtual-hosted URL. */
START_TEST(test_moto_fetch_ok)
{
    struct storage *st = open_moto(NULL, 4096);
    uint8_t expect[4096];
    char urls[3][256], err[256] = "";
    const char *host = moto_endpoint + strlen("http://");

    fill_png_like(expect, sizeof(expect), 1);
    snprintf(urls[0], sizeof(urls[0]), "user1/KTP_0b7c.png");
    snprintf(urls[1], sizeof(urls[1]), "%s/%s/user1/KTP_0b7c.png?x=1", moto_endpoint, moto_bucket);
    snprintf(urls[2], sizeof(urls[2]), "http://%s.%s/user1/KTP_0b7c.png", moto_bucket, host);
    for (int i = 0; i < 3; i++) {
        uint8_t *buf = NULL;
        size_t len = 0;
        enum storage_error_kind kind = STORAGE_PERMANENT;
        int rc = storage_fetch(st, urls[i], &buf, &len, &kind, err, sizeof(err));
        ck_assert_msg(rc == 0, "%s: %s", urls[i], err);
        ck_assert_int_eq(kind, STORAGE_OK);
        ck_assert_uint_eq(len, sizeof(expect));
        ck_assert_mem_eq(buf, expect, sizeof(expect));
        free(buf);
    }
    storage_close(st);
}
END_TEST

/* Spaces in a nested key, as a bare key and as an escaped URL. */
START_TEST(test_moto_spaces)
{
    struct storage *st = open_moto(NULL, 4096);
    uint8_t expect[100];
    char url[256], err[256] = "";
    uint8_t *buf = NULL;
    size_t len = 0;
    enum storage_error_kind kind;

    fill_png_like(expect, sizeof(expect), 1);
    ck_assert_msg(
        storage_fetch(st, "user1/scan 01 copy.png", &buf, &len, &kind, err, sizeof(err)) == 0, "%s",
        err);
    ck_assert_uint_eq(len, 100);
    ck_assert_mem_eq(buf, expect, 100);
    free(buf);
    snprintf(url, sizeof(url), "%s/%s/user1/scan%%2001%%20copy.png", moto_endpoint, moto_bucket);
    ck_assert_msg(storage_fetch(st, url, &buf, &len, &kind, err, sizeof(err)) == 0, "%s", err);
    ck_assert_uint_eq(len, 100);
    free(buf);
    storage_close(st);
}
END_TEST

START_TEST(test_moto_empty)
{
    struct storage *st = open_moto(NULL, 4096);
    uint8_t *buf = NULL;
    size_t len = 0;
    enum storage_error_kind kind = STORAGE_OK;
    char err[256] = "";

    ck_assert_int_eq(storage_fetch(st, "empty.png", &buf, &len, &kind, err, sizeof(err)),
                     FILOT_EFORMAT);
    ck_assert_int_eq(kind, STORAGE_PERMANENT);
    ck_assert_str_eq(err, "No data received from R2");
    ck_assert_ptr_null(buf);
    storage_close(st);
}
END_TEST

START_TEST(test_moto_missing)
{
    struct storage *st = open_moto(NULL, 4096);
    uint8_t *buf = NULL;
    size_t len = 0;
    enum storage_error_kind kind = STORAGE_OK;
    char err[256] = "";

    ck_assert_int_eq(storage_fetch(st, "user1/nope.png", &buf, &len, &kind, err, sizeof(err)),
                     FILOT_EINVAL);
    ck_assert_int_eq(kind, STORAGE_PERMANENT);
    ck_assert_str_eq(err, "The specified key does not exist.");
    storage_close(st);
}
END_TEST

START_TEST(test_moto_too_big)
{
    struct storage *st = open_moto(NULL, 4096);
    uint8_t *buf = NULL;
    size_t len = 0;
    enum storage_error_kind kind = STORAGE_OK;
    char err[256] = "";

    ck_assert_int_eq(storage_fetch(st, "big.bin", &buf, &len, &kind, err, sizeof(err)),
                     FILOT_ETOOBIG);
    ck_assert_int_eq(kind, STORAGE_PERMANENT);
    ck_assert_str_eq(err, "object is larger than OCR_MAX_DOWNLOAD_BYTES=4096 bytes");
    ck_assert_ptr_null(buf);
    storage_close(st);
    /* with room for it, the same object is fine */
    st = open_moto(NULL, 5000);
    ck_assert_int_eq(storage_fetch(st, "big.bin", &buf, &len, &kind, err, sizeof(err)), 0);
    ck_assert_uint_eq(len, 5000);
    free(buf);
    storage_close(st);
}
END_TEST

/* moto checks SigV4: a wrong secret or an unknown key id is refused, so signing is real. */
START_TEST(test_moto_bad_credentials)
{
    struct storage *st = open_moto("wrong-secret", 4096);
    uint8_t *buf = NULL;
    size_t len = 0;
    enum storage_error_kind kind = STORAGE_OK;
    char err[256] = "";

    ck_assert_int_eq(storage_fetch(st, "user1/KTP_0b7c.png", &buf, &len, &kind, err, sizeof(err)),
                     FILOT_EIO);
    ck_assert_int_eq(kind, STORAGE_TRANSIENT);
    ck_assert_msg(strncmp(err, "SignatureDoesNotMatch: ", 23) == 0, "%s", err);
    ck_assert_ptr_null(buf);
    storage_close(st);

    st = open_s3(moto_endpoint, moto_bucket, "AKIANOSUCHKEY0000000", moto_secret, 4096, 10000);
    ck_assert_int_eq(storage_fetch(st, "user1/KTP_0b7c.png", &buf, &len, &kind, err, sizeof(err)),
                     FILOT_EIO);
    ck_assert_int_eq(kind, STORAGE_TRANSIENT);
    ck_assert_msg(strncmp(err, "InvalidAccessKeyId: ", 20) == 0, "%s", err);
    storage_close(st);
}
END_TEST

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* 20 fetches of a 200 KB object on one handle; prints the median. */
START_TEST(test_moto_latency)
{
    struct storage *st = open_moto(NULL, 1 << 20);
    double ms[20];
    char err[256] = "";

    for (int i = 0; i < 20; i++) {
        uint8_t *buf = NULL;
        size_t len = 0;
        enum storage_error_kind kind;
        double t0 = now_ms();
        ck_assert_msg(storage_fetch(st, "bench.bin", &buf, &len, &kind, err, sizeof(err)) == 0,
                      "%s", err);
        ms[i] = now_ms() - t0;
        ck_assert_uint_eq(len, BENCH_BYTES);
        free(buf);
    }
    qsort(ms, 20, sizeof(ms[0]), cmp_double);
    fprintf(stderr, "test_storage: 200 KB from moto: median %.2f ms (min %.2f, max %.2f)\n",
            (ms[9] + ms[10]) / 2, ms[0], ms[19]);
    ck_assert_double_lt((ms[9] + ms[10]) / 2, 2000.0);
    storage_close(st);
}
END_TEST

/* ---------- file:// root ---------- */

static char file_root[64];

/* Checked fixture: a root with a document, an empty file, a big one, a dir and an escaping link. */
static void file_setup(void)
{
    char p[256];
    FILE *f;

    snprintf(file_root, sizeof(file_root), "/tmp/test_storage_root.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(file_root));
    snprintf(p, sizeof(p), "%s/user1", file_root);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    snprintf(p, sizeof(p), "%s/user1/KTP_1.png", file_root);
    f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    fwrite("\x89PNG\r\n\x1a\nfile", 1, 12, f);
    fclose(f);
    snprintf(p, sizeof(p), "%s/empty.png", file_root);
    f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    snprintf(p, sizeof(p), "%s/big.bin", file_root);
    f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < 2000; i++)
        fputc('b', f);
    fclose(f);
    snprintf(p, sizeof(p), "%s/user1/passwd", file_root);
    ck_assert_int_eq(symlink("/etc/passwd", p), 0);
    snprintf(p, sizeof(p), "%s/user1/ok-link.png", file_root);
    ck_assert_int_eq(symlink("KTP_1.png", p), 0);
}

static void file_teardown(void)
{
    char cmd[128];

    if (strncmp(file_root, "/tmp/test_storage_root.", 23) == 0) {
        snprintf(cmd, sizeof(cmd), "rm -rf %s", file_root);
        if (system(cmd) != 0)
            fprintf(stderr, "test_storage: '%s' failed\n", cmd);
    }
}

static struct storage *open_file_root(void)
{
    char ep[128];
    struct storage_config cfg = {.endpoint = ep, .max_bytes = 1024};
    struct storage *st = NULL;

    snprintf(ep, sizeof(ep), "file://%s", file_root);
    ck_assert_int_eq(storage_open(&cfg, &st), 0);
    return st;
}

struct file_case {
    const char *url; /* "@" is replaced by the root */
    int rc;
    enum storage_error_kind kind;
    const char *err_or_data;
};

static const struct file_case file_cases[] = {
    {"user1/KTP_1.png", 0, STORAGE_OK, "\x89PNG\r\n\x1a\nfile"},
    {"user1/ok-link.png", 0, STORAGE_OK, "\x89PNG\r\n\x1a\nfile"},
    {"file://@/user1/KTP_1.png", 0, STORAGE_OK, "\x89PNG\r\n\x1a\nfile"},
    {"user1/nope.png", FILOT_EINVAL, STORAGE_PERMANENT, "The specified key does not exist."},
    {"nodir/nope.png", FILOT_EINVAL, STORAGE_PERMANENT, "The specified key does not exist."},
    {"user1", FILOT_EINVAL, STORAGE_PERMANENT, "The specified key does not exist."},
    {"empty.png", FILOT_EFORMAT, STORAGE_PERMANENT, "No data received from R2"},
    {"big.bin", FILOT_ETOOBIG, STORAGE_PERMANENT,
     "object is larger than OCR_MAX_DOWNLOAD_BYTES=1024 bytes"},
    {"user1/passwd", FILOT_EINVAL, STORAGE_PERMANENT, "resolves outside the storage root"},
    {"../../etc/passwd", FILOT_EINVAL, STORAGE_PERMANENT, "'..' segments"},
    {"/etc/passwd", FILOT_EINVAL, STORAGE_PERMANENT, "must not start with '/'"},
    {"file:///etc/passwd", FILOT_EINVAL, STORAGE_PERMANENT, "outside the configured R2 endpoint"},
    {"file://@/../etc/passwd", FILOT_EINVAL, STORAGE_PERMANENT,
     "outside the configured R2 endpoint"},
    {"file://@/user1/%2E%2E/%2E%2E/etc/passwd", FILOT_EINVAL, STORAGE_PERMANENT, "'..' segments"},
    {"https://" R2_HOST "/docs/k.png", FILOT_EINVAL, STORAGE_PERMANENT,
     "outside the configured R2 endpoint"},
};

START_TEST(test_file_root)
{
    const struct file_case *c = &file_cases[_i];
    struct storage *st = open_file_root();
    char url[256], err[256] = "";
    const char *at = strchr(c->url, '@');
    uint8_t *buf = NULL;
    size_t len = 0;
    enum storage_error_kind kind = STORAGE_PERMANENT;
    int rc;

    if (at != NULL)
        snprintf(url, sizeof(url), "%.*s%s%s", (int)(at - c->url), c->url, file_root, at + 1);
    else
        snprintf(url, sizeof(url), "%s", c->url);
    rc = storage_fetch(st, url, &buf, &len, &kind, err, sizeof(err));
    ck_assert_msg(rc == c->rc, "%s: rc %d, want %d (%s)", url, rc, c->rc, err);
    ck_assert_int_eq(kind, c->kind);
    if (rc == 0) {
        ck_assert_uint_eq(len, strlen(c->err_or_data));
        ck_assert_mem_eq(buf, c->err_or_data, len);
        free(buf);
    } else {
        ck_assert_msg(strstr(err, c->err_or_data) != NULL, "%s: \"%s\"", url, err);
        ck_assert_ptr_null(buf);
    }
    storage_close(st);
}
END_TEST

/* Swaps root/sw (a directory) with root/evil (a link to outside) until stopped. */
struct swapper {
    int root_fd;
    atomic_bool stop;
    long swaps;
};

static void *swap_loop(void *arg)
{
    struct swapper *w = arg;
    while (!atomic_load(&w->stop)) {
        if (syscall(SYS_renameat2, w->root_fd, "sw", w->root_fd, "evil", RENAME_EXCHANGE) == 0)
            w->swaps++;
    }
    return NULL;
}

/*
 * The realpath-then-open race: while a thread keeps exchanging a directory
 * inside the root with a symlink to a directory outside it, thousands of
 * fetches of sw/doc.png return the inside document or a refusal, never the
 * outside one.
 */
START_TEST(test_file_root_swap_race)
{
    char outside[64] = "/tmp/test_storage_out.XXXXXX", p[256];
    ck_assert_ptr_nonnull(mkdtemp(outside));
    snprintf(p, sizeof p, "%s/doc.png", outside);
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    fputs("SECRET", f);
    fclose(f);
    snprintf(p, sizeof p, "%s/sw", file_root);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/sw/doc.png", file_root);
    f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    fputs("inside", f);
    fclose(f);
    snprintf(p, sizeof p, "%s/evil", file_root);
    ck_assert_int_eq(symlink(outside, p), 0);

    struct storage *st = open_file_root();
    struct swapper w = {.root_fd = open(file_root, O_PATH | O_DIRECTORY)};
    ck_assert_int_ge(w.root_fd, 0);
    atomic_init(&w.stop, false);
    pthread_t th;
    pthread_create(&th, NULL, swap_loop, &w);
    int inside = 0, refused = 0, leaked = 0;
    for (int i = 0; i < 20000 && leaked == 0; i++) {
        uint8_t *buf = NULL;
        size_t len = 0;
        enum storage_error_kind kind;
        char err[256];
        if (storage_fetch(st, "sw/doc.png", &buf, &len, &kind, err, sizeof err) != 0) {
            refused++;
            continue;
        }
        if (len == 6 && memcmp(buf, "SECRET", 6) == 0)
            leaked++;
        else
            inside++;
        free(buf);
    }
    atomic_store(&w.stop, true);
    pthread_join(th, NULL);
    close(w.root_fd);
    storage_close(st);
    snprintf(p, sizeof p, "%s/doc.png", outside);
    unlink(p);
    rmdir(outside);
    printf("swap race: %ld swaps, %d inside, %d refused, %d leaked\n", w.swaps, inside, refused,
           leaked);
    ck_assert_int_eq(leaked, 0);
    ck_assert_int_gt(inside, 0);
}
END_TEST

static Suite *storage_suite(void)
{
    Suite *s = suite_create("storage");
    TCase *keys = tcase_create("keys");
    TCase *wire = tcase_create("wire");
    TCase *moto = tcase_create("moto");
    TCase *file = tcase_create("file");

    tcase_add_loop_test(keys, test_key_table, 0, sizeof(key_cases) / sizeof(key_cases[0]));
    tcase_add_test(keys, test_key_limits);
    tcase_add_test(keys, test_open_refusals);
    suite_add_tcase(s, keys);

    tcase_set_timeout(wire, 20);
    tcase_add_test(wire, test_wire_request);
    tcase_add_test(wire, test_wire_reuse);
    tcase_add_loop_test(wire, test_wire_answers, 0, sizeof(wire_cases) / sizeof(wire_cases[0]));
    tcase_add_test(wire, test_wire_chunked_too_big);
    tcase_add_test(wire, test_connection_refused);
    suite_add_tcase(s, wire);

    tcase_set_timeout(moto, 60);
    tcase_add_unchecked_fixture(moto, moto_setup, moto_teardown);
    tcase_add_test(moto, test_moto_fetch_ok);
    tcase_add_test(moto, test_moto_spaces);
    tcase_add_test(moto, test_moto_empty);
    tcase_add_test(moto, test_moto_missing);
    tcase_add_test(moto, test_moto_too_big);
    tcase_add_test(moto, test_moto_bad_credentials);
    tcase_add_test(moto, test_moto_latency);
    suite_add_tcase(s, moto);

    tcase_add_checked_fixture(file, file_setup, file_teardown);
    tcase_add_loop_test(file, test_file_root, 0, sizeof(file_cases) / sizeof(file_cases[0]));
    tcase_add_test(file, test_file_root_swap_race);
    suite_add_tcase(s, file);
    return s;
}

int main(void)
{
    log_init("test_storage", LOG_ERROR);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = check_run(storage_suite());
    curl_global_cleanup();
    return rc;
}
