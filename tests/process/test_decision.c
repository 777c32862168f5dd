/*
 * test_decision.c - the decision policy through the real path: `filot-ocr
 * ocr --type T FILE...` (private filot-ocrd instance, Tesseract, the field
 * readers, decision.c) on images ImageMagick draws here and on cards from
 * tests/gen-cards.sh.
 *
 * Strict (the default): a lone "NIK : <16 digits>" line and an NPWP card
 * declared as a KTP go to manual review with their reasons; clean cards are
 * still approved; a NIK whose province code does not exist comes back as
 * read (never "corrected").  Compat (OCR_DECISION_POLICY=compat): the
 * original's decision on the same files.
 */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proc_util.h"

#define CASE_TIMEOUT 240
#define RUN_MS       200000u
#define MAX_ARGS     64

static const char OCR_BIN[] = "build/bin/filot-ocr";

/* A KTP-like page whose NIK starts with 99 (no such province) but whose
 * digits 7-12 agree with the birth date and gender printed below it. */
#define ODD_NIK "9971236602990001"

static char dir[64];
static char nik_only[128], odd_region[128];
static char npwp[2][128], ktp[4][128];
static bool ready;

#define note(...) pu_note("test_decision", __VA_ARGS__)

/* Runs argv to completion; fails the case unless it exits 0. */
static void run_ok(const char *const *argv, unsigned timeout_ms)
{
    struct pu_spec sp = {.argv = argv};
    int st;
    pid_t pid = pu_spawn(&sp);
    ck_assert_int_gt(pid, 0);
    ck_assert_msg(pu_wait(pid, timeout_ms, &st) == 0, "%s did not finish", argv[0]);
    ck_assert_msg(pu_exit_code(st) == 0, "%s failed: status %d", argv[0], st);
}

/* Draws lines of text (DejaVu Sans, 30 pt, 44 px apart) on white into path. */
static void draw_lines(const char *path, const char *const *lines, int n)
{
    const char *argv[MAX_ARGS];
    char size[32], pos[16][16];
    int k = 0;
    snprintf(size, sizeof size, "1000x%d", 60 + 44 * n);
    argv[k++] = "convert";
    argv[k++] = "-size";
    argv[k++] = size;
    argv[k++] = "xc:white";
    argv[k++] = "-font";
    argv[k++] = "DejaVu-Sans";
    argv[k++] = "-pointsize";
    argv[k++] = "30";
    argv[k++] = "-fill";
    argv[k++] = "black";
    for (int i = 0; i < n && i < 16; i++) {
        snprintf(pos[i], sizeof pos[i], "+30+%d", 60 + 44 * i);
        argv[k++] = "-annotate";
        argv[k++] = pos[i];
        argv[k++] = lines[i];
    }
    argv[k++] = path;
    argv[k] = NULL;
    run_ok(argv, 30000);
}

/* Two cards of a type and layout from tests/gen-cards.sh into out[0..1]. */
static void gen_cards(const char *type, const char *layout, char out[][128])
{
    char sub[96];
    snprintf(sub, sizeof sub, "%s/%s-%s", dir, type, layout);
    const char *const argv[] = {
        "tests/gen-cards.sh", "--seed", "7",      "--count", "2", "--type", type,
        "--layout",           layout,   "--jobs", "2",       sub, NULL};
    run_ok(argv, 120000);
    for (int i = 0; i < 2; i++)
        snprintf(out[i], 128, "%s/%s-%04d.png", sub, strcmp(type, "KTP") == 0 ? "ktp" : "npwp",
                 i + 1);
}

/* Draws and generates the inputs once (runs in the runner process). */
static void setup(void)
{
    if (ready)
        return;
    snprintf(dir, sizeof dir, "/tmp/test_decision.XXXXXX");
    ck_assert_int_eq(pu_mkdtemp(dir), 0);
    snprintf(nik_only, sizeof nik_only, "%s/nik-only.png", dir);
    snprintf(odd_region, sizeof odd_region, "%s/odd-region.png", dir);
    static const char *const nik_line[] = {"NIK : 3171234567890123"};
    draw_lines(nik_only, nik_line, 1);
    static const char *const odd[] = {"PROVINSI JAWA BARAT",
                                      "KABUPATEN BANDUNG",
                                      "NIK : " ODD_NIK,
                                      "Nama : SITI AMINAH",
                                      "Tempat/Tgl Lahir : BANDUNG, 26-02-1999",
                                      "Jenis Kelamin : PEREMPUAN",
                                      "Alamat : JL. MAWAR NO. 5",
                                      "Agama : ISLAM",
                                      "Status Perkawinan : KAWIN",
                                      "Pekerjaan : WIRASWASTA"};
    draw_lines(odd_region, odd, (int)(sizeof odd / sizeof odd[0]));
    gen_cards("NPWP", "inline", npwp);
    gen_cards("KTP", "inline", ktp);
    gen_cards("KTP", "columns", ktp + 2);
    ready = true;
}

/* Kills what a failed case left running. */
static void teardown(void)
{
    int killed = pu_kill_descendants(NULL);
    if (killed > 0)
        note("killed %d process(es) a case left running", killed);
}

/*
 * `filot-ocr ocr --type type FILES` with OCR_DECISION_POLICY=policy (NULL:
 * unset, the default).  Returns one result per file, in order.
 */
