/*
 * child_proc.c - shared plumbing of the supervised programs.
 */
#include "child_proc.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "status.h"

volatile sig_atomic_t child_proc_stop;

static void on_stop(int sig)
{
    (void)sig;
    child_proc_stop = 1;
}

bool child_proc_usage(int argc, char **argv, const char *usage, int *code)
{
    if (argc < 2)
        return false;
    bool help = strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0;
    fputs(usage, help ? stdout : stderr);
    *code = help ? FILOT_EXIT_OK : FILOT_EXIT_CONFIG;
    return true;
}

void child_proc_signals(void)
{
    struct sigaction sa = {.sa_handler = on_stop};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int child_proc_inherited(const char *name, int *out)
{
    const char *v = getenv(name);
    char *end = NULL;
    long n = v ? strtol(v, &end, 10) : -1;
    if (v == NULL || *end != '\0' || n < 0 || n > 1 << 20) {
        log_kv(LOG_ERROR, "This program is started by filot-ocrd, never by hand", LF_STR, "missing",
               name, LF_END);
        return FILOT_EINVAL;
    }
    *out = (int)n;
    return 0;
}

bool child_proc_parent_alive(int fd, int ms)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    if (poll(&pfd, 1, ms) <= 0)
        return true;
    char c;
    return read(fd, &c, 1) != 0 || errno == EAGAIN;
}

int child_proc_statm(int pid, uint64_t *virt_bytes, uint64_t *rss_bytes)
{
    char path[48];
    if (pid > 0)
        snprintf(path, sizeof path, "/proc/%d/statm", pid);
    else
        snprintf(path, sizeof path, "/proc/self/statm");
    FILE *f = fopen(path, "r");
    unsigned long size = 0, rss = 0;
    *virt_bytes = *rss_bytes = 0;
    if (f == NULL)
        return FILOT_EIO;
    int n = fscanf(f, "%lu %lu", &size, &rss);
    fclose(f);
    if (n != 2)
        return FILOT_EIO;
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    *virt_bytes = (uint64_t)size * page;
    *rss_bytes = (uint64_t)rss * page;
    return 0;
}

uint64_t child_proc_rss_kb(void)
{
    uint64_t virt, rss;
    child_proc_statm(0, &virt, &rss);
    return rss / 1024u;
}
