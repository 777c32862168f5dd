/*
 * test_buli2.c - BULI2 escalation: the request body (key order, formats),
 * and buli2_post against the BULI2 stand-in (tests/buli2_server.py) and
 * small local listeners for what the stand-in cannot do (silence, a
 * non-JSON 2xx answer, odd tickets, long bodies).
 */
#include <arpa/inet.h>
#include <check.h>

#include "check_run.h"
#include <curl/curl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "ocr-workers/buli2.h"

/* Stand-in server state, set once by the unchecked fixture. */
static char srv_dir[64];
static char api_url[256];

/* Starts the BULI2 stand-in and reads its URL from DIR/env. */
static void start_servers(void)
{
    char cmd[256], line[256];

    api_url[0] = '\0';
    snprintf(srv_dir, sizeof srv_dir, "/tmp/test_buli2_XXXXXX");
    if (!mkdtemp(srv_dir))
        return;
    snprintf(cmd, sizeof cmd, "tests/servers.sh start %s buli2", srv_dir);
    if (system(cmd) != 0)
        return;
    snprintf(cmd, sizeof cmd, "%s/env", srv_dir);
    FILE *f = fopen(cmd, "r");
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "BULI2_API_URL=", 14) == 0) {
            line[strcspn(line, "\r\n")] = '\0';
            snprintf(api_url, sizeof api_url, "%s", line + 14);
        }
    }
    fclose(f);
}

/* Stops the stand-in and removes its directory. */
static void stop_servers(void)
{
    char cmd[256];

    if (!srv_dir[0])
        return;
    snprintf(cmd, sizeof cmd, "tests/servers.sh stop %s && rm -rf %s", srv_dir, srv_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "test_buli2: stopping servers in %s failed\n", srv_dir);
}

/* libcurl write callback collecting into a growing buffer. */
static size_t collect(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    char **buf = userdata;
    size_t old = *buf ? strlen(*buf) : 0;
    char *grown = realloc(*buf, old + size * nmemb + 1);
    ck_assert_ptr_nonnull(grown);
    memcpy(grown + old, ptr, size * nmemb);
    grown[old + size * nmemb] = '\0';
    *buf = grown;
    return size * nmemb;
}

/* A plain request to the stand-in's control endpoints; returns the parsed answer. */
static json_t *control(const char *path, int post)
{
    char url[512];
    char *answer = NULL;

    snprintf(url, sizeof url, "%s%s", api_url, path);
    CURL *curl = curl_easy_init();
    ck_assert_ptr_nonnull(curl);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer);
    if (post)
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "");
    ck_assert_int_eq(curl_easy_perform(curl), CURLE_OK);
    curl_easy_cleanup(curl);
    ck_assert_ptr_nonnull(answer);
    json_t *j = json_loads(answer, 0, NULL);
    free(answer);
    ck_assert_ptr_nonnull(j);
    return j;
}

/* Number of reviews the stand-in has recorded. */
static size_t recorded_reviews(void)
{
    json_t *stats = control("/_stats", 0);
    size_t n = json_array_size(json_object_get(stats, "reviews"));
    json_decref(stats);
    return n;
}

/* A typical body for a KTP review. */
static json_t *sample_body(long long now_ms)
{
    json_t *parsed = json_pack("{s:s, s:s}", "nik", "3171234567890001", "name", "BUDI");
    ck_assert_ptr_nonnull(parsed);
    json_t *body = buli2_body("0b6f1c3e-5d2a-4c8e-9f10-2a3b4c5d6e7f",
                              "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", "KTP", parsed, 80, now_ms);
    json_decref(parsed);
    ck_assert_ptr_nonnull(body);
    return body;
}

/* Compact, order-preserving text of a JSON value (caller frees). */
static char *dump(const json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    ck_assert_ptr_nonnull(s);
    return s;
}

/* Asserts that text matches the extended regular expression re. */
static void assert_match(const char *text, const char *re)
{
    regex_t rx;
    ck_assert_int_eq(regcomp(&rx, re, REG_EXTENDED | REG_NOSUB), 0);
    int rc = regexec(&rx, text, 0, NULL, 0);
    regfree(&rx);
    ck_assert_msg(rc == 0, "'%s' does not match /%s/", text, re);
}

