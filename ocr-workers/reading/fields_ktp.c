/*
 * fields_ktp.c - the KTP's fields from its labelled rows (see fields.h):
 * per-field cleaning, closed vocabularies, header, blood type, dropped
 * value lines read again, then the NIK.
 */
#include "ocr-workers/reading/fields.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ocr-workers/reading/layout.h"
#include "ocr-workers/reading/number_reader.h"
#include "ocr-workers/reading/text_rules.h"

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

/* Puts the vocabulary entry closest to v's text, if any. */
static void put_snapped(json_t *o, json_t *conf, const char *key, const struct value *v,
                        const char *const *vocab)
{
    const char *s = text_snap(v->text, vocab);
    layout_put(o, conf, key, s, v->conf);
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
    text_clean_words(place, "", 1, cleaned, sizeof cleaned);
    layout_put(o, conf, "birthPlace", cleaned, v->conf);
    if (text_clean_date(tail + 1, date, sizeof date) == 0)
        layout_put(o, conf, "birthDate", date, v->conf);
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
    layout_put(o, conf, "rtRw", s, v->conf);
}

/* KTP header: "PROVINSI X" and the city row under it. */
static void put_header(json_t *o, json_t *conf, const struct layout *L)
{
    for (size_t j = 0; j + 1 < L->nrows; j++) {
        const struct row *r = &L->rows[j];
        char first[64] = "";
        text_append_letters(r->w[0]->text, first, sizeof first);
        if (r->n < 2 || extract_edit_distance(first, "PROVINSI") > 2)
            continue;
        struct value v;
        char s[VALUE_LEN];
        layout_take_value(r, 1, &v);
        text_clean_words(v.text, "", 1, s, sizeof s);
        layout_put(o, conf, "province", s, v.conf);
        layout_take_value(&L->rows[j + 1], 0, &v);
        text_clean_words(v.text, "", 1, s, sizeof s);
        layout_put(o, conf, "city", s, v.conf);
        return;
    }
}

/* Applies one labelled KTP value to the result. */
static void put_ktp_field(json_t *o, json_t *conf, const char *key, const struct value *v)
{
    char s[VALUE_LEN], d[16];
    if (strcmp(key, "name") == 0) {
        text_clean_name(v->text, s, sizeof s);
        layout_put(o, conf, key, s, v->conf);
    } else if (strcmp(key, "village") == 0 || strcmp(key, "district") == 0) {
        text_clean_words(v->text, "'.-", 1, s, sizeof s);
        layout_put(o, conf, key, s, v->conf);
    } else if (strcmp(key, "birth") == 0) {
        put_birth(o, conf, v);
    } else if (strcmp(key, "gender") == 0) {
        char first[VALUE_LEN];
        snprintf(first, sizeof first, "%s", v->text);
        first[strcspn(first, " ")] = '\0'; /* "LAKI-LAKI Gol. Darah" */
        const char *g = text_snap(first, GENDERS);
        layout_put(o, conf, key, g ? g : text_snap(v->text, GENDERS), v->conf);
    } else if (strcmp(key, "address") == 0) {
        text_clean_words(v->text, ".,/-", 0, s, sizeof s);
        fix_address(s, sizeof s);
        fix_abbrev(s, sizeof s);
        layout_put(o, conf, key, s, v->conf);
    } else if (strcmp(key, "rtRw") == 0) {
        put_rt_rw(o, conf, v);
    } else if (strcmp(key, "religion") == 0) {
        put_snapped(o, conf, key, v, RELIGIONS);
    } else if (strcmp(key, "maritalStatus") == 0) {
        put_snapped(o, conf, key, v, MARITAL);
    } else if (strcmp(key, "nationality") == 0) {
        put_snapped(o, conf, key, v, NATIONALITY);
    } else if (strcmp(key, "bloodType") == 0) {
        text_clean_words(v->text, "-", 1, s, sizeof s);
        for (size_t i = 0; BLOOD[i]; i++)
            if (strcmp(s, BLOOD[i]) == 0)
                layout_put(o, conf, key, BLOOD[i], v->conf);
    } else if (strcmp(key, "occupation") == 0) {
        const char *j = text_snap(v->text, OCCUPATIONS);
        text_clean_words(v->text, "/.-", 1, s, sizeof s);
        layout_put(o, conf, key, j ? j : s, v->conf);
    } else if (strcmp(key, "validUntil") == 0) {
        static const char *const LIFE[] = {"SEUMUR HIDUP", NULL};
        if (text_snap(v->text, LIFE))
            layout_put(o, conf, key, LIFE[0], v->conf);
        else if (text_clean_date(v->text, d, sizeof d) == 0)
            layout_put(o, conf, key, d, v->conf);
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
            text_append_letters(r->w[i]->text, l, sizeof l);
            text_append_letters(r->w[i + 1]->text, l, sizeof l);
            if (extract_edit_distance(l, "GOLDARAH") > 2)
                continue;
            struct row tail = *r;
            /* NOLINTNEXTLINE(bugprone-sizeof-expression): rows hold word pointers */
            memmove(tail.w, r->w + i, (r->n - i) * sizeof r->w[0]);
            tail.n = r->n - i;
            struct value v;
            layout_take_value(&tail, 2, &v);
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
    qsort(col->x, col->n, sizeof col->x[0], layout_int_cmp);
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
void fields_ktp(json_t *o, json_t *conf, const struct layout *L, extract_reread_fn reread,
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
        int li = layout_match_label(&L->rows[j], KTP_LABELS, nl, &k);
        if (li < 0)
            continue;
        struct value v;
        layout_take_value(&L->rows[j], k, &v);
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
        number_put_nik(o, conf, &nik, reread, ctx);
}
