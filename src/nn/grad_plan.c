/* The backward pass, planned once at create time as a list of steps over
 * gradient slots (buffers as large as the largest activation), so that the
 * executor only follows it and the slot count is known before anything is
 * allocated.
 *
 * Slots are reference-counted: a layer whose gradient passes through
 * unchanged (the residual add, an activation folded into its batch norm)
 * hands its output's slot to its inputs without a copy. Where an activation is read by several layers, the
 * gradients of its readers are summed: the first writes the activation's
 * slot directly, the others write a fresh slot that is then added on (in
 * place when nothing else still reads the slot, else into the fresh one). */
#include <stdlib.h>

#include "graph.h"

typedef struct planner {
    crn_model *m;
    crn_error *err;
    int *grad_slot;  /* per activation: the slot holding its gradient, -1 none yet */
    bool *needs;     /* per activation: depends on a parameter being trained (else no gradient is wanted) */
    int *ref;        /* per slot: readers still to come */
    int nslots, cap_slots;
    int cap_steps;
    int cur_layer;
} planner;

static int plan_fail(planner *p) { return crn_fail(p->err, CRN_ENOMEM, "model: out of host memory"); }

static int take(planner *p)
{
    for (int s = 0; s < p->nslots; s++)
        if (p->ref[s] == 0) {
            p->ref[s] = 1;
            return s;
        }
    if (p->nslots == p->cap_slots) {
        int cap = p->cap_slots ? 2 * p->cap_slots : 16;
        int *r = realloc(p->ref, (size_t)cap * sizeof *r);
        if (!r) return -1;
        p->ref = r;
        p->cap_slots = cap;
    }
    p->ref[p->nslots] = 1;
    return p->nslots++;
}

static void release(planner *p, int s)
{
    if (s >= 0 && p->ref[s] > 0) p->ref[s]--;
}

static int emit(planner *p, step_kind kind, int act, int a, int b, int out)
{
    crn_model *m = p->m;
    if (m->nsteps == p->cap_steps) {
        int cap = p->cap_steps ? 2 * p->cap_steps : 256;
        grad_step *g = realloc(m->steps, (size_t)cap * sizeof *g);
        if (!g) return plan_fail(p);
        m->steps = g;
        p->cap_steps = cap;
    }
    m->steps[m->nsteps++] = (grad_step){kind, p->cur_layer, act, a, b, out};
    return CRN_OK;
}

/* Activation id also receives the gradient in slot g (a layer's dx, or a
 * passed-through dy). */
static int add_gradient(planner *p, int id, int g, bool owned)
{
    int have = p->grad_slot[id];
    if (have < 0) {
        p->grad_slot[id] = g;
        if (!owned) p->ref[g]++;
        return CRN_OK;
    }
    if (owned && have == g) return CRN_OK; /* the first gradient, written in place */
    if (p->ref[have] == 1) { /* only this activation reads it: accumulate in place */
        int rc = emit(p, STEP_ACCUM, id, g, have, have);
        if (owned) release(p, g);
        return rc;
    }
    /* shared with an activation still to be read: sum into a slot of our own */
    int d = owned ? g : take(p);
    if (d < 0) return plan_fail(p);
    int rc = emit(p, STEP_SUM, id, g, have, d);
    release(p, have);
    p->grad_slot[id] = d;
    return rc;
}

/* Which activations need a gradient, as autograd's requires_grad: those
 * computed from a parameter being trained. The input image does not, and
 * with --freeze neither does anything the frozen stages compute. */
static void mark_needs(planner *p)
{
    crn_model *m = p->m;
    for (int i = 0; i < m->nacts; i++) p->needs[i] = false;
    for (int li = 0; li < m->nlayers; li++) {
        const layer *l = &m->layers[li];
        bool trains = !l->frozen && l->p[0] >= 0 && m->params[l->p[0]].trainable;
        p->needs[l->out] = trains || p->needs[l->in] || (l->in2 >= 0 && p->needs[l->in2]);
    }
}

static int plan(planner *p)
{
    crn_model *m = p->m;
    mark_needs(p);
    for (int i = 0; i < m->nacts; i++) p->grad_slot[i] = -1;
    /* the logits' gradient: slot 0, written by the loss */
    p->grad_slot[m->layers[m->nlayers - 1].out] = take(p);
    if (p->grad_slot[m->layers[m->nlayers - 1].out] != 0) return plan_fail(p);
    int rc = CRN_OK;
    for (int li = m->nlayers - 1; li >= 0 && rc == CRN_OK; li--) {
        layer *l = &m->layers[li];
        p->cur_layer = li;
        if (!p->needs[l->out]) continue; /* frozen, and nothing before it trains: no backward */
        if (l->frozen) /* a batch norm in eval mode has no backward here */
            return crn_fail(p->err, CRN_EINVAL, "model: frozen layer %d comes after a trained one", li);
        int gy = p->grad_slot[l->out];
        if (gy < 0) return crn_fail(p->err, CRN_EINVAL, "model: layer %d has no output gradient", li);
        if (LAYER_OPS[l->kind].grad_passes_through || l->folded) {
            int ins[2] = {l->in, l->in2};
            for (int j = 0; j < 2 && rc == CRN_OK; j++)
                if (ins[j] >= 0 && p->needs[ins[j]]) rc = add_gradient(p, ins[j], gy, false);
        } else {
            bool need_dx = p->needs[l->in];
            l->backward = true;
            l->backward_dx = need_dx;
            int dx = -1;
            if (need_dx) {
                if ((dx = take(p)) < 0) return plan_fail(p);
                if (p->grad_slot[l->in] < 0) p->grad_slot[l->in] = dx;
            }
            rc = emit(p, STEP_LAYER, l->out, gy, -1, dx);
            if (rc == CRN_OK && need_dx) rc = add_gradient(p, l->in, dx, true);
        }
        release(p, gy);
    }
    return rc;
}

int grad_plan_build(crn_model *m, crn_error *err)
{
    planner p = {m, err, malloc((size_t)m->nacts * sizeof(int)), malloc((size_t)m->nacts * sizeof(bool)), NULL, 0, 0,
                 0, 0};
    free(m->steps);
    m->steps = NULL;
    m->nsteps = 0;
    int rc = p.grad_slot && p.needs ? plan(&p) : plan_fail(&p);
    if (rc == CRN_OK) m->nslots = p.nslots;
    free(p.grad_slot);
    free(p.needs);
    free(p.ref);
    return rc;
}
