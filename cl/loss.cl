/* Softmax cross-entropy on class-major logits [k, n] (column j is sample j),
 * int labels [n]. One work item per sample; log-sum-exp after subtracting
 * the maximum, so logits of +-1000 stay finite. stats [2n]: each sample's
 * loss, then whether its first largest logit is its label (1 or 0), so that
 * a training step reads back one small buffer. */
__kernel void softmax_xent(__global const float *logits, __global const int *labels, __global float *stats,
                           __global float *dlogits, const int k, const int n, const int want_grad)
{
    const int j = get_global_id(0);
    if (j >= n) return;
    __global float *losses = stats;
    float mx = -INFINITY;
    int top = 0;
    for (int i = 0; i < k; i++) {
        const float v = logits[(ulong)i * n + j];
        mx = fmax(mx, v);
        if (v > logits[(ulong)top * n + j]) top = i;
    }
    float sum = 0.0f;
    for (int i = 0; i < k; i++) sum += exp(logits[(ulong)i * n + j] - mx);
    const int label = labels[j];
    stats[n + j] = top == label ? 1.0f : 0.0f;
    if (label < 0 || label >= k) { /* the caller's error: never read out of bounds */
        losses[j] = NAN;
        return;
    }
    const float lse = mx + log(sum);
    losses[j] = lse - logits[(ulong)label * n + j];
    if (!want_grad) return;
    const float inv_n = 1.0f / (float)n, inv_sum = 1.0f / sum;
    for (int i = 0; i < k; i++) {
        const ulong at = (ulong)i * n + j;
        float p = exp(logits[at] - mx) * inv_sum;
        dlogits[at] = (p - (i == label ? 1.0f : 0.0f)) * inv_n;
    }
}
