/* Weights in safetensors with PyTorch's names: a PyTorch state dict loads
 * (--init) and saves back identically (names, order, dtypes, shapes, bytes:
 * what load_state_dict(strict=True) checks); missing, extra, mis-shaped and
 * mistyped tensors are errors naming the tensor and the file. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clresnet/nn/model.h"
#include "clresnet/nn/weights.h"
#include "clresnet/train/checkpoint.h"
#include "test_support.h"

static crn_model *small_resnet(void)
{
    crn_error err = {0};
    crn_model_config c = {CRN_MODEL_RESNET50, CRN_ACT_RELU, true, 10, 64, 1.0 / 16, false, 0};
    crn_model *m = NULL;
    CK_OK(crn_model_create(test_ops(), &c, 1, &m, &err));
    return m;
}

START_TEST(test_round_trip_torch_file)
{
    crn_error err = {0};
    crn_model *m = small_resnet();
    const char *src = test_fixture_path("model_resnet50_relu_init.safetensors");
    char srcpath[4096];
    snprintf(srcpath, sizeof srcpath, "%s", src);
    CK_OK(crn_weights_load(m, srcpath, &err));
    char out[] = "/tmp/clresnet-weights-XXXXXX";
    int fd = mkstemp(out);
    ck_assert_int_ge(fd, 0);
    close(fd);
    /* a counter that PyTorch would have after a step, to see it saved */
    crn_model_tensor(m, 5)->counter = 3;
    CK_OK(crn_weights_save(m, out, &err));
    crn_st_file a, b;
    CK_OK(crn_st_read(srcpath, &a, &err));
    CK_OK(crn_st_read(out, &b, &err));
    ck_assert_int_eq(a.count, b.count);
    ck_assert_str_eq(crn_st_meta(&b, "model"), "resnet50");
    for (int i = 0; i < crn_model_tensor_count(m); i++) {
        const char *name = crn_model_tensor(m, i)->name;
        const crn_st_tensor *ta = crn_st_find(&a, name), *tb = crn_st_find(&b, name);
        ck_assert_msg(ta && tb, "%s missing", name);
        ck_assert_int_eq(ta->dtype, tb->dtype);
        ck_assert_int_eq(ta->ndim, tb->ndim);
        for (int d = 0; d < ta->ndim; d++) ck_assert_int_eq((int)ta->shape[d], (int)tb->shape[d]);
        ck_assert_int_eq((int)ta->nbytes, (int)tb->nbytes);
        if (strstr(name, "num_batches_tracked")) {
            int64_t v;
            memcpy(&v, tb->data, 8);
            ck_assert_int_eq((int)v, i == 5 ? 3 : 0);
        } else {
            ck_assert_msg(memcmp(ta->data, tb->data, ta->nbytes) == 0, "%s: data differs", name);
        }
    }
    /* and back: the saved file loads into a fresh model with the same values */
    crn_model *m2 = small_resnet();
    CK_OK(crn_weights_load(m2, out, &err));
    ck_assert_int_eq((int)crn_model_tensor(m2, 5)->counter, 3);
    size_t np;
    crn_model_params_buffer(m, &np);
    float *p1 = malloc(np * 4), *p2 = malloc(np * 4);
    test_read(crn_model_params_buffer(m, NULL), np * 4, p1);
    test_read(crn_model_params_buffer(m2, NULL), np * 4, p2);
    ck_assert(memcmp(p1, p2, np * 4) == 0);
    free(p1), free(p2);
    crn_st_free(&a);
    crn_st_free(&b);
    crn_model_destroy(m);
    crn_model_destroy(m2);
    unlink(out);
}
END_TEST

/* Writes the fixture's tensors with one change and expects the load to fail
 * naming `expect`. mode: 0 drop `name`, 1 add an extra `name`, 2 reshape
 * `name`, 3 store `name` as I32 where F32 is due. */
