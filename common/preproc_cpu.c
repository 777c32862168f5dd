/*
 * preproc_cpu.c - the CPU twin of the preprocessing pipeline, plus the
 * parameter helpers (step parsing, defaults, planning) and the skew search
 * that the CUDA implementation reuses on its downloaded thumbnail.
 *
 * Single-threaded; scratch is allocated per call and freed before return.
 * Pixel values come from preproc_math.h so the CUDA kernels match exactly.
 */
#include "preproc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "preproc_math.h"
#include "status.h"

/*
 * "auto": chosen on 20 synthetic KTP cards (gen-cards.sh, light blue
 * background, blur 0.8, Gaussian noise, rotated 2-5 degrees either way, half
 * with light falling off across the card), tesseract 5.3 ind+eng PSM 3,
 * NIK read exactly: raw 10/20, bgnorm 18/20, bgnorm+deskew 20/20, all four
 * steps 20/20; without bgnorm, deskew or rescale alone stayed at 4-5/10.
 * Binarising gained nothing over bgnorm+deskew and costs the most CPU, so it
 * is left out.  Rescale only acts when the size is far off the target
 * (phone photos, thumbnails); 300 dpi cards pass through unscaled.  The
 * card step (find the card in a photo, warp it to the card raster) came
 * later with phone photos; see doc/EXTRACTION.md for what it bought.
 */
#define PP_STEPS_AUTO (PP_STEP_CARD | PP_STEP_RESCALE | PP_STEP_BGNORM | PP_STEP_DESKEW)

#define PP_SKEW_COARSE  50 /* search steps, hundredths of a degree */
#define PP_SKEW_MEDIUM  10
#define PP_SKEW_FINE    2
#define PP_SKEW_MIN_INK 64u
#define PP_SKEW_BG      31u /* background window on the thumbnail (px) */

static const struct {
    const char *name;
    uint32_t bit;
} step_names[] = {{"rescale", PP_STEP_RESCALE},
                  {"bgnorm", PP_STEP_BGNORM},
                  {"deskew", PP_STEP_DESKEW},
                  {"binarize", PP_STEP_BINARIZE},
                  {"card", PP_STEP_CARD}};

/* Matches one comma-list word of length len to its step bit; 0 if unknown. */
static uint32_t step_bit(const char *word, size_t len)
{
    for (size_t i = 0; i < sizeof step_names / sizeof step_names[0]; i++)
        if (strlen(step_names[i].name) == len && strncmp(step_names[i].name, word, len) == 0)
            return step_names[i].bit;
    return 0;
}

/*
 * OCR_PREPROCESS grammar: "none", "auto", or a comma list of step names
 * (spaces around names allowed, no empty items).  *steps is only written on
 * success.
 */
int pp_steps_parse(const char *spec, uint32_t *steps)
{
    if (!spec || !steps)
        return FILOT_EINVAL;
    if (strcmp(spec, "none") == 0) {
        *steps = 0;
        return 0;
    }
    if (strcmp(spec, "auto") == 0) {
        *steps = PP_STEPS_AUTO;
        return 0;
    }
    uint32_t mask = 0;
    const char *p = spec;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len > 0 && *p == ' ') {
            p++;
            len--;
        }
        while (len > 0 && p[len - 1] == ' ')
            len--;
        uint32_t bit = step_bit(p, len);
        if (!bit)
            return FILOT_EINVAL;
        mask |= bit;
        if (!end)
            break;
        p = end + 1;
    }
    *steps = mask;
    return 0;
}

/*
 * Defaults sized for an ID card at about 300 dpi (680 px high, capitals
 * 15-22 px): upscaling such a card to 1100 px read no more NIKs and made
 * tesseract ~40 % slower.  Background window well above a character, Sauvola
 * window about one character, skew search covering hand-held photos.
 */
void pp_params_default(uint32_t steps, struct pp_params *p)
{
    memset(p, 0, sizeof *p);
    p->steps = steps;
    p->scale = 1.0f;
    p->bg_window = 63;
    p->sauvola_window = 31;
    p->sauvola_k = 0.34f;
    p->max_skew_deg = 12.0f; /* photos: up to +/-10 degrees measured */
    p->target_height = 680;
    p->page_target_height = 3300;
}

