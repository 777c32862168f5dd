#include <check.h>

#include "check_run.h"

/*
 * test_doc_parse.c - KTP / NPWP extraction, score and decision against the
 * original's golden texts (doc/COMPATIBILITY.md 5.3, 12) with the B10 fixes.
 */
#include <stdlib.h>
#include <string.h>

#include "common/status.h"
#include "ocr-workers/reading/doc_parse.h"

/* The original's mock KTP and NPWP texts (gpu-worker-mock.ts). */
static const char MOCK_KTP[] = "PROVINSI DKI JAKARTA\n"
                               "KOTA JAKARTA SELATAN\n"
                               "NIK: 3174051234560001\n"
                               "Nama: JOHN DOE TESTING\n"
                               "Tempat/Tgl Lahir: JAKARTA, 01-01-1990\n"
                               "Jenis Kelamin: LAKI-LAKI\n"
                               "Alamat: JL. TEST NO. 123\n"
                               "RT/RW: 001/002\n"
                               "Agama: ISLAM\n"
                               "Status Perkawinan: BELUM KAWIN\n"
                               "Pekerjaan: KARYAWAN SWASTA\n";

static const char MOCK_NPWP[] = "NPWP: 01.234.567.8-901.000\n"
                                "Nama: JOHN DOE TESTING\n"
                                "NIK: 3174051234560001\n";

/* Parses text and returns the compact JSON (caller frees); fails on NULL. */
static char *parse_dump(enum doc_type t, const char *text)
{
    json_t *o = doc_parse(t, text);
    ck_assert_ptr_nonnull(o);
    char *s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(o);
    ck_assert_ptr_nonnull(s);
    return s;
}

/* Asserts the exact parse output, key order included. */
static void expect_parse(enum doc_type t, const char *text, const char *want)
{
    char *got = parse_dump(t, text);
    ck_assert_str_eq(got, want);
    free(got);
}

/* The value of one key of a KTP parse, or NULL if the key is absent. */
static char *ktp_field(const char *text, const char *key)
{
    json_t *o = doc_parse(DOC_KTP, text);
    ck_assert_ptr_nonnull(o);
    json_t *v = json_object_get(o, key);
    char *s = v ? strdup(json_string_value(v)) : NULL;
    json_decref(o);
    return s;
}

static void expect_field(const char *text, const char *key, const char *want)
{
    char *got = ktp_field(text, key);
    if (!want) {
        ck_assert_msg(got == NULL, "%s: expected no key, got \"%s\"", key, got);
        return;
    }
    ck_assert_msg(got != NULL, "%s: key missing", key);
    ck_assert_str_eq(got, want);
    free(got);
}

/* Score of a parse given as JSON text. */
static int score_of(enum doc_type t, const char *json)
{
    json_error_t err;
    json_t *o = json_loads(json, 0, &err);
    ck_assert_msg(o != NULL, "bad test JSON: %s", err.text);
    int s = doc_score(t, o);
    json_decref(o);
    return s;
}

START_TEST(mock_ktp_fixed_output)
{
    expect_parse(DOC_KTP, MOCK_KTP,
                 "{\"nik\":\"3174051234560001\",\"name\":\"JOHN DOE TESTING\","
                 "\"birthPlace\":\"JAKARTA\",\"birthDate\":\"01-01-1990\","
                 "\"address\":\"JL. TEST NO. 123\",\"gender\":\"LAKI-LAKI\","
                 "\"religion\":\"ISLAM\",\"maritalStatus\":\"BELUM KAWIN\"}");
    json_t *o = doc_parse(DOC_KTP, MOCK_KTP);
    struct doc_verdict v;
    ck_assert_int_eq(doc_score(DOC_KTP, o), 90);
    doc_decide(doc_score(DOC_KTP, o), &v);
    ck_assert_str_eq(v.decision, "auto_approve");
    ck_assert_str_eq(v.outcome, "auto_approved");
    json_decref(o);
}
END_TEST

START_TEST(mock_npwp_fixed_output)
{
    expect_parse(DOC_NPWP, MOCK_NPWP,
                 "{\"npwpNumber\":\"01.234.567.8-901.000\",\"name\":\"JOHN DOE TESTING\"}");
    json_t *o = doc_parse(DOC_NPWP, MOCK_NPWP);
    ck_assert_int_eq(doc_score(DOC_NPWP, o), 90);
    json_decref(o);
}
END_TEST

START_TEST(mock_e2e_variant)
{
    /* ocr-end-to-end.test.ts: another address and marital status. */
    const char *t = "NIK : 3174051234560001\nNama : JOHN DOE TESTING\n"
                    "Alamat : JL. SUDIRMAN NO. 123\nStatus Perkawinan : KAWIN\n";
    expect_field(t, "address", "JL. SUDIRMAN NO. 123");
    expect_field(t, "maritalStatus", "KAWIN");
    expect_field(t, "birthPlace", NULL);
}
END_TEST

