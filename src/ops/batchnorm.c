/* BatchNorm2d (cl/batchnorm.cl): one work-group per channel, fixed-order
 * reductions, so results are bit-identical from run to run on one device. */
#include "clresnet/ops/batchnorm.h"

#include "ops_impl.h"

/* The buffers both forward kernels take first, in this order. */
typedef struct bn_bufs {
    cl_mem x, gamma, beta, running_mean, running_var, y;
} bn_bufs;

static void arg_bn_bufs(crn_args *a, const bn_bufs *b)
{
    crn_arg_mems(a, 6, (const cl_mem[]){b->x, b->gamma, b->beta, b->running_mean, b->running_var, b->y});
}

static int set_bn_forward_train(const crn_kernel *k, crn_error *err, const bn_bufs *b, cl_mem save_mean,
                                cl_mem save_invstd, cl_ulong m, float eps, float momentum, size_t scratch_bytes)
{
    crn_args a = crn_args_begin(k);
    arg_bn_bufs(&a, b);
    crn_arg_mems(&a, 2, (const cl_mem[]){save_mean, save_invstd});
    crn_arg_ulong(&a, m);
    crn_arg_floats(&a, 2, (const float[]){eps, momentum});
    crn_arg_local(&a, scratch_bytes);
    return crn_args_end(&a, err);
}

static int set_bn_forward_eval(const crn_kernel *k, crn_error *err, const bn_bufs *b, cl_ulong m, float eps)
{
    crn_args a = crn_args_begin(k);
    arg_bn_bufs(&a, b);
    crn_arg_ulong(&a, m);
    crn_arg_float(&a, eps);
    return crn_args_end(&a, err);
}

static int set_bn_backward(const crn_kernel *k, crn_error *err, cl_mem x, cl_mem dy, cl_mem gamma, cl_mem save_mean,
                           cl_mem save_invstd, cl_mem dx, cl_mem dgamma, cl_mem dbeta, cl_ulong m, size_t scratch_bytes)
{
    crn_args a = crn_args_begin(k);
    crn_arg_mems(&a, 8, (const cl_mem[]){x, dy, gamma, save_mean, save_invstd, dx, dgamma, dbeta});
    crn_arg_ulong(&a, m);
    crn_arg_local(&a, scratch_bytes);
    return crn_args_end(&a, err);
}

/* The reduction work-group size: a power of two that the kernel, the device
 * and its local memory (two floats per item) allow, at most 256, and no
 * larger than the row needs. */
static size_t bn_group_size(const crn_device_info *dev, const crn_kernel *k, size_t m)
{
    size_t cap = k->max_wg;
    if (dev->max_work_group > 0 && dev->max_work_group < cap) cap = dev->max_work_group;
    if (dev->local_mem > 0 && dev->local_mem / 2 / sizeof(float) < cap)
        cap = (size_t)(dev->local_mem / 2 / sizeof(float));
    if (cap > 256) cap = 256;
    size_t l = 1;
    while (l * 2 <= cap && l < m) l *= 2;
    return l;
}

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
    const crn_kernel *k = ops->bn.forward_train;
    size_t l = bn_group_size(ops->dev, k, m);
    float eps = p ? p->eps : 1e-5f, mom = p ? p->momentum : 0.1f;
    bn_bufs b = {x->buf, gamma->buf, beta->buf, running_mean->buf, running_var->buf, y->buf};
    rc = set_bn_forward_train(k, err, &b, save_mean->buf, save_invstd->buf, m, eps, mom, 2 * l * sizeof(float));
    if (rc) return rc;
    size_t global = (size_t)c * l;
    return crn_launch(ops->rt, k, 1, &global, &l, err);
}

int crn_batchnorm_forward_eval(crn_ops *ops, const crn_bn_params *p, int c, size_t m, const crn_tensor *x,
                               const crn_tensor *gamma, const crn_tensor *beta, const crn_tensor *running_mean,
                               const crn_tensor *running_var, crn_tensor *y, crn_error *err)
{
    int rc = check_rows(err, "batchnorm eval", c, m, x);
    if (rc) return rc;
    const crn_kernel *k = ops->bn.forward_eval;
    float eps = p ? p->eps : 1e-5f;
    bn_bufs b = {x->buf, gamma->buf, beta->buf, running_mean->buf, running_var->buf, y->buf};
    rc = set_bn_forward_eval(k, err, &b, m, eps);
    if (rc) return rc;
    size_t local[2] = {k->max_wg < 256 ? k->max_wg : 256, 1};
    size_t global[2] = {m, (size_t)c};
    return crn_launch(ops->rt, k, 2, global, local, err);
}

int crn_batchnorm_backward(crn_ops *ops, int c, size_t m, const crn_tensor *x, const crn_tensor *dy,
                           const crn_tensor *gamma, const crn_tensor *save_mean, const crn_tensor *save_invstd,
                           crn_tensor *dx, crn_tensor *dgamma, crn_tensor *dbeta, crn_error *err)
{
    int rc = check_rows(err, "batchnorm backward", c, m, x);
    if (rc) return rc;
    const crn_kernel *k = ops->bn.backward;
    size_t l = bn_group_size(ops->dev, k, m);
    rc = set_bn_backward(k, err, x->buf, dy->buf, gamma->buf, save_mean->buf, save_invstd->buf, dx->buf, dgamma->buf,
                         dbeta->buf, m, 2 * l * sizeof(float));
    if (rc) return rc;
    size_t global = (size_t)c * l;
    return crn_launch(ops->rt, k, 1, &global, &l, err);
}
