/* The prefetching loader on the committed sample (data/): identical bytes
 * with 1 and 3 workers, every sample once per epoch, the last partial batch,
 * shuffling by (seed, epoch), abandoning an epoch midway, and bad files
 * (an error naming the file, or skipped and counted with skip_bad). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clresnet/data/dataset.h"
#include "clresnet/data/loader.h"
#include "test_support.h"

static crn_dataset ds;

static void setup(void)
{
    crn_error err = {0};
    char root[4096];
    /* the repository's data/, whatever the caller's $CLRESNET_DATA */
    snprintf(root, sizeof root, "%s/../../data", test_fixture_path(""));
    CK_OK(crn_dataset_open(&ds, root, NULL, &err));
}

static void teardown(void)
{
    crn_dataset_free(&ds);
}

/* Runs one epoch and returns all images, labels and indices concatenated. */
static size_t run_epoch(crn_loader *l, uint64_t epoch, int S, float **img, int32_t **lab, size_t **idx, int *nbatches)
{
    crn_error err = {0};
    CK_OK(crn_loader_start_epoch(l, epoch, &err));
    size_t per = (size_t)3 * S * S, total = 0, cap = 64;
    *img = malloc(cap * per * sizeof(float));
    *lab = malloc(cap * sizeof(int32_t));
    *idx = malloc(cap * sizeof(size_t));
    const crn_batch *b;
    int rc;
    *nbatches = 0;
    while ((rc = crn_loader_next(l, &b, &err)) == 1) {
        ck_assert_uint_eq(b->batch_index, (size_t)*nbatches);
        (*nbatches)++;
        if (total + (size_t)b->n > cap) {
            while (total + (size_t)b->n > cap)
                cap *= 2;
            *img = realloc(*img, cap * per * sizeof(float));
            *lab = realloc(*lab, cap * sizeof(int32_t));
            *idx = realloc(*idx, cap * sizeof(size_t));
        }
        memcpy(*img + total * per, b->images, (size_t)b->n * per * sizeof(float));
        memcpy(*lab + total, b->labels, (size_t)b->n * sizeof(int32_t));
        memcpy(*idx + total, b->indices, (size_t)b->n * sizeof(size_t));
        total += (size_t)b->n;
    }
    ck_assert_msg(rc == 0, "loader: %s", err.msg);
    return total;
}

START_TEST(test_workers_identical)
{
    crn_error err = {0};
    const crn_sample *smp = ds.samples[CRN_SPLIT_TRAIN];
    size_t n = 45; /* 45 = 4 batches of 12 minus 3: a partial last batch */
    ck_assert_uint_ge(ds.count[CRN_SPLIT_TRAIN], n);
    crn_loader_config c;
    crn_loader_config_default(&c);
    c.batch_size = 12;
    c.transform.image_size = 32;
    c.transform.resize = 37;
    c.seed = 5;
    float *img[2];
    int32_t *lab[2];
    size_t *idx[2];
    int workers[2] = {1, 3};
    for (int k = 0; k < 2; k++) {
        c.workers = workers[k];
        c.queue_depth = k ? 2 : 3;
        crn_loader *l;
        CK_OK(crn_loader_create(&l, smp, n, &c, &err));
        ck_assert_uint_eq(crn_loader_batches_per_epoch(l), 4);
        int nb;
        size_t got = run_epoch(l, 2, 32, &img[k], &lab[k], &idx[k], &nb);
        ck_assert_uint_eq(got, n);
        ck_assert_int_eq(nb, 4);
        crn_loader_destroy(l);
    }
    size_t per = 3 * 32 * 32;
    ck_assert_int_eq(memcmp(idx[0], idx[1], n * sizeof(size_t)), 0);
    ck_assert_int_eq(memcmp(lab[0], lab[1], n * sizeof(int32_t)), 0);
    ck_assert_int_eq(memcmp(img[0], img[1], n * per * sizeof(float)), 0);
    /* every sample exactly once, labels as in the dataset, shuffled */
    int *seen = calloc(n, sizeof(int));
    size_t in_order = 0;
    for (size_t i = 0; i < n; i++) {
        seen[idx[0][i]]++;
        ck_assert_int_eq(lab[0][i], smp[idx[0][i]].label);
        in_order += idx[0][i] == i;
    }
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(seen[i], 1);
    ck_assert_uint_lt(in_order, n / 2);
    free(seen);
    for (int k = 0; k < 2; k++) {
        free(img[k]);
        free(lab[k]);
        free(idx[k]);
    }
}
END_TEST

