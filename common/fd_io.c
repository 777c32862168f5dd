/*
 * fd_io.c - whole-buffer reads and writes on a file descriptor (fd_io.h).
 */
#include "common/fd_io.h"

#include <errno.h>
#include <unistd.h>

#include "common/status.h"

int fd_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return FILOT_EIO;
        p += n;
        len -= (size_t)n;
    }
    return FILOT_OK;
}

int fd_read_all(int fd, void *buf, size_t len)
{
    char *p = buf;
    while (len > 0) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return FILOT_EIO;
        p += n;
        len -= (size_t)n;
    }
    return FILOT_OK;
}
