/* `clresnet evaluate`, `report` and `compare`: the seed experiment's
 * results (README.md, "Commands") from checkpoints and run folders. */
#define _XOPEN_SOURCE 700 /* realpath */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "clresnet/train/checkpoint.h"
#include "clresnet/eval/compare.h"
#include "clresnet/core/file_util.h"
#include "clresnet/eval/metrics.h"
#include "clresnet/eval/report.h"
#include "clresnet/train/train.h"

void help_evaluate(void)
{
    printf("usage: clresnet [--device N] evaluate RUN|CHECKPOINT [--split test|val|train] [--data DIR]\n"
           "                                     [--out DIR] [--batch-size B] [--workers N]\n\n"
           "Evaluates a run folder (its best.safetensors) or a checkpoint on a split and\n"
           "writes metrics.json, per_class.csv, confusion.csv, predictions.csv and report.html.\n"
           "The data and split mode default to the run's. It writes into --out DIR, else into\n"
           "a subfolder of the checkpoint's folder: eval-SPLIT, or eval-SPLIT-NAME for other\n"
           "data (NAME: that data's folder). The run's own metrics.json and report (the test\n"
           "made when training ended) are never changed.\n");
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
           "with --out DIR, compare.csv and compare.html (overlaid curves, per-class F1 side by\n"
           "side) in DIR.\n");
}

/* The data root and split mode a checkpoint was trained with. */
int run_data(const char *config_json, char *root, size_t n, crn_split_mode *mode, crn_error *err)
{
    root[0] = '\0';
    *mode = CRN_SPLITS_SEED;
    if (!config_json) return CRN_OK;
    json_t *o = json_loads(config_json, 0, NULL);
    if (!o) return CRN_OK;
    const char *d = json_string_value(json_object_get(o, "data"));
    const char *m = json_string_value(json_object_get(o, "split_mode"));
    int rc = d ? crn_path_fmt(root, n, err, "%s", d) : CRN_OK;
    if (m) crn_split_mode_parse(m, mode);
    json_decref(o);
    return rc;
}

/* The model a checkpoint holds, on the device (opened here, after every
 * check that needs no device has passed). */
int load_model(const cli_globals *g, const char *ckpt, const crn_model_config *mc, int batch, cli_device *dev,
                      crn_model **m)
{
    crn_error err = {0};
    if (cli_open_device(g, false, dev) != 0) return 1;
    if (crn_model_create(dev->ops, mc, batch, m, &err) != CRN_OK || crn_checkpoint_load(ckpt, *m, NULL, NULL, &err) != CRN_OK) {
        crn_model_destroy(*m);
        *m = NULL;
        cli_close_device(dev);
        return cli_error(&err);
    }
    return 0;
}

typedef struct eval_args {
    const char *ckpt, *data, *out;
    crn_split split;
    int batch, workers;
} eval_args;

static int parse_eval_args(int argc, char **argv, eval_args *a)
{
    *a = (eval_args){NULL, NULL, NULL, CRN_SPLIT_TEST, 64, 0};
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (o[0] != '-') {
            if (a->ckpt) {
                fprintf(stderr, "clresnet evaluate: error: one checkpoint or run folder only ('%s')\n", o);
                return 2;
            }
            a->ckpt = o;
            continue;
        }
        if (cli_misplaced_global("evaluate", o)) return 2;
        if (!v) {
            fprintf(stderr, "clresnet evaluate: error: %s needs a value\n", o);
            return 2;
        }
        i++;
        if (!strcmp(o, "--split")) {
            if (!strcmp(v, "test")) a->split = CRN_SPLIT_TEST;
            else if (!strcmp(v, "val")) a->split = CRN_SPLIT_VAL;
            else if (!strcmp(v, "train")) a->split = CRN_SPLIT_TRAIN;
            else {
                fprintf(stderr, "clresnet evaluate: error: --split '%s': want test, val or train\n", v);
                return 2;
            }
        } else if (!strcmp(o, "--data")) a->data = v;
        else if (!strcmp(o, "--out")) a->out = v;
        else if (!strcmp(o, "--batch-size") && (a->batch = atoi(v)) > 0) continue;
        else if (!strcmp(o, "--workers") && (a->workers = atoi(v)) >= 0) continue;
        else {
            fprintf(stderr, "clresnet evaluate: error: bad option '%s %s'\n", o, v);
            return 2;
        }
    }
    if (!a->ckpt) {
        fprintf(stderr, "clresnet evaluate: error: which checkpoint or run folder? (see clresnet evaluate --help)\n");
        return 2;
    }
    return 0;
}

