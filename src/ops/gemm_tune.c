#include "clresnet/ops/gemm_tune.h"
#include "clresnet/core/clock.h"

#include <clblast_c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clresnet/core/file_util.h"
#include "clresnet/ops/gemm.h"
#include "clresnet/runtime/kernel_cache.h"
#include "clresnet/runtime/tensor.h"
#include "ops_impl.h"

/* Parameter names in CLBlast 1.5's order. */
static const char *XGEMM_NAMES[] = {"GEMMK", "KREG", "KWG",  "KWI", "MDIMA", "MDIMC", "MWG", "NDIMB",
                                    "NDIMC", "NWG",  "SA",   "SB",  "STRM",  "STRN",  "VWM", "VWN"};
enum { XGEMM_N = 16 };
static const char *DIRECT_NAMES[] = {"KWID", "MDIMAD", "MDIMCD", "NDIMBD", "NDIMCD",
                                     "PADA", "PADB",   "VWMD",   "VWND",   "WGD"};
enum { DIRECT_N = 10 };

/* Candidates: CLBlast's own defaults and entries of the kind its database
 * holds for CPUs and GPUs, plus wide-vector shapes that suit AVX-512 CPUs.
 * Each is valid for any device whose work-group limit allows MDIMC*NDIMC. */
static const size_t XGEMM_CANDS[][XGEMM_N] = {
    {0, 1, 32, 2, 8, 8, 32, 16, 16, 32, 1, 1, 0, 0, 4, 2},    /* CLBlast's default */
    {0, 1, 32, 2, 8, 8, 32, 8, 8, 64, 0, 0, 0, 0, 4, 4},
    {0, 1, 16, 2, 8, 8, 128, 16, 8, 128, 0, 1, 1, 1, 1, 8},
    {0, 1, 16, 2, 8, 8, 64, 8, 8, 128, 0, 0, 0, 0, 8, 16},
    {0, 1, 32, 2, 8, 4, 64, 4, 8, 128, 0, 0, 0, 0, 8, 16},
    {0, 1, 32, 2, 16, 16, 64, 8, 8, 64, 1, 1, 0, 0, 4, 4},
    {0, 1, 16, 2, 16, 16, 64, 16, 8, 128, 1, 1, 1, 0, 4, 8},
    {0, 1, 32, 2, 16, 8, 64, 8, 8, 64, 1, 1, 1, 1, 4, 8},
    {0, 1, 16, 2, 32, 16, 128, 32, 8, 128, 1, 1, 1, 0, 4, 1},
};
static const size_t DIRECT_CANDS[][DIRECT_N] = {
    {2, 8, 8, 8, 8, 1, 1, 1, 1, 32},   /* CLBlast's default */
    {2, 8, 8, 8, 8, 1, 1, 2, 2, 32},
    {2, 8, 8, 8, 8, 1, 1, 4, 4, 64},
    {2, 4, 4, 4, 4, 1, 1, 4, 4, 32},
    {2, 16, 16, 16, 16, 1, 1, 2, 2, 64},
    {2, 8, 8, 8, 8, 1, 1, 2, 4, 64},
    {2, 16, 16, 16, 16, 1, 1, 4, 4, 64},
};
enum { N_XGEMM = sizeof XGEMM_CANDS / sizeof XGEMM_CANDS[0], N_DIRECT = sizeof DIRECT_CANDS / sizeof DIRECT_CANDS[0] };

/* CLBlast's switch between the direct and the indirect kernel: 0 means
 * leave CLBlast's default; huge means always direct. */
static const size_t ALWAYS_DIRECT = (size_t)1 << 50;

typedef struct config {
    int xgemm, direct;   /* candidate indices, -1 for CLBlast's default */
    size_t min_indirect; /* 0: CLBlast's default */
} config;

void crn_gemm_log_start(crn_ops *ops)
{
    ops->gemm.log_count = 0;
    ops->gemm.log_on = true;
}

void crn_gemm_log_stop(crn_ops *ops) { ops->gemm.log_on = false; }

const crn_gemm_shape *crn_gemm_log(const crn_ops *ops, int *count)
{
    *count = ops->gemm.log_count;
    return ops->gemm.log;
}

static void describe(const config *c, char *buf, size_t n)
{
    char a[32] = "default", b[32] = "default";
    if (c->xgemm >= 0) snprintf(a, sizeof a, "#%d", c->xgemm);
    if (c->direct >= 0) snprintf(b, sizeof b, "#%d", c->direct);
    snprintf(buf, n, "xgemm %s, direct %s, %s", a, b,
             c->min_indirect == ALWAYS_DIRECT ? "always direct" : c->min_indirect ? "custom switch" : "default switch");
}

