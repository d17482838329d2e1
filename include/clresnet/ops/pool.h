/* Pooling on channel-major activations [c, n, h, w]. */
#ifndef CLRESNET_POOL_H
#define CLRESNET_POOL_H

#include "clresnet/ops/ops.h"
#include "clresnet/runtime/tensor.h"

/* Max pooling (k x k, stride, pad; padding never wins). argmax [c, n, ho, wo]
 * (CRN_I32) records, per output, the input offset of the FIRST maximum in
 * the window (row-major window order), as PyTorch. */
int crn_maxpool_forward(crn_ops *ops, int c, int n, int h, int w, int k, int stride, int pad,
                        const crn_tensor *x, crn_tensor *y, crn_tensor *argmax, crn_error *err);

/* dx [c, n, h, w] overwritten: each input gathers the dy of the windows
 * whose argmax it is (no atomics, deterministic). */
int crn_maxpool_backward(crn_ops *ops, int c, int n, int h, int w, int k, int stride, int pad,
                         const crn_tensor *dy, const crn_tensor *argmax, crn_tensor *dx, crn_error *err);

/* Global average pooling: x [c, n, hw] -> y [c, n]. */
int crn_avgpool_global_forward(crn_ops *ops, int c, int n, int hw, const crn_tensor *x, crn_tensor *y,
                               crn_error *err);
int crn_avgpool_global_backward(crn_ops *ops, int c, int n, int hw, const crn_tensor *dy, crn_tensor *dx,
                                crn_error *err);

#endif