static json_t *ocr(const char *policy, const char *type, const char *const *files, int n)
{
    const char *argv[MAX_ARGS];
    char out[128], env_policy[64];
    int k = 0;
    snprintf(out, sizeof out, "%s/%s-%s.out", dir, policy ? policy : "default", type);
    argv[k++] = OCR_BIN;
    argv[k++] = "ocr";
    argv[k++] = "--type";
    argv[k++] = type;
    argv[k++] = "--workers";
    argv[k++] = "2";
    for (int i = 0; i < n; i++)
        argv[k++] = files[i];
    argv[k] = NULL;
    snprintf(env_policy, sizeof env_policy, "OCR_DECISION_POLICY%s%s", policy ? "=" : "",
             policy ? policy : "");
    const char *const env[] = {"OCR_SHM_SIZE=64M", env_policy, NULL};
    struct pu_spec sp = {.argv = argv, .env = env, .out_path = out};
    int st;
    pid_t pid = pu_spawn(&sp);
    ck_assert_int_gt(pid, 0);
    ck_assert_msg(pu_wait(pid, RUN_MS, &st) == 0, "filot-ocr still running");
    ck_assert_msg(pu_exit_code(st) == 0, "filot-ocr failed: status %d", st);
    json_t *lines = pu_json_file(out);
    ck_assert_msg(lines != NULL && (int)json_array_size(lines) == n, "%s: %d results", out,
                  lines ? (int)json_array_size(lines) : -1);
    return lines;
}

/* reviewReasons of r as one comma-separated string (for messages). */
static void reasons_text(const json_t *r, char *buf, size_t len)
{
    size_t i, n = 0;
    json_t *v;
    buf[0] = '\0';
    json_array_foreach(json_object_get(r, "reviewReasons"), i, v)
    {
        n += (size_t)snprintf(buf + n, n < len ? len - n : 0, "%s%s", i ? "," : "",
                              json_string_value(v));
    }
}

/* Whether r's reviewReasons hold reason. */
static bool has_reason(const json_t *r, const char *reason)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(r, "reviewReasons"), i, v)
    {
        if (strcmp(json_string_value(v), reason) == 0)
            return true;
    }
    return false;
}

/* Asserts r's score, decision (and outcome) and, for review, the reasons given. */
static void assert_verdict(const json_t *r, int score, bool approve, const char *const *reasons)
{
    char got[256];
    reasons_text(r, got, sizeof got);
    note("%s: score %lld, %s [%s]", pu_str(r, "file"), pu_int(r, "score", -1),
         pu_str(r, "decision"), got);
    if (score >= 0)
        ck_assert_int_eq(pu_int(r, "score", -1), score);
    ck_assert_str_eq(pu_str(r, "decision"), approve ? "auto_approve" : "needs_review");
    ck_assert_str_eq(pu_str(r, "outcome"), approve ? "auto_approved" : "pending_manual_review");
    ck_assert(json_is_array(json_object_get(r, "reviewReasons")));
    ck_assert_msg(approve == (json_array_size(json_object_get(r, "reviewReasons")) == 0),
                  "%s: reasons [%s] with decision %s", pu_str(r, "file"), got,
                  pu_str(r, "decision"));
    for (int i = 0; reasons && reasons[i]; i++)
        ck_assert_msg(has_reason(r, reasons[i]), "%s: reasons [%s] lack %s", pu_str(r, "file"), got,
                      reasons[i]);
}

START_TEST(strict_refuses_what_the_score_approves)
{
    const char *const files[] = {nik_only, npwp[0], npwp[1]};
    json_t *lines = ocr(NULL, "KTP", files, 3);
    static const char *const lone[] = {"type_unconfirmed", "name_missing", "birthDate_missing",
                                       "gender_missing", NULL};
    static const char *const wrong_type[] = {"type_mismatch", NULL};
    assert_verdict(json_array_get(lines, 0), 80, false, lone);
    assert_verdict(json_array_get(lines, 1), 90, false, wrong_type);
    assert_verdict(json_array_get(lines, 2), 90, false, wrong_type);
    json_decref(lines);
}
END_TEST

START_TEST(strict_approves_clean_cards)
{
    const char *const files[] = {ktp[0], ktp[1], ktp[2], ktp[3], odd_region};
    json_t *lines = ocr(NULL, "KTP", files, 5);
    for (size_t i = 0; i < 5; i++)
        assert_verdict(json_array_get(lines, i), 90, true, NULL);
    /* a NIK failing the region check is reported as read */
    const json_t *odd = json_object_get(json_array_get(lines, 4), "parsedResult");
    ck_assert_str_eq(pu_str(odd, "nik"), ODD_NIK);
    json_decref(lines);
    const char *const cards[] = {npwp[0], npwp[1]};
    lines = ocr(NULL, "NPWP", cards, 2);
    for (size_t i = 0; i < 2; i++)
        assert_verdict(json_array_get(lines, i), 90, true, NULL);
    json_decref(lines);
}
END_TEST

START_TEST(compat_is_the_original_rule)
{
    const char *const files[] = {nik_only, npwp[0]};
    json_t *lines = ocr("compat", "KTP", files, 2);
    assert_verdict(json_array_get(lines, 0), 80, true, NULL);
    assert_verdict(json_array_get(lines, 1), 90, true, NULL);
    json_decref(lines);
}
END_TEST

static struct pu_cases cases = {.suite = "test_decision"};

static void add_case(Suite *s, const char *name, const TTest *test)
{
    pu_add_case(&cases, s, name, test, CASE_TIMEOUT, setup, teardown);
}

int main(void)
{
    if (pu_become_subreaper() != 0)
        perror("PR_SET_CHILD_SUBREAPER");
    Suite *s = suite_create("decision");
    add_case(s, "strict_review", strict_refuses_what_the_score_approves);
    add_case(s, "strict_approve", strict_approves_clean_cards);
    add_case(s, "compat", compat_is_the_original_rule);
    return pu_run_suite(s, "test_decision", dir);
}
