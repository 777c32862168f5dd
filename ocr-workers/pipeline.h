/*
 * pipeline.h - one document through a worker: decode, preprocess (GPU
 * server or CPU twin), recognise, extract fields, score.
 */
#ifndef FILOT_PIPELINE_H
#define FILOT_PIPELINE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/config.h"
#include "doc_parse.h"
#include "engine.h"
#include "gpu_client.h"

struct pipeline {
    const struct filot_config *cfg;
    struct ocr_engine *engine;
    struct gpu_client gpu;
    uint32_t steps; /* OCR_PREPROCESS mask */
    uint64_t gpu_jobs;
    uint64_t cpu_jobs;
};

/*
 * Processes one document held in memory.  Always returns a result object
 * (never NULL unless out of memory): {"success":true, "ocrText", ...} or
 * {"success":false, "error": "<clear reason>", ...}.
 */
json_t *pipeline_run(struct pipeline *pl, const uint8_t *buf, size_t len, enum doc_type type);

/* Builds a failure result with processingTimeMs measured from start_us. */
json_t *pipeline_failure(const char *error, enum doc_type type, uint64_t start_us);

#endif