START_TEST(b10_no_line_crossing)
{
    expect_field("Nama: JOHN DOE TESTING\nTempat", "name", "JOHN DOE TESTING");
    expect_field("Nama: JOHN DOE\r\nTempat", "name", "JOHN DOE");
    expect_field("Nama: JOHN DOE\xe2\x80\xa8X", "name", "JOHN DOE");
    expect_field("Agama: ISLAM\nStatus Perkawinan: BELUM KAWIN\nPekerjaan", "religion", "ISLAM");
    expect_field("Alamat: JL. TEST NO. 123\nRT/RW: 001/002", "address", "JL. TEST NO. 123");
    /* Labels and separators stay on one line too. */
    expect_field("NIK\n3174051234560001", "nik", NULL);
    expect_field("Nama:\nJOHN", "name", NULL);
    expect_field("Jenis\nKelamin: LAKI-LAKI", "gender", NULL);
    expect_field("Tempat/Tgl Lahir: JAKARTA,\n01-01-1990", "birthDate", NULL);
}
END_TEST

START_TEST(b10_gender_keeps_hyphen)
{
    expect_field("Jenis Kelamin : LAKI-LAKI", "gender", "LAKI-LAKI");
    expect_field("Jenis Kelamin: PEREMPUAN\n", "gender", "PEREMPUAN");
    expect_field("JENIS   KELAMIN:LAKI-LAKI", "gender", "LAKI-LAKI");
    /* Inline blood group: the capture still stops at '.' like the original. */
    expect_field("Jenis Kelamin : PEREMPUAN Gol. Darah : O", "gender", "PEREMPUAN Gol");
    expect_field("Jenis Kelamin : LAKI-LAKI Gol. Darah : A", "gender", "LAKI-LAKI Gol");
    /* Other word fields do not take hyphens. */
    expect_field("Agama : ISLAM-X", "religion", "ISLAM");
}
END_TEST

START_TEST(nik_strict_forms)
{
    expect_field("NIK : 3171234567890001", "nik", "3171234567890001");
    expect_field("nik:3171234567890001", "nik", "3171234567890001");
    /* 17+ digits: the first 16, like the original. */
    expect_field("NIK: 317405123456000123", "nik", "3174051234560001");
    expect_field("NIK: 317405123456000", "nik", NULL);
    /* First label that matches wins. */
    expect_field("NIK: -\nNIK: 3171234567890002\nNIK: 3171234567890003", "nik", "3171234567890002");
}
END_TEST

START_TEST(nik_tolerant_forms)
{
    expect_field("NIK : 3171 2345 6789 0001", "nik", "3171234567890001");
    expect_field("NIK ; 3171234567890001", "nik", "3171234567890001");
    expect_field("NIK : 31712345678900O1", "nik", "3171234567890001");
    expect_field("NIK : 3171 2345 6789 00O1\n", "nik", "3171234567890001");
    /* Not 16 digits, or not starting with a digit, or not on the line. */
    expect_field("NIK : 3171 2345 6789 00012", "nik", NULL);
    expect_field("NIK : 3171 2345 6789 000", "nik", NULL);
    expect_field("NIK : O171234567890001", "nik", NULL);
    expect_field("NIK : 3171 2345\n6789 0001", "nik", NULL);
    /* The strict reading takes precedence over a later tolerant one. */
    expect_field("NIK : 3171 2345 6789 0001\nNIK: 3171234567890009", "nik", "3171234567890009");
}
END_TEST

START_TEST(regex_semantics)
{
    /* [\s:]* gives back a space: a whitespace-only capture trims to "". */
    expect_field("Nama : 123", "name", "");
    expect_field("Nama:123", "name", NULL);
    expect_field("Nama:123\nNama : BUDI", "name", "BUDI");
    /* Case-insensitive label, ASCII-only letters. */
    expect_field("NAMA : budi santoso", "name", "budi santoso");
    expect_field("Nama : JOS\xc3\x89 X", "name", "JOS");
    /* Non-ASCII whitespace is \s: kept inside, trimmed at the ends. */
    expect_field("Nama :\xc2\xa0"
                 "BUDI\xc2\xa0SANTOSO\xe3\x80\x80",
                 "name", "BUDI\xc2\xa0SANTOSO");
    /* Birth: both groups or neither; backtracking into the separator. */
    expect_field("Tempat / Tgl Lahir:BANDUNG,01/02/1990", "birthDate", "01/02/1990");
    expect_field("Tempat/Tgl Lahir : BANDUNG ,  01-02-1990", "birthPlace", "BANDUNG");
    expect_field("Tempat/Tgl Lahir : , 01-02-1990", "birthPlace", "");
    expect_field("Tempat/Tgl Lahir : JAKARTA 01-01-1990", "birthPlace", NULL);
    expect_field("Tempat/Tgl Lahir : JAKARTA 01-01-1990", "birthDate", NULL);
    expect_field("Tempat/Tgl Lahir : JAKARTA, x", "birthPlace", NULL);
    expect_field("Alamat : JL. MAWAR NO. 5, RT 01/02 #7", "address", "JL. MAWAR NO. 5, RT 01/02");
    /* Only the keys that matched. */
    expect_parse(DOC_KTP, "Agama : HINDU", "{\"religion\":\"HINDU\"}");
    expect_parse(DOC_KTP, "nothing here", "{}");
}
END_TEST

