/*
 * main.c - filot-ocrd, the entrypoint: container PID 1 or a systemd
 * Type=notify service.  Starts one filot-gpu-server and
 * OCR_GPU_CONCURRENCY filot-ocr-workers, restarts them with backoff, kills
 * jobs that run past their deadline, drains on SIGTERM, serves /health and
 * /metrics.
 */
#include <stdio.h>
#include <string.h>

#include "../common/clock.h"
#include "../common/status.h"
#include "../common/version.h"
#include "supervisor.h"

static void usage(void)
{
    fputs("usage: filot-ocrd [--help | --version]\n"
          "\n"
          "Supervises the filot-ocrd OCR worker processes.  All settings come from the\n"
          "environment; `filot-ocr config` lists them with their defaults.\n"
          "Signals: SIGTERM/SIGINT drain and exit 0 (a second one kills at once).\n"
          "Exit codes: 0 drained, 1 start-up failure, 2 configuration error.\n",
          stdout);
}

int main(int argc, char **argv)
{
    if (version_requested(argc, argv, "filot-ocrd"))
        return FILOT_EXIT_OK;
    if (argc > 1) {
        usage();
        return strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ? FILOT_EXIT_OK
                                                                            : FILOT_EXIT_CONFIG;
    }
    static struct supervisor sup;
    int rc = sup_init(&sup);
    if (rc != 0)
        return rc;
    while (!sup_done(&sup)) {
        sup_wait_signals(&sup, 100);
        uint64_t now = clock_mono_ms();
        sup_tick(&sup, now);
        sup_report(&sup, now);
    }
    sup_shutdown(&sup);
    return FILOT_EXIT_OK;
}
