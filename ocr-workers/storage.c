/*
 * storage.c - a document's bytes from Cloudflare R2 (S3 API over libcurl) or
 * from a local file:// root.
 *
 * Requests go only to the configured endpoint and bucket: the object key is
 * taken out of file_url and put into a URL built from the configuration, so a
 * file_url can never choose the host, port, scheme or bucket (no SSRF).
 * Signing is libcurl's CURLOPT_AWS_SIGV4 ("aws:amz:auto:s3").  R2 and S3
 * need an x-amz-content-sha256 header, which curl (before 8.x) does not add.
 * We send the SHA-256 of the empty body (a GET has none) rather than
 * UNSIGNED-PAYLOAD because that value is right for every libcurl we build
 * against: 7.87+ (Debian 12's 7.88) signs an app-supplied header and uses its
 * value as the payload hash; 7.81 (the Ubuntu 22.04 image) leaves the header
 * unsigned and always hashes the empty body, so with UNSIGNED-PAYLOAD the
 * server's canonical request would differ from curl's (curl issue #8810).
 *
 * One easy handle lives as long as the struct storage, so the connection (and
 * TLS session) to R2 is reused between documents.  A struct storage is used by
 * one thread at a time.
 *
 * Error kinds: what is wrong with this one document (bad key, not found, too
 * big, empty, any other 4xx) is PERMANENT; what would hit every document and
 * can be fixed or can pass (network, timeouts, 5xx, 429, bad credentials or
 * clock: 401/403, missing bucket, redirects) is TRANSIENT, so the job is
 * retried and documents are not failed wholesale by an operator mistake.
 */
#include "storage.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/net_url.h"
#include "../common/status.h"
#include "open_beneath.h"

#define KEY_MAX                    1024 /* S3's own limit, in bytes */
#define DEFAULT_CONNECT_TIMEOUT_MS 5000
#define DEFAULT_TOTAL_TIMEOUT_MS   60000

/* SHA-256 of zero bytes: the payload hash of a GET (see the file comment). */
#define EMPTY_PAYLOAD_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

#define MSG_OUTSIDE   "file_url points outside the configured R2 endpoint"
#define MSG_NOT_FOUND "The specified key does not exist."
#define MSG_EMPTY     "No data received from R2"

enum storage_backend { BACKEND_S3, BACKEND_FILE };

struct storage {
    enum storage_backend backend;
    char *base;   /* S3: "scheme://host[:port]" without a trailing slash */
    char *host;   /* S3: endpoint host as curl parsed it ("[::1]" for IPv6) */
    long port;    /* S3: endpoint port, the scheme's default when not given */
    char *bucket; /* S3: CF_R2_BUCKET_NAME */
    char *root;   /* file: realpath() of the root directory */
    int root_fd;  /* file: O_PATH descriptor of root; objects open beneath it */
    uint64_t max_bytes;
    CURL *curl;                     /* S3: reused between fetches */
    struct curl_slist *headers;     /* S3: x-amz-content-sha256 */
    char curl_err[CURL_ERROR_SIZE]; /* CURLOPT_ERRORBUFFER */
};

