/* `clresnet bench --convs`: each distinct convolution of ResNet50 timed on
 * its own, forward and backward (data and weight gradients, as training
 * runs them: whatever GEMM path the device gets, packing and gathering
 * included), as GFLOP/s. One line per shape; with --json one JSON object
 * per line, which tests/bench/torch_conv.py reads to time PyTorch's
 * F.conv2d (oneDNN on CPUs) on the same shapes. */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "clresnet/core/clock.h"
#include "clresnet/ops/conv.h"

/* ResNet50's convolutions at 224 px, the seed's blocks (the stride on the
 * first 1x1, as src/nn/models.c): input channels, output channels, kernel,
 * stride, input size. The sizes scale with the image size. */
static const struct {
    int cin, cout, k, stride, h224;
} SHAPES[] = {
    {3, 64, 7, 2, 224},                                                                       /* stem */
    {64, 64, 1, 1, 56},     {64, 64, 3, 1, 56},     {64, 256, 1, 1, 56},   {256, 64, 1, 1, 56}, /* layer1 */
    {256, 128, 1, 2, 56},   {128, 128, 3, 1, 28},   {128, 512, 1, 1, 28},  {256, 512, 1, 2, 56},
    {512, 128, 1, 1, 28},                                                                     /* layer2 */
    {512, 256, 1, 2, 28},   {256, 256, 3, 1, 14},   {256, 1024, 1, 1, 14}, {512, 1024, 1, 2, 28},
    {1024, 256, 1, 1, 14},                                                                    /* layer3 */
    {1024, 512, 1, 2, 14},  {512, 512, 3, 1, 7},    {512, 2048, 1, 1, 7},  {1024, 2048, 1, 2, 14},
    {2048, 512, 1, 1, 7},                                                                     /* layer4 */
};

typedef struct conv_case {
    crn_conv_desc d;
    int n, h, ho;
    crn_tensor x, w, y, dx, dw;
    crn_workspace ws;
} conv_case;

/* One timed call: forward, or backward (no dx for the stem, as in the
 * model), finished before the clock stops. */
static int run_once(crn_ops *ops, conv_case *c, bool backward, double *seconds, crn_error *err)
{
    double t0 = crn_now_s();
    int rc = backward ? crn_conv2d_backward(ops, &c->d, c->n, c->h, c->h, &c->x, &c->w, &c->y,
                                            c->d.cin == 3 ? NULL : &c->dx, &c->dw, NULL, &c->ws, err)
                      : crn_conv2d_forward(ops, &c->d, c->n, c->h, c->h, &c->x, &c->w, NULL, &c->y, &c->ws, err);
    if (rc == CRN_OK) rc = crn_finish(crn_ops_runtime(ops), err);
    *seconds = crn_now_s() - t0;
    return rc;
}

/* Median over reps after one warm-up call. */
static int median_time(crn_ops *ops, conv_case *c, bool backward, int reps, double *med, crn_error *err)
{
    double t[64], s;
    if (reps > 64) reps = 64;
    int rc = run_once(ops, c, backward, &s, err);
    for (int i = 0; rc == CRN_OK && i < reps; i++) rc = run_once(ops, c, backward, &t[i], err);
    if (rc) return rc;
    crn_sort_times(t, (size_t)reps);
    *med = t[reps / 2];
    return CRN_OK;
}

static int alloc(crn_ops *ops, crn_tensor *t, size_t n, crn_error *err)
{
    return crn_tensor_zeros(crn_ops_runtime(ops), t, CRN_F32, 1, &n, err);
}

static int time_shape(crn_ops *ops, int i, int batch, int image, int reps, bool json, crn_error *err)
{
    conv_case c = {.d = {SHAPES[i].cin, SHAPES[i].cout, SHAPES[i].k, SHAPES[i].k, SHAPES[i].stride, SHAPES[i].k / 2,
                         false},
                   .n = batch};
    c.h = SHAPES[i].h224 * image / 224;
    if (c.h < SHAPES[i].k) c.h = SHAPES[i].k;
    c.ho = crn_conv_out_size(c.h, c.d.kh, c.d.stride, c.d.pad);
    size_t nx = (size_t)c.d.cin * batch * c.h * c.h, nw = (size_t)c.d.cout * c.d.cin * c.d.kh * c.d.kw;
    size_t ny = (size_t)c.d.cout * batch * c.ho * c.ho;
    int rc = alloc(ops, &c.x, nx, err);
    if (rc == CRN_OK) rc = alloc(ops, &c.w, nw, err);
    if (rc == CRN_OK) rc = alloc(ops, &c.y, ny, err);
    if (rc == CRN_OK) rc = alloc(ops, &c.dx, nx, err);
    if (rc == CRN_OK) rc = alloc(ops, &c.dw, nw, err);
    size_t wsb = crn_conv_workspace_bytes(ops, &c.d, batch, c.h, c.h);
    if (rc == CRN_OK && wsb) rc = crn_workspace_reserve(crn_ops_runtime(ops), &c.ws, wsb, err);
    double tf = 0, tb = 0;
    if (rc == CRN_OK) rc = median_time(ops, &c, false, reps, &tf, err);
    if (rc == CRN_OK) rc = median_time(ops, &c, true, reps, &tb, err);
    if (rc == CRN_OK) {
        double flops = 2.0 * (double)ny * c.d.cin * c.d.kh * c.d.kw;
        double bflops = flops * (c.d.cin == 3 ? 1 : 2);
        if (json)
            printf("{\"cin\":%d,\"cout\":%d,\"k\":%d,\"stride\":%d,\"pad\":%d,\"h\":%d,\"n\":%d,\"dx\":%s,"
                   "\"fwd_ms\":%.3f,\"fwd_gflops\":%.1f,\"bwd_ms\":%.3f,\"bwd_gflops\":%.1f}\n",
                   c.d.cin, c.d.cout, c.d.kh, c.d.stride, c.d.pad, c.h, batch, c.d.cin == 3 ? "false" : "true",
                   tf * 1e3, flops / tf * 1e-9, tb * 1e3, bflops / tb * 1e-9);
        else
            printf("%5d %5d %dx%d/%d %4d %9.2f %9.1f %9.2f %9.1f\n", c.d.cin, c.d.cout, c.d.kh, c.d.kw, c.d.stride,
                   c.h, tf * 1e3, flops / tf * 1e-9, tb * 1e3, bflops / tb * 1e-9);
        fflush(stdout);
    }
    crn_tensor *all[] = {&c.x, &c.w, &c.y, &c.dx, &c.dw};
    for (size_t j = 0; j < sizeof all / sizeof all[0]; j++) crn_tensor_free(all[j]);
    crn_workspace_free(&c.ws);
    return rc;
}

int bench_convs(crn_ops *ops, int batch, int image, int reps, bool json, crn_error *err)
{
    if (!json)
        printf("  cin  cout kernel  in   fwd ms  GFLOP/s    bwd ms  GFLOP/s   (batch %d, %d px; bwd: dx + dW)\n",
               batch, image);
    int rc = CRN_OK;
    for (int i = 0; rc == CRN_OK && i < (int)(sizeof SHAPES / sizeof SHAPES[0]); i++)
        rc = time_shape(ops, i, batch, image, reps, json, err);
    return rc;
}
