/* BatchNorm2d as PyTorch on channel-major activations x [c, m] with
 * m = n*h*w: eps 1e-5; training normalises with the biased batch variance
 * and updates running_mean/var with momentum 0.1 and the unbiased variance;
 * evaluation uses the running statistics. Reductions run in a fixed order:
 * the same inputs give bit-identical outputs on the same device. */
#ifndef CLRESNET_BATCHNORM_H
#define CLRESNET_BATCHNORM_H

#include "clresnet/ops/ops.h"
#include "clresnet/runtime/tensor.h"

typedef struct crn_bn_params {
    float eps;       /* 1e-5 */
    float momentum;  /* 0.1 */
} crn_bn_params;

/* Training mode: y = (x - mean) * invstd * gamma + beta; save_mean and
 * save_invstd [c] are kept for backward; running stats updated in place. */
int crn_batchnorm_forward_train(crn_ops *ops, const crn_bn_params *p, int c, size_t m, const crn_tensor *x,
                                const crn_tensor *gamma, const crn_tensor *beta, crn_tensor *running_mean,
                                crn_tensor *running_var, crn_tensor *y, crn_tensor *save_mean,
                                crn_tensor *save_invstd, crn_error *err);

int crn_batchnorm_forward_eval(crn_ops *ops, const crn_bn_params *p, int c, size_t m, const crn_tensor *x,
                               const crn_tensor *gamma, const crn_tensor *beta, const crn_tensor *running_mean,
                               const crn_tensor *running_var, crn_tensor *y, crn_error *err);

/* dx [c, m], dgamma and dbeta [c]: overwritten. dx may alias dy. */
int crn_batchnorm_backward(crn_ops *ops, int c, size_t m, const crn_tensor *x, const crn_tensor *dy,
                           const crn_tensor *gamma, const crn_tensor *save_mean, const crn_tensor *save_invstd,
                           crn_tensor *dx, crn_tensor *dgamma, crn_tensor *dbeta, crn_error *err);

#endif
