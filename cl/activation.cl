/* Activations: kind 0 ReLU, 1 LeakyReLU (slope 0.01), 2 SiLU (crn_act_kind).
 * Backward takes the forward input x. */

__kernel void act_forward(__global const float *x, __global float *y, const int kind, const int n)
{
    int i = get_global_id(0);
    if (i >= n) return;
    float v = x[i];
    float r;
    if (kind == 0) r = v > 0.0f ? v : 0.0f;
    else if (kind == 1) r = v > 0.0f ? v : 0.01f * v;
    else r = v / (1.0f + exp(-v));
    y[i] = r;
}

/* ReLU/Leaky: the gradient at exactly 0 takes the negative branch, as
 * PyTorch (threshold_backward with x > 0). SiLU: s * (1 + x * (1 - s)). */
__kernel void act_backward(__global const float *x, __global const float *dy, __global float *dx, const int kind,
                           const int n)
{
    int i = get_global_id(0);
    if (i >= n) return;
    float v = x[i], g = dy[i];
    float r;
    if (kind == 0) r = v > 0.0f ? g : 0.0f;
    else if (kind == 1) r = v > 0.0f ? g : 0.01f * g;
    else {
        float s = 1.0f / (1.0f + exp(-v));
        r = g * (s * (1.0f + v * (1.0f - s)));
    }
    dx[i] = r;
}
