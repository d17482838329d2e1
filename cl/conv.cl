/* Convolution and linear helpers on channel-major activations [C, N, H, W]
 * (docs/layout.md): im2col / col2im for a chunk of images of the batch, the
 * bias add over rows, and the deterministic row-sum reduction used for the
 * bias gradients of both convolution and linear layers.
 *
 * Launch sizes are rounded up by the host, so every kernel checks bounds.
 * Indices fit in int: the host refuses tensors of 2^31 elements or more and
 * caps a chunk's column buffer below that. */

/* cols[k, p] for a chunk of nc images starting at image i0 of an n-image
 * batch, k = (ci*kh + ky)*kw + kx, p = (img*ho + oy)*wo + ox, row length
 * nc*ho*wo. Global: (wo, nc*ho, cin*kh*kw); one work-item per element, with
 * adjacent work-items writing adjacent columns. */
__kernel void conv_im2col(__global const float *x, __global float *cols, const int n, const int h, const int w,
                          const int kh, const int kw, const int stride, const int pad, const int ho,
                          const int wo, const int i0, const int nc, const int krows)
{
    const int ox = get_global_id(0);
    const int r = get_global_id(1); /* img*ho + oy */
    const int k = get_global_id(2);
    if (ox >= wo || r >= nc * ho || k >= krows) return;
    const int img = r / ho;
    const int oy = r - img * ho;
    const int khw = kh * kw;
    const int ci = k / khw;
    const int rem = k - ci * khw;
    const int ky = rem / kw;
    const int kx = rem - ky * kw;
    const int iy = oy * stride - pad + ky;
    const int ix = ox * stride - pad + kx;
    float v = 0.0f;
    if (iy >= 0 && iy < h && ix >= 0 && ix < w) v = x[((ci * n + i0 + img) * h + iy) * w + ix];
    cols[k * (nc * ho * wo) + r * wo + ox] = v;
}

/* dx[ci, i0+img, iy, ix] = sum of the dcols entries that im2col copied from
 * that input element: a gather, one work-item per input element, summed in a
 * fixed order (ky, then kx ascending): deterministic, no atomics.
 * Global: (w, nc*h, cin). The kernel offsets ky that reach this row are
 * ky = (iy + pad) mod stride + t*stride, with oy = (iy + pad - ky) / stride
 * decreasing by one per step, so the loops divide only once. */
__kernel void conv_col2im(__global const float *dcols, __global float *dx, const int n, const int h, const int w,
                          const int kh, const int kw, const int stride, const int pad, const int ho,
                          const int wo, const int i0, const int nc, const int cin)
{
    const int ix = get_global_id(0);
    const int r = get_global_id(1); /* img*h + iy */
    const int ci = get_global_id(2);
    if (ix >= w || r >= nc * h || ci >= cin) return;
    const int img = r / h;
    const int iy = r - img * h;
    const int ncols = nc * ho * wo;
    const int ty = iy + pad, tx = ix + pad;
    const int ky0 = ty % stride, kx0 = tx % stride;
    const int oy0 = ty / stride, ox0 = tx / stride;
    float acc = 0.0f;
    for (int ky = ky0, oy = oy0; ky < kh; ky += stride, oy--) {
        if (oy < 0) break;
        if (oy >= ho) continue;
        __global const float *row = dcols + ((ci * kh + ky) * kw) * ncols + (img * ho + oy) * wo;
        for (int kx = kx0, ox = ox0; kx < kw; kx += stride, ox--) {
            if (ox < 0) break;
            if (ox >= wo) continue;
            acc += row[kx * ncols + ox];
        }
    }
    dx[((ci * n + i0 + img) * h + iy) * w + ix] = acc;
}

/* col2im of an unpadded 1x1 convolution with stride s: each column entry
 * lands on one input element (oy*s, ox*s); the rest of dx is zero (filled
 * before). Same arguments and range as conv_im2col (krows = cin). */
__kernel void conv_scatter_1x1(__global const float *dcols, __global float *dx, const int n, const int h,
                               const int w, const int kh, const int kw, const int stride, const int pad,
                               const int ho, const int wo, const int i0, const int nc, const int cin)
{
    const int ox = get_global_id(0);
    const int r = get_global_id(1); /* img*ho + oy */
    const int ci = get_global_id(2);
    (void)kh, (void)kw, (void)pad; /* conv_im2col's argument list: one wrapper launches both */
    if (ox >= wo || r >= nc * ho || ci >= cin) return;
    const int img = r / ho;
    const int oy = r - img * ho;
    dx[((ci * n + i0 + img) * h + oy * stride) * w + ox * stride] = dcols[ci * (nc * ho * wo) + r * wo + ox];
}

/* A stride-1 convolution's input gradient is the convolution of dy with the
 * weights turned around: wf [cin, cout, kk] holds w [cout, cin, kk] with
 * channels swapped and the window (kk = kh * kw positions) reversed.
 * Global: (cout, cin), one window a work-item: neighbouring items write
 * neighbouring windows, and no index is divided. */
__kernel void conv_weight_flip(__global const float *w, __global float *wf, const int cout, const int cin,
                               const int kk)
{
    const size_t co = get_global_id(0), ci = get_global_id(1);
    if (co >= (size_t)cout || ci >= (size_t)cin) return;
    __global const float *src = w + (co * cin + ci) * kk + (kk - 1);
    __global float *dst = wf + (ci * cout + co) * kk;
    for (int t = 0; t < kk; t++) dst[t] = src[-t];
}

/* y[c, p] += b[c] for y [rows, cols]. Global: (cols, rows). */
__kernel void conv_bias_add(__global float *y, __global const float *b, const int rows, const int cols)
{
    const int p = get_global_id(0);
    const int c = get_global_id(1);
    if (p < cols && c < rows) y[c * cols + p] += b[c];
}

/* out[r] = sum of x[r, 0..cols): one work-group per row. Each work-item sums
 * a strided slice in order, then a fixed tree in local memory: the same
 * result on every run for a given work-group size (a power of two). */
__kernel void conv_row_sum(__global const float *x, __global float *out, const int cols, __local float *scratch)
{
    const int row = get_group_id(0);
    const int lid = get_local_id(0);
    const int ls = get_local_size(0);
    __global const float *xr = x + row * cols;
    float acc = 0.0f;
    for (int p = lid; p < cols; p += ls) acc += xr[p];
    scratch[lid] = acc;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = ls >> 1; s > 0; s >>= 1) {
        if (lid < s) scratch[lid] += scratch[lid + s];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0) out[row] = scratch[0];
}
