/* Metrics against scikit-learn (tests/make_fixtures_metrics.py): per-class
 * precision, recall, F1 and support, macro and weighted averages, accuracy,
 * top-5, the confusion matrix, pass-mark shares; zero-division cases; the
 * files written and read back. Host only: no device needed. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clresnet/core/file_util.h"
#include "clresnet/eval/metrics.h"
#include "test_support.h"

/* Raw F64 / I64 fixture tensors (the f32 reader would round them). */
static double *fx_f64(const crn_st_file *f, const char *name, size_t *numel)
{
    const crn_st_tensor *t = crn_st_find(f, name);
    ck_assert_msg(t && t->dtype == CRN_ST_F64, "fixture %s: no F64 tensor %s", f->path, name);
    double *out = malloc(t->numel * sizeof *out + 1);
    memcpy(out, t->data, t->numel * sizeof *out);
    if (numel) *numel = t->numel;
    return out;
}

static long long *fx_i64(const crn_st_file *f, const char *name, size_t *numel)
{
    const crn_st_tensor *t = crn_st_find(f, name);
    ck_assert_msg(t && t->dtype == CRN_ST_I64, "fixture %s: no I64 tensor %s", f->path, name);
    long long *out = malloc(t->numel * sizeof *out + 1);
    memcpy(out, t->data, t->numel * sizeof *out);
    if (numel) *numel = t->numel;
    return out;
}

static int *fx_labels(const crn_st_file *f, size_t *n)
{
    const crn_st_tensor *t = crn_st_find(f, "labels");
    ck_assert(t && t->dtype == CRN_ST_I32);
    int *out = malloc(t->numel * sizeof *out + 1);
    memcpy(out, t->data, t->numel * sizeof *out);
    *n = t->numel;
    return out;
}

static void close_d(const char *what, int idx, double got, double want)
{
    ck_assert_msg(fabs(got - want) <= 1e-6, "%s[%d]: got %.9f, sklearn %.9f", what, idx, got, want);
}

