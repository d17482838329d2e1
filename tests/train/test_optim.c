/* NAdam, Adam and SGD (momentum 0.9, weight decay 1e-4) against PyTorch:
 * five steps on a 300-element vector with fresh gradients each step
 * (tests/make_fixtures_model.py writes the fixtures); parameter groups
 * (fine-tuning's frozen parameters and head learning rate). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clresnet/train/optim.h"
#include "test_support.h"

static void run_case(const char *file, crn_optim_kind kind, double lr)
{
    crn_runtime *rt = test_runtime();
    crn_error err = {0};
    crn_st_file f;
    test_load_fixture(file, &f);
    size_t n = 0;
    float *p0 = test_fixture_f32(&f, "param0", &n);
    int steps = atoi(crn_st_meta(&f, "steps"));
    ck_assert_int_eq(steps, 5);
    crn_tensor p, g;
    test_upload(&p, p0, 1, &n);
    test_upload(&g, p0, 1, &n);
    crn_optim_config cfg = crn_optim_defaults(kind);
    cfg.lr = lr;
    crn_optimizer *o = NULL;
    CK_OK(crn_optim_create(rt, &cfg, n, &o, &err));
    for (int s = 1; s <= steps; s++) {
        char name[32];
        snprintf(name, sizeof name, "grad%d", s);
        float *gh = test_fixture_f32(&f, name, NULL);
        CK_OK(crn_tensor_upload(rt, &g, gh, &err));
        CK_OK(crn_optim_step(o, p.buf, g.buf, &err));
        float *got = test_download(&p);
        snprintf(name, sizeof name, "param%d", s);
        float *want = test_fixture_f32(&f, name, NULL);
        char what[96];
        snprintf(what, sizeof what, "%s step %d params", crn_optim_name(kind), s);
        /* The update is ~1e-3 of the values: compare the update itself too,
         * so a wrong factor cannot hide under the parameter's magnitude. */
        double worst = test_check_close(what, got, want, n, 1e-6, 1e-7);
        float *prev = NULL;
        snprintf(name, sizeof name, "param%d", s - 1);
        prev = test_fixture_f32(&f, name, NULL);
        /* The update itself, to within 2 ulps of the parameter (one
         * rounding of p - u on either side) plus 1e-3 of the update. */
        double wu = 0;
        for (size_t i = 0; i < n; i++) {
            double dg = (double)got[i] - prev[i], dw = (double)want[i] - prev[i];
            double tol = 1e-3 * fabs(dw) + 2.0 * fabs(prev[i]) * 1.1920929e-7 + 1e-12;
            double r = fabs(dg - dw) / tol;
            if (r > wu) wu = r;
            ck_assert_msg(r <= 1, "%s step %d: update of element %zu is %.9g, want %.9g", crn_optim_name(kind), s, i,
                          dg, dw);
        }
        fprintf(stderr, "%s step %d: worst param ratio %.3g, update ratio %.3g\n", crn_optim_name(kind), s, worst, wu);
        free(gh), free(got), free(want), free(prev);
    }
    crn_optim_state st;
    crn_optim_get_state(o, &st);
    ck_assert_int_eq((int)st.step, steps);
    for (int b = 0; b < st.buffer_count; b++) {
        float *want = test_fixture_f32(&f, st.buffer_names[b], NULL);
        float *got = malloc(n * 4);
        test_read(st.buffers[b], n * 4, got);
        test_check_close(st.buffer_names[b], got, want, n, 1e-5, 1e-9);
        free(want), free(got);
    }
    crn_optim_destroy(o);
    crn_tensor_free(&p);
    crn_tensor_free(&g);
    free(p0);
    crn_st_free(&f);
}

START_TEST(test_nadam) { run_case("optim_nadam.safetensors", CRN_OPT_NADAM, 1e-3); }
END_TEST
START_TEST(test_adam) { run_case("optim_adam.safetensors", CRN_OPT_ADAM, 1e-3); }
END_TEST
START_TEST(test_sgd) { run_case("optim_sgd.safetensors", CRN_OPT_SGD, 1e-2); }
END_TEST

START_TEST(test_names_and_errors)
{
    ck_assert_int_eq(crn_optim_parse("nadam"), CRN_OPT_NADAM);
    ck_assert_int_eq(crn_optim_parse("adam"), CRN_OPT_ADAM);
    ck_assert_int_eq(crn_optim_parse("sgd"), CRN_OPT_SGD);
    ck_assert_int_eq(crn_optim_parse("rmsprop"), -1);
    crn_optim_config c = crn_optim_defaults(CRN_OPT_NADAM);
    ck_assert(c.lr == 1e-3 && c.beta1 == 0.9 && c.beta2 == 0.999 && c.eps == 1e-8 && c.weight_decay == 1e-4 &&
              c.momentum_decay == 4e-3);
    c.beta1 = 1.5;
    crn_error err = {0};
    crn_optimizer *o = NULL;
    ck_assert_int_eq(crn_optim_create(test_runtime(), &c, 10, &o, &err), CRN_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "betas"));
}
END_TEST

