/* JPEG decoding and transforms against PIL / torchvision fixtures
 * (tests/make_fixtures_data.py): decoded pixels, Resize parity (within 1
 * grey level on >= 99% of values, 2 on all), ImageEnhance / rotate /
 * grayscale, the eval pipeline, bad files, DCT scaling and augmentation
 * determinism. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clresnet/data/jpeg.h"
#include "clresnet/data/transforms.h"
#include "test_support.h"

static crn_st_file pil;

static void setup(void)
{
    test_load_fixture("data/pil.safetensors", &pil);
}

static void teardown(void)
{
    crn_st_free(&pil);
}

static void decode(const char *name, int min_short, crn_image *im)
{
    crn_error err = {0};
    char path[4096];
    snprintf(path, sizeof path, "%s", test_fixture_path(name));
    uint8_t *fb = NULL;
    size_t cap = 0;
    CK_OK(crn_jpeg_decode_file(path, min_short, im, &fb, &cap, &err));
    free(fb);
}

/* Compares an image with a U8 [h, w, 3] fixture; returns the worst difference
 * and the share of values off by more than 1. */
static int compare(const char *what, const crn_image *im, const char *tensor, double *share_over1)
{
    const crn_st_tensor *t = crn_st_find(&pil, tensor);
    ck_assert_msg(t != NULL, "no fixture tensor %s", tensor);
    ck_assert_int_eq(t->ndim, 3);
    ck_assert_msg((int)t->shape[0] == im->h && (int)t->shape[1] == im->w, "%s: size %dx%d, PIL %zux%zu", what, im->w,
                  im->h, t->shape[1], t->shape[0]);
    int worst = 0;
    size_t over1 = 0, n = t->numel;
    for (size_t i = 0; i < n; i++) {
        int d = abs((int)im->data[i] - (int)t->data[i]);
        if (d > worst)
            worst = d;
        if (d > 1)
            over1++;
    }
    if (share_over1)
        *share_over1 = (double)over1 / (double)n;
    return worst;
}

START_TEST(test_decode_matches_pil)
{
    const char *names[] = {"color", "gray", "cmyk", "progressive", "big", "tall"};
    for (int k = 0; k < 6; k++) {
        crn_image im = {0};
        char f[64], t[64];
        snprintf(f, sizeof f, "data/jpeg/%s.jpg", names[k]);
        snprintf(t, sizeof t, "decode.%s", names[k]);
        decode(f, 0, &im);
        int worst = compare(f, &im, t, NULL);
        /* the same libjpeg decodes both: identical pixels */
        ck_assert_msg(worst == 0, "%s differs from PIL by %d", names[k], worst);
        crn_image_free(&im);
    }
}
END_TEST

START_TEST(test_bad_files)
{
    const char *names[] = {"truncated", "empty", "notjpeg", "missing"};
    const char *why[] = {"corrupt JPEG", "empty file", "not a JPEG", "No such file"};
    for (int k = 0; k < 4; k++) {
        crn_error err = {0};
        crn_image im = {0};
        char path[4096];
        snprintf(path, sizeof path, "%s/data/jpeg/%s.jpg", test_fixture_path(""), names[k]);
        uint8_t *fb = NULL;
        size_t cap = 0;
        int rc = crn_jpeg_decode_file(path, 0, &im, &fb, &cap, &err);
        ck_assert_msg(rc != CRN_OK, "%s decoded", names[k]);
        ck_assert_msg(strstr(err.msg, path) != NULL, "message lacks the path: %s", err.msg);
        ck_assert_msg(strstr(err.msg, why[k]) != NULL, "message lacks '%s': %s", why[k], err.msg);
        free(fb);
        crn_image_free(&im);
    }
}
END_TEST

START_TEST(test_resize_parity)
{
    crn_error err = {0};
    size_t checked = 0;
    for (int i = 0; i < pil.count; i++) {
        const char *name = pil.tensors[i].name;
        if (strncmp(name, "resize.", 7) != 0)
            continue;
        const char *src = name + 10; /* "resize.NN." */
        char f[64];
        snprintf(f, sizeof f, "data/jpeg/%s.jpg", src);
        crn_image in = {0}, out = {0}, tmp = {0};
        decode(f, 0, &in);
        int oh = (int)pil.tensors[i].shape[0], ow = (int)pil.tensors[i].shape[1];
        CK_OK(crn_resize_bilinear(&in, ow, oh, &out, &tmp, &err));
        double share;
        int worst = compare(name, &out, name, &share);
        ck_assert_msg(worst <= 2 && share <= 0.01, "%s: worst %d, %.3f%% off by more than 1", name, worst,
                      100 * share);
        /* the implementation follows Pillow's fixed-point arithmetic: exact */
        ck_assert_msg(worst == 0, "%s: worst %d (expected exact)", name, worst);
        checked++;
        crn_image_free(&in);
        crn_image_free(&out);
        crn_image_free(&tmp);
    }
    ck_assert_uint_ge(checked, 10);
}
END_TEST

