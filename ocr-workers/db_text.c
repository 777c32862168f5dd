/*
 * db_text.c - UTF-8 and jsonb clean-up before a value reaches PostgreSQL.
 */
#include "db_text.h"

#include <stdlib.h>
#include <string.h>

/* The replacement character U+FFFD in UTF-8. */
static const char REPLACEMENT[] = "\xEF\xBF\xBD";

/* True when c is a continuation byte within [lo, hi]. */
static int cont_in(unsigned char c, unsigned char lo, unsigned char hi)
{
    return c >= lo && c <= hi;
}

/*
 * Checks the lead byte and the continuation bytes against the table of
 * well-formed sequences (Unicode 15, table 3-7).  A NUL never passes as a
 * continuation byte, so the scan cannot run past the end of the string.
 */
size_t db_text_utf8_len(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    unsigned char c = p[0];
    if (c >= 0x01 && c <= 0x7F)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        return cont_in(p[1], 0x80, 0xBF) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        unsigned char lo = c == 0xE0 ? 0xA0 : 0x80;
        unsigned char hi = c == 0xED ? 0x9F : 0xBF;
        return cont_in(p[1], lo, hi) && cont_in(p[2], 0x80, 0xBF) ? 3 : 0;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        unsigned char lo = c == 0xF0 ? 0x90 : 0x80;
        unsigned char hi = c == 0xF4 ? 0x8F : 0xBF;
        return cont_in(p[1], lo, hi) && cont_in(p[2], 0x80, 0xBF) && cont_in(p[3], 0x80, 0xBF) ? 4
                                                                                               : 0;
    }
    return 0;
}

/* Counts the bytes that start no valid sequence (each is replaced alone). */
size_t db_text_invalid_bytes(const char *s)
{
    size_t bad = 0;
    while (*s != '\0') {
        size_t n = db_text_utf8_len(s);
        if (n == 0) {
            bad++;
            n = 1;
        }
        s += n;
    }
    return bad;
}

/* Copies s, writing U+FFFD (3 bytes) for each invalid byte. */
char *db_text_utf8_clean(const char *s)
{
    size_t bad = db_text_invalid_bytes(s);
    size_t len = strlen(s);
    char *out = malloc(len + bad * 2 + 1);
    if (out == NULL)
        return NULL;
    char *w = out;
    while (*s != '\0') {
        size_t n = db_text_utf8_len(s);
        if (n == 0) {
            memcpy(w, REPLACEMENT, 3);
            w += 3;
            s++;
            continue;
        }
        memcpy(w, s, n);
        w += n;
        s += n;
    }
    *w = '\0';
    return out;
}

/*
 * Dumps j and rewrites each \u0000 escape in place (same length).  A
 * backslash only occurs inside JSON strings and always starts an escape,
 * so stepping over whole escapes keeps "\\u0000" (a literal backslash
 * followed by u0000) intact.
 */
char *db_text_json(const json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    if (s == NULL)
        return NULL;
    for (char *p = s; *p != '\0'; p++) {
        if (*p != '\\' || p[1] == '\0')
            continue;
        if (p[1] == 'u' && strncmp(p + 2, "0000", 4) == 0)
            memcpy(p + 2, "fffd", 4);
        p++;
    }
    return s;
}
