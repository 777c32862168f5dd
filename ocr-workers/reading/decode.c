/*
 * decode.c - untrusted image bytes to pixels, with Leptonica.
 *
 * Order of checks for an upload: size of the file, format from the magic
 * bytes, geometry from the header (refused above max_pixels before any pixel
 * buffer exists), JPEG completeness (the EOI marker), PNG chunk lengths
 * within the file, then the decode.  Only
 * JPEG, PNG, TIFF (every compression) and WebP are accepted: the original
 * service took nothing else, and every extra codec is attack surface.
 *
 * Leptonica's own messages are silenced for the duration of a call (its
 * severity threshold is saved and restored); the reason is written to err and
 * logged once here.  libjpeg may still print a warning line on stderr for a
 * corrupt (not truncated) JPEG: that text comes from libjpeg, not Leptonica.
 */
#include "decode.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <leptonica/allheaders.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/status.h"

/* findFileFormatBuffer() reads this many bytes without a length check. */
#define MAGIC_BYTES 12

/* A refused input is the client's problem: said once, at warn level. */
#define fail(code, err, errlen, ...) log_refuse("Image refused", code, err, errlen, __VA_ARGS__)

/*
 * Reads the whole file with one owner for the buffer.  The size is checked
 * from fstat() before anything is allocated, and again while reading in case
 * the file grows.  O_NONBLOCK keeps a FIFO from blocking open(); only regular
 * files are read.
 */
