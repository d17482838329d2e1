/* Comparison of run folders (see compare.h). */
#include "clresnet/eval/compare.h"

#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clresnet/core/file_util.h"
#include "clresnet/eval/metrics.h"
#include "clresnet/eval/report.h"
#include "clresnet/eval/run_log.h"
#include "clresnet/eval/svg.h"

enum { MAX_EPOCHS = 4096 };

typedef struct run_info {
    const char *dir;
    char name[400];        /* unique among the runs compared */
    bool has_metrics;
    crn_metrics m;
    char split[16];        /* what the metrics were computed on: test, val, train; "-" without metrics */
    char data[1024];       /* the dataset's folder, "" unknown */
    char split_mode[16];   /* seed, official, "" for an image folder or unknown */
    int group;             /* runs of one group were tested on the same split of the same data */
    crn_epoch_record *ep;
    int nep;
    int best_epoch, epochs;
    double images_per_s;
    double *x, *tr_acc, *va_acc, *tr_loss, *va_loss;
} run_info;

static void run_free(run_info *r)
{
    crn_metrics_free(&r->m);
    free(r->ep);
    free(r->x);
    memset(r, 0, sizeof *r);
}

static void copy_json_string(json_t *o, const char *key, char *buf, size_t size)
{
    const char *v = o ? json_string_value(json_object_get(o, key)) : NULL;
    if (v && !buf[0]) snprintf(buf, size, "%s", v);
}

/* What the run was tested on: metrics.json says (older runs: config.json and
 * splits.json give the data and the split mode). */
static void load_origin(run_info *r)
{
    json_t *files[3] = {crn_run_json(r->dir, "metrics.json"), crn_run_json(r->dir, "config.json"),
                        crn_run_json(r->dir, "splits.json")};
    snprintf(r->split, sizeof r->split, "-");
    if (r->has_metrics) {
        r->split[0] = '\0';
        copy_json_string(files[0], "split", r->split, sizeof r->split);
        if (!r->split[0]) snprintf(r->split, sizeof r->split, "test");
    }
    for (int i = 0; i < 3; i++) {
        copy_json_string(files[i], "data", r->data, sizeof r->data);
        copy_json_string(files[i], "split_mode", r->split_mode, sizeof r->split_mode);
    }
    for (int i = 0; i < 3; i++)
        if (files[i]) json_decref(files[i]);
}

static void load_curves(run_info *r)
{
    double secs = 0, imgs = 0;
    int n = r->nep;
    r->tr_acc = r->x + n, r->va_acc = r->x + 2 * n, r->tr_loss = r->x + 3 * n, r->va_loss = r->x + 4 * n;
    for (int i = 0; i < n; i++) {
        const crn_epoch_record *e = &r->ep[i];
        r->x[i] = e->epoch;
        r->tr_acc[i] = e->train_acc;
        r->va_acc[i] = e->val_acc;
        r->tr_loss[i] = e->train_loss;
        r->va_loss[i] = e->val_loss;
        secs += e->seconds;
        imgs += e->train_images_per_s * e->seconds;
        if (e->best) r->best_epoch = e->epoch;
    }
    r->epochs = r->ep[n - 1].epoch;
    r->images_per_s = secs > 0 ? imgs / secs : 0;
}

static int run_load(run_info *r, const char *dir, crn_error *err)
{
    memset(r, 0, sizeof *r);
    r->dir = dir;
    crn_run_name(dir, r->name, sizeof r->name);
    char p[CRN_PATH_MAX];
    int prc = crn_path_fmt(p, sizeof p, err, "%s/metrics.json", dir);
    if (prc) return prc;
    if (access(p, R_OK) == 0) {
        int rc = crn_metrics_read(&r->m, NULL, dir, err);
        if (rc != CRN_OK) return rc;
        r->has_metrics = true;
    }
    if ((prc = crn_path_fmt(p, sizeof p, err, "%s/log.jsonl", dir))) return prc;
    if (access(p, R_OK) == 0) {
        r->ep = calloc(MAX_EPOCHS, sizeof *r->ep);
        if (!r->ep) return crn_fail(err, CRN_ENOMEM, "compare: out of memory");
        int n = crn_run_log_read(dir, r->ep, MAX_EPOCHS, err);
        if (n < 0) return n;
        r->nep = n;
    }
    if (!r->has_metrics && r->nep == 0)
        return crn_fail(err, CRN_EINVAL, "%s: no metrics.json and no epochs in log.jsonl: not a run folder?", dir);
    load_origin(r);
    if (r->nep) {
        r->x = malloc(sizeof(double) * 5 * (size_t)r->nep);
        if (!r->x) return crn_fail(err, CRN_ENOMEM, "compare: out of memory");
        load_curves(r);
    }
    return CRN_OK;
}

