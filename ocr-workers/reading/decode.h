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

#endif
