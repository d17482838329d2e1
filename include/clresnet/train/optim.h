/* Optimisers with PyTorch's exact update rules (torch/optim/nadam.py,
 * adam.py, sgd.py), over one flat parameter and gradient buffer. */
#ifndef CLRESNET_OPTIM_H
#define CLRESNET_OPTIM_H

#include <stdbool.h>
#include <stddef.h>

#include "clresnet/runtime/tensor.h"

typedef enum crn_optim_kind { CRN_OPT_NADAM, CRN_OPT_ADAM, CRN_OPT_SGD } crn_optim_kind;

typedef struct crn_optim_config {
    crn_optim_kind kind;
    double lr;              /* 1e-3 */
    double beta1, beta2;    /* 0.9, 0.999 */
    double eps;             /* 1e-8 */
    double weight_decay;    /* 1e-4, L2 added to the gradient */
    double momentum_decay;  /* NAdam: 4e-3 */
    double momentum;        /* SGD: 0.9 */
    /* NAdam: true (default) reproduces torch 1.13's mu_product_next =
     * mu_product * mu * mu_next (mu counted twice, fixed in torch 2.0);
     * false uses mu_product * mu_next as later versions do. */
    bool nadam_torch113;
} crn_optim_config;

/* The seed protocol's defaults for the given kind: lr 1e-3 (SGD 1e-2,
 * momentum 0.9), betas 0.9/0.999, eps 1e-8, weight decay 1e-4, momentum
 * decay 4e-3. */
crn_optim_config crn_optim_defaults(crn_optim_kind kind);
int crn_optim_parse(const char *name); /* "nadam", "adam", "sgd"; -1 otherwise */
const char *crn_optim_name(crn_optim_kind k);

typedef struct crn_optimizer crn_optimizer;

int crn_optim_create(crn_runtime *rt, const crn_optim_config *cfg, size_t n, crn_optimizer **out,
                     crn_error *err);
void crn_optim_destroy(crn_optimizer *o);

const crn_optim_config *crn_optim_get_config(const crn_optimizer *o);

/* Parameter groups, as PyTorch's param_groups: floats [begin, end) of the
 * flat buffers, each at its own learning rate (fine-tuning: the backbone
 * and the classifier). Floats outside every group are not touched: frozen
 * parameters keep their values, and their moments stay zero. By default
 * one group, [0, n) at cfg->lr; groups must be in order and not overlap. */
typedef struct crn_optim_group {
    size_t begin, end;
    double lr;
} crn_optim_group;

enum { CRN_OPTIM_MAX_GROUPS = 2 };

int crn_optim_set_groups(crn_optimizer *o, const crn_optim_group *groups, int count, crn_error *err);
int crn_optim_group_count(const crn_optimizer *o);

/* A group's learning rate can change between steps (ReduceLROnPlateau). */
void crn_optim_set_lr(crn_optimizer *o, int group, double lr);
double crn_optim_get_lr(const crn_optimizer *o, int group);

/* One step over the groups' floats of params, using grads. */
int crn_optim_step(crn_optimizer *o, cl_mem params, cl_mem grads, crn_error *err);

/* State for checkpoints: the step count, NAdam's mu_product, and the device
 * moment buffers (exp_avg, exp_avg_sq or momentum_buffer), each n floats. */
typedef struct crn_optim_state {
    long long step;
    double mu_product;
    int buffer_count;       /* 2 for Adam/NAdam, 1 for SGD with momentum */
    cl_mem buffers[2];
    const char *buffer_names[2];
} crn_optim_state;

void crn_optim_get_state(crn_optimizer *o, crn_optim_state *s);
void crn_optim_set_counters(crn_optimizer *o, long long step, double mu_product);

#endif
