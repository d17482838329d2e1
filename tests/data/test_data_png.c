/* PNG decoding and the JPEG / PNG dispatch against PIL fixtures
 * (tests/make_fixtures_png.py): every colour type and bit depth, interlaced
 * images, bad files, PNGs through the transform pipeline and in an image
 * folder. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clresnet/data/dataset.h"
#include "clresnet/data/image.h"
#include "clresnet/data/jpeg.h"
#include "clresnet/data/png.h"
#include "clresnet/data/transforms.h"
#include "test_support.h"

static crn_st_file pil;

static void setup(void)
{
    test_load_fixture("png/pil_png.safetensors", &pil);
}

static void teardown(void)
{
    crn_st_free(&pil);
}

/* The good fixtures, each with PIL's convert("RGB") as decode.<name>. */
static const char *const good[] = {
    "rgb",          "rgba",           "palette",     "palette_trns",   "gray",
    "gray_alpha",   "rgb_trns",       "gray16",      "rgb16",          "rgba16",
    "gray_alpha16", "gray2",          "gray1_trns",  "palette4_short", "interlaced_rgb",
    "interlaced_palette2", "interlaced_gray16", "interlaced_rgba16", "no_iend",
};
#define N_GOOD (sizeof good / sizeof good[0])

static const char *png_path(const char *name, char *buf, size_t n)
{
    snprintf(buf, n, "%s/png/%s.png", test_fixture_path(""), name);
    return buf;
}

/* Asserts that im holds exactly PIL's pixels of fixture name. */
static void assert_pil(const char *name, const crn_image *im)
{
    char key[96];
    snprintf(key, sizeof key, "decode.%s", name);
    const crn_st_tensor *t = crn_st_find(&pil, key);
    ck_assert_msg(t != NULL, "no fixture tensor %s", key);
    ck_assert_int_eq(t->ndim, 3);
    ck_assert_msg((int)t->shape[0] == im->h && (int)t->shape[1] == im->w && t->shape[2] == 3,
                  "%s: size %dx%d, PIL %zux%zu", name, im->w, im->h, t->shape[1], t->shape[0]);
    for (size_t i = 0; i < t->numel; i++)
        ck_assert_msg(im->data[i] == t->data[i], "%s: byte %zu (pixel %zu, channel %zu) is %d, PIL %d", name, i,
                      i / 3, i % 3, im->data[i], t->data[i]);
}

/* PIL's pixels of fixture name as a crn_image (a copy). */
static void pil_image(const char *name, crn_image *im)
{
    char key[96];
    snprintf(key, sizeof key, "decode.%s", name);
    const crn_st_tensor *t = crn_st_find(&pil, key);
    ck_assert_ptr_nonnull(t);
    crn_error err = {0};
    CK_OK(crn_image_reserve(im, (int)t->shape[1], (int)t->shape[0], &err));
    memcpy(im->data, t->data, t->numel);
}

START_TEST(test_decode_matches_pil)
{
    /* one image and read buffer for all: a reused buffer holds the previous
     * picture, which an interlaced decode must overwrite everywhere */
    crn_image im = {0};
    uint8_t *fb = NULL;
    size_t cap = 0;
    for (size_t k = 0; k < N_GOOD; k++) {
        crn_error err = {0};
        char path[4096];
        png_path(good[k], path, sizeof path);
        if (im.data)
            memset(im.data, 0xA5, im.cap);
        CK_OK(crn_image_decode_file(path, 0, &im, &fb, &cap, &err));
        assert_pil(good[k], &im);
    }
    free(fb);
    crn_image_free(&im);
}
END_TEST

START_TEST(test_decode_mem_and_min_short)
{
    crn_error err = {0};
    char path[4096];
    uint8_t *fb = NULL;
    size_t cap = 0, len = 0;
    crn_image im = {0};
    CK_OK(crn_image_read_file(png_path("interlaced_rgb", path, sizeof path), &fb, &cap, &len, &err));
    ck_assert_int_eq(crn_image_sniff(fb, len), CRN_IMAGE_PNG);
    CK_OK(crn_png_decode_mem(fb, len, path, &im, &err));
    assert_pil("interlaced_rgb", &im);
    /* PNG has no DCT scaling: min_short changes nothing */
    CK_OK(crn_image_decode_mem(fb, len, 2, path, &im, &err));
    assert_pil("interlaced_rgb", &im);
    free(fb);
    crn_image_free(&im);
}
END_TEST

