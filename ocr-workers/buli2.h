/*
 * buli2.h - escalation of a document to the BULI2 manual-review service,
 * compatible with the original (doc/COMPATIBILITY.md section 7):
 * POST {BULI2_API_URL}/internal/reviews, Bearer token when set, 30 s
 * timeout, ticket = taskId ?? ticketId ?? "BULI2-<epochMs>".
 */
#ifndef FILOT_BULI2_H
#define FILOT_BULI2_H

#include <jansson.h>
#include <stddef.h>

struct buli2_config {
    const char *api_url; /* BULI2_API_URL */
    const char *api_key; /* BULI2_API_KEY, "" = no Authorization header */
    long timeout_ms;
};

/*
 * Builds the original's request body:
 * {"documentId","userId","documentType","parsedData","aiScore",
 *  "correlationId":"esc-<docId>-<epochMs>","metadata":{"submittedAt":ISO}}
 */
json_t *buli2_body(const char *document_id, const char *user_id, const char *document_type,
                   json_t *parsed_data, int ai_score, long long now_ms);

enum buli2_outcome {
    BULI2_DELIVERED = 0, /* 2xx with a JSON body: ticket set */
    BULI2_RETRY,         /* network error, timeout, 5xx, 429: keep and retry later */
    BULI2_REJECTED       /* other 4xx: the service refuses this body; retrying won't help */
};

/*
 * Outcome of an exchange that produced an HTTP status, from the status and
 * the response body (len bytes, not NUL-terminated; too_big when it was cut
 * at the size cap): a 2xx JSON body delivers (ticket as described above),
 * anything else is RETRY or REJECTED with err saying why.  ticket and err
 * are always valid UTF-8, whatever the body holds.  Used by buli2_post();
 * public so the untrusted response bytes can be fuzzed (tests/fuzz).
 */
enum buli2_outcome buli2_judge_answer(long status, const char *body, size_t len, int too_big,
                                      char *ticket, size_t ticketlen, char *err, size_t errlen);

/*
 * POSTs body.  ticket receives the ticket id on delivery.  err gets the
 * original's message shape: "BULI2 returned status N: <body>", or the
 * transport error, e.g. "Request timeout after 30000ms".
 */
enum buli2_outcome buli2_post(const struct buli2_config *cfg, const json_t *body, char *ticket,
                              size_t ticketlen, char *err, size_t errlen);

#endif
