/* The activations' formulas, shared by the activation kernels and the
 * batchnorm kernels that apply one on the way (included at embed time by
 * tools/embed_cl.py). kind: -1 none, 0 ReLU, 1 LeakyReLU (slope 0.01),
 * 2 SiLU (crn_act_kind). The gradients take the forward input v; ReLU's
 * and Leaky's at exactly 0 take the negative branch, as PyTorch's
 * threshold_backward (v > 0). */

static float act_apply(int kind, float v)
{
    if (kind == 0) return v > 0.0f ? v : 0.0f;
    if (kind == 1) return v > 0.0f ? v : 0.01f * v;
    if (kind == 2) return v / (1.0f + exp(-v));
    return v;
}

static float act_grad(int kind, float v, float g)
{
    if (kind == 0) return v > 0.0f ? g : 0.0f;
    if (kind == 1) return v > 0.0f ? g : 0.01f * g;
    if (kind == 2) {
        const float s = 1.0f / (1.0f + exp(-v));
        return g * (s * (1.0f + v * (1.0f - s)));
    }
    return g;
}

static float8 act_apply8(int kind, float8 v)
{
    if (kind == 0) return select((float8)0.0f, v, v > 0.0f);
    if (kind == 1) return select(0.01f * v, v, v > 0.0f);
    if (kind == 2) return v / (1.0f + exp(-v));
    return v;
}

static float8 act_grad8(int kind, float8 v, float8 g)
{
    if (kind == 0) return select((float8)0.0f, g, v > 0.0f);
    if (kind == 1) return select(0.01f * g, g, v > 0.0f);
    if (kind == 2) {
        const float8 s = 1.0f / (1.0f + exp(-v));
        return g * (s * (1.0f + v * (1.0f - s)));
    }
    return g;
}
