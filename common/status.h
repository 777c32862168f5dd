/*
 * status.h - return codes and process exit codes shared by every program.
 *
 * Functions return 0 on success or a negative FILOT_E* code; the reason is
 * logged once, where it is known.  Exit codes are fixed so the supervisor's
 * restart table can tell a crash from a permanent failure (s6 style).
 */
#ifndef FILOT_STATUS_H
#define FILOT_STATUS_H

enum filot_err {
    FILOT_OK = 0,
    FILOT_EINVAL = -1, /* bad argument or malformed input */
    FILOT_ENOMEM = -2, /* allocation failed */
    FILOT_EIO = -3,    /* system call or I/O failure */
    FILOT_ETIMEDOUT = -4,
    FILOT_ESTALE = -5,   /* slot generation changed under us */
    FILOT_EBUSY = -6,    /* nothing free right now */
    FILOT_ETOOBIG = -7,  /* input above a configured limit */
    FILOT_EFORMAT = -8,  /* undecodable or unsupported data */
    FILOT_ECLOSED = -9,  /* peer or parent went away */
    FILOT_EUNAVAIL = -10 /* service (e.g. GPU) not available */
};

/* Process exit codes.  The supervisor's restart policy keys on these. */
enum filot_exit {
    FILOT_EXIT_OK = 0,
    FILOT_EXIT_FAILURE = 1,    /* runtime failure: restart with backoff */
    FILOT_EXIT_CONFIG = 2,     /* bad configuration: permanent, never restart */
    FILOT_EXIT_NO_DEVICE = 3,  /* gpu-server: no usable CUDA device: permanent */
    FILOT_EXIT_RECYCLE = 4,    /* worker asks to be replaced (job count / RSS) */
    FILOT_EXIT_PARENT_GONE = 5 /* supervisor disappeared */
};

const char *filot_strerror(int err);

#endif
