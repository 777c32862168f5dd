/*
 * test_preproc.c - the CPU preprocessing twin, step by step, on small
 * synthetic images with known answers, plus one ImageMagick-rendered card
 * run through the whole pipeline.
 */
#include <check.h>

#include "check_run.h"
#include <leptonica/allheaders.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/preproc.h"
#include "common/preproc_math.h"
#include "common/status.h"

#define PI 3.14159265358979323846

/* An owned grey image: data malloc'd, stride == width. */
static struct pp_image grey_new(uint32_t w, uint32_t h)
{
    struct pp_image img = {malloc((size_t)w * h), w, h, w, PP_GRAY8};
    ck_assert_ptr_nonnull(img.data);
    return img;
}

/* Runs pp_run_cpu with default parameters for steps and scale; out malloc'd. */
static uint8_t *run(const struct pp_image *in, uint32_t steps, float scale, struct pp_result *res)
{
    struct pp_params p;
    pp_params_default(steps, &p);
    p.scale = scale;
    uint32_t ow, oh;
    pp_output_size(&p, in->width, in->height, &ow, &oh);
    uint8_t *out = malloc((size_t)ow * oh);
    ck_assert_ptr_nonnull(out);
    ck_assert_int_eq(pp_run_cpu(in, &p, out, (size_t)ow * oh, res), 0);
    ck_assert_uint_eq(res->width, ow);
    ck_assert_uint_eq(res->height, oh);
    return out;
}

static double mean_sd(const double *v, size_t n, double *sd)
{
    double s = 0, s2 = 0;
    for (size_t i = 0; i < n; i++) {
        s += v[i];
        s2 += v[i] * v[i];
    }
    double m = s / n;
    *sd = sqrt(s2 / n - m * m);
    return m;
}

/*
 * Text-like pattern: rows of dashed bars (14 px tall, 40 px pitch) whose
 * lines fall to the right by deg, on paper of value paper(x); ink is ink_v.
 * truth (optional) marks the ink pixels.
 */
static void draw_lines(struct pp_image *img, double deg, int (*paper)(uint32_t, uint32_t),
                       uint8_t ink_v, uint8_t *truth)
{
    double t = tan(deg * PI / 180.0);
    for (uint32_t y = 0; y < img->height; y++)
        for (uint32_t x = 0; x < img->width; x++) {
            double yy = y - (x - img->width / 2.0) * t;
            int line = (int)floor(yy / 40.0);
            int ink = yy - line * 40.0 >= 12.0 && yy - line * 40.0 < 26.0 && (x / 7) % 9 != 0 &&
                      x >= 20 && x + 20 < img->width && yy > 20 && yy + 30 < img->height;
            img->data[(size_t)y * img->width + x] = ink ? ink_v : (uint8_t)paper(x, y);
            if (truth)
                truth[(size_t)y * img->width + x] = (uint8_t)ink;
        }
}

static int paper_flat(uint32_t x, uint32_t y)
{
    (void)x;
    (void)y;
    return 225;
}

/* Light falling from 230 on the left to 110 on the right. */
static int paper_gradient(uint32_t x, uint32_t y)
{
    (void)y;
    return 230 - (int)(x * 120 / 400);
}

START_TEST(test_luma_known_colours)
{
    ck_assert_uint_eq(pp_luma(255, 255, 255), 255);
    ck_assert_uint_eq(pp_luma(0, 0, 0), 0);
    ck_assert_uint_eq(pp_luma(255, 0, 0), 77);
    ck_assert_uint_eq(pp_luma(0, 255, 0), 149);
    ck_assert_uint_eq(pp_luma(0, 0, 255), 29);
    ck_assert_uint_eq(pp_luma(128, 128, 128), 128);

    /* Through the pipeline: RGBA with a padded stride, no steps. */
    uint8_t px[2 * 24] = {0};
    const uint8_t colours[4][4] = {
        {255, 255, 255, 9}, {255, 0, 0, 0}, {0, 255, 0, 255}, {219, 233, 246, 255}};
    for (int row = 0; row < 2; row++)
        for (int i = 0; i < 4; i++)
            memcpy(px + row * 24 + i * 4, colours[i], 4);
    struct pp_image in = {px, 4, 2, 24, PP_RGBA32};
    struct pp_result res;
    uint8_t *out = run(&in, 0, 1.0f, &res);
    const uint8_t want[4] = {255, 77, 149, 230};
    for (int row = 0; row < 2; row++)
        ck_assert_mem_eq(out + row * 4, want, 4);
    ck_assert_float_eq(res.skew_deg, 0.0f);
    free(out);
}
END_TEST

