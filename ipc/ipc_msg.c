/*
 * ipc_msg.c - encode / decode of the worker <-> gpu-server records.
 *
 * Explicit byte order, field by field: the two sides are separate programs
 * and a layout change must fail loudly (version), never silently.
 */
#include "ipc_msg.h"

#include <string.h>

#include "../common/status.h"

struct cursor {
    uint8_t *w;
    const uint8_t *r;
    size_t left; /* decode: bytes remaining */
    int err;
};

static void put_u32(struct cursor *c, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        *c->w++ = (uint8_t)(v >> (8 * i));
}

static void put_u64(struct cursor *c, uint64_t v)
{
    put_u32(c, (uint32_t)v);
    put_u32(c, (uint32_t)(v >> 32));
}

static void put_f32(struct cursor *c, float f)
{
    uint32_t v;
    memcpy(&v, &f, sizeof v);
    put_u32(c, v);
}

static uint32_t get_u32(struct cursor *c)
{
    if (c->left < 4) {
        c->err = FILOT_EINVAL;
        return 0;
    }
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)c->r[i] << (8 * i);
    c->r += 4;
    c->left -= 4;
    return v;
}

static uint64_t get_u64(struct cursor *c)
{
    uint64_t lo = get_u32(c);
    return lo | (uint64_t)get_u32(c) << 32;
}

static float get_f32(struct cursor *c)
{
    uint32_t v = get_u32(c);
    float f;
    memcpy(&f, &v, sizeof f);
    return f;
}

static void put_head(struct cursor *c, enum ipc_type type)
{
    put_u32(c, IPC_MAGIC | IPC_VERSION << 16 | (uint32_t)type << 24);
}

size_t ipc_encode_ping(enum ipc_type type, uint8_t *buf)
{
    struct cursor c = {.w = buf};
    put_head(&c, type);
    return (size_t)(c.w - buf);
}

static void put_params(struct cursor *c, const struct pp_params *p)
{
    put_u32(c, p->steps);
    put_f32(c, p->scale);
    put_u32(c, p->bg_window);
    put_u32(c, p->sauvola_window);
    put_f32(c, p->sauvola_k);
    put_f32(c, p->max_skew_deg);
    put_u32(c, p->target_height);
}

static void get_params(struct cursor *c, struct pp_params *p)
{
    p->steps = get_u32(c);
    p->scale = get_f32(c);
    p->bg_window = get_u32(c);
    p->sauvola_window = get_u32(c);
    p->sauvola_k = get_f32(c);
    p->max_skew_deg = get_f32(c);
    p->target_height = get_u32(c);
}

size_t ipc_encode_preproc_req(const struct ipc_preproc_req *r, uint8_t *buf)
{
    struct cursor c = {.w = buf};
    put_head(&c, IPC_PREPROC);
    put_u32(&c, r->slot);
    put_u64(&c, r->generation);
    put_u32(&c, r->in.width);
    put_u32(&c, r->in.height);
    put_u32(&c, r->in.stride);
    put_u32(&c, r->in.format);
    put_u64(&c, r->out_offset);
    put_u64(&c, r->out_capacity);
    put_params(&c, &r->params);
    return (size_t)(c.w - buf);
}

size_t ipc_encode_preproc_rep(const struct ipc_preproc_rep *r, uint8_t *buf)
{
    struct cursor c = {.w = buf};
    put_head(&c, IPC_PREPROC_REP);
    put_u32(&c, (uint32_t)r->status);
    put_u32(&c, r->slot);
    put_u64(&c, r->generation);
    put_u32(&c, r->out_width);
    put_u32(&c, r->out_height);
    put_f32(&c, r->skew_deg);
    put_u32(&c, r->elapsed_us);
    return (size_t)(c.w - buf);
}

int ipc_peek_type(const uint8_t *buf, size_t len)
{
    struct cursor c = {.r = buf, .left = len};
    uint32_t head = get_u32(&c);
    if (c.err != 0 || (head & 0xffffu) != IPC_MAGIC || ((head >> 16) & 0xffu) != IPC_VERSION)
        return FILOT_EINVAL;
    int type = (int)(head >> 24);
    if (type < IPC_PING || type > IPC_PREPROC_REP)
        return FILOT_EINVAL;
    return type;
}

/* Checks the header, then positions c after it. */
static int open_body(struct cursor *c, const uint8_t *buf, size_t len, enum ipc_type want)
{
    if (ipc_peek_type(buf, len) != (int)want)
        return FILOT_EINVAL;
    c->r = buf + 4;
    c->left = len - 4;
    c->err = 0;
    return 0;
}

int ipc_decode_preproc_req(const uint8_t *buf, size_t len, struct ipc_preproc_req *r)
{
    struct cursor c;
    /* The wire has no page_target_height (the worker plans, the server only
       applies scale): every field and pad byte the record does not carry is 0. */
    memset(r, 0, sizeof *r);
    if (open_body(&c, buf, len, IPC_PREPROC) != 0)
        return FILOT_EINVAL;
    r->slot = get_u32(&c);
    r->generation = get_u64(&c);
    r->in.width = get_u32(&c);
    r->in.height = get_u32(&c);
    r->in.stride = get_u32(&c);
    r->in.format = get_u32(&c);
    r->out_offset = get_u64(&c);
    r->out_capacity = get_u64(&c);
    get_params(&c, &r->params);
    if (c.err != 0 || c.left != 0)
        return FILOT_EINVAL;
    return 0;
}

int ipc_decode_preproc_rep(const uint8_t *buf, size_t len, struct ipc_preproc_rep *r)
{
    struct cursor c;
    memset(r, 0, sizeof *r);
    if (open_body(&c, buf, len, IPC_PREPROC_REP) != 0)
        return FILOT_EINVAL;
    r->status = (int32_t)get_u32(&c);
    r->slot = get_u32(&c);
    r->generation = get_u64(&c);
    r->out_width = get_u32(&c);
    r->out_height = get_u32(&c);
    r->skew_deg = get_f32(&c);
    r->elapsed_us = get_u32(&c);
    if (c.err != 0 || c.left != 0)
        return FILOT_EINVAL;
    return 0;
}
