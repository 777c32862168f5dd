/*
 * test_extract.c - layout-aware extraction rules (ocr-workers/reading/: layout,
 * fields_ktp/npwp, number_reader, text_rules) on synthetic word boxes: damaged
 * labels, digit repair, the NIK's encoded province/date/gender cross-check,
 * both NPWP forms, the second pass.
 */
#include <check.h>

#include "check_run.h"
#include <stdlib.h>
#include <string.h>

#include "ocr-workers/reading/extract.h"
#include "ocr-workers/reading/number_reader.h"
#include "ocr-workers/reading/ocra.h"
#include "ocr-workers/reading/ocra_templates.h"
#include "ocr-workers/reading/text_rules.h"

/* A page built word by word: row y, words left to right from x. */
struct page_builder {
    struct ocr_page page;
    struct ocr_word words[64];
};

/* Appends a word of text at (x, y), 12 px per character, 24 px high. */
static int add(struct page_builder *b, const char *text, int x, int y)
{
    struct ocr_word *w = &b->words[b->page.nwords++];
    w->text = (char *)text;
    w->conf = 90;
    w->x0 = x;
    w->y0 = y;
    w->x1 = x + 12 * (int)strlen(text);
    w->y1 = y + 24;
    b->page.words = b->words;
    return w->x1 + 10;
}

/* A label at x 30, then ":" at 245 and the value words from 265. */
static void row(struct page_builder *b, const char *label, const char *value, int y)
{
    static char buf[16][128];
    static int k;
    add(b, label, 30, y);
    add(b, ":", 245, y);
    int x = 265;
    char *v = buf[k++ % 16];
    strcpy(v, value);
    for (char *save = NULL, *t = strtok_r(v, " ", &save); t; t = strtok_r(NULL, " ", &save))
        x = add(b, t, x, y);
}

static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

START_TEST(damaged_labels_paired_by_geometry)
{
    struct page_builder b = {0};
    b.page.text = "";
    row(&b, "NlK", "3174O95703719331", 100);
    row(&b, "Nama", "SITI RAHAYU", 150);
    row(&b, "Tampal/Tgi Lahir", "JAKARTA, 17-03-1971", 200);
    row(&b, "Jenis Kelamin", "PEREMPUAN", 250);
    add(&b, "Gol.", 600, 250);
    add(&b, "Darah", 660, 250);
    add(&b, ":", 730, 250);
    add(&b, "AB", 750, 250);
    row(&b, "Alamat", "JL MAWAR NO. 5", 300);
    row(&b, "Agarna", "lSLAM", 350);
    row(&b, "Status Perkawinan", "KAWlN", 400);
    row(&b, "RT/RW", "0O3/O12", 450);
    json_t *o = extract_fields(DOC_KTP, &b.page, NULL, NULL);
    ck_assert_ptr_nonnull(o);
    ck_assert_str_eq(str(o, "nik"), "3174095703719331");
    ck_assert_str_eq(str(o, "name"), "SITI RAHAYU");
    ck_assert_str_eq(str(o, "birthPlace"), "JAKARTA");
    ck_assert_str_eq(str(o, "birthDate"), "17-03-1971");
    ck_assert_str_eq(str(o, "gender"), "PEREMPUAN");
    ck_assert_str_eq(str(o, "bloodType"), "AB");
    ck_assert_str_eq(str(o, "address"), "JL. MAWAR NO. 5");
    ck_assert_str_eq(str(o, "religion"), "ISLAM");
    ck_assert_str_eq(str(o, "maritalStatus"), "KAWIN");
    ck_assert_str_eq(str(o, "rtRw"), "003/012");
    ck_assert_ptr_nonnull(json_object_get(json_object_get(o, "fieldConfidence"), "nik"));
    ck_assert_int_eq(extract_score(DOC_KTP, o), 90);
    json_decref(o);
}
END_TEST

START_TEST(digit_repair)
{
    char d[32];
    ck_assert_int_eq(extract_repair_digits("OI lB SZ 0", d, sizeof d), 7);
    ck_assert_str_eq(d, "0118520");
    ck_assert_int_eq(extract_repair_digits("12A4", d, sizeof d), -1);
    ck_assert_int_eq(extract_repair_digits("3?", d, sizeof d), 2);
    ck_assert_str_eq(d, "37");
}
END_TEST

