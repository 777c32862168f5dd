/*
 * harness.c - the original's parser for `make eval` (tests/eval/run.sh).
 *
 *   eval-harness compat KTP|NPWP <text   prints doc_parse()'s JSON for the
 *                                        text: what the original's regexes
 *                                        make of its raw Tesseract output
 *
 * doc_parse is our bit-compatible port of the original's ktpParser /
 * npwpParser, so the raw side of the table is the original's behaviour, not
 * a re-implementation in the eval's own language.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "ocr-workers/reading/doc_parse.h"

#define MAX_TEXT (1u << 20)

/* stdin text -> doc_parse JSON on stdout; 2 on a bad type or no memory. */
static int run_compat(const char *type)
{
    enum doc_type t;
    char *text = calloc(1, MAX_TEXT + 1);
    if (!text || doc_type_parse(type, &t) != 0) {
        free(text);
        return 2;
    }
    size_t n = fread(text, 1, MAX_TEXT, stdin);
    text[n] = '\0';
    json_t *p = doc_parse(t, text);
    char *s = json_dumps(p, JSON_COMPACT | JSON_PRESERVE_ORDER);
    printf("%s\n", s ? s : "{}");
    free(s);
    json_decref(p);
    free(text);
    return 0;
}

/* Entry: `compat TYPE` (see the header). */
int main(int argc, char **argv)
{
    log_init("eval-harness", LOG_ERROR);
    if (argc == 3 && strcmp(argv[1], "compat") == 0)
        return run_compat(argv[2]);
    fprintf(stderr, "usage: %s compat KTP|NPWP <text\n", argv[0]);
    return 2;
}
