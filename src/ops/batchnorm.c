/* BatchNorm2d (cl/batchnorm.cl): reductions over (part, channel) into
 * partial sums, then per channel in order; normalisation and dx are
 * elementwise. The part count depends only on the shape and the device, so
 * results are bit-identical from run to run on one device. */
#include "clresnet/ops/batchnorm.h"

#include <stdlib.h>
#include <string.h>

#include "ops_impl.h"

/* How a channel's row is cut into parts for the reductions. */
typedef struct bn_split {
    int parts;
    int blocked; /* contiguous blocks (CPU) or interleaved vectors (GPU) */
} bn_split;

/* Enough parts to keep every compute unit busy, none longer than 4096
 * float8 vectors (so no lane adds more than 4096 values in sequence), none
 * shorter than a few hundred bytes' worth of reads. */
static bn_split bn_split_for(const crn_ops *ops, int c, size_t m)
{
    const crn_device_info *dev = ops->dev;
    bn_split s = {1, ops->bn.blocked};
    size_t nvec = m / 8, cu = dev->compute_units ? dev->compute_units : 1;
    size_t target = s.blocked ? 8 * cu : 1024 * cu;  /* items in flight */
    size_t min_vec = s.blocked ? 256 : 16, max_vec = 4096, cap = 1024;
    size_t parts = (nvec + max_vec - 1) / max_vec;
    size_t want = (target + (size_t)c - 1) / (size_t)c;
    size_t most = nvec / min_vec;
    if (want > parts) parts = want < most ? want : (most > parts ? most : parts);
    if (parts > cap) parts = cap;
    if (parts < 1) parts = 1;
    s.parts = (int)parts;
    return s;
}

int crn_batchnorm_choose_layout(crn_ops *ops, const char *force, crn_error *err)
{
    ops->bn.blocked = (ops->dev->type & CL_DEVICE_TYPE_CPU) != 0;
    /* force: for testing the other device kind's layout */
    if (!force || !*force) return CRN_OK;
    if (strcmp(force, "blocked") && strcmp(force, "interleaved"))
        return crn_fail(err, CRN_EINVAL, "batch-norm layout '%s': want blocked or interleaved", force);
    ops->bn.blocked = strcmp(force, "blocked") == 0;
    return CRN_OK;
}

static int launch_parts(crn_ops *ops, const crn_kernel *k, bn_split s, int c, crn_error *err)
{
    /* GPUs: CRN_WG_RUN neighbouring parts per work-group; CPUs: one per
     * group, each reading its own block */
    size_t l0 = s.blocked ? 1 : crn_kernel_wg(k, CRN_WG_RUN);
    size_t global[2] = {(size_t)s.parts, (size_t)c}, local[2] = {l0, 1};
    return crn_launch(ops->rt, k, 2, global, local, err);
}

/* One work-item per `per_item` elements of each row. */
static int launch_rows(crn_ops *ops, const crn_kernel *k, int c, size_t m, size_t per_item, crn_error *err)
{
    size_t items = (m + per_item - 1) / per_item, l0 = crn_kernel_wg(k, CRN_WG_MAX);
    size_t local[2] = {items < l0 ? items : l0, 1};
    size_t global[2] = {items, (size_t)c};
    return crn_launch(ops->rt, k, 2, global, local, err);
}

static int part_buffer(crn_ops *ops, bn_split s, int c, crn_error *err)
{
    return crn_ops_buffer(ops, &ops->bn.part, &ops->bn.part_bytes, (size_t)c * s.parts * 2 * sizeof(float), err);
}

/* ---------------------------------------------------------------- arguments */

static int set_partial_moments(const crn_kernel *k, crn_error *err, cl_mem x, cl_mem shift, int centered,
                               cl_mem part, cl_ulong m, bn_split s)
{
    crn_args a = crn_args_begin(k);
    crn_arg_mems(&a, 2, (const cl_mem[]){x, shift});
    crn_arg_int(&a, centered);
    crn_arg_mem(&a, part);
    crn_arg_ulong(&a, m);
    crn_arg_ints(&a, 2, (const int[]){s.parts, s.blocked});
    return crn_args_end(&a, err);
}

