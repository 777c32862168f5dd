/*
 * options.c - the sanitizer run-time defaults of an instrumented build
 * (make SANITIZE=...); linked into every program and test of build-san/
 * and nothing else.
 *
 * Compiled in rather than taken from ASAN_OPTIONS so that they hold in
 * every process, also in children whose environment the supervisor
 * filters: the first report stops the process (abort_on_error, so the
 * supervisor and Check see a signal), reports go to one file per process
 * under SAN_REPORT_PREFIX (tests/sanitize/reports.sh fails the run when
 * any exists, so a report in a restarted child is not lost), and leak
 * reports skip only the library leaks listed with their reasons in
 * LSAN_SUPPRESSIONS.  ASAN_OPTIONS etc. in the environment still override
 * these.
 */
#ifndef LSAN_SUPPRESSIONS
#error "LSAN_SUPPRESSIONS: the Makefile defines it for instrumented builds"
#endif
#ifndef SAN_REPORT_PREFIX
#error "SAN_REPORT_PREFIX: the Makefile defines it for instrumented builds"
#endif

const char *__asan_default_options(void);
const char *__ubsan_default_options(void);
const char *__lsan_default_options(void);

/*
 * AddressSanitizer (and the LeakSanitizer inside it).  handle_segv=0: a
 * SIGSEGV kills the process as it does in production, so the supervisor's
 * crash handling ("signal 11") is what the process tests see when they send
 * one; invalid accesses of our code are caught by the instrumentation
 * before they fault.
 */
const char *__asan_default_options(void)
{
    return "halt_on_error=1:abort_on_error=1:detect_leaks=1:detect_stack_use_after_return=1:"
           "check_initialization_order=1:strict_string_checks=1:handle_segv=0:"
           "log_path=" SAN_REPORT_PREFIX;
}

/* UndefinedBehaviorSanitizer; -fno-sanitize-recover=all already makes each report fatal. */
const char *__ubsan_default_options(void)
{
    return "halt_on_error=1:abort_on_error=1:print_stacktrace=1:handle_segv=0:"
           "log_path=" SAN_REPORT_PREFIX;
}

/* LeakSanitizer: the library leaks of tests/sanitize/lsan.supp, nothing of ours. */
const char *__lsan_default_options(void)
{
    return "suppressions=" LSAN_SUPPRESSIONS ":print_suppressions=0";
}
