/* Activations, max pooling, global average pooling, softmax cross-entropy
 * and the elementwise helpers, against PyTorch fixtures
 * (tests/make_fixtures_ops.py), finite differences (SiLU), exact checks
 * (argmax with ties, padding never winning, ReLU's gradient at 0) and
 * determinism (pooling backward bit-identical on a rerun). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clresnet/ops/activation.h"
#include "clresnet/ops/elementwise.h"
#include "clresnet/ops/loss.h"
#include "clresnet/ops/pool.h"
#include "test_support.h"

static int meta_int(const crn_st_file *f, const char *key)
{
    const char *v = crn_st_meta(f, key);
    ck_assert_msg(v != NULL, "%s: no metadata '%s'", f->path, key);
    return atoi(v);
}

static float *fx(const crn_st_file *f, const char *name, size_t *n)
{
    return test_fixture_f32(f, name, n);
}

static void upload_fx(crn_tensor *t, const crn_st_file *f, const char *name)
{
    size_t n;
    float *h = fx(f, name, &n);
    test_upload(t, h, 1, &n);
    free(h);
}

static void alloc_t(crn_tensor *t, crn_dtype d, size_t n)
{
    crn_error err = {0};
    CK_OK(crn_tensor_zeros(test_runtime(), t, d, 1, &n, &err));
}

static double report(const char *what, double r)
{
    printf("  %-40s worst ratio %.3g\n", what, r);
    return r;
}

/* Compares a device tensor with a fixture tensor: rtol, atol as given. */
static void check_fx(const char *what, const crn_tensor *t, const crn_st_file *f, const char *name, double rtol,
                     double atol)
{
    size_t n;
    float *want = fx(f, name, &n);
    ck_assert_msg(n == t->numel, "%s: %zu elements, fixture has %zu", what, t->numel, n);
    float *got = test_download(t);
    report(what, test_check_close(what, got, want, n, rtol, atol));
    free(want), free(got);
}

START_TEST(test_act_names)
{
    ck_assert_int_eq(crn_act_parse("relu"), CRN_ACT_RELU);
    ck_assert_int_eq(crn_act_parse("leaky"), CRN_ACT_LEAKY);
    ck_assert_int_eq(crn_act_parse("silu"), CRN_ACT_SILU);
    ck_assert_int_eq(crn_act_parse("ReLU"), -1);
    ck_assert_int_eq(crn_act_parse("gelu"), -1);
    ck_assert_int_eq(crn_act_parse(NULL), -1);
    for (int k = 0; k < CRN_ACT_COUNT; k++) ck_assert_int_eq(crn_act_parse(crn_act_name((crn_act_kind)k)), k);
}
END_TEST

/* The shared constants (clresnet/ops/constants.h) are the values the
 * PyTorch fixtures were made with, to the bit, and the kinds keep the
 * numbers the kernels and saved configs have always used. */
START_TEST(test_shared_constants)
{
    const float eps = 1e-5f, mom = 0.1f, slope = 0.01f;
    ck_assert(memcmp(&(float){CRN_BN_EPS}, &eps, sizeof eps) == 0);
    ck_assert(memcmp(&(float){CRN_BN_MOMENTUM}, &mom, sizeof mom) == 0);
    ck_assert(memcmp(&(float){CRN_LEAKY_SLOPE}, &slope, sizeof slope) == 0);
    ck_assert_int_eq(CRN_ACT_NONE, -1);
    ck_assert_int_eq(CRN_ACT_RELU, 0);
    ck_assert_int_eq(CRN_ACT_LEAKY, 1);
    ck_assert_int_eq(CRN_ACT_SILU, 2);
}
END_TEST

/* atol 1e-30 only lets exact zeros compare (0/0); SiLU at x = -90 is a
 * subnormal -7e-38 in PyTorch and may flush to -0 on a device. */
