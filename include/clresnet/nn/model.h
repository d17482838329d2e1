/* The models of the seed experiment as graphs of layers on one device:
 * resnet50, plain50 and the baseline CNN, with PyTorch's tensor names
 * (tools/seed_torch.py builds the same graphs).
 * Parameters, their gradients live each in ONE device allocation with a
 * named view per tensor, so an optimiser step is a few kernel launches and
 * saving is a walk over the table. */
#ifndef CLRESNET_MODEL_H
#define CLRESNET_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clresnet/ops/activation.h"
#include "clresnet/ops/gemm_autotune.h"
#include "clresnet/ops/ops.h"
#include "clresnet/runtime/tensor.h"

/* resnet50: the seed report's graph (tools/seed_torch.py); resnet50-tv:
 * torchvision's ResNet50 ("v1.5": the stride on each first bottleneck's 3x3
 * convolution, torchvision's state-dict names), for its ImageNet weights,
 * and its other depths (18 and 34 with basic blocks, 101, 152). */
typedef enum crn_model_kind {
    CRN_MODEL_RESNET50,
    CRN_MODEL_PLAIN50,
    CRN_MODEL_BASELINE,
    CRN_MODEL_RESNET50_TV,
    CRN_MODEL_RESNET18_TV,
    CRN_MODEL_RESNET34_TV,
    CRN_MODEL_RESNET101_TV,
    CRN_MODEL_RESNET152_TV,
    CRN_MODEL_KIND_COUNT
} crn_model_kind;

typedef struct crn_model_config {
    crn_model_kind kind;
    crn_act_kind act;
    bool final_act;      /* false: --no-final-act (no activation after the residual add) */
    int classes;         /* 102 for Flowers-102 */
    int image_size;      /* square input, e.g. 64 or 224 */
    double width;        /* channel multiplier, 1 by default; channels = max(1, round(c * width)) */
    bool no_batchnorm;   /* true: --no-batchnorm, every BatchNorm left out (for exact data-parallel checks) */
    /* --freeze: how many stages, from the input on, are frozen (0: none;
     * crn_model_freeze_parse). A frozen layer's parameters get no gradient
     * and no update, its batch norms run in eval mode (running statistics
     * used, not updated), and its backward is not run at all. */
    int freeze;
} crn_model_config;

/* "resnet50", "plain50", "baseline", "resnet50-tv", "resnet18-tv",
 * "resnet34-tv", "resnet101-tv", "resnet152-tv"; -1 for anything else.
 * crn_model_names lists them all ("resnet50, plain50, ..."). */
int crn_model_parse(const char *name);
const char *crn_model_name(crn_model_kind k);
const char *crn_model_names(void);

/* The stage names --freeze takes for a model kind: "stem", "layer1" ..
 * "layer4" (torchvision's modules) for the ResNets, "layer1".."layer4" for
 * the baseline's four blocks. parse: the crn_model_config.freeze value that
 * freezes everything up to the end of `stage` (1..), -1 for a name the
 * model does not have; name: the stage of such a value, NULL for 0 or one
 * out of range. */
int crn_model_freeze_parse(crn_model_kind kind, const char *stage);
const char *crn_model_freeze_name(crn_model_kind kind, int freeze);

/* One named tensor of the state dict: a trainable parameter (with a gradient
 * view) or a buffer (BN running stats, num_batches_tracked). */
typedef struct crn_param {
    char name[96];        /* e.g. "block1.0.block.0.weight" */
    int ndim;
    size_t shape[4];
    size_t numel;
    bool trainable;
    size_t offset;        /* in floats, into the params (or buffers) allocation */
    crn_tensor value;     /* view */
    crn_tensor grad;      /* view into the gradient allocation (trainable only) */
    bool is_counter;      /* num_batches_tracked: kept on the host in `counter`, saved as I64, ndim 0 */
    long long counter;
} crn_param;

typedef struct crn_model crn_model;

/* Builds the graph for batches of up to max_batch images and allocates every
 * parameter, gradient and activation. */
int crn_model_create(crn_ops *ops, const crn_model_config *cfg, int max_batch, crn_model **out,
                     crn_error *err);
void crn_model_destroy(crn_model *m);

