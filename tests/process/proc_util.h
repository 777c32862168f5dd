/*
 * proc_util.h - helpers shared by the process tests: start our programs
 * with extra environment and captured output, wait with a deadline, read
 * what they wrote, talk HTTP to /health and /metrics, and clean up every
 * process a test left behind.
 *
 * Nothing here fakes our own programs: the tests run the real binaries and
 * send them real signals.
 */
#ifndef FILOT_PROC_UTIL_H
#define FILOT_PROC_UTIL_H

#include <check.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Where the programs under test are: the Makefile passes build/bin or build-san/bin. */
#ifndef TEST_BIN_DIR
#define TEST_BIN_DIR "build/bin"
#endif

/* How to start one process. */
struct pu_spec {
    const char *const *argv; /* argv[0] is the path to execute; NULL-terminated */
    const char *const *env;  /* "NAME=VALUE" sets, "NAME" unsets; NULL-terminated or NULL */
    const char *out_path;    /* stdout goes here (truncated), NULL: /dev/null */
    const char *err_path;    /* stderr goes here (truncated), NULL: /dev/null */
    bool watchdog_pid_self;  /* sets WATCHDOG_PID to the child's own pid before exec */
};

/* Monotonic clock in milliseconds. */
uint64_t pu_now_ms(void);

/* Prints "# <suite>: <message>" and flushes: a failing case exits at once. */
void pu_note(const char *suite, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Writes "<dir>/<tag><suffix>" into buf; fails the check when it is too long. */
void pu_scratch(char *buf, size_t len, const char *dir, const char *tag, const char *suffix);

/* Sleeps ms milliseconds. */
void pu_sleep_ms(unsigned ms);

/*
 * Starts sp->argv (searched in PATH when it has no slash) with the test's
 * environment plus sp->env, stdout and stderr redirected, core dumps off.
 * Returns the pid or -1.
 */
pid_t pu_spawn(const struct pu_spec *sp);

/* Reaps pid within timeout_ms.  Returns 0 and the wait status, or -1. */
int pu_wait(pid_t pid, unsigned timeout_ms, int *status);

/* True once pid (our child) has exited, without reaping it. */
bool pu_exited(pid_t pid);

/* Exit code of a wait status, or -1 when the process died on a signal. */
int pu_exit_code(int status);

/* True while /proc/<pid> exists (running or zombie). */
bool pu_pid_exists(pid_t pid);

/* The whole file, NUL-terminated, malloc'd; NULL when unreadable. */
char *pu_read_file(const char *path, size_t *len);

/* Writes len bytes to path (created or truncated).  Returns 0 or -1. */
int pu_write_file(const char *path, const void *data, size_t len);

/* Number of complete (newline-ended) lines in path; 0 when unreadable. */
int pu_count_lines(const char *path);

/*
 * Parses every non-empty line of text as JSON.  Returns a new array, or
 * NULL when some line is not JSON (*bad_line then holds its 1-based number).
 */
json_t *pu_json_lines(const char *text, int *bad_line);

/* pu_json_lines of a whole file; NULL when unreadable or not JSON lines. */
json_t *pu_json_file(const char *path);

/*
 * GET path from 127.0.0.1:port over a plain socket.  Returns the HTTP
 * status code (and the malloc'd body in *body when body is not NULL), or
 * -1 when nothing answered.
 */
int pu_http_get(int port, const char *path, char **body);

/* GET /health parsed; NULL when nothing or no JSON came back. */
json_t *pu_health(int port, int *code);

/* A TCP port that was free a moment ago on 127.0.0.1; -1 on failure. */
int pu_free_port(void);

/*
 * The child entry of a /health document with this program and index
 * (index < 0: the first with that program).  Borrowed; NULL if absent.
 */
json_t *pu_health_child(const json_t *health, const char *program, int index);

/* String member of a JSON object, "" when absent or not a string. */
const char *pu_str(const json_t *obj, const char *key);

/* Integer member of a JSON object, dflt when absent or not an integer. */
long long pu_int(const json_t *obj, const char *key, long long dflt);

/*
 * Pid of a worker that /health shows busy, other than not_pid; 0 when
 * none.  *index gets its worker index when index is not NULL.
 */
pid_t pu_busy_worker(const json_t *health, pid_t not_pid, int *index);

/* Calls pred(arg) every interval_ms until it is true or timeout_ms passed. */
bool pu_wait_until(bool (*pred)(void *), void *arg, unsigned timeout_ms, unsigned interval_ms);

/* Creates a directory from a mkdtemp template such as "/tmp/x.XXXXXX". */
int pu_mkdtemp(char *templ);

/* Removes path and everything below it; quiet about what is missing. */
void pu_rm_rf(const char *path);

/*
 * Makes this process the reaper of orphaned descendants, so that a
 * process a failed test left behind still has us as an ancestor.
 */
int pu_become_subreaper(void);

/*
 * SIGKILLs every descendant of this process (found through /proc), calls
 * on_kill (when not NULL) with each pid it killed, and reaps our children.
 * Returns how many processes it killed.
 */
int pu_kill_descendants(void (*on_kill)(pid_t));

/*
 * A suite of one TCase per case, so that a failed case's processes die
 * before the next begins.  Check runs the cases in the order they were
 * added, or only the one CK_RUN_CASE names; the bookkeeping below gives
 * each case its name and runtime in the notes.
 */
struct pu_cases {
    const char *suite;     /* "test_runtime": the prefix of the notes */
    const char *names[32]; /* in the order pu_add_case() saw them */
    int n;                 /* cases added */
    int begun;             /* cases begun so far */
    const char *current;   /* the running case's name */
    uint64_t started_ms;   /* when it began */
};

/* Adds a case with its timeout (s) and unchecked fixture (either may be NULL). */
void pu_add_case(struct pu_cases *c, Suite *s, const char *name, const TTest *test, int timeout_s,
                 void (*setup)(void), void (*teardown)(void));

/* Call first in a case's setup: names the case and starts its clock. */
void pu_case_begin(struct pu_cases *c);

/*
 * Call in a case's teardown: SIGKILLs what the case left running (and
 * removes the shared-memory segment of a killed filot-ocrd), notes the
 * case's runtime.
 */
void pu_case_end(struct pu_cases *c);

/* Runs the suite (the runner takes s over): 0 when cases ran and all passed, else 1. */
int pu_run_cases(Suite *s);

/* Removes the scratch folder (may be "") when remove is set, else notes where it is kept. */
void pu_scratch_done(const char *suite, const char *scratch, bool remove);

/* pu_run_cases(), then pu_scratch_done() removing the scratch only when all passed. */
int pu_run_suite(Suite *s, const char *suite, const char *scratch);

#endif
