/* The ops context's state, shared by the files of src/ops/ only. Each layer
 * family keeps its kernel handles in its own struct here; ops.c resolves
 * them all when the context is created (the table in ops.c). */
#ifndef CLRESNET_OPS_IMPL_H
#define CLRESNET_OPS_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clresnet/ops/gemm.h"
#include "clresnet/ops/gemm_tune.h"
#include "clresnet/ops/ops.h"

/* The packed GEMM (gemm_packed.c): its program, built for the plan's
 * tiles, and its packing buffers. */
typedef struct crn_pgemm {
    int mr, nr, vw, lanes, fused, gather, mul_add, pk, pj; /* build options */
    int kc, jb, a_kb;         /* fused kernels: K block, N block (panels), L2 budget of an A block (KiB) */
    cl_program prog;          /* NULL until first used */
    crn_kernel pack_a, pack_b, pack_b_im2col, pack_bt_im2col, pack_b_im2col_wg, pack_bt_im2col_wg;
    crn_kernel gemm, gemm_wg, fused_gemm, fused_im2col, fused_im2col_t;
    cl_mem ap, bp;            /* packed A, packed B (the non-fused path) */
    size_t ap_bytes, bp_bytes;
    char desc[160];
} crn_pgemm;

typedef struct crn_gemm_state {
    crn_gemm_plan plan;     /* what runs GEMMs (crn_gemm_set_plan) */
    int fma_slow;           /* -1 not yet known; 1 where fma is emulated (crn_gemm_fma_slow) */
    char plan_from[200];    /* how the plan was chosen */
    crn_pgemm pg;
    char tuning[200];       /* the tuned CLBlast configuration applied at creation, or "" */
    char desc[320];         /* what runs GEMMs, for the start-up line */
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
    struct {
        const crn_kernel *im2col, *col2im, *scatter_1x1, *bias_add, *row_sum, *weight_flip;
        cl_mem wflip; /* the turned-around weights of a stride-1 dx, grown on demand */
        size_t wflip_bytes;
    } conv;
    struct {
        const crn_kernel *partial_moments, *mean0, *finalize, *normalize, *forward_eval;
        const crn_kernel *partial_grad, *finalize_grad, *backward_dx;
        int blocked; /* parts are contiguous blocks (CPUs) or interleaved vectors (GPUs) */
        cl_mem part; /* per-part partial sums, grown on demand */
        size_t part_bytes;
    } bn;
    struct { const crn_kernel *forward, *backward; } act;
    struct {
        const crn_kernel *max_forward, *max2x2_forward, *max_backward, *max2x2_backward;
        const crn_kernel *gap_forward, *gap_backward;
    } pool;
    struct { const crn_kernel *softmax_xent; } loss;
    struct { const crn_kernel *splitk_reduce; } gemm_k;
    crn_gemm_state gemm;
};

/* A key for per-device cache entries (gemm_tune.c, gemm_autotune.c): tag,
 * platform, device, driver version, and extra (a kernel source, or NULL). */
uint64_t crn_ops_cache_key(const crn_ops *ops, const char *tag, const char *extra);

/* A scratch buffer of at least `bytes`, grown on demand (contents lost). */
int crn_ops_buffer(crn_ops *ops, cl_mem *buf, size_t *have, size_t bytes, crn_error *err);

/* How batchnorm's reductions cut rows (batchnorm.c, at creation). */
int crn_batchnorm_choose_layout(crn_ops *ops, const char *force, crn_error *err);

/* Applies the cached tuning for the device (gemm_tune.c), at creation. */
int crn_gemm_tune_apply_cached(crn_ops *ops, crn_error *err);

/* The plan at creation (gemm.c): forced (plan text), else the tuned one
 * cached for this device (gemm_autotune.c), else the default. */
int crn_gemm_choose_plan(crn_ops *ops, const char *force, crn_error *err);

/* Records a GEMM shape run outside crn_sgemm (the implicit im2col) for `tune`. */
void crn_log_gemm(crn_ops *ops, bool ta, bool tb, size_t m, size_t n, size_t k);

/* The backend for a GEMM shape (gemm.c). */
crn_gemm_backend crn_gemm_backend_for(const crn_ops *ops, bool ta, bool tb, size_t m, size_t n, size_t k);

/* The packed GEMM (gemm_packed.c). */
int crn_pgemm_init(crn_ops *ops, const crn_gemm_plan *plan, crn_error *err);
void crn_pgemm_release(crn_pgemm *pg);
int crn_pgemm_matrix(crn_ops *ops, bool ta, bool tb, int m, int n, int k, float alpha, cl_mem a, int a_off, int lda,
                     cl_mem b, int b_off, int ldb, float beta, cl_mem c, int c_off, int ldc, crn_error *err);

/* A convolution's images i0 .. i0+nc-1 of x [cin, n, h, w], for the implicit im2col. */
typedef struct crn_pgemm_conv {
    cl_mem x;
    int cin, n, h, w, kh, kw, stride, pad, ho, wo, i0, nc;
} crn_pgemm_conv;

/* y[:, images] = W [cout, Kc] * cols + beta y; dweight = dy[:, images] * cols^T + beta dweight. */
int crn_pgemm_conv_forward(crn_ops *ops, const crn_pgemm_conv *v, int cout, cl_mem weight, float beta, cl_mem y,
                           crn_error *err);
int crn_pgemm_conv_weight_grad(crn_ops *ops, const crn_pgemm_conv *v, int cout, cl_mem dy, float beta, cl_mem dweight,
                               crn_error *err);

#endif
