/* The packed-panel GEMM for CPU OpenCL devices (cl/gemm_packed.cl): op(A)
 * packed into MR-row panels, op(B) into NR-column panels, one work-item per
 * work-group computing an MR x NR register tile with the device's float
 * vectors. The fused kernels pack B one K block at a time into local memory
 * (which a CPU device keeps in its cache), straight from a matrix or, for a
 * convolution, from the activation tensor (implicit im2col): the columns
 * are never written out. Every element of C is one fma chain over k in
 * order, whatever the tile sizes and path: results are deterministic. */
#include <stdio.h>
#include <string.h>

#include "clresnet/ops/gemm.h"
#include "clresnet/runtime/kernels.h"
#include "clresnet/runtime/tensor.h"
#include "ops_impl.h"

static int cdiv(int a, int b) { return (a + b - 1) / b; }

/* The blocking of the fused kernels: a K block of 512 floats and N blocks
 * of 4 panels (so the local B block is 512 x 4 x NR floats), an A block
 * within 96 KiB of L2; packing 16 k values and 8 panels per work-item. */
static void set_blocking(crn_pgemm *pg)
{
    pg->pk = 16;
    pg->pj = 8;
    pg->kc = 512;
    pg->jb = 4;
    pg->a_kb = 96;
}

static const struct {
    const char *name;
    size_t offset;
} KERNELS[] = {
#define K(field, name) {name, offsetof(crn_pgemm, field)}
    K(pack_a, "pack_a"), K(pack_b, "pack_b"), K(pack_b_im2col, "pack_b_im2col"),
    K(pack_bt_im2col, "pack_bt_im2col"), K(gemm, "gemm_packed"), K(fused_gemm, "gemm_fused"),
    K(fused_im2col, "gemm_fused_im2col"), K(fused_im2col_t, "gemm_fused_im2col_t"), K(gemm_wg, "gemm_packed_wg"),
    K(pack_b_im2col_wg, "pack_b_im2col_wg"), K(pack_bt_im2col_wg, "pack_bt_im2col_wg"),
#undef K
};

/* The kernels a plan uses: the fused ones only when it fuses (they take
 * most of the build: 17 of 18 s on Intel's CPU runtime), the lane-mapped
 * micro-kernel only with lanes. */
static bool kernel_used(const crn_pgemm *pg, size_t offset)
{
    if (offset == offsetof(crn_pgemm, fused_gemm) || offset == offsetof(crn_pgemm, fused_im2col) ||
        offset == offsetof(crn_pgemm, fused_im2col_t))
        return pg->fused;
    if (offset == offsetof(crn_pgemm, gemm)) return !pg->lanes;
    if (offset == offsetof(crn_pgemm, gemm_wg)) return pg->lanes;
    if (offset == offsetof(crn_pgemm, pack_b_im2col_wg) || offset == offsetof(crn_pgemm, pack_bt_im2col_wg))
        return pg->gather;
    return true;
}

