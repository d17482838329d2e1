/* safetensors: files written by the safetensors library itself (torch and
 * numpy front ends: every engine dtype, 0-d, empty and 4-d tensors, escaped
 * metadata; a float16 file refused), the writer/reader round trip, and
 * damaged files refused with a message naming the problem. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clresnet/io/safetensors.h"
#include "test_support.h"

/* A tensor of the file with this dtype and shape (ndim entries of shape;
 * numel and byte count to match). */
static const crn_st_tensor *want_tensor(const crn_st_file *f, const char *name, crn_st_dtype dtype, int ndim,
                                        const size_t *shape)
{
    const crn_st_tensor *t = crn_st_find(f, name);
    ck_assert_msg(t != NULL, "%s: no tensor '%s'", f->path, name);
    ck_assert_msg(t->dtype == dtype, "%s: dtype %s, want %s", name, crn_st_dtype_name(t->dtype),
                  crn_st_dtype_name(dtype));
    ck_assert_msg(t->ndim == ndim, "%s: %d dimensions, want %d", name, t->ndim, ndim);
    size_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        ck_assert_msg(t->shape[i] == shape[i], "%s: dimension %d is %zu, want %zu", name, i, t->shape[i], shape[i]);
        numel *= shape[i];
    }
    ck_assert_msg(t->numel == numel, "%s: %zu elements, want %zu", name, t->numel, numel);
    ck_assert_int_eq((int)t->nbytes, (int)(numel * crn_st_dtype_size(dtype)));
    return t;
}

#define SHAPE(...) (const size_t[]){__VA_ARGS__}

/* Element i of a tensor, as stored (little-endian, unaligned). */
static float f32_at(const crn_st_tensor *t, size_t i) { float v; memcpy(&v, t->data + 4 * i, 4); return v; }
static double f64_at(const crn_st_tensor *t, size_t i) { double v; memcpy(&v, t->data + 8 * i, 8); return v; }
static int64_t i64_at(const crn_st_tensor *t, size_t i) { int64_t v; memcpy(&v, t->data + 8 * i, 8); return v; }
static int32_t i32_at(const crn_st_tensor *t, size_t i) { int32_t v; memcpy(&v, t->data + 4 * i, 4); return v; }
static uint32_t bits_at(const crn_st_tensor *t, size_t i) { uint32_t v; memcpy(&v, t->data + 4 * i, 4); return v; }

/* Written by safetensors.torch.save_file (tests/make_fixtures_safetensors.py):
 * the library orders the data by dtype, pads the header with spaces and
 * escapes the metadata; every value below is exact (a formula) except
 * w.f32, PyTorch's randn. */
