/*
 * ocra.c - OCR-A digit line reader by template matching (see ocra.h).
 */
#include "ocr-workers/reading/ocra.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/status.h"
#include "ocr-workers/reading/ocra_templates.h"

#define MAX_GLYPHS 64

/* A glyph: columns [x0, x1) and rows [y0, y1) of the crop. */
struct glyph {
    int x0, x1, y0, y1;
};

int ocra_otsu(const uint8_t *v, size_t n)
{
    double hist[256] = {0}, sum = 0, sum_b = 0, w_b = 0, best = -1;
    int t = 127;
    for (size_t i = 0; i < n; i++)
        hist[v[i]]++;
    for (int i = 0; i < 256; i++)
        sum += i * hist[i];
    for (int i = 0; i < 256; i++) {
        w_b += hist[i];
        double w_f = (double)n - w_b;
        if (w_b == 0)
            continue;
        if (w_f == 0)
            break;
        sum_b += i * hist[i];
        double d = sum_b / w_b - (sum - sum_b) / w_f, between = w_b * w_f * d * d;
        if (between > best) {
            best = between;
            t = i;
        }
    }
    return t;
}

/*
 * The text line's rows: the run of rows with ink (more than 1/20 of the
 * busiest row's) that holds the crop's middle row, else the run with the
 * most ink.  Neighbouring lines caught by the crop's padding fall outside.
 */
static void line_band(const uint8_t *ink, int w, int h, int *top, int *bot)
{
    int *rows = calloc((size_t)h, sizeof *rows), maxr = 0;
    long best = -1;
    *top = 0;
    *bot = h;
    if (!rows)
        return;
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++)
            rows[y] += ink[(size_t)y * w + x];
        maxr = rows[y] > maxr ? rows[y] : maxr;
    }
    for (int y = 0; y < h;) {
        if (rows[y] * 20 <= maxr) {
            y++;
            continue;
        }
        int s = y;
        long total = 0;
        for (; y < h && rows[y] * 20 > maxr; y++)
            total += rows[y];
        long rank = total + (s <= h / 2 && y > h / 2 ? (long)w * h : 0);
        if (rank > best) {
            best = rank;
            *top = s;
            *bot = y;
        }
    }
    free(rows);
}

/* Median width (or height when by_height) of n glyphs (1 when none). */
static int median(const struct glyph *g, int n, int by_height)
{
    int v[MAX_GLYPHS];
    for (int i = 0; i < n; i++)
        v[i] = by_height ? g[i].y1 - g[i].y0 : g[i].x1 - g[i].x0;
    for (int i = 1; i < n; i++) /* insertion sort: n is small */
        for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
            int t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    return n ? v[n / 2] : 1;
}

/*
 * Glyphs of the band: runs of inked columns whose ink spans at least 2/5
 * of the band's height and 4/5 of the median run height, and whose width is at least 0.6 median
 * widths (a colon is narrower: OCR-A's digits all have the same width); runs wider than 1.6 median
 * widths (touching glyphs) are cut into equal parts.  Returns the glyph count.
 */
static int find_glyphs(const uint8_t *ink, int w, int top, int bot, struct glyph *g, int cap)
{
    struct glyph runs[MAX_GLYPHS];
    int n = 0, bh = bot - top;
    for (int x = 0; x < w && n < MAX_GLYPHS;) {
        int y0 = bot, y1 = top, s = x;
        for (; x < w; x++) {
            int any = 0;
            for (int y = top; y < bot; y++)
                if (ink[(size_t)y * w + x]) {
                    any = 1;
                    y0 = y < y0 ? y : y0;
                    y1 = y + 1 > y1 ? y + 1 : y1;
                }
            if (!any)
                break;
        }
        if (x > s && (y1 - y0) * 5 >= bh * 2)
            runs[n++] = (struct glyph){s, x, y0, y1};
        x++;
    }
    int med_h = median(runs, n, 1), keep = 0;
    for (int i = 0; i < n; i++)
        if ((runs[i].y1 - runs[i].y0) * 5 >= med_h * 4)
            runs[keep++] = runs[i];
    n = keep;
    int med = median(runs, n, 0), out = 0;
    for (int i = 0; i < n; i++) {
        int wd = runs[i].x1 - runs[i].x0;
        if (wd * 10 < med * 6)
            continue; /* a colon or a speck */
        int parts = wd * 10 > med * 16 ? (wd + med / 2) / med : 1;
        for (int k = 0; k < parts && out < cap; k++) {
            g[out] = runs[i];
            g[out].x0 = runs[i].x0 + wd * k / parts;
            g[out].x1 = runs[i].x0 + wd * (k + 1) / parts;
            out++;
        }
    }
    return out;
}