int crn_pgemm_init(crn_ops *ops, const crn_gemm_plan *plan, crn_error *err)
{
    crn_pgemm *pg = &ops->gemm.pg;
    if (pg->prog) return CRN_OK;
    const crn_cl_source *src = crn_cl_op_source("gemm_packed.cl");
    if (!src) return crn_fail(err, CRN_EINVAL, "the packed GEMM's kernel file is not built in");
    set_blocking(pg);
    pg->vw = plan->vw, pg->mr = plan->mr, pg->nr = plan->nr, pg->lanes = plan->lanes, pg->fused = plan->fused;
    pg->gather = plan->gather;
    pg->mul_add = plan->mul_add;
    char opts[160];
    snprintf(opts, sizeof opts, "-DMR=%d -DNR=%d -DVW=%d -DPK=%d -DPJ=%d%s%s%s%s", pg->mr, pg->nr, pg->vw, pg->pk,
             pg->pj, pg->fused ? "" : " -DNO_FUSED", pg->lanes ? " -DLANES" : "", pg->gather ? " -DGATHER_LANES" : "",
             pg->mul_add ? " -DMUL_ADD" : "");
    int cached = 0;
    int rc = crn_build_program(ops->rt, src->name, src->text, opts, &pg->prog, crn_runtime_uses_cache(ops->rt),
                               &cached, err);
    for (size_t i = 0; rc == CRN_OK && i < sizeof KERNELS / sizeof KERNELS[0]; i++)
        if (kernel_used(pg, KERNELS[i].offset))
            rc = crn_program_kernel(ops->rt, pg->prog, KERNELS[i].name,
                                    (crn_kernel *)((char *)pg + KERNELS[i].offset), err);
    if (rc != CRN_OK) {
        crn_pgemm_release(pg);
        return rc;
    }
    snprintf(pg->desc, sizeof pg->desc, "clresnet's packed GEMM (%dx%d tiles of %d-float vectors%s, %s B%s%s)",
             pg->mr, pg->nr, pg->vw, pg->lanes ? " over a work-group's lanes" : "", pg->fused ? "fused" : "pre-packed",
             pg->gather ? ", gathered by lanes" : "", pg->mul_add ? ", multiply-add" : "");
    return CRN_OK;
}

void crn_pgemm_release(crn_pgemm *pg)
{
    for (size_t i = 0; i < sizeof KERNELS / sizeof KERNELS[0]; i++) {
        crn_kernel *k = (crn_kernel *)((char *)pg + KERNELS[i].offset);
        if (k->handle) clReleaseKernel(k->handle);
        memset(k, 0, sizeof *k);
    }
    if (pg->prog) clReleaseProgram(pg->prog);
    if (pg->ap) clReleaseMemObject(pg->ap);
    if (pg->bp) clReleaseMemObject(pg->bp);
    pg->prog = NULL;
    pg->ap = pg->bp = NULL;
    pg->ap_bytes = pg->bp_bytes = 0;
}

static int launch2(crn_ops *ops, const crn_kernel *k, size_t g0, size_t g1, crn_error *err)
{
    size_t g[2] = {g0, g1}, l[2] = {1, 1};
    return crn_launch(ops->rt, k, 2, g, l, err);
}

/* ------------------------------------------------------------ packing */

static int pack_a(crn_ops *ops, bool ta, int m, int k, cl_mem a, int a_off, int lda, crn_error *err)
{
    crn_pgemm *pg = &ops->gemm.pg;
    int rc = crn_ops_buffer(ops, &pg->ap, &pg->ap_bytes, (size_t)cdiv(m, pg->mr) * pg->mr * k * sizeof(float), err);
    if (rc) return rc;
    crn_args s = crn_args_begin(&pg->pack_a);
    crn_arg_ints(&s, 2, (const int[]){m, k});
    crn_arg_mem(&s, a);
    crn_arg_ints(&s, 3, (const int[]){a_off, lda, ta});
    crn_arg_mem(&s, pg->ap);
    if ((rc = crn_args_end(&s, err))) return rc;
    int panels = cdiv(m, pg->mr);
    return launch2(ops, &pg->pack_a, (size_t)cdiv(k, pg->pk), (size_t)(ta ? cdiv(panels, pg->pj) : panels), err);
}

static int pack_b(crn_ops *ops, bool tb, int n, int k, cl_mem b, int b_off, int ldb, crn_error *err)
{
    crn_pgemm *pg = &ops->gemm.pg;
    size_t bytes = (size_t)cdiv(n, pg->nr) * pg->nr * k * sizeof(float);
    int rc = crn_ops_buffer(ops, &pg->bp, &pg->bp_bytes, bytes, err);
    if (rc) return rc;
    /* streaming stores when the packed B outgrows the last-level cache */
    int nt = bytes > ((size_t)8 << 20);
    crn_args s = crn_args_begin(&pg->pack_b);
    crn_arg_ints(&s, 2, (const int[]){n, k});
    crn_arg_mem(&s, b);
    crn_arg_ints(&s, 3, (const int[]){b_off, ldb, tb});
    crn_arg_mem(&s, pg->bp);
    crn_arg_int(&s, nt);
    if ((rc = crn_args_end(&s, err))) return rc;
    int panels = cdiv(n, pg->nr);
    return launch2(ops, &pg->pack_b, (size_t)cdiv(k, pg->pk), (size_t)(tb ? panels : cdiv(panels, pg->pj)), err);
}