START_TEST(test_bad_files)
{
    const char *names[] = {"truncated", "badcrc", "badcrc_text", "empty", "notimage", "missing"};
    const char *why[] = {"corrupt PNG: unexpected end of file", "corrupt PNG: IDAT: CRC error",
                         "corrupt PNG: tEXt: CRC error", "empty file, not a JPEG or PNG image",
                         "not a JPEG or PNG image", "No such file"};
    crn_image im = {0};
    for (int k = 0; k < 6; k++) {
        crn_error err = {0};
        char path[4096];
        png_path(names[k], path, sizeof path);
        uint8_t *fb = NULL;
        size_t cap = 0;
        int rc = crn_image_decode_file(path, 0, &im, &fb, &cap, &err);
        ck_assert_msg(rc != CRN_OK, "%s decoded", names[k]);
        ck_assert_msg(strstr(err.msg, path) != NULL, "message lacks the path: %s", err.msg);
        ck_assert_msg(strstr(err.msg, why[k]) != NULL, "message lacks '%s': %s", why[k], err.msg);
        free(fb);
    }
    /* the PNG decoder itself refuses what is not a PNG, naming the input */
    crn_error err = {0};
    const uint8_t jpeg_start[] = {0xFF, 0xD8, 0xFF, 0xE0, 0, 16, 'J', 'F', 'I', 'F'};
    ck_assert_int_ne(crn_png_decode_mem(jpeg_start, sizeof jpeg_start, "x.jpg", &im, &err), CRN_OK);
    ck_assert_msg(strstr(err.msg, "x.jpg: not a PNG image") != NULL, "%s", err.msg);
    /* a directory is not an image file */
    uint8_t *fb = NULL;
    size_t cap = 0;
    ck_assert_int_ne(crn_image_decode_file(test_fixture_path("png"), 0, &im, &fb, &cap, &err), CRN_OK);
    ck_assert_msg(strstr(err.msg, "not a regular file") != NULL, "%s", err.msg);
    free(fb);
    crn_image_free(&im);
}
END_TEST

/* The dispatch goes by the first bytes: JPEGs decode as crn_jpeg_decode_file
 * does (DCT scaling included), and a PNG named .jpg decodes as a PNG. */
START_TEST(test_dispatch)
{
    crn_error err = {0};
    char path[4096];
    snprintf(path, sizeof path, "%s", test_fixture_path("data/jpeg/big.jpg"));
    uint8_t *fb = NULL;
    size_t cap = 0, len = 0;
    crn_image a = {0}, b = {0};
    for (int min_short = 0; min_short <= 40; min_short += 40) {
        CK_OK(crn_jpeg_decode_file(path, min_short, &a, &fb, &cap, &err));
        CK_OK(crn_image_decode_file(path, min_short, &b, &fb, &cap, &err));
        ck_assert_int_eq(a.w, b.w);
        ck_assert_int_eq(a.h, b.h);
        ck_assert_mem_eq(a.data, b.data, (size_t)a.w * a.h * 3);
    }
    ck_assert_int_lt(a.w, 200); /* min_short 40 took a reduced DCT scale */
    snprintf(path, sizeof path, "%s", test_fixture_path("data/jpeg/notjpeg.jpg"));
    CK_OK(crn_image_read_file(path, &fb, &cap, &len, &err));
    CK_OK(crn_png_decode_mem(fb, len, path, &a, &err));
    CK_OK(crn_image_decode_file(path, 0, &b, &fb, &cap, &err));
    ck_assert_int_eq(b.w, 8);
    ck_assert_int_eq(b.h, 8);
    ck_assert_mem_eq(a.data, b.data, 8 * 8 * 3);
    const uint8_t gif[] = {'G', 'I', 'F', '8', '9', 'a'};
    ck_assert_int_eq(crn_image_sniff(gif, sizeof gif), CRN_IMAGE_UNKNOWN);
    ck_assert_int_ne(crn_image_decode_mem(gif, sizeof gif, 0, "a.gif", &a, &err), CRN_OK);
    ck_assert_str_eq(err.msg, "a.gif: not a JPEG or PNG image");
    free(fb);
    crn_image_free(&a);
    crn_image_free(&b);
}
END_TEST

/* crn_transform_file on a PNG == crn_transform_image on PIL's pixels, for
 * the eval pipeline and for augmentation with the same (seed, epoch, index). */
