/*
 * doc_parse.c - KTP / NPWP field extraction, scoring and decision.
 *
 * The extraction reproduces the original worker's JavaScript regexes
 * (doc/COMPATIBILITY.md 5.1/5.2: first match over the whole text, ASCII-only
 * case-insensitive labels and [A-Z], trimmed groups, only matched keys) with
 * hand-written matchers, and with these deliberate, versioned breaks (B10):
 *
 *  - "\s" never matches a line terminator (LF, CR, U+2028, U+2029): labels,
 *    separators and captures stay on one line, so "Nama : JOHN\nTempat" gives
 *    "JOHN", and "NIK\n3174..." no longer matches.
 *  - gender accepts '-' in its value: "LAKI-LAKI" instead of "LAKI".
 *  - NIK tolerance, only when the strict pattern finds nothing: spaced
 *    digit groups, ';' in the separator, 'O' for 0, on the label's line
 *    only; see nik_tolerant() for exactly what is accepted.
 *
 * Everything else (the Gol. Darah suffix, 17+ digit NIKs giving their first
 * 16, whitespace-only captures kept as "") is the original's behaviour.
 * Text is UTF-8 bytes; an invalid byte is simply a character no class
 * matches, so captures are always valid UTF-8.
 */
#include "ocr-workers/reading/doc_parse.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "common/status.h"

/* Character classes, combined as bit masks. */
enum {
    CL_ALPHA = 1u << 0, /* ASCII letters (JS [A-Z] with /i) */
    CL_DIGIT = 1u << 1,
    CL_SPACE = 1u << 2, /* JS \s minus line terminators */
    CL_COLON = 1u << 3,
    CL_DASH = 1u << 4,
    CL_SLASH = 1u << 5,
    CL_COMMA = 1u << 6,
    CL_DOT = 1u << 7,
    CL_SEMI = 1u << 8, /* only in the tolerant NIK separator */
};

#define CL_SEP     (CL_SPACE | CL_COLON)
#define CL_WORDS   (CL_ALPHA | CL_SPACE)
#define CL_GENDER  (CL_ALPHA | CL_SPACE | CL_DASH)
#define CL_ADDRESS (CL_ALPHA | CL_DIGIT | CL_SPACE | CL_COMMA | CL_DOT | CL_SLASH)
#define CL_DATE    (CL_DIGIT | CL_DASH | CL_SLASH)

/* A [begin, end) slice of the OCR text. */
struct slice {
    const char *begin;
    const char *end;
};

/*
 * Decodes one well-formed UTF-8 sequence (no overlongs, surrogates or values
 * above U+10FFFF).  Returns its length and sets *cp, or 0 for a byte that does
 * not start a valid sequence (including the terminating NUL).
 */
static size_t utf8_decode(const char *s, uint32_t *cp)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t len;
    uint32_t min;

    if (u[0] == 0)
        return 0;
    if (u[0] < 0x80) {
        *cp = u[0];
        return 1;
    }
    if (u[0] >= 0xc2 && u[0] <= 0xdf) {
        len = 2, min = 0x80, *cp = u[0] & 0x1f;
    } else if (u[0] >= 0xe0 && u[0] <= 0xef) {
        len = 3, min = 0x800, *cp = u[0] & 0x0f;
    } else if (u[0] >= 0xf0 && u[0] <= 0xf4) {
        len = 4, min = 0x10000, *cp = u[0] & 0x07;
    } else {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((u[i] & 0xc0) != 0x80)
            return 0;
        *cp = (*cp << 6) | (u[i] & 0x3f);
    }
    if (*cp < min || *cp > 0x10ffff || (*cp >= 0xd800 && *cp <= 0xdfff))
        return 0;
    return len;
}

/*
 * JS "\s" (doc/COMPATIBILITY.md 5.3) without the line terminators LF, CR, U+2028
 * and U+2029: the whitespace a capture may contain and trim() removes.
 */
