/*
 * preproc_math.h - per-pixel math of the preprocessing pipeline, shared by
 * the CPU twin (preproc_cpu.c) and the CUDA kernels (preproc_cuda.cu).
 *
 * Everything that decides a pixel value is integer or fixed-point math, so
 * both implementations give bit-identical output for the same input and
 * parameters.  The only floating point is in the "host setup" helpers at the
 * end (fixed-point constants from float parameters, skew factor), which run
 * on the host for both implementations and are passed to the kernels as
 * integers.  Square roots use an exact integer square root (a double
 * estimate corrected by integer steps), so Sauvola is exact as well: the
 * tolerance of the parity test is zero.
 *
 * Conventions: Q8 = 8 fractional bits (1/256 px), Q16 = 16 fractional bits.
 * Pixel centres sit at integer + 0.5 in continuous coordinates; a source
 * coordinate in Q8 refers to pixel-index space (0 = centre of pixel 0).
 */
#ifndef FILOT_PREPROC_MATH_H
#define FILOT_PREPROC_MATH_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __CUDACC__
#define PP_HD __host__ __device__ static inline
#else
#define PP_HD static inline
#endif

#define PP_WHITE        255
#define PP_SAUVOLA_R    128  /* dynamic range of the standard deviation */
#define PP_SAUVOLA_KQ   10   /* k is passed as Q10 */
#define PP_BG_MIN_TILE  8    /* smallest background tile (px) */
#define PP_SKEW_MAX_DIM 640u /* 0.1 degree is ~1 px over 640 px */

/* Rec.601-like luma with integer weights summing to 256: white stays 255. */
PP_HD uint8_t pp_luma(uint8_t r, uint8_t g, uint8_t b)
{
    return (uint8_t)((77u * r + 150u * g + 29u * b + 128u) >> 8);
}

/* floor(v / 2^sh) for signed v, independent of how >> treats negatives. */
PP_HD int64_t pp_floor_shift(int64_t v, int sh)
{
    if (v >= 0)
        return v >> sh;
    return -((-v + ((int64_t)1 << sh) - 1) >> sh);
}

/* floor(a / b) for b > 0. */
PP_HD int64_t pp_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

