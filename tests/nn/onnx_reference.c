/* The helper of tests/make_fixtures_onnx.py: clresnet's side of the ONNX
 * comparison (not a test itself).
 *
 *   onnx_reference logits CKPT OUT.safetensors IMAGE...
 *       decodes and transforms the images as `clresnet evaluate` does
 *       (resize the shorter side to round(S*256/224), antialiased bilinear
 *       as PIL; centre crop; ImageNet normalisation), runs the checkpoint's
 *       model on them in evaluation mode in one batch, and writes "x"
 *       [n, 3, S, S] (the preprocessed input, NCHW) and "logits" [n, K].
 *   onnx_reference checkpoint CASE OUT.safetensors
 *       the model of a fixture case (tests/nn/onnx_support.h) as a weights-only
 *       clresnet checkpoint (for `clresnet export`).
 *   onnx_reference fixture-logits CASE X.safetensors OUT.safetensors
 *       that model's logits on the "x" of X.safetensors.
 *   onnx_reference graph-hash FILE.onnx
 *       prints onnx_graph_hash of the file (tests/nn/onnx_support.h) in hex.
 *
 * The device: CLRESNET_TEST_DEVICE as for the tests. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clresnet/core/file_util.h"
#include "clresnet/data/transforms.h"
#include "clresnet/io/safetensors.h"
#include "clresnet/runtime/device.h"
#include "clresnet/runtime/kernel_cache.h"
#include "clresnet/train/checkpoint.h"
#include "onnx_support.h"

static crn_runtime *g_rt;
static crn_ops *g_ops;

static int open_device(crn_error *err)
{
    crn_device_list list;
    int index = -1;
    char why[512];
    int rc = crn_devices_list(&list, err);
    if (rc != CRN_OK) return rc;
    rc = crn_devices_select(&list, getenv("CLRESNET_TEST_DEVICE"), &index, why, sizeof why, err);
    static char dir[CRN_PATH_MAX];
    crn_runtime_options opt = {0};
    if (crn_cache_dir_choose(getenv("CLRESNET_CACHE_DIR"), getenv("XDG_CACHE_HOME"), getenv("HOME"), dir, sizeof dir,
                             NULL) == CRN_OK)
        opt.cache_dir = dir;
    if (rc == CRN_OK) rc = crn_runtime_create(&g_rt, &list.devices[index], &opt, err);
    crn_devices_free(&list);
    if (rc == CRN_OK) rc = crn_ops_create(g_rt, &g_ops, err);
    return rc;
}

static int forward_and_save(crn_model *m, const float *x, int n, const char *out, crn_error *err)
{
    const crn_model_config *c = crn_model_get_config(m);
    float *logits = malloc((size_t)n * c->classes * sizeof *logits);
    if (!logits) return crn_fail(err, CRN_ENOMEM, "out of host memory");
    int rc = crn_model_forward(m, x, n, false, err);
    if (rc == CRN_OK) rc = crn_model_read_logits(m, n, logits, err);
    crn_st_writer w;
    crn_st_writer_init(&w);
    size_t xs[4] = {(size_t)n, 3, (size_t)c->image_size, (size_t)c->image_size}, ls[2] = {(size_t)n, (size_t)c->classes};
    if (rc == CRN_OK) rc = crn_st_writer_add(&w, "x", CRN_ST_F32, 4, xs, x, err);
    if (rc == CRN_OK) rc = crn_st_writer_add(&w, "logits", CRN_ST_F32, 2, ls, logits, err);
    if (rc == CRN_OK) rc = crn_st_writer_save(&w, out, err);
    crn_st_writer_free(&w);
    free(logits);
    return rc;
}

static int cmd_logits(int argc, char **argv, crn_error *err)
{
    if (argc < 5) return crn_fail(err, CRN_EINVAL, "usage: onnx_reference logits CKPT OUT.safetensors IMAGE...");
    const char *ckpt = argv[2], *out = argv[3];
    int n = argc - 4;
    crn_model_config mc;
    int rc = crn_checkpoint_read_config(ckpt, &mc, NULL, err);
    if (rc != CRN_OK) return rc;
    crn_transform_config tc;
    crn_transform_config_default(&tc);
    tc.image_size = mc.image_size;
    tc.augment = 0;
    crn_transform_scratch scratch;
    memset(&scratch, 0, sizeof scratch);
    size_t per = 3 * (size_t)mc.image_size * mc.image_size;
    float *x = malloc((size_t)n * per * sizeof *x);
    if (!x) return crn_fail(err, CRN_ENOMEM, "out of host memory");
    for (int i = 0; rc == CRN_OK && i < n; i++)
        rc = crn_transform_file(&tc, argv[4 + i], 0, 0, 0, &scratch, x + (size_t)i * per, err);
    crn_transform_scratch_free(&scratch);
    crn_model *m = NULL;
    if (rc == CRN_OK) rc = open_device(err);
    if (rc == CRN_OK) rc = crn_model_create(g_ops, &mc, n, &m, err);
    if (rc == CRN_OK) rc = crn_checkpoint_load(ckpt, m, NULL, NULL, err);
    if (rc == CRN_OK) rc = forward_and_save(m, x, n, out, err);
    crn_model_destroy(m);
    free(x);
    return rc;
}

static int cmd_checkpoint(int argc, char **argv, crn_error *err)
{
    if (argc != 4) return crn_fail(err, CRN_EINVAL, "usage: onnx_reference checkpoint CASE OUT.safetensors");
    crn_model *m = NULL;
    int rc = open_device(err);
    if (rc == CRN_OK) rc = onnx_fixture_model(g_ops, argv[2], 1, &m, err);
    if (rc == CRN_OK) rc = crn_checkpoint_save(argv[3], m, NULL, NULL, NULL, err);
    crn_model_destroy(m);
    return rc;
}

static int cmd_fixture_logits(int argc, char **argv, crn_error *err)
{
    if (argc != 5) return crn_fail(err, CRN_EINVAL, "usage: onnx_reference fixture-logits CASE X.safetensors OUT");
    crn_st_file f;
    int rc = crn_st_read(argv[3], &f, err);
    if (rc != CRN_OK) return rc;
    const crn_st_tensor *t = crn_st_find(&f, "x");
    float *x = t && t->ndim == 4 ? malloc(t->numel * sizeof *x) : NULL;
    int n = t ? (int)t->shape[0] : 0;
    rc = x ? crn_st_get_f32(&f, "x", x, t->numel, err) : crn_fail(err, CRN_EFORMAT, "%s: no 4-d tensor x", argv[3]);
    crn_st_free(&f);
    crn_model *m = NULL;
    if (rc == CRN_OK) rc = open_device(err);
    if (rc == CRN_OK) rc = onnx_fixture_model(g_ops, argv[2], n, &m, err);
    if (rc == CRN_OK) rc = forward_and_save(m, x, n, argv[4], err);
    crn_model_destroy(m);
    free(x);
    return rc;
}

static int cmd_graph_hash(int argc, char **argv, crn_error *err)
{
    if (argc != 3) return crn_fail(err, CRN_EINVAL, "usage: onnx_reference graph-hash FILE.onnx");
    char *buf = NULL;
    size_t n = 0;
    int rc = crn_read_file(argv[2], &buf, &n, err);
    if (rc != CRN_OK) return rc;
    uint64_t h = onnx_graph_hash((const uint8_t *)buf, n);
    free(buf);
    if (!h) return crn_fail(err, CRN_EFORMAT, "%s: not an ONNX model protobuf-c can read", argv[2]);
    printf("%016" PRIx64 "\n", h);
    return CRN_OK;
}

int main(int argc, char **argv)
{
    crn_error err = {0};
    int rc;
    const char *cmd = argc > 1 ? argv[1] : "";
    if (!strcmp(cmd, "logits")) rc = cmd_logits(argc, argv, &err);
    else if (!strcmp(cmd, "checkpoint")) rc = cmd_checkpoint(argc, argv, &err);
    else if (!strcmp(cmd, "fixture-logits")) rc = cmd_fixture_logits(argc, argv, &err);
    else if (!strcmp(cmd, "graph-hash")) rc = cmd_graph_hash(argc, argv, &err);
    else rc = crn_fail(&err, CRN_EINVAL, "usage: onnx_reference logits|checkpoint|fixture-logits|graph-hash ...");
    crn_ops_destroy(g_ops);
    crn_runtime_destroy(g_rt);
    if (rc != CRN_OK) fprintf(stderr, "onnx_reference: error: %s\n", err.msg);
    return rc == CRN_OK ? 0 : 1;
}
