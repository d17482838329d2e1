/* Fine-tuning (--freeze, --head-lr) against torchvision: one step of the
 * common recipe from a torchvision ResNet50's weights, with conv1, bn1 and
 * layer1..layer3 frozen (no gradient, no update, batch norms in eval mode)
 * and NAdam in two parameter groups (layer4 at lr, fc at head_lr), as
 * tests/make_fixtures_finetune.py ran it in PyTorch. Frozen tensors must
 * come out bit for bit as they went in. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clresnet/nn/model.h"
#include "clresnet/ops/gemm_autotune.h"
#include "clresnet/ops/loss.h"
#include "clresnet/train/checkpoint.h"
#include "clresnet/train/optim.h"
#include "test_support.h"

enum { CLASSES = 10, SIZE = 64 };

static crn_model *tv_model(int freeze, int batch)
{
    crn_error err = {0};
    crn_model_config c = {CRN_MODEL_RESNET50_TV, CRN_ACT_RELU, true, CLASSES, SIZE, 1.0 / 16, false, freeze};
    crn_model *m = NULL;
    CK_OK(crn_model_create(test_ops(), &c, batch, &m, &err));
    return m;
}

static bool in_list(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; (p = strstr(p, name)) != NULL; p += n)
        if ((p == list || p[-1] == ',') && (p[n] == ',' || p[n] == '\0')) return true;
    return false;
}

static double f64_scalar(const crn_st_file *f, const char *name)
{
    const crn_st_tensor *t = crn_st_find(f, name);
    ck_assert_msg(t && t->dtype == CRN_ST_F64, "fixture tensor %s", name);
    double v;
    memcpy(&v, t->data, sizeof v);
    return v;
}

START_TEST(test_stage_names)
{
    ck_assert_int_eq(crn_model_freeze_parse(CRN_MODEL_RESNET50_TV, "stem"), 1);
    ck_assert_int_eq(crn_model_freeze_parse(CRN_MODEL_RESNET50_TV, "layer3"), 4);
    ck_assert_int_eq(crn_model_freeze_parse(CRN_MODEL_RESNET50, "layer4"), 5);
    ck_assert_int_eq(crn_model_freeze_parse(CRN_MODEL_BASELINE, "layer1"), 1);
    ck_assert_int_eq(crn_model_freeze_parse(CRN_MODEL_BASELINE, "stem"), -1);
    ck_assert_int_eq(crn_model_freeze_parse(CRN_MODEL_RESNET50_TV, "layer5"), -1);
    ck_assert_int_eq(crn_model_freeze_parse(CRN_MODEL_RESNET50_TV, NULL), -1);
    ck_assert_str_eq(crn_model_freeze_name(CRN_MODEL_RESNET50_TV, 4), "layer3");
    ck_assert_ptr_null(crn_model_freeze_name(CRN_MODEL_RESNET50_TV, 0));
    ck_assert_ptr_null(crn_model_freeze_name(CRN_MODEL_BASELINE, 5));
    /* the builders end as many stages as the names say */
    crn_error err = {0};
    crn_model_config c = {CRN_MODEL_BASELINE, CRN_ACT_RELU, true, 3, 32, 0.25, false, 5};
    crn_model *m = NULL;
    ck_assert_int_eq(crn_model_create(test_ops(), &c, 1, &m, &err), CRN_EINVAL);
    ck_assert_msg(strstr(err.msg, "cannot freeze 5 stages of baseline, which has 4"), "%s", err.msg);
    c.freeze = 4;
    CK_OK(crn_model_create(test_ops(), &c, 1, &m, &err));
    size_t np = 0, from = 0, head = 0;
    crn_model_params_buffer(m, &np);
    crn_model_param_groups(m, &from, &head);
    /* everything but the classifier (fc.0) is frozen */
    int fc = crn_model_find(m, "fc.0.weight");
    ck_assert_int_ge(fc, 0);
    ck_assert_uint_eq(from, crn_model_tensor(m, fc)->offset);
    ck_assert_uint_eq(head, from);
    crn_model_destroy(m);
}
END_TEST

