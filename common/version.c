/*
 * version.c - `--version` for all four programs, in one place.
 */
#include "version.h"

#include <stdio.h>
#include <string.h>

#ifndef FILOT_VERSION
#define FILOT_VERSION "unknown"
#endif

const char *filot_version(void)
{
    return FILOT_VERSION;
}

bool version_requested(int argc, char **argv, const char *program)
{
    if (argc < 2 || (strcmp(argv[1], "--version") != 0 && strcmp(argv[1], "-V") != 0))
        return false;
    printf("%s %s\n", program, filot_version());
    return true;
}
