/* Whole-buffer elementwise operations: fill and axpby (cl/common.cl), the
 * residual add and the NCHW -> CNHW input conversion (cl/elementwise.cl). */
#include "clresnet/ops/elementwise.h"

#include <limits.h>

static int too_big(crn_error *err, const char *what, size_t n)
{
    return crn_fail(err, CRN_EINVAL, "%s over %zu elements: more than INT_MAX", what, n);
}

int crn_fill(crn_runtime *rt, crn_tensor *x, float value, size_t n, crn_error *err)
{
    if (n > INT_MAX) return too_big(err, "fill", n);
    crn_kernel_entry *e;
    int rc = crn_kernel_get(rt, "fill_f32", &e, err);
    if (rc) return rc;
    int nn = (int)n;
    rc = crn_kernel_args(e->kernel, err, 3, sizeof(cl_mem), &x->buf, sizeof(float), &value, sizeof(int), &nn);
    return rc ? rc : crn_launch_1d(rt, e, n, err);
}

int crn_axpby(crn_runtime *rt, size_t n, float a, const crn_tensor *x, float b, crn_tensor *y, crn_error *err)
{
    if (n > INT_MAX) return too_big(err, "axpby", n);
    crn_kernel_entry *e;
    int rc = crn_kernel_get(rt, "axpby_f32", &e, err);
    if (rc) return rc;
    int nn = (int)n;
    rc = crn_kernel_args(e->kernel, err, 5, sizeof(cl_mem), &x->buf, sizeof(cl_mem), &y->buf, sizeof(float), &a,
                         sizeof(float), &b, sizeof(int), &nn);
    return rc ? rc : crn_launch_1d(rt, e, n, err);
}

int crn_add(crn_runtime *rt, size_t n, const crn_tensor *a, const crn_tensor *b, crn_tensor *y, crn_error *err)
{
    if (n > INT_MAX) return too_big(err, "add", n);
    crn_kernel_entry *e;
    int rc = crn_kernel_get(rt, "add_f32", &e, err);
    if (rc) return rc;
    int nn = (int)n;
    rc = crn_kernel_args(e->kernel, err, 4, sizeof(cl_mem), &a->buf, sizeof(cl_mem), &b->buf, sizeof(cl_mem), &y->buf,
                         sizeof(int), &nn);
    return rc ? rc : crn_launch_1d(rt, e, n, err);
}

int crn_nchw_to_cnhw(crn_runtime *rt, int n, int c, int hw, const crn_tensor *x, crn_tensor *y, crn_error *err)
{
    if (n <= 0 || c <= 0 || hw <= 0 || (size_t)n * c > INT_MAX)
        return crn_fail(err, CRN_EINVAL, "nchw_to_cnhw: bad shape n=%d c=%d hw=%d", n, c, hw);
    crn_kernel_entry *e;
    int rc = crn_kernel_get(rt, "nchw_to_cnhw", &e, err);
    if (rc) return rc;
    rc = crn_kernel_args(e->kernel, err, 5, sizeof(cl_mem), &x->buf, sizeof(cl_mem), &y->buf, sizeof(int), &n,
                         sizeof(int), &c, sizeof(int), &hw);
    if (rc) return rc;
    size_t global[2] = {(size_t)hw, (size_t)n * c};
    size_t local[2] = {e->max_wg < 64 ? e->max_wg : 64, 1};
    return crn_launch(rt, e, 2, global, local, err);
}
