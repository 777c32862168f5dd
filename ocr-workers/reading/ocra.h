/*
 * ocra.h - digit line reader by template matching, for the OCR-A digits a
 * KTP prints its NIK in (and many NPWP cards their number).
 *
 * Tesseract's LSTM models were not trained on OCR-A: on degraded photos
 * they read its 4 as 1, 9 as 4, 7 as '?', whatever the scale or whitelist.
 * OCR-A was designed for machine reading by exactly this method: the line is
 * binarised (Otsu), split into glyphs by column projection (full-height ink
 * only, so ':', '.', '-' drop out), and each glyph, cropped to its ink and
 * resampled to the template size, is given the digit whose template has the
 * highest normalised cross-correlation.
 */
#ifndef FILOT_OCRA_H
#define FILOT_OCRA_H

#include <stddef.h>
#include <stdint.h>

/*
 * Reads the digits in [x0, x1) x [y0, y1) of an 8-bit grey image (dark ink
 * on light).  Writes at most cap - 1 digits to out (NUL-terminated) and in
 * *score the lowest glyph correlation x 100 (how surely every glyph is an
 * OCR-A digit; other fonts score low).  Returns the digit count (0 when no
 * glyph was found) or a negative FILOT_E* code.
 */
int ocra_read_digits(const uint8_t *gray, uint32_t width, uint32_t height, uint32_t stride, int x0,
                     int y0, int x1, int y1, char *out, size_t cap, int *score);

/* Otsu threshold of n grey values (the last level of the darker class). */
int ocra_otsu(const uint8_t *v, size_t n);

#endif
