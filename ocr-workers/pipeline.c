/*
 * pipeline.c - decode -> preprocess -> recognise -> parse -> score.
 */
#include "pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/clock.h"
#include "../common/log.h"
#include "../common/status.h"
#include "decode.h"

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
 * Preprocesses img on the GPU server when possible, else with the CPU twin
 * (unless OCR_GPU_AUTOFALLBACK=false).  On success *gray points either
 * into the leased slot or into *cpu_buf (caller frees).
 */
static int preprocess(struct pipeline *pl, const struct pp_image *img, struct pp_params *p,
                      const uint8_t **gray, uint8_t **cpu_buf, struct pp_result *res,
                      struct gpu_lease *lease, const char **where, char *err, size_t errlen)
{
    pp_plan(p, img->width, img->height, pl->cfg->max_pixels);
    if (pl->cfg->gpu_enabled || pl->cfg->gpu_emulate) {
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

/* Adds parsedResult, score, decision and outcome for a typed document. */
static void add_verdict(json_t *r, enum doc_type type, const char *text)
{
    if (type == DOC_NONE)
        return;
    json_t *parsed = doc_parse(type, text);
    int score = doc_score(type, parsed);
    struct doc_verdict v;
    doc_decide(score, &v);
    json_object_set_new(r, "parsedResult", parsed ? parsed : json_object());
    json_object_set_new(r, "score", json_integer(score));
    json_object_set_new(r, "decision", json_string(v.decision));
    json_object_set_new(r, "outcome", json_string(v.outcome));
}

json_t *pipeline_run(struct pipeline *pl, const uint8_t *buf, size_t len, enum doc_type type)
{
    uint64_t start = clock_mono_us();
    char err[256] = "";
    struct pp_image img = {0};
    int ppi = 0;
    if (decode_image(buf, len, pl->cfg->max_pixels, &img, &ppi, err, sizeof err) != 0)
        return pipeline_failure(err, type, start);
    struct pp_params p;
    pp_params_default(pl->steps, &p);
    const uint8_t *gray = NULL;
    uint8_t *cpu_buf = NULL;
    struct pp_result res = {0};
    struct gpu_lease lease = {0};
    const char *where = "cpu";
    json_t *result = NULL;
    if (preprocess(pl, &img, &p, &gray, &cpu_buf, &res, &lease, &where, err, sizeof err) != 0) {
        result = pipeline_failure(err, type, start);
        goto out;
    }
    uint64_t pre_us = clock_mono_us() - start;
    int eff_ppi = ppi > 0 ? (int)((float)ppi * p.scale + 0.5f) : 0;
    char *text = NULL;
    int conf = 0;
    if (engine_recognize(pl->engine, gray, res.width, res.height, res.width, eff_ppi, &text,
                         &conf) != 0) {
        result = pipeline_failure("Failed to perform OCR", type, start);
        goto out;
    }
    if (strcmp(where, "gpu") == 0)
        pl->gpu_jobs++;
    else
        pl->cpu_jobs++;
    result = json_object();
    json_object_set_new(result, "success", json_true());
    if (type != DOC_NONE)
        json_object_set_new(result, "documentType", json_string(doc_type_name(type)));
    json_t *jt = json_string(text);
    json_object_set_new(result, "ocrText", jt ? jt : json_string(""));
    json_object_set_new(result, "meanConfidence", json_integer(conf));
    add_verdict(result, type, text);
    json_object_set_new(result, "gpuProcessed", json_true());
    json_object_set_new(result, "preprocess", json_string(where));
    json_object_set_new(result, "skewDegrees", json_real((double)res.skew_deg));
    json_object_set_new(result, "preprocessMs", json_integer((json_int_t)(pre_us / 1000u)));
    json_object_set_new(result, "processingTimeMs",
                        json_integer((json_int_t)((clock_mono_us() - start) / 1000u)));
    free(text);
out:
    gpu_lease_release(&pl->gpu, &lease);
    free(cpu_buf);
    free(img.data);
    return result;
}
