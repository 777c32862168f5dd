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

#include "../common/log.h"
#include "../common/status.h"
#include "worker.h"

static volatile sig_atomic_t stop_requested;

static void on_term(int sig)
{
    (void)sig;
    stop_requested = 1;
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        puts("usage: filot-ocr-worker\n\nAn OCR worker process.  It is started by filot-ocrd, "
             "never by hand:\nit needs the shared-memory fd and control pipe filot-ocrd passes.");
        return strcmp(argv[1], "--help") == 0 ? FILOT_EXIT_OK : FILOT_EXIT_CONFIG;
    }
    struct sigaction sa = {.sa_handler = on_term};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    static struct worker w;
    int rc = worker_init(&w);
    if (rc != 0)
        return rc;
    int code = FILOT_EXIT_OK;
    while (!stop_requested && worker_step(&w, &code)) {
    }
    worker_close(&w);
    return code;
}