/* cols [Kc, P] (forward) or cols^T [P, Kc] (weight gradient) of images
 * i0.. straight from X into NR-column panels. */
static int pack_im2col(crn_ops *ops, const crn_pgemm_conv *v, bool transposed, crn_error *err)
{
    crn_pgemm *pg = &ops->gemm.pg;
    int kc = v->cin * v->kh * v->kw, p = v->nc * v->ho * v->wo;
    size_t bytes = (transposed ? (size_t)cdiv(kc, pg->nr) * pg->nr * p : (size_t)cdiv(p, pg->nr) * pg->nr * kc) *
                   sizeof(float);
    int rc = crn_ops_buffer(ops, &pg->bp, &pg->bp_bytes, bytes, err);
    if (rc) return rc;
    const crn_kernel *k = pg->gather ? (transposed ? &pg->pack_bt_im2col_wg : &pg->pack_b_im2col_wg)
                                     : (transposed ? &pg->pack_bt_im2col : &pg->pack_b_im2col);
    crn_args s = crn_args_begin(k);
    crn_arg_ints(&s, 2, (const int[]){kc, p});
    crn_arg_mem(&s, v->x);
    crn_arg_ints(&s, 10, (const int[]){v->n, v->h, v->w, v->kh, v->kw, v->stride, v->pad, v->ho, v->wo, v->i0});
    crn_arg_mem(&s, pg->bp);
    if ((rc = crn_args_end(&s, err))) return rc;
    if (pg->gather) { /* a work-group of NR lanes per panel */
        size_t nr = (size_t)pg->nr;
        size_t gs[2] = {nr * (size_t)cdiv(transposed ? kc : p, pg->nr), (size_t)cdiv(transposed ? p : kc, pg->pk)};
        size_t l[2] = {nr, 1};
        return crn_launch(ops->rt, k, 2, gs, l, err);
    }
    return transposed ? launch2(ops, k, (size_t)cdiv(p, pg->pk), (size_t)cdiv(kc, pg->nr), err)
                      : launch2(ops, k, (size_t)cdiv(kc, pg->pk), (size_t)cdiv(p, pg->nr), err);
}

/* ------------------------------------------------------------ the GEMM kernels */

typedef struct gemm_dims {
    int m, n, k;
    float alpha, beta;
    cl_mem c;
    int c_off, ldc;
} gemm_dims;

/* C over the packed panels; the grid walks M tiles fastest (a B panel stays
 * in cache) unless A is the larger operand. */
static int run_packed(crn_ops *ops, const gemm_dims *g, crn_error *err)
{
    crn_pgemm *pg = &ops->gemm.pg;
    const crn_kernel *k = pg->lanes ? &pg->gemm_wg : &pg->gemm;
    int order = g->m > g->n;
    crn_args s = crn_args_begin(k);
    crn_arg_ints(&s, 3, (const int[]){g->m, g->n, g->k});
    crn_arg_float(&s, g->alpha);
    crn_arg_mems(&s, 2, (const cl_mem[]){pg->ap, pg->bp});
    crn_arg_float(&s, g->beta);
    crn_arg_mem(&s, g->c);
    crn_arg_ints(&s, 3, (const int[]){g->c_off, g->ldc, order});
    int rc = crn_args_end(&s, err);
    if (rc) return rc;
    size_t mt = (size_t)cdiv(g->m, pg->mr), nt = (size_t)cdiv(g->n, pg->nr), w = pg->lanes ? (size_t)pg->vw : 1;
    size_t gs[2] = {w * (order ? nt : mt), order ? mt : nt}, l[2] = {w, 1};
    return crn_launch(ops->rt, k, 2, gs, l, err);
}

