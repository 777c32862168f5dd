/*
 * job_source.c - the worker's side of the job channel.
 */
#include "job_source.h"

#include <string.h>
#include <unistd.h>

#include "../common/status.h"
#include "../ipc/nng_chan.h"

#define CALL_TIMEOUT_MS 2000u

int job_source_open(struct job_source *js, const char *url, int worker_index)
{
    memset(js, 0, sizeof *js);
    js->worker_index = worker_index;
    int rc = chan_dial(url, &js->sock);
    if (rc == 0)
        js->open = true;
    return rc;
}

int job_source_next(struct job_source *js, json_t **job)
{
    json_t *req = json_pack("{s:s, s:i, s:i}", "op", "next", "worker", js->worker_index, "pid",
                            (int)getpid());
    json_t *rep = NULL;
    int rc = req ? chan_call_json(js->sock, req, &rep, CALL_TIMEOUT_MS) : FILOT_ENOMEM;
    json_decref(req);
    if (rc != 0)
        return rc;
    const char *op = json_string_value(json_object_get(rep, "op"));
    if (op != NULL && strcmp(op, "job") == 0) {
        *job = rep;
        return 0;
    }
    json_decref(rep);
    return FILOT_EBUSY;
}

int job_source_result(struct job_source *js, json_int_t id, json_t *result)
{
    json_t *req = json_pack("{s:s, s:I, s:o}", "op", "result", "id", id, "result", result);
    json_t *rep = NULL;
    int rc = req ? chan_call_json(js->sock, req, &rep, CALL_TIMEOUT_MS) : FILOT_ENOMEM;
    json_decref(req);
    json_decref(rep);
    return rc;
}

void job_source_close(struct job_source *js)
{
    if (js->open)
        nng_close(js->sock);
    js->open = false;
}
