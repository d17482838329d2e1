#include "onnx_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clresnet/core/hash.h"
#include "clresnet/core/rng.h"
#include "onnx.pb-c.h"

typedef struct fixture_case {
    const char *name;
    crn_model_kind kind;
    crn_act_kind act;
    bool final_act;
} fixture_case;

static const fixture_case CASES[] = {
    {"resnet50_relu", CRN_MODEL_RESNET50, CRN_ACT_RELU, true},
    {"resnet50_leaky", CRN_MODEL_RESNET50, CRN_ACT_LEAKY, true},
    {"resnet50_silu", CRN_MODEL_RESNET50, CRN_ACT_SILU, true},
    {"resnet50_nofinal", CRN_MODEL_RESNET50, CRN_ACT_RELU, false},
    {"plain50_relu", CRN_MODEL_PLAIN50, CRN_ACT_RELU, true},
    {"baseline_relu", CRN_MODEL_BASELINE, CRN_ACT_RELU, true},
    {"baseline_silu", CRN_MODEL_BASELINE, CRN_ACT_SILU, true},
};
enum { NCASES = (int)(sizeof CASES / sizeof CASES[0]) };

/* The BatchNorm tensor kind of a state-dict name: 0 weight, 1 bias, 2 running
 * mean, 3 running variance; -1 for anything else. */
static int bn_part(const crn_model *m, const char *name)
{
    static const char *const parts[4] = {".weight", ".bias", ".running_mean", ".running_var"};
    for (int k = 0; k < 4; k++) {
        size_t n = strlen(name), s = strlen(parts[k]);
        if (n <= s || strcmp(name + n - s, parts[k]) != 0) continue;
        char probe[160];
        snprintf(probe, sizeof probe, "%.*s.running_var", (int)(n - s), name);
        return crn_model_find(m, probe) >= 0 ? k : -1;
    }
    return -1;
}

int onnx_fixture_model(crn_ops *ops, const char *name, int max_batch, crn_model **out, crn_error *err)
{
    *out = NULL;
    int ci = 0;
    while (ci < NCASES && strcmp(CASES[ci].name, name) != 0) ci++;
    if (ci == NCASES) return crn_fail(err, CRN_EINVAL, "no ONNX fixture case '%s'", name);
    const fixture_case *fc = &CASES[ci];
    crn_model_config c = {fc->kind, fc->act, fc->final_act, 10, 64, 0.0625, false, 0};
    uint64_t seed = 1000 + (uint64_t)ci;
    crn_model *m = NULL;
    int rc = crn_model_create(ops, &c, max_batch, &m, err);
    if (rc == CRN_OK) rc = crn_model_init(m, seed, err);
    static const double lo[4] = {0.5, -0.2, -0.1, 0.5}, span[4] = {1.0, 0.4, 0.2, 1.0};
    for (int i = 0; rc == CRN_OK && i < crn_model_tensor_count(m); i++) {
        crn_param *p = crn_model_tensor(m, i);
        int k = p->is_counter ? -1 : bn_part(m, p->name);
        if (k < 0) continue;
        float *v = malloc(p->numel * sizeof *v);
        if (!v) {
            rc = crn_fail(err, CRN_ENOMEM, "out of host memory");
            break;
        }
        crn_rng r;
        crn_rng_init(&r, seed, 1, (uint64_t)i, CRN_RNG_INIT);
        for (size_t j = 0; j < p->numel; j++) v[j] = (float)(lo[k] + span[k] * crn_rng_uniform(&r));
        rc = crn_tensor_upload(crn_model_runtime(m), &p->value, v, err);
        free(v);
    }
    if (rc != CRN_OK) crn_model_destroy(m);
    else *out = m;
    return rc;
}

uint64_t onnx_graph_hash(const uint8_t *buf, size_t len)
{
    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, len, buf);
    if (!m || !m->graph) {
        if (m) onnx__model_proto__free_unpacked(m, NULL);
        return 0;
    }
    size_t n = onnx__graph_proto__get_packed_size(m->graph);
    uint8_t *g = malloc(n ? n : 1);
    uint64_t h = 0;
    if (g && onnx__graph_proto__pack(m->graph, g) == n) h = crn_fnv1a64(CRN_FNV1A64_INIT, g, n);
    free(g);
    onnx__model_proto__free_unpacked(m, NULL);
    return h;
}
