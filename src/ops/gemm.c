#include "clresnet/ops/gemm.h"

#include <clblast_c.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clresnet/core/clock.h"
#include "clresnet/ops/gemm_autotune.h"
#include "clresnet/runtime/kernels.h"
#include "clresnet/runtime/tensor.h"
#include "ops_impl.h"

static int set_splitk_reduce(const crn_kernel *k, crn_error *err, cl_mem part, cl_mem out, int splits, int n,
                             float beta)
{
    crn_args a = crn_args_begin(k);
    crn_arg_mems(&a, 2, (const cl_mem[]){part, out});
    crn_arg_ints(&a, 2, (const int[]){splits, n});
    crn_arg_float(&a, beta);
    return crn_args_end(&a, err);
}

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

static void log_shape(crn_gemm_state *g, bool ta, bool tb, size_t m, size_t n, size_t k)
{
    for (int i = 0; i < g->log_count; i++) {
        const crn_gemm_shape *s = &g->log[i];
        if (s->trans_a == ta && s->trans_b == tb && s->m == m && s->n == n && s->k == k) return;
    }
    if (g->log_count == g->log_cap) {
        int cap = g->log_cap ? 2 * g->log_cap : 64;
        crn_gemm_shape *grown = realloc(g->log, (size_t)cap * sizeof *grown);
        if (!grown) return;
        g->log = grown;
        g->log_cap = cap;
    }
    g->log[g->log_count++] = (crn_gemm_shape){ta, tb, m, n, k};
}

void crn_log_gemm(crn_ops *ops, bool ta, bool tb, size_t m, size_t n, size_t k)
{
    if (ops->gemm.log_on) log_shape(&ops->gemm, ta, tb, m, n, k);
}

/* The two chains of cl/fma_probe.cl, each the fastest of three runs after a
 * warm-up (some drivers compile at the first launch). Measured ratios: 0.7
 * on Intel's CPU runtime (fma in hardware), 18-38 on llvmpipe (emulated),
 * the same beside stress-ng --cpu 2; 3 sits far from both. */
static int probe_fma(crn_ops *ops, bool *slow, crn_error *err)
{
    const crn_cl_source *src = crn_cl_op_source("fma_probe.cl");
    if (!src) return crn_fail(err, CRN_EINVAL, "the fma probe's kernel file is not built in");
    cl_program prog = NULL;
    crn_kernel k[2] = {{0}, {0}};
    cl_mem out = NULL;
    enum { ITEMS = 4096, STEPS = 512 };
    int cached = 0;
    int rc = crn_build_program(ops->rt, src->name, src->text, "", &prog, crn_runtime_uses_cache(ops->rt), &cached,
                               err);
    if (rc == CRN_OK) rc = crn_program_kernel(ops->rt, prog, "fma_chain", &k[0], err);
    if (rc == CRN_OK) rc = crn_program_kernel(ops->rt, prog, "mul_add_chain", &k[1], err);
    if (rc == CRN_OK) rc = crn_buffer_alloc(ops->rt, &out, ITEMS * sizeof(float), err);
    if (rc == CRN_OK) rc = crn_buffer_fill(ops->rt, out, 0, ITEMS * sizeof(float), 0.5f, "the fma probe", err);
    double best[2] = {1e30, 1e30};
    for (int run = 0; rc == CRN_OK && run < 4; run++)
        for (int i = 0; rc == CRN_OK && i < 2; i++) {
            crn_args a = crn_args_begin(&k[i]);
            crn_arg_mem(&a, out);
            crn_arg_int(&a, STEPS);
            crn_arg_floats(&a, 2, (const float[]){0.999f, 0.001f});
            size_t g = ITEMS, l = crn_kernel_wg(&k[i], CRN_WG_RUN);
            double t0 = crn_now_s();
            if ((rc = crn_args_end(&a, err)) == CRN_OK && (rc = crn_launch(ops->rt, &k[i], 1, &g, &l, err)) == CRN_OK)
                rc = crn_finish(ops->rt, err);
            double t = crn_now_s() - t0;
            if (run > 0 && t < best[i]) best[i] = t;
        }
    for (int i = 0; i < 2; i++)
        if (k[i].handle) clReleaseKernel(k[i].handle);
    if (prog) clReleaseProgram(prog);
    if (out) clReleaseMemObject(out);
    if (rc != CRN_OK) {
        crn_error_prefix(err, "timing fma on %s", ops->dev->name);
        return rc;
    }
    *slow = best[0] >= 3 * best[1];
    return CRN_OK;
}

