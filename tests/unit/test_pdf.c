#include <check.h>

#include "check_run.h"

/*
 * test_pdf.c - PDF rendering (pdf_render.c): page count, geometry at a dpi,
 * white paper with dark text, /Rotate, max_pixels, determinism, refusals
 * (garbage, truncated, password-protected, no pages, page out of range) and
 * an end-to-end check that tesseract reads a NIK from a rendered page.
 *
 * Documents are made here, offline: cairo's PDF surface for text pages, and
 * a small writer with a correct xref table for hand-built edge cases.
 */
#include <cairo-pdf.h>
#include <cairo.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/status.h"
#include "ocr-workers/reading/pdf_render.h"

#define A4_W_PT    595.0
#define A4_H_PT    842.0
#define NIK_TEXT   "NIK : 3171234567890001"
#define NIK_DIGITS "3171234567890001"

/* A growable byte buffer that cairo's PDF stream writes into. */
struct membuf {
    uint8_t *data;
    size_t len;
    size_t cap;
};

/* cairo write callback: appends to a membuf. */
static cairo_status_t membuf_write(void *closure, const unsigned char *data, unsigned int n)
{
    struct membuf *m = closure;

    if (m->len + n > m->cap) {
        size_t cap = m->cap ? m->cap : 4096;
        while (cap < m->len + n)
            cap *= 2;
        uint8_t *p = realloc(m->data, cap);
        if (p == NULL)
            return CAIRO_STATUS_NO_MEMORY;
        m->data = p;
        m->cap = cap;
    }
    memcpy(m->data + m->len, data, n);
    m->len += n;
    return CAIRO_STATUS_SUCCESS;
}

/*
 * Makes an A4 PDF of npages pages, each with the NIK line in a 24 pt toy
 * sans font near the top left (page i also gets "Page i+1").  The caller
 * frees m->data.
 */
static void make_text_pdf(int npages, struct membuf *m)
{
    char line[32];

    memset(m, 0, sizeof(*m));
    cairo_surface_t *s = cairo_pdf_surface_create_for_stream(membuf_write, m, A4_W_PT, A4_H_PT);
    ck_assert_int_eq(cairo_surface_status(s), CAIRO_STATUS_SUCCESS);
    cairo_t *cr = cairo_create(s);
    for (int i = 0; i < npages; i++) {
        cairo_set_source_rgb(cr, 0, 0, 0);
        cairo_select_font_face(cr, "sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
        cairo_set_font_size(cr, 24);
        cairo_move_to(cr, 72, 120);
        cairo_show_text(cr, NIK_TEXT);
        snprintf(line, sizeof(line), "Page %d", i + 1);
        cairo_move_to(cr, 72, 170);
        cairo_show_text(cr, line);
        cairo_show_page(cr);
    }
    ck_assert_int_eq(cairo_status(cr), CAIRO_STATUS_SUCCESS);
    cairo_destroy(cr);
    cairo_surface_finish(s);
    ck_assert_int_eq(cairo_surface_status(s), CAIRO_STATUS_SUCCESS);
    cairo_surface_destroy(s);
    ck_assert_uint_gt(m->len, 100);
}

/*
 * Writes a PDF from numbered object bodies (object i+1 = objs[i]) with a
 * correct xref table; trailer_extra is added to the trailer dictionary.
 * Returns a malloc'd buffer (caller frees) and its length.
 */
static uint8_t *make_raw_pdf(const char *const *objs, int n, const char *trailer_extra, size_t *len)
{
    char *buf = NULL;
    size_t size = 0;
    long off[16];
    FILE *f = open_memstream(&buf, &size);

    ck_assert_ptr_nonnull(f);
    ck_assert_int_le(n, 16);
    fputs("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", f);
    for (int i = 0; i < n; i++) {
        off[i] = ftell(f);
        fprintf(f, "%d 0 obj\n%s\nendobj\n", i + 1, objs[i]);
    }
    long xref = ftell(f);
    fprintf(f, "xref\n0 %d\n0000000000 65535 f \n", n + 1);
    for (int i = 0; i < n; i++)
        fprintf(f, "%010ld 00000 n \n", off[i]);
    fprintf(f, "trailer\n<< /Size %d /Root 1 0 R %s >>\nstartxref\n%ld\n%%%%EOF\n", n + 1,
            trailer_extra ? trailer_extra : "", xref);
    ck_assert_int_eq(fclose(f), 0);
    *len = size;
    return (uint8_t *)buf;
}

/* Share of pixels at or above level, in percent. */
static double share_at_least(const struct pp_image *img, uint8_t level)
{
    size_t n = 0, total = (size_t)img->width * img->height;

    for (size_t i = 0; i < total; i++)
        n += img->data[i] >= level;
    return 100.0 * (double)n / (double)total;
}

/* Count of pixels at or below level. */
static size_t count_at_most(const struct pp_image *img, uint8_t level)
{
    size_t n = 0, total = (size_t)img->width * img->height;

    for (size_t i = 0; i < total; i++)
        n += img->data[i] <= level;
    return n;
}

/* Opens buf, expecting success. */
static struct pdf_doc *open_ok(const uint8_t *buf, size_t len)
{
    struct pdf_doc *doc = NULL;
    char err[256] = "";

    int rc = pdf_open(buf, len, &doc, err, sizeof(err));
    ck_assert_msg(rc == 0, "pdf_open failed: %d %s", rc, err);
    ck_assert_ptr_nonnull(doc);
    return doc;
}

/* Opens buf, expecting a refusal whose message starts with want. */
static void open_fails(const uint8_t *buf, size_t len, const char *want)
{
    struct pdf_doc *doc = (struct pdf_doc *)1;
    char err[256] = "";

    int rc = pdf_open(buf, len, &doc, err, sizeof(err));
    ck_assert_msg(rc < 0, "pdf_open accepted bad input (expected \"%s\")", want);
    ck_assert_ptr_null(doc);
    ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "error \"%s\", expected \"%s...\"", err,
                  want);
}

