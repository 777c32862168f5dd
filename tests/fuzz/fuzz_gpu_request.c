/*
 * fuzz_gpu_request.c - libFuzzer target for the GPU server's request
 * validation (gpu-server/request_check.c).
 *
 * Input: two bytes choosing the slot pool geometry (slot count, slot size
 * of 4..64 KiB), then an IPC_PREPROC message as a worker would send it.
 * A request the check accepts is then run by the CPU twin on a heap slot
 * of exactly that size, input at the start and output where the request
 * says, so any read or write the check let through outside the slot is an
 * AddressSanitizer report, and every promise of the plan is asserted.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/preproc.h"
#include "gpu-server/request_check.h"
#include "ipc/ipc_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    struct gpu_slot_geom geom = {1u + data[0] % 8u, 4096u * (1u + data[1] % 16u)};
    struct ipc_preproc_req r;
    if (ipc_decode_preproc_req(data + 2, size - 2, &r) != 0)
        return 0;
    struct gpu_request_plan plan;
    const char *why = NULL;
    if (gpu_request_check(&r, &geom, &plan, &why) != 0) {
        if (why == NULL || why[0] == '\0')
            abort(); /* every refusal names its reason */
        return 0;
    }
    if (r.slot >= geom.slot_count || plan.in_bytes > r.out_offset ||
        r.out_offset > geom.slot_bytes || plan.out_bytes > r.out_capacity ||
        r.out_capacity > geom.slot_bytes - r.out_offset)
        abort();
    uint8_t *slot = malloc(geom.slot_bytes);
    if (slot == NULL)
        return 0;
    memset(slot, 0x80, plan.in_bytes);
    struct pp_image in = {slot, r.in.width, r.in.height, r.in.stride, r.in.format};
    struct pp_result res;
    if (pp_run_cpu(&in, &r.params, slot + r.out_offset, plan.out_bytes, &res) == 0 &&
        (res.width != plan.out_width || res.height != plan.out_height))
        abort();
    free(slot);
    return 0;
}