int crn_gemm_fma_slow(crn_ops *ops, bool *slow, crn_error *err)
{
    if (ops->dev->fma) ops->gemm.fma_slow = 0;
    if (ops->gemm.fma_slow < 0) {
        bool s = false;
        int rc = probe_fma(ops, &s, err);
        if (rc != CRN_OK) return rc;
        ops->gemm.fma_slow = s;
    }
    *slow = ops->gemm.fma_slow == 1;
    return CRN_OK;
}

crn_gemm_plan crn_gemm_default_plan(const crn_device_info *d, bool fma_slow)
{
    /* A CPU runs the packed GEMM far faster than CLBlast's GPU-shaped
     * kernels. Tiles from the preferred vector width: MR x NR of NR / VW
     * vectors in registers plus a B row and an A broadcast, so 16 vector
     * registers (AVX2, NEON) fit 6 x 2 accumulators, 32 (AVX-512) 8 x 2.
     * Where fma is emulated (Mesa's llvmpipe, which also runs a work-group's
     * items in vector lanes, 8 of them with AVX2 whatever width it prefers
     * for float4 code): multiply-add, 8 x 32 over 8 lanes, 5x CLBlast's
     * convolutions there (docs/portability.md). Only a start: the tuner
     * measures the others. */
    int vw = d->vector_width >= 16 ? 16 : d->vector_width >= 8 ? 8 : 4;
    crn_gemm_plan p = {CRN_GEMM_PACKED, vw, vw == 16 ? 8 : vw == 8 ? 6 : 4, 2 * vw, 0, 1, 0, 0};
    if (fma_slow) p = (crn_gemm_plan){CRN_GEMM_PACKED, 8, 8, 32, 1, 0, 1, 1};
    if (!(d->type & CL_DEVICE_TYPE_CPU)) p.backend = CRN_GEMM_CLBLAST;
    return p;
}

void crn_gemm_plan_format(const crn_gemm_plan *p, char *buf, size_t size)
{
    if (p->backend == CRN_GEMM_CLBLAST) snprintf(buf, size, "clblast");
    else
        snprintf(buf, size, "packed:vw=%d,mr=%d,nr=%d,lanes=%d,fused=%d,gather=%d%s", p->vw, p->mr, p->nr, p->lanes,
                 p->fused, p->gather, p->mul_add ? ",mul_add=1" : "");
}

/* The limits the kernels are written for: vector widths OpenCL has, a tile
 * that fits registers, and lanes only with a pre-packed B. */
static int plan_check(const crn_gemm_plan *p, const char *text, crn_error *err)
{
    if (p->backend == CRN_GEMM_CLBLAST) return CRN_OK;
    if (p->vw != 4 && p->vw != 8 && p->vw != 16)
        return crn_fail(err, CRN_EINVAL, "GEMM plan '%s': vw must be 4, 8 or 16", text);
    if (p->mr < 1 || p->mr > 16) return crn_fail(err, CRN_EINVAL, "GEMM plan '%s': mr must be 1 to 16", text);
    if (p->nr < p->vw || p->nr > 4 * p->vw || p->nr % p->vw)
        return crn_fail(err, CRN_EINVAL, "GEMM plan '%s': nr must be 1 to 4 times vw", text);
    if ((p->lanes != 0 && p->lanes != 1) || (p->fused != 0 && p->fused != 1) || (p->gather != 0 && p->gather != 1) ||
        (p->mul_add != 0 && p->mul_add != 1))
        return crn_fail(err, CRN_EINVAL, "GEMM plan '%s': lanes, fused, gather and mul_add are 0 or 1", text);
    if ((p->lanes || p->gather) && p->fused)
        return crn_fail(err, CRN_EINVAL, "GEMM plan '%s': lanes and gather take a pre-packed B (fused=0)", text);
    return CRN_OK;
}

