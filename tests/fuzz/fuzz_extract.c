/*
 * fuzz_extract.c - layout-aware field extraction (extract_fields) on word
 * boxes built from attacker-chosen text, with a second-read callback that
 * answers attacker-chosen text too.
 *
 * Input: byte 0 picks the document type (bit 0) and a layout variant (the
 * other bits: line pitch and a horizontal shear, so rows merge, split and
 * overlap in different ways); then the page text; optionally a NUL and the
 * text every second read returns.  Each whitespace-separated token of the
 * page text becomes a word whose box follows its line and column.
 * Properties: the result is an object; every compat value is a string;
 * every "fieldConfidence" entry is an integer 0..100 naming a key present.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/status.h"
#include "ocr-workers/reading/extract.h"
#include "tests/fuzz/util.h"

#define MAX_WORDS 512

/* The second-read answer: the text after the first NUL, if any. */
struct reread_ctx {
    const char *answer;
    int calls;
};

static int reread_stub(void *ctx, enum extract_read how, int x0, int y0, int x1, int y1,
                       const char *whitelist, char **text, int *conf)
{
    struct reread_ctx *c = ctx;
    (void)how;
    (void)whitelist;
    if (x1 <= x0 || y1 <= y0)
        fuzz_fail("reread asked for an empty rectangle");
    c->calls++;
    if (c->answer == NULL)
        return FILOT_EIO;
    *text = strdup(c->answer);
    if (*text == NULL)
        fuzz_fail("out of memory");
    *conf = (c->calls * 37) % 101;
    return 0;
}

/* Splits text into words with boxes; the page borrows text's bytes. */
static void build_page(char *text, uint8_t variant, struct ocr_page *page, struct ocr_word *words)
{
    int pitch = 20 + (variant & 0x1f) * 2; /* 20..82 px between lines */
    int shear = (variant >> 5) - 3;        /* -3..4 px per column */
    int line = 0, col = 0;
    size_t n = 0;
    char *p = text;

    page->text = NULL;
    page->mean_conf = 80;
    while (*p != '\0' && n < MAX_WORDS) {
        if (*p == '\n') {
            line++, col = 0, *p++ = '\0';
            continue;
        }
        if (*p == ' ' || *p == '\t') {
            col++, *p++ = '\0';
            continue;
        }
        size_t len = strcspn(p, " \t\n");
        int x0 = col * 12 + line * shear;
        int y0 = line * pitch + col * shear;
        words[n] =
            (struct ocr_word){p, (int)((n * 29) % 101), x0, y0, x0 + (int)len * 12 + 1, y0 + 18};
        n++;
        col += (int)len;
        p += len;
    }
    page->words = words;
    page->nwords = n;
}

/* Every fieldConfidence entry is 0..100 and names a key of the result. */
static void check_result(const json_t *o)
{
    const char *key;
    json_t *v;
    const json_t *conf = json_object_get(o, "fieldConfidence");

    if (!json_is_object(o))
        fuzz_fail("extract_fields did not return an object");
    json_object_foreach((json_t *)o, key, v)
    {
        if (strcmp(key, "fieldConfidence") != 0 && !json_is_string(v))
            fuzz_fail("extract_fields value is not a string");
    }
    if (conf == NULL)
        return;
    json_object_foreach((json_t *)conf, key, v)
    {
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 100)
            fuzz_fail("fieldConfidence entry is not an integer 0..100");
        if (json_object_get(o, key) == NULL)
            fuzz_fail("fieldConfidence names a key the result lacks");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct ocr_word words[MAX_WORDS];
    static int quiet;
    if (!quiet++)
        fuzz_quiet_logs();
    if (size == 0)
        return 0;
    enum doc_type t = (data[0] & 1) ? DOC_NPWP : DOC_KTP;
    char *full = fuzz_cstring(data + 1, size - 1);
    const uint8_t *nul = memchr(data + 1, '\0', size - 1);
    struct reread_ctx ctx = {nul ? full + (nul - (data + 1)) + 1 : NULL, 0};
    char *plain = strdup(full); /* page->text: build_page cuts full into words */
    if (plain == NULL)
        fuzz_fail("out of memory");
    struct ocr_page page;
    build_page(full, data[0] >> 1, &page, words);
    page.text = plain;
    json_t *o = extract_fields(t, &page, (data[0] & 0x80) ? NULL : reread_stub, &ctx);
    if (o == NULL)
        fuzz_fail("extract_fields returned NULL");
    check_result(o);
    json_decref(o);
    free(plain);
    free(full);
    return 0;
}
