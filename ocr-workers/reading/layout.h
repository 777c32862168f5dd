/*
 * layout.h - label/value pairing from word boxes.
 *
 * Tesseract's PSM 3 often returns a card's label column and value column as
 * separate blocks, so "Label : value" never appears on one text line.  Here
 * the words are regrouped into rows by geometry, each row's leading words
 * are matched against the printed labels with an edit-distance tolerance
 * (OCR damage such as "Tampal/Tgi Lahir"), and the value is the words after
 * the label and its colon up to a wide gap.
 */
#ifndef FILOT_LAYOUT_H
#define FILOT_LAYOUT_H

#include <jansson.h>
#include <stddef.h>

#include "ocr-workers/reading/engine.h"

#define MAX_ROW_WORDS 48
#define MAX_ROWS      96
#define VALUE_LEN     256

struct row {
    int y0, y1; /* vertical span of the words so far */
    size_t n;
    const struct ocr_word *w[MAX_ROW_WORDS];
};

struct layout {
    size_t nrows;
    struct row rows[MAX_ROWS];
};

/* One printed label: output key, label text (letters only, upper case). */
struct label {
    const char *key;
    const char *letters;
};

/* A value: the words [from, to) of a row, their box and mean confidence. */
struct value {
    const struct row *row;
    size_t from, to;
    int conf;
    char text[VALUE_LEN];
};

/*
 * Groups the page's non-empty words into rows, top to bottom, left to right.
 * A row's span is its first word's (a union would let one tall or tilted
 * word chain rows together); words over 3x the median height (photo edges,
 * patterns read as text) are left out.
 */
void layout_build_rows(const struct ocr_page *page, struct layout *L);

/*
 * The value after the label words [0, k): separators skipped, a leading ':'
 * stripped, then words up to a gap wider than GAP_FACTOR row heights.
 */
void layout_take_value(const struct row *r, size_t k, struct value *v);

/*
 * Best label for a row's first 1..LABEL_WORDS words: the smallest edit
 * distance between their letters and a label's, within a quarter of the
 * label's length rounded up.  Returns the label index or -1; *k is the
 * number of label words.
 */
int layout_match_label(const struct row *r, const struct label *labels, size_t nlabels, size_t *k);

/* Box of a value's words, padded by half a row height. */
void layout_value_box(const struct value *v, int *x0, int *y0, int *x1, int *y1);

/* qsort order of ints. */
int layout_int_cmp(const void *a, const void *b);

/* Sets key to a string and its confidence; empty strings are skipped. */
void layout_put(json_t *o, json_t *conf, const char *key, const char *s, int c);

#endif
