/* The models of MISSION.md as a list of layers over planned activation
 * buffers: resnet50, plain50 and the baseline CNN, with PyTorch's state-dict
 * names and order (tools/seed_torch.py).
 *
 * Memory, all planned at create time for max_batch:
 * - trainable parameters in ONE allocation, their gradients in ONE more,
 *   each tensor a view at an offset aligned to crn_view_align (gaps zero),
 *   so that an optimiser step is one launch over the flat buffer;
 * - BN running statistics in a third allocation (views too);
 * - one buffer per activation kept for backward (a residual add writes in
 *   place into the last BN's output, which backward never reads);
 * - gradient slots for the backward pass, each as large as the largest
 *   activation, handed out by reference count (a residual add passes its
 *   gradient to both branches without a copy); their number is found by a
 *   dry run of the backward pass. */
#include "clresnet/nn/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clresnet/ops/batchnorm.h"
#include "clresnet/ops/conv.h"
#include "clresnet/ops/elementwise.h"
#include "clresnet/ops/linear.h"
#include "clresnet/ops/loss.h"
#include "clresnet/ops/pool.h"

typedef enum layer_kind { L_CONV, L_BN, L_ACT, L_MAXPOOL, L_GAP, L_LINEAR, L_ADD } layer_kind;

typedef struct act_info {
    int c, h, w;
    int alias;  /* -1: own buffer; otherwise the activation whose buffer this one reuses */
    cl_mem buf;
} act_info;

typedef struct layer {
    layer_kind kind;
    int in, in2, out;           /* activation ids (in2: the residual add's second input) */
    crn_conv_desc conv;
    int pw, pb, prm, prv, pnbt; /* parameter indices: weight/gamma, bias/beta, BN buffers */
    crn_tensor save_mean, save_invstd, argmax;
    int k, stride, pad;         /* max pooling */
    char tag_fwd[32], tag_bwd[32]; /* profiling labels, e.g. "conv3x3/2 fwd" */
} layer;

enum { INIT_NONE, INIT_KAIMING, INIT_BIAS, INIT_ONE, INIT_ZERO };

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
    size_t trainable;

    crn_tensor input_nchw, labels, losses;
    crn_workspace ws;

    cl_mem *slots;
    int nslots;
    size_t slot_floats;
    int *slot_ref, *grad_slot;

    int cur_n;
    bool have_forward, have_loss;
    crn_tensor logits_view;
    size_t bytes;
};

/* ------------------------------------------------------------ names */

int crn_model_parse(const char *name)
{
    if (!name) return -1;
    if (strcmp(name, "resnet50") == 0) return CRN_MODEL_RESNET50;
    if (strcmp(name, "plain50") == 0) return CRN_MODEL_PLAIN50;
    if (strcmp(name, "baseline") == 0) return CRN_MODEL_BASELINE;
    return -1;
}

const char *crn_model_name(crn_model_kind k)
{
    switch (k) {
    case CRN_MODEL_RESNET50: return "resnet50";
    case CRN_MODEL_PLAIN50: return "plain50";
    case CRN_MODEL_BASELINE: return "baseline";
    }
    return "?";
}

int crn_model_scale_channels(int c, double width)
{
    double v = nearbyint((double)c * width); /* default rounding: half to even, as Python's round() */
    return v < 1 ? 1 : (int)v;
}

/* ------------------------------------------------------------ graph building */

typedef struct builder {
    crn_model *m;
    crn_error *err;
    int rc;
} builder;

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

static int add_param(builder *b, const char *prefix, const char *suffix, int ndim, const size_t *shape, bool trainable,
                     int init, int fan_in)
{
    crn_model *m = b->m;
    if (b->rc) return -1;
    int cap = m->cap_params;
    crn_param *p = grow(m->params, &cap, m->nparams + 1, sizeof *p);
    if (!p) goto oom;
    m->params = p;
    int cap2 = m->cap_params;
    int *ik = grow(m->init_kind, &cap2, m->nparams + 1, sizeof *ik);
    if (!ik) goto oom;
    m->init_kind = ik;
    cap2 = m->cap_params;
    int *fi = grow(m->fan_in, &cap2, m->nparams + 1, sizeof *fi);
    if (!fi) goto oom;
    m->fan_in = fi;
    m->cap_params = cap;
    crn_param *q = &m->params[m->nparams];
    memset(q, 0, sizeof *q);
    snprintf(q->name, sizeof q->name, "%s.%s", prefix, suffix);
    q->ndim = ndim;
    q->numel = 1;
    for (int i = 0; i < ndim; i++) {
        q->shape[i] = shape[i];
        q->numel *= shape[i];
    }
    q->trainable = trainable;
    q->is_counter = !trainable && ndim == 0;
    m->init_kind[m->nparams] = init;
    m->fan_in[m->nparams] = fan_in;
    return m->nparams++;
oom:
    b->rc = crn_fail(b->err, CRN_ENOMEM, "model: out of host memory");
    return -1;
}

static int new_act(builder *b, int c, int h, int w, int alias)
{
    crn_model *m = b->m;
    if (b->rc) return -1;
    act_info *a = grow(m->acts, &m->cap_acts, m->nacts + 1, sizeof *a);
    if (!a) {
        b->rc = crn_fail(b->err, CRN_ENOMEM, "model: out of host memory");
        return -1;
    }
    m->acts = a;
    a[m->nacts] = (act_info){c, h, w, alias, NULL};
    return m->nacts++;
}

