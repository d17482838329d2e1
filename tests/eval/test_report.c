/* The report and the run comparison on synthetic run folders made here
 * (config.json, log.jsonl written by the test; 102 classes, the seed split's
 * training counts 20..238): every file is written, the JSON parses, every
 * SVG and HTML parses as XML (xmllint, when installed), the report is
 * rebuilt from the folder alone, compare names the runs. Host only.
 *
 * With CLRESNET_REPORT_DIR set, the showcase run folder is written there and
 * kept (tests/check_report_render.sh renders its report.html). */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clresnet/eval/compare.h"
#include "clresnet/core/file_util.h"
#include "clresnet/eval/metrics.h"
#include "clresnet/eval/report.h"
#include "test_support.h"

enum { K = 102, PER_CLASS = 10 };

static unsigned lcg(unsigned *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}
static double unif(unsigned *s) { return lcg(s) / 16777216.0; }

static void write_text(const char *dir, const char *name, const char *text)
{
    char p[8192];
    crn_error err = {0};
    snprintf(p, sizeof p, "%s/%s", dir, name);
    CK_OK(crn_write_file_atomic(p, text, strlen(text), &err));
}

/* A run folder: config.json, log.jsonl (epochs), and unless bare the
 * metrics files, predictions and splits.json. skill scales how well the
 * synthetic model separates the classes. */
static void make_run(const char *dir, const char *model, const char *act, int final_act, int epochs, double skill,
                     unsigned seed, int bare)
{
    crn_error err = {0};
    CK_OK(crn_mkdirs(dir, &err));
    char cfg[2048];
    snprintf(cfg, sizeof cfg,
             "{\"data\": \"/data/flowers-102\", \"split_mode\": \"seed\", \"train_images\": 6149, \"val_images\": 1020,"
             " \"test_images\": 1020, \"model\": \"%s\", \"act\": \"%s\", \"final_act\": %s, \"width\": 1.0,"
             " \"classes\": 102, \"image_size\": 64, \"batch_size\": 32, \"epochs\": %d, \"optimizer\": \"nadam\","
             " \"lr\": 0.001, \"betas\": [0.9, 0.999], \"seed\": 0, \"device\": \"pthread-AMD EPYC <PoCL> & co\"}\n",
             model, act, final_act ? "true" : "false", epochs);
    write_text(dir, "config.json", cfg);
    char *log = calloc(1, 200 * (size_t)epochs + 1);
    size_t len = 0;
    double best = 1e9;
    for (int e = 1; e <= epochs; e++) {
        double t = (double)e / epochs;
        double tl = 4.6 * exp(-2.5 * t * skill) + 0.05 * unif(&seed), vl = tl * 1.1 + 0.15 * unif(&seed);
        double ta = 1 - tl / 4.8, va = 1 - vl / 5.2;
        int isbest = vl < best;
        if (isbest) best = vl;
        len += (size_t)snprintf(log + len, 200,
                                "{\"epoch\": %d, \"train_loss\": %.4f, \"train_acc\": %.4f, \"val_loss\": %.4f, "
                                "\"val_acc\": %.4f, \"lr\": 0.001, \"seconds\": 61.5, \"train_images_per_s\": 100.0, "
                                "\"best\": %s}\n",
                                e, tl, ta, vl, va, isbest ? "true" : "false");
    }
    write_text(dir, "log.jsonl", log);
    free(log);
    if (bare) return;

    /* the class table: seed-split-like counts (train 20..238, total 6149) */
    crn_class_table t;
    CK_OK(crn_class_table_init(&t, K, &err));
    snprintf(t.split_mode, sizeof t.split_mode, "seed");
    t.names = calloc(K, sizeof *t.names);
    for (int s = 0; s < 3; s++) t.counts[s] = calloc(K, sizeof(long long));
    long long total = 0;
    for (int c = 0; c < K; c++) {
        char nm[64];
        if (c == 2) snprintf(nm, sizeof nm, "canterbury bells");
        else if (c == 5) snprintf(nm, sizeof nm, "tiger lily & \"friends\" <x>");
        else if (c == 9) snprintf(nm, sizeof nm, "globe, thistle");
        else snprintf(nm, sizeof nm, "flower %d", c + 1);
        t.names[c] = strdup(nm);
        t.counts[0][c] = c == 0 ? 20 : c == 1 ? 238 : 21 + (c * 37) % 81;
        total += t.counts[0][c];
        t.counts[1][c] = t.counts[2][c] = PER_CLASS;
    }
    for (int c = 2; total != 6149; c = c + 1 < K ? c + 1 : 2) { /* to the seed split's total */
        long long d = total < 6149 ? 1 : -1;
        if (t.counts[0][c] + d > 20 && t.counts[0][c] + d < 238) t.counts[0][c] += d, total += d;
    }
    CK_OK(crn_class_table_write(&t, dir, &err));

    int n = K * PER_CLASS;
    int *labels = malloc(sizeof(int) * (size_t)n);
    float *scores = malloc(sizeof(float) * (size_t)n * K);
    const char **files = malloc(sizeof(char *) * (size_t)n);
    char (*fb)[32] = malloc(32 * (size_t)n);
    for (int i = 0; i < n; i++) {
        labels[i] = i / PER_CLASS;
        snprintf(fb[i], 32, "image_%05d.jpg", i + 1);
        files[i] = fb[i];
        double cls_skill = skill * (0.4 + 3.0 * ((labels[i] * 29) % K) / (double)K);
        if (labels[i] == 2) cls_skill = 0.3 * skill; /* class 3 is weak, as in the seed report */
        for (int c = 0; c < K; c++) scores[(size_t)i * K + c] = (float)(unif(&seed) * 2.0);
        scores[(size_t)i * K + labels[i]] += (float)cls_skill;
    }
    crn_metrics m;
    CK_OK(crn_metrics_compute(&m, labels, scores, (size_t)n, K, 0.7, &err));
    CK_OK(crn_metrics_write(&m, &t, &(crn_eval_origin){"test", NULL, "best.safetensors", 0}, dir, &err));
    CK_OK(crn_predictions_write(dir, &t, files, labels, scores, (size_t)n, K, &err));
    crn_metrics_free(&m);
    crn_class_table_free(&t);
    free(labels), free(scores), free(files), free(fb);
}

