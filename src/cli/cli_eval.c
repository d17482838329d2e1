/* `clresnet evaluate`, `predict`, `report` and `compare`: the seed report's
 * results from checkpoints and run folders. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "clresnet/train/checkpoint.h"
#include "clresnet/eval/compare.h"
#include "clresnet/core/file_util.h"
#include "clresnet/eval/metrics.h"
#include "clresnet/eval/report.h"
#include "clresnet/train/train.h"

void help_evaluate(void)
{
    printf("usage: clresnet [--device N] evaluate CHECKPOINT [--split test|val|train] [--data DIR]\n"
           "                                     [--out DIR] [--batch-size B] [--workers N]\n\n"
           "Evaluates a checkpoint (RUN/best.safetensors, RUN/last.safetensors) on a split and\n"
           "writes metrics.json, per_class.csv, confusion.csv, predictions.csv and report.html.\n"
           "The data and split mode default to the run's; the folder defaults to the\n"
           "checkpoint's folder for the test split, else its eval-SPLIT subfolder.\n");
}

void help_predict(void)
{
    printf("usage: clresnet [--device N] predict CHECKPOINT IMAGE... [--top K]\n\n"
           "Classifies JPEG images (resize and center crop as in evaluation) and prints the\n"
           "top K (default 5) classes with names and probabilities.\n");
}

void help_report(void)
{
    printf("usage: clresnet report RUN\n\n"
           "Rebuilds RUN/report.html and its .svg charts from the run folder's files.\n");
}

void help_compare(void)
{
    printf("usage: clresnet compare RUN... [--out DIR]\n\n"
           "The report's tables across runs: a Markdown table on stdout, compare.csv and\n"
           "compare.html (overlaid curves, per-class F1 side by side) in DIR (default .).\n");
}

/* The data root and split mode a checkpoint was trained with. */
static void run_data(const char *config_json, char *root, size_t n, crn_split_mode *mode)
{
    root[0] = '\0';
    *mode = CRN_SPLITS_SEED;
    if (!config_json) return;
    json_t *o = json_loads(config_json, 0, NULL);
    if (!o) return;
    const char *d = json_string_value(json_object_get(o, "data"));
    const char *m = json_string_value(json_object_get(o, "split_mode"));
    if (d) snprintf(root, n, "%s", d);
    if (m) crn_split_mode_parse(m, mode);
    json_decref(o);
}

/* Opens the device and a model with the checkpoint's weights. */
static int load_model(const cli_globals *g, const char *ckpt, int batch, cli_device *dev, crn_model **m,
                      crn_model_config *mc, char **run_config)
{
    crn_error err = {0};
    if (crn_checkpoint_read_config(ckpt, mc, run_config, &err) != CRN_OK) return cli_error(&err);
    if (cli_open_device(g, false, dev) != 0) return 1;
    if (crn_model_create(dev->ops, mc, batch, m, &err) != CRN_OK || crn_checkpoint_load(ckpt, *m, NULL, NULL, &err) != CRN_OK) {
        crn_model_destroy(*m);
        *m = NULL;
        cli_close_device(dev);
        return cli_error(&err);
    }
    return 0;
}