START_TEST(test_act_fixtures)
{
    crn_ops *ops = test_ops();
    crn_error err = {0};
    for (int k = 0; k < 3; k++) {
        char path[64], what[64];
        snprintf(path, sizeof path, "act_%s.safetensors", crn_act_name((crn_act_kind)k));
        crn_st_file f;
        test_load_fixture(path, &f);
        size_t n = (size_t)meta_int(&f, "n");
        crn_tensor x, y, dy, dx;
        upload_fx(&x, &f, "x");
        upload_fx(&dy, &f, "dy");
        alloc_t(&y, CRN_F32, n);
        alloc_t(&dx, CRN_F32, n);
        CK_OK(crn_act_forward(ops, (crn_act_kind)k, n, &x, &y, &err));
        CK_OK(crn_act_backward(ops, (crn_act_kind)k, n, &x, &dy, &dx, &err));
        snprintf(what, sizeof what, "%s forward", crn_act_name((crn_act_kind)k));
        check_fx(what, &y, &f, "y", 1e-4, 1e-30);
        snprintf(what, sizeof what, "%s backward", crn_act_name((crn_act_kind)k));
        check_fx(what, &dx, &f, "dx", 1e-4, 1e-30);
        /* ReLU's gradient is exactly 0 at x == 0 (the fixture has 50). */
        float *hx = test_download(&x), *hdx = test_download(&dx), *hdy = test_download(&dy);
        int zeros = 0;
        for (size_t i = 0; i < n; i++)
            if (hx[i] == 0.0f) {
                zeros++;
                if (k == CRN_ACT_RELU) ck_assert_msg(hdx[i] == 0.0f, "relu'(0) must be 0");
                if (k == CRN_ACT_LEAKY) ck_assert_msg(hdx[i] == 0.01f * hdy[i], "leaky'(0) must be 0.01");
            }
        ck_assert_int_ge(zeros, 50);
        /* dx aliasing dy */
        CK_OK(crn_act_backward(ops, (crn_act_kind)k, n, &x, &dy, &dy, &err));
        float *alias = test_download(&dy);
        ck_assert_msg(memcmp(alias, hdx, n * 4) == 0, "%s: dx aliasing dy differs", crn_act_name((crn_act_kind)k));
        free(hx), free(hdx), free(hdy), free(alias);
        crn_tensor_free(&x), crn_tensor_free(&y), crn_tensor_free(&dy), crn_tensor_free(&dx);
        crn_st_free(&f);
    }
}
END_TEST

/* SiLU's derivative against central differences of the kernel's forward. */
START_TEST(test_silu_finite_differences)
{
    crn_ops *ops = test_ops();
    crn_error err = {0};
    enum { N = 41 };
    const float h = 1e-2f;
    float x[N], xp[N], xm[N], ones[N], fd[N];
    for (int i = 0; i < N; i++) {
        x[i] = -6.0f + 0.3f * i;
        xp[i] = x[i] + h, xm[i] = x[i] - h, ones[i] = 1.0f;
    }
    size_t n = N;
    crn_tensor tx, tp, tm, t1, yp, ym, dx;
    test_upload(&tx, x, 1, &n);
    test_upload(&tp, xp, 1, &n);
    test_upload(&tm, xm, 1, &n);
    test_upload(&t1, ones, 1, &n);
    alloc_t(&yp, CRN_F32, n), alloc_t(&ym, CRN_F32, n), alloc_t(&dx, CRN_F32, n);
    CK_OK(crn_act_forward(ops, CRN_ACT_SILU, n, &tp, &yp, &err));
    CK_OK(crn_act_forward(ops, CRN_ACT_SILU, n, &tm, &ym, &err));
    CK_OK(crn_act_backward(ops, CRN_ACT_SILU, n, &tx, &t1, &dx, &err));
    float *a = test_download(&yp), *b = test_download(&ym), *g = test_download(&dx);
    for (int i = 0; i < N; i++) fd[i] = (float)(((double)a[i] - b[i]) / (2.0 * h));
    /* truncation O(h^2 f''') ~ 1e-5 and rounding ~1e-7 / h ~ 1e-5: 1e-3 */
    report("silu finite differences (rtol 1e-3)", test_check_close("silu fd", g, fd, n, 1e-3, 1e-4));
    free(a), free(b), free(g);
    crn_tensor *all[] = {&tx, &tp, &tm, &t1, &yp, &ym, &dx};
    for (size_t i = 0; i < 7; i++) crn_tensor_free(all[i]);
}
END_TEST

