/*
 * extract.c - layout-aware KTP / NPWP field extraction (see extract.h).
 *
 * Steps: words -> rows (vertical overlap) -> label match on each row's first
 * words (edit distance on the letters) -> value words (after the label and
 * any ':' up to a wide horizontal gap) -> per-field cleaning.  Every
 * allocation is local to one call; the returned JSON object is the caller's.
 */
#include "ocr-workers/reading/extract.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/status.h"
#include "ocr-workers/reading/ocra.h"

#define MAX_ROW_WORDS 48
#define MAX_ROWS      96
#define VALUE_LEN     256
#define LABEL_WORDS   3
#define GAP_FACTOR    3  /* a value ends at a gap wider than this many row heights */
#define OCRA_TRUST    50 /* lowest OCR-A glyph correlation (x 100) of a trusted read */

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

static const struct label KTP_LABELS[] = {
    {"nik", "NIK"},
    {"name", "NAMA"},
    {"birth", "TEMPATTGLLAHIR"},
    {"gender", "JENISKELAMIN"},
    {"address", "ALAMAT"},
    {"rtRw", "RTRW"},
    {"village", "KELDESA"},
    {"district", "KECAMATAN"},
    {"religion", "AGAMA"},
    {"maritalStatus", "STATUSPERKAWINAN"},
    {"occupation", "PEKERJAAN"},
    {"nationality", "KEWARGANEGARAAN"},
    {"validUntil", "BERLAKUHINGGA"},
    {"bloodType", "GOLDARAH"},
};

static const struct label NPWP_LABELS[] = {
    {"npwpNumber", "NPWP"},
    {"name", "NAMA"},
    {"nikOnCard", "NIK"},
};

static const char *const GENDERS[] = {"LAKI-LAKI", "PEREMPUAN", NULL};
static const char *const RELIGIONS[] = {"ISLAM",  "KRISTEN",  "KATOLIK", "HINDU",
                                        "BUDDHA", "KONGHUCU", NULL};
static const char *const MARITAL[] = {"BELUM KAWIN", "KAWIN", "CERAI HIDUP", "CERAI MATI", NULL};
static const char *const NATIONALITY[] = {"WNI", "WNA", NULL};
static const char *const BLOOD[] = {"AB", "A", "B", "O", "-", NULL};
static const char *const OCCUPATIONS[] = {"BELUM/TIDAK BEKERJA",
                                          "MENGURUS RUMAH TANGGA",
                                          "PELAJAR/MAHASISWA",
                                          "PENSIUNAN",
                                          "PEGAWAI NEGERI SIPIL",
                                          "TENTARA NASIONAL INDONESIA",
                                          "KEPOLISIAN RI",
                                          "PEDAGANG",
                                          "PETANI/PEKEBUN",
                                          "NELAYAN/PERIKANAN",
                                          "KARYAWAN SWASTA",
                                          "KARYAWAN BUMN",
                                          "BURUH HARIAN LEPAS",
                                          "WIRASWASTA",
                                          "GURU",
                                          "DOSEN",
                                          "DOKTER",
                                          "SOPIR",
                                          NULL};

/* Province codes in use (Dukcapil): the first two NIK digits. */
static const int PROVINCES[] = {11, 12, 13, 14, 15, 16, 17, 18, 19, 21, 31, 32, 33,
                                34, 35, 36, 51, 52, 53, 61, 62, 63, 64, 65, 71, 72,
                                73, 74, 75, 76, 81, 82, 91, 92, 93, 94, 95, 96, 97};

int extract_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    int d[64], prev;
    if (la > 63 || lb > 63)
        return 64;
    for (size_t j = 0; j <= lb; j++)
        d[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        prev = d[0];
        d[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int cur = d[j];
            int sub = prev + (a[i - 1] != b[j - 1]);
            int best = d[j] + 1 < d[j - 1] + 1 ? d[j] + 1 : d[j - 1] + 1;
            d[j] = sub < best ? sub : best;
            prev = cur;
        }
    }
    return d[lb];
}

