/*
 * number_reader.h - the NIK and NPWP numbers: several independent readings
 * of the number's box (the layout value from the page, Tesseract again on
 * the box restricted to digits, the OCR-A template reader of ocra.h), the
 * structure each form must have, and how the readings are combined.
 */
#ifndef FILOT_NUMBER_READER_H
#define FILOT_NUMBER_READER_H

#include <jansson.h>
#include <stddef.h>

#include "ocr-workers/reading/extract.h"
#include "ocr-workers/reading/layout.h"

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

/*
 * Puts "nik" (and its confidence) from the labelled value v and, when
 * reread is given, the second readings of its box.  Needs birthDate and
 * gender already in o (they break ties).
 */
void number_put_nik(json_t *o, json_t *conf, const struct value *v, extract_reread_fn reread,
                    void *ctx);

/* Puts "npwpNumber" (and its confidence) the same way. */
void number_put_npwp(json_t *o, json_t *conf, const struct value *v, extract_reread_fn reread,
                     void *ctx);

#endif
