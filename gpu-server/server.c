/*
 * server.c - request handling and listener health of filot-gpu-server.
 */
#include "server.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/child_proc.h"
#include "../common/clock.h"
#include "../common/log.h"
#include "../common/preproc.h"
#include "../common/status.h"
#include "../ipc/ipc_msg.h"
#include "../ipc/listener_probe.h"
#include "../ipc/nng_chan.h"
#include "preproc_cuda.h"
#include "request_check.h"

#define PROBE_INTERVAL_MS 1000u
#define PROBE_FAILURES    3

/* Opens CUDA (or the emulation) and records the device in shm. */
static int open_device(struct gpu_server *g)
{
    char why[256] = "", name[64] = "";
    if (g->emulate) {
        snprintf(name, sizeof name, "cpu-emulation");
    } else if (pp_cuda_open(why, sizeof why, name, sizeof name) != 0) {
        log_kv(LOG_WARN, "No usable CUDA device; workers will preprocess on the CPU", LF_STR,
               "reason", why, LF_END);
        atomic_store(&g->pool.hdr->gpu_state, GPU_UNAVAILABLE);
        return FILOT_EXIT_NO_DEVICE;
    } else if (pp_cuda_register(g->pool.base, g->pool.size) == 0) {
        g->registered = true;
    }
    snprintf(g->pool.hdr->gpu_device, sizeof g->pool.hdr->gpu_device, "%s", name);
    return 0;
}

int gpu_server_init(struct gpu_server *g)
{
    char err[512];
    memset(g, 0, sizeof *g);
    log_init("filot-gpu-server", LOG_INFO);
    if (config_load(&g->cfg, err, sizeof err) != 0) {
        log_kv(LOG_ERROR, "Invalid configuration", LF_STR, "error", err, LF_END);
        return FILOT_EXIT_CONFIG;
    }
    log_init("filot-gpu-server", g->cfg.log_level);
    g->emulate = g->cfg.gpu_emulate;
    int fd;
    const char *dir = getenv("OCR_RUNTIME_DIR");
    if (child_proc_inherited("OCR_SHM_FD", &fd) != 0 ||
        child_proc_inherited("OCR_PARENT_FD", &g->parent_fd) != 0 || dir == NULL)
        return FILOT_EXIT_CONFIG;
    if (shm_pool_attach_fd(&g->pool, fd, err, sizeof err) != 0) {
        log_kv(LOG_ERROR, "Cannot attach shared memory", LF_STR, "error", err, LF_END);
        return FILOT_EXIT_FAILURE;
    }
    if (!g->cfg.gpu_enabled && !g->emulate) {
        log_kv(LOG_INFO, "GPU disabled by OCR_GPU_ENABLED / NVIDIA_VISIBLE_DEVICES", LF_END);
        atomic_store(&g->pool.hdr->gpu_state, GPU_UNAVAILABLE);
        return FILOT_EXIT_NO_DEVICE;
    }
    int rc = open_device(g);
    if (rc != 0)
        return rc;
    if (chan_url(dir, "gpu.sock", g->url, sizeof g->url) != 0 || chan_listen(g->url, &g->rep) != 0)
        return FILOT_EXIT_FAILURE;
    uint8_t ping[IPC_MSG_MAX];
    size_t plen = ipc_encode_ping(IPC_PING, ping);
    listener_probe_start(&g->probe, g->url, ping, plen, PROBE_INTERVAL_MS, PROBE_FAILURES);
    atomic_store(&g->pool.hdr->gpu_pid, getpid());
    atomic_store(&g->pool.hdr->gpu_state, GPU_READY);
    char device[sizeof g->pool.hdr->gpu_device];
    shm_gpu_device(&g->pool, device, sizeof device);
    log_kv(LOG_INFO, "GPU server ready", LF_STR, "device", device, LF_BOOL, "emulated", g->emulate,
           LF_BOOL, "hostRegistered", g->registered, LF_END);
    return 0;
}

/*
 * Validates the request against the pool geometry copied at attach
 * (gpu_request_check()), then runs it.  Offsets and sizes come from the
 * checked request and the private geometry, never from the header.
 */
