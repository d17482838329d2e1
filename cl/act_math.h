/* The activations' formulas, shared by the activation kernels and the
 * batchnorm kernels that apply one on the way (included at embed time by
 * tools/embed_cl.py). kind: a crn_act_kind (clresnet/ops/constants.h),
 * CRN_ACT_NONE for none. The gradients take the forward input v; ReLU's
 * and Leaky's at exactly 0 take the negative branch, as PyTorch's
 * threshold_backward (v > 0). */
#include "clresnet/ops/constants.h"

static float act_apply(int kind, float v)
{
    if (kind == CRN_ACT_RELU) return v > 0.0f ? v : 0.0f;
    if (kind == CRN_ACT_LEAKY) return v > 0.0f ? v : CRN_LEAKY_SLOPE * v;
    if (kind == CRN_ACT_SILU) return v / (1.0f + exp(-v));
    return v;
}

static float act_grad(int kind, float v, float g)
{
    if (kind == CRN_ACT_RELU) return v > 0.0f ? g : 0.0f;
    if (kind == CRN_ACT_LEAKY) return v > 0.0f ? g : CRN_LEAKY_SLOPE * g;
    if (kind == CRN_ACT_SILU) {
        const float s = 1.0f / (1.0f + exp(-v));
        return g * (s * (1.0f + v * (1.0f - s)));
    }
    return g;
}

static float8 act_apply8(int kind, float8 v)
{
    if (kind == CRN_ACT_RELU) return select((float8)0.0f, v, v > 0.0f);
    if (kind == CRN_ACT_LEAKY) return select(CRN_LEAKY_SLOPE * v, v, v > 0.0f);
    if (kind == CRN_ACT_SILU) return v / (1.0f + exp(-v));
    return v;
}

static float8 act_grad8(int kind, float8 v, float8 g)
{
    if (kind == CRN_ACT_RELU) return select((float8)0.0f, g, v > 0.0f);
    if (kind == CRN_ACT_LEAKY) return select(CRN_LEAKY_SLOPE * g, g, v > 0.0f);
    if (kind == CRN_ACT_SILU) {
        const float8 s = 1.0f / (1.0f + exp(-v));
        return g * (s * (1.0f + v * (1.0f - s)));
    }
    return g;
}
