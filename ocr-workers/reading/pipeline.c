/*
 * pipeline.c - decode -> preprocess -> recognise -> parse -> score.
 */
#include "pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/status.h"
#include "card_geometry.h"
#include "decision.h"
#include "decode.h"
#include "extract.h"
#include "pdf_render.h"

/*
 * Longest side a landscape JPEG is decoded at when libjpeg can shrink it
 * (decode_image_scaled): a card spanning 53 % of that side (28 % of a 4:3
 * frame) still arrives at the canonical card width, the smallest card the
 * card finder accepts (25 % of the frame) at 95 % of it.  A 12 MP photo
 * (4000 x 3000) is decoded at 2000 x 1500.
 */
#define DECODE_MIN_LONG_SIDE (PP_CARD_WIDTH * 19u / 10u)

/* What recognising one page produced. */
struct page_result {
    char *text;
    int conf;
    const char *where; /* "gpu" | "cpu" */
    float skew_deg;
    json_t *parsed; /* fields, when asked for (first page of a typed document) */
};

json_t *pipeline_failure(const char *error, enum doc_type type, uint64_t start_us)
{
    json_t *r = json_object();
    if (r == NULL)
        return NULL;
    json_object_set_new(r, "success", json_false());
    if (type != DOC_NONE)
        json_object_set_new(r, "documentType", json_string(doc_type_name(type)));
    json_t *e = json_string(error);
    json_object_set_new(r, "error", e ? e : json_string("error text is not valid UTF-8"));
    json_object_set_new(r, "gpuProcessed", json_false());
    json_object_set_new(r, "processingTimeMs",
                        json_integer((json_int_t)((clock_mono_us() - start_us) / 1000u)));
    return r;
}

/*
 * Preprocesses img on the GPU server when allowed and possible, else with
 * the CPU twin (unless OCR_GPU_AUTOFALLBACK=false).  On success *gray
 * points into the leased slot or into *cpu_buf (caller frees).
 */
static int preprocess(struct pipeline *pl, const struct pp_image *img, struct pp_params *p,
                      bool force_cpu, const uint8_t **gray, uint8_t **cpu_buf,
                      struct pp_result *res, struct gpu_lease *lease, const char **where, char *err,
                      size_t errlen)
{
    pp_plan(p, img->width, img->height, pl->cfg->max_pixels);
    if (!force_cpu && (pl->cfg->gpu_enabled || pl->cfg->gpu_emulate)) {
        int rc = gpu_preprocess(&pl->gpu, img, p, gray, res, lease);
        if (rc == 0) {
            *where = "gpu";
            return 0;
        }
        if (!pl->cfg->gpu_autofallback) {
            snprintf(err, errlen,
                     "GPU preprocessing unavailable (%s) and OCR_GPU_AUTOFALLBACK=false",
                     filot_strerror(rc));
            return rc;
        }
    }
    uint32_t ow, oh;
    pp_output_size(p, img->width, img->height, &ow, &oh);
    *cpu_buf = malloc((size_t)ow * oh);
    if (*cpu_buf == NULL) {
        snprintf(err, errlen, "out of memory for a %ux%u image", ow, oh);
        return FILOT_ENOMEM;
    }
    int rc = pp_run_cpu(img, p, *cpu_buf, (size_t)ow * oh, res);
    if (rc != 0) {
        snprintf(err, errlen, "preprocessing failed: %s", filot_strerror(rc));
        return rc;
    }
    *gray = *cpu_buf;
    *where = "cpu";
    return 0;
}

/* Resolution of the canonical card raster (85.6 mm across PP_CARD_WIDTH px). */
#define CARD_RASTER_PPI 300

/*
 * Preprocesses and recognises one decoded page; with a document type, also
 * extracts the fields from the page's word boxes while the preprocessed
 * image is still at hand (it may live in a leased slot).  card_quad (or
 * NULL) is the card found in the page: preprocessing then warps it to the
 * card raster instead of rescaling the whole frame.
 */
