/* ONNX export (src/nn/onnx_export.c), read back with protobuf-c:
 *  - the model: IR version, opset, producer, metadata;
 *  - the graph: "input" [batch, 3, S, S] and "logits" [batch, K] (and
 *    "probabilities") with a symbolic batch, the op types node by node
 *    against the architecture written out here, the attributes (kernels,
 *    strides, pads, eps, slope), every node's inputs defined before use;
 *  - the initializers: one per state-dict tensor (num_batches_tracked left
 *    out), PyTorch's names and shapes, the values equal bit for bit to the
 *    model's weights on the device;
 *  - onnxruntime's logits (tests/fixtures/onnx_logits.safetensors, made by
 *    tests/make_fixtures_onnx.py from the models of tests/nn/onnx_support.c and
 *    8 real images preprocessed by clresnet): the exporter
 *    still writes the graph onnxruntime ran (its fingerprint), and clresnet's
 *    forward matches onnxruntime's logits within 1e-4 of their magnitude. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clresnet/core/file_util.h"
#include "clresnet/nn/onnx_export.h"
#include "onnx.pb-c.h"
#include "onnx_support.h"
#include "test_support.h"

enum { MAX_OPS = 512 };

typedef struct op_list {
    const char *op[MAX_OPS];
    int n;
} op_list;

static void push(op_list *l, const char *op)
{
    ck_assert_int_lt(l->n, MAX_OPS);
    l->op[l->n++] = op;
}

static void push_act(op_list *l, crn_act_kind act)
{
    if (act == CRN_ACT_RELU) push(l, "Relu");
    else if (act == CRN_ACT_LEAKY) push(l, "LeakyRelu");
    else push(l, "Sigmoid"), push(l, "Mul");
}

static void push_bn(op_list *l, bool bn)
{
    if (bn) push(l, "BatchNormalization");
}

/* The architecture of src/nn/models.c (tools/seed_torch.py), op by op in
 * the builder's order: the block's three convolutions, then the shortcut. */
static void expected_ops(const crn_model_config *c, bool softmax, op_list *l)
{
    bool bn = !c->no_batchnorm;
    l->n = 0;
    if (c->kind == CRN_MODEL_BASELINE) {
        for (int s = 0; s < 4; s++) push(l, "Conv"), push_bn(l, bn), push_act(l, c->act), push(l, "MaxPool");
    } else {
        push(l, "Conv"), push_bn(l, bn), push_act(l, c->act), push(l, "MaxPool");
        static const int reps[4] = {3, 4, 6, 3};
        for (int s = 0; s < 4; s++)
            for (int r = 0; r < reps[s]; r++) {
                push(l, "Conv"), push_bn(l, bn), push_act(l, c->act);
                push(l, "Conv"), push_bn(l, bn), push_act(l, c->act);
                push(l, "Conv"), push_bn(l, bn);
                if (c->kind == CRN_MODEL_RESNET50) {
                    if (r == 0) push(l, "Conv"), push_bn(l, bn); /* projection: the shape changes */
                    push(l, "Add");
                }
                if (c->final_act) push_act(l, c->act);
            }
    }
    push(l, "GlobalAveragePool"), push(l, "Flatten"), push(l, "Gemm");
    if (softmax) push(l, "Softmax");
}

static crn_model *make_model(crn_model_kind kind, crn_act_kind act, bool final_act, bool no_bn, int size,
                             double width, int classes)
{
    crn_error err = {0};
    crn_model_config c = {kind, act, final_act, classes, size, width, no_bn, 0};
    crn_model *m = NULL;
    CK_OK(crn_model_create(test_ops(), &c, 2, &m, &err));
    CK_OK(crn_model_init(m, 42, &err));
    return m;
}

static const Onnx__AttributeProto *attr(const Onnx__NodeProto *n, const char *name)
{
    for (size_t i = 0; i < n->n_attribute; i++)
        if (!strcmp(n->attribute[i]->name, name)) return n->attribute[i];
    ck_abort_msg("node %s (%s) has no attribute %s", n->name, n->op_type, name);
    return NULL;
}

