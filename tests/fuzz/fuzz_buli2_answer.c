/*
 * fuzz_buli2_answer.c - the BULI2 response (status + body) as the
 * escalation path judges it (buli2_judge_answer).  The body comes from the
 * network: a broken or hostile BULI2 must never crash a worker, and what
 * we keep from it (ticket id, error text) goes into JSON and PostgreSQL.
 *
 * Input: bytes 0-1 the HTTP status (100..599), byte 2 flags (bit 0: body
 * was cut at the size cap; bits 1-2 pick the output buffer sizes), then
 * the body.
 * Properties: ticket and err are NUL-terminated within their buffers and
 * valid UTF-8 (jansson accepts them); only a 2xx JSON body delivers, and
 * then the ticket is not empty.
 */
#include <stdint.h>
#include <string.h>

#include "ocr-workers/buli2.h"
#include "tests/fuzz/util.h"

/* Fails unless s is NUL-terminated within cap and valid UTF-8. */
static void check_text(const char *s, size_t cap, const char *what)
{
    fuzz_check_terminated(s, cap, what);
    json_t *j = json_string(s);
    if (j == NULL)
        fuzz_fail(what);
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t caps[4] = {1, 7, 64, 512};
    static int quiet;
    if (!quiet++)
        fuzz_quiet_logs();
    if (size < 3)
        return 0;
    long status = 100 + (long)(((unsigned)data[0] << 8 | data[1]) % 500);
    int too_big = data[2] & 1;
    size_t tcap = caps[(data[2] >> 1) & 3], ecap = caps[(data[2] >> 3) & 3];
    char ticket[512], err[512];
    memset(ticket, 'x', sizeof ticket);
    memset(err, 'x', sizeof err);
    const char *body = size > 3 ? (const char *)data + 3 : NULL;
    enum buli2_outcome o =
        buli2_judge_answer(status, body, size - 3, too_big, ticket, tcap, err, ecap);
    if (o != BULI2_DELIVERED && o != BULI2_RETRY && o != BULI2_REJECTED)
        fuzz_fail("unknown outcome");
    if (o == BULI2_DELIVERED) {
        if (status < 200 || status > 299 || too_big)
            fuzz_fail("delivered without a whole 2xx answer");
        check_text(ticket, tcap, "ticket is not a terminated UTF-8 string");
        if (tcap > 1 && ticket[0] == '\0')
            fuzz_fail("delivered with an empty ticket");
    } else {
        check_text(err, ecap, "err is not a terminated UTF-8 string");
    }
    return 0;
}
