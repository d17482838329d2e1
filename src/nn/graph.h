/* The model's inside, shared by the files of src/nn/ only:
 *   graph.c      building a graph: activations, layers, named parameters
 *   models.c     the ResNet50, plain50 and baseline definitions
 *   layers.c     the table of layer kinds (what each kind does and needs)
 *   grad_plan.c  the backward pass planned once as a list of steps
 *   init.c       PyTorch's default initialisation
 *   exec.c       forward, loss and backward: walks the graph and the plan
 *   model.c      memory for it all, and the public accessors
 *   onnx_export.c  the inference graph as ONNX (protobuf-c)
 * Activations are channel-major [C, N, H, W] (docs/layout.md). */
#ifndef CLRESNET_NN_GRAPH_H
#define CLRESNET_NN_GRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "clresnet/nn/model.h"
#include "clresnet/ops/conv.h"

/* ------------------------------------------------------------ graph */

typedef enum layer_kind { L_CONV, L_BN, L_ACT, L_MAXPOOL, L_GAP, L_LINEAR, L_ADD, L_KIND_COUNT } layer_kind;

enum { LAYER_MAX_PARAMS = 5, LAYER_MAX_STATE = 2, MODEL_MAX_STAGES = 8 };

typedef struct act_info {
    int c, h, w;
    int alias;  /* -1: own buffer; otherwise the activation whose buffer this one reuses */
    cl_mem buf;
} act_info;

typedef struct layer {
    layer_kind kind;
    int in, in2, out;            /* activation ids (in2: a second input, e.g. the residual add's) */
    int p[LAYER_MAX_PARAMS];     /* parameter indices in the order of the kind's param_names; -1: none */
    crn_conv_desc conv;          /* convolutions */
    int k, stride, pad;          /* max pooling */
    crn_tensor state[LAYER_MAX_STATE]; /* kept from forward for backward (BN statistics, pooling argmax) */
    /* A batch norm and the activation right after it run as one (graph_fuse):
     * the BN applies the act (act_fused), the act layer runs nothing and
     * hands its gradient through (folded), and the two share one buffer. */
    bool act_fused, folded;
    /* --freeze: the layer's parameters get no gradient or update and a
     * batch norm runs in eval mode (model.c); the planner then leaves out
     * its backward (grad_plan.c: backward, and backward_dx when it also
     * computes its input's gradient). */
    bool frozen, backward, backward_dx;
    char tag_fwd[32], tag_bwd[32];     /* profiling labels, e.g. "conv3x3/2 fwd" */
} layer;

/* How a parameter starts (init.c). */
enum { INIT_NONE, INIT_KAIMING, INIT_BIAS, INIT_ONE, INIT_ZERO };

/* One step of the planned backward pass (grad_plan.c). Gradients live in
 * slots, each as large as the largest activation. */
typedef enum step_kind {
    STEP_LAYER, /* layer's backward: slot a holds dy, slot out receives dx (-1: none needed) */
    STEP_ACCUM, /* slot b += slot a */
    STEP_SUM,   /* slot out = slot a + slot b */
} step_kind;

typedef struct grad_step {
    step_kind kind;
    int layer;   /* the layer whose backward this belongs to (profiling tag; STEP_LAYER: the layer) */
    int act;     /* the activation whose gradient the slots hold (its size) */
    int a, b, out;
} grad_step;

struct crn_model {
    crn_ops *ops;
    crn_runtime *rt;
    crn_model_config cfg;
    int max_batch;

    crn_param *params;
    int *init_kind, *fan_in;
    int nparams, cap_params;

    act_info *acts;
    int nacts, cap_acts;
    layer *layers;
    int nlayers, cap_layers;

    cl_mem pbuf, gbuf, bbuf;  /* parameters, gradients, running stats */
    size_t np, nb;            /* floats in pbuf (= gbuf) and bbuf */
    /* The stages --freeze names (models.c): stage s ends before layer
     * stage_end[s]. Floats [0, trained_from) of pbuf are frozen parameters,
     * [head_from, np) the classifier's. */
    int stage_end[MODEL_MAX_STAGES];
    int nstages;
    size_t trained_from, head_from;
    size_t trainable;

    crn_tensor input_nchw, labels, losses; /* losses: the loss kernel's stats [2 * max_batch] */
    float *loss_host;                      /* their host copy */
    crn_workspace ws;

    grad_step *steps;         /* the backward pass, in order */
    int nsteps;
    cl_mem *slots;
    int nslots;

    int cur_n;
    bool have_forward, have_loss;
    crn_tensor logits_view;
    size_t bytes;
};

/* ------------------------------------------------------------ the layer table */

/* What a layer's forward or backward sees, for a batch of n images. */
typedef struct layer_io {
    int n;
    bool train;        /* forward: BatchNorm's mode */
    crn_tensor x, x2;  /* inputs (x2: the second input, if any) */
    crn_tensor y;      /* output */
    crn_tensor gy, dx; /* backward: the output's gradient; the input's (dx.buf NULL: not wanted) */
} layer_io;

typedef struct layer_state_desc {
    crn_dtype dtype;
    size_t numel;
} layer_state_desc;

/* The ONNX exporter's state (onnx_export.c). */
typedef struct onnx_exporter onnx_exporter;

/* A row per layer kind (LAYER_OPS, layers.c): everything that differs
 * between kinds. The executor, the planner, the fusion, memory planning,
 * profiling, FLOP counting and the ONNX export call through it, and
 * nothing else switches on the kind. Required in every row: name,
 * param_names, forward, backward (unless grad_passes_through) and onnx
 * (when built with ONNX); layer_table_check says which row lacks what.
 * NULL or false elsewhere means "none". */