/*
 * Scale so the height lands near the target (cards are landscape, pages
 * portrait), clamped to [0.25, 3]; within 10 % of 1 it stays 1 (resampling
 * only blurs).  No side may pass PP_OCR_MAX_SIDE (a 20000x10 strip would be
 * enlarged to 60000 px, which Tesseract refuses), and the pixel cap wins
 * over everything else.
 */
void pp_plan(struct pp_params *p, uint32_t w, uint32_t h, uint64_t max_pixels)
{
    double s = 1.0;
    if ((p->steps & PP_STEP_RESCALE) && !p->warp && w > 0 && h > 0) {
        uint32_t target = h > w ? p->page_target_height : p->target_height;
        s = target ? (double)target / h : 1.0;
        s = s < 0.25 ? 0.25 : (s > 3.0 ? 3.0 : s);
        if (s > 0.9 && s < 1.1)
            s = 1.0;
        double longest = w > h ? w : h;
        if (longest * s > PP_OCR_MAX_SIDE)
            s = (double)PP_OCR_MAX_SIDE / longest * 0.999;
        double px = (double)w * h * s * s;
        if (max_pixels > 0 && px > (double)max_pixels)
            s = sqrt((double)max_pixels / ((double)w * h)) * 0.999;
    }
    p->scale = (float)s;
}

/* Rounded product, at least 1. */
static uint32_t scaled_dim(uint32_t n, float scale)
{
    double v = floor((double)n * scale + 0.5);
    return v < 1.0 ? 1u : (uint32_t)v;
}

void pp_output_size(const struct pp_params *p, uint32_t w, uint32_t h, uint32_t *ow, uint32_t *oh)
{
    if (p->warp) {
        *ow = PP_CARD_WIDTH;
        *oh = PP_CARD_HEIGHT;
        return;
    }
    int rescale = (p->steps & PP_STEP_RESCALE) && p->scale != 1.0f;
    *ow = rescale ? scaled_dim(w, p->scale) : w;
    *oh = rescale ? scaled_dim(h, p->scale) : h;
}

static int step_bgnorm(uint8_t *img, uint32_t w, uint32_t h, uint32_t bg_window);

/* Otsu threshold of a grey buffer: the level maximising between-class variance. */
static uint32_t otsu_level(const uint8_t *img, size_t n)
{
    uint64_t hist[256] = {0};
    for (size_t i = 0; i < n; i++)
        hist[img[i]]++;
    double total = 0;
    for (int i = 0; i < 256; i++)
        total += (double)i * hist[i];
    double best = -1, sum0 = 0;
    uint64_t n0 = 0;
    uint32_t level = 128;
    for (int t = 0; t < 256; t++) {
        n0 += hist[t];
        sum0 += (double)t * hist[t];
        if (n0 == 0 || n0 == n)
            continue;
        double m0 = sum0 / n0, m1 = (total - sum0) / (n - n0);
        double between = (double)n0 * (n - n0) * (m0 - m1) * (m0 - m1);
        if (between > best) {
            best = between;
            level = (uint32_t)t;
        }
    }
    return level;
}

/*
 * Projection-profile score of the ink pixels (x, y pairs) sheared by
 * tan(deg): the sum of squared row counts, highest when text lines fall into
 * few rows.  The shear is Q16 fixed point.
 */
static double profile_score(const uint16_t *ink, size_t nink, uint32_t w, uint32_t h,
                            uint32_t *rows, double deg)
{
    int64_t t = llround(tan(deg * 3.14159265358979323846 / 180.0) * 65536.0);
    uint32_t nrows = 2 * h + w;
    memset(rows, 0, nrows * sizeof *rows);
    int64_t off = (int64_t)w * (t > 0 ? t : -t) + 32768;
    for (size_t i = 0; i < nink; i++) {
        int64_t r = ink[2 * i + 1] + ((off - (int64_t)ink[2 * i] * t) >> 16);
        if (r >= 0 && r < (int64_t)nrows)
            rows[r]++;
    }
    double score = 0;
    for (uint32_t r = 0; r < nrows; r++)
        score += (double)rows[r] * rows[r];
    return score;
}

/*
 * Best angle on [lo, hi] hundredths of a degree in steps of step; ties keep
 * the smallest |angle|.  Integer angles keep a level page at exactly 0.
 */
