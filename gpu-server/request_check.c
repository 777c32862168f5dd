/*
 * request_check.c - one function per part of an IPC_PREPROC request; each
 * returns 0 or an error code with the reason.  A new request field gets
 * its own check_* function called from gpu_request_check().
 */
#include "request_check.h"

#include <math.h>
#include <stddef.h>

#include "../common/preproc.h"
#include "../common/status.h"

/* Largest scale either implementation accepts (pp_validate()). */
#define GPU_MAX_SCALE 3.03f
#define GPU_MAX_SKEW  45.0f
#define GPU_MAX_K     1.0f

static int refuse(int code, const char *why, const char **reason)
{
    *reason = why;
    return code;
}

/* The slot exists in our copy of the pool and the generation can be one. */
static int check_slot(const struct ipc_preproc_req *r, const struct gpu_slot_geom *geom,
                      const char **reason)
{
    if (r->slot >= geom->slot_count)
        return refuse(FILOT_EINVAL, "slot index out of range", reason);
    if (r->generation == 0 || r->generation > GPU_MAX_GENERATION)
        return refuse(FILOT_EINVAL, "generation out of range", reason);
    return 0;
}

/* Known format, sane dimensions, stride covering a row; input fits the slot. */
static int check_input(const struct ipc_preproc_req *r, const struct gpu_slot_geom *geom,
                       struct gpu_request_plan *plan, const char **reason)
{
    const struct pp_image_geom *in = &r->in;
    if (in->format != PP_GRAY8 && in->format != PP_RGBA32)
        return refuse(FILOT_EINVAL, "unknown pixel format", reason);
    if (in->width == 0 || in->height == 0 || in->width > PP_MAX_DIM || in->height > PP_MAX_DIM)
        return refuse(FILOT_EINVAL, "input width or height out of range", reason);
    if ((uint64_t)in->stride < (uint64_t)in->width * in->format)
        return refuse(FILOT_EINVAL, "input stride shorter than a row", reason);
    /* both factors < 2^32: the product cannot wrap in 64 bits */
    plan->in_bytes = (uint64_t)in->stride * in->height;
    if (plan->in_bytes > geom->slot_bytes)
        return refuse(FILOT_ETOOBIG, "input larger than the slot", reason);
    return 0;
}

/* True when f is a finite number within [lo, hi]. */
static int in_range(float f, float lo, float hi)
{
    return isfinite(f) && f >= lo && f <= hi;
}

/* Known steps; every float finite and bounded whether its step runs or not. */
static int check_params(const struct pp_params *p, const char **reason)
{
    if (p->steps & ~(uint32_t)PP_STEPS_ALL)
        return refuse(FILOT_EINVAL, "unknown preprocessing step", reason);
    if (!in_range(p->scale, 0.0f, GPU_MAX_SCALE) || p->scale == 0.0f)
        return refuse(FILOT_EINVAL, "scale not in (0, 3.03]", reason);
    if (!in_range(p->sauvola_k, 0.0f, GPU_MAX_K))
        return refuse(FILOT_EINVAL, "sauvola_k not in [0, 1]", reason);
    if (!in_range(p->max_skew_deg, 0.0f, GPU_MAX_SKEW))
        return refuse(FILOT_EINVAL, "max_skew_deg not in [0, 45]", reason);
    if (p->bg_window == 0 || p->bg_window > GPU_MAX_WINDOW || p->sauvola_window == 0 ||
        p->sauvola_window > GPU_MAX_WINDOW)
        return refuse(FILOT_EINVAL, "window not in [1, 511]", reason);
    return 0;
}

/*
 * The output after the input, inside the slot, large enough for the
 * pipeline's result.  Subtractions only after the matching comparison, so
 * nothing wraps.
 */
static int check_output(const struct ipc_preproc_req *r, const struct gpu_slot_geom *geom,
                        struct gpu_request_plan *plan, const char **reason)
{
    pp_output_size(&r->params, r->in.width, r->in.height, &plan->out_width, &plan->out_height);
    if (plan->out_width > PP_MAX_DIM || plan->out_height > PP_MAX_DIM)
        return refuse(FILOT_EINVAL, "output width or height out of range", reason);
    plan->out_bytes = (uint64_t)plan->out_width * plan->out_height;
    if (r->out_offset < plan->in_bytes)
        return refuse(FILOT_EINVAL, "output overlaps the input", reason);
    if (r->out_offset > geom->slot_bytes || r->out_capacity > geom->slot_bytes - r->out_offset)
        return refuse(FILOT_ETOOBIG, "output region outside the slot", reason);
    if (plan->out_bytes > r->out_capacity)
        return refuse(FILOT_ETOOBIG, "output capacity smaller than the result", reason);
    return 0;
}

int gpu_request_check(const struct ipc_preproc_req *r, const struct gpu_slot_geom *geom,
                      struct gpu_request_plan *plan, const char **reason)
{
    int rc;
    *reason = "";
    if ((rc = check_slot(r, geom, reason)) != 0 || (rc = check_input(r, geom, plan, reason)) != 0 ||
        (rc = check_params(&r->params, reason)) != 0 ||
        (rc = check_output(r, geom, plan, reason)) != 0)
        return rc;
    return 0;
}
