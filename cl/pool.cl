/* Pooling on channel-major [c, n, h, w]: planes = c * n independent h x w
 * images. argmax holds the in-plane offset ih * w + iw of the first maximum
 * in row-major window order (PyTorch's return_indices convention). */
#include "per_item.h"

__kernel void maxpool_forward(__global const float *x, __global float *y, __global int *argmax, const int planes,
                              const int h, const int w, const int ho, const int wo, const int k, const int stride,
                              const int pad)
{
    const int ow = get_global_id(0), oh = get_global_id(1), p = get_global_id(2);
    if (ow >= wo || oh >= ho || p >= planes) return;
    __global const float *xp = x + (ulong)p * h * w;
    const int h0 = oh * stride - pad, w0 = ow * stride - pad;
    const int ih0 = max(h0, 0), iw0 = max(w0, 0);
    const int ih1 = min(h0 + k, h), iw1 = min(w0 + k, w);
    /* Padding never wins: only in-bounds positions are visited. A NaN wins
     * and propagates, as in PyTorch's CPU kernel. */
    float best = -INFINITY;
    int arg = ih0 * w + iw0;
    for (int ih = ih0; ih < ih1; ih++)
        for (int iw = iw0; iw < iw1; iw++) {
            float v = xp[ih * w + iw];
            if (v > best || isnan(v)) {
                best = v;
                arg = ih * w + iw;
            }
        }
    const ulong o = ((ulong)p * ho + oh) * wo + ow;
    y[o] = best;
    argmax[o] = arg;
}

/* The 2x2 stride-2 unpadded pools of the baseline CNN: every window lies
 * inside the image, so an item takes eight outputs of a row at once with
 * vector loads and selects (no bounds, no integer division), and only a
 * row's last few outputs go one by one. Same order and NaN rule as
 * maxpool_forward, whose arguments it takes (k, stride, pad unused).
 * 3-D range: (eight-output group, output row, plane). */
static void max2x2_take(float8 v, int8 pos, float8 *best, int8 *arg)
{
    const int8 take = isgreater(v, *best) | isnan(v);
    *best = select(*best, v, take);
    *arg = select(*arg, pos, take);
}

__kernel PER_ITEM void maxpool2x2_forward(__global const float *x, __global float *y, __global int *argmax, const int planes,
                                 const int h, const int w, const int ho, const int wo, const int k, const int stride,
                                 const int pad)
{
    const int ow0 = get_global_id(0) * 8, oh = get_global_id(1), p = get_global_id(2);
    (void)k, (void)stride, (void)pad; /* the general pool's argument list: one wrapper launches both */
    if (ow0 >= wo || oh >= ho || p >= planes) return;
    __global const float *xp = x + (ulong)p * h * w;
    const int row = 2 * oh * w;
    const ulong o = ((ulong)p * ho + oh) * wo + ow0;
    if (ow0 + 8 <= wo) {
        const float16 r0 = vload16(0, xp + row + 2 * ow0), r1 = vload16(0, xp + row + w + 2 * ow0);
        const int8 at = row + 2 * ow0 + 2 * (int8)(0, 1, 2, 3, 4, 5, 6, 7);
        float8 best = (float8)(-INFINITY);
        int8 arg = at;
        max2x2_take(r0.even, at, &best, &arg);
        max2x2_take(r0.odd, at + 1, &best, &arg);
        max2x2_take(r1.even, at + w, &best, &arg);
        max2x2_take(r1.odd, at + w + 1, &best, &arg);
        vstore8(best, 0, y + o);
        vstore8(arg, 0, argmax + o);
        return;
    }
    for (int ow = ow0; ow < wo; ow++) {
        const int at = row + 2 * ow;
        const int pos[4] = {at, at + 1, at + w, at + w + 1};
        float best = -INFINITY;
        int arg = at;
        for (int i = 0; i < 4; i++) {
            const float v = xp[pos[i]];
            if (v > best || isnan(v)) {
                best = v;
                arg = pos[i];
            }
        }
        y[o + ow - ow0] = best;
        argmax[o + ow - ow0] = arg;
    }
}

/* Its backward: windows do not overlap, so each input element takes its
 * window's dy when it is the argmax and 0 otherwise. An item writes a 2 x 16
 * block of input (the eight windows of one output row), by vectors when the
 * block is whole. 3-D range: (16-column group, row pair, plane). */
