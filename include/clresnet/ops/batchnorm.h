/* BatchNorm2d as PyTorch on channel-major activations x [c, m] with
 * m = n*h*w: eps CRN_BN_EPS (1e-5); training normalises with the biased
 * batch variance and updates running_mean/var with momentum
 * CRN_BN_MOMENTUM (0.1) and the unbiased variance;
 * evaluation uses the running statistics. Reductions run in a fixed order:
 * the same inputs give bit-identical outputs on the same device. */
#ifndef CLRESNET_BATCHNORM_H
#define CLRESNET_BATCHNORM_H

#include <stdbool.h>

#include "clresnet/ops/activation.h"
#include "clresnet/ops/ops.h"
#include "clresnet/runtime/tensor.h"

typedef struct crn_bn_params {
    float eps;       /* CRN_BN_EPS */
    float momentum;  /* CRN_BN_MOMENTUM */
    /* The activation that follows, folded in: forward writes act(bn(x)),
     * backward takes act's output gradient and recomputes bn(x) from x, so
     * the normalised tensor is never stored. */
    bool fuse_act;
    crn_act_kind act;
} crn_bn_params;

/* Training mode: y = (x - mean) * invstd * gamma + beta (then act, when
 * fused); save_mean and save_invstd [c] are kept for backward; running
 * stats updated in place. p may be NULL: PyTorch's defaults, no act. */
int crn_batchnorm_forward_train(crn_ops *ops, const crn_bn_params *p, int c, size_t m, const crn_tensor *x,
                                const crn_tensor *gamma, const crn_tensor *beta, crn_tensor *running_mean,
                                crn_tensor *running_var, crn_tensor *y, crn_tensor *save_mean,
                                crn_tensor *save_invstd, crn_error *err);

int crn_batchnorm_forward_eval(crn_ops *ops, const crn_bn_params *p, int c, size_t m, const crn_tensor *x,
                               const crn_tensor *gamma, const crn_tensor *beta, const crn_tensor *running_mean,
                               const crn_tensor *running_var, crn_tensor *y, crn_error *err);

/* dx [c, m], dgamma and dbeta [c]: overwritten. dx may alias dy. With a
 * fused act, dy is the activation's output gradient. */
int crn_batchnorm_backward(crn_ops *ops, const crn_bn_params *p, int c, size_t m, const crn_tensor *x,
                           const crn_tensor *dy, const crn_tensor *gamma, const crn_tensor *beta,
                           const crn_tensor *save_mean, const crn_tensor *save_invstd, crn_tensor *dx,
                           crn_tensor *dgamma, crn_tensor *dbeta, crn_error *err);

#endif