START_TEST(test_rescale_geometry_and_values)
{
    struct pp_image in = grey_new(200, 100);
    for (uint32_t y = 0; y < 100; y++)
        for (uint32_t x = 0; x < 200; x++)
            in.data[y * 200 + x] = x < 100 ? 0 : 200;
    struct pp_result res;
    uint8_t *up = run(&in, PP_STEP_RESCALE, 2.0f, &res);
    ck_assert_uint_eq(res.width, 400);
    ck_assert_uint_eq(res.height, 200);
    for (uint32_t y = 0; y < 200; y += 37) {
        const uint8_t *r = up + y * 400;
        ck_assert_uint_eq(r[0], 0);
        ck_assert_uint_eq(r[197], 0);
        ck_assert_uint_eq(r[202], 200);
        ck_assert_uint_eq(r[399], 200);
        for (uint32_t x = 1; x < 400; x++)
            ck_assert_uint_ge(r[x], r[x - 1]); /* monotonic edge, no ringing */
        ck_assert(r[199] > 0 && r[199] < 200);
    }
    free(up);

    /* Downscale 2x2 blocks of 0/100/200/40 by 0.5: each output is near the block mean. */
    for (uint32_t y = 0; y < 100; y++)
        for (uint32_t x = 0; x < 200; x++)
            in.data[y * 200 + x] = (uint8_t)((x / 50) * 60);
    uint8_t *down = run(&in, PP_STEP_RESCALE, 0.5f, &res);
    ck_assert_uint_eq(res.width, 100);
    ck_assert_uint_eq(res.height, 50);
    ck_assert_uint_eq(down[10 * 100 + 10], 0);
    ck_assert_uint_eq(down[10 * 100 + 35], 60);
    ck_assert_uint_eq(down[10 * 100 + 90], 180);
    free(down);
    free(in.data);
}
END_TEST

/* Mean and standard deviation of n grey bytes. */
static double byte_mean_sd(const uint8_t *v, size_t n, double *sd)
{
    double s = 0, s2 = 0;
    for (size_t i = 0; i < n; i++) {
        s += v[i];
        s2 += (double)v[i] * v[i];
    }
    double m = s / n;
    *sd = sqrt(s2 / n - m * m);
    return m;
}

/*
 * Shrinking independent noise by 1/3 averages 9 source pixels per output
 * pixel, so the standard deviation falls to about 1/3.  Point sampling
 * (the old bilinear rescale hit pixel centres at 1/3) keeps it at full
 * strength: that aliasing turned phone-photo noise into salt-and-pepper.
 */
START_TEST(test_rescale_down_averages_noise)
{
    struct pp_image in = grey_new(900, 600);
    uint32_t seed = 20261202u;
    for (size_t i = 0; i < (size_t)in.width * in.height; i++) {
        seed = seed * 1103515245u + 12345u;
        in.data[i] = (uint8_t)(78 + (seed >> 16) % 101); /* uniform 78..178 */
    }
    double sd_in, sd_out;
    double m_in = byte_mean_sd(in.data, (size_t)in.width * in.height, &sd_in);
    struct pp_result res;
    uint8_t *out = run(&in, PP_STEP_RESCALE, 1.0f / 3.0f, &res);
    ck_assert_uint_eq(res.width, 300);
    ck_assert_uint_eq(res.height, 200);
    double m_out = byte_mean_sd(out, (size_t)res.width * res.height, &sd_out);
    ck_assert_msg(fabs(m_out - m_in) < 1.0, "mean %.2f -> %.2f", m_in, m_out);
    double ratio = sd_out / sd_in;
    ck_assert_msg(ratio > 0.30 && ratio < 0.37, "sd %.2f -> %.2f (ratio %.3f, want ~1/3)", sd_in,
                  sd_out, ratio);
    free(out);
    free(in.data);
}
END_TEST

