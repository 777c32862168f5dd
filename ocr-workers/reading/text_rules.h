/*
 * text_rules.h - cleaning rules for OCR'd values: edit distance, digit
 * repair where only digits are legal, letters-only words, closed
 * vocabularies snapped to their nearest entry, dates.
 */
#ifndef FILOT_TEXT_RULES_H
#define FILOT_TEXT_RULES_H

#include <stddef.h>

/* Edit distance between two ASCII strings (at most 63 characters each). */
int extract_edit_distance(const char *a, const char *b);

/*
 * Digit repair where only digits are legal: O/o/D/Q -> 0, I/l/i/|/! -> 1,
 * Z/z -> 2, S/s -> 5, G/b -> 6, B -> 8; spaces, '.', '-', ':' are dropped.
 * Writes the digits (NUL-terminated, at most cap - 1) and returns their
 * count, or -1 when another character appears.
 */
int extract_repair_digits(const char *in, char *out, size_t cap);

/* Two digits at s as a number. */
int text_two_digits(const char *s);

/* Upper-case letters of s appended to out (capacity cap). */
void text_append_letters(const char *s, char *out, size_t cap);

/* Snaps text to the closest entry of vocab (letters compared); NULL if far. */
const char *text_snap(const char *text, const char *const *vocab);

/*
 * Upper-case words of letters: digits that look like letters are mapped
 * back (0 -> O, 1 -> I, 5 -> S, 8 -> B), other characters dropped, spaces
 * collapsed.  keep lists extra characters to keep (e.g. "./,").
 */
void text_clean_words(const char *in, const char *keep, int map_digits, char *out, size_t cap);

/*
 * A person's name: text_clean_words() with "'.-" kept and look-alike
 * digits mapped, then every word without a letter dropped ("2", "-", a
 * misread colon) and the punctuation at the ends of each word stripped
 * ("'UMI" -> "UMI"; "MA'RUF" keeps its apostrophe, "MOH." its dot unless it
 * ends the name).  out is "" when fewer
 * than two letters remain: such a value is no name.
 */
void text_clean_name(const char *in, char *out, size_t cap);

/* A date DD-MM-YYYY from OCR text with digit repair; 0 or -1. */
int text_clean_date(const char *in, char *out, size_t cap);

#endif