/* Digit for a character where only digits are legal; -1 if none, -2 to drop. */
static int repair_char(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    switch (c) {
    case 'O':
    case 'o':
    case 'D':
    case 'Q':
        return 0;
    case 'I':
    case 'l':
    case 'i':
    case '|':
    case '!':
    case 'L':
        return 1;
    case 'Z':
    case 'z':
        return 2;
    case 'S':
    case 's':
        return 5;
    case 'G':
    case 'b':
        return 6;
    case '?': /* OCR-A's 7, measured on the eval set */
        return 7;
    case 'B':
        return 8;
    case ' ':
    case '.':
    case '-':
    case ':':
    case ',':
        return -2;
    default:
        return -1;
    }
}

int extract_repair_digits(const char *in, char *out, size_t cap)
{
    size_t n = 0;
    if (cap == 0)
        return -1;
    for (const char *p = in; *p; p++) {
        int d = repair_char(*p);
        if (d == -2)
            continue;
        if (d < 0 || n + 1 >= cap) {
            out[0] = '\0';
            return -1;
        }
        out[n++] = (char)('0' + d);
    }
    out[n] = '\0';
    return (int)n;
}

/* Two digits at s as a number. */
static int two(const char *s)
{
    return (s[0] - '0') * 10 + (s[1] - '0');
}