static int is_hspace(uint32_t cp)
{
    switch (cp) {
    case '\t':
    case '\v':
    case '\f':
    case ' ':
    case 0x00a0:
    case 0x1680:
    case 0x202f:
    case 0x205f:
    case 0x3000:
    case 0xfeff:
        return 1;
    default:
        return cp >= 0x2000 && cp <= 0x200a;
    }
}

/* The class bit of one code point (0 if it is in none of the classes). */
static unsigned class_of(uint32_t cp)
{
    if ((cp >= 'A' && cp <= 'Z') || (cp >= 'a' && cp <= 'z'))
        return CL_ALPHA;
    if (cp >= '0' && cp <= '9')
        return CL_DIGIT;
    switch (cp) {
    case ':':
        return CL_COLON;
    case '-':
        return CL_DASH;
    case '/':
        return CL_SLASH;
    case ',':
        return CL_COMMA;
    case '.':
        return CL_DOT;
    case ';':
        return CL_SEMI;
    default:
        return is_hspace(cp) ? CL_SPACE : 0;
    }
}

/* Byte length of the character at p if it belongs to cls, else 0. */
static size_t char_in(const char *p, unsigned cls)
{
    uint32_t cp;
    size_t n = utf8_decode(p, &cp);

    return n && (class_of(cp) & cls) ? n : 0;
}

/* End of the longest run of cls characters starting at p (JS "[...]*"). */
static const char *skip(const char *p, unsigned cls)
{
    size_t n;

    while ((n = char_in(p, cls)) > 0)
        p += n;
    return p;
}

/* Start of the character that ends at p; valid only inside decoded text. */
static const char *prev_char(const char *p)
{
    do
        p--;
    while (((unsigned char)*p & 0xc0) == 0x80);
    return p;
}

/* String.trim() of a capture: strips leading and trailing CL_SPACE. */
static struct slice trim(struct slice s)
{
    s.begin = skip(s.begin, CL_SPACE);
    while (s.end > s.begin) {
        const char *q = prev_char(s.end);
        if (!char_in(q, CL_SPACE))
            break;
        s.end = q;
    }
    return s;
}

/* ASCII case-insensitive literal at p (JS /i on an ASCII label). */
static const char *literal(const char *p, const char *word)
{
    for (; *word; word++, p++) {
        unsigned char a = (unsigned char)*p, b = (unsigned char)*word;
        if (a >= 'A' && a <= 'Z')
            a += 'a' - 'A';
        if (b >= 'A' && b <= 'Z')
            b += 'a' - 'A';
        if (a != b)
            return NULL;
    }
    return p;
}

/*
 * A label is words separated by optional runs of a gap class, e.g.
 * Tempat[/\s]*Tgl\s*Lahir.  Because no gap class contains the first letter of
 * the next word, greedy gaps never need to backtrack.
 */
struct label_part {
    unsigned gap; /* class allowed before this word (0 for the first) */
    const char *word;
};

/* Matches a label at p; returns the end of the label or NULL. */
static const char *match_label(const char *p, const struct label_part *parts, size_t n)
{
    for (size_t i = 0; i < n && p; i++)
        p = literal(skip(p, parts[i].gap), parts[i].word);
    return p;
}

/*
 * What must follow a capture for the whole pattern to match; fills extra
 * (the birth date) when it does.  NULL means nothing must follow.
 */
typedef int (*tail_fn)(const char *after, struct slice *extra);

/*
 * Matches "[\s:]*(cls+)" + tail at sep, as a backtracking regex would: the
 * greedy separator first, then giving back one character at a time, so the
 * capture may start at any whitespace inside the separator (which is how
 * "Nama : 123" captures " ").  A capture class never contains ':'.
 */
static int capture_after(const char *sep, unsigned cls, tail_fn tail, struct slice *cap,
                         struct slice *extra)
{
    const char *start = skip(sep, CL_SEP);

    for (;;) {
        if (char_in(start, cls)) {
            const char *end = skip(start, cls);
            /* cls+ is greedy and nothing in tails starts with a cls char. */
            if (!tail || tail(end, extra)) {
                cap->begin = start;
                cap->end = end;
                return 1;
            }
        }
        if (start == sep)
            return 0;
        start = prev_char(start);
    }
}

