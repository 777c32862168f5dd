/*
 * fuzz_decode.c - untrusted image bytes (decode_image): magic-byte
 * sniffing, the header read and its size refusal, the JPEG completeness
 * walk, then the decode itself through Leptonica's codecs (libjpeg,
 * libpng, libtiff, libwebp: not instrumented, but their allocations and
 * what we do with their output are).
 *
 * Input: the file.  OCR_MAX_PIXELS is set low (1 Mpx) so a header that
 * claims a huge image is refused before any pixel buffer exists.
 * Properties: success gives a GRAY8 or RGBA32 image within max_pixels
 * whose buffer is fully readable (stride * height bytes); a refusal says
 * why in a terminated err and leaves no buffer behind.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ocr-workers/reading/decode.h"
#include "tests/fuzz/util.h"

#define FUZZ_MAX_PIXELS (1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int quiet;
    if (!quiet++)
        fuzz_quiet_logs();
    struct pp_image img;
    char err[256];
    int ppi = -1;
    memset(err, 'x', sizeof err);
    if (decode_image(data, size, FUZZ_MAX_PIXELS, &img, &ppi, err, sizeof err) != 0) {
        fuzz_check_terminated(err, sizeof err, "err is not terminated");
        if (err[0] == '\0' || img.data != NULL)
            fuzz_fail("refusal without a reason, or with a buffer");
        return 0;
    }
    if (img.data == NULL || img.width == 0 || img.height == 0 || ppi < 0 ||
        (uint64_t)img.width * img.height > FUZZ_MAX_PIXELS ||
        (img.format != PP_GRAY8 && img.format != PP_RGBA32) || img.stride != img.width * img.format)
        fuzz_fail("decoded image breaks its contract");
    /* Touch the last byte: ASan reports a buffer shorter than promised. */
    volatile uint8_t last = img.data[(size_t)img.stride * img.height - 1];
    (void)last;
    free(img.data);
    return 0;
}