START_TEST(npwp_forms)
{
    expect_parse(DOC_NPWP, "xx01.234.567.8-901.000123",
                 "{\"npwpNumber\":\"01.234.567.8-901.000\"}");
    /* Only the legacy punctuated 15-digit form. */
    expect_parse(DOC_NPWP, "NPWP 012345678901000", "{}");
    expect_parse(DOC_NPWP, "NPWP 3174051234560001", "{}");
    expect_parse(DOC_NPWP, "Nama : ANI\nNama : BUDI", "{\"name\":\"ANI\"}");
    /* NPWP parses no KTP fields. */
    expect_parse(DOC_NPWP, "Agama : ISLAM", "{}");
}
END_TEST

START_TEST(score_examples)
{
    ck_assert_int_eq(score_of(DOC_KTP, "{\"nik\":\"3174051234560001\"}"), 80);
    ck_assert_int_eq(score_of(DOC_KTP, "{\"name\":\"JOHN DOE\"}"), 70);
    ck_assert_int_eq(score_of(DOC_NPWP, "{\"npwpNumber\":\"01.234.567.8-901.000\"}"), 90);
    ck_assert_int_eq(score_of(DOC_NPWP, "{\"name\":\"JOHN DOE\"}"), 60);
    ck_assert_int_eq(score_of(DOC_KTP, "{}"), 0);
    ck_assert_int_eq(score_of(DOC_NPWP, "{}"), 0);
    ck_assert_int_eq(doc_score(DOC_KTP, NULL), 0);
    /* Falsy "" values count as keys; name bonus needs length > 3. */
    ck_assert_int_eq(score_of(DOC_KTP, "{\"nik\":\"123\",\"name\":\"\"}"), 30);
    ck_assert_int_eq(score_of(DOC_KTP, "{\"name\":\"BUD\"}"), 60);
    ck_assert_int_eq(score_of(DOC_KTP, "{\"nik\":\"31740512345600011\"}"), 60);
    ck_assert_int_eq(score_of(DOC_NPWP, "{\"npwpNumber\":\"01.234.567.8-901.0000\"}"), 60);
    /* 1/8 * 60 = 7.5 rounds up like Math.round. */
    ck_assert_int_eq(score_of(DOC_KTP, "{\"religion\":\"X\",\"a\":\"\",\"b\":\"\",\"c\":\"\","
                                       "\"d\":\"\",\"e\":\"\",\"f\":\"\",\"g\":\"\"}"),
                     8);
    /* name.length counts UTF-16 units: 3 BMP letters no, 2 astral = 4 yes. */
    ck_assert_int_eq(score_of(DOC_KTP, "{\"name\":\"\\u00c9\\u00c9\\u00c9\"}"), 60);
    ck_assert_int_eq(score_of(DOC_KTP, "{\"name\":\"\\ud83d\\ude00\\ud83d\\ude00\"}"), 70);
    /* A parse of the whole mock text tops out at 90, never above 100. */
    ck_assert_int_le(score_of(DOC_KTP, "{\"nik\":\"3174051234560001\",\"name\":\"ABCD\"}"), 100);
}
END_TEST

START_TEST(decisions)
{
    struct doc_verdict v;

    doc_decide(74, &v);
    ck_assert_str_eq(v.decision, "needs_review");
    ck_assert_str_eq(v.outcome, "pending_manual_review");
    doc_decide(75, &v);
    ck_assert_str_eq(v.decision, "auto_approve");
    ck_assert_str_eq(v.outcome, "auto_approved");
    doc_decide(score_of(DOC_KTP, "{}"), &v);
    ck_assert_str_eq(v.decision, "needs_review");
    ck_assert_str_eq(v.outcome, "pending_manual_review");
    doc_decide(score_of(DOC_KTP, "{\"name\":\"JOHN DOE\"}"), &v);
    ck_assert_str_eq(v.decision, "needs_review");
}
END_TEST