static int search_angles(const uint16_t *ink, size_t nink, uint32_t w, uint32_t h, uint32_t *rows,
                         int lo, int hi, int step, int fallback)
{
    int best = fallback;
    double best_score = -1;
    for (int a = lo; a <= hi; a += step) {
        double sc = profile_score(ink, nink, w, h, rows, a / 100.0);
        if (sc > best_score || (sc == best_score && abs(a) < abs(best))) {
            best_score = sc;
            best = a;
        }
    }
    return best;
}

/* search_angles() on [best - span, best + span] within +/- range. */
static int refine(const uint16_t *ink, size_t nink, uint32_t w, uint32_t h, uint32_t *rows,
                  int range, int best, int span, int step)
{
    int lo = best - span < -range ? -range : best - span;
    int hi = best + span > range ? range : best + span;
    return search_angles(ink, nink, w, h, rows, lo, hi, step, best);
}

/*
 * Skew of the text lines in a small grey image: its own background
 * normalisation (uneven light would otherwise make Otsu split the
 * background), Otsu ink, then a coarse and a fine projection-profile search.
 * Pages with too little ink, or more ink than paper, report 0.
 */
int pp_skew_estimate(const uint8_t *small, uint32_t w, uint32_t h, float max_deg, float *deg)
{
    if (!small || !deg || w == 0 || h == 0 || w > UINT16_MAX || h > UINT16_MAX ||
        !(max_deg >= 0.0f))
        return FILOT_EINVAL;
    *deg = 0.0f;
    size_t n = (size_t)w * h;
    uint8_t *flat = malloc(n);
    uint16_t *ink = malloc(2 * n * sizeof *ink);
    uint32_t *rows = malloc(((size_t)2 * h + w) * sizeof *rows);
    int rc = flat && ink && rows ? 0 : FILOT_ENOMEM;
    if (rc == 0) {
        memcpy(flat, small, n);
        rc = step_bgnorm(flat, w, h, PP_SKEW_BG);
    }
    if (rc != 0) {
        free(flat);
        free(ink);
        free(rows);
        return rc;
    }
    uint32_t level = otsu_level(flat, n);
    size_t nink = 0;
    for (size_t i = 0; i < n; i++)
        if (flat[i] <= level) {
            /* NOLINTNEXTLINE(clang-analyzer-core.DivideZero): w > 0 is checked above */
            ink[2 * nink] = (uint16_t)(i % w);
            ink[2 * nink++ + 1] = (uint16_t)(i / w);
        }
    free(flat);
    if (nink >= PP_SKEW_MIN_INK && nink < n / 2 && max_deg > 0.0f) {
        int range = (int)floorf(max_deg * 100.0f);
        range -= range % PP_SKEW_COARSE;
        int coarse = search_angles(ink, nink, w, h, rows, -range, range, PP_SKEW_COARSE, 0);
        int medium = refine(ink, nink, w, h, rows, range, coarse, PP_SKEW_COARSE, PP_SKEW_MEDIUM);
        *deg = (float)refine(ink, nink, w, h, rows, range, medium, PP_SKEW_MEDIUM, PP_SKEW_FINE) /
               100.0f;
    }
    free(ink);
    free(rows);
    return 0;
}

/* Any format to grey, stride == width. */
static void step_grey(const struct pp_image *in, uint8_t *dst)
{
    for (uint32_t y = 0; y < in->height; y++) {
        const uint8_t *row = in->data + (size_t)y * in->stride;
        uint8_t *o = dst + (size_t)y * in->width;
        if (in->format == PP_GRAY8) {
            memcpy(o, row, in->width);
            continue;
        }
        for (uint32_t x = 0; x < in->width; x++)
            o[x] = pp_luma(row[4 * x], row[4 * x + 1], row[4 * x + 2]);
    }
}

