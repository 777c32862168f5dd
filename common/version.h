/*
 * version.h - the release every program reports: FILOT_VERSION, which the
 * Makefile takes from the newest released heading of CHANGELOG.md.
 */
#ifndef FILOT_VERSION_H
#define FILOT_VERSION_H

#include <stdbool.h>

/* "0.1.0" (or "unknown" in a build without the Makefile's definition). */
const char *filot_version(void);

/*
 * Answers `PROGRAM --version` (or -V) as the first argument: prints
 * "<program> <version>" on stdout and returns true; the caller exits 0.
 * Any other command line returns false and prints nothing.
 */
bool version_requested(int argc, char **argv, const char *program);

#endif
