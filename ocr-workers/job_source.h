/*
 * job_source.h - where a worker gets its next document and returns the
 * result.  Today: an nng job channel served by `filot-ocr ocr` (worker
 * pulls, so a worker only ever holds one job).
 *
 * Protocol (JSON, one object a message, worker = REQ):
 *   {"op":"next","worker":I,"pid":P}         ->
 * {"op":"job","id":N,"path":"...","documentType":"KTP"} |  {"op":"idle"}
 *   {"op":"result","id":N,"result":{...}}    -> {"op":"ack"}
 */
#ifndef FILOT_JOB_SOURCE_H
#define FILOT_JOB_SOURCE_H

#include <jansson.h>
#include <nng/nng.h>
#include <stdbool.h>

struct job_source {
    nng_socket sock;
    bool open;
    int worker_index;
};

int job_source_open(struct job_source *js, const char *url, int worker_index);

/* 0 and *job (caller decrefs), FILOT_EBUSY when there is nothing to do. */
int job_source_next(struct job_source *js, json_t **job);

/* Returns the result of job id (steals result). */
int job_source_result(struct job_source *js, json_int_t id, json_t *result);

void job_source_close(struct job_source *js);

#endif
