/* NAdam, Adam and SGD with PyTorch's update rules (torch 1.13's
 * single-tensor paths) over one flat buffer: one kernel launch per
 * parameter group and step. */
#include "clresnet/train/optim.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* The arguments nadam_step and adam_step share (cl/optim.cl), in order:
 * buffers, count, decay and moment coefficients, a bias correction term
 * (NAdam: 1 - beta2^t; Adam: its square root) and eps. */
typedef struct adam_args {
    cl_mem p, grad, m, v;
    int begin, end;
    float wd, beta1, beta2, omb1, omb2, bias2, eps;
} adam_args;

static void arg_adam_common(crn_args *a, const adam_args *x)
{
    crn_arg_mems(a, 4, (const cl_mem[]){x->p, x->grad, x->m, x->v});
    crn_arg_int(a, x->begin);
    crn_arg_int(a, x->end);
    crn_arg_floats(a, 7, (const float[]){x->wd, x->beta1, x->beta2, x->omb1, x->omb2, x->bias2, x->eps});
}

static int set_nadam_step(const crn_kernel *k, crn_error *err, const adam_args *x, float c_grad, float c_avg)
{
    crn_args a = crn_args_begin(k);
    arg_adam_common(&a, x);
    crn_arg_floats(&a, 2, (const float[]){c_grad, c_avg});
    return crn_args_end(&a, err);
}

static int set_adam_step(const crn_kernel *k, crn_error *err, const adam_args *x, float step_size)
{
    crn_args a = crn_args_begin(k);
    arg_adam_common(&a, x);
    crn_arg_float(&a, step_size);
    return crn_args_end(&a, err);
}

static int set_sgd_step(const crn_kernel *k, crn_error *err, cl_mem p, cl_mem grad, cl_mem buf, int begin, int end,
                        float wd, float momentum, float lr, int first)
{
    crn_args a = crn_args_begin(k);
    crn_arg_mems(&a, 3, (const cl_mem[]){p, grad, buf});
    crn_arg_int(&a, begin);
    crn_arg_int(&a, end);
    crn_arg_floats(&a, 3, (const float[]){wd, momentum, lr});
    crn_arg_int(&a, first);
    return crn_args_end(&a, err);
}

struct crn_optimizer {
    crn_runtime *rt;
    const crn_kernel *kernel; /* the step kernel of cfg.kind, looked up at creation */
    crn_optim_config cfg;
    size_t n;
    long long step;
    double mu_product; /* NAdam: PyTorch keeps it as a float32 tensor; rounded to float each step */
    cl_mem buf[2];
    int nbuf;
    crn_optim_group group[CRN_OPTIM_MAX_GROUPS];
    int ngroups;
};

crn_optim_config crn_optim_defaults(crn_optim_kind kind)
{
    crn_optim_config c;
    memset(&c, 0, sizeof c);
    c.kind = kind;
    c.beta1 = 0.9;
    c.beta2 = 0.999;
    c.eps = 1e-8;
    c.weight_decay = 1e-4;
    c.momentum_decay = 4e-3;
    c.nadam_torch113 = true;
    switch (kind) {
    case CRN_OPT_SGD:
        c.lr = 1e-2;
        c.momentum = 0.9;
        break;
    case CRN_OPT_ADAM:
    case CRN_OPT_NADAM:
    default:
        c.lr = 1e-3;
        break;
    }
    return c;
}

int crn_optim_parse(const char *name)
{
    if (!name) return -1;
    if (strcmp(name, "nadam") == 0) return CRN_OPT_NADAM;
    if (strcmp(name, "adam") == 0) return CRN_OPT_ADAM;
    if (strcmp(name, "sgd") == 0) return CRN_OPT_SGD;
    return -1;
}

const char *crn_optim_name(crn_optim_kind k)
{
    switch (k) {
    case CRN_OPT_NADAM: return "nadam";
    case CRN_OPT_ADAM: return "adam";
    case CRN_OPT_SGD: return "sgd";
    }
    return "?";
}

void crn_optim_destroy(crn_optimizer *o)
{
    if (!o) return;
    for (int i = 0; i < 2; i++)
        if (o->buf[i]) clReleaseMemObject(o->buf[i]);
    free(o);
}