typedef struct layer_ops {
    const char *name;
    const char *const *param_names;  /* NULL-terminated, PyTorch's order */
    /* Backward hands the output's gradient to every input unchanged (the
     * residual add): the planner aliases it, no kernel runs. */
    bool grad_passes_through;
    /* The layer is the model's activation alone, and graph_fuse may fold it
     * into the layer that produces its input when that layer's row
     * can_apply_act (forward applies the activation on its output when
     * l->act_fused, backward takes its gradient back). */
    bool is_activation, can_apply_act;
    int (*forward)(crn_model *m, layer *l, layer_io *io, crn_error *err);
    int (*backward)(crn_model *m, layer *l, layer_io *io, crn_error *err);
    /* State kept from forward for backward at max_batch: the count (<= LAYER_MAX_STATE). */
    int (*state)(const crn_model *m, const layer *l, int max_batch, layer_state_desc *out);
    size_t (*workspace_bytes)(const crn_model *m, const layer *l, int max_batch);
    /* Forward floating-point operations at batch n (GEMM work; 0 for memory-bound kinds). */
    double (*flops)(const crn_model *m, const layer *l, int n);
    /* The profiling family, e.g. "conv3x3/2"; NULL: the name. */
    void (*family)(const crn_model *m, const layer *l, char *buf, size_t size);
    /* The convolution the layer runs, whose GEMM shapes the plan is
     * measured on (crn_model_conv_work); NULL: none. */
    const crn_conv_desc *(*conv)(const layer *l);
    /* The layer's ONNX node(s) (onnx_export.c): x names the input value,
     * out the output's name (NULL: the node's); returns the output value's
     * name, NULL on failure. */
    const char *(*onnx)(onnx_exporter *e, const layer *l, const char *x, const char *out);
} layer_ops;

extern const layer_ops LAYER_OPS[];

/* Whether each of the n rows of a layer table has what every row needs
 * (see layer_ops); the first row that lacks something is an error naming
 * it. crn_model_create checks LAYER_OPS with it. */
int layer_table_check(const layer_ops *rows, int n, crn_error *err);

/* ONNX nodes of the layer kinds (onnx_export.c; built with ONNX only). */
const char *onnx_conv(onnx_exporter *e, const layer *l, const char *x, const char *out);
const char *onnx_bn(onnx_exporter *e, const layer *l, const char *x, const char *out);
const char *onnx_act(onnx_exporter *e, const layer *l, const char *x, const char *out);
const char *onnx_maxpool(onnx_exporter *e, const layer *l, const char *x, const char *out);
const char *onnx_gap(onnx_exporter *e, const layer *l, const char *x, const char *out);
const char *onnx_linear(onnx_exporter *e, const layer *l, const char *x, const char *out);
const char *onnx_add(onnx_exporter *e, const layer *l, const char *x, const char *out);

/* ------------------------------------------------------------ building (graph.c) */

typedef struct builder {
    crn_model *m;
    crn_error *err;
    int rc;
} builder;

int graph_input(builder *b, int c, int h, int w);
int graph_conv(builder *b, const char *name, int in, int cout, int k, int stride, int pad);
int graph_bn(builder *b, const char *name, int in);
int graph_act(builder *b, int in);
int graph_maxpool(builder *b, int in, int k, int stride, int pad);
int graph_gap(builder *b, int in);
int graph_linear(builder *b, const char *name, int in, int nout);
int graph_add(builder *b, int a, int r); /* a + r, in place into a's buffer */
/* Ends a stage that --freeze can name (models.c's STAGES), at the layers built so far. */
void graph_stage_end(builder *b);

/* The graph of m->cfg (models.c). */
int models_build(builder *b);

/* Folds every activation whose input is a batch norm's output read by
 * nothing else into that batch norm (graph.c), before memory is planned. */
void graph_fuse(crn_model *m);

/* The backward plan and the slot count (grad_plan.c). */
int grad_plan_build(crn_model *m, crn_error *err);

/* Profiling labels of every layer (exec.c). */
void exec_set_tags(crn_model *m);

/* model.c: waits for what is queued. Uploads read the caller's arrays, so a
 * step abandoned after an error (no final read) and destroy wait first. */
void model_drain(crn_model *m);

/* ------------------------------------------------------------ tensors of the current batch */

static inline size_t act_floats(const crn_model *m, int id, int n)
{
    const act_info *a = &m->acts[id];
    return (size_t)a->c * n * a->h * a->w;
}

static inline crn_tensor buf_tensor(cl_mem buf, size_t numel)
{
    crn_tensor t;
    memset(&t, 0, sizeof t);
    t.buf = buf;
    t.dtype = CRN_F32;
    t.ndim = 1;
    t.shape[0] = numel;
    t.numel = numel;
    return t;
}

/* Activation id at batch n, as [C, N, H, W]. */
static inline crn_tensor act_tensor(const crn_model *m, int id, int n)
{
    const act_info *a = &m->acts[id];
    crn_tensor t = buf_tensor(a->alias >= 0 ? m->acts[a->alias].buf : a->buf, act_floats(m, id, n));
    t.ndim = 4;
    t.shape[0] = (size_t)a->c, t.shape[1] = (size_t)n, t.shape[2] = (size_t)a->h, t.shape[3] = (size_t)a->w;
    return t;
}

#endif
