/* GEMM on the device, row-major, on the runtime's queue: clresnet's packed
 * GEMM (cl/gemm_packed.cl) or CLBlast, as the ops context's plan says. The
 * ops context carries the state: the plan, CLBlast's tuning, the split-K
 * workspace, the shape log. */
#ifndef CLRESNET_GEMM_H
#define CLRESNET_GEMM_H

#include <stdbool.h>
#include <stddef.h>

#include "clresnet/ops/ops.h"

/* Which GEMM runs, and how it is built: the choice that gemm_autotune.h
 * measures per device. Every packed plan computes each element of C as one
 * fma chain over k in order (or, with mul_add, one chain of multiplies and
 * adds), so all packed plans with the same mul_add give bit-identical
 * results (tests/runtime/test_runtime.c checks it); CLBlast sums in another
 * order. */
typedef enum crn_gemm_backend { CRN_GEMM_CLBLAST, CRN_GEMM_PACKED } crn_gemm_backend;

typedef struct crn_gemm_plan {
    crn_gemm_backend backend;
    /* packed: the register tile, MR rows x NR columns held as NR / VW vectors
     * of VW floats per row, in one work-item (lanes = 0: PoCL vectorises
     * the explicit vectors) or spread over the VW lanes of a work-group
     * (lanes = 1: compilers that vectorise across work-items, as Intel's
     * CPU runtime and GPU compilers do) */
    int vw, mr, nr, lanes;
    /* packed: B gathered per K block into local memory inside the GEMM
     * kernel (1), or packed by its own kernel first (0) */
    int fused;
    /* packed, pre-packed B: a convolution's columns gathered one panel row
     * per work-item (0, for PoCL) or one panel column per lane (1) */
    int gather;
    /* packed: each term a multiply, then an add (1), instead of one fma (0),
     * for devices whose fma is emulated in software (Mesa's llvmpipe) */
    int mul_add;
} crn_gemm_plan;

enum { CRN_GEMM_PLAN_TEXT = 64 };

/* "clblast" or "packed:vw=16,mr=8,nr=32,lanes=0,fused=1,gather=0", with
 * ",mul_add=1" appended for a multiply-add plan (crn_gemm_plan_parse reads
 * it back; "packed" alone is the device's default packed plan). */
void crn_gemm_plan_format(const crn_gemm_plan *p, char *buf, size_t size);
int crn_gemm_plan_parse(const char *text, crn_gemm_plan *p, crn_error *err);

/* Whether the device's fma is emulated in software: no where it reports
 * CL_FP_FMA; otherwise measured once per ops context (cl/fma_probe.cl:
 * fma against a multiply and an add; "slow" at 3x or more). */
int crn_gemm_fma_slow(crn_ops *ops, bool *slow, crn_error *err);

/* The device's plan before any measurement: on a CPU, the packed GEMM with
 * tiles from its preferred vector width (per work-item; multiply-add over a
 * work-group's lanes where fma_slow); elsewhere CLBlast. */
crn_gemm_plan crn_gemm_default_plan(const crn_device_info *dev, bool fma_slow);

/* Switches the GEMM to plan p (builds its kernels); an invalid plan is an
 * error that leaves the current one. where: how it was chosen, for
 * crn_ops_gemm_desc ("tuned on ...", "from the checkpoint"). */
int crn_gemm_set_plan(crn_ops *ops, const crn_gemm_plan *p, const char *where, crn_error *err);
const crn_gemm_plan *crn_gemm_get_plan(const crn_ops *ops);

/* C[m x n] = alpha * op(A) * op(B) + beta * C; offsets and leading
 * dimensions in elements. */
int crn_sgemm(crn_ops *ops, bool trans_a, bool trans_b, size_t m, size_t n, size_t k, float alpha,
              cl_mem a, size_t a_off, size_t lda, cl_mem b, size_t b_off, size_t ldb, float beta, cl_mem c,
              size_t c_off, size_t ldc, crn_error *err);

/* C[m x n] = beta * C + A[m x k] * B[n x k]^T (both row-major, offsets and
 * leading dimensions in elements) for a long inner dimension k and a small
 * C, as in weight gradients (k = the batch's pixels): k is split into
 * chunks computed as one strided-batched GEMM into partial products, then
 * summed in a fixed order, so that the device has enough work-groups. The
 * split depends only on the shape and the device: results are
 * deterministic. Falls back to one GEMM when splitting would not help. */
int crn_sgemm_nt_long_k(crn_ops *ops, size_t m, size_t n, size_t k, cl_mem a, size_t a_off, size_t lda, cl_mem b,
                        size_t b_off, size_t ldb, float beta, cl_mem c, size_t c_off, size_t ldc, crn_error *err);

/* The number of chunks crn_sgemm_nt_long_k uses for this shape. */
size_t crn_gemm_k_splits(const crn_ops *ops, size_t m, size_t n, size_t k);

const char *crn_clblast_strerror(int status);

#endif