/* The folder evaluation writes to: the checkpoint's run folder for the test
 * split, its eval-SPLIT subfolder for another. */
/* Where evaluate writes: --out, else a subfolder of the checkpoint's folder
 * named after the split and, for other data than the run's, that data's
 * folder (RUN/eval-test, RUN/eval-val-flowers128): never the run folder
 * itself, whose metrics are the training-time test. */
static int eval_out_dir(const eval_args *a, const char *ckpt, const char *run_root, char *out, size_t size)
{
    char dir[CRN_PATH_MAX];
    cli_parent_dir(ckpt, dir);
    if (a->out) {
        char *x = realpath(a->out, NULL), *y = realpath(dir, NULL);
        bool same = x && y && !strcmp(x, y);
        free(x), free(y);
        if (same) {
            fprintf(stderr, "clresnet evaluate: error: --out %s is the folder of %s, whose metrics.json and report "
                            "are the run's own: choose another folder\n", a->out, ckpt);
            return 2;
        }
        crn_error err = {0};
        return crn_path_fmt(out, size, &err, "%s", a->out) ? cli_error(&err) : 0;
    }
    char other[200] = "";
    if (a->data) { /* other data than the run's: named after its folder */
        char *x = realpath(a->data, NULL), *y = run_root[0] ? realpath(run_root, NULL) : NULL;
        if (!x || !y || strcmp(x, y)) {
            const char *base = strrchr(x ? x : a->data, '/');
            snprintf(other, sizeof other, "-%s", base && base[1] ? base + 1 : (x ? x : a->data));
        }
        free(x), free(y);
    }
    crn_error err = {0};
    return crn_path_fmt(out, size, &err, "%s/eval-%s%s", dir, crn_split_name(a->split), other) ? cli_error(&err) : 0;
}

/* A folder of its own gets the run's config.json, so that its report and
 * `compare` name the model, activation and variant. */
static int keep_run_config(const char *out, const char *run_config, crn_error *err)
{
    char p[CRN_PATH_MAX];
    int rc = crn_path_fmt(p, sizeof p, err, "%s/config.json", out);
    if (rc) return rc;
    if (!run_config || access(p, F_OK) == 0) return CRN_OK;
    return crn_write_file_atomic(p, run_config, strlen(run_config), err);
}

static void print_eval(const char *ckpt, const crn_dataset *ds, crn_split split, const char *root,
                       const crn_eval_result *er, const crn_metrics *met, const char *html)
{
    printf("%s on the %s split of %s (%zu images): loss %.4f, accuracy %.4f, top-5 %.4f\n", ckpt,
           crn_split_name(split), root, ds->count[split], er->loss, met->accuracy, met->top5_accuracy);
    printf("weighted precision %.4f, recall %.4f, F1 %.4f; macro precision %.4f, recall %.4f, F1 %.4f\n",
           met->weighted[CRN_METRIC_PRECISION], met->weighted[CRN_METRIC_RECALL], met->weighted[CRN_METRIC_F1],
           met->macro[CRN_METRIC_PRECISION], met->macro[CRN_METRIC_RECALL], met->macro[CRN_METRIC_F1]);
    printf("report: %s\n", html);
}

