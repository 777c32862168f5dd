/*
 * pdf_render.c - PDF pages to 8-bit grey pixels with poppler-glib and cairo.
 *
 * The document is parsed from the caller's buffer without a copy (a static
 * GBytes that poppler references).  A page is drawn into a cairo RGB24
 * surface that was painted white first, so transparent pages come out on
 * paper, and then reduced to grey with the pipeline's own luma (pp_luma()).
 * Page geometry is the crop box at the page's /Rotate, in points, times
 * dpi / 72, rounded to whole pixels; the scale is lowered when the result
 * would exceed max_pixels or cairo's largest surface.
 *
 * Rendering is single-threaded and uses no global state of ours, so the
 * same bytes, page and dpi always give the same pixels.  Poppler's own
 * diagnostics go to g_log at info level and stay quiet by default; the
 * reason for a refusal is written to err and logged once here.
 */
#include "pdf_render.h"

#include <cairo.h>
#include <inttypes.h>
#include <math.h>
#include <poppler.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/preproc_math.h"
#include "common/status.h"

/* Cairo refuses image surfaces wider or taller than this. */
#define CAIRO_MAX_DIM 32767
/* Accepted resolution range (dots per inch). */
#define PDF_MIN_DPI 10
#define PDF_MAX_DPI 1200

struct pdf_doc {
    PopplerDocument *doc; /* holds its own reference to the bytes */
    int n_pages;
};

/* A refused input is the client's problem: said once, at warn level. */
#define fail(code, err, errlen, ...) log_refuse("PDF refused", code, err, errlen, __VA_ARGS__)

/* True when buf starts with the PDF header "%PDF-". */
bool pdf_is_pdf(const uint8_t *buf, size_t len)
{
    static const char magic[] = "%PDF-";

    return buf != NULL && len >= sizeof(magic) - 1 && memcmp(buf, magic, sizeof(magic) - 1) == 0;
}

/*
 * Maps a poppler open error to a code and a message.  A document that needs
 * a user password is named as such; anything else carries poppler's text.
 */
static int open_error(GError *gerr, char *err, size_t errlen)
{
    if (gerr != NULL && gerr->domain == POPPLER_ERROR && gerr->code == POPPLER_ERROR_ENCRYPTED)
        return fail(FILOT_EFORMAT, err, errlen, "PDF is password-protected");
    return fail(FILOT_EFORMAT, err, errlen, "cannot read PDF: %s",
                gerr != NULL && gerr->message != NULL ? gerr->message : "unknown error");
}

/*
 * Opens a document from memory with no password.  A document that opens but
 * has no pages is refused here, so every open pdf_doc has a page to render.
 */
int pdf_open(const uint8_t *buf, size_t len, struct pdf_doc **out, char *err, size_t errlen)
{
    GError *gerr = NULL;
    GBytes *bytes;
    PopplerDocument *doc;
    struct pdf_doc *d;
    int n, rc;

    if (out == NULL)
        return fail(FILOT_EINVAL, err, errlen, "no output document given");
    *out = NULL;
    if (buf == NULL || len == 0)
        return fail(FILOT_EFORMAT, err, errlen, "cannot read PDF: empty input (0 bytes)");
    if (!pdf_is_pdf(buf, len))
        return fail(FILOT_EFORMAT, err, errlen, "cannot read PDF: no %%PDF- header");

    bytes = g_bytes_new_static(buf, len);
    doc = poppler_document_new_from_bytes(bytes, NULL, &gerr);
    g_bytes_unref(bytes);
    if (doc == NULL) {
        rc = open_error(gerr, err, errlen);
        g_clear_error(&gerr);
        return rc;
    }
    n = poppler_document_get_n_pages(doc);
    if (n <= 0) {
        g_object_unref(doc);
        return fail(FILOT_EFORMAT, err, errlen, "PDF has no pages");
    }
    d = calloc(1, sizeof(*d));
    if (d == NULL) {
        g_object_unref(doc);
        return fail(FILOT_ENOMEM, err, errlen, "out of memory opening PDF");
    }
    d->doc = doc;
    d->n_pages = n;
    *out = d;
    return 0;
}

/* Number of pages (at least 1 for an open document), or 0 for NULL. */
int pdf_page_count(const struct pdf_doc *doc)
{
    return doc != NULL ? doc->n_pages : 0;
}

/* Pixel size of a pw x ph point page at scale s: rounded, or rounded down. */
static void page_pixels(double pw, double ph, double s, bool down, uint32_t *w, uint32_t *h)
{
    double fw = down ? floor(pw * s) : round(pw * s);
    double fh = down ? floor(ph * s) : round(ph * s);

    *w = fw < 1.0 ? 1u : (uint32_t)fw;
    *h = fh < 1.0 ? 1u : (uint32_t)fh;
}

/*
 * Chooses the output geometry of a pw x ph point page at dpi: rounded to the
 * nearest pixel, or, when that exceeds max_pixels (0 = no limit) or cairo's
 * largest side, scaled down uniformly and rounded down until it fits.
 */
