/*
 * test_engine.c - decode (Leptonica) and engine (Tesseract) unit tests.
 *
 * Fixture images are made once by ImageMagick in a temporary directory
 * before the suites run; the forked test cases read them.  The process
 * re-executes itself with OMP_THREAD_LIMIT=1 when that is unset, because
 * libgomp reads it only at load time and without it a card takes ~6x the CPU.
 */
#include <check.h>

#include "check_run.h"
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <tesseract/capi.h>
#include <unistd.h>

#include "common/log.h"
#include "common/status.h"
#include "ocr-workers/reading/decode.h"
#include "ocr-workers/reading/engine.h"

static char tmpdir[] = "/tmp/test_engine.XXXXXX";
static int have_webp;

/* Path of a fixture inside tmpdir (static buffer, one use at a time). */
static const char *fx(const char *name)
{
    static char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    return path;
}

/* Runs "convert ARGS tmpdir/NAME"; returns the shell's status. */
static int make_image(const char *name, const char *args)
{
    char cmd[PATH_MAX + 1024];
    if (snprintf(cmd, sizeof(cmd), "convert %s '%s' >/dev/null 2>&1", args, fx(name)) >=
        (int)sizeof(cmd))
        return -1;
    return system(cmd);
}

/* Reads a fixture with a generous limit; fails the test on error. */
static uint8_t *load(const char *name, size_t *len)
{
    uint8_t *buf = NULL;
    char err[256] = "";
    int rc = decode_read_file(fx(name), 1 << 26, &buf, len, err, sizeof(err));
    ck_assert_msg(rc == 0, "reading %s: %s", name, err);
    return buf;
}

/* Decodes a fixture file, returning decode_image's code. */
static int decode_fixture(const char *name, uint64_t max_pixels, struct pp_image *img, int *ppi,
                          char *err, size_t errlen)
{
    size_t len = 0;
    uint8_t *buf = load(name, &len);
    int rc = decode_image(buf, len, max_pixels, img, ppi, err, errlen);
    free(buf);
    return rc;
}

static int within(int a, int b, int tol)
{
    return abs(a - b) <= tol;
}

/* ---- decode ---------------------------------------------------------- */

START_TEST(test_png_grey_byte_order)
{
    struct pp_image img;
    char err[256] = "";
    int ppi = -1;
    ck_assert_int_eq(decode_fixture("grey.png", 0, &img, &ppi, err, sizeof(err)), 0);
    ck_assert_uint_eq(img.format, PP_GRAY8);
    ck_assert_uint_eq(img.width, 5);
    ck_assert_uint_eq(img.height, 1);
    ck_assert_uint_eq(img.stride, 5);
    /* Distinct values along x catch Leptonica's in-word byte swap. */
    const uint8_t want[5] = {0x10, 0x20, 0x30, 0x40, 0x50};
    ck_assert_mem_eq(img.data, want, 5);
    ck_assert_int_eq(ppi, 0);
    free(img.data);
}
END_TEST

START_TEST(test_png_colour_rgba)
{
    struct pp_image img;
    char err[256] = "";
    ck_assert_int_eq(decode_fixture("orange.png", 0, &img, NULL, err, sizeof(err)), 0);
    ck_assert_uint_eq(img.format, PP_RGBA32);
    ck_assert_uint_eq(img.width, 4);
    ck_assert_uint_eq(img.height, 2);
    ck_assert_uint_eq(img.stride, 16);
    for (int i = 0; i < 8; i++) {
        const uint8_t *p = img.data + 4 * i;
        ck_assert_msg(p[0] == 0xff && p[1] == 0x80 && p[2] == 0x00 && p[3] == 0xff,
                      "pixel %d = %02x %02x %02x %02x", i, p[0], p[1], p[2], p[3]);
    }
    free(img.data);
}
END_TEST

START_TEST(test_png_palette_colours)
{
    struct pp_image img;
    char err[256] = "";
    ck_assert_int_eq(decode_fixture("rgbw.png", 0, &img, NULL, err, sizeof(err)), 0);
    ck_assert_uint_eq(img.format, PP_RGBA32);
    const uint8_t want[16] = {255, 0, 0, 255, 0, 255, 0, 255, 0, 0, 255, 255, 255, 255, 255, 255};
    ck_assert_mem_eq(img.data, want, 16);
    free(img.data);
}
END_TEST

