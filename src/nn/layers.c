/* The table of layer kinds: one row per kind with its parameter names,
 * forward and backward (thin adapters from the graph's view to the ops of
 * src/ops/), the state it keeps for backward, its workspace, its FLOPs, its
 * profiling family, its part in fusion, the convolution it runs and its
 * ONNX node(s). Adding a layer kind is a value in layer_kind (graph.h), a
 * row here, its op file in src/ops/ and a graph_* builder in graph.c
 * (docs/layout.md, "How to add a layer kind"). */
#include <stdio.h>

#include "clresnet/ops/batchnorm.h"
#include "clresnet/ops/elementwise.h"
#include "clresnet/ops/linear.h"
#include "clresnet/ops/pool.h"
#include "graph.h"

static const crn_param *param(const crn_model *m, const layer *l, int j) { return &m->params[l->p[j]]; }
static const act_info *in_shape(const crn_model *m, const layer *l) { return &m->acts[l->in]; }
static const act_info *out_shape(const crn_model *m, const layer *l) { return &m->acts[l->out]; }

/* ------------------------------------------------------------ convolution */

static int conv_forward(crn_model *m, layer *l, layer_io *io, crn_error *err)
{
    const act_info *a = in_shape(m, l);
    return crn_conv2d_forward(m->ops, &l->conv, io->n, a->h, a->w, &io->x, &param(m, l, 0)->value, NULL,
                              &io->y, &m->ws, err);
}

static int conv_backward(crn_model *m, layer *l, layer_io *io, crn_error *err)
{
    const act_info *a = in_shape(m, l);
    crn_param *w = &m->params[l->p[0]];
    return crn_conv2d_backward(m->ops, &l->conv, io->n, a->h, a->w, &io->x, &w->value, &io->gy,
                               io->dx.buf ? &io->dx : NULL, &w->grad, NULL, &m->ws, err);
}

static size_t conv_workspace(const crn_model *m, const layer *l, int max_batch)
{
    const act_info *a = in_shape(m, l);
    return crn_conv_workspace_bytes(m->ops, &l->conv, max_batch, a->h, a->w);
}

static const crn_conv_desc *conv_desc(const layer *l) { return &l->conv; }

static double conv_flops(const crn_model *m, const layer *l, int n)
{
    const act_info *o = out_shape(m, l);
    return 2.0 * l->conv.cout * l->conv.cin * l->conv.kh * l->conv.kw * (double)o->h * o->w * n;
}

static void conv_family(const crn_model *m, const layer *l, char *buf, size_t size)
{
    (void)m;
    snprintf(buf, size, "conv%dx%d/%d", l->conv.kh, l->conv.kw, l->conv.stride);
}

/* ------------------------------------------------------------ batch norm */

enum { BN_WEIGHT, BN_BIAS, BN_MEAN, BN_VAR, BN_COUNT };

/* PyTorch's BatchNorm2d defaults, and the model's activation when the
 * layer after this one was folded into it. */
static crn_bn_params bn_params(const crn_model *m, const layer *l)
{
    return (crn_bn_params){CRN_BN_EPS, CRN_BN_MOMENTUM, l->act_fused, m->cfg.act};
}

static int bn_forward(crn_model *m, layer *l, layer_io *io, crn_error *err)
{
    const act_info *a = in_shape(m, l);
    size_t rows = (size_t)io->n * a->h * a->w;
    const crn_bn_params bp = bn_params(m, l);
    const crn_tensor *g = &param(m, l, BN_WEIGHT)->value, *b = &param(m, l, BN_BIAS)->value;
    crn_tensor *rm = &m->params[l->p[BN_MEAN]].value, *rv = &m->params[l->p[BN_VAR]].value;
    if (!io->train)
        return crn_batchnorm_forward_eval(m->ops, &bp, a->c, rows, &io->x, g, b, rm, rv, &io->y, err);
    int rc = crn_batchnorm_forward_train(m->ops, &bp, a->c, rows, &io->x, g, b, rm, rv, &io->y,
                                         &l->state[0], &l->state[1], err);
    if (rc == CRN_OK) m->params[l->p[BN_COUNT]].counter++;
    return rc;
}

