/* ReduceLROnPlateau against PyTorch (tests/make_fixtures_schedule.py) on
 * scripted loss sequences near 1, near 50 and near 0.01 (where PyTorch's
 * relative and absolute threshold modes differ), and early stopping with the
 * same relative threshold. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clresnet/train/schedule.h"
#include "test_support.h"

/* A float64 tensor of the fixture, read as stored (the losses are not
 * rounded to float32: a step of 0.8 or 1.2 relative margins must stay on its
 * side of the threshold). */
static double *f64s(const crn_st_file *f, const char *name, const char *suffix, size_t *n)
{
    char key[96];
    snprintf(key, sizeof key, "%s.%s", name, suffix);
    const crn_st_tensor *t = crn_st_find(f, key);
    ck_assert_msg(t && t->dtype == CRN_ST_F64, "fixture lacks F64 tensor %s", key);
    double *v = malloc(t->nbytes ? t->nbytes : 8);
    ck_assert_ptr_nonnull(v);
    memcpy(v, t->data, t->nbytes); /* little-endian, as the host (the fixture's data need not be 8-aligned) */
    if (n) *n = t->numel;
    return v;
}

/* Replays a case with the settings stored beside it; every lr must be
 * PyTorch's. Tolerance 1e-12 relative: PyTorch computes in doubles with
 * the same operations (lr * factor, max with min_lr), so the values agree
 * bit for bit; a wrong decision is at least a factor 0.5 off. Returns the
 * number of cuts. */
static int run_case(const crn_st_file *f, const char *name)
{
    size_t n = 0, m = 0, k = 0;
    double *loss = f64s(f, name, "loss", &n), *want = f64s(f, name, "lr", &m);
    double *s = f64s(f, name, "settings", &k);
    ck_assert_int_eq((int)n, (int)m);
    ck_assert_int_eq((int)k, 7);
    crn_plateau p;
    crn_plateau_init(&p);
    double lr = s[0];
    p.factor = s[1];
    p.patience = (int)s[2];
    p.threshold = s[3];
    p.cooldown = (int)s[4];
    p.min_lr = s[5];
    p.eps = s[6];
    int reductions = 0, want_reductions = 0;
    for (size_t i = 0; i < n; i++) {
        double before = lr;
        lr = crn_plateau_step(&p, loss[i], lr);
        reductions += lr < before;
        want_reductions += want[i] < (i ? want[i - 1] : s[0]);
        ck_assert_msg(fabs(lr - want[i]) <= 1e-12 * want[i],
                      "%s: step %zu (loss %.10g, best %.10g, bad epochs %d, cooldown %d): lr %.9g, PyTorch %.9g",
                      name, i, loss[i], p.best, p.num_bad_epochs, p.cooldown_counter, lr, want[i]);
    }
    /* every sequence was chosen so that the schedule does act */
    ck_assert_msg(reductions > 0, "%s: no lr reduction happened", name);
    ck_assert_int_eq(reductions, want_reductions);
    free(loss), free(want), free(s);
    return reductions;
}

START_TEST(test_plateau_matches_torch)
{
    crn_st_file f;
    test_load_fixture("schedule_plateau.safetensors", &f);
    /* near 1.0, where relative and absolute thresholds agree */
    run_case(&f, "flat");
    run_case(&f, "tiny_gains");
    run_case(&f, "noisy_down");
    run_case(&f, "custom");
    crn_st_free(&f);
}
END_TEST

/* Far from 1 (near 50 and near 0.01), with steps just above and below the
 * relative margin threshold * best and steps between the two margins: only
 * PyTorch's threshold_mode "rel" (ours) gives these lr sequences. Each case
 * also holds what threshold_mode "abs" gives; it differs somewhere, so a
 * scheduler comparing with best - threshold fails here. Default settings,
 * cooldown > 0, min_lr reached (0.1 -> 0.05 -> 0.025 -> 0.02 and no lower),
 * and a cut smaller than eps ignored. */
