/* Datasets: the Flowers-102 .mat reader on the official files (and a v7.3
 * copy written with matio), malformed .mat files refused with messages that
 * name file and value, the level-5 structure check on hand-made files,
 * split modes, class names, the image-folder kind, and the committed sample
 * in data/. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <matio.h>
#include <zlib.h>

#include "clresnet/data/dataset.h"
#include "clresnet/data/flowers102.h"
#include "clresnet/data/imagefolder.h"
#include "test_support.h"

static char *fx(const char *name)
{
    return strdup(test_fixture_path(name));
}

START_TEST(test_official_mat)
{
    crn_error err = {0};
    char *lp = fx("data/mat/imagelabels.mat"), *sp = fx("data/mat/setid.mat");
    int *labels;
    size_t n;
    CK_OK(crn_flowers102_read_labels(lp, 102, &labels, &n, &err));
    ck_assert_uint_eq(n, 8189);
    ck_assert_int_eq(labels[0], 77);
    size_t per[103] = {0};
    for (size_t i = 0; i < n; i++)
        per[labels[i]]++;
    for (int c = 1; c <= 102; c++)
        ck_assert_uint_ge(per[c], 40);
    crn_flowers102_setid s;
    CK_OK(crn_flowers102_read_setid(sp, n, &s, &err));
    ck_assert_uint_eq(s.n_trn, 1020);
    ck_assert_uint_eq(s.n_val, 1020);
    ck_assert_uint_eq(s.n_tst, 6149);
    /* every id exactly once over the three splits */
    unsigned char *seen = calloc(n + 1, 1);
    int *arr[3] = {s.trnid, s.valid, s.tstid};
    size_t cnt[3] = {s.n_trn, s.n_val, s.n_tst};
    for (int k = 0; k < 3; k++)
        for (size_t i = 0; i < cnt[k]; i++)
            seen[arr[k][i]]++;
    for (size_t id = 1; id <= n; id++)
        ck_assert_msg(seen[id] == 1, "id %zu seen %d times", id, seen[id]);
    /* trnid and valid: exactly 10 per class */
    size_t pc[103] = {0};
    for (size_t i = 0; i < s.n_trn; i++)
        pc[labels[s.trnid[i] - 1]]++;
    for (int c = 1; c <= 102; c++)
        ck_assert_uint_eq(pc[c], 10);
    free(seen);
    free(labels);
    crn_flowers102_setid_free(&s);
    free(lp);
    free(sp);
}
END_TEST

/* Writes a double row vector as a variable of an open matio file. */
static void put_vec(mat_t *m, const char *name, const int *v, size_t n)
{
    double *d = malloc((n ? n : 1) * sizeof(double));
    for (size_t i = 0; i < n; i++)
        d[i] = v[i];
    size_t dims[2] = {1, n};
    matvar_t *var = Mat_VarCreate(name, MAT_C_DOUBLE, MAT_T_DOUBLE, 2, dims, d, 0);
    ck_assert_ptr_nonnull(var);
    ck_assert_int_eq(Mat_VarWrite(m, var, MAT_COMPRESSION_NONE), 0);
    Mat_VarFree(var);
    free(d);
}