static layer *new_layer(builder *b, layer_kind kind, int in)
{
    crn_model *m = b->m;
    if (b->rc) return NULL;
    layer *l = grow(m->layers, &m->cap_layers, m->nlayers + 1, sizeof *l);
    if (!l) {
        b->rc = crn_fail(b->err, CRN_ENOMEM, "model: out of host memory");
        return NULL;
    }
    m->layers = l;
    l = &m->layers[m->nlayers++];
    memset(l, 0, sizeof *l);
    l->kind = kind;
    l->in = in;
    l->in2 = -1;
    l->pw = l->pb = l->prm = l->prv = l->pnbt = -1;
    return l;
}

static int conv(builder *b, const char *name, int in, int cout, int k, int stride, int pad)
{
    if (b->rc) return -1;
    act_info a = b->m->acts[in];
    int ho = crn_conv_out_size(a.h, k, stride, pad), wo = crn_conv_out_size(a.w, k, stride, pad);
    if (ho <= 0 || wo <= 0) {
        b->rc = crn_fail(b->err, CRN_EINVAL, "model: the input is too small: layer %s sees %dx%d", name, a.h, a.w);
        return -1;
    }
    size_t shape[4] = {(size_t)cout, (size_t)a.c, (size_t)k, (size_t)k};
    int pw = add_param(b, name, "weight", 4, shape, true, INIT_KAIMING, a.c * k * k);
    int out = new_act(b, cout, ho, wo, -1);
    layer *l = new_layer(b, L_CONV, in);
    if (!l) return -1;
    l->out = out;
    l->pw = pw;
    l->conv = (crn_conv_desc){a.c, cout, k, k, stride, pad, false};
    return out;
}

static int bn(builder *b, const char *name, int in)
{
    if (b->rc) return -1;
    if (b->m->cfg.no_batchnorm) return in;
    act_info a = b->m->acts[in];
    size_t c = (size_t)a.c;
    int pw = add_param(b, name, "weight", 1, &c, true, INIT_ONE, 0);
    int pb = add_param(b, name, "bias", 1, &c, true, INIT_ZERO, 0);
    int prm = add_param(b, name, "running_mean", 1, &c, false, INIT_ZERO, 0);
    int prv = add_param(b, name, "running_var", 1, &c, false, INIT_ONE, 0);
    int pn = add_param(b, name, "num_batches_tracked", 0, NULL, false, INIT_ZERO, 0);
    int out = new_act(b, a.c, a.h, a.w, -1);
    layer *l = new_layer(b, L_BN, in);
    if (!l) return -1;
    l->out = out;
    l->pw = pw, l->pb = pb, l->prm = prm, l->prv = prv, l->pnbt = pn;
    return out;
}

static int act(builder *b, int in)
{
    if (b->rc) return -1;
    act_info a = b->m->acts[in];
    int out = new_act(b, a.c, a.h, a.w, -1);
    layer *l = new_layer(b, L_ACT, in);
    if (!l) return -1;
    l->out = out;
    return out;
}

static int maxpool(builder *b, int in, int k, int stride, int pad)
{
    if (b->rc) return -1;
    act_info a = b->m->acts[in];
    int ho = (a.h + 2 * pad - k) / stride + 1, wo = (a.w + 2 * pad - k) / stride + 1;
    if (a.h + 2 * pad < k || ho <= 0 || wo <= 0) {
        b->rc = crn_fail(b->err, CRN_EINVAL, "model: the input is too small: a %dx%d max pool sees %dx%d", k, k, a.h,
                         a.w);
        return -1;
    }
    int out = new_act(b, a.c, ho, wo, -1);
    layer *l = new_layer(b, L_MAXPOOL, in);
    if (!l) return -1;
    l->out = out;
    l->k = k, l->stride = stride, l->pad = pad;
    return out;
}

static int gap(builder *b, int in)
{
    if (b->rc) return -1;
    int out = new_act(b, b->m->acts[in].c, 1, 1, -1);
    layer *l = new_layer(b, L_GAP, in);
    if (!l) return -1;
    l->out = out;
    return out;
}

static int linear(builder *b, const char *name, int in, int nout)
{
    if (b->rc) return -1;
    int nin = b->m->acts[in].c;
    size_t ws[2] = {(size_t)nout, (size_t)nin}, bs = (size_t)nout;
    int pw = add_param(b, name, "weight", 2, ws, true, INIT_KAIMING, nin);
    int pb = add_param(b, name, "bias", 1, &bs, true, INIT_BIAS, nin);
    int out = new_act(b, nout, 1, 1, -1);
    layer *l = new_layer(b, L_LINEAR, in);
    if (!l) return -1;
    l->out = out;
    l->pw = pw, l->pb = pb;
    return out;
}

/* out = a + b, written in place into a's buffer. */
static int add(builder *b, int a, int r)
{
    if (b->rc) return -1;
    act_info x = b->m->acts[a];
    int base = b->m->acts[a].alias >= 0 ? b->m->acts[a].alias : a;
    int out = new_act(b, x.c, x.h, x.w, base);
    layer *l = new_layer(b, L_ADD, a);
    if (!l) return -1;
    l->in2 = r;
    l->out = out;
    return out;
}