START_TEST(nik_cross_check)
{
    int all = NIK_SHAPE | NIK_PROVINCE | NIK_DATE | NIK_BIRTH | NIK_GENDER;
    ck_assert_int_eq(extract_nik_check("3174095703719331", "17-03-1971", "PEREMPUAN"), all);
    /* a man: day not + 40 */
    ck_assert_int_eq(extract_nik_check("3174091703719331", "17-03-1971", "LAKI-LAKI"), all);
    /* wrong gender, wrong date, bad province, bad shape */
    ck_assert_int_eq(extract_nik_check("3174091703719331", "17-03-1971", "PEREMPUAN") & NIK_GENDER,
                     0);
    ck_assert_int_eq(extract_nik_check("3174091703719331", "18-03-1971", NULL) & NIK_BIRTH, 0);
    ck_assert_int_eq(extract_nik_check("9974091703719331", NULL, NULL) & NIK_PROVINCE, 0);
    ck_assert_int_eq(extract_nik_check("3174099913719331", NULL, NULL) & NIK_DATE, 0);
    ck_assert_int_eq(extract_nik_check("317409170371933", NULL, NULL), 0);
}
END_TEST

START_TEST(npwp_both_forms)
{
    char s[32];
    ck_assert_int_eq(extract_npwp_number("O9.892.6l6.5-O85.000", s, sizeof s), 15);
    ck_assert_str_eq(s, "09.892.616.5-085.000");
    /* colon read as "1" and joined to the first group */
    ck_assert_int_eq(extract_npwp_number("109.128.584.1-806.000", s, sizeof s), 15);
    ck_assert_str_eq(s, "09.128.584.1-806.000");
    ck_assert_int_eq(extract_npwp_number("5171222401bb2973", s, sizeof s), 16);
    ck_assert_str_eq(s, "5171222401662973");
    ck_assert_int_eq(extract_npwp_number("12.345", s, sizeof s), -1);
}
END_TEST

/* Second pass stub: the Tesseract line re-read reads the given digits. */
static int stub_reread(void *ctx, enum extract_read how, int x0, int y0, int x1, int y1,
                       const char *wl, char **text, int *conf)
{
    (void)x0, (void)y0, (void)x1, (void)y1;
    if (how != EXTRACT_READ_LINE)
        return -1;
    ck_assert_str_eq(wl, "0123456789");
    *text = strdup(ctx);
    *conf = 80;
    return 0;
}

/* What each kind of second read returns (NULL: fails). */
struct reads {
    const char *line, *ocra;
    int ocra_conf;
};

/* Second pass stub: per-kind texts from a struct reads. */
static int stub_reads(void *ctx, enum extract_read how, int x0, int y0, int x1, int y1,
                      const char *wl, char **text, int *conf)
{
    const struct reads *r = ctx;
    const char *t = how == EXTRACT_READ_OCRA ? r->ocra : r->line;
    (void)x0, (void)y0, (void)x1, (void)y1, (void)wl;
    if (!t)
        return -1;
    *text = strdup(t);
    *conf = how == EXTRACT_READ_OCRA ? r->ocra_conf : 70;
    return 0;
}

START_TEST(nik_second_pass_wins_when_consistent)
{
    struct page_builder b = {0};
    b.page.text = "";
    row(&b, "NIK", "3174O9S7O37l9XX1", 100); /* unreadable in the first pass */
    row(&b, "Tempat/Tgl Lahir", "JAKARTA, 17-03-1971", 200);
    row(&b, "Jenis Kelamin", "PEREMPUAN", 250);
    json_t *o = extract_fields(DOC_KTP, &b.page, stub_reread, "3174095703719331");
    ck_assert_str_eq(str(o, "nik"), "3174095703719331");
    json_decref(o);
    /* a second pass contradicting the birth date loses to a consistent first pass */
    struct page_builder c = {0};
    c.page.text = "";
    row(&c, "NIK", "3174095703719331", 100);
    row(&c, "Tempat/Tgl Lahir", "JAKARTA, 17-03-1971", 200);
    o = extract_fields(DOC_KTP, &c.page, stub_reread, "3174092803719331");
    ck_assert_str_eq(str(o, "nik"), "3174095703719331");
    json_decref(o);
}
END_TEST

START_TEST(ocra_reads_template_digits)
{
    /* 0..9 in OCR-A, each template drawn 2x, after a colon-like thin mark */
    enum { W = 520, H = 90, S = 2 };
    static uint8_t img[W * H];
    char out[32];
    int score = 0;
    memset(img, 235, sizeof img);
    for (int y = 30; y < 40; y++)
        for (int x = 10; x < 14; x++)
            img[y * W + x] = 30; /* colon dot: narrow and short */
    for (int d = 0; d < 10; d++)
        for (int y = 0; y < OCRA_TH * S; y++)
            for (int x = 0; x < OCRA_TW * S; x++)
                img[(y + 20) * W + 30 + d * (OCRA_TW * S + 12) + x] =
                    (uint8_t)(235 - OCRA_TEMPLATES[d][(y / S) * OCRA_TW + x / S] * 200 / 255);
    ck_assert_int_eq(ocra_read_digits(img, W, H, W, 0, 0, W, H, out, sizeof out, &score), 10);
    ck_assert_str_eq(out, "0123456789");
    ck_assert_int_ge(score, 80);
    memset(img, 235, sizeof img);
    ck_assert_int_eq(ocra_read_digits(img, W, H, W, 0, 0, W, H, out, sizeof out, &score), 0);
    ck_assert_int_eq(score, 0);
    ck_assert_int_lt(ocra_read_digits(img, W, H, W, 0, 0, 2, 2, out, sizeof out, &score), 0);
}
END_TEST