static int have_xmllint(void) { return system("command -v xmllint >/dev/null 2>&1") == 0; }

static void check_xml(const char *dir, const char *name)
{
    char cmd[2400];
    snprintf(cmd, sizeof cmd, "xmllint --noout '%s/%s'", dir, name);
    ck_assert_msg(system(cmd) == 0, "%s/%s does not parse as XML", dir, name);
}

static void check_exists(const char *dir, const char *name)
{
    char p[2300];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    ck_assert_msg(stat(p, &st) == 0 && st.st_size > 0, "%s is missing or empty", p);
}

__attribute__((noinline)) static char *slurp(const char *dir, const char *name)
{
    char p[2300];
    char *t = NULL;
    size_t n;
    crn_error err = {0};
    snprintf(p, sizeof p, "%s/%s", dir, name);
    CK_OK(crn_read_file(p, &t, &n, &err));
    return t;
}

static void rm_rf(const char *dir)
{
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static const char *svgs[] = {"curves_accuracy.svg", "curves_loss.svg", "per_class_precision.svg",
                             "per_class_recall.svg", "per_class_f1.svg", "train_distribution.svg", "confusion.svg"};

START_TEST(test_report_files)
{
    crn_error err = {0};
    const char *keep = getenv("CLRESNET_REPORT_DIR");
    char tmp[] = "/tmp/crn_report_XXXXXX";
    const char *dir = keep && *keep ? keep : mkdtemp(tmp);
    ck_assert_ptr_nonnull(dir);
    make_run(dir, "resnet50", "silu", 1, 30, 1.0, 11, 0);
    char html[4200];
    CK_OK(crn_report_write(dir, html, sizeof html, &err));
    ck_assert_ptr_nonnull(strstr(html, "report.html"));
    const char *all[] = {"metrics.json", "per_class.csv", "confusion.csv", "predictions.csv", "splits.json",
                         "report.html"};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) check_exists(dir, all[i]);
    for (size_t i = 0; i < sizeof svgs / sizeof svgs[0]; i++) check_exists(dir, svgs[i]);
    const char *jsons[] = {"metrics.json", "splits.json", "config.json"};
    for (int i = 0; i < 3; i++) {
        char p[1024];
        json_error_t je;
        snprintf(p, sizeof p, "%s/%s", dir, jsons[i]);
        json_t *o = json_load_file(p, 0, &je);
        ck_assert_msg(o && json_is_object(o), "%s: %s", p, je.text);
        json_decref(o);
    }
    if (have_xmllint()) {
        check_xml(dir, "report.html");
        for (size_t i = 0; i < sizeof svgs / sizeof svgs[0]; i++) check_xml(dir, svgs[i]);
    } else {
        fprintf(stderr, "test_report: xmllint not installed; XML well-formedness not checked\n");
    }
    char *h = slurp(dir, "report.html");
    /* sections and numbers */
    ck_assert_ptr_nonnull(strstr(h, "resnet50/silu"));
    ck_assert_ptr_nonnull(strstr(h, "pass mark 0.7"));
    ck_assert_ptr_nonnull(strstr(h, "Training split: 6149 images, 20 to 238 per class"));
    ck_assert_ptr_nonnull(strstr(h, "20 images"));
    ck_assert_ptr_nonnull(strstr(h, "Confusion matrix"));
    ck_assert_ptr_nonnull(strstr(h, "pthread-AMD EPYC &lt;PoCL&gt; &amp; co")); /* escaped device name */
    ck_assert_ptr_nonnull(strstr(h, "tiger lily &amp; &quot;friends&quot; &lt;x&gt;"));
    ck_assert_ptr_null(strstr(h, "<script"));
    ck_assert_ptr_null(strstr(h, "http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n<link"));
    /* class 3 (the weakest by construction) is listed under the mark by number and name */
    ck_assert_ptr_nonnull(strstr(h, "3 canterbury bells ("));
    /* no network: the only URLs are XML namespaces */
    for (const char *q = strstr(h, "http"); q; q = strstr(q + 1, "http"))
        ck_assert_msg(!strncmp(q, "http://www.w3.org/", 18), "report.html refers to %.40s", q);
    /* 102 bars per per-class chart, plus the pass-mark line */
    char *svg = slurp(dir, "per_class_f1.svg");
    int bars = 0;
    for (const char *q = strstr(svg, "<rect x="); q; q = strstr(q + 1, "<rect x=")) bars++;
    ck_assert_int_eq(bars, 1 + K); /* background + bars */
    ck_assert_ptr_nonnull(strstr(svg, "stroke-dasharray"));
    free(svg);
    svg = slurp(dir, "curves_accuracy.svg");
    ck_assert_ptr_nonnull(strstr(svg, "validation accuracy"));
    ck_assert_ptr_nonnull(strstr(svg, "<polyline"));
    free(svg);

    /* rebuilt from the folder alone: identical */
    CK_OK(crn_report_write(dir, NULL, 0, &err));
    char *h2 = slurp(dir, "report.html");
    ck_assert_str_eq(h, h2);
    free(h), free(h2);

    /* without metrics.json and splits.json: the curves only, with notes */
    char p[1100];
    snprintf(p, sizeof p, "%s/metrics.json", dir);
    char saved[1100];
    snprintf(saved, sizeof saved, "%s/metrics.json.saved", dir);
    ck_assert_int_eq(rename(p, saved), 0);
    snprintf(p, sizeof p, "%s/splits.json", dir);
    char saved2[1100];
    snprintf(saved2, sizeof saved2, "%s/splits.json.saved", dir);
    ck_assert_int_eq(rename(p, saved2), 0);
    CK_OK(crn_report_write(dir, NULL, 0, &err));
    h = slurp(dir, "report.html");
    ck_assert_ptr_nonnull(strstr(h, "No metrics.json"));
    ck_assert_ptr_nonnull(strstr(h, "No splits.json"));
    if (have_xmllint()) check_xml(dir, "report.html");
    free(h);
    snprintf(p, sizeof p, "%s/metrics.json", dir);
    ck_assert_int_eq(rename(saved, p), 0);
    snprintf(p, sizeof p, "%s/splits.json", dir);
    ck_assert_int_eq(rename(saved2, p), 0);
    CK_OK(crn_report_write(dir, NULL, 0, &err));
    if (!(keep && *keep)) rm_rf(dir);
}
END_TEST

