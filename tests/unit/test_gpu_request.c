/*
 * test_gpu_request.c - the trust boundary between workers and the GPU
 * server: gpu_request_check() refuses every request field a peer could
 * forge (wrapping offsets, overlapping or oversized regions, non-finite
 * or out-of-range floats, bad slot or generation), and a worker refuses a
 * reply that lies about the output it wrote (a real nng socket answered by
 * a lying server thread) and falls back with its slot freed.
 */
#include <check.h>

#include "check_run.h"
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/status.h"
#include "gpu-server/request_check.h"
#include "ipc/ipc_msg.h"
#include "ipc/nng_chan.h"
#include "ipc/shm_pool.h"
#include "ocr-workers/reading/gpu_client.h"

static const struct gpu_slot_geom GEOM = {4, 1u << 20};

/* A request the check accepts: 100x50 RGBA, output after the input. */
static struct ipc_preproc_req good_req(void)
{
    struct ipc_preproc_req r = {.slot = 3, .generation = 7};
    r.in.width = 100;
    r.in.height = 50;
    r.in.stride = 400;
    r.in.format = PP_RGBA32;
    pp_params_default(PP_STEPS_ALL, &r.params);
    r.params.scale = 2.0f;
    r.out_offset = 20032;
    r.out_capacity = 200 * 100;
    return r;
}

static int check(const struct ipc_preproc_req *r)
{
    struct gpu_request_plan plan;
    const char *why = NULL;
    int rc = gpu_request_check(r, &GEOM, &plan, &why);
    ck_assert_ptr_nonnull(why);
    ck_assert(rc == 0 || why[0] != '\0');
    return rc;
}

START_TEST(test_accepts_and_plans)
{
    struct ipc_preproc_req r = good_req();
    struct gpu_request_plan plan;
    const char *why;
    ck_assert_int_eq(gpu_request_check(&r, &GEOM, &plan, &why), 0);
    ck_assert_uint_eq(plan.in_bytes, 20000);
    ck_assert_uint_eq(plan.out_width, 200);
    ck_assert_uint_eq(plan.out_height, 100);
    ck_assert_uint_eq(plan.out_bytes, 20000);
}
END_TEST

/* Offsets and sizes chosen so that a plain sum or product would wrap. */
START_TEST(test_refuses_wrapping_regions)
{
    struct ipc_preproc_req r = good_req();
    r.out_offset = UINT64_MAX - 63;
    r.out_capacity = 128; /* offset + capacity == 64 in 64 bits */
    ck_assert_int_eq(check(&r), FILOT_ETOOBIG);
    r = good_req();
    r.out_capacity = UINT64_MAX;
    ck_assert_int_eq(check(&r), FILOT_ETOOBIG);
    r = good_req();
    r.out_offset = GEOM.slot_bytes + 1;
    r.out_capacity = 0;
    ck_assert_int_eq(check(&r), FILOT_ETOOBIG);
    r = good_req();
    r.in.stride = UINT32_MAX; /* stride * height far past the slot */
    ck_assert_int_eq(check(&r), FILOT_ETOOBIG);
}
END_TEST

START_TEST(test_refuses_overlap_and_short_capacity)
{
    struct ipc_preproc_req r = good_req();
    r.out_offset = 19999; /* inside the input */
    ck_assert_int_eq(check(&r), FILOT_EINVAL);
    r = good_req();
    r.out_capacity = 200 * 100 - 1;
    ck_assert_int_eq(check(&r), FILOT_ETOOBIG);
    r = good_req();
    r.out_offset = GEOM.slot_bytes - 100; /* result does not fit behind it */
    ck_assert_int_eq(check(&r), FILOT_ETOOBIG);
}
END_TEST

START_TEST(test_refuses_bad_slot_and_generation)
{
    struct ipc_preproc_req r = good_req();
    r.slot = GEOM.slot_count;
    ck_assert_int_eq(check(&r), FILOT_EINVAL);
    r.slot = UINT32_MAX;
    ck_assert_int_eq(check(&r), FILOT_EINVAL);
    r = good_req();
    r.generation = 0;
    ck_assert_int_eq(check(&r), FILOT_EINVAL);
    r.generation = GPU_MAX_GENERATION + 1;
    ck_assert_int_eq(check(&r), FILOT_EINVAL);
}
END_TEST

START_TEST(test_refuses_bad_geometry)
{
    struct ipc_preproc_req r = good_req();
    r.in.format = 3;
    ck_assert_int_eq(check(&r), FILOT_EINVAL);
    r = good_req();
    r.in.width = 0;
    ck_assert_int_eq(check(&r), FILOT_EINVAL);
    r = good_req();
    r.in.height = PP_MAX_DIM + 1;
    ck_assert_int_eq(check(&r), FILOT_EINVAL);
    r = good_req();
    r.in.stride = 399; /* shorter than a row */
    ck_assert_int_eq(check(&r), FILOT_EINVAL);
}
END_TEST