/* Parameter groups: each group's floats step exactly as a one-group
 * optimiser at that group's lr would step them (NAdam's momentum schedule
 * is shared), and floats outside every group are never touched. */
static void run_groups(crn_optim_kind kind)
{
    crn_runtime *rt = test_runtime();
    crn_error err = {0};
    crn_st_file f;
    test_load_fixture("optim_nadam.safetensors", &f);
    size_t n = 0;
    float *p0 = test_fixture_f32(&f, "param0", &n);
    ck_assert_uint_eq(n, 300);
    crn_optim_config cfg = crn_optim_defaults(kind);
    const crn_optim_group groups[2] = {{10, 150, 1e-3}, {160, 300, 1e-2}};
    crn_optimizer *o[3] = {NULL, NULL, NULL}; /* two groups; all at 1e-3; all at 1e-2 */
    crn_tensor p[3], g;
    for (int k = 0; k < 3; k++) {
        cfg.lr = k == 2 ? 1e-2 : 1e-3;
        CK_OK(crn_optim_create(rt, &cfg, n, &o[k], &err));
        test_upload(&p[k], p0, 1, &n);
    }
    CK_OK(crn_optim_set_groups(o[0], groups, 2, &err));
    ck_assert_int_eq(crn_optim_group_count(o[0]), 2);
    ck_assert(crn_optim_get_lr(o[0], 1) == 1e-2);
    test_upload(&g, p0, 1, &n);
    for (int s = 1; s <= 3; s++) {
        char name[16];
        snprintf(name, sizeof name, "grad%d", s);
        float *gh = test_fixture_f32(&f, name, NULL);
        CK_OK(crn_tensor_upload(rt, &g, gh, &err));
        for (int k = 0; k < 3; k++) CK_OK(crn_optim_step(o[k], p[k].buf, g.buf, &err));
        float *got = test_download(&p[0]), *lo = test_download(&p[1]), *hi = test_download(&p[2]);
        for (size_t i = 0; i < n; i++) {
            float want = i < 10 || (i >= 150 && i < 160) ? p0[i] : i < 150 ? lo[i] : hi[i];
            ck_assert_msg(!memcmp(&got[i], &want, 4), "%s step %d, element %zu: %.9g, want %.9g",
                          crn_optim_name(kind), s, i, got[i], want);
        }
        /* the two learning rates give different updates */
        ck_assert(got[200] != lo[200] && lo[20] != p0[20]);
        free(gh), free(got), free(lo), free(hi);
    }
    for (int k = 0; k < 3; k++) {
        crn_optim_destroy(o[k]);
        crn_tensor_free(&p[k]);
    }
    crn_tensor_free(&g);
    free(p0);
    crn_st_free(&f);
}

START_TEST(test_groups)
{
    run_groups(CRN_OPT_NADAM);
    run_groups(CRN_OPT_ADAM);
    run_groups(CRN_OPT_SGD);
}
END_TEST

START_TEST(test_group_errors)
{
    crn_error err = {0};
    crn_optim_config c = crn_optim_defaults(CRN_OPT_NADAM);
    crn_optimizer *o = NULL;
    CK_OK(crn_optim_create(test_runtime(), &c, 100, &o, &err));
    ck_assert_int_eq(crn_optim_group_count(o), 1);
    ck_assert(crn_optim_get_lr(o, 0) == 1e-3);
    ck_assert_int_eq(crn_optim_set_groups(o, (const crn_optim_group[]){{0, 101, 1e-3}}, 1, &err), CRN_EINVAL);
    ck_assert_msg(strstr(err.msg, "[0, 101) is outside [0, 100)"), "%s", err.msg);
    ck_assert_int_eq(crn_optim_set_groups(o, (const crn_optim_group[]){{0, 50, 1e-3}, {40, 100, 1e-2}}, 2, &err),
                     CRN_EINVAL);
    ck_assert_msg(strstr(err.msg, "overlaps"), "%s", err.msg);
    ck_assert_int_eq(crn_optim_set_groups(o, (const crn_optim_group[]){{0, 50, -1}}, 1, &err), CRN_EINVAL);
    ck_assert_int_eq(crn_optim_set_groups(o, (const crn_optim_group[]){{0, 50, 1e-3}}, 3, &err), CRN_EINVAL);
    ck_assert_msg(strstr(err.msg, "3 parameter groups"), "%s", err.msg);
    /* what failed changed nothing */
    ck_assert_int_eq(crn_optim_group_count(o), 1);
    crn_optim_destroy(o);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("optim");
    TCase *tc = tcase_create("optim");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_nadam);
    tcase_add_test(tc, test_adam);
    tcase_add_test(tc, test_sgd);
    tcase_add_test(tc, test_names_and_errors);
    tcase_add_test(tc, test_groups);
    tcase_add_test(tc, test_group_errors);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
