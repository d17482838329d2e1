/* Elementwise helpers shared by every model: fills and linear combinations
 * of whole buffers. Bounds are checked: launches round the range up. */
#include "per_item.h"

__kernel void fill_f32(__global float *x, const float value, const int n)
{
    int i = get_global_id(0);
    if (i < n) x[i] = value;
}

/* y = a * x + b * y */
__kernel PER_ITEM void axpby_f32(__global const float *x, __global float *y, const float a, const float b, const int n)
{
    const int i = get_global_id(0) * 8; /* 8 elements a work-item */
    if (i + 8 <= n) {
        vstore8(a * vload8(0, x + i) + b * vload8(0, y + i), 0, y + i);
    } else {
        for (int j = i; j < n; j++) y[j] = a * x[j] + b * y[j];
    }
}

/* Split-K GEMM: out[i] = beta * out[i] + sum over s of part[s * n + i], the
 * partial products summed in a fixed order (deterministic). */
__kernel void splitk_reduce(__global const float *part, __global float *out, const int splits, const int n,
                            const float beta)
{
    int i = get_global_id(0);
    if (i >= n) return;
    float acc = 0.0f;
    for (int s = 0; s < splits; s++) acc += part[(size_t)s * n + i];
    out[i] = beta == 0.0f ? acc : beta * out[i] + acc;
}
