/*
 * snapshot.h - turns the supervisor's state into the view /health and
 * /metrics serve.
 */
#ifndef FILOT_SNAPSHOT_H
#define FILOT_SNAPSHOT_H

#include <stdint.h>

#include "http.h"

struct supervisor;

void snapshot_build(const struct supervisor *s, uint64_t now, struct sup_snapshot *snap);

#endif
