/* Max pooling and global average pooling (cl/pool.cl). argmax holds, per
 * output, the in-plane offset ih * w + iw of the first maximum (PyTorch's
 * return_indices convention), so backward is a deterministic gather. */
#include "clresnet/ops/pool.h"

#include <limits.h>
#include <stdbool.h>

#include "ops_impl.h"

/* The maxpool kernels all take the same arguments: (in, out,
 * argmax or its gradient partner, then the geometry). */
static int set_maxpool(const crn_kernel *k, crn_error *err, cl_mem a0, cl_mem a1, cl_mem a2, int planes, int h, int w,
                       int ho, int wo, int ksize, int stride, int pad)
{
    crn_args a = crn_args_begin(k);
    crn_arg_mems(&a, 3, (const cl_mem[]){a0, a1, a2});
    crn_arg_ints(&a, 8, (const int[]){planes, h, w, ho, wo, ksize, stride, pad});
    return crn_args_end(&a, err);
}

/* avgpool_global_forward and _backward: (in, out, rows, hw). */
static int set_gap(const crn_kernel *k, crn_error *err, cl_mem in, cl_mem out, int rows, int hw)
{
    crn_args a = crn_args_begin(k);
    crn_arg_mems(&a, 2, (const cl_mem[]){in, out});
    crn_arg_ints(&a, 2, (const int[]){rows, hw});
    return crn_args_end(&a, err);
}

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

static size_t pick_local0(const crn_kernel *k, size_t extent)
{
    size_t l = 1, cap = crn_kernel_wg(k, CRN_WG_RUN);
    while (l * 2 <= extent && l * 2 <= cap) l *= 2;
    return l;
}

/* The baseline's pools, which have kernels of their own. */
static bool is_2x2(int k, int stride, int pad) { return k == 2 && stride == 2 && pad == 0; }

int crn_maxpool_forward(crn_ops *ops, int c, int n, int h, int w, int k, int stride, int pad,
                        const crn_tensor *x, crn_tensor *y, crn_tensor *argmax, crn_error *err)
{
    int ho = 0, wo = 0, rc = pool_shape(err, c, n, h, w, k, stride, pad, &ho, &wo);
    if (rc) return rc;
    if (argmax->dtype != CRN_I32) return crn_fail(err, CRN_EINVAL, "maxpool: argmax must be CRN_I32");
    bool two = is_2x2(k, stride, pad);
    const crn_kernel *e = two ? ops->pool.max2x2_forward : ops->pool.max_forward;
    int planes = c * n;
    rc = set_maxpool(e, err, x->buf, y->buf, argmax->buf, planes, h, w, ho, wo, k, stride, pad);
    if (rc) return rc;
    size_t cols = two ? (size_t)(wo + 7) / 8 : (size_t)wo; /* 2x2: eight outputs an item */
    size_t global[3] = {cols, (size_t)ho, (size_t)planes};
    size_t local[3] = {pick_local0(e, cols), 1, 1};
    return crn_launch(ops->rt, e, 3, global, local, err);
}

int crn_maxpool_backward(crn_ops *ops, int c, int n, int h, int w, int k, int stride, int pad,
                         const crn_tensor *dy, const crn_tensor *argmax, crn_tensor *dx, crn_error *err)
{
    int ho = 0, wo = 0, rc = pool_shape(err, c, n, h, w, k, stride, pad, &ho, &wo);
    if (rc) return rc;
    bool two = is_2x2(k, stride, pad);
    const crn_kernel *e = two ? ops->pool.max2x2_backward : ops->pool.max_backward;
    int planes = c * n;
    rc = set_maxpool(e, err, dy->buf, argmax->buf, dx->buf, planes, h, w, ho, wo, k, stride, pad);
    if (rc) return rc;
    /* 2x2: an item writes a 2 x 16 block */
    size_t cols = two ? (size_t)(w + 15) / 16 : (size_t)w, rows = two ? (size_t)(h + 1) / 2 : (size_t)h;
    size_t global[3] = {cols, rows, (size_t)planes};
    size_t local[3] = {pick_local0(e, cols), 1, 1};
    return crn_launch(ops->rt, e, 3, global, local, err);
}

int crn_avgpool_global_forward(crn_ops *ops, int c, int n, int hw, const crn_tensor *x, crn_tensor *y,
                               crn_error *err)
{
    if (c <= 0 || n <= 0 || hw <= 0 || (size_t)c * n > INT_MAX)
        return crn_fail(err, CRN_EINVAL, "global avgpool: bad shape c=%d n=%d hw=%d", c, n, hw);
    const crn_kernel *e = ops->pool.gap_forward;
    int rows = c * n;
    int rc = set_gap(e, err, x->buf, y->buf, rows, hw);
    return rc ? rc : crn_launch_1d(ops->rt, e, (size_t)rows, err);
}

int crn_avgpool_global_backward(crn_ops *ops, int c, int n, int hw, const crn_tensor *dy, crn_tensor *dx,
                                crn_error *err)
{
    if (c <= 0 || n <= 0 || hw <= 0 || (size_t)c * n > INT_MAX)
        return crn_fail(err, CRN_EINVAL, "global avgpool backward: bad shape c=%d n=%d hw=%d", c, n, hw);
    const crn_kernel *e = ops->pool.gap_backward;
    int rows = c * n;
    int rc = set_gap(e, err, dy->buf, dx->buf, rows, hw);
    if (rc) return rc;
    size_t global[2] = {(size_t)hw, (size_t)rows};
    size_t local[2] = {pick_local0(e, (size_t)hw), 1};
    return crn_launch(ops->rt, e, 2, global, local, err);
}