START_TEST(test_maxpool_fixtures)
{
    crn_runtime *rt = test_runtime();
    crn_ops *ops = test_ops();
    crn_error err = {0};
    const char *cases[] = {"7x7_k3s2p1", "9x9_k3s2p1", "5x6_k3s2p1", "neg_k3s2p1",
                           "const_k3s2p1", "ninf_k3s2p1", "8x8_k2s2", "9x9_k2s2", "5x6_k2s2", "ninf_k2s2"};
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        char path[64], what[96];
        snprintf(path, sizeof path, "pool_%s.safetensors", cases[ci]);
        crn_st_file f;
        test_load_fixture(path, &f);
        int c = meta_int(&f, "c"), n = meta_int(&f, "n"), h = meta_int(&f, "h"), w = meta_int(&f, "w");
        int k = meta_int(&f, "k"), s = meta_int(&f, "stride"), p = meta_int(&f, "pad");
        size_t ny, nx;
        float *want_y = fx(&f, "y", &ny), *want_arg = fx(&f, "argmax", NULL), *want_dx = fx(&f, "dx", &nx);
        crn_tensor x, y, arg, dy, dx;
        upload_fx(&x, &f, "x");
        upload_fx(&dy, &f, "dy");
        alloc_t(&y, CRN_F32, ny);
        alloc_t(&arg, CRN_I32, ny);
        alloc_t(&dx, CRN_F32, nx);
        CK_OK(crn_maxpool_forward(ops, c, n, h, w, k, s, p, &x, &y, &arg, &err));
        CK_OK(crn_maxpool_backward(ops, c, n, h, w, k, s, p, &dy, &arg, &dx, &err));
        float *gy = test_download(&y), *gdx = test_download(&dx);
        int32_t *garg = malloc(ny * 4);
        CK_OK(crn_tensor_download(rt, &arg, garg, &err));
        /* The maximum and its (first) position are exact. */
        for (size_t i = 0; i < ny; i++) {
            ck_assert_msg(gy[i] == want_y[i], "maxpool %s: y[%zu] = %g, want %g", cases[ci], i, gy[i], want_y[i]);
            ck_assert_msg(garg[i] == (int32_t)want_arg[i], "maxpool %s: argmax[%zu] = %d, want %d (ties: first)",
                          cases[ci], i, garg[i], (int)want_arg[i]);
        }
        snprintf(what, sizeof what, "maxpool %s dx", cases[ci]);
        report(what, test_check_close(what, gdx, want_dx, nx, 1e-4, 1e-30));
        /* Determinism of the gather. */
        CK_OK(crn_maxpool_backward(ops, c, n, h, w, k, s, p, &dy, &arg, &dx, &err));
        float *gdx2 = test_download(&dx);
        ck_assert_msg(memcmp(gdx, gdx2, nx * 4) == 0, "maxpool %s backward not bit-identical", cases[ci]);
        free(gy), free(gdx), free(gdx2), free(garg), free(want_y), free(want_arg), free(want_dx);
        crn_tensor_free(&x), crn_tensor_free(&y), crn_tensor_free(&arg), crn_tensor_free(&dy), crn_tensor_free(&dx);
        crn_st_free(&f);
    }
}
END_TEST

START_TEST(test_maxpool_rejects_bad_shapes)
{
    crn_ops *ops = test_ops();
    crn_error err = {0};
    crn_tensor t, a;
    alloc_t(&t, CRN_F32, 64);
    alloc_t(&a, CRN_I32, 64);
    ck_assert_int_eq(crn_maxpool_forward(ops, 1, 1, 4, 4, 3, 2, 2, &t, &t, &a, &err), CRN_EINVAL); /* pad > k/2 */
    ck_assert_int_eq(crn_maxpool_forward(ops, 1, 1, 4, 4, 3, 0, 1, &t, &t, &a, &err), CRN_EINVAL);
    ck_assert_int_eq(crn_maxpool_forward(ops, 1, 1, 4, 4, 3, 2, 1, &t, &t, &t, &err), CRN_EINVAL); /* f32 argmax */
    crn_tensor_free(&t), crn_tensor_free(&a);
}
END_TEST

