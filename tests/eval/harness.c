/*
 * harness.c - the two sides of `make eval` (tests/eval/run.sh).
 *
 *   harness compat KTP|NPWP <text      the compat parser (doc_parse) on a
 *                                      text, as the original's raw call feeds it
 *   harness ocr STEPS DIR <manifest    each "<file>\t<TYPE>" line of a
 *                                      gen-cards manifest through decode ->
 *                                      CPU preprocessing (STEPS, as
 *                                      OCR_PREPROCESS) -> one engine ->
 *                                      extract_document(), one JSON line per
 *                                      card with the timings
 *
 * The ocr mode runs the same functions as the worker's pipeline, so the
 * eval measures extraction whether or not pipeline.c calls it yet.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/preproc.h"
#include "ocr-workers/reading/decode.h"
#include "ocr-workers/reading/doc_parse.h"
#include "ocr-workers/reading/engine.h"
#include "ocr-workers/reading/extract.h"

#define MAX_TEXT (1u << 20)

/* compat mode: stdin text -> doc_parse JSON on stdout. */
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

/* One card: decode, preprocess, recognise, extract; prints one JSON line. */
static int run_card(struct ocr_engine *e, uint32_t steps, const char *path, enum doc_type t)
{
    char err[256];
    uint8_t *buf = NULL;
    size_t len = 0;
    struct pp_image img = {0};
    int ppi = 0;
    if (decode_read_file(path, 64u << 20, &buf, &len, err, sizeof err) != 0 ||
        decode_image(buf, len, 40000000, &img, &ppi, err, sizeof err) != 0) {
        free(buf);
        fprintf(stderr, "%s: %s\n", path, err);
        return 1;
    }
    free(buf);
    uint64_t t0 = clock_mono_us();
    struct pp_params p;
    pp_params_default(steps, &p);
    pp_plan(&p, img.width, img.height, 40000000);
    uint32_t ow, oh;
    pp_output_size(&p, img.width, img.height, &ow, &oh);
    uint8_t *gray = malloc((size_t)ow * oh);
    struct pp_result res = {0};
    int rc = gray ? pp_run_cpu(&img, &p, gray, (size_t)ow * oh, &res) : -1;
    free(img.data);
    uint64_t t1 = clock_mono_us();
    struct ocr_page page = {0};
    if (rc == 0)
        rc = engine_recognize_page(e, gray, res.width, res.height, res.width, 0, &page);
    uint64_t t2 = clock_mono_us();
    json_t *parsed = rc == 0 ? extract_document(e, t, gray, res.width, res.height, &page) : NULL;
    uint64_t t3 = clock_mono_us();
    json_t *line =
        json_pack("{s:s, s:o, s:o, s:I, s:I, s:I, s:f}", "file", path, "parsed",
                  parsed ? parsed : json_object(), "text", json_string(page.text ? page.text : ""),
                  "preUs", (json_int_t)(t1 - t0), "ocrUs", (json_int_t)(t2 - t1), "extractUs",
                  (json_int_t)(t3 - t2), "skew", (double)res.skew_deg);
    char *s = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER);
    printf("%s\n", s ? s : "{}");
    fflush(stdout);
    free(s);
    json_decref(line);
    ocr_page_free(&page);
    free(gray);
    return rc == 0 ? 0 : 1;
}

/* ocr mode: every manifest line of stdin. */
static int run_ocr(const char *spec, const char *dir)
{
    uint32_t steps;
    struct ocr_engine *e = NULL;
    if (pp_steps_parse(spec, &steps) != 0 || engine_open("ind+eng", &e) != 0)
        return 2;
    char line[4096];
    int failed = 0;
    while (fgets(line, sizeof line, stdin)) {
        char *tab = strchr(line, '\t');
        enum doc_type t;
        if (!tab)
            continue;
        *tab = '\0';
        tab[1 + strcspn(tab + 1, "\r\n")] = '\0';
        if (doc_type_parse(tab + 1, &t) != 0)
            continue;
        char path[4600];
        snprintf(path, sizeof path, "%s/%s", dir, line);
        failed |= run_card(e, steps, path, t);
    }
    engine_close(e);
    return failed;
}

/* Entry: the mode word, then its arguments (see the header). */
int main(int argc, char **argv)
{
    log_init("eval-harness", LOG_ERROR);
    if (argc == 3 && strcmp(argv[1], "compat") == 0)
        return run_compat(argv[2]);
    if (argc == 4 && strcmp(argv[1], "ocr") == 0)
        return run_ocr(argv[2], argv[3]);
    fprintf(stderr, "usage: %s compat KTP|NPWP <text | ocr STEPS DIR <manifest\n", argv[0]);
    return 2;
}
