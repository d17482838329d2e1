/* GEMM on the device through CLBlast, row-major, on the runtime's queue.
 * The ops context carries its state: tuning, split-K workspace, shape log. */
#ifndef CLRESNET_GEMM_H
#define CLRESNET_GEMM_H

#include <stdbool.h>
#include <stddef.h>

#include "clresnet/ops/ops.h"

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
