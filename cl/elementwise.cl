/* Elementwise helpers beyond common.cl: residual add and the input layout
 * conversion. */

/* y = a + b; y may alias a or b (each item reads then writes its element). */
__kernel void add_f32(__global const float *a, __global const float *b, __global float *y, const int n)
{
    int i = get_global_id(0);
    if (i < n) y[i] = a[i] + b[i];
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