static void check_ints(const Onnx__NodeProto *n, const char *name, int count, const int64_t *want)
{
    const Onnx__AttributeProto *a = attr(n, name);
    ck_assert_int_eq(a->type, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    ck_assert_int_eq((int)a->n_ints, count);
    for (int i = 0; i < count; i++)
        ck_assert_msg(a->ints[i] == want[i], "%s.%s[%d] = %lld, want %lld", n->name, name, i, (long long)a->ints[i],
                      (long long)want[i]);
}

static int64_t int_attr(const Onnx__NodeProto *n, const char *name)
{
    const Onnx__AttributeProto *a = attr(n, name);
    ck_assert_int_eq(a->type, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    return a->i;
}

static float float_attr(const Onnx__NodeProto *n, const char *name)
{
    const Onnx__AttributeProto *a = attr(n, name);
    ck_assert_int_eq(a->type, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    return a->f;
}

/* A float tensor value [batch, dims...] with the batch symbolic. */
static void check_value(const Onnx__ValueInfoProto *v, const char *name, int nd, const int64_t *dims)
{
    ck_assert_str_eq(v->name, name);
    ck_assert_ptr_nonnull(v->type);
    ck_assert_int_eq(v->type->value_case, ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE);
    const Onnx__TypeProto__Tensor *t = v->type->tensor_type;
    ck_assert(t->has_elem_type && t->elem_type == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT);
    ck_assert_ptr_nonnull(t->shape);
    ck_assert_int_eq((int)t->shape->n_dim, nd + 1);
    const Onnx__TensorShapeProto__Dimension *b = t->shape->dim[0];
    ck_assert_msg(b->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM, "%s: batch not symbolic",
                  name);
    ck_assert_str_eq(b->dim_param, CRN_ONNX_BATCH_DIM);
    for (int d = 0; d < nd; d++) {
        const Onnx__TensorShapeProto__Dimension *x = t->shape->dim[d + 1];
        ck_assert_int_eq(x->value_case, ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE);
        ck_assert_msg(x->dim_value == dims[d], "%s dim %d: %lld, want %lld", name, d + 1, (long long)x->dim_value,
                      (long long)dims[d]);
    }
}

static bool is_defined(const char *name, const char **defined, int ndef)
{
    for (int i = 0; i < ndef; i++)
        if (!strcmp(defined[i], name)) return true;
    return false;
}

static const Onnx__TensorProto *find_init(const Onnx__GraphProto *g, const char *name)
{
    for (size_t i = 0; i < g->n_initializer; i++)
        if (!strcmp(g->initializer[i]->name, name)) return g->initializer[i];
    return NULL;
}

static const Onnx__NodeProto *producer(const Onnx__GraphProto *g, const char *value)
{
    for (size_t i = 0; i < g->n_node; i++)
        if (!strcmp(g->node[i]->output[0], value)) return g->node[i];
    return NULL;
}

/* Exports m and checks everything the file says against the model. */
static void check_export(crn_model *m, bool softmax)
{
    crn_error err = {0};
    const crn_model_config *c = crn_model_get_config(m);
    const crn_onnx_prop props[] = {{"input_size", "40"}, {"class_names", "[\"a\",\"b\"]"}};
    crn_onnx_options o = {softmax, "9.9.9", "doc", props, 2};
    uint8_t *buf = NULL;
    size_t len = 0;
    CK_OK(crn_onnx_export_bytes(m, &o, &buf, &len, &err));
    Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, len, buf);
    ck_assert_msg(mp != NULL, "protobuf-c cannot read the exported model back");

    /* the model */
    ck_assert(mp->has_ir_version && mp->ir_version == CRN_ONNX_IR_VERSION);
    ck_assert_int_eq((int)mp->n_opset_import, 1);
    ck_assert(mp->opset_import[0]->domain == NULL || !strcmp(mp->opset_import[0]->domain, ""));
    ck_assert(mp->opset_import[0]->has_version && mp->opset_import[0]->version == CRN_ONNX_OPSET);
    ck_assert_str_eq(mp->producer_name, "clresnet");
    ck_assert_str_eq(mp->producer_version, "9.9.9");
    ck_assert_int_eq((int)mp->n_metadata_props, 2);
    ck_assert_str_eq(mp->metadata_props[0]->key, "input_size");
    ck_assert_str_eq(mp->metadata_props[0]->value, "40");
    ck_assert_str_eq(mp->metadata_props[1]->key, "class_names");
    ck_assert_str_eq(mp->metadata_props[1]->value, "[\"a\",\"b\"]");

    /* inputs and outputs */
    const Onnx__GraphProto *g = mp->graph;
    ck_assert_ptr_nonnull(g);
    int64_t in_dims[3] = {3, c->image_size, c->image_size}, out_dims[1] = {c->classes};
    ck_assert_int_eq((int)g->n_input, 1);
    check_value(g->input[0], CRN_ONNX_INPUT, 3, in_dims);
    ck_assert_int_eq((int)g->n_output, softmax ? 2 : 1);
    check_value(g->output[0], CRN_ONNX_LOGITS, 1, out_dims);
    if (softmax) check_value(g->output[1], CRN_ONNX_PROBABILITIES, 1, out_dims);

    /* the nodes, in order; each input defined before it is used */
    op_list want;
    expected_ops(c, softmax, &want);
    ck_assert_msg((int)g->n_node == want.n, "%zu nodes, want %d", g->n_node, want.n);
    const char **defined = malloc((g->n_node + g->n_initializer + 1) * sizeof *defined);
    int ndef = 0;
    defined[ndef++] = CRN_ONNX_INPUT;
    for (size_t i = 0; i < g->n_initializer; i++) defined[ndef++] = g->initializer[i]->name;
    int convs = 0, pools = 0;
    for (size_t i = 0; i < g->n_node; i++) {
        const Onnx__NodeProto *n = g->node[i];
        ck_assert_msg(!strcmp(n->op_type, want.op[i]), "node %zu (%s) is %s, want %s", i, n->name, n->op_type,
                      want.op[i]);
        ck_assert(n->domain == NULL || !strcmp(n->domain, ""));
        for (size_t j = 0; j < n->n_input; j++)
            ck_assert_msg(is_defined(n->input[j], defined, ndef), "node %s reads %s before it is written", n->name,
                          n->input[j]);
        ck_assert_int_eq((int)n->n_output, 1);
        ck_assert_msg(!is_defined(n->output[0], defined, ndef), "%s written twice", n->output[0]);
        defined[ndef++] = n->output[0];
        if (!strcmp(n->op_type, "Conv")) {
            ck_assert_int_eq((int)n->n_input, 2);
            const Onnx__TensorProto *w = find_init(g, n->input[1]);
            ck_assert_ptr_nonnull(w);
            ck_assert_int_eq((int)w->n_dims, 4);
            int64_t k = w->dims[2], st = 1, pad = 0;
            if (c->kind == CRN_MODEL_BASELINE) pad = 1;
            else if (convs == 0) st = 2, pad = 3; /* the stem */
            else if (k == 3) pad = 1;
            const char *nm = n->name;
            /* ResNet v1: the stride on a stage's first 1x1 conv and its projection */
            if (c->kind != CRN_MODEL_BASELINE && convs > 0 && k == 1 &&
                (strstr(nm, "block2.0.") || strstr(nm, "block3.0.") || strstr(nm, "block4.0.")) &&
                (strstr(nm, ".block.0") || strstr(nm, ".downsample.0")))
                st = 2;
            int64_t ks[2] = {k, k}, ss[2] = {st, st}, ps[4] = {pad, pad, pad, pad}, ds[2] = {1, 1};
            check_ints(n, "kernel_shape", 2, ks);
            check_ints(n, "strides", 2, ss);
            check_ints(n, "pads", 4, ps);
            check_ints(n, "dilations", 2, ds);
            ck_assert_int_eq((int)int_attr(n, "group"), 1);
            convs++;
        } else if (!strcmp(n->op_type, "BatchNormalization")) {
            ck_assert_int_eq((int)n->n_input, 5);
            ck_assert_float_eq(float_attr(n, "epsilon"), 1e-5f);
            char want_name[160];
            snprintf(want_name, sizeof want_name, "%s.running_var", n->name);
            ck_assert_str_eq(n->input[4], want_name);
        } else if (!strcmp(n->op_type, "LeakyRelu")) {
            ck_assert_float_eq(float_attr(n, "alpha"), 0.01f);
        } else if (!strcmp(n->op_type, "Mul")) { /* SiLU: x * sigmoid(x) */
            const Onnx__NodeProto *s = g->node[i - 1];
            ck_assert_str_eq(s->op_type, "Sigmoid");
            ck_assert_str_eq(n->input[0], s->input[0]);
            ck_assert_str_eq(n->input[1], s->output[0]);
        } else if (!strcmp(n->op_type, "MaxPool")) {
            int64_t k = c->kind == CRN_MODEL_BASELINE ? 2 : 3, p = c->kind == CRN_MODEL_BASELINE ? 0 : 1;
            int64_t ks[2] = {k, k}, ss[2] = {2, 2}, ps[4] = {p, p, p, p};
            check_ints(n, "kernel_shape", 2, ks);
            check_ints(n, "strides", 2, ss);
            check_ints(n, "pads", 4, ps);
            ck_assert_int_eq((int)int_attr(n, "ceil_mode"), 0);
            pools++;
        } else if (!strcmp(n->op_type, "Add")) {
            /* the block's last BN (or conv) plus the shortcut */
            ck_assert_int_eq((int)n->n_input, 2);
            const Onnx__NodeProto *a = producer(g, n->input[0]), *b = producer(g, n->input[1]);
            ck_assert_msg(a && strstr(a->name, c->no_batchnorm ? ".block.6" : ".block.7"), "%s adds %s", n->name,
                          n->input[0]);
            /* the shortcut: this block's projection, or the block's input (made outside it) */
            char block[64];
            snprintf(block, sizeof block, "%.*s.", (int)(strstr(a->name, ".block.") - a->name), a->name);
            ck_assert_msg(b && (strncmp(b->name, block, strlen(block)) != 0 || strstr(b->name, ".downsample.")),
                          "%s: the shortcut is %s", n->name, n->input[1]);
        } else if (!strcmp(n->op_type, "Flatten")) {
            ck_assert_int_eq((int)int_attr(n, "axis"), 1);
        } else if (!strcmp(n->op_type, "Gemm")) {
            ck_assert_int_eq((int)int_attr(n, "transB"), 1);
            ck_assert_str_eq(n->output[0], CRN_ONNX_LOGITS);
            ck_assert_str_eq(n->input[1], "fc.0.weight");
            ck_assert_str_eq(n->input[2], "fc.0.bias");
        } else if (!strcmp(n->op_type, "Softmax")) {
            ck_assert_int_eq((int)int_attr(n, "axis"), 1);
            ck_assert_str_eq(n->input[0], CRN_ONNX_LOGITS);
            ck_assert_str_eq(n->output[0], CRN_ONNX_PROBABILITIES);
        }
    }
    ck_assert_str_eq(g->node[0]->input[0], CRN_ONNX_INPUT);
    ck_assert_int_eq(pools, c->kind == CRN_MODEL_BASELINE ? 4 : 1);
    free(defined);

    /* the initializers: the state dict, bit for bit */
    int count = crn_model_tensor_count(m), want_inits = 0;
    for (int t = 0; t < count; t++) {
        crn_param *p = crn_model_tensor(m, t);
        if (p->is_counter) {
            ck_assert_msg(find_init(g, p->name) == NULL, "%s exported", p->name);
            continue;
        }
        want_inits++;
        const Onnx__TensorProto *ini = find_init(g, p->name);
        ck_assert_msg(ini != NULL, "no initializer %s", p->name);
        ck_assert(ini->has_data_type && ini->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT);
        ck_assert_int_eq((int)ini->n_dims, p->ndim);
        for (int d = 0; d < p->ndim; d++) ck_assert_int_eq((int)ini->dims[d], (int)p->shape[d]);
        ck_assert(ini->has_raw_data && ini->raw_data.len == p->numel * 4);
        float *want_v = test_download(&p->value);
        uint8_t *le = malloc(p->numel * 4);
        for (size_t i = 0; i < p->numel; i++) {
            uint32_t u;
            memcpy(&u, &want_v[i], 4);
            for (int b = 0; b < 4; b++) le[4 * i + b] = (uint8_t)(u >> (8 * b));
        }
        ck_assert_msg(memcmp(le, ini->raw_data.data, p->numel * 4) == 0, "%s: values differ from the model's", p->name);
        free(le), free(want_v);
    }
    ck_assert_int_eq((int)g->n_initializer, want_inits);
    fprintf(stderr, "%s/%s%s%s: %zu nodes, %zu initializers, %zu bytes\n", crn_model_name(c->kind),
            crn_act_name(c->act), c->final_act ? "" : " no-final-act", c->no_batchnorm ? " no-BN" : "", g->n_node,
            g->n_initializer, len);
    onnx__model_proto__free_unpacked(mp, NULL);
    free(buf);
}

START_TEST(test_resnet50_relu_softmax)
{
    crn_model *m = make_model(CRN_MODEL_RESNET50, CRN_ACT_RELU, true, false, 32, 0.125, 7);
    check_export(m, true);
    crn_model_destroy(m);
}
END_TEST

START_TEST(test_resnet50_leaky)
{
    crn_model *m = make_model(CRN_MODEL_RESNET50, CRN_ACT_LEAKY, true, false, 40, 0.0625, 5);
    check_export(m, false);
    crn_model_destroy(m);
}
END_TEST

START_TEST(test_resnet50_silu_nofinal)
{
    crn_model *m = make_model(CRN_MODEL_RESNET50, CRN_ACT_SILU, false, false, 32, 0.0625, 3);
    check_export(m, false);
    crn_model_destroy(m);
}
END_TEST

START_TEST(test_plain50_no_batchnorm)
{
    crn_model *m = make_model(CRN_MODEL_PLAIN50, CRN_ACT_RELU, true, true, 32, 0.0625, 4);
    check_export(m, true);
    crn_model_destroy(m);
}
END_TEST

START_TEST(test_resnet50_no_batchnorm)
{
    crn_model *m = make_model(CRN_MODEL_RESNET50, CRN_ACT_SILU, true, true, 32, 0.0625, 4);
    check_export(m, false);
    crn_model_destroy(m);
}
END_TEST

START_TEST(test_baseline_silu)
{
    crn_model *m = make_model(CRN_MODEL_BASELINE, CRN_ACT_SILU, true, false, 24, 0.25, 6);
    check_export(m, true);
    crn_model_destroy(m);
}
END_TEST

/* The file is the bytes, written atomically; a folder that is not there is an error. */
START_TEST(test_export_file)
{
    crn_error err = {0};
    crn_model *m = make_model(CRN_MODEL_BASELINE, CRN_ACT_RELU, true, false, 16, 0.125, 3);
    char path[] = "/tmp/clresnet-test-onnx-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    uint8_t *buf;
    size_t len;
    CK_OK(crn_onnx_export_bytes(m, NULL, &buf, &len, &err));
    CK_OK(crn_onnx_export(m, NULL, path, &err));
    char *file;
    size_t flen;
    CK_OK(crn_read_file(path, &file, &flen, &err));
    ck_assert(flen == len && memcmp(file, buf, len) == 0);
    free(file), free(buf);
    unlink(path);
    ck_assert_int_ne(crn_onnx_export(m, NULL, "/nonexistent-dir/x.onnx", &err), CRN_OK);
    ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent-dir"));
    crn_model_destroy(m);
}
END_TEST

/* clresnet's forward against onnxruntime's logits of the same graph. */
static void run_ort_case(const char *name)
{
    crn_error err = {0};
    crn_st_file f;
    test_load_fixture("onnx_logits.safetensors", &f);
    char key[128];
    snprintf(key, sizeof key, "graph_hash.%s", name);
    const char *want_hash = crn_st_meta(&f, key);
    ck_assert_msg(want_hash != NULL, "onnx_logits.safetensors has no %s", key);
    size_t nx, nl;
    float *x = test_fixture_f32(&f, "x", &nx);
    snprintf(key, sizeof key, "ort.%s", name);
    float *ort = test_fixture_f32(&f, key, &nl);
    int n = (int)crn_st_find(&f, "x")->shape[0];
    crn_model *m = NULL;
    CK_OK(onnx_fixture_model(test_ops(), name, n, &m, &err));
    const crn_model_config *c = crn_model_get_config(m);
    ck_assert_int_eq((int)nl, n * c->classes);
    ck_assert_int_eq((int)nx, n * 3 * c->image_size * c->image_size);

    /* the graph onnxruntime ran is the one the exporter writes now */
    uint8_t *buf;
    size_t len;
    CK_OK(crn_onnx_export_bytes(m, NULL, &buf, &len, &err));
    char got_hash[32];
    snprintf(got_hash, sizeof got_hash, "%016llx", (unsigned long long)onnx_graph_hash(buf, len));
    free(buf);
    ck_assert_msg(!strcmp(got_hash, want_hash),
                  "%s: the exported graph changed (fingerprint %s, onnxruntime ran %s): check it, then rerun "
                  "tests/make_fixtures_onnx.py --fixtures",
                  name, got_hash, want_hash);

    float *logits = malloc(nl * sizeof *logits);
    CK_OK(crn_model_forward(m, x, n, false, &err));
    CK_OK(crn_model_read_logits(m, n, logits, &err));
    double scale = 0;
    for (size_t i = 0; i < nl; i++) scale = fmax(scale, fabs(ort[i]));
    ck_assert(scale > 0);
    /* within 1e-4 of the logits' magnitude (float32 sums in another order) */
    double worst = test_check_close(name, logits, ort, nl, 0, 1e-4 * scale);
    fprintf(stderr, "%s: clresnet vs onnxruntime: max |difference| / max |logit| %.3g (max |logit| %.4g; tolerance 1e-4)\n", name,
            worst * 1e-4, scale);
    free(logits), free(x), free(ort);
    crn_model_destroy(m);
    crn_st_free(&f);
}

START_TEST(test_ort_resnet50_relu) { run_ort_case("resnet50_relu"); }
END_TEST
START_TEST(test_ort_resnet50_leaky) { run_ort_case("resnet50_leaky"); }
END_TEST
START_TEST(test_ort_resnet50_silu) { run_ort_case("resnet50_silu"); }
END_TEST
START_TEST(test_ort_resnet50_nofinal) { run_ort_case("resnet50_nofinal"); }
END_TEST
START_TEST(test_ort_plain50_relu) { run_ort_case("plain50_relu"); }
END_TEST
START_TEST(test_ort_baseline_relu) { run_ort_case("baseline_relu"); }
END_TEST
START_TEST(test_ort_baseline_silu) { run_ort_case("baseline_silu"); }
END_TEST

int main(void)
{
    Suite *s = suite_create("onnx");
    TCase *tc = tcase_create("graph");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_resnet50_relu_softmax);
    tcase_add_test(tc, test_resnet50_leaky);
    tcase_add_test(tc, test_resnet50_silu_nofinal);
    tcase_add_test(tc, test_plain50_no_batchnorm);
    tcase_add_test(tc, test_resnet50_no_batchnorm);
    tcase_add_test(tc, test_baseline_silu);
    tcase_add_test(tc, test_export_file);
    suite_add_tcase(s, tc);
    TCase *tn = tcase_create("onnxruntime");
    tcase_set_timeout(tn, 600);
    tcase_add_test(tn, test_ort_resnet50_relu);
    tcase_add_test(tn, test_ort_resnet50_leaky);
    tcase_add_test(tn, test_ort_resnet50_silu);
    tcase_add_test(tn, test_ort_resnet50_nofinal);
    tcase_add_test(tn, test_ort_plain50_relu);
    tcase_add_test(tn, test_ort_baseline_relu);
    tcase_add_test(tn, test_ort_baseline_silu);
    suite_add_tcase(s, tn);
    return test_run_suite(s);
}