int pp_thumbnail(const struct pp_image *in, uint32_t max_side, uint8_t **out, uint32_t *tw,
                 uint32_t *th, uint32_t *inv_q16)
{
    if (!in || !in->data || !out || !tw || !th || !inv_q16 || max_side == 0 || in->width == 0 ||
        in->height == 0 || in->width > PP_MAX_DIM || in->height > PP_MAX_DIM ||
        (in->format != PP_GRAY8 && in->format != PP_RGBA32) ||
        (uint64_t)in->stride < (uint64_t)in->width * in->format)
        return FILOT_EINVAL;
    uint32_t w = in->width, h = in->height, m = w > h ? w : h;
    uint8_t *grey = malloc((size_t)w * h);
    if (!grey)
        return FILOT_ENOMEM;
    step_grey(in, grey);
    if (m <= max_side) {
        *out = grey, *tw = w, *th = h, *inv_q16 = 65536u;
        return 0;
    }
    uint32_t inv = (uint32_t)(((uint64_t)m * 65536u + max_side - 1) / max_side);
    uint32_t sw = (uint32_t)((uint64_t)w * 65536u / inv),
             sh = (uint32_t)((uint64_t)h * 65536u / inv);
    sw += sw == 0, sh += sh == 0;
    uint8_t *small = malloc((size_t)sw * sh);
    if (small)
        for (uint32_t y = 0; y < sh; y++)
            for (uint32_t x = 0; x < sw; x++)
                small[(size_t)y * sw + x] = pp_area_pixel(grey, w, h, w, x, y, inv);
    free(grey);
    if (!small)
        return FILOT_ENOMEM;
    *out = small, *tw = sw, *th = sh, *inv_q16 = inv;
    return 0;
}

/*
 * Rescale to ow x oh: area averaging when shrinking (the noise of a big
 * photo is averaged away instead of aliased), bilinear when enlarging.
 */
static void step_rescale(const uint8_t *src, uint32_t w, uint32_t h, uint8_t *dst, uint32_t ow,
                         uint32_t oh, float scale)
{
    uint32_t inv = pp_inv_q16(scale);
    for (uint32_t y = 0; y < oh; y++)
        for (uint32_t x = 0; x < ow; x++)
            dst[(size_t)y * ow + x] = pp_rescale_pixel(src, w, h, w, x, y, inv);
}

#define PP_QUAD_MIN_SIDE  16.0               /* px: anything smaller is no card */
#define PP_WARP_NO_REDUCE 0.95               /* shrink factors above this are not worth a pass */
#define PP_WARP_MAX_COEF  17592186044416.0   /* 2^44: |ax| X stays below 2^61 */
#define PP_WARP_MAX_CONST 9007199254740992.0 /* 2^53 */

/* z of the cross product (b - a) x (c - b): > 0 for a clockwise turn, y down. */
static double turn(const double *a, const double *b, const double *c)
{
    return (b[0] - a[0]) * (c[1] - b[1]) - (b[1] - a[1]) * (c[0] - b[0]);
}

/* Rounds v to int64 when |v| <= limit; 0 on success. */
static int fixed(double v, double limit, int64_t *out)
{
    if (!(fabs(v) <= limit))
        return FILOT_EINVAL;
    *out = llround(v);
    return 0;
}

/* Heckbert's square-to-quad projective map (see preproc.h). */
void pp_square_to_quad(const double r[8], double m[8])
{
    double sx = r[0] - r[2] + r[4] - r[6], sy = r[1] - r[3] + r[5] - r[7];
    double g = 0, h = 0;
    if (sx != 0.0 || sy != 0.0) {
        double dx1 = r[2] - r[4], dx2 = r[6] - r[4], dy1 = r[3] - r[5], dy2 = r[7] - r[5];
        double det = dx1 * dy2 - dx2 * dy1;
        g = (sx * dy2 - dx2 * sy) / det;
        h = (dx1 * sy - sx * dy1) / det;
    }
    m[0] = r[2] - r[0] + g * r[2];
    m[1] = r[6] - r[0] + h * r[6];
    m[2] = r[0];
    m[3] = r[3] - r[1] + g * r[3];
    m[4] = r[7] - r[1] + h * r[7];
    m[5] = r[1];
    m[6] = g;
    m[7] = h;
}

/*
 * Fixed-point form of the map from the ow x oh raster (doubled centre
 * coordinates) to pixel-index Q8 coordinates of the quad r: see struct
 * pp_warp.  Refuses coefficients outside the int64 budget and a
 * denominator that gets near 0 anywhere on the raster.
 */
