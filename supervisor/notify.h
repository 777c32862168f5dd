/*
 * notify.h - systemd readiness and watchdog notifications (sd_notify).
 *
 * Outside systemd (no NOTIFY_SOCKET) every call is a silent no-op.  A send
 * that fails (socket gone) logs one warning per process and is otherwise
 * ignored: notification never makes the daemon fail.  Call from the main
 * thread.
 */
#ifndef FILOT_NOTIFY_H
#define FILOT_NOTIFY_H

#include <stdint.h>

/* Sends READY=1, plus STATUS=status when status is not NULL. */
void notify_ready(const char *status);

/* Sends STATUS=<formatted text>; newlines are replaced by spaces. */
void notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Sends STOPPING=1. */
void notify_stopping(void);

/* Sends WATCHDOG=1 (a keep-alive ping). */
void notify_watchdog(void);

/*
 * Sets *usec to how often to call notify_watchdog(): half of WATCHDOG_USEC
 * when the service manager enabled the watchdog for this process, else 0.
 */
void notify_watchdog_interval_us(uint64_t *usec);

#endif
