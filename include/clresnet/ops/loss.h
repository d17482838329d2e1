/* Softmax cross-entropy (PyTorch's CrossEntropyLoss, mean over the batch) on
 * class-major logits [k, n], labels (CRN_I32, 0-based) [n]. */
#ifndef CLRESNET_LOSS_H
#define CLRESNET_LOSS_H

#include "clresnet/ops/ops.h"
#include "clresnet/runtime/tensor.h"

/* stats [2n]: each sample's -log softmax(logits)[label] (numerically
 * stable), then 1 where the sample's first largest logit is its label, else
 * 0; dlogits [k, n] = (softmax - onehot) / n (NULL to skip). The mean is
 * crn_loss_mean of the downloaded losses, so it is summed in a fixed order.
 * A label outside 0..k-1 is the caller's error (the data layer checks). */
int crn_softmax_xent(crn_ops *ops, int k, int n, const crn_tensor *logits, const crn_tensor *labels,
                     crn_tensor *stats, crn_tensor *dlogits, crn_error *err);

/* Mean of n host losses, accumulated in double, in order. */
double crn_loss_mean(const float *losses, int n);

#endif