static void check_fixture(const char *name, int expect_k)
{
    crn_st_file f;
    crn_error err = {0};
    test_load_fixture(name, &f);
    size_t n, ns, kk;
    int *labels = fx_labels(&f, &n);
    float *scores = test_fixture_f32(&f, "scores", &ns);
    double *pr = fx_f64(&f, "precision", &kk);
    int k = (int)kk;
    ck_assert_int_eq(k, expect_k);
    ck_assert_uint_eq(ns, n * kk);
    double *rc = fx_f64(&f, "recall", NULL), *f1 = fx_f64(&f, "f1", NULL);
    double *mac = fx_f64(&f, "macro", NULL), *wt = fx_f64(&f, "weighted", NULL);
    double *acc = fx_f64(&f, "accuracy", NULL), *top5 = fx_f64(&f, "top5", NULL);
    double *share = fx_f64(&f, "pass_share", NULL), *loss = fx_f64(&f, "loss", NULL);
    long long *sup = fx_i64(&f, "support", NULL), *cm = fx_i64(&f, "confusion", NULL);

    crn_metrics m;
    CK_OK(crn_metrics_compute(&m, labels, scores, n, k, 0, &err));
    ck_assert_int_eq(m.num_classes, k);
    ck_assert_int_eq((int)m.n, (int)n);
    close_d("accuracy", 0, m.accuracy, acc[0]);
    close_d("top5", 0, m.top5_accuracy, top5[0]);
    close_d("loss", 0, m.loss, loss[0]);
    int with_support = 0;
    for (int c = 0; c < k; c++) {
        close_d("precision", c, m.precision[c], pr[c]);
        close_d("recall", c, m.recall[c], rc[c]);
        close_d("f1", c, m.f1[c], f1[c]);
        ck_assert_int_eq((int)m.support[c], (int)sup[c]);
        with_support += sup[c] > 0;
    }
    for (int i = 0; i < k * k; i++) ck_assert_msg(m.confusion[i] == cm[i], "confusion[%d][%d]", i / k, i % k);
    for (int j = 0; j < 3; j++) {
        close_d("macro", j, m.macro[j], mac[j]);
        close_d("weighted", j, m.weighted[j], wt[j]);
        close_d("pass_share", j, m.pass_share[j], share[j]);
    }
    /* weighted recall is the accuracy */
    close_d("weighted recall vs accuracy", 0, m.weighted[CRN_METRIC_RECALL], m.accuracy);
    ck_assert_int_eq(m.classes_with_support, with_support);
    /* the classes under the mark are exactly those with support and metric < 0.7 */
    const double *vals[3] = {pr, rc, f1};
    for (int j = 0; j < 3; j++) {
        int cnt = 0;
        for (int c = 0; c < k; c++)
            if (sup[c] > 0 && vals[j][c] < 0.7 - 1e-9) {
                ck_assert_msg(cnt < m.under_count[j] && m.under[j][cnt] == c, "metric %d: class %d not listed", j, c + 1);
                cnt++;
            }
        ck_assert_int_eq(cnt, m.under_count[j]);
    }
    /* the same numbers from the confusion matrix alone */
    crn_metrics m2;
    CK_OK(crn_metrics_from_confusion(&m2, m.confusion, k, 0.7, &err));
    for (int c = 0; c < k; c++) ck_assert(m2.f1[c] == m.f1[c] && m2.precision[c] == m.precision[c]);
    ck_assert(m2.weighted[2] == m.weighted[2] && m2.macro[0] == m.macro[0]);
    crn_metrics_free(&m2);
    crn_metrics_free(&m);
    free(labels), free(scores), free(pr), free(rc), free(f1), free(mac), free(wt), free(acc), free(top5);
    free(share), free(loss), free(sup), free(cm);
    crn_st_free(&f);
}

START_TEST(test_zero_division)
{
    check_fixture("metrics_zero_div.safetensors", 6);
    /* and the cases the fixture was built for */
    crn_st_file f;
    crn_error err = {0};
    test_load_fixture("metrics_zero_div.safetensors", &f);
    size_t n, ns;
    int *labels = fx_labels(&f, &n);
    float *scores = test_fixture_f32(&f, "scores", &ns);
    crn_metrics m;
    CK_OK(crn_metrics_compute(&m, labels, scores, n, 6, 0.7, &err));
    ck_assert_int_eq((int)m.predicted[3], 0);   /* never predicted: precision 0 */
    ck_assert(m.precision[3] == 0 && m.recall[3] == 0 && m.f1[3] == 0);
    ck_assert_int_eq((int)m.support[4], 0);     /* no support: recall 0, left out of the pass shares */
    ck_assert_int_gt((int)m.predicted[4], 0);
    ck_assert(m.precision[4] == 0 && m.recall[4] == 0);
    ck_assert_int_eq(m.classes_with_support, 5);
    crn_metrics_free(&m);
    free(labels);
    free(scores);
    crn_st_free(&f);
}
END_TEST

START_TEST(test_few_classes) { check_fixture("metrics_k3.safetensors", 3); }
END_TEST

START_TEST(test_102_classes) { check_fixture("metrics_102.safetensors", 102); }
END_TEST

START_TEST(test_bad_input)
{
    crn_error err = {0};
    crn_metrics m;
    int labels[2] = {0, 3};
    float scores[6] = {1, 2, 3, 4, 5, 6};
    ck_assert_int_eq(crn_metrics_compute(&m, labels, scores, 2, 3, 0, &err), CRN_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "label 3"));
    crn_metrics_free(&m);
    labels[1] = 1;
    scores[4] = NAN;
    ck_assert_int_eq(crn_metrics_compute(&m, labels, scores, 2, 3, 0, &err), CRN_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "non-finite"));
    crn_metrics_free(&m);
    ck_assert_int_eq(crn_metrics_compute(&m, labels, scores, 0, 3, 0, &err), CRN_EINVAL);
    crn_metrics_free(&m);
}
END_TEST

