/*
 * fuzz_db_text.c - OCR text made acceptable to PostgreSQL (db_text_*):
 * everything Tesseract reads off an uploaded image ends up in a text or
 * jsonb column, so its bytes are attacker-chosen.
 *
 * Input: the text.  Properties: db_text_utf8_clean() returns a string
 * without invalid bytes that jansson accepts, unchanged when the input was
 * already valid; db_text_json() of an object holding the clean text never
 * contains the \u0000 escape PostgreSQL's jsonb refuses.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ocr-workers/db_text.h"
#include "tests/fuzz/util.h"

/*
 * Fails unless dump (of valid text) is JSON that jansson reads without
 * JSON_ALLOW_NUL, i.e. holds no \u0000 escape (jsonb's rule).
 */
static void check_dump(char *dump)
{
    if (dump == NULL)
        fuzz_fail("db_text_json failed on valid text");
    json_error_t e;
    json_t *back = json_loads(dump, 0, &e);
    if (back == NULL)
        fuzz_fail("db_text_json output holds a \\u0000 escape or is not JSON");
    json_decref(back);
    free(dump);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstring(data, size);
    size_t invalid = db_text_invalid_bytes(text);
    char *clean = db_text_utf8_clean(text);
    if (clean == NULL)
        fuzz_fail("db_text_utf8_clean returned NULL");
    if (db_text_invalid_bytes(clean) != 0)
        fuzz_fail("cleaned text still has invalid bytes");
    if (invalid == 0 && strcmp(clean, text) != 0)
        fuzz_fail("valid text was changed");
    json_t *o = json_object();
    json_t *s = json_stringn_nocheck(clean, strlen(clean));
    if (o == NULL || s == NULL || json_object_set_new(o, "clean", s) != 0)
        fuzz_fail("out of memory");
    check_dump(db_text_json(o));
    /* All the bytes, NULs included, when they are valid UTF-8: \u0000 -> \ufffd. */
    json_t *raw = json_stringn((const char *)data, size);
    if (raw != NULL) {
        if (json_object_set_new(o, "raw", raw) != 0)
            fuzz_fail("out of memory");
        check_dump(db_text_json(o));
    }
    json_decref(o);
    free(clean);
    free(text);
    return 0;
}
