/*
 * engine.c - one Tesseract engine per worker process, over the C API.
 *
 * The engine is created and loaded once (about 0.1-0.2 s for ind+eng) and
 * reused for every job; TessBaseAPIClear() drops the image and results
 * between jobs.  OEM 1 (LSTM only: Debian's models are tessdata_fast, with
 * no legacy components) and PSM 3 (auto, what the original's CLI ran) are
 * set explicitly because the C API's default PSM is 6.
 *
 * Tesseract's diagnostics (tprintf) go to the global "debug_file" parameter,
 * set to /dev/null before Init: its stderr chatter ("Estimating resolution",
 * "Error opening data file") would otherwise bypass our JSON log.  Failures
 * are reported here through return codes and one log line instead.
 */
#include "engine.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tesseract/capi.h>

#include "common/log.h"
#include "common/preproc.h"
#include "common/status.h"

/*
 * Resolutions outside this range are not believed.  Tesseract itself clamps
 * to 70..2400 and prints a warning for the rest; we leave the estimate to
 * Tesseract instead (see engine_recognize).
 */
#define MIN_CREDIBLE_PPI 70
#define MAX_CREDIBLE_PPI 2400

struct ocr_engine {
    TessBaseAPI *api;
};

/*
 * Language strings become file names under tessdata ("ind" ->
 * ind.traineddata), so only [A-Za-z0-9_-] separated by '+' is accepted: no
 * path separators or dots from configuration reach the file system.
 */
