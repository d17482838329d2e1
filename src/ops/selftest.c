#include "clresnet/ops/selftest.h"
#include "clresnet/core/clock.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clresnet/ops/gemm.h"
#include "clresnet/runtime/tensor.h"

void crn_ref_sgemm(int ta, int tb, size_t m, size_t n, size_t k, const float *a, size_t lda, const float *b,
                   size_t ldb, float *c, size_t ldc)
{
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double s = 0;
            for (size_t p = 0; p < k; p++)
                s += (double)(ta ? a[p * lda + i] : a[i * lda + p]) * (double)(tb ? b[j * ldb + p] : b[p * ldb + j]);
            c[i * ldc + j] = (float)s;
        }
}

static int odd_gemm(crn_ops *ops, double *worst, crn_error *err)
{
    crn_runtime *rt = crn_ops_runtime(ops);
    const size_t m = 67, n = 129, k = 93;
    float *a = malloc(m * k * sizeof *a), *b = malloc(k * n * sizeof *b), *c = malloc(m * n * sizeof *c),
          *ref = malloc(m * n * sizeof *ref);
    crn_tensor ta = {0}, tb = {0}, tc = {0};
    int rc = (!a || !b || !c || !ref) ? crn_fail(err, CRN_ENOMEM, "out of host memory") : CRN_OK;
    if (rc == CRN_OK) {
        unsigned s = 12345;
        for (size_t i = 0; i < m * k; i++) a[i] = (float)((s = s * 1103515245u + 12345u) >> 9) / 8388608.0f - 1.0f;
        for (size_t i = 0; i < k * n; i++) b[i] = (float)((s = s * 1103515245u + 12345u) >> 9) / 8388608.0f - 1.0f;
        crn_ref_sgemm(0, 0, m, n, k, a, k, b, n, ref, n);
        rc = crn_tensor_alloc(rt, &ta, CRN_F32, 2, (size_t[]){m, k}, err);
    }
    if (rc == CRN_OK) rc = crn_tensor_alloc(rt, &tb, CRN_F32, 2, (size_t[]){k, n}, err);
    if (rc == CRN_OK) rc = crn_tensor_zeros(rt, &tc, CRN_F32, 2, (size_t[]){m, n}, err);
    if (rc == CRN_OK) rc = crn_tensor_upload(rt, &ta, a, err);
    if (rc == CRN_OK) rc = crn_tensor_upload(rt, &tb, b, err);
    if (rc == CRN_OK) rc = crn_sgemm(ops, false, false, m, n, k, 1.0f, ta.buf, 0, k, tb.buf, 0, n, 0.0f, tc.buf, 0, n, err);
    if (rc == CRN_OK) rc = crn_tensor_download(rt, &tc, c, err);
    if (rc == CRN_OK) {
        *worst = 0;
        for (size_t i = 0; i < m * n; i++) {
            double e = fabs((double)c[i] - (double)ref[i]) / (fabs((double)ref[i]) + 1.0);
            if (!(e <= *worst)) *worst = e; /* NaN counts as worst */
        }
        if (!(*worst < 1e-4))
            rc = crn_fail(err, CRN_ECL, "SGEMM %zux%zux%zu disagrees with the C reference (worst relative error %.3g)",
                          m, n, k, *worst);
    }
    crn_tensor_free(&ta);
    crn_tensor_free(&tb);
    crn_tensor_free(&tc);
    free(a);
    free(b);
    free(c);
    free(ref);
    return rc;
}

int crn_selftest_gemm(crn_ops *ops, size_t n, crn_selftest_result *res, crn_error *err)
{
    crn_runtime *rt = crn_ops_runtime(ops);
    memset(res, 0, sizeof *res);
    int rc = odd_gemm(ops, &res->max_rel_error, err);
    if (rc != CRN_OK || n == 0) return rc;
    crn_tensor a = {0}, b = {0}, c = {0};
    size_t shape[2] = {n, n};
    rc = crn_tensor_zeros(rt, &a, CRN_F32, 2, shape, err);
    if (rc == CRN_OK) rc = crn_tensor_zeros(rt, &b, CRN_F32, 2, shape, err);
    if (rc == CRN_OK) rc = crn_tensor_zeros(rt, &c, CRN_F32, 2, shape, err);
    double t[5];
    int reps = 5;
    /* The first call compiles CLBlast's kernels: not timed. */
    for (int i = -1; rc == CRN_OK && i < reps; i++) {
        double t0 = crn_now_s();
        rc = crn_sgemm(ops, false, false, n, n, n, 1.0f, a.buf, 0, n, b.buf, 0, n, 0.0f, c.buf, 0, n, err);
        if (rc == CRN_OK) rc = crn_finish(rt, err);
        if (i >= 0) t[i] = crn_now_s() - t0;
    }
    if (rc == CRN_OK) {
        crn_sort_times(t, (size_t)reps);
        res->gflops = 2.0 * (double)n * (double)n * (double)n / t[reps / 2] * 1e-9;
        res->gflops_n = n;
    }
    crn_tensor_free(&a);
    crn_tensor_free(&b);
    crn_tensor_free(&c);
    return rc;
}
