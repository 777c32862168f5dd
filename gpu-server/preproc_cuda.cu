/*
 * preproc_cuda.cu - the preprocessing pipeline as CUDA kernels.
 *
 * One kernel per step, each calling the same per-pixel functions as the CPU
 * twin (preproc_math.h), so outputs are bit-identical.  The skew angle is
 * found by downloading the block-mean thumbnail (<= 1024 px a side) and
 * running the host search pp_skew_estimate(), the one the CPU twin uses.
 *
 * Device buffers are cached between calls and grow as needed; this module is
 * not thread-safe (the gpu-server runs one job at a time on the device).
 */
#include <cuda_runtime.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "preproc_cuda.h"
#include "../common/preproc_math.h"
#include "../common/status.h"

#define BLOCK_X  32
#define BLOCK_Y  8
#define BLOCK_1D 128

/* Cached device buffers; each pointer owns its allocation, cap in bytes. */
struct dev_buf {
    void *ptr;
    size_t cap;
};

static struct {
    int open;
    struct dev_buf in, a, b, s1, s2, g0, g1, small;
} dev;

/* Maps a CUDA error to a FILOT code (logged by the caller's caller). */
static int ck(cudaError_t e)
{
    return e == cudaSuccess ? 0 : FILOT_EIO;
}

/* Makes buf hold at least need bytes (contents are not kept). */
static int ensure(struct dev_buf *buf, size_t need)
{
    if (buf->cap >= need)
        return 0;
    if (buf->ptr)
        cudaFree(buf->ptr);
    buf->ptr = NULL;
    buf->cap = 0;
    if (cudaMalloc(&buf->ptr, need) != cudaSuccess) {
        buf->ptr = NULL;
        return FILOT_ENOMEM;
    }
    buf->cap = need;
    return 0;
}

static dim3 grid2d(uint32_t w, uint32_t h)
{
    return dim3((w + BLOCK_X - 1) / BLOCK_X, (h + BLOCK_Y - 1) / BLOCK_Y);
}

static uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- kernels: one thread per output element unless stated ---- */

__global__ void k_grey(const uint8_t *in, uint32_t w, uint32_t h, uint32_t pitch, uint32_t fmt,
                       uint8_t *out)
{
    uint32_t x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= w || y >= h)
        return;
    const uint8_t *p = in + (size_t)y * pitch + (size_t)x * fmt;
    out[(size_t)y * w + x] = fmt == PP_GRAY8 ? p[0] : pp_luma(p[0], p[1], p[2]);
}

/* Area mean when shrinking, bilinear when enlarging (pp_rescale_pixel). */
__global__ void k_rescale(const uint8_t *src, uint32_t w, uint32_t h, uint8_t *dst, uint32_t ow,
                          uint32_t oh, uint32_t inv_q16)
{
    uint32_t x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= ow || y >= oh)
        return;
    dst[(size_t)y * ow + x] = pp_rescale_pixel(src, w, h, w, x, y, inv_q16);
}

/* One thread per background tile. */
__global__ void k_tile_max(const uint8_t *img, uint32_t w, uint32_t h, uint32_t t, uint8_t *g,
                           uint32_t gw, uint32_t gh)
{
    uint32_t i = blockIdx.x * blockDim.x + threadIdx.x, j = blockIdx.y * blockDim.y + threadIdx.y;
    if (i < gw && j < gh)
        g[(size_t)j * gw + i] = pp_tile_max(img, w, h, w, t, i, j);
}

__global__ void k_grid_3x3(const uint8_t *src, uint8_t *dst, uint32_t gw, uint32_t gh, int want_max)
{
    uint32_t i = blockIdx.x * blockDim.x + threadIdx.x, j = blockIdx.y * blockDim.y + threadIdx.y;
    if (i < gw && j < gh)
        dst[(size_t)j * gw + i] = pp_grid_3x3(src, gw, gh, i, j, want_max);
}

/* In place: each thread reads and writes only its own pixel. */
__global__ void k_bgnorm(uint8_t *img, uint32_t w, uint32_t h, const uint8_t *g, uint32_t gw,
                         uint32_t gh, uint32_t t)
{
    uint32_t x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= w || y >= h)
        return;
    uint8_t bg = pp_bg_at(g, gw, gh, pp_bg_coord_q8(x, t, gw), pp_bg_coord_q8(y, t, gh));
    img[(size_t)y * w + x] = pp_bgnorm_pixel(img[(size_t)y * w + x], bg);
}