static int ocr_page(struct pipeline *pl, const struct pp_image *img, int ppi,
                    const float *card_quad, bool force_cpu, enum doc_type type,
                    struct stage_times *st, struct page_result *out, char *err, size_t errlen)
{
    struct pp_params p;
    pp_params_default(pl->steps, &p);
    if (card_quad != NULL) {
        p.warp = 1;
        memcpy(p.quad, card_quad, sizeof p.quad);
        ppi = CARD_RASTER_PPI;
    }
    const uint8_t *gray = NULL;
    uint8_t *cpu_buf = NULL;
    struct pp_result res = {0};
    struct gpu_lease lease = {0};
    out->where = "cpu";
    uint64_t t = clock_mono_us();
    int rc =
        preprocess(pl, img, &p, force_cpu, &gray, &cpu_buf, &res, &lease, &out->where, err, errlen);
    if (rc == 0 && strcmp(out->where, "gpu") == 0) {
        /* the GPU server's own work is preprocessing, the rest of the round trip hand-off */
        uint64_t round_trip = clock_mono_us() - t;
        uint64_t gpu_us = res.elapsed_us < round_trip ? res.elapsed_us : round_trip;
        stage_add(st, STAGE_PREPROCESS, gpu_us);
        stage_add(st, STAGE_HANDOFF, round_trip - gpu_us);
        t += round_trip;
    } else {
        stage_lap(st, STAGE_PREPROCESS, &t);
    }
    if (rc == 0) {
        int eff_ppi = ppi > 0 && !p.warp ? (int)((float)ppi * p.scale + 0.5f) : ppi;
        struct ocr_page page = {0};
        rc = engine_recognize_page(pl->engine, gray, res.width, res.height, res.width, eff_ppi,
                                   &page);
        stage_lap(st, STAGE_RECOGNISE, &t);
        if (rc != 0)
            snprintf(err, errlen, "Failed to perform OCR");
        if (rc == 0 && type != DOC_NONE)
            out->parsed = extract_document(pl->engine, type, gray, res.width, res.height, &page);
        stage_lap(st, STAGE_EXTRACT, &t);
        if (rc == 0) {
            out->text = page.text;
            out->conf = page.mean_conf;
            page.text = NULL;
        }
        ocr_page_free(&page);
        out->skew_deg = res.skew_deg;
    }
    gpu_lease_release(&pl->gpu, &lease);
    free(cpu_buf);
    return rc;
}

/* Appends one page's text; pages are separated by a form feed like the CLI's. */
static int append_text(char **all, size_t *len, const char *page, bool first)
{
    size_t add = strlen(page) + (first ? 0 : 1);
    char *grown = realloc(*all, *len + add + 1);
    if (grown == NULL)
        return FILOT_ENOMEM;
    if (!first)
        grown[(*len)++] = '\f';
    memcpy(grown + *len, page, strlen(page) + 1);
    *len += strlen(page);
    *all = grown;
    return 0;
}

struct doc_text {
    char *text;
    int conf_sum;
    int pages;
    bool any_gpu;
    bool any_cpu;
    json_t *parsed; /* from the first page */
};

static void note_page(struct doc_text *d, struct page_result *pr)
{
    if (d->parsed == NULL) {
        d->parsed = pr->parsed;
        pr->parsed = NULL;
    }
    d->conf_sum += pr->conf;
    d->pages++;
    if (strcmp(pr->where, "gpu") == 0)
        d->any_gpu = true;
    else
        d->any_cpu = true;
}

/* Renders and recognises up to OCR_PDF_MAX_PAGES pages, in page order. */
static int ocr_pdf(struct pipeline *pl, const uint8_t *buf, size_t len,
                   const struct pipeline_opts *o, struct doc_text *d, char *err, size_t errlen)
{
    struct pdf_doc *doc = NULL;
    uint64_t t = clock_mono_us();
    int rc = pdf_open(buf, len, &doc, err, errlen);
    stage_lap(o->times, STAGE_DECODE, &t);
    if (rc != 0)
        return rc;
    int n = pdf_page_count(doc);
    if (n > (int)pl->cfg->pdf_max_pages)
        n = (int)pl->cfg->pdf_max_pages;
    size_t tlen = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        struct pp_image img = {0};
        t = clock_mono_us();
        rc = pdf_render_page(doc, i, (int)pl->cfg->pdf_dpi, pl->cfg->max_pixels, &img, err, errlen);
        stage_lap(o->times, STAGE_DECODE, &t);
        struct page_result pr = {0};
        if (rc == 0)
            rc = ocr_page(pl, &img, (int)pl->cfg->pdf_dpi, NULL, o->force_cpu,
                          i == 0 ? o->type : DOC_NONE, o->times, &pr, err, errlen);
        if (rc == 0) {
            rc = append_text(&d->text, &tlen, pr.text, i == 0);
            note_page(d, &pr);
        }
        free(pr.text);
        json_decref(pr.parsed);
        free(img.data);
    }
    pdf_close(doc);
    return rc;
}

/*
 * The card in a photo of a card document (OCR_PREPROCESS step "card"):
 * returns quad, or NULL when the job is not a card type, the step is off or
 * no card is found (then the whole frame is preprocessed as before).  Plain
 * OCR jobs are left alone: a landscape page photo can have a card's
 * proportions, and squeezing a page into the card raster would ruin it.
 */