int crn_gemm_plan_parse(const char *text, crn_gemm_plan *p, crn_error *err)
{
    if (!strcmp(text, "clblast")) {
        *p = (crn_gemm_plan){CRN_GEMM_CLBLAST, 0, 0, 0, 0, 0, 0, 0};
        return CRN_OK;
    }
    crn_gemm_plan q = {CRN_GEMM_PACKED, 0, 0, 0, 0, 0, 0, 0};
    int used = 0, tail = 0;
    bool ok = sscanf(text, "packed:vw=%d,mr=%d,nr=%d,lanes=%d,fused=%d,gather=%d%n", &q.vw, &q.mr, &q.nr, &q.lanes,
                     &q.fused, &q.gather, &used) == 6;
    if (ok && text[used] && (sscanf(text + used, ",mul_add=%d%n", &q.mul_add, &tail) != 1 || text[used + tail]))
        ok = false;
    if (!ok)
        return crn_fail(err, CRN_EINVAL,
                        "GEMM plan '%s': want clblast, packed, or "
                        "packed:vw=V,mr=M,nr=N,lanes=0|1,fused=0|1,gather=0|1[,mul_add=0|1]",
                        text);
    int rc = plan_check(&q, text, err);
    if (rc == CRN_OK) *p = q;
    return rc;
}

int crn_gemm_set_plan(crn_ops *ops, const crn_gemm_plan *p, const char *where, crn_error *err)
{
    char text[CRN_GEMM_PLAN_TEXT];
    crn_gemm_plan_format(p, text, sizeof text);
    int rc = plan_check(p, text, err);
    if (rc != CRN_OK) return rc;
    crn_gemm_state *g = &ops->gemm;
    crn_pgemm_release(&g->pg);
    if (p->backend == CRN_GEMM_PACKED && (rc = crn_pgemm_init(ops, p, err)) != CRN_OK) {
        crn_error_prefix(err, "GEMM plan %s", text);
        return rc;
    }
    g->plan = *p;
    snprintf(g->plan_from, sizeof g->plan_from, "%s", where ? where : "");
    if (p->backend == CRN_GEMM_PACKED) snprintf(g->desc, sizeof g->desc, "%s", g->pg.desc);
    else snprintf(g->desc, sizeof g->desc, "CLBlast%s%s", g->tuning[0] ? ", " : "", g->tuning);
    if (g->plan_from[0]) {
        size_t n = strlen(g->desc);
        snprintf(g->desc + n, sizeof g->desc - n, "; %s", g->plan_from);
    }
    return CRN_OK;
}

const crn_gemm_plan *crn_gemm_get_plan(const crn_ops *ops) { return &ops->gemm.plan; }

int crn_gemm_choose_plan(crn_ops *ops, const char *force, crn_error *err)
{
    crn_gemm_plan p;
    bool packed = force && !strcmp(force, "packed"); /* the default tiles, even where CLBlast is the default */
    if (force && *force && !packed) {
        int rc = crn_gemm_plan_parse(force, &p, err);
        return rc != CRN_OK ? rc : crn_gemm_set_plan(ops, &p, "as asked", err);
    }
    char where[160];
    if (!packed && crn_gemm_plan_cached(ops, NULL, &p, where, sizeof where))
        return crn_gemm_set_plan(ops, &p, where, err);
    /* the device's default, which on a CPU depends on whether fma is slow
     * (timed only here, when no plan is asked for or cached) */
    bool slow = false;
    int rc = (ops->dev->type & CL_DEVICE_TYPE_CPU) ? crn_gemm_fma_slow(ops, &slow, err) : CRN_OK;
    if (rc != CRN_OK) return rc;
    p = crn_gemm_default_plan(ops->dev, slow);
    if (packed) p.backend = CRN_GEMM_PACKED;
    return crn_gemm_set_plan(ops, &p, packed ? "as asked" : "", err);
}

crn_gemm_backend crn_gemm_backend_for(const crn_ops *ops, bool ta, bool tb, size_t m, size_t n, size_t k)
{
    (void)ta, (void)tb;
    /* the packed kernels index with int */
    if (m > INT_MAX / 8 || n > INT_MAX / 8 || k > INT_MAX / 8) return CRN_GEMM_CLBLAST;
    return ops->gemm.plan.backend;
}

