/*
 * fd_io.h - whole-buffer reads and writes on a file descriptor.
 */
#ifndef FILOT_FD_IO_H
#define FILOT_FD_IO_H

#include <stddef.h>

/*
 * Writes all len bytes, retrying short writes and EINTR.  Returns 0, or
 * FILOT_EIO when write() fails or writes nothing (errno kept).
 */
int fd_write_all(int fd, const void *buf, size_t len);

/*
 * Reads exactly len bytes, retrying short reads and EINTR.  Returns 0, or
 * FILOT_EIO on an error or end of file before len bytes (errno kept).
 */
int fd_read_all(int fd, void *buf, size_t len);

#endif
