/*
 * fields_npwp.c - the NPWP card's fields from its rows (see fields.h).
 *
 * The card prints "NPWP : <number>" with a label, but the taxpayer's name on
 * the line below it has none (then "NIK : ...", the address, the tax office).
 * A "Nama" label is still honoured where a layout prints one.
 */
#include "ocr-workers/reading/fields.h"

#include <ctype.h>
#include <string.h>

#include "ocr-workers/reading/layout.h"
#include "ocr-workers/reading/number_reader.h"
#include "ocr-workers/reading/text_rules.h"

static const struct label NPWP_LABELS[] = {
    {"npwpNumber", "NPWP"},
    {"name", "NAMA"},
    {"nikOnCard", "NIK"},
};
enum { L_NUMBER, L_NAME, L_NIK };

/* Rows below the number searched for the unlabelled name (noise rows between). */
#define NAME_ROWS_BELOW 2
/* Fewer letters than this: a speck row, not a name. */
#define NAME_MIN_LETTERS 3

/* First words that start an address, the tax office or the header, never a name. */
static const char *const NOT_NAME_STARTS[] = {
    "JL",   "JALAN", "KOTA", "KAB", "KABUPATEN",   "KPP",        "KANTOR",   "TANGGAL",
    "DESA", "KEL",   "KEC",  "RT",  "KEMENTERIAN", "DIREKTORAT", "REPUBLIK", NULL,
};

/* Counts letters and digits of s. */
static void count_chars(const char *s, int *letters, int *digits)
{
    *letters = *digits = 0;
    for (; *s; s++) {
        if (isalpha((unsigned char)*s))
            (*letters)++;
        else if (isdigit((unsigned char)*s))
            (*digits)++;
    }
}

/*
 * Whether a row could be the name: letters, hardly a digit (a NIK or a
 * house number is not a name), not an address / office / header line.
 * Returns 1 and the cleaned name in out, 0 when it is not a name, -1 for a
 * speck row that may be skipped.
 */
static int row_as_name(const struct row *r, struct value *v, char *out, size_t cap)
{
    layout_take_value(r, 0, v);
    int letters, digits;
    count_chars(v->text, &letters, &digits);
    if (letters < NAME_MIN_LETTERS)
        return digits == 0 ? -1 : 0;
    if (digits > 1)
        return 0;
    text_clean_name(v->text, out, cap);
    char first[32] = "";
    text_append_letters(r->w[v->from]->text, first, sizeof first);
    for (const char *const *p = NOT_NAME_STARTS; *p; p++)
        if (strcmp(first, *p) == 0)
            return 0;
    size_t k;
    if (layout_match_label(r, NPWP_LABELS, sizeof NPWP_LABELS / sizeof NPWP_LABELS[0], &k) >= 0)
        return 0;
    return out[0] != '\0';
}

/* The name on the rows just below the number row, when no "Nama" row gave one. */
static void name_below_number(json_t *o, json_t *conf, const struct layout *L, size_t number_row)
{
    for (size_t j = number_row + 1; j < L->nrows && j <= number_row + NAME_ROWS_BELOW; j++) {
        struct value v;
        char s[VALUE_LEN];
        int rc = row_as_name(&L->rows[j], &v, s, sizeof s);
        if (rc == 1)
            layout_put(o, conf, "name", s, v.conf);
        if (rc >= 0)
            return;
    }
}

/* NPWP: the labelled number (see number_put_npwp()) and the name. */
void fields_npwp(json_t *o, json_t *conf, const struct layout *L, extract_reread_fn reread,
                 void *ctx)
{
    const size_t nl = sizeof NPWP_LABELS / sizeof NPWP_LABELS[0];
    size_t number_row = L->nrows;
    for (size_t j = 0; j < L->nrows; j++) {
        size_t k = 0;
        int li = layout_match_label(&L->rows[j], NPWP_LABELS, nl, &k);
        if (li < 0 || json_object_get(o, NPWP_LABELS[li].key))
            continue;
        struct value v;
        char s[VALUE_LEN];
        layout_take_value(&L->rows[j], k, &v);
        if (v.to == v.from)
            continue;
        if (li == L_NAME) {
            text_clean_name(v.text, s, sizeof s);
            layout_put(o, conf, "name", s, v.conf);
        } else if (li == L_NUMBER) {
            number_put_npwp(o, conf, &v, reread, ctx);
            number_row = j;
        }
    }
    if (number_row < L->nrows && !json_object_get(o, "name"))
        name_below_number(o, conf, L, number_row);
}