static int warp_fixed(const double *r, uint32_t ow, uint32_t oh, struct pp_warp *w)
{
    double m[8], d = (double)(1ll << PP_WARP_DEN_BITS), q = 256.0 * d;
    pp_square_to_quad(r, m);
    double gx = m[6] / (2.0 * ow), hy = m[7] / (2.0 * oh);
    if (fixed(q * (m[0] - 0.5 * m[6]) / (2.0 * ow), PP_WARP_MAX_COEF, &w->ax) ||
        fixed(q * (m[1] - 0.5 * m[7]) / (2.0 * oh), PP_WARP_MAX_COEF, &w->bx) ||
        fixed(q * (m[2] - 0.5), PP_WARP_MAX_CONST, &w->cx) ||
        fixed(q * (m[3] - 0.5 * m[6]) / (2.0 * ow), PP_WARP_MAX_COEF, &w->ay) ||
        fixed(q * (m[4] - 0.5 * m[7]) / (2.0 * oh), PP_WARP_MAX_COEF, &w->by) ||
        fixed(q * (m[5] - 0.5), PP_WARP_MAX_CONST, &w->cy) || fixed(d * gx, d, &w->g) ||
        fixed(d * hy, d, &w->h))
        return FILOT_EINVAL;
    w->i = 1ll << PP_WARP_DEN_BITS;
    /* The denominator is affine: positive at the four corners means positive everywhere. */
    for (int k = 0; k < 4; k++) {
        int64_t X = k & 1 ? 2 * (int64_t)ow - 1 : 1, Y = k & 2 ? 2 * (int64_t)oh - 1 : 1;
        if (w->g * X + w->h * Y + w->i < (w->i >> 6))
            return FILOT_EINVAL;
    }
    return 0;
}

/*
 * Checks the quad (see pp_warp_plan in preproc_math.h), then picks the crop
 * around it and the area shrink that brings its longest edges down to the
 * raster size (never enlarging), and builds the fixed-point map.
 */
int pp_warp_plan(const float quad[8], uint32_t w, uint32_t h, uint32_t ow, uint32_t oh,
                 struct pp_warp_plan *plan)
{
    double q[8];
    if (!quad || !plan || w == 0 || h == 0 || ow == 0 || oh == 0 || w > PP_MAX_DIM ||
        h > PP_MAX_DIM || ow > PP_MAX_DIM || oh > PP_MAX_DIM)
        return FILOT_EINVAL;
    double minx = w, maxx = 0, miny = h, maxy = 0;
    for (int k = 0; k < 4; k++) {
        q[2 * k] = quad[2 * k];
        q[2 * k + 1] = quad[2 * k + 1];
        if (!(q[2 * k] >= 0.0 && q[2 * k] <= w && q[2 * k + 1] >= 0.0 && q[2 * k + 1] <= h))
            return FILOT_EINVAL; /* also refuses NaN */
        minx = fmin(minx, q[2 * k]), maxx = fmax(maxx, q[2 * k]);
        miny = fmin(miny, q[2 * k + 1]), maxy = fmax(maxy, q[2 * k + 1]);
    }
    double side[4];
    for (int k = 0; k < 4; k++) {
        const double *a = q + 2 * k, *b = q + 2 * ((k + 1) % 4), *c = q + 2 * ((k + 2) % 4);
        side[k] = hypot(b[0] - a[0], b[1] - a[1]);
        if (side[k] < PP_QUAD_MIN_SIDE || !(turn(a, b, c) > 0.0))
            return FILOT_EINVAL;
    }
    /* side: top, right, bottom, left */
    double s = fmin(1.0, fmin(ow / fmax(side[0], side[2]), oh / fmax(side[1], side[3])));
    plan->x0 = (uint32_t)floor(minx);
    plan->y0 = (uint32_t)floor(miny);
    plan->cw = (uint32_t)ceil(maxx) - plan->x0;
    plan->ch = (uint32_t)ceil(maxy) - plan->y0;
    plan->inv_q16 = s < PP_WARP_NO_REDUCE ? pp_inv_q16((float)s) : 65536u;
    plan->rw = plan->cw, plan->rh = plan->ch;
    if (plan->inv_q16 != 65536u) {
        uint64_t iv = plan->inv_q16;
        plan->rw = (uint32_t)(((uint64_t)plan->cw * 65536u + iv / 2) / iv);
        plan->rh = (uint32_t)(((uint64_t)plan->ch * 65536u + iv / 2) / iv);
        plan->rw += plan->rw == 0, plan->rh += plan->rh == 0;
    }
    double r[8];
    for (int k = 0; k < 4; k++) {
        r[2 * k] = (q[2 * k] - plan->x0) * 65536.0 / plan->inv_q16;
        r[2 * k + 1] = (q[2 * k + 1] - plan->y0) * 65536.0 / plan->inv_q16;
    }
    return warp_fixed(r, ow, oh, &plan->map);
}

