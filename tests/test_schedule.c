/* ReduceLROnPlateau against PyTorch on scripted loss sequences, and early
 * stopping with the same relative threshold. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clresnet/train/schedule.h"
#include "test_support.h"

static void run_case(const crn_st_file *f, const char *name, void (*configure)(crn_plateau *))
{
    char key[64];
    size_t n = 0, m = 0;
    snprintf(key, sizeof key, "%s.loss", name);
    float *loss = test_fixture_f32(f, key, &n);
    snprintf(key, sizeof key, "%s.lr", name);
    float *want = test_fixture_f32(f, key, &m);
    ck_assert_int_eq((int)n, (int)m);
    crn_plateau p;
    crn_plateau_init(&p);
    if (configure) configure(&p);
    double lr = 1e-3;
    int reductions = 0;
    for (size_t i = 0; i < n; i++) {
        double before = lr;
        lr = crn_plateau_step(&p, loss[i], lr);
        reductions += lr < before;
        ck_assert_msg(fabs(lr - want[i]) <= 1e-6 * want[i], "%s: step %zu lr %.9g, PyTorch %.9g", name, i, lr,
                      (double)want[i]);
    }
    /* every sequence was chosen so that the schedule does act */
    ck_assert_msg(reductions > 0, "%s: no lr reduction happened", name);
    free(loss);
    free(want);
}

static void custom(crn_plateau *p)
{
    p->factor = 0.5;
    p->patience = 3;
    p->threshold = 1e-2;
    p->cooldown = 2;
    p->min_lr = 1e-4;
}

START_TEST(test_plateau_matches_torch)
{
    crn_st_file f;
    test_load_fixture("schedule_plateau.safetensors", &f);
    run_case(&f, "flat", NULL);
    run_case(&f, "tiny_gains", NULL);
    run_case(&f, "noisy_down", NULL);
    run_case(&f, "custom", custom);
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

int main(void)
{
    Suite *s = suite_create("schedule");
    TCase *tc = tcase_create("schedule");
    tcase_add_test(tc, test_plateau_matches_torch);
    tcase_add_test(tc, test_early_stop);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