START_TEST(test_report_errors)
{
    crn_error err = {0};
    char tmp[] = "/tmp/crn_report_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(tmp));
    ck_assert_int_ne(crn_report_write(tmp, NULL, 0, &err), CRN_OK);
    ck_assert_ptr_nonnull(strstr(err.msg, "nothing to report"));
    write_text(tmp, "metrics.json", "{\"num_classes\": 3, \"confusion\": [[1,2]]}");
    ck_assert_int_eq(crn_report_write(tmp, NULL, 0, &err), CRN_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "metrics.json"));
    write_text(tmp, "metrics.json", "{\"num_classes\": 3, ");
    ck_assert_int_eq(crn_report_write(tmp, NULL, 0, &err), CRN_EFORMAT);
    rm_rf(tmp);
}
END_TEST

/* A path longer than CRN_PATH_MAX is an error naming its start, never a
 * file written under a cut-short name. */
START_TEST(test_path_overflow)
{
    crn_error err = {0};
    char small[16] = "x", *dir = malloc(CRN_PATH_MAX + 10);
    ck_assert_ptr_nonnull(dir);
    CK_OK(crn_path_fmt(small, sizeof small, &err, "%s/%s", "run", "a.json"));
    ck_assert_str_eq(small, "run/a.json");
    ck_assert_int_eq(crn_path_fmt(small, sizeof small, &err, "%s/%s", "runs/long-name", "metrics.json"), CRN_EINVAL);
    ck_assert_str_eq(small, "");
    ck_assert_ptr_nonnull(strstr(err.msg, "path too long"));
    ck_assert_ptr_nonnull(strstr(err.msg, "runs/long-name"));
    memset(dir, 'd', CRN_PATH_MAX + 9);
    memcpy(dir, "/tmp/", 5);
    dir[CRN_PATH_MAX - 8] = '\0'; /* fits alone, not with /metrics.json */
    crn_metrics m;
    memset(&m, 0, sizeof m);
    ck_assert_int_eq(crn_metrics_read(&m, NULL, dir, &err), CRN_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "path too long"));
    ck_assert_ptr_nonnull(strstr(err.msg, "/tmp/ddd"));
    free(dir);
}
END_TEST

