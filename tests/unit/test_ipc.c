/*
 * test_ipc.c - the worker <-> gpu-server record codec and the job-channel
 * wrappers over a real nng ipc:// socket.
 */
#include <check.h>

#include "check_run.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/status.h"
#include "ipc/ipc_msg.h"
#include "ipc/listener_probe.h"
#include "ipc/nng_chan.h"

static struct ipc_preproc_req sample_req(void)
{
    struct ipc_preproc_req r = {0};
    r.slot = 3;
    r.generation = 0x1122334455ULL;
    r.in.width = 1011;
    r.in.height = 638;
    r.in.stride = 4044;
    r.in.format = PP_RGBA32;
    r.out_offset = 2580096;
    r.out_capacity = 1290048;
    r.params.steps = PP_STEP_DESKEW | PP_STEP_RESCALE;
    r.params.scale = 1.75f;
    r.params.sauvola_window = 31;
    r.params.sauvola_k = 0.34f;
    r.params.max_skew_deg = 10.0f;
    r.params.warp = 1;
    const float quad[8] = {10.5f, 20.25f, 900.f, 31.f, 880.f, 600.f, 12.f, 590.f};
    memcpy(r.params.quad, quad, sizeof quad);
    return r;
}

START_TEST(test_req_roundtrip)
{
    struct ipc_preproc_req in = sample_req(), out;
    uint8_t buf[IPC_MSG_MAX];
    size_t len = ipc_encode_preproc_req(&in, buf);
    ck_assert_uint_le(len, IPC_MSG_MAX);
    ck_assert_int_eq(ipc_peek_type(buf, len), IPC_PREPROC);
    ck_assert_int_eq(ipc_decode_preproc_req(buf, len, &out), 0);
    ck_assert_uint_eq(out.slot, 3);
    ck_assert_uint_eq(out.generation, in.generation);
    ck_assert_uint_eq(out.in.stride, 4044);
    ck_assert_uint_eq(out.out_offset, in.out_offset);
    ck_assert_float_eq(out.params.scale, 1.75f);
    ck_assert_uint_eq(out.params.steps, in.params.steps);
    ck_assert_uint_eq(out.params.warp, 1);
    ck_assert_mem_eq(out.params.quad, in.params.quad, sizeof in.params.quad);
}
END_TEST

START_TEST(test_rep_roundtrip)
{
    struct ipc_preproc_rep in = {.status = FILOT_ESTALE,
                                 .slot = 1,
                                 .generation = 9,
                                 .out_width = 10,
                                 .out_height = 20,
                                 .skew_deg = -2.5f,
                                 .elapsed_us = 1234},
                           out;
    uint8_t buf[IPC_MSG_MAX];
    size_t len = ipc_encode_preproc_rep(&in, buf);
    ck_assert_int_eq(ipc_decode_preproc_rep(buf, len, &out), 0);
    ck_assert_int_eq(out.status, FILOT_ESTALE);
    ck_assert_float_eq(out.skew_deg, -2.5f);
    ck_assert_uint_eq(out.elapsed_us, 1234);
}
END_TEST

START_TEST(test_refuses_bad_messages)
{
    struct ipc_preproc_req in = sample_req(), out;
    uint8_t buf[IPC_MSG_MAX];
    size_t len = ipc_encode_preproc_req(&in, buf);
    for (size_t cut = 0; cut < len; cut++) /* every truncation */
        ck_assert_int_eq(ipc_decode_preproc_req(buf, cut, &out), FILOT_EINVAL);
    uint8_t longer[IPC_MSG_MAX + 4];
    memcpy(longer, buf, len);
    longer[len] = 0;
    ck_assert_int_eq(ipc_decode_preproc_req(longer, len + 1, &out), FILOT_EINVAL);
    buf[0] ^= 0xff; /* magic */
    ck_assert_int_eq(ipc_peek_type(buf, len), FILOT_EINVAL);
    buf[0] ^= 0xff;
    buf[2] = IPC_VERSION + 1; /* another build */
    ck_assert_int_eq(ipc_decode_preproc_req(buf, len, &out), FILOT_EINVAL);
    buf[2] = IPC_VERSION;
    struct ipc_preproc_rep rep;
    ck_assert_int_eq(ipc_decode_preproc_rep(buf, len, &rep), FILOT_EINVAL); /* wrong type */
}
END_TEST

