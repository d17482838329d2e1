/* BatchNorm2d on channel-major x [c, m]. Reductions run in two stages so
 * that every core (or compute unit) has work even with few channels: a 2-D
 * range (part, channel) sums float8 vectors of one part of a row into
 * partials, then one item per channel adds its partials in order. Each
 * vector lane keeps its own running sum, so the result depends only on the
 * part count and layout the host chose, never on scheduling: the same
 * inputs give bit-identical outputs on one device.
 *
 * A part's vectors are a contiguous block on CPUs (blocked = 1: streaming
 * reads, one core per block) or every parts-th vector on GPUs (blocked = 0:
 * neighbouring items read neighbouring memory). The m % 8 trailing values
 * go to part 0. The host bounds a part's length so that no lane adds more
 * than a few thousand values in sequence.
 *
 * act (act_math.h; -1 none) folds the activation that follows the batch
 * norm into it: forward writes act(z) for z = the normalised value, and
 * backward takes the activation's output gradient and recomputes z from x,
 * so z is never stored. */
#include "act_math.h"
#include "per_item.h"

/* The vectors [*first, *first + *count * *step) of part p, by layout. */
static void bn_part_range(int p, int parts, ulong nvec, int blocked, ulong *first, ulong *count, ulong *step)
{
    if (blocked) {
        const ulong per = (nvec + parts - 1) / parts;
        const ulong lo = (ulong)p * per;
        *first = lo;
        *step = 1;
        *count = lo >= nvec ? 0 : min(per, nvec - lo);
    } else {
        *first = p;
        *step = parts;
        *count = (ulong)p >= nvec ? 0 : (nvec - p + parts - 1) / parts;
    }
}

static float bn_hsum(float8 v)
{
    const float4 h = v.lo + v.hi;
    return (h.x + h.z) + (h.y + h.w);
}

/* Partial sums of d = x - shift[ch] and d*d (shift 0 unless centered);
 * part [c, parts, 2]. */
__kernel PER_ITEM void bn_partial_moments(__global const float *x, __global const float *shift, const int centered,
                                 __global float *part, const ulong m, const int parts, const int blocked)
{
    const int p = get_global_id(0), ch = get_global_id(1);
    if (p >= parts) return;
    __global const float *xr = x + (ulong)ch * m;
    const float s = centered ? shift[ch] : 0.0f;
    const ulong nvec = m / 8;
    ulong first, count, step;
    bn_part_range(p, parts, nvec, blocked, &first, &count, &step);

    float8 sd = 0.0f, sdd = 0.0f;
    for (ulong j = 0, v = first; j < count; j++, v += step) {
        const float8 d = vload8(v, xr) - s;
        sd += d;
        sdd = fma(d, d, sdd);
    }
    float a = bn_hsum(sd), b = bn_hsum(sdd);
    if (p == 0)
        for (ulong i = nvec * 8; i < m; i++) {
            const float d = xr[i] - s;
            a += d;
            b = fma(d, d, b);
        }
    __global float *out = part + ((ulong)ch * parts + p) * 2;
    out[0] = a;
    out[1] = b;
}

/* The first mean of each channel, into mean0 [c]. */
__kernel void bn_mean0(__global const float *part, const int parts, const ulong m, const int c,
                       __global float *mean0)
{
    const int ch = get_global_id(0);
    if (ch >= c) return;
    __global const float *pr = part + (ulong)ch * parts * 2;
    float s = 0.0f;
    for (int p = 0; p < parts; p++) s += pr[2 * p];
    mean0[ch] = s / (float)m;
}

/* From the sums of deviations d = x - mean0: the corrected two-pass
 * variance sum(d^2)/m - (sum(d)/m)^2 (Chan, Golub, LeVeque), with no
 * cancellation between large E[x^2] and E[x]^2, and the mean's rounding
 * corrected. mean_io holds mean0 on entry and the batch mean on return;
 * invstd [c] is kept for backward; running stats updated with the unbiased
 * variance. */
__kernel void bn_finalize(__global const float *part, const int parts, const ulong m, const int c,
                          __global float *mean_io, __global float *invstd, __global float *running_mean,
                          __global float *running_var, const float eps, const float momentum)
{
    const int ch = get_global_id(0);
    if (ch >= c) return;
    __global const float *pr = part + (ulong)ch * parts * 2;
    float sd = 0.0f, sdd = 0.0f;
    for (int p = 0; p < parts; p++) {
        sd += pr[2 * p];
        sdd += pr[2 * p + 1];
    }
    const float corr = sd / (float)m;
    const float mean = mean_io[ch] + corr;
    const float var = fmax(sdd / (float)m - corr * corr, 0.0f); /* biased */
    mean_io[ch] = mean;
    invstd[ch] = 1.0f / sqrt(var + eps);
    const float unbiased = var * ((float)m / (float)(m - 1));
    running_mean[ch] = (1.0f - momentum) * running_mean[ch] + momentum * mean;
    running_var[ch] = (1.0f - momentum) * running_var[ch] + momentum * unbiased;
}

/* y = act((x - mean) * gamma * invstd + beta); 2-D range (element within
 * row, channel). */
