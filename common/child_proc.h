/*
 * child_proc.h - what every child of filot-ocrd does the same way: read the
 * descriptors the supervisor hands down, notice the supervisor's death,
 * stop on SIGTERM, report its memory, answer --help.
 */
#ifndef FILOT_CHILD_PROC_H
#define FILOT_CHILD_PROC_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

/* Set by SIGTERM / SIGINT once child_proc_signals() ran. */
extern volatile sig_atomic_t child_proc_stop;

/*
 * Handles the command line of a program that takes no arguments: with an
 * argument, prints usage and returns true with *code set (0 for --help).
 */
bool child_proc_usage(int argc, char **argv, const char *usage, int *code);

/* SIGTERM/SIGINT set child_proc_stop; SIGPIPE is ignored. */
void child_proc_signals(void);

/* Reads a non-negative integer the supervisor put in the environment. */
int child_proc_inherited(const char *name, int *out);

/*
 * Waits up to ms on the parent-death pipe.  False once the supervisor is
 * gone (EOF): PR_SET_PDEATHSIG is only a hint, the pipe is the truth.
 */
bool child_proc_parent_alive(int fd, int ms);

/*
 * Virtual and resident size of process pid (0: this process) from
 * /proc/PID/statm, in bytes.  0, or FILOT_EIO (sizes 0) when unreadable.
 */
int child_proc_statm(int pid, uint64_t *virt_bytes, uint64_t *rss_bytes);

/* Resident set size of this process, KiB (0 when unknown). */
uint64_t child_proc_rss_kb(void);

#endif