START_TEST(test_compare)
{
    crn_error err = {0};
    char tmp[] = "/tmp/crn_compare_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(tmp));
    char runs[6][1100];
    const char *models[6] = {"resnet50", "resnet50", "resnet50", "resnet50", "plain50", "baseline"};
    const char *acts[6] = {"relu", "leaky", "silu", "relu", "relu", "relu"};
    int fa[6] = {1, 1, 1, 0, 1, 1};
    for (int i = 0; i < 6; i++) {
        snprintf(runs[i], sizeof runs[i], "%s/run%d", tmp, i);
        make_run(runs[i], models[i], acts[i], fa[i], 8 + i, 0.6 + 0.15 * i, 100u + (unsigned)i, i == 4);
    }
    const char *rp[6] = {runs[0], runs[1], runs[2], runs[3], runs[4], runs[5]};
    char mdpath[1100], out[1100];
    snprintf(mdpath, sizeof mdpath, "%s/table.md", tmp);
    snprintf(out, sizeof out, "%s/cmp", tmp);
    FILE *md = fopen(mdpath, "w");
    ck_assert_ptr_nonnull(md);
    CK_OK(crn_compare_write(rp, 6, md, out, &err));
    fclose(md);
    char *t = slurp(tmp, "table.md");
    ck_assert_ptr_nonnull(strstr(t, "| run | test accuracy | precision | recall | F1 | macro F1 |"));
    ck_assert_ptr_nonnull(strstr(t, "| resnet50/relu |"));
    ck_assert_ptr_nonnull(strstr(t, "| resnet50/leaky |"));
    ck_assert_ptr_nonnull(strstr(t, "| resnet50/silu |"));
    ck_assert_ptr_nonnull(strstr(t, "| resnet50/relu/no-final-act |"));
    ck_assert_ptr_nonnull(strstr(t, "| plain50/relu | - | - |")); /* no metrics.json */
    ck_assert_ptr_nonnull(strstr(t, "| baseline/relu |"));
    int lines = 0;
    for (char *q = t; *q; q++) lines += *q == '\n';
    ck_assert_int_eq(lines, 8);
    free(t);
    /* the weighted recall column equals the accuracy column */
    crn_metrics m;
    CK_OK(crn_metrics_read(&m, NULL, runs[2], &err));
    char want[128];
    snprintf(want, sizeof want, "| resnet50/silu | %.4f | %.4f | %.4f | %.4f |", m.accuracy, m.weighted[0],
             m.weighted[1], m.weighted[2]);
    t = slurp(tmp, "table.md");
    ck_assert_msg(strstr(t, want) != NULL, "missing row %s in\n%s", want, t);
    free(t);
    crn_metrics_free(&m);
    t = slurp(out, "compare.csv");
    lines = 0;
    for (char *q = t; *q; q++) lines += *q == '\n';
    ck_assert_int_eq(lines, 7);
    ck_assert_ptr_nonnull(strstr(t, "resnet50/relu/no-final-act,"));
    free(t);
    check_exists(out, "compare.html");
    t = slurp(out, "compare.html");
    ck_assert_ptr_nonnull(strstr(t, "Validation accuracy per epoch"));
    ck_assert_ptr_nonnull(strstr(t, "F1 per class and run"));
    free(t);
    if (have_xmllint()) check_xml(out, "compare.html");
    /* a folder that is not a run */
    const char *bad[2] = {runs[0], tmp};
    ck_assert_int_ne(crn_compare_write(bad, 2, NULL, out, &err), CRN_OK);
    ck_assert_ptr_nonnull(strstr(err.msg, tmp));
    rm_rf(tmp);
}
END_TEST