START_TEST(test_topk_softmax)
{
    float s[7] = {0.5f, 3.0f, -1.0f, 3.0f, 2.0f, 0.0f, 1.0f};
    int cls[5];
    double p[5];
    ck_assert_int_eq(crn_topk_softmax(s, 7, 5, cls, p), 5);
    int want[5] = {1, 3, 4, 6, 0}; /* ties to the lower class */
    double z = 0;
    for (int c = 0; c < 7; c++) z += exp((double)s[c]);
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(cls[i], want[i]);
        ck_assert_double_eq_tol(p[i], exp((double)s[want[i]]) / z, 1e-12);
    }
    ck_assert_int_eq(crn_topk_softmax(s, 3, 5, cls, p), 3);
    ck_assert_int_eq(cls[0], 1);
    ck_assert_double_eq_tol(p[0] + p[1] + p[2], 1.0, 1e-12);
    /* large logits do not overflow */
    float big[3] = {1000.0f, 999.0f, -1000.0f};
    crn_topk_softmax(big, 3, 2, cls, p);
    ck_assert_double_eq_tol(p[0], 1 / (1 + exp(-1.0)), 1e-9);
}
END_TEST

static char *slurp(const char *path)
{
    char *t = NULL;
    size_t n;
    crn_error err = {0};
    ck_assert_msg(crn_read_file(path, &t, &n, &err) == CRN_OK, "%s", err.msg);
    return t;
}

