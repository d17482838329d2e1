/* Max pooling and global average pooling (cl/pool.cl). argmax holds, per
 * output, the in-plane offset ih * w + iw of the first maximum (PyTorch's
 * return_indices convention), so backward is a deterministic gather. */
#include "clresnet/ops/pool.h"

#include <limits.h>

static int pool_shape(crn_error *err, int c, int n, int h, int w, int k, int stride, int pad, int *ho, int *wo)
{
    if (c <= 0 || n <= 0 || h <= 0 || w <= 0 || k <= 0 || stride <= 0 || pad < 0)
        return crn_fail(err, CRN_EINVAL, "maxpool: bad shape c=%d n=%d h=%d w=%d k=%d stride=%d pad=%d", c, n, h, w,
                        k, stride, pad);
    if (2 * pad > k) return crn_fail(err, CRN_EINVAL, "maxpool: pad %d must be at most half of kernel %d", pad, k);
    if (h + 2 * pad < k || w + 2 * pad < k)
        return crn_fail(err, CRN_EINVAL, "maxpool: %dx%d input (pad %d) smaller than kernel %d", h, w, pad, k);
    *ho = (h + 2 * pad - k) / stride + 1;
    *wo = (w + 2 * pad - k) / stride + 1;
    if ((size_t)c * n > INT_MAX) return crn_fail(err, CRN_EINVAL, "maxpool: too many planes");
    return CRN_OK;
}

static size_t pick_local0(const crn_kernel_entry *k, size_t extent)
{
    size_t l = 1;
    while (l * 2 <= extent && l * 2 <= k->max_wg && l < 64) l *= 2;
    return l;
}

int crn_maxpool_forward(crn_runtime *rt, int c, int n, int h, int w, int k, int stride, int pad,
                        const crn_tensor *x, crn_tensor *y, crn_tensor *argmax, crn_error *err)
{
    int ho, wo, rc = pool_shape(err, c, n, h, w, k, stride, pad, &ho, &wo);
    if (rc) return rc;
    if (argmax->dtype != CRN_I32) return crn_fail(err, CRN_EINVAL, "maxpool: argmax must be CRN_I32");
    crn_kernel_entry *e;
    if ((rc = crn_kernel_get(rt, "maxpool_forward", &e, err))) return rc;
    int planes = c * n;
    rc = crn_kernel_args(e->kernel, err, 11, sizeof(cl_mem), &x->buf, sizeof(cl_mem), &y->buf, sizeof(cl_mem),
                         &argmax->buf, sizeof(int), &planes, sizeof(int), &h, sizeof(int), &w, sizeof(int), &ho,
                         sizeof(int), &wo, sizeof(int), &k, sizeof(int), &stride, sizeof(int), &pad);
    if (rc) return rc;
    size_t global[3] = {(size_t)wo, (size_t)ho, (size_t)planes};
    size_t local[3] = {pick_local0(e, (size_t)wo), 1, 1};
    return crn_launch(rt, e, 3, global, local, err);
}

int crn_maxpool_backward(crn_runtime *rt, int c, int n, int h, int w, int k, int stride, int pad,
                         const crn_tensor *dy, const crn_tensor *argmax, crn_tensor *dx, crn_error *err)
{
    int ho, wo, rc = pool_shape(err, c, n, h, w, k, stride, pad, &ho, &wo);
    if (rc) return rc;
    crn_kernel_entry *e;
    if ((rc = crn_kernel_get(rt, "maxpool_backward", &e, err))) return rc;
    int planes = c * n;
    rc = crn_kernel_args(e->kernel, err, 11, sizeof(cl_mem), &dy->buf, sizeof(cl_mem), &argmax->buf, sizeof(cl_mem),
                         &dx->buf, sizeof(int), &planes, sizeof(int), &h, sizeof(int), &w, sizeof(int), &ho,
                         sizeof(int), &wo, sizeof(int), &k, sizeof(int), &stride, sizeof(int), &pad);
    if (rc) return rc;
    size_t global[3] = {(size_t)w, (size_t)h, (size_t)planes};
    size_t local[3] = {pick_local0(e, (size_t)w), 1, 1};
    return crn_launch(rt, e, 3, global, local, err);
}

int crn_avgpool_global_forward(crn_runtime *rt, int c, int n, int hw, const crn_tensor *x, crn_tensor *y,
                               crn_error *err)
{
    if (c <= 0 || n <= 0 || hw <= 0 || (size_t)c * n > INT_MAX)
        return crn_fail(err, CRN_EINVAL, "global avgpool: bad shape c=%d n=%d hw=%d", c, n, hw);
    crn_kernel_entry *e;
    int rc = crn_kernel_get(rt, "avgpool_global_forward", &e, err);
    if (rc) return rc;
    int rows = c * n;
    rc = crn_kernel_args(e->kernel, err, 4, sizeof(cl_mem), &x->buf, sizeof(cl_mem), &y->buf, sizeof(int), &rows,
                         sizeof(int), &hw);
    return rc ? rc : crn_launch_1d(rt, e, (size_t)rows, err);
}

int crn_avgpool_global_backward(crn_runtime *rt, int c, int n, int hw, const crn_tensor *dy, crn_tensor *dx,
                                crn_error *err)
{
    if (c <= 0 || n <= 0 || hw <= 0 || (size_t)c * n > INT_MAX)
        return crn_fail(err, CRN_EINVAL, "global avgpool backward: bad shape c=%d n=%d hw=%d", c, n, hw);
    crn_kernel_entry *e;
    int rc = crn_kernel_get(rt, "avgpool_global_backward", &e, err);
    if (rc) return rc;
    int rows = c * n;
    rc = crn_kernel_args(e->kernel, err, 4, sizeof(cl_mem), &dy->buf, sizeof(cl_mem), &dx->buf, sizeof(int), &rows,
                         sizeof(int), &hw);
    if (rc) return rc;
    size_t global[2] = {(size_t)hw, (size_t)rows};
    size_t local[2] = {pick_local0(e, (size_t)hw), 1};
    return crn_launch(rt, e, 2, global, local, err);
}
