/*
 * stage_times.c - per-stage job timings for the job-done log line.
 */
#include "stage_times.h"

#include "../common/clock.h"

static const char *const stage_keys[STAGE_COUNT] = {
    "claim",     "rowRead", "fetch",    "decode",  "handoff",  "preprocess",
    "recognise", "extract", "rowWrite", "publish", "escalate",
};

void stage_add(struct stage_times *st, enum stage s, uint64_t us)
{
    if (st != NULL && s < STAGE_COUNT)
        st->us[s] += us;
}

void stage_lap(struct stage_times *st, enum stage s, uint64_t *since_us)
{
    uint64_t now = clock_mono_us();
    stage_add(st, s, now > *since_us ? now - *since_us : 0);
    *since_us = now;
}

json_t *stage_times_json(const struct stage_times *st)
{
    json_t *o = json_object();
    for (int s = 0; o != NULL && s < STAGE_COUNT; s++)
        json_object_set_new(o, stage_keys[s], json_real((double)((st->us[s] + 5u) / 10u) / 100.0));
    return o;
}