/* Tail of the birth pattern: ",\s*([0-9\-\/]+)". */
static int birth_date_tail(const char *after, struct slice *date)
{
    if (*after != ',')
        return 0;
    date->begin = skip(after + 1, CL_SPACE);
    date->end = skip(date->begin, CL_DATE);
    return date->end > date->begin;
}

/*
 * First match of label + "[\s:]*(cls+)" + tail in the text, leftmost label
 * position first (String.match semantics).  Returns 1 and the untrimmed
 * capture(s), or 0.
 */
static int find_field(const char *text, const struct label_part *label, size_t nparts, unsigned cls,
                      tail_fn tail, struct slice *cap, struct slice *extra)
{
    for (const char *p = text; *p; p++) {
        const char *sep = match_label(p, label, nparts);
        if (sep && capture_after(sep, cls, tail, cap, extra))
            return 1;
    }
    return 0;
}

/*
 * Matches a fixed shape at p: '9' is any ASCII digit, other characters are
 * literal.  Returns the end of the match or NULL.
 */
static const char *match_shape(const char *p, const char *shape)
{
    for (; *shape; shape++, p++) {
        if (*shape == '9' ? !(*p >= '0' && *p <= '9') : *p != *shape)
            return NULL;
    }
    return p;
}

#define NPWP_SHAPE "99.999.999.9-999.999"
#define NIK_DIGITS 16
#define NIK_SHAPE  "9999999999999999"

/* Adds key = the trimmed slice.  Returns 0 or FILOT_ENOMEM. */
static int put(json_t *obj, const char *key, struct slice s)
{
    /* Captures hold only decoded characters, so they are valid UTF-8 and a
     * NULL here can only be an allocation failure. */
    s = trim(s);
    json_t *v = json_stringn(s.begin, (size_t)(s.end - s.begin));
    if (!v || json_object_set_new(obj, key, v) != 0)
        return FILOT_ENOMEM;
    return 0;
}

/* NIK[\s:]*([0-9]{16}): the original's pattern, minus line crossing. */
static int nik_strict(const char *text, char out[NIK_DIGITS + 1])
{
    static const struct label_part label[] = {{0, "NIK"}};

    for (const char *p = text; *p; p++) {
        const char *d = match_label(p, label, 1);
        if (!d)
            continue;
        d = skip(d, CL_SEP);
        if (match_shape(d, NIK_SHAPE)) {
            memcpy(out, d, NIK_DIGITS);
            out[NIK_DIGITS] = '\0';
            return 1;
        }
    }
    return 0;
}

/* A NIK digit as OCR may render it: '0'-'9', or 'O'/'o' read for 0. */
static int nik_digit(const char *p, char *digit)
{
    if (*p >= '0' && *p <= '9')
        *digit = *p;
    else if (*p == 'O' || *p == 'o')
        *digit = '0';
    else
        return 0;
    return 1;
}

/*
 * Fallback when nik_strict() finds nothing; only on the label's own line:
 * "NIK" + a run of spaces, ':' or ';' + digit groups separated by horizontal
 * whitespace, where 'O'/'o' read for zero counts as 0.  The first character
 * must be a real digit and the groups must hold exactly 16 digits (a longer
 * or shorter number is rejected, not cut).  Accepts e.g.
 * "NIK ; 3171 2345 6789 0001" and "NIK : 31740512345600O1".
 */
static int nik_tolerant(const char *text, char out[NIK_DIGITS + 1])
{
    static const struct label_part label[] = {{0, "NIK"}};

    for (const char *p = text; *p; p++) {
        const char *d = match_label(p, label, 1);
        if (!d)
            continue;
        d = skip(d, CL_SEP | CL_SEMI);
        if (!(*d >= '0' && *d <= '9'))
            continue;
        size_t n = 0;
        char c;
        while (n <= NIK_DIGITS && nik_digit(d, &c)) {
            if (n < NIK_DIGITS)
                out[n] = c;
            n++;
            d = skip(d + 1, CL_SPACE);
        }
        if (n == NIK_DIGITS) {
            out[n] = '\0';
            return 1;
        }
    }
    return 0;
}

