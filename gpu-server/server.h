/*
 * server.h - filot-gpu-server: the only process with a CUDA context.
 *
 * Answers IPC_PREPROC requests for slots lent by workers, and watches its
 * own listener: nng 1.5.2 can stop delivering on a listener after a peer
 * drops mid-handshake (nng #1518), so a probe thread pings the server
 * through the socket path and the listener is re-created when it stops
 * answering.
 */
#ifndef FILOT_GPU_SERVER_H
#define FILOT_GPU_SERVER_H

#include <nng/nng.h>
#include <stdbool.h>

#include "../common/config.h"
#include "../ipc/listener_probe.h"
#include "../ipc/shm_pool.h"

struct gpu_server {
    struct filot_config cfg;
    struct shm_pool pool;
    nng_socket rep;
    char url[160];
    int parent_fd;
    bool emulate;
    bool registered;
    struct listener_probe probe;
    uint64_t served;
};

/* Returns 0 or a process exit code (FILOT_EXIT_NO_DEVICE when no GPU). */
int gpu_server_init(struct gpu_server *g);

/* Serves one request or waits up to timeout_ms; false when the loop must end. */
bool gpu_server_step(struct gpu_server *g, uint32_t timeout_ms);

void gpu_server_close(struct gpu_server *g);

#endif