static const float *find_card(const struct pipeline *pl, const struct pp_image *img,
                              enum doc_type type, float quad[8])
{
    if (type == DOC_NONE || !(pl->steps & PP_STEP_CARD))
        return NULL;
    int rc = card_find(img, quad);
    if (rc < 0)
        log_kv(LOG_WARN, "Card search failed; preprocessing the whole image", LF_STR, "error",
               filot_strerror(rc), LF_END);
    else
        log_kv(LOG_DEBUG, rc == 1 ? "Card found" : "No card found", LF_INT, "width",
               (long long)img->width, LF_INT, "height", (long long)img->height, LF_END);
    return rc == 1 ? quad : NULL;
}

static int ocr_image(struct pipeline *pl, const uint8_t *buf, size_t len,
                     const struct pipeline_opts *o, struct doc_text *d, char *err, size_t errlen)
{
    struct pp_image img = {0};
    int ppi = 0;
    float quad[8];
    uint64_t t = clock_mono_us();
    int rc = decode_image_scaled(buf, len, pl->cfg->max_pixels, DECODE_MIN_LONG_SIDE, &img, &ppi,
                                 NULL, err, errlen);
    stage_lap(o->times, STAGE_DECODE, &t);
    struct page_result pr = {0};
    const float *card = rc == 0 ? find_card(pl, &img, o->type, quad) : NULL;
    stage_lap(o->times, STAGE_PREPROCESS, &t);
    if (rc == 0)
        rc = ocr_page(pl, &img, ppi, card, o->force_cpu, o->type, o->times, &pr, err, errlen);
    if (rc == 0) {
        d->text = pr.text;
        note_page(d, &pr);
    }
    json_decref(pr.parsed);
    free(img.data);
    return rc;
}

/*
 * Adds parsedResult, score, decision, outcome and reviewReasons for a typed
 * document.  The score is the original formula over the original keys
 * only; the decision follows OCR_DECISION_POLICY (decision.h).
 */
static void add_verdict(json_t *r, bool compat, enum doc_type type, const char *text,
                        json_t *parsed)
{
    if (type == DOC_NONE)
        return;
    if (parsed == NULL)
        parsed = doc_parse(type, text);
    int score = extract_score(type, parsed);
    struct doc_verdict v;
    json_t *reasons = json_array();
    if (reasons == NULL || decision_decide(compat, type, score, parsed, text, &v, reasons) != 0)
        doc_verdict_set(false, &v); /* out of memory: never approve unchecked */
    json_object_set_new(r, "parsedResult", parsed ? parsed : json_object());
    json_object_set_new(r, "score", json_integer(score));
    json_object_set_new(r, "decision", json_string(v.decision));
    json_object_set_new(r, "outcome", json_string(v.outcome));
    json_object_set_new(r, "reviewReasons", reasons ? reasons : json_array());
}

json_t *pipeline_run(struct pipeline *pl, const uint8_t *buf, size_t len,
                     const struct pipeline_opts *o, bool *retryable)
{
    uint64_t start = clock_mono_us();
    char err[256] = "";
    struct doc_text d = {0};
    int rc = pdf_is_pdf(buf, len) ? ocr_pdf(pl, buf, len, o, &d, err, sizeof err)
                                  : ocr_image(pl, buf, len, o, &d, err, sizeof err);
    if (retryable != NULL)
        *retryable = rc == FILOT_ENOMEM || strcmp(err, "Failed to perform OCR") == 0;
    if (rc != 0) {
        free(d.text);
        json_decref(d.parsed);
        return pipeline_failure(err[0] ? err : filot_strerror(rc), o->type, start);
    }
    uint64_t t = clock_mono_us();
    const char *where = d.any_gpu && !d.any_cpu ? "gpu" : "cpu";
    if (strcmp(where, "gpu") == 0)
        pl->gpu_jobs++;
    else
        pl->cpu_jobs++;
    json_t *result = json_object();
    json_object_set_new(result, "success", json_true());
    if (o->type != DOC_NONE)
        json_object_set_new(result, "documentType", json_string(doc_type_name(o->type)));
    json_t *jt = json_string(d.text);
    json_object_set_new(result, "ocrText", jt ? jt : json_string(""));
    json_object_set_new(result, "meanConfidence",
                        json_integer(d.pages > 0 ? d.conf_sum / d.pages : 0));
    add_verdict(result, pl->cfg->decision_compat, o->type, d.text, d.parsed);
    json_object_set_new(result, "gpuProcessed", json_true());
    json_object_set_new(result, "preprocess", json_string(where));
    json_object_set_new(result, "pages", json_integer(d.pages));
    stage_lap(o->times, STAGE_EXTRACT, &t); /* the verdict: parse fallback, score, decision */
    json_object_set_new(result, "processingTimeMs",
                        json_integer((json_int_t)((clock_mono_us() - start) / 1000u)));
    free(d.text);
    return result;
}
