/*
 * clock.h - time helpers.  Monotonic milliseconds are comparable between
 * processes (CLOCK_MONOTONIC is system wide), which the worker table uses.
 */
#ifndef FILOT_CLOCK_H
#define FILOT_CLOCK_H

#include <stddef.h>
#include <stdint.h>

uint64_t clock_mono_ms(void);
uint64_t clock_mono_us(void);
uint64_t clock_wall_ms(void);
/* ISO-8601 UTC with milliseconds, e.g. 2026-11-29T23:30:38.123Z; buf >= 32 bytes. */
void clock_iso8601(uint64_t wall_ms, char *buf, size_t len);
void clock_sleep_ms(uint32_t ms);

#endif
