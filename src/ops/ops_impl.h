/* The ops context's state, shared by the files of src/ops/ only. Each layer
 * family keeps its kernel handles in its own struct here; ops.c resolves
 * them all when the context is created (the table in ops.c). */
#ifndef CLRESNET_OPS_IMPL_H
#define CLRESNET_OPS_IMPL_H

#include <stdbool.h>

#include "clresnet/ops/gemm_tune.h"
#include "clresnet/ops/ops.h"

typedef struct crn_gemm_state {
    char tuning[200];       /* the tuned configuration applied at creation, or "" */
    cl_mem splitk_buf;      /* partial products of crn_sgemm_nt_long_k, grown on demand */
    size_t splitk_bytes;
    bool log_on;            /* record the shapes of every call (gemm_tune.h) */
    crn_gemm_shape *log;
    int log_count, log_cap;
} crn_gemm_state;

struct crn_ops {
    crn_runtime *rt;
    const crn_device_info *dev;
    struct { const crn_kernel *fill, *axpby, *add, *nchw_to_cnhw; } ew;
    struct { const crn_kernel *im2col, *col2im, *bias_add, *row_sum; } conv;
    struct { const crn_kernel *forward_train, *forward_eval, *backward; } bn;
    struct { const crn_kernel *forward, *backward; } act;
    struct { const crn_kernel *max_forward, *max_backward, *gap_forward, *gap_backward; } pool;
    struct { const crn_kernel *softmax_xent; } loss;
    struct { const crn_kernel *splitk_reduce; } gemm_k;
    crn_gemm_state gemm;
};

/* Applies the cached tuning for the device (gemm_tune.c), at creation. */
int crn_gemm_tune_apply_cached(crn_ops *ops, crn_error *err);

#endif
