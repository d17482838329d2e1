/* Building a graph: activations (shapes, and which buffer holds them),
 * layers in execution order, and the named parameters of the state dict in
 * PyTorch's registration order. Each graph_* call returns the id of the
 * activation it produces, or -1 once the builder has failed (later calls
 * then do nothing, so a definition reads as straight-line code). */
#include <stdio.h>
#include <stdlib.h>

#include "graph.h"
#include "clresnet/core/shape.h"

static void *grow(void *p, int *cap, int need, size_t elem)
{
    if (need <= *cap) return p;
    int nc = *cap ? *cap * 2 : 64;
    while (nc < need) nc *= 2;
    void *q = realloc(p, (size_t)nc * elem);
    if (!q) return NULL;
    memset((char *)q + (size_t)*cap * elem, 0, (size_t)(nc - *cap) * elem);
    *cap = nc;
    return q;
}

static int oom(builder *b)
{
    b->rc = crn_fail(b->err, CRN_ENOMEM, "model: out of host memory");
    return -1;
}

/* A parameter of layer kind `kind`: its j-th name in the table. */
typedef struct param_spec {
    int ndim;
    size_t shape[4];
    bool trainable;
    int init, fan_in;
} param_spec;

static int add_param(builder *b, const char *prefix, layer_kind kind, int j, const param_spec *s)
{
    crn_model *m = b->m;
    if (b->rc) return -1;
    int cap = m->cap_params;
    crn_param *p = grow(m->params, &cap, m->nparams + 1, sizeof *p);
    if (!p) return oom(b);
    m->params = p;
    int cap2 = m->cap_params;
    int *ik = grow(m->init_kind, &cap2, m->nparams + 1, sizeof *ik);
    if (!ik) return oom(b);
    m->init_kind = ik;
    cap2 = m->cap_params;
    int *fi = grow(m->fan_in, &cap2, m->nparams + 1, sizeof *fi);
    if (!fi) return oom(b);
    m->fan_in = fi;
    m->cap_params = cap;
    crn_param *q = &m->params[m->nparams];
    memset(q, 0, sizeof *q);
    snprintf(q->name, sizeof q->name, "%s.%s", prefix, LAYER_OPS[kind].param_names[j]);
    q->ndim = s->ndim;
    memcpy(q->shape, s->shape, sizeof q->shape);
    q->numel = crn_shape_numel(s->shape, s->ndim);
    q->trainable = s->trainable;
    q->is_counter = !s->trainable && s->ndim == 0;
    m->init_kind[m->nparams] = s->init;
    m->fan_in[m->nparams] = s->fan_in;
    return m->nparams++;
}

static int new_act(builder *b, int c, int h, int w, int alias)
{
    crn_model *m = b->m;
    if (b->rc) return -1;
    act_info *a = grow(m->acts, &m->cap_acts, m->nacts + 1, sizeof *a);
    if (!a) return oom(b);
    m->acts = a;
    a[m->nacts] = (act_info){c, h, w, alias, NULL};
    return m->nacts++;
}

/* A layer reading `in` and writing a new activation of the given shape. */
static layer *new_layer(builder *b, layer_kind kind, int in, int c, int h, int w)
{
    crn_model *m = b->m;
    int out = new_act(b, c, h, w, -1);
    if (b->rc) return NULL;
    layer *l = grow(m->layers, &m->cap_layers, m->nlayers + 1, sizeof *l);
    if (!l) {
        oom(b);
        return NULL;
    }
    m->layers = l;
    l = &m->layers[m->nlayers++];
    memset(l, 0, sizeof *l);
    l->kind = kind;
    l->in = in;
    l->in2 = -1;
    l->out = out;
    for (int j = 0; j < LAYER_MAX_PARAMS; j++) l->p[j] = -1;
    return l;
}

int graph_input(builder *b, int c, int h, int w) { return new_act(b, c, h, w, -1); }

int graph_conv(builder *b, const char *name, int in, int cout, int k, int stride, int pad)
{
    if (b->rc) return -1;
    act_info a = b->m->acts[in];
    int ho = crn_conv_out_size(a.h, k, stride, pad), wo = crn_conv_out_size(a.w, k, stride, pad);
    if (ho <= 0 || wo <= 0) {
        b->rc = crn_fail(b->err, CRN_EINVAL, "model: the input is too small: layer %s sees %dx%d", name, a.h, a.w);
        return -1;
    }
    param_spec w = {4, {(size_t)cout, (size_t)a.c, (size_t)k, (size_t)k}, true, INIT_KAIMING, a.c * k * k};
    int pw = add_param(b, name, L_CONV, 0, &w);
    layer *l = new_layer(b, L_CONV, in, cout, ho, wo);
    if (!l) return -1;
    l->p[0] = pw;
    l->conv = (crn_conv_desc){a.c, cout, k, k, stride, pad, false};
    return l->out;
}

