/*
 * number_reader.c - the NIK and NPWP number readers and their agreement
 * (see number_reader.h).
 */
#include "ocr-workers/reading/number_reader.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ocr-workers/reading/text_rules.h"

#define OCRA_TRUST 50 /* lowest OCR-A glyph correlation (x 100) of a trusted read */

/* Province codes in use (Dukcapil): the first two NIK digits. */
static const int PROVINCES[] = {11, 12, 13, 14, 15, 16, 17, 18, 19, 21, 31, 32, 33,
                                34, 35, 36, 51, 52, 53, 61, 62, 63, 64, 65, 71, 72,
                                73, 74, 75, 76, 81, 82, 91, 92, 93, 94, 95, 96, 97};

int extract_nik_check(const char *nik, const char *birth_date, const char *gender)
{
    int bits = 0;
    if (nik == NULL || strlen(nik) != 16 || strspn(nik, "0123456789") != 16)
        return 0;
    bits |= NIK_SHAPE;
    int prov = text_two_digits(nik);
    for (size_t i = 0; i < sizeof PROVINCES / sizeof PROVINCES[0]; i++)
        if (PROVINCES[i] == prov)
            bits |= NIK_PROVINCE;
    int dd = text_two_digits(nik + 6), mm = text_two_digits(nik + 8), day = dd > 40 ? dd - 40 : dd;
    if (day >= 1 && day <= 31 && mm >= 1 && mm <= 12)
        bits |= NIK_DATE;
    if ((bits & NIK_DATE) && birth_date && strlen(birth_date) == 10) {
        const char *b = birth_date;
        if (isdigit((unsigned char)b[0]) && text_two_digits(b) == day &&
            text_two_digits(b + 3) == mm && text_two_digits(b + 8) == text_two_digits(nik + 10))
            bits |= NIK_BIRTH;
    }
    if ((bits & NIK_DATE) && gender && (strcmp(gender, "PEREMPUAN") == 0) == (dd > 40))
        bits |= NIK_GENDER;
    return bits;
}

/* Luhn check of the 9th digit of a 15-digit NPWP over its first 8. */
static int npwp_luhn_ok(const char *d)
{
    int sum = 0;
    for (int i = 7, dbl = 1; i >= 0; i--, dbl = !dbl) {
        int v = d[i] - '0';
        if (dbl)
            v = v * 2 > 9 ? v * 2 - 9 : v * 2;
        sum += v;
    }
    return (10 - sum % 10) % 10 == d[8] - '0';
}

/*
 * The punctuated 15-digit form read group by group: digit runs split at
 * '.', '-', ',' or spaces must have the lengths 2 3 3 1 3 3, or 3 3 3 1 3 3
 * with a leading '1' (a colon read as a digit).  Writes the 15 digits.
 */
static int npwp_groups(const char *in, char *d)
{
    static const int shape[] = {2, 3, 3, 1, 3, 3};
    char buf[128], *save = NULL;
    int g = 0, n = 0;
    snprintf(buf, sizeof buf, "%s", in);
    for (char *tok = strtok_r(buf, ".-, ", &save); tok; tok = strtok_r(NULL, ".-, ", &save)) {
        char digits[32];
        int len = extract_repair_digits(tok, digits, sizeof digits);
        if (len <= 0)
            continue;
        const char *p = digits;
        if (g == 0 && len == 3 && digits[0] == '1')
            p++, len--;
        if (g >= 6 || len != shape[g])
            return -1;
        memcpy(d + n, p, (size_t)len);
        n += len;
        g++;
    }
    d[n] = '\0';
    return g == 6 ? 0 : -1;
}

int extract_npwp_number(const char *in, char *out, size_t cap)
{
    char d[40];
    int n = npwp_groups(in, d) == 0 ? 15 : extract_repair_digits(in, d, sizeof d);
    if (n == 17 && d[0] == '1') /* a colon read as "1" */
        memmove(d, d + 1, (size_t)n--);
    if (n == 15 && cap >= 21) {
        snprintf(out, cap, "%.2s.%.3s.%.3s.%.1s-%.3s.%.3s", d, d + 2, d + 5, d + 8, d + 9, d + 12);
        return 15;
    }
    if (n == 16 && cap >= 17) {
        memcpy(out, d, 17);
        return 16;
    }
    return -1;
}

/*
 * The NIK's digits: repaired, and with 17 the first dropped (a colon read
 * as a digit and joined to the number).
 */
static int nik_digits(const char *text, char *d, size_t cap)
{
    int n = extract_repair_digits(text, d, cap);
    if (n == 17) {
        memmove(d, d + 1, 17);
        n = 16;
    }
    return n;
}

/* Rank of a NIK candidate: structure, then agreement with the other fields. */
static int nik_rank(const char *nik, const char *birth, const char *gender)
{
    int b = extract_nik_check(nik, birth, gender);
    if (!(b & NIK_SHAPE))
        return 0;
    return 1 + !!(b & NIK_PROVINCE) + !!(b & NIK_DATE) + 2 * !!(b & NIK_BIRTH) + !!(b & NIK_GENDER);
}

/*
 * A second read of a value's box (see extract_reread_fn) into out (empty on
 * failure).  Returns the read's confidence, or -1 when there was none.
 */
