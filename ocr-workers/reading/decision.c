/*
 * decision.c - auto_approve or manual review, with the reasons (see
 * decision.h).
 */
#include "ocr-workers/reading/decision.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "common/status.h"
#include "ocr-workers/reading/number_reader.h"
#include "ocr-workers/reading/text_rules.h"

#define KTP_MIN_WORDS  3  /* of KTP_WORDS, for the page to look like a KTP */
#define NPWP_MIN_WORDS 2  /* of NPWP_WORDS, for the page to look like an NPWP card */
#define MAX_TOKEN      24 /* longer letter runs are not words of a card */

/*
 * Words printed on every card of the type and on no card of the other
 * (NIK, NAMA and ALAMAT are on both): header and label words.
 */
static const char *const KTP_WORDS[] = {
    "PROVINSI", "KABUPATEN", "TEMPAT",          "LAHIR",      "KELAMIN",   "DARAH",
    "DESA",     "KECAMATAN", "AGAMA",           "PERKAWINAN", "PEKERJAAN", "BERLAKU",
    "HINGGA",   "PENDUDUK",  "KEWARGANEGARAAN", NULL};
static const char *const NPWP_WORDS[] = {"NPWP",     "KEMENTERIAN", "KEUANGAN",  "DIREKTORAT",
                                         "JENDERAL", "PAJAK",       "TERDAFTAR", "PRATAMA",
                                         "KPP",      NULL};

/* Essential fields of each type, in the order their reasons are listed. */
static const char *const KTP_ESSENTIAL[] = {"nik", "name", "birthDate", "gender", NULL};
static const char *const NPWP_ESSENTIAL[] = {"npwpNumber", "name", NULL};

/* Whether an upper-case letter run is word w, allowing a quarter of its letters wrong. */
static bool near_word(const char *tok, const char *w)
{
    int len = (int)strlen(w), allow = len >= 5 ? len / 4 : 0;
    int diff = (int)strlen(tok) - len;
    if (diff > allow || -diff > allow)
        return false;
    return extract_edit_distance(tok, w) <= allow;
}

/* near_word(), also with "RN" read back as the "M" it usually is ("Agarna"). */
static bool token_is(const char *tok, const char *w)
{
    char m[MAX_TOKEN + 1];
    size_t n = 0;
    for (const char *p = tok; *p; p++)
        if (p[0] == 'R' && p[1] == 'N') {
            m[n++] = 'M';
            p++;
        } else {
            m[n++] = *p;
        }
    m[n] = '\0';
    return near_word(tok, w) || near_word(m, w);
}

/* A character of a word as OCR may render it: digits that look like letters mapped back. */
static char word_char(char c)
{
    static const char FROM[] = "0158", TO[] = "OISB";
    const char *d = strchr(FROM, c);
    if (c != '\0' && d)
        return TO[d - FROM];
    return isalpha((unsigned char)c) ? (char)toupper((unsigned char)c) : '\0';
}

/* Bit i set when words[i] is one of the text's words (runs of word_char()s). */
static unsigned words_found(const char *text, const char *const *words)
{
    unsigned found = 0;
    char tok[MAX_TOKEN + 1];
    for (const char *p = text ? text : ""; *p;) {
        size_t n = 0;
        while (*p && !word_char(*p))
            p++;
        for (; *p && word_char(*p); p++, n++)
            if (n < MAX_TOKEN)
                tok[n] = word_char(*p);
        if (n < 3 || n > MAX_TOKEN)
            continue;
        tok[n] = '\0';
        for (unsigned i = 0; words[i]; i++)
            if (token_is(tok, words[i]))
                found |= 1u << i;
    }
    return found;
}

void decision_type_words(enum doc_type t, const char *text, int *own, int *other)
{
    int ktp = __builtin_popcount(words_found(text, KTP_WORDS));
    int npwp = __builtin_popcount(words_found(text, NPWP_WORDS));
    *own = t == DOC_NPWP ? npwp : ktp;
    *other = t == DOC_NPWP ? ktp : npwp;
}

/* Appends "<key><suffix>" (or just suffix when key is NULL) to reasons. */
static int add_reason(json_t *reasons, const char *key, const char *suffix)
{
    char r[64];
    snprintf(r, sizeof r, "%s%s", key ? key : "", suffix);
    return json_array_append_new(reasons, json_string(r)) == 0 ? 0 : FILOT_ENOMEM;
}

/* A non-empty string member of parsed, or NULL. */
static const char *field(const json_t *parsed, const char *key)
{
    const char *s = json_string_value(json_object_get(parsed, key));
    return s && s[0] ? s : NULL;
}

/*
 * The strict checks: type words, essential fields and their confidence,
 * NIK against birth date and gender.
 */
static int strict_reasons(enum doc_type t, const json_t *parsed, const char *text, json_t *reasons)
{
    int own, other, rc = 0;
    decision_type_words(t, text, &own, &other);
    if (other >= 2 && other > own)
        rc |= add_reason(reasons, NULL, "type_mismatch");
    else if (own < (t == DOC_NPWP ? NPWP_MIN_WORDS : KTP_MIN_WORDS))
        rc |= add_reason(reasons, NULL, "type_unconfirmed");
    const json_t *conf = json_object_get(parsed, "fieldConfidence");
    for (const char *const *k = t == DOC_NPWP ? NPWP_ESSENTIAL : KTP_ESSENTIAL; *k; k++) {
        const json_t *c = json_object_get(conf, *k);
        if (!field(parsed, *k))
            rc |= add_reason(reasons, *k, "_missing");
        else if (!json_is_integer(c) || json_integer_value(c) < DECISION_MIN_CONFIDENCE)
            rc |= add_reason(reasons, *k, "_low_confidence");
    }
    const char *nik = field(parsed, "nik"), *birth = field(parsed, "birthDate"),
               *gender = field(parsed, "gender");
    if (t == DOC_KTP && nik) {
        int bits = extract_nik_check(nik, birth, gender);
        if (birth && !(bits & NIK_BIRTH))
            rc |= add_reason(reasons, NULL, "nik_birthdate_mismatch");
        if (gender && !(bits & NIK_GENDER))
            rc |= add_reason(reasons, NULL, "nik_gender_mismatch");
    }
    return rc ? FILOT_ENOMEM : 0;
}

int decision_decide(bool compat, enum doc_type t, int score, const json_t *parsed, const char *text,
                    struct doc_verdict *v, json_t *reasons)
{
    int rc = 0;
    if (score < DOC_APPROVE_SCORE)
        rc = add_reason(reasons, NULL, "score_below_threshold");
    if (rc == 0 && !compat)
        rc = strict_reasons(t, parsed, text, reasons);
    doc_verdict_set(rc == 0 && json_array_size(reasons) == 0, v);
    return rc;
}
