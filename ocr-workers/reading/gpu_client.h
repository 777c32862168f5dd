/*
 * gpu_client.h - a worker's side of GPU preprocessing.
 *
 * The worker copies pixels into one of its own slots, lends the slot to the
 * gpu-server and waits up to OCR_GPU_DEADLINE_MS.  Anything but a clean,
 * current answer (server down, slow, stale generation) returns an error and
 * the caller runs the CPU twin instead.
 */
#ifndef FILOT_GPU_CLIENT_H
#define FILOT_GPU_CLIENT_H

#include <nng/nng.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/preproc.h"
#include "ipc/shm_pool.h"

struct gpu_client {
    nng_socket sock;
    bool dialled;
    struct shm_pool *pool;
    uint32_t slot_first; /* this worker's slot range */
    uint32_t slot_count;
    uint32_t deadline_ms;
    char url[160];
};

/* A slot holding a GPU result; valid until gpu_lease_release(). */
struct gpu_lease {
    uint32_t slot;
    uint64_t gen;
    bool held;
};

void gpu_client_init(struct gpu_client *g, struct shm_pool *pool, const char *runtime_dir,
                     int worker_index, uint32_t deadline_ms);

/*
 * Preprocesses in on the gpu-server.  On success *out points at the 8-bit
 * result inside the leased slot.  FILOT_EUNAVAIL: no server; others:
 * timeout / stale / too big.  Logs nothing on EUNAVAIL (normal on CPU-only
 * hosts), one line otherwise.
 */
int gpu_preprocess(struct gpu_client *g, const struct pp_image *in, const struct pp_params *p,
                   const uint8_t **out, struct pp_result *res, struct gpu_lease *lease);

void gpu_lease_release(struct gpu_client *g, struct gpu_lease *lease);

void gpu_client_close(struct gpu_client *g);

#endif
