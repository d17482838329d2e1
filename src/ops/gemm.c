#include "clresnet/ops/gemm.h"

#include <clblast_c.h>
#include <stdlib.h>

#include "clresnet/ops/gemm_tune.h"
#include "clresnet/runtime/tensor.h"

const char *crn_clblast_strerror(int s)
{
    switch (s) {
    case CLBlastSuccess: return "success";
    case CLBlastNotImplemented: return "routine or option not implemented";
    case CLBlastInvalidMatrixA: return "invalid matrix A";
    case CLBlastInvalidMatrixB: return "invalid matrix B";
    case CLBlastInvalidMatrixC: return "invalid matrix C";
    case CLBlastInvalidLeadDimA: return "lead dimension of A too small";
    case CLBlastInvalidLeadDimB: return "lead dimension of B too small";
    case CLBlastInvalidLeadDimC: return "lead dimension of C too small";
    case CLBlastInsufficientMemoryA: return "buffer A too small";
    case CLBlastInsufficientMemoryB: return "buffer B too small";
    case CLBlastInsufficientMemoryC: return "buffer C too small";
    case CLBlastInvalidLocalMemUsage: return "not enough local memory on the device";
    case CLBlastNoHalfPrecision: return "no half precision";
    case CLBlastInvalidLocalNumDimensions: return "invalid local work dimensions";
    case CLBlastInvalidLocalThreadsTotal: return "too many local threads";
    case CLBlastInvalidLocalThreadsDim: return "invalid local threads dimension";
    case CLBlastInvalidOverrideKernel: return "invalid override kernel";
    case CLBlastMissingOverrideParameter: return "missing override parameter";
    case CLBlastDatabaseError: return "CLBlast database error";
    case CLBlastUnknownError: return "CLBlast unknown error";
    case CLBlastUnexpectedError: return "CLBlast unexpected error";
    default:
        if (s < 0 && s > -100) return crn_cl_strerror(s); /* an OpenCL error passed through */
        return "CLBlast error";
    }
}

static void log_shape(crn_runtime *rt, bool ta, bool tb, size_t m, size_t n, size_t k)
{
    for (int i = 0; i < rt->gemm_log_count; i++) {
        const crn_gemm_shape *s = &rt->gemm_log[i];
        if (s->trans_a == ta && s->trans_b == tb && s->m == m && s->n == n && s->k == k) return;
    }
    if (rt->gemm_log_count == rt->gemm_log_cap) {
        int cap = rt->gemm_log_cap ? 2 * rt->gemm_log_cap : 64;
        crn_gemm_shape *g = realloc(rt->gemm_log, (size_t)cap * sizeof *g);
        if (!g) return;
        rt->gemm_log = g;
        rt->gemm_log_cap = cap;
    }
    rt->gemm_log[rt->gemm_log_count++] = (crn_gemm_shape){ta, tb, m, n, k};
}

int crn_sgemm(crn_runtime *rt, bool trans_a, bool trans_b, size_t m, size_t n, size_t k, float alpha, cl_mem a,
              size_t a_off, size_t lda, cl_mem b, size_t b_off, size_t ldb, float beta, cl_mem c, size_t c_off,
              size_t ldc, crn_error *err)
{
    if (m == 0 || n == 0) return CRN_OK;
    if (rt->gemm_log_on) log_shape(rt, trans_a, trans_b, m, n, k);
    CLBlastStatusCode s =
        CLBlastSgemm(CLBlastLayoutRowMajor, trans_a ? CLBlastTransposeYes : CLBlastTransposeNo,
                     trans_b ? CLBlastTransposeYes : CLBlastTransposeNo, m, n, k, alpha, a, a_off, lda, b, b_off,
                     ldb, beta, c, c_off, ldc, &rt->queue, crn_prof_slot(rt, "sgemm", true));
    if (s != CLBlastSuccess)
        return crn_fail(err, CRN_EBLAS, "CLBlast SGEMM %zux%zux%zu on %s: %s (%d)", m, n, k, rt->dev.name,
                        crn_clblast_strerror(s), (int)s);
    return CRN_OK;
}

size_t crn_gemm_k_splits(const crn_runtime *rt, size_t m, size_t n, size_t k)
{
    /* Enough 64x64 output tiles to give every compute unit a few
     * work-groups; chunks of at least 256 along k; a chunk count that
     * divides k (the batched GEMM needs equal chunks). */
    size_t tiles = ((m + 63) / 64) * ((n + 63) / 64), want = 4 * (size_t)rt->dev.compute_units;
    if (tiles >= want || k < 512) return 1;
    size_t s = (want + tiles - 1) / tiles;
    if (s > k / 256) s = k / 256;
    if (s > 1024) s = 1024;
    size_t cap = rt->dev.max_alloc / 4 / (m * n * sizeof(float) + 1);
    if (s > cap) s = cap;
    while (s > 1 && k % s != 0) s--;
    return s ? s : 1;
}

int crn_sgemm_nt_long_k(crn_runtime *rt, size_t m, size_t n, size_t k, cl_mem a, size_t a_off, size_t lda, cl_mem b,
                        size_t b_off, size_t ldb, float beta, cl_mem c, size_t c_off, size_t ldc, crn_error *err)
{
    size_t s = crn_gemm_k_splits(rt, m, n, k);
    if (s <= 1 || c_off != 0 || ldc != n)
        return crn_sgemm(rt, false, true, m, n, k, 1.0f, a, a_off, lda, b, b_off, ldb, beta, c, c_off, ldc, err);
    size_t kc = k / s, mn = m * n, bytes = s * mn * sizeof(float);
    if (bytes > rt->splitk_bytes) {
        if (rt->splitk_buf) clReleaseMemObject(rt->splitk_buf);
        rt->splitk_buf = NULL;
        rt->splitk_bytes = 0;
        int rc = crn_buffer_alloc(rt, &rt->splitk_buf, bytes, err);
        if (rc != CRN_OK) return rc;
        rt->splitk_bytes = bytes;
    }
    if (rt->gemm_log_on) log_shape(rt, false, true, m, n, kc);
    CLBlastStatusCode st = CLBlastSgemmStridedBatched(
        CLBlastLayoutRowMajor, CLBlastTransposeNo, CLBlastTransposeYes, m, n, kc, 1.0f, a, a_off, lda, kc, b, b_off,
        ldb, kc, 0.0f, rt->splitk_buf, 0, n, mn, s, &rt->queue, crn_prof_slot(rt, "sgemm", true));
    if (st != CLBlastSuccess)
        return crn_fail(err, CRN_EBLAS, "CLBlast strided-batched SGEMM %zux%zux%zu x%zu on %s: %s (%d)", m, n, kc, s,
                        rt->dev.name, crn_clblast_strerror(st), (int)st);
    crn_kernel_entry *kr;
    int rc = crn_kernel_get(rt, "splitk_reduce", &kr, err);
    int splits = (int)s, count = (int)mn;
    if (rc == CRN_OK)
        rc = crn_kernel_args(kr->kernel, err, 5, sizeof(cl_mem), &rt->splitk_buf, sizeof(cl_mem), &c, sizeof(int), &splits,
                             sizeof(int), &count, sizeof(float), &beta);
    if (rc == CRN_OK) rc = crn_launch_1d(rt, kr, mn, err);
    return rc;
}