/* The last component of a path, without trailing slashes. */
static void last_component(const char *path, const char **start, int *len)
{
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') n--;
    size_t s = n;
    while (s > 0 && path[s - 1] != '/') s--;
    *start = path + s;
    *len = (int)(n - s);
}

/* Runs named alike (model/act[/variant]) all get their folder's name too. */
static void unique_names(run_info *r, int nruns)
{
    bool *dup = calloc((size_t)nruns, sizeof *dup);
    if (!dup) return;
    for (int i = 0; i < nruns; i++)
        for (int j = 0; j < nruns; j++)
            if (i != j && !strcmp(r[i].name, r[j].name)) dup[i] = true;
    for (int i = 0; i < nruns; i++) {
        if (!dup[i]) continue;
        const char *s;
        int len;
        last_component(r[i].dir, &s, &len);
        char tmp[sizeof r[i].name];
        snprintf(tmp, sizeof tmp, "%.200s (%.*s)", r[i].name, len > 150 ? 150 : len, s);
        memcpy(r[i].name, tmp, sizeof tmp);
    }
    free(dup);
}

/* Groups of runs tested on the same split of the same data; returns the
 * count. A run without test metrics joins a group of its data, if any. */
static int group_runs(run_info *r, int nruns)
{
    int groups = 0;
    for (int i = 0; i < nruns; i++) r[i].group = -1;
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < nruns; i++) {
            if (r[i].has_metrics != (pass == 0)) continue;
            for (int j = 0; j < nruns && r[i].group < 0; j++)
                if (r[j].group >= 0 && !strcmp(r[i].data, r[j].data) && !strcmp(r[i].split_mode, r[j].split_mode) &&
                    (pass == 1 || !strcmp(r[i].split, r[j].split)))
                    r[i].group = r[j].group;
            if (r[i].group < 0) r[i].group = groups++;
        }
    return groups;
}

/* "flowers-102-s128 (seed)": the data folder's name and the split mode. */
static void data_label(const run_info *q, char *buf, size_t size)
{
    const char *s = "unknown";
    int len = 7;
    if (q->data[0]) last_component(q->data, &s, &len);
    snprintf(buf, size, "%.*s%s%s%s", len, s, q->split_mode[0] ? " (" : "", q->split_mode,
             q->split_mode[0] ? ")" : "");
}

static const char *const HDR[] = {"run", "test accuracy", "precision", "recall", "F1", "macro F1", "top-5",
                                  "epochs", "best epoch", "images/s", "split", "data"};
enum { NCOL = 12, CELL = 1100 };

static void num_or_dash(char *buf, bool have, const char *fmt, double v)
{
    if (have) snprintf(buf, CELL, fmt, v);
    else snprintf(buf, CELL, "-");
}

static void row_cells(const run_info *q, char cell[NCOL][CELL])
{
    bool hm = q->has_metrics;
    snprintf(cell[0], CELL, "%s", q->name);
    num_or_dash(cell[1], hm, "%.4f", q->m.accuracy);
    num_or_dash(cell[2], hm, "%.4f", q->m.weighted[0]);
    num_or_dash(cell[3], hm, "%.4f", q->m.weighted[1]);
    num_or_dash(cell[4], hm, "%.4f", q->m.weighted[2]);
    num_or_dash(cell[5], hm, "%.4f", q->m.macro[2]);
    num_or_dash(cell[6], hm && q->m.top5_accuracy >= 0, "%.4f", q->m.top5_accuracy);
    num_or_dash(cell[7], q->nep > 0, "%.0f", q->epochs);
    num_or_dash(cell[8], q->best_epoch > 0, "%.0f", q->best_epoch);
    num_or_dash(cell[9], q->nep > 0, "%.1f", q->images_per_s);
    snprintf(cell[10], CELL, "%s", q->split);
    data_label(q, cell[11], CELL);
}