/* The fused kernels' blocking: partial sums go through C between K blocks,
 * so beta must be 0 unless one block covers K; the B block must fit local
 * memory. */
static bool fused_ok(const crn_ops *ops, int k, float beta)
{
    const crn_pgemm *pg = &ops->gemm.pg;
    if (!pg->fused || (beta != 0.0f && k > pg->kc)) return false;
    return (size_t)pg->kc * pg->jb * pg->nr * sizeof(float) <= ops->dev->local_mem;
}

typedef struct fused_grid {
    int kc, jb, mblk, mc, nblk;
    size_t local_bytes;
} fused_grid;

/* Enough work-groups for every compute unit (8 each, or `per_cu`): first
 * narrower N blocks (down to one panel), then M split; an M sub-block's A
 * slice stays within an L2 budget. Every M part gathers the same B blocks
 * again, which costs more than the imbalance of fewer groups when B is a
 * scalar gather or transpose (the weight gradients: transposed im2col, B^T). */
static fused_grid plan_fused(const crn_ops *ops, int m, int n, int k, int per_cu)
{
    const crn_pgemm *pg = &ops->gemm.pg;
    fused_grid f = {pg->kc < k ? pg->kc : k, pg->jb, 0, 0, 0, 0};
    int want = per_cu * (int)(ops->dev->compute_units ? ops->dev->compute_units : 1);
    while (f.jb > 1 && cdiv(n, f.jb * pg->nr) < want) f.jb--;
    f.nblk = cdiv(n, f.jb * pg->nr);
    int msplit = f.nblk >= want ? 1 : cdiv(want, f.nblk);
    f.mblk = cdiv(cdiv(m, msplit), pg->mr) * pg->mr;
    int mtiles = cdiv(f.mblk, pg->mr);
    int mc_max = (int)((size_t)pg->a_kb * 1024 / ((size_t)f.kc * sizeof(float)) / (size_t)pg->mr);
    if (mc_max < 1) mc_max = 1;
    int parts = cdiv(mtiles, mc_max);
    f.mc = cdiv(mtiles, parts) * pg->mr;
    f.local_bytes = (size_t)f.kc * f.jb * pg->nr * sizeof(float);
    return f;
}

static void arg_fused_tail(crn_args *s, const gemm_dims *g, const fused_grid *f)
{
    crn_arg_float(s, g->beta);
    crn_arg_mem(s, g->c);
    crn_arg_ints(s, 6, (const int[]){g->c_off, g->ldc, f->jb, f->kc, f->mblk, f->mc});
    crn_arg_local(s, f->local_bytes);
}

static int launch_fused(crn_ops *ops, const crn_kernel *k, const gemm_dims *g, const fused_grid *f, crn_error *err)
{
    size_t gs[2] = {(size_t)f->nblk, (size_t)cdiv(g->m, f->mblk)}, l[2] = {1, 1};
    return crn_launch(ops->rt, k, 2, gs, l, err);
}

static int fused_matrix(crn_ops *ops, const gemm_dims *g, cl_mem b, int b_off, int ldb, bool tb, crn_error *err)
{
    crn_pgemm *pg = &ops->gemm.pg;
    fused_grid f = plan_fused(ops, g->m, g->n, g->k, tb ? 2 : 8);
    crn_args s = crn_args_begin(&pg->fused_gemm);
    crn_arg_ints(&s, 3, (const int[]){g->m, g->n, g->k});
    crn_arg_float(&s, g->alpha);
    crn_arg_mems(&s, 2, (const cl_mem[]){pg->ap, b});
    crn_arg_ints(&s, 3, (const int[]){b_off, ldb, tb});
    arg_fused_tail(&s, g, &f);
    int rc = crn_args_end(&s, err);
    return rc ? rc : launch_fused(ops, &pg->fused_gemm, g, &f, err);
}