int pp_quad_check(const float quad[8], uint32_t w, uint32_t h)
{
    struct pp_warp_plan plan;
    return pp_warp_plan(quad, w, h, PP_CARD_WIDTH, PP_CARD_HEIGHT, &plan);
}

/* Shrinks the crop (stride w) by area averaging into dst (rw x rh, stride rw). */
static void area_crop(const uint8_t *grey, uint32_t w, const struct pp_warp_plan *pl, uint8_t *dst)
{
    const uint8_t *crop = grey + (size_t)pl->y0 * w + pl->x0;
    for (uint32_t y = 0; y < pl->rh; y++)
        for (uint32_t x = 0; x < pl->rw; x++)
            dst[(size_t)y * pl->rw + x] = pp_area_pixel(crop, pl->cw, pl->ch, w, x, y, pl->inv_q16);
}

/*
 * The card warp: crop, area shrink (when the card is larger than the
 * raster), projective bilinear sampling into dst (PP_CARD_WIDTH x
 * PP_CARD_HEIGHT).
 */
static int step_warp(const uint8_t *grey, uint32_t w, uint32_t h, const float quad[8], uint8_t *dst)
{
    struct pp_warp_plan pl;
    int rc = pp_warp_plan(quad, w, h, PP_CARD_WIDTH, PP_CARD_HEIGHT, &pl);
    if (rc != 0)
        return rc;
    const uint8_t *src = grey + (size_t)pl.y0 * w + pl.x0;
    uint32_t stride = w;
    uint8_t *reduced = NULL;
    if (pl.inv_q16 != 65536u) {
        reduced = malloc((size_t)pl.rw * pl.rh);
        if (!reduced)
            return FILOT_ENOMEM;
        area_crop(grey, w, &pl, reduced);
        src = reduced;
        stride = pl.rw;
    }
    for (uint32_t y = 0; y < PP_CARD_HEIGHT; y++)
        for (uint32_t x = 0; x < PP_CARD_WIDTH; x++)
            dst[(size_t)y * PP_CARD_WIDTH + x] =
                pp_warp_pixel(src, pl.rw, pl.rh, stride, x, y, &pl.map);
    free(reduced);
    return 0;
}

/* Divides by a tile-max background (closing + smoothing), in place. */
static int step_bgnorm(uint8_t *img, uint32_t w, uint32_t h, uint32_t bg_window)
{
    uint32_t t = pp_bg_tile(bg_window);
    uint32_t gw = (w + t - 1) / t, gh = (h + t - 1) / t;
    uint8_t *g0 = malloc((size_t)gw * gh), *g1 = malloc((size_t)gw * gh);
    int64_t *gx = malloc((size_t)w * sizeof *gx);
    if (!g0 || !g1 || !gx) {
        free(g0);
        free(g1);
        free(gx);
        return FILOT_ENOMEM;
    }
    for (uint32_t j = 0; j < gh; j++)
        for (uint32_t i = 0; i < gw; i++)
            g0[(size_t)j * gw + i] = pp_tile_max(img, w, h, w, t, i, j);
    for (uint32_t j = 0; j < gh; j++)
        for (uint32_t i = 0; i < gw; i++)
            g1[(size_t)j * gw + i] = pp_grid_3x3(g0, gw, gh, i, j, 1);
    for (uint32_t j = 0; j < gh; j++)
        for (uint32_t i = 0; i < gw; i++)
            g0[(size_t)j * gw + i] = pp_grid_3x3(g1, gw, gh, i, j, 0);
    for (uint32_t x = 0; x < w; x++)
        gx[x] = pp_bg_coord_q8(x, t, gw);
    for (uint32_t y = 0; y < h; y++) {
        int64_t gy = pp_bg_coord_q8(y, t, gh);
        for (uint32_t x = 0; x < w; x++) {
            uint8_t *p = &img[(size_t)y * w + x];
            *p = pp_bgnorm_pixel(*p, pp_bg_at(g0, gw, gh, gx[x], gy));
        }
    }
    free(g0);
    free(g1);
    free(gx);
    return 0;
}