static void write_markdown(FILE *md, const run_info *r, int nruns, int groups)
{
    static char cell[NCOL][CELL];
    if (groups > 1)
        fprintf(md, "The runs were tested on different splits or data: one table for each.\n\n");
    for (int g = 0; g < groups; g++) {
        if (g) fprintf(md, "\n");
        fprintf(md, "|");
        for (int c = 0; c < NCOL; c++) fprintf(md, " %s |", HDR[c]);
        fprintf(md, "\n|");
        for (int c = 0; c < NCOL; c++) fprintf(md, c == 0 || c >= 10 ? " --- |" : " ---: |");
        fprintf(md, "\n");
        for (int i = 0; i < nruns; i++) {
            if (r[i].group != g) continue;
            row_cells(&r[i], cell);
            fprintf(md, "|");
            for (int c = 0; c < NCOL; c++) fprintf(md, " %s |", cell[c]);
            fprintf(md, "\n");
        }
    }
}

static int write_csv(const run_info *r, int nruns, const char *out_dir, crn_error *err)
{
    crn_sb csv = {0};
    crn_sb_puts(&csv, "run,folder,test_accuracy,precision_weighted,recall_weighted,f1_weighted,precision_macro,"
                      "recall_macro,f1_macro,top5_accuracy,epochs,best_epoch,train_images_per_s,split,data,"
                      "split_mode\n");
    for (int i = 0; i < nruns; i++) {
        const run_info *q = &r[i];
        crn_sb_csv(&csv, q->name);
        crn_sb_puts(&csv, ",");
        crn_sb_csv(&csv, q->dir);
        if (q->has_metrics)
            crn_sb_printf(&csv, ",%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,", q->m.accuracy, q->m.weighted[0],
                          q->m.weighted[1], q->m.weighted[2], q->m.macro[0], q->m.macro[1], q->m.macro[2]);
        else
            crn_sb_puts(&csv, ",,,,,,,,");
        if (q->has_metrics && q->m.top5_accuracy >= 0) crn_sb_printf(&csv, "%.6f", q->m.top5_accuracy);
        if (q->nep) crn_sb_printf(&csv, ",%d,%d,%.3f,", q->epochs, q->best_epoch, q->images_per_s);
        else crn_sb_puts(&csv, ",,,,");
        crn_sb_csv(&csv, q->split);
        crn_sb_puts(&csv, ",");
        crn_sb_csv(&csv, q->data);
        crn_sb_puts(&csv, ",");
        crn_sb_csv(&csv, q->split_mode);
        crn_sb_puts(&csv, "\n");
    }
    char path[CRN_PATH_MAX];
    int rc = crn_path_fmt(path, sizeof path, err, "%s/compare.csv", out_dir);
    if (rc == CRN_OK) rc = crn_sb_save(&csv, path, err);
    crn_sb_free(&csv);
    return rc;
}

