/*
 * parity.c - CPU twin vs CUDA kernels on the same images (make test-gpu).
 *
 * Usage: parity [IMAGE.ppm|IMAGE.pgm ...]
 * Each binary PPM (P6, run as RGBA32) or PGM (P5, run as GRAY8) is run
 * through both implementations for every step configuration below, plus a
 * built-in synthetic page (uneven light, skewed text-like bars).  Prints the
 * maximum absolute difference, the share of pixels differing by more than
 * one level and both skew angles per configuration, and the time of each
 * side (GPU warm, transfers included).
 *
 * Pass: skew angles equal and at most PARITY_MAX_PCT % of pixels differ by
 * more than one level.  The shared math is integer, so 0 is expected; the
 * allowance only covers a future float step.
 * Exit: 0 pass, 1 mismatch or error, 77 no CUDA device (SKIP).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/preproc.h"
#include "common/status.h"
#include "gpu-server/preproc_cuda.h"

#define PARITY_MAX_PCT 0.5
#define EXIT_SKIP      77

/*
 * A step list, an optional forced scale (0: pp_plan decides) and whether
 * the card warp runs (quad: a perspective inset of the image, see
 * inset_quad()).  The forced scales cover area shrinking at a non-integer
 * factor and bilinear enlarging; the warp covers both the area pre-shrink
 * (large images) and the direct warp (card-size images).
 */
static const struct config {
    const char *spec;
    float scale;
    int warp;
} configs[] = {{"none", 0, 0},        {"rescale", 0, 0},
               {"rescale", 0.37f, 0}, {"rescale", 1.6f, 0},
               {"bgnorm", 0, 0},      {"deskew", 0, 0},
               {"binarize", 0, 0},    {"rescale,bgnorm,deskew,binarize", 0, 0},
               {"auto", 0, 0},        {"none", 0, 1},
               {"auto", 0, 1}};

/* A convex, clockwise quad inside w x h, in perspective (no two sides parallel). */
static void inset_quad(uint32_t w, uint32_t h, float *q)
{
    const float f[8] = {0.08f, 0.10f, 0.93f, 0.06f, 0.90f, 0.92f, 0.05f, 0.88f};
    for (int k = 0; k < 8; k++)
        q[k] = f[k] * (float)(k % 2 ? h : w);
}

/* Reads one whitespace-separated header number of a PNM file; -1 on error. */
static long pnm_number(FILE *f)
{
    int c;
    while ((c = fgetc(f)) != EOF) {
        if (c == '#')
            while ((c = fgetc(f)) != EOF && c != '\n')
                ;
        else if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
    }
    long v = 0;
    if (c < '0' || c > '9')
        return -1;
    while (c >= '0' && c <= '9') {
        v = v * 10 + (c - '0');
        c = fgetc(f);
    }
    return v;
}

/* Loads an 8-bit P5/P6 file into img (data malloc'd, caller frees). */
static int load_pnm(const char *path, struct pp_image *img)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return FILOT_EIO;
    char magic[3] = {0};
    int rc = FILOT_EFORMAT;
    if (fread(magic, 1, 2, f) == 2 && magic[0] == 'P' && (magic[1] == '5' || magic[1] == '6')) {
        long w = pnm_number(f), h = pnm_number(f), maxv = pnm_number(f);
        int ch = magic[1] == '6' ? 3 : 1;
        if (w > 0 && h > 0 && w <= 20000 && h <= 20000 && maxv == 255) {
            img->width = (uint32_t)w;
            img->height = (uint32_t)h;
            img->format = ch == 3 ? PP_RGBA32 : PP_GRAY8;
            img->stride = img->width * img->format;
            img->data = malloc((size_t)img->stride * img->height);
            uint8_t px[3];
            rc = img->data ? 0 : FILOT_ENOMEM;
            for (size_t i = 0; rc == 0 && i < (size_t)w * h; i++) {
                if (fread(px, 1, (size_t)ch, f) != (size_t)ch) {
                    rc = FILOT_EFORMAT;
                    break;
                }
                uint8_t *o = img->data + i * img->format;
                memcpy(o, px, (size_t)ch);
                if (ch == 3)
                    o[3] = 255;
            }
            if (rc != 0) {
                free(img->data);
                img->data = NULL;
            }
        }
    }
    fclose(f);
    return rc;
}

/*
 * Synthetic page: light falling off to one corner, and rows of dark bars
 * (word-like runs) sheared by 2.5 degrees, with a deterministic dither.
 */