START_TEST(test_files_round_trip)
{
    crn_error err = {0};
    char dir[] = "/tmp/crn_metrics_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    crn_st_file f;
    test_load_fixture("metrics_zero_div.safetensors", &f);
    size_t n, ns;
    int *labels = fx_labels(&f, &n);
    float *scores = test_fixture_f32(&f, "scores", &ns);
    crn_metrics m;
    CK_OK(crn_metrics_compute(&m, labels, scores, n, 6, 0.7, &err));
    crn_class_table t;
    CK_OK(crn_class_table_init(&t, 6, &err));
    const char *nm[6] = {"pink primrose", "a, \"quoted\" name", "x<y & z>", "globe thistle", "no support", "rose"};
    t.names = calloc(6, sizeof *t.names);
    for (int c = 0; c < 6; c++) t.names[c] = strdup(nm[c]);
    for (int s = 0; s < 3; s++) {
        t.counts[s] = calloc(6, sizeof(long long));
        for (int c = 0; c < 6; c++) t.counts[s][c] = 10 * (s + 1) + c;
    }
    snprintf(t.split_mode, sizeof t.split_mode, "seed");
    CK_OK(crn_metrics_write(&m, &t, &(crn_eval_origin){"test", NULL, "best.safetensors", 0}, dir, &err));
    CK_OK(crn_class_table_write(&t, dir, &err));
    const char *files[30];
    char fb[30][32];
    for (size_t i = 0; i < n; i++) {
        snprintf(fb[i], sizeof fb[i], "image_%05zu.jpg", i + 1);
        files[i] = fb[i];
    }
    CK_OK(crn_predictions_write(dir, &t, files, labels, scores, n, 6, &err));

    /* metrics.json read back */
    crn_metrics r;
    char **names = NULL;
    CK_OK(crn_metrics_read(&r, &names, dir, &err));
    ck_assert_int_eq(r.num_classes, 6);
    ck_assert_double_eq_tol(r.top5_accuracy, m.top5_accuracy, 1e-9);
    ck_assert_double_eq_tol(r.loss, m.loss, 1e-8);
    for (int c = 0; c < 6; c++) {
        ck_assert(r.f1[c] == m.f1[c]);
        ck_assert_str_eq(names[c], nm[c]);
    }
    for (int j = 0; j < 3; j++) ck_assert(r.weighted[j] == m.weighted[j] && r.under_count[j] == m.under_count[j]);
    crn_names_free(names, 6);
    crn_metrics_free(&r);

    /* the JSON holds what the report needs */
    char p[512];
    snprintf(p, sizeof p, "%s/metrics.json", dir);
    json_error_t je;
    json_t *o = json_load_file(p, 0, &je);
    ck_assert_msg(o != NULL, "%s: %s", p, je.text);
    ck_assert_double_eq_tol(json_real_value(json_object_get(json_object_get(o, "weighted"), "recall")), m.accuracy, 1e-9);
    json_t *under = json_object_get(json_object_get(json_object_get(o, "pass_mark"), "classes_under"), "precision");
    ck_assert_int_eq((int)json_array_size(under), m.under_count[0]);
    json_t *first = json_array_get(under, 0);
    ck_assert_int_eq((int)json_integer_value(json_object_get(first, "class")), m.under[0][0] + 1);
    ck_assert_str_eq(json_string_value(json_object_get(first, "name")), nm[m.under[0][0]]);
    json_decref(o);

    /* splits.json read back */
    crn_class_table t2;
    CK_OK(crn_class_table_read(&t2, dir, &err));
    ck_assert_int_eq(t2.num_classes, 6);
    ck_assert_str_eq(t2.names[1], nm[1]);
    ck_assert_str_eq(t2.split_mode, "seed");
    for (int s = 0; s < 3; s++) ck_assert_int_eq((int)t2.counts[s][5], 10 * (s + 1) + 5);
    crn_class_table_free(&t2);

    /* CSVs: quoting and row counts */
    snprintf(p, sizeof p, "%s/per_class.csv", dir);
    char *csv = slurp(p);
    ck_assert_ptr_nonnull(strstr(csv, "class,name,precision,recall,f1,support,predicted,train_count\n"));
    ck_assert_ptr_nonnull(strstr(csv, "\n2,\"a, \"\"quoted\"\" name\","));
    ck_assert_ptr_nonnull(strstr(csv, "\n3,x<y & z>,"));
    int lines = 0;
    for (char *q = csv; *q; q++) lines += *q == '\n';
    ck_assert_int_eq(lines, 7);
    free(csv);
    snprintf(p, sizeof p, "%s/confusion.csv", dir);
    csv = slurp(p);
    ck_assert_ptr_nonnull(strstr(csv, "true\\predicted,1,2,3,4,5,6\n"));
    char row[128];
    snprintf(row, sizeof row, "\n1,%lld,%lld,", m.confusion[0], m.confusion[1]);
    ck_assert_ptr_nonnull(strstr(csv, row));
    free(csv);
    snprintf(p, sizeof p, "%s/predictions.csv", dir);
    csv = slurp(p);
    lines = 0;
    for (char *q = csv; *q; q++) lines += *q == '\n';
    ck_assert_int_eq(lines, (int)n + 1);
    ck_assert_ptr_nonnull(strstr(csv, "file,true_class,true_name,predicted_class,predicted_name,correct,top1_class"));
    /* first sample: true class 1 (label 0), predicted perfectly in this fixture */
    ck_assert_ptr_nonnull(strstr(csv, "\nimage_00001.jpg,1,pink primrose,1,pink primrose,1,1,pink primrose,"));
    free(csv);

    crn_class_table_free(&t);
    crn_metrics_free(&m);
    free(labels);
    free(scores);
    crn_st_free(&f);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("metrics");
    tcase_add_test(tc, test_zero_division);
    tcase_add_test(tc, test_few_classes);
    tcase_add_test(tc, test_102_classes);
    tcase_add_test(tc, test_bad_input);
    tcase_add_test(tc, test_topk_softmax);
    tcase_add_test(tc, test_files_round_trip);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
