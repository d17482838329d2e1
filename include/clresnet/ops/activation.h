/* Activations, elementwise: ReLU (gradient 0 at exactly 0), LeakyReLU
 * (slope CRN_LEAKY_SLOPE), SiLU. Backward takes the forward INPUT x. The
 * kinds (crn_act_kind) are in clresnet/ops/constants.h, shared with the
 * kernels. */
#ifndef CLRESNET_ACTIVATION_H
#define CLRESNET_ACTIVATION_H

#include "clresnet/ops/constants.h"
#include "clresnet/ops/ops.h"
#include "clresnet/runtime/tensor.h"

/* "relu", "leaky", "silu"; returns -1 for anything else. */
int crn_act_parse(const char *name);
const char *crn_act_name(crn_act_kind k);

/* y = act(x) over n elements; y may alias x only if backward is not needed. */
int crn_act_forward(crn_ops *ops, crn_act_kind k, size_t n, const crn_tensor *x, crn_tensor *y, crn_error *err);

/* dx = act'(x) * dy; dx may alias dy. */
int crn_act_backward(crn_ops *ops, crn_act_kind k, size_t n, const crn_tensor *x, const crn_tensor *dy,
                     crn_tensor *dx, crn_error *err);

#endif
