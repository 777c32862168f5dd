/*
 * preproc_cuda.h - the CUDA implementation of the preprocessing pipeline.
 *
 * Only filot-gpu-server links this.  Built by nvcc when the toolkit is
 * present (HAVE_CUDA); otherwise preproc_nocuda.c provides the same symbols
 * and reports that no device exists.
 */
#ifndef FILOT_PREPROC_CUDA_H
#define FILOT_PREPROC_CUDA_H

#include <stddef.h>
#include <stdint.h>

#include "../common/preproc.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Selects device 0 and creates the context.  Returns 0, or FILOT_EUNAVAIL
 * with a reason in why (no driver, no device, ...).
 */
int pp_cuda_open(char *why, size_t whylen, char *device_name, size_t namelen);

/* Page-locks [base, base+len) (the shm mapping) for fast transfers; optional. */
int pp_cuda_register(void *base, size_t len);
void pp_cuda_unregister(void *base);

/* Same contract as pp_run_cpu(). */
int pp_run_cuda(const struct pp_image *in, const struct pp_params *p, uint8_t *out, size_t out_cap,
                struct pp_result *res);

void pp_cuda_close(void);

#ifdef __cplusplus
}
#endif

#endif
