/*
 * buli2.c - escalation of a document to the BULI2 manual-review service
 * (doc/COMPATIBILITY.md section 7).
 *
 * One blocking libcurl exchange per call: POST {api_url}/internal/reviews
 * with the original's body, bounded by cfg->timeout_ms for the whole
 * exchange, no redirects, response body read up to BULI2_MAX_RESPONSE.
 *
 * Outcomes differ from the original in one place: a 2xx answer whose body
 * is not JSON (the original threw, and lost the escalation, bug B2) is
 * BULI2_RETRY here.  The service may already hold the review then, so a
 * retry can duplicate it; callers should resend the same body (same
 * correlationId) so the service can tell.
 *
 * Nothing here logs the request or the API key; failures are reported to
 * the caller through the outcome and err, and the caller logs them once.
 */
#include "ocr-workers/buli2.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"

#define BULI2_PATH         "/internal/reviews"
#define BULI2_MAX_RESPONSE (64 * 1024)
#define BULI2_ERR_BODY     200   /* characters of the answer quoted in err */
#define BULI2_TICKET_CHARS 255   /* documents.buli2_ticket_id is varchar(255) */
#define BULI2_CONNECT_MS   10000 /* connect phase limit, never above timeout_ms */
#define BULI2_DEFAULT_MS   30000

/* A string member, or JSON null for NULL.  NULL when the text is not UTF-8. */
static json_t *string_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

/*
 * Sets key on obj to a new reference; returns -1 (and drops value) when
 * value is NULL or the insertion fails.
 */
static int set_new(json_t *obj, const char *key, json_t *value)
{
    if (!value)
        return -1;
    return json_object_set_new(obj, key, value);
}

/*
 * Builds the request body in the original's key order.  parsed_data is
 * referenced, not copied (NULL becomes JSON null).  Returns NULL when out
 * of memory or when a string argument is not valid UTF-8.
 */
json_t *buli2_body(const char *document_id, const char *user_id, const char *document_type,
                   json_t *parsed_data, int ai_score, long long now_ms)
{
    char corr[256];
    char iso[32];
    json_t *body = json_object();
    json_t *meta = json_object();

    if (!body || !meta)
        goto fail;
    snprintf(corr, sizeof corr, "esc-%s-%lld", document_id ? document_id : "", now_ms);
    clock_iso8601(now_ms > 0 ? (uint64_t)now_ms : 0, iso, sizeof iso);
    if (set_new(meta, "submittedAt", json_string(iso)) != 0)
        goto fail;
    if (set_new(body, "documentId", string_or_null(document_id)) != 0 ||
        set_new(body, "userId", string_or_null(user_id)) != 0 ||
        set_new(body, "documentType", string_or_null(document_type)) != 0 ||
        json_object_set(body, "parsedData", parsed_data ? parsed_data : json_null()) != 0 ||
        set_new(body, "aiScore", json_integer(ai_score)) != 0 ||
        set_new(body, "correlationId", json_string(corr)) != 0)
        goto fail;
    if (json_object_set_new(body, "metadata", meta) != 0) {
        meta = NULL; /* set_new releases its reference even on failure */
        goto fail;
    }
    return body;
fail:
    json_decref(meta);
    json_decref(body);
    return NULL;
}

/* Length of the UTF-8 sequence starting at s[0..n), 0 when it is invalid. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
    size_t len;
    unsigned cp;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        len = 2;
        cp = s[0] & 0x1f;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        len = 3;
        cp = s[0] & 0x0f;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        len = 4;
        cp = s[0] & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return len;
}

/*
 * Appends at most max_chars characters of src[0..n) to the NUL-terminated
 * dst (size dstlen), stopping at a NUL byte.  The result is always valid
 * UTF-8: invalid bytes become '?' and no sequence is split by the size
 * limit, so err and ticket texts can go into JSON (jansson refuses bad
 * UTF-8).
 */
