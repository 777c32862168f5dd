/*
 * ipc_msg.h - the control messages between workers and the gpu-server.
 *
 * Fixed-size little-endian binary records (no pixels: those stay in the
 * slot).  Every message starts with magic, version and type so a message
 * from a different build is refused, not misread.
 */
#ifndef FILOT_IPC_MSG_H
#define FILOT_IPC_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "../common/preproc.h"

#define IPC_MAGIC   0x4650u /* "PF" */
#define IPC_VERSION 1u

enum ipc_type {
    IPC_PING = 1, /* liveness probe, answered with IPC_PONG */
    IPC_PONG = 2,
    IPC_PREPROC = 3,    /* preprocess a slot */
    IPC_PREPROC_REP = 4 /* result of IPC_PREPROC */
};

struct ipc_preproc_req {
    uint32_t slot;
    uint64_t generation;
    struct pp_image_geom {
        uint32_t width, height, stride, format;
    } in;
    uint64_t out_offset; /* from the slot start */
    uint64_t out_capacity;
    struct pp_params params;
};

struct ipc_preproc_rep {
    int32_t status; /* 0 or FILOT_E* */
    uint32_t slot;
    uint64_t generation;
    uint32_t out_width;
    uint32_t out_height;
    float skew_deg;
    uint32_t elapsed_us;
};

#define IPC_MSG_MAX 128

/* Encoders return the length written (<= IPC_MSG_MAX). */
size_t ipc_encode_ping(enum ipc_type type, uint8_t *buf);
size_t ipc_encode_preproc_req(const struct ipc_preproc_req *r, uint8_t *buf);
size_t ipc_encode_preproc_rep(const struct ipc_preproc_rep *r, uint8_t *buf);

/*
 * Returns the message type, or FILOT_EINVAL for a short or foreign message.
 * The decoders accept only a record of exactly the right size and set every
 * byte of *r (fields the record does not carry, such as
 * params.page_target_height, are 0).
 */
int ipc_peek_type(const uint8_t *buf, size_t len);
int ipc_decode_preproc_req(const uint8_t *buf, size_t len, struct ipc_preproc_req *r);
int ipc_decode_preproc_rep(const uint8_t *buf, size_t len, struct ipc_preproc_rep *r);

#endif
