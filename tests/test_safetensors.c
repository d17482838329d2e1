/* safetensors: a PyTorch-written file, the writer/reader round trip, and
 * damaged files refused with a message naming the problem. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clresnet/io/safetensors.h"
#include "test_support.h"

START_TEST(test_reads_torch_file)
{
    crn_st_file f;
    crn_error err = {0};
    test_load_fixture("safetensors_torch.safetensors", &f);
    ck_assert_int_eq(f.count, 4);
    const crn_st_tensor *t = crn_st_find(&f, "w.f32");
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(t->ndim, 3);
    ck_assert_int_eq((int)t->shape[2], 4);
    float v[24];
    CK_OK(crn_st_get_f32(&f, "w.f32", v, 24, &err));
    /* torch.manual_seed(0); torch.randn(2, 3, 4)[0, 0, :2] */
    ck_assert_float_eq_tol(v[0], -1.1258f, 1e-4f);
    ck_assert_float_eq_tol(v[1], -1.1524f, 1e-4f);
    float d[5];
    CK_OK(crn_st_get_f32(&f, "w.f64", d, 5, &err));
    ck_assert_float_eq(d[3], 0.75f);
    float nb;
    CK_OK(crn_st_get_f32(&f, "bn.num_batches_tracked", &nb, 1, &err));
    ck_assert_float_eq(nb, 7.0f);
    ck_assert_int_eq((int)crn_st_find(&f, "empty")->numel, 0);
    ck_assert_str_eq(crn_st_meta(&f, "made_by"), "tests/make_fixtures_safetensors.py");
    /* wrong element count and missing tensor are errors that name the tensor */
    ck_assert_int_ne(crn_st_get_f32(&f, "w.f32", v, 23, &err), CRN_OK);
    ck_assert_ptr_nonnull(strstr(err.msg, "w.f32"));
    ck_assert_int_ne(crn_st_get_f32(&f, "nope", v, 1, &err), CRN_OK);
    ck_assert_ptr_nonnull(strstr(err.msg, "nope"));
    crn_st_free(&f);
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
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_damaged_files);
    tcase_add_test(tc, test_save_to_bad_folder_keeps_nothing);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