/* Renders a page, expecting success, and checks the image header. */
static void render_ok(struct pdf_doc *doc, int page, int dpi, uint64_t max_pixels,
                      struct pp_image *img)
{
    char err[256] = "";

    int rc = pdf_render_page(doc, page, dpi, max_pixels, img, err, sizeof(err));
    ck_assert_msg(rc == 0, "render failed: %d %s", rc, err);
    ck_assert_ptr_nonnull(img->data);
    ck_assert_uint_eq(img->format, PP_GRAY8);
    ck_assert_uint_eq(img->stride, img->width);
}

START_TEST(test_is_pdf)
{
    ck_assert(pdf_is_pdf((const uint8_t *)"%PDF-1.7\n", 9));
    ck_assert(pdf_is_pdf((const uint8_t *)"%PDF-", 5));
    ck_assert(!pdf_is_pdf((const uint8_t *)"%PDF", 4));
    ck_assert(!pdf_is_pdf((const uint8_t *)"\x89PNG\r\n\x1a\n", 8));
    ck_assert(!pdf_is_pdf((const uint8_t *)" %PDF-1.4", 9));
    ck_assert(!pdf_is_pdf(NULL, 10));
    ck_assert(!pdf_is_pdf((const uint8_t *)"", 0));
}
END_TEST

START_TEST(test_page_count)
{
    struct membuf m;

    for (int n = 1; n <= 2; n++) {
        make_text_pdf(n, &m);
        struct pdf_doc *doc = open_ok(m.data, m.len);
        ck_assert_int_eq(pdf_page_count(doc), n);
        pdf_close(doc);
        free(m.data);
    }
    ck_assert_int_eq(pdf_page_count(NULL), 0);
    pdf_close(NULL);
}
END_TEST