int cmd_evaluate(const cli_globals *g, int argc, char **argv)
{
    const char *ckpt = NULL, *data = NULL, *out = NULL;
    crn_split split = CRN_SPLIT_TEST;
    int batch = 64, workers = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (a[0] != '-') {
            if (ckpt) {
                fprintf(stderr, "clresnet evaluate: error: one checkpoint only ('%s')\n", a);
                return 2;
            }
            ckpt = a;
            continue;
        }
        if (!v) {
            fprintf(stderr, "clresnet evaluate: error: %s needs a value\n", a);
            return 2;
        }
        i++;
        if (!strcmp(a, "--split")) {
            if (!strcmp(v, "test")) split = CRN_SPLIT_TEST;
            else if (!strcmp(v, "val")) split = CRN_SPLIT_VAL;
            else if (!strcmp(v, "train")) split = CRN_SPLIT_TRAIN;
            else {
                fprintf(stderr, "clresnet evaluate: error: --split '%s': want test, val or train\n", v);
                return 2;
            }
        } else if (!strcmp(a, "--data")) data = v;
        else if (!strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--batch-size") && (batch = atoi(v)) > 0) continue;
        else if (!strcmp(a, "--workers") && (workers = atoi(v)) >= 0) continue;
        else {
            fprintf(stderr, "clresnet evaluate: error: bad option '%s %s'\n", a, v);
            return 2;
        }
    }
    if (!ckpt) {
        fprintf(stderr, "clresnet evaluate: error: which checkpoint? (see clresnet evaluate --help)\n");
        return 2;
    }
    cli_device dev = {0};
    crn_model *m = NULL;
    crn_model_config mc;
    char *run_config = NULL;
    if (load_model(g, ckpt, batch, &dev, &m, &mc, &run_config) != 0) return 1;
    char root[4096], outdir[4200];
    crn_split_mode mode;
    run_data(run_config, root, sizeof root, &mode);
    free(run_config);
    if (data) snprintf(root, sizeof root, "%s", data);
    if (!out) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", ckpt);
        char *slash = strrchr(dir, '/');
        if (slash) *slash = '\0';
        else snprintf(dir, sizeof dir, ".");
        if (split == CRN_SPLIT_TEST) snprintf(outdir, sizeof outdir, "%s", dir);
        else snprintf(outdir, sizeof outdir, "%s/eval-%s", dir, crn_split_name(split));
        out = outdir;
    }
    crn_error err = {0};
    crn_dataset ds;
    memset(&ds, 0, sizeof ds);
    crn_dataset_options dopt;
    crn_dataset_options_default(&dopt);
    dopt.split_mode = mode;
    float *logits = NULL;
    int rc = root[0] ? crn_dataset_open(&ds, root, &dopt, &err)
                     : crn_fail(&err, CRN_EINVAL, "%s does not say which data it was trained on: give --data", ckpt);
    if (rc == CRN_OK && ds.num_classes != mc.classes)
        rc = crn_fail(&err, CRN_EINVAL, "%s has %d classes but %s has %d", ckpt, mc.classes, root, ds.num_classes);
    if (rc == CRN_OK) rc = crn_mkdirs(out, &err);
    if (rc == CRN_OK && !(logits = malloc(ds.count[split] * (size_t)mc.classes * sizeof *logits)))
        rc = crn_fail(&err, CRN_ENOMEM, "out of host memory");
    double loss = 0, acc = 0;
    if (rc == CRN_OK) {
        crn_loader_config lc;
        crn_loader_config_default(&lc);
        lc.batch_size = batch;
        lc.workers = workers;
        lc.shuffle = 0;
        lc.skip_bad = 0;
        lc.transform.image_size = mc.image_size;
        lc.transform.augment = 0;
        rc = crn_evaluate(m, &ds, split, &lc, &loss, &acc, logits, NULL, NULL, 0, &err);
    }
    crn_metrics met;
    char html[4200] = "";
    if (rc == CRN_OK)
        rc = crn_eval_write_run(out, &ds, crn_split_mode_name(mode), split, logits, ds.count[split],
                                ckpt, &met, html, sizeof html, &err);
    if (rc == CRN_OK) {
        printf("%s on the %s split of %s (%zu images): loss %.4f, accuracy %.4f, top-5 %.4f\n", ckpt,
               crn_split_name(split), root, ds.count[split], loss, met.accuracy, met.top5_accuracy);
        printf("weighted precision %.4f, recall %.4f, F1 %.4f; macro precision %.4f, recall %.4f, F1 %.4f\n",
               met.weighted[CRN_METRIC_PRECISION], met.weighted[CRN_METRIC_RECALL], met.weighted[CRN_METRIC_F1],
               met.macro[CRN_METRIC_PRECISION], met.macro[CRN_METRIC_RECALL], met.macro[CRN_METRIC_F1]);
        printf("report: %s\n", html);
        crn_metrics_free(&met);
    }
    free(logits);
    crn_dataset_free(&ds);
    crn_model_destroy(m);
    cli_close_device(&dev);
    return rc == CRN_OK ? 0 : cli_error(&err);
}