/*
 * A 1-px checkerboard (the finest pattern there is) shrunk by 1/2, 1/3 or a
 * non-integer factor must come out grey: exactly 128 where the box covers
 * whole pixel pairs, within a small ripple otherwise.  Point sampling shows
 * it as full-contrast black/white or a moire of beats.
 */
START_TEST(test_rescale_down_checkerboard_is_grey)
{
    struct pp_image in = grey_new(600, 420);
    for (uint32_t y = 0; y < in.height; y++)
        for (uint32_t x = 0; x < in.width; x++)
            in.data[y * in.width + x] = (x + y) % 2 ? 255 : 0;
    const float scales[] = {0.5f, 1.0f / 3.0f, 0.3f, 0.27f};
    const double max_sd[] = {0.6, 16.0, 16.0, 16.0};
    for (size_t k = 0; k < sizeof scales / sizeof scales[0]; k++) {
        struct pp_result res;
        uint8_t *out = run(&in, PP_STEP_RESCALE, scales[k], &res);
        double sd, m = byte_mean_sd(out, (size_t)res.width * res.height, &sd);
        uint8_t lo = 255, hi = 0;
        for (size_t i = 0; i < (size_t)res.width * res.height; i++) {
            lo = out[i] < lo ? out[i] : lo;
            hi = out[i] > hi ? out[i] : hi;
        }
        ck_assert_msg(fabs(m - 127.5) < 3.0 && sd < max_sd[k] && lo >= 98 && hi <= 157,
                      "scale %.3f: mean %.1f sd %.1f range %u..%u", (double)scales[k], m, sd, lo,
                      hi);
        free(out);
    }
    free(in.data);
}
END_TEST

START_TEST(test_plan)
{
    struct pp_params p;
    uint32_t ow, oh;
    pp_params_default(PP_STEP_RESCALE, &p);
    pp_plan(&p, 505, 319, 40000000u); /* small image: enlarge to the target */
    ck_assert(fabsf(p.scale * 319 - p.target_height) < 2.0f);
    pp_plan(&p, 1011, 638, 40000000u); /* within 10 % of the target: left alone */
    ck_assert_float_eq(p.scale, 1.0f);
    pp_plan(&p, 4000, 2520, 40000000u); /* phone photo of a card: shrink */
    ck_assert(fabsf(p.scale * 2520 - p.target_height) < 2.0f);
    pp_plan(&p, 100, 60, 40000000u); /* never more than 3x */
    ck_assert_float_eq(p.scale, 3.0f);
    pp_plan(&p, 8000, 40000, 4000000000u); /* never below 0.25 */
    ck_assert_float_eq(p.scale, 0.25f);
    pp_plan(&p, 20000, 10, 4000000000u); /* a strip: no side past Tesseract's limit */
    pp_output_size(&p, 20000, 10, &ow, &oh);
    ck_assert_uint_le(ow, PP_OCR_MAX_SIDE);
    pp_plan(&p, 40000, 1000, 4000000000u); /* ... even when that means shrinking */
    pp_output_size(&p, 40000, 1000, &ow, &oh);
    ck_assert_uint_le(ow, PP_OCR_MAX_SIDE);
    pp_plan(&p, 2480, 3508, 40000000u); /* A4 at 300 dpi is already right */
    ck_assert_float_eq(p.scale, 1.0f);
    pp_plan(&p, 505, 319, 300000u); /* the pixel cap wins */
    pp_output_size(&p, 505, 319, &ow, &oh);
    ck_assert_uint_le((uint64_t)ow * oh, 300000u);
    ck_assert_uint_gt((uint64_t)ow * oh, 280000u);
    pp_params_default(PP_STEP_DESKEW, &p); /* no rescale step: scale stays 1 */
    pp_plan(&p, 1011, 638, 40000000u);
    ck_assert_float_eq(p.scale, 1.0f);
}
END_TEST

