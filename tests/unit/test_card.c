/*
 * test_card.c - finding the card in a photo (ocr-workers/reading/card_geometry)
 * and warping it to the card raster (common/preproc_cpu.c), on scenes drawn
 * here: a card with text-like bars and a photo box, in perspective on a
 * textured table, with sensor noise.  The truth is the quad it was drawn at.
 */
#include <check.h>

#include "check_run.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/preproc.h"
#include "common/status.h"
#include "ocr-workers/reading/card_geometry.h"

#define PI 3.14159265358979323846

/* A pose: frame size, card area share, rotation, corner jitter (share of the card width). */
struct pose {
    uint32_t w, h;
    double frac, deg, persp;
    uint32_t seed;
};

static uint32_t rnd(uint32_t *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 16;
}

/* Card plane content at (u, v) of the 1011 x 638 raster: paper, text bars, photo box. */
static double card_value(double u, double v)
{
    if (u >= 770 && u < 960 && v >= 110 && v < 360)
        return 170;
    for (int k = 0; k < 12; k++) {
        double top = 100 + 31.0 * k;
        double len = 260 + (k * 97) % 200;
        if (v >= top && v < top + 14 && u >= 30 && u < 30 + len && fmod(u, 23.0) < 18.0)
            return 35;
    }
    return 228;
}

/* Table: grey with soft blotches and a faint grain. */
static double table_value(uint32_t x, uint32_t y, const double *ph)
{
    return 110 + 22 * sin(x * 0.011 + ph[0]) * cos(y * 0.009 + ph[1]) +
           10 * sin(x * 0.05 + 0.8 * sin(y * 0.013 + ph[2]));
}

/* Inverse of the 3x3 matrix of a pp_square_to_quad() map, row major. */
static void invert_map(const double *m, double *inv)
{
    double a[9] = {m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7], 1};
    double det = a[0] * (a[4] * a[8] - a[5] * a[7]) - a[1] * (a[3] * a[8] - a[5] * a[6]) +
                 a[2] * (a[3] * a[7] - a[4] * a[6]);
    inv[0] = (a[4] * a[8] - a[5] * a[7]) / det;
    inv[1] = (a[2] * a[7] - a[1] * a[8]) / det;
    inv[2] = (a[1] * a[5] - a[2] * a[4]) / det;
    inv[3] = (a[5] * a[6] - a[3] * a[8]) / det;
    inv[4] = (a[0] * a[8] - a[2] * a[6]) / det;
    inv[5] = (a[2] * a[3] - a[0] * a[5]) / det;
    inv[6] = (a[3] * a[7] - a[4] * a[6]) / det;
    inv[7] = (a[1] * a[6] - a[0] * a[7]) / det;
    inv[8] = (a[0] * a[4] - a[1] * a[3]) / det;
}

/*
 * Draws the card at quad (continuous coordinates) on the table, 3 x 3
 * supersampled so its outline is anti-aliased, then adds noise of +/- noise.
 */
static struct pp_image draw_scene(uint32_t w, uint32_t h, const double *quad, int noise,
                                  uint32_t seed)
{
    struct pp_image img = {malloc((size_t)w * h), w, h, w, PP_GRAY8};
    ck_assert_ptr_nonnull(img.data);
    double m[8], inv[9], ph[3];
    pp_square_to_quad(quad, m);
    invert_map(m, inv);
    for (int i = 0; i < 3; i++)
        ph[i] = rnd(&seed) % 628 / 100.0;
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++) {
            double sum = 0;
            for (int k = 0; k < 9; k++) {
                double px = x + (k % 3 + 0.5) / 3, py = y + (k / 3 + 0.5) / 3;
                double d = inv[6] * px + inv[7] * py + inv[8];
                double s = (inv[0] * px + inv[1] * py + inv[2]) / d;
                double t = (inv[3] * px + inv[4] * py + inv[5]) / d;
                int in = s >= 0 && s < 1 && t >= 0 && t < 1;
                sum +=
                    in ? card_value(s * PP_CARD_WIDTH, t * PP_CARD_HEIGHT) : table_value(x, y, ph);
            }
            int v =
                (int)lround(sum / 9) + (noise ? (int)(rnd(&seed) % (2 * noise + 1)) - noise : 0);
            img.data[(size_t)y * w + x] = (uint8_t)(v < 0 ? 0 : (v > 255 ? 255 : v));
        }
    return img;
}