START_TEST(test_v73_copy)
{
    crn_error err = {0};
    char *lp = fx("data/mat/imagelabels.mat"), *sp = fx("data/mat/setid.mat");
    int *labels;
    size_t n;
    CK_OK(crn_flowers102_read_labels(lp, 102, &labels, &n, &err));
    crn_flowers102_setid s;
    CK_OK(crn_flowers102_read_setid(sp, n, &s, &err));
    char dir[] = "/tmp/clresnet-v73-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char p1[256], p2[256];
    snprintf(p1, sizeof p1, "%s/imagelabels.mat", dir);
    snprintf(p2, sizeof p2, "%s/setid.mat", dir);
    mat_t *m = Mat_CreateVer(p1, NULL, MAT_FT_MAT73);
    ck_assert_msg(m != NULL, "matio cannot write v7.3 (built without HDF5?)");
    put_vec(m, "labels", labels, n);
    Mat_Close(m);
    m = Mat_CreateVer(p2, NULL, MAT_FT_MAT73);
    ck_assert_ptr_nonnull(m);
    put_vec(m, "trnid", s.trnid, s.n_trn);
    put_vec(m, "valid", s.valid, s.n_val);
    put_vec(m, "tstid", s.tstid, s.n_tst);
    Mat_Close(m);
    /* the file really is HDF5 */
    FILE *f = fopen(p1, "rb");
    unsigned char hdr[520];
    ck_assert_uint_eq(fread(hdr, 1, sizeof hdr, f), sizeof hdr);
    fclose(f);
    ck_assert_int_eq(memcmp(hdr + 512, "\x89HDF", 4), 0);
    int *l2;
    size_t n2;
    CK_OK(crn_flowers102_read_labels(p1, 102, &l2, &n2, &err));
    ck_assert_uint_eq(n2, n);
    ck_assert_int_eq(memcmp(l2, labels, n * sizeof(int)), 0);
    crn_flowers102_setid s2;
    CK_OK(crn_flowers102_read_setid(p2, n, &s2, &err));
    ck_assert_uint_eq(s2.n_tst, 6149);
    ck_assert_int_eq(memcmp(s2.tstid, s.tstid, s.n_tst * sizeof(int)), 0);
    /* a whole dataset from the v7.3 copies */
    crn_dataset ds;
    CK_OK(crn_flowers102_open(&ds, dir, NULL, &err));
    ck_assert_uint_eq(ds.count[CRN_SPLIT_TRAIN], 6149);
    crn_dataset_free(&ds);
    unlink(p1);
    unlink(p2);
    rmdir(dir);
    free(l2);
    free(labels);
    crn_flowers102_setid_free(&s);
    crn_flowers102_setid_free(&s2);
    free(lp);
    free(sp);
}
END_TEST

/* Expects a failure whose message holds every one of the given strings. */
static void expect_labels_error(const char *name, const char *w1, const char *w2)
{
    crn_error err = {0};
    char *p = fx(name);
    int *labels = NULL;
    size_t n = 0;
    int rc = crn_flowers102_read_labels(p, 102, &labels, &n, &err);
    ck_assert_msg(rc != CRN_OK, "%s accepted", name);
    ck_assert_ptr_null(labels);
    ck_assert_msg(strstr(err.msg, p) != NULL, "message does not name the file: %s", err.msg);
    ck_assert_msg(!w1 || strstr(err.msg, w1), "message lacks '%s': %s", w1, err.msg);
    ck_assert_msg(!w2 || strstr(err.msg, w2), "message lacks '%s': %s", w2, err.msg);
    free(p);
}

static void expect_setid_error(const char *name, const char *w1, const char *w2)
{
    crn_error err = {0};
    char *p = fx(name);
    crn_flowers102_setid s;
    int rc = crn_flowers102_read_setid(p, 20, &s, &err);
    ck_assert_msg(rc != CRN_OK, "%s accepted", name);
    ck_assert_ptr_null(s.trnid);
    ck_assert_msg(strstr(err.msg, p) != NULL, "message does not name the file: %s", err.msg);
    ck_assert_msg(!w1 || strstr(err.msg, w1), "message lacks '%s': %s", w1, err.msg);
    ck_assert_msg(!w2 || strstr(err.msg, w2), "message lacks '%s': %s", w2, err.msg);
    free(p);
}