START_TEST(test_bgnorm_flattens_gradient)
{
    struct pp_image in = grey_new(400, 200);
    uint8_t *truth = malloc(400 * 200);
    draw_lines(&in, 0.0, paper_gradient, 0, truth);
    for (size_t i = 0; i < 400 * 200; i++) /* ink at 30 % of the local paper */
        if (truth[i])
            in.data[i] = (uint8_t)(paper_gradient(i % 400, 0) * 3 / 10);
    struct pp_result res;
    uint8_t *out = run(&in, PP_STEP_BGNORM, 1.0f, &res);
    double *bg_in = malloc(sizeof(double) * 400 * 200),
           *bg_out = malloc(sizeof(double) * 400 * 200);
    double ink_sum = 0;
    size_t nbg = 0, nink = 0;
    for (size_t i = 0; i < 400 * 200; i++) {
        if (truth[i]) {
            ink_sum += out[i];
            nink++;
        } else {
            bg_in[nbg] = in.data[i];
            bg_out[nbg++] = out[i];
        }
    }
    double sd_in, sd_out;
    mean_sd(bg_in, nbg, &sd_in);
    double m_out = mean_sd(bg_out, nbg, &sd_out);
    ck_assert_msg(sd_out < sd_in / 5, "background sd %.1f -> %.1f", sd_in, sd_out);
    ck_assert_msg(m_out > 240, "background mean %.1f", m_out);
    ck_assert_msg(ink_sum / nink < 100, "ink mean %.1f", ink_sum / nink);
    free(bg_in);
    free(bg_out);
    free(out);
    free(truth);
    free(in.data);
}
END_TEST

START_TEST(test_sauvola_uneven_background)
{
    struct pp_image in = grey_new(400, 200);
    uint8_t *truth = malloc(400 * 200);
    draw_lines(&in, 0.0, paper_gradient, 0, truth);
    uint32_t seed = 7;
    for (size_t i = 0; i < 400 * 200; i++) {
        int paper = paper_gradient(i % 400, 0);
        seed = seed * 1103515245u + 12345u;
        int noise = (int)((seed >> 16) % 11) - 5;
        in.data[i] = (uint8_t)((truth[i] ? paper - 80 : paper) + noise);
    }
    struct pp_result res;
    uint8_t *out = run(&in, PP_STEP_BINARIZE, 1.0f, &res);
    size_t wrong = 0, global_wrong = 0;
    for (size_t i = 0; i < 400 * 200; i++) {
        ck_assert(out[i] == 0 || out[i] == 255);
        wrong += (out[i] == 0) != truth[i];
        global_wrong += (in.data[i] < 128) != truth[i]; /* what a fixed threshold gets */
    }
    ck_assert_msg(wrong < 400 * 200 / 100, "%zu of %d pixels wrong", wrong, 400 * 200);
    ck_assert_msg(global_wrong > 400 * 200 / 10, "test image too easy: %zu", global_wrong);
    free(out);
    free(truth);
    free(in.data);
}
END_TEST

/* Deskew recovers the synthetic rotation and leaves level output. */
static void check_deskew(double deg)
{
    struct pp_image in = grey_new(600, 400);
    draw_lines(&in, deg, paper_flat, 30, NULL);
    struct pp_result res;
    uint8_t *out = run(&in, PP_STEP_DESKEW, 1.0f, &res);
    ck_assert_msg(fabs(res.skew_deg - deg) <= 0.5, "skew %.2f for %.2f", res.skew_deg, deg);
    struct pp_image again = {out, res.width, res.height, res.width, PP_GRAY8};
    uint8_t *out2 = run(&again, PP_STEP_DESKEW, 1.0f, &res);
    ck_assert_msg(fabs(res.skew_deg) <= 0.5, "residual skew %.2f", res.skew_deg);
    free(out2);
    free(out);
    free(in.data);
}

START_TEST(test_deskew_positive)
{
    check_deskew(3.0);
}
END_TEST

START_TEST(test_deskew_negative)
{
    check_deskew(-2.2);
}
END_TEST