START_TEST(test_png_alpha_on_white)
{
    struct pp_image img;
    char err[256] = "";
    ck_assert_int_eq(decode_fixture("alpha.png", 0, &img, NULL, err, sizeof(err)), 0);
    /* Transparent red is blended onto white; opaque blue stays blue. */
    ck_assert_uint_eq(img.format, PP_RGBA32);
    const uint8_t want[8] = {255, 255, 255, 255, 0, 0, 255, 255};
    ck_assert_mem_eq(img.data, want, 8);
    free(img.data);
}
END_TEST

START_TEST(test_jpeg_colour_and_grey)
{
    struct pp_image img;
    char err[256] = "";
    int ppi = 0;
    ck_assert_int_eq(decode_fixture("orange.jpg", 0, &img, &ppi, err, sizeof(err)), 0);
    ck_assert_uint_eq(img.format, PP_RGBA32);
    ck_assert_uint_eq(img.width, 16);
    ck_assert_uint_eq(img.stride, 64);
    const uint8_t *p = img.data + img.stride * 8 + 4 * 8;
    ck_assert_msg(within(p[0], 255, 8) && within(p[1], 128, 8) && within(p[2], 0, 8) && p[3] == 255,
                  "centre = %u %u %u %u", p[0], p[1], p[2], p[3]);
    ck_assert_int_eq(ppi, 300);
    free(img.data);

    ck_assert_int_eq(decode_fixture("grey.jpg", 0, &img, NULL, err, sizeof(err)), 0);
    ck_assert_uint_eq(img.format, PP_GRAY8);
    ck_assert_uint_eq(img.stride, img.width);
    ck_assert(within(img.data[0], 0x80, 4));
    free(img.data);
}
END_TEST

START_TEST(test_tiff_lzw_and_g4)
{
    struct pp_image img;
    char err[256] = "";
    ck_assert_int_eq(decode_fixture("orange.tif", 0, &img, NULL, err, sizeof(err)), 0);
    ck_assert_uint_eq(img.format, PP_RGBA32);
    ck_assert_mem_eq(img.data, "\xff\x80\x00\xff", 4);
    free(img.data);

    /* Bilevel G4: black left half, white right half -> 0 / 255 grey. */
    ck_assert_int_eq(decode_fixture("bilevel.tif", 0, &img, NULL, err, sizeof(err)), 0);
    ck_assert_uint_eq(img.format, PP_GRAY8);
    ck_assert_uint_eq(img.width, 16);
    ck_assert_uint_eq(img.height, 8);
    ck_assert_uint_eq(img.data[3 * 16 + 2], 0);
    ck_assert_uint_eq(img.data[3 * 16 + 12], 255);
    free(img.data);
}
END_TEST

START_TEST(test_webp)
{
    struct pp_image img;
    char err[256] = "";
    if (!have_webp) {
        fprintf(stderr, "test_webp: ImageMagick cannot write WebP, skipped\n");
        return;
    }
    ck_assert_int_eq(decode_fixture("orange.webp", 0, &img, NULL, err, sizeof(err)), 0);
    ck_assert_uint_eq(img.format, PP_RGBA32);
    ck_assert_mem_eq(img.data, "\xff\x80\x00\xff", 4);
    free(img.data);
}
END_TEST

START_TEST(test_truncated_jpeg)
{
    struct pp_image img;
    char err[256] = "";
    size_t len = 0;
    uint8_t *buf = load("plasma.jpg", &len);
    ck_assert_uint_gt(len, 4000);
    /* The complete file decodes; any cut in the scan data is refused. */
    ck_assert_int_eq(decode_image(buf, len, 0, &img, NULL, err, sizeof(err)), 0);
    free(img.data);
    size_t cuts[3] = {len / 2, len - 2, len - 1};
    for (int i = 0; i < 3; i++) {
        err[0] = '\0';
        ck_assert_int_eq(decode_image(buf, cuts[i], 0, &img, NULL, err, sizeof(err)),
                         FILOT_EFORMAT);
        ck_assert_str_eq(err, "truncated JPEG (no end-of-image marker)");
        ck_assert_ptr_null(img.data);
    }
    /* Cut inside the headers: the header itself cannot be read. */
    ck_assert_int_eq(decode_image(buf, 100, 0, &img, NULL, err, sizeof(err)), FILOT_EFORMAT);
    ck_assert_msg(strstr(err, "JPEG") != NULL, "%s", err);
    free(buf);
}
END_TEST