/* The quad of a pose: card of frac x frame area, rotated, corners jittered, TL TR BR BL. */
static void pose_quad(const struct pose *p, double *q)
{
    uint32_t s = p->seed;
    double cw = sqrt(p->frac * p->w * p->h * PP_CARD_WIDTH / PP_CARD_HEIGHT);
    double ch = cw * PP_CARD_HEIGHT / PP_CARD_WIDTH, a = p->deg * PI / 180;
    const int sx[4] = {-1, 1, 1, -1}, sy[4] = {-1, -1, 1, 1};
    for (int k = 0; k < 4; k++) {
        double x = sx[k] * cw / 2 + ((int)(rnd(&s) % 201) - 100) / 100.0 * p->persp * cw;
        double y = sy[k] * ch / 2 + ((int)(rnd(&s) % 201) - 100) / 100.0 * p->persp * cw;
        q[2 * k] = p->w / 2.0 + x * cos(a) - y * sin(a);
        q[2 * k + 1] = p->h / 2.0 + x * sin(a) + y * cos(a);
    }
}

static const struct pose poses[] = {
    {1600, 1200, 0.60, 0.0, 0.00, 1},  {1600, 1200, 0.45, 7.0, 0.04, 2},
    {2000, 1500, 0.70, -2.0, 0.02, 3}, {1200, 900, 0.35, 12.0, 0.02, 4},
    {2400, 1600, 0.55, -9.0, 0.05, 5}, {800, 600, 0.70, 3.0, 0.03, 6},
};

/* Corners found within 0.1 % of the frame's longer side (1.6 px at 1600 px), at least 1.5 px. */
START_TEST(test_card_found_at_pose)
{
    const struct pose *p = &poses[_i];
    double truth[8];
    pose_quad(p, truth);
    struct pp_image img = draw_scene(p->w, p->h, truth, 12, p->seed * 7u);
    float q[8];
    ck_assert_int_eq(card_find(&img, q), 1);
    double tol = fmax(1.5, 0.001 * (p->w > p->h ? p->w : p->h)), worst = 0;
    for (int k = 0; k < 4; k++)
        worst = fmax(worst, hypot(q[2 * k] - truth[2 * k], q[2 * k + 1] - truth[2 * k + 1]));
    ck_assert_msg(worst <= tol, "pose %d: worst corner %.2f px off (tolerance %.1f)", _i, worst,
                  tol);
    free(img.data);
}
END_TEST

/* An A4 page scan: portrait, text lines over the whole sheet, no card outline. */
START_TEST(test_no_card_on_a_page)
{
    struct pp_image img = {malloc(1240u * 1754u), 1240, 1754, 1240, PP_GRAY8};
    ck_assert_ptr_nonnull(img.data);
    uint32_t s = 99;
    for (uint32_t y = 0; y < img.height; y++)
        for (uint32_t x = 0; x < img.width; x++) {
            int ink =
                y > 150 && y < 1600 && (y % 40) < 16 && x > 120 && x < 1120 && (x / 11) % 8 != 0;
            img.data[(size_t)y * img.width + x] = (uint8_t)((ink ? 40 : 240) + rnd(&s) % 9);
        }
    float q[8];
    ck_assert_int_eq(card_find(&img, q), 0);
    free(img.data);
}
END_TEST

/* An image that already is the card crop: its outline is the frame, nothing to find. */
START_TEST(test_no_card_in_a_card_crop)
{
    double full[8] = {0, 0, PP_CARD_WIDTH, 0, PP_CARD_WIDTH, PP_CARD_HEIGHT, 0, PP_CARD_HEIGHT};
    struct pp_image img = draw_scene(PP_CARD_WIDTH, PP_CARD_HEIGHT, full, 8, 11);
    float q[8];
    ck_assert_int_eq(card_find(&img, q), 0);
    free(img.data);
}
END_TEST

/* Only the table: no card. */
START_TEST(test_no_card_on_an_empty_table)
{
    double none[8] = {-10, -10, -5, -10, -5, -5, -10, -5}; /* outside the frame */
    struct pp_image img = draw_scene(1600, 1200, none, 12, 5);
    float q[8];
    ck_assert_int_eq(card_find(&img, q), 0);
    free(img.data);
}
END_TEST

/*
 * The warp of a card drawn in perspective on a 2400 px frame (shrunk by
 * area on the way) matches the card drawn straight at raster size: mean
 * difference of a few grey levels, text bars where they belong.
 */