static void expect_failure(int mode, const char *name, const char *expect)
{
    crn_error err = {0};
    crn_st_file a;
    char srcpath[4096];
    snprintf(srcpath, sizeof srcpath, "%s", test_fixture_path("model_resnet50_relu_init.safetensors"));
    CK_OK(crn_st_read(srcpath, &a, &err));
    crn_st_writer w;
    crn_st_writer_init(&w);
    for (int i = 0; i < a.count; i++) {
        crn_st_tensor *t = &a.tensors[i];
        if (strcmp(t->name, name) == 0) {
            if (mode == 0) continue;
            if (mode == 2) {
                size_t shape[2] = {t->numel, 1};
                CK_OK(crn_st_writer_add(&w, t->name, t->dtype, 2, shape, t->data, &err));
                continue;
            }
            if (mode == 3) {
                CK_OK(crn_st_writer_add(&w, t->name, CRN_ST_I32, t->ndim, t->shape, t->data, &err));
                continue;
            }
        }
        CK_OK(crn_st_writer_add(&w, t->name, t->dtype, t->ndim, t->shape, t->data, &err));
    }
    if (mode == 1) {
        float v = 1;
        size_t one = 1;
        CK_OK(crn_st_writer_add(&w, name, CRN_ST_F32, 1, &one, &v, &err));
    }
    char out[] = "/tmp/clresnet-weights-bad-XXXXXX";
    int fd = mkstemp(out);
    ck_assert_int_ge(fd, 0);
    close(fd);
    CK_OK(crn_st_writer_save(&w, out, &err));
    crn_model *m = small_resnet();
    CK_OK(crn_model_init(m, 1, &err));
    size_t np;
    crn_model_params_buffer(m, &np);
    float *before = malloc(np * 4), *after = malloc(np * 4);
    test_read(crn_model_params_buffer(m, NULL), np * 4, before);
    int rc = crn_weights_load(m, out, &err);
    ck_assert_int_eq(rc, CRN_EFORMAT);
    ck_assert_msg(strstr(err.msg, expect) && strstr(err.msg, out), "mode %d: %s", mode, err.msg);
    test_read(crn_model_params_buffer(m, NULL), np * 4, after);
    ck_assert_msg(memcmp(before, after, np * 4) == 0, "a failed load changed the model");
    free(before), free(after);
    crn_model_destroy(m);
    crn_st_writer_free(&w);
    crn_st_free(&a);
    unlink(out);
}

START_TEST(test_missing_tensor) { expect_failure(0, "block2.0.downsample.1.running_var", "'block2.0.downsample.1.running_var' of resnet50 is missing"); }
END_TEST
START_TEST(test_extra_tensor) { expect_failure(1, "block1.0.downsample.2.weight", "'block1.0.downsample.2.weight' is not part of resnet50"); }
END_TEST
START_TEST(test_misshaped_tensor) { expect_failure(2, "fc.0.bias", "'fc.0.bias' has shape [10, 1], resnet50 needs [10]"); }
END_TEST
START_TEST(test_mistyped_tensor) { expect_failure(3, "footer.1.weight", "'footer.1.weight' is I32"); }
END_TEST

START_TEST(test_other_model_file)
{
    /* baseline weights into resnet50: the first stranger is named */
    crn_error err = {0};
    crn_model *m = small_resnet();
    char srcpath[4096];
    snprintf(srcpath, sizeof srcpath, "%s", test_fixture_path("model_baseline_relu_init.safetensors"));
    ck_assert_int_eq(crn_weights_load(m, srcpath, &err), CRN_EFORMAT);
    ck_assert_msg(strstr(err.msg, "'features.0.weight' is not part of resnet50"), "%s", err.msg);
    crn_model_destroy(m);
}
END_TEST

/* torchvision's ResNet50 as the torchvision and safetensors packages write
 * it (tests/make_fixtures_finetune.py, width 1/16, 10 classes) is what
 * --init takes: into resnet50-tv every tensor loads and the eval-mode
 * logits are torchvision's (float64 from the same weights); into a model
 * with 5 classes the classifier keeps its initialisation, said in info, and
 * the rest loads; the seed's graph and another width are refused, naming
 * the tensor. */
static crn_model *tv_model(int classes, double width, crn_model_kind kind)
{
    crn_error err = {0};
    crn_model_config c = {kind, CRN_ACT_RELU, true, classes, 64, width, false, 0};
    crn_model *m = NULL;
    CK_OK(crn_model_create(test_ops(), &c, 2, &m, &err));
    CK_OK(crn_model_init(m, 11, &err));
    return m;
}