int extract_nik_check(const char *nik, const char *birth_date, const char *gender)
{
    int bits = 0;
    if (nik == NULL || strlen(nik) != 16 || strspn(nik, "0123456789") != 16)
        return 0;
    bits |= NIK_SHAPE;
    int prov = two(nik);
    for (size_t i = 0; i < sizeof PROVINCES / sizeof PROVINCES[0]; i++)
        if (PROVINCES[i] == prov)
            bits |= NIK_PROVINCE;
    int dd = two(nik + 6), mm = two(nik + 8), day = dd > 40 ? dd - 40 : dd;
    if (day >= 1 && day <= 31 && mm >= 1 && mm <= 12)
        bits |= NIK_DATE;
    if ((bits & NIK_DATE) && birth_date && strlen(birth_date) == 10) {
        const char *b = birth_date;
        if (isdigit((unsigned char)b[0]) && two(b) == day && two(b + 3) == mm &&
            two(b + 8) == two(nik + 10))
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

/* Upper-case letters of s appended to out (capacity cap). */
static void append_letters(const char *s, char *out, size_t cap)
{
    size_t n = strlen(out);
    for (; *s && n + 1 < cap; s++)
        if (isalpha((unsigned char)*s))
            out[n++] = (char)toupper((unsigned char)*s);
    out[n] = '\0';
}

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
static int int_cmp(const void *a, const void *b)
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
    qsort(h, n, sizeof *h, int_cmp);
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
static void build_rows(const struct ocr_page *page, struct layout *L)
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
    append_letters(a->text, l, sizeof l);
    append_letters(b->text, l, sizeof l);
    return extract_edit_distance(l, "GOLDARAH") <= 2;
}

/* A value: the words [from, to) of a row, their box and mean confidence. */
struct value {
    const struct row *row;
    size_t from, to;
    int conf;
    char text[VALUE_LEN];
};

/*
 * The value after the label words [0, k): separators skipped, a leading ':'
 * stripped, then words up to a gap wider than GAP_FACTOR row heights.
 */
static void take_value(const struct row *r, size_t k, struct value *v)
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
static int match_label(const struct row *r, const struct label *labels, size_t nlabels, size_t *k)
{
    int best = -1, best_d = 99;
    char letters[64] = "";
    for (size_t n = 1; n <= LABEL_WORDS && n <= r->n; n++) {
        append_letters(r->w[n - 1]->text, letters, sizeof letters);
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

/* Snaps text to the closest entry of vocab (letters compared); NULL if far. */
static const char *snap(const char *text, const char *const *vocab)
{
    char t[64] = "";
    append_letters(text, t, sizeof t);
    const char *best = NULL;
    int best_d = 99;
    for (size_t i = 0; vocab[i]; i++) {
        char v[64] = "";
        append_letters(vocab[i], v, sizeof v);
        int len = (int)strlen(v) > 0 ? (int)strlen(v) : 1;
        int d = v[0] ? extract_edit_distance(t, v) : (strcmp(text, vocab[i]) == 0 ? 0 : 99);
        if (d <= len / 3 && d < best_d) {
            best = vocab[i];
            best_d = d;
        }
    }
    return best;
}

/*
 * Upper-case words of letters: digits that look like letters are mapped
 * back (0 -> O, 1 -> I, 5 -> S, 8 -> B), other characters dropped, spaces
 * collapsed.  keep lists extra characters to keep (e.g. "./,").
 */
static void clean_words(const char *in, const char *keep, int map_digits, char *out, size_t cap)
{
    size_t n = 0;
    for (const char *p = in; *p && n + 1 < cap; p++) {
        char c = (char)toupper((unsigned char)*p);
        if (map_digits && strchr("0158", c))
            c = c == '0' ? 'O' : c == '1' ? 'I' : c == '5' ? 'S' : 'B';
        if (c == ' ' || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            (c && strchr(keep, c))) {
            if (c == ' ' && (n == 0 || out[n - 1] == ' '))
                continue;
            out[n++] = c;
        }
    }
    while (n > 0 && strchr(" ,", out[n - 1]))
        n--;
    out[n] = '\0';
}

/*
 * KTP addresses abbreviate "JALAN" and "NOMOR" as "JL." and "NO."; the dot
 * is small and often lost or read as ',': restores it after a word "JL" or
 * "NO" followed by a space.
 */
static void fix_abbrev(char *s, size_t cap)
{
    static const char *const ABBR[] = {"JL", "NO", "GG", "BLOK"};
    for (size_t i = 0; i < sizeof ABBR / sizeof ABBR[0]; i++) {
        size_t n = strlen(ABBR[i]);
        for (char *p = strstr(s, ABBR[i]); p; p = strstr(p + n, ABBR[i])) {
            int word_start = p == s || p[-1] == ' ';
            if (!word_start || (p[n] != ' ' && p[n] != ','))
                continue;
            if (p[n] == ',') {
                p[n] = '.';
            } else if (strlen(s) + 2 <= cap && strcmp(ABBR[i], "BLOK") != 0) {
                memmove(p + n + 1, p + n, strlen(p + n) + 1);
                p[n] = '.';
            }
        }
    }
}

/*
 * Street-address damage seen on photos, before fix_abbrev(): a lone
 * character before the street word (a misread colon: "2 JL. X"), the "JL"
 * itself misread ("IL", "JI", "JK", "J1"), its dot read as '-' or ',' and
 * joined to the street ("JL-ANGGREK"), the space before "NO" read as a dot
 * ("PEMUDA.NO. 5"), and a stray dot after the house number.
 */
static void fix_address(char *s, size_t cap)
{
    size_t len = strlen(s);
    if (len > 2 && s[1] == ' ' && s[2] == 'J') /* "2 JL. ..." */
        memmove(s, s + 2, (len -= 2) + 1);
    size_t w = strcspn(s, " .,-");
    char first[3] = {s[0], w > 1 ? s[1] : '\0', '\0'};
    if (w == 2 && strchr("JI1", first[0]) && extract_edit_distance(first, "JL") <= 1 &&
        strchr("LIK1", first[1])) {
        s[0] = 'J';
        s[1] = 'L';
    }
    if (strncmp(s, "JL", 2) == 0 && (s[2] == '-' || s[2] == ',')) {
        s[2] = '.';
        if (isalpha((unsigned char)s[3]) && len + 2 <= cap) {
            memmove(s + 4, s + 3, len - 2);
            s[3] = ' ';
            len++;
        }
    }
    for (char *p = strstr(s, ".NO"); p; p = strstr(p + 1, ".NO"))
        if (p > s && isalpha((unsigned char)p[-1]) && (p[3] == '.' || p[3] == ' '))
            *p = ' ';
    if (len > 1 && s[len - 1] == '.' && isdigit((unsigned char)s[len - 2]))
        s[len - 1] = '\0';
}

/* A date DD-MM-YYYY from OCR text with digit repair; 0 or -1. */
static int clean_date(const char *in, char *out, size_t cap)
{
    char d[32];
    int n = extract_repair_digits(in, d, sizeof d);
    if (n == 9) /* "1-28-02-2030": a colon read as a digit */
        memmove(d, d + 1, (size_t)n--);
    if (n != 8 || cap < 11)
        return -1;
    snprintf(out, cap, "%.2s-%.2s-%.4s", d, d + 2, d + 4);
    return two(d) >= 1 && two(d) <= 31 && two(d + 2) >= 1 && two(d + 2) <= 12 ? 0 : -1;
}

/* Sets key to a string and its confidence; empty strings are skipped. */
static void put(json_t *o, json_t *conf, const char *key, const char *s, int c)
{
    if (s == NULL || s[0] == '\0')
        return;
    json_object_set_new(o, key, json_string(s));
    json_object_set_new(conf, key, json_integer(c < 0 ? 0 : c > 100 ? 100 : c));
}

/* Puts the vocabulary entry closest to v's text, if any. */
static void put_snapped(json_t *o, json_t *conf, const char *key, const struct value *v,
                        const char *const *vocab)
{
    const char *s = snap(v->text, vocab);
    put(o, conf, key, s, v->conf);
}

/* Place and date from "PLACE, DD-MM-YYYY" (the comma may be lost). */
static void put_birth(json_t *o, json_t *conf, const struct value *v)
{
    const char *comma = strrchr(v->text, ',');
    char place[VALUE_LEN], date[16];
    const char *tail = comma;
    if (!tail) { /* no comma: the last word is the date */
        tail = strrchr(v->text, ' ');
    }
    if (!tail)
        return;
    snprintf(place, sizeof place, "%.*s", (int)(tail - v->text), v->text);
    char cleaned[VALUE_LEN];
    clean_words(place, "", 1, cleaned, sizeof cleaned);
    put(o, conf, "birthPlace", cleaned, v->conf);
    if (clean_date(tail + 1, date, sizeof date) == 0)
        put(o, conf, "birthDate", date, v->conf);
}

/* Two 3-digit groups "NNN/NNN" (RT/RW), the slash read or not. */
static void put_rt_rw(json_t *o, json_t *conf, const struct value *v)
{
    char a[16], b[16], left[VALUE_LEN], s[40];
    const char *slash = strchr(v->text, '/');
    if (slash) {
        snprintf(left, sizeof left, "%.*s", (int)(slash - v->text), v->text);
        if (extract_repair_digits(left, a, sizeof a) != 3 ||
            extract_repair_digits(slash + 1, b, sizeof b) != 3)
            return;
        snprintf(s, sizeof s, "%s/%s", a, b);
    } else {
        char d[32];
        if (extract_repair_digits(v->text, d, sizeof d) != 6)
            return;
        snprintf(s, sizeof s, "%.3s/%.3s", d, d + 3);
    }
    put(o, conf, "rtRw", s, v->conf);
}

/* Box of a value's words, padded by half a row height. */
static void value_box(const struct value *v, int *x0, int *y0, int *x1, int *y1)
{
    int pad = (v->row->y1 - v->row->y0) / 2 + 2;
    *x0 = v->row->w[v->from]->x0 - pad;
    *x1 = v->row->w[v->to - 1]->x1 + pad;
    *y0 = v->row->y0 - pad;
    *y1 = v->row->y1 + pad;
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
    value_box(v, &x0, &y0, &x1, &y1);
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
static void put_nik(json_t *o, json_t *conf, const struct value *v, extract_reread_fn reread,
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
    put(o, conf, "nik", c[best].s, cf);
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
static void put_npwp(json_t *o, json_t *conf, const struct value *v, extract_reread_fn reread,
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
        put(o, conf, "npwpNumber", c[best].s, c[best].conf);
}

/* KTP header: "PROVINSI X" and the city row under it. */
static void put_header(json_t *o, json_t *conf, const struct layout *L)
{
    for (size_t j = 0; j + 1 < L->nrows; j++) {
        const struct row *r = &L->rows[j];
        char first[64] = "";
        append_letters(r->w[0]->text, first, sizeof first);
        if (r->n < 2 || extract_edit_distance(first, "PROVINSI") > 2)
            continue;
        struct value v;
        char s[VALUE_LEN];
        take_value(r, 1, &v);
        clean_words(v.text, "", 1, s, sizeof s);
        put(o, conf, "province", s, v.conf);
        take_value(&L->rows[j + 1], 0, &v);
        clean_words(v.text, "", 1, s, sizeof s);
        put(o, conf, "city", s, v.conf);
        return;
    }
}

/* Applies one labelled KTP value to the result. */
static void put_ktp_field(json_t *o, json_t *conf, const char *key, const struct value *v)
{
    char s[VALUE_LEN], d[16];
    if (strcmp(key, "name") == 0 || strcmp(key, "village") == 0 || strcmp(key, "district") == 0) {
        clean_words(v->text, "'.-", 1, s, sizeof s);
        put(o, conf, key, s, v->conf);
    } else if (strcmp(key, "birth") == 0) {
        put_birth(o, conf, v);
    } else if (strcmp(key, "gender") == 0) {
        char first[VALUE_LEN];
        snprintf(first, sizeof first, "%s", v->text);
        first[strcspn(first, " ")] = '\0'; /* "LAKI-LAKI Gol. Darah" */
        const char *g = snap(first, GENDERS);
        put(o, conf, key, g ? g : snap(v->text, GENDERS), v->conf);
    } else if (strcmp(key, "address") == 0) {
        clean_words(v->text, ".,/-", 0, s, sizeof s);
        fix_address(s, sizeof s);
        fix_abbrev(s, sizeof s);
        put(o, conf, key, s, v->conf);
    } else if (strcmp(key, "rtRw") == 0) {
        put_rt_rw(o, conf, v);
    } else if (strcmp(key, "religion") == 0) {
        put_snapped(o, conf, key, v, RELIGIONS);
    } else if (strcmp(key, "maritalStatus") == 0) {
        put_snapped(o, conf, key, v, MARITAL);
    } else if (strcmp(key, "nationality") == 0) {
        put_snapped(o, conf, key, v, NATIONALITY);
    } else if (strcmp(key, "bloodType") == 0) {
        clean_words(v->text, "-", 1, s, sizeof s);
        for (size_t i = 0; BLOOD[i]; i++)
            if (strcmp(s, BLOOD[i]) == 0)
                put(o, conf, key, BLOOD[i], v->conf);
    } else if (strcmp(key, "occupation") == 0) {
        const char *j = snap(v->text, OCCUPATIONS);
        clean_words(v->text, "/.-", 1, s, sizeof s);
        put(o, conf, key, j ? j : s, v->conf);
    } else if (strcmp(key, "validUntil") == 0) {
        static const char *const LIFE[] = {"SEUMUR HIDUP", NULL};
        if (snap(v->text, LIFE))
            put(o, conf, key, LIFE[0], v->conf);
        else if (clean_date(v->text, d, sizeof d) == 0)
            put(o, conf, key, d, v->conf);
    }
}

/*
 * "Gol. Darah : X" usually sits right of the gender value on its row: finds
 * the words "Gol" "Darah" anywhere in a row and reads the word after them.
 */
static void find_blood(json_t *o, json_t *conf, const struct layout *L)
{
    for (size_t j = 0; j < L->nrows; j++) {
        const struct row *r = &L->rows[j];
        for (size_t i = 0; i + 1 < r->n; i++) {
            char l[64] = "";
            append_letters(r->w[i]->text, l, sizeof l);
            append_letters(r->w[i + 1]->text, l, sizeof l);
            if (extract_edit_distance(l, "GOLDARAH") > 2)
                continue;
            struct row tail = *r;
            /* NOLINTNEXTLINE(bugprone-sizeof-expression): rows hold word pointers */
            memmove(tail.w, r->w + i, (r->n - i) * sizeof r->w[0]);
            tail.n = r->n - i;
            struct value v;
            take_value(&tail, 2, &v);
            put_ktp_field(o, conf, "bloodType", &v);
            return;
        }
    }
}

/* Value column of a card: left edge (median value start) and right edge. */
struct column {
    int x[MAX_ROWS];
    size_t n;
    int x1;
};

/*
 * A labelled row whose value Tesseract's layout analysis dropped (the
 * label column was read, the value line was not): the value column's part
 * of that row is read again as one line (PSM 7) and applied as usual.
 */
static void reread_missing(json_t *o, json_t *conf, const struct row *r, const char *key,
                           struct column *col, extract_reread_fn reread, void *ctx)
{
    if (!reread || col->n < 3)
        return;
    qsort(col->x, col->n, sizeof col->x[0], int_cmp);
    int h = r->y1 - r->y0, c = 0;
    char *t = NULL;
    if (reread(ctx, EXTRACT_READ_LINE, col->x[col->n / 2] - h, r->y0 - h / 2, col->x1 + h,
               r->y1 + h / 2, NULL, &t, &c) == 0 &&
        t) {
        struct value v = {.row = r, .conf = c};
        const char *p = t + strspn(t, ":;|.,' ");
        if (p[0] && p[1] == ' ' && strchr("1Il|i!>2", p[0]))
            p += 2; /* a misread colon */
        snprintf(v.text, sizeof v.text, "%.*s", (int)strcspn(p, "\n"), p);
        put_ktp_field(o, conf, key, &v);
    }
    free(t);
}

/*
 * KTP: labelled rows, header, blood type, rows whose value was dropped,
 * then the NIK (needs birth/gender).
 */
static void extract_ktp(json_t *o, json_t *conf, const struct layout *L, extract_reread_fn reread,
                        void *ctx)
{
    struct value nik = {0};
    struct column col = {.n = 0, .x1 = 0};
    const struct row *missing[8];
    int missing_li[8];
    size_t nmissing = 0;
    int have_nik = 0;
    const size_t nl = sizeof KTP_LABELS / sizeof KTP_LABELS[0];
    for (size_t j = 0; j < L->nrows; j++) {
        size_t k = 0;
        int li = match_label(&L->rows[j], KTP_LABELS, nl, &k);
        if (li < 0)
            continue;
        struct value v;
        take_value(&L->rows[j], k, &v);
        if (v.to == v.from) {
            if (li > 0 && nmissing < 8) {
                missing[nmissing] = &L->rows[j];
                missing_li[nmissing++] = li;
            }
            continue;
        }
        col.x[col.n++] = v.row->w[v.from]->x0;
        col.x1 = v.row->w[v.to - 1]->x1 > col.x1 ? v.row->w[v.to - 1]->x1 : col.x1;
        if (li == 0) {
            if (!have_nik) {
                nik = v;
                have_nik = 1;
            }
            continue;
        }
        if (!json_object_get(o, KTP_LABELS[li].key) &&
            !(li == 2 && json_object_get(o, "birthPlace")))
            put_ktp_field(o, conf, KTP_LABELS[li].key, &v);
    }
    put_header(o, conf, L);
    if (!json_object_get(o, "bloodType"))
        find_blood(o, conf, L);
    for (size_t i = 0; i < nmissing; i++)
        if (!json_object_get(o, KTP_LABELS[missing_li[i]].key) &&
            !(missing_li[i] == 2 && json_object_get(o, "birthPlace")))
            reread_missing(o, conf, missing[i], KTP_LABELS[missing_li[i]].key, &col, reread, ctx);
    if (have_nik)
        put_nik(o, conf, &nik, reread, ctx);
}

/* NPWP: the labelled number (see put_npwp()) and name. */
static void extract_npwp(json_t *o, json_t *conf, const struct layout *L, extract_reread_fn reread,
                         void *ctx)
{
    const size_t nl = sizeof NPWP_LABELS / sizeof NPWP_LABELS[0];
    for (size_t j = 0; j < L->nrows; j++) {
        size_t k = 0;
        int li = match_label(&L->rows[j], NPWP_LABELS, nl, &k);
        if (li < 0 || json_object_get(o, NPWP_LABELS[li].key))
            continue;
        struct value v;
        char s[VALUE_LEN];
        take_value(&L->rows[j], k, &v);
        if (v.to == v.from)
            continue;
        if (li == 1) {
            clean_words(v.text, "'.-", 1, s, sizeof s);
            put(o, conf, "name", s, v.conf);
        } else if (li == 0) {
            put_npwp(o, conf, &v, reread, ctx);
        }
    }
}

/* Fills compat keys the layout pass missed from doc_parse() on the text. */
static void compat_fallback(json_t *o, json_t *conf, enum doc_type t, const char *text)
{
    json_t *p = doc_parse(t, text ? text : "");
    const char *key;
    json_t *val;
    json_object_foreach(p, key, val)
    {
        if (!json_object_get(o, key)) {
            json_object_set(o, key, val);
            json_object_set_new(conf, key, json_integer(0));
        }
    }
    json_decref(p);
}

json_t *extract_fields(enum doc_type t, const struct ocr_page *page, extract_reread_fn reread,
                       void *ctx)
{
    json_t *o = json_object(), *conf = json_object();
    struct layout *L = malloc(sizeof *L);
    if (!o || !conf || !L || !page) {
        json_decref(o);
        json_decref(conf);
        free(L);
        return NULL;
    }
    build_rows(page, L);
    if (t == DOC_KTP)
        extract_ktp(o, conf, L, reread, ctx);
    else if (t == DOC_NPWP)
        extract_npwp(o, conf, L, reread, ctx);
    free(L);
    if (t != DOC_NONE)
        compat_fallback(o, conf, t, page->text);
    json_object_set_new(o, "fieldConfidence", conf);
    return o;
}

struct reread_ctx {
    struct ocr_engine *e;
    const uint8_t *gray;
    uint32_t w, h;
};

/* extract_reread_fn over engine_read_line() and ocra_read_digits(). */
static int engine_reread(void *ctx, enum extract_read how, int x0, int y0, int x1, int y1,
                         const char *whitelist, char **text, int *conf)
{
    struct reread_ctx *c = ctx;
    if (how == EXTRACT_READ_LINE)
        return engine_read_line(c->e, c->gray, c->w, c->h, c->w, x0, y0, x1, y1, whitelist, text,
                                conf);
    char d[64];
    int n = ocra_read_digits(c->gray, c->w, c->h, c->w, x0, y0, x1, y1, d, sizeof d, conf);
    if (n < 0)
        return n;
    *text = strdup(d);
    return *text ? 0 : FILOT_ENOMEM;
}

json_t *extract_document(struct ocr_engine *e, enum doc_type t, const uint8_t *gray, uint32_t width,
                         uint32_t height, const struct ocr_page *page)
{
    struct reread_ctx c = {e, gray, width, height};
    return extract_fields(t, page, e && gray ? engine_reread : NULL, &c);
}

int extract_score(enum doc_type t, const json_t *parsed)
{
    static const char *const KTP_KEYS[] = {"nik",     "name",   "birthPlace", "birthDate",
                                           "address", "gender", "religion",   "maritalStatus"};
    static const char *const NPWP_KEYS[] = {"npwpNumber", "name"};
    const char *const *keys = t == DOC_KTP ? KTP_KEYS : NPWP_KEYS;
    size_t n = t == DOC_KTP ? 8 : 2;
    json_t *compat = json_object();
    if (!compat)
        return 0;
    for (size_t i = 0; i < n && parsed; i++) {
        json_t *v = json_object_get(parsed, keys[i]);
        if (v)
            json_object_set(compat, keys[i], v);
    }
    int s = doc_score(t, compat);
    json_decref(compat);
    return s;
}