static int set_mean0(const crn_kernel *k, crn_error *err, cl_mem part, int parts, cl_ulong m, int c, cl_mem mean0)
{
    crn_args a = crn_args_begin(k);
    crn_arg_mem(&a, part);
    crn_arg_int(&a, parts);
    crn_arg_ulong(&a, m);
    crn_arg_int(&a, c);
    crn_arg_mem(&a, mean0);
    return crn_args_end(&a, err);
}

/* The statistics bn_finalize writes or updates. */
typedef struct bn_stats {
    cl_mem mean, invstd, running_mean, running_var;
} bn_stats;

static int set_finalize(const crn_kernel *k, crn_error *err, cl_mem part, int parts, cl_ulong m, int c,
                        const bn_stats *st, float eps, float momentum)
{
    crn_args a = crn_args_begin(k);
    crn_arg_mem(&a, part);
    crn_arg_int(&a, parts);
    crn_arg_ulong(&a, m);
    crn_arg_int(&a, c);
    crn_arg_mems(&a, 4, (const cl_mem[]){st->mean, st->invstd, st->running_mean, st->running_var});
    crn_arg_floats(&a, 2, (const float[]){eps, momentum});
    return crn_args_end(&a, err);
}

static int set_normalize(const crn_kernel *k, crn_error *err, const cl_mem bufs[6], cl_ulong m, int act)
{
    crn_args a = crn_args_begin(k);
    crn_arg_mems(&a, 6, bufs);
    crn_arg_ulong(&a, m);
    crn_arg_int(&a, act);
    return crn_args_end(&a, err);
}

static int set_forward_eval(const crn_kernel *k, crn_error *err, const cl_mem bufs[6], cl_ulong m, float eps,
                            int act)
{
    crn_args a = crn_args_begin(k);
    crn_arg_mems(&a, 6, bufs);
    crn_arg_ulong(&a, m);
    crn_arg_float(&a, eps);
    crn_arg_int(&a, act);
    return crn_args_end(&a, err);
}

static int set_partial_grad(const crn_kernel *k, crn_error *err, const cl_mem bufs[7], cl_ulong m, bn_split s,
                            int act)
{
    crn_args a = crn_args_begin(k);
    crn_arg_mems(&a, 7, bufs);
    crn_arg_ulong(&a, m);
    crn_arg_ints(&a, 3, (const int[]){s.parts, s.blocked, act});
    return crn_args_end(&a, err);
}

static int set_finalize_grad(const crn_kernel *k, crn_error *err, cl_mem part, int parts, int c, cl_mem dgamma,
                             cl_mem dbeta)
{
    crn_args a = crn_args_begin(k);
    crn_arg_mem(&a, part);
    crn_arg_ints(&a, 2, (const int[]){parts, c});
    crn_arg_mems(&a, 2, (const cl_mem[]){dgamma, dbeta});
    return crn_args_end(&a, err);
}

static int set_backward_dx(const crn_kernel *k, crn_error *err, const cl_mem bufs[9], cl_ulong m, int act)
{
    crn_args a = crn_args_begin(k);
    crn_arg_mems(&a, 9, bufs);
    crn_arg_ulong(&a, m);
    crn_arg_int(&a, act);
    return crn_args_end(&a, err);
}

/* The kernels' act argument: CRN_ACT_NONE for none. */
static int act_arg(const crn_bn_params *p) { return p && p->fuse_act ? (int)p->act : CRN_ACT_NONE; }

/* ---------------------------------------------------------------- the ops */

static int check_rows(crn_error *err, const char *what, int c, size_t m, const crn_tensor *x)
{
    if (c <= 0 || m == 0) return crn_fail(err, CRN_EINVAL, "%s: empty shape c=%d m=%zu", what, c, m);
    if (x->numel < (size_t)c * m)
        return crn_fail(err, CRN_EINVAL, "%s: tensor has %zu elements, needs c*m = %zu", what, x->numel,
                        (size_t)c * m);
    return CRN_OK;
}

