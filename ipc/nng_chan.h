/*
 * nng_chan.h - request/reply channels over nng ipc:// with the rules nng
 * 1.5.2 needs: REQ resend disabled (the caller owns retries), explicit
 * deadlines on every call, and no nng use before fork (callers exec).
 */
#ifndef FILOT_NNG_CHAN_H
#define FILOT_NNG_CHAN_H

#include <jansson.h>
#include <nng/nng.h>
#include <stddef.h>
#include <stdint.h>

/* Builds "ipc://<dir>/<name>" into url (>= 160 bytes). */
int chan_url(const char *dir, const char *name, char *url, size_t len);

/* Mode of the socket file an ipc:// listener creates: owner only. */
#define CHAN_SOCKET_MODE 0600

/* REP socket listening on url (a stale socket file is replaced; mode CHAN_SOCKET_MODE). */
int chan_listen(const char *url, nng_socket *out);

/* REQ socket dialling url in the background (reconnects by itself). */
int chan_dial(const char *url, nng_socket *out);

/*
 * Sends req and waits up to timeout_ms for the reply.  *rep is an nng
 * message the caller frees with nng_msg_free().  FILOT_ETIMEDOUT when no
 * reply came in time, FILOT_ECLOSED when the peer went away.
 */
int chan_call(nng_socket s, const void *req, size_t len, nng_msg **rep, uint32_t timeout_ms);

/* JSON helpers for the job channel: compact text, one object a message. */
int chan_call_json(nng_socket s, json_t *req, json_t **rep, uint32_t timeout_ms);
int chan_recv_json(nng_socket s, json_t **msg, nng_pipe *pipe, uint32_t timeout_ms);
int chan_send_json(nng_socket s, json_t *msg);

#endif