/* Best template for a glyph of the crop c (width w): digit and NCC x 100. */
static int classify(const uint8_t *c, int w, const struct glyph *g, int *score)
{
    double v[OCRA_TW * OCRA_TH], mean = 0, var = 0;
    int gw = g->x1 - g->x0, gh = g->y1 - g->y0;
    for (int y = 0; y < OCRA_TH; y++)
        for (int x = 0; x < OCRA_TW; x++) { /* box average over the source cell */
            int sx0 = g->x0 + x * gw / OCRA_TW,
                sx1 = g->x0 + ((x + 1) * gw + OCRA_TW - 1) / OCRA_TW;
            int sy0 = g->y0 + y * gh / OCRA_TH,
                sy1 = g->y0 + ((y + 1) * gh + OCRA_TH - 1) / OCRA_TH;
            double s = 0;
            for (int yy = sy0; yy < sy1; yy++)
                for (int xx = sx0; xx < sx1; xx++)
                    s += 255 - c[(size_t)yy * w + xx];
            v[y * OCRA_TW + x] = s / ((sx1 - sx0) * (sy1 - sy0));
            mean += v[y * OCRA_TW + x];
        }
    mean /= OCRA_TW * OCRA_TH;
    for (int i = 0; i < OCRA_TW * OCRA_TH; i++) {
        v[i] -= mean;
        var += v[i] * v[i];
    }
    int best = 0;
    double best_r = -2;
    for (int d = 0; d < 10; d++) {
        const unsigned char *t = OCRA_TEMPLATES[d];
        double tm = 0, tv = 0, cov = 0;
        for (int i = 0; i < OCRA_TW * OCRA_TH; i++)
            tm += t[i];
        tm /= OCRA_TW * OCRA_TH;
        for (int i = 0; i < OCRA_TW * OCRA_TH; i++) {
            tv += (t[i] - tm) * (t[i] - tm);
            cov += (t[i] - tm) * v[i];
        }
        double r = var > 0 && tv > 0 ? cov / sqrt(var * tv) : 0;
        if (r > best_r) {
            best_r = r;
            best = d;
        }
    }
    *score = (int)lround(best_r * 100);
    return best;
}

int ocra_read_digits(const uint8_t *gray, uint32_t width, uint32_t height, uint32_t stride, int x0,
                     int y0, int x1, int y1, char *out, size_t cap, int *score)
{
    if (!gray || !out || cap == 0 || !score || stride < width)
        return FILOT_EINVAL;
    out[0] = '\0';
    *score = 0;
    x0 = x0 < 0 ? 0 : x0;
    y0 = y0 < 0 ? 0 : y0;
    x1 = x1 > (int)width ? (int)width : x1;
    y1 = y1 > (int)height ? (int)height : y1;
    int w = x1 - x0, h = y1 - y0;
    if (w < 4 || h < 4)
        return FILOT_EINVAL;
    uint8_t *c = malloc((size_t)w * h * 2), *ink = c ? c + (size_t)w * h : NULL;
    struct glyph g[MAX_GLYPHS];
    if (!c)
        return FILOT_ENOMEM;
    for (int y = 0; y < h; y++)
        memcpy(c + (size_t)y * w, gray + (size_t)(y0 + y) * stride + x0, (size_t)w);
    int t = ocra_otsu(c, (size_t)w * h), top, bot;
    for (size_t i = 0; i < (size_t)w * h; i++)
        ink[i] = c[i] <= t;
    line_band(ink, w, h, &top, &bot);
    int n = find_glyphs(ink, w, top, bot, g, MAX_GLYPHS), low = 100;
    size_t k = 0;
    for (int i = 0; i < n && k + 1 < cap; i++) {
        int s;
        out[k++] = (char)('0' + classify(c, w, &g[i], &s));
        low = s < low ? s : low;
    }
    out[k] = '\0';
    *score = k ? low : 0;
    free(c);
    return (int)k;
}