START_TEST(test_init_torchvision)
{
    crn_error err = {0};
    char path[4096];
    snprintf(path, sizeof path, "%s", test_fixture_path("tv_resnet50_w16_c10.safetensors"));
    crn_init_info info;
    /* the same classes: everything, and torchvision's eval-mode logits */
    crn_model *m = tv_model(10, 1.0 / 16, CRN_MODEL_RESNET50_TV);
    CK_OK(crn_checkpoint_load_init(path, m, &info, &err));
    ck_assert(!info.head_replaced);
    ck_assert_int_eq(info.loaded, info.total);
    ck_assert_int_eq(info.total, crn_model_tensor_count(m));
    crn_st_file e;
    test_load_fixture("tv_resnet50_w16_c10_eval.safetensors", &e);
    float *x = test_fixture_f32(&e, "x", NULL), *want = test_fixture_f32(&e, "logits", NULL); /* [2, 10] */
    CK_OK(crn_model_forward(m, x, 2, false, &err));
    float *got = test_download(crn_model_logits(m)); /* [10, 2] */
    double num = 0, den = 0;
    for (int k = 0; k < 10; k++)
        for (int i = 0; i < 2; i++) {
            double d = fabs((double)got[k * 2 + i] - want[i * 10 + k]);
            if (!(d <= num)) num = d;
            if (fabs(want[i * 10 + k]) > den) den = fabs(want[i * 10 + k]);
        }
    printf("torchvision resnet50 (width 1/16) eval logits: max |d| / max |want| = %.2e\n", num / den);
    ck_assert_msg(num / den < 1e-5, "eval logits differ from torchvision's by %.2e of the largest", num / den);
    free(x), free(want), free(got);
    crn_st_free(&e);
    crn_model_destroy(m);

    /* 5 classes: the classifier stays as initialised */
    m = tv_model(5, 1.0 / 16, CRN_MODEL_RESNET50_TV);
    int n = crn_model_tensor_count(m);
    size_t np = 0;
    cl_mem params = crn_model_params_buffer(m, &np);
    float *before = malloc(np * 4), *after = malloc(np * 4);
    test_read(params, np * 4, before);
    CK_OK(crn_checkpoint_load_init(path, m, &info, &err));
    ck_assert(info.head_replaced);
    ck_assert_int_eq(info.file_classes, 10);
    ck_assert_int_eq(info.loaded, n - 2);
    ck_assert_str_eq(info.head_weight, "fc.weight");
    ck_assert_str_eq(info.head_bias, "fc.bias");
    test_read(params, np * 4, after);
    crn_st_file f;
    CK_OK(crn_st_read(path, &f, &err));
    for (int t = 0; t < n; t++) {
        const crn_param *p = crn_model_tensor(m, t);
        if (!p->trainable) continue;
        if (t >= n - 2) {
            ck_assert_msg(!memcmp(before + p->offset, after + p->offset, p->numel * 4), "%s changed", p->name);
        } else {
            float *w = test_fixture_f32(&f, p->name, NULL);
            ck_assert_msg(!memcmp(w, after + p->offset, p->numel * 4), "%s not loaded", p->name);
            free(w);
        }
    }
    crn_st_free(&f);
    free(before), free(after);
    crn_model_destroy(m);

    /* the seed's graph (other names) and another width: errors naming the tensor */
    m = tv_model(10, 1.0 / 16, CRN_MODEL_RESNET50);
    ck_assert_int_eq(crn_checkpoint_load_init(path, m, &info, &err), CRN_EFORMAT);
    ck_assert_msg(strstr(err.msg, "is not part of resnet50") && strstr(err.msg, "tensor '"), "%s", err.msg);
    crn_model_destroy(m);
    m = tv_model(10, 1.0 / 8, CRN_MODEL_RESNET50_TV);
    ck_assert_int_eq(crn_checkpoint_load_init(path, m, &info, &err), CRN_EFORMAT);
    ck_assert_msg(strstr(err.msg, "'conv1.weight' has shape [4, 3, 7, 7], resnet50-tv needs [8, 3, 7, 7]"), "%s",
                  err.msg);
    crn_model_destroy(m);
}
END_TEST

/* The torchvision depths (resnet18-tv .. resnet152-tv): the state dict of
 * each, names and shapes in torchvision's order (tv_resnet_names, written
 * from torchvision's own modules by make_fixtures_finetune.py). */
START_TEST(test_torchvision_depths)
{
    crn_st_file f;
    test_load_fixture("tv_resnet_names.safetensors", &f);
    static const char *const kinds[] = {"resnet18-tv", "resnet34-tv", "resnet50-tv", "resnet101-tv", "resnet152-tv"};
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
        int kind = crn_model_parse(kinds[k]);
        ck_assert_int_ge(kind, 0);
        crn_error err = {0};
        crn_model_config c = {(crn_model_kind)kind, CRN_ACT_RELU, true, atoi(crn_st_meta(&f, "classes")), 32,
                              atof(crn_st_meta(&f, "width")), false, 0};
        crn_model *m = NULL;
        CK_OK(crn_model_create(test_ops(), &c, 1, &m, &err));
        char *list = strdup(crn_st_meta(&f, kinds[k])), *save = NULL;
        int i = 0;
        for (char *e = strtok_r(list, ",", &save); e; e = strtok_r(NULL, ",", &save), i++) {
            ck_assert_msg(i < crn_model_tensor_count(m), "%s: torchvision has more tensors than %d", kinds[k], i);
            const crn_param *p = crn_model_tensor(m, i);
            char shape[64] = "";
            for (int d = 0; d < p->ndim; d++)
                snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "%s%zu", d ? "x" : "", p->shape[d]);
            char ours[200];
            snprintf(ours, sizeof ours, "%s=%s", p->name, shape);
            ck_assert_msg(!strcmp(ours, e), "%s tensor %d: ours %s, torchvision's %s", kinds[k], i, ours, e);
        }
        ck_assert_int_eq(i, crn_model_tensor_count(m));
        printf("%s: %d tensors as torchvision's\n", kinds[k], i);
        free(list);
        crn_model_destroy(m);
    }
    crn_st_free(&f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("weights");
    TCase *tc = tcase_create("weights");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_round_trip_torch_file);
    tcase_add_test(tc, test_missing_tensor);
    tcase_add_test(tc, test_extra_tensor);
    tcase_add_test(tc, test_misshaped_tensor);
    tcase_add_test(tc, test_mistyped_tensor);
    tcase_add_test(tc, test_other_model_file);
    tcase_add_test(tc, test_init_torchvision);
    tcase_add_test(tc, test_torchvision_depths);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
