/*
 * fuzz_ipc_msg.c - the worker <-> gpu-server record codec (ipc/ipc_msg.c)
 * on arbitrary bytes, as a peer (or anyone who can reach the socket) can
 * send them.
 *
 * Properties: a decoder never reads past len and accepts only exactly
 * sized records; what it accepts re-encodes to the same bytes; and its
 * output depends on the input alone (decoding into differently pre-filled
 * structs gives the same bytes, so no field is left unset).
 */
#include <stdint.h>
#include <string.h>

#include "ipc/ipc_msg.h"
#include "tests/fuzz/util.h"

/* Decodes twice from different garbage and checks both runs agree. */
static void check_req(const uint8_t *data, size_t size)
{
    struct ipc_preproc_req a, b;
    uint8_t again[IPC_MSG_MAX];

    memset(&a, 0xAA, sizeof a);
    memset(&b, 0x55, sizeof b);
    int ra = ipc_decode_preproc_req(data, size, &a);
    int rb = ipc_decode_preproc_req(data, size, &b);
    if (ra != rb)
        fuzz_fail("request decode is not deterministic");
    if (ra != 0)
        return;
    if (memcmp(&a, &b, sizeof a) != 0)
        fuzz_fail("request decode leaves part of the struct unset");
    size_t n = ipc_encode_preproc_req(&a, again);
    if (n != size || memcmp(again, data, size) != 0)
        fuzz_fail("request does not re-encode to the bytes it came from");
}

static void check_rep(const uint8_t *data, size_t size)
{
    struct ipc_preproc_rep a, b;
    uint8_t again[IPC_MSG_MAX];

    memset(&a, 0xAA, sizeof a);
    memset(&b, 0x55, sizeof b);
    int ra = ipc_decode_preproc_rep(data, size, &a);
    int rb = ipc_decode_preproc_rep(data, size, &b);
    if (ra != rb)
        fuzz_fail("reply decode is not deterministic");
    if (ra != 0)
        return;
    if (memcmp(&a, &b, sizeof a) != 0)
        fuzz_fail("reply decode leaves part of the struct unset");
    size_t n = ipc_encode_preproc_rep(&a, again);
    if (n != size || memcmp(again, data, size) != 0)
        fuzz_fail("reply does not re-encode to the bytes it came from");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* libFuzzer's data is an exact-size heap block: ASan sees any over-read. */
    int type = ipc_peek_type(data, size);
    if (type != IPC_PING && type != IPC_PONG && type != IPC_PREPROC && type != IPC_PREPROC_REP &&
        type >= 0)
        fuzz_fail("peek returned an unknown type");
    check_req(data, size);
    check_rep(data, size);
    return 0;
}
