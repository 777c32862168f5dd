/*
 * pii.c - identity-number masking for published results.
 */
#include "pii.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "../common/log.h"

#define MIN_DIGITS 12
#define KEEP       4

void pii_mask_parsed(json_t *parsed)
{
    static const char *const keys[] = {"nik", "npwpNumber"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const char *v = json_string_value(json_object_get(parsed, keys[i]));
        if (v == NULL)
            continue;
        size_t n = strlen(v);
        char *masked = malloc(n + 1);
        if (masked == NULL)
            continue;
        log_mask_id(v, masked, (int)n + 1);
        json_object_set_new(parsed, keys[i], json_string(masked));
        free(masked);
    }
}

static bool is_sep(char c)
{
    return c == '.' || c == '-' || c == ' ';
}

/* Length of the number starting at s (digits and single separators), and its digit count. */
static size_t number_span(const char *s, size_t *digits)
{
    size_t i = 0;
    *digits = 0;
    while (s[i] != '\0') {
        if (isdigit((unsigned char)s[i])) {
            (*digits)++;
            i++;
        } else if (is_sep(s[i]) && isdigit((unsigned char)s[i + 1])) {
            i++;
        } else {
            break;
        }
    }
    return i;
}

char *pii_mask_text(const char *text)
{
    char *out = strdup(text);
    if (out == NULL)
        return NULL;
    for (size_t i = 0; out[i] != '\0';) {
        if (!isdigit((unsigned char)out[i])) {
            i++;
            continue;
        }
        size_t digits;
        size_t span = number_span(out + i, &digits);
        if (digits >= MIN_DIGITS) {
            size_t seen = 0;
            for (size_t k = i; k < i + span; k++) {
                if (!isdigit((unsigned char)out[k]))
                    continue;
                if (seen >= KEEP && seen < digits - KEEP)
                    out[k] = '*';
                seen++;
            }
        }
        i += span;
    }
    return out;
}
