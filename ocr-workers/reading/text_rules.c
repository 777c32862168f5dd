/*
 * text_rules.c - cleaning rules for OCR'd values (see text_rules.h).
 */
#include "ocr-workers/reading/text_rules.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

int extract_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    int d[64], prev;
    if (la > 63 || lb > 63)
        return 64;
    for (size_t j = 0; j <= lb; j++)
        d[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        prev = d[0];
        d[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int cur = d[j];
            int sub = prev + (a[i - 1] != b[j - 1]);
            int best = d[j] + 1 < d[j - 1] + 1 ? d[j] + 1 : d[j - 1] + 1;
            d[j] = sub < best ? sub : best;
            prev = cur;
        }
    }
    return d[lb];
}

/* Digit for a character where only digits are legal; -1 if none, -2 to drop. */
static int repair_char(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    switch (c) {
    case 'O':
    case 'o':
    case 'D':
    case 'Q':
        return 0;
    case 'I':
    case 'l':
    case 'i':
    case '|':
    case '!':
    case 'L':
        return 1;
    case 'Z':
    case 'z':
        return 2;
    case 'S':
    case 's':
        return 5;
    case 'G':
    case 'b':
        return 6;
    case '?': /* OCR-A's 7, measured on the eval set */
        return 7;
    case 'B':
        return 8;
    case ' ':
    case '.':
    case '-':
    case ':':
    case ',':
        return -2;
    default:
        return -1;
    }
}

int extract_repair_digits(const char *in, char *out, size_t cap)
{
    size_t n = 0;
    if (cap == 0)
        return -1;
    for (const char *p = in; *p; p++) {
        int d = repair_char(*p);
        if (d == -2)
            continue;
        if (d < 0 || n + 1 >= cap) {
            out[0] = '\0';
            return -1;
        }
        out[n++] = (char)('0' + d);
    }
    out[n] = '\0';
    return (int)n;
}

/* Two digits at s as a number. */
int text_two_digits(const char *s)
{
    return (s[0] - '0') * 10 + (s[1] - '0');
}

/* Upper-case letters of s appended to out (capacity cap). */
void text_append_letters(const char *s, char *out, size_t cap)
{
    size_t n = strlen(out);
    for (; *s && n + 1 < cap; s++)
        if (isalpha((unsigned char)*s))
            out[n++] = (char)toupper((unsigned char)*s);
    out[n] = '\0';
}

/* Snaps text to the closest entry of vocab (letters compared); NULL if far. */
const char *text_snap(const char *text, const char *const *vocab)
{
    char t[64] = "";
    text_append_letters(text, t, sizeof t);
    const char *best = NULL;
    int best_d = 99;
    for (size_t i = 0; vocab[i]; i++) {
        char v[64] = "";
        text_append_letters(vocab[i], v, sizeof v);
        int len = (int)strlen(v) > 0 ? (int)strlen(v) : 1;
        int d = v[0] ? extract_edit_distance(t, v) : (strcmp(text, vocab[i]) == 0 ? 0 : 99);
        if (d <= len / 3 && d < best_d) {
            best = vocab[i];
            best_d = d;
        }
    }
    return best;
}

/*
 * Upper-case words of letters: digits that look like letters are mapped
 * back (0 -> O, 1 -> I, 5 -> S, 8 -> B), other characters dropped, spaces
 * collapsed.  keep lists extra characters to keep (e.g. "./,").
 */
void text_clean_words(const char *in, const char *keep, int map_digits, char *out, size_t cap)
{
    size_t n = 0;
    for (const char *p = in; *p && n + 1 < cap; p++) {
        char c = (char)toupper((unsigned char)*p);
        if (map_digits && strchr("0158", c))
            c = c == '0' ? 'O' : c == '1' ? 'I' : c == '5' ? 'S' : 'B';
        if (c == ' ' || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            (c && strchr(keep, c))) {
            if (c == ' ' && (n == 0 || out[n - 1] == ' '))
                continue;
            out[n++] = c;
        }
    }
    while (n > 0 && strchr(" ,", out[n - 1]))
        n--;
    out[n] = '\0';
}

void text_clean_name(const char *in, char *out, size_t cap)
{
    char words[256];
    text_clean_words(in, "'.-", 1, words, sizeof words);
    size_t n = 0, letters = 0;
    out[0] = '\0';
    for (char *save = NULL, *w = strtok_r(words, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
        while (*w && !isalpha((unsigned char)*w))
            w++;
        size_t len = strlen(w);
        while (len > 0 && !isalpha((unsigned char)w[len - 1]))
            len--;
        if (len > 0 && w[len] == '.')
            len++; /* "MOH. ASEP", "HJ. LIDYA": an abbreviation keeps its dot */
        if (len == 0 || n + len + 2 > cap)
            continue;
        for (size_t i = 0; i < len; i++)
            letters += isalpha((unsigned char)w[i]) != 0;
        n += (size_t)snprintf(out + n, cap - n, "%s%.*s", n ? " " : "", (int)len, w);
    }
    while (n > 0 && out[n - 1] == '.')
        out[--n] = '\0'; /* not after the last word */
    if (letters < 2)
        out[0] = '\0';
}

/* A date DD-MM-YYYY from OCR text with digit repair; 0 or -1. */
int text_clean_date(const char *in, char *out, size_t cap)
{
    char d[32];
    int n = extract_repair_digits(in, d, sizeof d);
    if (n == 9) /* "1-28-02-2030": a colon read as a digit */
        memmove(d, d + 1, (size_t)n--);
    if (n != 8 || cap < 11)
        return -1;
    snprintf(out, cap, "%.2s-%.2s-%.4s", d, d + 2, d + 4);
    return text_two_digits(d) >= 1 && text_two_digits(d) <= 31 && text_two_digits(d + 2) >= 1 &&
                   text_two_digits(d + 2) <= 12
               ? 0
               : -1;
}