static int reread_value(const struct value *v, extract_reread_fn reread, void *ctx,
                        enum extract_read how, const char *whitelist, char *out, size_t cap)
{
    int x0, y0, x1, y1, c = -1;
    char *t = NULL;
    out[0] = '\0';
    if (!reread || v->to <= v->from)
        return -1;
    layout_value_box(v, &x0, &y0, &x1, &y1);
    if (reread(ctx, how, x0, y0, x1, y1, whitelist, &t, &c) == 0 && t)
        snprintf(out, cap, "%s", t);
    else
        c = -1;
    free(t);
    return c;
}

/* A candidate reading of a number: text, confidence, validity, preference. */
struct cand {
    char s[40];
    int conf, valid, prio;
};

/*
 * Index of the best candidate: most valid, then most preferred; -1 when
 * none is valid at all.  conf becomes 95+ when another candidate agrees.
 */
static int pick(struct cand *c, size_t n)
{
    int best = -1;
    for (size_t i = 0; i < n; i++)
        if (c[i].valid > 0 && (best < 0 || c[i].valid > c[best].valid ||
                               (c[i].valid == c[best].valid && c[i].prio > c[best].prio)))
            best = (int)i;
    for (size_t i = 0; best >= 0 && i < n; i++)
        if ((int)i != best && c[i].valid > 0 && strcmp(c[i].s, c[best].s) == 0)
            c[best].conf = c[best].conf > 95 ? c[best].conf : 95;
    return best;
}

/*
 * The NIK: candidates are the layout value with digit repair and, when
 * reread is given, a digits-only PSM 7 pass and the OCR-A template reader
 * over the same box (the latter only when every glyph matched an OCR-A
 * digit well).  The one that agrees best with the province/date structure,
 * the birth date and the gender wins; ties go to OCR-A, then to the re-read.
 */
void number_put_nik(json_t *o, json_t *conf, const struct value *v, extract_reread_fn reread,
                    void *ctx)
{
    const json_t *jb = json_object_get(o, "birthDate"), *jg = json_object_get(o, "gender");
    const char *birth = json_string_value(jb), *gender = json_string_value(jg);
    struct cand c[3] = {{.conf = v->conf, .prio = 0}, {.prio = 1}, {.prio = 2}};
    char t[3][VALUE_LEN];
    snprintf(t[0], sizeof t[0], "%s", v->text);
    c[1].conf = reread_value(v, reread, ctx, EXTRACT_READ_LINE, "0123456789", t[1], sizeof t[1]);
    c[2].conf = reread_value(v, reread, ctx, EXTRACT_READ_OCRA, NULL, t[2], sizeof t[2]);
    for (size_t i = 0; i < 3; i++) {
        if (nik_digits(t[i], c[i].s, sizeof c[i].s) != 16 || (i == 2 && c[i].conf < OCRA_TRUST))
            c[i].s[0] = '\0';
        c[i].valid = nik_rank(c[i].s, birth, gender);
    }
    int best = pick(c, 3);
    if (best < 0)
        return;
    int cf = c[best].conf;
    if (!(extract_nik_check(c[best].s, NULL, NULL) & NIK_DATE))
        cf = cf < 30 ? cf : 30;
    layout_put(o, conf, "nik", c[best].s, cf);
}

/*
 * Validity of an NPWP number candidate s of form n (extract_npwp_number()):
 * 0 none, 1 well formed, 2 with its check (the 15-digit form's Luhn digit,
 * the 16-digit form's NIK province and date).
 */
static int npwp_valid(const char *s, int n)
{
    if (n == 15) {
        char d[16];
        extract_repair_digits(s, d, sizeof d);
        return 1 + npwp_luhn_ok(d);
    }
    int b = extract_nik_check(s, NULL, NULL);
    return n == 16 ? 1 + ((b & (NIK_PROVINCE | NIK_DATE)) == (NIK_PROVINCE | NIK_DATE)) : 0;
}

/*
 * The NPWP number: the layout value, the OCR-A template reader (when sure)
 * and, when neither passes its check, a PSM 7 pass restricted to digits and
 * the printed punctuation; the most valid wins, ties to OCR-A.  A value
 * with punctuation that reads as 16 digits is a damaged 15-digit form.
 */
void number_put_npwp(json_t *o, json_t *conf, const struct value *v, extract_reread_fn reread,
                     void *ctx)
{
    struct cand c[3] = {{.conf = v->conf, .prio = 1}, {.prio = 2}, {.prio = 0}};
    char t[VALUE_LEN];
    int n = extract_npwp_number(v->text, c[0].s, sizeof c[0].s);
    c[0].valid = n == 16 && strpbrk(v->text, ".-") ? 0 : npwp_valid(c[0].s, n);
    c[1].conf = reread_value(v, reread, ctx, EXTRACT_READ_OCRA, NULL, t, sizeof t);
    if (c[1].conf >= OCRA_TRUST)
        c[1].valid = npwp_valid(c[1].s, extract_npwp_number(t, c[1].s, sizeof c[1].s));
    if (c[0].valid < 2 && c[1].valid < 2) {
        c[2].conf = reread_value(v, reread, ctx, EXTRACT_READ_LINE, "0123456789.-", t, sizeof t);
        if (c[2].conf >= 0)
            c[2].valid = npwp_valid(c[2].s, extract_npwp_number(t, c[2].s, sizeof c[2].s));
    }
    int best = pick(c, 3);
    if (best >= 0)
        layout_put(o, conf, "npwpNumber", c[best].s, c[best].conf);
}