/* How the fine-tuning backward differs in work: the frozen stages run no
 * backward, and the first trained layers need no input gradient. */
START_TEST(test_frozen_backward_work)
{
    crn_model *all = tv_model(0, 2), *ft = tv_model(4, 2);
    double w_all = 0, w_ft = 0, f_all = 0, f_ft = 0;
    static const char *const tags[] = {"conv1x1/1", "conv1x1/2", "conv3x3/1", "conv3x3/2", "conv7x7/2"};
    for (size_t i = 0; i < sizeof tags / sizeof *tags; i++) {
        char b[32], f[32];
        snprintf(b, sizeof b, "%s bwd", tags[i]);
        snprintf(f, sizeof f, "%s fwd", tags[i]);
        w_all += crn_model_tag_flops(all, b, 2), w_ft += crn_model_tag_flops(ft, b, 2);
        f_all += crn_model_tag_flops(all, f, 2), f_ft += crn_model_tag_flops(ft, f, 2);
    }
    printf("backward GEMM work with layer3 frozen: %.3f of the whole model's (forward %.3f)\n", w_ft / w_all,
           f_ft / f_all);
    ck_assert(f_ft == f_all);
    /* layer4 at 2x2 and its first block's 1x1 inputs without their input
     * gradient: well under a third of the backward's work remains */
    ck_assert_msg(w_ft > 0 && w_ft < 0.33 * w_all, "backward work %.3g of %.3g", w_ft, w_all);
    crn_model_destroy(all);
    crn_model_destroy(ft);

    /* the GEMM tuner weighs the same work (crn_model_conv_work) */
    crn_error err = {0};
    crn_model_config c = {CRN_MODEL_RESNET50_TV, CRN_ACT_RELU, true, CLASSES, SIZE, 1.0 / 16, false, 0};
    for (int freeze = 0; freeze <= 4; freeze += 4) {
        c.freeze = freeze;
        crn_conv_work *w = NULL;
        int nw = 0, fwd_only = 0, no_dx = 0;
        CK_OK(crn_model_conv_work(&c, 2, &w, &nw, &err));
        for (int i = 0; i < nw; i++) {
            ck_assert(w[i].backward || !w[i].dx);
            fwd_only += !w[i].backward ? w[i].count : 0;
            no_dx += w[i].backward && !w[i].dx ? w[i].count : 0;
        }
        /* frozen: the 1 + 3*3+1 + 4*3+1 + 6*3+1 convs up to layer3 run forward only; layer4.0's conv1 and
         * downsample need no dx. Not frozen: the stem's conv alone has no dx. */
        ck_assert_int_eq(fwd_only, freeze ? 1 + 10 + 13 + 19 : 0);
        ck_assert_int_eq(no_dx, freeze ? 2 : 1);
        free(w);
    }
}
END_TEST

