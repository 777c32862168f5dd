/*
 * lease.c - renews the current job's lock and the instance key.
 */
#include "lease.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "../common/log.h"
#include "../common/status.h"

#define MAX_INTERVAL_MS 5000u

static void *lease_main(void *arg)
{
    struct lease *l = arg;
    pthread_mutex_lock(&l->mu);
    while (!l->stop) {
        struct claim c = l->current;
        bool has = l->has_current;
        pthread_mutex_unlock(&l->mu);
        queue_heartbeat(l->q);
        if (has && queue_renew(l->q, &c) == FILOT_ESTALE)
            log_kv(LOG_WARN, "Lease lost: the job was reclaimed by another worker", LF_STR,
                   "documentId", c.id, LF_STR, "correlationId", c.correlation, LF_END);
        pthread_mutex_lock(&l->mu);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += l->interval_ms / 1000;
        ts.tv_nsec += (long)(l->interval_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        while (!l->stop && pthread_cond_timedwait(&l->cv, &l->mu, &ts) != ETIMEDOUT) {
        }
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

int lease_start(struct lease *l, const struct filot_config *cfg, const char *instance, int index)
{
    memset(l, 0, sizeof *l);
    char err[256];
    int rc = queue_open(cfg, instance, index, &l->q, err, sizeof err);
    if (rc != 0)
        return rc;
    l->interval_ms = cfg->lock_ttl_s * 1000u / 3u;
    if (l->interval_ms > MAX_INTERVAL_MS || l->interval_ms == 0)
        l->interval_ms = MAX_INTERVAL_MS;
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    if (pthread_create(&l->thread, NULL, lease_main, l) != 0) {
        queue_close(l->q);
        return FILOT_EIO;
    }
    l->running = true;
    return 0;
}

void lease_hold(struct lease *l, const struct claim *c)
{
    pthread_mutex_lock(&l->mu);
    l->current = *c;
    l->has_current = true;
    pthread_mutex_unlock(&l->mu);
}

void lease_release(struct lease *l)
{
    pthread_mutex_lock(&l->mu);
    l->has_current = false;
    pthread_mutex_unlock(&l->mu);
}

void lease_stop(struct lease *l)
{
    if (!l->running)
        return;
    pthread_mutex_lock(&l->mu);
    l->stop = true;
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
    pthread_join(l->thread, NULL);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    queue_close(l->q);
    l->running = false;
}