static void append_utf8(char *dst, size_t dstlen, const char *src, size_t n, size_t max_chars)
{
    size_t used = strlen(dst);
    const unsigned char *s = (const unsigned char *)src;
    size_t chars = 0;

    for (size_t i = 0; i < n && s[i] != '\0' && chars < max_chars;) {
        size_t len = utf8_seq_len(s + i, n - i);
        if (used + (len ? len : 1) + 1 > dstlen)
            break;
        if (len == 0) {
            dst[used++] = '?';
            i++;
        } else {
            memcpy(dst + used, s + i, len);
            used += len;
            i += len;
        }
        chars++;
    }
    dst[used] = '\0';
}

/* Writes the ASCII prefix, then up to max_chars of text, into out. */
static void set_text(char *out, size_t outlen, const char *prefix, const char *text, size_t n,
                     size_t max_chars)
{
    if (!out || outlen == 0)
        return;
    out[0] = '\0';
    append_utf8(out, outlen, prefix, strlen(prefix), (size_t)-1);
    if (text)
        append_utf8(out, outlen, text, n, max_chars);
}

/* The response body, read up to BULI2_MAX_RESPONSE bytes. */
struct response {
    char *data;
    size_t len;
    int too_big;
};

/* libcurl write callback: stores up to the cap, then ends the transfer. */
static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct response *r = userdata;
    size_t n = size * nmemb;

    if (r->len + n > BULI2_MAX_RESPONSE) {
        r->too_big = 1;
        return 0; /* CURLE_WRITE_ERROR */
    }
    char *grown = realloc(r->data, r->len + n + 1);
    if (!grown)
        return 0;
    r->data = grown;
    memcpy(r->data + r->len, ptr, n);
    r->len += n;
    r->data[r->len] = '\0';
    return n;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

