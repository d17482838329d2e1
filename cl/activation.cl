/* Activations: kind 0 ReLU, 1 LeakyReLU (slope 0.01), 2 SiLU (crn_act_kind).
 * Backward takes the forward input x. */
#include "act_math.h"

__kernel void act_forward(__global const float *x, __global float *y, const int kind, const int n)
{
    int i = get_global_id(0);
    if (i >= n) return;
    y[i] = act_apply(kind, x[i]);
}

__kernel void act_backward(__global const float *x, __global const float *dy, __global float *dx, const int kind,
                           const int n)
{
    int i = get_global_id(0);
    if (i >= n) return;
    dx[i] = act_grad(kind, x[i], dy[i]);
}
