/* PyTorch's default initialisation of nn.Conv2d, nn.Linear and
 * nn.BatchNorm2d: weights and the linear bias uniform in
 * +-1/sqrt(fan_in) (kaiming_uniform_ with a = sqrt(5) gives exactly that
 * bound), BN scale 1, shifts and running mean 0, running variance 1. Each
 * tensor draws from its own stream of the one counter-based generator
 * (seed, tensor index), so a tensor's values do not depend on the others. */
#include <math.h>
#include <stdlib.h>

#include "clresnet/core/rng.h"
#include "graph.h"

static void fill(const crn_model *m, int i, uint64_t seed, float *dst)
{
    const crn_param *p = &m->params[i];
    switch (m->init_kind[i]) {
    case INIT_KAIMING:
    case INIT_BIAS: {
        double bound = 1.0 / sqrt((double)m->fan_in[i]);
        crn_rng r;
        crn_rng_init(&r, seed, 0, (uint64_t)i, CRN_RNG_INIT);
        for (size_t j = 0; j < p->numel; j++) dst[j] = (float)((2.0 * crn_rng_uniform(&r) - 1.0) * bound);
        break;
    }
    case INIT_ONE:
        for (size_t j = 0; j < p->numel; j++) dst[j] = 1.0f;
        break;
    default:
        break; /* zeros */
    }
}

int crn_model_init(crn_model *m, uint64_t seed, crn_error *err)
{
    float *hp = calloc(m->np ? m->np : 1, sizeof *hp), *hb = calloc(m->nb ? m->nb : 1, sizeof *hb);
    if (!hp || !hb) {
        free(hp), free(hb);
        return crn_fail(err, CRN_ENOMEM, "model init: out of host memory");
    }
    for (int i = 0; i < m->nparams; i++) {
        crn_param *p = &m->params[i];
        if (p->is_counter) p->counter = 0;
        else fill(m, i, seed, (p->trainable ? hp : hb) + p->offset);
    }
    int rc = crn_buffer_write(m->rt, m->pbuf, 0, m->np * sizeof(float), hp, true, "the initial parameters", err);
    if (rc == CRN_OK)
        rc = crn_buffer_write(m->rt, m->bbuf, 0, m->nb * sizeof(float), hb, true, "the initial buffers", err);
    free(hp), free(hb);
    return rc;
}
