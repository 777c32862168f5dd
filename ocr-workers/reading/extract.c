/*
 * extract.c - layout-aware KTP / NPWP field extraction (see extract.h): rows
 * from the word boxes (layout.c), the document type's field parsers
 * (fields_ktp.c, fields_npwp.c), the compat parser for what they missed.
 * Every allocation is local to one call; the returned JSON object is the
 * caller's.
 */
#include "ocr-workers/reading/extract.h"

#include <stdlib.h>
#include <string.h>

#include "common/status.h"
#include "ocr-workers/reading/fields.h"
#include "ocr-workers/reading/layout.h"
#include "ocr-workers/reading/ocra.h"

/* Fills compat keys the layout pass missed from doc_parse() on the text. */
static void compat_fallback(json_t *o, json_t *conf, enum doc_type t, const char *text)
{
    json_t *p = doc_parse(t, text ? text : "");
    const char *key;
    json_t *val;
    json_object_foreach(p, key, val)
    {
        if (!json_object_get(o, key)) {
            json_object_set(o, key, val);
            json_object_set_new(conf, key, json_integer(0));
        }
    }
    json_decref(p);
}

json_t *extract_fields(enum doc_type t, const struct ocr_page *page, extract_reread_fn reread,
                       void *ctx)
{
    json_t *o = json_object(), *conf = json_object();
    struct layout *L = malloc(sizeof *L);
    if (!o || !conf || !L || !page) {
        json_decref(o);
        json_decref(conf);
        free(L);
        return NULL;
    }
    layout_build_rows(page, L);
    if (t == DOC_KTP)
        fields_ktp(o, conf, L, reread, ctx);
    else if (t == DOC_NPWP)
        fields_npwp(o, conf, L, reread, ctx);
    free(L);
    if (t != DOC_NONE)
        compat_fallback(o, conf, t, page->text);
    json_object_set_new(o, "fieldConfidence", conf);
    return o;
}

struct reread_ctx {
    struct ocr_engine *e;
    const uint8_t *gray;
    uint32_t w, h;
};

/* extract_reread_fn over engine_read_line() and ocra_read_digits(). */
static int engine_reread(void *ctx, enum extract_read how, int x0, int y0, int x1, int y1,
                         const char *whitelist, char **text, int *conf)
{
    struct reread_ctx *c = ctx;
    if (how == EXTRACT_READ_LINE)
        return engine_read_line(c->e, c->gray, c->w, c->h, c->w, x0, y0, x1, y1, whitelist, text,
                                conf);
    char d[64];
    int n = ocra_read_digits(c->gray, c->w, c->h, c->w, x0, y0, x1, y1, d, sizeof d, conf);
    if (n < 0)
        return n;
    *text = strdup(d);
    return *text ? 0 : FILOT_ENOMEM;
}

json_t *extract_document(struct ocr_engine *e, enum doc_type t, const uint8_t *gray, uint32_t width,
                         uint32_t height, const struct ocr_page *page)
{
    struct reread_ctx c = {e, gray, width, height};
    return extract_fields(t, page, e && gray ? engine_reread : NULL, &c);
}

int extract_score(enum doc_type t, const json_t *parsed)
{
    static const char *const KTP_KEYS[] = {"nik",     "name",   "birthPlace", "birthDate",
                                           "address", "gender", "religion",   "maritalStatus"};
    static const char *const NPWP_KEYS[] = {"npwpNumber", "name"};
    const char *const *keys = t == DOC_KTP ? KTP_KEYS : NPWP_KEYS;
    size_t n = t == DOC_KTP ? 8 : 2;
    json_t *compat = json_object();
    if (!compat)
        return 0;
    for (size_t i = 0; i < n && parsed; i++) {
        json_t *v = json_object_get(parsed, keys[i]);
        if (v)
            json_object_set(compat, keys[i], v);
    }
    int s = doc_score(t, compat);
    json_decref(compat);
    return s;
}