/* One download's body: grows up to a limit, owned by the fetch until handed out. */
struct body {
    CURL *curl;
    uint8_t *buf;
    size_t len;
    size_t cap;
    uint64_t limit;
    bool too_big;
    bool nomem;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

/*
 * curl_global_init() must run once per process before any handle exists; it
 * is never undone (curl_global_cleanup at exit buys nothing for a worker).
 */
static void curl_init_once(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* snprintf into err when the caller gave room for it. */
__attribute__((format(printf, 3, 4))) static void set_err(char *err, size_t errlen, const char *fmt,
                                                          ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/*
 * A key is refused when it could mean something other than one object under
 * the bucket or root: empty, too long, absolute, a "." or ".." segment (curl
 * and realpath() would both collapse those), or a NUL or control byte (the
 * length is passed so a decoded "%00" is seen).
 */
static int check_key(const char *key, size_t len, char *err, size_t errlen)
{
    if (len == 0) {
        set_err(err, errlen, "file_url has no object key");
        return FILOT_EINVAL;
    }
    if (len > KEY_MAX) {
        set_err(err, errlen, "object key is longer than %d bytes", KEY_MAX);
        return FILOT_EINVAL;
    }
    if (key[0] == '/') {
        set_err(err, errlen, "object key must not start with '/'");
        return FILOT_EINVAL;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)key[i];
        if (c < 0x20 || c == 0x7f) {
            set_err(err, errlen, "object key contains a control character");
            return FILOT_EINVAL;
        }
    }
    for (size_t start = 0; start <= len;) {
        const char *slash = memchr(key + start, '/', len - start);
        size_t end = slash != NULL ? (size_t)(slash - key) : len;
        size_t seg = end - start;
        if ((seg == 1 && key[start] == '.') ||
            (seg == 2 && key[start] == '.' && key[start + 1] == '.')) {
            set_err(err, errlen, "object key must not contain '.' or '..' segments");
            return FILOT_EINVAL;
        }
        start = end + 1;
    }
    return 0;
}

/* Copies a checked key of len bytes into key[keylen]. */
static int put_key(const char *src, size_t len, char *key, size_t keylen, char *err, size_t errlen)
{
    int rc = check_key(src, len, err, errlen);

    if (rc != 0)
        return rc;
    if (len >= keylen) {
        set_err(err, errlen, "object key is too long for the caller's buffer");
        return FILOT_EINVAL;
    }
    memcpy(key, src, len);
    key[len] = '\0';
    return 0;
}

/*
 * Length of the "scheme://" prefix of s when s starts with an RFC 3986 scheme
 * followed by "://", else 0: anything without one is a bare key.
 */
static size_t scheme_prefix(const char *s)
{
    size_t i = 0;

    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
        return 0;
    while (s[i] != '\0' && (strchr("+-.", s[i]) != NULL || (s[i] >= '0' && s[i] <= '9') ||
                            (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')))
        i++;
    return strncmp(s + i, "://", 3) == 0 ? i + 3 : 0;
}

/* curl_url_get() into a malloc'd string (curl_free'd by the caller), NULL when absent. */
static char *url_part(CURLU *u, CURLUPart part, unsigned flags)
{
    char *v = NULL;

    if (curl_url_get(u, part, &v, flags) != CURLUE_OK)
        return NULL;
    return v;
}

/*
 * Percent-decodes path once with curl (a "%2520" stays "%20": decoding twice
 * would let a key be smuggled past the checks).  Returns a curl_free'd string
 * and its length, which may hold a decoded NUL.
 */
static char *decode_path(CURL *curl, const char *path, size_t *len)
{
    int n = 0;
    char *d = curl_easy_unescape(curl, path, 0, &n);

    *len = d != NULL && n > 0 ? (size_t)n : 0;
    return d;
}

/*
 * "file_url names bucket X, ...": X comes from the URL, so it is shortened
 * and anything unprintable becomes '?' before it reaches a log or the result.
 */
static void bucket_err(const char *name, size_t len, char *err, size_t errlen)
{
    char safe[64];
    size_t i;

    for (i = 0; i < len && i + 1 < sizeof(safe); i++)
        safe[i] = name[i] > 0x20 && name[i] < 0x7f ? name[i] : '?';
    safe[i] = '\0';
    set_err(err, errlen, "file_url names bucket %s, not the configured bucket", safe);
}

/*
 * Key from an http(s) file_url.  The host must be the endpoint's host (path
 * style, "/<bucket>/<key>") or "<bucket>.<endpoint host>" (virtual-hosted
 * style, "/<key>"); a port given in the URL must be the endpoint's.  The
 * request itself always goes to the configured endpoint, so the URL's scheme
 * does not matter.  Query and fragment are dropped.
 */
static int key_from_http(const struct storage *st, CURLU *u, char *key, size_t keylen, char *err,
                         size_t errlen)
{
    char *host = url_part(u, CURLUPART_HOST, 0);
    char *port = url_part(u, CURLUPART_PORT, 0);
    char *path = url_part(u, CURLUPART_PATH, 0);
    char *dec = NULL;
    size_t hostlen, blen, dlen = 0;
    bool virtual_hosted = false;
    int rc = FILOT_EINVAL;

    if (st->backend != BACKEND_S3 || host == NULL || path == NULL) {
        set_err(err, errlen, MSG_OUTSIDE);
        goto out;
    }
    if (port != NULL && strtol(port, NULL, 10) != st->port) {
        set_err(err, errlen, MSG_OUTSIDE);
        goto out;
    }
    hostlen = strlen(host);
    blen = strlen(st->bucket);
    if (strcasecmp(host, st->host) != 0) {
        size_t elen = strlen(st->host);
        if (hostlen <= elen + 1 || host[hostlen - elen - 1] != '.' ||
            strcasecmp(host + hostlen - elen, st->host) != 0) {
            set_err(err, errlen, MSG_OUTSIDE);
            goto out;
        }
        if (hostlen - elen - 1 != blen || strncasecmp(host, st->bucket, blen) != 0) {
            bucket_err(host, hostlen - elen - 1, err, errlen);
            goto out;
        }
        virtual_hosted = true;
    }
    dec = decode_path(st->curl, path, &dlen);
    if (dec == NULL) {
        set_err(err, errlen, "file_url path cannot be decoded");
        rc = FILOT_ENOMEM;
        goto out;
    }
    if (virtual_hosted) {
        rc = dlen > 0 && dec[0] == '/' ? put_key(dec + 1, dlen - 1, key, keylen, err, errlen)
                                       : put_key(dec, dlen, key, keylen, err, errlen);
        goto out;
    }
    /* Path style: the first segment is the bucket. */
    {
        const char *p = dlen > 0 && dec[0] == '/' ? dec + 1 : dec;
        size_t plen = dlen - (size_t)(p - dec);
        const char *slash = memchr(p, '/', plen);
        size_t seg = slash != NULL ? (size_t)(slash - p) : plen;

        if (seg == 0) {
            set_err(err, errlen, "file_url has no object key");
            goto out;
        }
        if (seg != blen || memcmp(p, st->bucket, blen) != 0) {
            bucket_err(p, seg, err, errlen);
            goto out;
        }
        rc = slash != NULL ? put_key(slash + 1, plen - seg - 1, key, keylen, err, errlen)
                           : put_key("", 0, key, keylen, err, errlen);
    }
out:
    curl_free(dec);
    curl_free(path);
    curl_free(port);
    curl_free(host);
    return rc;
}

/* Key from a file:// file_url: allowed only below a file:// root. */
static int key_from_file_url(const struct storage *st, CURLU *u, char *key, size_t keylen,
                             char *err, size_t errlen)
{
    char *path = url_part(u, CURLUPART_PATH, 0);
    char *dec = NULL;
    size_t dlen = 0, rlen;
    int rc = FILOT_EINVAL;

    if (st->backend != BACKEND_FILE || path == NULL) {
        set_err(err, errlen, MSG_OUTSIDE);
        goto out;
    }
    dec = decode_path(st->curl, path, &dlen);
    if (dec == NULL) {
        set_err(err, errlen, "file_url path cannot be decoded");
        rc = FILOT_ENOMEM;
        goto out;
    }
    rlen = strlen(st->root);
    bool absolute = dlen > 0 && dec[0] == '/';
    if (absolute && strcmp(st->root, "/") == 0)
        rc = put_key(dec + 1, dlen - 1, key, keylen, err, errlen);
    else if (absolute && dlen > rlen && memcmp(dec, st->root, rlen) == 0 && dec[rlen] == '/')
        rc = put_key(dec + rlen + 1, dlen - rlen - 1, key, keylen, err, errlen);
    else
        set_err(err, errlen, MSG_OUTSIDE);
out:
    curl_free(dec);
    curl_free(path);
    return rc;
}

/*
 * A bare key (the normal case: uploads store "<user>/<TYPE>_<uuid>.<ext>") is
 * used as it is, without decoding, as the original did.  A URL's path is
 * percent-decoded exactly once (the original did not decode, so a key with a
 * space came out as "a%20b" and was never found).
 */
int storage_key_from_url(const struct storage *st, const char *file_url, char *key, size_t keylen,
                         char *err, size_t errlen)
{
    size_t prefix;
    CURLU *u;
    char *scheme = NULL;
    int rc;

    if (st == NULL || key == NULL || keylen == 0) {
        set_err(err, errlen, "storage_key_from_url: bad arguments");
        return FILOT_EINVAL;
    }
    if (file_url == NULL || file_url[0] == '\0') {
        set_err(err, errlen, "Document has no file URL");
        return FILOT_EINVAL;
    }
    prefix = scheme_prefix(file_url);
    if (prefix == 0)
        return put_key(file_url, strlen(file_url), key, keylen, err, errlen);

    u = curl_url();
    if (u == NULL) {
        set_err(err, errlen, "out of memory");
        return FILOT_ENOMEM;
    }
    rc = FILOT_EINVAL;
    if (strncasecmp(file_url, "http://", 7) != 0 && strncasecmp(file_url, "https://", 8) != 0 &&
        strncasecmp(file_url, "file://", 7) != 0) {
        set_err(err, errlen, "file_url scheme %.*s is not supported", (int)(prefix - 3), file_url);
    } else if (curl_url_set(u, CURLUPART_URL, file_url, CURLU_ALLOW_SPACE) != CURLUE_OK ||
               (scheme = url_part(u, CURLUPART_SCHEME, 0)) == NULL) {
        set_err(err, errlen, "file_url is not a valid URL");
    } else if (strcasecmp(scheme, "file") == 0) {
        rc = key_from_file_url(st, u, key, keylen, err, errlen);
    } else {
        rc = key_from_http(st, u, key, keylen, err, errlen);
    }
    curl_free(scheme);
    curl_url_cleanup(u);
    return rc;
}

/* Logs a configuration error once and returns FILOT_EINVAL. */
static int config_error(const char *reason)
{
    log_kv(LOG_ERROR, "Storage configuration refused", LF_STR, "reason", reason, LF_END);
    return FILOT_EINVAL;
}

/*
 * Sets the options that do not change between fetches.  Only http and https
 * are spoken, redirects are not followed, TLS verification stays at curl's
 * default (on), signals are not used for timeouts, and no verbose output can
 * leak the Authorization header.
 */
static int setup_curl(struct storage *st, const struct storage_config *cfg)
{
    CURL *c = st->curl;
    uint32_t conn = cfg->connect_timeout_ms ? cfg->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS;
    uint32_t total = cfg->total_timeout_ms ? cfg->total_timeout_ms : DEFAULT_TOTAL_TIMEOUT_MS;
    CURLcode rc = CURLE_OK;

    st->headers = curl_slist_append(NULL, "x-amz-content-sha256: " EMPTY_PAYLOAD_SHA256);
    if (st->headers == NULL)
        return FILOT_ENOMEM;
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85: CURLOPT_PROTOCOLS is deprecated */
    rc |= curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    rc |= curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    rc |= curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    rc |= curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
    rc |= curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    rc |= curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    rc |= curl_easy_setopt(c, CURLOPT_AWS_SIGV4, "aws:amz:auto:s3");
    rc |= curl_easy_setopt(c, CURLOPT_USERNAME, cfg->access_key);
    rc |= curl_easy_setopt(c, CURLOPT_PASSWORD, cfg->secret_key);
    rc |= curl_easy_setopt(c, CURLOPT_HTTPHEADER, st->headers);
    rc |= curl_easy_setopt(c, CURLOPT_USERAGENT, "filot-ocrd");
    rc |= curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)conn);
    rc |= curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)total);
    rc |= curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)cfg->max_bytes);
    rc |= curl_easy_setopt(c, CURLOPT_ERRORBUFFER, st->curl_err);
    rc |= curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    if (rc != CURLE_OK)
        return config_error("libcurl refused an option (built without http or AWS SigV4?)");
    return 0;
}

