/* GEMM on the device through CLBlast, row-major, on the runtime's queue. */
#ifndef CLRESNET_GEMM_H
#define CLRESNET_GEMM_H

#include <stdbool.h>
#include <stddef.h>

#include "clresnet/runtime.h"

/* C[m x n] = alpha * op(A) * op(B) + beta * C; offsets and leading
 * dimensions in elements. */
int crn_sgemm(crn_runtime *rt, bool trans_a, bool trans_b, size_t m, size_t n, size_t k, float alpha,
              cl_mem a, size_t a_off, size_t lda, cl_mem b, size_t b_off, size_t ldb, float beta, cl_mem c,
              size_t c_off, size_t ldc, crn_error *err);

const char *crn_clblast_strerror(int status);

#endif