START_TEST(test_malformed_mat)
{
    crn_error err = {0};
    /* the valid small files load; uint8 storage too */
    char *p = fx("data/mat/labels_uint8.mat");
    int *labels;
    size_t n;
    CK_OK(crn_flowers102_read_labels(p, 102, &labels, &n, &err));
    ck_assert_uint_eq(n, 20);
    ck_assert_int_eq(labels[7], 3);
    free(labels);
    free(p);
    p = fx("data/mat/setid_small.mat");
    crn_flowers102_setid s;
    CK_OK(crn_flowers102_read_setid(p, 20, &s, &err));
    ck_assert_uint_eq(s.n_tst, 10);
    crn_flowers102_setid_free(&s);
    /* and then only 19 labels: id 20 is out of range */
    ck_assert_int_ne(crn_flowers102_read_setid(p, 19, &s, &err), CRN_OK);
    ck_assert_ptr_nonnull(strstr(err.msg, "tstid(10) = 20"));
    free(p);

    expect_labels_error("data/mat/labels_range.mat", "labels(5) = 103", "1..102");
    expect_labels_error("data/mat/labels_frac.mat", "labels(7) = 2.5", "not an integer");
    expect_labels_error("data/mat/labels_zero.mat", "labels(4) = 0", "out of range");
    expect_labels_error("data/mat/labels_missing.mat", "no variable 'labels'", NULL);
    expect_labels_error("data/mat/labels_matrix.mat", "4x5", "vector");
    expect_labels_error("data/mat/not_a_mat.mat", "not a MATLAB", NULL);
    expect_labels_error("data/mat/no_such_file.mat", "No such file", NULL);
    expect_setid_error("data/mat/setid_two_splits.mat", "id 7 is in two splits", "tstid(3)");
    expect_setid_error("data/mat/setid_twice.mat", "id 2 appears twice", "trnid(4)");
    expect_setid_error("data/mat/setid_empty.mat", "'valid' is empty", NULL);
    expect_setid_error("data/mat/setid_range.mat", "tstid(3) = 21", "1..20");
    expect_setid_error("data/mat/setid_frac.mat", "valid(2) = 7.5", NULL);
    expect_setid_error("data/mat/setid_missing.mat", "no variable 'tstid'", NULL);
    expect_setid_error("data/mat/not_a_mat.mat", "not a MATLAB", NULL);
}
END_TEST

/* Level-5 files written byte by byte, little- or big-endian. */
typedef struct mbuf {
    unsigned char b[16384];
    size_t n;
    int be;
} mbuf;

static void put_bytes(mbuf *m, const void *p, size_t n)
{
    ck_assert_uint_le(m->n + n, sizeof m->b);
    memcpy(m->b + m->n, p, n);
    m->n += n;
}

static void put32(mbuf *m, uint32_t v)
{
    unsigned char b[4];
    for (int i = 0; i < 4; i++)
        b[m->be ? 3 - i : i] = (unsigned char)(v >> (8 * i));
    put_bytes(m, b, 4);
}

static void pad8(mbuf *m)
{
    while (m->n % 8)
        m->b[m->n++] = 0;
}

static void mat_header(mbuf *m, int be)
{
    memset(m, 0, sizeof *m);
    m->be = be;
    memset(m->b, ' ', 116);
    memcpy(m->b, "MATLAB 5.0 MAT-file, written by test_data_dataset", 50);
    m->b[be ? 124 : 125] = 1; /* version 0x0100 */
    memcpy(m->b + 126, be ? "MI" : "IM", 2);
    m->n = 128;
}

/* The contents of a miMATRIX (no tag): class cls, a 1xn row vector named
 * name whose real part is n values of data type dtype (dsize bytes each). */
