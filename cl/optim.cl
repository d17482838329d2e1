/* Optimiser updates over one flat parameter buffer (src/train/optim.c), with
 * PyTorch's arithmetic (torch/optim/nadam.py, adam.py, sgd.py, torch 1.13):
 * the per-step scalar factors (and 1 - beta, as Python computes them) are
 * computed on the host in double and passed in as floats; each element is
 * independent, so the update is one launch per parameter group, over the
 * elements [begin, end) of the buffers (frozen parameters lie outside).
 *
 * Indices are size_t straight from get_global_id: compilers that vectorise
 * across work-items (Intel's CPU runtime) then see consecutive addresses and
 * emit vector loads; an int index (truncated, then sign-extended) made them
 * gather and scatter, 4x slower on NAdam (docs/portability.md). */

/* The moments Adam and NAdam share, for element i: g = grad + wd * p,
 * m = b1*m + (1-b1)*g, v = b2*v + (1-b2)*g*g, stored; returns p[i]. */
inline float adam_moments(__global const float *p, __global const float *grad, __global float *m, __global float *v,
                          const size_t i, const float wd, const float beta1, const float beta2, const float omb1,
                          const float omb2, float *g, float *mi, float *vi)
{
    const float pi = p[i];
    *g = grad[i];
    if (wd != 0.0f) *g = *g + wd * pi;
    *mi = m[i] * beta1 + omb1 * *g;
    *vi = v[i] * beta2 + omb2 * (*g * *g);
    m[i] = *mi;
    v[i] = *vi;
    return pi;
}

/* NAdam: denom = sqrt(v / bc2) + eps; p -= c_grad * g / denom + c_avg * m / denom. */
__kernel void nadam_step(__global float *p, __global const float *grad, __global float *m, __global float *v,
                         const int begin, const int end, const float wd, const float beta1, const float beta2, const float omb1, const float omb2, const float bc2,
                         const float eps, const float c_grad, const float c_avg)
{
    const size_t i = (size_t)begin + get_global_id(0);
    if (i >= (size_t)end) return;
    float g, mi, vi;
    float pi = adam_moments(p, grad, m, v, i, wd, beta1, beta2, omb1, omb2, &g, &mi, &vi);
    float denom = sqrt(vi / bc2) + eps;
    pi = pi - c_grad * (g / denom);
    pi = pi - c_avg * (mi / denom);
    p[i] = pi;
}

/* Adam: denom = sqrt(v) / sqrt(bc2) + eps; p -= step_size * m / denom. */
__kernel void adam_step(__global float *p, __global const float *grad, __global float *m, __global float *v,
                        const int begin, const int end, const float wd, const float beta1, const float beta2, const float omb1, const float omb2, const float sqrt_bc2,
                        const float eps, const float step_size)
{
    const size_t i = (size_t)begin + get_global_id(0);
    if (i >= (size_t)end) return;
    float g, mi, vi;
    const float pi = adam_moments(p, grad, m, v, i, wd, beta1, beta2, omb1, omb2, &g, &mi, &vi);
    float denom = sqrt(vi) / sqrt_bc2 + eps;
    p[i] = pi - step_size * (mi / denom);
}

/* SGD with momentum (dampening 0, no Nesterov): the first step copies the
 * gradient into the buffer, as PyTorch does; momentum 0 skips the buffer. */
__kernel void sgd_step(__global float *p, __global const float *grad, __global float *buf, const int begin,
                       const int end, const float wd, const float momentum, const float lr, const int first)
{
    const size_t i = (size_t)begin + get_global_id(0);
    if (i >= (size_t)end) return;
    float pi = p[i];
    float g = grad[i];
    if (wd != 0.0f) g = g + wd * pi;
    if (momentum != 0.0f) {
        float b = first ? g : buf[i] * momentum + g;
        buf[i] = b;
        g = b;
    }
    p[i] = pi - lr * g;
}
