/*
 * log.c - JSON lines on stdout, built with jansson.
 *
 * A line is written with one write(2), so lines of the supervisor and its
 * children sharing one stdout pipe do not interleave: writes up to PIPE_BUF
 * (4 KiB) are atomic, and lines stay short because document text and
 * field values are never logged.
 */
#include "log.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "json_text.h"

static const char *log_program = "filot";
static enum log_level log_min = LOG_INFO;
static int log_fd = STDOUT_FILENO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_init(const char *program, enum log_level min_level)
{
    log_program = program;
    log_min = min_level;
}

void log_set_fd(int fd)
{
    log_fd = fd;
}

int log_level_parse(const char *s, enum log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return -1;
}

/* Writes all of buf, retrying on short writes. */
static void write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n <= 0)
            return;
        buf += n;
        len -= (size_t)n;
    }
}

static void emit(json_t *obj)
{
    char *line =
        json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII | JSON_REAL_15);
    if (line == NULL)
        return;
    size_t len = strlen(line);
    char *withnl = realloc(line, len + 2);
    if (withnl == NULL) {
        free(line);
        return;
    }
    withnl[len] = '\n';
    write_all(log_fd, withnl, len + 1);
    free(withnl);
}

void log_vkv(enum log_level level, const char *message, va_list ap)
{
    if (level < log_min)
        return;
    char ts[40];
    clock_iso8601(clock_wall_ms(), ts, sizeof ts);
    json_t *obj = json_object();
    if (obj == NULL)
        return;
    json_object_set_new(obj, "time", json_string(ts));
    json_object_set_new(obj, "level", json_string(level_names[level]));
    json_object_set_new(obj, "program", json_string(log_program));
    json_object_set_new(obj, "pid", json_integer(getpid()));
    json_t *msg = json_string(message);
    json_object_set_new(obj, "message", msg ? msg : json_string("(invalid UTF-8 in message)"));
    for (;;) {
        int type = va_arg(ap, int);
        if (type == LF_END)
            break;
        const char *key = va_arg(ap, const char *);
        json_t *val = NULL;
        switch (type) {
        case LF_STR: {
            const char *s = va_arg(ap, const char *);
            val = s ? json_string(s) : json_null();
            if (val == NULL)
                val = json_string("(invalid UTF-8)");
            break;
        }
        case LF_INT:
            val = json_integer(va_arg(ap, long long));
            break;
        case LF_DBL:
            val = json_real(va_arg(ap, double));
            break;
        case LF_BOOL:
            val = json_boolean(va_arg(ap, int));
            break;
        case LF_JSON: {
            json_t *j = va_arg(ap, json_t *);
            val = j ? json_incref(j) : json_null();
            break;
        }
        default:
            val = json_null();
            break;
        }
        /* the fixed fields are never overwritten by a caller's field */
        if (json_object_get(obj, key) == NULL)
            json_object_set_new(obj, key, val);
        else
            json_decref(val);
    }
    emit(obj);
    json_decref(obj);
}

void log_kv(enum log_level level, const char *message, ...)
{
    va_list ap;
    va_start(ap, message);
    log_vkv(level, message, ap);
    va_end(ap);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (level < log_min)
        return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    log_kv(level, buf, LF_END);
}

void log_mask_id(const char *id, char *out, int outlen)
{
    int len = (int)strlen(id);
    if (outlen <= 0)
        return;
    if (len >= outlen)
        len = outlen - 1;
    for (int i = 0; i < len; i++)
        out[i] = (len > 8 && (i < 4 || i >= len - 4)) ? id[i] : '*';
    out[len] = '\0';
}

int log_refuse(const char *what, int code, char *err, size_t errlen, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "%s", msg);
    log_kv(LOG_WARN, what, LF_STR, "reason", msg, LF_INT, "code", (long long)code, LF_END);
    return code;
}