static void matrix_body(mbuf *m, uint32_t cls, const char *name, uint32_t dtype, size_t dsize, const void *vals,
                        uint32_t n)
{
    put32(m, 6); put32(m, 8); put32(m, cls); put32(m, 0); /* array flags */
    put32(m, 5); put32(m, 8); put32(m, 1); put32(m, n);   /* dimensions 1xn */
    put32(m, 1); put32(m, (uint32_t)strlen(name));
    put_bytes(m, name, strlen(name));
    pad8(m);
    put32(m, dtype); put32(m, (uint32_t)(n * dsize));
    for (uint32_t i = 0; i < n; i++) { /* each value in the file's byte order */
        unsigned char v[8];
        memcpy(v, (const char *)vals + i * dsize, dsize);
        if (m->be)
            for (size_t a = 0, b = dsize - 1; a < b; a++, b--) {
                unsigned char t = v[a]; v[a] = v[b]; v[b] = t;
            }
        put_bytes(m, v, dsize);
    }
    pad8(m);
}

/* Appends a variable: uncompressed (miMATRIX) or zlib-compressed (miCOMPRESSED). */
static void put_var(mbuf *m, int compressed, uint32_t cls, const char *name, uint32_t dtype, size_t dsize,
                    const void *vals, uint32_t n)
{
    mbuf body = {.be = m->be};
    matrix_body(&body, cls, name, dtype, dsize, vals, n);
    mbuf el = {.be = m->be};
    put32(&el, 14);
    put32(&el, (uint32_t)body.n);
    put_bytes(&el, body.b, body.n);
    if (!compressed) {
        put_bytes(m, el.b, el.n);
        return;
    }
    unsigned char z[sizeof el.b + 64];
    uLongf zn = sizeof z;
    ck_assert_int_eq(compress(z, &zn, el.b, el.n), Z_OK);
    put32(m, 15);
    put32(m, (uint32_t)zn);
    put_bytes(m, z, zn);
}

static const char *write_mbuf(const mbuf *m, const char *name)
{
    static char path[256];
    snprintf(path, sizeof path, "/tmp/clresnet-mat-%d-%s", (int)getpid(), name);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(m->b, 1, m->n, f), m->n);
    fclose(f);
    return path;
}

/* Reads m as imagelabels.mat: 0 and the labels in *n, or the error in err. */
static int read_mbuf(const mbuf *m, const char *name, size_t *n, crn_error *err)
{
    const char *p = write_mbuf(m, name);
    int *labels = NULL;
    *n = 0;
    int rc = crn_flowers102_read_labels(p, 102, &labels, n, err);
    free(labels);
    unlink(p);
    return rc;
}

static void expect_mbuf_error(const mbuf *m, const char *name, const char *w1, const char *w2)
{
    crn_error err = {0};
    size_t n;
    ck_assert_msg(read_mbuf(m, name, &n, &err) == CRN_EFORMAT, "%s accepted", name);
    ck_assert_msg(strstr(err.msg, name) != NULL, "message does not name the file: %s", err.msg);
    ck_assert_msg(!w1 || strstr(err.msg, w1), "%s: message lacks '%s': %s", name, w1, err.msg);
    ck_assert_msg(!w2 || strstr(err.msg, w2), "%s: message lacks '%s': %s", name, w2, err.msg);
}

