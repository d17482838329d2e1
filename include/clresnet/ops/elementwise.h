/* Whole-buffer elementwise operations (cl/common.cl, cl/elementwise.cl). */
#ifndef CLRESNET_ELEMENTWISE_H
#define CLRESNET_ELEMENTWISE_H

#include "clresnet/ops/ops.h"
#include "clresnet/runtime/tensor.h"

/* x[i] = value for i < n */
int crn_fill(crn_ops *ops, crn_tensor *x, float value, size_t n, crn_error *err);

/* y = a * x + b * y over n elements (b = 1, a = 1: accumulate a gradient). */
int crn_axpby(crn_ops *ops, size_t n, float a, const crn_tensor *x, float b, crn_tensor *y, crn_error *err);

/* Residual add: y = a + b (y may alias a or b). */
int crn_add(crn_ops *ops, size_t n, const crn_tensor *a, const crn_tensor *b, crn_tensor *y, crn_error *err);

/* [n, c, hw] -> [c, n, hw], for input batches. */
int crn_nchw_to_cnhw(crn_ops *ops, int n, int c, int hw, const crn_tensor *x, crn_tensor *y, crn_error *err);

#endif
