/* BatchNorm2d (training forward, running statistics, eval, backward) against
 * PyTorch fixtures (tests/make_fixtures_ops.py), a large-m case against a
 * double-precision C reference, finite differences for dx, determinism
 * (bit-identical reruns), dx aliasing dy and the activation folded in
 * against the separate ops, each with both ways of cutting
 * rows into parts for the reductions (CPUs' blocks, GPUs' interleaving). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clresnet/ops/batchnorm.h"
#include "test_support.h"

static const crn_bn_params BN = {1e-5f, 0.1f, false, CRN_ACT_RELU};

/* An ops context whose batchnorm cuts rows the loop index's way. */
static crn_ops *layout_ops(int layout)
{
    static const char *names[] = {"blocked", "interleaved"};
    crn_ops *ops = NULL;
    crn_error err = {0};
    crn_ops_options opt = {.bn_layout = names[layout]};
    CK_OK(crn_ops_create_opts(test_runtime(), &opt, &ops, &err));
    printf("  layout: %s\n", names[layout]);
    return ops;
}

static int meta_int(const crn_st_file *f, const char *key)
{
    const char *v = crn_st_meta(f, key);
    ck_assert_msg(v != NULL, "%s: no metadata '%s'", f->path, key);
    return atoi(v);
}

static double max_abs(const float *v, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)v[i]));
    return m;
}

/* rtol 1e-4 elementwise, plus an atol of 1e-4 of the tensor's largest
 * magnitude: outputs such as y = xhat * gamma + beta and dx cross zero, and
 * near a crossing the elementwise relative error of any float computation
 * (PyTorch's included) is unbounded; the atol keeps the bound relative to the
 * tensor's scale. Prints the worst ratio for the report. */
static double check_scaled(const char *what, const float *got, const float *want, size_t n)
{
    double r = test_check_close(what, got, want, n, 1e-4, 1e-4 * max_abs(want, n) + 1e-30);
    printf("  %-36s worst ratio %.3g\n", what, r);
    return r;
}

static void upload_fx(crn_tensor *t, const crn_st_file *f, const char *name)
{
    size_t n;
    float *h = test_fixture_f32(f, name, &n);
    test_upload(t, h, 1, &n);
    free(h);
}

static void alloc_f32(crn_tensor *t, size_t n)
{
    crn_error err = {0};
    CK_OK(crn_tensor_zeros(test_runtime(), t, CRN_F32, 1, &n, &err));
}

static void check_fx(const char *tag, const char *what, const crn_tensor *t, const crn_st_file *f, const char *name)
{
    size_t n;
    float *want = test_fixture_f32(f, name, &n);
    ck_assert_int_eq((int)n, (int)t->numel);
    float *got = test_download(t);
    char buf[128];
    snprintf(buf, sizeof buf, "bn %s %s", tag, what);
    check_scaled(buf, got, want, n);
    free(want);
    free(got);
}

