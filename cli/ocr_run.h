/*
 * ocr_run.h - `filot-ocr ocr`: a private filot-ocrd instance for a list of
 * files.
 *
 * The CLI starts filot-ocrd with its own runtime directory, shared-memory
 * segment and job channel, hands each file to whichever worker asks, and
 * prints one JSON result per file in input order.  A worker that dies while
 * holding a file is detected from the supervisor's exit record in shared
 * memory: the file is retried once after a crash, and reported with the
 * signal or exit code if it fails again (a job killed for
 * OCR_JOB_TIMEOUT_MS is reported at once: a hang would hang again).
 */
#ifndef FILOT_OCR_RUN_H
#define FILOT_OCR_RUN_H

#include <stdbool.h>

struct ocr_run_opts {
    const char *doc_type; /* "KTP" | "NPWP" | NULL */
    int workers;          /* 0 = OCR_GPU_CONCURRENCY */
    int health_port;      /* 0 = no HTTP server */
    const char *log_path; /* where filot-ocrd's log goes; NULL = discard */
    bool progress;        /* progress line on stderr */
    bool echo_failures;   /* failures also on stderr (stdout is not a terminal) */
    char **files;
    int nfiles;
};

/*
 * Returns the process exit code: 0 all succeeded, 1 otherwise, 2 bad
 * setup, 130 interrupted (every file still gets its line).
 */
int ocr_run(const struct ocr_run_opts *o);

#endif