/* Estimates the skew on a block-mean thumbnail; *deg = 0 when none found. */
static int step_skew_estimate(const uint8_t *img, uint32_t w, uint32_t h, float max_deg, float *deg)
{
    uint32_t d = pp_skew_factor(w, h);
    uint32_t sw = (w + d - 1) / d, sh = (h + d - 1) / d;
    uint8_t *small = malloc((size_t)sw * sh);
    if (!small)
        return FILOT_ENOMEM;
    for (uint32_t y = 0; y < sh; y++)
        for (uint32_t x = 0; x < sw; x++)
            small[(size_t)y * sw + x] = pp_block_mean(img, w, h, w, d, x, y);
    int rc = pp_skew_estimate(small, sw, sh, max_deg, deg);
    free(small);
    return rc;
}

static void step_rotate(const uint8_t *src, uint8_t *dst, uint32_t w, uint32_t h, float deg)
{
    int32_t c, s;
    pp_rot_q16(deg, &c, &s);
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++) {
            int64_t sx, sy;
            pp_rotate_src_q8(x, y, w, h, c, s, &sx, &sy);
            dst[(size_t)y * w + x] = pp_sample_q8(src, w, h, w, sx, sy, PP_WHITE);
        }
}

/* Sauvola with full-size uint64 integral images of sum and sum of squares. */
static int step_binarize(const uint8_t *src, uint8_t *dst, uint32_t w, uint32_t h, uint32_t window,
                         float k)
{
    uint32_t iw = w + 1;
    size_t isz = (size_t)iw * (h + 1);
    uint64_t *s1 = calloc(isz, sizeof *s1), *s2 = calloc(isz, sizeof *s2);
    if (!s1 || !s2) {
        free(s1);
        free(s2);
        return FILOT_ENOMEM;
    }
    for (uint32_t y = 0; y < h; y++) {
        uint64_t r1 = 0, r2 = 0;
        for (uint32_t x = 0; x < w; x++) {
            uint32_t v = src[(size_t)y * w + x];
            r1 += v;
            r2 += v * v;
            s1[(size_t)(y + 1) * iw + x + 1] = s1[(size_t)y * iw + x + 1] + r1;
            s2[(size_t)(y + 1) * iw + x + 1] = s2[(size_t)y * iw + x + 1] + r2;
        }
    }
    uint32_t r = pp_sauvola_half(window);
    int32_t kq = pp_k_q10(k);
    for (uint32_t y = 0; y < h; y++) {
        uint32_t y0 = y > r ? y - r : 0, y1 = y + r + 1 < h ? y + r + 1 : h;
        for (uint32_t x = 0; x < w; x++) {
            uint32_t x0 = x > r ? x - r : 0, x1 = x + r + 1 < w ? x + r + 1 : w;
            uint32_t n = (x1 - x0) * (y1 - y0);
            dst[(size_t)y * w + x] =
                pp_sauvola_pixel(src[(size_t)y * w + x], pp_box_sum(s1, iw, x0, y0, x1, y1),
                                 pp_box_sum(s2, iw, x0, y0, x1, y1), n, kq);
        }
    }
    free(s1);
    free(s2);
    return 0;
}

/*
 * Argument checks shared by both implementations: a readable image of a
 * known format and sane size, parameters in range (FILOT_EINVAL), and an
 * output buffer that holds the result (FILOT_ETOOBIG).  Writes the output
 * geometry on success.
 */
