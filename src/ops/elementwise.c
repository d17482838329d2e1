/* Whole-buffer elementwise operations: fill and axpby (cl/common.cl), the
 * residual add and the NCHW -> CNHW input conversion (cl/elementwise.cl). */
#include "clresnet/ops/elementwise.h"

#include <limits.h>

#include "ops_impl.h"

static int set_fill(const crn_kernel *k, crn_error *err, cl_mem x, float value, int n)
{
    crn_args a = crn_args_begin(k);
    crn_arg_mem(&a, x);
    crn_arg_float(&a, value);
    crn_arg_int(&a, n);
    return crn_args_end(&a, err);
}

static int set_axpby(const crn_kernel *k, crn_error *err, cl_mem x, cl_mem y, float alpha, float beta, int n)
{
    crn_args a = crn_args_begin(k);
    crn_arg_mems(&a, 2, (const cl_mem[]){x, y});
    crn_arg_floats(&a, 2, (const float[]){alpha, beta});
    crn_arg_int(&a, n);
    return crn_args_end(&a, err);
}

static int set_add(const crn_kernel *k, crn_error *err, cl_mem x, cl_mem y, cl_mem out, int n)
{
    crn_args a = crn_args_begin(k);
    crn_arg_mems(&a, 3, (const cl_mem[]){x, y, out});
    crn_arg_int(&a, n);
    return crn_args_end(&a, err);
}

static int set_nchw_to_cnhw(const crn_kernel *k, crn_error *err, cl_mem x, cl_mem y, int n, int c, int hw)
{
    crn_args a = crn_args_begin(k);
    crn_arg_mems(&a, 2, (const cl_mem[]){x, y});
    crn_arg_ints(&a, 3, (const int[]){n, c, hw});
    return crn_args_end(&a, err);
}

static int too_big(crn_error *err, const char *what, size_t n)
{
    return crn_fail(err, CRN_EINVAL, "%s over %zu elements: more than INT_MAX", what, n);
}

int crn_fill(crn_ops *ops, crn_tensor *x, float value, size_t n, crn_error *err)
{
    if (n > INT_MAX) return too_big(err, "fill", n);
    int rc = set_fill(ops->ew.fill, err, x->buf, value, (int)n);
    return rc ? rc : crn_launch_1d(ops->rt, ops->ew.fill, n, err);
}

int crn_axpby(crn_ops *ops, size_t n, float a, const crn_tensor *x, float b, crn_tensor *y, crn_error *err)
{
    if (n > INT_MAX) return too_big(err, "axpby", n);
    int rc = set_axpby(ops->ew.axpby, err, x->buf, y->buf, a, b, (int)n);
    return rc ? rc : crn_launch_1d(ops->rt, ops->ew.axpby, (n + 7) / 8, err);
}

int crn_add(crn_ops *ops, size_t n, const crn_tensor *a, const crn_tensor *b, crn_tensor *y, crn_error *err)
{
    if (n > INT_MAX) return too_big(err, "add", n);
    int rc = set_add(ops->ew.add, err, a->buf, b->buf, y->buf, (int)n);
    return rc ? rc : crn_launch_1d(ops->rt, ops->ew.add, (n + 7) / 8, err);
}

int crn_nchw_to_cnhw(crn_ops *ops, int n, int c, int hw, const crn_tensor *x, crn_tensor *y, crn_error *err)
{
    if (n <= 0 || c <= 0 || hw <= 0 || (size_t)n * c > INT_MAX)
        return crn_fail(err, CRN_EINVAL, "nchw_to_cnhw: bad shape n=%d c=%d hw=%d", n, c, hw);
    const crn_kernel *k = ops->ew.nchw_to_cnhw;
    int rc = set_nchw_to_cnhw(k, err, x->buf, y->buf, n, c, hw);
    if (rc) return rc;
    size_t global[2] = {(size_t)hw, (size_t)n * c};
    size_t local[2] = {crn_kernel_wg(k, CRN_WG_RUN), 1};
    return crn_launch(ops->rt, k, 2, global, local, err);
}