static void html_tables(crn_sb *h, const run_info *r, int nruns, int groups)
{
    static char cell[NCOL][CELL];
    crn_sb_puts(h, "<h2>Test results</h2>\n");
    if (groups > 1)
        crn_sb_puts(h, "<p>The runs were tested on different splits or data: one table for each.</p>\n");
    for (int g = 0; g < groups; g++) {
        crn_sb_puts(h, "<table>\n<tr>");
        for (int c = 0; c < NCOL; c++) crn_sb_printf(h, "<th>%s</th>", HDR[c]);
        crn_sb_puts(h, "</tr>\n");
        for (int i = 0; i < nruns; i++) {
            if (r[i].group != g) continue;
            row_cells(&r[i], cell);
            crn_sb_printf(h, "<tr><td><span style=\"color:%s\">&#9632;</span> ", crn_svg_color(i));
            crn_sb_xml(h, cell[0]);
            crn_sb_puts(h, "</td>");
            for (int c = 1; c < NCOL; c++) {
                crn_sb_puts(h, c < 10 ? "<td class=\"n\">" : "<td>");
                crn_sb_xml(h, cell[c]);
                crn_sb_puts(h, "</td>");
            }
            crn_sb_puts(h, "</tr>\n");
        }
        crn_sb_puts(h, "</table>\n");
    }
    crn_sb_puts(h, "<p class=\"note\">Precision, recall and F1 weighted by class support (sklearn's "
                   "average='weighted'); images/s over the training phases.</p>\n<p>Run folders:</p>\n<ul>\n");
    for (int i = 0; i < nruns; i++) {
        crn_sb_puts(h, "<li>");
        crn_sb_xml(h, r[i].name);
        crn_sb_puts(h, ": <code>");
        crn_sb_xml(h, r[i].dir);
        crn_sb_puts(h, "</code></li>\n");
    }
    crn_sb_puts(h, "</ul>\n");
}

static void html_figure(crn_sb *h, crn_sb *svg, const char *caption)
{
    crn_sb_puts(h, "<figure>\n");
    if (svg->s) crn_sb_puts(h, svg->s);
    if (svg->oom) h->oom = true;
    if (caption) crn_sb_puts(h, caption);
    crn_sb_puts(h, "</figure>\n");
    crn_sb_free(svg);
}

static int html_curves(crn_sb *h, const run_info *r, int nruns, crn_error *err)
{
    crn_sb_puts(h, "<h2>Training curves</h2>\n");
    crn_svg_series *ser = calloc(nruns > 0 ? (size_t)nruns : 1, sizeof *ser);
    if (!ser) return crn_fail(err, CRN_ENOMEM, "compare: out of memory");
    static const struct {
        const char *title, *ylabel;
        double lo, hi;
    } charts[4] = {{"Validation accuracy per epoch", "accuracy", 0, 1},
                   {"Training accuracy per epoch", "accuracy", 0, 1},
                   {"Validation loss per epoch", "cross-entropy loss", 0, 0},
                   {"Training loss per epoch", "cross-entropy loss", 0, 0}};
    crn_sb svg = {0};
    for (int g = 0; g < 4; g++) {
        int ns = 0;
        for (int i = 0; i < nruns; i++) {
            if (!r[i].nep) continue;
            const double *y = g == 0 ? r[i].va_acc : g == 1 ? r[i].tr_acc : g == 2 ? r[i].va_loss : r[i].tr_loss;
            ser[ns++] = (crn_svg_series){r[i].name, r[i].x, y, r[i].nep, crn_svg_color(i), false};
        }
        if (!ns) continue;
        crn_svg_line_chart(&svg, 1000, 400, charts[g].title, "epoch", charts[g].ylabel, ser, ns, charts[g].lo,
                           charts[g].hi);
        html_figure(h, &svg, NULL);
    }
    free(ser);
    return CRN_OK;
}

