/* BatchNorm2d (cl/batchnorm.cl): one work-group per channel, fixed-order
 * reductions, so results are bit-identical from run to run on one device. */
#include "clresnet/ops/batchnorm.h"

/* The reduction work-group size: a power of two that the kernel, the device
 * and its local memory (two floats per item) allow, at most 256, and no
 * larger than the row needs. */
static size_t bn_group_size(const crn_runtime *rt, const crn_kernel_entry *k, size_t m)
{
    size_t cap = k->max_wg;
    if (rt->dev.max_work_group > 0 && rt->dev.max_work_group < cap) cap = rt->dev.max_work_group;
    if (rt->dev.local_mem > 0 && rt->dev.local_mem / 2 / sizeof(float) < cap)
        cap = (size_t)(rt->dev.local_mem / 2 / sizeof(float));
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

int crn_batchnorm_forward_train(crn_runtime *rt, const crn_bn_params *p, int c, size_t m, const crn_tensor *x,
                                const crn_tensor *gamma, const crn_tensor *beta, crn_tensor *running_mean,
                                crn_tensor *running_var, crn_tensor *y, crn_tensor *save_mean,
                                crn_tensor *save_invstd, crn_error *err)
{
    int rc = check_rows(err, "batchnorm forward", c, m, x);
    if (rc) return rc;
    if (m < 2)
        return crn_fail(err, CRN_EINVAL,
                        "batchnorm training needs more than 1 value per channel (m=%zu), as PyTorch", m);
    crn_kernel_entry *k;
    if ((rc = crn_kernel_get(rt, "bn_forward_train", &k, err))) return rc;
    size_t l = bn_group_size(rt, k, m);
    cl_ulong mm = m;
    float eps = p ? p->eps : 1e-5f, mom = p ? p->momentum : 0.1f;
    rc = crn_kernel_args(k->kernel, err, 12, sizeof(cl_mem), &x->buf, sizeof(cl_mem), &gamma->buf, sizeof(cl_mem),
                         &beta->buf, sizeof(cl_mem), &running_mean->buf, sizeof(cl_mem), &running_var->buf,
                         sizeof(cl_mem), &y->buf, sizeof(cl_mem), &save_mean->buf, sizeof(cl_mem),
                         &save_invstd->buf, sizeof(cl_ulong), &mm, sizeof(float), &eps, sizeof(float), &mom,
                         2 * l * sizeof(float), NULL);
    if (rc) return rc;
    size_t global = (size_t)c * l;
    return crn_launch(rt, k, 1, &global, &l, err);
}

int crn_batchnorm_forward_eval(crn_runtime *rt, const crn_bn_params *p, int c, size_t m, const crn_tensor *x,
                               const crn_tensor *gamma, const crn_tensor *beta, const crn_tensor *running_mean,
                               const crn_tensor *running_var, crn_tensor *y, crn_error *err)
{
    int rc = check_rows(err, "batchnorm eval", c, m, x);
    if (rc) return rc;
    crn_kernel_entry *k;
    if ((rc = crn_kernel_get(rt, "bn_forward_eval", &k, err))) return rc;
    cl_ulong mm = m;
    float eps = p ? p->eps : 1e-5f;
    rc = crn_kernel_args(k->kernel, err, 8, sizeof(cl_mem), &x->buf, sizeof(cl_mem), &gamma->buf, sizeof(cl_mem),
                         &beta->buf, sizeof(cl_mem), &running_mean->buf, sizeof(cl_mem), &running_var->buf,
                         sizeof(cl_mem), &y->buf, sizeof(cl_ulong), &mm, sizeof(float), &eps);
    if (rc) return rc;
    size_t local[2] = {k->max_wg < 256 ? k->max_wg : 256, 1};
    size_t global[2] = {m, (size_t)c};
    return crn_launch(rt, k, 2, global, local, err);
}

int crn_batchnorm_backward(crn_runtime *rt, int c, size_t m, const crn_tensor *x, const crn_tensor *dy,
                           const crn_tensor *gamma, const crn_tensor *save_mean, const crn_tensor *save_invstd,
                           crn_tensor *dx, crn_tensor *dgamma, crn_tensor *dbeta, crn_error *err)
{
    int rc = check_rows(err, "batchnorm backward", c, m, x);
    if (rc) return rc;
    crn_kernel_entry *k;
    if ((rc = crn_kernel_get(rt, "bn_backward", &k, err))) return rc;
    size_t l = bn_group_size(rt, k, m);
    cl_ulong mm = m;
    rc = crn_kernel_args(k->kernel, err, 10, sizeof(cl_mem), &x->buf, sizeof(cl_mem), &dy->buf, sizeof(cl_mem),
                         &gamma->buf, sizeof(cl_mem), &save_mean->buf, sizeof(cl_mem), &save_invstd->buf,
                         sizeof(cl_mem), &dx->buf, sizeof(cl_mem), &dgamma->buf, sizeof(cl_mem), &dbeta->buf,
                         sizeof(cl_ulong), &mm, 2 * l * sizeof(float), NULL);
    if (rc) return rc;
    size_t global = (size_t)c * l;
    return crn_launch(rt, k, 1, &global, &l, err);
}
