/* The numbers the host code and the kernels share, each defined once. This
 * header is both C11 and OpenCL C: C files include it as usual, and a
 * kernel file's line #include "clresnet/ops/constants.h" is replaced by it
 * when the kernels are embedded (tools/embed_cl.py), so the device compiler
 * needs no include path. */
#ifndef CLRESNET_OPS_CONSTANTS_H
#define CLRESNET_OPS_CONSTANTS_H

/* BatchNorm2d's eps and running-statistics momentum: PyTorch's defaults
 * (https://pytorch.org/docs/stable/generated/torch.nn.BatchNorm2d.html),
 * used by the op, the layer table and the ONNX export. */
#define CRN_BN_EPS 1e-5f
#define CRN_BN_MOMENTUM 0.1f

/* LeakyReLU's negative slope: PyTorch's default negative_slope
 * (https://pytorch.org/docs/stable/generated/torch.nn.LeakyReLU.html). */
#define CRN_LEAKY_SLOPE 0.01f

/* The activation kinds, as the kernels' int argument kind (activation.cl)
 * or act (batchnorm.cl, where CRN_ACT_NONE means no folded activation). */
typedef enum crn_act_kind { CRN_ACT_NONE = -1, CRN_ACT_RELU = 0, CRN_ACT_LEAKY = 1, CRN_ACT_SILU = 2, CRN_ACT_COUNT = 3 } crn_act_kind;

#endif