START_TEST(test_frozen_step_torchvision)
{
    crn_error err = {0};
    crn_st_file f;
    test_load_fixture("tv_resnet50_w16_c10_freeze.safetensors", &f);
    int n = atoi(crn_st_meta(&f, "batch"));
    const char *trained = crn_st_meta(&f, "trained");
    int freeze = crn_model_freeze_parse(CRN_MODEL_RESNET50_TV, crn_st_meta(&f, "freeze"));
    ck_assert_int_eq(freeze, 4);
    crn_model *m = tv_model(freeze, n);
    char path[4096];
    snprintf(path, sizeof path, "%s", test_fixture_path("tv_resnet50_w16_c10.safetensors"));
    crn_init_info info;
    CK_OK(crn_checkpoint_load_init(path, m, &info, &err));
    ck_assert_int_eq(info.loaded, info.total);

    size_t np = 0, nb = 0, from = 0, head = 0;
    cl_mem pbuf = crn_model_params_buffer(m, &np), gbuf = crn_model_grads_buffer(m, NULL);
    cl_mem bbuf = crn_model_buffers_buffer(m, &nb);
    crn_model_param_groups(m, &from, &head);
    ck_assert_uint_eq(from, crn_model_tensor(m, crn_model_find(m, "layer4.0.conv1.weight"))->offset);
    ck_assert_uint_eq(head, crn_model_tensor(m, crn_model_find(m, "fc.weight"))->offset);
    float *p0 = malloc(np * 4), *p1 = malloc(np * 4), *g = malloc(np * 4), *b0 = malloc(nb * 4), *b1 = malloc(nb * 4);
    test_read(pbuf, np * 4, p0);
    test_read(bbuf, nb * 4, b0);
    long long counters[256];
    int nt = crn_model_tensor_count(m);
    ck_assert_int_le(nt, 400);
    for (int t = 0, c = 0; t < nt && c < 256; t++)
        if (crn_model_tensor(m, t)->is_counter) counters[c++] = crn_model_tensor(m, t)->counter;

    /* the recipe's optimiser: NAdam as torch 2.x computes it, two groups */
    crn_optim_config oc = crn_optim_defaults(CRN_OPT_NADAM);
    ck_assert_msg(strncmp(crn_st_meta(&f, "torch"), "1.", 2) != 0, "the fixture comes from torch 2.x");
    oc.nadam_torch113 = false;
    double lr = atof(crn_st_meta(&f, "lr")), head_lr = atof(crn_st_meta(&f, "head_lr"));
    crn_optimizer *opt = NULL;
    CK_OK(crn_optim_create(test_runtime(), &oc, np, &opt, &err));
    CK_OK(crn_optim_set_groups(opt, (const crn_optim_group[]){{from, head, lr}, {head, np, head_lr}}, 2, &err));

    float *x = test_fixture_f32(&f, "x", NULL);
    const crn_st_tensor *yt = crn_st_find(&f, "y");
    ck_assert(yt && yt->dtype == CRN_ST_I32);
    float *losses = malloc((size_t)n * 4);
    CK_OK(crn_model_forward(m, x, n, true, &err));
    CK_OK(crn_model_loss(m, (const int32_t *)yt->data, n, losses, &err));
    double loss = crn_loss_mean(losses, n), want = f64_scalar(&f, "loss");
    printf("frozen step: loss %.8f, torchvision %.8f (relative %.2e)\n", loss, want, fabs(loss - want) / want);
    /* frozen batch norms in train mode would normalise with the batch's
     * statistics instead of the running ones: a different loss */
    ck_assert_msg(fabs(loss - want) <= 1e-5 * want, "loss %.8f, torchvision %.8f", loss, want);
    CK_OK(crn_model_backward(m, &err));
    test_read(gbuf, np * 4, g);
    CK_OK(crn_optim_step(opt, pbuf, gbuf, &err));
    test_read(pbuf, np * 4, p1);
    test_read(bbuf, nb * 4, b1);

    int ntrained = 0, compared = 0, total = 0;
    double worst_g = 0, worst_u = 0, worst_s = 0;
    for (int t = 0, c = 0; t < nt; t++) {
        const crn_param *p = crn_model_tensor(m, t);
        if (p->is_counter) {
            /* num_batches_tracked moves in the trained stage only */
            long long want_c = counters[c++] + (strncmp(p->name, "layer4.", 7) == 0 ? 1 : 0);
            ck_assert_msg(p->counter == want_c, "%s: %lld, want %lld", p->name, p->counter, want_c);
            continue;
        }
        char key[160];
        if (!p->trainable) { /* running statistics */
            const float *before = b0 + p->offset, *after = b1 + p->offset;
            snprintf(key, sizeof key, "after.%s", p->name);
            const crn_st_tensor *ref = crn_st_find(&f, key);
            if (!ref) {
                ck_assert_msg(!memcmp(before, after, p->numel * 4), "frozen %s changed", p->name);
                continue;
            }
            ck_assert(ref->dtype == CRN_ST_F64 && ref->nbytes == p->numel * 8);
            /* a batch mean near zero is a difference of large sums: its
             * error scales with the tensor's largest value, not its own */
            double wmax = 0, e = 0;
            double *w = malloc(p->numel * sizeof *w); /* the file's data need not be aligned for doubles */
            memcpy(w, ref->data, p->numel * sizeof *w);
            for (size_t i = 0; i < p->numel; i++) wmax = fmax(wmax, fabs(w[i]));
            for (size_t i = 0; i < p->numel; i++) e = fmax(e, fabs(after[i] - w[i]) / wmax);
            free(w);
            worst_s = fmax(worst_s, e);
            ck_assert_msg(e <= 1e-4, "%s differs by %.3g of its largest", p->name, e);
            continue;
        }
        if (!in_list(trained, p->name)) {
            ck_assert_msg(p->offset < from, "%s is frozen but lies in the optimiser's groups", p->name);
            ck_assert_msg(!memcmp(p0 + p->offset, p1 + p->offset, p->numel * 4), "frozen %s changed", p->name);
            for (size_t i = 0; i < p->numel; i++)
                ck_assert_msg(g[p->offset + i] == 0.0f, "frozen %s has a gradient", p->name);
            continue;
        }
        ntrained++;
        ck_assert_msg(p->offset >= from, "%s is trained but outside the optimiser's groups", p->name);
        snprintf(key, sizeof key, "grad.%s", p->name);
        size_t cnt;
        float *wg = test_fixture_f32(&f, key, &cnt);
        ck_assert_uint_eq(cnt, p->numel);
        double gmax = 0, gerr = 0;
        for (size_t i = 0; i < cnt; i++) gmax = fmax(gmax, fabs(wg[i]));
        for (size_t i = 0; i < cnt; i++) gerr = fmax(gerr, fabs(g[p->offset + i] - wg[i]) / gmax);
        worst_g = fmax(worst_g, gerr);
        /* float32 PyTorch's own: 8e-6 of the largest */
        ck_assert_msg(gerr <= 1e-4, "gradient of %s differs by %.3g of its largest", p->name, gerr);
        /* The update of NAdam's first step is about lr * sign(g): compared
         * where the gradient is clear of float32 rounding (over 1e-3 of the
         * tensor's largest) and float32 PyTorch agrees with float64. */
        snprintf(key, sizeof key, "upd.%s", p->name);
        float *u64 = test_fixture_f32(&f, key, NULL);
        snprintf(key, sizeof key, "upd32.%s", p->name);
        float *u32 = test_fixture_f32(&f, key, NULL);
        double group_lr = p->offset >= head ? head_lr : lr;
        int here = 0;
        for (size_t i = 0; i < cnt; i++) {
            double u = (double)p1[p->offset + i] - (double)p0[p->offset + i];
            if (fabs(wg[i]) < 1e-3 * gmax || fabs(u32[i] - u64[i]) > 1e-3 * fabs(u64[i])) continue;
            double e = fabs(u - u64[i]) / fabs(u64[i]);
            worst_u = fmax(worst_u, e);
            ck_assert_msg(e <= 2e-3, "%s[%zu]: update %.6g, torchvision %.6g", p->name, i, u, (double)u64[i]);
            /* and it is this group's learning rate at work */
            ck_assert_msg(fabs(u) > 0.5 * group_lr && fabs(u) < 2 * group_lr, "%s[%zu]: update %.3g at lr %g",
                          p->name, i, u, group_lr);
            here++;
        }
        ck_assert_msg(here >= (int)cnt / 2, "%s: only %d of %zu elements compared", p->name, here, cnt);
        compared += here, total += (int)cnt;
        free(wg), free(u64), free(u32);
    }
    ck_assert_int_eq(ntrained, 32);
    printf("frozen step: %d tensors trained, gradients within %.2e of their largest, %d of %d update elements "
           "compared, worst relative error %.2e; layer4's running statistics within %.2e of their largest\n",
           ntrained, worst_g, compared, total, worst_u, worst_s);
    crn_optim_destroy(opt);
    crn_model_destroy(m);
    crn_st_free(&f);
    free(p0), free(p1), free(g), free(b0), free(b1), free(x), free(losses);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("finetune");
    TCase *tc = tcase_create("finetune");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_stage_names);
    tcase_add_test(tc, test_frozen_backward_work);
    tcase_add_test(tc, test_frozen_step_torchvision);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
