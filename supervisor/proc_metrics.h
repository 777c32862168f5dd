/*
 * proc_metrics.h - the supervisor's own process figures (the standard
 * Prometheus process_* metrics) and its children's resident memory, read
 * from the kernel (/proc, getrusage), never from shared memory.
 */
#ifndef FILOT_PROC_METRICS_H
#define FILOT_PROC_METRICS_H

#include <stdint.h>

/* Children's memory and the fd count are read at most this often. */
#define PROC_SAMPLE_MS 1000u

struct proc_figures {
    double cpu_seconds;        /* user + system CPU time of the supervisor */
    double start_time_seconds; /* Unix time the supervisor started */
    uint64_t rss_bytes;
    uint64_t virtual_bytes;
    uint64_t open_fds;
    uint64_t max_fds; /* RLIMIT_NOFILE soft limit */
};

/*
 * Reads the supervisor's figures.  uptime_ms (the supervisor's own clock)
 * dates the start; start_time_seconds stays what the first call computed.
 */
void proc_figures_read(struct proc_figures *f, uint64_t uptime_ms);

/* Resident set size of a child in bytes, 0 when pid <= 0 or unreadable. */
uint64_t proc_child_rss_bytes(int pid);

#endif
