/*
 * pdf_render.h - PDF pages to pixels with poppler-glib, inside the worker
 * (untrusted input stays in the isolated process).
 */
#ifndef FILOT_PDF_RENDER_H
#define FILOT_PDF_RENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/preproc.h"

/* True when buf starts like a PDF ("%PDF-"). */
bool pdf_is_pdf(const uint8_t *buf, size_t len);

struct pdf_doc;

/* Parses the document from memory (not copied: buf must outlive doc). */
int pdf_open(const uint8_t *buf, size_t len, struct pdf_doc **out, char *err, size_t errlen);
int pdf_page_count(const struct pdf_doc *doc);

/*
 * Renders page (0-based) at dpi into a GRAY8 image (out->data malloc'd,
 * caller frees; white background).  The page is scaled down if it would
 * exceed max_pixels.  Returns 0 or a negative FILOT_E* with err set.
 */
int pdf_render_page(struct pdf_doc *doc, int page, int dpi, uint64_t max_pixels,
                    struct pp_image *out, char *err, size_t errlen);

void pdf_close(struct pdf_doc *doc);

#endif