START_TEST(test_trailing_bytes_after_jpeg_accepted)
{
    struct pp_image img;
    char err[256] = "";
    size_t len = 0;
    uint8_t *buf = load("plasma.jpg", &len);
    uint8_t *big = malloc(len + 64);
    ck_assert_ptr_nonnull(big);
    memcpy(big, buf, len);
    /* A phone-style trailer after EOI, containing marker-like bytes. */
    for (int i = 0; i < 64; i++)
        big[len + i] = (i % 2) ? 0xDA : 0xFF;
    ck_assert_int_eq(decode_image(big, len + 64, 0, &img, NULL, err, sizeof(err)), 0);
    free(img.data);
    free(big);
    free(buf);
}
END_TEST

/*
 * A PNG chunk whose declared length runs past the end of the file is refused
 * before libpng sees it: libpng allocates the declared length first, so 400
 * bytes could cost 600 MB (found by tests/fuzz/fuzz_decode.c).  A PNG cut
 * short is refused the same way; bytes after IEND are still accepted.
 */
START_TEST(test_png_chunk_past_end_refused)
{
    static const uint8_t huge_text[8] = {0x27, 0x00, 0x00, 0x00, 't', 'E', 'X', 't'};
    struct pp_image img;
    char err[256] = "";
    size_t len = 0;
    uint8_t *buf = load("orange.png", &len);
    uint8_t *bad = malloc(len + 64);
    ck_assert_ptr_nonnull(bad);
    ck_assert_mem_eq(buf + len - 8, "IEND", 4);
    /* The chunk header goes just before IEND (the last 12 bytes). */
    memcpy(bad, buf, len - 12);
    memcpy(bad + len - 12, huge_text, sizeof huge_text);
    memcpy(bad + len - 4, buf + len - 12, 12);
    ck_assert_int_eq(decode_image(bad, len + 8, 0, &img, NULL, err, sizeof(err)), FILOT_EFORMAT);
    ck_assert_str_eq(err, "truncated PNG (a chunk runs past the end of the file, or no IEND)");
    ck_assert_ptr_null(img.data);
    err[0] = '\0';
    ck_assert_int_eq(decode_image(buf, len - 6, 0, &img, NULL, err, sizeof(err)), FILOT_EFORMAT);
    ck_assert_str_eq(err, "truncated PNG (a chunk runs past the end of the file, or no IEND)");
    memcpy(bad, buf, len);
    memset(bad + len, 0xAB, 64);
    ck_assert_int_eq(decode_image(bad, len + 64, 0, &img, NULL, err, sizeof(err)), 0);
    free(img.data);
    free(bad);
    free(buf);
}
END_TEST

START_TEST(test_random_bytes_rejected)
{
    uint8_t junk[4096];
    struct pp_image img;
    char err[256] = "";
    srand(12345);
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (uint8_t)(rand() & 0xff);
    junk[0] = 0x00; /* never a known magic byte */
    ck_assert_int_eq(decode_image(junk, sizeof(junk), 0, &img, NULL, err, sizeof(err)),
                     FILOT_EFORMAT);
    ck_assert_str_eq(err, "not an image (unrecognised bytes)");
    /* Shorter than the magic probe: must not read past the buffer. */
    ck_assert_int_eq(decode_image((const uint8_t *)"\x89PN", 3, 0, &img, NULL, err, sizeof(err)),
                     FILOT_EFORMAT);
}
END_TEST

START_TEST(test_other_formats_named)
{
    static const char pdf[] = "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< >>\nendobj\n";
    struct pp_image img;
    char err[256] = "";
    ck_assert_int_eq(
        decode_image((const uint8_t *)pdf, sizeof(pdf) - 1, 0, &img, NULL, err, sizeof(err)),
        FILOT_EFORMAT);
    ck_assert_str_eq(err, "unsupported image format (detected: pdf)");
    ck_assert_int_eq(decode_fixture("orange.bmp", 0, &img, NULL, err, sizeof(err)), FILOT_EFORMAT);
    ck_assert_str_eq(err, "unsupported image format (detected: bmp)");
    ck_assert_int_eq(decode_fixture("orange.gif", 0, &img, NULL, err, sizeof(err)), FILOT_EFORMAT);
    ck_assert_str_eq(err, "unsupported image format (detected: gif)");
}
END_TEST

