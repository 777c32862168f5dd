/*
 * sandbox.c - PR_SET_NO_NEW_PRIVS and the seccomp allow-list of
 * filot-ocr-worker (libseccomp).
 *
 * The list is what a started worker was seen to call while running the
 * process tests (Redis, PostgreSQL, R2 over curl, BULI2, nng IPC, the shm
 * slot pool, Tesseract, Leptonica, poppler/cairo, the lease thread), found
 * with strace -f; see README "Least privilege".  Start-up (dynamic loading,
 * model loading, thread creation) happens before the filter and needs
 * nothing here.
 */
#include "sandbox.h"

#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "status.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANDBOX_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANDBOX_SANITIZER 1
#endif
#endif

/*
 * Allowed with any arguments.  Seen after the filter in the strace runs:
 * brk mmap munmap mprotect madvise read readv write openat close newfstatat
 * fcntl getdents64 socketpair connect sendto recvfrom sendmsg shutdown
 * getsockopt setsockopt getsockname getpeername poll epoll_wait epoll_ctl
 * futex set_robust_list rseq clock_gettime clock_nanosleep rt_sigprocmask
 * exit exit_group getpid getppid gettid getuid geteuid getrandom.  The rest
 * are paths the tests do not reach: name resolution (getaddrinfo: netlink
 * bind/recvmsg, sendmmsg, uname), TLS and fonts (pread64, fstat, access),
 * signal delivery (rt_sigaction, rt_sigreturn, restart_syscall), glibc
 * internals (sysinfo from qsort, sched_getaffinity, prlimit64).
 */
static const char *const allowed[] = {
    /* memory */
    "brk",
    "mmap",
    "munmap",
    "mremap",
    "mprotect",
    "madvise",
    /* files: the job file, fonts and CA certificates, /proc/self/statm */
    "read",
    "write",
    "pread64",
    "readv",
    "writev",
    "openat",
    "openat2", /* file:// storage: open_beneath() */
    "close",
    "fstat",
    "newfstatat",
    "statx",
    "lseek",
    "fcntl",
    "getdents64",
    "readlink",
    "readlinkat",
    "access",
    "faccessat",
    "faccessat2",
    "dup",
    "dup2",
    "dup3",
    "pipe2",
    "uname",
    "sysinfo",
    /* network: Redis, PostgreSQL, curl, nng (the worker only dials), DNS */
    "connect",
    "bind",
    "sendto",
    "recvfrom",
    "sendmsg",
    "recvmsg",
    "sendmmsg",
    "shutdown",
    "getsockopt",
    "setsockopt",
    "getsockname",
    "getpeername",
    "socketpair",
    /* waiting and time */
    "poll",
    "ppoll",
    "epoll_create1",
    "epoll_ctl",
    "epoll_wait",
    "epoll_pwait",
    "eventfd2",
    "futex",
    "set_robust_list",
    "rseq",
    "nanosleep",
    "clock_nanosleep",
    "clock_gettime",
    "clock_getres",
    "gettimeofday",
    "sched_yield",
    "sched_getaffinity",
    /* signals, threads, identity */
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "restart_syscall",
    "exit",
    "exit_group",
    "gettid",
    "getpid",
    "getppid",
    "getuid",
    "geteuid",
    "getgid",
    "getegid",
    "getrandom",
    "prlimit64",
#ifdef SANDBOX_SANITIZER
    /* LeakSanitizer's exit check: a cloned helper ptrace-stops every thread */
    "ptrace",
    "wait4",
    "sigaltstack",
    "getrusage",
#endif
};

/* Killed in SANDBOX_LOG too (in SANDBOX_ON everything unlisted is). */
static const char *const denied[] = {
    "execve",
    "execveat",
    "fork",
    "vfork",
    "process_vm_readv",
    "process_vm_writev",
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "move_mount",
    "fsopen",
    "fsconfig",
    "fsmount",
    "open_tree",
    "bpf",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "keyctl",
    "add_key",
    "request_key",
    "personality",
    "unshare",
    "setns",
    "userfaultfd",
    "perf_event_open",
    "reboot",
    "swapon",
    "swapoff",
    "acct",
    "iopl",
    "ioperm",
    "open_by_handle_at",
    "name_to_handle_at",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "setuid",
    "setgid",
    "setreuid",
    "setregid",
    "setresuid",
    "setresgid",
    "setgroups",
    "capset",
    "settimeofday",
    "clock_settime",
    "adjtimex",
    "clock_adjtime",
    "syslog",
    "quotactl",
    "lookup_dcookie",
    "kcmp",
#ifndef SANDBOX_SANITIZER
    "ptrace",
#endif
};

/* A call allowed only when argument arg compares (op, mask, value); MASKED_EQ with mask 0: any. */
struct cond_rule {
    const char *name;
    unsigned arg;
    enum scmp_compare op;
    scmp_datum_t mask; /* SCMP_CMP_MASKED_EQ only */
    scmp_datum_t value;
};

#define SELF_PID ((scmp_datum_t)-1) /* replaced by getpid() */

