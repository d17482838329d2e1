/* The random augmentation's parameters against torchvision's: N draws of
 * crn_augment_sample compared with N draws of torchvision's own get_params
 * (tests/make_fixtures_augment.py): each probability within 5 standard
 * errors of the difference of two N-sample rates, each distribution (crop
 * offsets, angle, jitter factors, jitter order) by a two-sample chi-square
 * test at p < 1e-6, plus the exact ranges. A wrong probability (a flip that
 * never happens), a one-sided angle or a shifted range fails it; two correct
 * samplers fail it about once in a million runs. And the pixel path uses
 * exactly the sampled parameters. Host only. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clresnet/data/transforms.h"
#include "test_support.h"

enum { N = 20000, H = 73, W = 90, S = 64, BINS = 10 };

static crn_transform_config config(void)
{
    crn_transform_config c;
    crn_transform_config_default(&c);
    c.image_size = S;
    return c; /* flip 0.5, rotation 15, grayscale 0.1, jitter 0.2: the seed protocol's values */
}

/* Two-sample chi-square statistic of count vectors a and b (equal totals). */
static double chi2(const double *a, const double *b, int k)
{
    double x = 0;
    for (int i = 0; i < k; i++)
        if (a[i] + b[i] > 0) x += (a[i] - b[i]) * (a[i] - b[i]) / (a[i] + b[i]);
    return x;
}

/* The chi-square quantile at p = 1e-6 for df degrees of freedom (Wilson-
 * Hilferty; within 2 % of the exact value for df >= 5). */
static double chi2_limit(int df)
{
    const double z = 4.753; /* the normal's 1 - 1e-6 quantile */
    double h = 2.0 / (9.0 * df);
    return df * pow(1 - h + z * sqrt(h), 3);
}

static void check_hist(const crn_st_file *f, const char *name, const double *ours, int k)
{
    size_t n = 0;
    float *ref = test_fixture_f32(f, name, &n);
    ck_assert_int_eq((int)n, k);
    double want[64], total = 0;
    for (int i = 0; i < k; i++) total += want[i] = ref[i];
    ck_assert_msg(fabs(total - N) < 0.5, "%s: fixture total %g", name, total);
    double x = chi2(ours, want, k), lim = chi2_limit(k - 1);
    printf("%-10s chi2 %.1f (limit %.1f, df %d)\n", name, x, lim, k - 1);
    ck_assert_msg(x < lim, "%s: ours differ from torchvision's distribution (chi2 %.1f >= %.1f)", name, x, lim);
    free(ref);
}

static void check_rate(const crn_st_file *f, const char *name, double ours, double p)
{
    size_t n = 0;
    float *ref = test_fixture_f32(f, name, &n);
    double theirs = ref[0] / N, se = sqrt(2.0 * p * (1 - p) / N);
    printf("%-10s rate %.4f, torchvision %.4f (5 SE = %.4f)\n", name, ours / N, theirs, 5 * se);
    ck_assert_msg(fabs(ours / N - theirs) < 5 * se, "%s: rate %.4f, torchvision's %.4f", name, ours / N, theirs);
    free(ref);
}

static int bin_of(double v, double lo, double hi)
{
    int b = (int)floor((v - lo) / (hi - lo) * BINS);
    return b < 0 ? 0 : b >= BINS ? BINS - 1 : b;
}

