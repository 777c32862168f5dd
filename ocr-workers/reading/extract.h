/*
 * extract.h - layout-aware KTP / NPWP field extraction from word boxes.
 *
 * The entry point of the reading room's field extraction, used by the
 * pipeline (worker and CLI) and the eval harness.  Tesseract's PSM 3 often
 * returns a card's label column and value column as separate blocks, so
 * "Label : value" never appears on one text line and the compat parser
 * (doc_parse) finds nothing.  The words are regrouped into rows and paired
 * with their labels (layout.h), each value is cleaned by its field's rule
 * (fields.h, text_rules.h), the NIK / NPWP number is read by several readers
 * (number_reader.h, ocra.h).  Compat keys the layout pass does not find fall
 * back to doc_parse() on the plain text.
 */
#ifndef FILOT_EXTRACT_H
#define FILOT_EXTRACT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "ocr-workers/reading/doc_parse.h"
#include "ocr-workers/reading/engine.h"

/* How a rectangle is read a second time. */
enum extract_read {
    EXTRACT_READ_LINE, /* Tesseract, one line (PSM 7) restricted to whitelist */
    EXTRACT_READ_OCRA  /* OCR-A digit templates (ocra_read_digits()); conf = score */
};

/*
 * Second look at a rectangle of the image (engine_read_line() or
 * ocra_read_digits() in production, a stub in tests).  Returns 0 and a
 * malloc'd *text, or a negative FILOT_E* code.
 */
typedef int (*extract_reread_fn)(void *ctx, enum extract_read how, int x0, int y0, int x1, int y1,
                                 const char *whitelist, char **text, int *conf);

/*
 * Fields of a document from a recognised page.  Returns a new object with
 * the compat keys (strings, only those found), the additional camelCase keys
 * and "fieldConfidence" (key -> 0..100), or NULL on allocation failure.
 * reread may be NULL (no digits-only second pass).
 */
json_t *extract_fields(enum doc_type t, const struct ocr_page *page, extract_reread_fn reread,
                       void *ctx);

/*
 * extract_fields() with engine_read_line() and ocra_read_digits() on the
 * same image as reread.
 */
json_t *extract_document(struct ocr_engine *e, enum doc_type t, const uint8_t *gray, uint32_t width,
                         uint32_t height, const struct ocr_page *page);

/* The original score (doc_score) over the original keys of parsed only. */
int extract_score(enum doc_type t, const json_t *parsed);

#endif