static const struct cond_rule conditional[] = {
    /* the families the worker talks over (AF_NETLINK: getaddrinfo) */
    {"socket", 0, SCMP_CMP_EQ, 0, AF_UNIX},
    {"socket", 0, SCMP_CMP_EQ, 0, AF_INET},
    {"socket", 0, SCMP_CMP_EQ, 0, AF_INET6},
    {"socket", 0, SCMP_CMP_EQ, 0, AF_NETLINK},
#ifdef SANDBOX_SANITIZER
    {"clone", 0, SCMP_CMP_MASKED_EQ, 0, 0}, /* LeakSanitizer's helper: no CLONE_THREAD */
    {"prctl", 0, SCMP_CMP_MASKED_EQ, 0, 0}, /* PR_SET_PTRACER, PR_SET_PDEATHSIG, ... */
#else
    /* threads only (curl's resolver): a new process would lack CLONE_THREAD */
    {"clone", 0, SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD},
    /* nng names its threads; nothing else (no PR_SET_SECCOMP, PR_SET_DUMPABLE...) */
    {"prctl", 0, SCMP_CMP_EQ, 0, PR_SET_NAME},
    {"prctl", 0, SCMP_CMP_EQ, 0, PR_GET_NAME},
#endif
    /* signals to this process only (abort, pthread_kill) */
    {"kill", 0, SCMP_CMP_EQ, 0, SELF_PID},
    {"tgkill", 0, SCMP_CMP_EQ, 0, SELF_PID},
    /* isatty() (Leptonica, stdio) and FIONREAD only */
    {"ioctl", 1, SCMP_CMP_EQ, 0, TCGETS},
    {"ioctl", 1, SCMP_CMP_EQ, 0, FIONREAD},
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

int sandbox_mode_parse(const char *s, enum sandbox_mode *mode)
{
    if (strcmp(s, "on") == 0)
        *mode = SANDBOX_ON;
    else if (strcmp(s, "log") == 0)
        *mode = SANDBOX_LOG;
    else if (strcmp(s, "off") == 0)
        *mode = SANDBOX_OFF;
    else
        return FILOT_EINVAL;
    return 0;
}

const char *sandbox_mode_name(enum sandbox_mode mode)
{
    switch (mode) {
    case SANDBOX_ON:
        return "on";
    case SANDBOX_LOG:
        return "log";
    case SANDBOX_OFF:
        break;
    }
    return "off";
}

/* Distinct system calls the filter lets through (some with argument checks). */
int sandbox_allowed_count(void)
{
    int n = (int)NELEM(allowed);
    for (size_t i = 0; i < NELEM(conditional); i++)
        if (i == 0 || strcmp(conditional[i].name, conditional[i - 1].name) != 0)
            n++;
    return n; /* clone3 is not counted: it is answered ENOSYS */
}

static int add_rules(scmp_filter_ctx ctx, uint32_t dflt)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < NELEM(allowed); i++) {
        int nr = seccomp_syscall_resolve_name(allowed[i]);
        if (nr != __NR_SCMP_ERROR)
            rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
    }
    scmp_datum_t self = (scmp_datum_t)getpid();
    for (size_t i = 0; rc == 0 && i < NELEM(conditional); i++) {
        const struct cond_rule *c = &conditional[i];
        scmp_datum_t v = c->value == SELF_PID ? self : c->value;
        struct scmp_arg_cmp cmp = {c->arg, c->op, c->op == SCMP_CMP_MASKED_EQ ? c->mask : v, v};
        rc = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, seccomp_syscall_resolve_name(c->name), 1,
                                    &cmp);
    }
    /* clone3's flags are behind a pointer: ENOSYS makes glibc use clone */
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
    for (size_t i = 0; rc == 0 && dflt != SCMP_ACT_KILL_PROCESS && i < NELEM(denied); i++) {
        int nr = seccomp_syscall_resolve_name(denied[i]);
        if (nr != __NR_SCMP_ERROR)
            rc = seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, nr, 0);
    }
    return rc;
}

int sandbox_apply(enum sandbox_mode mode, char *err, size_t errlen)
{
    if (mode == SANDBOX_OFF)
        return 0;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        snprintf(err, errlen, "prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(errno));
        return FILOT_EIO;
    }
    uint32_t dflt = mode == SANDBOX_ON ? SCMP_ACT_KILL_PROCESS : SCMP_ACT_LOG;
#ifdef SANDBOX_SANITIZER
    /* LeakSanitizer's exit check (a cloned, ptrace-ing helper) makes calls of
     * its own: instrumented builds run "on" as "log", the denied list still kills */
    dflt = SCMP_ACT_LOG;
#endif
    scmp_filter_ctx ctx = seccomp_init(dflt);
    if (ctx == NULL) {
        snprintf(err, errlen, "seccomp_init failed");
        return FILOT_EIO;
    }
    /* TSYNC: nng's, libpq's and the lease threads started before us get it too */
    int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
    if (rc == 0)
        rc = add_rules(ctx, dflt);
    if (rc == 0)
        rc = seccomp_load(ctx);
    seccomp_release(ctx);
    if (rc != 0) {
        snprintf(err, errlen, "seccomp filter (OCR_SECCOMP=%s): %s", sandbox_mode_name(mode),
                 strerror(-rc));
        return FILOT_EIO;
    }
    return 0;
}