/* Adds the KTP nik: strict first, then the tolerant reading.  0 or ENOMEM. */
static int parse_nik(json_t *obj, const char *text)
{
    char nik[NIK_DIGITS + 1];

    if (!nik_strict(text, nik) && !nik_tolerant(text, nik))
        return 0;
    json_t *v = json_string(nik);
    if (!v || json_object_set_new(obj, "nik", v) != 0)
        return FILOT_ENOMEM;
    return 0;
}

/* One "label [\s:]* (cls+)" field of a document. */
struct field_spec {
    const char *key;
    const struct label_part *label;
    size_t nparts;
    unsigned cls;
};

static const struct label_part L_NAMA[] = {{0, "Nama"}};
static const struct label_part L_ALAMAT[] = {{0, "Alamat"}};
static const struct label_part L_GENDER[] = {{0, "Jenis"}, {CL_SPACE, "Kelamin"}};
static const struct label_part L_AGAMA[] = {{0, "Agama"}};
static const struct label_part L_MARITAL[] = {{0, "Status"}, {CL_SPACE, "Perkawinan"}};
static const struct label_part L_BIRTH[] = {
    {0, "Tempat"}, {CL_SLASH | CL_SPACE, "Tgl"}, {CL_SPACE, "Lahir"}};

#define FIELD(k, l, c)                                                                             \
    {                                                                                              \
        k, l, sizeof(l) / sizeof((l)[0]), c                                                        \
    }
static const struct field_spec KTP_FIELDS[] = {
    FIELD("name", L_NAMA, CL_WORDS),
    FIELD("address", L_ALAMAT, CL_ADDRESS),
    FIELD("gender", L_GENDER, CL_GENDER),
    FIELD("religion", L_AGAMA, CL_WORDS),
    FIELD("maritalStatus", L_MARITAL, CL_WORDS),
};
static const struct field_spec NPWP_FIELDS[] = {FIELD("name", L_NAMA, CL_WORDS)};

/* Adds every simple field of a table that matches.  0 or FILOT_ENOMEM. */
static int parse_fields(json_t *obj, const char *text, const struct field_spec *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct slice cap;
        if (find_field(text, f[i].label, f[i].nparts, f[i].cls, NULL, &cap, NULL) &&
            put(obj, f[i].key, cap) != 0)
            return FILOT_ENOMEM;
    }
    return 0;
}

/* birthPlace and birthDate: both or neither.  0 or FILOT_ENOMEM. */
static int parse_birth(json_t *obj, const char *text)
{
    struct slice place, date;

    if (!find_field(text, L_BIRTH, sizeof(L_BIRTH) / sizeof(L_BIRTH[0]), CL_WORDS, birth_date_tail,
                    &place, &date))
        return 0;
    if (put(obj, "birthPlace", place) != 0 || put(obj, "birthDate", date) != 0)
        return FILOT_ENOMEM;
    return 0;
}

/* The first NN.NNN.NNN.N-NNN.NNN anywhere (unanchored).  0 or FILOT_ENOMEM. */
static int parse_npwp_number(json_t *obj, const char *text)
{
    for (const char *p = text; *p; p++) {
        const char *end = match_shape(p, NPWP_SHAPE);
        if (end)
            return put(obj, "npwpNumber", (struct slice){p, end});
    }
    return 0;
}

/*
 * Key order follows the original's object literal: KTP nik, name,
 * birthPlace, birthDate, address, gender, religion, maritalStatus.
 */