START_TEST(test_params_match_torchvision)
{
    crn_st_file f;
    test_load_fixture("augment_torchvision.safetensors", &f);
    crn_transform_config c = config();
    double top[H - S + 1] = {0}, left[W - S + 1] = {0}, angle[BINS] = {0}, fac[3][BINS] = {{0}}, order[6] = {0};
    double flips = 0, grays = 0, amin = 1e9, amax = -1e9, fmn = 1e9, fmx = -1e9;
    static const int PERMS[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
    for (int i = 0; i < N; i++) {
        crn_augment_params p;
        crn_augment_sample(&c, W, H, 7, (uint64_t)(i / 1000), (uint64_t)i, &p);
        ck_assert(p.top >= 0 && p.top <= H - S && p.left >= 0 && p.left <= W - S);
        top[p.top]++;
        left[p.left]++;
        flips += p.hflip;
        grays += p.grayscale;
        angle[bin_of(p.angle, -15, 15)]++;
        amin = fmin(amin, p.angle), amax = fmax(amax, p.angle);
        const float fv[3] = {p.brightness, p.contrast, p.saturation};
        for (int k = 0; k < 3; k++) {
            fac[k][bin_of(fv[k], 0.8, 1.2)]++;
            fmn = fmin(fmn, fv[k]), fmx = fmax(fmx, fv[k]);
        }
        for (int q = 0; q < 6; q++)
            if (!memcmp(p.order, PERMS[q], sizeof p.order)) order[q]++;
    }
    check_rate(&f, "flip", flips, 0.5);
    check_rate(&f, "grayscale", grays, 0.1);
    check_hist(&f, "top", top, H - S + 1);
    check_hist(&f, "left", left, W - S + 1);
    check_hist(&f, "angle", angle, BINS);
    check_hist(&f, "brightness", fac[0], BINS);
    check_hist(&f, "contrast", fac[1], BINS);
    check_hist(&f, "saturation", fac[2], BINS);
    check_hist(&f, "order", order, 6);
    /* the ranges themselves: both ends reached, nothing beyond */
    printf("angle in [%.3f, %.3f], factors in [%.4f, %.4f]\n", amin, amax, fmn, fmx);
    ck_assert(amin >= -15 && amin < -14.9 && amax <= 15 && amax > 14.9);
    ck_assert(fmn >= 0.8f && fmn < 0.801f && fmx <= 1.2f && fmx > 1.199f);
    crn_st_free(&f);
}
END_TEST

/* Settings that turn a transform off leave its parameter alone. */
START_TEST(test_disabled_transforms)
{
    crn_transform_config c = config();
    c.hflip_p = 0, c.grayscale_p = 0, c.rotation_deg = 0, c.brightness = c.contrast = c.saturation = 0;
    for (int i = 0; i < 1000; i++) {
        crn_augment_params p;
        crn_augment_sample(&c, W, H, 1, 0, (uint64_t)i, &p);
        ck_assert(!p.hflip && !p.grayscale && p.angle == 0);
        ck_assert(p.brightness == 1.0f && p.contrast == 1.0f && p.saturation == 1.0f);
    }
    c = config();
    c.hflip_p = 1, c.grayscale_p = 1;
    crn_augment_params p;
    crn_augment_sample(&c, W, H, 1, 0, 3, &p);
    ck_assert(p.hflip && p.grayscale);
    /* an image no larger than the crop: offset 0 */
    crn_augment_sample(&c, S, S, 1, 0, 3, &p);
    ck_assert(p.top == 0 && p.left == 0);
}
END_TEST

/* crn_transform_image applies the sampled parameters: a flip sampled for a
 * sample shows in its pixels (the left column of the crop becomes the right). */
START_TEST(test_pixels_follow_params)
{
    crn_transform_config c = config();
    c.rotation_deg = 0, c.grayscale_p = 0, c.brightness = c.contrast = c.saturation = 0;
    c.resize = 73;
    crn_image img = {0};
    crn_error err = {0};
    CK_OK(crn_image_reserve(&img, W, H, &err));
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            for (int k = 0; k < 3; k++) img.data[((size_t)y * W + x) * 3 + k] = (uint8_t)((x * 7 + y * 3 + k * 50) % 251);
    crn_transform_scratch s;
    memset(&s, 0, sizeof s);
    float *out = malloc(3 * S * S * sizeof *out);
    int flipped = 0;
    for (uint64_t i = 0; i < 40; i++) {
        crn_augment_params p;
        crn_augment_sample(&c, W, H, 9, 0, i, &p); /* 73 is already the shorter side: no resize */
        CK_OK(crn_transform_image(&c, &img, 9, 0, i, &s, out, &err));
        /* red channel at output (0, 0): input (top, left) unflipped, (top, left + S - 1) flipped */
        int sx = p.hflip ? p.left + S - 1 : p.left;
        float want = ((float)img.data[((size_t)p.top * W + sx) * 3] / 255.0f - c.mean[0]) / c.std[0];
        ck_assert_msg(fabsf(out[0] - want) < 1e-6f, "sample %llu: pixel %g, params say %g", (unsigned long long)i,
                      out[0], want);
        flipped += p.hflip;
    }
    ck_assert(flipped > 0 && flipped < 40);
    free(out);
    crn_transform_scratch_free(&s);
    crn_image_free(&img);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("augment");
    TCase *tc = tcase_create("augment");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_params_match_torchvision);
    tcase_add_test(tc, test_disabled_transforms);
    tcase_add_test(tc, test_pixels_follow_params);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