START_TEST(test_colour_and_geometry_ops)
{
    crn_error err = {0};
    crn_image im = {0}, w = {0};
    decode("data/jpeg/color.jpg", 0, &im);
    struct {
        const char *t;
        int op;
        float f;
    } cases[] = {{"op.brightness_1.15", 0, 1.15f}, {"op.brightness_0.83", 0, 0.83f}, {"op.contrast_0.85", 1, 0.85f},
                 {"op.contrast_1.2", 1, 1.2f},     {"op.saturation_1.2", 2, 1.2f},  {"op.saturation_0.8", 2, 0.8f},
                 {"op.grayscale", 3, 0}};
    for (int k = 0; k < 7; k++) {
        CK_OK(crn_crop(&im, 0, 0, im.w > im.h ? im.w : im.h, &w, &err)); /* copy via crop, then trim */
        w.w = im.w;
        w.h = im.h;
        memcpy(w.data, im.data, (size_t)im.w * im.h * 3);
        if (cases[k].op == 0)
            crn_adjust_brightness(&w, cases[k].f);
        else if (cases[k].op == 1)
            crn_adjust_contrast(&w, cases[k].f);
        else if (cases[k].op == 2)
            crn_adjust_saturation(&w, cases[k].f);
        else
            crn_grayscale(&w);
        int worst = compare(cases[k].t, &w, cases[k].t, NULL);
        ck_assert_msg(worst == 0, "%s differs from PIL by %d", cases[k].t, worst);
    }
    /* rotation, nearest: the sampling grid may differ at a few boundary pixels
     * (PIL rounds the matrix to 15 digits and steps incrementally) */
    double angles[2] = {10.0, -13.0};
    const char *names[2] = {"op.rotate_10", "op.rotate_-13"};
    for (int k = 0; k < 2; k++) {
        CK_OK(crn_rotate_nearest(&im, angles[k], &w, &err));
        const crn_st_tensor *t = crn_st_find(&pil, names[k]);
        size_t diff = 0, npix = (size_t)im.w * im.h;
        for (size_t p = 0; p < npix; p++)
            if (memcmp(w.data + 3 * p, t->data + 3 * p, 3) != 0)
                diff++;
        ck_assert_msg(diff <= npix / 200, "%s: %zu of %zu pixels differ", names[k], diff, npix);
    }
    /* horizontal flip twice is the identity, once mirrors */
    memcpy(w.data, im.data, (size_t)im.w * im.h * 3);
    w.w = im.w;
    w.h = im.h;
    crn_hflip(&w);
    ck_assert_int_eq(memcmp(w.data, im.data + 3 * (im.w - 1), 3), 0);
    crn_hflip(&w);
    ck_assert_int_eq(memcmp(w.data, im.data, (size_t)im.w * im.h * 3), 0);
    crn_image_free(&im);
    crn_image_free(&w);
}
END_TEST

START_TEST(test_eval_pipeline_matches_torchvision)
{
    crn_error err = {0};
    crn_transform_config c;
    crn_transform_config_default(&c);
    c.image_size = 64;
    c.augment = 0;
    c.dct_scaling = 0;
    ck_assert_int_eq(crn_transform_resize_target(&c), 73);
    int ow, oh;
    crn_resize_dims(200, 150, 73, &ow, &oh);
    ck_assert_int_eq(ow, 97);
    ck_assert_int_eq(oh, 73);
    crn_resize_dims(96, 160, 73, &ow, &oh);
    ck_assert_int_eq(ow, 73);
    ck_assert_int_eq(oh, 121);
    int top, left;
    crn_center_crop_offsets(97, 73, 64, &top, &left);
    ck_assert_int_eq(left, 16); /* round(16.5) = 16, half to even as Python */
    ck_assert_int_eq(top, 4);   /* round(4.5) = 4 */
    const char *names[2] = {"big", "tall"};
    float *out = malloc(3 * 64 * 64 * sizeof(float));
    for (int k = 0; k < 2; k++) {
        crn_transform_scratch s = {0};
        char path[4096], t[64];
        snprintf(path, sizeof path, "%s/data/jpeg/%s.jpg", test_fixture_path(""), names[k]);
        snprintf(t, sizeof t, "eval64.%s", names[k]);
        CK_OK(crn_transform_file(&c, path, 0, 0, 0, &s, out, &err));
        size_t n;
        float *want = test_fixture_f32(&pil, t, &n);
        ck_assert_uint_eq(n, 3 * 64 * 64);
        /* identical uint8 pixels give identical floats up to the float
         * normalisation (same formula): 1e-6 absolute */
        test_check_close(t, out, want, n, 0, 1e-6);
        free(want);
        crn_transform_scratch_free(&s);
    }
    free(out);
}
END_TEST

