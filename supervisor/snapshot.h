/*
 * snapshot.h - turns the supervisor's state into the view /health and
 * /metrics serve.
 */
#ifndef FILOT_SNAPSHOT_H
#define FILOT_SNAPSHOT_H

#include <stdint.h>

#include "http.h"

struct supervisor;

/*
 * Once per tick, before snapshot_build(): adds the workers' new job counts
 * to the totals and refreshes the process figures (once a second).
 */
void snapshot_collect(struct supervisor *s, uint64_t now);

void snapshot_build(const struct supervisor *s, uint64_t now, struct sup_snapshot *snap);

#endif