PP_HD int64_t pp_clamp64(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

/*
 * Bilinear sample at (sx, sy) in Q8 pixel-index space.  Neighbours outside
 * the image read as fill, so callers either clamp the coordinate to
 * [0, (n-1)*256] (edge replication, used by rescale) or let it run outside
 * (white fill, used by rotate).
 */
PP_HD uint8_t pp_sample_q8(const uint8_t *img, uint32_t w, uint32_t h, uint32_t stride, int64_t sx,
                           int64_t sy, uint8_t fill)
{
    int64_t x0 = pp_floor_shift(sx, 8), y0 = pp_floor_shift(sy, 8);
    uint32_t fx = (uint32_t)(sx - x0 * 256), fy = (uint32_t)(sy - y0 * 256);
    uint32_t p[4];
    if (x0 >= 0 && y0 >= 0 && x0 + 1 < (int64_t)w && y0 + 1 < (int64_t)h) {
        const uint8_t *q = img + (size_t)y0 * stride + (size_t)x0;
        p[0] = q[0], p[1] = q[1], p[2] = q[stride], p[3] = q[stride + 1];
    } else {
        for (int i = 0; i < 4; i++) {
            int64_t x = x0 + (i & 1), y = y0 + (i >> 1);
            int inside = x >= 0 && y >= 0 && x < (int64_t)w && y < (int64_t)h;
            p[i] = inside ? img[(size_t)y * stride + (size_t)x] : fill;
        }
    }
    uint32_t top = p[0] * (256u - fx) + p[1] * fx;
    uint32_t bot = p[2] * (256u - fx) + p[3] * fx;
    return (uint8_t)((top * (256u - fy) + bot * fy + 32768u) >> 16);
}

/*
 * Rescale mapping: source coordinate (Q8, clamped to the image) of output
 * index i, for inv_q16 = 65536 / scale.  Centre-aligned:
 * src = (i + 0.5) / scale - 0.5.
 */
PP_HD int64_t pp_rescale_src_q8(uint32_t i, uint32_t inv_q16, uint32_t n_src)
{
    int64_t v = ((int64_t)(2 * (int64_t)i + 1) * inv_q16 - 65536) / 2; /* Q16, may be < 0 */
    return pp_clamp64(pp_floor_shift(v, 8), 0, ((int64_t)n_src - 1) * 256);
}

/*
 * Area resampling (downscale): output index i covers the source interval
 * [i * inv, (i + 1) * inv) in Q16 continuous coordinates (pixel k spans
 * [k, k + 1)), clipped to the n_src source pixels and never empty.  Every
 * source pixel contributes in proportion to the part of it the output pixel
 * covers (exact box filter), so noise is averaged away and a pattern finer
 * than the output grid turns grey instead of aliasing.
 */
PP_HD void pp_area_span(uint32_t i, uint32_t inv_q16, uint32_t n_src, uint64_t *lo, uint64_t *hi)
{
    uint64_t end = (uint64_t)n_src << 16;
    uint64_t a = (uint64_t)i * inv_q16, b = a + inv_q16;
    b = b > end ? end : b;
    a = a + 1 > b ? b - 1 : a;
    *lo = a;
    *hi = b;
}

/* Part of source pixel k inside the Q16 interval [lo, hi), in Q16. */
PP_HD uint64_t pp_area_overlap(uint64_t k, uint64_t lo, uint64_t hi)
{
    uint64_t a = k << 16, b = (k + 1) << 16;
    a = a > lo ? a : lo;
    b = b < hi ? b : hi;
    return b > a ? b - a : 0;
}

/*
 * Coverage-weighted mean of the source rectangle [x0, x1) x [y0, y1) (Q16,
 * inside the image, non-empty), rounded.  Sums stay below 2^62 for spans up
 * to 2^26 (a 1/1024 scale).
 */
PP_HD uint8_t pp_area_mean(const uint8_t *img, uint32_t stride, uint64_t x0, uint64_t x1,
                           uint64_t y0, uint64_t y1)
{
    uint64_t sum = 0;
    for (uint64_t ky = y0 >> 16; (ky << 16) < y1; ky++) {
        const uint8_t *row = img + (size_t)ky * stride;
        uint64_t rsum = 0;
        for (uint64_t kx = x0 >> 16; (kx << 16) < x1; kx++)
            rsum += pp_area_overlap(kx, x0, x1) * row[kx];
        sum += rsum * pp_area_overlap(ky, y0, y1);
    }
    uint64_t total = (x1 - x0) * (y1 - y0);
    return (uint8_t)((sum + total / 2) / total);
}

/* Output pixel (x, y) of a w x h source shrunk with inv_q16 > 65536. */
PP_HD uint8_t pp_area_pixel(const uint8_t *img, uint32_t w, uint32_t h, uint32_t stride, uint32_t x,
                            uint32_t y, uint32_t inv_q16)
{
    uint64_t x0, x1, y0, y1;
    pp_area_span(x, inv_q16, w, &x0, &x1);
    pp_area_span(y, inv_q16, h, &y0, &y1);
    return pp_area_mean(img, stride, x0, x1, y0, y1);
}

/*
 * One output pixel of the rescale step: area mean when shrinking (inv_q16 >
 * 65536), bilinear with edge replication when enlarging.
 */
PP_HD uint8_t pp_rescale_pixel(const uint8_t *img, uint32_t w, uint32_t h, uint32_t stride,
                               uint32_t x, uint32_t y, uint32_t inv_q16)
{
    if (inv_q16 > 65536u)
        return pp_area_pixel(img, w, h, stride, x, y, inv_q16);
    return pp_sample_q8(img, w, h, stride, pp_rescale_src_q8(x, inv_q16, w),
                        pp_rescale_src_q8(y, inv_q16, h), PP_WHITE);
}

/*
 * Rotation about the image centre: output (x, y) reads the source at
 * R(theta) * (offset from centre), theta clockwise as seen on screen (y
 * down), cos/sin in Q16.  Writing the source rotated by -theta undoes a
 * clockwise skew of theta.  Offsets are doubled so the centre of an even
 * size stays exact.
 */
PP_HD void pp_rotate_src_q8(uint32_t x, uint32_t y, uint32_t w, uint32_t h, int32_t cos_q16,
                            int32_t sin_q16, int64_t *sx, int64_t *sy)
{
    int64_t dx2 = 2 * (int64_t)x + 1 - (int64_t)w;
    int64_t dy2 = 2 * (int64_t)y + 1 - (int64_t)h;
    int64_t rx2 = (int64_t)cos_q16 * dx2 - (int64_t)sin_q16 * dy2; /* Q16, doubled */
    int64_t ry2 = (int64_t)sin_q16 * dx2 + (int64_t)cos_q16 * dy2;
    /* src = (r2 / 2) + (n - 1) / 2, converted from Q16 to Q8 */
    *sx = pp_floor_shift(rx2 + ((int64_t)w - 1) * 65536, 9);
    *sy = pp_floor_shift(ry2 + ((int64_t)h - 1) * 65536, 9);
}

/* Maximum of the t x t tile (tx, ty), clipped at the image edge. */
PP_HD uint8_t pp_tile_max(const uint8_t *img, uint32_t w, uint32_t h, uint32_t stride, uint32_t t,
                          uint32_t tx, uint32_t ty)
{
    uint32_t x1 = (tx + 1) * t < w ? (tx + 1) * t : w;
    uint32_t y1 = (ty + 1) * t < h ? (ty + 1) * t : h;
    uint8_t m = 0;
    for (uint32_t y = ty * t; y < y1; y++)
        for (uint32_t x = tx * t; x < x1; x++)
            m = img[(size_t)y * stride + x] > m ? img[(size_t)y * stride + x] : m;
    return m;
}

/*
 * 3 x 3 neighbourhood of grid cell (i, j), clipped at the edge: the maximum
 * (want_max != 0, a grey closing that removes text covering a whole tile) or
 * the rounded mean (smooths the steps between tiles).
 */
PP_HD uint8_t pp_grid_3x3(const uint8_t *g, uint32_t gw, uint32_t gh, uint32_t i, uint32_t j,
                          int want_max)
{
    uint32_t m = 0, sum = 0, n = 0;
    for (int64_t y = (int64_t)j - 1; y <= (int64_t)j + 1; y++) {
        for (int64_t x = (int64_t)i - 1; x <= (int64_t)i + 1; x++) {
            if (x < 0 || y < 0 || x >= (int64_t)gw || y >= (int64_t)gh)
                continue;
            uint32_t v = g[(size_t)y * gw + (size_t)x];
            m = v > m ? v : m;
            sum += v;
            n++;
        }
    }
    return (uint8_t)(want_max ? m : (sum + n / 2) / n);
}

/*
 * Background grid coordinate (Q8) of pixel index x for tiles of t px:
 * (x + 0.5) / t - 0.5, clamped so edge tiles extend to the border.
 */
PP_HD int64_t pp_bg_coord_q8(uint32_t x, uint32_t t, uint32_t gn)
{
    int64_t g = pp_floor_div(((int64_t)2 * x + 1 - t) * 128, t);
    return pp_clamp64(g, 0, ((int64_t)gn - 1) * 256);
}

/* Background of a pixel: bilinear interpolation of the smoothed tile grid. */
PP_HD uint8_t pp_bg_at(const uint8_t *g, uint32_t gw, uint32_t gh, int64_t gx_q8, int64_t gy_q8)
{
    return pp_sample_q8(g, gw, gh, gw, gx_q8, gy_q8, PP_WHITE);
}

/* Divides a pixel by its background: background -> 255, ink stays dark. */
PP_HD uint8_t pp_bgnorm_pixel(uint8_t p, uint8_t bg)
{
    uint32_t b = bg ? bg : 1;
    uint32_t v = (p * 255u + b / 2) / b;
    return (uint8_t)(v > 255u ? 255u : v);
}

/* Mean of the d x d block (bx, by), clipped at the edge (skew thumbnail). */
PP_HD uint8_t pp_block_mean(const uint8_t *img, uint32_t w, uint32_t h, uint32_t stride, uint32_t d,
                            uint32_t bx, uint32_t by)
{
    uint32_t x1 = (bx + 1) * d < w ? (bx + 1) * d : w;
    uint32_t y1 = (by + 1) * d < h ? (by + 1) * d : h;
    uint32_t sum = 0, n = 0;
    for (uint32_t y = by * d; y < y1; y++)
        for (uint32_t x = bx * d; x < x1; x++, n++)
            sum += img[(size_t)y * stride + x];
    return (uint8_t)(n ? (sum + n / 2) / n : PP_WHITE);
}

/* floor(sqrt(v)), exact for every v < 2^62 on host and device. */
PP_HD uint64_t pp_isqrt_u64(uint64_t v)
{
    uint64_t r = (uint64_t)sqrt((double)v);
    while (r > 0 && r * r > v)
        r--;
    while ((r + 1) * (r + 1) <= v)
        r++;
    return r;
}

/* Value of an inclusive-exclusive box [x0,x1) x [y0,y1) of an integral image of row pitch iw. */
PP_HD uint64_t pp_box_sum(const uint64_t *ii, uint32_t iw, uint32_t x0, uint32_t y0, uint32_t x1,
                          uint32_t y1)
{
    return ii[(size_t)y1 * iw + x1] - ii[(size_t)y0 * iw + x1] - ii[(size_t)y1 * iw + x0] +
           ii[(size_t)y0 * iw + x0];
}

/*
 * Sauvola: ink when p < m * (1 + k * (s / R - 1)), m and s the mean and
 * standard deviation of the n-pixel window with sums sum and sumsq.  With
 * S = isqrt(n * sumsq - sum^2) ~ n * s and k = k_q10 / 1024 this is the
 * integer test p * n * (R * n * 1024) < sum * (R * n * 1024 + k_q10 * (S - R * n)).
 * Exact up to the floor in S (under 1/n grey level of s).  n <= 2^16 keeps
 * every product below 2^63.  Returns 0 (ink) or 255.
 */
PP_HD uint8_t pp_sauvola_pixel(uint8_t p, uint64_t sum, uint64_t sumsq, uint32_t n, int32_t k_q10)
{
    uint64_t var_n2 = (uint64_t)n * sumsq - sum * sum; /* >= 0 by Cauchy-Schwarz */
    int64_t s_n = (int64_t)pp_isqrt_u64(var_n2);
    int64_t rn = (int64_t)PP_SAUVOLA_R * n;
    int64_t lhs = (int64_t)p * n * (rn << PP_SAUVOLA_KQ);
    int64_t rhs = (int64_t)sum * ((rn << PP_SAUVOLA_KQ) + (int64_t)k_q10 * (s_n - rn));
    return lhs < rhs ? 0 : PP_WHITE;
}

/* ---- host setup: float parameters to the integers the kernels use ---- */

/* 65536 / scale, rounded (scale > 0). */
static inline uint32_t pp_inv_q16(float scale)
{
    return (uint32_t)lround(65536.0 / (double)scale);
}

static inline int32_t pp_k_q10(float k)
{
    return (int32_t)lround((double)k * (1 << PP_SAUVOLA_KQ));
}

/* Background tile: a third of the window, so a 3 x 3 tile max spans it. */
static inline uint32_t pp_bg_tile(uint32_t bg_window)
{
    uint32_t t = bg_window / 3;
    return t < PP_BG_MIN_TILE ? PP_BG_MIN_TILE : t;
}

/* Block size of the skew thumbnail: its longer side stays <= PP_SKEW_MAX_DIM. */
static inline uint32_t pp_skew_factor(uint32_t w, uint32_t h)
{
    uint32_t m = w > h ? w : h;
    return (m + PP_SKEW_MAX_DIM - 1) / PP_SKEW_MAX_DIM;
}

static inline void pp_rot_q16(float deg, int32_t *cos_q16, int32_t *sin_q16)
{
    double rad = (double)deg * 3.14159265358979323846 / 180.0;
    *cos_q16 = (int32_t)lround(cos(rad) * 65536.0);
    *sin_q16 = (int32_t)lround(sin(rad) * 65536.0);
}

/* Sauvola half window: window rounded up to odd, at most 255 (n <= 2^16). */
static inline uint32_t pp_sauvola_half(uint32_t window)
{
    uint32_t h = window / 2;
    return h > 127 ? 127 : (h < 1 ? 1 : h);
}

#endif