/* Runs named alike all carry their folder; runs tested on another split or
 * other data get a table of their own, with the split and data columns. */
START_TEST(test_compare_labels_and_origins)
{
    crn_error err = {0};
    char tmp[] = "/tmp/crn_compare2_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(tmp));
    char runs[4][1100];
    const char *names[4] = {"a", "b", "c", "d"};
    for (int i = 0; i < 4; i++) {
        snprintf(runs[i], sizeof runs[i], "%s/%s", tmp, names[i]);
        make_run(runs[i], "resnet50", "relu", 1, 4, 0.8, 7u + (unsigned)i, 0);
    }
    /* c: evaluated on the validation split; d: on other data */
    char *t = slurp(runs[2], "metrics.json");
    char *q = strstr(t, "\"split\": \"test\"");
    ck_assert_ptr_nonnull(q);
    memcpy(q, "\"split\": \"val\" ", 15);
    write_text(runs[2], "metrics.json", t);
    free(t);
    t = slurp(runs[3], "config.json");
    q = strstr(t, "/data/flowers-102");
    ck_assert_ptr_nonnull(q);
    memcpy(q, "/data/flowers-999", 17);
    write_text(runs[3], "config.json", t);
    free(t);
    const char *rp[4] = {runs[0], runs[1], runs[2], runs[3]};
    char mdpath[1100], out[1100];
    snprintf(mdpath, sizeof mdpath, "%s/table.md", tmp);
    snprintf(out, sizeof out, "%s/cmp", tmp);
    FILE *md = fopen(mdpath, "w");
    ck_assert_ptr_nonnull(md);
    CK_OK(crn_compare_write(rp, 4, md, out, &err));
    fclose(md);
    t = slurp(tmp, "table.md");
    for (int i = 0; i < 4; i++) {
        char want[64];
        snprintf(want, sizeof want, "| resnet50/relu (%s) |", names[i]);
        ck_assert_msg(strstr(t, want) != NULL, "no row '%s' in\n%s", want, t);
    }
    ck_assert_ptr_nonnull(strstr(t, "tested on different splits or data: one table for each"));
    ck_assert_ptr_nonnull(strstr(t, "| test | flowers-102 (seed) |"));
    ck_assert_ptr_nonnull(strstr(t, "| val | flowers-102 (seed) |"));
    ck_assert_ptr_nonnull(strstr(t, "| test | flowers-999 (seed) |"));
    int tables = 0;
    for (char *p = t; (p = strstr(p, "| run | test accuracy")) != NULL; p++) tables++;
    ck_assert_int_eq(tables, 3);
    free(t);
    /* the report of the run evaluated on the validation split says so */
    char html[4200];
    CK_OK(crn_report_write(runs[2], html, sizeof html, &err));
    t = slurp(runs[2], "report.html");
    ck_assert_ptr_nonnull(strstr(t, "<h1>clresnet run report: resnet50/relu, val split</h1>"));
    ck_assert_ptr_nonnull(strstr(t, "Among the classes with val samples"));
    ck_assert_ptr_null(strstr(t, "test samples"));
    free(t);
    t = slurp(out, "compare.csv");
    ck_assert_ptr_nonnull(strstr(t, ",split,data,split_mode\n"));
    ck_assert_ptr_nonnull(strstr(t, ",val,/data/flowers-102,seed\n"));
    free(t);
    rm_rf(tmp);
}
END_TEST

