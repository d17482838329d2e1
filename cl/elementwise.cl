/* Elementwise helpers beyond common.cl: residual add and the input layout
 * conversion. */
#include "per_item.h"

/* y = a + b; y may alias a or b (each item reads then writes its element). */
/* 8 elements a work-item */
__kernel PER_ITEM void add_f32(__global const float *a, __global const float *b, __global float *y, const int n)
{
    const int i = get_global_id(0) * 8;
    if (i + 8 <= n) {
        vstore8(vload8(0, a + i) + vload8(0, b + i), 0, y + i);
    } else {
        for (int j = i; j < n; j++) y[j] = a[j] + b[j];
    }
}

/* x [n, c, hw] -> y [c, n, hw]; 2-D range (position in hw, row c * n + ni
 * of y). */
__kernel void nchw_to_cnhw(__global const float *x, __global float *y, const int n, const int c, const int hw)
{
    const int i = get_global_id(0), r = get_global_id(1);
    if (i >= hw || r >= c * n) return;
    const int ci = r / n, ni = r % n;
    y[(ulong)r * hw + i] = x[((ulong)ni * c + ci) * hw + i];
}