/*
 * Checks an http(s) endpoint (host, no path, query or credentials) and keeps
 * what requests and key checks need.
 */
static int open_s3(struct storage *st, const struct storage_config *cfg, CURLU *u)
{
    char *scheme = url_part(u, CURLUPART_SCHEME, 0);
    char *host = url_part(u, CURLUPART_HOST, 0);
    char *port = url_part(u, CURLUPART_PORT, CURLU_DEFAULT_PORT);
    char *path = url_part(u, CURLUPART_PATH, 0);
    char *query = url_part(u, CURLUPART_QUERY, 0);
    char *user = url_part(u, CURLUPART_USER, 0);
    int rc = FILOT_EINVAL;
    size_t n;

    if (host == NULL || host[0] == '\0' || port == NULL) {
        rc = config_error("CF_R2_ENDPOINT has no host");
    } else if ((path != NULL && strcmp(path, "/") != 0 && path[0] != '\0') || query != NULL ||
               user != NULL) {
        rc = config_error("CF_R2_ENDPOINT must be scheme://host[:port] without path, query "
                          "or credentials");
    } else if (cfg->bucket == NULL || cfg->bucket[0] == '\0' || strchr(cfg->bucket, '/')) {
        rc = config_error("CF_R2_BUCKET_NAME is required and must not contain '/'");
    } else if (cfg->access_key == NULL || cfg->access_key[0] == '\0' || cfg->secret_key == NULL ||
               cfg->secret_key[0] == '\0') {
        rc = config_error("CF_R2_ACCESS_KEY_ID and CF_R2_SECRET_ACCESS_KEY are required");
    } else {
        if (strcasecmp(scheme, "http") == 0 && !net_host_is_loopback(host))
            log_kv(LOG_WARN, "CF_R2_ENDPOINT uses plain http: traffic is not encrypted", LF_STR,
                   "host", host, LF_END);
        st->host = strdup(host);
        st->bucket = strdup(cfg->bucket);
        st->port = strtol(port, NULL, 10);
        n = strlen(cfg->endpoint);
        while (n > 0 && cfg->endpoint[n - 1] == '/')
            n--;
        st->base = strndup(cfg->endpoint, n);
        rc = st->host && st->bucket && st->base ? setup_curl(st, cfg) : FILOT_ENOMEM;
    }
    curl_free(user);
    curl_free(query);
    curl_free(path);
    curl_free(port);
    curl_free(host);
    curl_free(scheme);
    return rc;
}