START_TEST(test_bn_fixtures)
{
    crn_ops *ops = layout_ops(_i);
    crn_error err = {0};
    const char *cases[] = {"odd", "shift", "tiny", "wide"};
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        char path[64];
        snprintf(path, sizeof path, "bn_%s.safetensors", cases[ci]);
        crn_st_file f;
        test_load_fixture(path, &f);
        int c = meta_int(&f, "c");
        size_t m = (size_t)meta_int(&f, "n") * meta_int(&f, "h") * meta_int(&f, "w");
        crn_tensor x, gamma, beta, rm, rv, y, sm, si, dy, dx, dg, db, ye;
        upload_fx(&x, &f, "x");
        upload_fx(&gamma, &f, "gamma");
        upload_fx(&beta, &f, "beta");
        upload_fx(&rm, &f, "running_mean0");
        upload_fx(&rv, &f, "running_var0");
        upload_fx(&dy, &f, "dy");
        alloc_f32(&y, (size_t)c * m);
        alloc_f32(&ye, (size_t)c * m);
        alloc_f32(&dx, (size_t)c * m);
        alloc_f32(&sm, (size_t)c);
        alloc_f32(&si, (size_t)c);
        alloc_f32(&dg, (size_t)c);
        alloc_f32(&db, (size_t)c);
        CK_OK(crn_batchnorm_forward_train(ops, &BN, c, m, &x, &gamma, &beta, &rm, &rv, &y, &sm, &si, &err));
        CK_OK(crn_batchnorm_backward(ops, &BN, c, m, &x, &dy, &gamma, &beta, &sm, &si, &dx, &dg, &db, &err));
        CK_OK(crn_batchnorm_forward_eval(ops, &BN, c, m, &x, &gamma, &beta, &rm, &rv, &ye, &err));
        check_fx(cases[ci], "y (train)", &y, &f, "y");
        check_fx(cases[ci], "save_mean", &sm, &f, "save_mean");
        check_fx(cases[ci], "save_invstd", &si, &f, "save_invstd");
        check_fx(cases[ci], "running_mean", &rm, &f, "running_mean1");
        check_fx(cases[ci], "running_var", &rv, &f, "running_var1");
        check_fx(cases[ci], "y (eval)", &ye, &f, "y_eval");
        check_fx(cases[ci], "dx", &dx, &f, "dx");
        check_fx(cases[ci], "dgamma", &dg, &f, "dgamma");
        check_fx(cases[ci], "dbeta", &db, &f, "dbeta");

        /* dx aliasing dy gives the same bits. */
        float *dx1 = test_download(&dx);
        CK_OK(crn_batchnorm_backward(ops, &BN, c, m, &x, &dy, &gamma, &beta, &sm, &si, &dy, &dg, &db, &err));
        float *dx2 = test_download(&dy);
        ck_assert_msg(memcmp(dx1, dx2, c * m * sizeof(float)) == 0, "bn %s: dx aliasing dy differs", cases[ci]);
        free(dx1), free(dx2);
        crn_tensor *all[] = {&x, &gamma, &beta, &rm, &rv, &y, &sm, &si, &dy, &dx, &dg, &db, &ye};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) crn_tensor_free(all[i]);
        crn_st_free(&f);
    }
    crn_ops_destroy(ops);
}
END_TEST

static unsigned g_seed = 12345;
static double urand(void)
{
    g_seed = g_seed * 1664525u + 1013904223u;
    return ((g_seed >> 8) + 0.5) / 16777216.0;
}
static double nrand(void)
{
    return sqrt(-2.0 * log(urand())) * cos(6.283185307179586 * urand());
}

/* The ResNet50 stem's m = 32 * 112 * 112 with a large mean (50) relative to
 * the spread (std 1): a one-pass E[x^2] - E[x]^2 in float would lose the
 * variance entirely. Checked against double precision. */
