/* Softmax cross-entropy (cl/loss.cl): per-sample losses on the device, the
 * batch mean on the host in double, in order. */
#include "clresnet/ops/loss.h"

int crn_softmax_xent(crn_runtime *rt, int k, int n, const crn_tensor *logits, const crn_tensor *labels,
                     crn_tensor *losses, crn_tensor *dlogits, crn_error *err)
{
    if (k <= 0 || n <= 0) return crn_fail(err, CRN_EINVAL, "softmax cross-entropy: bad shape k=%d n=%d", k, n);
    if (labels->dtype != CRN_I32) return crn_fail(err, CRN_EINVAL, "softmax cross-entropy: labels must be CRN_I32");
    crn_kernel_entry *e;
    int rc = crn_kernel_get(rt, "softmax_xent", &e, err);
    if (rc) return rc;
    int want = dlogits != NULL;
    /* Without a gradient, the losses buffer stands in for the unused
     * argument (the kernel never writes it). */
    cl_mem dl = want ? dlogits->buf : losses->buf;
    rc = crn_kernel_args(e->kernel, err, 7, sizeof(cl_mem), &logits->buf, sizeof(cl_mem), &labels->buf,
                         sizeof(cl_mem), &losses->buf, sizeof(cl_mem), &dl, sizeof(int), &k, sizeof(int), &n,
                         sizeof(int), &want);
    return rc ? rc : crn_launch_1d(rt, e, (size_t)n, err);
}

double crn_loss_mean(const float *losses, int n)
{
    if (n <= 0) return 0.0;
    double s = 0.0;
    for (int i = 0; i < n; i++) s += (double)losses[i];
    return s / n;
}