static int bottleneck(builder *b, const char *prefix, int x, int width, int stride, bool residual)
{
    const crn_model_config *c = &b->m->cfg;
    char n[96];
    int cin = b->m->acts[x].c;
    /* torch registers the shortcut after the block: parameters in that order;
     * the shortcut is computed first, as seed_torch.py's forward does. */
    snprintf(n, sizeof n, "%s.block.0", prefix);
    int y = conv(b, n, x, width, 1, stride, 0);
    snprintf(n, sizeof n, "%s.block.1", prefix);
    y = act(b, bn(b, n, y));
    snprintf(n, sizeof n, "%s.block.3", prefix);
    y = conv(b, n, y, width, 3, 1, 1);
    snprintf(n, sizeof n, "%s.block.4", prefix);
    y = act(b, bn(b, n, y));
    snprintf(n, sizeof n, "%s.block.6", prefix);
    y = conv(b, n, y, 4 * width, 1, 1, 0);
    snprintf(n, sizeof n, "%s.block.7", prefix);
    y = bn(b, n, y);
    if (residual) {
        int r = x;
        if (stride != 1 || cin != 4 * width) {
            snprintf(n, sizeof n, "%s.downsample.0", prefix);
            r = conv(b, n, x, 4 * width, 1, stride, 0);
            snprintf(n, sizeof n, "%s.downsample.1", prefix);
            r = bn(b, n, r);
        }
        y = add(b, y, r);
    }
    if (c->final_act) y = act(b, y);
    return y;
}

static int build_resnet(builder *b, bool residual)
{
    const crn_model_config *c = &b->m->cfg;
    int x = new_act(b, 3, c->image_size, c->image_size, -1);
    int stem = crn_model_scale_channels(64, c->width);
    x = conv(b, "footer.0", x, stem, 7, 2, 3);
    x = maxpool(b, act(b, bn(b, "footer.1", x)), 3, 2, 1);
    static const int widths[4] = {64, 128, 256, 512}, reps[4] = {3, 4, 6, 3}, strides[4] = {1, 2, 2, 2};
    for (int s = 0; s < 4; s++) {
        int w = crn_model_scale_channels(widths[s], c->width);
        for (int r = 0; r < reps[s]; r++) {
            char prefix[64];
            snprintf(prefix, sizeof prefix, "block%d.%d", s + 1, r);
            x = bottleneck(b, prefix, x, w, r == 0 ? strides[s] : 1, residual);
        }
    }
    x = gap(b, x);
    x = linear(b, "fc.0", x, c->classes);
    return b->rc;
}

static int build_baseline(builder *b)
{
    const crn_model_config *c = &b->m->cfg;
    int x = new_act(b, 3, c->image_size, c->image_size, -1);
    static const int ch[4] = {32, 64, 128, 256};
    for (int s = 0; s < 4; s++) {
        char n[32];
        snprintf(n, sizeof n, "features.%d", 4 * s);
        x = conv(b, n, x, crn_model_scale_channels(ch[s], c->width), 3, 1, 1);
        snprintf(n, sizeof n, "features.%d", 4 * s + 1);
        x = maxpool(b, act(b, bn(b, n, x)), 2, 2, 0);
    }
    x = gap(b, x);
    x = linear(b, "fc.0", x, c->classes);
    return b->rc;
}

/* ------------------------------------------------------------ tensors of the current batch */

static crn_tensor act_t(const crn_model *m, int id, int n)
{
    const act_info *a = &m->acts[id];
    crn_tensor t;
    memset(&t, 0, sizeof t);
    t.buf = a->alias >= 0 ? m->acts[a->alias].buf : a->buf;
    t.dtype = CRN_F32;
    t.ndim = 4;
    t.shape[0] = (size_t)a->c, t.shape[1] = (size_t)n, t.shape[2] = (size_t)a->h, t.shape[3] = (size_t)a->w;
    t.numel = (size_t)a->c * n * a->h * a->w;
    return t;
}

static crn_tensor buf_t(cl_mem buf, size_t numel)
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

static size_t act_floats(const crn_model *m, int id, int n)
{
    const act_info *a = &m->acts[id];
    return (size_t)a->c * n * a->h * a->w;
}

/* ------------------------------------------------------------ backward slots */

static int slot_take(crn_model *m, bool dry, crn_error *err)
{
    for (int s = 0; s < m->nslots; s++)
        if (m->slot_ref[s] == 0) {
            m->slot_ref[s] = 1;
            return s;
        }
    if (!dry) {
        crn_fail(err, CRN_EINVAL, "model: backward ran out of gradient slots (planning error)");
        return -1;
    }
    int cap = m->nslots;
    int *r = realloc(m->slot_ref, (size_t)(m->nslots + 1) * sizeof *r);
    (void)cap;
    if (!r) {
        crn_fail(err, CRN_ENOMEM, "model: out of host memory");
        return -1;
    }
    m->slot_ref = r;
    m->slot_ref[m->nslots] = 1;
    return m->nslots++;
}

static void slot_release(crn_model *m, int s)
{
    if (s >= 0 && m->slot_ref[s] > 0) m->slot_ref[s]--;
}

/* Where a layer writes the gradient of its input `id`: straight into the
 * input's slot when it has none yet, else into a temporary slot that
 * grad_commit adds on. */
static int grad_dest(crn_model *m, int id, bool dry, crn_error *err)
{
    if (m->grad_slot[id] < 0) {
        int s = slot_take(m, dry, err);
        if (s < 0) return -1;
        m->grad_slot[id] = s;
        return s;
    }
    return slot_take(m, dry, err);
}