__global__ void k_block_mean(const uint8_t *img, uint32_t w, uint32_t h, uint32_t d, uint8_t *small,
                             uint32_t sw, uint32_t sh)
{
    uint32_t x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x < sw && y < sh)
        small[(size_t)y * sw + x] = pp_block_mean(img, w, h, w, d, x, y);
}

__global__ void k_rotate(const uint8_t *src, uint8_t *dst, uint32_t w, uint32_t h, int32_t c,
                         int32_t s)
{
    uint32_t x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= w || y >= h)
        return;
    int64_t sx, sy;
    pp_rotate_src_q8(x, y, w, h, c, s, &sx, &sy);
    dst[(size_t)y * w + x] = pp_sample_q8(src, w, h, w, sx, sy, PP_WHITE);
}

/*
 * Integral images, pass 1: one thread per image row writes row y + 1 of
 * both integrals as a horizontal prefix sum (column 0 stays 0).
 */
__global__ void k_row_prefix(const uint8_t *src, uint32_t w, uint32_t h, uint64_t *s1, uint64_t *s2)
{
    uint32_t y = blockIdx.x * blockDim.x + threadIdx.x;
    if (y >= h)
        return;
    size_t iw = (size_t)w + 1, base = (size_t)(y + 1) * iw;
    uint64_t r1 = 0, r2 = 0;
    s1[base] = 0;
    s2[base] = 0;
    for (uint32_t x = 0; x < w; x++) {
        uint32_t v = src[(size_t)y * w + x];
        r1 += v;
        r2 += v * v;
        s1[base + x + 1] = r1;
        s2[base + x + 1] = r2;
    }
}

/* Pass 2: one thread per integral column accumulates down (coalesced). */
__global__ void k_col_prefix(uint64_t *s1, uint64_t *s2, uint32_t iw, uint32_t ih)
{
    uint32_t x = blockIdx.x * blockDim.x + threadIdx.x;
    if (x >= iw)
        return;
    for (uint32_t y = 1; y < ih; y++) {
        s1[(size_t)y * iw + x] += s1[(size_t)(y - 1) * iw + x];
        s2[(size_t)y * iw + x] += s2[(size_t)(y - 1) * iw + x];
    }
}

__global__ void k_sauvola(const uint8_t *src, uint8_t *dst, uint32_t w, uint32_t h,
                          const uint64_t *s1, const uint64_t *s2, uint32_t r, int32_t kq)
{
    uint32_t x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= w || y >= h)
        return;
    uint32_t iw = w + 1;
    uint32_t x0 = x > r ? x - r : 0, x1 = x + r + 1 < w ? x + r + 1 : w;
    uint32_t y0 = y > r ? y - r : 0, y1 = y + r + 1 < h ? y + r + 1 : h;
    uint32_t n = (x1 - x0) * (y1 - y0);
    dst[(size_t)y * w + x] =
        pp_sauvola_pixel(src[(size_t)y * w + x], pp_box_sum(s1, iw, x0, y0, x1, y1),
                         pp_box_sum(s2, iw, x0, y0, x1, y1), n, kq);
}

/* ---- host side ---- */

/* Copies why/name safely (truncating). */
static void put_str(char *dst, size_t len, const char *src)
{
    if (dst && len > 0)
        snprintf(dst, len, "%s", src);
}

/*
 * Probes the driver and device 0 and forces context creation now, so the
 * first job does not pay for it.  Without a usable device: FILOT_EUNAVAIL
 * and the runtime's reason.
 */
extern "C" int pp_cuda_open(char *why, size_t whylen, char *device_name, size_t namelen)
{
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e == cudaSuccess && count == 0)
        e = cudaErrorNoDevice;
    if (e == cudaSuccess)
        e = cudaSetDevice(0);
    if (e == cudaSuccess)
        e = cudaFree(0);
    cudaDeviceProp prop;
    if (e == cudaSuccess)
        e = cudaGetDeviceProperties(&prop, 0);
    if (e != cudaSuccess) {
        put_str(why, whylen, cudaGetErrorString(e));
        cudaGetLastError(); /* reset the runtime's last-error slot */
        return FILOT_EUNAVAIL;
    }
    put_str(device_name, namelen, prop.name);
    put_str(why, whylen, "");
    dev.open = 1;
    return 0;
}

