/*
 * open_beneath.h - open a file below a directory without a check-then-use
 * race: the kernel resolves the path relative to the directory fd and
 * refuses any step that leaves it.
 */
#ifndef FILOT_OPEN_BENEATH_H
#define FILOT_OPEN_BENEATH_H

/*
 * Opens relpath (relative, no leading '/') read-only below the directory
 * root_fd.  With openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS) symlinks
 * that stay inside the root still work; where the kernel lacks openat2
 * (ENOSYS, before Linux 5.6) each component is opened with O_NOFOLLOW
 * from the root, so every symlink is refused.  Returns the fd (O_CLOEXEC,
 * O_NONBLOCK) or a negative errno: -EXDEV or -ELOOP when the path leads
 * outside the root (or, in the fallback, through a symlink), -ENOENT /
 * -ENOTDIR when it does not exist.
 */
int open_beneath(int root_fd, const char *relpath);

#endif