START_TEST(test_reads_torch_file)
{
    crn_st_file f;
    crn_error err = {0};
    test_load_fixture("safetensors_torch.safetensors", &f);
    ck_assert_int_eq(f.count, 14);
    const crn_st_tensor *t = want_tensor(&f, "w.f32", CRN_ST_F32, 3, SHAPE(2, 3, 4));
    float v[256];
    CK_OK(crn_st_get_f32(&f, "w.f32", v, 24, &err));
    /* torch.manual_seed(0); torch.randn(2, 3, 4)[0, 0, :2] */
    ck_assert_float_eq_tol(v[0], -1.1258f, 1e-4f);
    ck_assert_float_eq_tol(v[1], -1.1524f, 1e-4f);
    t = want_tensor(&f, "w.f64", CRN_ST_F64, 1, SHAPE(5));
    for (int i = 0; i < 5; i++) ck_assert(f64_at(t, i) == i / 4.0);
    float d[5];
    CK_OK(crn_st_get_f32(&f, "w.f64", d, 5, &err));
    ck_assert_float_eq(d[3], 0.75f);
    /* 0-d I64, as num_batches_tracked in a state dict */
    t = want_tensor(&f, "bn.num_batches_tracked", CRN_ST_I64, 0, NULL);
    ck_assert(i64_at(t, 0) == 7);
    float nb;
    CK_OK(crn_st_get_f32(&f, "bn.num_batches_tracked", &nb, 1, &err));
    ck_assert_float_eq(nb, 7.0f);
    /* empty tensors: no bytes, and reading zero elements works */
    want_tensor(&f, "empty", CRN_ST_F32, 2, SHAPE(0, 3));
    CK_OK(crn_st_get_f32(&f, "empty", v, 0, &err));
    want_tensor(&f, "empty3.i64", CRN_ST_I64, 3, SHAPE(2, 0, 1));
    t = want_tensor(&f, "grid.f32", CRN_ST_F32, 1, SHAPE(24));
    for (int i = 0; i < 24; i++) ck_assert_msg(f32_at(t, i) == (i - 11.5f) / 8, "grid.f32[%d] = %g", i, f32_at(t, i));
    /* row-major: [a][b][c][d] = 1000 a + 100 b + 10 c + d */
    t = want_tensor(&f, "conv.f32", CRN_ST_F32, 4, SHAPE(2, 3, 1, 2));
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 3; b++)
            for (int e = 0; e < 2; e++) {
                size_t i = ((size_t)a * 3 + b) * 2 + e;
                ck_assert_msg(f32_at(t, i) == 1000 * a + 100 * b + e, "conv.f32[%d][%d][0][%d] = %g", a, b, e,
                              f32_at(t, i));
            }
    /* a transposed matrix saved contiguous: [3, 2], [i][j] = 3 j + i */
    t = want_tensor(&f, "transposed.f32", CRN_ST_F32, 2, SHAPE(3, 2));
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 2; j++) ck_assert(f32_at(t, (size_t)i * 2 + j) == 3 * j + i);
    /* doubles bit for bit */
    t = want_tensor(&f, "fine.f64", CRN_ST_F64, 1, SHAPE(4));
    const double fine[4] = {0.1, 1.0 / 3.0, -2.5e-300, 1e300};
    for (int i = 0; i < 4; i++) ck_assert_msg(f64_at(t, i) == fine[i], "fine.f64[%d] = %.17g", i, f64_at(t, i));
    t = want_tensor(&f, "scalar.f32", CRN_ST_F32, 0, NULL);
    ck_assert(f32_at(t, 0) == -1.5f);
    t = want_tensor(&f, "big.i64", CRN_ST_I64, 1, SHAPE(3));
    ck_assert(i64_at(t, 0) == (INT64_C(1) << 40) + 1 && i64_at(t, 1) == -5 && i64_at(t, 2) == INT64_C(1) << 62);
    CK_OK(crn_st_get_f32(&f, "big.i64", v, 3, &err));
    ck_assert(v[0] == 1099511627776.0f && v[1] == -5.0f && v[2] == 4611686018427387904.0f);
    t = want_tensor(&f, "lim.i32", CRN_ST_I32, 1, SHAPE(4));
    ck_assert(i32_at(t, 0) == -3 && i32_at(t, 1) == 0 && i32_at(t, 2) == INT32_MAX && i32_at(t, 3) == INT32_MIN);
    CK_OK(crn_st_get_f32(&f, "lim.i32", v, 4, &err));
    ck_assert(v[0] == -3.0f && v[3] == -2147483648.0f);
    t = want_tensor(&f, "ramp.u8", CRN_ST_U8, 1, SHAPE(256));
    CK_OK(crn_st_get_f32(&f, "ramp.u8", v, 256, &err));
    for (int i = 0; i < 256; i++) ck_assert(t->data[i] == i && v[i] == (float)i);
    /* inf, -inf, nan, -0, the smallest denormal, the largest float */
    t = want_tensor(&f, "special.f32", CRN_ST_F32, 1, SHAPE(6));
    ck_assert(isinf(f32_at(t, 0)) && f32_at(t, 0) > 0);
    ck_assert(isinf(f32_at(t, 1)) && f32_at(t, 1) < 0);
    ck_assert(isnan(f32_at(t, 2)));
    ck_assert(bits_at(t, 3) == 0x80000000u);
    ck_assert(bits_at(t, 4) == 0x00000001u);
    ck_assert(bits_at(t, 5) == 0x7f7fffffu);
    /* metadata: JSON escapes and UTF-8 decoded, empty values kept */
    ck_assert_str_eq(crn_st_meta(&f, "made_by"), "tests/make_fixtures_safetensors.py");
    ck_assert_str_eq(crn_st_meta(&f, "writer"), "safetensors.torch.save_file");
    ck_assert_str_eq(crn_st_meta(&f, "tricky"),
                     "quote \" backslash \\ newline \n tab \t unicode \xc3\xa9\xe4\xb8\xad\xf0\x9f\x8c\xbc");
    ck_assert_str_eq(crn_st_meta(&f, "empty_value"), "");
    ck_assert_ptr_null(crn_st_meta(&f, "nope"));
    /* wrong element count and missing tensor are errors that name the tensor */
    ck_assert_int_ne(crn_st_get_f32(&f, "w.f32", v, 23, &err), CRN_OK);
    ck_assert_ptr_nonnull(strstr(err.msg, "w.f32"));
    ck_assert_int_ne(crn_st_get_f32(&f, "nope", v, 1, &err), CRN_OK);
    ck_assert_ptr_nonnull(strstr(err.msg, "nope"));
    crn_st_free(&f);
}
END_TEST