int decode_read_file(const char *path, size_t max_bytes, uint8_t **buf, size_t *len, char *err,
                     size_t errlen)
{
    struct stat st;
    uint8_t *data = NULL;
    size_t cap, used = 0;
    int fd, rc;

    if (path == NULL || buf == NULL || len == NULL)
        return fail(FILOT_EINVAL, err, errlen, "no file path given");
    *buf = NULL;
    *len = 0;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT)
            return fail(FILOT_EIO, err, errlen, "file not found: %s", path);
        return fail(FILOT_EIO, err, errlen, "cannot open %s: %s", path, strerror(errno));
    }
    if (fstat(fd, &st) != 0) {
        rc = fail(FILOT_EIO, err, errlen, "cannot stat %s: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = fail(FILOT_EINVAL, err, errlen, "not a regular file: %s", path);
        goto out;
    }
    if ((uint64_t)st.st_size > max_bytes) {
        rc = fail(FILOT_ETOOBIG, err, errlen, "file is larger than %zu bytes (%lld bytes)",
                  max_bytes, (long long)st.st_size);
        goto out;
    }
    /* One spare byte lets a file that grew past max_bytes be noticed. */
    cap = (size_t)st.st_size + 1;
    data = malloc(cap);
    if (data == NULL) {
        rc = fail(FILOT_ENOMEM, err, errlen, "out of memory reading %s", path);
        goto out;
    }
    for (;;) {
        if (used == cap) {
            size_t ncap = cap * 2 > max_bytes + 1 ? max_bytes + 1 : cap * 2;
            uint8_t *n;
            if (used > max_bytes) {
                rc = fail(FILOT_ETOOBIG, err, errlen, "file is larger than %zu bytes", max_bytes);
                goto out;
            }
            n = realloc(data, ncap);
            if (n == NULL) {
                rc = fail(FILOT_ENOMEM, err, errlen, "out of memory reading %s", path);
                goto out;
            }
            data = n;
            cap = ncap;
        }
        ssize_t r = read(fd, data + used, cap - used);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = fail(FILOT_EIO, err, errlen, "cannot read %s: %s", path, strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        used += (size_t)r;
    }
    if (used > max_bytes) {
        rc = fail(FILOT_ETOOBIG, err, errlen, "file is larger than %zu bytes", max_bytes);
        goto out;
    }
    *buf = data;
    *len = used;
    data = NULL;
    rc = 0;
out:
    free(data);
    close(fd);
    return rc;
}

/* Short lower-case name of a Leptonica format for messages. */
static const char *format_name(l_int32 fmt)
{
    if (L_FORMAT_IS_TIFF(fmt))
        return "tiff";
    switch (fmt) {
    case IFF_BMP:
        return "bmp";
    case IFF_JFIF_JPEG:
        return "jpeg";
    case IFF_PNG:
        return "png";
    case IFF_PNM:
        return "pnm";
    case IFF_PS:
        return "postscript";
    case IFF_GIF:
        return "gif";
    case IFF_JP2:
        return "jpeg2000";
    case IFF_WEBP:
        return "webp";
    case IFF_LPDF:
        return "pdf";
    case IFF_SPIX:
        return "spix";
    default:
        return "unknown";
    }
}

/* Upper-case name for "cannot decode X image" messages. */
static const char *format_label(l_int32 fmt)
{
    if (L_FORMAT_IS_TIFF(fmt))
        return "TIFF";
    switch (fmt) {
    case IFF_JFIF_JPEG:
        return "JPEG";
    case IFF_PNG:
        return "PNG";
    case IFF_WEBP:
        return "WebP";
    default:
        return "image";
    }
}

static int format_supported(l_int32 fmt)
{
    return fmt == IFF_JFIF_JPEG || fmt == IFF_PNG || fmt == IFF_WEBP || L_FORMAT_IS_TIFF(fmt);
}

/*
 * Walks the JPEG marker structure from SOI to the first EOI, skipping segment
 * payloads by their length and entropy-coded data up to the next real marker
 * (0xFF followed by neither 0x00 stuffing nor RSTn).  Returns 1 when an EOI
 * is reached inside the buffer, 0 when the data ends first or a segment
 * length runs past the end (truncated upload).  Anything after the EOI
 * (phone trailers, motion-photo video) is ignored, as are EXIF thumbnails,
 * which live inside an APP1 payload.
 */
static int jpeg_is_complete(const uint8_t *b, size_t n)
{
    size_t i = 2; /* after SOI, already checked by the format probe */

    while (i < n) {
        if (b[i] != 0xFF) {
            i++; /* entropy-coded data */
            continue;
        }
        while (i < n && b[i] == 0xFF)
            i++; /* fill bytes */
        if (i >= n)
            return 0;
        uint8_t m = b[i++];
        if (m == 0x00 || (m >= 0xD0 && m <= 0xD7) || m == 0x01)
            continue; /* stuffed byte, restart marker, TEM: no length */
        if (m == 0xD9)
            return 1;
        if (i + 2 > n)
            return 0;
        size_t seglen = ((size_t)b[i] << 8) | b[i + 1];
        if (seglen < 2 || i + seglen > n)
            return 0;
        i += seglen;
    }
    return 0;
}

/*
 * Walks the PNG chunk list from the signature to IEND.  Returns 1 when every
 * chunk (4-byte length, type, data, CRC) lies inside the buffer, 0 when a
 * declared length runs past the end or over 2^31 - 1 (the PNG limit).
 * libpng allocates a chunk's declared length before reading it, so a
 * 400-byte file declaring a 600 MB text chunk would cost 600 MB of memory;
 * checked here, no chunk can make libpng allocate more than the file's size.
 * Bytes after IEND are ignored, as libpng does.
 */
static int png_chunks_fit(const uint8_t *b, size_t n)
{
    size_t i = 8; /* after the signature, already checked by the format probe */

    while (n - i >= 12) {
        uint32_t clen =
            (uint32_t)b[i] << 24 | (uint32_t)b[i + 1] << 16 | (uint32_t)b[i + 2] << 8 | b[i + 3];
        if (clen > 0x7fffffffu || clen > n - i - 12)
            return 0;
        if (memcmp(b + i + 4, "IEND", 4) == 0)
            return 1;
        i += 12 + (size_t)clen;
    }
    return 0;
}

/*
 * Copies an 8 bpp grey PIX into linear bytes.  Leptonica keeps pixels in
 * 32-bit words in host order, so on little-endian machines the bytes of a
 * word are swapped: GET_DATA_BYTE hides that; memcpy would not.
 */
static void copy_gray(PIX *pix, uint8_t *dst, uint32_t w, uint32_t h)
{
    l_uint32 *data = pixGetData(pix);
    l_int32 wpl = pixGetWpl(pix);

    for (uint32_t y = 0; y < h; y++) {
        l_uint32 *line = data + (size_t)y * (size_t)wpl;
        uint8_t *row = dst + (size_t)y * w;
        for (uint32_t x = 0; x < w; x++)
            row[x] = (uint8_t)GET_DATA_BYTE(line, x);
    }
}

/* Copies a 32 bpp RGB PIX (alpha already removed) into R,G,B,A bytes. */
static void copy_rgba(PIX *pix, uint8_t *dst, uint32_t w, uint32_t h)
{
    l_uint32 *data = pixGetData(pix);
    l_int32 wpl = pixGetWpl(pix);

    for (uint32_t y = 0; y < h; y++) {
        l_uint32 *line = data + (size_t)y * (size_t)wpl;
        uint8_t *row = dst + (size_t)y * w * 4;
        for (uint32_t x = 0; x < w; x++) {
            l_uint32 v = line[x];
            row[4 * x + 0] = (uint8_t)(v >> L_RED_SHIFT);
            row[4 * x + 1] = (uint8_t)(v >> L_GREEN_SHIFT);
            row[4 * x + 2] = (uint8_t)(v >> L_BLUE_SHIFT);
            row[4 * x + 3] = 255;
        }
    }
}

/*
 * Normalises a decoded PIX to either 8 bpp grey or 32 bpp RGB without
 * alpha.  Returns a new PIX (caller destroys) or NULL; *is_colour tells which.
 * A colour map with colour becomes RGB; any other colour map, and 1/2/4/16
 * bpp, become grey.  Transparent pixels are blended onto white: scans and
 * screenshots with alpha put text on a transparent background, and OCR wants
 * dark on light.
 */
static PIX *normalise_pix(PIX *pix, int *is_colour)
{
    PIXCMAP *cmap = pixGetColormap(pix);
    l_int32 d = pixGetDepth(pix);

    if (cmap != NULL) {
        l_int32 has_colour = 0;
        pixcmapHasColor(cmap, &has_colour);
        if (has_colour) {
            PIX *rgb = pixRemoveColormap(pix, REMOVE_CMAP_TO_FULL_COLOR);
            PIX *out = NULL;
            if (rgb != NULL && pixGetDepth(rgb) == 32)
                out = pixRemoveAlpha(rgb);
            pixDestroy(&rgb);
            *is_colour = 1;
            return out;
        }
        *is_colour = 0;
        return pixConvertTo8(pix, 0);
    }
    if (d == 32 || d == 24) {
        PIX *rgb = d == 24 ? pixConvertTo32(pix) : pixClone(pix);
        PIX *out = NULL;
        if (rgb != NULL)
            out = pixRemoveAlpha(rgb);
        pixDestroy(&rgb);
        *is_colour = 1;
        return out;
    }
    *is_colour = 0;
    if (d == 8)
        return pixClone(pix);
    return pixConvertTo8(pix, 0);
}

/* Body of decode_image(); runs with Leptonica's messages silenced. */
static int decode_quiet(const uint8_t *buf, size_t len, uint64_t max_pixels, struct pp_image *out,
                        int *ppi, char *err, size_t errlen)
{
    uint8_t magic[MAGIC_BYTES + 4] = {0};
    l_int32 fmt = IFF_UNKNOWN, hfmt = 0, w = 0, h = 0, bps = 0, spp = 0, iscmap = 0;
    PIX *pix = NULL, *norm = NULL;
    int is_colour = 0, rc;

    if (len == 0)
        return fail(FILOT_EFORMAT, err, errlen, "empty input (0 bytes)");
    memcpy(magic, buf, len < MAGIC_BYTES ? len : MAGIC_BYTES);
    if (findFileFormatBuffer(magic, &fmt) != 0 || fmt == IFF_UNKNOWN)
        return fail(FILOT_EFORMAT, err, errlen, "not an image (unrecognised bytes)");
    if (!format_supported(fmt))
        return fail(FILOT_EFORMAT, err, errlen, "unsupported image format (detected: %s)",
                    format_name(fmt));
    if (len < MAGIC_BYTES || pixReadHeaderMem(buf, len, &hfmt, &w, &h, &bps, &spp, &iscmap) != 0 ||
        w <= 0 || h <= 0)
        return fail(FILOT_EFORMAT, err, errlen,
                    "cannot read %s header (truncated or corrupt image)", format_label(fmt));

    uint64_t npix = (uint64_t)w * (uint64_t)h;
    if (max_pixels > 0 && npix > max_pixels)
        return fail(FILOT_ETOOBIG, err, errlen,
                    "image is %dx%d = %" PRIu64 " pixels, above OCR_MAX_PIXELS=%" PRIu64, w, h,
                    npix, max_pixels);
    if ((uint64_t)w > UINT32_MAX / 4 || npix > SIZE_MAX / 4)
        return fail(FILOT_ETOOBIG, err, errlen, "image is %dx%d, too large to address", w, h);
    if (fmt == IFF_JFIF_JPEG && !jpeg_is_complete(buf, len))
        return fail(FILOT_EFORMAT, err, errlen, "truncated JPEG (no end-of-image marker)");
    if (fmt == IFF_PNG && !png_chunks_fit(buf, len))
        return fail(FILOT_EFORMAT, err, errlen,
                    "truncated PNG (a chunk runs past the end of the file, or no IEND)");

    pix = pixReadMem(buf, len);
    if (pix == NULL)
        return fail(FILOT_EFORMAT, err, errlen, "cannot decode %s image (truncated or corrupt)",
                    format_label(fmt));
    if (pixGetWidth(pix) != w || pixGetHeight(pix) != h) {
        rc = fail(FILOT_EFORMAT, err, errlen, "%s image size %dx%d differs from its header %dx%d",
                  format_label(fmt), pixGetWidth(pix), pixGetHeight(pix), w, h);
        goto done;
    }
    norm = normalise_pix(pix, &is_colour);
    if (norm == NULL) {
        rc = fail(FILOT_EFORMAT, err, errlen, "cannot convert %s image (%d bpp)", format_label(fmt),
                  pixGetDepth(pix));
        goto done;
    }

    uint32_t bpp = is_colour ? PP_RGBA32 : PP_GRAY8;
    uint8_t *data = malloc((size_t)npix * bpp);
    if (data == NULL) {
        rc = fail(FILOT_ENOMEM, err, errlen, "out of memory decoding %dx%d image", w, h);
        goto done;
    }
    if (is_colour)
        copy_rgba(norm, data, (uint32_t)w, (uint32_t)h);
    else
        copy_gray(norm, data, (uint32_t)w, (uint32_t)h);
    out->data = data;
    out->width = (uint32_t)w;
    out->height = (uint32_t)h;
    out->stride = (uint32_t)w * bpp;
    out->format = bpp;
    if (ppi != NULL)
        *ppi = pixGetXRes(pix) > 0 ? pixGetXRes(pix) : 0;
    rc = 0;
done:
    pixDestroy(&norm);
    pixDestroy(&pix);
    return rc;
}

/*
 * Public entry: validates arguments, silences Leptonica's stderr messages
 * for the call (restoring the previous threshold), and decodes.
 */
int decode_image(const uint8_t *buf, size_t len, uint64_t max_pixels, struct pp_image *out,
                 int *ppi, char *err, size_t errlen)
{
    int old, rc;

    if (out == NULL || (buf == NULL && len > 0))
        return fail(FILOT_EINVAL, err, errlen, "no image buffer given");
    memset(out, 0, sizeof(*out));
    if (ppi != NULL)
        *ppi = 0;
    old = setMsgSeverity(L_SEVERITY_NONE);
    rc = decode_quiet(buf, len, max_pixels, out, ppi, err, errlen);
    setMsgSeverity(old);
    return rc;
}