int crn_batchnorm_forward_train(crn_ops *ops, const crn_bn_params *p, int c, size_t m, const crn_tensor *x,
                                const crn_tensor *gamma, const crn_tensor *beta, crn_tensor *running_mean,
                                crn_tensor *running_var, crn_tensor *y, crn_tensor *save_mean,
                                crn_tensor *save_invstd, crn_error *err)
{
    int rc = check_rows(err, "batchnorm forward", c, m, x);
    if (rc) return rc;
    if (m < 2)
        return crn_fail(err, CRN_EINVAL,
                        "batchnorm training needs more than 1 value per channel (m=%zu), as PyTorch", m);
    float eps = p ? p->eps : CRN_BN_EPS, mom = p ? p->momentum : CRN_BN_MOMENTUM;
    bn_split s = bn_split_for(ops, c, m);
    if ((rc = part_buffer(ops, s, c, err))) return rc;
    cl_mem part = ops->bn.part;
    const bn_stats st = {save_mean->buf, save_invstd->buf, running_mean->buf, running_var->buf};
    /* pass 1: a first mean; pass 2: deviations from it */
    if ((rc = set_partial_moments(ops->bn.partial_moments, err, x->buf, save_mean->buf, 0, part, m, s)) ||
        (rc = launch_parts(ops, ops->bn.partial_moments, s, c, err)) ||
        (rc = set_mean0(ops->bn.mean0, err, part, s.parts, m, c, save_mean->buf)) ||
        (rc = crn_launch_1d(ops->rt, ops->bn.mean0, (size_t)c, err)) ||
        (rc = set_partial_moments(ops->bn.partial_moments, err, x->buf, save_mean->buf, 1, part, m, s)) ||
        (rc = launch_parts(ops, ops->bn.partial_moments, s, c, err)) ||
        (rc = set_finalize(ops->bn.finalize, err, part, s.parts, m, c, &st, eps, mom)) ||
        (rc = crn_launch_1d(ops->rt, ops->bn.finalize, (size_t)c, err)) ||
        (rc = set_normalize(ops->bn.normalize, err,
                            (const cl_mem[]){x->buf, gamma->buf, beta->buf, save_mean->buf, save_invstd->buf, y->buf},
                            m, act_arg(p))))
        return rc;
    return launch_rows(ops, ops->bn.normalize, c, m, 8, err);
}

int crn_batchnorm_forward_eval(crn_ops *ops, const crn_bn_params *p, int c, size_t m, const crn_tensor *x,
                               const crn_tensor *gamma, const crn_tensor *beta, const crn_tensor *running_mean,
                               const crn_tensor *running_var, crn_tensor *y, crn_error *err)
{
    int rc = check_rows(err, "batchnorm eval", c, m, x);
    if (rc) return rc;
    float eps = p ? p->eps : CRN_BN_EPS;
    const cl_mem bufs[6] = {x->buf, gamma->buf, beta->buf, running_mean->buf, running_var->buf, y->buf};
    if ((rc = set_forward_eval(ops->bn.forward_eval, err, bufs, m, eps, act_arg(p)))) return rc;
    return launch_rows(ops, ops->bn.forward_eval, c, m, 1, err);
}

int crn_batchnorm_backward(crn_ops *ops, const crn_bn_params *p, int c, size_t m, const crn_tensor *x,
                           const crn_tensor *dy, const crn_tensor *gamma, const crn_tensor *beta,
                           const crn_tensor *save_mean, const crn_tensor *save_invstd, crn_tensor *dx,
                           crn_tensor *dgamma, crn_tensor *dbeta, crn_error *err)
{
    int rc = check_rows(err, "batchnorm backward", c, m, x);
    if (rc) return rc;
    bn_split s = bn_split_for(ops, c, m);
    if ((rc = part_buffer(ops, s, c, err))) return rc;
    cl_mem part = ops->bn.part;
    const int act = act_arg(p);
    const cl_mem pg[7] = {x->buf, dy->buf, gamma->buf, beta->buf, save_mean->buf, save_invstd->buf, part};
    const cl_mem dxb[9] = {x->buf,           dy->buf,     gamma->buf, beta->buf, save_mean->buf,
                           save_invstd->buf, dgamma->buf, dbeta->buf, dx->buf};
    if ((rc = set_partial_grad(ops->bn.partial_grad, err, pg, m, s, act)) ||
        (rc = launch_parts(ops, ops->bn.partial_grad, s, c, err)) ||
        (rc = set_finalize_grad(ops->bn.finalize_grad, err, part, s.parts, c, dgamma->buf, dbeta->buf)) ||
        (rc = crn_launch_1d(ops->rt, ops->bn.finalize_grad, (size_t)c, err)) ||
        (rc = set_backward_dx(ops->bn.backward_dx, err, dxb, m, act)))
        return rc;
    return launch_rows(ops, ops->bn.backward_dx, c, m, 8, err);
}
