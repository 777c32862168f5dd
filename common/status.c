/*
 * status.c - text for FILOT_E* codes.
 */
#include "status.h"

const char *filot_strerror(int err)
{
    switch (err) {
    case FILOT_OK:
        return "ok";
    case FILOT_EINVAL:
        return "invalid argument";
    case FILOT_ENOMEM:
        return "out of memory";
    case FILOT_EIO:
        return "I/O error";
    case FILOT_ETIMEDOUT:
        return "timed out";
    case FILOT_ESTALE:
        return "stale generation";
    case FILOT_EBUSY:
        return "busy";
    case FILOT_ETOOBIG:
        return "too big";
    case FILOT_EFORMAT:
        return "unsupported format";
    case FILOT_ECLOSED:
        return "closed";
    case FILOT_EUNAVAIL:
        return "unavailable";
    default:
        return "unknown error";
    }
}