static bool fits(const crn_ops *ops, const size_t *p, bool direct)
{
    size_t threads = direct ? p[2] * p[4] : p[5] * p[8];
    return threads <= ops->dev->max_work_group;
}

static int apply(crn_ops *ops, const config *c, crn_error *err)
{
    CLBlastClearCache();
    const size_t *xp = XGEMM_CANDS[c->xgemm >= 0 ? c->xgemm : 0];
    const size_t *dp = DIRECT_CANDS[c->direct >= 0 ? c->direct : 0];
    int s = CLBlastOverrideParameters(ops->dev->device, "Xgemm", CLBlastPrecisionSingle, XGEMM_N, XGEMM_NAMES, xp);
    if (s == CLBlastSuccess)
        s = CLBlastOverrideParameters(ops->dev->device, "XgemmDirect", CLBlastPrecisionSingle, DIRECT_N, DIRECT_NAMES, dp);
    if (s == CLBlastSuccess) {
        const char *name[] = {"XGEMM_MIN_INDIRECT_SIZE"};
        size_t v[] = {c->min_indirect ? c->min_indirect : 384 * 384 * 384};
        s = CLBlastOverrideParameters(ops->dev->device, "GemmRoutine", CLBlastPrecisionSingle, 1, name, v);
    }
    if (s != CLBlastSuccess)
        return crn_fail(err, CRN_EBLAS, "applying GEMM parameters: %s (%d)", crn_clblast_strerror(s), s);
    return CRN_OK;
}

/* Total time of one pass over the shapes (after one untimed pass that
 * compiles the kernels); +inf when a kernel fails on this device. */
static double time_shapes(crn_ops *ops, const crn_gemm_shape *sh, int n, cl_mem a, cl_mem b, cl_mem c)
{
    double total = 0;
    for (int i = 0; i < n; i++) {
        size_t lda = sh[i].trans_a ? sh[i].m : sh[i].k, ldb = sh[i].trans_b ? sh[i].k : sh[i].n;
        double best = 1e30;
        for (int r = 0; r < 2; r++) {
            double t0 = crn_now_s();
            if (crn_sgemm(ops, sh[i].trans_a, sh[i].trans_b, sh[i].m, sh[i].n, sh[i].k, 1.0f, a, 0, lda, b, 0, ldb, 0.0f, c,
                          0, sh[i].n, NULL) != CRN_OK ||
                crn_finish(ops->rt, NULL) != CRN_OK)
                return 1e30;
            double t = crn_now_s() - t0;
            if (r > 0 && t < best) best = t; /* run 0 compiles */
        }
        total += best;
    }
    return total;
}

/* The tuning's cache entry; its folder in dir (both CRN_PATH_MAX). */
static int cache_path(const crn_ops *ops, char *buf, char *dir, crn_error *err)
{
    int rc = crn_runtime_cache_dir(ops->rt, dir, CRN_PATH_MAX, err);
    if (rc == CRN_OK)
        rc = crn_path_fmt(buf, CRN_PATH_MAX, err, "%s/tune-%016llx.txt", dir,
                          (unsigned long long)crn_ops_cache_key(ops, "clresnet-gemm-tune-2", NULL));
    return rc;
}