START_TEST(test_bn_large_m)
{
    crn_runtime *rt = test_runtime();
    crn_ops *ops = layout_ops(_i);
    crn_error err = {0};
    const int c = 2;
    const size_t m = 32 * 112 * 112;
    float *x = malloc(c * m * sizeof(float)), *dy = malloc(c * m * sizeof(float));
    float *yref = malloc(c * m * sizeof(float)), *dxref = malloc(c * m * sizeof(float));
    float gam[2] = {1.5f, 0.75f}, bet[2] = {0.25f, -0.5f}, rm0[2] = {0, 1}, rv0[2] = {1, 2};
    float smr[2], sir[2], rmr[2], rvr[2], dgr[2], dbr[2];
    for (int ch = 0; ch < c; ch++) {
        for (size_t i = 0; i < m; i++) {
            x[ch * m + i] = (float)(50.0 * (ch + 1) + nrand());
            dy[ch * m + i] = (float)(nrand() * 0.01 + (ch ? 0.003 : -0.002));
        }
        double s = 0, ss = 0;
        for (size_t i = 0; i < m; i++) s += x[ch * m + i];
        double mean = s / m;
        for (size_t i = 0; i < m; i++) ss += (x[ch * m + i] - mean) * (x[ch * m + i] - mean);
        double var = ss / m, invstd = 1.0 / sqrt(var + 1e-5);
        double sdy = 0, sdyx = 0;
        for (size_t i = 0; i < m; i++) {
            double xh = (x[ch * m + i] - mean) * invstd;
            yref[ch * m + i] = (float)(xh * gam[ch] + bet[ch]);
            sdy += dy[ch * m + i];
            sdyx += dy[ch * m + i] * xh;
        }
        for (size_t i = 0; i < m; i++) {
            double xh = (x[ch * m + i] - mean) * invstd;
            dxref[ch * m + i] = (float)(gam[ch] * invstd * (dy[ch * m + i] - sdy / m - xh * sdyx / m));
        }
        smr[ch] = (float)mean;
        sir[ch] = (float)invstd;
        rmr[ch] = (float)(0.9 * rm0[ch] + 0.1 * mean);
        rvr[ch] = (float)(0.9 * rv0[ch] + 0.1 * var * m / (m - 1));
        dgr[ch] = (float)sdyx;
        dbr[ch] = (float)sdy;
    }
    size_t cm = c * m, cc = c;
    crn_tensor tx, tdy, tg, tb, trm, trv, ty, tsm, tsi, tdx, tdg, tdb;
    test_upload(&tx, x, 1, &cm);
    test_upload(&tdy, dy, 1, &cm);
    test_upload(&tg, gam, 1, &cc);
    test_upload(&tb, bet, 1, &cc);
    test_upload(&trm, rm0, 1, &cc);
    test_upload(&trv, rv0, 1, &cc);
    alloc_f32(&ty, cm);
    alloc_f32(&tdx, cm);
    alloc_f32(&tsm, cc);
    alloc_f32(&tsi, cc);
    alloc_f32(&tdg, cc);
    alloc_f32(&tdb, cc);
    CK_OK(crn_batchnorm_forward_train(ops, &BN, c, m, &tx, &tg, &tb, &trm, &trv, &ty, &tsm, &tsi, &err));
    CK_OK(crn_batchnorm_backward(ops, &BN, c, m, &tx, &tdy, &tg, &tb, &tsm, &tsi, &tdx, &tdg, &tdb, &err));
    float *g;
    check_scaled("bn large-m y", g = test_download(&ty), yref, cm), free(g);
    check_scaled("bn large-m save_mean", g = test_download(&tsm), smr, cc), free(g);
    check_scaled("bn large-m save_invstd", g = test_download(&tsi), sir, cc), free(g);
    check_scaled("bn large-m running_mean", g = test_download(&trm), rmr, cc), free(g);
    check_scaled("bn large-m running_var", g = test_download(&trv), rvr, cc), free(g);
    check_scaled("bn large-m dx", g = test_download(&tdx), dxref, cm), free(g);
    check_scaled("bn large-m dbeta", g = test_download(&tdb), dbr, cc), free(g);
    /* dgamma = sum(dy * (x - mean) * invstd) uses the mean as a float: its
     * rounding delta (up to ~1 ulp of |mean| = 100 here, 7.6e-6) shifts
     * dgamma by delta * invstd * sum(dy), and sum(dy) = dbeta is large here
     * (dy has a mean), so the atol is ulp(mean) * invstd * |dbeta|. The
     * forward y it corresponds to differs by only delta * invstd * gamma. */
    g = test_download(&tdg);
    double atol = 0;
    for (int ch = 0; ch < c; ch++) {
        double a = (nextafterf(smr[ch], INFINITY) - smr[ch]) * sir[ch] * fabs(dbr[ch]);
        if (a > atol) atol = a;
    }
    double r = test_check_close("bn large-m dgamma", g, dgr, cc, 1e-4, atol);
    printf("  %-36s worst ratio %.3g (atol %.2g; got %g %g want %g %g)\n", "bn large-m dgamma", r, atol, g[0], g[1],
           dgr[0], dgr[1]);
    free(g);

    /* Determinism: the same inputs give bit-identical outputs. */
    float *y1 = test_download(&ty), *dx1 = test_download(&tdx);
    CK_OK(crn_tensor_upload(rt, &trm, rm0, &err));
    CK_OK(crn_tensor_upload(rt, &trv, rv0, &err));
    CK_OK(crn_batchnorm_forward_train(ops, &BN, c, m, &tx, &tg, &tb, &trm, &trv, &ty, &tsm, &tsi, &err));
    CK_OK(crn_batchnorm_backward(ops, &BN, c, m, &tx, &tdy, &tg, &tb, &tsm, &tsi, &tdx, &tdg, &tdb, &err));
    float *y2 = test_download(&ty), *dx2 = test_download(&tdx);
    ck_assert_msg(memcmp(y1, y2, cm * 4) == 0, "bn forward is not bit-identical on a rerun");
    ck_assert_msg(memcmp(dx1, dx2, cm * 4) == 0, "bn backward is not bit-identical on a rerun");
    free(y1), free(y2), free(dx1), free(dx2);
    crn_tensor *all[] = {&tx, &tdy, &tg, &tb, &trm, &trv, &ty, &tsm, &tsi, &tdx, &tdg, &tdb};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) crn_tensor_free(all[i]);
    free(x), free(dy), free(yref), free(dxref);
    crn_ops_destroy(ops);
}
END_TEST