START_TEST(test_max_pixels_from_header)
{
    struct pp_image img;
    char err[256] = "";
    size_t len = 0;
    uint8_t *buf = load("big.png", &len);
    ck_assert_int_eq(decode_image(buf, len, 1000000, &img, NULL, err, sizeof(err)), FILOT_ETOOBIG);
    ck_assert_str_eq(err, "image is 5000x5000 = 25000000 pixels, above OCR_MAX_PIXELS=1000000");
    ck_assert_ptr_null(img.data);
    /*
     * Only the signature and IHDR chunk (33 bytes) plus a little: no pixel
     * data exists, so ETOOBIG (not EFORMAT) proves the header decided.
     */
    ck_assert_int_eq(decode_image(buf, 64, 1000000, &img, NULL, err, sizeof(err)), FILOT_ETOOBIG);
    ck_assert_int_eq(decode_image(buf, 64, 0, &img, NULL, err, sizeof(err)), FILOT_EFORMAT);
    /* Exactly at the limit is allowed. */
    ck_assert_int_eq(decode_image(buf, len, 25000000, &img, NULL, err, sizeof(err)), 0);
    ck_assert_uint_eq(img.width, 5000);
    free(img.data);
    free(buf);
}
END_TEST

START_TEST(test_zero_bytes)
{
    struct pp_image img;
    char err[256] = "";
    uint8_t *buf = NULL;
    size_t len = 99;
    ck_assert_int_eq(decode_image((const uint8_t *)"", 0, 0, &img, NULL, err, sizeof(err)),
                     FILOT_EFORMAT);
    ck_assert_str_eq(err, "empty input (0 bytes)");
    /* An empty file reads fine; decoding it is what fails. */
    ck_assert_int_eq(decode_read_file(fx("empty.bin"), 100, &buf, &len, err, sizeof(err)), 0);
    ck_assert_uint_eq(len, 0);
    ck_assert_int_eq(decode_image(buf, len, 0, &img, NULL, err, sizeof(err)), FILOT_EFORMAT);
    free(buf);
}
END_TEST

START_TEST(test_read_file_limits)
{
    char err[256] = "";
    uint8_t *buf = NULL;
    size_t len = 0;
    ck_assert_int_eq(decode_read_file(fx("orange.png"), 100, &buf, &len, err, sizeof(err)),
                     FILOT_ETOOBIG);
    ck_assert_msg(strncmp(err, "file is larger than 100 bytes", 29) == 0, "%s", err);
    ck_assert_ptr_null(buf);

    ck_assert_int_eq(decode_read_file(fx("missing.png"), 100, &buf, &len, err, sizeof(err)),
                     FILOT_EIO);
    ck_assert_msg(strstr(err, "not found") != NULL, "%s", err);

    ck_assert_int_eq(decode_read_file(tmpdir, 100, &buf, &len, err, sizeof(err)), FILOT_EINVAL);
    ck_assert_msg(strstr(err, "not a regular file") != NULL, "%s", err);

    /* Exactly max_bytes is allowed, and the bytes are the file's. */
    struct stat st;
    ck_assert_int_eq(stat(fx("orange.png"), &st), 0);
    ck_assert_int_eq(
        decode_read_file(fx("orange.png"), (size_t)st.st_size, &buf, &len, err, sizeof(err)), 0);
    ck_assert_uint_eq(len, (size_t)st.st_size);
    ck_assert_mem_eq(buf, "\x89PNG", 4);
    free(buf);
}
END_TEST

/* ---- engine ---------------------------------------------------------- */

/* Text and mean confidence of one recognition, the pipeline's call. */
static int recognize_text(struct ocr_engine *e, const uint8_t *gray, uint32_t w, uint32_t h,
                          uint32_t stride, int ppi, char **text, int *conf)
{
    struct ocr_page page;
    int rc = engine_recognize_page(e, gray, w, h, stride, ppi, &page);
    *text = page.text;
    *conf = page.mean_conf;
    page.text = NULL;
    ocr_page_free(&page);
    return rc;
}

