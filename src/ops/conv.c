/* 2-D convolution on channel-major activations (docs/layout.md) as GEMMs
 * (crn_gemm picks the backend per shape): 1x1 stride-1 pad-0 convolutions
 * are straight GEMMs on x. Where the packed GEMM (cl/gemm_packed.cl) runs
 * the shape, it gathers the columns itself (implicit im2col: forward and
 * weight gradient over the whole batch, and a stride-1 dx as the forward
 * convolution of dy with the turned-around weights). Otherwise (CLBlast,
 * GPUs) im2col of a chunk of images (cl/conv.cl) + one GEMM per chunk, and
 * col2im for dx. The batch is one chunk unless the column buffer would
 * exceed the device's max allocation (or the cap below), in which case it
 * is split into chunks of whole images: the columns of one image range are
 * contiguous within each row of y [cout, n*ho*wo], so a chunk's GEMM writes
 * y at offset i0*ho*wo with ldc = n*ho*wo. */
#include "clresnet/ops/conv.h"

#include <limits.h>

#include "clresnet/ops/elementwise.h"
#include "clresnet/ops/gemm.h"
#include "ops_impl.h"

static int set_bias_add(const crn_kernel *k, crn_error *err, cl_mem y, cl_mem b, int rows, int cols)
{
    crn_args a = crn_args_begin(k);
    crn_arg_mems(&a, 2, (const cl_mem[]){y, b});
    crn_arg_ints(&a, 2, (const int[]){rows, cols});
    return crn_args_end(&a, err);
}

static int set_row_sum(const crn_kernel *k, crn_error *err, cl_mem x, cl_mem out, int cols, size_t scratch_bytes)
{
    crn_args a = crn_args_begin(k);
    crn_arg_mems(&a, 2, (const cl_mem[]){x, out});
    crn_arg_int(&a, cols);
    crn_arg_local(&a, scratch_bytes);
    return crn_args_end(&a, err);
}

/* The geometry of a convolution over a chunk of nc images from i0. */
typedef struct conv_geom {
    int n, h, w, ho, wo, i0, nc;
} conv_geom;

/* conv_im2col and conv_col2im take the same arguments: the source and
 * destination buffers, the geometry, and the row count (krows, resp. cin). */
static int set_unfold(const crn_kernel *k, crn_error *err, cl_mem src, cl_mem dst, const crn_conv_desc *d,
                      const conv_geom *g, int rows)
{
    crn_args a = crn_args_begin(k);
    crn_arg_mems(&a, 2, (const cl_mem[]){src, dst});
    crn_arg_ints(&a, 12, (const int[]){g->n, g->h, g->w, d->kh, d->kw, d->stride, d->pad, g->ho, g->wo, g->i0, g->nc, rows});
    return crn_args_end(&a, err);
}

/* Largest column buffer one chunk uses. Larger chunks do not make the GEMM
 * faster (it is saturated long before), and the cap keeps every index in the
 * kernels below 2^31. */
#define CONV_WS_CAP ((size_t)1 << 30)

int crn_conv_out_size(int in, int k, int stride, int pad)
{
    if (stride <= 0 || in + 2 * pad < k) return 0;
    return (in + 2 * pad - k) / stride + 1;
}

static bool is_pointwise(const crn_conv_desc *d)
{
    return d->kh == 1 && d->kw == 1 && d->stride == 1 && d->pad == 0;
}

static size_t ws_limit(const crn_ops *ops)
{
    size_t lim = (size_t)ops->dev->max_alloc;
    return lim < CONV_WS_CAP ? lim : CONV_WS_CAP;
}

int crn_conv_chunk_images(const crn_ops *ops, const crn_conv_desc *d, int n, int h, int w)
{
    if (n <= 0) return 0;
    if (is_pointwise(d)) return n;
    int ho = crn_conv_out_size(h, d->kh, d->stride, d->pad), wo = crn_conv_out_size(w, d->kw, d->stride, d->pad);
    size_t per_image = (size_t)d->cin * d->kh * d->kw * (size_t)ho * wo * sizeof(float);
    if (per_image == 0) return n;
    size_t c = ws_limit(ops) / per_image;
    if (c == 0) return 0; /* one image does not fit */
    return c < (size_t)n ? (int)c : n;
}