static int grad_commit(crn_model *m, int id, int dest, int n, bool dry, crn_error *err)
{
    int g = m->grad_slot[id];
    if (dest == g) return CRN_OK;
    size_t cnt = act_floats(m, id, n);
    int rc = CRN_OK;
    if (m->slot_ref[g] == 1) { /* only this tensor reads it: accumulate in place */
        if (!dry) {
            crn_tensor x = buf_t(m->slots[dest], cnt), y = buf_t(m->slots[g], cnt);
            rc = crn_axpby(m->ops, cnt, 1.0f, &x, 1.0f, &y, err);
        }
        slot_release(m, dest);
    } else { /* shared with a tensor still to be read: sum into dest */
        if (!dry) {
            crn_tensor x = buf_t(m->slots[dest], cnt), y = buf_t(m->slots[g], cnt);
            rc = crn_add(m->ops, cnt, &x, &y, &x, err);
        }
        slot_release(m, g);
        m->grad_slot[id] = dest;
    }
    return rc;
}

/* The backward pass; dry: no device work, only the slot bookkeeping (used at
 * create time to count the slots). */
/* Profiling labels group the layers of a kind and shape family. */
static void set_tags(crn_model *m)
{
    for (int i = 0; i < m->nlayers; i++) {
        layer *l = &m->layers[i];
        char base[24];
        switch (l->kind) {
        case L_CONV: snprintf(base, sizeof base, "conv%dx%d/%d", l->conv.kh, l->conv.kw, l->conv.stride); break;
        case L_BN: snprintf(base, sizeof base, "batchnorm"); break;
        case L_ACT: snprintf(base, sizeof base, "%s", crn_act_name(m->cfg.act)); break;
        case L_MAXPOOL: snprintf(base, sizeof base, "maxpool%dx%d", l->k, l->k); break;
        case L_GAP: snprintf(base, sizeof base, "avgpool"); break;
        case L_LINEAR: snprintf(base, sizeof base, "linear"); break;
        case L_ADD: snprintf(base, sizeof base, "add"); break;
        }
        snprintf(l->tag_fwd, sizeof l->tag_fwd, "%s fwd", base);
        snprintf(l->tag_bwd, sizeof l->tag_bwd, "%s bwd", base);
    }
}

double crn_model_tag_flops(const crn_model *m, const char *tag, int n)
{
    double total = 0;
    for (int i = 0; i < m->nlayers; i++) {
        const layer *l = &m->layers[i];
        bool fwd = !strcmp(tag, l->tag_fwd), bwd = !strcmp(tag, l->tag_bwd);
        if (!fwd && !bwd) continue;
        const act_info *o = &m->acts[l->out], *in = &m->acts[l->in];
        double f = 0;
        if (l->kind == L_CONV)
            f = 2.0 * l->conv.cout * l->conv.cin * l->conv.kh * l->conv.kw * (double)o->h * o->w * n;
        else if (l->kind == L_LINEAR)
            f = 2.0 * in->c * o->c * (double)n;
        /* backward: the weight gradient, and the input gradient except for
         * the first layer */
        total += fwd ? f : f * (l->in != 0 ? 2 : 1);
    }
    return total;
}

