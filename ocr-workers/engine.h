/*
 * engine.h - one Tesseract engine per worker process, loaded once.
 *
 * OEM 1 (LSTM) and PSM 3 (auto) are set explicitly: the C API's default
 * PSM is 6, the original ran the CLI's 3.
 */
#ifndef FILOT_ENGINE_H
#define FILOT_ENGINE_H

#include <stdint.h>

struct ocr_engine;

/* Creates and initialises the engine for langs (e.g. "ind+eng"). */
int engine_open(const char *langs, struct ocr_engine **out);

/*
 * Recognises an 8-bit grey image (stride bytes per row).  ppi may be 0
 * (unknown).  On success *text is malloc'd UTF-8 (caller frees) and
 * *mean_conf is Tesseract's mean word confidence 0..100.
 */
int engine_recognize(struct ocr_engine *e, const uint8_t *gray, uint32_t width, uint32_t height,
                     uint32_t stride, int ppi, char **text, int *mean_conf);

void engine_close(struct ocr_engine *e);

#endif
