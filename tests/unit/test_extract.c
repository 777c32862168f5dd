/*
 * test_extract.c - layout-aware extraction rules (ocr-workers/extract.c) on
 * synthetic word boxes: damaged labels, digit repair, the NIK's encoded
 * province/date/gender cross-check, both NPWP forms, the second pass.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "ocr-workers/extract.h"

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

/* Second pass stub: always reads the given digits. */
static int stub_reread(void *ctx, int x0, int y0, int x1, int y1, const char *wl, char **text,
                       int *conf)
{
    (void)x0, (void)y0, (void)x1, (void)y1;
    ck_assert_str_eq(wl, "0123456789");
    *text = strdup(ctx);
    *conf = 80;
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
    tcase_add_test(tc, npwp_both_forms);
    tcase_add_test(tc, nik_second_pass_wins_when_consistent);
    tcase_add_test(tc, compat_fallback_on_plain_text);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