static int fused_im2col(crn_ops *ops, const gemm_dims *g, const crn_pgemm_conv *v, bool transposed, crn_error *err)
{
    crn_pgemm *pg = &ops->gemm.pg;
    const crn_kernel *k = transposed ? &pg->fused_im2col_t : &pg->fused_im2col;
    fused_grid f = plan_fused(ops, g->m, g->n, g->k, transposed ? 2 : 8);
    crn_args s = crn_args_begin(k);
    crn_arg_ints(&s, 3, (const int[]){g->m, g->n, g->k});
    crn_arg_float(&s, g->alpha);
    crn_arg_mems(&s, 2, (const cl_mem[]){pg->ap, v->x});
    crn_arg_ints(&s, 10, (const int[]){v->n, v->h, v->w, v->kh, v->kw, v->stride, v->pad, v->ho, v->wo, v->i0});
    arg_fused_tail(&s, g, &f);
    int rc = crn_args_end(&s, err);
    return rc ? rc : launch_fused(ops, k, g, &f, err);
}

/* ------------------------------------------------------------ entry points */

static int pg_ready(crn_ops *ops, crn_error *err)
{
    return ops->gemm.pg.prog ? CRN_OK : crn_pgemm_init(ops, &ops->gemm.plan, err);
}

int crn_pgemm_matrix(crn_ops *ops, bool ta, bool tb, int m, int n, int k, float alpha, cl_mem a, int a_off, int lda,
                     cl_mem b, int b_off, int ldb, float beta, cl_mem c, int c_off, int ldc, crn_error *err)
{
    int rc = pg_ready(ops, err);
    if (rc == CRN_OK) rc = pack_a(ops, ta, m, k, a, a_off, lda, err);
    if (rc != CRN_OK) return rc;
    gemm_dims g = {m, n, k, alpha, beta, c, c_off, ldc};
    if (fused_ok(ops, k, beta)) return fused_matrix(ops, &g, b, b_off, ldb, tb, err);
    rc = pack_b(ops, tb, n, k, b, b_off, ldb, err);
    return rc ? rc : run_packed(ops, &g, err);
}

int crn_pgemm_conv_forward(crn_ops *ops, const crn_pgemm_conv *v, int cout, cl_mem weight, float beta, cl_mem y,
                           crn_error *err)
{
    int kc = v->cin * v->kh * v->kw, p = v->nc * v->ho * v->wo;
    int rc = pg_ready(ops, err);
    if (rc == CRN_OK) rc = pack_a(ops, false, cout, kc, weight, 0, kc, err);
    if (rc != CRN_OK) return rc;
    gemm_dims g = {cout, p, kc, 1.0f, beta, y, v->i0 * v->ho * v->wo, v->n * v->ho * v->wo};
    if (fused_ok(ops, kc, beta)) return fused_im2col(ops, &g, v, false, err);
    rc = pack_im2col(ops, v, false, err);
    return rc ? rc : run_packed(ops, &g, err);
}

int crn_pgemm_conv_weight_grad(crn_ops *ops, const crn_pgemm_conv *v, int cout, cl_mem dy, float beta, cl_mem dweight,
                               crn_error *err)
{
    int kc = v->cin * v->kh * v->kw, p = v->nc * v->ho * v->wo, hw = v->ho * v->wo;
    int rc = pg_ready(ops, err);
    if (rc == CRN_OK) rc = pack_a(ops, false, cout, p, dy, v->i0 * hw, v->n * hw, err);
    if (rc != CRN_OK) return rc;
    gemm_dims g = {cout, kc, p, 1.0f, beta, dweight, 0, kc};
    if (fused_ok(ops, p, beta)) return fused_im2col(ops, &g, v, true, err);
    rc = pack_im2col(ops, v, true, err);
    return rc ? rc : run_packed(ops, &g, err);
}