__kernel PER_ITEM void bn_normalize(__global const float *x, __global const float *gamma, __global const float *beta,
                           __global const float *mean, __global const float *invstd, __global float *y,
                           const ulong m, const int act)
{
    /* 8 elements a work-item: explicit vectors beat the implicit
     * vectoriser on these memory-bound passes */
    const ulong i = get_global_id(0) * 8;
    const int ch = get_global_id(1);
    if (i >= m) return;
    const float mu = mean[ch], k = gamma[ch] * invstd[ch], b = beta[ch];
    const ulong at = (ulong)ch * m + i;
    if (i + 8 <= m) {
        vstore8(act_apply8(act, (vload8(0, x + at) - mu) * k + b), 0, y + at);
    } else {
        for (ulong j = 0; j < m - i; j++) y[at + j] = act_apply(act, (x[at + j] - mu) * k + b);
    }
}

/* Evaluation: running statistics; 2-D range (element within row, channel). */
__kernel void bn_forward_eval(__global const float *x, __global const float *gamma, __global const float *beta,
                              __global const float *running_mean, __global const float *running_var,
                              __global float *y, const ulong m, const float eps, const int act)
{
    const ulong i = get_global_id(0);
    const int ch = get_global_id(1);
    if (i >= m) return;
    const float invstd = 1.0f / sqrt(running_var[ch] + eps);
    const ulong at = (ulong)ch * m + i;
    y[at] = act_apply(act, (x[at] - running_mean[ch]) * (gamma[ch] * invstd) + beta[ch]);
}

/* Backward, partial sums of dz and dz * xhat, where dz = dy (act -1) or
 * dy through the activation at the recomputed z; part [c, parts, 2]. */
__kernel PER_ITEM void bn_partial_grad(__global const float *x, __global const float *dy, __global const float *gamma,
                              __global const float *beta, __global const float *mean, __global const float *invstd,
                              __global float *part, const ulong m, const int parts, const int blocked, const int act)
{
    const int p = get_global_id(0), ch = get_global_id(1);
    if (p >= parts) return;
    __global const float *xr = x + (ulong)ch * m;
    __global const float *dyr = dy + (ulong)ch * m;
    const float mu = mean[ch], is = invstd[ch], k = gamma[ch] * is, b = beta[ch];
    const ulong nvec = m / 8;
    ulong first, count, step;
    bn_part_range(p, parts, nvec, blocked, &first, &count, &step);

    float8 sdz = 0.0f, sdzx = 0.0f;
    for (ulong j = 0, v = first; j < count; j++, v += step) {
        const float8 d = vload8(v, xr) - mu;
        const float8 g = act_grad8(act, d * k + b, vload8(v, dyr));
        sdz += g;
        sdzx = fma(g, d * is, sdzx);
    }
    float a = bn_hsum(sdz), c = bn_hsum(sdzx);
    if (p == 0)
        for (ulong i = nvec * 8; i < m; i++) {
            const float d = xr[i] - mu;
            const float g = act_grad(act, d * k + b, dyr[i]);
            a += g;
            c = fma(g, d * is, c);
        }
    __global float *out = part + ((ulong)ch * parts + p) * 2;
    out[0] = a;
    out[1] = c;
}

/* dbeta = sum(dy), dgamma = sum(dy * xhat), from the partials. */
__kernel void bn_finalize_grad(__global const float *part, const int parts, const int c, __global float *dgamma,
                               __global float *dbeta)
{
    const int ch = get_global_id(0);
    if (ch >= c) return;
    __global const float *pr = part + (ulong)ch * parts * 2;
    float a = 0.0f, b = 0.0f;
    for (int p = 0; p < parts; p++) {
        a += pr[2 * p];
        b += pr[2 * p + 1];
    }
    dbeta[ch] = a;
    dgamma[ch] = b;
}

/* dx = gamma * invstd * (dz - dbeta/m - xhat * dgamma/m), dz as in
 * bn_partial_grad; 2-D range (element within row, channel). dx may alias
 * dy: each element is read and written by the same item. */
__kernel PER_ITEM void bn_backward_dx(__global const float *x, __global const float *dy, __global const float *gamma,
                             __global const float *beta, __global const float *mean, __global const float *invstd,
                             __global const float *dgamma, __global const float *dbeta, __global float *dx,
                             const ulong m, const int act)
{
    const ulong i = get_global_id(0) * 8; /* 8 elements a work-item, as bn_normalize */
    const int ch = get_global_id(1);
    if (i >= m) return;
    const float is = invstd[ch], mu = mean[ch], be = beta[ch];
    const float a = dbeta[ch] / (float)m, b = dgamma[ch] / (float)m, k = gamma[ch] * is;
    const ulong at = (ulong)ch * m + i;
    if (i + 8 <= m) {
        const float8 d = vload8(0, x + at) - mu;
        const float8 g = act_grad8(act, d * k + be, vload8(0, dy + at));
        vstore8(k * (g - a - d * is * b), 0, dx + at);
    } else {
        for (ulong j = 0; j < m - i; j++) {
            const float d = x[at + j] - mu;
            const float g = act_grad(act, d * k + be, dy[at + j]);
            dx[at + j] = k * (g - a - d * is * b);
        }
    }
}
