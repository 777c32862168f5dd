/*
 * util.h - helpers shared by the libFuzzer targets (tests/fuzz/fuzz_*.c).
 */
#ifndef FILOT_FUZZ_UTIL_H
#define FILOT_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

/*
 * A malloc'd NUL-terminated copy of data[0..size) (an embedded NUL simply
 * ends the C string early, as it would for the real caller).  Aborts when
 * out of memory: a fuzz run has nothing sensible to do then.
 */
char *fuzz_cstring(const uint8_t *data, size_t size);

/* Aborts with a message on stderr: a property the code promises does not hold. */
void fuzz_fail(const char *what) __attribute__((noreturn));

/* Calls fuzz_fail(what) unless s is a NUL-terminated string within cap bytes. */
void fuzz_check_terminated(const char *s, size_t cap, const char *what);

/* Silences the JSON log below error level (refusals are logged at warn). */
void fuzz_quiet_logs(void);

#endif
