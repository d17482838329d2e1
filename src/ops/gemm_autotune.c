#include "clresnet/ops/gemm_autotune.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clresnet/core/clock.h"
#include "clresnet/core/file_util.h"
#include "clresnet/runtime/kernel_cache.h"
#include "clresnet/runtime/kernels.h"
#include "ops_impl.h"

/* The candidates after the device's default, in the order they are tried
 * (the budget may end the list): pre-packed B first (its kernels build in
 * about a second where the fused ones take many: 18 s on Intel's CPU
 * runtime), every vector width with tiles of 2 to 4 vectors per row and 4
 * to 8 rows, the lane-mapped kernel, CLBlast, then the fused kernels (each
 * packed one as multiply-add where the device's fma is emulated). Tile
 * shapes follow BLIS's register blocking for 16 and 32 vector registers
 * (Van Zee and van de Geijn, "BLIS", ACM TOMS 41(3), 2015). */
static const crn_gemm_plan CANDIDATES[] = {
    {CRN_GEMM_PACKED, 16, 8, 32, 0, 0, 0, 0}, {CRN_GEMM_PACKED, 16, 8, 32, 0, 0, 1, 0},
    {CRN_GEMM_PACKED, 8, 6, 32, 0, 0, 1, 0}, {CRN_GEMM_PACKED, 16, 4, 48, 0, 0, 0, 0},
    {CRN_GEMM_PACKED, 8, 8, 16, 0, 0, 0, 0}, {CRN_GEMM_PACKED, 8, 6, 32, 0, 0, 0, 0},
    {CRN_GEMM_PACKED, 16, 6, 32, 0, 0, 0, 0}, {CRN_GEMM_PACKED, 16, 4, 64, 0, 0, 0, 0},
    {CRN_GEMM_PACKED, 8, 4, 32, 0, 0, 0, 0}, {CRN_GEMM_PACKED, 4, 6, 16, 0, 0, 0, 0},
    {CRN_GEMM_PACKED, 16, 8, 32, 1, 0, 0, 0}, {CRN_GEMM_PACKED, 8, 8, 32, 1, 0, 0, 0},
    {CRN_GEMM_PACKED, 16, 4, 64, 1, 0, 0, 0}, {CRN_GEMM_PACKED, 8, 6, 16, 1, 0, 0, 0},
    {CRN_GEMM_CLBLAST, 0, 0, 0, 0, 0, 0, 0}, {CRN_GEMM_PACKED, 16, 8, 32, 0, 1, 0, 0},
    {CRN_GEMM_PACKED, 16, 6, 32, 0, 1, 0, 0}, {CRN_GEMM_PACKED, 8, 6, 16, 0, 1, 0, 0},
    {CRN_GEMM_PACKED, 8, 8, 16, 0, 1, 0, 0}, {CRN_GEMM_PACKED, 4, 4, 8, 0, 1, 0, 0},
};
enum { N_CANDIDATES = sizeof CANDIDATES / sizeof CANDIDATES[0] };

/* A candidate still timing past this multiple of the best is dropped. */
static const double DROP_FACTOR = 1.25;

static bool same_plan(const crn_gemm_plan *a, const crn_gemm_plan *b)
{
    if (a->backend != b->backend) return false;
    return a->backend == CRN_GEMM_CLBLAST ||
           (a->vw == b->vw && a->mr == b->mr && a->nr == b->nr && a->lanes == b->lanes && a->fused == b->fused &&
            a->gather == b->gather);
}

/* ------------------------------------------------------------ the cache */

uint64_t crn_ops_cache_key(const crn_ops *ops, const char *tag, const char *extra)
{
    const crn_device_info *d = ops->dev;
    const char *parts[] = {tag, d->platform_name, d->platform_version, d->name, d->driver_version, extra ? extra : ""};
    uint64_t h = CRN_FNV1A64_INIT;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) h = crn_fnv1a64(h, parts[i], strlen(parts[i]) + 1);
    return h;
}

/* The key: everything that changes what the plan's kernels do or how fast
 * (the device and driver, the packed GEMM's source) and this format. */
static uint64_t cache_key(const crn_ops *ops)
{
    const crn_cl_source *src = crn_cl_op_source("gemm_packed.cl");
    return crn_ops_cache_key(ops, "clresnet-gemm-plan-1", src ? src->text : "");
}

/* what == NULL: the device's entry (the plan measured last, which every
 * ops context starts with); else the entry of one workload. */
