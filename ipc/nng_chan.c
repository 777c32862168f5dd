/*
 * nng_chan.c - thin, error-code returning wrappers over nng REQ/REP.
 */
#include "nng_chan.h"

#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/log.h"
#include "../common/status.h"

/* Maps an nng error to ours. */
static int from_nng(int rv)
{
    switch (rv) {
    case 0:
        return 0;
    case NNG_ETIMEDOUT:
        return FILOT_ETIMEDOUT;
    case NNG_ECLOSED:
    case NNG_ECONNRESET:
    case NNG_ECONNSHUT:
    case NNG_ECONNREFUSED:
    case NNG_ECANCELED:
        return FILOT_ECLOSED;
    case NNG_ENOMEM:
        return FILOT_ENOMEM;
    default:
        return FILOT_EIO;
    }
}

int chan_url(const char *dir, const char *name, char *url, size_t len)
{
    int n = snprintf(url, len, "ipc://%s/%s", dir, name);
    /* sockaddr_un holds 108 bytes including the NUL */
    if (n < 0 || (size_t)n >= len || strlen(dir) + strlen(name) + 2 > 107)
        return FILOT_EINVAL;
    return 0;
}

int chan_listen(const char *url, nng_socket *out)
{
    int rv = nng_rep0_open(out);
    if (rv != 0) {
        log_kv(LOG_ERROR, "nng_rep0_open failed", LF_STR, "error", nng_strerror(rv), LF_END);
        return from_nng(rv);
    }
    /* the socket file is ours alone (nng would leave it 0644 less the umask) */
    nng_listener l;
    rv = nng_listener_create(&l, *out, url);
    if (rv == 0 && strncmp(url, "ipc://", 6) == 0)
        rv = nng_listener_set_int(l, NNG_OPT_IPC_PERMISSIONS, CHAN_SOCKET_MODE);
    if (rv == 0)
        rv = nng_listener_start(l, 0);
    if (rv != 0) {
        log_kv(LOG_ERROR, "cannot listen", LF_STR, "url", url, LF_STR, "error", nng_strerror(rv),
               LF_END);
        nng_close(*out);
        return from_nng(rv);
    }
    return 0;
}

int chan_dial(const char *url, nng_socket *out)
{
    int rv = nng_req0_open(out);
    if (rv != 0) {
        log_kv(LOG_ERROR, "nng_req0_open failed", LF_STR, "error", nng_strerror(rv), LF_END);
        return from_nng(rv);
    }
    /* Never resend: a resent request could run a job twice (nng #1240). */
    nng_socket_set_ms(*out, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
    nng_socket_set_ms(*out, NNG_OPT_RECONNMINT, 20);
    nng_socket_set_ms(*out, NNG_OPT_RECONNMAXT, 500);
    rv = nng_dial(*out, url, NULL, NNG_FLAG_NONBLOCK);
    if (rv != 0) {
        log_kv(LOG_ERROR, "cannot dial", LF_STR, "url", url, LF_STR, "error", nng_strerror(rv),
               LF_END);
        nng_close(*out);
        return from_nng(rv);
    }
    return 0;
}

int chan_call(nng_socket s, const void *req, size_t len, nng_msg **rep, uint32_t timeout_ms)
{
    nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, (nng_duration)timeout_ms);
    nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, (nng_duration)timeout_ms);
    nng_msg *msg;
    int rv = nng_msg_alloc(&msg, 0);
    if (rv == 0)
        rv = nng_msg_append(msg, req, len);
    if (rv == 0) {
        rv = nng_sendmsg(s, msg, 0);
        if (rv != 0)
            nng_msg_free(msg);
    }
    if (rv == 0)
        rv = nng_recvmsg(s, rep, 0);
    return from_nng(rv);
}

int chan_call_json(nng_socket s, json_t *req, json_t **rep, uint32_t timeout_ms)
{
    char *text = json_dumps(req, JSON_COMPACT);
    if (text == NULL)
        return FILOT_ENOMEM;
    nng_msg *msg = NULL;
    int rc = chan_call(s, text, strlen(text), &msg, timeout_ms);
    free(text);
    if (rc != 0)
        return rc;
    json_error_t jerr;
    *rep = json_loadb(nng_msg_body(msg), nng_msg_len(msg), 0, &jerr);
    nng_msg_free(msg);
    return *rep != NULL ? 0 : FILOT_EFORMAT;
}

int chan_recv_json(nng_socket s, json_t **out, nng_pipe *pipe, uint32_t timeout_ms)
{
    nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, (nng_duration)timeout_ms);
    nng_msg *msg;
    int rv = nng_recvmsg(s, &msg, 0);
    if (rv != 0)
        return from_nng(rv);
    if (pipe != NULL)
        *pipe = nng_msg_get_pipe(msg);
    json_error_t jerr;
    *out = json_loadb(nng_msg_body(msg), nng_msg_len(msg), 0, &jerr);
    nng_msg_free(msg);
    return *out != NULL ? 0 : FILOT_EFORMAT;
}

int chan_send_json(nng_socket s, json_t *msg)
{
    char *text = json_dumps(msg, JSON_COMPACT);
    if (text == NULL)
        return FILOT_ENOMEM;
    int rv = nng_send(s, text, strlen(text), 0);
    free(text);
    return from_nng(rv);
}