int cmd_evaluate(const cli_globals *g, int argc, char **argv)
{
    eval_args a;
    int prc = parse_eval_args(argc, argv, &a);
    if (prc) return prc;
    crn_error err = {0};
    char ckpt[CRN_PATH_MAX], root[CRN_PATH_MAX], out[CRN_PATH_MAX];
    crn_model_config mc;
    char *run_config = NULL;
    crn_split_mode mode;
    crn_dataset ds;
    memset(&ds, 0, sizeof ds);
    int rc = crn_checkpoint_resolve(a.ckpt, ckpt, sizeof ckpt, &err);
    if (rc == CRN_OK) rc = crn_checkpoint_read_config(ckpt, &mc, &run_config, &err);
    int drc = run_data(run_config, root, sizeof root, &mode, &err); /* no config when rc fails */
    if (rc == CRN_OK) rc = drc;
    char run_root[CRN_PATH_MAX];
    snprintf(run_root, sizeof run_root, "%s", root); /* the same size */
    if (rc == CRN_OK && a.data) rc = crn_path_fmt(root, sizeof root, &err, "%s", a.data);
    crn_dataset_options dopt;
    crn_dataset_options_default(&dopt);
    dopt.split_mode = mode;
    if (rc == CRN_OK)
        rc = root[0] ? crn_dataset_open(&ds, root, &dopt, &err)
                     : crn_fail(&err, CRN_EINVAL, "%s does not say which data it was trained on: give --data", ckpt);
    if (rc == CRN_OK && ds.num_classes != mc.classes)
        rc = crn_fail(&err, CRN_EINVAL, "%s has %d classes but %s has %d", ckpt, mc.classes, root, ds.num_classes);
    int orc = rc == CRN_OK ? eval_out_dir(&a, ckpt, run_root, out, sizeof out) : 0;
    if (orc != 0) {
        free(run_config);
        crn_dataset_free(&ds);
        return orc;
    }
    if (rc == CRN_OK) rc = crn_mkdirs(out, &err);
    if (rc == CRN_OK) rc = keep_run_config(out, run_config, &err);
    free(run_config);
    float *logits = NULL;
    if (rc == CRN_OK && !(logits = malloc(ds.count[a.split] * (size_t)mc.classes * sizeof *logits)))
        rc = crn_fail(&err, CRN_ENOMEM, "out of host memory");
    if (rc != CRN_OK) {
        crn_dataset_free(&ds);
        return cli_error(&err);
    }
    cli_device dev = {0};
    crn_model *m = NULL;
    if (load_model(g, ckpt, &mc, a.batch, &dev, &m) != 0) {
        free(logits);
        crn_dataset_free(&ds);
        return 1;
    }
    crn_loader_config lc;
    crn_loader_config_default(&lc);
    lc.batch_size = a.batch;
    lc.workers = a.workers;
    lc.shuffle = 0;
    lc.transform.image_size = mc.image_size;
    lc.transform.augment = 0;
    crn_eval_result er;
    rc = crn_evaluate(m, &ds, a.split, &lc, &er, logits, NULL, NULL, 0, &err);
    crn_metrics met;
    char html[CRN_PATH_MAX] = "";
    int ckpt_epoch = 0;
    if (rc == CRN_OK) rc = crn_checkpoint_read_epoch(ckpt, &ckpt_epoch, &err);
    if (rc == CRN_OK)
        rc = crn_eval_write_run(out, &ds, crn_split_mode_name(mode), a.split, logits, ds.count[a.split], ckpt,
                                ckpt_epoch, &met, html, sizeof html, &err);
    if (rc == CRN_OK) {
        print_eval(ckpt, &ds, a.split, root, &er, &met, html);
        crn_metrics_free(&met);
    }
    free(logits);
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
    char html[CRN_PATH_MAX];
    if (crn_report_write(argv[1], html, sizeof html, &err) != CRN_OK) return cli_error(&err);
    printf("report: %s\n", html);
    return 0;
}

int cmd_compare(const cli_globals *g, int argc, char **argv)
{
    const char *out = NULL; /* no files unless asked: never into whatever folder it is run from */
    const char **runs = calloc((size_t)argc, sizeof *runs);
    int n = 0;
    if (!runs) return 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
        else if (argv[i][0] == '-') {
            if (!cli_misplaced_global("compare", argv[i]))
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
    int rc = crn_compare_write(runs, n, stdout, out, &err);
    free(runs);
    if (rc != CRN_OK) return cli_error(&err);
    if (out) fprintf(stderr, "clresnet: wrote %s/compare.csv and %s/compare.html\n", out, out);
    else if (!g->quiet) fprintf(stderr, "clresnet: --out DIR also writes compare.csv and compare.html there\n");
    return 0;
}