int crn_sgemm(crn_ops *ops, bool trans_a, bool trans_b, size_t m, size_t n, size_t k, float alpha, cl_mem a,
              size_t a_off, size_t lda, cl_mem b, size_t b_off, size_t ldb, float beta, cl_mem c, size_t c_off,
              size_t ldc, crn_error *err)
{
    if (m == 0 || n == 0) return CRN_OK;
    if (ops->gemm.log_on) log_shape(&ops->gemm, trans_a, trans_b, m, n, k);
    if (crn_gemm_backend_for(ops, trans_a, trans_b, m, n, k) == CRN_GEMM_PACKED && a_off <= INT_MAX &&
        b_off <= INT_MAX && c_off <= INT_MAX && lda <= INT_MAX && ldb <= INT_MAX && ldc <= INT_MAX) {
        return crn_pgemm_matrix(ops, trans_a, trans_b, (int)m, (int)n, (int)k, alpha, a, (int)a_off, (int)lda, b,
                                (int)b_off, (int)ldb, beta, c, (int)c_off, (int)ldc, err);
    }
    cl_command_queue q = crn_runtime_queue(ops->rt);
    CLBlastStatusCode s =
        CLBlastSgemm(CLBlastLayoutRowMajor, trans_a ? CLBlastTransposeYes : CLBlastTransposeNo,
                     trans_b ? CLBlastTransposeYes : CLBlastTransposeNo, m, n, k, alpha, a, a_off, lda, b, b_off,
                     ldb, beta, c, c_off, ldc, &q, crn_prof_slot(ops->rt, "sgemm", true));
    if (s != CLBlastSuccess)
        return crn_fail(err, CRN_EBLAS, "CLBlast SGEMM %zux%zux%zu on %s: %s (%d)", m, n, k, ops->dev->name,
                        crn_clblast_strerror(s), (int)s);
    return CRN_OK;
}

size_t crn_gemm_k_splits(const crn_ops *ops, size_t m, size_t n, size_t k)
{
    /* Enough 64x64 output tiles to give every compute unit a few
     * work-groups; chunks of at least 256 along k; a chunk count that
     * divides k (the batched GEMM needs equal chunks). */
    size_t tiles = ((m + 63) / 64) * ((n + 63) / 64), want = 4 * (size_t)ops->dev->compute_units;
    if (tiles >= want || k < 512) return 1;
    size_t s = (want + tiles - 1) / tiles;
    if (s > k / 256) s = k / 256;
    if (s > 1024) s = 1024;
    size_t cap = ops->dev->max_alloc / 4 / (m * n * sizeof(float) + 1);
    if (s > cap) s = cap;
    while (s > 1 && k % s != 0) s--;
    return s ? s : 1;
}

int crn_sgemm_nt_long_k(crn_ops *ops, size_t m, size_t n, size_t k, cl_mem a, size_t a_off, size_t lda, cl_mem b,
                        size_t b_off, size_t ldb, float beta, cl_mem c, size_t c_off, size_t ldc, crn_error *err)
{
    size_t s = crn_gemm_k_splits(ops, m, n, k);
    /* the packed GEMM spreads over N and M blocks: no split needed */
    if (crn_gemm_backend_for(ops, false, true, m, n, k) == CRN_GEMM_PACKED) s = 1;
    if (s <= 1 || c_off != 0 || ldc != n)
        return crn_sgemm(ops, false, true, m, n, k, 1.0f, a, a_off, lda, b, b_off, ldb, beta, c, c_off, ldc, err);
    size_t kc = k / s, mn = m * n, bytes = s * mn * sizeof(float);
    crn_gemm_state *g = &ops->gemm;
    int rc = crn_ops_buffer(ops, &g->splitk_buf, &g->splitk_bytes, bytes, err);
    if (rc != CRN_OK) return rc;
    if (g->log_on) log_shape(g, false, true, m, n, kc);
    cl_command_queue q = crn_runtime_queue(ops->rt);
    CLBlastStatusCode st = CLBlastSgemmStridedBatched(
        CLBlastLayoutRowMajor, CLBlastTransposeNo, CLBlastTransposeYes, m, n, kc, 1.0f, a, a_off, lda, kc, b, b_off,
        ldb, kc, 0.0f, g->splitk_buf, 0, n, mn, s, &q, crn_prof_slot(ops->rt, "sgemm", true));
    if (st != CLBlastSuccess)
        return crn_fail(err, CRN_EBLAS, "CLBlast strided-batched SGEMM %zux%zux%zu x%zu on %s: %s (%d)", m, n, kc, s,
                        ops->dev->name, crn_clblast_strerror(st), (int)st);
    const crn_kernel *kr = ops->gemm_k.splitk_reduce;
    rc = set_splitk_reduce(kr, err, g->splitk_buf, c, (int)s, (int)mn, beta);
    if (rc == CRN_OK) rc = crn_launch_1d(ops->rt, kr, mn, err);
    return rc;
}
