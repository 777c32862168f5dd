/*
 * test_seccomp.c - common/sandbox.c applied for real in forked children:
 * listed system calls keep working, execve / ptrace / unshare end the
 * process with SIGSYS (OCR_SECCOMP=on) and NoNewPrivs / Seccomp show in
 * /proc/self/status.
 */
#include <check.h>

#include "check_run.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/sandbox.h"
#include "common/status.h"

/* What a sandboxed child does after sandbox_apply. */
enum action { ACT_IO, ACT_THREAD, ACT_STATUS, ACT_EXECVE, ACT_PTRACE, ACT_UNSHARE, ACT_FORK };

static void *thread_main(void *arg)
{
    return arg;
}

/* "Seccomp:\t2" and "NoNewPrivs:\t1" in our own /proc status. */
static int status_ok(void)
{
    char buf[4096];
    int fd = open("/proc/self/status", O_RDONLY);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    return strstr(buf, "\nSeccomp:\t2\n") != NULL && strstr(buf, "\nNoNewPrivs:\t1\n") != NULL;
}

/* Runs in the child; its exit code says how far it got. */
static int child_body(enum sandbox_mode mode, enum action act)
{
    char err[256];
    if (sandbox_apply(mode, err, sizeof err) != 0)
        return 10;
    switch (act) {
    case ACT_IO: {
        int p[2];
        char c = 0;
        if (pipe2(p, O_CLOEXEC) != 0 || write(p[1], "x", 1) != 1 || read(p[0], &c, 1) != 1 ||
            c != 'x')
            return 11;
        void *m = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED)
            return 12;
        memset(m, 1, 1 << 20);
        munmap(m, 1 << 20);
        int s = socket(AF_INET, SOCK_STREAM, 0);
        if (s < 0)
            return 13;
        close(s);
        return 0;
    }
    case ACT_THREAD: {
        pthread_t t;
        void *ret = NULL;
        if (pthread_create(&t, NULL, thread_main, &ret) != 0 || pthread_join(t, &ret) != 0)
            return 14;
        return 0;
    }
    case ACT_STATUS:
        return status_ok() ? 0 : 15;
    case ACT_EXECVE: {
        char *const argv[] = {"/bin/true", NULL};
        execve("/bin/true", argv, NULL);
        return 16;
    }
    case ACT_PTRACE:
        ptrace(PTRACE_TRACEME, 0, NULL, NULL);
        return 17;
    case ACT_UNSHARE:
        unshare(CLONE_NEWUSER);
        return 18;
    case ACT_FORK: {
        pid_t p = fork();
        if (p == 0)
            _exit(0);
        return 19;
    }
    }
    return 20;
}

/* Forks, runs the action in the child, returns the wait status. */
static int run_child(enum sandbox_mode mode, enum action act)
{
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        _exit(child_body(mode, act)); /* _exit: no atexit handlers under the filter */
    int st = 0;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    return st;
}

static void assert_exit0(int st)
{
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status 0x%x", st);
}

static void assert_sigsys(int st)
{
    ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS, "child status 0x%x, not SIGSYS", st);
}

START_TEST(test_listed_calls_work)
{
    assert_exit0(run_child(SANDBOX_ON, ACT_IO));
    assert_exit0(run_child(SANDBOX_ON, ACT_THREAD));
    assert_exit0(run_child(SANDBOX_ON, ACT_STATUS));
    assert_exit0(run_child(SANDBOX_LOG, ACT_STATUS));
}
END_TEST

START_TEST(test_forbidden_calls_kill)
{
    assert_sigsys(run_child(SANDBOX_ON, ACT_EXECVE));
    assert_sigsys(run_child(SANDBOX_ON, ACT_UNSHARE));
#ifndef __SANITIZE_ADDRESS__
    /* LeakSanitizer's exit check needs ptrace and a non-thread clone (fork is
     * clone to glibc): allowed in sanitized builds only (README "Least privilege") */
    assert_sigsys(run_child(SANDBOX_ON, ACT_FORK));
    assert_sigsys(run_child(SANDBOX_ON, ACT_PTRACE));
#endif
}
END_TEST

/* log mode: the dangerous calls still kill, the rest is only logged. */
START_TEST(test_log_mode)
{
    assert_sigsys(run_child(SANDBOX_LOG, ACT_EXECVE));
    assert_sigsys(run_child(SANDBOX_LOG, ACT_UNSHARE));
    assert_exit0(run_child(SANDBOX_LOG, ACT_IO));
}
END_TEST

START_TEST(test_off_and_parse)
{
    enum sandbox_mode m;
    ck_assert_int_eq(sandbox_mode_parse("on", &m), 0);
    ck_assert_int_eq(m, SANDBOX_ON);
    ck_assert_int_eq(sandbox_mode_parse("log", &m), 0);
    ck_assert_int_eq(m, SANDBOX_LOG);
    ck_assert_int_eq(sandbox_mode_parse("off", &m), 0);
    ck_assert_int_eq(m, SANDBOX_OFF);
    ck_assert_int_eq(sandbox_mode_parse("yes", &m), FILOT_EINVAL);
    ck_assert_str_eq(sandbox_mode_name(SANDBOX_LOG), "log");
    ck_assert_int_gt(sandbox_allowed_count(), 50);
    /* off: nothing applied, exec still works */
    int st = run_child(SANDBOX_OFF, ACT_EXECVE);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status 0x%x", st);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("seccomp");
    TCase *tc = tcase_create("sandbox");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_listed_calls_work);
    tcase_add_test(tc, test_forbidden_calls_kill);
    tcase_add_test(tc, test_log_mode);
    tcase_add_test(tc, test_off_and_parse);
    suite_add_tcase(s, tc);
    return check_run(s);
}