/* Runs curl_global_init once per process (reference counted by curl). */
static void curl_init_once(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/*
 * Reads the ticket from a 2xx answer: taskId ?? ticketId ?? "BULI2-<ms>".
 * Strings are used as they are and numbers as their decimal text; other
 * types (null, objects, arrays, booleans, "") count as absent.
 */
static void pick_ticket(const json_t *answer, char *ticket, size_t ticketlen)
{
    static const char *const keys[] = {"taskId", "ticketId"};
    char num[64];

    for (size_t i = 0; json_is_object(answer) && i < sizeof keys / sizeof keys[0]; i++) {
        const json_t *v = json_object_get(answer, keys[i]);
        const char *text = NULL;
        if (json_is_string(v) && json_string_length(v) > 0) {
            text = json_string_value(v);
        } else if (json_is_integer(v)) {
            snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
            text = num;
        } else if (json_is_real(v)) {
            snprintf(num, sizeof num, "%.15g", json_real_value(v));
            if (strtod(num, NULL) != json_real_value(v))
                snprintf(num, sizeof num, "%.17g", json_real_value(v));
            text = num;
        }
        if (text) {
            set_text(ticket, ticketlen, "", text, strlen(text), BULI2_TICKET_CHARS);
            if (ticket != NULL && ticketlen > 0 && strlen(ticket) < strlen(text))
                log_kv(LOG_WARN, "BULI2 ticket id truncated", LF_STR, "ticket", ticket, LF_END);
            return;
        }
    }
    snprintf(num, sizeof num, "BULI2-%llu", (unsigned long long)clock_wall_ms());
    set_text(ticket, ticketlen, "", num, strlen(num), BULI2_TICKET_CHARS);
}

/* RETRY or REJECTED for a non-2xx HTTP status. */
static enum buli2_outcome classify_status(long status)
{
    if (status == 408 || status == 429)
        return BULI2_RETRY;
    if (status >= 400 && status < 500)
        return BULI2_REJECTED;
    return BULI2_RETRY; /* 5xx, and 1xx/3xx: redirects are not followed */
}

enum buli2_outcome buli2_judge_answer(long status, const char *body, size_t len, int too_big,
                                      char *ticket, size_t ticketlen, char *err, size_t errlen)
{
    char prefix[96];

    if (status < 200 || status > 299) {
        snprintf(prefix, sizeof prefix, "BULI2 returned status %ld: ", status);
        set_text(err, errlen, prefix, body, len, BULI2_ERR_BODY);
        return classify_status(status);
    }
    if (too_big) {
        snprintf(prefix, sizeof prefix,
                 "BULI2 returned status %ld with a body over %d bytes: ", status,
                 BULI2_MAX_RESPONSE);
        set_text(err, errlen, prefix, body, len, BULI2_ERR_BODY);
        return BULI2_RETRY;
    }
    json_error_t jerr;
    json_t *answer = body ? json_loadb(body, len, JSON_DECODE_ANY, &jerr) : NULL;
    if (!answer) {
        snprintf(prefix, sizeof prefix, "BULI2 returned status %ld with a non-JSON body: ", status);
        set_text(err, errlen, prefix, body, len, BULI2_ERR_BODY);
        return BULI2_RETRY;
    }
    pick_ticket(answer, ticket, ticketlen);
    json_decref(answer);
    return BULI2_DELIVERED;
}

/*
 * Message for a failed transfer: the original's timeout text, naming the
 * limit that fired, or libcurl's own message.
 */
static void transport_error(CURL *curl, CURLcode rc, const char *curl_err, long connect_ms,
                            long timeout_ms, char *err, size_t errlen)
{
    char text[CURL_ERROR_SIZE + 64];

    if (rc == CURLE_OPERATION_TIMEDOUT) {
        curl_off_t connected = 0;
        curl_easy_getinfo(curl, CURLINFO_CONNECT_TIME_T, &connected);
        snprintf(text, sizeof text, "Request timeout after %ldms",
                 connected > 0 ? timeout_ms : connect_ms);
    } else {
        snprintf(text, sizeof text, "%s", curl_err[0] ? curl_err : curl_easy_strerror(rc));
    }
    set_text(err, errlen, "", text, strlen(text), (size_t)-1);
}

/*
 * The request URL: api_url without trailing slashes, plus the path.
 * Caller frees.
 */
static char *reviews_url(const char *api_url)
{
    size_t n = strlen(api_url);
    while (n > 0 && api_url[n - 1] == '/')
        n--;
    char *url = malloc(n + sizeof BULI2_PATH);
    if (url)
        snprintf(url, n + sizeof BULI2_PATH, "%.*s%s", (int)n, api_url, BULI2_PATH);
    return url;
}

/* Appends line to *h; on failure frees the whole list and returns -1. */
static int add_header(struct curl_slist **h, const char *line)
{
    struct curl_slist *next = curl_slist_append(*h, line); /* copies line */
    if (!next) {
        curl_slist_free_all(*h);
        *h = NULL;
        return -1;
    }
    *h = next;
    return 0;
}

/*
 * Request headers; the Authorization line only for a non-empty key.
 * "Expect:" stops curl from waiting for 100-continue on larger bodies.
 * Returns NULL when out of memory.
 */
static struct curl_slist *request_headers(const char *api_key)
{
    struct curl_slist *h = NULL;

    if (add_header(&h, "Content-Type: application/json") != 0 || add_header(&h, "Expect:") != 0)
        return NULL;
    if (api_key && api_key[0]) {
        char *auth = NULL;
        int len = asprintf(&auth, "Authorization: Bearer %s", api_key);
        if (len < 0) {
            curl_slist_free_all(h);
            return NULL;
        }
        int rc = add_header(&h, auth);
        explicit_bzero(auth, (size_t)len);
        free(auth);
        if (rc != 0)
            return NULL;
    }
    return h;
}

/* Validates what buli2_post needs before any I/O; 0 when usable. */
static int check_args(const struct buli2_config *cfg, const json_t *body, char *err, size_t errlen,
                      enum buli2_outcome *outcome)
{
    const char *msg = NULL;

    *outcome = BULI2_RETRY; /* configuration problems: the document is not at fault */
    if (!cfg || !body) {
        msg = "BULI2 request without configuration or body";
        *outcome = BULI2_REJECTED;
    } else if (!cfg->api_url || !cfg->api_url[0]) {
        msg = "BULI2_API_URL is not set";
    } else if (cfg->api_key && strpbrk(cfg->api_key, "\r\n")) {
        msg = "BULI2_API_KEY contains a line break";
    }
    if (!msg)
        return 0;
    set_text(err, errlen, "", msg, strlen(msg), (size_t)-1);
    return -1;
}

/* Applies the transfer options; returns CURLE_OK or the first failure. */
static CURLcode set_options(CURL *curl, const char *url, struct curl_slist *headers,
                            const char *payload, struct response *resp, char *curl_err,
                            long connect_ms, long timeout_ms)
{
    CURLcode rc = CURLE_OK;

#define SETOPT(opt, val)                                                                           \
    do {                                                                                           \
        if (rc == CURLE_OK)                                                                        \
            rc = curl_easy_setopt(curl, opt, val);                                                 \
    } while (0)
    SETOPT(CURLOPT_URL, url);
    SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
    SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
    SETOPT(CURLOPT_NOSIGNAL, 1L);
    SETOPT(CURLOPT_HTTPHEADER, headers);
    SETOPT(CURLOPT_POST, 1L);
    SETOPT(CURLOPT_POSTFIELDS, payload);
    SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(payload));
    SETOPT(CURLOPT_USERAGENT, "filot-ocrd");
    SETOPT(CURLOPT_TIMEOUT_MS, timeout_ms);
    SETOPT(CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    SETOPT(CURLOPT_WRITEFUNCTION, on_data);
    SETOPT(CURLOPT_WRITEDATA, resp);
    SETOPT(CURLOPT_ERRORBUFFER, curl_err);
#undef SETOPT
    return rc;
}

/*
 * POSTs body to {api_url}/internal/reviews.  DELIVERED fills ticket;
 * RETRY and REJECTED fill err with the original's message shapes.
 */
enum buli2_outcome buli2_post(const struct buli2_config *cfg, const json_t *body, char *ticket,
                              size_t ticketlen, char *err, size_t errlen)
{
    enum buli2_outcome outcome = BULI2_RETRY;
    char curl_err[CURL_ERROR_SIZE] = "";
    struct response resp = {0};
    struct curl_slist *headers = NULL;
    CURL *curl = NULL;
    char *url = NULL;
    char *payload = NULL;

    if (ticket && ticketlen)
        ticket[0] = '\0';
    if (err && errlen)
        err[0] = '\0';
    if (check_args(cfg, body, err, errlen, &outcome) != 0)
        return outcome;
    long timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : BULI2_DEFAULT_MS;
    long connect_ms = timeout_ms < BULI2_CONNECT_MS ? timeout_ms : BULI2_CONNECT_MS;

    pthread_once(&curl_once, curl_init_once);
    if (curl_init_rc != CURLE_OK) {
        set_text(err, errlen, "libcurl initialisation failed", NULL, 0, 0);
        return BULI2_RETRY;
    }
    url = reviews_url(cfg->api_url);
    payload = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
    headers = request_headers(cfg->api_key);
    curl = curl_easy_init();
    if (!url || !payload || !headers || !curl) {
        set_text(err, errlen, "out of memory preparing the BULI2 request", NULL, 0, 0);
        goto out;
    }
    CURLcode rc = set_options(curl, url, headers, payload, &resp, curl_err, connect_ms, timeout_ms);
    if (rc == CURLE_OK)
        rc = curl_easy_perform(curl);

    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    if (rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && resp.too_big && status > 0))
        outcome = buli2_judge_answer(status, resp.data, resp.len, resp.too_big, ticket, ticketlen,
                                     err, errlen);
    else
        transport_error(curl, rc, curl_err, connect_ms, timeout_ms, err, errlen);
out:
    if (curl)
        curl_easy_cleanup(curl);
    curl_slist_free_all(headers);
    free(payload);
    free(url);
    free(resp.data);
    return outcome;
}
