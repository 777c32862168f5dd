/*
 * decode.h - untrusted image bytes to pixels, with Leptonica.
 *
 * JPEG, PNG, TIFF and WebP.  The size is read from the header and refused
 * above max_pixels before any pixel is decoded.
 */
#ifndef FILOT_DECODE_H
#define FILOT_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "common/preproc.h"

/*
 * Reads a whole file (at most max_bytes).  *buf is malloc'd, caller frees.
 * Errors are written to err as a sentence suitable for a result's "error".
 */
int decode_read_file(const char *path, size_t max_bytes, uint8_t **buf, size_t *len, char *err,
                     size_t errlen);

/*
 * Decodes buf into out: GRAY8 for grey or bilevel images, RGBA32 (bytes
 * R,G,B,A) for colour; out->data is malloc'd and owned by the caller.
 * *ppi receives the resolution from the header, 0 if unknown.
 */
int decode_image(const uint8_t *buf, size_t len, uint64_t max_pixels, struct pp_image *out,
                 int *ppi, char *err, size_t errlen);

/*
 * decode_image(), but a landscape JPEG whose longer side is at least twice
 * min_long_side is decoded at 1/2, 1/4 or 1/8 of its size by libjpeg's DCT
 * scaling, the smallest that keeps the longer side >= min_long_side (0:
 * always full size).  A JPEG is then read as luminance only (GRAY8): the
 * pipeline works in grey, and skipping the chroma inverse DCT, upsampling
 * and colour conversion is most of the decode time.  *reduction (optional)
 * receives the factor used; *ppi is divided by it.  Other formats are
 * decoded at full size, as decode_image() does.
 */
int decode_image_scaled(const uint8_t *buf, size_t len, uint64_t max_pixels, uint32_t min_long_side,
                        struct pp_image *out, int *ppi, int *reduction, char *err, size_t errlen);

#endif