static float16 max2x2_grad_row(float8 g, int8 arg, int8 at)
{
    const float8 z = 0.0f;
    const float8 even = select(z, g, arg == at), odd = select(z, g, arg == at + 1);
    return shuffle2(even, odd, (uint16)(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15));
}

__kernel PER_ITEM void maxpool2x2_backward(__global const float *dy, __global const int *argmax, __global float *dx,
                                  const int planes, const int h, const int w, const int ho, const int wo, const int k,
                                  const int stride, const int pad)
{
    const int iw0 = get_global_id(0) * 16, r = get_global_id(1), p = get_global_id(2);
    (void)k, (void)stride, (void)pad; /* the general pool's argument list */
    if (iw0 >= w || 2 * r >= h || p >= planes) return;
    __global float *dxp = dx + (ulong)p * h * w;
    const ulong ob = (ulong)p * ho * wo;
    if (r < ho && iw0 / 2 + 8 <= wo) {
        const ulong o = ob + (ulong)r * wo + iw0 / 2;
        const float8 g = vload8(0, dy + o);
        const int8 arg = vload8(0, argmax + o);
        const int8 at = 2 * r * w + iw0 + 2 * (int8)(0, 1, 2, 3, 4, 5, 6, 7);
        vstore16(max2x2_grad_row(g, arg, at), 0, dxp + 2 * r * w + iw0);
        vstore16(max2x2_grad_row(g, arg, at + w), 0, dxp + (2 * r + 1) * w + iw0);
        return;
    }
    for (int ih = 2 * r; ih < min(2 * r + 2, h); ih++)
        for (int iw = iw0; iw < min(iw0 + 16, w); iw++) {
            const int oh = ih / 2, ow = iw / 2;
            float g = 0.0f;
            if (oh < ho && ow < wo && argmax[ob + (ulong)oh * wo + ow] == ih * w + iw) g = dy[ob + (ulong)oh * wo + ow];
            dxp[ih * w + iw] = g;
        }
}

/* Gather: each input element sums, in output row-major order, the dy of the
 * windows that contain it and whose argmax it is. No atomics. */
__kernel void maxpool_backward(__global const float *dy, __global const int *argmax, __global float *dx,
                               const int planes, const int h, const int w, const int ho, const int wo, const int k,
                               const int stride, const int pad)
{
    const int iw = get_global_id(0), ih = get_global_id(1), p = get_global_id(2);
    if (iw >= w || ih >= h || p >= planes) return;
    /* windows oh with oh*stride - pad <= ih < oh*stride - pad + k, i.e.
     * ceil((ph - k + 1) / stride) <= oh <= ph / stride; stride 2 (ResNet's
     * stem) by shifts, as integer division is slow on CPUs */
    const int ph = ih + pad, pw = iw + pad;
    int oh0, oh1, ow0, ow1;
    if (stride == 2) {
        oh0 = max((ph - k + 2) >> 1, 0), oh1 = min((ph >> 1) + 1, ho);
        ow0 = max((pw - k + 2) >> 1, 0), ow1 = min((pw >> 1) + 1, wo);
    } else {
        oh0 = ph < k ? 0 : (ph - k) / stride + 1, oh1 = min(ph / stride + 1, ho);
        ow0 = pw < k ? 0 : (pw - k) / stride + 1, ow1 = min(pw / stride + 1, wo);
    }
    const int self = ih * w + iw;
    const ulong base = (ulong)p * ho * wo;
    float acc = 0.0f;
    for (int oh = oh0; oh < oh1; oh++)
        for (int ow = ow0; ow < ow1; ow++) {
            const ulong o = base + (ulong)oh * wo + ow;
            if (argmax[o] == self) acc += dy[o];
        }
    dx[(ulong)p * h * w + self] = acc;
}

/* Global average pooling: x [rows, hw] -> y [rows] (rows = c * n), summed in
 * order. */
__kernel void avgpool_global_forward(__global const float *x, __global float *y, const int rows, const int hw)
{
    const int r = get_global_id(0);
    if (r >= rows) return;
    __global const float *xr = x + (ulong)r * hw;
    float acc = 0.0f;
    for (int i = 0; i < hw; i++) acc += xr[i];
    y[r] = acc / (float)hw;
}

__kernel void avgpool_global_backward(__global const float *dy, __global float *dx, const int rows, const int hw)
{
    const int i = get_global_id(0), r = get_global_id(1);
    if (i >= hw || r >= rows) return;
    dx[(ulong)r * hw + i] = dy[r] / (float)hw;
}
