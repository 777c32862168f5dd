/*
 * engine.h - one Tesseract engine per worker process, loaded once.
 *
 * OEM 1 (LSTM) and PSM 3 (auto) are set explicitly: the C API's default
 * PSM is 6, the original ran the CLI's 3.
 */
#ifndef FILOT_ENGINE_H
#define FILOT_ENGINE_H

#include <stddef.h>
#include <stdint.h>

struct ocr_engine;

/* Creates and initialises the engine for langs (e.g. "ind+eng"). */
int engine_open(const char *langs, struct ocr_engine **out);

/* One recognised word: UTF-8 text, confidence 0..100, box in image pixels. */
struct ocr_word {
    char *text;
    int conf;
    int x0, y0, x1, y1; /* [x0, x1) x [y0, y1) */
};

/* A recognised page: the full text plus its words in reading order. */
struct ocr_page {
    char *text;
    int mean_conf;
    struct ocr_word *words;
    size_t nwords;
};

/*
 * Recognises an 8-bit grey image (stride bytes per row; ppi may be 0 for
 * unknown): the full text, Tesseract's mean word confidence 0..100, and the
 * words with their boxes, all from one recognition pass.  On success the
 * page owns its strings; release with ocr_page_free().  On failure *page is
 * zeroed.
 */
int engine_recognize_page(struct ocr_engine *e, const uint8_t *gray, uint32_t width,
                          uint32_t height, uint32_t stride, int ppi, struct ocr_page *page);

/* Frees what a page holds (not the struct itself); a zeroed page is fine. */
void ocr_page_free(struct ocr_page *page);

/*
 * Re-reads the rectangle [x0, x1) x [y0, y1) of the image as one text line
 * (PSM 7), restricted to the characters of whitelist (NULL or "" for all).
 * The engine's PSM 3 and empty whitelist are restored afterwards.  On
 * success *text is malloc'd (caller frees) and *conf is the mean confidence.
 */
int engine_read_line(struct ocr_engine *e, const uint8_t *gray, uint32_t width, uint32_t height,
                     uint32_t stride, int x0, int y0, int x1, int y1, const char *whitelist,
                     char **text, int *conf);

void engine_close(struct ocr_engine *e);

#endif
