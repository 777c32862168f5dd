/*
 * proc_metrics.c - process figures from getrusage(2), getrlimit(2) and
 * /proc (statm, fd).
 */
#include "proc_metrics.h"

#include <dirent.h>
#include <sys/resource.h>

#include "../common/child_proc.h"
#include "../common/clock.h"

/* Entries of /proc/self/fd, less the directory stream's own fd. */
static uint64_t count_open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return 0;
    uint64_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n > 0 ? n - 1 : 0;
}

void proc_figures_read(struct proc_figures *f, uint64_t uptime_ms)
{
    if (f->start_time_seconds <= 0.0)
        f->start_time_seconds = (double)(clock_wall_ms() - uptime_ms) / 1000.0;
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        f->cpu_seconds = (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
                         ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
    child_proc_statm(0, &f->virtual_bytes, &f->rss_bytes);
    f->open_fds = count_open_fds();
    struct rlimit rl;
    f->max_fds = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
                     ? (uint64_t)rl.rlim_cur
                     : 0;
}

uint64_t proc_child_rss_bytes(int pid)
{
    uint64_t virt, rss;
    if (pid <= 0 || child_proc_statm(pid, &virt, &rss) != 0)
        return 0;
    return rss;
}
