/*
 * fuzz_doc_parse.c - field extraction on plain OCR text: the compat parser
 * (doc_parse, doc_score, doc_decide) and extract's text-only helpers
 * (digit repair, NPWP number, NIK check, edit distance).  OCR text is
 * derived from an uploaded image, so every byte here is attacker-chosen.
 *
 * Input: byte 0 picks the document type, the rest is the text.
 * Properties: the parse is an object of strings that are valid UTF-8 (it is
 * stored as jsonb and published); the score stays in 0..100; every helper
 * keeps within the output size it is given.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ocr-workers/reading/doc_parse.h"
#include "ocr-workers/reading/extract.h"
#include "ocr-workers/reading/number_reader.h"
#include "ocr-workers/reading/text_rules.h"
#include "tests/fuzz/util.h"

/* Every value of a parse is a string jansson accepts (valid UTF-8). */
static void check_parse(enum doc_type t, json_t *parsed)
{
    const char *key;
    json_t *v;

    if (!json_is_object(parsed))
        fuzz_fail("doc_parse did not return an object");
    json_object_foreach(parsed, key, v)
    {
        if (!json_is_string(v))
            fuzz_fail("doc_parse value is not a string");
        json_t *copy = json_string(json_string_value(v));
        if (copy == NULL)
            fuzz_fail("doc_parse value is not valid UTF-8");
        json_decref(copy);
    }
    int score = doc_score(t, parsed);
    if (score < 0 || score > 100)
        fuzz_fail("doc_score out of 0..100");
    struct doc_verdict verdict;
    doc_decide(score, &verdict);
    if (verdict.decision == NULL || verdict.outcome == NULL)
        fuzz_fail("doc_decide left the verdict empty");
    int escore = extract_score(t, parsed);
    if (escore < 0 || escore > 100)
        fuzz_fail("extract_score out of 0..100");
}

/* The digit helpers with a deliberately small output: they must truncate. */
static void check_digit_helpers(const char *text)
{
    char small[8], npwp[32];

    memset(small, 'x', sizeof small);
    int n = extract_repair_digits(text, small, sizeof small);
    if (n >= 0)
        fuzz_check_terminated(small, sizeof small, "extract_repair_digits output");
    n = extract_npwp_number(text, npwp, sizeof npwp);
    if (n != -1 && n != 15 && n != 16)
        fuzz_fail("extract_npwp_number returned an unexpected count");
    if (n > 0)
        fuzz_check_terminated(npwp, sizeof npwp, "extract_npwp_number output");
}

/* The text's lines as NIK, birth date and gender, then as label candidates. */
static void check_line_helpers(char *text)
{
    char *save = NULL;
    const char *parts[3] = {NULL, NULL, NULL};
    int i = 0;

    for (char *line = strtok_r(text, "\n", &save); line != NULL && i < 3;
         line = strtok_r(NULL, "\n", &save))
        parts[i++] = line;
    if (parts[0] == NULL)
        return;
    int bits = extract_nik_check(parts[0], parts[1], parts[2]);
    if (bits & ~(NIK_SHAPE | NIK_PROVINCE | NIK_DATE | NIK_BIRTH | NIK_GENDER))
        fuzz_fail("extract_nik_check returned an unknown bit");
    int d = extract_edit_distance(parts[0], parts[1] ? parts[1] : "");
    if (d < 0 || d > 64)
        fuzz_fail("extract_edit_distance out of range");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int quiet;
    if (!quiet++)
        fuzz_quiet_logs();
    if (size == 0)
        return 0;
    enum doc_type t = (data[0] & 1) ? DOC_NPWP : DOC_KTP;
    char *text = fuzz_cstring(data + 1, size - 1);
    enum doc_type parsed_type;
    (void)doc_type_parse(text, &parsed_type);
    json_t *parsed = doc_parse(t, text);
    if (parsed == NULL)
        fuzz_fail("doc_parse returned NULL");
    check_parse(t, parsed);
    json_decref(parsed);
    check_digit_helpers(text);
    check_line_helpers(text);
    free(text);
    return 0;
}