/* Finite differences of the kernel's own forward: L = sum(r * y(x)), so
 * dL/dx must equal backward(dy = r); likewise dL/dgamma and dL/dbeta. */
START_TEST(test_bn_finite_differences)
{
    crn_runtime *rt = test_runtime();
    crn_ops *ops = layout_ops(_i);
    crn_error err = {0};
    const int c = 2;
    const size_t m = 10, cm = c * m, cc = c;
    float x[20], r[20], gam[2] = {1.3f, -0.7f}, bet[2] = {0.1f, 0.2f}, zero[2] = {0, 0}, one[2] = {1, 1};
    for (size_t i = 0; i < cm; i++) x[i] = (float)nrand(), r[i] = (float)nrand();
    crn_tensor tx, tr, tg, tb, trm, trv, ty, tsm, tsi, tdx, tdg, tdb;
    test_upload(&tx, x, 1, &cm);
    test_upload(&tr, r, 1, &cm);
    test_upload(&tg, gam, 1, &cc);
    test_upload(&tb, bet, 1, &cc);
    test_upload(&trm, zero, 1, &cc);
    test_upload(&trv, one, 1, &cc);
    alloc_f32(&ty, cm);
    alloc_f32(&tdx, cm);
    alloc_f32(&tsm, cc);
    alloc_f32(&tsi, cc);
    alloc_f32(&tdg, cc);
    alloc_f32(&tdb, cc);
    CK_OK(crn_batchnorm_forward_train(ops, &BN, c, m, &tx, &tg, &tb, &trm, &trv, &ty, &tsm, &tsi, &err));
    CK_OK(crn_batchnorm_backward(ops, &BN, c, m, &tx, &tr, &tg, &tb, &tsm, &tsi, &tdx, &tdg, &tdb, &err));
    float *dx = test_download(&tdx), *dg = test_download(&tdg);
    float fd[20], fdg[2];
    const float h = 1e-2f;
    /* loss(x, gamma) with the kernel's forward */
#define BN_LOSS(out)                                                                                         \
    do {                                                                                                     \
        CK_OK(crn_tensor_upload(rt, &tx, xp, &err));                                                         \
        CK_OK(crn_tensor_upload(rt, &tg, gp, &err));                                                         \
        CK_OK(crn_batchnorm_forward_train(ops, &BN, c, m, &tx, &tg, &tb, &trm, &trv, &ty, &tsm, &tsi, &err)); \
        float *yy = test_download(&ty);                                                                      \
        double s = 0;                                                                                        \
        for (size_t q = 0; q < cm; q++) s += (double)yy[q] * r[q];                                           \
        free(yy);                                                                                            \
        out = s;                                                                                             \
    } while (0)
    float xp[20], gp[2];
    for (size_t i = 0; i < cm + cc; i++) {
        double lp, lm;
        memcpy(xp, x, sizeof x), memcpy(gp, gam, sizeof gam);
        if (i < cm) xp[i] += h; else gp[i - cm] += h;
        BN_LOSS(lp);
        memcpy(xp, x, sizeof x), memcpy(gp, gam, sizeof gam);
        if (i < cm) xp[i] -= h; else gp[i - cm] -= h;
        BN_LOSS(lm);
        if (i < cm) fd[i] = (float)((lp - lm) / (2 * h)); else fdg[i - cm] = (float)((lp - lm) / (2 * h));
    }
#undef BN_LOSS
    /* Central differences with h = 1e-2 on float outputs: truncation
     * O(h^2) and rounding ~1e-7 / h, so 1e-2 of the gradient's scale. */
    double rr = test_check_close("bn finite-difference dx", dx, fd, cm, 1e-2, 1e-2 * max_abs(fd, cm));
    printf("  %-36s worst ratio %.3g (rtol 1e-2)\n", "bn finite-difference dx", rr);
    rr = test_check_close("bn finite-difference dgamma", dg, fdg, cc, 1e-2, 1e-3);
    printf("  %-36s worst ratio %.3g (rtol 1e-2)\n", "bn finite-difference dgamma", rr);
    free(dx), free(dg);
    crn_tensor *all[] = {&tx, &tr, &tg, &tb, &trm, &trv, &ty, &tsm, &tsi, &tdx, &tdg, &tdb};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) crn_tensor_free(all[i]);
    crn_ops_destroy(ops);
}
END_TEST

