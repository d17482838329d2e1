/* Pooling on channel-major [c, n, h, w]: planes = c * n independent h x w
 * images. argmax holds the in-plane offset ih * w + iw of the first maximum
 * in row-major window order (PyTorch's return_indices convention). */

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

/* Gather: each input element sums, in output row-major order, the dy of the
 * windows that contain it and whose argmax it is. No atomics. */
__kernel void maxpool_backward(__global const float *dy, __global const int *argmax, __global float *dx,
                               const int planes, const int h, const int w, const int ho, const int wo, const int k,
                               const int stride, const int pad)
{
    const int iw = get_global_id(0), ih = get_global_id(1), p = get_global_id(2);
    if (iw >= w || ih >= h || p >= planes) return;
    /* windows oh with oh*stride - pad <= ih < oh*stride - pad + k */
    const int ph = ih + pad, pw = iw + pad;
    const int oh0 = ph < k ? 0 : (ph - k) / stride + 1, oh1 = min(ph / stride + 1, ho);
    const int ow0 = pw < k ? 0 : (pw - k) / stride + 1, ow1 = min(pw / stride + 1, wo);
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