int graph_bn(builder *b, const char *name, int in)
{
    if (b->rc) return -1;
    if (b->m->cfg.no_batchnorm) return in;
    act_info a = b->m->acts[in];
    size_t c = (size_t)a.c;
    const param_spec specs[5] = {
        {1, {c}, true, INIT_ONE, 0},   {1, {c}, true, INIT_ZERO, 0}, {1, {c}, false, INIT_ZERO, 0},
        {1, {c}, false, INIT_ONE, 0},  {0, {0}, false, INIT_ZERO, 0}, /* num_batches_tracked */
    };
    int p[5];
    for (int j = 0; j < 5; j++) p[j] = add_param(b, name, L_BN, j, &specs[j]);
    layer *l = new_layer(b, L_BN, in, a.c, a.h, a.w);
    if (!l) return -1;
    memcpy(l->p, p, sizeof p);
    return l->out;
}

int graph_act(builder *b, int in)
{
    if (b->rc) return -1;
    act_info a = b->m->acts[in];
    layer *l = new_layer(b, L_ACT, in, a.c, a.h, a.w);
    return l ? l->out : -1;
}

int graph_maxpool(builder *b, int in, int k, int stride, int pad)
{
    if (b->rc) return -1;
    act_info a = b->m->acts[in];
    int ho = (a.h + 2 * pad - k) / stride + 1, wo = (a.w + 2 * pad - k) / stride + 1;
    if (a.h + 2 * pad < k || ho <= 0 || wo <= 0) {
        b->rc = crn_fail(b->err, CRN_EINVAL, "model: the input is too small: a %dx%d max pool sees %dx%d", k, k, a.h,
                         a.w);
        return -1;
    }
    layer *l = new_layer(b, L_MAXPOOL, in, a.c, ho, wo);
    if (!l) return -1;
    l->k = k, l->stride = stride, l->pad = pad;
    return l->out;
}

int graph_gap(builder *b, int in)
{
    if (b->rc) return -1;
    layer *l = new_layer(b, L_GAP, in, b->m->acts[in].c, 1, 1);
    return l ? l->out : -1;
}

int graph_linear(builder *b, const char *name, int in, int nout)
{
    if (b->rc) return -1;
    int nin = b->m->acts[in].c;
    param_spec w = {2, {(size_t)nout, (size_t)nin}, true, INIT_KAIMING, nin};
    param_spec bias = {1, {(size_t)nout}, true, INIT_BIAS, nin};
    int pw = add_param(b, name, L_LINEAR, 0, &w);
    int pb = add_param(b, name, L_LINEAR, 1, &bias);
    layer *l = new_layer(b, L_LINEAR, in, nout, 1, 1);
    if (!l) return -1;
    l->p[0] = pw, l->p[1] = pb;
    return l->out;
}

int graph_add(builder *b, int a, int r)
{
    if (b->rc) return -1;
    act_info x = b->m->acts[a];
    layer *l = new_layer(b, L_ADD, a, x.c, x.h, x.w);
    if (!l) return -1;
    l->in2 = r;
    /* written in place into a's buffer (a's last reader is this add) */
    b->m->acts[l->out].alias = x.alias >= 0 ? x.alias : a;
    return l->out;
}

void graph_stage_end(builder *b)
{
    crn_model *m = b->m;
    if (b->rc) return;
    if (m->nstages == MODEL_MAX_STAGES) {
        b->rc = crn_fail(b->err, CRN_EINVAL, "model: more than %d stages", MODEL_MAX_STAGES);
        return;
    }
    m->stage_end[m->nstages++] = m->nlayers;
}

void graph_fuse(crn_model *m)
{
    for (int i = 0; i < m->nlayers; i++) {
        layer *act = &m->layers[i];
        if (!LAYER_OPS[act->kind].is_activation) continue;
        int producer = -1, readers = 0;
        for (int j = 0; j < m->nlayers; j++) {
            const layer *l = &m->layers[j];
            if (l->out == act->in) producer = j;
            readers += (l->in == act->in) + (l->in2 == act->in);
        }
        if (producer < 0 || !LAYER_OPS[m->layers[producer].kind].can_apply_act || readers != 1) continue;
        layer *bn = &m->layers[producer];
        bn->act_fused = true;
        act->folded = true;
        const act_info *z = &m->acts[bn->out];
        m->acts[act->out].alias = z->alias >= 0 ? z->alias : bn->out;
    }
}