int crn_gemm_tune(crn_ops *ops, const crn_gemm_shape *shapes, int nshapes, crn_tune_progress_fn progress, void *ctx,
                  crn_gemm_tune_result *res, crn_error *err)
{
    memset(res, 0, sizeof *res);
    if (nshapes < 1) return crn_fail(err, CRN_EINVAL, "GEMM tuning: no shapes to time");
    size_t na = 1, nb = 1, nc = 1;
    for (int i = 0; i < nshapes; i++) {
        if (shapes[i].m * shapes[i].k > na) na = shapes[i].m * shapes[i].k;
        if (shapes[i].k * shapes[i].n > nb) nb = shapes[i].k * shapes[i].n;
        if (shapes[i].m * shapes[i].n > nc) nc = shapes[i].m * shapes[i].n;
    }
    cl_mem a = NULL, b = NULL, c = NULL;
    int rc = crn_buffer_alloc(ops->rt, &a, na * 4, err);
    if (rc == CRN_OK) rc = crn_buffer_alloc(ops->rt, &b, nb * 4, err);
    if (rc == CRN_OK) rc = crn_buffer_alloc(ops->rt, &c, nc * 4, err);
    config best = {-1, -1, 0};
    double best_s = 1e30, bx_s = 1e30, bd_s = 1e30;
    int bx = -1, bd = -1;
    char desc[160];
    /* CLBlast's defaults first, then each indirect kernel candidate, then
     * each direct one with CLBlast always taking the direct path, then the
     * best of both with CLBlast's own switch between them. */
    config tries[2 + N_XGEMM + N_DIRECT];
    int nt = 0;
    tries[nt++] = (config){-1, -1, 0};
    for (int i = 1; i < N_XGEMM; i++)
        if (fits(ops, XGEMM_CANDS[i], false)) tries[nt++] = (config){i, -1, 0};
    for (int j = 0; j < N_DIRECT; j++)
        if (fits(ops, DIRECT_CANDS[j], true)) tries[nt++] = (config){-1, j, ALWAYS_DIRECT};
    for (int t = 0; rc == CRN_OK && t <= nt; t++) {
        config cf = t < nt ? tries[t] : (config){bx, bd, 0};
        if (t == nt && (bx < 0 || bd < 0)) break;
        if ((rc = apply(ops, &cf, err)) != CRN_OK) break;
        double s = time_shapes(ops, shapes, nshapes, a, b, c);
        describe(&cf, desc, sizeof desc);
        if (progress) progress(ctx, desc, s);
        res->tried++;
        if (t == 0) res->default_s = s;
        if (cf.min_indirect == 0 && cf.xgemm >= 0 && s < bx_s) bx_s = s, bx = cf.xgemm;
        if (cf.min_indirect == ALWAYS_DIRECT && s < bd_s) bd_s = s, bd = cf.direct;
        if (s < best_s) {
            best_s = s;
            best = cf;
        }
    }
    if (a) clReleaseMemObject(a);
    if (b) clReleaseMemObject(b);
    if (c) clReleaseMemObject(c);
    if (rc != CRN_OK) return rc;
    if (best_s >= 1e29) return crn_fail(err, CRN_EBLAS, "GEMM tuning: no configuration ran on %s", ops->dev->name);
    if ((rc = apply(ops, &best, err)) != CRN_OK) return rc;
    describe(&best, res->config, sizeof res->config);
    res->best_s = best_s;
    char path[CRN_PATH_MAX], dir[CRN_PATH_MAX], text[256];
    /* no cache folder: the tuning holds for this run only */
    if (cache_path(ops, path, dir, NULL) != CRN_OK) return CRN_OK;
    int n = snprintf(text, sizeof text, "%d %d %zu %.6f %.6f\n", best.xgemm, best.direct, best.min_indirect, best_s,
                     res->default_s);
    if (crn_mkdirs(dir, err) != CRN_OK) return CRN_OK;
    return crn_write_file_atomic(path, text, (size_t)n, err);
}

int crn_gemm_tune_apply_cached(crn_ops *ops, crn_error *err)
{
    ops->gemm.tuning[0] = '\0';
    char path[CRN_PATH_MAX], dir[CRN_PATH_MAX];
    if (cache_path(ops, path, dir, NULL) != CRN_OK) return CRN_OK;
    FILE *f = fopen(path, "r");
    if (!f) return CRN_OK;
    config c;
    double best_s = 0, def_s = 0;
    int ok = fscanf(f, "%d %d %zu %lf %lf", &c.xgemm, &c.direct, &c.min_indirect, &best_s, &def_s) == 5;
    fclose(f);
    /* An entry that does not parse or names no candidate is ignored. */
    if (!ok || c.xgemm < -1 || c.xgemm >= N_XGEMM || c.direct < -1 || c.direct >= N_DIRECT) return CRN_OK;
    if ((c.xgemm >= 0 && !fits(ops, XGEMM_CANDS[c.xgemm], false)) ||
        (c.direct >= 0 && !fits(ops, DIRECT_CANDS[c.direct], true)))
        return CRN_OK;
    if (c.xgemm < 0 && c.direct < 0 && !c.min_indirect) return CRN_OK;
    int rc = apply(ops, &c, err);
    if (rc != CRN_OK) return rc;
    char d[160];
    describe(&c, d, sizeof d);
    snprintf(ops->gemm.tuning, sizeof ops->gemm.tuning, "%s (%.2fx CLBlast's defaults when tuned)", d,
             best_s > 0 ? def_s / best_s : 0);
    return CRN_OK;
}