START_TEST(test_avgpool_global)
{
    crn_ops *ops = test_ops();
    crn_error err = {0};
    crn_st_file f;
    test_load_fixture("pool_gap.safetensors", &f);
    int c = meta_int(&f, "c"), n = meta_int(&f, "n"), hw = meta_int(&f, "hw");
    crn_tensor x, y, dy, dx;
    upload_fx(&x, &f, "x");
    upload_fx(&dy, &f, "dy");
    alloc_t(&y, CRN_F32, (size_t)c * n);
    alloc_t(&dx, CRN_F32, (size_t)c * n * hw);
    CK_OK(crn_avgpool_global_forward(ops, c, n, hw, &x, &y, &err));
    CK_OK(crn_avgpool_global_backward(ops, c, n, hw, &dy, &dx, &err));
    /* y is a mean of 49 values of both signs: atol 1e-6 (~1e-5 of |x|). */
    check_fx("global avgpool forward", &y, &f, "y", 1e-4, 1e-6);
    check_fx("global avgpool backward", &dx, &f, "dx", 1e-4, 1e-30);
    crn_tensor_free(&x), crn_tensor_free(&y), crn_tensor_free(&dy), crn_tensor_free(&dx);
    crn_st_free(&f);
}
END_TEST

START_TEST(test_softmax_xent)
{
    crn_runtime *rt = test_runtime();
    crn_ops *ops = test_ops();
    crn_error err = {0};
    const char *cases[] = {"small", "flowers", "huge"};
    for (size_t ci = 0; ci < 3; ci++) {
        char path[64], what[96];
        snprintf(path, sizeof path, "loss_%s.safetensors", cases[ci]);
        crn_st_file f;
        test_load_fixture(path, &f);
        int k = meta_int(&f, "k"), n = meta_int(&f, "n");
        size_t nl;
        float *flab = fx(&f, "labels", &nl), *want_mean = fx(&f, "mean", NULL);
        int32_t *lab = malloc(nl * 4);
        for (size_t i = 0; i < nl; i++) lab[i] = (int32_t)flab[i];
        crn_tensor logits, labels, losses, dl;
        upload_fx(&logits, &f, "logits");
        alloc_t(&labels, CRN_I32, nl);
        CK_OK(crn_tensor_upload(rt, &labels, lab, &err));
        alloc_t(&losses, CRN_F32, 2 * (size_t)n); /* the losses, then the correct flags */
        alloc_t(&dl, CRN_F32, (size_t)k * n);
        CK_OK(crn_softmax_xent(ops, k, n, &logits, &labels, &losses, &dl, &err));
        float *gl = test_download(&losses), *want_losses = fx(&f, "losses", NULL), *hl = fx(&f, "logits", NULL);
        snprintf(what, sizeof what, "xent %s losses", cases[ci]);
        /* losses near 0 (a confident right answer) compare with atol 1e-6 */
        report(what, test_check_close(what, gl, want_losses, (size_t)n, 1e-4, 1e-6));
        /* correct: the first largest logit is the label (logits are [k, n]) */
        int right = 0;
        for (int j = 0; j < n; j++) {
            int top = 0;
            for (int c = 1; c < k; c++)
                if (hl[(size_t)c * n + j] > hl[(size_t)top * n + j]) top = c;
            ck_assert_msg(gl[n + j] == (float)(top == lab[j]), "xent %s: sample %d correct flag %g, argmax %d label %d",
                          cases[ci], j, (double)gl[n + j], top, lab[j]);
            right += top == lab[j];
        }
        printf("  xent %s: %d of %d right\n", cases[ci], right, n);
        /* probabilities below ~1e-7 are compared absolutely: atol 1e-7 / n */
        snprintf(what, sizeof what, "xent %s dlogits", cases[ci]);
        check_fx(what, &dl, &f, "dlogits", 1e-4, 1e-7 / n);
        double mean = crn_loss_mean(gl, n);
        snprintf(what, sizeof what, "xent %s mean", cases[ci]);
        ck_assert_msg(fabs(mean - want_mean[0]) <= 1e-4 * fabs(want_mean[0]) + 1e-6, "%s: %.9g want %.9g", what,
                      mean, (double)want_mean[0]);
        report(what, fabs(mean - want_mean[0]) / (1e-4 * fabs(want_mean[0]) + 1e-6));
        /* Without the gradient: the same losses. */
        CK_OK(crn_softmax_xent(ops, k, n, &logits, &labels, &losses, NULL, &err));
        float *gl2 = test_download(&losses);
        ck_assert_msg(memcmp(gl, gl2, 2 * (size_t)n * 4) == 0, "%s: losses differ without dlogits", cases[ci]);
        free(want_losses), free(hl);
        free(gl), free(gl2), free(flab), free(want_mean), free(lab);
        crn_tensor_free(&logits), crn_tensor_free(&labels), crn_tensor_free(&losses), crn_tensor_free(&dl);
        crn_st_free(&f);
    }
    const float l[3] = {1.0f, 2.0f, 4.5f};
    ck_assert(crn_loss_mean(l, 3) == 2.5);
}
END_TEST