static int backward_pass(crn_model *m, bool dry, crn_error *err)
{
    crn_runtime *rt = m->rt;
    int n = dry ? m->max_batch : m->cur_n;
    for (int i = 0; i < m->nacts; i++) m->grad_slot[i] = -1;
    for (int s = 0; s < m->nslots; s++) m->slot_ref[s] = 0;
    /* the logits' gradient: slot 0, written by crn_model_loss */
    int s0 = slot_take(m, dry, err);
    if (s0 != 0) return crn_fail(err, CRN_EINVAL, "model: gradient slot 0 is not free");
    m->grad_slot[m->layers[m->nlayers - 1].out] = 0;
    int rc = CRN_OK;
    for (int li = m->nlayers - 1; li >= 0 && rc == CRN_OK; li--) {
        layer *l = &m->layers[li];
        crn_prof_tag(rt, l->tag_bwd);
        int gy_slot = m->grad_slot[l->out];
        if (gy_slot < 0) return crn_fail(err, CRN_EINVAL, "model: layer %d has no output gradient", li);
        crn_tensor gy = dry ? buf_t(NULL, 0) : buf_t(m->slots[gy_slot], act_floats(m, l->out, n));
        bool need_dx = l->in != 0;
        if (l->kind == L_ADD) {
            int ins[2] = {l->in, l->in2};
            for (int j = 0; j < 2; j++) {
                int id = ins[j];
                if (m->grad_slot[id] < 0) {
                    m->grad_slot[id] = gy_slot;
                    m->slot_ref[gy_slot]++;
                } else { /* not in these graphs (the add is its inputs' last reader), kept general */
                    int g = m->grad_slot[id];
                    size_t cnt = act_floats(m, id, n);
                    if (m->slot_ref[g] == 1) {
                        if (!dry) {
                            crn_tensor gt = buf_t(m->slots[g], cnt);
                            rc = crn_axpby(m->ops, cnt, 1.0f, &gy, 1.0f, &gt, err);
                        }
                    } else {
                        int d = slot_take(m, dry, err);
                        if (d < 0) return err->code ? err->code : CRN_EINVAL;
                        if (!dry) {
                            crn_tensor dt = buf_t(m->slots[d], cnt), gt = buf_t(m->slots[g], cnt);
                            rc = crn_add(m->ops, cnt, &gy, &gt, &dt, err);
                        }
                        slot_release(m, g);
                        m->grad_slot[id] = d;
                    }
                }
            }
            slot_release(m, gy_slot);
            continue;
        }
        int dest = -1;
        if (need_dx) {
            dest = grad_dest(m, l->in, dry, err);
            if (dest < 0) return err->code ? err->code : CRN_EINVAL;
        }
        if (!dry) {
            crn_tensor x = act_t(m, l->in, n);
            crn_tensor dx = need_dx ? buf_t(m->slots[dest], act_floats(m, l->in, n)) : buf_t(NULL, 0);
            const act_info *a = &m->acts[l->in];
            size_t hw = (size_t)a->h * a->w;
            switch (l->kind) {
            case L_CONV: {
                crn_param *w = &m->params[l->pw];
                rc = crn_conv2d_backward(m->ops, &l->conv, n, a->h, a->w, &x, &w->value, &gy, need_dx ? &dx : NULL,
                                         &w->grad, NULL, &m->ws, err);
                break;
            }
            case L_BN: {
                crn_param *g = &m->params[l->pw], *bb = &m->params[l->pb];
                rc = crn_batchnorm_backward(m->ops, a->c, (size_t)n * hw, &x, &gy, &g->value, &l->save_mean,
                                            &l->save_invstd, &dx, &g->grad, &bb->grad, err);
                break;
            }
            case L_ACT:
                rc = crn_act_backward(m->ops, m->cfg.act, x.numel, &x, &gy, &dx, err);
                break;
            case L_MAXPOOL:
                rc = crn_maxpool_backward(m->ops, a->c, n, a->h, a->w, l->k, l->stride, l->pad, &gy, &l->argmax, &dx, err);
                break;
            case L_GAP:
                rc = crn_avgpool_global_backward(m->ops, a->c, n, (int)hw, &gy, &dx, err);
                break;
            case L_LINEAR: {
                crn_param *w = &m->params[l->pw], *bb = &m->params[l->pb];
                rc = crn_linear_backward(m->ops, a->c, m->acts[l->out].c, n, &x, &w->value, &gy, need_dx ? &dx : NULL,
                                         &w->grad, &bb->grad, err);
                break;
            }
            case L_ADD:
                break;
            }
        }
        if (rc == CRN_OK && need_dx) rc = grad_commit(m, l->in, dest, n, dry, err);
        slot_release(m, gy_slot);
    }
    return rc;
}

/* ------------------------------------------------------------ create / destroy */

void crn_model_destroy(crn_model *m)
{
    if (!m) return;
    for (int i = 0; i < m->nparams; i++) {
        crn_tensor_free(&m->params[i].value);
        crn_tensor_free(&m->params[i].grad);
    }
    for (int i = 0; i < m->nlayers; i++) {
        crn_tensor_free(&m->layers[i].save_mean);
        crn_tensor_free(&m->layers[i].save_invstd);
        crn_tensor_free(&m->layers[i].argmax);
    }
    for (int i = 0; i < m->nacts; i++)
        if (m->acts[i].buf) clReleaseMemObject(m->acts[i].buf);
    for (int s = 0; s < m->nslots; s++)
        if (m->slots && m->slots[s]) clReleaseMemObject(m->slots[s]);
    if (m->pbuf) clReleaseMemObject(m->pbuf);
    if (m->gbuf) clReleaseMemObject(m->gbuf);
    if (m->bbuf) clReleaseMemObject(m->bbuf);
    crn_tensor_free(&m->input_nchw);
    crn_tensor_free(&m->labels);
    crn_tensor_free(&m->losses);
    crn_workspace_free(&m->ws);
    free(m->slots);
    free(m->slot_ref);
    free(m->grad_slot);
    free(m->params);
    free(m->init_kind);
    free(m->fan_in);
    free(m->acts);
    free(m->layers);
    free(m);
}

static int alloc_zero(crn_model *m, cl_mem *buf, size_t bytes, const char *what, crn_error *err)
{
    int rc = crn_buffer_alloc(m->rt, buf, bytes, err);
    if (rc != CRN_OK) {
        crn_error_prefix(err, "model %s (%s)", crn_model_name(m->cfg.kind), what);
        return rc;
    }
    float zero = 0.0f;
    cl_int s = clEnqueueFillBuffer(crn_runtime_queue(m->rt), *buf, &zero, sizeof zero, 0, bytes ? bytes : 4, 0, NULL, NULL);
    if (s != CL_SUCCESS) return crn_fail(err, CRN_ECL, "model: zeroing %s: %s", what, crn_cl_strerror(s));
    m->bytes += bytes;
    return CRN_OK;
}