int pp_validate(const struct pp_image *in, const struct pp_params *p, const uint8_t *out,
                size_t out_cap, uint32_t *ow, uint32_t *oh)
{
    if (!in || !p || !out || !ow || !oh || !in->data)
        return FILOT_EINVAL;
    if (in->width == 0 || in->height == 0 || in->width > PP_MAX_DIM || in->height > PP_MAX_DIM)
        return FILOT_EINVAL;
    if (in->format != PP_GRAY8 && in->format != PP_RGBA32)
        return FILOT_EINVAL;
    if ((uint64_t)in->stride < (uint64_t)in->width * in->format)
        return FILOT_EINVAL;
    if (p->steps & ~(uint32_t)PP_STEPS_ALL)
        return FILOT_EINVAL;
    if ((p->steps & PP_STEP_RESCALE) && !(p->scale > 0.0f && p->scale <= 3.03f))
        return FILOT_EINVAL;
    if ((p->steps & PP_STEP_BGNORM) && p->bg_window == 0)
        return FILOT_EINVAL;
    if ((p->steps & PP_STEP_BINARIZE) && (p->sauvola_window == 0 || !(p->sauvola_k >= 0.0f)))
        return FILOT_EINVAL;
    if ((p->steps & PP_STEP_DESKEW) && !(p->max_skew_deg >= 0.0f && p->max_skew_deg <= 45.0f))
        return FILOT_EINVAL;
    if (p->warp > 1 || (p->warp && pp_quad_check(p->quad, in->width, in->height) != 0))
        return FILOT_EINVAL;
    pp_output_size(p, in->width, in->height, ow, oh);
    if (*ow > PP_MAX_DIM || *oh > PP_MAX_DIM)
        return FILOT_EINVAL;
    if ((uint64_t)*ow * *oh > out_cap)
        return FILOT_ETOOBIG;
    return 0;
}

/* Runs the steps after grey on buffers a (holding the image) and b; result ends in *cur. */
static int run_steps(const struct pp_params *p, uint32_t w, uint32_t h, uint32_t ow, uint32_t oh,
                     uint8_t **cur, uint8_t **tmp, float *skew)
{
    uint8_t *t;
    int rc = 0;
    if (p->warp) {
        if ((rc = step_warp(*cur, w, h, p->quad, *tmp)) != 0)
            return rc;
        t = *cur, *cur = *tmp, *tmp = t;
    } else if (ow != w || oh != h) {
        step_rescale(*cur, w, h, *tmp, ow, oh, p->scale);
        t = *cur, *cur = *tmp, *tmp = t;
    }
    if ((p->steps & PP_STEP_BGNORM) && (rc = step_bgnorm(*cur, ow, oh, p->bg_window)) != 0)
        return rc;
    if (p->steps & PP_STEP_DESKEW) {
        if ((rc = step_skew_estimate(*cur, ow, oh, p->max_skew_deg, skew)) != 0)
            return rc;
        if (*skew != 0.0f) {
            step_rotate(*cur, *tmp, ow, oh, *skew);
            t = *cur, *cur = *tmp, *tmp = t;
        }
    }
    if (p->steps & PP_STEP_BINARIZE) {
        if ((rc = step_binarize(*cur, *tmp, ow, oh, p->sauvola_window, p->sauvola_k)) != 0)
            return rc;
        t = *cur, *cur = *tmp, *tmp = t;
    }
    return 0;
}

int pp_run_cpu(const struct pp_image *in, const struct pp_params *p, uint8_t *out, size_t out_cap,
               struct pp_result *res)
{
    uint64_t t0 = clock_mono_us();
    uint32_t ow, oh;
    int rc = pp_validate(in, p, out, out_cap, &ow, &oh);
    if (rc != 0)
        return rc;
    size_t in_px = (size_t)in->width * in->height, out_px = (size_t)ow * oh;
    size_t cap = in_px > out_px ? in_px : out_px;
    uint8_t *a = malloc(cap), *b = malloc(cap);
    if (!a || !b) {
        free(a);
        free(b);
        return FILOT_ENOMEM;
    }
    float skew = 0.0f;
    step_grey(in, a);
    uint8_t *cur = a, *tmp = b;
    rc = run_steps(p, in->width, in->height, ow, oh, &cur, &tmp, &skew);
    if (rc == 0) {
        memcpy(out, cur, out_px);
        if (res) {
            res->width = ow;
            res->height = oh;
            res->skew_deg = skew;
            res->elapsed_us = (uint32_t)(clock_mono_us() - t0);
        }
    }
    free(a);
    free(b);
    return rc;
}