START_TEST(test_elementwise)
{
    crn_runtime *rt = test_runtime();
    crn_ops *ops = test_ops();
    crn_error err = {0};
    enum { N = 2, C = 3, HW = 35, T = N * C * HW };
    float a[T], b[T], ref[T];
    for (int i = 0; i < T; i++) a[i] = 0.5f * i - 7.0f, b[i] = (float)(i % 11) * 0.25f;
    size_t t = T;
    crn_tensor ta, tb, ty;
    test_upload(&ta, a, 1, &t);
    test_upload(&tb, b, 1, &t);
    alloc_t(&ty, CRN_F32, t);

    CK_OK(crn_fill(ops, &ty, 3.25f, T - 5, &err));
    float *g = test_download(&ty);
    for (int i = 0; i < T; i++) ck_assert_float_eq(g[i], i < T - 5 ? 3.25f : 0.0f);
    free(g);

    CK_OK(crn_add(ops, T, &ta, &tb, &ty, &err));
    g = test_download(&ty);
    for (int i = 0; i < T; i++) ck_assert_float_eq(g[i], a[i] + b[i]);
    free(g);
    CK_OK(crn_add(ops, T, &ta, &tb, &ta, &err)); /* y aliases a */
    CK_OK(crn_add(ops, T, &ta, &tb, &tb, &err)); /* y aliases b: b = (a + b) + b */
    g = test_download(&tb);
    for (int i = 0; i < T; i++) ck_assert_float_eq(g[i], (a[i] + b[i]) + b[i]);
    free(g);

    CK_OK(crn_tensor_upload(rt, &ta, a, &err));
    CK_OK(crn_tensor_upload(rt, &tb, b, &err));
    CK_OK(crn_axpby(ops, T, 2.0f, &ta, -0.5f, &tb, &err));
    g = test_download(&tb);
    for (int i = 0; i < T; i++) ck_assert_float_eq(g[i], 2.0f * a[i] + -0.5f * b[i]);
    free(g);

    CK_OK(crn_nchw_to_cnhw(ops, N, C, HW, &ta, &ty, &err));
    for (int ni = 0; ni < N; ni++)
        for (int ci = 0; ci < C; ci++)
            for (int p = 0; p < HW; p++) ref[(ci * N + ni) * HW + p] = a[(ni * C + ci) * HW + p];
    g = test_download(&ty);
    ck_assert_mem_eq(g, ref, sizeof ref);
    free(g);
    crn_tensor_free(&ta), crn_tensor_free(&tb), crn_tensor_free(&ty);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ops");
    TCase *tc = tcase_create("ops");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_act_names);
    tcase_add_test(tc, test_shared_constants);
    tcase_add_test(tc, test_act_fixtures);
    tcase_add_test(tc, test_silu_finite_differences);
    tcase_add_test(tc, test_maxpool_fixtures);
    tcase_add_test(tc, test_maxpool_rejects_bad_shapes);
    tcase_add_test(tc, test_avgpool_global);
    tcase_add_test(tc, test_softmax_xent);
    tcase_add_test(tc, test_elementwise);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
