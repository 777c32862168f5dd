/*
 * queue.h - the Redis side of the job pipeline, wire-compatible with the
 * original GPU worker (doc/COMPATIBILITY.md section 1): the same list, set,
 * hashes, lock keys and result channel, with every multi-key change done
 * by one Lua script so a crash at any instant loses nothing (B4).
 *
 * Keys (defaults; the first four from OCR_GPU_*_KEY):
 *   filot:ocr:gpu:queue                 LIST   document ids (RPUSH tail, LPOP head)
 *   filot:ocr:gpu:processing            SET    claimed ids
 *   filot:ocr:gpu:attempts              HASH   id -> attempts started
 *   filot:ocr:gpu:processing:timestamps HASH   id -> last lease renewal, epoch ms
 *   filot:ocr:gpu:correlation           HASH   id -> correlation uuid
 *   filot:ocr:gpu:lock:<id>             STRING correlation uuid, EX OCR_GPU_LOCK_TTL
 *   filot:ocr:gpu:results               channel
 * added by filot-ocrd:
 *   filot:ocr:gpu:owners                HASH   id -> "<instance>#<worker index>"
 *   filot:ocr:gpu:instance:<instance>   STRING liveness of an instance, short EX
 *   filot:ocr:gpu:delayed               ZSET   id -> due epoch ms (retry backoff)
 *   filot:ocr:gpu:buli2:outbox          HASH   id -> pending escalation (JSON)
 *   filot:ocr:gpu:buli2:due             ZSET   id -> next delivery attempt, epoch ms
 *   filot:ocr:gpu:reaper:lock           STRING one reaper per interval fleet-wide
 */
#ifndef FILOT_QUEUE_H
#define FILOT_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/config.h"

struct queue;

struct claim {
    char id[128];
    char correlation[40];
    int attempts;
};

/* One stuck job the reaper found past the retry limit: the caller fails it. */
struct reaped {
    char id[128];
    char correlation[40];
    int attempts;
};

/*
 * owner = "<instance>#<index>"; the instance id names this filot-ocrd run.
 * No connection is made yet.  FILOT_EINVAL for a URL hiredis cannot serve
 * (rediss:// needs TLS, which Debian 12's hiredis 0.14 lacks).
 */
int queue_open(const struct filot_config *cfg, const char *instance, int index, struct queue **out,
               char *err, size_t errlen);
void queue_close(struct queue *q);

/* Connects when needed, with backoff; logs once per outage.  0 or FILOT_EUNAVAIL. */
int queue_ensure(struct queue *q);
bool queue_healthy(const struct queue *q);

/* Why the last connection attempt failed (e.g. "AUTH failed: WRONGPASS ..."). */
const char *queue_last_error(const struct queue *q);

/* Atomic claim.  0 claimed; FILOT_EBUSY queue empty; FILOT_EUNAVAIL Redis down. */
int queue_claim(struct queue *q, struct claim *c);

/* Lease renewal while a job runs; FILOT_ESTALE when the job is no longer ours. */
int queue_renew(struct queue *q, const struct claim *c);

/* Marks our instance alive (short TTL). */
int queue_heartbeat(struct queue *q);

/* Job finished (success or final failure): drop every key of it, if still ours. */
int queue_complete(struct queue *q, const struct claim *c);

/*
 * Failed attempt: back to the queue after delay_ms.  counted=false gives
 * the attempt back (an infrastructure outage is not the document's fault).
 */
int queue_retry_later(struct queue *q, const struct claim *c, uint32_t delay_ms, bool counted);

/*
 * Sweeps the processing set.  A job is abandoned when its owner instance is
 * gone, when its lock expired and its lease is older than
 * OCR_GPU_STUCK_TIMEOUT, or when it belongs to this very worker slot (only
 * an idle worker reaps, so such a job was its crashed predecessor's).
 * Abandoned jobs go back to the queue; those already at the retry limit are
 * re-claimed by us and returned in out (at most max) for the caller to
 * fail.  *requeued counts the others.  Runs at most once per
 * OCR_GPU_REAPER_INTERVAL fleet-wide unless force is set; FILOT_EBUSY when
 * another worker holds the reaper turn.
 */
int queue_reap(struct queue *q, bool force, struct reaped *out, int max, int *nout, int *requeued);

/* The original's enqueue, atomic: dedup against queue, delayed and processing. */
int queue_enqueue(struct queue *q, const char *id, bool *added);

int queue_publish(struct queue *q, const char *json);
long long queue_length(struct queue *q);

/* Sizes of the job structures, for /metrics; -1 where Redis did not answer. */
struct queue_sizes {
    long long queued;     /* LLEN of the queue */
    long long processing; /* SCARD of the processing set */
    long long delayed;    /* ZCARD of the delayed retries */
    long long outbox;     /* HLEN of the BULI2 outbox */
};
void queue_sizes(struct queue *q, struct queue_sizes *out);

/* Durable BULI2 escalations. */
int queue_outbox_put(struct queue *q, const char *id, const char *payload_json);
/* Takes one due escalation (leased for lease_ms); FILOT_EBUSY when none. */
int queue_outbox_take(struct queue *q, uint32_t lease_ms, char *id, size_t idlen, char **payload);
int queue_outbox_done(struct queue *q, const char *id);
int queue_outbox_defer(struct queue *q, const char *id, const char *payload_json,
                       uint32_t delay_ms);
long long queue_outbox_length(struct queue *q);

/* A claimed job as `filot-ocr status` shows it. */
struct queue_job {
    char id[128];
    char owner[160];    /* "<instance>#<worker index>" ("" when unknown) */
    long long lease_ms; /* last lease renewal, epoch ms (0 when unknown) */
    int attempts;
    bool stuck; /* owner gone, or lock expired and lease past OCR_GPU_STUCK_TIMEOUT */
};

/* Everything the queue holds right now, read in one step. */
struct queue_status {
    long long queued;        /* LLEN of the queue */
    long long claimed;       /* processing-set size */
    long long delayed;       /* retries waiting for their due time */
    long long next_retry_ms; /* earliest due time of a delayed retry, epoch ms (0: none) */
    long long outbox;        /* BULI2 escalations not yet delivered */
    struct queue_job *jobs;  /* claimed jobs, at most max_jobs; free with queue_status_free */
    int njobs;
};

/* Reads the queue's state; 0, FILOT_EUNAVAIL (Redis down) or FILOT_ENOMEM. */
int queue_status_read(struct queue *q, struct queue_status *st, int max_jobs);
void queue_status_free(struct queue_status *st);

#endif
