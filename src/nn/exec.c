/* The executor: forward walks the layers in order, backward walks the plan
 * of grad_plan.c; every layer is reached through its row of the table. */
#include <stdio.h>
#include <stdlib.h>

#include "clresnet/ops/elementwise.h"
#include "clresnet/ops/loss.h"
#include "graph.h"

void exec_set_tags(crn_model *m)
{
    for (int i = 0; i < m->nlayers; i++) {
        layer *l = &m->layers[i];
        const layer_ops *row = &LAYER_OPS[l->kind];
        char base[24];
        if (row->family) row->family(m, l, base, sizeof base);
        else snprintf(base, sizeof base, "%s", row->name);
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
        const layer_ops *row = &LAYER_OPS[l->kind];
        if ((!fwd && !bwd) || !row->flops || (bwd && !l->backward)) continue;
        double f = row->flops(m, l, n);
        /* backward: the weight gradient, and the input gradient where the
         * planner asked for it (not for the first layer or after a frozen one) */
        total += fwd ? f : f * (l->backward_dx ? 2 : 1);
    }
    return total;
}

int crn_model_forward(crn_model *m, const float *x_nchw, int n, bool train, crn_error *err)
{
    if (n < 1 || n > m->max_batch)
        return crn_fail(err, CRN_EINVAL, "model forward: batch of %d, the model was planned for 1..%d", n,
                        m->max_batch);
    m->have_forward = m->have_loss = false;
    int S = m->cfg.image_size;
    crn_tensor in = m->input_nchw;
    in.numel = in.shape[0] = (size_t)n * 3 * S * S;
    int rc = crn_tensor_upload_nowait(m->rt, &in, x_nchw, err);
    crn_tensor x0 = act_tensor(m, 0, n);
    if (rc == CRN_OK) rc = crn_nchw_to_cnhw(m->ops, n, 3, S * S, &in, &x0, err);
    for (int li = 0; li < m->nlayers && rc == CRN_OK; li++) {
        layer *l = &m->layers[li];
        if (l->folded) continue; /* its batch norm applied it */
        crn_prof_tag(m->rt, l->tag_fwd);
        /* a frozen batch norm keeps eval mode, as common fine-tuning recipes do */
        layer_io io = {.n = n, .train = train && !l->frozen, .x = act_tensor(m, l->in, n), .y = act_tensor(m, l->out, n)};
        if (l->in2 >= 0) io.x2 = act_tensor(m, l->in2, n);
        rc = LAYER_OPS[l->kind].forward(m, l, &io, err);
        if (rc != CRN_OK) crn_error_prefix(err, "%s forward, layer %d", crn_model_name(m->cfg.kind), li);
    }
    if (rc != CRN_OK) {
        model_drain(m);
        return rc;
    }
    m->cur_n = n;
    m->have_forward = true;
    m->logits_view = act_tensor(m, m->layers[m->nlayers - 1].out, n);
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
    int rc = crn_buffer_read(m->rt, m->logits_view.buf, 0, cnt * sizeof(float), tmp, true, "the logits", err);
    if (rc != CRN_OK) {
        free(tmp);
        return rc;
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
        if (labels[i] < 0 || labels[i] >= k) {
            model_drain(m); /* the step ends here */
            return crn_fail(err, CRN_EINVAL, "model loss: label %d of sample %d is outside 0..%d", labels[i], i, k - 1);
        }
    crn_tensor lab = m->labels, stats = m->losses;
    lab.numel = lab.shape[0] = (size_t)n;
    stats.numel = stats.shape[0] = 2 * (size_t)n;
    /* the logits' gradient goes to slot 0, where the backward plan starts */
    crn_tensor dl = buf_tensor(m->slots[0], (size_t)k * n);
    dl.ndim = 2, dl.shape[0] = (size_t)k, dl.shape[1] = (size_t)n;
    int rc = crn_tensor_upload_nowait(m->rt, &lab, labels, err);
    if (rc == CRN_OK) rc = crn_softmax_xent(m->ops, k, n, &m->logits_view, &lab, &stats, &dl, err);
    if (rc == CRN_OK) m->have_loss = true;
    if (rc == CRN_OK && losses) rc = crn_model_read_loss(m, n, losses, NULL, err);
    return rc;
}

int crn_model_read_loss(crn_model *m, int n, float *losses, int32_t *correct, crn_error *err)
{
    if (!m->have_loss || n != m->cur_n)
        return crn_fail(err, CRN_EINVAL, "model: no loss of %d samples to read", n);
    crn_tensor stats = m->losses;
    stats.numel = stats.shape[0] = 2 * (size_t)n;
    float *host = m->loss_host;
    int rc = crn_tensor_download(m->rt, &stats, host, err);
    if (rc != CRN_OK) return rc;
    memcpy(losses, host, (size_t)n * sizeof *losses);
    for (int i = 0; correct && i < n; i++) correct[i] = host[n + i] != 0.0f;
    return CRN_OK;
}

static crn_tensor slot_tensor(const crn_model *m, int slot, int act, int n)
{
    return slot < 0 ? buf_tensor(NULL, 0) : buf_tensor(m->slots[slot], act_floats(m, act, n));
}

static int run_step(crn_model *m, const grad_step *s, int n, crn_error *err)
{
    crn_tensor a = slot_tensor(m, s->a, s->act, n);
    switch (s->kind) {
    case STEP_LAYER: {
        layer *l = &m->layers[s->layer];
        layer_io io = {.n = n, .train = true, .x = act_tensor(m, l->in, n), .y = act_tensor(m, l->out, n), .gy = a,
                       .dx = slot_tensor(m, s->out, l->in, n)};
        if (l->in2 >= 0) io.x2 = act_tensor(m, l->in2, n);
        return LAYER_OPS[l->kind].backward(m, l, &io, err);
    }
    case STEP_ACCUM: {
        crn_tensor b = slot_tensor(m, s->b, s->act, n);
        return crn_axpby(m->ops, a.numel, 1.0f, &a, 1.0f, &b, err);
    }
    case STEP_SUM: {
        crn_tensor b = slot_tensor(m, s->b, s->act, n), out = slot_tensor(m, s->out, s->act, n);
        return crn_add(m->ops, a.numel, &a, &b, &out, err);
    }
    }
    return crn_fail(err, CRN_EINVAL, "model: unknown backward step %d", (int)s->kind);
}

int crn_model_backward(crn_model *m, crn_error *err)
{
    if (!m->have_loss) return crn_fail(err, CRN_EINVAL, "model backward: no loss computed since the last forward pass");
    int rc = CRN_OK;
    for (int i = 0; i < m->nsteps && rc == CRN_OK; i++) {
        crn_prof_tag(m->rt, m->layers[m->steps[i].layer].tag_bwd);
        rc = run_step(m, &m->steps[i], m->cur_n, err);
        if (rc != CRN_OK) crn_error_prefix(err, "%s backward, layer %d", crn_model_name(m->cfg.kind), m->steps[i].layer);
    }
    return rc;
}
