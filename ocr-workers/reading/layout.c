/*
 * layout.c - label/value pairing from word boxes (see layout.h).
 *
 * Steps: words -> rows (vertical overlap) -> label match on each row's first
 * words (edit distance on the letters) -> value words (after the label and
 * any ':' up to a wide horizontal gap).
 */
#include "ocr-workers/reading/layout.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ocr-workers/reading/text_rules.h"

#define LABEL_WORDS 3
#define GAP_FACTOR  3 /* a value ends at a gap wider than this many row heights */

/* Vertical overlap of a word with a row, relative to the smaller height. */
static int joins_row(const struct row *r, const struct ocr_word *w)
{
    int top = r->y0 > w->y0 ? r->y0 : w->y0, bot = r->y1 < w->y1 ? r->y1 : w->y1;
    int hr = r->y1 - r->y0, hw = w->y1 - w->y0, h = hr < hw ? hr : hw;
    return h > 0 && (bot - top) * 2 >= h;
}

/* qsort order: by left edge. */
static int by_x(const void *a, const void *b)
{
    const struct ocr_word *wa = *(const struct ocr_word *const *)a;
    const struct ocr_word *wb = *(const struct ocr_word *const *)b;
    return (wa->x0 > wb->x0) - (wa->x0 < wb->x0);
}

/* qsort order: by top edge. */
static int by_y(const void *a, const void *b)
{
    const struct row *ra = a, *rb = b;
    return (ra->y0 > rb->y0) - (ra->y0 < rb->y0);
}

/* qsort order of ints. */
int layout_int_cmp(const void *a, const void *b)
{
    return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b);
}

/* Median word height of the page (0 when it has no words). */
static int median_height(const struct ocr_page *page)
{
    int *h = malloc((page->nwords + 1) * sizeof *h), m;
    size_t n = 0;
    if (!h)
        return 0;
    for (size_t i = 0; i < page->nwords; i++)
        if (page->words[i].y1 > page->words[i].y0)
            h[n++] = page->words[i].y1 - page->words[i].y0;
    qsort(h, n, sizeof *h, layout_int_cmp);
    m = n ? h[n / 2] : 0;
    free(h);
    return m;
}

/*
 * Groups the page's non-empty words into rows, top to bottom, left to right.
 * A row's span is its first word's (a union would let one tall or tilted
 * word chain rows together); words over 3x the median height (photo edges,
 * patterns read as text) are left out.
 */
void layout_build_rows(const struct ocr_page *page, struct layout *L)
{
    int mh = median_height(page);
    L->nrows = 0;
    for (size_t i = 0; i < page->nwords; i++) {
        const struct ocr_word *w = &page->words[i];
        if (!w->text || !w->text[0] || w->y1 <= w->y0 || (mh && w->y1 - w->y0 > 3 * mh))
            continue;
        struct row *r = NULL;
        for (size_t j = 0; j < L->nrows && !r; j++)
            if (joins_row(&L->rows[j], w) && L->rows[j].n < MAX_ROW_WORDS)
                r = &L->rows[j];
        if (!r) {
            if (L->nrows == MAX_ROWS)
                continue;
            r = &L->rows[L->nrows++];
            r->n = 0;
            r->y0 = w->y0;
            r->y1 = w->y1;
        }
        r->w[r->n++] = w;
    }
    for (size_t j = 0; j < L->nrows; j++)
        /* NOLINTNEXTLINE(bugprone-sizeof-expression): rows hold word pointers */
        qsort(L->rows[j].w, L->rows[j].n, sizeof L->rows[j].w[0], by_x);
    qsort(L->rows, L->nrows, sizeof L->rows[0], by_y);
}

/* Whether a word is only separators (":", ";", "|", "."). */
static int is_separator(const char *s)
{
    return s[0] != '\0' && strspn(s, ":;|.,'") == strlen(s);
}

/* A lone character a colon is often read as ("1 JL. MAWAR", "| 3174..."). */
static int is_misread_colon(const char *s)
{
    return (s[0] != '\0' && s[1] == '\0' && strchr("1Il|i!>", s[0]) != NULL) ||
           strcmp(s, "\u00bb") == 0;
}

/* Whether two words read "Gol. Darah" (the blood type printed beside gender). */
static int starts_gol_darah(const struct ocr_word *a, const struct ocr_word *b)
{
    char l[64] = "";
    text_append_letters(a->text, l, sizeof l);
    text_append_letters(b->text, l, sizeof l);
    return extract_edit_distance(l, "GOLDARAH") <= 2;
}

/*
 * The value after the label words [0, k): separators skipped, a leading ':'
 * stripped, then words up to a gap wider than GAP_FACTOR row heights.
 */
void layout_take_value(const struct row *r, size_t k, struct value *v)
{
    int h = r->y1 - r->y0;
    size_t i = k;
    v->row = r;
    v->text[0] = '\0';
    v->conf = 0;
    while (i < r->n &&
           (is_separator(r->w[i]->text) || (i + 1 < r->n && is_misread_colon(r->w[i]->text))))
        i++;
    v->from = v->to = i;
    long conf = 0;
    for (; i < r->n; i++) {
        if (i > v->from && r->w[i]->x0 - r->w[i - 1]->x1 > GAP_FACTOR * h)
            break;
        if (i > v->from && i + 1 < r->n && starts_gol_darah(r->w[i], r->w[i + 1]))
            break;
        const char *t = r->w[i]->text;
        if (i == v->from)
            t += strspn(t, ":;|");
        size_t len = strlen(v->text);
        snprintf(v->text + len, sizeof v->text - len, "%s%s", len ? " " : "", t);
        conf += r->w[i]->conf;
        v->to = i + 1;
    }
    if (v->to > v->from)
        v->conf = (int)(conf / (long)(v->to - v->from));
}

/*
 * Best label for a row's first 1..LABEL_WORDS words: the smallest edit
 * distance between their letters and a label's, within a quarter of the
 * label's length rounded up.  Returns the label
 * index or -1; *k is the number of label words.
 */
int layout_match_label(const struct row *r, const struct label *labels, size_t nlabels, size_t *k)
{
    int best = -1, best_d = 99;
    char letters[64] = "";
    for (size_t n = 1; n <= LABEL_WORDS && n <= r->n; n++) {
        text_append_letters(r->w[n - 1]->text, letters, sizeof letters);
        for (size_t i = 0; i < nlabels; i++) {
            int len = (int)strlen(labels[i].letters);
            int allow = (len + 3) / 4;
            int d = extract_edit_distance(letters, labels[i].letters);
            if (d <= allow && d < best_d) {
                best = (int)i;
                best_d = d;
                *k = n;
            }
        }
    }
    return best;
}

/* Box of a value's words, padded by half a row height. */
void layout_value_box(const struct value *v, int *x0, int *y0, int *x1, int *y1)
{
    int pad = (v->row->y1 - v->row->y0) / 2 + 2;
    *x0 = v->row->w[v->from]->x0 - pad;
    *x1 = v->row->w[v->to - 1]->x1 + pad;
    *y0 = v->row->y0 - pad;
    *y1 = v->row->y1 + pad;
}

/* Sets key to a string and its confidence; empty strings are skipped. */
void layout_put(json_t *o, json_t *conf, const char *key, const char *s, int c)
{
    if (s == NULL || s[0] == '\0')
        return;
    json_object_set_new(o, key, json_string(s));
    json_object_set_new(conf, key, json_integer(c < 0 ? 0 : c > 100 ? 100 : c));
}
