/*
 * lease.h - the heartbeat thread of a worker in queue mode.
 *
 * Tesseract keeps the worker's main thread busy for seconds; the lease on
 * the current job and the instance's liveness key are renewed from this
 * thread, on its own Redis connection (BullMQ's lesson: a CPU-bound job
 * must not starve its own lock renewal).
 */
#ifndef FILOT_LEASE_H
#define FILOT_LEASE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "queue.h"

struct lease {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct queue *q;
    struct claim current;
    bool has_current;
    bool stop;
    bool running;
    uint32_t interval_ms;
};

int lease_start(struct lease *l, const struct filot_config *cfg, const char *instance, int index);
void lease_hold(struct lease *l, const struct claim *c);
void lease_release(struct lease *l);
void lease_stop(struct lease *l);

#endif