/* BN with the activation folded in (what the model runs) against BN then the
 * activation as separate ops, for each activation: the fused kernels
 * recompute bn(x) in backward instead of reading it, so outputs and
 * gradients must agree to rounding (rtol 1e-5 plus 1e-6 of the tensor's
 * scale; a wrong activation or slope differs by > 1e-2 of it). Loop index:
 * layout * 3 + activation. */
START_TEST(test_bn_fused_act)
{
    crn_ops *ops = layout_ops(_i / 3);
    crn_act_kind act = (crn_act_kind)(_i % 3);
    crn_error err = {0};
    const int c = 5;
    const size_t m = 4 * 13 * 17; /* not a multiple of the vector width */
    const size_t cm = c * m, cc = c;
    float *x = malloc(cm * sizeof(float)), *dz = malloc(cm * sizeof(float));
    float gam[5] = {1.5f, -0.75f, 0.3f, 2.0f, 1.0f}, bet[5] = {0.25f, -0.5f, 0.0f, 1.0f, -2.0f};
    float rm0[5] = {0}, rv0[5] = {1, 1, 1, 1, 1};
    for (size_t i = 0; i < cm; i++) x[i] = (float)(3.0 * nrand() + 1.0), dz[i] = (float)nrand();
    crn_tensor tx, tdz, tg, tb, trm[2], trv[2], ty, tz[2], tsm[2], tsi[2], tdy, tdx[2], tdg[2], tdb[2];
    test_upload(&tx, x, 1, &cm);
    test_upload(&tdz, dz, 1, &cm);
    test_upload(&tg, gam, 1, &cc);
    test_upload(&tb, bet, 1, &cc);
    alloc_f32(&ty, cm);
    alloc_f32(&tdy, cm);
    for (int k = 0; k < 2; k++) {
        test_upload(&trm[k], rm0, 1, &cc);
        test_upload(&trv[k], rv0, 1, &cc);
        alloc_f32(&tz[k], cm);
        alloc_f32(&tdx[k], cm);
        alloc_f32(&tsm[k], cc);
        alloc_f32(&tsi[k], cc);
        alloc_f32(&tdg[k], cc);
        alloc_f32(&tdb[k], cc);
    }
    /* separate: z = act(bn(x)); dy = act'(y) dz; dx = bn'(dy) */
    CK_OK(crn_batchnorm_forward_train(ops, &BN, c, m, &tx, &tg, &tb, &trm[0], &trv[0], &ty, &tsm[0], &tsi[0], &err));
    CK_OK(crn_act_forward(ops, act, cm, &ty, &tz[0], &err));
    CK_OK(crn_act_backward(ops, act, cm, &ty, &tdz, &tdy, &err));
    CK_OK(crn_batchnorm_backward(ops, &BN, c, m, &tx, &tdy, &tg, &tb, &tsm[0], &tsi[0], &tdx[0], &tdg[0], &tdb[0],
                                 &err));
    /* fused */
    crn_bn_params fused = BN;
    fused.fuse_act = true;
    fused.act = act;
    CK_OK(crn_batchnorm_forward_train(ops, &fused, c, m, &tx, &tg, &tb, &trm[1], &trv[1], &tz[1], &tsm[1], &tsi[1],
                                      &err));
    CK_OK(crn_batchnorm_backward(ops, &fused, c, m, &tx, &tdz, &tg, &tb, &tsm[1], &tsi[1], &tdx[1], &tdg[1], &tdb[1],
                                 &err));
    struct { const char *what; crn_tensor *t; size_t n; } outs[] = {
        {"z", tz, cm}, {"save_mean", tsm, cc}, {"save_invstd", tsi, cc}, {"running_mean", trm, cc},
        {"running_var", trv, cc}, {"dx", tdx, cm}, {"dgamma", tdg, cc}, {"dbeta", tdb, cc},
    };
    for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++) {
        float *want = test_download(&outs[i].t[0]), *got = test_download(&outs[i].t[1]);
        char buf[96];
        snprintf(buf, sizeof buf, "bn+%s fused %s", crn_act_name(act), outs[i].what);
        double r = test_check_close(buf, got, want, outs[i].n, 1e-5, 1e-6 * max_abs(want, outs[i].n) + 1e-30);
        printf("  %-36s worst ratio %.3g\n", buf, r);
        free(want), free(got);
    }
    crn_tensor *all[] = {&tx, &tdz, &tg, &tb, &ty, &tdy};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) crn_tensor_free(all[i]);
    for (int k = 0; k < 2; k++) {
        crn_tensor *two[] = {&trm[k], &trv[k], &tz[k], &tdx[k], &tsm[k], &tsi[k], &tdg[k], &tdb[k]};
        for (size_t i = 0; i < sizeof two / sizeof two[0]; i++) crn_tensor_free(two[i]);
    }
    free(x), free(dz);
    crn_ops_destroy(ops);
}
END_TEST

START_TEST(test_bn_rejects_single_value)
{
    crn_ops *ops = test_ops();
    crn_error err = {0};
    crn_tensor t;
    alloc_f32(&t, 4);
    ck_assert_int_eq(crn_batchnorm_forward_train(ops, &BN, 4, 1, &t, &t, &t, &t, &t, &t, &t, &t, &err), CRN_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "more than 1 value"));
    crn_tensor_free(&t);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("batchnorm");
    TCase *tc = tcase_create("batchnorm");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, test_bn_fixtures, 0, 2);
    tcase_add_loop_test(tc, test_bn_large_m, 0, 2);
    tcase_add_loop_test(tc, test_bn_finite_differences, 0, 2);
    tcase_add_loop_test(tc, test_bn_fused_act, 0, 6);
    tcase_add_test(tc, test_bn_rejects_single_value);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
