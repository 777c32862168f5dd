/*
 * request_check.h - validation of an IPC_PREPROC request before the GPU
 * server touches shared memory.
 *
 * Every number in a request comes from a worker, and every number in the
 * segment's header can be rewritten by any process that maps it, so the
 * check works only from the request and the geometry the server copied at
 * attach (struct gpu_slot_geom).  Pure function: no I/O, no shared memory,
 * so it is unit-tested and fuzzed (tests/fuzz/fuzz_gpu_request.c).
 */
#ifndef FILOT_GPU_REQUEST_CHECK_H
#define FILOT_GPU_REQUEST_CHECK_H

#include <stdint.h>

#include "../ipc/ipc_msg.h"

/* Largest background / Sauvola window accepted (pixels). */
#define GPU_MAX_WINDOW 511u
/* Generations are packed above an 8-bit state in one 64-bit word. */
#define GPU_MAX_GENERATION ((UINT64_C(1) << 56) - 1)

/* The slot pool as the server saw it at attach (its private copy). */
struct gpu_slot_geom {
    uint32_t slot_count;
    uint64_t slot_bytes; /* capacity of each slot */
};

/* What an accepted request will touch, all within one slot. */
struct gpu_request_plan {
    uint64_t in_bytes;   /* input occupies [0, in_bytes) of the slot */
    uint32_t out_width;  /* output geometry (8-bit grey, stride == width) */
    uint32_t out_height; /* ... written at [out_offset, out_offset + out_bytes) */
    uint64_t out_bytes;
};

/*
 * Checks slot index and generation, input geometry, every parameter
 * (finite, bounded floats; known steps; windows), and that input and
 * output fit in the slot without overlapping, with overflow-safe
 * arithmetic.  Returns 0 and fills *plan, or FILOT_EINVAL (malformed) /
 * FILOT_ETOOBIG (does not fit) with *reason naming the field (a static
 * string).
 */
int gpu_request_check(const struct ipc_preproc_req *r, const struct gpu_slot_geom *geom,
                      struct gpu_request_plan *plan, const char **reason);

#endif
