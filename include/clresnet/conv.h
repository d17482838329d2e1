/* 2-D convolution on channel-major activations (docs/layout.md): im2col (our
 * kernel, cl/conv.cl) + CLBlast SGEMM over the whole batch; 1x1 stride-1
 * convolutions go straight to GEMM. Backward: data (GEMM + col2im) and
 * weights (GEMM). Column buffers larger than the device's max allocation
 * are processed in chunks of images. */
#ifndef CLRESNET_CONV_H
#define CLRESNET_CONV_H

#include <stdbool.h>

#include "clresnet/tensor.h"

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
size_t crn_conv_workspace_bytes(const crn_runtime *rt, const crn_conv_desc *d, int n, int h, int w);

/* x: [cin, n, h, w]; w: [cout, cin, kh, kw]; b: [cout] or NULL when !bias;
 * y: [cout, n, ho, wo] (overwritten). */
int crn_conv2d_forward(crn_runtime *rt, const crn_conv_desc *d, int n, int h, int w, const crn_tensor *x,
                       const crn_tensor *weight, const crn_tensor *bias, crn_tensor *y, crn_workspace *ws,
                       crn_error *err);

/* From dy [cout, n, ho, wo]: dx [cin, n, h, w] (overwritten; NULL to skip,
 * e.g. for the first layer), dweight (overwritten), dbias (overwritten;
 * NULL when !bias). */
int crn_conv2d_backward(crn_runtime *rt, const crn_conv_desc *d, int n, int h, int w, const crn_tensor *x,
                        const crn_tensor *weight, const crn_tensor *dy, crn_tensor *dx, crn_tensor *dweight,
                        crn_tensor *dbias, crn_workspace *ws, crn_error *err);

#endif