/* Every float finite and bounded, whether its step is on or not. */
START_TEST(test_refuses_bad_floats)
{
    const float bad_scale[] = {NAN, INFINITY, -INFINITY, 0.0f, -1.0f, 3.5f, 1e30f};
    for (size_t i = 0; i < sizeof bad_scale / sizeof bad_scale[0]; i++) {
        struct ipc_preproc_req r = good_req();
        r.params.scale = bad_scale[i];
        ck_assert_msg(check(&r) == FILOT_EINVAL, "scale %g accepted", (double)bad_scale[i]);
        r.params.steps = 0;
        ck_assert_msg(check(&r) == FILOT_EINVAL, "scale %g accepted without rescale",
                      (double)bad_scale[i]);
    }
    struct ipc_preproc_req r = good_req();
    r.params.sauvola_k = NAN;
    ck_assert_int_eq(check(&r), FILOT_EINVAL);
    r = good_req();
    r.params.max_skew_deg = INFINITY;
    ck_assert_int_eq(check(&r), FILOT_EINVAL);
    r = good_req();
    r.params.max_skew_deg = -1.0f;
    ck_assert_int_eq(check(&r), FILOT_EINVAL);
    r = good_req();
    r.params.steps |= 1u << 20;
    ck_assert_int_eq(check(&r), FILOT_EINVAL);
    r = good_req();
    r.params.bg_window = UINT32_MAX;
    ck_assert_int_eq(check(&r), FILOT_EINVAL);
    r = good_req();
    r.params.sauvola_window = 0;
    ck_assert_int_eq(check(&r), FILOT_EINVAL);
}
END_TEST

/* ---- a GPU server that lies in its reply ------------------------------- */

struct liar {
    struct shm_pool *pool;
    nng_socket rep;
    uint32_t width, height; /* what the reply claims */
};

/* Serves one request: takes the slot as the real server would, then lies. */
static void *serve_once(void *arg)
{
    struct liar *l = arg;
    nng_msg *msg = NULL;
    nng_socket_set_ms(l->rep, NNG_OPT_RECVTIMEO, 10000);
    if (nng_recvmsg(l->rep, &msg, 0) != 0)
        return NULL;
    struct ipc_preproc_req req;
    struct ipc_preproc_rep rep = {0};
    if (ipc_decode_preproc_req(nng_msg_body(msg), nng_msg_len(msg), &req) == 0) {
        rep.slot = req.slot;
        rep.generation = req.generation;
        slot_gpu_take(l->pool, req.slot, req.generation);
        slot_gpu_finish(l->pool, req.slot, req.generation);
    }
    nng_msg_free(msg);
    rep.out_width = l->width;
    rep.out_height = l->height;
    uint8_t out[IPC_MSG_MAX];
    nng_send(l->rep, out, ipc_encode_preproc_rep(&rep, out), 0);
    return NULL;
}

/*
 * Lends a 16x8 grey image to a server thread answering with width x
 * height; returns gpu_preprocess()'s code, the lease and the slot's state.
 */
static int preprocess_via_liar(uint32_t width, uint32_t height, struct gpu_lease *lease,
                               enum slot_state *after)
{
    char dir[64] = "/tmp/filot-liar.XXXXXX", name[64], url[128], err[256];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(name, sizeof name, "/filot-liar.%d", (int)getpid());
    struct shm_pool pool;
    ck_assert_int_eq(shm_pool_create(&pool, name, 32u << 20, 1, 2, err, sizeof err), 0);
    atomic_store(&pool.hdr->gpu_state, GPU_READY);
    struct liar l = {.pool = &pool, .width = width, .height = height};
    ck_assert_int_eq(chan_url(dir, "gpu.sock", url, sizeof url), 0);
    ck_assert_int_eq(chan_listen(url, &l.rep), 0);
    pthread_t th;
    pthread_create(&th, NULL, serve_once, &l);

    struct gpu_client g;
    gpu_client_init(&g, &pool, dir, 0, 5000);
    static uint8_t pixels[16 * 8];
    struct pp_image in = {pixels, 16, 8, 16, PP_GRAY8};
    struct pp_params p;
    pp_params_default(0, &p);
    const uint8_t *out = NULL;
    struct pp_result res = {0};
    int rc = gpu_preprocess(&g, &in, &p, &out, &res, lease);
    pthread_join(th, NULL);
    if (rc == 0) {
        ck_assert_uint_eq(res.width, 16);
        ck_assert_uint_eq(res.height, 8);
    }
    gpu_lease_release(&g, lease);
    *after = slot_state(&pool, 0, NULL);
    gpu_client_close(&g);
    nng_close(l.rep);
    shm_pool_close(&pool);
    snprintf(url, sizeof url, "%s/gpu.sock", dir);
    unlink(url);
    rmdir(dir);
    return rc;
}

START_TEST(test_worker_refuses_lying_reply)
{
    struct gpu_lease lease;
    enum slot_state after;
    ck_assert_int_eq(preprocess_via_liar(65535, 65535, &lease, &after), FILOT_EFORMAT);
    ck_assert(!lease.held);
    ck_assert_int_eq(after, SLOT_FREE);
    ck_assert_int_eq(preprocess_via_liar(16, 9, &lease, &after), FILOT_EFORMAT);
    ck_assert_int_eq(after, SLOT_FREE);
}
END_TEST

START_TEST(test_worker_accepts_honest_reply)
{
    struct gpu_lease lease;
    enum slot_state after;
    ck_assert_int_eq(preprocess_via_liar(16, 8, &lease, &after), 0);
    ck_assert_int_eq(after, SLOT_FREE);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("gpu_request");
    TCase *tc = tcase_create("check");
    tcase_add_test(tc, test_accepts_and_plans);
    tcase_add_test(tc, test_refuses_wrapping_regions);
    tcase_add_test(tc, test_refuses_overlap_and_short_capacity);
    tcase_add_test(tc, test_refuses_bad_slot_and_generation);
    tcase_add_test(tc, test_refuses_bad_geometry);
    tcase_add_test(tc, test_refuses_bad_floats);
    suite_add_tcase(s, tc);
    TCase *reply = tcase_create("reply");
    tcase_set_timeout(reply, 30);
    tcase_add_test(reply, test_worker_refuses_lying_reply);
    tcase_add_test(reply, test_worker_accepts_honest_reply);
    suite_add_tcase(s, reply);
    return check_run(s);
}
