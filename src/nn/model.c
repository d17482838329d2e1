/* A model on one device: memory for its graph, planned at create time for
 * max_batch (see graph.h for the other jobs):
 * - trainable parameters in ONE allocation, their gradients in ONE more,
 *   each tensor a view at an offset aligned to crn_view_align (gaps zero),
 *   so that an optimiser step is one launch over the flat buffer;
 * - BN running statistics in a third allocation (views too);
 * - one buffer per activation kept for backward (a residual add writes in
 *   place into the last BN's output, which backward never reads);
 * - per-layer state and one workspace shared by all layers, sized by the
 *   layer table; the gradient slots of the backward plan. */
#include <stdio.h>
#include <stdlib.h>

#include "graph.h"

void model_drain(crn_model *m)
{
    crn_error ignored;
    crn_finish(m->rt, &ignored);
}

void crn_model_destroy(crn_model *m)
{
    if (!m) return;
    model_drain(m);
    for (int i = 0; i < m->nparams; i++) {
        crn_tensor_free(&m->params[i].value);
        crn_tensor_free(&m->params[i].grad);
    }
    for (int i = 0; i < m->nlayers; i++)
        for (int j = 0; j < LAYER_MAX_STATE; j++) crn_tensor_free(&m->layers[i].state[j]);
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
    free(m->loss_host);
    crn_workspace_free(&m->ws);
    free(m->slots);
    free(m->steps);
    free(m->params);
    free(m->init_kind);
    free(m->fan_in);
    free(m->acts);
    free(m->layers);
    free(m);
}

static int alloc_zero(crn_model *m, cl_mem *buf, size_t bytes, const char *what, crn_error *err)
{
    int rc = crn_buffer_alloc_zero(m->rt, buf, bytes, err);
    if (rc != CRN_OK) {
        crn_error_prefix(err, "model %s (%s)", crn_model_name(m->cfg.kind), what);
        return rc;
    }
    m->bytes += bytes;
    return CRN_OK;
}

/* cfg.freeze: the layers of the frozen stages. */
static int mark_frozen(crn_model *m, crn_error *err)
{
    int k = m->cfg.freeze;
    if (k < 0 || k > m->nstages)
        return crn_fail(err, CRN_EINVAL, "model: cannot freeze %d stages of %s, which has %d", k,
                        crn_model_name(m->cfg.kind), m->nstages);
    for (int i = 0; k > 0 && i < m->stage_end[k - 1]; i++) m->layers[i].frozen = true;
    return CRN_OK;
}

static bool same_conv(const crn_conv_work *a, const crn_conv_work *b)
{
    const crn_conv_desc *x = &a->d, *y = &b->d;
    return x->cin == y->cin && x->cout == y->cout && x->kh == y->kh && x->kw == y->kw && x->stride == y->stride &&
           x->pad == y->pad && x->bias == y->bias && a->h == b->h && a->w == b->w && a->backward == b->backward &&
           a->dx == b->dx;
}

int crn_model_conv_work(const crn_model_config *cfg, int n, crn_conv_work **work, int *count, crn_error *err)
{
    *work = NULL;
    *count = 0;
    crn_model *m = calloc(1, sizeof *m);
    if (!m) return crn_fail(err, CRN_ENOMEM, "model: out of host memory");
    m->cfg = *cfg;
    m->max_batch = n;
    builder b = {m, err, CRN_OK};
    int rc = models_build(&b);
    /* which backward work each layer does, as crn_model_create plans it */
    if (rc == CRN_OK) rc = mark_frozen(m, err);
    if (rc == CRN_OK) {
        graph_fuse(m);
        rc = grad_plan_build(m, err);
    }
    crn_conv_work *w = rc == CRN_OK ? calloc((size_t)m->nlayers + 1, sizeof *w) : NULL;
    if (rc == CRN_OK && !w) rc = crn_fail(err, CRN_ENOMEM, "model: out of host memory");
    int k = 0;
    for (int i = 0; rc == CRN_OK && i < m->nlayers; i++) {
        const layer *l = &m->layers[i];
        const crn_conv_desc *d = LAYER_OPS[l->kind].conv ? LAYER_OPS[l->kind].conv(l) : NULL;
        if (!d) continue;
        const act_info *in = &m->acts[l->in];
        crn_conv_work c = {*d, n, in->h, in->w, 1, l->backward, l->backward_dx};
        int j = 0;
        while (j < k && !same_conv(&w[j], &c)) j++;
        if (j < k) w[j].count++;
        else w[k++] = c;
    }
    free(m->params), free(m->init_kind), free(m->fan_in), free(m->acts), free(m->layers), free(m->steps), free(m);
    if (rc != CRN_OK) {
        free(w);
        return rc;
    }
    *work = w;
    *count = k;
    return CRN_OK;
}

/* The optimiser's groups (crn_model_param_groups) from the layout: the
 * frozen layers' parameters come first (the stages are built from the
 * input on) and the classifier's last, which is checked, not assumed. */