size_t crn_conv_workspace_bytes(const crn_ops *ops, const crn_conv_desc *d, int n, int h, int w)
{
    if (is_pointwise(d) || n <= 0) return 0;
    int ho = crn_conv_out_size(h, d->kh, d->stride, d->pad), wo = crn_conv_out_size(w, d->kw, d->stride, d->pad);
    int nc = crn_conv_chunk_images(ops, d, n, h, w);
    if (nc == 0) nc = 1; /* does not fit: report what one image would need */
    return (size_t)d->cin * d->kh * d->kw * (size_t)nc * ho * wo * sizeof(float);
}

/* A work-group shape for a 2-D/3-D launch over (gx, gy, ·): a power-of-two
 * run along x (coalesced), then rows, within what the kernel and device
 * allow. */
static void pick_local(const crn_device_info *dev, const crn_kernel *k, size_t gx, size_t gy, size_t local[3])
{
    size_t cap = crn_kernel_wg(k, CRN_WG_MAX);
    size_t lx = 1, ly = 1;
    while (lx < gx && lx * 2 <= CRN_WG_RUN && lx * 2 <= cap && lx * 2 <= dev->max_work_item[0]) lx *= 2;
    while (ly < gy && lx * ly * 2 <= cap && ly * 2 <= dev->max_work_item[1]) ly *= 2;
    local[0] = lx;
    local[1] = ly;
    local[2] = 1;
}

int crn_bias_add_rows(crn_ops *ops, cl_mem y, cl_mem b, int rows, int cols, crn_error *err)
{
    const crn_kernel *k = ops->conv.bias_add;
    int rc = set_bias_add(k, err, y, b, rows, cols);
    if (rc) return rc;
    size_t g[3] = {(size_t)cols, (size_t)rows, 1}, l[3];
    pick_local(ops->dev, k, g[0], g[1], l);
    return crn_launch(ops->rt, k, 2, g, l, err);
}

int crn_row_sum(crn_ops *ops, cl_mem x, cl_mem out, int rows, int cols, crn_error *err)
{
    const crn_kernel *k = ops->conv.row_sum;
    const crn_device_info *dev = ops->dev;
    size_t cap = crn_kernel_wg(k, CRN_WG_MAX);
    if (cap > dev->max_work_item[0]) cap = dev->max_work_item[0];
    if (dev->local_mem / sizeof(float) / 2 < cap) cap = (size_t)(dev->local_mem / sizeof(float) / 2);
    size_t ls = 1;
    while (ls * 2 <= cap) ls *= 2;
    int rc = set_row_sum(k, err, x, out, cols, ls * sizeof(float));
    if (rc) return rc;
    size_t g = (size_t)rows * ls;
    return crn_launch(ops->rt, k, 1, &g, &ls, err);
}

static int check_tensor(const crn_tensor *t, size_t want, const char *what, crn_error *err)
{
    if (!t || !t->buf) return crn_fail(err, CRN_EINVAL, "conv2d: %s is missing", what);
    if (t->numel != want)
        return crn_fail(err, CRN_EINVAL, "conv2d: %s has %zu elements, the layer needs %zu", what, t->numel, want);
    if (want >= (size_t)INT_MAX)
        return crn_fail(err, CRN_EINVAL, "conv2d: %s has %zu elements, more than this engine indexes (2^31)", what,
                        want);
    return CRN_OK;
}

/* Shapes checked once for forward and backward; fills the output size. */
static int check_desc(const crn_ops *ops, const crn_conv_desc *d, int n, int h, int w, int *ho, int *wo,
                      int *nc, crn_error *err)
{
    if (!d || d->cin <= 0 || d->cout <= 0 || d->kh <= 0 || d->kw <= 0 || d->stride <= 0 || d->pad < 0 || n <= 0 ||
        h <= 0 || w <= 0)
        return crn_fail(err, CRN_EINVAL, "conv2d: invalid shape (cin %d, cout %d, kernel %dx%d, stride %d, pad %d, "
                        "input %dx%dx%d)", d ? d->cin : 0, d ? d->cout : 0, d ? d->kh : 0, d ? d->kw : 0,
                        d ? d->stride : 0, d ? d->pad : 0, n, h, w);
    *ho = crn_conv_out_size(h, d->kh, d->stride, d->pad);
    *wo = crn_conv_out_size(w, d->kw, d->stride, d->pad);
    if (*ho <= 0 || *wo <= 0)
        return crn_fail(err, CRN_EINVAL, "conv2d: a %dx%d kernel with pad %d does not fit a %dx%d input", d->kh, d->kw,
                        d->pad, h, w);
    *nc = crn_conv_chunk_images(ops, d, n, h, w);
    if (*nc == 0)
        return crn_fail(err, CRN_ENOMEM,
                        "conv2d: the im2col columns of one %dx%d image (%d channels, %dx%d kernel) need %.1f MiB, "
                        "more than %s allows in one buffer (%.1f MiB)", h, w, d->cin, d->kh, d->kw,
                        (double)crn_conv_workspace_bytes(ops, d, 1, h, w) / 1048576.0, ops->dev->name,
                        (double)ws_limit(ops) / 1048576.0);
    return CRN_OK;
}