static int bn_backward(crn_model *m, layer *l, layer_io *io, crn_error *err)
{
    const act_info *a = in_shape(m, l);
    const crn_bn_params bp = bn_params(m, l);
    crn_param *g = &m->params[l->p[BN_WEIGHT]], *b = &m->params[l->p[BN_BIAS]];
    return crn_batchnorm_backward(m->ops, &bp, a->c, (size_t)io->n * a->h * a->w, &io->x, &io->gy, &g->value,
                                  &b->value, &l->state[0], &l->state[1], &io->dx, &g->grad, &b->grad, err);
}

static void bn_family(const crn_model *m, const layer *l, char *buf, size_t size)
{
    if (l->act_fused) snprintf(buf, size, "batchnorm+%s", crn_act_name(m->cfg.act));
    else snprintf(buf, size, "batchnorm");
}

/* the batch mean and inverse standard deviation per channel */
static int bn_state(const crn_model *m, const layer *l, int max_batch, layer_state_desc *out)
{
    (void)max_batch;
    out[0] = out[1] = (layer_state_desc){CRN_F32, (size_t)in_shape(m, l)->c};
    return 2;
}

/* ------------------------------------------------------------ activation */

static int act_forward(crn_model *m, layer *l, layer_io *io, crn_error *err)
{
    (void)l;
    return crn_act_forward(m->ops, m->cfg.act, io->x.numel, &io->x, &io->y, err);
}

static int act_backward(crn_model *m, layer *l, layer_io *io, crn_error *err)
{
    (void)l;
    return crn_act_backward(m->ops, m->cfg.act, io->x.numel, &io->x, &io->gy, &io->dx, err);
}

static void act_family(const crn_model *m, const layer *l, char *buf, size_t size)
{
    (void)l;
    snprintf(buf, size, "%s", crn_act_name(m->cfg.act));
}

/* ------------------------------------------------------------ pooling */

static int maxpool_forward(crn_model *m, layer *l, layer_io *io, crn_error *err)
{
    const act_info *a = in_shape(m, l);
    return crn_maxpool_forward(m->ops, a->c, io->n, a->h, a->w, l->k, l->stride, l->pad, &io->x,
                               &io->y, &l->state[0], err);
}

static int maxpool_backward(crn_model *m, layer *l, layer_io *io, crn_error *err)
{
    const act_info *a = in_shape(m, l);
    return crn_maxpool_backward(m->ops, a->c, io->n, a->h, a->w, l->k, l->stride, l->pad, &io->gy, &l->state[0],
                                &io->dx, err);
}

/* the argmax of every output */
static int maxpool_state(const crn_model *m, const layer *l, int max_batch, layer_state_desc *out)
{
    out[0] = (layer_state_desc){CRN_I32, act_floats(m, l->out, max_batch)};
    return 1;
}

static void maxpool_family(const crn_model *m, const layer *l, char *buf, size_t size)
{
    (void)m;
    snprintf(buf, size, "maxpool%dx%d", l->k, l->k);
}

static int gap_forward(crn_model *m, layer *l, layer_io *io, crn_error *err)
{
    const act_info *a = in_shape(m, l);
    return crn_avgpool_global_forward(m->ops, a->c, io->n, a->h * a->w, &io->x, &io->y, err);
}

static int gap_backward(crn_model *m, layer *l, layer_io *io, crn_error *err)
{
    const act_info *a = in_shape(m, l);
    return crn_avgpool_global_backward(m->ops, a->c, io->n, a->h * a->w, &io->gy, &io->dx, err);
}

/* ------------------------------------------------------------ linear */

static int linear_forward(crn_model *m, layer *l, layer_io *io, crn_error *err)
{
    return crn_linear_forward(m->ops, in_shape(m, l)->c, out_shape(m, l)->c, io->n, &io->x, &param(m, l, 0)->value,
                              &param(m, l, 1)->value, &io->y, err);
}