extern "C" int pp_cuda_register(void *base, size_t len)
{
    if (!dev.open)
        return FILOT_EUNAVAIL;
    if (!base || len == 0)
        return FILOT_EINVAL;
    return ck(cudaHostRegister(base, len, cudaHostRegisterDefault));
}

extern "C" void pp_cuda_unregister(void *base)
{
    if (dev.open && base)
        cudaHostUnregister(base);
}

/* Background normalisation of dev.a (w x h) in place. */
static int run_bgnorm(uint32_t w, uint32_t h, uint32_t bg_window)
{
    uint32_t t = pp_bg_tile(bg_window);
    uint32_t gw = (w + t - 1) / t, gh = (h + t - 1) / t;
    int rc;
    if ((rc = ensure(&dev.g0, (size_t)gw * gh)) != 0 || (rc = ensure(&dev.g1, (size_t)gw * gh)))
        return rc;
    uint8_t *a = (uint8_t *)dev.a.ptr, *g0 = (uint8_t *)dev.g0.ptr, *g1 = (uint8_t *)dev.g1.ptr;
    k_tile_max<<<grid2d(gw, gh), dim3(BLOCK_X, BLOCK_Y)>>>(a, w, h, t, g0, gw, gh);
    k_grid_3x3<<<grid2d(gw, gh), dim3(BLOCK_X, BLOCK_Y)>>>(g0, g1, gw, gh, 1);
    k_grid_3x3<<<grid2d(gw, gh), dim3(BLOCK_X, BLOCK_Y)>>>(g1, g0, gw, gh, 0);
    k_bgnorm<<<grid2d(w, h), dim3(BLOCK_X, BLOCK_Y)>>>(a, w, h, g0, gw, gh, t);
    return ck(cudaGetLastError());
}

/* Skew of dev.a: thumbnail on the device, search on the host. */
static int run_skew_estimate(uint32_t w, uint32_t h, float max_deg, float *deg)
{
    uint32_t d = pp_skew_factor(w, h);
    uint32_t sw = (w + d - 1) / d, sh = (h + d - 1) / d;
    size_t n = (size_t)sw * sh;
    int rc = ensure(&dev.small, n);
    if (rc != 0)
        return rc;
    k_block_mean<<<grid2d(sw, sh), dim3(BLOCK_X, BLOCK_Y)>>>((const uint8_t *)dev.a.ptr, w, h, d,
                                                             (uint8_t *)dev.small.ptr, sw, sh);
    uint8_t *small = (uint8_t *)malloc(n);
    if (!small)
        return FILOT_ENOMEM;
    rc = ck(cudaMemcpy(small, dev.small.ptr, n, cudaMemcpyDeviceToHost));
    if (rc == 0)
        rc = pp_skew_estimate(small, sw, sh, max_deg, deg);
    free(small);
    return rc;
}

/* Sauvola of dev.a into dev.b. */
static int run_binarize(uint32_t w, uint32_t h, uint32_t window, float k)
{
    size_t isz = ((size_t)w + 1) * ((size_t)h + 1) * sizeof(uint64_t);
    int rc;
    if ((rc = ensure(&dev.s1, isz)) != 0 || (rc = ensure(&dev.s2, isz)) != 0)
        return rc;
    uint64_t *s1 = (uint64_t *)dev.s1.ptr, *s2 = (uint64_t *)dev.s2.ptr;
    if ((rc = ck(cudaMemset(s1, 0, ((size_t)w + 1) * sizeof(uint64_t)))) != 0 ||
        (rc = ck(cudaMemset(s2, 0, ((size_t)w + 1) * sizeof(uint64_t)))) != 0)
        return rc;
    const uint8_t *a = (const uint8_t *)dev.a.ptr;
    k_row_prefix<<<(h + BLOCK_1D - 1) / BLOCK_1D, BLOCK_1D>>>(a, w, h, s1, s2);
    k_col_prefix<<<(w + 1 + BLOCK_1D - 1) / BLOCK_1D, BLOCK_1D>>>(s1, s2, w + 1, h + 1);
    k_sauvola<<<grid2d(w, h), dim3(BLOCK_X, BLOCK_Y)>>>(a, (uint8_t *)dev.b.ptr, w, h, s1, s2,
                                                        pp_sauvola_half(window), pp_k_q10(k));
    return ck(cudaGetLastError());
}