START_TEST(test_mat_structure)
{
    crn_error err = {0};
    double lab[6] = {1, 2, 3, 102, 5, 6};
    uint8_t lab8[6] = {1, 2, 3, 102, 5, 6};
    mbuf m;
    size_t n;
    /* the hand-made files load: both byte orders, compressed or not, a
     * double stored as uint8 as MATLAB does, a variable skipped before */
    for (int be = 0; be < 2; be++)
        for (int z = 0; z < 2; z++) {
            mat_header(&m, be);
            put_var(&m, z, 6, "other", 9, 8, lab, 2);
            put_var(&m, z, 6, "labels", 2, 1, lab8, 6);
            CK_OK(read_mbuf(&m, "ok.mat", &n, &err));
            ck_assert_uint_eq(n, 6);
        }

    /* libmatio's 6 GiB calloc (kept from the fuzz run): refused at once */
    char *p = fx("../fuzz/regressions/mat/matio-calloc-6GiB");
    int *labels = NULL;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ck_assert_int_eq(crn_flowers102_read_labels(p, 102, &labels, &n, &err), CRN_EFORMAT);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ck_assert_ptr_null(labels);
    ck_assert_msg(strstr(err.msg, p) && strstr(err.msg, "claims 1610612832 bytes") && strstr(err.msg, "64 MiB"),
                  "%s", err.msg);
    ck_assert_double_lt((t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec), 0.5);
    free(p);

    /* a truncated compressed element: the file ends inside it */
    mat_header(&m, 0);
    put_var(&m, 1, 6, "labels", 9, 8, lab, 6);
    m.n -= 10;
    expect_mbuf_error(&m, "cut.mat", "variable at byte 128 claims", "left in the file");
    /* ... or its zlib stream ends early (the element's size agrees) */
    mat_header(&m, 0);
    put_var(&m, 1, 6, "labels", 9, 8, lab, 6);
    uint32_t zn = (uint32_t)(m.n - 136 - 12);
    m.n = 128;
    put32(&m, 15);
    put32(&m, zn);
    m.n += zn;
    expect_mbuf_error(&m, "short.mat", "compressed data is truncated", NULL);
    /* ... or the matrix inside says it is longer than what inflates */
    mat_header(&m, 0);
    put_var(&m, 0, 6, "labels", 9, 8, lab, 6);
    uint32_t claimed = (uint32_t)(m.n - 136 + 8);
    m.b[132] = (unsigned char)claimed; /* the miMATRIX tag's size, then compressed */
    unsigned char zb[1024];
    uLongf zl = sizeof zb;
    ck_assert_int_eq(compress(zb, &zl, m.b + 128, m.n - 128), Z_OK);
    m.n = 128;
    put32(&m, 15);
    put32(&m, (uint32_t)zl);
    put_bytes(&m, zb, zl);
    expect_mbuf_error(&m, "less.mat", "inflates to", "less than its matrix tag claims");

    /* classes other than numeric arrays, named */
    const char txt[6] = "abcdef";
    mat_header(&m, 0);
    put_var(&m, 1, 4, "labels", 16, 1, txt, 6); /* char, miUTF8 */
    expect_mbuf_error(&m, "char.mat", "variable 'labels'", "char array");
    mat_header(&m, 0);
    put_var(&m, 0, 1, "labels", 9, 8, lab, 6); /* cell */
    expect_mbuf_error(&m, "cell.mat", "variable 'labels'", "cell array");
    mat_header(&m, 1);
    put_var(&m, 1, 2, "s", 9, 8, lab, 1); /* struct, before the labels */
    put_var(&m, 1, 6, "labels", 9, 8, lab, 6);
    expect_mbuf_error(&m, "struct.mat", "variable 's'", "struct array");

    /* inconsistent parts */
    mat_header(&m, 0);
    put_var(&m, 0, 6, "labels", 9, 4, lab, 6); /* 24 bytes of doubles for 6 values */
    expect_mbuf_error(&m, "size.mat", "real part holds 24 bytes, expected 48", NULL);
    mat_header(&m, 0);
    put_var(&m, 0, 6, "labels", 18, 1, lab8, 6); /* data type 18 */
    expect_mbuf_error(&m, "type.mat", "not a numeric type", NULL);
    mat_header(&m, 0);
    put_var(&m, 0, 6, "labels", 9, 8, lab, 6);
    m.b[128 + 8 + 16 + 4] = 4; /* dimensions: one value */
    expect_mbuf_error(&m, "rank.mat", "2 to 8 miINT32", NULL);
    mat_header(&m, 0);
    put_var(&m, 0, 6, "labels", 9, 8, lab, 6);
    m.b[128 + 8 + 16 + 8 + 3] = 0x80; /* dimension 1 negative */
    expect_mbuf_error(&m, "neg.mat", "dimension 1 is negative", NULL);
    mat_header(&m, 0);
    put_var(&m, 0, 6, "labels", 9, 8, lab, 6);
    m.b[128 + 8 + 16 + 8 + 4 + 3] = 0x10; /* 1 x 0x10000006 doubles */
    expect_mbuf_error(&m, "huge.mat", "64 MiB", NULL);
    mat_header(&m, 0);
    put_var(&m, 0, 6, "labels", 9, 8, lab, 6);
    m.b[128 + 8 + 32 + 2] = 5; /* the name as a small element of 5 bytes */
    expect_mbuf_error(&m, "small.mat", "more than 4 bytes", NULL);

    /* what surrounds the variables */
    mat_header(&m, 0);
    put_var(&m, 0, 6, "labels", 9, 8, lab, 6);
    put_bytes(&m, "\0\0\0", 3);
    expect_mbuf_error(&m, "stray.mat", "3 stray bytes", NULL);
    mat_header(&m, 0);
    put32(&m, 9);
    put32(&m, 0);
    put_var(&m, 0, 6, "labels", 9, 8, lab, 6);
    expect_mbuf_error(&m, "top.mat", "has type 9", NULL);
}
END_TEST

