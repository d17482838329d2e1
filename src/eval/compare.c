/* Comparison of run folders (see compare.h). */
#include "clresnet/eval/compare.h"

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
    char name[300];
    bool has_metrics;
    crn_metrics m;
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

static int run_load(run_info *r, const char *dir, crn_error *err)
{
    memset(r, 0, sizeof *r);
    r->dir = dir;
    crn_run_name(dir, r->name, sizeof r->name);
    char p[4200];
    snprintf(p, sizeof p, "%s/metrics.json", dir);
    if (access(p, R_OK) == 0) {
        int rc = crn_metrics_read(&r->m, NULL, dir, err);
        if (rc != CRN_OK) return rc;
        r->has_metrics = true;
    }
    snprintf(p, sizeof p, "%s/log.jsonl", dir);
    if (access(p, R_OK) == 0) {
        r->ep = calloc(MAX_EPOCHS, sizeof *r->ep);
        if (!r->ep) return crn_fail(err, CRN_ENOMEM, "compare: out of memory");
        int n = crn_run_log_read(dir, r->ep, MAX_EPOCHS, err);
        if (n < 0) return n;
        r->nep = n;
    }
    if (!r->has_metrics && r->nep == 0)
        return crn_fail(err, CRN_EINVAL, "%s: no metrics.json and no epochs in log.jsonl: not a run folder?", dir);
    if (r->nep) {
        r->x = malloc(sizeof(double) * 5 * (size_t)r->nep);
        if (!r->x) return crn_fail(err, CRN_ENOMEM, "compare: out of memory");
        r->tr_acc = r->x + r->nep;
        r->va_acc = r->x + 2 * r->nep;
        r->tr_loss = r->x + 3 * r->nep;
        r->va_loss = r->x + 4 * r->nep;
        double secs = 0, imgs = 0;
        for (int i = 0; i < r->nep; i++) {
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
        r->epochs = r->ep[r->nep - 1].epoch;
        r->images_per_s = secs > 0 ? imgs / secs : 0;
    }
    return CRN_OK;
}

static void num_or_dash(char *buf, size_t size, bool have, const char *fmt, double v)
{
    if (have) snprintf(buf, size, fmt, v);
    else snprintf(buf, size, "-");
}

int crn_compare_write(const char *const *runs, int nruns, FILE *md, const char *out_dir, crn_error *err)
{
    if (nruns < 1) return crn_fail(err, CRN_EINVAL, "compare: no run folders given");
    if (!out_dir) out_dir = ".";
    run_info *r = calloc((size_t)nruns, sizeof *r);
    if (!r) return crn_fail(err, CRN_ENOMEM, "compare: out of memory");
    crn_sb csv = {0}, h = {0}, svg = {0};
    int rc = CRN_OK;
    for (int i = 0; i < nruns && rc == CRN_OK; i++) rc = run_load(&r[i], runs[i], err);
    if (rc != CRN_OK) goto out;
    /* the same name twice: add the folder */
    for (int i = 0; i < nruns; i++)
        for (int j = 0; j < nruns; j++)
            if (i != j && !strcmp(r[i].name, r[j].name)) {
                char tmp[300];
                size_t n = strlen(runs[i]);
                while (n > 1 && runs[i][n - 1] == '/') n--;
                size_t s = n;
                while (s > 0 && runs[i][s - 1] != '/') s--;
                snprintf(tmp, sizeof tmp, "%.200s (%.*s)", r[i].name, (int)(n - s > 80 ? 80 : n - s), runs[i] + s);
                memcpy(r[i].name, tmp, sizeof tmp);
                break;
            }

    /* Markdown and CSV */
    static const char *hdr[] = {"run", "test accuracy", "precision", "recall", "F1", "macro F1", "top-5",
                                "epochs", "best epoch", "images/s"};
    enum { NCOL = 10 };
    char cell[NCOL][64];
    if (md) {
        fprintf(md, "|");
        for (int c = 0; c < NCOL; c++) fprintf(md, " %s |", hdr[c]);
        fprintf(md, "\n|");
        for (int c = 0; c < NCOL; c++) fprintf(md, c ? " ---: |" : " --- |");
        fprintf(md, "\n");
    }
    crn_sb_puts(&csv, "run,folder,test_accuracy,precision_weighted,recall_weighted,f1_weighted,precision_macro,"
                      "recall_macro,f1_macro,top5_accuracy,epochs,best_epoch,train_images_per_s\n");
    for (int i = 0; i < nruns; i++) {
        const run_info *q = &r[i];
        bool hm = q->has_metrics;
        num_or_dash(cell[1], 64, hm, "%.4f", q->m.accuracy);
        num_or_dash(cell[2], 64, hm, "%.4f", q->m.weighted[0]);
        num_or_dash(cell[3], 64, hm, "%.4f", q->m.weighted[1]);
        num_or_dash(cell[4], 64, hm, "%.4f", q->m.weighted[2]);
        num_or_dash(cell[5], 64, hm, "%.4f", q->m.macro[2]);
        num_or_dash(cell[6], 64, hm && q->m.top5_accuracy >= 0, "%.4f", q->m.top5_accuracy);
        num_or_dash(cell[7], 64, q->nep > 0, "%.0f", q->epochs);
        num_or_dash(cell[8], 64, q->best_epoch > 0, "%.0f", q->best_epoch);
        num_or_dash(cell[9], 64, q->nep > 0, "%.1f", q->images_per_s);
        if (md) {
            fprintf(md, "| %s |", q->name);
            for (int c = 1; c < NCOL; c++) fprintf(md, " %s |", cell[c]);
            fprintf(md, "\n");
        }
        crn_sb_csv(&csv, q->name);
        crn_sb_puts(&csv, ",");
        crn_sb_csv(&csv, q->dir);
        if (hm)
            crn_sb_printf(&csv, ",%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,", q->m.accuracy, q->m.weighted[0], q->m.weighted[1],
                          q->m.weighted[2], q->m.macro[0], q->m.macro[1], q->m.macro[2]);
        else
            crn_sb_puts(&csv, ",,,,,,,,");
        if (hm && q->m.top5_accuracy >= 0) crn_sb_printf(&csv, "%.6f", q->m.top5_accuracy);
        if (q->nep) crn_sb_printf(&csv, ",%d,%d,%.3f\n", q->epochs, q->best_epoch, q->images_per_s);
        else crn_sb_puts(&csv, ",,,\n");
    }
    if ((rc = crn_mkdirs(out_dir, err)) != CRN_OK) goto out;
    char path[4200];
    snprintf(path, sizeof path, "%s/compare.csv", out_dir);
    if ((rc = crn_sb_save(&csv, path, err)) != CRN_OK) goto out;

    /* HTML */
    crn_sb_puts(&h, "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n"
                    "<meta charset=\"utf-8\"/>\n<title>clresnet: comparison of runs</title>\n<style>\n"
                    "body{background:#ffffff;color:#111111;font-family:Helvetica,Arial,sans-serif;margin:24px;max-width:1200px}\n"
                    "h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #999999;margin-top:28px;"
                    "break-after:avoid;page-break-after:avoid}\n"
                    "table{border-collapse:collapse;font-size:13px}th,td{border:1px solid #bbbbbb;padding:3px 8px}"
                    "th{background:#eeeeee}td.n{text-align:right}\n"
                    "figure{margin:12px 0;break-inside:avoid;page-break-inside:avoid}svg{max-width:100%;height:auto}\n"
                    ".note{color:#555555;font-style:italic}figcaption{font-size:12px;color:#333333}\n"
                    "</style>\n</head>\n<body>\n<h1>Comparison of runs</h1>\n<h2>Test results</h2>\n<table>\n<tr>");
    for (int c = 0; c < NCOL; c++) crn_sb_printf(&h, "<th>%s</th>", hdr[c]);
    crn_sb_puts(&h, "</tr>\n");
    for (int i = 0; i < nruns; i++) {
        const run_info *q = &r[i];
        bool hm = q->has_metrics;
        num_or_dash(cell[1], 64, hm, "%.4f", q->m.accuracy);
        num_or_dash(cell[2], 64, hm, "%.4f", q->m.weighted[0]);
        num_or_dash(cell[3], 64, hm, "%.4f", q->m.weighted[1]);
        num_or_dash(cell[4], 64, hm, "%.4f", q->m.weighted[2]);
        num_or_dash(cell[5], 64, hm, "%.4f", q->m.macro[2]);
        num_or_dash(cell[6], 64, hm && q->m.top5_accuracy >= 0, "%.4f", q->m.top5_accuracy);
        num_or_dash(cell[7], 64, q->nep > 0, "%.0f", q->epochs);
        num_or_dash(cell[8], 64, q->best_epoch > 0, "%.0f", q->best_epoch);
        num_or_dash(cell[9], 64, q->nep > 0, "%.1f", q->images_per_s);
        crn_sb_printf(&h, "<tr><td><span style=\"color:%s\">&#9632;</span> ", crn_svg_color(i));
        crn_sb_xml(&h, q->name);
        crn_sb_puts(&h, "</td>");
        for (int c = 1; c < NCOL; c++) crn_sb_printf(&h, "<td class=\"n\">%s</td>", cell[c]);
        crn_sb_puts(&h, "</tr>\n");
    }
    crn_sb_puts(&h, "</table>\n<p class=\"note\">Precision, recall and F1 weighted by class support (sklearn's "
                    "average='weighted'); images/s over the training phases.</p>\n<p>Run folders:</p>\n<ul>\n");
    for (int i = 0; i < nruns; i++) {
        crn_sb_puts(&h, "<li>");
        crn_sb_xml(&h, r[i].name);
        crn_sb_puts(&h, ": <code>");
        crn_sb_xml(&h, r[i].dir);
        crn_sb_puts(&h, "</code></li>\n");
    }
    crn_sb_puts(&h, "</ul>\n<h2>Training curves</h2>\n");
    crn_svg_series *ser = calloc((size_t)nruns, sizeof *ser);
    if (!ser) {
        rc = crn_fail(err, CRN_ENOMEM, "compare: out of memory");
        goto out;
    }
    struct {
        const char *title, *ylabel;
        int which;
        double lo, hi;
    } charts[4] = {{"Validation accuracy per epoch", "accuracy", 0, 0, 1},
                   {"Training accuracy per epoch", "accuracy", 1, 0, 1},
                   {"Validation loss per epoch", "cross-entropy loss", 2, 0, 0},
                   {"Training loss per epoch", "cross-entropy loss", 3, 0, 0}};
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
        crn_sb_puts(&h, "<figure>\n");
        if (svg.s) crn_sb_puts(&h, svg.s);
        if (svg.oom) h.oom = true;
        crn_sb_puts(&h, "</figure>\n");
        crn_sb_free(&svg);
    }
    free(ser);

    /* per-class F1: runs x classes */
    int k = 0, nm = 0;
    for (int i = 0; i < nruns; i++)
        if (r[i].has_metrics) {
            if (!k) k = r[i].m.num_classes;
            if (r[i].m.num_classes == k) nm++;
        }
    crn_sb_puts(&h, "<h2>Per-class F1</h2>\n");
    if (nm) {
        double *v = calloc((size_t)nm * k, sizeof *v);
        const char **labels = calloc((size_t)nm, sizeof *labels);
        if (!v || !labels) {
            free(v);
            free(labels);
            rc = crn_fail(err, CRN_ENOMEM, "compare: out of memory");
            goto out;
        }
        int row = 0;
        for (int i = 0; i < nruns; i++)
            if (r[i].has_metrics && r[i].m.num_classes == k) {
                labels[row] = r[i].name;
                memcpy(v + (size_t)row * k, r[i].m.f1, sizeof(double) * (size_t)k);
                row++;
            }
        int cell_px = k <= 30 ? 24 : k <= 120 ? 9 : 4;
        crn_svg_heatmap(&svg, cell_px, 20, "F1 per class and run", "class", NULL, v, nm, k, 1.0, false, labels, "F1");
        crn_sb_puts(&h, "<figure>\n");
        if (svg.s) crn_sb_puts(&h, svg.s);
        crn_sb_puts(&h, "<figcaption>Rows: runs; columns: classes 1..k; darker is a higher F1 "
                        "(linear scale); white is 0.</figcaption>\n</figure>\n");
        crn_sb_free(&svg);
        /* and a table of the classes under the pass mark per run */
        crn_sb_puts(&h, "<table>\n<tr><th>run</th><th>macro F1</th><th>classes with F1 &#8805; 0.7</th></tr>\n");
        for (int i = 0; i < nruns; i++)
            if (r[i].has_metrics) {
                crn_sb_puts(&h, "<tr><td>");
                crn_sb_xml(&h, r[i].name);
                crn_sb_printf(&h, "</td><td class=\"n\">%.4f</td><td class=\"n\">%.1f%%</td></tr>\n", r[i].m.macro[2],
                              100 * r[i].m.pass_share[2]);
            }
        crn_sb_puts(&h, "</table>\n");
        free(v);
        free(labels);
    } else {
        crn_sb_puts(&h, "<p class=\"note\">No run has metrics.json.</p>\n");
    }
    crn_sb_puts(&h, "</body>\n</html>\n");
    snprintf(path, sizeof path, "%s/compare.html", out_dir);
    rc = crn_sb_save(&h, path, err);
out:
    for (int i = 0; i < nruns; i++) run_free(&r[i]);
    free(r);
    crn_sb_free(&csv);
    crn_sb_free(&h);
    crn_sb_free(&svg);
    return rc;
}