static int entry_path(const crn_ops *ops, const char *what, char *buf, size_t size, crn_error *err)
{
    char dir[4096], tail[32] = "";
    int rc = crn_runtime_cache_dir(ops->rt, dir, sizeof dir, err);
    if (rc != CRN_OK) return rc;
    if (what) snprintf(tail, sizeof tail, "-%016llx", (unsigned long long)crn_fnv1a64(CRN_FNV1A64_INIT, what, strlen(what)));
    int n = snprintf(buf, size, "%s/gemm-plan-%016llx%s.txt", dir, (unsigned long long)cache_key(ops), tail);
    if (n < 0 || (size_t)n >= size) return crn_fail(err, CRN_EINVAL, "the cache folder's name is too long: %s", dir);
    return CRN_OK;
}

int crn_gemm_plan_cache_path(const crn_ops *ops, char *buf, size_t size, crn_error *err)
{
    return entry_path(ops, NULL, buf, size, err);
}

/* How a measured plan was chosen, for crn_ops_gemm_desc. */
static void describe(char *where, size_t size, time_t when, double gflops, const char *what, double gain)
{
    char day[32] = "?";
    struct tm tm;
    if (gmtime_r(&when, &tm)) strftime(day, sizeof day, "%Y-%m-%d", &tm);
    snprintf(where, size, "measured on this device %s: %.1f GFLOP/s on %s, %.2fx the default plan", day, gflops,
             what[0] ? what : "its convolutions", gain);
}

/* The entry: "<plan> <GFLOP/s> <seconds> <default seconds> <unix time> <workload>". */
bool crn_gemm_plan_cached(const crn_ops *ops, const char *what, crn_gemm_plan *plan, char *where, size_t where_size)
{
    char path[4200], *text = NULL, ptext[CRN_GEMM_PLAN_TEXT];
    crn_error e = {0};
    size_t n = 0;
    if (entry_path(ops, what, path, sizeof path, &e) != CRN_OK || crn_read_file(path, &text, &n, &e) != CRN_OK)
        return false;
    double gflops = 0, s = 0, s_def = 0;
    long long when = 0;
    int used = 0;
    bool ok = sscanf(text, "%63s %lf %lf %lf %lld %n", ptext, &gflops, &s, &s_def, &when, &used) == 5;
    crn_gemm_plan p;
    if (ok) ok = crn_gemm_plan_parse(ptext, &p, &e) == CRN_OK && s > 0;
    char got[200] = "";
    if (ok) {
        snprintf(got, sizeof got, "%s", text + used);
        got[strcspn(got, "\n")] = '\0';
        ok = !what || !strcmp(got, what); /* a hash collision is not a hit */
    }
    if (ok) {
        describe(where, where_size, (time_t)when, gflops, got, s_def / s);
        *plan = p;
    }
    free(text);
    return ok;
}

static int cache_store(const crn_ops *ops, const crn_autotune_result *r, const char *what, crn_error *err)
{
    char path[4200], dir[4096], ptext[CRN_GEMM_PLAN_TEXT], line[512];
    int rc = crn_runtime_cache_dir(ops->rt, dir, sizeof dir, err);
    if (rc == CRN_OK) rc = crn_mkdirs(dir, err);
    if (rc != CRN_OK) return rc;
    crn_gemm_plan_format(&r->plan, ptext, sizeof ptext);
    int n = snprintf(line, sizeof line, "%s %.3f %.6f %.6f %lld %s\n", ptext, r->gflops, r->seconds,
                     r->default_seconds, (long long)time(NULL), what);
    if (n < 0 || (size_t)n >= sizeof line) return crn_fail(err, CRN_EINVAL, "GEMM plan cache entry too long");
    /* the workload's entry, then the device's (the latest) */
    for (int i = 0; rc == CRN_OK && i < 2; i++) {
        rc = entry_path(ops, i == 0 ? what : NULL, path, sizeof path, err);
        if (rc == CRN_OK) rc = crn_write_file_atomic(path, line, (size_t)n, err);
    }
    return rc;
}

/* ------------------------------------------------------------ timing */

/* Shared buffers as large as the largest shape needs; each shape runs on
 * views of them (zeros: no denormals to skew the times). */
typedef struct bench_bufs {
    crn_tensor x, w, y, dx, dw;
    crn_workspace ws;
} bench_bufs;

static void bufs_free(bench_bufs *b)
{
    crn_tensor *all[] = {&b->x, &b->w, &b->y, &b->dx, &b->dw};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) crn_tensor_free(all[i]);
    crn_workspace_free(&b->ws);
}

static size_t n_in(const crn_conv_work *c) { return (size_t)c->d.cin * c->n * c->h * c->w; }
static size_t n_weight(const crn_conv_work *c) { return (size_t)c->d.cout * c->d.cin * c->d.kh * c->d.kw; }
static size_t n_out(const crn_conv_work *c)
{
    return (size_t)c->d.cout * c->n * crn_conv_out_size(c->h, c->d.kh, c->d.stride, c->d.pad) *
           crn_conv_out_size(c->w, c->d.kw, c->d.stride, c->d.pad);
}