/* The one-call evaluation writer on a hand-built dataset (4 classes). */
START_TEST(test_eval_write_run)
{
    crn_error err = {0};
    char tmp[] = "/tmp/crn_evalrun_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(tmp));
    make_run(tmp, "baseline", "relu", 1, 3, 1.0, 5, 1); /* config.json and log.jsonl only */
    crn_dataset ds;
    memset(&ds, 0, sizeof ds);
    ds.root = "/data/flowers";
    ds.num_classes = 4;
    char *names[4] = {"rose", "tulip, red", "daisy", "lily"};
    ds.class_names = names;
    crn_sample tr[6], te[5];
    char paths[11][64];
    for (int i = 0; i < 6; i++) {
        snprintf(paths[i], 64, "/data/flowers/jpg/image_%05d.jpg", i + 1);
        tr[i] = (crn_sample){paths[i], i % 4, i + 1};
    }
    for (int i = 0; i < 5; i++) {
        snprintf(paths[6 + i], 64, "/data/flowers/jpg/image_%05d.jpg", 7 + i);
        te[i] = (crn_sample){paths[6 + i], i % 4, 7 + i};
    }
    ds.samples[CRN_SPLIT_TRAIN] = tr;
    ds.count[CRN_SPLIT_TRAIN] = 6;
    ds.samples[CRN_SPLIT_TEST] = te;
    ds.count[CRN_SPLIT_TEST] = 5;
    /* predictions: right for samples 0..3, sample 4 (class 0) predicted as 2 */
    float logits[5 * 4] = {0};
    int pred[5] = {0, 1, 2, 3, 2};
    for (int i = 0; i < 5; i++) logits[i * 4 + pred[i]] = 3.0f;
    crn_metrics m;
    char html[4200];
    ck_assert_int_eq(crn_eval_write_run(tmp, &ds, "seed", CRN_SPLIT_TEST, logits, 4, NULL, 0, &m, html, sizeof html, &err),
                     CRN_EINVAL);
    CK_OK(crn_eval_write_run(tmp, &ds, "seed", CRN_SPLIT_TEST, logits, 5, "best.safetensors", 7, &m, html, sizeof html,
                             &err));
    ck_assert_double_eq_tol(m.accuracy, 0.8, 1e-12);
    ck_assert_double_eq_tol(m.recall[0], 0.5, 1e-12);
    ck_assert_double_eq_tol(m.precision[2], 0.5, 1e-12);
    crn_metrics_free(&m);
    const char *all[] = {"metrics.json", "per_class.csv", "confusion.csv", "predictions.csv", "splits.json",
                         "report.html"};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) check_exists(tmp, all[i]);
    for (size_t i = 0; i < sizeof svgs / sizeof svgs[0]; i++) check_exists(tmp, svgs[i]);
    char *t = slurp(tmp, "metrics.json");
    ck_assert_msg(strstr(t, "\"checkpoint_epoch\": 7") != NULL, "%s", t); /* which epoch's weights were tested */
    free(t);
    t = slurp(tmp, "report.html");
    ck_assert_msg(strstr(t, "best.safetensors</code> (written after epoch 7)") != NULL, "the report names the epoch");
    free(t);
    t = slurp(tmp, "predictions.csv");
    ck_assert_msg(strstr(t, "\njpg/image_00011.jpg,1,rose,3,daisy,0,3,daisy,") != NULL, "%s", t);
    free(t);
    t = slurp(tmp, "per_class.csv");
    ck_assert_msg(strstr(t, "\n2,\"tulip, red\",1.000000,1.000000,1.000000,1,1,2\n") != NULL, "%s", t);
    free(t);
    t = slurp(tmp, "report.html");
    ck_assert_ptr_nonnull(strstr(t, "baseline/relu"));
    ck_assert_ptr_nonnull(strstr(t, "Training split: 6 images, 1 to 2 per class"));
    free(t);
    if (have_xmllint()) check_xml(tmp, "report.html");
    rm_rf(tmp);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("report");
    TCase *tc = tcase_create("report");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_report_files);
    tcase_add_test(tc, test_report_errors);
    tcase_add_test(tc, test_path_overflow);
    tcase_add_test(tc, test_compare);
    tcase_add_test(tc, test_compare_labels_and_origins);
    tcase_add_test(tc, test_eval_write_run);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