int crn_model_create(crn_ops *ops, const crn_model_config *cfg, int max_batch, crn_model **out, crn_error *err)
{
    *out = NULL;
    if ((unsigned)cfg->kind > CRN_MODEL_BASELINE) return crn_fail(err, CRN_EINVAL, "model: unknown kind %d", cfg->kind);
    if (cfg->classes < 1) return crn_fail(err, CRN_EINVAL, "model: %d classes", cfg->classes);
    if (cfg->image_size < 1) return crn_fail(err, CRN_EINVAL, "model: image size %d", cfg->image_size);
    if (!(cfg->width > 0) || cfg->width > 64) return crn_fail(err, CRN_EINVAL, "model: width %g out of range", cfg->width);
    if (max_batch < 1) return crn_fail(err, CRN_EINVAL, "model: batch size %d", max_batch);
    crn_model *m = calloc(1, sizeof *m);
    if (!m) return crn_fail(err, CRN_ENOMEM, "model: out of host memory");
    crn_runtime *rt = crn_ops_runtime(ops);
    m->ops = ops;
    m->rt = rt;
    m->cfg = *cfg;
    m->max_batch = max_batch;
    builder b = {m, err, CRN_OK};
    int rc = cfg->kind == CRN_MODEL_BASELINE ? build_baseline(&b) : build_resnet(&b, cfg->kind == CRN_MODEL_RESNET50);
    if (rc != CRN_OK) goto fail;

    /* Parameter and buffer layout: aligned offsets, zero gaps. */
    size_t align = crn_view_align(rt) / sizeof(float);
    if (align == 0) align = 1;
    m->np = m->nb = 0;
    for (int i = 0; i < m->nparams; i++) {
        crn_param *p = &m->params[i];
        if (p->is_counter) continue;
        size_t *at = p->trainable ? &m->np : &m->nb;
        *at = (*at + align - 1) / align * align;
        p->offset = *at;
        *at += p->numel;
        if (p->trainable) m->trainable += p->numel;
    }
    if ((rc = alloc_zero(m, &m->pbuf, m->np * sizeof(float), "parameters", err))) goto fail;
    if ((rc = alloc_zero(m, &m->gbuf, m->np * sizeof(float), "gradients", err))) goto fail;
    if ((rc = alloc_zero(m, &m->bbuf, m->nb * sizeof(float), "running statistics", err))) goto fail;
    for (int i = 0; i < m->nparams; i++) {
        crn_param *p = &m->params[i];
        if (p->is_counter) continue;
        size_t shape1 = p->numel;
        rc = crn_tensor_view(rt, &p->value, p->trainable ? m->pbuf : m->bbuf, p->offset * sizeof(float), CRN_F32,
                             p->ndim ? p->ndim : 1, p->ndim ? p->shape : &shape1, err);
        if (rc == CRN_OK && p->trainable)
            rc = crn_tensor_view(rt, &p->grad, m->gbuf, p->offset * sizeof(float), CRN_F32, p->ndim, p->shape, err);
        if (rc != CRN_OK) {
            crn_error_prefix(err, "model: tensor %s", p->name);
            goto fail;
        }
    }

    /* Activations and per-layer state. */
    size_t max_act = 0;
    for (int i = 0; i < m->nacts; i++) {
        size_t f = act_floats(m, i, max_batch);
        if (i > 0 && f > max_act) max_act = f;
        if (m->acts[i].alias >= 0) continue;
        if ((rc = alloc_zero(m, &m->acts[i].buf, f * sizeof(float), "activations", err))) goto fail;
    }
    size_t ws_bytes = 0;
    for (int i = 0; i < m->nlayers && rc == CRN_OK; i++) {
        layer *l = &m->layers[i];
        const act_info *a = &m->acts[l->in];
        size_t c = (size_t)a->c;
        if (l->kind == L_BN) {
            rc = crn_tensor_alloc(rt, &l->save_mean, CRN_F32, 1, &c, err);
            if (rc == CRN_OK) rc = crn_tensor_alloc(rt, &l->save_invstd, CRN_F32, 1, &c, err);
            m->bytes += 2 * c * sizeof(float);
        } else if (l->kind == L_MAXPOOL) {
            size_t f = act_floats(m, l->out, max_batch);
            rc = crn_tensor_alloc(rt, &l->argmax, CRN_I32, 1, &f, err);
            m->bytes += f * 4;
        } else if (l->kind == L_CONV) {
            size_t w = crn_conv_workspace_bytes(m->ops, &l->conv, max_batch, a->h, a->w);
            if (w > ws_bytes) ws_bytes = w;
        }
    }
    if (rc != CRN_OK) goto fail;
    if (ws_bytes > 0) {
        if ((rc = crn_workspace_reserve(rt, &m->ws, ws_bytes, err))) goto fail;
        m->bytes += ws_bytes;
    }
    size_t in_n = (size_t)max_batch * 3 * cfg->image_size * cfg->image_size, bn = (size_t)max_batch;
    if ((rc = crn_tensor_alloc(rt, &m->input_nchw, CRN_F32, 1, &in_n, err))) goto fail;
    if ((rc = crn_tensor_alloc(rt, &m->labels, CRN_I32, 1, &bn, err))) goto fail;
    if ((rc = crn_tensor_alloc(rt, &m->losses, CRN_F32, 1, &bn, err))) goto fail;
    m->bytes += in_n * 4 + bn * 8;

    /* Gradient slots: count them with a dry run of backward. */
    m->grad_slot = malloc((size_t)m->nacts * sizeof *m->grad_slot);
    if (!m->grad_slot) {
        rc = crn_fail(err, CRN_ENOMEM, "model: out of host memory");
        goto fail;
    }
    if ((rc = backward_pass(m, true, err))) goto fail;
    m->slot_floats = max_act;
    m->slots = calloc((size_t)m->nslots, sizeof *m->slots);
    if (!m->slots) {
        rc = crn_fail(err, CRN_ENOMEM, "model: out of host memory");
        goto fail;
    }
    for (int s = 0; s < m->nslots; s++)
        if ((rc = alloc_zero(m, &m->slots[s], max_act * sizeof(float), "gradient slots", err))) goto fail;
    if ((rc = crn_finish(rt, err))) goto fail;
    set_tags(m);
    *out = m;
    return CRN_OK;
fail:
    crn_model_destroy(m);
    return rc;
}