/* Checks a file:// root: an existing directory, kept as its realpath(). */
static int open_file(struct storage *st, CURLU *u)
{
    char *host = url_part(u, CURLUPART_HOST, 0);
    char *path = url_part(u, CURLUPART_PATH, CURLU_URLDECODE);
    char real[PATH_MAX];
    struct stat sb;
    int rc = 0;

    if (host != NULL && host[0] != '\0' && strcasecmp(host, "localhost") != 0) {
        rc = config_error("CF_R2_ENDPOINT file:// URL must not name a host (file:///abs/root)");
    } else if (path == NULL || realpath(path, real) == NULL || stat(real, &sb) != 0 ||
               !S_ISDIR(sb.st_mode)) {
        rc = config_error("CF_R2_ENDPOINT file:// root is not an existing directory");
    } else {
        st->root = strdup(real);
        st->root_fd = open(real, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (st->root == NULL)
            rc = FILOT_ENOMEM;
        else if (st->root_fd < 0)
            rc = config_error("CF_R2_ENDPOINT file:// root cannot be opened");
    }
    curl_free(path);
    curl_free(host);
    return rc;
}

/*
 * Validates the configuration and prepares the backend.  Reasons are logged
 * here (there is no err argument); FILOT_EINVAL means a configuration error.
 */
int storage_open(const struct storage_config *cfg, struct storage **out)
{
    struct storage *st;
    CURLU *u = NULL;
    char *scheme = NULL;
    int rc;

    if (out == NULL || cfg == NULL)
        return FILOT_EINVAL;
    *out = NULL;
    if (cfg->endpoint == NULL || cfg->endpoint[0] == '\0')
        return config_error("CF_R2_ENDPOINT is not set");
    if (cfg->max_bytes == 0)
        return config_error("OCR_MAX_DOWNLOAD_BYTES must be above 0");
    pthread_once(&curl_once, curl_init_once);
    if (curl_init_rc != CURLE_OK)
        return config_error("curl_global_init failed");

    st = calloc(1, sizeof(*st));
    if (st == NULL)
        return FILOT_ENOMEM;
    st->max_bytes = cfg->max_bytes;
    st->root_fd = -1;
    st->curl = curl_easy_init();
    u = curl_url();
    if (st->curl == NULL || u == NULL) {
        rc = FILOT_ENOMEM;
    } else if (curl_url_set(u, CURLUPART_URL, cfg->endpoint, 0) != CURLUE_OK ||
               (scheme = url_part(u, CURLUPART_SCHEME, 0)) == NULL) {
        rc = config_error("CF_R2_ENDPOINT is not a valid URL");
    } else if (strcasecmp(scheme, "file") == 0) {
        st->backend = BACKEND_FILE;
        rc = open_file(st, u);
    } else if (strcasecmp(scheme, "https") == 0 || strcasecmp(scheme, "http") == 0) {
        st->backend = BACKEND_S3;
        rc = open_s3(st, cfg, u);
    } else {
        rc = config_error("CF_R2_ENDPOINT must start with https://, http:// or file:///");
    }
    curl_free(scheme);
    curl_url_cleanup(u);
    if (rc != 0) {
        storage_close(st);
        return rc;
    }
    *out = st;
    return 0;
}

void storage_close(struct storage *st)
{
    if (st == NULL)
        return;
    if (st->curl != NULL)
        curl_easy_cleanup(st->curl);
    curl_slist_free_all(st->headers);
    free(st->base);
    free(st->host);
    free(st->bucket);
    free(st->root);
    if (st->root_fd >= 0)
        close(st->root_fd);
    free(st);
}

/*
 * CURLOPT_WRITEFUNCTION: appends to the body, refusing past the limit (curl's
 * CURLOPT_MAXFILESIZE only checks a Content-Length, not a chunked body).  The
 * first call sizes the buffer from Content-Length when there is one.
 */
static size_t body_write(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct body *b = userdata;
    size_t n = size * nmemb;

    if ((uint64_t)b->len + n > b->limit) {
        b->too_big = true;
        return 0;
    }
    if (b->len + n > b->cap) {
        curl_off_t cl = -1;
        size_t cap = b->cap ? b->cap * 2 : 64 * 1024;
        uint8_t *nb;

        if (b->cap == 0 &&
            curl_easy_getinfo(b->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl) == CURLE_OK &&
            cl > 0 && (uint64_t)cl <= b->limit)
            cap = (size_t)cl;
        if (cap < b->len + n)
            cap = b->len + n;
        if ((uint64_t)cap > b->limit)
            cap = (size_t)b->limit;
        nb = realloc(b->buf, cap);
        if (nb == NULL) {
            b->nomem = true;
            return 0;
        }
        b->buf = nb;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, data, n);
    b->len += n;
    return n;
}

/*
 * Copies the text of <tag>...</tag> from an S3 XML error body into out,
 * with the five XML entities decoded and control bytes made spaces.
 * Returns false when the element is absent.
 */
static bool xml_text(const struct body *b, const char *tag, char *out, size_t outlen)
{
    char open[32], close[32];
    const char *s, *e, *end = (const char *)b->buf + b->len;
    static const struct {
        const char *ent;
        char c;
    } ents[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
    size_t o = 0;

    if (b->buf == NULL || outlen == 0)
        return false;
    snprintf(open, sizeof(open), "<%s>", tag);
    snprintf(close, sizeof(close), "</%s>", tag);
    s = memmem(b->buf, b->len, open, strlen(open));
    if (s == NULL)
        return false;
    s += strlen(open);
    e = memmem(s, (size_t)(end - s), close, strlen(close));
    if (e == NULL)
        return false;
    while (s < e && o + 1 < outlen) {
        char c = *s++;
        if (c == '&') {
            for (size_t i = 0; i < sizeof(ents) / sizeof(ents[0]); i++) {
                size_t l = strlen(ents[i].ent);
                if ((size_t)(e - s + 1) >= l && memcmp(s - 1, ents[i].ent, l) == 0) {
                    c = ents[i].c;
                    s += l - 1;
                    break;
                }
            }
        }
        out[o++] = (unsigned char)c < 0x20 ? ' ' : c;
    }
    out[o] = '\0';
    return o > 0;
}

/*
 * Turns a finished HTTP exchange into kind, err and a return code (see the
 * file comment for the PERMANENT / TRANSIENT split).
 */
static int map_http_status(long status, const struct body *b, enum storage_error_kind *kind,
                           char *err, size_t errlen)
{
    char code[64] = "", msg[256] = "";
    bool has_code = xml_text(b, "Code", code, sizeof(code));
    bool has_msg = xml_text(b, "Message", msg, sizeof(msg));
    const char *sep = has_code && has_msg ? ": " : "";

    if (status == 404 && (!has_code || strcmp(code, "NoSuchKey") == 0)) {
        *kind = STORAGE_PERMANENT;
        set_err(err, errlen, "%s", has_msg ? msg : MSG_NOT_FOUND);
        return FILOT_EINVAL;
    }
    *kind = STORAGE_TRANSIENT;
    if (status == 401 || status == 403 || status == 404 || (status >= 300 && status < 400)) {
        /* credentials, clock, policy, bucket or endpoint: the operator's to fix */
        if (has_code || has_msg)
            set_err(err, errlen, "%s%s%s", has_code ? code : "", sep, has_msg ? msg : "");
        else
            set_err(err, errlen, "R2 returned status %ld", status);
        return FILOT_EIO;
    }
    if (status >= 400 && status < 500 && status != 408 && status != 429)
        *kind = STORAGE_PERMANENT;
    if (has_code || has_msg)
        set_err(err, errlen, "R2 returned status %ld: %s%s%s", status, has_code ? code : "", sep,
                has_msg ? msg : "");
    else
        set_err(err, errlen, "R2 returned status %ld", status);
    return *kind == STORAGE_PERMANENT ? FILOT_EINVAL : FILOT_EUNAVAIL;
}

/*
 * Builds "<base>/<bucket>/<key>", each path segment escaped by
 * curl_easy_escape() (everything but A-Z a-z 0-9 - . _ ~, upper-case hex, as
 * SigV4's canonical URI and the AWS SDKs have it; curl_url's CURLU_URLENCODE
 * writes lower-case hex, which a strict server may canonicalise differently).
 */
static char *object_url(const struct storage *st, const char *key)
{
    size_t cap = strlen(st->base) + 3 * (strlen(st->bucket) + strlen(key)) + 3;
    char *url = malloc(cap);
    size_t off;
    const char *seg = key;

    if (url == NULL)
        return NULL;
    off = (size_t)snprintf(url, cap, "%s/", st->base);
    for (int first = 1;; first = 0) {
        const char *part = first ? st->bucket : seg;
        const char *slash = first ? NULL : strchr(seg, '/');
        size_t n = first ? strlen(part) : slash ? (size_t)(slash - seg) : strlen(seg);
        char *e = n > 0 ? curl_easy_escape(st->curl, part, (int)n) : NULL;

        if (n > 0 && e == NULL) {
            free(url);
            return NULL;
        }
        off +=
            (size_t)snprintf(url + off, cap - off, "%s%s", e ? e : "", first || slash ? "/" : "");
        curl_free(e);
        if (!first && slash == NULL)
            break;
        if (!first)
            seg = slash + 1;
    }
    return url;
}

/* One signed GET of key from the bucket; the body is handed out on success. */
static int fetch_s3(struct storage *st, const char *key, uint8_t **buf, size_t *len,
                    enum storage_error_kind *kind, char *err, size_t errlen)
{
    struct body b = {.curl = st->curl, .limit = st->max_bytes};
    char *url = object_url(st, key);
    long status = 0;
    curl_off_t us = 0;
    CURLcode cc;
    int rc;

    if (url == NULL) {
        *kind = STORAGE_TRANSIENT;
        set_err(err, errlen, "out of memory building the object URL");
        return FILOT_ENOMEM;
    }
    st->curl_err[0] = '\0';
    curl_easy_setopt(st->curl, CURLOPT_URL, url);
    curl_easy_setopt(st->curl, CURLOPT_WRITEFUNCTION, body_write);
    curl_easy_setopt(st->curl, CURLOPT_WRITEDATA, &b);
    cc = curl_easy_perform(st->curl);
    curl_easy_getinfo(st->curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(st->curl, CURLINFO_TOTAL_TIME_T, &us);
    /* the handle must not keep a pointer to this stack frame */
    curl_easy_setopt(st->curl, CURLOPT_WRITEDATA, NULL);
    free(url);

    if (cc == CURLE_OK && status == 200 && b.len > 0) {
        *buf = b.buf;
        *len = b.len;
        *kind = STORAGE_OK;
        log_kv(LOG_DEBUG, "Object fetched", LF_INT, "bytes", (long long)b.len, LF_INT, "ms",
               (long long)(us / 1000), LF_END);
        return 0;
    }
    if (b.too_big || cc == CURLE_FILESIZE_EXCEEDED) {
        *kind = STORAGE_PERMANENT;
        set_err(err, errlen, "object is larger than OCR_MAX_DOWNLOAD_BYTES=%llu bytes",
                (unsigned long long)st->max_bytes);
        rc = FILOT_ETOOBIG;
    } else if (b.nomem || cc == CURLE_OUT_OF_MEMORY) {
        *kind = STORAGE_TRANSIENT;
        set_err(err, errlen, "out of memory downloading the object");
        rc = FILOT_ENOMEM;
    } else if (cc != CURLE_OK) {
        *kind = STORAGE_TRANSIENT;
        set_err(err, errlen, "%s", st->curl_err[0] ? st->curl_err : curl_easy_strerror(cc));
        rc = cc == CURLE_OPERATION_TIMEDOUT ? FILOT_ETIMEDOUT : FILOT_EIO;
    } else if (status == 200) {
        *kind = STORAGE_PERMANENT;
        set_err(err, errlen, MSG_EMPTY);
        rc = FILOT_EFORMAT;
    } else {
        rc = map_http_status(status, &b, kind, err, errlen);
    }
    free(b.buf);
    /* the caller logs the failure with the document's ids; the transport details are here */
    log_kv(LOG_DEBUG, "Object fetch details", LF_STR, "key", key, LF_STR, "reason", err, LF_INT,
           "http_status", (long long)status, LF_INT, "curl_code", (long long)cc, LF_INT, "ms",
           (long long)(us / 1000), LF_END);
    return rc;
}

/*
 * Reads root/key, opened beneath the root's descriptor (open_beneath()):
 * the kernel resolves the path and refuses a step out of the root, so a
 * directory swapped for a symlink between a check and the open cannot
 * lead outside (the realpath()-then-open race).
 */
static int fetch_file(struct storage *st, const char *key, uint8_t **buf, size_t *len,
                      enum storage_error_kind *kind, char *err, size_t errlen)
{
    uint8_t *data = NULL;
    struct stat sb;
    size_t got = 0;
    int rc = FILOT_EINVAL;

    *kind = STORAGE_PERMANENT;
    int fd = open_beneath(st->root_fd, key);
    if (fd == -ENOENT || fd == -ENOTDIR) {
        set_err(err, errlen, MSG_NOT_FOUND);
        goto out;
    }
    if (fd == -EXDEV || fd == -ELOOP) {
        set_err(err, errlen, "object key resolves outside the storage root");
        goto out;
    }
    if (fd < 0 || fstat(fd, &sb) != 0) {
        *kind = STORAGE_TRANSIENT;
        set_err(err, errlen, "cannot open object: %s", strerror(fd < 0 ? -fd : errno));
        rc = FILOT_EIO;
        goto out;
    }
    if (!S_ISREG(sb.st_mode)) {
        set_err(err, errlen, MSG_NOT_FOUND);
        goto out;
    }
    if ((uint64_t)sb.st_size > st->max_bytes) {
        set_err(err, errlen, "object is larger than OCR_MAX_DOWNLOAD_BYTES=%llu bytes",
                (unsigned long long)st->max_bytes);
        rc = FILOT_ETOOBIG;
        goto out;
    }
    /* One byte more than the size, to notice a file that grew. */
    data = malloc((size_t)sb.st_size + 1);
    if (data == NULL) {
        *kind = STORAGE_TRANSIENT;
        set_err(err, errlen, "out of memory");
        rc = FILOT_ENOMEM;
        goto out;
    }
    for (;;) {
        ssize_t r = read(fd, data + got, (size_t)sb.st_size + 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            *kind = STORAGE_TRANSIENT;
            set_err(err, errlen, "cannot read object: %s", strerror(errno));
            rc = FILOT_EIO;
            goto out;
        }
        if (r == 0 || got + (size_t)r > (size_t)sb.st_size) {
            got += (size_t)r;
            break;
        }
        got += (size_t)r;
    }
    if (got > (size_t)sb.st_size) {
        *kind = STORAGE_TRANSIENT;
        set_err(err, errlen, "object changed while it was read");
        rc = FILOT_EIO;
    } else if (got == 0) {
        set_err(err, errlen, MSG_EMPTY);
        rc = FILOT_EFORMAT;
    } else {
        *buf = data;
        *len = got;
        data = NULL;
        *kind = STORAGE_OK;
        rc = 0;
    }
out:
    if (fd >= 0)
        close(fd);
    free(data);
    return rc; /* the caller logs a failure with the document's ids */
}

/*
 * Resolves file_url to a key, then downloads the object.  A refused
 * file_url is PERMANENT; see the file comment for the other kinds.
 */
int storage_fetch(struct storage *st, const char *file_url, uint8_t **buf, size_t *len,
                  enum storage_error_kind *kind, char *err, size_t errlen)
{
    char key[KEY_MAX + 1], local[256];
    enum storage_error_kind dummy;
    int rc;

    if (kind == NULL)
        kind = &dummy;
    if (err == NULL || errlen == 0) {
        err = local;
        errlen = sizeof(local);
    }
    *kind = STORAGE_PERMANENT;
    err[0] = '\0';
    if (st == NULL || buf == NULL || len == NULL) {
        set_err(err, errlen, "storage_fetch: bad arguments");
        return FILOT_EINVAL;
    }
    *buf = NULL;
    *len = 0;
    rc = storage_key_from_url(st, file_url, key, sizeof(key), err, errlen);
    if (rc != 0) {
        *kind = rc == FILOT_ENOMEM ? STORAGE_TRANSIENT : STORAGE_PERMANENT;
        return rc; /* the caller logs it with the document's ids */
    }
    if (st->backend == BACKEND_FILE)
        return fetch_file(st, key, buf, len, kind, err, errlen);
    return fetch_s3(st, key, buf, len, kind, err, errlen);
}

bool storage_is_local(const struct storage *st)
{
    return st != NULL && st->backend == BACKEND_FILE;
}
