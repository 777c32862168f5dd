/*
 * pipeline.h - one document through a worker: decode (image or PDF pages),
 * preprocess (GPU server or CPU twin), recognise, extract fields, score.
 */
#ifndef FILOT_PIPELINE_H
#define FILOT_PIPELINE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "doc_parse.h"
#include "engine.h"
#include "gpu_client.h"
#include "ocr-workers/stage_times.h"

struct pipeline {
    const struct filot_config *cfg;
    struct ocr_engine *engine;
    struct gpu_client gpu;
    uint32_t steps; /* OCR_PREPROCESS mask */
    uint64_t gpu_jobs;
    uint64_t cpu_jobs;
};

struct pipeline_opts {
    enum doc_type type;        /* DOC_NONE: OCR only, no fields */
    bool force_cpu;            /* the original's CPU fallback attempt */
    struct stage_times *times; /* decode .. extract are added here; NULL: not timed */
};

/*
 * Processes one document held in memory.  Returns a result object (NULL
 * only when out of memory): {"success":true, "ocrText", "meanConfidence",
 * "parsedResult", "score", "decision", "outcome", "reviewReasons", "gpuProcessed",
 * "preprocess", "pages", "processingTimeMs"} or {"success":false,
 * "error":"<clear reason>", ...}.  *retryable (may be NULL) tells a failure
 * worth another attempt (engine failure, out of memory) from bad input.
 */
json_t *pipeline_run(struct pipeline *pl, const uint8_t *buf, size_t len,
                     const struct pipeline_opts *o, bool *retryable);

/* Builds a failure result with processingTimeMs measured from start_us. */
json_t *pipeline_failure(const char *error, enum doc_type type, uint64_t start_us);

#endif
