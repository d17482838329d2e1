/* CLBlast tuned for the device: a search over GEMM kernel parameters
 * (CLBlast's Xgemm and XgemmDirect kernels, and the size at which CLBlast
 * switches between them), timed on the GEMM shapes a model really uses,
 * applied with CLBlastOverrideParameters and cached per device, so that
 * every later start gets the tuned speed. */
#ifndef CLRESNET_GEMM_TUNE_H
#define CLRESNET_GEMM_TUNE_H

#include <stdbool.h>
#include <stddef.h>

#include "clresnet/ops/ops.h"

typedef struct crn_gemm_shape {
    bool trans_a, trans_b;
    size_t m, n, k;
} crn_gemm_shape;

/* Records the shapes of crn_sgemm calls while active (deduplicated). */
void crn_gemm_log_start(crn_ops *ops);
void crn_gemm_log_stop(crn_ops *ops);
/* The shapes recorded (valid until the next crn_gemm_log_start). */
const crn_gemm_shape *crn_gemm_log(const crn_ops *ops, int *count);

typedef struct crn_gemm_tune_result {
    char config[160];      /* what won, e.g. "direct #3" */
    double default_s;      /* the shapes' total time with CLBlast's defaults */
    double best_s;         /* ... with the winner */
    int tried;
} crn_gemm_tune_result;

/* Progress callback: one line per configuration tried. */
typedef void (*crn_tune_progress_fn)(void *ctx, const char *config, double seconds);

/* Searches, applies the winner and writes it to the cache (the kernel
 * cache folder, tune-<device key>.txt). */
int crn_gemm_tune(crn_ops *ops, const crn_gemm_shape *shapes, int nshapes, crn_tune_progress_fn progress,
                  void *ctx, crn_gemm_tune_result *res, crn_error *err);

#endif