START_TEST(test_plateau_relative_threshold)
{
    crn_st_file f;
    test_load_fixture("schedule_plateau.safetensors", &f);
    const char *apart[] = {"near50_default", "near50_custom", "near001_custom", "near001_default"};
    for (size_t c = 0; c < sizeof apart / sizeof *apart; c++) {
        run_case(&f, apart[c]);
        /* the fixture tells the modes apart */
        size_t n = 0, m = 0;
        double *rel = f64s(&f, apart[c], "lr", &n), *abs_ = f64s(&f, apart[c], "lr_abs", &m);
        ck_assert_int_eq((int)n, (int)m);
        size_t diff = 0;
        for (size_t i = 0; i < n; i++) diff += rel[i] != abs_[i];
        ck_assert_msg(diff > 0, "%s: threshold modes rel and abs agree on every step", apart[c]);
        free(rel), free(abs_);
    }
    /* min_lr: reached and held */
    size_t n = 0;
    double *lr = f64s(&f, "near50_custom", "lr", &n);
    ck_assert(lr[n - 1] == 0.02);
    free(lr);
    /* eps: 2.5e-4 is not cut to min_lr = 2.5e-4 - 5e-9 */
    ck_assert_int_eq(run_case(&f, "min_lr_eps"), 2);
    lr = f64s(&f, "min_lr_eps", "lr", &n);
    ck_assert(lr[n - 1] == 2.5e-4);
    free(lr);
    crn_st_free(&f);
}
END_TEST

START_TEST(test_early_stop)
{
    crn_early_stop e;
    crn_early_stop_init(&e, 3, 1e-4);
    bool improved;
    ck_assert(!crn_early_stop_update(&e, 2.0, &improved) && improved);
    ck_assert(!crn_early_stop_update(&e, 1.0, &improved) && improved);
    /* an improvement smaller than 1e-4 relative does not count */
    ck_assert(!crn_early_stop_update(&e, 1.0 - 5e-5, &improved) && !improved);
    ck_assert(!crn_early_stop_update(&e, 1.5, &improved) && !improved);
    ck_assert(crn_early_stop_update(&e, 1.0, &improved) && !improved);
    ck_assert_int_eq(e.bad_epochs, 3);
    ck_assert(e.best == 1.0);
}
END_TEST

/* Several parameter groups (--head-lr): one decision per epoch, each
 * group's lr reduced on its own and held at min_lr as PyTorch's _reduce_lr
 * does (the backbone's stops at min_lr while the head's goes on). */
START_TEST(test_plateau_groups)
{
    crn_plateau p;
    crn_plateau_init(&p);
    p.patience = 0;
    p.min_lr = 1e-4;
    double lr = 1e-3, head = 1e-2;
    ck_assert(!crn_plateau_update(&p, 1.0)); /* the first epoch sets the best */
    ck_assert(crn_plateau_update(&p, 1.0));  /* no better: reduce */
    lr = crn_plateau_reduce(&p, lr), head = crn_plateau_reduce(&p, head);
    ck_assert(lr == fmax(1e-3 * 0.1, 1e-4) && head == 1e-2 * 0.1);
    ck_assert(crn_plateau_update(&p, 1.0));
    lr = crn_plateau_reduce(&p, lr), head = crn_plateau_reduce(&p, head);
    ck_assert(lr == fmax(1e-3 * 0.1, 1e-4) && head == fmax(1e-2 * 0.1 * 0.1, 1e-4));
    ck_assert(!crn_plateau_update(&p, 0.5)); /* better */
    /* crn_plateau_step is the two parts */
    crn_plateau a, b;
    crn_plateau_init(&a);
    crn_plateau_init(&b);
    a.patience = b.patience = 1;
    double la = 1e-3, lb = 1e-3;
    const double losses[] = {1, 0.9, 0.95, 0.96, 0.97, 0.8, 0.9, 0.9, 0.9};
    for (size_t i = 0; i < sizeof losses / sizeof *losses; i++) {
        la = crn_plateau_step(&a, losses[i], la);
        if (crn_plateau_update(&b, losses[i])) lb = crn_plateau_reduce(&b, lb);
        ck_assert(la == lb && a.num_bad_epochs == b.num_bad_epochs && a.best == b.best);
    }
    ck_assert(la < 1e-3);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("schedule");
    TCase *tc = tcase_create("schedule");
    tcase_add_test(tc, test_plateau_matches_torch);
    tcase_add_test(tc, test_plateau_relative_threshold);
    tcase_add_test(tc, test_early_stop);
    tcase_add_test(tc, test_plateau_groups);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
