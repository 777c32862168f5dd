/*
 * listener_probe.h - detects an nng listener that stopped delivering.
 *
 * nng 1.5.2 (Debian 12) has bug #1518: after a peer drops a connection in
 * the middle of the SP handshake (a worker killed at the wrong moment), the
 * listener may never deliver again.  A probe thread dials the listener's
 * own path and sends ping every interval; after `misses` unanswered pings
 * in a row it raises a flag, and the owner re-creates the listening socket
 * on the same path (chan_listen replaces the stale socket file).
 * The owner must answer ping with any reply.
 */
#ifndef FILOT_LISTENER_PROBE_H
#define FILOT_LISTENER_PROBE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct listener_probe {
    pthread_t thread;
    bool running;
    atomic_bool stop;
    atomic_bool broken;
    char url[160];
    uint8_t ping[64];
    size_t ping_len;
    uint32_t interval_ms;
    int misses;
};

int listener_probe_start(struct listener_probe *p, const char *url, const void *ping,
                         size_t ping_len, uint32_t interval_ms, int misses);

/* True once (then resets): the listener needs re-creating. */
bool listener_probe_broken(struct listener_probe *p);

void listener_probe_stop(struct listener_probe *p);

#endif
