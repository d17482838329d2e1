/* Softmax cross-entropy (cl/loss.cl): per-sample losses on the device, the
 * batch mean on the host in double, in order. */
#include "clresnet/ops/loss.h"

#include "ops_impl.h"

static int set_softmax_xent(const crn_kernel *k, crn_error *err, cl_mem logits, cl_mem labels, cl_mem stats,
                            cl_mem dlogits, int classes, int n, int want_grad)
{
    crn_args a = crn_args_begin(k);
    crn_arg_mems(&a, 4, (const cl_mem[]){logits, labels, stats, dlogits});
    crn_arg_ints(&a, 3, (const int[]){classes, n, want_grad});
    return crn_args_end(&a, err);
}

int crn_softmax_xent(crn_ops *ops, int k, int n, const crn_tensor *logits, const crn_tensor *labels,
                     crn_tensor *stats, crn_tensor *dlogits, crn_error *err)
{
    if (k <= 0 || n <= 0) return crn_fail(err, CRN_EINVAL, "softmax cross-entropy: bad shape k=%d n=%d", k, n);
    if (labels->dtype != CRN_I32) return crn_fail(err, CRN_EINVAL, "softmax cross-entropy: labels must be CRN_I32");
    if (stats->numel < 2 * (size_t)n)
        return crn_fail(err, CRN_EINVAL, "softmax cross-entropy: stats holds %zu floats, needs 2n = %d", stats->numel,
                        2 * n);
    /* Without a gradient, the stats buffer stands in for the unused
     * argument (the kernel never writes it). */
    cl_mem dl = dlogits ? dlogits->buf : stats->buf;
    int rc = set_softmax_xent(ops->loss.softmax_xent, err, logits->buf, labels->buf, stats->buf, dl, k, n,
                              dlogits != NULL);
    return rc ? rc : crn_launch_1d(ops->rt, ops->loss.softmax_xent, (size_t)n, err);
}

double crn_loss_mean(const float *losses, int n)
{
    if (n <= 0) return 0.0;
    double s = 0.0;
    for (int i = 0; i < n; i++) s += (double)losses[i];
    return s / n;
}