static double work_flops(const crn_conv_work *c)
{
    double f = 2.0 * (double)n_out(c) * c->d.cin * c->d.kh * c->d.kw;
    return c->count * f * (1 + (c->backward ? 1 : 0) + (c->dx ? 1 : 0));
}

static int bufs_alloc(crn_ops *ops, const crn_conv_work *work, int nwork, bench_bufs *b, crn_error *err)
{
    size_t mx = 1, mw = 1, my = 1;
    for (int i = 0; i < nwork; i++) {
        if (n_in(&work[i]) > mx) mx = n_in(&work[i]);
        if (n_weight(&work[i]) > mw) mw = n_weight(&work[i]);
        if (n_out(&work[i]) > my) my = n_out(&work[i]);
    }
    memset(b, 0, sizeof *b);
    int rc = crn_tensor_zeros(ops->rt, &b->x, CRN_F32, 1, &mx, err);
    if (rc == CRN_OK) rc = crn_tensor_zeros(ops->rt, &b->dx, CRN_F32, 1, &mx, err);
    if (rc == CRN_OK) rc = crn_tensor_zeros(ops->rt, &b->w, CRN_F32, 1, &mw, err);
    if (rc == CRN_OK) rc = crn_tensor_zeros(ops->rt, &b->dw, CRN_F32, 1, &mw, err);
    if (rc == CRN_OK) rc = crn_tensor_zeros(ops->rt, &b->y, CRN_F32, 1, &my, err);
    return rc;
}

/* One shape forward and (unless frozen) backward on views of the shared buffers. */
static int run_shape(crn_ops *ops, const crn_conv_work *c, bench_bufs *b, crn_error *err)
{
    size_t wsb = crn_conv_workspace_bytes(ops, &c->d, c->n, c->h, c->w);
    int rc = wsb ? crn_workspace_reserve(ops->rt, &b->ws, wsb, err) : CRN_OK;
    crn_tensor x = {0}, w = {0}, y = {0}, dx = {0}, dw = {0};
    size_t sx = n_in(c), sw = n_weight(c), sy = n_out(c);
    if (rc == CRN_OK) rc = crn_tensor_view(ops->rt, &x, b->x.buf, 0, CRN_F32, 1, &sx, err);
    if (rc == CRN_OK) rc = crn_tensor_view(ops->rt, &dx, b->dx.buf, 0, CRN_F32, 1, &sx, err);
    if (rc == CRN_OK) rc = crn_tensor_view(ops->rt, &w, b->w.buf, 0, CRN_F32, 1, &sw, err);
    if (rc == CRN_OK) rc = crn_tensor_view(ops->rt, &dw, b->dw.buf, 0, CRN_F32, 1, &sw, err);
    if (rc == CRN_OK) rc = crn_tensor_view(ops->rt, &y, b->y.buf, 0, CRN_F32, 1, &sy, err);
    if (rc == CRN_OK) rc = crn_conv2d_forward(ops, &c->d, c->n, c->h, c->w, &x, &w, NULL, &y, &b->ws, err);
    if (rc == CRN_OK && c->backward)
        rc = crn_conv2d_backward(ops, &c->d, c->n, c->h, c->w, &x, &w, &y, c->dx ? &dx : NULL, &dw, NULL, &b->ws,
                                 err);
    crn_tensor *all[] = {&x, &w, &y, &dx, &dw};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) crn_tensor_free(all[i]);
    return rc;
}

/* Timed passes after the warm-up; each shape counts at its fastest pass, so
 * that a burst of other work on the machine during one pass does not decide
 * the plan (a single pass beside a test suite picked a plan 10 % slower). */
enum { TIMED_PASSES = 2 };

/* The workload's time with the current plan: a warm-up pass (PoCL compiles
 * kernels at their first launch), then TIMED_PASSES timed passes (only the
 * first once the clock is past `deadline`: a slow device spends its budget
 * on candidates, not on repeats), each shape finished before the next, at
 * its fastest pass, weighted by its count. Stops early (*dropped) once the
 * first timed pass passes `limit`. */
static int time_workload(crn_ops *ops, const crn_conv_work *work, int nwork, bench_bufs *b, double limit,
                         double deadline, double *seconds, bool *dropped, crn_error *err)
{
    *dropped = false;
    *seconds = 0;
    double *best = malloc((size_t)nwork * sizeof *best);
    if (!best) return crn_fail(err, CRN_ENOMEM, "GEMM tuning: out of host memory");
    int rc = CRN_OK;
    for (int pass = 0; rc == CRN_OK && pass <= TIMED_PASSES && !*dropped; pass++) {
        if (pass > 1 && crn_now_s() > deadline) break;
        double total = 0;
        for (int i = 0; i < nwork; i++) {
            double t0 = crn_now_s();
            rc = run_shape(ops, &work[i], b, err);
            if (rc == CRN_OK) rc = crn_finish(ops->rt, err);
            if (rc != CRN_OK) break;
            double t = (crn_now_s() - t0) * work[i].count;
            if (pass <= 1 || t < best[i]) best[i] = t;
            total += t;
            /* the warm-up includes builds: only a far slower one is dropped there */
            if (pass <= 1 && total > limit * (pass == 0 ? 4 : 1)) {
                *dropped = true;
                break;
            }
        }
    }
    if (rc == CRN_OK && !*dropped)
        for (int i = 0; i < nwork; i++) *seconds += best[i];
    free(best);
    return rc;
}

