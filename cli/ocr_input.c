/*
 * ocr_input.c - FILE arguments of `filot-ocr ocr`: names, aliases, stdin.
 */
#include "ocr_input.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/status.h"
#include "../ocr-workers/db_text.h"

/* A malloc'd copy of raw where each byte outside valid UTF-8 reads \xNN. */
static char *escape_name(const char *raw)
{
    size_t len = strlen(raw);
    char *out = malloc(len * 4 + 1), *o = out;
    if (out == NULL)
        return NULL;
    while (*raw != '\0') {
        size_t n = db_text_utf8_len(raw);
        if (n == 0) {
            o += sprintf(o, "\\x%02X", (unsigned char)*raw);
            raw++;
            continue;
        }
        memcpy(o, raw, n);
        o += n;
        raw += n;
    }
    *o = '\0';
    return out;
}

/* Copies stdin into path; 0 or the errno of the failure. */
static int copy_stdin(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return errno;
    char buf[65536];
    ssize_t n;
    int err = 0;
    while ((n = read(STDIN_FILENO, buf, sizeof buf)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || write(fd, buf, (size_t)n) != n) {
            err = errno ? errno : EIO;
            break;
        }
    }
    close(fd);
    return err;
}

/* A symlink dir/in.<k> to arg (made absolute), for a name that is not UTF-8. */
static int make_alias(struct ocr_input *in, const char *arg, const char *dir, int k)
{
    char cwd[4096], *target = NULL;
    if (arg[0] != '/' && getcwd(cwd, sizeof cwd) == NULL)
        return errno;
    if (asprintf(&target, "%s%s%s", arg[0] == '/' ? "" : cwd, arg[0] == '/' ? "" : "/", arg) < 0)
        return ENOMEM;
    int rc = asprintf(&in->open_path, "%s/in.%d", dir, k) < 0 ? ENOMEM : 0;
    if (rc != 0)
        in->open_path = NULL;
    else if (symlink(target, in->open_path) != 0)
        rc = errno;
    else
        in->owned_file = true;
    free(target);
    return rc;
}

int ocr_input_prepare(struct ocr_input *in, const char *arg, const char *dir, int k)
{
    memset(in, 0, sizeof *in);
    in->name = escape_name(arg);
    if (in->name == NULL)
        return FILOT_ENOMEM;
    int err = 0;
    if (strcmp(arg, "-") == 0) {
        if (asprintf(&in->open_path, "%s/stdin.%d", dir, k) < 0) {
            in->open_path = NULL;
            return FILOT_ENOMEM;
        }
        in->owned_file = true;
        if ((err = copy_stdin(in->open_path)) != 0)
            snprintf(in->error, sizeof in->error, "cannot read stdin: %s", strerror(err));
        return err ? FILOT_EINVAL : 0;
    }
    int fd = open(arg, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        snprintf(in->error, sizeof in->error, "cannot open %s: %s", in->name, strerror(errno));
        return FILOT_EINVAL;
    }
    close(fd);
    if (strcmp(in->name, arg) == 0) {
        in->open_path = strdup(arg);
        return in->open_path ? 0 : FILOT_ENOMEM;
    }
    if ((err = make_alias(in, arg, dir, k)) != 0) {
        snprintf(in->error, sizeof in->error, "cannot alias the file name %s: %s", in->name,
                 strerror(err));
        return FILOT_EINVAL;
    }
    return 0;
}

void ocr_input_release(struct ocr_input *in)
{
    if (in->owned_file && in->open_path != NULL)
        unlink(in->open_path);
    free(in->open_path);
    free(in->name);
    memset(in, 0, sizeof *in);
}