/* A4 at 150 and 300 dpi: size, white paper, dark text near the top left. */
START_TEST(test_render_geometry_and_content)
{
    static const int dpis[] = {150, 300};
    static const uint32_t want_w[] = {1240, 2480}, want_h[] = {1754, 3508};
    struct membuf m;
    struct pp_image img;

    make_text_pdf(2, &m);
    struct pdf_doc *doc = open_ok(m.data, m.len);
    for (int i = 0; i < 2; i++) {
        render_ok(doc, 0, dpis[i], 0, &img);
        ck_assert_int_le(abs((int)img.width - (int)want_w[i]), 1);
        ck_assert_int_le(abs((int)img.height - (int)want_h[i]), 1);
        double white = share_at_least(&img, 255);
        ck_assert_msg(white > 97.0 && white < 100.0, "white share %.2f%%", white);
        /* Text sits 72..~400 pt right, ~100..175 pt down: dark pixels there. */
        double s = dpis[i] / 72.0;
        size_t dark_in = 0, dark_all = count_at_most(&img, 64);
        for (uint32_t y = (uint32_t)(95 * s); y < (uint32_t)(180 * s); y++)
            for (uint32_t x = (uint32_t)(70 * s); x < (uint32_t)(420 * s); x++)
                dark_in += img.data[(size_t)y * img.stride + x] <= 64;
        ck_assert_uint_gt(dark_in, 500);
        ck_assert_uint_eq(dark_in, dark_all);
        free(img.data);
    }
    render_ok(doc, 1, 150, 0, &img);
    ck_assert_int_le(abs((int)img.width - 1240), 1);
    ck_assert_uint_gt(count_at_most(&img, 64), 500);
    free(img.data);
    pdf_close(doc);
    free(m.data);
}
END_TEST

START_TEST(test_render_deterministic)
{
    struct membuf m;
    struct pp_image a, b;

    make_text_pdf(1, &m);
    struct pdf_doc *doc = open_ok(m.data, m.len);
    render_ok(doc, 0, 200, 0, &a);
    struct pdf_doc *doc2 = open_ok(m.data, m.len);
    render_ok(doc2, 0, 200, 0, &b);
    ck_assert_uint_eq(a.width, b.width);
    ck_assert_uint_eq(a.height, b.height);
    ck_assert(memcmp(a.data, b.data, (size_t)a.width * a.height) == 0);
    free(a.data);
    free(b.data);
    pdf_close(doc2);
    pdf_close(doc);
    free(m.data);
}
END_TEST

/* 300 dpi A4 is 8.7 Mpx: a 1 Mpx limit scales it down, keeping the shape. */
START_TEST(test_render_max_pixels)
{
    struct membuf m;
    struct pp_image img;

    make_text_pdf(1, &m);
    struct pdf_doc *doc = open_ok(m.data, m.len);
    render_ok(doc, 0, 300, 1000000, &img);
    uint64_t px = (uint64_t)img.width * img.height;
    ck_assert_uint_le(px, 1000000);
    ck_assert_uint_gt(px, 980000);
    double aspect = (double)img.width / img.height;
    ck_assert_double_eq_tol(aspect, A4_W_PT / A4_H_PT, 0.005);
    ck_assert_uint_gt(count_at_most(&img, 64), 100);
    free(img.data);
    /* A limit above the page's size changes nothing. */
    render_ok(doc, 0, 150, 1240u * 1754u, &img);
    ck_assert_uint_eq(img.width, 1240);
    ck_assert_uint_eq(img.height, 1754);
    free(img.data);
    pdf_close(doc);
    free(m.data);
}
END_TEST

/*
 * A 200 x 100 pt page with /Rotate 90 whose left quarter is black: the page
 * renders 100 x 200 px at 72 dpi and the black band is at the top.
 */
START_TEST(test_render_rotated_page)
{
    static const char content[] = "0 0 50 100 re f";
    char stream[128];
    struct pp_image img;
    size_t len;

    snprintf(stream, sizeof(stream), "<< /Length %zu >>\nstream\n%s\nendstream", strlen(content),
             content);
    const char *objs[] = {"<< /Type /Catalog /Pages 2 0 R >>",
                          "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                          "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] /Rotate 90 "
                          "/Contents 4 0 R >>",
                          stream};
    uint8_t *pdf = make_raw_pdf(objs, 4, NULL, &len);
    struct pdf_doc *doc = open_ok(pdf, len);
    render_ok(doc, 0, 72, 0, &img);
    ck_assert_uint_eq(img.width, 100);
    ck_assert_uint_eq(img.height, 200);
    ck_assert_uint_eq(img.data[10 * img.stride + 50], 0); /* top band: black */
    ck_assert_uint_eq(img.data[40 * img.stride + 90], 0);
    ck_assert_uint_eq(img.data[60 * img.stride + 50], 255); /* below: white */
    ck_assert_uint_eq(img.data[190 * img.stride + 10], 255);
    free(img.data);
    pdf_close(doc);
    free(pdf);
}
END_TEST