static int im2col(crn_ops *ops, const crn_conv_desc *d, const conv_geom *g, cl_mem x, cl_mem cols, crn_error *err)
{
    const crn_kernel *k = ops->conv.im2col;
    int krows = d->cin * d->kh * d->kw;
    int rc = set_unfold(k, err, x, cols, d, g, krows);
    if (rc) return rc;
    size_t gs[3] = {(size_t)g->wo, (size_t)g->nc * g->ho, (size_t)krows}, l[3];
    pick_local(ops->dev, k, gs[0], gs[1], l);
    return crn_launch(ops->rt, k, 3, gs, l, err);
}

/* A strided 1x1 convolution's dx: a scatter onto zeros (filled by the
 * caller) instead of the general gather. */
static bool scatter_dx(const crn_conv_desc *d) { return d->kh == 1 && d->kw == 1 && d->pad == 0 && d->stride > 1; }

static int col2im(crn_ops *ops, const crn_conv_desc *d, const conv_geom *g, cl_mem dcols, cl_mem dx, crn_error *err)
{
    bool scatter = scatter_dx(d);
    const crn_kernel *k = scatter ? ops->conv.scatter_1x1 : ops->conv.col2im;
    int rc = set_unfold(k, err, dcols, dx, d, g, d->cin);
    if (rc) return rc;
    size_t gs[3] = {(size_t)(scatter ? g->wo : g->w), (size_t)g->nc * (scatter ? g->ho : g->h), (size_t)d->cin}, l[3];
    pick_local(ops->dev, k, gs[0], gs[1], l);
    return crn_launch(ops->rt, k, 3, gs, l, err);
}

/* The largest kernel height and width the packed GEMM's implicit im2col
 * takes: its gather keeps a window's rows and columns as bits of an int
 * (cl/gemm_packed.cl). */
#define IMPLICIT_WINDOW_MAX 30

/* Whether the packed GEMM runs this convolution's forward (or weight
 * gradient) with its implicit im2col: the backend of that GEMM shape. */
static bool implicit(const crn_ops *ops, const crn_conv_desc *d, bool weight_grad, size_t ncols, size_t krows)
{
    if (d->kh > IMPLICIT_WINDOW_MAX || d->kw > IMPLICIT_WINDOW_MAX) return false;
    return weight_grad ? crn_gemm_backend_for(ops, false, true, d->cout, krows, ncols) == CRN_GEMM_PACKED
                       : crn_gemm_backend_for(ops, false, false, d->cout, ncols, krows) == CRN_GEMM_PACKED;
}

/* dx of a stride-1 convolution as the packed GEMM's implicit forward
 * convolution of dy with the turned-around weights (padding k - 1 - pad),
 * so that neither the column gradient nor col2im is needed. */
static bool dx_by_flip(const crn_ops *ops, const crn_conv_desc *d, size_t ncols_x)
{
    return d->stride == 1 && d->pad <= d->kh - 1 && d->pad <= d->kw - 1 && d->kh == d->kw && d->kh <= IMPLICIT_WINDOW_MAX &&
           crn_gemm_backend_for(ops, false, false, d->cin, ncols_x, (size_t)d->cout * d->kh * d->kw) ==
               CRN_GEMM_PACKED;
}

