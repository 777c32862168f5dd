/*
 * util.c - helpers shared by the libFuzzer targets.
 */
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

char *fuzz_cstring(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (s == NULL)
        fuzz_fail("out of memory");
    if (size > 0)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

void fuzz_fail(const char *what)
{
    fprintf(stderr, "fuzz property violated: %s\n", what);
    abort();
}

void fuzz_check_terminated(const char *s, size_t cap, const char *what)
{
    if (memchr(s, '\0', cap) == NULL)
        fuzz_fail(what);
}

void fuzz_quiet_logs(void)
{
    log_init("fuzz", LOG_ERROR);
}