START_TEST(doc_types)
{
    enum doc_type t = DOC_NONE;

    ck_assert_int_eq(doc_type_parse("KTP", &t), 0);
    ck_assert_int_eq(t, DOC_KTP);
    ck_assert_int_eq(doc_type_parse("NPWP", &t), 0);
    ck_assert_int_eq(t, DOC_NPWP);
    ck_assert_int_eq(doc_type_parse("ktp", &t), FILOT_EINVAL);
    ck_assert_int_eq(doc_type_parse("KTP ", &t), FILOT_EINVAL);
    ck_assert_int_eq(doc_type_parse("", &t), FILOT_EINVAL);
    ck_assert_int_eq(doc_type_parse(NULL, &t), FILOT_EINVAL);
    ck_assert_str_eq(doc_type_name(DOC_KTP), "KTP");
    ck_assert_str_eq(doc_type_name(DOC_NPWP), "NPWP");
    expect_parse(DOC_NONE, MOCK_KTP, "{}");
    expect_parse(DOC_KTP, NULL, "{}");
}
END_TEST

START_TEST(invalid_utf8)
{
    const char *t = "Nama : BUDI\xff\xfe SANTOSO\nNIK : 3174051234560001\xc3\n"
                    "Agama :\xc2 ISLAM\nAlamat : \xe2\x80 JL. X\n"
                    "Jenis Kelamin :\xc2\xa0\xc2";
    expect_parse(DOC_KTP, t,
                 "{\"nik\":\"3174051234560001\",\"name\":\"BUDI\",\"address\":\"\","
                 "\"gender\":\"\",\"religion\":\"\"}");
    /* Overlong, surrogate and out-of-range sequences are not whitespace. */
    expect_field("Nama :\xc0\xa0X", "name", "");
    expect_field("Nama :\xed\xa0\x80X", "name", "");
    expect_field("Nama :\xf4\x90\x80\x80X", "name", "");
}
END_TEST

START_TEST(random_bytes_never_crash)
{
    static const char *pieces[] = {"NIK",
                                   "Nama",
                                   ":",
                                   " ",
                                   "\n",
                                   "\xc2\xa0",
                                   "\xe3\x80\x80",
                                   "\xff",
                                   "\xc3",
                                   "LAKI-LAKI",
                                   "Tempat/Tgl Lahir",
                                   ",",
                                   "0123456789",
                                   "Alamat",
                                   "01.234.567.8-901.000",
                                   "O"};
    unsigned seed = 12345;
    char buf[512];

    for (int round = 0; round < 2000; round++) {
        size_t len = 0;
        while (len < sizeof(buf) - 32) {
            seed = seed * 1103515245u + 12345u;
            unsigned r = (seed >> 16) & 0x7fff;
            if (r % 5 == 0) {
                buf[len++] = (char)(1 + r % 255);
            } else {
                const char *p = pieces[r % (sizeof(pieces) / sizeof(pieces[0]))];
                memcpy(buf + len, p, strlen(p));
                len += strlen(p);
            }
            if (r % 97 == 0)
                break;
        }
        buf[len] = '\0';
        for (enum doc_type t = DOC_KTP; t <= DOC_NPWP; t++) {
            json_t *o = doc_parse(t, buf);
            ck_assert_ptr_nonnull(o);
            /* Every value is a valid string jansson can serialise. */
            char *s = json_dumps(o, 0);
            ck_assert_ptr_nonnull(s);
            free(s);
            int sc = doc_score(t, o);
            ck_assert(sc >= 0 && sc <= 90);
            json_decref(o);
        }
    }
}
END_TEST

static Suite *doc_parse_suite(void)
{
    Suite *s = suite_create("doc_parse");
    TCase *golden = tcase_create("golden");
    TCase *parse = tcase_create("parse");
    TCase *score = tcase_create("score");
    TCase *robust = tcase_create("robust");

    tcase_add_test(golden, mock_ktp_fixed_output);
    tcase_add_test(golden, mock_npwp_fixed_output);
    tcase_add_test(golden, mock_e2e_variant);
    tcase_add_test(parse, b10_no_line_crossing);
    tcase_add_test(parse, b10_gender_keeps_hyphen);
    tcase_add_test(parse, nik_strict_forms);
    tcase_add_test(parse, nik_tolerant_forms);
    tcase_add_test(parse, regex_semantics);
    tcase_add_test(parse, npwp_forms);
    tcase_add_test(score, score_examples);
    tcase_add_test(score, decisions);
    tcase_add_test(score, doc_types);
    tcase_add_test(robust, invalid_utf8);
    tcase_add_test(robust, random_bytes_never_crash);
    tcase_set_timeout(robust, 30);
    suite_add_tcase(s, golden);
    suite_add_tcase(s, parse);
    suite_add_tcase(s, score);
    suite_add_tcase(s, robust);
    return s;
}

int main(void)
{
    return check_run(doc_parse_suite());
}
