/*
 * main.c - filot-gpu-server.  Started by filot-ocrd; preprocesses images in
 * shared-memory slots.  Exit codes: 0 stopped, 3 no usable CUDA device (the
 * supervisor does not restart it; workers use the CPU twin), 2 bad
 * configuration, 1 runtime failure.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "../common/child_proc.h"
#include "../common/status.h"
#include "../common/version.h"
#include "server.h"

int main(int argc, char **argv)
{
    int code = FILOT_EXIT_OK;
    if (version_requested(argc, argv, "filot-gpu-server"))
        return FILOT_EXIT_OK;
    if (child_proc_usage(argc, argv,
                         "usage: filot-gpu-server\n\nThe GPU preprocessing server.  It is "
                         "started by filot-ocrd, never by hand.\nExit code 3 means no usable "
                         "CUDA device.\n",
                         &code))
        return code;
    child_proc_signals();

    static struct gpu_server g;
    int rc = gpu_server_init(&g);
    if (rc != 0)
        return rc;
    while (!child_proc_stop && gpu_server_step(&g, 200)) {
    }
    gpu_server_close(&g);
    return FILOT_EXIT_OK;
}