START_TEST(test_page_out_of_range)
{
    struct membuf m;
    struct pp_image img = {(uint8_t *)1, 7, 7, 7, 7};
    char err[256] = "";

    make_text_pdf(2, &m);
    struct pdf_doc *doc = open_ok(m.data, m.len);
    ck_assert_int_eq(pdf_render_page(doc, 2, 150, 0, &img, err, sizeof(err)), FILOT_EINVAL);
    ck_assert_ptr_null(img.data);
    ck_assert_msg(strstr(err, "out of range") != NULL, "error \"%s\"", err);
    err[0] = '\0';
    ck_assert_int_eq(pdf_render_page(doc, -1, 150, 0, &img, err, sizeof(err)), FILOT_EINVAL);
    ck_assert_msg(strstr(err, "out of range") != NULL, "error \"%s\"", err);
    ck_assert_int_eq(pdf_render_page(doc, 0, 0, 0, &img, err, sizeof(err)), FILOT_EINVAL);
    ck_assert_int_eq(pdf_render_page(doc, 0, 100000, 0, &img, err, sizeof(err)), FILOT_EINVAL);
    ck_assert_int_eq(pdf_render_page(NULL, 0, 150, 0, &img, err, sizeof(err)), FILOT_EINVAL);
    pdf_close(doc);
    free(m.data);
}
END_TEST

START_TEST(test_open_garbage)
{
    static const char junk[] = "%PDF-1.4\nthis is not really a PDF at all\n%%EOF\n";
    uint8_t noise[4096];
    uint32_t x = 12345;

    open_fails((const uint8_t *)"hello world", 11, "cannot read PDF: ");
    open_fails((const uint8_t *)"", 0, "cannot read PDF: ");
    open_fails(NULL, 0, "cannot read PDF: ");
    open_fails((const uint8_t *)junk, sizeof(junk) - 1, "cannot read PDF: ");
    memcpy(noise, "%PDF-1.7\n", 9);
    for (size_t i = 9; i < sizeof(noise); i++) {
        x = x * 1103515245u + 12345u;
        noise[i] = (uint8_t)(x >> 16);
    }
    open_fails(noise, sizeof(noise), "cannot read PDF: ");
    ck_assert_int_eq(pdf_open((const uint8_t *)"x", 1, NULL, NULL, 0), FILOT_EINVAL);
}
END_TEST

/*
 * Truncated documents: cut at many points, each is refused with a message or
 * opens (poppler rebuilds a damaged xref) and renders every page it reports
 * without crashing.  A cut inside the header is always refused.
 */
START_TEST(test_open_truncated)
{
    struct membuf m;
    char err[256];
    int refused = 0;

    make_text_pdf(2, &m);
    open_fails(m.data, 30, "cannot read PDF: ");
    for (size_t cut = 16; cut < m.len; cut += m.len / 23 + 1) {
        struct pdf_doc *doc = NULL;
        err[0] = '\0';
        if (pdf_open(m.data, cut, &doc, err, sizeof(err)) != 0) {
            ck_assert_ptr_null(doc);
            ck_assert_msg(strncmp(err, "cannot read PDF: ", 17) == 0, "error \"%s\"", err);
            refused++;
            continue;
        }
        for (int p = 0; p < pdf_page_count(doc); p++) {
            struct pp_image img;
            if (pdf_render_page(doc, p, 72, 0, &img, err, sizeof(err)) == 0)
                free(img.data);
            else
                ck_assert_ptr_null(img.data);
        }
        pdf_close(doc);
    }
    ck_assert_int_gt(refused, 0);
    free(m.data);
}
END_TEST

/*
 * A document with a standard security handler whose /U entry does not match
 * the empty user password: poppler cannot open it without a password, as
 * for any document that needs one.
 */
START_TEST(test_open_encrypted)
{
    static const char hex32[] =
        "<5a1d3c7e9b2f4a6c8e0d1b3f5a7c9e1b2d4f6a8c0e2b4d6f8a1c3e5b7d9f0a2c>";
    char encrypt[256];
    size_t len;

    snprintf(encrypt, sizeof(encrypt),
             "<< /Filter /Standard /V 1 /R 2 /Length 40 /P -44 /O %s /U %s >>", hex32, hex32);
    const char *objs[] = {"<< /Type /Catalog /Pages 2 0 R >>",
                          "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                          "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] >>", encrypt};
    uint8_t *pdf = make_raw_pdf(objs, 4,
                                "/Encrypt 4 0 R /ID [<0123456789abcdef0123456789abcdef> "
                                "<0123456789abcdef0123456789abcdef>]",
                                &len);
    open_fails(pdf, len, "PDF is password-protected");
    free(pdf);
}
END_TEST