START_TEST(test_dct_scaling)
{
    crn_image im = {0};
    /* 200x150: shorter side 150; a target of 73 allows 4/8 (100x75), not 3/8 (75x57) */
    decode("data/jpeg/big.jpg", 73, &im);
    ck_assert_int_eq(im.w, 100);
    ck_assert_int_eq(im.h, 75);
    decode("data/jpeg/big.jpg", 150, &im);
    ck_assert_int_eq(im.w, 200);
    decode("data/jpeg/big.jpg", 19, &im);
    ck_assert_int_eq(im.w, 25); /* 1/8 */
    decode("data/jpeg/big.jpg", 400, &im); /* larger than the image: full size */
    ck_assert_int_eq(im.w, 200);
    crn_image_free(&im);
}
END_TEST

START_TEST(test_augment_deterministic)
{
    crn_error err = {0};
    crn_transform_config c;
    crn_transform_config_default(&c);
    c.image_size = 48;
    c.resize = 56;
    crn_image im = {0};
    decode("data/jpeg/big.jpg", 0, &im);
    size_t n = 3 * 48 * 48;
    float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float)), *d = malloc(n * sizeof(float));
    crn_transform_scratch s1 = {0}, s2 = {0};
    CK_OK(crn_transform_image(&c, &im, 7, 3, 11, &s1, a, &err));
    CK_OK(crn_transform_image(&c, &im, 7, 3, 11, &s2, b, &err));
    ck_assert_int_eq(memcmp(a, b, n * sizeof(float)), 0);
    /* another epoch or sample gives another augmentation */
    CK_OK(crn_transform_image(&c, &im, 7, 4, 11, &s2, d, &err));
    ck_assert_int_ne(memcmp(a, d, n * sizeof(float)), 0);
    CK_OK(crn_transform_image(&c, &im, 7, 3, 12, &s2, d, &err));
    ck_assert_int_ne(memcmp(a, d, n * sizeof(float)), 0);
    /* values stay in the normalised range of [0, 1] inputs */
    for (size_t i = 0; i < n; i++)
        ck_assert(a[i] >= -2.2f && a[i] <= 2.7f);
    /* bad config values are refused, naming the field */
    c.hflip_p = 1.5;
    ck_assert_int_ne(crn_transform_config_check(&c, &err), CRN_OK);
    ck_assert_ptr_nonnull(strstr(err.msg, "flip"));
    crn_transform_config_default(&c);
    c.image_size = 64;
    c.resize = 50;
    ck_assert_int_ne(crn_transform_config_check(&c, &err), CRN_OK);
    /* the generator: uniform ints cover their range, roughly evenly */
    crn_rng r;
    crn_rng_init(&r, 1, 2, 3, 4);
    int hist[5] = {0};
    for (int i = 0; i < 5000; i++)
        hist[crn_rng_int(&r, 0, 4)]++;
    for (int k = 0; k < 5; k++)
        ck_assert_msg(hist[k] > 900 && hist[k] < 1100, "bin %d: %d", k, hist[k]);
    free(a);
    free(b);
    free(d);
    crn_transform_scratch_free(&s1);
    crn_transform_scratch_free(&s2);
    crn_image_free(&im);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("data_image");
    TCase *tc = tcase_create("image");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_decode_matches_pil);
    tcase_add_test(tc, test_bad_files);
    tcase_add_test(tc, test_resize_parity);
    tcase_add_test(tc, test_colour_and_geometry_ops);
    tcase_add_test(tc, test_eval_pipeline_matches_torchvision);
    tcase_add_test(tc, test_dct_scaling);
    tcase_add_test(tc, test_augment_deterministic);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
