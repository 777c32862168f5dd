/*
 * log.h - one JSON object per line on stdout (stderr for the CLI).
 *
 * Every line carries time, level, program, pid and message; callers add
 * fields as alternating key / value pairs.  Values that could hold a NIK or
 * NPWP go through log_mask_id() first: identity numbers never reach a log in
 * clear.
 */
#ifndef FILOT_LOG_H
#define FILOT_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Field types for log_kv(). */
enum log_type { LF_END = 0, LF_STR, LF_INT, LF_DBL, LF_BOOL, LF_JSON };

void log_init(const char *program, enum log_level min_level);

/*
 * Sends the lines to fd instead of stdout.  The daemons keep stdout (their
 * log contract); filot-ocr passes STDERR_FILENO, because its stdout carries
 * results only.
 */
void log_set_fd(int fd);
int log_level_parse(const char *s, enum log_level *out);

/*
 * log_kv(LOG_INFO, "Worker started", LF_INT, "index", (long long)3,
 *        LF_STR, "state", "idle", LF_END);
 * LF_INT takes long long, LF_DBL double, LF_BOOL int, LF_STR const char *
 * (NULL is written as null), LF_JSON json_t * (borrowed: the caller keeps
 * its reference; NULL is written as null).
 */
void log_kv(enum log_level level, const char *message, ...);
void log_vkv(enum log_level level, const char *message, va_list ap);

/* Plain message, no extra fields. */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Refuses an input: writes the reason into err (when given) and logs it
 * once at warn level as "<what>" with the reason and code.  Returns code,
 * so callers can write `return log_refuse(...)`.
 */
int log_refuse(const char *what, int code, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/*
 * Masks an identity number: keeps the first 4 and last 4 characters and
 * replaces the rest with '*' (the original's rule).  Short values are fully
 * masked.  out must hold strlen(id) + 1 bytes.
 */
void log_mask_id(const char *id, char *out, int outlen);

#endif
