/* Whether fma is fast on this device: the same dependent chains as fma()
 * and as a multiply then an add (src/ops/gemm.c times the two). A device
 * that does not report CL_FP_FMA may still have it in hardware (Intel's CPU
 * runtime) or emulate it in software (Mesa's llvmpipe, where one fma costs
 * tens of multiply-adds); the packed GEMM's plan depends on which. */
#pragma OPENCL FP_CONTRACT OFF

#define CHAINS(OP)                                                                                                     \
    const size_t i = get_global_id(0);                                                                                 \
    float x0 = out[i], x1 = x0 + 1.0f, x2 = x0 + 2.0f, x3 = x0 + 3.0f;                                                 \
    for (int k = 0; k < n; k++) {                                                                                      \
        x0 = OP(x0, a, b);                                                                                             \
        x1 = OP(x1, a, b);                                                                                             \
        x2 = OP(x2, a, b);                                                                                             \
        x3 = OP(x3, a, b);                                                                                             \
    }                                                                                                                  \
    out[i] = (x0 + x1) + (x2 + x3)

#define MUL_ADD(x, a, b) ((x) * (a) + (b))

__kernel void fma_chain(__global float *out, const int n, const float a, const float b) { CHAINS(fma); }

__kernel void mul_add_chain(__global float *out, const int n, const float a, const float b) { CHAINS(MUL_ADD); }
