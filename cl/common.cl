/* Elementwise helpers shared by every model: fills and linear combinations
 * of whole buffers. Bounds are checked: launches round the range up. */

__kernel void fill_f32(__global float *x, const float value, const int n)
{
    int i = get_global_id(0);
    if (i < n) x[i] = value;
}

/* y = a * x + b * y */
__kernel void axpby_f32(__global const float *x, __global float *y, const float a, const float b, const int n)
{
    int i = get_global_id(0);
    if (i < n) y[i] = a * x[i] + b * y[i];
}
