/*
 * ocr_input.h - one FILE argument of `filot-ocr ocr` made ready for a
 * worker.
 *
 * Every file gets exactly one result line, whatever its name: the name
 * shown in results is valid UTF-8 (bytes that are not become \xNN), the
 * path handed to a worker is valid UTF-8 too (a name that is not gets a
 * symlink in the private runtime directory), "-" is stdin copied into that
 * directory, and a file that cannot be opened is settled before any worker
 * sees it, with the reason.
 */
#ifndef FILOT_OCR_INPUT_H
#define FILOT_OCR_INPUT_H

#include <stdbool.h>
#include <stddef.h>

struct ocr_input {
    char *name;      /* shown in results and messages: the argument, escaped */
    char *open_path; /* what the worker opens */
    bool owned_file; /* open_path lives in the runtime dir and is removed after */
    char error[300]; /* set when the file cannot be processed at all */
};

/*
 * Prepares argument arg (index k) using the private directory dir.
 * Returns 0, or FILOT_EINVAL with in->error set (the file fails, the run
 * goes on), or FILOT_ENOMEM.
 */
int ocr_input_prepare(struct ocr_input *in, const char *arg, const char *dir, int k);

/* Removes what prepare created in dir and frees the strings. */
void ocr_input_release(struct ocr_input *in);

#endif
