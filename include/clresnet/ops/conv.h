/* 2-D convolution on channel-major activations (docs/layout.md) as GEMMs:
 * on the packed GEMM (cl/gemm_packed.cl, CPUs) with implicit im2col (the
 * columns gathered inside the GEMM; a stride-1 dx as a forward convolution
 * of dy with the turned-around weights); on CLBlast (GPUs) im2col
 * (cl/conv.cl) + SGEMM, and GEMM + col2im for dx. 1x1 stride-1
 * convolutions go straight to GEMM. Column buffers larger than the
 * device's max allocation are processed in chunks of images. */
#ifndef CLRESNET_CONV_H
#define CLRESNET_CONV_H

#include <stdbool.h>

#include "clresnet/ops/ops.h"
#include "clresnet/runtime/tensor.h"

typedef struct crn_conv_desc {
    int cin, cout;
    int kh, kw;
    int stride;
    int pad;
    bool bias;
} crn_conv_desc;

/* Output height/width for input h/w: (h + 2*pad - k) / stride + 1. */
int crn_conv_out_size(int in, int k, int stride, int pad);

/* Bytes of workspace the layer needs at batch n, input h x w. */
size_t crn_conv_workspace_bytes(const crn_ops *ops, const crn_conv_desc *d, int n, int h, int w);

/* x: [cin, n, h, w]; w: [cout, cin, kh, kw]; b: [cout] or NULL when !bias;
 * y: [cout, n, ho, wo] (overwritten). */
int crn_conv2d_forward(crn_ops *ops, const crn_conv_desc *d, int n, int h, int w, const crn_tensor *x,
                       const crn_tensor *weight, const crn_tensor *bias, crn_tensor *y, crn_workspace *ws,
                       crn_error *err);

/* From dy [cout, n, ho, wo]: dx [cin, n, h, w] (overwritten; NULL to skip,
 * e.g. for the first layer), dweight (overwritten), dbias (overwritten;
 * NULL when !bias). */
int crn_conv2d_backward(crn_ops *ops, const crn_conv_desc *d, int n, int h, int w, const crn_tensor *x,
                        const crn_tensor *weight, const crn_tensor *dy, crn_tensor *dx, crn_tensor *dweight,
                        crn_tensor *dbias, crn_workspace *ws, crn_error *err);

/* Images per chunk: the whole batch n unless the im2col columns would exceed
 * the device's max allocation (or 1 GiB); 0 when one image does not fit. */
int crn_conv_chunk_images(const crn_ops *ops, const crn_conv_desc *d, int n, int h, int w);

/* Helpers shared with the linear layer (cl/conv.cl), on [rows, cols] buffers:
 * y[r, :] += b[r], and out[r] = sum of x[r, :] (one work-group per row, a
 * fixed-order reduction: bit-identical on every run). */
int crn_bias_add_rows(crn_ops *ops, cl_mem y, cl_mem b, int rows, int cols, crn_error *err);
int crn_row_sum(crn_ops *ops, cl_mem x, cl_mem out, int rows, int cols, crn_error *err);

#endif