int crn_optim_create(crn_runtime *rt, const crn_optim_config *cfg, size_t n, crn_optimizer **out, crn_error *err)
{
    *out = NULL;
    if (!(cfg->lr >= 0)) return crn_fail(err, CRN_EINVAL, "optimiser: invalid learning rate %g", cfg->lr);
    if (!(cfg->weight_decay >= 0)) return crn_fail(err, CRN_EINVAL, "optimiser: invalid weight decay %g", cfg->weight_decay);
    if (cfg->kind != CRN_OPT_SGD) {
        if (!(cfg->beta1 >= 0 && cfg->beta1 < 1) || !(cfg->beta2 >= 0 && cfg->beta2 < 1))
            return crn_fail(err, CRN_EINVAL, "optimiser: betas must be in [0, 1), got %g, %g", cfg->beta1, cfg->beta2);
        if (!(cfg->eps >= 0)) return crn_fail(err, CRN_EINVAL, "optimiser: invalid eps %g", cfg->eps);
    } else if (!(cfg->momentum >= 0)) {
        return crn_fail(err, CRN_EINVAL, "optimiser: invalid momentum %g", cfg->momentum);
    }
    if (n > (size_t)0x7fffffff) return crn_fail(err, CRN_EINVAL, "optimiser: %zu parameters exceed 2^31", n);
    crn_optimizer *o = calloc(1, sizeof *o);
    if (!o) return crn_fail(err, CRN_ENOMEM, "optimiser: out of host memory");
    o->rt = rt;
    o->cfg = *cfg;
    o->n = n;
    o->mu_product = 1.0;
    o->group[0] = (crn_optim_group){0, n, cfg->lr};
    o->ngroups = 1;
    /* the step kernel of this kind, resolved as every module's are */
#define SLOT(name) {name, offsetof(crn_optimizer, kernel)}
    static const crn_kernel_slot KERNEL[] = {[CRN_OPT_NADAM] = SLOT("nadam_step"), [CRN_OPT_ADAM] = SLOT("adam_step"),
                                             [CRN_OPT_SGD] = SLOT("sgd_step")};
#undef SLOT
    int krc = crn_kernels_find(rt, &KERNEL[cfg->kind], 1, o, err);
    if (krc != CRN_OK) {
        free(o);
        return krc;
    }
    o->nbuf = cfg->kind == CRN_OPT_SGD ? (cfg->momentum != 0 ? 1 : 0) : 2;
    for (int i = 0; i < o->nbuf; i++) {
        int rc = crn_buffer_alloc_zero(rt, &o->buf[i], n * sizeof(float), err);
        if (rc != CRN_OK) {
            crn_optim_destroy(o);
            crn_error_prefix(err, "optimiser state (%s)", crn_optim_name(cfg->kind));
            return rc;
        }
    }
    *out = o;
    return CRN_OK;
}

int crn_optim_set_groups(crn_optimizer *o, const crn_optim_group *groups, int count, crn_error *err)
{
    if (count < 1 || count > CRN_OPTIM_MAX_GROUPS)
        return crn_fail(err, CRN_EINVAL, "optimiser: %d parameter groups (1..%d)", count, CRN_OPTIM_MAX_GROUPS);
    for (int i = 0; i < count; i++) {
        const crn_optim_group *g = &groups[i];
        if (g->begin > g->end || g->end > o->n || (i > 0 && g->begin < groups[i - 1].end))
            return crn_fail(err, CRN_EINVAL, "optimiser: parameter group %d [%zu, %zu) is outside [0, %zu) or overlaps "
                            "the one before", i, g->begin, g->end, o->n);
        if (!(g->lr >= 0)) return crn_fail(err, CRN_EINVAL, "optimiser: invalid learning rate %g", g->lr);
    }
    memcpy(o->group, groups, (size_t)count * sizeof *groups);
    o->ngroups = count;
    return CRN_OK;
}

int crn_optim_group_count(const crn_optimizer *o) { return o->ngroups; }

void crn_optim_set_lr(crn_optimizer *o, int group, double lr)
{
    if (group >= 0 && group < o->ngroups) o->group[group].lr = lr;
}

double crn_optim_get_lr(const crn_optimizer *o, int group)
{
    return group >= 0 && group < o->ngroups ? o->group[group].lr : 0.0;
}

/* One group's launch at step `step` (1-based); NAdam's mu_product is the
 * step's, computed once by the caller. */
