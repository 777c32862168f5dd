/*
 * test_notify.c - sd_notify wrapper: datagrams on a fake NOTIFY_SOCKET,
 * the watchdog interval from WATCHDOG_USEC / WATCHDOG_PID, and silence
 * when the socket is missing or unset.
 */
#include <check.h>

#include "check_run.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/log.h"
#include "supervisor/notify.h"

static char sock_dir[64];
static char sock_path[96];
static int sock_fd = -1;

/* Binds a datagram socket in a fresh temp dir and exports NOTIFY_SOCKET. */
static void setup_socket(void)
{
    snprintf(sock_dir, sizeof sock_dir, "/tmp/test_notify_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(sock_dir));
    snprintf(sock_path, sizeof sock_path, "%s/notify.sock", sock_dir);
    sock_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(sock_fd, 0);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", sock_path);
    ck_assert_int_eq(bind(sock_fd, (struct sockaddr *)&sun, sizeof sun), 0);
    struct timeval tv = {.tv_sec = 2};
    setsockopt(sock_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ck_assert_int_eq(setenv("NOTIFY_SOCKET", sock_path, 1), 0);
}

/* Closes the socket and removes the temp dir. */
static void teardown_socket(void)
{
    if (sock_fd >= 0)
        close(sock_fd);
    sock_fd = -1;
    unlink(sock_path);
    rmdir(sock_dir);
    unsetenv("NOTIFY_SOCKET");
}

/* Receives one datagram as a string (fails the test on timeout). */
static void recv_msg(char *buf, size_t len)
{
    ssize_t n = recv(sock_fd, buf, len - 1, 0);
    ck_assert_msg(n > 0, "no datagram received");
    buf[n] = '\0';
}

START_TEST(test_ready_and_status)
{
    char buf[512];
    notify_ready("x");
    recv_msg(buf, sizeof buf);
    ck_assert_str_eq(buf, "READY=1\nSTATUS=x");

    notify_ready(NULL);
    recv_msg(buf, sizeof buf);
    ck_assert_str_eq(buf, "READY=1");

    notify_status("%d workers ready, gpu %s", 2, "up");
    recv_msg(buf, sizeof buf);
    ck_assert_str_eq(buf, "STATUS=2 workers ready, gpu up");

    /* A newline would start a new assignment: it must be flattened. */
    notify_status("line one\nREADY=1");
    recv_msg(buf, sizeof buf);
    ck_assert_str_eq(buf, "STATUS=line one READY=1");
}
END_TEST

START_TEST(test_stopping_and_watchdog)
{
    char buf[512];
    notify_stopping();
    recv_msg(buf, sizeof buf);
    ck_assert_str_eq(buf, "STOPPING=1");
    notify_watchdog();
    recv_msg(buf, sizeof buf);
    ck_assert_str_eq(buf, "WATCHDOG=1");
}
END_TEST

START_TEST(test_watchdog_interval)
{
    char pid[32];
    snprintf(pid, sizeof pid, "%d", (int)getpid());
    uint64_t usec = 1;

    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    notify_watchdog_interval_us(&usec);
    ck_assert_uint_eq(usec, 0);

    setenv("WATCHDOG_USEC", "200000", 1);
    setenv("WATCHDOG_PID", pid, 1);
    notify_watchdog_interval_us(&usec);
    ck_assert_uint_eq(usec, 100000);

    /* Meant for another process: disabled. */
    setenv("WATCHDOG_PID", "1", 1);
    usec = 1;
    notify_watchdog_interval_us(&usec);
    ck_assert_uint_eq(usec, 0);

    /* Garbage: disabled, no failure. */
    setenv("WATCHDOG_PID", pid, 1);
    setenv("WATCHDOG_USEC", "soon", 1);
    usec = 1;
    notify_watchdog_interval_us(&usec);
    ck_assert_uint_eq(usec, 0);
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
}
END_TEST

/* Counts the occurrences of needle in the file at path. */
static int count_in_file(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    int count = 0;
    for (const char *p = strstr(buf, needle); p != NULL; p = strstr(p + 1, needle))
        count++;
    return count;
}

START_TEST(test_missing_socket_is_harmless)
{
    /* Capture our log (stdout) to count the warnings. */
    char path[] = "/tmp/test_notify_log_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    int saved = dup(STDOUT_FILENO);
    ck_assert_int_ge(saved, 0);
    ck_assert_int_ge(dup2(fd, STDOUT_FILENO), 0);

    /* Socket path that does not exist: sd_notify fails, we only warn. */
    setenv("NOTIFY_SOCKET", "/nonexistent/filot-notify.sock", 1);
    notify_ready("x");
    notify_status("again %d", 1);
    notify_watchdog();
    notify_stopping();
    /* Not under systemd at all: a silent no-op. */
    unsetenv("NOTIFY_SOCKET");
    notify_ready("x");
    notify_watchdog();

    dup2(saved, STDOUT_FILENO);
    close(saved);
    close(fd);
    int warnings = count_in_file(path, "sd_notify failed");
    unlink(path);
    ck_assert_int_eq(warnings, 1);
}
END_TEST

/* Builds the suite. */
static Suite *notify_suite(void)
{
    Suite *s = suite_create("notify");
    TCase *tc = tcase_create("socket");
    tcase_add_checked_fixture(tc, setup_socket, teardown_socket);
    tcase_add_test(tc, test_ready_and_status);
    tcase_add_test(tc, test_stopping_and_watchdog);
    suite_add_tcase(s, tc);
    TCase *env = tcase_create("env");
    tcase_add_test(env, test_watchdog_interval);
    tcase_add_test(env, test_missing_socket_is_harmless);
    suite_add_tcase(s, env);
    return s;
}

int main(void)
{
    log_init("test_notify", LOG_WARN);
    return check_run(notify_suite());
}
