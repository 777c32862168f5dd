/*
 * extract.h - layout-aware KTP / NPWP field extraction from word boxes.
 *
 * Tesseract's PSM 3 often returns a card's label column and value column as
 * separate blocks, so "Label : value" never appears on one text line and the
 * compat parser (doc_parse) finds nothing.  Here the words are regrouped into
 * rows by geometry, each row's leading words are matched against the printed
 * labels with an edit-distance tolerance (OCR damage such as "Tampal/Tgi
 * Lahir"), and each value is cleaned by its field's rule: digit repair where
 * only digits are legal, closed vocabularies snapped (gender, religion, ...),
 * the NIK checked against what it encodes.  Compat keys the layout pass does
 * not find fall back to doc_parse() on the plain text.
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

/*
 * Digit repair where only digits are legal: O/o/D/Q -> 0, I/l/i/|/! -> 1,
 * Z/z -> 2, S/s -> 5, G/b -> 6, B -> 8; spaces, '.', '-', ':' are dropped.
 * Writes the digits (NUL-terminated, at most cap - 1) and returns their
 * count, or -1 when another character appears.
 */
int extract_repair_digits(const char *in, char *out, size_t cap);

/* What a NIK encodes, as checked by extract_nik_check(). */
enum {
    NIK_SHAPE = 1 << 0,    /* 16 digits */
    NIK_PROVINCE = 1 << 1, /* digits 1-2 are a province code */
    NIK_DATE = 1 << 2,     /* digits 7-12 a DDMMYY date, DD + 40 for women */
    NIK_BIRTH = 1 << 3,    /* ... equal to birth_date (DD-MM-YYYY) */
    NIK_GENDER = 1 << 4    /* ... DD > 40 exactly when gender is PEREMPUAN */
};

/*
 * Checks a NIK; birth_date and gender may be NULL (their bits are then
 * left clear).  Returns the NIK_* bits that hold.
 */
int extract_nik_check(const char *nik, const char *birth_date, const char *gender);

/*
 * NPWP number from OCR text: after digit repair, 15 digits give the printed
 * punctuated form NN.NNN.NNN.N-NNN.NNN, 16 digits (the NIK-based form) are
 * kept as plain digits.  Returns 15 or 16, or -1 when neither.
 */
int extract_npwp_number(const char *in, char *out, size_t cap);

/* Edit distance between two ASCII strings (at most 63 characters each). */
int extract_edit_distance(const char *a, const char *b);

#endif
