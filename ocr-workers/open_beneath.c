/*
 * open_beneath.c - openat2(RESOLVE_BENEATH) with a component walk as the
 * fallback for kernels without it.
 */
#include "open_beneath.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define OPEN_FLAGS (O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)

/*
 * The fallback: every component opened from the previous one with
 * O_NOFOLLOW, directories with O_PATH | O_DIRECTORY.  A ".." component
 * is refused (callers already reject them; this keeps the walk inside).
 */
static int walk_beneath(int root_fd, const char *relpath)
{
    char *copy = strdup(relpath);
    if (copy == NULL)
        return -ENOMEM;
    int dir = root_fd, rc = -ENOENT;
    char *save = NULL;
    char *part = strtok_r(copy, "/", &save);
    while (part != NULL) {
        char *next = strtok_r(NULL, "/", &save);
        if (strcmp(part, "..") == 0) {
            rc = -EXDEV;
            break;
        }
        int flags =
            next != NULL ? O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW : OPEN_FLAGS | O_NOFOLLOW;
        int fd = openat(dir, part, flags);
        rc = fd >= 0 ? fd : -errno;
        if (dir != root_fd)
            close(dir);
        dir = root_fd;
        if (fd < 0 || next == NULL)
            break;
        dir = fd;
        part = next;
    }
    if (dir != root_fd)
        close(dir);
    free(copy);
    return rc;
}

int open_beneath(int root_fd, const char *relpath)
{
    struct open_how how = {.flags = OPEN_FLAGS, .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
    long fd = syscall(SYS_openat2, root_fd, relpath, &how, sizeof how);
    if (fd >= 0)
        return (int)fd;
    if (errno != ENOSYS)
        return -errno;
    return walk_beneath(root_fd, relpath);
}