/* ------------------------------------------------------------ accessors */

const crn_model_config *crn_model_get_config(const crn_model *m) { return &m->cfg; }
size_t crn_model_param_count(const crn_model *m) { return m->trainable; }
crn_runtime *crn_model_runtime(const crn_model *m) { return m->rt; }
crn_ops *crn_model_ops(const crn_model *m) { return m->ops; }
int crn_model_tensor_count(const crn_model *m) { return m->nparams; }
crn_param *crn_model_tensor(crn_model *m, int i) { return i >= 0 && i < m->nparams ? &m->params[i] : NULL; }
size_t crn_model_device_bytes(const crn_model *m) { return m->bytes; }

cl_mem crn_model_params_buffer(crn_model *m, size_t *n)
{
    if (n) *n = m->np;
    return m->pbuf;
}

cl_mem crn_model_grads_buffer(crn_model *m, size_t *n)
{
    if (n) *n = m->np;
    return m->gbuf;
}

cl_mem crn_model_buffers_buffer(crn_model *m, size_t *n)
{
    if (n) *n = m->nb;
    return m->bbuf;
}

int crn_model_find(const crn_model *m, const char *name)
{
    for (int i = 0; i < m->nparams; i++)
        if (strcmp(m->params[i].name, name) == 0) return i;
    return -1;
}

/* ------------------------------------------------------------ initialisation */

/* splitmix64 seeds xoshiro256** */
static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t xoshiro(uint64_t s[4])
{
    uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0], s[3] ^= s[1], s[1] ^= s[2], s[0] ^= s[3], s[2] ^= t, s[3] = rotl(s[3], 45);
    return r;
}

int crn_model_init(crn_model *m, uint64_t seed, crn_error *err)
{
    float *hp = calloc(m->np ? m->np : 1, sizeof *hp), *hb = calloc(m->nb ? m->nb : 1, sizeof *hb);
    if (!hp || !hb) {
        free(hp), free(hb);
        return crn_fail(err, CRN_ENOMEM, "model init: out of host memory");
    }
    uint64_t sm = seed, s[4];
    for (int i = 0; i < 4; i++) s[i] = splitmix(&sm);
    for (int i = 0; i < m->nparams; i++) {
        crn_param *p = &m->params[i];
        if (p->is_counter) {
            p->counter = 0;
            continue;
        }
        float *dst = (p->trainable ? hp : hb) + p->offset;
        switch (m->init_kind[i]) {
        case INIT_KAIMING: /* kaiming_uniform_(a=sqrt(5)): U(-1/sqrt(fan_in), 1/sqrt(fan_in)) */
        case INIT_BIAS: {  /* nn.Linear bias: the same bound */
            double bound = 1.0 / sqrt((double)m->fan_in[i]);
            for (size_t j = 0; j < p->numel; j++) {
                double u = (double)(xoshiro(s) >> 11) * 0x1.0p-53; /* [0, 1) */
                dst[j] = (float)((2.0 * u - 1.0) * bound);
            }
            break;
        }
        case INIT_ONE:
            for (size_t j = 0; j < p->numel; j++) dst[j] = 1.0f;
            break;
        default:
            break; /* zeros */
        }
    }
    int rc = CRN_OK;
    cl_int st = clEnqueueWriteBuffer(crn_runtime_queue(m->rt), m->pbuf, CL_TRUE, 0, m->np * sizeof(float), hp, 0, NULL, NULL);
    if (st == CL_SUCCESS && m->nb)
        st = clEnqueueWriteBuffer(crn_runtime_queue(m->rt), m->bbuf, CL_TRUE, 0, m->nb * sizeof(float), hb, 0, NULL, NULL);
    if (st != CL_SUCCESS) rc = crn_fail(err, CRN_ECL, "model init: uploading parameters: %s", crn_cl_strerror(st));
    free(hp), free(hb);
    return rc;
}

/* ------------------------------------------------------------ forward, loss, backward */

