/*
 * gpu_client.c - lend a slot to the gpu-server, wait with a deadline.
 */
#include "gpu_client.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/status.h"
#include "ipc/ipc_msg.h"
#include "ipc/nng_chan.h"

#define OUT_ALIGN 64u

void gpu_client_init(struct gpu_client *g, struct shm_pool *pool, const char *runtime_dir,
                     int worker_index, uint32_t deadline_ms)
{
    memset(g, 0, sizeof *g);
    g->pool = pool;
    g->slot_first = (uint32_t)worker_index * 2u;
    g->slot_count = 2;
    g->deadline_ms = deadline_ms;
    if (chan_url(runtime_dir, "gpu.sock", g->url, sizeof g->url) != 0)
        g->url[0] = '\0';
}

/* Dials lazily: a worker on a host without a GPU never opens the socket. */
static int ensure_dialled(struct gpu_client *g)
{
    if (g->dialled)
        return 0;
    if (g->url[0] == '\0' || chan_dial(g->url, &g->sock) != 0)
        return FILOT_EUNAVAIL;
    g->dialled = true;
    return 0;
}

/* Copies in's rows into the slot; returns the output offset or 0 if too big. */
static uint64_t stage_input(struct gpu_client *g, uint32_t slot, const struct pp_image *in,
                            uint64_t out_bytes)
{
    uint64_t row = (uint64_t)in->width * in->format;
    uint64_t in_bytes = row * in->height;
    uint64_t out_off = (in_bytes + OUT_ALIGN - 1) / OUT_ALIGN * OUT_ALIGN;
    if (out_off + out_bytes > slot_capacity(g->pool, slot))
        return 0;
    uint8_t *dst = slot_data(g->pool, slot);
    for (uint32_t y = 0; y < in->height; y++)
        memcpy(dst + (uint64_t)y * row, in->data + (uint64_t)y * in->stride, row);
    return out_off;
}

/*
 * Sends the request and checks the answer: it belongs to our slot and
 * generation and, when it reports success, describes exactly the output
 * we asked for (want_w x want_h, the size req->out_capacity was sized by).
 * The server is a peer like any other: a reply claiming other dimensions
 * would make us read past the result.  *why says what was wrong.
 */
static int exchange(struct gpu_client *g, const struct ipc_preproc_req *req, uint32_t want_w,
                    uint32_t want_h, struct ipc_preproc_rep *rep, const char **why)
{
    uint8_t buf[IPC_MSG_MAX];
    size_t len = ipc_encode_preproc_req(req, buf);
    nng_msg *msg = NULL;
    int rc = chan_call(g->sock, buf, len, &msg, g->deadline_ms);
    if (rc != 0)
        return rc;
    rc = ipc_decode_preproc_rep(nng_msg_body(msg), nng_msg_len(msg), rep);
    nng_msg_free(msg);
    if (rc != 0) {
        *why = "undecodable reply";
        return FILOT_EFORMAT;
    }
    if (rep->slot != req->slot || rep->generation != req->generation) {
        *why = "reply for another slot or generation";
        return FILOT_ESTALE;
    }
    if (rep->status != 0) {
        *why = "refused by the GPU server";
        return rep->status < 0 ? rep->status : FILOT_EFORMAT;
    }
    if (rep->out_width != want_w || rep->out_height != want_h || !isfinite(rep->skew_deg)) {
        *why = "reply geometry differs from the request";
        return FILOT_EFORMAT;
    }
    return 0;
}

int gpu_preprocess(struct gpu_client *g, const struct pp_image *in, const struct pp_params *p,
                   const uint8_t **out, struct pp_result *res, struct gpu_lease *lease)
{
    memset(lease, 0, sizeof *lease);
    if (atomic_load(&g->pool->hdr->gpu_state) != GPU_READY || ensure_dialled(g) != 0)
        return FILOT_EUNAVAIL;
    uint32_t ow, oh;
    pp_output_size(p, in->width, in->height, &ow, &oh);
    struct ipc_preproc_req req = {0};
    if (slot_claim(g->pool, getpid(), g->slot_first, g->slot_count, &req.slot, &req.generation) !=
        0)
        return FILOT_EBUSY;
    lease->slot = req.slot;
    lease->gen = req.generation;
    lease->held = true;
    req.out_offset = stage_input(g, req.slot, in, (uint64_t)ow * oh);
    if (req.out_offset == 0) {
        gpu_lease_release(g, lease);
        return FILOT_ETOOBIG;
    }
    req.in.width = in->width;
    req.in.height = in->height;
    req.in.stride = in->width * in->format;
    req.in.format = in->format;
    req.out_capacity = (uint64_t)ow * oh;
    req.params = *p;
    slot_lend(g->pool, req.slot, req.generation);
    struct ipc_preproc_rep rep = {0};
    const char *why = "no reply";
    int rc = exchange(g, &req, ow, oh, &rep, &why);
    if (rc != 0) {
        log_kv(LOG_WARN, "GPU preprocessing failed; using the CPU twin", LF_STR, "error",
               filot_strerror(rc), LF_STR, "reason", why, LF_INT, "deadlineMs",
               (long long)g->deadline_ms, LF_INT, "replyWidth", (long long)rep.out_width, LF_INT,
               "replyHeight", (long long)rep.out_height, LF_INT, "wantWidth", (long long)ow, LF_INT,
               "wantHeight", (long long)oh, LF_END);
        /* A slot the GPU still works on is handed over to it to free. */
        if (slot_recover(g->pool, req.slot, req.generation) != 0)
            lease->held = false;
        gpu_lease_release(g, lease);
        return rc;
    }
    *out = slot_data(g->pool, req.slot) + req.out_offset;
    res->width = ow;
    res->height = oh;
    res->skew_deg = rep.skew_deg;
    res->elapsed_us = rep.elapsed_us;
    return 0;
}

void gpu_lease_release(struct gpu_client *g, struct gpu_lease *lease)
{
    if (lease->held)
        slot_release(g->pool, lease->slot, lease->gen);
    lease->held = false;
}

void gpu_client_close(struct gpu_client *g)
{
    if (g->dialled)
        nng_close(g->sock);
    g->dialled = false;
}