START_TEST(test_engine_card)
{
    struct ocr_engine *e = NULL;
    struct pp_image img;
    char err[256] = "";
    char *text = NULL;
    int ppi = -1, conf = -1;

    ck_assert_int_eq(decode_fixture("card.png", 0, &img, &ppi, err, sizeof(err)), 0);
    ck_assert_uint_eq(img.format, PP_GRAY8);
    ck_assert_uint_eq(img.width, 1011);
    ck_assert_int_eq(engine_open("ind+eng", &e), 0);
    ck_assert_ptr_nonnull(e);
    /* Twice: results are cleared between images and stay identical. */
    char *first = NULL;
    for (int round = 0; round < 2; round++) {
        ck_assert_int_eq(
            recognize_text(e, img.data, img.width, img.height, img.stride, ppi, &text, &conf), 0);
        ck_assert_ptr_nonnull(text);
        ck_assert_msg(strstr(text, "3171234567890001") != NULL, "text: %s", text);
        ck_assert_msg(strstr(text, "BUDI SANTOSO") != NULL, "text: %s", text);
        ck_assert_int_ge(conf, 0);
        ck_assert_int_le(conf, 100);
        ck_assert_int_gt(conf, 50);
        if (round == 0)
            first = text;
        else
            ck_assert_str_eq(text, first);
    }
    free(first);
    free(text);
    free(img.data);
    engine_close(e);
}
END_TEST

/* The API default is PSM 6; engine_open must have switched to 3. */
START_TEST(test_engine_psm_auto)
{
    struct ocr_engine *e = NULL;
    ck_assert_int_eq(engine_open("eng", &e), 0);
    /* struct ocr_engine's first member is the TessBaseAPI handle. */
    TessBaseAPI *api = *(TessBaseAPI **)e;
    ck_assert_int_eq(TessBaseAPIGetPageSegMode(api), PSM_AUTO);
    ck_assert_int_eq(PSM_AUTO, 3);
    engine_close(e);
}
END_TEST

START_TEST(test_engine_bad_language)
{
    struct ocr_engine *e = (struct ocr_engine *)&e;
    ck_assert_int_lt(engine_open("xx_bogus", &e), 0);
    ck_assert_ptr_null(e);
    ck_assert_int_eq(engine_open("ind+xx_bogus", &e), FILOT_EUNAVAIL);
    ck_assert_ptr_null(e);
    ck_assert_int_eq(engine_open("../../etc/passwd", &e), FILOT_EINVAL);
    ck_assert_int_eq(engine_open("", &e), FILOT_EINVAL);
    ck_assert_int_eq(engine_open("eng+", &e), FILOT_EINVAL);
    engine_close(NULL);
}
END_TEST

START_TEST(test_engine_bad_arguments_and_blank)
{
    struct ocr_engine *e = NULL;
    uint8_t *white = malloc(200 * 100);
    char *text = NULL;
    int conf = -1;
    ck_assert_ptr_nonnull(white);
    memset(white, 255, 200 * 100);
    ck_assert_int_eq(engine_open("eng", &e), 0);
    ck_assert_int_eq(recognize_text(e, white, 0, 100, 200, 0, &text, &conf), FILOT_EINVAL);
    ck_assert_int_eq(recognize_text(e, white, 200, 100, 100, 0, &text, &conf), FILOT_EINVAL);
    ck_assert_int_eq(recognize_text(e, white, 40000, 1, 40000, 0, &text, &conf), FILOT_ETOOBIG);
    ck_assert_int_eq(recognize_text(e, NULL, 200, 100, 200, 0, &text, &conf), FILOT_EINVAL);
    ck_assert_ptr_null(text);
    /* A blank page is not an error: empty text, confidence 0. */
    ck_assert_int_eq(recognize_text(e, white, 200, 100, 200, 300, &text, &conf), 0);
    ck_assert_ptr_nonnull(text);
    ck_assert_uint_le(strlen(text), 2);
    ck_assert_int_eq(conf, 0);
    free(text);
    free(white);
    engine_close(e);
}
END_TEST

/* ---- fixtures and main ------------------------------------------------ */