static int langs_valid(const char *langs)
{
    size_t n = 0, part = 0;

    for (const char *p = langs; *p != '\0'; p++, n++) {
        char c = *p;
        if (c == '+') {
            if (part == 0)
                return 0;
            part = 0;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return 0;
        part++;
    }
    return n > 0 && n < 256 && part > 0;
}

/*
 * Tesseract loads the first language strictly but only warns about a
 * missing later one ("ind+xx" runs as "ind").  A typo in configuration must
 * not silently drop a language, so every requested name must be loaded.
 */
static int langs_all_loaded(TessBaseAPI *api, const char *langs)
{
    char **loaded = TessBaseAPIGetLoadedLanguagesAsVector(api);
    const char *p = langs;
    int ok = loaded != NULL;

    while (ok && *p != '\0') {
        size_t n = strcspn(p, "+");
        int found = 0;
        for (char **l = loaded; *l != NULL && !found; l++)
            found = strlen(*l) == n && strncmp(*l, p, n) == 0;
        if (!found) {
            char missing[256];
            snprintf(missing, sizeof(missing), "%.*s", (int)n, p);
            log_kv(LOG_ERROR, "Tesseract language not loaded", LF_STR, "lang", missing, LF_STR,
                   "langs", langs, LF_END);
            ok = 0;
        }
        p += n;
        if (*p == '+')
            p++;
    }
    if (loaded != NULL)
        TessDeleteTextArray(loaded);
    return ok;
}

/*
 * Creates the API, silences tprintf, loads langs with the LSTM engine and
 * sets PSM 3.  On failure nothing is left allocated and *out is NULL.
 */
int engine_open(const char *langs, struct ocr_engine **out)
{
    struct ocr_engine *e;

    if (out == NULL)
        return FILOT_EINVAL;
    *out = NULL;
    if (langs == NULL || !langs_valid(langs)) {
        log_kv(LOG_ERROR, "Invalid OCR language list", LF_STR, "langs", langs, LF_END);
        return FILOT_EINVAL;
    }
    e = calloc(1, sizeof(*e));
    if (e == NULL) {
        log_kv(LOG_ERROR, "Out of memory creating OCR engine", LF_END);
        return FILOT_ENOMEM;
    }
    e->api = TessBaseAPICreate();
    if (e->api == NULL) {
        free(e);
        log_kv(LOG_ERROR, "Tesseract API creation failed", LF_END);
        return FILOT_ENOMEM;
    }
    /* Must precede Init so that model-loading messages are silenced too. */
    TessBaseAPISetVariable(e->api, "debug_file", "/dev/null");
    /* NULL datapath: TESSDATA_PREFIX, else the compiled-in tessdata dir. */
    int loaded = TessBaseAPIInit2(e->api, NULL, langs, OEM_LSTM_ONLY) == 0;
    if (!loaded)
        log_kv(LOG_ERROR, "Tesseract could not load language data", LF_STR, "langs", langs, LF_STR,
               "hint", "check TESSDATA_PREFIX and that <lang>.traineddata exists", LF_END);
    if (!loaded || !langs_all_loaded(e->api, langs)) {
        TessBaseAPIEnd(e->api);
        TessBaseAPIDelete(e->api);
        free(e);
        return FILOT_EUNAVAIL;
    }
    TessBaseAPISetPageSegMode(e->api, PSM_AUTO);
    *out = e;
    return 0;
}

/*
 * Argument checks shared by the recognise calls: FILOT_EINVAL for a bad
 * image, FILOT_ETOOBIG (logged) above Tesseract's side limit.
 */
static int check_image(const struct ocr_engine *e, const uint8_t *gray, uint32_t width,
                       uint32_t height, uint32_t stride)
{
    if (e == NULL || e->api == NULL || gray == NULL || width == 0 || height == 0 ||
        stride < width || stride > (uint32_t)INT32_MAX)
        return FILOT_EINVAL;
    if (width > PP_OCR_MAX_SIDE || height > PP_OCR_MAX_SIDE) {
        log_kv(LOG_WARN, "Image side above Tesseract's limit", LF_INT, "width", (long long)width,
               LF_INT, "height", (long long)height, LF_INT, "limit", (long long)PP_OCR_MAX_SIDE,
               LF_END);
        return FILOT_ETOOBIG;
    }
    return 0;
}

/*
 * Sets the image and runs recognition.  The image is not copied by us;
 * Tesseract copies it into its own PIX in SetImage, so gray need only live
 * for this call.  A resolution is passed only when the file's is credible:
 * for an unknown one (0) Tesseract estimates it from the text height,
 * exactly as the CLI does for a file without a resolution, which keeps
 * results identical to the original service.  The caller clears.
 */
static int set_and_recognize(struct ocr_engine *e, const uint8_t *gray, uint32_t width,
                             uint32_t height, uint32_t stride, int ppi)
{
    TessBaseAPISetImage(e->api, gray, (int)width, (int)height, 1, (int)stride);
    if (ppi >= MIN_CREDIBLE_PPI && ppi <= MAX_CREDIBLE_PPI)
        TessBaseAPISetSourceResolution(e->api, ppi);
    if (TessBaseAPIRecognize(e->api, NULL) != 0) {
        log_kv(LOG_WARN, "Tesseract recognition failed", LF_INT, "width", (long long)width, LF_INT,
               "height", (long long)height, LF_END);
        return FILOT_EFORMAT;
    }
    return 0;
}

/* Copies the recognised text and mean confidence of the last recognition. */
static int take_text(struct ocr_engine *e, char **text, int *mean_conf)
{
    char *utf8 = TessBaseAPIGetUTF8Text(e->api);
    if (utf8 == NULL) {
        log_kv(LOG_ERROR, "Tesseract returned no text", LF_END);
        return FILOT_EIO;
    }
    *text = strdup(utf8);
    TessDeleteText(utf8);
    if (*text == NULL) {
        log_kv(LOG_ERROR, "Out of memory copying OCR text", LF_END);
        return FILOT_ENOMEM;
    }
    int conf = TessBaseAPIMeanTextConf(e->api);
    *mean_conf = conf < 0 ? 0 : conf > 100 ? 100 : conf;
    return 0;
}

/* Appends the word under the iterator to page (grows the array by doubling). */
static int push_word(TessResultIterator *it, struct ocr_page *page, size_t *cap)
{
    char *w = TessResultIteratorGetUTF8Text(it, RIL_WORD);
    if (w == NULL)
        return 0;
    if (page->nwords == *cap) {
        size_t n = *cap ? *cap * 2 : 64;
        struct ocr_word *grown = realloc(page->words, n * sizeof *grown);
        if (grown == NULL) {
            TessDeleteText(w);
            return FILOT_ENOMEM;
        }
        page->words = grown;
        *cap = n;
    }
    struct ocr_word *o = &page->words[page->nwords];
    o->text = strdup(w);
    TessDeleteText(w);
    if (o->text == NULL)
        return FILOT_ENOMEM;
    float conf = TessResultIteratorConfidence(it, RIL_WORD);
    o->conf = conf < 0 ? 0 : conf > 100 ? 100 : (int)(conf + 0.5f);
    const TessPageIterator *pi = TessResultIteratorGetPageIteratorConst(it);
    if (!TessPageIteratorBoundingBox(pi, RIL_WORD, &o->x0, &o->y0, &o->x1, &o->y1))
        o->x0 = o->y0 = o->x1 = o->y1 = 0;
    page->nwords++;
    return 0;
}

/* Collects every word of the last recognition into page. */
static int take_words(struct ocr_engine *e, struct ocr_page *page)
{
    TessResultIterator *it = TessBaseAPIGetIterator(e->api);
    size_t cap = 0;
    int rc = 0;
    if (it == NULL)
        return 0; /* an empty page has no iterator */
    do {
        rc = push_word(it, page, &cap);
    } while (rc == 0 && TessResultIteratorNext(it, RIL_WORD));
    TessResultIteratorDelete(it);
    return rc;
}

/*
 * One recognition (see set_and_recognize()); results are cleared before
 * returning, success or not, so the next job starts clean.
 */
int engine_recognize_page(struct ocr_engine *e, const uint8_t *gray, uint32_t width,
                          uint32_t height, uint32_t stride, int ppi, struct ocr_page *page)
{
    if (page == NULL)
        return FILOT_EINVAL;
    memset(page, 0, sizeof *page);
    int rc = check_image(e, gray, width, height, stride);
    if (rc != 0)
        return rc;
    rc = set_and_recognize(e, gray, width, height, stride, ppi);
    if (rc == 0)
        rc = take_text(e, &page->text, &page->mean_conf);
    if (rc == 0)
        rc = take_words(e, page);
    TessBaseAPIClear(e->api);
    if (rc != 0)
        ocr_page_free(page);
    return rc;
}

void ocr_page_free(struct ocr_page *page)
{
    if (page == NULL)
        return;
    for (size_t i = 0; i < page->nwords; i++)
        free(page->words[i].text);
    free(page->words);
    free(page->text);
    memset(page, 0, sizeof *page);
}

/*
 * PSM 7 on a rectangle, clamped to the image.  The whitelist and PSM are
 * engine-wide settings, so both are put back before returning.
 */
int engine_read_line(struct ocr_engine *e, const uint8_t *gray, uint32_t width, uint32_t height,
                     uint32_t stride, int x0, int y0, int x1, int y1, const char *whitelist,
                     char **text, int *conf)
{
    if (text != NULL)
        *text = NULL;
    if (conf != NULL)
        *conf = 0;
    if (text == NULL || conf == NULL)
        return FILOT_EINVAL;
    int rc = check_image(e, gray, width, height, stride);
    if (rc != 0)
        return rc;
    x0 = x0 < 0 ? 0 : x0;
    y0 = y0 < 0 ? 0 : y0;
    x1 = x1 > (int)width ? (int)width : x1;
    y1 = y1 > (int)height ? (int)height : y1;
    if (x1 - x0 < 2 || y1 - y0 < 2)
        return FILOT_EINVAL;
    TessBaseAPISetImage(e->api, gray, (int)width, (int)height, 1, (int)stride);
    TessBaseAPISetRectangle(e->api, x0, y0, x1 - x0, y1 - y0);
    TessBaseAPISetPageSegMode(e->api, PSM_SINGLE_LINE);
    TessBaseAPISetVariable(e->api, "tessedit_char_whitelist", whitelist ? whitelist : "");
    if (TessBaseAPIRecognize(e->api, NULL) != 0)
        rc = FILOT_EFORMAT;
    if (rc == 0)
        rc = take_text(e, text, conf);
    TessBaseAPISetVariable(e->api, "tessedit_char_whitelist", "");
    TessBaseAPISetPageSegMode(e->api, PSM_AUTO);
    TessBaseAPIClear(e->api);
    return rc;
}

/* Frees the engine; NULL is accepted.  End() first avoids leak warnings. */
void engine_close(struct ocr_engine *e)
{
    if (e == NULL)
        return;
    if (e->api != NULL) {
        TessBaseAPIEnd(e->api);
        TessBaseAPIDelete(e->api);
    }
    free(e);
}