static int preprocess(struct gpu_server *g, const struct ipc_preproc_req *r,
                      struct ipc_preproc_rep *rep, const char **why)
{
    const struct gpu_slot_geom geom = {g->pool.slot_count, g->pool.slot_bytes};
    struct gpu_request_plan plan;
    int rc = gpu_request_check(r, &geom, &plan, why);
    if (rc != 0)
        return rc;
    rc = slot_gpu_take(&g->pool, r->slot, r->generation);
    if (rc != 0) {
        *why = "slot not lent with this generation";
        return rc; /* stale: the owner gave up or died, the slot was reused */
    }
    uint8_t *base = slot_data(&g->pool, r->slot);
    struct pp_image in = {base, r->in.width, r->in.height, r->in.stride, r->in.format};
    struct pp_result res = {0};
    uint8_t *out = base + r->out_offset;
    rc = g->emulate ? pp_run_cpu(&in, &r->params, out, plan.out_bytes, &res)
                    : pp_run_cuda(&in, &r->params, out, plan.out_bytes, &res);
    int fin = slot_gpu_finish(&g->pool, r->slot, r->generation);
    if (rc == 0 && fin != 0)
        rc = fin;
    rep->out_width = res.width;
    rep->out_height = res.height;
    rep->skew_deg = res.skew_deg;
    rep->elapsed_us = res.elapsed_us;
    return rc;
}

/* Builds the reply for one message; returns its length. */
static size_t handle(struct gpu_server *g, const uint8_t *msg, size_t len, uint8_t *out)
{
    int type = ipc_peek_type(msg, len);
    if (type == IPC_PING)
        return ipc_encode_ping(IPC_PONG, out);
    struct ipc_preproc_req req;
    struct ipc_preproc_rep rep = {0};
    if (type != IPC_PREPROC || ipc_decode_preproc_req(msg, len, &req) != 0) {
        rep.status = FILOT_EINVAL;
        return ipc_encode_preproc_rep(&rep, out);
    }
    rep.slot = req.slot;
    rep.generation = req.generation;
    const char *why = "";
    rep.status = preprocess(g, &req, &rep, &why);
    if (rep.status != 0)
        log_kv(LOG_WARN, "Preprocess request refused", LF_INT, "slot", (long long)req.slot, LF_INT,
               "generation", (long long)req.generation, LF_STR, "error", filot_strerror(rep.status),
               LF_STR, "reason", why, LF_END);
    g->served++;
    return ipc_encode_preproc_rep(&rep, out);
}

/* Closes and re-opens the listening socket on the same path (nng #1518). */
static void reset_listener(struct gpu_server *g)
{
    log_kv(LOG_WARN, "IPC listener stopped answering; re-creating it", LF_STR, "url", g->url,
           LF_END);
    nng_close(g->rep);
    if (chan_listen(g->url, &g->rep) != 0) {
        log_kv(LOG_ERROR, "Cannot re-create IPC listener", LF_END);
        return;
    }
    atomic_fetch_add(&g->pool.hdr->listener_resets, 1);
}

bool gpu_server_step(struct gpu_server *g, uint32_t timeout_ms)
{
    if (!child_proc_parent_alive(g->parent_fd, 0))
        return false;
    if (listener_probe_broken(&g->probe))
        reset_listener(g);
    nng_socket_set_ms(g->rep, NNG_OPT_RECVTIMEO, (nng_duration)timeout_ms);
    nng_msg *msg = NULL;
    if (nng_recvmsg(g->rep, &msg, 0) != 0)
        return true;
    uint8_t out[IPC_MSG_MAX];
    size_t len = handle(g, nng_msg_body(msg), nng_msg_len(msg), out);
    nng_msg_free(msg);
    nng_send(g->rep, out, len, 0);
    return true;
}

void gpu_server_close(struct gpu_server *g)
{
    listener_probe_stop(&g->probe);
    atomic_store(&g->pool.hdr->gpu_state, GPU_DOWN);
    nng_close(g->rep);
    if (g->registered)
        pp_cuda_unregister(g->pool.base);
    if (!g->emulate)
        pp_cuda_close();
    shm_pool_close(&g->pool);
}
