/*
 * listener_probe.c - the ping thread behind listener_probe.h.
 */
#include "listener_probe.h"

#include <string.h>

#include "../common/clock.h"
#include "../common/status.h"
#include "nng_chan.h"

/* One probe over a fresh connection: #1518 spares pipes made before it. */
static bool probe_once(struct listener_probe *p)
{
    nng_socket req;
    if (chan_dial(p->url, &req) != 0)
        return false;
    nng_msg *rep = NULL;
    bool ok = chan_call(req, p->ping, p->ping_len, &rep, p->interval_ms) == 0;
    if (ok)
        nng_msg_free(rep);
    nng_close(req);
    return ok;
}

static void *probe_main(void *arg)
{
    struct listener_probe *p = arg;
    int misses = 0;
    while (!atomic_load(&p->stop)) {
        for (uint32_t t = 0; t < p->interval_ms && !atomic_load(&p->stop); t += 50)
            clock_sleep_ms(50);
        if (atomic_load(&p->stop))
            break;
        if (probe_once(p)) {
            misses = 0;
        } else if (++misses >= p->misses) {
            atomic_store(&p->broken, true);
            misses = 0;
        }
    }
    return NULL;
}

int listener_probe_start(struct listener_probe *p, const char *url, const void *ping,
                         size_t ping_len, uint32_t interval_ms, int misses)
{
    memset(p, 0, sizeof *p);
    if (ping_len > sizeof p->ping || strlen(url) >= sizeof p->url)
        return FILOT_EINVAL;
    memcpy(p->url, url, strlen(url) + 1);
    memcpy(p->ping, ping, ping_len);
    p->ping_len = ping_len;
    p->interval_ms = interval_ms;
    p->misses = misses;
    if (pthread_create(&p->thread, NULL, probe_main, p) != 0)
        return FILOT_EIO;
    p->running = true;
    return 0;
}

bool listener_probe_broken(struct listener_probe *p)
{
    return atomic_exchange(&p->broken, false);
}

void listener_probe_stop(struct listener_probe *p)
{
    if (!p->running)
        return;
    atomic_store(&p->stop, true);
    pthread_join(p->thread, NULL);
    p->running = false;
}