int crn_model_forward(crn_model *m, const float *x_nchw, int n, bool train, crn_error *err)
{
    crn_runtime *rt = m->rt;
    if (n < 1 || n > m->max_batch)
        return crn_fail(err, CRN_EINVAL, "model forward: batch of %d, the model was planned for 1..%d", n,
                        m->max_batch);
    m->have_forward = m->have_loss = false;
    int S = m->cfg.image_size;
    crn_tensor in = m->input_nchw;
    in.numel = in.shape[0] = (size_t)n * 3 * S * S;
    int rc = crn_tensor_upload(rt, &in, x_nchw, err);
    crn_tensor x0 = act_t(m, 0, n);
    if (rc == CRN_OK) rc = crn_nchw_to_cnhw(m->ops, n, 3, S * S, &in, &x0, err);
    static const crn_bn_params bnp = {1e-5f, 0.1f};
    for (int li = 0; li < m->nlayers && rc == CRN_OK; li++) {
        layer *l = &m->layers[li];
        crn_prof_tag(rt, l->tag_fwd);
        const act_info *a = &m->acts[l->in];
        crn_tensor x = act_t(m, l->in, n), y = act_t(m, l->out, n);
        size_t hw = (size_t)a->h * a->w;
        switch (l->kind) {
        case L_CONV:
            rc = crn_conv2d_forward(m->ops, &l->conv, n, a->h, a->w, &x, &m->params[l->pw].value, NULL, &y, &m->ws, err);
            break;
        case L_BN: {
            crn_param *g = &m->params[l->pw], *b = &m->params[l->pb], *rm = &m->params[l->prm],
                      *rv = &m->params[l->prv];
            if (train) {
                rc = crn_batchnorm_forward_train(m->ops, &bnp, a->c, (size_t)n * hw, &x, &g->value, &b->value, &rm->value,
                                                 &rv->value, &y, &l->save_mean, &l->save_invstd, err);
                if (rc == CRN_OK) m->params[l->pnbt].counter++;
            } else {
                rc = crn_batchnorm_forward_eval(m->ops, &bnp, a->c, (size_t)n * hw, &x, &g->value, &b->value, &rm->value,
                                                &rv->value, &y, err);
            }
            break;
        }
        case L_ACT:
            rc = crn_act_forward(m->ops, m->cfg.act, x.numel, &x, &y, err);
            break;
        case L_MAXPOOL:
            rc = crn_maxpool_forward(m->ops, a->c, n, a->h, a->w, l->k, l->stride, l->pad, &x, &y, &l->argmax, err);
            break;
        case L_GAP:
            rc = crn_avgpool_global_forward(m->ops, a->c, n, (int)hw, &x, &y, err);
            break;
        case L_LINEAR:
            rc = crn_linear_forward(m->ops, a->c, m->acts[l->out].c, n, &x, &m->params[l->pw].value,
                                    &m->params[l->pb].value, &y, err);
            break;
        case L_ADD: {
            crn_tensor r = act_t(m, l->in2, n);
            rc = crn_add(m->ops, x.numel, &x, &r, &y, err);
            break;
        }
        }
        if (rc != CRN_OK) crn_error_prefix(err, "%s forward, layer %d", crn_model_name(m->cfg.kind), li);
    }
    if (rc != CRN_OK) return rc;
    m->cur_n = n;
    m->have_forward = true;
    int lo = m->layers[m->nlayers - 1].out;
    m->logits_view = act_t(m, lo, n);
    m->logits_view.ndim = 2;
    m->logits_view.shape[0] = (size_t)m->cfg.classes;
    m->logits_view.shape[1] = (size_t)n;
    return CRN_OK;
}

const crn_tensor *crn_model_logits(const crn_model *m) { return &m->logits_view; }

int crn_model_read_logits(crn_model *m, int n, float *out, crn_error *err)
{
    if (!m->have_forward || n != m->cur_n)
        return crn_fail(err, CRN_EINVAL, "model: no forward pass of %d images to read logits from", n);
    size_t k = (size_t)m->cfg.classes, cnt = k * n;
    float *tmp = malloc(cnt * sizeof *tmp);
    if (!tmp) return crn_fail(err, CRN_ENOMEM, "model: out of host memory");
    cl_int s = clEnqueueReadBuffer(crn_runtime_queue(m->rt), m->logits_view.buf, CL_TRUE, 0, cnt * sizeof(float), tmp, 0, NULL,
                                   NULL);
    if (s != CL_SUCCESS) {
        free(tmp);
        return crn_fail(err, CRN_ECL, "model: reading logits: %s", crn_cl_strerror(s));
    }
    for (size_t c = 0; c < k; c++)
        for (int i = 0; i < n; i++) out[(size_t)i * k + c] = tmp[c * n + i];
    free(tmp);
    return CRN_OK;
}

int crn_model_loss(crn_model *m, const int32_t *labels, int n, float *losses, crn_error *err)
{
    if (!m->have_forward || n != m->cur_n)
        return crn_fail(err, CRN_EINVAL, "model loss: %d labels, but the last forward pass saw %d images", n,
                        m->have_forward ? m->cur_n : 0);
    int k = m->cfg.classes;
    for (int i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= k)
            return crn_fail(err, CRN_EINVAL, "model loss: label %d of sample %d is outside 0..%d", labels[i], i, k - 1);
    crn_tensor lab = m->labels, los = m->losses;
    lab.numel = lab.shape[0] = (size_t)n;
    los.numel = los.shape[0] = (size_t)n;
    crn_tensor dl = buf_t(m->slots[0], (size_t)k * n);
    dl.ndim = 2, dl.shape[0] = (size_t)k, dl.shape[1] = (size_t)n;
    int rc = crn_tensor_upload(m->rt, &lab, labels, err);
    if (rc == CRN_OK) rc = crn_softmax_xent(m->ops, k, n, &m->logits_view, &lab, &los, &dl, err);
    if (rc == CRN_OK && losses) rc = crn_tensor_download(m->rt, &los, losses, err);
    if (rc == CRN_OK) m->have_loss = true;
    return rc;
}

int crn_model_backward(crn_model *m, crn_error *err)
{
    if (!m->have_loss) return crn_fail(err, CRN_EINVAL, "model backward: no loss computed since the last forward pass");
    int rc = backward_pass(m, false, err);
    if (rc != CRN_OK) crn_error_prefix(err, "%s backward", crn_model_name(m->cfg.kind));
    return rc;
}
