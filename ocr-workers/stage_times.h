/*
 * stage_times.h - where one job's time went, stage by stage: the
 * "stagesMs" object of the job-done log line ("GPU Document OCR processed
 * successfully").  Monotonic clock; a stage met more than once in a job
 * (PDF pages, several row writes) accumulates.  bench/README.md says what
 * each stage covers.
 */
#ifndef FILOT_STAGE_TIMES_H
#define FILOT_STAGE_TIMES_H

#include <jansson.h>
#include <stdint.h>

enum stage {
    STAGE_CLAIM,      /* queue_claim (before the job's own clock starts) */
    STAGE_ROW_READ,   /* the document row */
    STAGE_FETCH,      /* the file from storage */
    STAGE_DECODE,     /* image decode or PDF page render */
    STAGE_HANDOFF,    /* GPU request round trip less the GPU server's own work */
    STAGE_PREPROCESS, /* card search and preprocessing (CPU twin or on the GPU server) */
    STAGE_RECOGNISE,  /* Tesseract on the page */
    STAGE_EXTRACT,    /* field extraction, number re-reads, score and decision */
    STAGE_ROW_WRITE,  /* processing, ocr_completed, ai_evaluated, completed */
    STAGE_PUBLISH,    /* the result message on the Redis channel */
    STAGE_ESCALATE,   /* recording a BULI2 escalation in the outbox */
    STAGE_COUNT
};

struct stage_times {
    uint64_t us[STAGE_COUNT];
};

/* Adds us to stage s; st may be NULL (not timed). */
void stage_add(struct stage_times *st, enum stage s, uint64_t us);

/*
 * Adds the time since *since_us to stage s and restarts *since_us at now,
 * so consecutive stages are timed by one clock read each:
 *   uint64_t t = clock_mono_us(); fetch(); stage_lap(st, STAGE_FETCH, &t);
 */
void stage_lap(struct stage_times *st, enum stage s, uint64_t *since_us);

/* {"claim":0.41,"rowRead":0.83,...}: every stage, milliseconds to 0.01 ms. */
json_t *stage_times_json(const struct stage_times *st);

#endif