START_TEST(test_epochs_and_restart)
{
    crn_error err = {0};
    const crn_sample *smp = ds.samples[CRN_SPLIT_VAL];
    size_t n = 20;
    crn_loader_config c;
    crn_loader_config_default(&c);
    c.batch_size = 8;
    c.workers = 2;
    c.transform.image_size = 24;
    c.transform.resize = 28;
    crn_loader *l;
    CK_OK(crn_loader_create(&l, smp, n, &c, &err));
    float *img0, *img1, *imgr;
    int32_t *lab0, *lab1, *labr;
    size_t *idx0, *idx1, *idxr;
    int nb;
    ck_assert_uint_eq(run_epoch(l, 0, 24, &img0, &lab0, &idx0, &nb), n);
    ck_assert_uint_eq(run_epoch(l, 1, 24, &img1, &lab1, &idx1, &nb), n);
    ck_assert_int_ne(memcmp(idx0, idx1, n * sizeof(size_t)), 0);
    /* abandon epoch 5 after one batch, then run epoch 0 again: identical */
    const crn_batch *b;
    CK_OK(crn_loader_start_epoch(l, 5, &err));
    ck_assert_int_eq(crn_loader_next(l, &b, &err), 1);
    ck_assert_uint_eq(run_epoch(l, 0, 24, &imgr, &labr, &idxr, &nb), n);
    ck_assert_int_eq(memcmp(idx0, idxr, n * sizeof(size_t)), 0);
    ck_assert_int_eq(memcmp(img0, imgr, n * 3 * 24 * 24 * sizeof(float)), 0);
    crn_loader_destroy(l);
    /* no shuffle, no augmentation: in order, and a fresh loader agrees */
    c.shuffle = 0;
    c.transform.augment = 0;
    CK_OK(crn_loader_create(&l, smp, n, &c, &err));
    float *imga;
    int32_t *laba;
    size_t *idxa;
    ck_assert_uint_eq(run_epoch(l, 3, 24, &imga, &laba, &idxa, &nb), n);
    for (size_t i = 0; i < n; i++)
        ck_assert_uint_eq(idxa[i], i);
    crn_loader_destroy(l);
    free(img0); free(lab0); free(idx0);
    free(img1); free(lab1); free(idx1);
    free(imgr); free(labr); free(idxr);
    free(imga); free(laba); free(idxa);
}
END_TEST

/* Data-parallel shards: per step, the parts of ranks 0..K-1 laid end to end
 * are the global batch of one loader with batch K*B (same order, same
 * bytes); every rank takes the same number of steps, the last parts even
 * and possibly empty; and an epoch started at a position yields the rest. */
START_TEST(test_shards)
{
    crn_error err = {0};
    const crn_sample *smp = ds.samples[CRN_SPLIT_TRAIN];
    const size_t n = 23;
    const int K = 3, B = 3, S = 16;
    crn_loader_config c;
    crn_loader_config_default(&c);
    c.batch_size = K * B;
    c.workers = 2;
    c.seed = 9;
    c.transform.image_size = S;
    c.transform.resize = 19;
    crn_loader *whole;
    CK_OK(crn_loader_create(&whole, smp, n, &c, &err));
    float *img;
    int32_t *lab;
    size_t *idx;
    int nb;
    ck_assert_uint_eq(run_epoch(whole, 4, S, &img, &lab, &idx, &nb), n);
    ck_assert_int_eq(nb, 3); /* 9 + 9 + 5 */
    crn_loader_destroy(whole);
    size_t per = (size_t)3 * S * S;
    static const size_t firsts[3] = {0, 11, 21}, want_steps[3] = {3, 2, 1}; /* 21: parts 0, 1, 1 */
    for (int f = 0; f < 3; f++) {
        size_t first = firsts[f];
        crn_loader *l[3];
        c.batch_size = B;
        c.shard_count = K;
        for (int r = 0; r < K; r++) {
            c.shard_rank = r;
            CK_OK(crn_loader_create(&l[r], smp, n, &c, &err));
            ck_assert_uint_eq(crn_loader_batches_per_epoch(l[r]), 3);
            CK_OK(crn_loader_start_epoch_at(l[r], 4, first, &err));
        }
        size_t pos = first;
        int steps = 0;
        for (;;) {
            const crn_batch *b[3];
            int got[3];
            for (int r = 0; r < K; r++) got[r] = crn_loader_next(l[r], &b[r], &err);
            ck_assert_msg(got[0] >= 0, "%s", err.msg);
            ck_assert_int_eq(got[0], got[1]);
            ck_assert_int_eq(got[0], got[2]);
            if (!got[0]) break;
            size_t M = b[0]->global_n;
            ck_assert_uint_eq(M, n - pos < (size_t)(K * B) ? n - pos : (size_t)(K * B));
            for (int r = 0; r < K; r++) {
                ck_assert_uint_eq(b[r]->global_n, M);
                ck_assert_int_eq(b[r]->n, (int)(M * (r + 1) / K - M * r / K));
                ck_assert_uint_eq(b[r]->batch_index, b[0]->batch_index);
                for (int i = 0; i < b[r]->n; i++, pos++) {
                    ck_assert_uint_eq(b[r]->indices[i], idx[pos]);
                    ck_assert_int_eq(b[r]->labels[i], lab[pos]);
                    ck_assert_int_eq(memcmp(b[r]->images + i * per, img + pos * per, per * sizeof(float)), 0);
                }
            }
            steps++;
        }
        ck_assert_uint_eq(pos, n);
        ck_assert_int_eq(steps, (int)want_steps[f]);
        for (int r = 0; r < K; r++) crn_loader_destroy(l[r]);
    }
    c.shard_rank = K;
    crn_loader *bad = NULL;
    ck_assert_int_ne(crn_loader_create(&bad, smp, n, &c, &err), CRN_OK);
    ck_assert_ptr_null(bad);
    free(img);
    free(lab);
    free(idx);
}
END_TEST

