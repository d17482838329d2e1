/* BatchNorm2d on channel-major x [c, m]: one work-group per channel (row).
 * Reductions are deterministic: each work item sums its elements in a fixed
 * stride order (lid, lid + L, ...), then a fixed local-memory tree combines
 * the L partial sums. The work-group size L is a power of two chosen by the
 * host from the device's limits. Statistics are two-pass: the mean first,
 * then the sums of deviations from it (see bn_forward_train). */

/* Tree reduction of two values at once over the work-group (scratch holds
 * 2 * L floats); every item must call it. Returns both totals to every item. */
static float2 bn_reduce2(__local float *scratch, float a, float b)
{
    const int lid = get_local_id(0), L = get_local_size(0);
    scratch[lid] = a;
    scratch[L + lid] = b;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = L / 2; s > 0; s >>= 1) {
        if (lid < s) {
            scratch[lid] += scratch[lid + s];
            scratch[L + lid] += scratch[L + lid + s];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    float2 total = (float2)(scratch[0], scratch[L]);
    barrier(CLK_LOCAL_MEM_FENCE); /* scratch is reused by the next call */
    return total;
}

/* Training forward: batch statistics, normalisation, running-stat update.
 * save_mean/save_invstd [c] keep the statistics for backward. */
__kernel void bn_forward_train(__global const float *x, __global const float *gamma, __global const float *beta,
                               __global float *running_mean, __global float *running_var, __global float *y,
                               __global float *save_mean, __global float *save_invstd, const ulong m,
                               const float eps, const float momentum, __local float *scratch)
{
    const int ch = get_group_id(0);
    const int lid = get_local_id(0), L = get_local_size(0);
    __global const float *xr = x + (ulong)ch * m;
    __global float *yr = y + (ulong)ch * m;

    /* Pass 1: a first mean. Pass 2: deviations d = x - mean0; their sum
     * corrects the mean's rounding and the variance is the corrected
     * two-pass sum(d^2)/m - (sum(d)/m)^2 (Chan, Golub, LeVeque), with no
     * cancellation between large E[x^2] and E[x]^2. */
    float acc = 0.0f;
    for (ulong i = lid; i < m; i += L) acc += xr[i];
    const float mean0 = bn_reduce2(scratch, acc, 0.0f).x / (float)m;

    float sd = 0.0f, sdd = 0.0f;
    for (ulong i = lid; i < m; i += L) {
        float d = xr[i] - mean0;
        sd += d;
        sdd += d * d;
    }
    const float2 t = bn_reduce2(scratch, sd, sdd);
    const float corr = t.x / (float)m;
    const float mean = mean0 + corr;
    const float var = fmax(t.y / (float)m - corr * corr, 0.0f); /* biased */
    const float invstd = 1.0f / sqrt(var + eps);

    const float g = gamma[ch] * invstd, b = beta[ch];
    for (ulong i = lid; i < m; i += L) yr[i] = (xr[i] - mean) * g + b;

    if (lid == 0) {
        save_mean[ch] = mean;
        save_invstd[ch] = invstd;
        const float unbiased = var * ((float)m / (float)(m - 1));
        running_mean[ch] = (1.0f - momentum) * running_mean[ch] + momentum * mean;
        running_var[ch] = (1.0f - momentum) * running_var[ch] + momentum * unbiased;
    }
}

/* Evaluation: running statistics; 2-D range (element within row, channel). */
__kernel void bn_forward_eval(__global const float *x, __global const float *gamma, __global const float *beta,
                              __global const float *running_mean, __global const float *running_var,
                              __global float *y, const ulong m, const float eps)
{
    const ulong i = get_global_id(0);
    const int ch = get_global_id(1);
    if (i >= m) return;
    const float invstd = 1.0f / sqrt(running_var[ch] + eps);
    const ulong at = (ulong)ch * m + i;
    y[at] = (x[at] - running_mean[ch]) * (gamma[ch] * invstd) + beta[ch];
}

/* Backward: dbeta = sum(dy), dgamma = sum(dy * xhat),
 * dx = gamma * invstd * (dy - sum(dy)/m - xhat * sum(dy * xhat)/m).
 * dx may alias dy: every element is read and written by the same item, and
 * all reads of the first pass finish (barrier) before any write. */
__kernel void bn_backward(__global const float *x, __global const float *dy, __global const float *gamma,
                          __global const float *save_mean, __global const float *save_invstd, __global float *dx,
                          __global float *dgamma, __global float *dbeta, const ulong m, __local float *scratch)
{
    const int ch = get_group_id(0);
    const int lid = get_local_id(0), L = get_local_size(0);
    __global const float *xr = x + (ulong)ch * m;
    __global const float *dyr = dy + (ulong)ch * m;
    __global float *dxr = dx + (ulong)ch * m;
    const float mean = save_mean[ch], invstd = save_invstd[ch];

    float sdy = 0.0f, sdyx = 0.0f;
    for (ulong i = lid; i < m; i += L) {
        float g = dyr[i];
        sdy += g;
        sdyx += g * ((xr[i] - mean) * invstd);
    }
    const float2 t = bn_reduce2(scratch, sdy, sdyx);
    const float sum_dy = t.x, sum_dyx = t.y;
    if (lid == 0) {
        dbeta[ch] = sum_dy;
        dgamma[ch] = sum_dyx;
    }
    const float a = sum_dy / (float)m, b = sum_dyx / (float)m, k = gamma[ch] * invstd;
    for (ulong i = lid; i < m; i += L) {
        float xhat = (xr[i] - mean) * invstd;
        dxr[i] = k * (dyr[i] - a - xhat * b);
    }
}