START_TEST(test_body_shape)
{
    json_t *parsed = json_pack("{s:s, s:s}", "nik", "3171234567890001", "name", "BUDI");
    json_t *body = buli2_body("doc-1", "user-1", "KTP", parsed, 70, 1795995038123LL);
    ck_assert_ptr_nonnull(body);
    char *text = dump(body);
    ck_assert_str_eq(text,
                     "{\"documentId\":\"doc-1\",\"userId\":\"user-1\",\"documentType\":\"KTP\","
                     "\"parsedData\":{\"nik\":\"3171234567890001\",\"name\":\"BUDI\"},"
                     "\"aiScore\":70,\"correlationId\":\"esc-doc-1-1795995038123\","
                     "\"metadata\":{\"submittedAt\":\"2026-11-29T23:30:38.123Z\"}}");
    free(text);
    /* parsedData is shared, not copied. */
    ck_assert_ptr_eq(json_object_get(body, "parsedData"), parsed);
    ck_assert_int_eq((int)parsed->refcount, 2);
    json_decref(body);
    ck_assert_int_eq((int)parsed->refcount, 1);
    json_decref(parsed);
}
END_TEST

START_TEST(test_body_formats)
{
    long long now = (long long)clock_wall_ms();
    json_t *body = sample_body(now);
    const char *corr = json_string_value(json_object_get(body, "correlationId"));
    ck_assert_ptr_nonnull(corr);
    assert_match(corr,
                 "^esc-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-[0-9]{13}$");
    char want[128];
    snprintf(want, sizeof want, "esc-0b6f1c3e-5d2a-4c8e-9f10-2a3b4c5d6e7f-%lld", now);
    ck_assert_str_eq(corr, want);
    const char *at =
        json_string_value(json_object_get(json_object_get(body, "metadata"), "submittedAt"));
    ck_assert_ptr_nonnull(at);
    assert_match(at, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$");
    ck_assert_int_eq((int)json_integer_value(json_object_get(body, "aiScore")), 80);
    ck_assert_int_eq((int)json_object_size(body), 7);
    json_decref(body);

    /* Missing values are JSON null, keys stay in place. */
    body = buli2_body("d", NULL, "NPWP", NULL, 0, 0);
    ck_assert_ptr_nonnull(body);
    char *text = dump(body);
    ck_assert_str_eq(text, "{\"documentId\":\"d\",\"userId\":null,\"documentType\":\"NPWP\","
                           "\"parsedData\":null,\"aiScore\":0,\"correlationId\":\"esc-d-0\","
                           "\"metadata\":{\"submittedAt\":\"1970-01-01T00:00:00.000Z\"}}");
    free(text);
    json_decref(body);

    /* Invalid UTF-8 cannot become JSON: no body. */
    ck_assert_ptr_null(buli2_body("d", "\xff", "KTP", NULL, 1, 1));
}
END_TEST

START_TEST(test_delivered_with_key)
{
    ck_assert_msg(api_url[0], "BULI2 stand-in did not start");
    ck_assert_uint_eq(recorded_reviews(), 0);
    struct buli2_config cfg = {.api_url = api_url, .api_key = "k123", .timeout_ms = 5000};
    json_t *body = sample_body((long long)clock_wall_ms());
    char ticket[256] = "junk", err[512] = "junk";
    ck_assert_int_eq(buli2_post(&cfg, body, ticket, sizeof ticket, err, sizeof err),
                     BULI2_DELIVERED);
    ck_assert_str_eq(ticket, "BULI2-TASK-0001");
    ck_assert_str_eq(err, "");

    json_t *stats = control("/_stats", 0);
    json_t *rec = json_array_get(json_object_get(stats, "reviews"), 0);
    ck_assert_ptr_nonnull(rec);
    ck_assert_str_eq(json_string_value(json_object_get(rec, "authorization")), "Bearer k123");
    char *sent = dump(body), *got = dump(json_object_get(rec, "body"));
    ck_assert_str_eq(got, sent);
    free(sent);
    free(got);
    json_decref(stats);
    json_decref(body);
}
END_TEST

START_TEST(test_delivered_without_key)
{
    ck_assert_msg(api_url[0], "BULI2 stand-in did not start");
    char url[300], want[64];
    snprintf(url, sizeof url, "%s/", api_url); /* trailing slash is dropped */
    struct buli2_config cfg = {.api_url = url, .api_key = "", .timeout_ms = 5000};
    size_t before = recorded_reviews();
    json_t *body = sample_body((long long)clock_wall_ms());
    char ticket[256], err[512];
    ck_assert_int_eq(buli2_post(&cfg, body, ticket, sizeof ticket, err, sizeof err),
                     BULI2_DELIVERED);
    snprintf(want, sizeof want, "BULI2-TASK-%04zu", before + 1);
    ck_assert_str_eq(ticket, want);

    json_t *stats = control("/_stats", 0);
    json_t *rec = json_array_get(json_object_get(stats, "reviews"), before);
    ck_assert_ptr_nonnull(rec);
    ck_assert(json_is_null(json_object_get(rec, "authorization")));
    ck_assert_str_eq(json_string_value(json_object_get(rec, "taskId")), want);
    json_decref(stats);
    json_decref(body);
}
END_TEST

START_TEST(test_injected_500)
{
    ck_assert_msg(api_url[0], "BULI2 stand-in did not start");
    json_decref(control("/_fail?status=500&count=1", 1));
    struct buli2_config cfg = {.api_url = api_url, .api_key = "k123", .timeout_ms = 5000};
    json_t *body = sample_body(1);
    char ticket[256], err[512];
    ck_assert_int_eq(buli2_post(&cfg, body, ticket, sizeof ticket, err, sizeof err), BULI2_RETRY);
    ck_assert_str_eq(err, "BULI2 returned status 500: {\"error\": \"injected failure\"}");
    ck_assert_str_eq(ticket, "");
    json_decref(body);
}
END_TEST

START_TEST(test_status_classes)
{
    ck_assert_msg(api_url[0], "BULI2 stand-in did not start");
    static const struct {
        int status;
        enum buli2_outcome want;
    } cases[] = {{400, BULI2_REJECTED}, {401, BULI2_REJECTED}, {403, BULI2_REJECTED},
                 {404, BULI2_REJECTED}, {422, BULI2_REJECTED}, {408, BULI2_RETRY},
                 {429, BULI2_RETRY},    {502, BULI2_RETRY},    {503, BULI2_RETRY}};
    struct buli2_config cfg = {.api_url = api_url, .api_key = "", .timeout_ms = 5000};
    json_t *body = sample_body(1);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[64], ticket[256], err[512], prefix[64];
        snprintf(path, sizeof path, "/_fail?status=%d&count=1", cases[i].status);
        json_decref(control(path, 1));
        enum buli2_outcome got = buli2_post(&cfg, body, ticket, sizeof ticket, err, sizeof err);
        ck_assert_msg(got == cases[i].want, "status %d: outcome %d", cases[i].status, (int)got);
        snprintf(prefix, sizeof prefix, "BULI2 returned status %d: ", cases[i].status);
        ck_assert_msg(strncmp(err, prefix, strlen(prefix)) == 0, "err '%s'", err);
    }
    json_decref(body);
}
END_TEST