START_TEST(test_warp_rectifies_the_card)
{
    const struct pose p = {2400, 1800, 0.55, -6.0, 0.04, 9};
    double truth[8];
    pose_quad(&p, truth);
    struct pp_image img = draw_scene(p.w, p.h, truth, 0, 3);
    struct pp_params pp;
    pp_params_default(0, &pp);
    pp.warp = 1;
    for (int k = 0; k < 8; k++)
        pp.quad[k] = (float)truth[k];
    size_t n = (size_t)PP_CARD_WIDTH * PP_CARD_HEIGHT;
    uint8_t *out = malloc(n);
    struct pp_result res;
    ck_assert_int_eq(pp_run_cpu(&img, &pp, out, n, &res), 0);
    ck_assert_uint_eq(res.width, PP_CARD_WIDTH);
    ck_assert_uint_eq(res.height, PP_CARD_HEIGHT);
    double diff = 0;
    for (uint32_t y = 4; y + 4 < PP_CARD_HEIGHT; y++)
        for (uint32_t x = 4; x + 4 < PP_CARD_WIDTH; x++)
            diff += fabs(out[(size_t)y * PP_CARD_WIDTH + x] - card_value(x + 0.5, y + 0.5));
    diff /= (double)(PP_CARD_WIDTH - 8) * (PP_CARD_HEIGHT - 8);
    ck_assert_msg(diff < 12.0, "mean difference %.2f", diff);
    /* Inside a text bar it is dark, between bars light, in the photo box mid grey. */
    ck_assert_uint_lt(out[(size_t)107 * PP_CARD_WIDTH + 40], 90);
    ck_assert_uint_gt(out[(size_t)123 * PP_CARD_WIDTH + 40], 190);
    ck_assert_uint_lt(abs(out[(size_t)230 * PP_CARD_WIDTH + 860] - 170), 12);
    free(out);
    free(img.data);
}
END_TEST

/* Numbers from another process: every malformed quad is refused, before any pixel is read. */
START_TEST(test_quad_check_refuses_bad_quads)
{
    const float ok[8] = {100, 80, 900, 100, 880, 600, 90, 580};
    ck_assert_int_eq(pp_quad_check(ok, 1000, 700), 0);
    float q[8];
    const float bad_values[] = {NAN, INFINITY, -1.0f, 1000.5f};
    for (size_t i = 0; i < sizeof bad_values / sizeof bad_values[0]; i++)
        for (int k = 0; k < 8; k++) {
            memcpy(q, ok, sizeof q);
            q[k] = bad_values[i];
            ck_assert_int_eq(pp_quad_check(q, 1000, 700), FILOT_EINVAL);
        }
    const float ccw[8] = {100, 80, 90, 580, 880, 600, 900, 100};
    const float bowtie[8] = {100, 80, 880, 600, 900, 100, 90, 580};
    const float concave[8] = {100, 80, 900, 100, 300, 250, 90, 580};
    const float tiny[8] = {100, 80, 110, 80, 110, 90, 100, 90};
    const float *bad[] = {ccw, bowtie, concave, tiny};
    for (size_t i = 0; i < 4; i++)
        ck_assert_int_eq(pp_quad_check(bad[i], 1000, 700), FILOT_EINVAL);
    /* pp_run_cpu refuses a bad quad too, and a warp flag other than 0/1. */
    uint8_t px[64 * 64] = {0};
    struct pp_image img = {px, 64, 64, 64, PP_GRAY8};
    struct pp_params p;
    pp_params_default(0, &p);
    p.warp = 1;
    memcpy(p.quad, bowtie, sizeof p.quad);
    uint8_t *out = malloc((size_t)PP_CARD_WIDTH * PP_CARD_HEIGHT);
    struct pp_result res;
    ck_assert_int_eq(pp_run_cpu(&img, &p, out, (size_t)PP_CARD_WIDTH * PP_CARD_HEIGHT, &res),
                     FILOT_EINVAL);
    const float inside[8] = {2, 2, 60, 3, 61, 40, 1, 41};
    memcpy(p.quad, inside, sizeof p.quad);
    ck_assert_int_eq(pp_run_cpu(&img, &p, out, (size_t)PP_CARD_WIDTH * PP_CARD_HEIGHT, &res), 0);
    p.warp = 2;
    ck_assert_int_eq(pp_run_cpu(&img, &p, out, (size_t)PP_CARD_WIDTH * PP_CARD_HEIGHT, &res),
                     FILOT_EINVAL);
    free(out);
}
END_TEST

static Suite *card_suite(void)
{
    Suite *s = suite_create("card");
    TCase *find = tcase_create("find");
    tcase_set_timeout(find, 60);
    tcase_add_loop_test(find, test_card_found_at_pose, 0, (int)(sizeof poses / sizeof poses[0]));
    tcase_add_test(find, test_no_card_on_a_page);
    tcase_add_test(find, test_no_card_in_a_card_crop);
    tcase_add_test(find, test_no_card_on_an_empty_table);
    suite_add_tcase(s, find);
    TCase *warp = tcase_create("warp");
    tcase_set_timeout(warp, 60);
    tcase_add_test(warp, test_warp_rectifies_the_card);
    tcase_add_test(warp, test_quad_check_refuses_bad_quads);
    suite_add_tcase(s, warp);
    return s;
}

int main(void)
{
    return check_run(card_suite());
}