static int make_synthetic(struct pp_image *img, uint32_t w, uint32_t h)
{
    img->data = malloc((size_t)w * h);
    if (!img->data)
        return FILOT_ENOMEM;
    img->width = w;
    img->height = h;
    img->stride = w;
    img->format = PP_GRAY8;
    double t = tan(2.5 * 3.14159265358979 / 180.0);
    uint32_t seed = 12345;
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++) {
            double yy = y - x * t;
            int line = (int)floor(yy / 40.0);
            int in_line = yy - line * 40.0 < 14.0 && line > 0 && line * 40 < (int)h - 40;
            int in_word = (x / 9) % 11 != 0 && x > 40 && x + 40 < w;
            seed = seed * 1103515245u + 12345u;
            int v = 235 - (int)(90.0 * x / w) - (int)(40.0 * y / h) + (int)((seed >> 16) % 9);
            if (in_line && in_word)
                v = 45 + (int)((seed >> 20) % 20);
            img->data[(size_t)y * w + x] = (uint8_t)(v < 0 ? 0 : v);
        }
    return 0;
}

/* Runs one configuration on both sides; returns 0 pass, 1 mismatch, <0 error. */
static int compare_one(const char *name, const struct pp_image *img, const struct config *cf)
{
    struct pp_params p;
    uint32_t steps, ow, oh;
    if (pp_steps_parse(cf->spec, &steps) != 0)
        return FILOT_EINVAL;
    pp_params_default(steps, &p);
    pp_plan(&p, img->width, img->height, 40000000u);
    if (cf->scale > 0)
        p.scale = cf->scale;
    if (cf->warp) {
        p.warp = 1;
        inset_quad(img->width, img->height, p.quad);
    }
    char spec[64];
    snprintf(spec, sizeof spec, "%s%s", cf->spec, cf->warp ? "+warp" : "");
    if (cf->scale > 0)
        snprintf(spec + strlen(spec), sizeof spec - strlen(spec), "@%.2f", (double)cf->scale);
    pp_output_size(&p, img->width, img->height, &ow, &oh);
    size_t n = (size_t)ow * oh;
    uint8_t *a = malloc(n), *b = malloc(n);
    struct pp_result ra, rb;
    int rc = a && b ? 0 : FILOT_ENOMEM;
    if (rc == 0)
        rc = pp_run_cpu(img, &p, a, n, &ra);
    if (rc == 0)
        rc = pp_run_cuda(img, &p, b, n, &rb); /* warm-up: buffers, module load */
    if (rc == 0)
        rc = pp_run_cuda(img, &p, b, n, &rb);
    if (rc != 0) {
        printf("%-14s %-32s ERROR %s (%d)\n", name, spec, filot_strerror(rc), rc);
        free(a);
        free(b);
        return rc;
    }
    size_t ndiff = 0;
    int maxd = 0;
    for (size_t i = 0; i < n; i++) {
        int d = abs((int)a[i] - (int)b[i]);
        maxd = d > maxd ? d : maxd;
        ndiff += d > 1;
    }
    double pct = 100.0 * (double)ndiff / (double)n;
    int pass = pct <= PARITY_MAX_PCT && ra.skew_deg == rb.skew_deg && ra.width == rb.width &&
               ra.height == rb.height;
    printf("%-14s %-32s %5ux%-5u maxdiff %3d  >1: %7.4f %%  skew cpu %6.2f gpu %6.2f  "
           "cpu %7.2f ms  gpu %6.2f ms  %s\n",
           name, spec, ow, oh, maxd, pct, ra.skew_deg, rb.skew_deg, ra.elapsed_us / 1000.0,
           rb.elapsed_us / 1000.0, pass ? "OK" : "MISMATCH");
    free(a);
    free(b);
    return pass ? 0 : 1;
}

/* Every configuration on one image; returns the number of failures. */
static int compare_all(const char *name, const struct pp_image *img)
{
    int fails = 0;
    for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++)
        fails += compare_one(name, img, &configs[i]) != 0;
    return fails;
}

int main(int argc, char **argv)
{
    char why[256], devname[256];
    if (pp_cuda_open(why, sizeof why, devname, sizeof devname) != 0) {
        printf("SKIP: no CUDA device (%s)\n", why);
        return EXIT_SKIP;
    }
    printf("device: %s\n", devname);
    int fails = 0;
    struct pp_image img;
    if (make_synthetic(&img, 1400, 900) != 0)
        return 1;
    fails += compare_all("synthetic", &img);
    free(img.data);
    for (int i = 1; i < argc; i++) {
        if (load_pnm(argv[i], &img) != 0) {
            printf("%s: cannot load\n", argv[i]);
            fails++;
            continue;
        }
        const char *base = strrchr(argv[i], '/');
        fails += compare_all(base ? base + 1 : argv[i], &img);
        free(img.data);
    }
    pp_cuda_close();
    printf("%s: %d mismatching configuration(s)\n", fails ? "FAIL" : "PASS", fails);
    return fails ? 1 : 0;
}
