/*
 * test_decision_rules.c - the decision rules (ocr-workers/reading/decision.c) on
 * parsed results and OCR text: type words tolerant to OCR noise, each
 * review reason of the vocabulary, and the compat rule.  The same rules on
 * real Tesseract output: tests/process/test_decision.c.
 */
#include <check.h>
#include <string.h>

#include "check_run.h"
#include "ocr-workers/reading/decision.h"

static const char KTP_TEXT[] = "PROVINSI JAWA BARAT\nKABUPATEN BANDUNG\nNIK : 3204126602990001\n"
                               "Nama : SITI\nTempat/Tgl Lahir : BANDUNG, 26-02-1999\n"
                               "Jenis Kelamin : PEREMPUAN\nAgama : ISLAM\n";

/* A KTP result: the essential fields, each with confidence conf. */
static json_t *ktp(const char *nik, const char *birth, const char *gender, int conf)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:{s:i, s:i, s:i, s:i}}", "nik", nik, "name", "SITI",
                     "birthDate", birth, "gender", gender, "fieldConfidence", "nik", conf, "name",
                     conf, "birthDate", conf, "gender", conf);
}

/* Decides and returns the reasons as "a,b,c" (static buffer). */
static const char *decide(bool compat, enum doc_type t, int score, const json_t *p,
                          const char *text, struct doc_verdict *v)
{
    static char buf[256];
    json_t *reasons = json_array();
    ck_assert_int_eq(decision_decide(compat, t, score, p, text, v, reasons), 0);
    size_t i, n = 0;
    json_t *r;
    buf[0] = '\0';
    json_array_foreach(reasons, i, r)
    {
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s", i ? "," : "", json_string_value(r));
    }
    ck_assert_int_eq(strcmp(v->decision, "auto_approve") == 0, json_array_size(reasons) == 0);
    json_decref(reasons);
    return buf;
}

START_TEST(type_words_tolerate_ocr_noise)
{
    int own, other;
    decision_type_words(DOC_KTP, "PR0VINSI JAWA\nTernpat/Tgl Lahlr\nJenis Kelamln\nAgarna", &own,
                        &other);
    ck_assert_int_eq(own, 5);
    ck_assert_int_eq(other, 0);
    decision_type_words(DOC_KTP, "KEMENTERIAN KEUANGAN\nDIREKTORAT JENDERAL PAJAK\nNPWP : 1", &own,
                        &other);
    ck_assert_int_eq(own, 0);
    ck_assert_int_eq(other, 6);
    /* shared words count for neither type */
    decision_type_words(DOC_NPWP, "NIK Nama Alamat", &own, &other);
    ck_assert_int_eq(own + other, 0);
}
END_TEST

START_TEST(clean_ktp_approved)
{
    struct doc_verdict v;
    json_t *p = ktp("3204126602990001", "26-02-1999", "PEREMPUAN", 90);
    ck_assert_str_eq(decide(false, DOC_KTP, 90, p, KTP_TEXT, &v), "");
    ck_assert_str_eq(v.decision, "auto_approve");
    ck_assert_str_eq(v.outcome, "auto_approved");
    json_decref(p);
    /* a province code that does not exist is no reason: real NIKs have them */
    p = ktp("9904126602990001", "26-02-1999", "PEREMPUAN", 90);
    ck_assert_str_eq(decide(false, DOC_KTP, 90, p, KTP_TEXT, &v), "");
    json_decref(p);
}
END_TEST

START_TEST(each_reason)
{
    struct doc_verdict v;
    json_t *p = ktp("3204126602990001", "27-02-1999", "LAKI-LAKI", 90);
    ck_assert_str_eq(decide(false, DOC_KTP, 90, p, KTP_TEXT, &v),
                     "nik_birthdate_mismatch,nik_gender_mismatch");
    ck_assert_str_eq(v.decision, "needs_review");
    ck_assert_str_eq(v.outcome, "pending_manual_review");
    json_decref(p);
    p = ktp("3204126602990001", "26-02-1999", "PEREMPUAN", 59);
    ck_assert_str_eq(decide(false, DOC_KTP, 90, p, KTP_TEXT, &v),
                     "nik_low_confidence,name_low_confidence,birthDate_low_confidence,"
                     "gender_low_confidence");
    json_decref(p);
    p = json_pack("{s:s, s:{s:i}}", "nik", "3171234567890123", "fieldConfidence", "nik", 95);
    ck_assert_str_eq(decide(false, DOC_KTP, 80, p, "NIK : 3171234567890123", &v),
                     "type_unconfirmed,name_missing,birthDate_missing,gender_missing");
    json_decref(p);
    p = json_pack("{s:s, s:{s:i}}", "name", "BUDI", "fieldConfidence", "name", 95);
    ck_assert_str_eq(decide(false, DOC_NPWP, 60, p, KTP_TEXT, &v),
                     "score_below_threshold,type_mismatch,npwpNumber_missing");
    json_decref(p);
}
END_TEST

START_TEST(compat_is_the_score_alone)
{
    struct doc_verdict v;
    json_t *p = json_pack("{s:s}", "nik", "3171234567890123");
    ck_assert_str_eq(decide(true, DOC_KTP, 80, p, "NIK : 3171234567890123", &v), "");
    ck_assert_str_eq(v.decision, "auto_approve");
    ck_assert_str_eq(decide(true, DOC_KTP, 74, p, "", &v), "score_below_threshold");
    ck_assert_str_eq(v.decision, "needs_review");
    json_decref(p);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("decision_rules");
    TCase *tc = tcase_create("rules");
    tcase_add_test(tc, type_words_tolerate_ocr_noise);
    tcase_add_test(tc, clean_ktp_approved);
    tcase_add_test(tc, each_reason);
    tcase_add_test(tc, compat_is_the_score_alone);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return check_run(suite());
}