static void swap_ab(void)
{
    struct dev_buf t = dev.a;
    dev.a = dev.b;
    dev.b = t;
}

/* Steps after grey; the image is in dev.a on entry and on return. */
static int run_steps(const struct pp_params *p, uint32_t w, uint32_t h, uint32_t ow, uint32_t oh,
                     float *skew)
{
    int rc = 0;
    if (ow != w || oh != h) {
        k_rescale<<<grid2d(ow, oh), dim3(BLOCK_X, BLOCK_Y)>>>(
            (const uint8_t *)dev.a.ptr, w, h, (uint8_t *)dev.b.ptr, ow, oh, pp_inv_q16(p->scale));
        swap_ab();
        if ((rc = ck(cudaGetLastError())) != 0)
            return rc;
    }
    if ((p->steps & PP_STEP_BGNORM) && (rc = run_bgnorm(ow, oh, p->bg_window)) != 0)
        return rc;
    if (p->steps & PP_STEP_DESKEW) {
        if ((rc = run_skew_estimate(ow, oh, p->max_skew_deg, skew)) != 0)
            return rc;
        if (*skew != 0.0f) {
            int32_t c, s;
            pp_rot_q16(*skew, &c, &s);
            k_rotate<<<grid2d(ow, oh), dim3(BLOCK_X, BLOCK_Y)>>>(
                (const uint8_t *)dev.a.ptr, (uint8_t *)dev.b.ptr, ow, oh, c, s);
            swap_ab();
            if ((rc = ck(cudaGetLastError())) != 0)
                return rc;
        }
    }
    if (p->steps & PP_STEP_BINARIZE) {
        if ((rc = run_binarize(ow, oh, p->sauvola_window, p->sauvola_k)) != 0)
            return rc;
        swap_ab();
    }
    return 0;
}

extern "C" int pp_run_cuda(const struct pp_image *in, const struct pp_params *p, uint8_t *out,
                           size_t out_cap, struct pp_result *res)
{
    uint64_t t0 = mono_us();
    uint32_t ow, oh;
    int rc = pp_validate(in, p, out, out_cap, &ow, &oh);
    if (rc != 0)
        return rc;
    if (!dev.open)
        return FILOT_EUNAVAIL;
    uint32_t w = in->width, h = in->height;
    size_t row = (size_t)w * in->format;
    size_t in_px = (size_t)w * h, out_px = (size_t)ow * oh;
    size_t cap = in_px > out_px ? in_px : out_px;
    if ((rc = ensure(&dev.in, row * h)) != 0 || (rc = ensure(&dev.a, cap)) != 0 ||
        (rc = ensure(&dev.b, cap)) != 0)
        return rc;
    rc = ck(cudaMemcpy2D(dev.in.ptr, row, in->data, in->stride, row, h, cudaMemcpyHostToDevice));
    if (rc != 0)
        return rc;
    k_grey<<<grid2d(w, h), dim3(BLOCK_X, BLOCK_Y)>>>(
        (const uint8_t *)dev.in.ptr, w, h, (uint32_t)row, in->format, (uint8_t *)dev.a.ptr);
    float skew = 0.0f;
    if ((rc = ck(cudaGetLastError())) != 0 || (rc = run_steps(p, w, h, ow, oh, &skew)) != 0)
        return rc;
    if ((rc = ck(cudaMemcpy(out, dev.a.ptr, out_px, cudaMemcpyDeviceToHost))) != 0)
        return rc;
    if (res) {
        res->width = ow;
        res->height = oh;
        res->skew_deg = skew;
        res->elapsed_us = (uint32_t)(mono_us() - t0);
    }
    return 0;
}

/* Frees the cached buffers; pp_cuda_open() is needed before the next run. */
extern "C" void pp_cuda_close(void)
{
    struct dev_buf *all[] = {&dev.in, &dev.a,  &dev.b,  &dev.s1,
                             &dev.s2, &dev.g0, &dev.g1, &dev.small};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        if (all[i]->ptr)
            cudaFree(all[i]->ptr);
        all[i]->ptr = NULL;
        all[i]->cap = 0;
    }
    dev.open = 0;
}
