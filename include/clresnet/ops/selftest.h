/* A device self-test: a GEMM on odd sizes against a C reference, and a
 * timed square GEMM for GFLOP/s. Tells users which device to trust. */
#ifndef CLRESNET_SELFTEST_H
#define CLRESNET_SELFTEST_H

#include "clresnet/ops/ops.h"

typedef struct crn_selftest_result {
    double max_rel_error;  /* worst |ours - ref| / (|ref| + 1) on the odd GEMM */
    double gflops;         /* median of timed n^3 SGEMMs */
    size_t gflops_n;
} crn_selftest_result;

/* Fails (with the reason) when the GEMM disagrees with the reference. */
int crn_selftest_gemm(crn_ops *ops, size_t timed_n, crn_selftest_result *res, crn_error *err);

/* Reference row-major C = op(A) op(B) in double accumulation, for tests. */
void crn_ref_sgemm(int trans_a, int trans_b, size_t m, size_t n, size_t k, const float *a, size_t lda,
                   const float *b, size_t ldb, float *c, size_t ldc);

#endif
