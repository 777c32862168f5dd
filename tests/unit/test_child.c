/*
 * test_child.c - the supervisor's per-child state machine, driven with
 * real processes: a stand-in program in a temp directory plays the child.
 */
#include <check.h>

#include "check_run.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/status.h"
#include "supervisor/child.h"

extern char **environ;

static char dir[64];
static struct spawn_env env;
static const struct child_policy pol = {100, 1000, 60000, 3, 10000};

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/filot-child.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/stand-in", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    /* exits with $STANDIN_EXIT after checking what the supervisor passes */
    fputs("#!/bin/sh\n[ \"$OMP_THREAD_LIMIT\" = 1 ] || exit 9\n"
          "[ -n \"$OCR_SHM_FD\" ] && [ -n \"$OCR_WORKER_INDEX\" ] || exit 8\n"
          "[ -z \"$NOTIFY_SOCKET\" ] || exit 7\nsleep 0.05\nexit ${STANDIN_EXIT:-0}\n",
          f);
    fclose(f);
    chmod(path, 0755);
    env = (struct spawn_env){dir, environ, 0, 0, "/tmp", "test-instance"};
}

static void teardown(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/stand-in", dir);
    unlink(path);
    rmdir(dir);
}

/* setenv() may move environ: the spawn must see the current array. */
static void set_exit(const char *code)
{
    if (code != NULL)
        setenv("STANDIN_EXIT", code, 1);
    else
        unsetenv("STANDIN_EXIT");
    env.base_env = environ;
}

static int wait_exit(struct child *c)
{
    int st;
    ck_assert_int_eq(waitpid(c->pid, &st, 0), c->pid);
    c->last_status = st;
    return st;
}

START_TEST(test_spawn_passes_environment)
{
    setenv("NOTIFY_SOCKET", "/run/should-not-leak", 1);
    env.base_env = environ;
    struct child c = {.program = "stand-in", .index = 3, .last_status = -1};
    ck_assert_int_eq(child_event(&c, EV_START, 1000, &pol, &env), CS_STARTING);
    ck_assert_int_gt(c.pid, 0);
    int st = wait_exit(&c);
    unsetenv("NOTIFY_SOCKET");
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child saw exit %d", WEXITSTATUS(st));
    ck_assert_int_eq(child_exit_event(&c, st), EV_EXIT_NORMAL);
}
END_TEST

START_TEST(test_backoff_doubles_and_caps)
{
    set_exit("1");
    struct child c = {.program = "stand-in", .index = 0, .last_status = -1};
    uint64_t now = 1000;
    child_event(&c, EV_START, now, &pol, &env);
    const uint64_t expect[] = {100, 200, 400, 800, 1000, 1000};
    for (int i = 0; i < 6; i++) {
        int st = wait_exit(&c);
        enum child_event ev = child_exit_event(&c, st);
        ck_assert_int_eq(ev, EV_EXIT_CRASH);
        now += 10;
        ck_assert_int_eq(child_event(&c, ev, now, &pol, &env), CS_BACKOFF);
        ck_assert_uint_eq(c.restart_at_ms - now, expect[i]);
        ck_assert_int_eq(child_event(&c, EV_TIMER, c.restart_at_ms, &pol, &env), CS_STARTING);
        now = c.restart_at_ms;
    }
    ck_assert(child_crashlooping(&c, now, &pol));
    ck_assert_uint_eq(c.restarts, 6);
    /* a minute of stable running resets the delay */
    wait_exit(&c);
    now += 61000;
    child_event(&c, EV_EXIT_CRASH, now, &pol, &env);
    ck_assert_uint_eq(c.restart_at_ms - now, 100);
    ck_assert(!child_crashlooping(&c, now + 20000, &pol));
    set_exit(NULL);
}
END_TEST

/*
 * A worker killed again and again after completing jobs (OOM killer, bad
 * node) restarts after the minimum delay each time; one that dies before
 * finishing a job, or whose counter went backwards (not trusted), still
 * backs off by doubling.
 */
