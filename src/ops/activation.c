/* ReLU, LeakyReLU (0.01) and SiLU (cl/activation.cl). */
#include "clresnet/ops/activation.h"

#include <limits.h>
#include <string.h>

static const char *const NAMES[] = {"relu", "leaky", "silu"};

int crn_act_parse(const char *name)
{
    if (!name) return -1;
    for (int i = 0; i < 3; i++)
        if (strcmp(name, NAMES[i]) == 0) return i;
    return -1;
}

const char *crn_act_name(crn_act_kind k)
{
    return (unsigned)k < 3 ? NAMES[k] : "unknown";
}

static int check(crn_act_kind k, size_t n, crn_error *err)
{
    if ((unsigned)k >= 3) return crn_fail(err, CRN_EINVAL, "unknown activation kind %d", (int)k);
    if (n > INT_MAX) return crn_fail(err, CRN_EINVAL, "activation over %zu elements: more than INT_MAX", n);
    return CRN_OK;
}

int crn_act_forward(crn_runtime *rt, crn_act_kind k, size_t n, const crn_tensor *x, crn_tensor *y, crn_error *err)
{
    int rc = check(k, n, err);
    if (rc) return rc;
    crn_kernel_entry *e;
    if ((rc = crn_kernel_get(rt, "act_forward", &e, err))) return rc;
    int kind = (int)k, nn = (int)n;
    rc = crn_kernel_args(e->kernel, err, 4, sizeof(cl_mem), &x->buf, sizeof(cl_mem), &y->buf, sizeof(int), &kind,
                         sizeof(int), &nn);
    return rc ? rc : crn_launch_1d(rt, e, n, err);
}

int crn_act_backward(crn_runtime *rt, crn_act_kind k, size_t n, const crn_tensor *x, const crn_tensor *dy,
                     crn_tensor *dx, crn_error *err)
{
    int rc = check(k, n, err);
    if (rc) return rc;
    crn_kernel_entry *e;
    if ((rc = crn_kernel_get(rt, "act_backward", &e, err))) return rc;
    int kind = (int)k, nn = (int)n;
    rc = crn_kernel_args(e->kernel, err, 5, sizeof(cl_mem), &x->buf, sizeof(cl_mem), &dy->buf, sizeof(cl_mem),
                         &dx->buf, sizeof(int), &kind, sizeof(int), &nn);
    return rc ? rc : crn_launch_1d(rt, e, n, err);
}