START_TEST(test_deskew_level_page_stays)
{
    struct pp_image in = grey_new(600, 400);
    draw_lines(&in, 0.0, paper_flat, 30, NULL);
    struct pp_result res;
    uint8_t *out = run(&in, PP_STEP_DESKEW, 1.0f, &res);
    ck_assert_float_eq(res.skew_deg, 0.0f);
    ck_assert_mem_eq(out, in.data, 600 * 400); /* no rotation, no resampling */
    free(out);
    free(in.data);
}
END_TEST

START_TEST(test_steps_parse)
{
    uint32_t s = 99;
    ck_assert_int_eq(pp_steps_parse("none", &s), 0);
    ck_assert_uint_eq(s, 0);
    ck_assert_int_eq(pp_steps_parse("auto", &s), 0);
    ck_assert_uint_ne(s, 0);
    ck_assert_uint_eq(s & ~(uint32_t)PP_STEPS_ALL, 0);
    ck_assert_int_eq(pp_steps_parse("rescale,bgnorm,deskew,binarize,card", &s), 0);
    ck_assert_uint_eq(s, PP_STEPS_ALL);
    ck_assert_int_eq(pp_steps_parse(" deskew , binarize", &s), 0);
    ck_assert_uint_eq(s, PP_STEP_DESKEW | PP_STEP_BINARIZE);
    ck_assert_int_eq(pp_steps_parse("bgnorm", &s), 0);
    ck_assert_uint_eq(s, PP_STEP_BGNORM);

    s = 1234;
    const char *bad[] = {"",        "foo",          "rescale,foo", "rescale,,deskew", "rescale,",
                         "Rescale", "none,rescale", "auto,deskew", "deskewx",         "binarise"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(pp_steps_parse(bad[i], &s) == FILOT_EINVAL, "accepted \"%s\"", bad[i]);
    ck_assert_uint_eq(s, 1234); /* untouched on error */
    ck_assert_int_eq(pp_steps_parse(NULL, &s), FILOT_EINVAL);
}
END_TEST

START_TEST(test_run_errors)
{
    struct pp_image in = grey_new(64, 48);
    memset(in.data, 200, 64 * 48);
    struct pp_params p;
    pp_params_default(PP_STEP_RESCALE, &p);
    p.scale = 2.0f;
    uint8_t *out = malloc(128 * 96);
    struct pp_result res;
    ck_assert_int_eq(pp_run_cpu(&in, &p, out, 128 * 96 - 1, &res), FILOT_ETOOBIG);
    ck_assert_int_eq(pp_run_cpu(&in, &p, out, 128 * 96, &res), 0);

    struct pp_image bad = in;
    bad.format = 3;
    ck_assert_int_eq(pp_run_cpu(&bad, &p, out, 128 * 96, &res), FILOT_EINVAL);
    bad = in;
    bad.format = PP_RGBA32; /* stride 64 < 64 * 4 */
    ck_assert_int_eq(pp_run_cpu(&bad, &p, out, 128 * 96, &res), FILOT_EINVAL);
    bad = in;
    bad.data = NULL;
    ck_assert_int_eq(pp_run_cpu(&bad, &p, out, 128 * 96, &res), FILOT_EINVAL);
    bad = in;
    bad.width = 0;
    ck_assert_int_eq(pp_run_cpu(&bad, &p, out, 128 * 96, &res), FILOT_EINVAL);
    ck_assert_int_eq(pp_run_cpu(&in, &p, NULL, 128 * 96, &res), FILOT_EINVAL);
    ck_assert_int_eq(pp_run_cpu(&in, NULL, out, 128 * 96, &res), FILOT_EINVAL);
    struct pp_params q = p;
    q.steps |= 1u << 7;
    ck_assert_int_eq(pp_run_cpu(&in, &q, out, 128 * 96, &res), FILOT_EINVAL);
    q = p;
    q.scale = 0.0f;
    ck_assert_int_eq(pp_run_cpu(&in, &q, out, 128 * 96, &res), FILOT_EINVAL);
    q = p;
    q.steps = PP_STEP_BINARIZE;
    q.sauvola_window = 0;
    ck_assert_int_eq(pp_run_cpu(&in, &q, out, 128 * 96, &res), FILOT_EINVAL);
    free(out);
    free(in.data);
}
END_TEST

/* Renders a card rotated 3 degrees clockwise with ImageMagick; grey pixels. */
static struct pp_image render_card(void)
{
    char dir[] = "/tmp/test_preproc_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[64], cmd[512];
    snprintf(path, sizeof path, "%s/card.png", dir);
    snprintf(cmd, sizeof cmd,
             "convert -size 1011x638 xc:'#dbe9f6' -font DejaVu-Sans -pointsize 28 "
             "-annotate +30+120 'NIK : 3171234567890001' -annotate +30+170 'Nama : BUDI SANTOSO' "
             "-annotate +30+220 'Alamat : JL. MERDEKA NO. 10' -background white -rotate 3 %s",
             path);
    ck_assert_msg(system(cmd) == 0, "ImageMagick failed: %s", cmd);
    PIX *pix = pixRead(path);
    ck_assert_ptr_nonnull(pix);
    PIX *g = pixConvertTo8(pix, 0);
    ck_assert_ptr_nonnull(g);
    struct pp_image img = grey_new((uint32_t)pixGetWidth(g), (uint32_t)pixGetHeight(g));
    for (uint32_t y = 0; y < img.height; y++)
        for (uint32_t x = 0; x < img.width; x++) {
            l_uint32 v;
            pixGetPixel(g, (l_int32)x, (l_int32)y, &v);
            img.data[(size_t)y * img.width + x] = (uint8_t)v;
        }
    pixDestroy(&g);
    pixDestroy(&pix);
    unlink(path);
    rmdir(dir);
    return img;
}

START_TEST(test_card_whole_pipeline)
{
    struct pp_image card = render_card();
    struct pp_params p;
    pp_params_default(PP_STEPS_ALL, &p);
    p.target_height = 1100; /* exercise rescale too */
    pp_plan(&p, card.width, card.height, 40000000u);
    uint32_t ow, oh;
    pp_output_size(&p, card.width, card.height, &ow, &oh);
    ck_assert(fabs((double)oh - p.target_height) <= 2);
    uint8_t *out = malloc((size_t)ow * oh);
    struct pp_result res;
    ck_assert_int_eq(pp_run_cpu(&card, &p, out, (size_t)ow * oh, &res), 0);
    ck_assert_msg(fabsf(res.skew_deg - 3.0f) <= 0.5f, "skew %.2f", res.skew_deg);
    size_t black = 0;
    for (size_t i = 0; i < (size_t)ow * oh; i++) {
        ck_assert(out[i] == 0 || out[i] == 255);
        black += out[i] == 0;
    }
    /* Three lines of text: some ink, mostly paper (the blue background is gone). */
    ck_assert_msg(black > (size_t)ow * oh / 200 && black < (size_t)ow * oh / 10, "%zu black",
                  black);
    free(out);
    free(card.data);
}
END_TEST

static Suite *preproc_suite(void)
{
    Suite *s = suite_create("preproc");
    TCase *steps = tcase_create("steps");
    tcase_add_test(steps, test_luma_known_colours);
    tcase_add_test(steps, test_rescale_geometry_and_values);
    tcase_add_test(steps, test_rescale_down_averages_noise);
    tcase_add_test(steps, test_rescale_down_checkerboard_is_grey);
    tcase_add_test(steps, test_plan);
    tcase_add_test(steps, test_bgnorm_flattens_gradient);
    tcase_add_test(steps, test_sauvola_uneven_background);
    tcase_add_test(steps, test_deskew_positive);
    tcase_add_test(steps, test_deskew_negative);
    tcase_add_test(steps, test_deskew_level_page_stays);
    suite_add_tcase(s, steps);
    TCase *api = tcase_create("api");
    tcase_add_test(api, test_steps_parse);
    tcase_add_test(api, test_run_errors);
    suite_add_tcase(s, api);
    TCase *card = tcase_create("card");
    tcase_set_timeout(card, 30);
    tcase_add_test(card, test_card_whole_pipeline);
    suite_add_tcase(s, card);
    return s;
}

int main(void)
{
    return check_run(preproc_suite());
}