json_t *doc_parse(enum doc_type t, const char *ocr_text)
{
    json_t *obj = json_object();
    int rc = 0;

    if (!obj || !ocr_text)
        return obj;
    if (t == DOC_KTP) {
        rc = parse_nik(obj, ocr_text);
        if (rc == 0)
            rc = parse_fields(obj, ocr_text, KTP_FIELDS, 1);
        if (rc == 0)
            rc = parse_birth(obj, ocr_text);
        if (rc == 0)
            rc = parse_fields(obj, ocr_text, KTP_FIELDS + 1,
                              sizeof(KTP_FIELDS) / sizeof(KTP_FIELDS[0]) - 1);
    } else if (t == DOC_NPWP) {
        rc = parse_npwp_number(obj, ocr_text);
        if (rc == 0)
            rc = parse_fields(obj, ocr_text, NPWP_FIELDS, 1);
    }
    if (rc != 0) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

int doc_type_parse(const char *s, enum doc_type *out)
{
    if (!s || !out)
        return FILOT_EINVAL;
    if (strcmp(s, "KTP") == 0)
        *out = DOC_KTP;
    else if (strcmp(s, "NPWP") == 0)
        *out = DOC_NPWP;
    else
        return FILOT_EINVAL;
    return 0;
}

const char *doc_type_name(enum doc_type t)
{
    switch (t) {
    case DOC_KTP:
        return "KTP";
    case DOC_NPWP:
        return "NPWP";
    default:
        return "NONE";
    }
}

/* JavaScript truthiness of a JSON value (a parse holds strings only). */
static int js_truthy(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_STRING:
        return json_string_length(v) > 0;
    case JSON_INTEGER:
        return json_integer_value(v) != 0;
    case JSON_REAL:
        return json_real_value(v) != 0.0 && !isnan(json_real_value(v));
    case JSON_TRUE:
    case JSON_OBJECT:
    case JSON_ARRAY:
        return 1;
    default:
        return 0;
    }
}

/* String .length in UTF-16 code units (jansson strings are valid UTF-8). */
static size_t utf16_length(const json_t *s)
{
    const unsigned char *p = (const unsigned char *)json_string_value(s);
    size_t len = json_string_length(s), units = 0;

    for (size_t i = 0; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            units += p[i] >= 0xf0 ? 2 : 1;
    }
    return units;
}

/* /^shape$/ on a string member (non-strings never match here). */
static int member_is(const json_t *obj, const char *key, const char *shape)
{
    const json_t *v = json_object_get(obj, key);

    if (!json_is_string(v))
        return 0;
    const char *s = json_string_value(v);
    const char *end = match_shape(s, shape);
    return end && (size_t)(end - s) == json_string_length(v);
}

/*
 * computeAIScore: truthy values / keys * 60 plus the type bonus, rounded like
 * Math.round and capped at 100.  An empty or missing parse scores 0 where the
 * original produced NaN (B3).
 */
int doc_score(enum doc_type t, const json_t *parsed)
{
    size_t keys = json_object_size(parsed), truthy = 0;
    const char *key;
    json_t *v;

    if (keys == 0)
        return 0;
    /* jansson's iteration API takes a non-const object; nothing is changed. */
    json_object_foreach((json_t *)parsed, key, v) truthy += (size_t)js_truthy(v);
    double score = (double)truthy / (double)keys * 60.0;
    if (t == DOC_KTP) {
        if (member_is(parsed, "nik", NIK_SHAPE))
            score += 20;
        const json_t *name = json_object_get(parsed, "name");
        if (json_is_string(name) && utf16_length(name) > 3)
            score += 10;
    } else if (t == DOC_NPWP && member_is(parsed, "npwpNumber", NPWP_SHAPE)) {
        score += 30;
    }
    score = floor(score + 0.5);
    return score > 100 ? 100 : (int)score;
}

void doc_decide(int score, struct doc_verdict *v)
{
    doc_verdict_set(score >= DOC_APPROVE_SCORE, v);
}

void doc_verdict_set(bool approve, struct doc_verdict *v)
{
    if (approve) {
        v->decision = "auto_approve";
        v->outcome = "auto_approved";
    } else {
        v->decision = "needs_review";
        v->outcome = "pending_manual_review";
    }
}