static int step_group(crn_optimizer *o, const crn_optim_group *g, long long step, double mu_product, double mu,
                      double mu_next, cl_mem params, cl_mem grads, crn_error *err)
{
    const crn_optim_config *c = &o->cfg;
    const crn_kernel *k = o->kernel;
    int begin = (int)g->begin, end = (int)g->end;
    float wd = (float)c->weight_decay, b1 = (float)c->beta1, b2 = (float)c->beta2, eps = (float)c->eps;
    float omb1 = (float)(1.0 - c->beta1), omb2 = (float)(1.0 - c->beta2);
    double lr = g->lr;
    int rc;
    switch (c->kind) {
    case CRN_OPT_NADAM: {
        double bc2 = 1.0 - pow(c->beta2, (double)step);
        /* torch 1.13 computes mu_product_next = mu_product * mu * mu_next
         * (mu counted twice; later versions use mu_product * mu_next). */
        double mu_product_next = c->nadam_torch113 ? (double)(float)((float)(mu_product * mu) * mu_next)
                                                   : (double)(float)(mu_product * mu_next);
        float c_grad = (float)(lr * (1.0 - mu) / (1.0 - mu_product));
        float c_avg = (float)(lr * mu_next / (1.0 - mu_product_next));
        adam_args x = {params, grads, o->buf[0], o->buf[1], begin, end, wd, b1, b2, omb1, omb2, (float)bc2, eps};
        rc = set_nadam_step(k, err, &x, c_grad, c_avg);
        break;
    }
    case CRN_OPT_ADAM: {
        double bc1 = 1.0 - pow(c->beta1, (double)step);
        double bc2 = 1.0 - pow(c->beta2, (double)step);
        float step_size = (float)(lr / bc1);
        float sqrt_bc2 = (float)sqrt(bc2);
        adam_args x = {params, grads, o->buf[0], o->buf[1], begin, end, wd, b1, b2, omb1, omb2, sqrt_bc2, eps};
        rc = set_adam_step(k, err, &x, step_size);
        break;
    }
    case CRN_OPT_SGD:
    default: {
        cl_mem b = o->nbuf ? o->buf[0] : params; /* unused when momentum is 0 */
        rc = set_sgd_step(k, err, params, grads, b, begin, end, wd, (float)c->momentum, (float)lr, step == 1);
        break;
    }
    }
    if (rc == CRN_OK) rc = crn_launch_1d(o->rt, k, g->end - g->begin, err);
    return rc;
}

int crn_optim_step(crn_optimizer *o, cl_mem params, cl_mem grads, crn_error *err)
{
    const crn_optim_config *c = &o->cfg;
    long long step = o->step + 1;
    /* NAdam's momentum schedule: per step, shared by the groups */
    double mu = c->beta1 * (1.0 - 0.5 * pow(0.96, (double)step * c->momentum_decay));
    double mu_next = c->beta1 * (1.0 - 0.5 * pow(0.96, (double)(step + 1) * c->momentum_decay));
    double mu_product = (float)(o->mu_product * mu);
    int rc = CRN_OK;
    for (int i = 0; i < o->ngroups && rc == CRN_OK; i++)
        if (o->group[i].end > o->group[i].begin)
            rc = step_group(o, &o->group[i], step, mu_product, mu, mu_next, params, grads, err);
    if (rc != CRN_OK) {
        crn_error_prefix(err, "%s step %lld", crn_optim_name(c->kind), step);
        return rc;
    }
    if (c->kind == CRN_OPT_NADAM) o->mu_product = mu_product;
    o->step = step;
    return CRN_OK;
}

void crn_optim_get_state(crn_optimizer *o, crn_optim_state *s)
{
    memset(s, 0, sizeof *s);
    s->step = o->step;
    s->mu_product = o->mu_product;
    s->buffer_count = o->nbuf;
    for (int i = 0; i < o->nbuf; i++) s->buffers[i] = o->buf[i];
    if (o->cfg.kind == CRN_OPT_SGD) {
        s->buffer_names[0] = "momentum_buffer";
    } else {
        s->buffer_names[0] = "exp_avg";
        s->buffer_names[1] = "exp_avg_sq";
    }
}

void crn_optim_set_counters(crn_optimizer *o, long long step, double mu_product)
{
    o->step = step;
    o->mu_product = mu_product;
}

const crn_optim_config *crn_optim_get_config(const crn_optimizer *o)
{
    return &o->cfg;
}