START_TEST(test_transform_file_png)
{
    const char *names[] = {"rgb", "interlaced_palette2", "gray16"};
    const size_t S = 5;
    float *a = malloc(3 * S * S * sizeof *a), *b = malloc(3 * S * S * sizeof *b);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    crn_transform_scratch s1, s2;
    memset(&s1, 0, sizeof s1);
    memset(&s2, 0, sizeof s2);
    crn_image im = {0};
    for (int k = 0; k < 3; k++) {
        for (int augment = 0; augment <= 1; augment++) {
            crn_error err = {0};
            crn_transform_config c;
            crn_transform_config_default(&c);
            c.image_size = (int)S;
            c.resize = 6;
            c.augment = augment;
            char path[4096];
            png_path(names[k], path, sizeof path);
            CK_OK(crn_transform_file(&c, path, 7, 3, (uint64_t)k, &s1, a, &err));
            pil_image(names[k], &im);
            CK_OK(crn_transform_image(&c, &im, 7, 3, (uint64_t)k, &s2, b, &err));
            ck_assert_msg(memcmp(a, b, 3 * S * S * sizeof *a) == 0, "%s (augment %d): PNG file and PIL pixels differ",
                          names[k], augment);
        }
    }
    crn_error err = {0};
    crn_transform_config c;
    crn_transform_config_default(&c);
    char path[4096];
    ck_assert_int_ne(crn_transform_file(&c, png_path("truncated", path, sizeof path), 0, 0, 0, &s1, a, &err), CRN_OK);
    ck_assert_msg(strstr(err.msg, path) != NULL, "%s", err.msg);
    crn_transform_scratch_free(&s1);
    crn_transform_scratch_free(&s2);
    crn_image_free(&im);
    free(a);
    free(b);
}
END_TEST

static void copy_file(const char *from, const char *to)
{
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    char buf[4096];
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, a)) > 0)
        ck_assert_uint_eq(fwrite(buf, 1, k, b), k);
    fclose(a);
    fclose(b);
}

/* An image folder takes .png (any case) beside .jpg, and its PNG samples go
 * through the loader's decode path. */
START_TEST(test_image_folder_png)
{
    crn_error err = {0};
    char root[] = "/tmp/clresnet-png-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(root));
    char png[4096], jpg[4096], p[512];
    png_path("rgb", png, sizeof png);
    snprintf(jpg, sizeof jpg, "%s", test_fixture_path("data/jpeg/color.jpg"));
    const char *files[] = {"train/iris/a.png", "train/iris/b.PNG", "train/rose/c.jpg", "val/rose/d.Png",
                           "test/iris/e.png",  "test/iris/notes.txt"};
    const char *dirs[] = {"train", "train/iris", "train/rose", "val", "val/rose", "test", "test/iris"};
    for (int i = 0; i < 7; i++) {
        snprintf(p, sizeof p, "%s/%s", root, dirs[i]);
        ck_assert_int_eq(mkdir(p, 0755), 0);
    }
    for (int i = 0; i < 6; i++) {
        snprintf(p, sizeof p, "%s/%s", root, files[i]);
        copy_file(strstr(files[i], ".jpg") ? jpg : png, p);
    }
    crn_dataset ds;
    CK_OK(crn_dataset_open(&ds, root, NULL, &err));
    ck_assert_int_eq(ds.kind, CRN_DATASET_IMAGEFOLDER);
    ck_assert_int_eq(ds.num_classes, 2);
    ck_assert_uint_eq(ds.count[CRN_SPLIT_TRAIN], 3);
    ck_assert_uint_eq(ds.count[CRN_SPLIT_VAL], 1);
    ck_assert_uint_eq(ds.count[CRN_SPLIT_TEST], 1);
    ck_assert_ptr_nonnull(strstr(ds.samples[CRN_SPLIT_TRAIN][1].path, "/train/iris/b.PNG"));
    ck_assert_ptr_nonnull(strstr(ds.samples[CRN_SPLIT_VAL][0].path, "/val/rose/d.Png"));
    crn_transform_config c;
    crn_transform_config_default(&c);
    c.image_size = 5;
    c.resize = 6;
    c.augment = 0;
    crn_transform_scratch s;
    memset(&s, 0, sizeof s);
    float out[3 * 5 * 5];
    for (int sp = 0; sp < CRN_SPLIT_COUNT; sp++)
        for (size_t i = 0; i < ds.count[sp]; i++)
            CK_OK(crn_transform_file(&c, ds.samples[sp][i].path, 0, 0, i, &s, out, &err));
    crn_transform_scratch_free(&s);
    crn_dataset_free(&ds);
    /* a split with no image names the extensions it looks for */
    snprintf(p, sizeof p, "%s/test/iris/e.png", root);
    ck_assert_int_eq(remove(p), 0);
    ck_assert_int_ne(crn_dataset_open(&ds, root, NULL, &err), CRN_OK);
    ck_assert_msg(strstr(err.msg, "'test' holds no .jpg, .jpeg or .png images") != NULL, "%s", err.msg);
    snprintf(p, sizeof p, "rm -rf '%s'", root);
    ck_assert_int_eq(system(p), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("data_png");
    TCase *tc = tcase_create("png");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_decode_matches_pil);
    tcase_add_test(tc, test_decode_mem_and_min_short);
    tcase_add_test(tc, test_bad_files);
    tcase_add_test(tc, test_dispatch);
    tcase_add_test(tc, test_transform_file_png);
    tcase_add_test(tc, test_image_folder_png);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