/* Written by safetensors.numpy.save_file: 0-d F64 and I32, an empty U8,
 * 2-d I64 and U8. */
START_TEST(test_reads_numpy_file)
{
    crn_st_file f;
    crn_error err = {0};
    test_load_fixture("safetensors_numpy.safetensors", &f);
    ck_assert_int_eq(f.count, 6);
    const crn_st_tensor *t = want_tensor(&f, "a.f32", CRN_ST_F32, 1, SHAPE(7));
    for (int i = 0; i < 7; i++) ck_assert(f32_at(t, i) == -0.5f * i);
    t = want_tensor(&f, "s.f64", CRN_ST_F64, 0, NULL);
    ck_assert(f64_at(t, 0) == ldexp(1.0, -30));
    t = want_tensor(&f, "s.i32", CRN_ST_I32, 0, NULL);
    ck_assert(i32_at(t, 0) == -123456);
    float v[12];
    CK_OK(crn_st_get_f32(&f, "s.i32", v, 1, &err));
    ck_assert(v[0] == -123456.0f);
    want_tensor(&f, "z.u8", CRN_ST_U8, 1, SHAPE(0));
    t = want_tensor(&f, "m.i64", CRN_ST_I64, 2, SHAPE(3, 4));
    for (int i = 0; i < 12; i++) ck_assert(i64_at(t, i) == i - 6);
    CK_OK(crn_st_get_f32(&f, "m.i64", v, 12, &err));
    ck_assert(v[0] == -6.0f && v[11] == 5.0f);
    t = want_tensor(&f, "m.u8", CRN_ST_U8, 2, SHAPE(2, 3));
    for (int i = 0; i < 6; i++) ck_assert(t->data[i] == 51 * i);
    ck_assert_str_eq(crn_st_meta(&f, "writer"), "safetensors.numpy.save_file");
    crn_st_free(&f);
}
END_TEST

/* A dtype the engine does not read (float16, as a half-precision checkpoint
 * would hold) is refused, naming the dtype and the tensor. */
START_TEST(test_refuses_f16_file)
{
    crn_st_file f;
    crn_error err = {0};
    ck_assert_int_eq(crn_st_read(test_fixture_path("safetensors_f16.safetensors"), &f, &err), CRN_EFORMAT);
    ck_assert_msg(strstr(err.msg, "F16") && strstr(err.msg, "'half'"), "%s", err.msg);
}
END_TEST

