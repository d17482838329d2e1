/* The ops context: what every layer operation needs on one device besides
 * its tensors. It holds the kernel handles of the layer families (looked up
 * once, when it is created) and the GEMM's state: the tuned parameters in
 * use, the split-K workspace and the shape log that `tune` reads. Create one
 * per runtime after the runtime, destroy it before. */
#ifndef CLRESNET_OPS_OPS_H
#define CLRESNET_OPS_OPS_H

#include "clresnet/runtime/runtime.h"

typedef struct crn_ops crn_ops;

/* Choices that override what the ops pick for the device (debugging, and
 * tests of the other device kind's code paths). NULL or "" fields: the
 * device's choice. */
typedef struct crn_ops_options {
    const char *gemm;      /* "packed" or "clblast" */
    const char *bn_layout; /* "blocked" or "interleaved" */
} crn_ops_options;

/* Resolves every kernel the ops launch and applies the cached GEMM tuning
 * for this device, if there is one. opt may be NULL. */
int crn_ops_create_opts(crn_runtime *rt, const crn_ops_options *opt, crn_ops **out, crn_error *err);
int crn_ops_create(crn_runtime *rt, crn_ops **out, crn_error *err); /* no options */
void crn_ops_destroy(crn_ops *ops);

crn_runtime *crn_ops_runtime(const crn_ops *ops);

/* The GEMM configuration in use, for the start-up line: the tuned one with
 * its gain, or "" for the library's defaults. */
const char *crn_ops_gemm_desc(const crn_ops *ops);

#endif