START_TEST(nik_ocra_read_wins_ties_only_when_sure)
{
    struct page_builder b = {0};
    b.page.text = "";
    row(&b, "NIK", "3174095703719131", 100); /* OCR-A's 3 read as 1 */
    row(&b, "Tempat/Tgl Lahir", "JAKARTA, 17-03-1971", 200);
    row(&b, "Jenis Kelamin", "PEREMPUAN", 250);
    struct reads r = {"3174095703719431", "3174095703719331", 75};
    json_t *o = extract_fields(DOC_KTP, &b.page, stub_reads, &r);
    ck_assert_str_eq(str(o, "nik"), "3174095703719331");
    json_decref(o);
    r.ocra_conf = 30; /* not an OCR-A line: its reading is ignored */
    o = extract_fields(DOC_KTP, &b.page, stub_reads, &r);
    ck_assert_str_eq(str(o, "nik"), "3174095703719431");
    json_decref(o);
    r.ocra = "3174092803719331"; /* sure but contradicting the birth date */
    r.ocra_conf = 90;
    o = extract_fields(DOC_KTP, &b.page, stub_reads, &r);
    ck_assert_str_eq(str(o, "nik"), "3174095703719431");
    json_decref(o);
}
END_TEST

START_TEST(npwp_candidates_by_check_digit)
{
    struct page_builder b = {0};
    b.page.text = "";
    row(&b, "NPWP", "09.211.087.4-785.000", 100); /* Luhn digit wrong */
    row(&b, "Nama", "BUDI", 150);
    struct reads r = {NULL, "092990878785000", 70};
    json_t *o = extract_fields(DOC_NPWP, &b.page, stub_reads, &r);
    ck_assert_str_eq(str(o, "npwpNumber"), "09.299.087.8-785.000");
    json_decref(o);
    /* the 16-digit form: the OCR-A read whose NIK structure holds wins */
    struct page_builder c = {0};
    c.page.text = "";
    row(&c, "NPWP", "3175200812145015", 100); /* date 12-14: impossible */
    struct reads r2 = {NULL, "3175200812945095", 70};
    o = extract_fields(DOC_NPWP, &c.page, stub_reads, &r2);
    ck_assert_str_eq(str(o, "npwpNumber"), "3175200812945095");
    json_decref(o);
}
END_TEST

