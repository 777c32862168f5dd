/*
 * main.c - filot-ocr-worker: one Tesseract engine, one job at a time.
 *
 * Started only by filot-ocrd (fork+exec with OMP_THREAD_LIMIT=1, the shm fd,
 * the parent-death pipe and a worker index in the environment).  Exits 0
 * when asked to stop, FILOT_EXIT_RECYCLE after OCR_WORKER_MAX_JOBS jobs or
 * above OCR_WORKER_MAX_RSS_MB, FILOT_EXIT_PARENT_GONE when the supervisor
 * disappears, FILOT_EXIT_CONFIG when it cannot start at all.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/child_proc.h"
#include "../common/log.h"
#include "../common/status.h"
#include "../common/version.h"
#include "worker.h"

int main(int argc, char **argv)
{
    int code = FILOT_EXIT_OK;
    if (version_requested(argc, argv, "filot-ocr-worker"))
        return FILOT_EXIT_OK;
    if (child_proc_usage(argc, argv,
                         "usage: filot-ocr-worker\n\nAn OCR worker process.  It is started by "
                         "filot-ocrd, never by hand:\nit needs the shared-memory fd and control "
                         "pipe filot-ocrd passes.\n",
                         &code))
        return code;
    child_proc_signals();

    static struct worker w;
    int rc = worker_init(&w);
    if (rc != 0)
        return rc;
    while (!child_proc_stop && worker_step(&w, &code)) {
    }
    worker_close(&w);
    return code;
}