START_TEST(test_round_trip)
{
    crn_error err = {0};
    crn_st_writer w;
    crn_st_writer_init(&w);
    float a[6] = {1, 2, 3, 4, 5, -6.5f};
    long long n = 123456789012LL;
    CK_OK(crn_st_writer_add(&w, "a", CRN_ST_F32, 2, (size_t[]){2, 3}, a, &err));
    CK_OK(crn_st_writer_add(&w, "n", CRN_ST_I64, 0, NULL, &n, &err));
    CK_OK(crn_st_writer_meta(&w, "model", "resnet50", &err));
    char path[] = "/tmp/clresnet-st-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    CK_OK(crn_st_writer_save(&w, path, &err));
    crn_st_writer_free(&w);
    crn_st_file f;
    CK_OK(crn_st_read(path, &f, &err));
    float b[6];
    CK_OK(crn_st_get_f32(&f, "a", b, 6, &err));
    ck_assert_mem_eq(a, b, sizeof a);
    ck_assert_int_eq(crn_st_find(&f, "n")->ndim, 0);
    ck_assert_mem_eq(crn_st_find(&f, "n")->data, &n, 8);
    ck_assert_str_eq(crn_st_meta(&f, "model"), "resnet50");
    crn_st_free(&f);
    unlink(path);
}
END_TEST

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq((int)fwrite(data, 1, n, f), (int)n);
    fclose(f);
}

START_TEST(test_damaged_files)
{
    crn_error err = {0};
    crn_st_file f;
    ck_assert_int_eq(crn_st_read("/nonexistent/x.safetensors", &f, &err), CRN_EIO);
    ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent/x.safetensors"));
    char path[] = "/tmp/clresnet-st-bad-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    /* too short */
    write_bytes(path, "abc", 3);
    ck_assert_int_eq(crn_st_read(path, &f, &err), CRN_EFORMAT);
    /* header length beyond the file */
    write_bytes(path, "\xff\x00\x00\x00\x00\x00\x00\x00{}", 10);
    ck_assert_int_eq(crn_st_read(path, &f, &err), CRN_EFORMAT);
    /* not JSON */
    write_bytes(path, "\x02\x00\x00\x00\x00\x00\x00\x00{x", 10);
    ck_assert_int_eq(crn_st_read(path, &f, &err), CRN_EFORMAT);
    /* data offsets past the end (a truncated file) */
    const char *h = "{\"t\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}";
    unsigned char buf[256] = {0};
    size_t hl = strlen(h);
    buf[0] = (unsigned char)hl;
    memcpy(buf + 8, h, hl);
    write_bytes(path, buf, 8 + hl + 8);
    ck_assert_int_eq(crn_st_read(path, &f, &err), CRN_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "'t'"));
    /* shape disagrees with byte count */
    h = "{\"t\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,16]}}";
    hl = strlen(h);
    buf[0] = (unsigned char)hl;
    memcpy(buf + 8, h, hl);
    write_bytes(path, buf, 8 + hl + 16);
    ck_assert_int_eq(crn_st_read(path, &f, &err), CRN_EFORMAT);
    /* unknown dtype */
    h = "{\"t\":{\"dtype\":\"Q7\",\"shape\":[4],\"data_offsets\":[0,16]}}";
    hl = strlen(h);
    buf[0] = (unsigned char)hl;
    memcpy(buf + 8, h, hl);
    write_bytes(path, buf, 8 + hl + 16);
    ck_assert_int_eq(crn_st_read(path, &f, &err), CRN_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "Q7"));
    unlink(path);
}
END_TEST

START_TEST(test_save_to_bad_folder_keeps_nothing)
{
    crn_error err = {0};
    crn_st_writer w;
    crn_st_writer_init(&w);
    float a = 1;
    CK_OK(crn_st_writer_add(&w, "a", CRN_ST_F32, 1, (size_t[]){1}, &a, &err));
    ck_assert_int_eq(crn_st_writer_save(&w, "/nonexistent-dir/x.safetensors", &err), CRN_EIO);
    ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent-dir/x.safetensors"));
    crn_st_writer_free(&w);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("safetensors");
    TCase *tc = tcase_create("safetensors");
    tcase_add_test(tc, test_reads_torch_file);
    tcase_add_test(tc, test_reads_numpy_file);
    tcase_add_test(tc, test_refuses_f16_file);
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_damaged_files);
    tcase_add_test(tc, test_save_to_bad_folder_keeps_nothing);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