int cmd_predict(const cli_globals *g, int argc, char **argv)
{
    const char *ckpt = NULL;
    int top = 5, nimg = 0;
    const char **imgs = calloc((size_t)argc, sizeof *imgs);
    if (!imgs) return 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--top") && i + 1 < argc) {
            if ((top = atoi(argv[++i])) < 1) {
                fprintf(stderr, "clresnet predict: error: --top '%s': want a positive integer\n", argv[i]);
                free(imgs);
                return 2;
            }
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "clresnet predict: error: unknown option '%s'\n", argv[i]);
            free(imgs);
            return 2;
        } else if (!ckpt) ckpt = argv[i];
        else imgs[nimg++] = argv[i];
    }
    if (!ckpt || nimg == 0) {
        fprintf(stderr, "clresnet predict: error: give a checkpoint and at least one image\n");
        free(imgs);
        return 2;
    }
    cli_device dev = {0};
    crn_model *m = NULL;
    crn_model_config mc;
    char *run_config = NULL;
    if (load_model(g, ckpt, 1, &dev, &m, &mc, &run_config) != 0) {
        free(imgs);
        return 1;
    }
    /* class names from the run's dataset when it is still there */
    char root[4096];
    crn_split_mode mode;
    run_data(run_config, root, sizeof root, &mode);
    free(run_config);
    crn_dataset ds;
    memset(&ds, 0, sizeof ds);
    crn_dataset_options dopt;
    crn_dataset_options_default(&dopt);
    bool named = root[0] && crn_dataset_open(&ds, root, &dopt, NULL) == CRN_OK && ds.num_classes == mc.classes;
    crn_transform_config tc;
    crn_transform_config_default(&tc);
    tc.image_size = mc.image_size;
    tc.augment = 0;
    crn_transform_scratch scratch;
    memset(&scratch, 0, sizeof scratch);
    size_t S = (size_t)mc.image_size;
    float *x = malloc(3 * S * S * sizeof *x), *logits = malloc((size_t)mc.classes * sizeof *logits);
    int *cls = malloc((size_t)top * sizeof *cls);
    double *prob = malloc((size_t)top * sizeof *prob);
    crn_error err = {0};
    int rc = (!x || !logits || !cls || !prob) ? crn_fail(&err, CRN_ENOMEM, "out of host memory") : CRN_OK;
    for (int i = 0; rc == CRN_OK && i < nimg; i++) {
        rc = crn_transform_file(&tc, imgs[i], 0, 0, 0, &scratch, x, &err);
        if (rc == CRN_OK) rc = crn_model_forward(m, x, 1, false, &err);
        if (rc == CRN_OK) rc = crn_model_read_logits(m, 1, logits, &err);
        if (rc != CRN_OK) break;
        int k = crn_topk_softmax(logits, mc.classes, top, cls, prob);
        printf("%s\n", imgs[i]);
        for (int j = 0; j < k; j++) {
            char buf[32];
            const char *name = named ? crn_dataset_class_name(&ds, cls[j], buf, sizeof buf) : NULL;
            printf("  %d. class %3d %-28s %.4f\n", j + 1, cls[j] + 1, name ? name : "", prob[j]);
        }
    }
    crn_transform_scratch_free(&scratch);
    free(x), free(logits), free(cls), free(prob), free(imgs);
    crn_dataset_free(&ds);
    crn_model_destroy(m);
    cli_close_device(&dev);
    return rc == CRN_OK ? 0 : cli_error(&err);
}

int cmd_report(const cli_globals *g, int argc, char **argv)
{
    (void)g;
    if (argc != 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: clresnet report RUN\n");
        return 2;
    }
    crn_error err = {0};
    char html[4200];
    if (crn_report_write(argv[1], html, sizeof html, &err) != CRN_OK) return cli_error(&err);
    printf("report: %s\n", html);
    return 0;
}

int cmd_compare(const cli_globals *g, int argc, char **argv)
{
    (void)g;
    const char *out = ".";
    const char **runs = calloc((size_t)argc, sizeof *runs);
    int n = 0;
    if (!runs) return 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
        else if (argv[i][0] == '-') {
            fprintf(stderr, "clresnet compare: error: unknown option '%s'\n", argv[i]);
            free(runs);
            return 2;
        } else runs[n++] = argv[i];
    }
    if (n == 0) {
        fprintf(stderr, "usage: clresnet compare RUN... [--out DIR]\n");
        free(runs);
        return 2;
    }
    crn_error err = {0};
    int rc = crn_mkdirs(out, &err);
    if (rc == CRN_OK) rc = crn_compare_write(runs, n, stdout, out, &err);
    free(runs);
    if (rc != CRN_OK) return cli_error(&err);
    fprintf(stderr, "clresnet: wrote %s/compare.csv and %s/compare.html\n", out, out);
    return 0;
}
