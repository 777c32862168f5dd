/*
 * sandbox.h - least privilege for processes that parse untrusted input.
 *
 * sandbox_apply() sets PR_SET_NO_NEW_PRIVS and loads a seccomp allow-list
 * (libseccomp) into every thread of the calling process (TSYNC).  It is
 * meant to be called once a process has finished starting (models loaded,
 * connections made, threads started): what a job then needs is on the
 * list; everything else ends the process with SIGSYS (SANDBOX_ON) or is
 * only logged by the kernel's audit log (SANDBOX_LOG, for finding a
 * missing system call in the field).  A short list of dangerous calls
 * (execve, ptrace, mount, bpf, module loading, namespaces, ...) kills the
 * process in both modes.  The filter cannot be removed again and is
 * inherited by threads created later.
 */
#ifndef FILOT_SANDBOX_H
#define FILOT_SANDBOX_H

#include <stddef.h>

enum sandbox_mode {
    SANDBOX_OFF = 0, /* OCR_SECCOMP=off: no filter, no NO_NEW_PRIVS */
    SANDBOX_LOG = 1, /* OCR_SECCOMP=log: unlisted calls logged, dangerous ones kill */
    SANDBOX_ON = 2   /* OCR_SECCOMP=on: unlisted calls kill the process (SIGSYS) */
};

/* "off", "log", "on" -> mode.  0 or FILOT_EINVAL. */
int sandbox_mode_parse(const char *s, enum sandbox_mode *mode);

/* The OCR_SECCOMP spelling of a mode. */
const char *sandbox_mode_name(enum sandbox_mode mode);

/*
 * Applies the mode to the calling process (all its threads).  Returns 0
 * (SANDBOX_OFF: does nothing), or FILOT_EIO with the reason in err.
 */
int sandbox_apply(enum sandbox_mode mode, char *err, size_t errlen);

/* Number of system calls the allow-list of this build permits (for logs and tests). */
int sandbox_allowed_count(void);

#endif
