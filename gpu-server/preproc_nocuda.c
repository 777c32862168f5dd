/*
 * preproc_nocuda.c - the CUDA entry points for builds without nvcc.
 *
 * Same symbols as preproc_cuda.cu; every call reports that no device exists
 * so the gpu-server exits with FILOT_EXIT_NO_DEVICE and workers use the CPU
 * twin.
 */
#include "preproc_cuda.h"

#include <stdio.h>

#include "../common/status.h"

int pp_cuda_open(char *why, size_t whylen, char *device_name, size_t namelen)
{
    if (why && whylen > 0)
        snprintf(why, whylen, "built without CUDA");
    if (device_name && namelen > 0)
        device_name[0] = '\0';
    return FILOT_EUNAVAIL;
}

int pp_cuda_register(void *base, size_t len)
{
    (void)base;
    (void)len;
    return FILOT_EUNAVAIL;
}

void pp_cuda_unregister(void *base)
{
    (void)base;
}

int pp_run_cuda(const struct pp_image *in, const struct pp_params *p, uint8_t *out, size_t out_cap,
                struct pp_result *res)
{
    (void)in;
    (void)p;
    (void)out;
    (void)out_cap;
    (void)res;
    return FILOT_EUNAVAIL;
}

void pp_cuda_close(void)
{
}