/* A loopback TCP socket bound to a free port; listening when listen_too. */
static int loopback_socket(int listen_too, int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    socklen_t len = sizeof sin;
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    if (listen_too)
        ck_assert_int_eq(listen(fd, 8), 0);
    *port = ntohs(sin.sin_port);
    return fd;
}

START_TEST(test_closed_port_is_fast_retry)
{
    int port;
    int fd = loopback_socket(0, &port); /* bound, not listening: refused */
    char url[64], ticket[256], err[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    struct buli2_config cfg = {.api_url = url, .api_key = "k123", .timeout_ms = 30000};
    json_t *body = sample_body(1);
    uint64_t t0 = clock_mono_ms();
    ck_assert_int_eq(buli2_post(&cfg, body, ticket, sizeof ticket, err, sizeof err), BULI2_RETRY);
    ck_assert_uint_lt(clock_mono_ms() - t0, 1000);
    ck_assert_msg(err[0] && !strstr(err, "timeout") && !strstr(err, "k123"), "err '%s'", err);
    close(fd);
    json_decref(body);
}
END_TEST

START_TEST(test_silent_server_times_out)
{
    int port;
    int fd = loopback_socket(1, &port); /* the kernel accepts, nobody answers */
    char url[64], ticket[256], err[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    struct buli2_config cfg = {.api_url = url, .api_key = "", .timeout_ms = 300};
    json_t *body = sample_body(1);
    uint64_t t0 = clock_mono_ms();
    ck_assert_int_eq(buli2_post(&cfg, body, ticket, sizeof ticket, err, sizeof err), BULI2_RETRY);
    uint64_t took = clock_mono_ms() - t0;
    ck_assert_str_eq(err, "Request timeout after 300ms");
    ck_assert_uint_ge(took, 250);
    ck_assert_uint_lt(took, 2000);
    close(fd);
    json_decref(body);
}
END_TEST

/* One-shot HTTP responder: accepts one connection, records the request, sends a canned answer. */
struct responder {
    int fd;
    int port;
    const char *answer;
    size_t answer_len;
    char request[16384];
    pthread_t thread;
};

/* Reads one request (head and Content-Length body) into r->request, truncated to fit. */
static void read_request(struct responder *r, int c)
{
    size_t total = 0, stored = 0, need = 0;
    char buf[4096];

    while (need == 0 || total < need) {
        ssize_t n = recv(c, buf, sizeof buf, 0);
        if (n <= 0)
            return;
        size_t room = sizeof r->request - 1 - stored;
        size_t keep = (size_t)n < room ? (size_t)n : room;
        memcpy(r->request + stored, buf, keep);
        stored += keep;
        r->request[stored] = '\0';
        total += (size_t)n;
        const char *end = strstr(r->request, "\r\n\r\n");
        if (need == 0 && end) {
            const char *cl = strcasestr(r->request, "\r\nContent-Length:");
            need = (size_t)(end + 4 - r->request) + (cl ? strtoul(cl + 17, NULL, 10) : 0);
        }
    }
}

/* Thread body: serves exactly one connection. */
static void *respond_once(void *arg)
{
    struct responder *r = arg;
    struct pollfd p = {.fd = r->fd, .events = POLLIN};

    if (poll(&p, 1, 5000) != 1)
        return NULL;
    int c = accept(r->fd, NULL, NULL);
    if (c < 0)
        return NULL;
    struct timeval tv = {.tv_sec = 5};
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    read_request(r, c);
    for (size_t off = 0; off < r->answer_len;) {
        ssize_t n = send(c, r->answer + off, r->answer_len - off, MSG_NOSIGNAL);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    shutdown(c, SHUT_WR);
    close(c);
    return NULL;
}

/* Starts a responder for answer; the caller joins it with responder_stop. */
static void responder_start(struct responder *r, const char *answer, size_t len)
{
    memset(r, 0, sizeof *r);
    r->fd = loopback_socket(1, &r->port);
    r->answer = answer;
    r->answer_len = len;
    ck_assert_int_eq(pthread_create(&r->thread, NULL, respond_once, r), 0);
}

/* Waits for the responder thread and closes its socket. */
static void responder_stop(struct responder *r)
{
    pthread_join(r->thread, NULL);
    close(r->fd);
}

/* Posts sample_body to a responder answering with status and payload. */
static enum buli2_outcome post_to_responder(struct responder *r, const char *status,
                                            const char *payload, size_t payload_len,
                                            const char *key, char *ticket, char *err, size_t errlen)
{
    size_t cap = payload_len + 256;
    char *answer = malloc(cap);
    ck_assert_ptr_nonnull(answer);
    int head = snprintf(answer, cap,
                        "HTTP/1.1 %s\r\nContent-Type: application/json\r\n"
                        "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                        status, payload_len);
    memcpy(answer + head, payload, payload_len);
    responder_start(r, answer, (size_t)head + payload_len);

    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d///", r->port);
    struct buli2_config cfg = {.api_url = url, .api_key = key, .timeout_ms = 5000};
    json_t *body = sample_body(1);
    enum buli2_outcome got = buli2_post(&cfg, body, ticket, 256, err, errlen);
    responder_stop(r);
    json_decref(body);
    free(answer);
    return got;
}

START_TEST(test_non_json_2xx_is_retry)
{
    static struct responder r;
    char ticket[256], err[512];
    const char *p = "<html>accepted</html>";
    ck_assert_int_eq(
        post_to_responder(&r, "201 Created", p, strlen(p), "", ticket, err, sizeof err),
        BULI2_RETRY);
    ck_assert_str_eq(err, "BULI2 returned status 201 with a non-JSON body: <html>accepted</html>");
    ck_assert_str_eq(ticket, "");

    /* An empty 2xx body is not JSON either. */
    ck_assert_int_eq(post_to_responder(&r, "204 No Content", "", 0, "", ticket, err, sizeof err),
                     BULI2_RETRY);
    ck_assert_str_eq(err, "BULI2 returned status 204 with a non-JSON body: ");
}
END_TEST

START_TEST(test_request_shape)
{
    static struct responder r;
    char ticket[256], err[512];
    const char *p = "{\"taskId\":\"T-1\"}";
    ck_assert_int_eq(post_to_responder(&r, "200 OK", p, strlen(p), "", ticket, err, sizeof err),
                     BULI2_DELIVERED);
    ck_assert_str_eq(ticket, "T-1");
    ck_assert_msg(strncmp(r.request, "POST /internal/reviews HTTP/1.1\r\n", 33) == 0, "%s",
                  r.request);
    ck_assert_ptr_nonnull(strcasestr(r.request, "\r\nContent-Type: application/json\r\n"));
    ck_assert_ptr_null(strcasestr(r.request, "\r\nAuthorization:"));
    ck_assert_ptr_null(strcasestr(r.request, "\r\nExpect:"));
    json_t *body = sample_body(1);
    char *sent = dump(body);
    ck_assert_ptr_nonnull(strstr(r.request, sent));
    free(sent);
    json_decref(body);

    ck_assert_int_eq(
        post_to_responder(&r, "201 Created", p, strlen(p), "s3cr3t", ticket, err, sizeof err),
        BULI2_DELIVERED);
    ck_assert_ptr_nonnull(strstr(r.request, "\r\nAuthorization: Bearer s3cr3t\r\n"));
}
END_TEST

START_TEST(test_ticket_choice)
{
    static struct responder r;
    char ticket[256], err[512];
    static const struct {
        const char *answer;
        const char *ticket;
    } cases[] = {
        {"{\"taskId\":42,\"ticketId\":\"no\"}", "42"},
        {"{\"taskId\":null,\"ticketId\":\"TK-7\"}", "TK-7"},
        {"{\"ticketId\":9007199254740993}", "9007199254740993"},
        {"{\"taskId\":1.5}", "1.5"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *p = cases[i].answer;
        ck_assert_int_eq(
            post_to_responder(&r, "201 Created", p, strlen(p), "", ticket, err, sizeof err),
            BULI2_DELIVERED);
        ck_assert_str_eq(ticket, cases[i].ticket);
    }

    /* Longer than documents.buli2_ticket_id (varchar(255)): cut to 255 characters. */
    char long_answer[400];
    snprintf(long_answer, sizeof long_answer, "{\"taskId\":\"%0300d\"}", 7);
    ck_assert_int_eq(post_to_responder(&r, "201 Created", long_answer, strlen(long_answer), "",
                                       ticket, err, sizeof err),
                     BULI2_DELIVERED);
    ck_assert_uint_eq(strlen(ticket), 255);
    ck_assert_int_eq(ticket[0], '0');

    /* Neither key (or not an object): BULI2-<epochMs> at the time of the answer. */
    static const char *const fallbacks[] = {"{\"status\":\"queued\"}", "[1,2]", "\"ok\""};
    for (size_t i = 0; i < sizeof fallbacks / sizeof fallbacks[0]; i++) {
        uint64_t t0 = clock_wall_ms();
        ck_assert_int_eq(post_to_responder(&r, "202 Accepted", fallbacks[i], strlen(fallbacks[i]),
                                           "", ticket, err, sizeof err),
                         BULI2_DELIVERED);
        uint64_t t1 = clock_wall_ms();
        assert_match(ticket, "^BULI2-[0-9]{13}$");
        unsigned long long ms = strtoull(ticket + 6, NULL, 10);
        ck_assert_uint_ge(ms, t0);
        ck_assert_uint_le(ms, t1);
    }
}
END_TEST

START_TEST(test_error_text_limits)
{
    static struct responder r;
    char ticket[256], err[1024];
    /* 150 ASCII + 100 two-byte characters: 200 characters are quoted. */
    char p[400];
    memset(p, 'x', 150);
    for (int i = 0; i < 100; i++)
        memcpy(p + 150 + 2 * i, "\xc3\xa9", 2);
    ck_assert_int_eq(
        post_to_responder(&r, "503 Service Unavailable", p, 350, "", ticket, err, sizeof err),
        BULI2_RETRY);
    const char *prefix = "BULI2 returned status 503: ";
    ck_assert_int_eq(strncmp(err, prefix, strlen(prefix)), 0);
    ck_assert_uint_eq(strlen(err), strlen(prefix) + 150 + 2 * 50);

    /* A short err buffer never splits a character: 4 bytes left, "x" + one. */
    char small[32];
    ck_assert_int_eq(post_to_responder(&r, "503 Service Unavailable", p + 149, 201, "", ticket,
                                       small, sizeof small),
                     BULI2_RETRY);
    ck_assert_str_eq(small, "BULI2 returned status 503: x\xc3\xa9");

    /* Bytes that are not UTF-8 become '?'. */
    p[150] = '\xff';
    ck_assert_int_eq(
        post_to_responder(&r, "400 Bad Request", p + 148, 20, "", ticket, err, sizeof err),
        BULI2_REJECTED);
    ck_assert_str_eq(err, "BULI2 returned status 400: xx??"
                          "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9");
    json_t *s = json_string(err);
    ck_assert_ptr_nonnull(s);
    json_decref(s);
}
END_TEST

START_TEST(test_oversized_answer)
{
    static struct responder r;
    char ticket[256], err[512];
    size_t n = 200 * 1024;
    char *p = malloc(n);
    ck_assert_ptr_nonnull(p);
    memset(p, ' ', n);
    p[0] = '{';
    p[n - 1] = '}';
    ck_assert_int_eq(post_to_responder(&r, "201 Created", p, n, "", ticket, err, sizeof err),
                     BULI2_RETRY);
    ck_assert_ptr_nonnull(strstr(err, "BULI2 returned status 201 with a body over 65536 bytes"));
    memset(p, 'e', n);
    ck_assert_int_eq(post_to_responder(&r, "500 Oops", p, n, "", ticket, err, sizeof err),
                     BULI2_RETRY);
    ck_assert_uint_eq(strlen(err), strlen("BULI2 returned status 500: ") + 200);
    free(p);
}
END_TEST

START_TEST(test_bad_config)
{
    char ticket[256], err[256];
    json_t *body = sample_body(1);
    struct buli2_config cfg = {.api_url = "", .api_key = "", .timeout_ms = 100};
    ck_assert_int_eq(buli2_post(&cfg, body, ticket, sizeof ticket, err, sizeof err), BULI2_RETRY);
    ck_assert_str_eq(err, "BULI2_API_URL is not set");
    cfg.api_url = "http://127.0.0.1:1";
    cfg.api_key = "a\r\nX-Evil: 1";
    ck_assert_int_eq(buli2_post(&cfg, body, ticket, sizeof ticket, err, sizeof err), BULI2_RETRY);
    ck_assert_str_eq(err, "BULI2_API_KEY contains a line break");
    cfg.api_key = "";
    cfg.api_url = "ftp://127.0.0.1:1";
    ck_assert_int_eq(buli2_post(&cfg, body, ticket, sizeof ticket, err, sizeof err), BULI2_RETRY);
    ck_assert_msg(err[0] != '\0', "no message");
    ck_assert_int_eq(buli2_post(NULL, body, ticket, sizeof ticket, err, sizeof err),
                     BULI2_REJECTED);
    json_decref(body);
}
END_TEST

/* Builds the suite. */
static Suite *buli2_suite(void)
{
    Suite *s = suite_create("buli2");
    TCase *tb = tcase_create("body");
    tcase_add_test(tb, test_body_shape);
    tcase_add_test(tb, test_body_formats);
    suite_add_tcase(s, tb);

    TCase *ts = tcase_create("standin");
    tcase_add_unchecked_fixture(ts, start_servers, stop_servers);
    tcase_set_timeout(ts, 30);
    tcase_add_test(ts, test_delivered_with_key); /* first: expects BULI2-TASK-0001 */
    tcase_add_test(ts, test_delivered_without_key);
    tcase_add_test(ts, test_injected_500);
    tcase_add_test(ts, test_status_classes);
    suite_add_tcase(s, ts);

    TCase *tl = tcase_create("local");
    tcase_set_timeout(tl, 30);
    tcase_add_test(tl, test_closed_port_is_fast_retry);
    tcase_add_test(tl, test_silent_server_times_out);
    tcase_add_test(tl, test_non_json_2xx_is_retry);
    tcase_add_test(tl, test_request_shape);
    tcase_add_test(tl, test_ticket_choice);
    tcase_add_test(tl, test_error_text_limits);
    tcase_add_test(tl, test_oversized_answer);
    tcase_add_test(tl, test_bad_config);
    suite_add_tcase(s, tl);
    return s;
}

int main(void)
{
    log_init("test_buli2", LOG_WARN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = check_run(buli2_suite());
    curl_global_cleanup();
    return rc;
}