/* Per-class F1, runs x classes, for the runs with metrics of the first group's class count. */
static int html_per_class(crn_sb *h, const run_info *r, int nruns, crn_error *err)
{
    int k = 0, nm = 0;
    for (int i = 0; i < nruns; i++)
        if (r[i].has_metrics) {
            if (!k) k = r[i].m.num_classes;
            if (r[i].m.num_classes == k) nm++;
        }
    crn_sb_puts(h, "<h2>Per-class F1</h2>\n");
    if (!nm) {
        crn_sb_puts(h, "<p class=\"note\">No run has metrics.json.</p>\n");
        return CRN_OK;
    }
    double *v = calloc((size_t)nm * k, sizeof *v);
    const char **labels = calloc((size_t)nm, sizeof *labels);
    if (!v || !labels) {
        free(v);
        free(labels);
        return crn_fail(err, CRN_ENOMEM, "compare: out of memory");
    }
    int row = 0;
    for (int i = 0; i < nruns; i++)
        if (r[i].has_metrics && r[i].m.num_classes == k) {
            labels[row] = r[i].name;
            memcpy(v + (size_t)row * k, r[i].m.f1, sizeof(double) * (size_t)k);
            row++;
        }
    int cell_px = k <= 30 ? 24 : k <= 120 ? 9 : 4;
    crn_sb svg = {0};
    crn_svg_heatmap(&svg, cell_px, 20, "F1 per class and run", "class", NULL, v, nm, k, 1.0, false, labels, "F1");
    html_figure(h, &svg, "<figcaption>Rows: runs; columns: classes 1..k; darker is a higher F1 "
                         "(linear scale); white is 0.</figcaption>\n");
    crn_sb_puts(h, "<table>\n<tr><th>run</th><th>macro F1</th><th>classes with F1 &#8805; 0.7</th></tr>\n");
    for (int i = 0; i < nruns; i++)
        if (r[i].has_metrics) {
            crn_sb_puts(h, "<tr><td>");
            crn_sb_xml(h, r[i].name);
            crn_sb_printf(h, "</td><td class=\"n\">%.4f</td><td class=\"n\">%.1f%%</td></tr>\n", r[i].m.macro[2],
                          100 * r[i].m.pass_share[2]);
        }
    crn_sb_puts(h, "</table>\n");
    free(v);
    free(labels);
    return CRN_OK;
}

static int write_html(const run_info *r, int nruns, int groups, const char *out_dir, crn_error *err)
{
    crn_sb h = {0};
    crn_sb_puts(&h, "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n"
                    "<meta charset=\"utf-8\"/>\n<title>clresnet: comparison of runs</title>\n<style>\n"
                    "body{background:#ffffff;color:#111111;font-family:Helvetica,Arial,sans-serif;margin:24px;max-width:1200px}\n"
                    "h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #999999;margin-top:28px;"
                    "break-after:avoid;page-break-after:avoid}\n"
                    "table{border-collapse:collapse;font-size:13px;margin:8px 0}th,td{border:1px solid #bbbbbb;padding:3px 8px}"
                    "th{background:#eeeeee}td.n{text-align:right}\n"
                    "figure{margin:12px 0;break-inside:avoid;page-break-inside:avoid}svg{max-width:100%;height:auto}\n"
                    ".note{color:#555555;font-style:italic}figcaption{font-size:12px;color:#333333}\n"
                    "</style>\n</head>\n<body>\n<h1>Comparison of runs</h1>\n");
    html_tables(&h, r, nruns, groups);
    int rc = html_curves(&h, r, nruns, err);
    if (rc == CRN_OK) rc = html_per_class(&h, r, nruns, err);
    if (rc == CRN_OK) {
        crn_sb_puts(&h, "</body>\n</html>\n");
        char path[CRN_PATH_MAX];
        rc = crn_path_fmt(path, sizeof path, err, "%s/compare.html", out_dir);
        if (rc == CRN_OK) rc = crn_sb_save(&h, path, err);
    }
    crn_sb_free(&h);
    return rc;
}

int crn_compare_write(const char *const *runs, int nruns, FILE *md, const char *out_dir, crn_error *err)
{
    if (nruns < 1) return crn_fail(err, CRN_EINVAL, "compare: no run folders given");
    run_info *r = calloc((size_t)nruns, sizeof *r);
    if (!r) return crn_fail(err, CRN_ENOMEM, "compare: out of memory");
    int rc = CRN_OK;
    for (int i = 0; i < nruns && rc == CRN_OK; i++) rc = run_load(&r[i], runs[i], err);
    if (rc == CRN_OK) {
        unique_names(r, nruns);
        int groups = group_runs(r, nruns);
        if (md) write_markdown(md, r, nruns, groups);
        rc = out_dir ? crn_mkdirs(out_dir, err) : CRN_OK;
        if (rc == CRN_OK && out_dir) rc = write_csv(r, nruns, out_dir, err);
        if (rc == CRN_OK && out_dir) rc = write_html(r, nruns, groups, out_dir, err);
    }
    for (int i = 0; i < nruns; i++) run_free(&r[i]);
    free(r);
    return rc;
}
