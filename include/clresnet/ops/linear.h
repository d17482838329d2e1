/* Fully connected layer on channel-major features: x [in, n] (what global
 * average pooling produces), weight [out, in] (PyTorch's layout), bias [out],
 * y [out, n] = weight * x + bias. */
#ifndef CLRESNET_LINEAR_H
#define CLRESNET_LINEAR_H

#include "clresnet/ops/ops.h"
#include "clresnet/runtime/tensor.h"

int crn_linear_forward(crn_ops *ops, int in, int out, int n, const crn_tensor *x, const crn_tensor *weight,
                       const crn_tensor *bias, crn_tensor *y, crn_error *err);

/* dx [in, n] (NULL to skip), dweight [out, in], dbias [out]: overwritten.
 * dbias sums dy over the batch in a fixed order (deterministic). */
int crn_linear_backward(crn_ops *ops, int in, int out, int n, const crn_tensor *x, const crn_tensor *weight,
                        const crn_tensor *dy, crn_tensor *dx, crn_tensor *dweight, crn_tensor *dbias,
                        crn_error *err);

#endif