START_TEST(address_damage_repaired)
{
    static const char *const cases[][2] = {
        {"2 JL. MERDEKA NO. 32", "JL. MERDEKA NO. 32"},
        {"IL. SUDIRMAN NO. 146", "JL. SUDIRMAN NO. 146"},
        {"JK MELATI NO. 219", "JL. MELATI NO. 219"},
        {"JL-ANGGREK NO. 114", "JL. ANGGREK NO. 114"},
        {"JL- PANGERAN ANTASARI NO. 4", "JL. PANGERAN ANTASARI NO. 4"},
        {"JL-RAYA BOGOR NO. 182.", "JL. RAYA BOGOR NO. 182"},
        {"JL. PEMUDA.NO. 248", "JL. PEMUDA NO. 248"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct page_builder b = {0};
        b.page.text = "";
        row(&b, "Alamat", cases[i][0], 100);
        json_t *o = extract_fields(DOC_KTP, &b.page, NULL, NULL);
        ck_assert_str_eq(str(o, "address"), cases[i][1]);
        json_decref(o);
    }
}
END_TEST

START_TEST(dropped_value_line_reread)
{
    struct page_builder b = {0};
    b.page.text = "";
    row(&b, "Nama", "SITI", 100);
    row(&b, "Jenis Kelamin", "PEREMPUAN", 150);
    add(&b, "Alamat", 30, 200); /* the value line was not recognised */
    row(&b, "Agama", "ISLAM", 250);
    struct reads r = {": JL. MAWAR NO. 5", NULL, 0};
    json_t *o = extract_fields(DOC_KTP, &b.page, stub_reads, &r);
    ck_assert_str_eq(str(o, "address"), "JL. MAWAR NO. 5");
    json_decref(o);
    o = extract_fields(DOC_KTP, &b.page, NULL, NULL); /* no second pass: no value */
    ck_assert_ptr_null(json_object_get(o, "address"));
    json_decref(o);
}
END_TEST

/* Words of one unlabelled line at y, from x 30. */
static void line(struct page_builder *b, const char *text, int y)
{
    static char buf[8][128];
    static int k;
    char *v = buf[k++ % 8];
    strcpy(v, text);
    int x = 30;
    for (char *save = NULL, *t = strtok_r(v, " ", &save); t; t = strtok_r(NULL, " ", &save))
        x = add(b, t, x, y);
}

START_TEST(npwp_name_is_the_unlabelled_line_below_the_number)
{
    struct page_builder b = {0};
    b.page.text = "";
    line(&b, "DIREKTORAT JENDERAL PAJAK", 50);
    row(&b, "NPWP", "3375174904113488", 100);
    line(&b, "e", 130); /* a speck of the background read as a word */
    line(&b, "YULIANTI HARTONO", 150);
    row(&b, "NIK", "3375174904113488", 200);
    line(&b, "JL. FATMAWATI NO. 102", 250);
    json_t *o = extract_fields(DOC_NPWP, &b.page, NULL, NULL);
    ck_assert_str_eq(str(o, "name"), "YULIANTI HARTONO");
    json_decref(o);
    /* the name line lost: the address or the NIK row is never taken for it */
    static const char *const not_names[] = {"JL. FATMAWATI NO. 102", "KOTA PEKALONGAN",
                                            "KPP PRATAMA SIDOARJO", "3375174904113488"};
    for (size_t i = 0; i < sizeof not_names / sizeof not_names[0]; i++) {
        struct page_builder c = {0};
        c.page.text = "";
        row(&c, "NPWP", "3375174904113488", 100);
        line(&c, not_names[i], 150);
        o = extract_fields(DOC_NPWP, &c.page, NULL, NULL);
        ck_assert_msg(json_object_get(o, "name") == NULL, "%s taken as the name", not_names[i]);
        json_decref(o);
    }
    struct page_builder d = {0}; /* a labelled name wins over the line below */
    d.page.text = "";
    row(&d, "NPWP", "3375174904113488", 100);
    line(&d, "PT MAJU JAYA", 150);
    row(&d, "Nama", "BUDI SANTOSO", 200);
    o = extract_fields(DOC_NPWP, &d.page, NULL, NULL);
    ck_assert_str_eq(str(o, "name"), "BUDI SANTOSO");
    json_decref(o);
}
END_TEST

START_TEST(name_cleaning)
{
    static const char *const cases[][2] = {
        {"2 BUNGA SUTRISNO", "BUNGA SUTRISNO"}, /* a misread colon */
        {"'UMI SETIADI", "UMI SETIADI"},
        {"MA'RUF AMIN", "MA'RUF AMIN"},
        {"MOH. ASEP TAMBUNAN", "MOH. ASEP TAMBUNAN"},
        {"HJ. LIDYA.", "HJ. LIDYA"},
        {"-", ""},
        {"A", ""},
        {": S1TI RAHAYU.", "SITI RAHAYU"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[64];
        text_clean_name(cases[i][0], out, sizeof out);
        ck_assert_msg(strcmp(out, cases[i][1]) == 0, "\"%s\" -> \"%s\", want \"%s\"", cases[i][0],
                      out, cases[i][1]);
    }
    struct page_builder b = {0}; /* a name that is no name is left out, not approved */
    b.page.text = "";
    row(&b, "Nama", "-", 100);
    json_t *o = extract_fields(DOC_KTP, &b.page, NULL, NULL);
    ck_assert_ptr_null(json_object_get(o, "name"));
    json_decref(o);
}
END_TEST

START_TEST(compat_fallback_on_plain_text)
{
    struct ocr_page p = {0};
    p.text = "NPWP : 01.234.567.8-901.000\nNama : JOHN DOE\n";
    json_t *o = extract_fields(DOC_NPWP, &p, NULL, NULL);
    ck_assert_str_eq(str(o, "npwpNumber"), "01.234.567.8-901.000");
    ck_assert_str_eq(str(o, "name"), "JOHN DOE");
    json_decref(o);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("extract");
    TCase *tc = tcase_create("rules");
    tcase_add_test(tc, damaged_labels_paired_by_geometry);
    tcase_add_test(tc, digit_repair);
    tcase_add_test(tc, nik_cross_check);
    tcase_add_test(tc, ocra_reads_template_digits);
    tcase_add_test(tc, nik_ocra_read_wins_ties_only_when_sure);
    tcase_add_test(tc, npwp_candidates_by_check_digit);
    tcase_add_test(tc, address_damage_repaired);
    tcase_add_test(tc, dropped_value_line_reread);
    tcase_add_test(tc, npwp_both_forms);
    tcase_add_test(tc, nik_second_pass_wins_when_consistent);
    tcase_add_test(tc, npwp_name_is_the_unlabelled_line_below_the_number);
    tcase_add_test(tc, name_cleaning);
    tcase_add_test(tc, compat_fallback_on_plain_text);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return check_run(suite());
}