static void plan_size(double pw, double ph, int dpi, uint64_t max_pixels, uint32_t *w, uint32_t *h)
{
    double s = dpi / 72.0;

    page_pixels(pw, ph, s, false, w, h);
    if (*w <= CAIRO_MAX_DIM && *h <= CAIRO_MAX_DIM &&
        (max_pixels == 0 || (uint64_t)*w * *h <= max_pixels))
        return;
    if (pw * s > CAIRO_MAX_DIM)
        s = CAIRO_MAX_DIM / pw;
    if (ph * s > CAIRO_MAX_DIM)
        s = CAIRO_MAX_DIM / ph;
    if (max_pixels > 0 && pw * s * ph * s > (double)max_pixels)
        s = sqrt((double)max_pixels / (pw * ph));
    page_pixels(pw, ph, s, true, w, h);
    while (max_pixels > 0 && (uint64_t)*w * *h > max_pixels && (*w > 1 || *h > 1)) {
        s *= 0.999;
        page_pixels(pw, ph, s, true, w, h);
    }
}

/*
 * Copies an RGB24 cairo surface (native-endian 0x00RRGGBB words) into a
 * w x h grey buffer with stride == w.
 */
static void surface_to_gray(cairo_surface_t *surf, uint8_t *dst, uint32_t w, uint32_t h)
{
    const uint8_t *src = cairo_image_surface_get_data(surf);
    size_t stride = (size_t)cairo_image_surface_get_stride(surf);

    for (uint32_t y = 0; y < h; y++) {
        const uint32_t *row = (const uint32_t *)(const void *)(src + y * stride);
        uint8_t *out = dst + (size_t)y * w;
        for (uint32_t x = 0; x < w; x++) {
            uint32_t px = row[x];
            out[x] = pp_luma((uint8_t)(px >> 16), (uint8_t)(px >> 8), (uint8_t)px);
        }
    }
}

/*
 * Draws page onto a white w x h RGB24 surface, scaled from points.  Returns
 * the surface (caller destroys) or NULL with err set.
 */
static cairo_surface_t *draw_page(PopplerPage *page, double pw, double ph, uint32_t w, uint32_t h,
                                  int index, int *rc, char *err, size_t errlen)
{
    cairo_surface_t *surf;
    cairo_t *cr;
    cairo_status_t st;

    surf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, (int)w, (int)h);
    if (cairo_surface_status(surf) != CAIRO_STATUS_SUCCESS) {
        *rc = fail(FILOT_ENOMEM, err, errlen,
                   "cannot allocate %" PRIu32 "x%" PRIu32 " surface for PDF page %d: %s", w, h,
                   index + 1, cairo_status_to_string(cairo_surface_status(surf)));
        cairo_surface_destroy(surf);
        return NULL;
    }
    cr = cairo_create(surf);
    cairo_set_source_rgb(cr, 1.0, 1.0, 1.0);
    cairo_paint(cr);
    cairo_scale(cr, w / pw, h / ph);
    poppler_page_render(page, cr);
    st = cairo_status(cr);
    cairo_destroy(cr);
    if (st != CAIRO_STATUS_SUCCESS) {
        *rc = fail(FILOT_EFORMAT, err, errlen, "cannot render PDF page %d: %s", index + 1,
                   cairo_status_to_string(st));
        cairo_surface_destroy(surf);
        return NULL;
    }
    cairo_surface_flush(surf);
    return surf;
}

/*
 * Renders one page (0-based) to GRAY8 at dpi, scaled down to max_pixels.
 * On failure out is zeroed and nothing is left allocated.
 */
int pdf_render_page(struct pdf_doc *doc, int page, int dpi, uint64_t max_pixels,
                    struct pp_image *out, char *err, size_t errlen)
{
    PopplerPage *pg;
    cairo_surface_t *surf;
    double pw = 0.0, ph = 0.0;
    uint32_t w, h;
    uint8_t *data;
    int rc = 0;

    if (out == NULL || doc == NULL)
        return fail(FILOT_EINVAL, err, errlen, "no PDF document or output image given");
    memset(out, 0, sizeof(*out));
    if (page < 0 || page >= doc->n_pages)
        return fail(FILOT_EINVAL, err, errlen, "PDF page %d out of range (document has %d pages)",
                    page + 1, doc->n_pages);
    if (dpi < PDF_MIN_DPI || dpi > PDF_MAX_DPI)
        return fail(FILOT_EINVAL, err, errlen, "PDF render resolution %d dpi outside %d..%d", dpi,
                    PDF_MIN_DPI, PDF_MAX_DPI);

    pg = poppler_document_get_page(doc->doc, page);
    if (pg == NULL)
        return fail(FILOT_EFORMAT, err, errlen, "cannot read PDF page %d", page + 1);
    poppler_page_get_size(pg, &pw, &ph);
    if (!isfinite(pw) || !isfinite(ph) || pw < 1.0 || ph < 1.0) {
        g_object_unref(pg);
        return fail(FILOT_EFORMAT, err, errlen, "PDF page %d has an invalid size (%gx%g pt)",
                    page + 1, pw, ph);
    }
    plan_size(pw, ph, dpi, max_pixels, &w, &h);
    surf = draw_page(pg, pw, ph, w, h, page, &rc, err, errlen);
    g_object_unref(pg);
    if (surf == NULL)
        return rc;

    data = malloc((size_t)w * h);
    if (data == NULL) {
        cairo_surface_destroy(surf);
        return fail(FILOT_ENOMEM, err, errlen,
                    "out of memory for %" PRIu32 "x%" PRIu32 " PDF page %d", w, h, page + 1);
    }
    surface_to_gray(surf, data, w, h);
    cairo_surface_destroy(surf);
    out->data = data;
    out->width = w;
    out->height = h;
    out->stride = w;
    out->format = PP_GRAY8;
    return 0;
}

/* Releases the document; NULL is ignored. */
void pdf_close(struct pdf_doc *doc)
{
    if (doc == NULL)
        return;
    g_object_unref(doc->doc);
    free(doc);
}