static int dx_flipped(crn_ops *ops, const crn_conv_desc *d, int n, int h, int w, int ho, int wo, cl_mem weight,
                      cl_mem dy, cl_mem dx, crn_error *err)
{
    size_t kk = (size_t)d->kh * d->kw;
    int rc = crn_ops_buffer(ops, &ops->conv.wflip, &ops->conv.wflip_bytes, (size_t)d->cin * d->cout * kk * 4, err);
    if (rc) return rc;
    const crn_kernel *k = ops->conv.weight_flip;
    crn_args a = crn_args_begin(k);
    crn_arg_mems(&a, 2, (const cl_mem[]){weight, ops->conv.wflip});
    crn_arg_ints(&a, 3, (const int[]){d->cout, d->cin, (int)kk});
    if ((rc = crn_args_end(&a, err))) return rc;
    size_t gs[2] = {(size_t)d->cout, (size_t)d->cin};
    if ((rc = crn_launch(ops->rt, k, 2, gs, NULL, err))) return rc;
    crn_log_gemm(ops, false, false, d->cin, (size_t)n * h * w, (size_t)d->cout * kk);
    return crn_pgemm_conv_forward(ops, &(crn_pgemm_conv){dy, d->cout, n, ho, wo, d->kh, d->kw, 1, d->kh - 1 - d->pad,
                                                         h, w, 0, n}, d->cin, ops->conv.wflip, 0.0f, dx, err);
}

/* What forward and backward both need: the output size, the chunking, the
 * checked shapes of x, the weight and y (or dy), and the workspace. */
typedef struct conv_plan {
    int ho, wo, nc;
    size_t krows, hw, ncols;
} conv_plan;

static int plan_conv(crn_ops *ops, const crn_conv_desc *d, int n, int h, int w, const crn_tensor *x,
                     const crn_tensor *weight, const crn_tensor *y, const char *y_name, crn_workspace *ws,
                     conv_plan *p, crn_error *err)
{
    int rc = check_desc(ops, d, n, h, w, &p->ho, &p->wo, &p->nc, err);
    if (rc) return rc;
    p->krows = (size_t)d->cin * d->kh * d->kw;
    p->hw = (size_t)p->ho * p->wo;
    p->ncols = (size_t)n * p->hw;
    if ((rc = check_tensor(x, (size_t)d->cin * n * h * w, "x", err))) return rc;
    if ((rc = check_tensor(weight, (size_t)d->cout * p->krows, "weight", err))) return rc;
    if ((rc = check_tensor(y, (size_t)d->cout * p->ncols, y_name, err))) return rc;
    if (is_pointwise(d)) return CRN_OK;
    if (!ws) return crn_fail(err, CRN_EINVAL, "conv2d: a %dx%d convolution needs a workspace", d->kh, d->kw);
    return crn_workspace_reserve(ops->rt, ws, p->krows * p->nc * p->hw * sizeof(float), err);
}

int crn_conv2d_forward(crn_ops *ops, const crn_conv_desc *d, int n, int h, int w, const crn_tensor *x,
                       const crn_tensor *weight, const crn_tensor *bias, crn_tensor *y, crn_workspace *ws,
                       crn_error *err)
{
    conv_plan p;
    int rc = plan_conv(ops, d, n, h, w, x, weight, y, "y", ws, &p, err);
    if (rc) return rc;
    if (d->bias && (rc = check_tensor(bias, (size_t)d->cout, "bias", err))) return rc;
    const int ho = p.ho, wo = p.wo, nc = p.nc;
    const size_t krows = p.krows, hw = p.hw, ncols = p.ncols;

    if (is_pointwise(d)) {
        rc = crn_sgemm(ops, false, false, d->cout, ncols, d->cin, 1.0f, weight->buf, 0, d->cin, x->buf, 0, ncols, 0.0f,
                       y->buf, 0, ncols, err);
    } else if (implicit(ops, d, false, ncols, krows)) {
        /* the packed GEMM gathers its columns straight from x: no im2col */
        crn_log_gemm(ops, false, false, d->cout, ncols, krows);
        rc = crn_pgemm_conv_forward(ops, &(crn_pgemm_conv){x->buf, d->cin, n, h, w, d->kh, d->kw, d->stride, d->pad, ho,
                                                           wo, 0, n}, d->cout, weight->buf, 0.0f, y->buf, err);
    } else {
        for (int i0 = 0; i0 < n && rc == CRN_OK; i0 += nc) {
            int c = n - i0 < nc ? n - i0 : nc;
            size_t pc = (size_t)c * hw;
            rc = im2col(ops, d, &(conv_geom){n, h, w, ho, wo, i0, c}, x->buf, ws->buf, err);
            if (rc == CRN_OK)
                rc = crn_sgemm(ops, false, false, d->cout, pc, krows, 1.0f, weight->buf, 0, krows, ws->buf, 0, pc,
                               0.0f, y->buf, (size_t)i0 * hw, ncols, err);
        }
    }
    if (rc == CRN_OK && d->bias) rc = crn_bias_add_rows(ops, y->buf, bias->buf, d->cout, (int)ncols, err);
    return rc;
}

