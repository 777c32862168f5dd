/*
 * db_text.h - values made acceptable to PostgreSQL before they are bound.
 *
 * A text column takes only valid UTF-8 without NUL bytes (a C string cannot
 * carry a NUL, so text ends at the first one), and jsonb refuses the escape
 * \u0000.  Rather than failing the write, invalid bytes become U+FFFD and
 * \u0000 escapes become \ufffd.
 */
#ifndef FILOT_DB_TEXT_H
#define FILOT_DB_TEXT_H

#include <jansson.h>
#include <stddef.h>

/*
 * Length of the valid UTF-8 sequence at s (1 to 4 bytes), or 0 when the byte
 * at s does not start one.  Strict like PostgreSQL: no overlong forms, no
 * surrogates, nothing above U+10FFFF.  s must not point at the final NUL.
 */
size_t db_text_utf8_len(const char *s);

/* Number of bytes in s that do not belong to a valid UTF-8 sequence. */
size_t db_text_invalid_bytes(const char *s);

/*
 * A malloc'd copy of s with every invalid byte replaced by U+FFFD; NULL
 * when out of memory.  The caller frees it.
 */
char *db_text_utf8_clean(const char *s);

/*
 * j serialised compactly (like JSON.stringify) with \u0000 escapes
 * rewritten as \ufffd; malloc'd, the caller frees it.  NULL when out of
 * memory or when j holds a string that is not valid UTF-8.
 */
char *db_text_json(const json_t *j);

#endif
