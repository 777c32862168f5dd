/*
 * notify.c - thin wrapper over libsystemd's sd_notify: readiness, status
 * text, stopping and watchdog pings.  Never fails; warns once.
 */
#include "supervisor/notify.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "common/log.h"

#define NOTIFY_STATUS_MAX 256

static atomic_bool notify_warned;

/* Sends one notification; logs a single warning per process on failure. */
static void notify_send(const char *state)
{
    int rc = sd_notify(0, state);
    if (rc < 0 && !atomic_exchange(&notify_warned, true))
        log_kv(LOG_WARN, "sd_notify failed; further failures are not logged", LF_STR, "error",
               strerror(-rc), LF_END);
}

/* Writes "STATUS=<text>" into buf, turning newlines into spaces. */
static void status_line(char *buf, size_t len, const char *text)
{
    snprintf(buf, len, "STATUS=%s", text);
    for (char *p = buf; *p != '\0'; p++) {
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    }
}

/* Sends READY=1, with STATUS= when status is given. */
void notify_ready(const char *status)
{
    if (status == NULL) {
        notify_send("READY=1");
        return;
    }
    char line[NOTIFY_STATUS_MAX + 16];
    char msg[sizeof line + 16];
    status_line(line, sizeof line, status);
    snprintf(msg, sizeof msg, "READY=1\n%s", line);
    notify_send(msg);
}

/* Sends STATUS= with printf-style text. */
void notify_status(const char *fmt, ...)
{
    char text[NOTIFY_STATUS_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    char line[NOTIFY_STATUS_MAX + 16];
    status_line(line, sizeof line, text);
    notify_send(line);
}

/* Sends STOPPING=1. */
void notify_stopping(void)
{
    notify_send("STOPPING=1");
}

/* Sends WATCHDOG=1. */
void notify_watchdog(void)
{
    notify_send("WATCHDOG=1");
}

/* Sets *usec to half the watchdog timeout, or 0 when it is disabled. */
void notify_watchdog_interval_us(uint64_t *usec)
{
    uint64_t timeout = 0;
    int rc = sd_watchdog_enabled(0, &timeout);
    if (rc < 0) {
        log_kv(LOG_WARN, "Ignoring an invalid WATCHDOG_USEC / WATCHDOG_PID", LF_STR, "error",
               strerror(-rc), LF_END);
        *usec = 0;
        return;
    }
    *usec = rc > 0 ? timeout / 2 : 0;
}
