/*
 * main.c - filot-gpu-server.  Started by filot-ocrd; preprocesses images in
 * shared-memory slots.  Exit codes: 0 stopped, 3 no usable CUDA device (the
 * supervisor does not restart it; workers use the CPU twin), 2 bad
 * configuration, 1 runtime failure.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "../common/status.h"
#include "server.h"

static volatile sig_atomic_t stop_requested;

static void on_term(int sig)
{
    (void)sig;
    stop_requested = 1;
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        puts("usage: filot-gpu-server\n\nThe GPU preprocessing server.  It is started by "
             "filot-ocrd, never by hand.\nExit code 3 means no usable CUDA device.");
        return strcmp(argv[1], "--help") == 0 ? FILOT_EXIT_OK : FILOT_EXIT_CONFIG;
    }
    struct sigaction sa = {.sa_handler = on_term};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    static struct gpu_server g;
    int rc = gpu_server_init(&g);
    if (rc != 0)
        return rc;
    while (!stop_requested && gpu_server_step(&g, 200)) {
    }
    gpu_server_close(&g);
    return FILOT_EXIT_OK;
}
