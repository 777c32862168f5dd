/*
 * preproc.h - image preprocessing before recognition.
 *
 * One pipeline, two implementations: the CPU twin (preproc_cpu.c, run by
 * workers and by the gpu-server in emulation mode) and the CUDA kernels
 * (gpu-server/preproc_cuda.cu).  Both use the per-pixel math in
 * preproc_math.h so their outputs can be compared (tests/gpu parity test).
 *
 * Pipeline order: grey -> rescale (or, when a card quadrilateral is given,
 * the card warp) -> background normalisation -> deskew (estimate + rotate)
 * -> binarise.  Grey always runs; the others are chosen by the step mask.
 * Output is always 8-bit grey (binarised = 0/255).
 *
 * The card warp maps the quadrilateral pp_params.quad of the input onto the
 * canonical card raster PP_CARD_WIDTH x PP_CARD_HEIGHT: the part of the
 * input around the card is first shrunk by area averaging until the card is
 * no larger than the raster, then sampled bilinearly through the
 * projective map.  Finding the quadrilateral is the caller's business (the
 * worker's card finder, PP_STEP_CARD); both implementations only warp.
 */
#ifndef FILOT_PREPROC_H
#define FILOT_PREPROC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Pixel formats: bytes per pixel is the enum value. */
enum pp_format {
    PP_GRAY8 = 1, /* one byte per pixel */
    PP_RGBA32 = 4 /* bytes R, G, B, A in memory order */
};

struct pp_image {
    uint8_t *data;
    uint32_t width;
    uint32_t height;
    uint32_t stride; /* bytes per row, >= width * format */
    uint32_t format; /* enum pp_format */
};

enum pp_step {
    PP_STEP_RESCALE = 1u << 0,
    PP_STEP_BGNORM = 1u << 1,
    PP_STEP_DESKEW = 1u << 2,
    PP_STEP_BINARIZE = 1u << 3,
    PP_STEP_CARD = 1u << 4 /* worker: look for a card and warp it (sets pp_params.warp) */
};

/* Canonical card raster: an ID-1 card (85.6 x 54 mm) at about 300 dpi. */
#define PP_CARD_WIDTH  1011u
#define PP_CARD_HEIGHT 638u

/* Largest width or height either implementation accepts (in or out). */
#define PP_MAX_DIM (1u << 16)

/* Tesseract refuses an image with a side above INT16_MAX. */
#define PP_OCR_MAX_SIDE 32767u

#define PP_STEPS_ALL                                                                               \
    (PP_STEP_RESCALE | PP_STEP_BGNORM | PP_STEP_DESKEW | PP_STEP_BINARIZE | PP_STEP_CARD)

struct pp_params {
    uint32_t steps;              /* enum pp_step mask */
    float scale;                 /* output / input size; set by pp_plan() */
    uint32_t bg_window;          /* background normalisation window (px, odd) */
    uint32_t sauvola_window;     /* Sauvola window (px, odd) */
    float sauvola_k;             /* Sauvola k, e.g. 0.34 */
    float max_skew_deg;          /* search range for skew estimate, +/- degrees */
    uint32_t target_height;      /* rescale aims the card (landscape) height here (px) */
    uint32_t page_target_height; /* ... and a portrait page's height here (px) */
    uint32_t warp;               /* 1: warp quad to the card raster instead of rescaling */
    float quad[8]; /* card corners x,y: top-left, top-right, bottom-right, bottom-left,
                      continuous input coordinates (pixel k spans [k, k + 1)) */
};

struct pp_result {
    uint32_t width; /* output geometry (8-bit grey, stride == width) */
    uint32_t height;
    float skew_deg;      /* estimated skew that was corrected (0 if not run) */
    uint32_t elapsed_us; /* time spent in the pipeline */
};

/*
 * Parses OCR_PREPROCESS: "none", "auto", or a comma list of
 * rescale,bgnorm,deskew,binarize.  Returns 0 or FILOT_EINVAL.
 */
int pp_steps_parse(const char *spec, uint32_t *steps);

/* Default parameters for a step mask (scale = 1). */
void pp_params_default(uint32_t steps, struct pp_params *p);

/* Fills p->scale for an input of w x h; keeps the output within max_pixels. */
void pp_plan(struct pp_params *p, uint32_t w, uint32_t h, uint64_t max_pixels);

/* Output geometry of the pipeline for an input of w x h under p. */
void pp_output_size(const struct pp_params *p, uint32_t w, uint32_t h, uint32_t *ow, uint32_t *oh);

/*
 * CPU twin.  Reads in, writes an 8-bit grey image with stride == width into
 * out (capacity out_cap bytes, must hold pp_output_size()).  Scratch memory
 * is allocated inside.  Returns 0 or a negative FILOT_E* code.
 */
int pp_run_cpu(const struct pp_image *in, const struct pp_params *p, uint8_t *out, size_t out_cap,
               struct pp_result *res);

/*
 * Argument checks of pp_run_cpu() and pp_run_cuda(): FILOT_EINVAL for a bad
 * image or parameter, FILOT_ETOOBIG when out_cap cannot hold the result;
 * on success writes the output geometry.
 */
int pp_validate(const struct pp_image *in, const struct pp_params *p, const uint8_t *out,
                size_t out_cap, uint32_t *ow, uint32_t *oh);

/*
 * Checks a card quadrilateral against a w x h input: finite, inside the
 * image, convex and clockwise (y down), not degenerate, and its projective
 * map within the fixed-point range of the warp.  FILOT_EINVAL otherwise.
 * The gpu-server runs it on every request that asks for a warp.
 */
int pp_quad_check(const float quad[8], uint32_t w, uint32_t h);

/*
 * Projective map taking the unit square (s, t) to the quadrilateral r (x,y
 * of TL, TR, BR, BL): x = (a s + b t + c) / (g s + h t + 1) and y = (d s +
 * e t + f) / (g s + h t + 1), m = a b c d e f g h.  Host math of the warp,
 * public for tests that render a card in perspective.
 */
void pp_square_to_quad(const double r[8], double m[8]);

/*
 * Grey thumbnail of in whose longer side is at most max_side, by area
 * averaging (an exact box filter, so noise and fine texture average out).
 * *out is malloc'd (stride == *tw); *inv_q16 is the Q16 source span of one
 * thumbnail pixel (thumbnail coordinate * inv_q16 / 65536 = input
 * coordinate).  Returns 0, FILOT_EINVAL or FILOT_ENOMEM.
 */
int pp_thumbnail(const struct pp_image *in, uint32_t max_side, uint8_t **out, uint32_t *tw,
                 uint32_t *th, uint32_t *inv_q16);

/*
 * Skew estimate shared by both implementations: small is the block-mean
 * downsampled copy (pp_skew_factor(), pp_block_mean() in preproc_math.h).
 * Writes the angle of the text lines in degrees (positive: lines fall to the
 * right) within +/- max_deg.  Returns 0, FILOT_EINVAL or FILOT_ENOMEM.
 */
int pp_skew_estimate(const uint8_t *small, uint32_t w, uint32_t h, float max_deg, float *deg);

#ifdef __cplusplus
}
#endif

#endif