/* Serves the JSON channel for up to ms, re-creating the listener when the
 * probe says it broke; returns how many resets it did. */
struct serve_ctx {
    nng_socket rep;
    char url[200];
    struct listener_probe probe;
    atomic_bool stop;
    int resets;
};

static void *serve(void *arg)
{
    struct serve_ctx *c = arg;
    while (!atomic_load(&c->stop)) {
        if (listener_probe_broken(&c->probe)) {
            nng_close(c->rep);
            if (chan_listen(c->url, &c->rep) != 0)
                break;
            c->resets++;
        }
        json_t *msg;
        if (chan_recv_json(c->rep, &msg, NULL, 100) == 0) {
            json_object_set_new(msg, "echo", json_true());
            chan_send_json(c->rep, msg);
            json_decref(msg);
        }
    }
    return NULL;
}

/* A peer that connects and leaves mid-handshake (the nng #1518 trigger)
 * must not keep the real client out for long: the probe notices and the
 * listener is re-created.  Repeated to hit the bug on this build. */
START_TEST(test_listener_survives_raw_disconnect)
{
    char dir[64] = "/tmp/filot-ipc.XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    static struct serve_ctx c;
    memset(&c, 0, sizeof c);
    ck_assert_int_eq(chan_url(dir, "t.sock", c.url, sizeof c.url), 0);
    ck_assert_int_eq(chan_listen(c.url, &c.rep), 0);
    const char *ping = "{\"op\":\"ping\"}";
    ck_assert_int_eq(listener_probe_start(&c.probe, c.url, ping, strlen(ping), 200, 2), 0);
    pthread_t th;
    pthread_create(&th, NULL, serve, &c);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s/t.sock", dir);
    for (int round = 0; round < 5; round++) {
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
        close(fd);
        nng_socket req;
        ck_assert_int_eq(chan_dial(c.url, &req), 0);
        json_t *q = json_pack("{s:s, s:i}", "op", "next", "round", round), *a = NULL;
        int rc = FILOT_ETIMEDOUT;
        for (int tries = 0; tries < 20 && rc != 0; tries++)
            rc = chan_call_json(req, q, &a, 500);
        ck_assert_int_eq(rc, 0);
        ck_assert(json_is_true(json_object_get(a, "echo")));
        json_decref(a);
        json_decref(q);
        nng_close(req);
    }
    atomic_store(&c.stop, true);
    pthread_join(th, NULL);
    listener_probe_stop(&c.probe);
    nng_close(c.rep);
    printf("listener resets needed: %d\n", c.resets);
    unlink(sa.sun_path);
    rmdir(dir);
}
END_TEST

START_TEST(test_call_times_out_without_server)
{
    char d[64] = "/tmp/filot-ipc.XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(d));
    char u[200];
    chan_url(d, "none.sock", u, sizeof u);
    nng_socket req;
    ck_assert_int_eq(chan_dial(u, &req), 0);
    json_t *q = json_pack("{s:s}", "op", "next"), *a = NULL;
    ck_assert_int_eq(chan_call_json(req, q, &a, 200), FILOT_ETIMEDOUT);
    json_decref(q);
    nng_close(req);
    rmdir(d);
}
END_TEST

START_TEST(test_url_too_long)
{
    char longdir[200];
    memset(longdir, 'a', sizeof longdir - 1);
    longdir[sizeof longdir - 1] = '\0';
    char u[400];
    ck_assert_int_eq(chan_url(longdir, "x.sock", u, sizeof u), FILOT_EINVAL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ipc");
    TCase *codec = tcase_create("codec");
    tcase_add_test(codec, test_req_roundtrip);
    tcase_add_test(codec, test_rep_roundtrip);
    tcase_add_test(codec, test_refuses_bad_messages);
    suite_add_tcase(s, codec);
    TCase *chan = tcase_create("channel");
    tcase_set_timeout(chan, 60);
    tcase_add_test(chan, test_listener_survives_raw_disconnect);
    tcase_add_test(chan, test_call_times_out_without_server);
    tcase_add_test(chan, test_url_too_long);
    suite_add_tcase(s, chan);
    return check_run(s);
}