int crn_conv2d_backward(crn_ops *ops, const crn_conv_desc *d, int n, int h, int w, const crn_tensor *x,
                        const crn_tensor *weight, const crn_tensor *dy, crn_tensor *dx, crn_tensor *dweight,
                        crn_tensor *dbias, crn_workspace *ws, crn_error *err)
{
    conv_plan p;
    int rc = plan_conv(ops, d, n, h, w, x, weight, dy, "dy", ws, &p, err);
    if (rc) return rc;
    const int ho = p.ho, wo = p.wo, nc = p.nc;
    const size_t krows = p.krows, hw = p.hw, ncols = p.ncols;
    if ((rc = check_tensor(dweight, (size_t)d->cout * krows, "dweight", err))) return rc;
    if (dx && (rc = check_tensor(dx, (size_t)d->cin * n * h * w, "dx", err))) return rc;
    if (d->bias && (rc = check_tensor(dbias, (size_t)d->cout, "dbias", err))) return rc;

    if (is_pointwise(d)) {
        /* dW[cout, cin] = dy * x^T; dx[cin, nhw] = W^T * dy */
        rc = crn_sgemm_nt_long_k(ops, d->cout, d->cin, ncols, dy->buf, 0, ncols, x->buf, 0, ncols, 0.0f, dweight->buf,
                                 0, d->cin, err);
        if (rc == CRN_OK && dx)
            rc = crn_sgemm(ops, true, false, d->cin, ncols, d->cout, 1.0f, weight->buf, 0, d->cin, dy->buf, 0, ncols,
                           0.0f, dx->buf, 0, ncols, err);
    } else {
        /* dW = dy * cols^T: the packed GEMM gathers cols^T straight from x,
         * the whole batch at once; else chunk by chunk from the columns. */
        bool direct = implicit(ops, d, true, ncols, krows);
        if (direct) {
            crn_log_gemm(ops, false, true, d->cout, krows, ncols);
            rc = crn_pgemm_conv_weight_grad(ops, &(crn_pgemm_conv){x->buf, d->cin, n, h, w, d->kh, d->kw, d->stride,
                                                                   d->pad, ho, wo, 0, n}, d->cout, dy->buf, 0.0f,
                                            dweight->buf, err);
        }
        /* One buffer serves as cols, then as dcols of the same chunk: the
         * queue is in order, so the dW GEMM has read cols before the dcols
         * GEMM overwrites them. */
        bool flip = dx && dx_by_flip(ops, d, (size_t)n * h * w);
        if (rc == CRN_OK && flip) rc = dx_flipped(ops, d, n, h, w, ho, wo, weight->buf, dy->buf, dx->buf, err);
        bool chunk_dx = dx && !flip;
        if (rc == CRN_OK && chunk_dx && scatter_dx(d)) rc = crn_fill(ops, dx, 0.0f, (size_t)d->cin * n * h * w, err);
        for (int i0 = 0; i0 < n && rc == CRN_OK && (!direct || chunk_dx); i0 += nc) {
            int c = n - i0 < nc ? n - i0 : nc;
            size_t pc = (size_t)c * hw;
            if (!direct) rc = im2col(ops, d, &(conv_geom){n, h, w, ho, wo, i0, c}, x->buf, ws->buf, err);
            /* dW (+)= dy[:, chunk] * cols^T; chunks in a fixed order */
            if (rc == CRN_OK && !direct)
                rc = crn_sgemm_nt_long_k(ops, d->cout, krows, pc, dy->buf, (size_t)i0 * hw, ncols, ws->buf, 0, pc,
                                         i0 == 0 ? 0.0f : 1.0f, dweight->buf, 0, krows, err);
            if (rc == CRN_OK && chunk_dx) {
                rc = crn_sgemm(ops, true, false, krows, pc, d->cout, 1.0f, weight->buf, 0, krows, dy->buf,
                               (size_t)i0 * hw, ncols, 0.0f, ws->buf, 0, pc, err);
                if (rc == CRN_OK) rc = col2im(ops, d, &(conv_geom){n, h, w, ho, wo, i0, c}, ws->buf, dx->buf, err);
            }
        }
    }
    if (rc == CRN_OK && d->bias) rc = crn_row_sum(ops, dy->buf, dbias->buf, d->cout, (int)ncols, err);
    return rc;
}