/* Makes every fixture; returns 0 or -1 (a required image failed). */
static int make_fixtures(void)
{
    static const struct {
        const char *name, *args;
    } req[] = {
        {"grey.png", "xc:'#101010' xc:'#202020' xc:'#303030' xc:'#404040' xc:'#505050' +append "
                     "-type Grayscale -depth 8"},
        {"orange.png", "-size 4x2 xc:'#ff8000'"},
        {"rgbw.png", "xc:'#ff0000' xc:'#00ff00' xc:'#0000ff' xc:'#ffffff' +append -type Palette"},
        {"alpha.png", "xc:'rgba(255,0,0,0)' xc:'rgba(0,0,255,1)' +append -define png:color-type=6"},
        {"orange.jpg", "-size 16x16 xc:'#ff8000' -quality 95 -density 300 -units PixelsPerInch"},
        {"grey.jpg", "-size 16x16 xc:'#808080' -type Grayscale -quality 95"},
        {"plasma.jpg", "-size 200x150 -seed 7 plasma:fractal -quality 90"},
        {"orange.tif", "-size 4x2 xc:'#ff8000' -compress lzw"},
        {"bilevel.tif", "-size 16x8 xc:white -fill black -draw 'rectangle 0,0 7,7' -monochrome "
                        "-compress Group4"},
        {"orange.bmp", "-size 4x2 xc:'#ff8000'"},
        {"orange.gif", "-size 4x2 xc:'#ff8000'"},
        {"big.png", "-size 5000x5000 xc:white -depth 8 -type Grayscale"},
        {"card.png", "-size 1011x638 xc:white -font DejaVu-Sans -pointsize 28 "
                     "-annotate +30+120 'NIK : 3171234567890001' "
                     "-annotate +30+180 'Nama : BUDI SANTOSO' -depth 8 -type Grayscale"},
    };
    for (size_t i = 0; i < sizeof(req) / sizeof(req[0]); i++) {
        if (make_image(req[i].name, req[i].args) != 0) {
            fprintf(stderr, "cannot make fixture %s with ImageMagick\n", req[i].name);
            return -1;
        }
    }
    have_webp = make_image("orange.webp", "-size 4x2 xc:'#ff8000' -define webp:lossless=true") == 0;
    FILE *f = fopen(fx("empty.bin"), "wb");
    if (f == NULL)
        return -1;
    fclose(f);
    return 0;
}

static Suite *engine_suite(void)
{
    Suite *s = suite_create("engine");
    TCase *dec = tcase_create("decode");
    TCase *eng = tcase_create("engine");

    tcase_set_timeout(dec, 30);
    tcase_add_test(dec, test_png_grey_byte_order);
    tcase_add_test(dec, test_png_colour_rgba);
    tcase_add_test(dec, test_png_palette_colours);
    tcase_add_test(dec, test_png_alpha_on_white);
    tcase_add_test(dec, test_jpeg_colour_and_grey);
    tcase_add_test(dec, test_tiff_lzw_and_g4);
    tcase_add_test(dec, test_webp);
    tcase_add_test(dec, test_truncated_jpeg);
    tcase_add_test(dec, test_trailing_bytes_after_jpeg_accepted);
    tcase_add_test(dec, test_png_chunk_past_end_refused);
    tcase_add_test(dec, test_random_bytes_rejected);
    tcase_add_test(dec, test_other_formats_named);
    tcase_add_test(dec, test_max_pixels_from_header);
    tcase_add_test(dec, test_zero_bytes);
    tcase_add_test(dec, test_read_file_limits);
    suite_add_tcase(s, dec);

    tcase_set_timeout(eng, 60);
    tcase_add_test(eng, test_engine_card);
    tcase_add_test(eng, test_engine_psm_auto);
    tcase_add_test(eng, test_engine_bad_language);
    tcase_add_test(eng, test_engine_bad_arguments_and_blank);
    suite_add_tcase(s, eng);
    return s;
}

/* Removes the fixture directory (flat: files only). */
static void remove_fixtures(void)
{
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", tmpdir);
}

int main(int argc, char **argv)
{
    (void)argc;
    if (getenv("OMP_THREAD_LIMIT") == NULL) {
        setenv("OMP_THREAD_LIMIT", "1", 1);
        execv("/proc/self/exe", argv);
        fprintf(stderr, "re-exec with OMP_THREAD_LIMIT=1 failed: %s\n", strerror(errno));
    }
    log_init("test_engine", LOG_ERROR);
    if (mkdtemp(tmpdir) == NULL) {
        fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    if (make_fixtures() != 0) {
        remove_fixtures();
        return 1;
    }
    int rc = check_run(engine_suite());
    remove_fixtures();
    return rc;
}