START_TEST(test_backoff_resets_on_progress)
{
    set_exit("1");
    struct child c = {.program = "stand-in", .index = 0, .last_status = -1};
    uint64_t now = 1000, jobs = 0;
    child_event(&c, EV_START, now, &pol, &env);
    for (int i = 0; i < 6; i++) {
        wait_exit(&c);
        child_note_jobs(&c, jobs += 3);
        now += 10;
        ck_assert_int_eq(child_event(&c, EV_EXIT_CRASH, now, &pol, &env), CS_BACKOFF);
        ck_assert_uint_eq(c.restart_at_ms - now, 100);
        child_event(&c, EV_TIMER, c.restart_at_ms, &pol, &env);
        now = c.restart_at_ms;
    }
    const uint64_t idle[] = {200, 400, 800};
    for (int i = 0; i < 3; i++) {
        wait_exit(&c);
        child_note_jobs(&c, i == 2 ? jobs - 1 : jobs); /* no progress, then backwards */
        now += 10;
        child_event(&c, EV_EXIT_CRASH, now, &pol, &env);
        ck_assert_uint_eq(c.restart_at_ms - now, idle[i]);
        child_event(&c, EV_TIMER, c.restart_at_ms, &pol, &env);
        now = c.restart_at_ms;
    }
    wait_exit(&c);
    child_note_jobs(&c, jobs + 1); /* progress again: back to the minimum */
    child_event(&c, EV_EXIT_CRASH, now + 10, &pol, &env);
    ck_assert_uint_eq(c.restart_at_ms - (now + 10), 100);
    set_exit(NULL);
}
END_TEST

START_TEST(test_permanent_and_recycle)
{
    struct child c = {.program = "stand-in", .index = 0, .last_status = -1};
    set_exit("2"); /* FILOT_EXIT_CONFIG */
    child_event(&c, EV_START, 0, &pol, &env);
    int st = wait_exit(&c);
    ck_assert_int_eq(child_exit_event(&c, st), EV_EXIT_PERMANENT);
    ck_assert_int_eq(child_event(&c, EV_EXIT_PERMANENT, 10, &pol, &env), CS_FAILED);
    ck_assert_int_eq(child_event(&c, EV_TIMER, 100000, &pol, &env), CS_FAILED);

    struct child r = {.program = "stand-in", .index = 1, .last_status = -1};
    set_exit("4"); /* FILOT_EXIT_RECYCLE: replaced at once */
    child_event(&r, EV_START, 0, &pol, &env);
    child_event(&r, EV_READY, 5, &pol, &env);
    pid_t first = r.pid;
    st = wait_exit(&r);
    ck_assert_int_eq(child_exit_event(&r, st), EV_EXIT_RECYCLE);
    ck_assert_int_eq(child_event(&r, EV_EXIT_RECYCLE, 10, &pol, &env), CS_STARTING);
    ck_assert_int_ne(r.pid, first);
    wait_exit(&r);
    set_exit(NULL);
}
END_TEST

START_TEST(test_signals_and_timeouts)
{
    struct child c = {.program = "stand-in", .index = 0, .last_status = -1};
    ck_assert_int_eq(child_exit_event(&c, 0 | SIGSEGV), EV_EXIT_CRASH); /* wait status */
    c.kill_for_timeout = true;
    ck_assert_int_eq(child_exit_event(&c, SIGKILL), EV_EXIT_RECYCLE);
    c.kill_for_timeout = false;
    ck_assert_int_eq(child_exit_event(&c, 3 << 8), EV_EXIT_PERMANENT); /* no GPU */
    ck_assert_int_eq(child_exit_event(&c, 5 << 8), EV_EXIT_CRASH);
    /* stopping: exits end in DOWN, a backoff is forgotten */
    struct child b = {.program = "stand-in", .index = 0, .state = CS_BACKOFF};
    ck_assert_int_eq(child_event(&b, EV_STOP, 0, &pol, &env), CS_DOWN);
    struct child s = {.program = "stand-in", .index = 0, .state = CS_STOPPING};
    ck_assert_int_eq(child_event(&s, EV_EXIT_CRASH, 0, &pol, &env), CS_DOWN);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("child");
    TCase *tc = tcase_create("state machine");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_spawn_passes_environment);
    tcase_add_test(tc, test_backoff_doubles_and_caps);
    tcase_add_test(tc, test_backoff_resets_on_progress);
    tcase_add_test(tc, test_permanent_and_recycle);
    tcase_add_test(tc, test_signals_and_timeouts);
    suite_add_tcase(s, tc);
    return check_run(s);
}