START_TEST(test_open_no_pages)
{
    size_t len;
    const char *objs[] = {"<< /Type /Catalog /Pages 2 0 R >>",
                          "<< /Type /Pages /Kids [] /Count 0 >>"};
    uint8_t *pdf = make_raw_pdf(objs, 2, NULL, &len);

    open_fails(pdf, len, "PDF has no pages");
    free(pdf);
}
END_TEST

/* Writes a GRAY8 image as PNG (through an RGB24 cairo surface). */
static void write_png(const struct pp_image *img, const char *path)
{
    cairo_surface_t *s =
        cairo_image_surface_create(CAIRO_FORMAT_RGB24, (int)img->width, (int)img->height);
    ck_assert_int_eq(cairo_surface_status(s), CAIRO_STATUS_SUCCESS);
    cairo_surface_flush(s);
    uint8_t *d = cairo_image_surface_get_data(s);
    int stride = cairo_image_surface_get_stride(s);
    for (uint32_t y = 0; y < img->height; y++) {
        uint32_t *row = (uint32_t *)(void *)(d + (size_t)y * (size_t)stride);
        for (uint32_t x = 0; x < img->width; x++) {
            uint32_t g = img->data[(size_t)y * img->stride + x];
            row[x] = (g << 16) | (g << 8) | g;
        }
    }
    cairo_surface_mark_dirty(s);
    ck_assert_int_eq(cairo_surface_write_to_png(s, path), CAIRO_STATUS_SUCCESS);
    cairo_surface_destroy(s);
}

/* Rendered page 1 at 200 dpi goes through tesseract; the NIK digits come back. */
START_TEST(test_render_then_ocr)
{
    char dir[] = "/tmp/test_pdf_XXXXXX", png[64], cmd[160], text[4096], digits[4096];
    struct membuf m;
    struct pp_image img;
    size_t n = 0, k = 0;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(png, sizeof(png), "%s/page.png", dir);
    make_text_pdf(1, &m);
    struct pdf_doc *doc = open_ok(m.data, m.len);
    render_ok(doc, 0, 200, 0, &img);
    write_png(&img, png);
    free(img.data);
    pdf_close(doc);
    free(m.data);

    snprintf(cmd, sizeof(cmd), "timeout 60 tesseract %s stdout -l eng --psm 3 2>/dev/null", png);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    n = fread(text, 1, sizeof(text) - 1, p);
    text[n] = '\0';
    int rc = pclose(p);
    unlink(png);
    rmdir(dir);
    ck_assert_msg(rc == 0, "tesseract failed (status %d)", rc);
    for (size_t i = 0; i < n; i++)
        if (!isspace((unsigned char)text[i]))
            digits[k++] = text[i];
    digits[k] = '\0';
    ck_assert_msg(strstr(digits, NIK_DIGITS) != NULL, "OCR text: %s", text);
    ck_assert_msg(strstr(text, "NIK") != NULL, "OCR text: %s", text);
}
END_TEST

static Suite *pdf_suite(void)
{
    Suite *s = suite_create("pdf");
    TCase *basic = tcase_create("basic");
    tcase_add_test(basic, test_is_pdf);
    tcase_add_test(basic, test_page_count);
    tcase_add_test(basic, test_page_out_of_range);
    tcase_add_test(basic, test_open_garbage);
    tcase_add_test(basic, test_open_truncated);
    tcase_add_test(basic, test_open_encrypted);
    tcase_add_test(basic, test_open_no_pages);
    suite_add_tcase(s, basic);

    TCase *render = tcase_create("render");
    tcase_add_test(render, test_render_geometry_and_content);
    tcase_add_test(render, test_render_deterministic);
    tcase_add_test(render, test_render_max_pixels);
    tcase_add_test(render, test_render_rotated_page);
    tcase_set_timeout(render, 30);
    suite_add_tcase(s, render);

    TCase *ocr = tcase_create("ocr");
    tcase_add_test(ocr, test_render_then_ocr);
    tcase_set_timeout(ocr, 90);
    suite_add_tcase(s, ocr);
    return s;
}

int main(void)
{
    return check_run(pdf_suite());
}