static const char *sample_root(void)
{
    static char buf[4096];
    /* the repository's data/ (fixtures are in tests/fixtures), whatever the caller's $CLRESNET_DATA */
    snprintf(buf, sizeof buf, "%s/../../data", test_fixture_path(""));
    return buf;
}

START_TEST(test_sample_dataset_and_modes)
{
    crn_error err = {0};
    crn_dataset ds;
    crn_dataset_options opt;
    crn_dataset_options_default(&opt);
    CK_OK(crn_dataset_open(&ds, sample_root(), &opt, &err));
    ck_assert_int_eq(ds.kind, CRN_DATASET_FLOWERS102);
    ck_assert_int_eq(ds.num_classes, 102);
    ck_assert_ptr_nonnull(ds.class_names);
    ck_assert_str_eq(ds.class_names[0], "pink primrose");
    size_t counts[102];
    crn_dataset_class_counts(&ds, CRN_SPLIT_TRAIN, counts);
    for (int c = 0; c < 102; c++)
        ck_assert_uint_ge(counts[c], 1);
    /* every sample's file exists */
    struct stat st;
    for (int sp = 0; sp < CRN_SPLIT_COUNT; sp++) {
        ck_assert_uint_gt(ds.count[sp], 0);
        for (size_t i = 0; i < ds.count[sp]; i++)
            ck_assert_msg(stat(ds.samples[sp][i].path, &st) == 0, "missing %s", ds.samples[sp][i].path);
    }
    CK_OK(crn_dataset_check_files(&ds, &err));
    /* a missing image is named */
    char *keep = ds.samples[CRN_SPLIT_VAL][3].path;
    ds.samples[CRN_SPLIT_VAL][3].path = (char *)"/nonexistent/image_00042.jpg";
    ck_assert_int_ne(crn_dataset_check_files(&ds, &err), CRN_OK);
    ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent/image_00042.jpg"));
    ck_assert_ptr_nonnull(strstr(err.msg, "val"));
    ds.samples[CRN_SPLIT_VAL][3].path = keep;
    size_t seed_train = ds.count[CRN_SPLIT_TRAIN], seed_test = ds.count[CRN_SPLIT_TEST];
    crn_dataset_free(&ds);
    opt.split_mode = CRN_SPLITS_OFFICIAL;
    CK_OK(crn_dataset_open(&ds, sample_root(), &opt, &err));
    /* official swaps train and test relative to the seed mode */
    ck_assert_uint_eq(ds.count[CRN_SPLIT_TRAIN], seed_test);
    ck_assert_uint_eq(ds.count[CRN_SPLIT_TEST], seed_train);
    crn_dataset_free(&ds);
    crn_split_mode m;
    ck_assert_int_eq(crn_split_mode_parse("official", &m), CRN_OK);
    ck_assert_int_eq(m, CRN_SPLITS_OFFICIAL);
    ck_assert_int_ne(crn_split_mode_parse("swap", &m), CRN_OK);
    /* a folder that is neither kind */
    ck_assert_int_ne(crn_dataset_open(&ds, "/tmp", NULL, &err), CRN_OK);
    ck_assert_ptr_nonnull(strstr(err.msg, "/tmp"));
}
END_TEST

