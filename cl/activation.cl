/* Activations: kind a crn_act_kind (ReLU, LeakyReLU, SiLU; act_math.h).
 * Backward takes the forward input x. */
#include "act_math.h"
#include "per_item.h"

/* 8 elements a work-item (explicit vectors: these passes are memory-bound) */
__kernel PER_ITEM void act_forward(__global const float *x, __global float *y, const int kind, const int n)
{
    const int i = get_global_id(0) * 8;
    if (i + 8 <= n) {
        vstore8(act_apply8(kind, vload8(0, x + i)), 0, y + i);
    } else {
        for (int j = i; j < n; j++) y[j] = act_apply(kind, x[j]);
    }
}

__kernel PER_ITEM void act_backward(__global const float *x, __global const float *dy, __global float *dx, const int kind,
                           const int n)
{
    const int i = get_global_id(0) * 8;
    if (i + 8 <= n) {
        vstore8(act_grad8(kind, vload8(0, x + i), vload8(0, dy + i)), 0, dx + i);
    } else {
        for (int j = i; j < n; j++) dx[j] = act_grad(kind, x[j], dy[j]);
    }
}