START_TEST(test_bad_samples)
{
    crn_error err = {0};
    crn_sample smp[6];
    char paths[6][4096];
    const char *files[6] = {"color", "truncated", "gray", "missing", "cmyk", "empty"};
    for (int i = 0; i < 6; i++) {
        snprintf(paths[i], sizeof paths[i], "%s/data/jpeg/%s.jpg", test_fixture_path(""), files[i]);
        smp[i].path = paths[i];
        smp[i].label = i;
        smp[i].id = i;
    }
    crn_loader_config c;
    crn_loader_config_default(&c);
    c.batch_size = 4;
    c.workers = 2;
    c.shuffle = 0;
    c.transform.image_size = 16;
    c.transform.resize = 18;
    crn_loader *l;
    CK_OK(crn_loader_create(&l, smp, 6, &c, &err));
    CK_OK(crn_loader_start_epoch(l, 0, &err));
    const crn_batch *b;
    ck_assert_int_lt(crn_loader_next(l, &b, &err), 0);
    ck_assert_msg(strstr(err.msg, "truncated.jpg") != NULL, "%s", err.msg);
    crn_loader_destroy(l);
    c.skip_bad = 1;
    CK_OK(crn_loader_create(&l, smp, 6, &c, &err));
    CK_OK(crn_loader_start_epoch(l, 0, &err));
    ck_assert_int_eq(crn_loader_next(l, &b, &err), 1);
    ck_assert_int_eq(b->n, 2);
    ck_assert_int_eq(b->skipped, 2);
    ck_assert_int_eq(b->labels[0], 0);
    ck_assert_int_eq(b->labels[1], 2);
    ck_assert_int_eq(crn_loader_next(l, &b, &err), 1);
    ck_assert_int_eq(b->n, 1);
    ck_assert_int_eq(b->labels[0], 4);
    ck_assert_int_eq(crn_loader_next(l, &b, &err), 0);
    char msg[2048];
    ck_assert_uint_eq(crn_loader_skipped(l, msg, sizeof msg), 3);
    ck_assert_ptr_nonnull(strstr(msg, "truncated.jpg"));
    crn_loader_destroy(l);
    /* bad settings */
    c.batch_size = 0;
    ck_assert_int_ne(crn_loader_create(&l, smp, 6, &c, &err), CRN_OK);
    ck_assert_ptr_nonnull(strstr(err.msg, "batch size"));
}
END_TEST

START_TEST(test_bench_and_dir)
{
    crn_error err = {0};
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/data/jpeg", test_fixture_path(""));
    crn_sample *smp;
    size_t n;
    CK_OK(crn_samples_from_dir(dir, &smp, &n, &err));
    ck_assert_uint_eq(n, 9); /* every .jpg of the fixture folder, bad ones included */
    ck_assert_ptr_nonnull(strstr(smp[0].path, "/big.jpg"));
    crn_loader_config c;
    crn_loader_config_default(&c);
    c.workers = 2;
    c.batch_size = 4;
    c.skip_bad = 1;
    c.transform.image_size = 32;
    crn_loader_bench_result r;
    CK_OK(crn_loader_bench(smp, n, &c, 2, &r, &err));
    /* notjpeg.jpg is a PNG: it decodes by its first bytes; truncated and empty are skipped */
    ck_assert_uint_eq(r.images, 2 * 7);
    ck_assert_uint_eq(r.skipped, 2 * 2);
    ck_assert(r.images_per_s > 0);
    crn_samples_free(smp, n);
    ck_assert_int_ne(crn_samples_from_dir("/nonexistent-dir", &smp, &n, &err), CRN_OK);
    ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent-dir"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("data_loader");
    TCase *tc = tcase_create("loader");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_workers_identical);
    tcase_add_test(tc, test_epochs_and_restart);
    tcase_add_test(tc, test_bad_samples);
    tcase_add_test(tc, test_shards);
    tcase_add_test(tc, test_bench_and_dir);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