static int param_groups(crn_model *m, crn_error *err)
{
    size_t frozen_end = 0, trained = m->np, head = m->np;
    int last = -1; /* the last layer with parameters: the classifier */
    for (int i = 0; i < m->nlayers; i++)
        for (int j = 0; j < LAYER_MAX_PARAMS; j++) {
            int k = m->layers[i].p[j];
            if (k < 0 || !m->params[k].trainable) continue;
            const crn_param *p = &m->params[k];
            if (m->layers[i].frozen) frozen_end = p->offset + p->numel > frozen_end ? p->offset + p->numel : frozen_end;
            else if (p->offset < trained) trained = p->offset;
            last = i;
        }
    for (int j = 0; last >= 0 && j < LAYER_MAX_PARAMS; j++) {
        int k = m->layers[last].p[j];
        if (k >= 0 && m->params[k].trainable && m->params[k].offset < head) head = m->params[k].offset;
    }
    if (frozen_end > trained || m->layers[last >= 0 ? last : 0].frozen || trained > head)
        return crn_fail(err, CRN_EINVAL, "model: the frozen parameters of %s are not the first in its layout",
                        crn_model_name(m->cfg.kind));
    m->trained_from = trained;
    m->head_from = head;
    return CRN_OK;
}

int crn_model_create(crn_ops *ops, const crn_model_config *cfg, int max_batch, crn_model **out, crn_error *err)
{
    *out = NULL;
    if (cfg->classes < 1) return crn_fail(err, CRN_EINVAL, "model: %d classes", cfg->classes);
    if (cfg->image_size < 1) return crn_fail(err, CRN_EINVAL, "model: image size %d", cfg->image_size);
    if (!(cfg->width > 0) || cfg->width > 64) return crn_fail(err, CRN_EINVAL, "model: width %g out of range", cfg->width);
    if (max_batch < 1) return crn_fail(err, CRN_EINVAL, "model: batch size %d", max_batch);
    int trc = layer_table_check(LAYER_OPS, L_KIND_COUNT, err);
    if (trc != CRN_OK) return trc;
    crn_model *m = calloc(1, sizeof *m);
    if (!m) return crn_fail(err, CRN_ENOMEM, "model: out of host memory");
    crn_runtime *rt = crn_ops_runtime(ops);
    m->ops = ops;
    m->rt = rt;
    m->cfg = *cfg;
    m->max_batch = max_batch;
    builder b = {m, err, CRN_OK};
    int rc = models_build(&b);
    if (rc != CRN_OK) goto fail;
    if ((rc = mark_frozen(m, err))) goto fail;
    graph_fuse(m);

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
    if ((rc = param_groups(m, err))) goto fail;
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
        const layer_ops *row = &LAYER_OPS[l->kind];
        layer_state_desc st[LAYER_MAX_STATE];
        int ns = row->state ? row->state(m, l, max_batch, st) : 0;
        for (int j = 0; j < ns && rc == CRN_OK; j++) {
            rc = crn_tensor_alloc(rt, &l->state[j], st[j].dtype, 1, &st[j].numel, err);
            m->bytes += st[j].numel * crn_dtype_size(st[j].dtype);
        }
        size_t w = row->workspace_bytes ? row->workspace_bytes(m, l, max_batch) : 0;
        if (w > ws_bytes) ws_bytes = w;
    }
    if (rc != CRN_OK) goto fail;
    if (ws_bytes > 0) {
        if ((rc = crn_workspace_reserve(rt, &m->ws, ws_bytes, err))) goto fail;
        m->bytes += ws_bytes;
    }
    size_t in_n = (size_t)max_batch * 3 * cfg->image_size * cfg->image_size, bn = (size_t)max_batch;
    if ((rc = crn_tensor_alloc(rt, &m->input_nchw, CRN_F32, 1, &in_n, err))) goto fail;
    if ((rc = crn_tensor_alloc(rt, &m->labels, CRN_I32, 1, &bn, err))) goto fail;
    size_t stats_n = 2 * bn;
    if ((rc = crn_tensor_alloc(rt, &m->losses, CRN_F32, 1, &stats_n, err))) goto fail;
    if (!(m->loss_host = malloc(stats_n * sizeof *m->loss_host))) {
        rc = crn_fail(err, CRN_ENOMEM, "model: out of host memory");
        goto fail;
    }
    m->bytes += in_n * 4 + bn * 12;

    /* Gradient slots, as many as the backward plan uses. */
    if ((rc = grad_plan_build(m, err))) goto fail;
    m->slots = calloc((size_t)m->nslots, sizeof *m->slots);
    if (!m->slots) {
        rc = crn_fail(err, CRN_ENOMEM, "model: out of host memory");
        goto fail;
    }
    for (int s = 0; s < m->nslots; s++)
        if ((rc = alloc_zero(m, &m->slots[s], max_act * sizeof(float), "gradient slots", err))) goto fail;
    if ((rc = crn_finish(rt, err))) goto fail;
    exec_set_tags(m);
    *out = m;
    return CRN_OK;
fail:
    crn_model_destroy(m);
    return rc;
}

/* ------------------------------------------------------------ accessors */

const crn_model_config *crn_model_get_config(const crn_model *m) { return &m->cfg; }
size_t crn_model_param_count(const crn_model *m) { return m->trainable; }

void crn_model_param_groups(const crn_model *m, size_t *trained_from, size_t *head_from)
{
    if (trained_from) *trained_from = m->trained_from;
    if (head_from) *head_from = m->head_from;
}
crn_runtime *crn_model_runtime(const crn_model *m) { return m->rt; }
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
