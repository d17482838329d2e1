/* ReLU, LeakyReLU (CRN_LEAKY_SLOPE) and SiLU (cl/activation.cl). */
#include "clresnet/ops/activation.h"

#include <limits.h>
#include <string.h>

#include "ops_impl.h"

static const char *const NAMES[CRN_ACT_COUNT] = {"relu", "leaky", "silu"};

int crn_act_parse(const char *name)
{
    if (!name) return -1;
    for (int i = 0; i < CRN_ACT_COUNT; i++)
        if (strcmp(name, NAMES[i]) == 0) return i;
    return -1;
}

const char *crn_act_name(crn_act_kind k)
{
    return (unsigned)k < CRN_ACT_COUNT ? NAMES[k] : "unknown";
}

static int set_act_forward(const crn_kernel *k, crn_error *err, cl_mem x, cl_mem y, int kind, int n)
{
    crn_args a = crn_args_begin(k);
    crn_arg_mems(&a, 2, (const cl_mem[]){x, y});
    crn_arg_ints(&a, 2, (const int[]){kind, n});
    return crn_args_end(&a, err);
}

static int set_act_backward(const crn_kernel *k, crn_error *err, cl_mem x, cl_mem dy, cl_mem dx, int kind, int n)
{
    crn_args a = crn_args_begin(k);
    crn_arg_mems(&a, 3, (const cl_mem[]){x, dy, dx});
    crn_arg_ints(&a, 2, (const int[]){kind, n});
    return crn_args_end(&a, err);
}

static int check(crn_act_kind k, size_t n, crn_error *err)
{
    if ((unsigned)k >= 3) return crn_fail(err, CRN_EINVAL, "unknown activation kind %d", (int)k);
    if (n > INT_MAX) return crn_fail(err, CRN_EINVAL, "activation over %zu elements: more than INT_MAX", n);
    return CRN_OK;
}

int crn_act_forward(crn_ops *ops, crn_act_kind k, size_t n, const crn_tensor *x, crn_tensor *y, crn_error *err)
{
    int rc = check(k, n, err);
    if (rc == CRN_OK) rc = set_act_forward(ops->act.forward, err, x->buf, y->buf, (int)k, (int)n);
    return rc ? rc : crn_launch_1d(ops->rt, ops->act.forward, (n + 7) / 8, err);
}

int crn_act_backward(crn_ops *ops, crn_act_kind k, size_t n, const crn_tensor *x, const crn_tensor *dy,
                     crn_tensor *dx, crn_error *err)
{
    int rc = check(k, n, err);
    if (rc == CRN_OK) rc = set_act_backward(ops->act.backward, err, x->buf, dy->buf, dx->buf, (int)k, (int)n);
    return rc ? rc : crn_launch_1d(ops->rt, ops->act.backward, (n + 7) / 8, err);
}