static void touch_copy(const char *src, const char *dst)
{
    FILE *a = fopen(src, "rb"), *b = fopen(dst, "wb");
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    char buf[4096];
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, a)) > 0)
        fwrite(buf, 1, k, b);
    fclose(a);
    fclose(b);
}

START_TEST(test_image_folder)
{
    crn_error err = {0};
    char root[] = "/tmp/clresnet-if-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(root));
    char src[4096];
    snprintf(src, sizeof src, "%s", test_fixture_path("data/jpeg/color.jpg"));
    const char *splits[3] = {"train", "val", "test"};
    const char *classes[3] = {"tulip", "daisy", "rose"};
    char p[512];
    for (int s = 0; s < 3; s++) {
        snprintf(p, sizeof p, "%s/%s", root, splits[s]);
        mkdir(p, 0755);
        for (int c = 0; c < 3; c++) {
            if (s == 2 && c == 2)
                continue; /* test lacks 'rose': classes are the union */
            snprintf(p, sizeof p, "%s/%s/%s", root, splits[s], classes[c]);
            mkdir(p, 0755);
            for (int k = 0; k < (s == 0 ? 2 : 1); k++) {
                snprintf(p, sizeof p, "%s/%s/%s/img%d.%s", root, splits[s], classes[c], k, k ? "JPEG" : "jpg");
                touch_copy(src, p);
            }
            snprintf(p, sizeof p, "%s/%s/%s/notes.txt", root, splits[s], classes[c]);
            touch_copy(src, p);
        }
    }
    crn_dataset ds;
    CK_OK(crn_dataset_open(&ds, root, NULL, &err));
    ck_assert_int_eq(ds.kind, CRN_DATASET_IMAGEFOLDER);
    ck_assert_int_eq(ds.num_classes, 3);
    ck_assert_str_eq(ds.class_names[0], "daisy");
    ck_assert_str_eq(ds.class_names[1], "rose");
    ck_assert_str_eq(ds.class_names[2], "tulip");
    ck_assert_uint_eq(ds.count[CRN_SPLIT_TRAIN], 6);
    ck_assert_uint_eq(ds.count[CRN_SPLIT_VAL], 3);
    ck_assert_uint_eq(ds.count[CRN_SPLIT_TEST], 2);
    ck_assert_int_eq(ds.samples[CRN_SPLIT_TRAIN][0].label, 0);
    ck_assert_ptr_nonnull(strstr(ds.samples[CRN_SPLIT_TRAIN][0].path, "/train/daisy/img0.jpg"));
    ck_assert_int_eq(ds.samples[CRN_SPLIT_TEST][1].label, 2);
    crn_dataset_free(&ds);
    /* an empty split is an error naming it */
    snprintf(p, sizeof p, "rm -rf '%s/val'/* && mkdir -p '%s/val/daisy'", root, root);
    ck_assert_int_eq(system(p), 0);
    ck_assert_int_ne(crn_dataset_open(&ds, root, NULL, &err), CRN_OK);
    ck_assert_ptr_nonnull(strstr(err.msg, "'val'"));
    snprintf(p, sizeof p, "rm -rf '%s'", root);
    ck_assert_int_eq(system(p), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("data_dataset");
    TCase *tc = tcase_create("dataset");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_official_mat);
    tcase_add_test(tc, test_v73_copy);
    tcase_add_test(tc, test_malformed_mat);
    tcase_add_test(tc, test_mat_structure);
    tcase_add_test(tc, test_sample_dataset_and_modes);
    tcase_add_test(tc, test_image_folder);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