int crn_gemm_autotune(crn_ops *ops, const crn_conv_work *work, int nwork, const crn_autotune_options *opt,
                      crn_autotune_progress progress, void *ctx, crn_autotune_result *res, crn_error *err)
{
    memset(res, 0, sizeof *res);
    if (nwork < 1) return crn_fail(err, CRN_EINVAL, "GEMM tuning: no convolutions to time");
    double t_start = crn_now_s(), flops = 0;
    for (int i = 0; i < nwork; i++) flops += work_flops(&work[i]);
    crn_gemm_plan list[N_CANDIDATES + 1];
    int n = 0;
    bool fma_slow = false;
    int frc = crn_gemm_fma_slow(ops, &fma_slow, err);
    if (frc != CRN_OK) return frc;
    list[n++] = crn_gemm_default_plan(ops->dev, fma_slow);
    for (int i = 0; i < N_CANDIDATES; i++) {
        crn_gemm_plan cand = CANDIDATES[i];
        const crn_gemm_plan *c = &cand;
        /* where fma is emulated, every packed candidate in its multiply-add form */
        if (c->backend == CRN_GEMM_PACKED && fma_slow) cand.mul_add = 1;
        /* a fused plan whose B block does not fit local memory runs pre-packed: a duplicate */
        if (c->fused && (size_t)512 * 4 * c->nr * sizeof(float) > ops->dev->local_mem) continue;
        if ((c->lanes && (size_t)c->vw > ops->dev->max_work_group) ||
            (c->gather && (size_t)c->nr > ops->dev->max_work_group))
            continue;
        if (!same_plan(c, &list[0])) list[n++] = *c;
    }
    res->candidates = n;
    crn_gemm_plan before = ops->gemm.plan, best = list[0];
    char before_from[sizeof ops->gemm.plan_from];
    snprintf(before_from, sizeof before_from, "%s", ops->gemm.plan_from);
    double best_s = 1e30;
    bench_bufs b;
    int rc = bufs_alloc(ops, work, nwork, &b, err);
    for (int i = 0; rc == CRN_OK && i < n; i++) {
        if (i > 0 && crn_now_s() - t_start > opt->budget_s) break;
        char text[CRN_GEMM_PLAN_TEXT];
        crn_gemm_plan_format(&list[i], text, sizeof text);
        crn_error e = {0};
        double s = -1;
        bool dropped = false;
        int r = crn_gemm_set_plan(ops, &list[i], "", &e);
        if (r == CRN_OK)
            r = time_workload(ops, work, nwork, &b, best_s * DROP_FACTOR, t_start + opt->budget_s, &s, &dropped, &e);
        if (r == CRN_ENOMEM) { /* the device's memory, not the candidate: no point going on */
            rc = crn_fail(err, r, "%s", e.msg);
            break;
        }
        if (r != CRN_OK) s = -1; /* does not build or run here: not a candidate */
        res->tried++;
        if (i == 0) res->default_seconds = s;
        if (progress) progress(ctx, i + 1, n, text, dropped ? 0 : s, s > 0 ? flops / s * 1e-9 : 0, dropped);
        if (!dropped && s > 0 && s < best_s) {
            best_s = s;
            best = list[i];
        }
    }
    bufs_free(&b);
    if (rc == CRN_OK && best_s >= 1e29)
        rc = crn_fail(err, CRN_EBLAS, "GEMM tuning: no plan ran on %s", ops->dev->name);
    if (rc != CRN_OK) {
        crn_error ignored = {0};
        crn_gemm_set_plan(ops, &before, before_from, &ignored);
        return rc;
    }
    res->plan = best;
    res->seconds = best_s;
    res->gflops = flops / best_s * 1e-9;
    if (res->default_seconds <= 0) res->default_seconds = best_s;
    res->elapsed_s = crn_now_s() - t_start;
    const char *what = opt->what ? opt->what : "its convolutions";
    rc = cache_store(ops, res, what, err);
    char where[200];
    describe(where, sizeof where, time(NULL), res->gflops, what, res->default_seconds / res->seconds);
    int rc2 = crn_gemm_set_plan(ops, &res->plan, where, err);
    return rc != CRN_OK ? rc : rc2;
}