static int linear_backward(crn_model *m, layer *l, layer_io *io, crn_error *err)
{
    crn_param *w = &m->params[l->p[0]], *b = &m->params[l->p[1]];
    return crn_linear_backward(m->ops, in_shape(m, l)->c, out_shape(m, l)->c, io->n, &io->x, &w->value, &io->gy,
                               io->dx.buf ? &io->dx : NULL, &w->grad, &b->grad, err);
}

static double linear_flops(const crn_model *m, const layer *l, int n)
{
    return 2.0 * in_shape(m, l)->c * out_shape(m, l)->c * (double)n;
}

/* ------------------------------------------------------------ residual add */

static int add_forward(crn_model *m, layer *l, layer_io *io, crn_error *err)
{
    (void)l;
    return crn_add(m->ops, io->x.numel, &io->x, &io->x2, &io->y, err);
}

/* ------------------------------------------------------------ the table */

static const char *const NO_PARAMS[] = {NULL};
static const char *const WEIGHT[] = {"weight", NULL};
static const char *const WEIGHT_BIAS[] = {"weight", "bias", NULL};
static const char *const BN_PARAMS[] = {"weight", "bias", "running_mean", "running_var", "num_batches_tracked",
                                        NULL};

/* ONNX nodes when built with ONNX (onnx_export.c), else none. */
#ifdef CRN_HAVE_ONNX
#define ONNX(f) f
#else
#define ONNX(f) NULL
#endif

const layer_ops LAYER_OPS[] = {
    [L_CONV] = {.name = "conv", .param_names = WEIGHT, .forward = conv_forward, .backward = conv_backward,
                .workspace_bytes = conv_workspace, .flops = conv_flops, .family = conv_family, .conv = conv_desc,
                .onnx = ONNX(onnx_conv)},
    [L_BN] = {.name = "batchnorm", .param_names = BN_PARAMS, .can_apply_act = true, .forward = bn_forward,
              .backward = bn_backward, .state = bn_state, .family = bn_family, .onnx = ONNX(onnx_bn)},
    [L_ACT] = {.name = "act", .param_names = NO_PARAMS, .is_activation = true, .forward = act_forward,
               .backward = act_backward, .family = act_family, .onnx = ONNX(onnx_act)},
    [L_MAXPOOL] = {.name = "maxpool", .param_names = NO_PARAMS, .forward = maxpool_forward,
                   .backward = maxpool_backward, .state = maxpool_state, .family = maxpool_family,
                   .onnx = ONNX(onnx_maxpool)},
    [L_GAP] = {.name = "avgpool", .param_names = NO_PARAMS, .forward = gap_forward, .backward = gap_backward,
               .onnx = ONNX(onnx_gap)},
    [L_LINEAR] = {.name = "linear", .param_names = WEIGHT_BIAS, .forward = linear_forward,
                  .backward = linear_backward, .flops = linear_flops, .onnx = ONNX(onnx_linear)},
    [L_ADD] = {.name = "add", .param_names = NO_PARAMS, .grad_passes_through = true, .forward = add_forward,
               .onnx = ONNX(onnx_add)},
};
/* Sized by its rows, so a kind added after the last row without one of its
 * own fails here; a row missing in between is a row of NULLs, which
 * layer_table_check refuses at every model's creation (and test_model). */
_Static_assert(sizeof LAYER_OPS / sizeof LAYER_OPS[0] == L_KIND_COUNT, "a row for every layer kind (graph.h)");

int layer_table_check(const layer_ops *rows, int n, crn_error *err)
{
    for (int k = 0; k < n; k++) {
        const layer_ops *r = &rows[k];
        const char *missing = !r->name                                   ? "a name"
                              : !r->param_names                          ? "param_names"
                              : !r->forward                              ? "forward"
                              : !r->backward && !r->grad_passes_through ? "backward (or grad_passes_through)"
#ifdef CRN_HAVE_ONNX
                              : !r->onnx ? "onnx"
#endif
                                                                         : NULL;
        if (missing)
            return crn_fail(err, CRN_EINVAL, "layer table: the row of kind %d (%s) has no %s", k,
                            r->name ? r->name : "unnamed", missing);
    }
    return CRN_OK;
}
