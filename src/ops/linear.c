/* Fully connected layer on channel-major features: y [out, n] = W [out, in] *
 * x [in, n] + b, as one CLBlast SGEMM and the bias kernel of cl/conv.cl. */
#include "clresnet/ops/linear.h"

#include <limits.h>

#include "clresnet/ops/conv.h"
#include "clresnet/ops/gemm.h"

static int check(const crn_tensor *t, size_t want, const char *what, crn_error *err)
{
    if (!t || !t->buf) return crn_fail(err, CRN_EINVAL, "linear: %s is missing", what);
    if (t->numel != want)
        return crn_fail(err, CRN_EINVAL, "linear: %s has %zu elements, the layer needs %zu", what, t->numel, want);
    if (want >= (size_t)INT_MAX)
        return crn_fail(err, CRN_EINVAL, "linear: %s has %zu elements, more than this engine indexes (2^31)", what,
                        want);
    return CRN_OK;
}

static int check_dims(int in, int out, int n, crn_error *err)
{
    if (in <= 0 || out <= 0 || n <= 0)
        return crn_fail(err, CRN_EINVAL, "linear: invalid shape (in %d, out %d, batch %d)", in, out, n);
    return CRN_OK;
}

int crn_linear_forward(crn_ops *ops, int in, int out, int n, const crn_tensor *x, const crn_tensor *weight,
                       const crn_tensor *bias, crn_tensor *y, crn_error *err)
{
    int rc;
    if ((rc = check_dims(in, out, n, err))) return rc;
    if ((rc = check(x, (size_t)in * n, "x", err))) return rc;
    if ((rc = check(weight, (size_t)out * in, "weight", err))) return rc;
    if ((rc = check(y, (size_t)out * n, "y", err))) return rc;
    if (bias && (rc = check(bias, (size_t)out, "bias", err))) return rc;
    rc = crn_sgemm(ops, false, false, out, n, in, 1.0f, weight->buf, 0, in, x->buf, 0, n, 0.0f, y->buf, 0, n, err);
    if (rc == CRN_OK && bias) rc = crn_bias_add_rows(ops, y->buf, bias->buf, out, n, err);
    return rc;
}

int crn_linear_backward(crn_ops *ops, int in, int out, int n, const crn_tensor *x, const crn_tensor *weight,
                        const crn_tensor *dy, crn_tensor *dx, crn_tensor *dweight, crn_tensor *dbias,
                        crn_error *err)
{
    int rc;
    if ((rc = check_dims(in, out, n, err))) return rc;
    if ((rc = check(x, (size_t)in * n, "x", err))) return rc;
    if ((rc = check(weight, (size_t)out * in, "weight", err))) return rc;
    if ((rc = check(dy, (size_t)out * n, "dy", err))) return rc;
    if ((rc = check(dweight, (size_t)out * in, "dweight", err))) return rc;
    if (dx && (rc = check(dx, (size_t)in * n, "dx", err))) return rc;
    if (dbias && (rc = check(dbias, (size_t)out, "dbias", err))) return rc;
    /* dx [in, n] = W^T dy */
    if (dx) rc = crn_sgemm(ops, true, false, in, n, out, 1.0f, weight->buf, 0, in, dy->buf, 0, n, 0.0f, dx->buf, 0, n, err);
    /* dW [out, in] = dy x^T */
    if (rc == CRN_OK)
        rc = crn_sgemm(ops, false, true, out, in, n, 1.0f, dy->buf, 0, n, x->buf, 0, n, 0.0f, dweight->buf, 0, in, err);
    /* db [out] = row sums of dy, fixed order */
    if (rc == CRN_OK && dbias) rc = crn_row_sum(ops, dy->buf, dbias->buf, out, n, err);
    return rc;
}