const crn_model_config *crn_model_get_config(const crn_model *m);
crn_runtime *crn_model_runtime(const crn_model *m);

/* Trainable parameter count (23,717,030 for resnet50 at 102 classes). */
size_t crn_model_param_count(const crn_model *m);

/* The state dict in PyTorch's order (parameters and buffers). */
int crn_model_tensor_count(const crn_model *m);
crn_param *crn_model_tensor(crn_model *m, int i);

/* The single allocations behind the trainable parameters and gradients
 * (n floats each, with alignment gaps kept at zero) for the optimiser. */
cl_mem crn_model_params_buffer(crn_model *m, size_t *n);
cl_mem crn_model_grads_buffer(crn_model *m, size_t *n);

/* Where the optimiser's parameter groups lie in the flat parameter buffer
 * (floats): [0, trained_from) is frozen (cfg.freeze; 0 without), [trained_from,
 * head_from) the rest of the backbone, [head_from, n) the classifier (the
 * last linear layer's weight and bias), for a separate head learning rate. */
void crn_model_param_groups(const crn_model *m, size_t *trained_from, size_t *head_from);

/* PyTorch's default initialisation of nn.Conv2d, nn.Linear and
 * nn.BatchNorm2d, from a seeded generator. */
int crn_model_init(crn_model *m, uint64_t seed, crn_error *err);

/* A step is enqueued without waiting for the device: forward, loss,
 * backward (and the optimiser) go into the queue, and one read at the end,
 * crn_model_read_loss, brings back what the host needs. The host arrays
 * handed to forward and loss must stay unchanged until that read (or
 * crn_model_read_logits, or crn_finish); a call that fails, and
 * crn_model_destroy, wait for what is queued, so they may go at once then. */

/* x: host batch, NCHW float [n, 3, size, size], already normalised. train
 * selects BatchNorm's mode. The logits [classes, n] stay on the device. */
int crn_model_forward(crn_model *m, const float *x_nchw, int n, bool train, crn_error *err);
const crn_tensor *crn_model_logits(const crn_model *m);

/* The loss of the last forward and the logits' gradient, for labels
 * (0-based) [n]; with backward, every parameter gradient (overwritten).
 * losses: NULL to enqueue only (read them later with crn_model_read_loss),
 * or an array [n] that receives them at once (a wait). */
int crn_model_loss(crn_model *m, const int32_t *labels, int n, float *losses, crn_error *err);

/* Waits for the queue and reads, for each of the n samples of the last
 * loss, its cross-entropy (losses[n]) and whether its first largest logit
 * is its label (correct[n], 0 or 1; may be NULL): one read of 2n floats. */
int crn_model_read_loss(crn_model *m, int n, float *losses, int32_t *correct, crn_error *err);
int crn_model_backward(crn_model *m, crn_error *err);

/* Bytes of device memory the model holds (parameters, gradients, buffers,
 * activations, gradient slots, workspace). */
size_t crn_model_device_bytes(const crn_model *m);

/* Index of the tensor called `name`, or -1. */
int crn_model_find(const crn_model *m, const char *name);

/* The allocation behind the BN running statistics (n floats). */
cl_mem crn_model_buffers_buffer(crn_model *m, size_t *n);

/* Channel count for a nominal count c at width w: max(1, round(c * w)),
 * rounding half to even as Python does. resnet50/plain50 scale the bottleneck
 * width b and use 4 * scaled(b) outputs; the stem uses scaled(64). */
int crn_model_scale_channels(int c, double width);

/* The distinct convolutions of the model cfg at batch n, with how many
 * layers have each, for the GEMM tuner (gemm_autotune.h): built on the host
 * only, no device memory. *work is malloc'd. */
int crn_model_conv_work(const crn_model_config *cfg, int n, crn_conv_work **work, int *count, crn_error *err);

/* Floating-point operations of the layers profiled under `tag` (e.g.
 * "conv3x3/1 fwd") at batch n: the GEMM work of convolutions and the linear
 * layer; 0 for memory-bound layers. For bench's GFLOP/s column. */
double crn_model_tag_flops(const crn_model *m, const char *tag, int n);

/* Host copies of the logits [n][classes] of the last forward (sample-major). */
int crn_model_read_logits(crn_model *m, int n, float *out, crn_error *err);

#endif
