#define _XOPEN_SOURCE 700 /* realpath */
/* report.html and the chart .svg files of a run folder (see report.h). */
#include "clresnet/eval/report.h"

#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <errno.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clresnet/core/file_util.h"
#include "clresnet/eval/metrics.h"
#include "clresnet/eval/run_log.h"
#include "clresnet/eval/svg.h"

enum { MAX_EPOCHS = 4096 };

static bool file_exists(const char *dir, const char *name)
{
    char p[CRN_PATH_MAX];
    return crn_path_fmt(p, sizeof p, NULL, "%s/%s", dir, name) == CRN_OK && access(p, R_OK) == 0; /* too long: not there */
}

void crn_run_name(const char *run_dir, char *buf, size_t size)
{
    json_t *c = crn_run_json(run_dir, "config.json");
    const char *model = c ? json_string_value(json_object_get(c, "model")) : NULL;
    if (model) {
        const char *act = json_string_value(json_object_get(c, "act"));
        json_t *fa = json_object_get(c, "final_act");
        bool nfa = json_is_false(fa) || (json_is_integer(fa) && json_integer_value(fa) == 0);
        json_t *bn = json_object_get(c, "batchnorm");
        double width = json_is_number(json_object_get(c, "width")) ? json_number_value(json_object_get(c, "width")) : 1;
        char wbuf[32] = "";
        if (width != 1) snprintf(wbuf, sizeof wbuf, "/width-%g", width);
        snprintf(buf, size, "%s/%s%s%s%s", model, act ? act : "?", nfa ? "/no-final-act" : "",
                 json_is_false(bn) ? "/no-batchnorm" : "", wbuf);
    } else {
        size_t n = strlen(run_dir);
        while (n > 1 && run_dir[n - 1] == '/') n--;
        size_t s = n;
        while (s > 0 && run_dir[s - 1] != '/') s--;
        snprintf(buf, size, "%.*s", (int)(n - s), run_dir + s);
    }
    if (c) json_decref(c);
}

static int save_svg(const char *dir, const char *name, const crn_sb *svg, crn_error *err)
{
    char p[CRN_PATH_MAX];
    int rc = crn_path_fmt(p, sizeof p, err, "%s/%s", dir, name);
    if (rc) return rc;
    crn_sb f = {0};
    crn_sb_puts(&f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    if (svg->s) crn_sb_puts(&f, svg->s);
    if (svg->oom) f.oom = true;
    rc = crn_sb_save(&f, p, err);
    crn_sb_free(&f);
    return rc;
}

/* Adds a chart to the page and writes it as name.svg. */
static int figure(crn_sb *html, const char *dir, const char *name, crn_sb *svg, const char *caption, crn_error *err)
{
    int rc = save_svg(dir, name, svg, err);
    crn_sb_puts(html, "<figure>\n");
    if (svg->s) crn_sb_puts(html, svg->s);
    if (caption) {
        crn_sb_puts(html, "<figcaption>");
        crn_sb_xml(html, caption);
        crn_sb_puts(html, " (also <a href=\"");
        crn_sb_xml(html, name);
        crn_sb_puts(html, "\">");
        crn_sb_xml(html, name);
        crn_sb_puts(html, "</a>)</figcaption>\n");
    }
    crn_sb_puts(html, "</figure>\n");
    crn_sb_free(svg);
    return rc;
}

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

static void json_value_text(crn_sb *b, json_t *v)
{
    if (json_is_string(v)) {
        crn_sb_xml(b, json_string_value(v));
    } else if (json_is_real(v)) {
        crn_sb_printf(b, "%g", json_real_value(v));
    } else {
        char *t = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(6));
        if (t) crn_sb_xml(b, t);
        free(t);
    }
}

static const char *const CSS =
    "body{background:#ffffff;color:#111111;font-family:Helvetica,Arial,sans-serif;margin:24px;max-width:1200px}\n"
    "h1{font-size:22px;margin-bottom:4px}h2{font-size:18px;border-bottom:1px solid #999999;padding-bottom:3px;"
    "margin-top:28px;break-after:avoid;page-break-after:avoid}\n"
    "h3{font-size:15px;break-after:avoid;page-break-after:avoid}\n"
    "table{border-collapse:collapse;margin:8px 0;font-size:13px}\n"
    "th,td{border:1px solid #bbbbbb;padding:3px 8px;text-align:left}th{background:#eeeeee}\n"
    "td.n{text-align:right;font-variant-numeric:tabular-nums}\n"
    "figure{margin:12px 0;break-inside:avoid;page-break-inside:avoid}\n"
    "figcaption{font-size:12px;color:#333333}\n"
    "svg{max-width:100%;height:auto}\n"
    "section{margin-bottom:18px}\n"
    ".note{color:#555555;font-style:italic}\n"
    ".under{font-size:13px}\n"
    "tr.low td{background:#fde8e2}\n"
    "a{color:#1f4e99}\n"
    "@media print{body{margin:10mm;max-width:none}a{color:#111111;text-decoration:none}}\n";

/* What the report is made from: the run folder's files, each optional. */
typedef struct report {
    const char *dir;
    crn_epoch_record *ep;
    int nep;
    crn_metrics m;
    bool have_metrics, have_log, have_splits;
    char **mnames;
    int mk;
    crn_class_table ct;
    json_t *cfg, *mjson;
    char **names; /* class names from metrics.json, else splits.json; may be NULL */
    int k;        /* classes */
    char runname[256];
    char split[16];   /* the split the metrics are of: "test" unless metrics.json says otherwise */
    crn_sb h, svg;
    char title[512];
} report;

static int oom(crn_error *err) { return crn_fail(err, CRN_ENOMEM, "report: out of memory"); }

static int load_inputs(report *r, crn_error *err)
{
    struct stat st;
    if (stat(r->dir, &st) != 0) return crn_fail(err, CRN_EIO, "%s: %s", r->dir, strerror(errno));
    if (!S_ISDIR(st.st_mode)) return crn_fail(err, CRN_EINVAL, "%s is not a folder (give a run folder)", r->dir);
    r->cfg = crn_run_json(r->dir, "config.json");
    if (file_exists(r->dir, "log.jsonl")) {
        r->ep = calloc(MAX_EPOCHS, sizeof *r->ep);
        if (!r->ep) return oom(err);
        r->nep = crn_run_log_read(r->dir, r->ep, MAX_EPOCHS, err);
        if (r->nep < 0) return r->nep;
        r->have_log = r->nep > 0;
    }
    if (file_exists(r->dir, "metrics.json")) {
        int rc = crn_metrics_read(&r->m, &r->mnames, r->dir, err);
        if (rc != CRN_OK) return rc;
        r->have_metrics = true;
        r->mk = r->m.num_classes;
        char p[CRN_PATH_MAX];
        json_error_t je;
        if (crn_path_fmt(p, sizeof p, NULL, "%s/metrics.json", r->dir) == CRN_OK) r->mjson = json_load_file(p, 0, &je);
    }
    if (file_exists(r->dir, "splits.json")) {
        int rc = crn_class_table_read(&r->ct, r->dir, err);
        if (rc != CRN_OK) return rc;
        r->have_splits = true;
    }
    if (!r->have_log && !r->have_metrics)
        return crn_fail(err, CRN_EINVAL, "%s: no log.jsonl with epochs and no metrics.json: nothing to report", r->dir);
    if (r->have_metrics && r->have_splits && r->ct.num_classes != r->m.num_classes) r->have_splits = false;
    r->names = r->mnames ? r->mnames : (r->have_splits ? r->ct.names : NULL);
    const char *split = r->mjson ? json_string_value(json_object_get(r->mjson, "split")) : NULL;
    snprintf(r->split, sizeof r->split, "%s", split ? split : "test");
    r->k = r->have_metrics ? r->m.num_classes : (r->have_splits ? r->ct.num_classes : 0);
    crn_run_name(r->dir, r->runname, sizeof r->runname);
    return CRN_OK;
}

/* The images a --skip-bad run left out (config.json, from the data check). */
static void skipped_note(report *r)
{
    json_t *sk = r->cfg ? json_object_get(r->cfg, "skipped_images") : NULL;
    size_t n = json_is_array(sk) ? json_array_size(sk) : 0;
    if (!n) return;
    crn_sb *h = &r->h;
    crn_sb_printf(h, "<p class=\"note\">%zu unreadable image%s left out of this run (--skip-bad):</p>\n<ul>\n", n,
                  n == 1 ? " was" : "s were");
    size_t i;
    json_t *e;
    json_array_foreach(sk, i, e) {
        const char *split = json_string_value(json_object_get(e, "split"));
        const char *reason = json_string_value(json_object_get(e, "reason"));
        crn_sb_puts(h, "<li>");
        crn_sb_xml(h, split ? split : "");
        crn_sb_puts(h, ": ");
        crn_sb_xml(h, reason ? reason : "");
        crn_sb_puts(h, "</li>\n");
    }
    crn_sb_puts(h, "</ul>\n");
}

static void section_summary(report *r)
{
    crn_sb *h = &r->h;
    const crn_metrics *m = &r->m;
    crn_sb_puts(h, "<section>\n<h2>Results</h2>\n");
    if (!r->have_metrics) {
        crn_sb_puts(h, "<p class=\"note\">No metrics.json in this run folder yet: run <code>clresnet evaluate</code> "
                       "to add the test metrics.</p>\n</section>\n");
        return;
    }
    const char *ckpt = r->mjson ? json_string_value(json_object_get(r->mjson, "checkpoint")) : NULL;
    crn_sb_puts(h, "<p>Evaluated on the <b>");
    crn_sb_xml(h, r->split);
    crn_sb_printf(h, "</b> split: %lld images, %d classes", m->n, r->k);
    if (ckpt) {
        crn_sb_puts(h, ", weights <code>");
        crn_sb_xml(h, ckpt);
        crn_sb_puts(h, "</code>");
        json_t *ep = r->mjson ? json_object_get(r->mjson, "checkpoint_epoch") : NULL;
        if (json_is_integer(ep)) crn_sb_printf(h, " (written after epoch %lld)", (long long)json_integer_value(ep));
    }
    crn_sb_puts(h, ".</p>\n");
    skipped_note(r);
    crn_sb_puts(h, "<table>\n<tr><th></th><th>precision</th><th>recall</th><th>F1</th></tr>\n");
    crn_sb_printf(h, "<tr><th>weighted (by support)</th><td class=\"n\">%.4f</td><td class=\"n\">%.4f</td><td class=\"n\">%.4f</td></tr>\n",
                  m->weighted[0], m->weighted[1], m->weighted[2]);
    crn_sb_printf(h, "<tr><th>macro</th><td class=\"n\">%.4f</td><td class=\"n\">%.4f</td><td class=\"n\">%.4f</td></tr>\n",
                  m->macro[0], m->macro[1], m->macro[2]);
    crn_sb_puts(h, "</table>\n<table>\n");
    crn_sb_printf(h, "<tr><th>accuracy</th><td class=\"n\">%.4f</td></tr>\n", m->accuracy);
    if (m->top5_accuracy >= 0) crn_sb_printf(h, "<tr><th>top-5 accuracy</th><td class=\"n\">%.4f</td></tr>\n", m->top5_accuracy);
    if (m->loss >= 0) crn_sb_printf(h, "<tr><th>loss (cross-entropy)</th><td class=\"n\">%.4f</td></tr>\n", m->loss);
    crn_sb_puts(h, "</table>\n");
    crn_sb_printf(h, "<h3>Share of classes at or above the %.2g pass mark</h3>\n<table>\n"
                     "<tr><th>metric</th><th>share</th><th>classes</th><th>under the mark</th></tr>\n",
                  m->pass_mark);
    const char *mn[3] = {"precision", "recall", "F1"};
    for (int j = 0; j < 3; j++)
        crn_sb_printf(h, "<tr><td>%s</td><td class=\"n\">%.1f%%</td><td class=\"n\">%d of %d</td><td class=\"n\">%d</td></tr>\n",
                      mn[j], 100 * m->pass_share[j], m->classes_with_support - m->under_count[j], m->classes_with_support,
                      m->under_count[j]);
    crn_sb_printf(h, "</table>\n<p class=\"note\">Among the classes with %s samples; sklearn's definitions "
                     "(a class never predicted has precision 0).</p>\n</section>\n", r->split);
}

static int section_curves(report *r, crn_error *err)
{
    crn_sb_puts(&r->h, "<section>\n<h2>Training curves</h2>\n");
    if (!r->have_log) {
        char up[CRN_PATH_MAX];
        crn_path_fmt(up, sizeof up, NULL, "%s/..", r->dir); /* too long: "", not a run */
        if (file_exists(up, "log.jsonl")) /* an evaluation inside a run folder (RUN/eval-val) */
            crn_sb_puts(&r->h, "<p class=\"note\">This folder holds an evaluation of the run one folder up; its "
                               "training curves are in <a href=\"../report.html\">the run's report</a>.</p>\n"
                               "</section>\n");
        else crn_sb_puts(&r->h, "<p class=\"note\">No log.jsonl: no training curves.</p>\n</section>\n");
        return CRN_OK;
    }
    int nep = r->nep;
    double *xs = malloc(sizeof(double) * 5 * (size_t)nep);
    if (!xs) return oom(err);
    double *ex = xs, *a = xs + nep, *b = xs + 2 * nep, *c = xs + 3 * nep, *d = xs + 4 * nep;
    for (int i = 0; i < nep; i++) {
        ex[i] = r->ep[i].epoch;
        a[i] = r->ep[i].train_acc;
        b[i] = r->ep[i].val_acc;
        c[i] = r->ep[i].train_loss;
        d[i] = r->ep[i].val_loss;
    }
    crn_svg_series acc[2] = {{"train accuracy", ex, a, nep, "#1f77b4", false},
                             {"validation accuracy", ex, b, nep, "#d62728", true}};
    snprintf(r->title, sizeof r->title, "Accuracy per epoch: %s", r->runname);
    crn_svg_line_chart(&r->svg, 900, 360, r->title, "epoch", "accuracy", acc, 2, 0, 1);
    int rc = figure(&r->h, r->dir, "curves_accuracy.svg", &r->svg, "Training and validation accuracy per epoch", err);
    crn_svg_series los[2] = {{"train loss", ex, c, nep, "#1f77b4", false},
                             {"validation loss", ex, d, nep, "#d62728", true}};
    snprintf(r->title, sizeof r->title, "Loss per epoch: %s", r->runname);
    crn_svg_line_chart(&r->svg, 900, 360, r->title, "epoch", "cross-entropy loss", los, 2, 0, 0);
    if (rc == CRN_OK) rc = figure(&r->h, r->dir, "curves_loss.svg", &r->svg, "Training and validation loss per epoch", err);
    free(xs);
    if (rc == CRN_OK) crn_sb_puts(&r->h, "</section>\n");
    return rc;
}

static int section_per_class(report *r, crn_error *err)
{
    if (!r->have_metrics) return CRN_OK;
    crn_sb *h = &r->h;
    const crn_metrics *m = &r->m;
    crn_sb_puts(h, "<section>\n<h2>Per-class precision, recall and F1</h2>\n");
    const char *files[3] = {"per_class_precision.svg", "per_class_recall.svg", "per_class_f1.svg"};
    const char *mn[3] = {"Precision", "Recall", "F1"};
    const double *vals[3] = {m->precision, m->recall, m->f1};
    char mark[64];
    snprintf(mark, sizeof mark, "pass mark %.2g", m->pass_mark);
    for (int j = 0; j < 3; j++) {
        snprintf(r->title, sizeof r->title, "%s per class (bars under %.2g in red)", mn[j], m->pass_mark);
        crn_svg_bar_chart(&r->svg, 1100, 330, r->title, "class", mn[j], vals[j], r->k, 0, 1, m->pass_mark, mark, true);
        snprintf(r->title, sizeof r->title, "%s of each class on the %s split", mn[j], r->split);
        int rc = figure(h, r->dir, files[j], &r->svg, r->title, err);
        if (rc != CRN_OK) return rc;
        crn_sb_printf(h, "<p class=\"under\"><b>%d classes under %.2g in %s</b>%s", m->under_count[j], m->pass_mark,
                      mn[j], m->under_count[j] ? ": " : ".");
        for (int i = 0; i < m->under_count[j]; i++) {
            int c = m->under[j][i];
            crn_sb_printf(h, "%s%d", i ? "; " : "", c + 1);
            if (r->names && r->names[c] && r->names[c][0]) {
                crn_sb_puts(h, " ");
                crn_sb_xml(h, r->names[c]);
            }
            crn_sb_printf(h, " (%.2f)", vals[j][c]);
        }
        crn_sb_puts(h, "</p>\n");
    }
    crn_sb_puts(h, "</section>\n");
    return CRN_OK;
}

/* The table of per-split class counts: total, min, median, max, empty. */
static int split_count_table(report *r, crn_error *err)
{
    crn_sb *h = &r->h;
    const crn_class_table *ct = &r->ct;
    int kk = ct->num_classes;
    crn_sb_puts(h, "<table>\n<tr><th>split</th><th>images</th><th>min per class</th><th>median</th>"
                   "<th>max per class</th><th>classes with none</th></tr>\n");
    const char *sn[3] = {"train", "validation", "test"};
    long long *tmp = malloc(sizeof(long long) * (size_t)kk);
    if (!tmp) return oom(err);
    for (int s = 0; s < 3; s++) {
        if (!ct->counts[s]) continue;
        long long t = 0;
        int zero = 0;
        for (int c = 0; c < kk; c++) {
            tmp[c] = ct->counts[s][c];
            t += tmp[c];
            zero += tmp[c] == 0;
        }
        qsort(tmp, (size_t)kk, sizeof *tmp, cmp_ll);
        double med = kk % 2 ? (double)tmp[kk / 2] : (tmp[kk / 2 - 1] + tmp[kk / 2]) / 2.0;
        crn_sb_printf(h, "<tr><td>%s</td><td class=\"n\">%lld</td><td class=\"n\">%lld</td><td class=\"n\">%g</td>"
                         "<td class=\"n\">%lld</td><td class=\"n\">%d</td></tr>\n",
                      sn[s], t, tmp[0], med, tmp[kk - 1], zero);
    }
    free(tmp);
    crn_sb_puts(h, "</table>\n");
    return CRN_OK;
}

static int section_distribution(report *r, crn_error *err)
{
    crn_sb *h = &r->h;
    const crn_class_table *ct = &r->ct;
    crn_sb_puts(h, "<section>\n<h2>Label distribution</h2>\n");
    if (!r->have_splits || !ct->counts[0]) {
        crn_sb_puts(h, "<p class=\"note\">No splits.json: the class counts of the splits are unknown.</p>\n</section>\n");
        return CRN_OK;
    }
    int kk = ct->num_classes;
    double *v = malloc(sizeof(double) * (size_t)kk);
    if (!v) return oom(err);
    long long tot = 0, mn = -1, mx = 0;
    for (int c = 0; c < kk; c++) {
        v[c] = (double)ct->counts[0][c];
        tot += ct->counts[0][c];
        if (mn < 0 || ct->counts[0][c] < mn) mn = ct->counts[0][c];
        if (ct->counts[0][c] > mx) mx = ct->counts[0][c];
    }
    snprintf(r->title, sizeof r->title, "Training split: %lld images, %lld to %lld per class", tot, mn, mx);
    crn_svg_bar_chart(&r->svg, 1100, 330, r->title, "class", "images", v, kk, 0, 0, 20, "20 images", false);
    free(v);
    int rc = figure(h, r->dir, "train_distribution.svg", &r->svg,
                    "Images per class in the split the model trained on, with a line at 20 images", err);
    if (rc != CRN_OK) return rc;
    if (ct->split_mode[0]) {
        crn_sb_puts(h, "<p>Split mode: <b>");
        crn_sb_xml(h, ct->split_mode);
        crn_sb_puts(h, "</b>");
        if (!strcmp(ct->split_mode, "seed"))
            crn_sb_puts(h, " (as the seed report: trains on the official test ids <code>tstid</code>, validates on "
                           "<code>valid</code>, tests on the official training ids <code>trnid</code>)");
        crn_sb_puts(h, ".</p>\n");
    }
    if ((rc = split_count_table(r, err)) == CRN_OK) crn_sb_puts(h, "</section>\n");
    return rc;
}

static void per_class_table(report *r)
{
    crn_sb *h = &r->h;
    const crn_metrics *m = &r->m;
    crn_sb_puts(h, "<section>\n<h2>Per-class table</h2>\n<table>\n<tr><th>class</th><th>name</th>"
                   "<th>precision</th><th>recall</th><th>F1</th><th>support</th><th>predicted</th>");
    if (r->have_splits) crn_sb_puts(h, "<th>train</th><th>val</th><th>test</th>");
    crn_sb_puts(h, "</tr>\n");
    for (int c = 0; c < r->k; c++) {
        bool low = m->support[c] && (m->precision[c] < m->pass_mark - 1e-9 || m->recall[c] < m->pass_mark - 1e-9 ||
                                     m->f1[c] < m->pass_mark - 1e-9);
        crn_sb_printf(h, "<tr%s><td class=\"n\">%d</td><td>", low ? " class=\"low\"" : "", c + 1);
        if (r->names && r->names[c]) crn_sb_xml(h, r->names[c]);
        crn_sb_printf(h, "</td><td class=\"n\">%.3f</td><td class=\"n\">%.3f</td><td class=\"n\">%.3f</td>"
                         "<td class=\"n\">%lld</td><td class=\"n\">%lld</td>",
                      m->precision[c], m->recall[c], m->f1[c], m->support[c], m->predicted[c]);
        if (r->have_splits)
            for (int s = 0; s < 3; s++) {
                if (r->ct.counts[s]) crn_sb_printf(h, "<td class=\"n\">%lld</td>", r->ct.counts[s][c]);
                else crn_sb_puts(h, "<td></td>");
            }
        crn_sb_puts(h, "</tr>\n");
    }
    crn_sb_puts(h, "</table>\n<p class=\"note\">Shaded rows: a metric under the pass mark.</p>\n</section>\n");
}

static int section_confusion(report *r, crn_error *err)
{
    if (!r->have_metrics) return CRN_OK;
    int k = r->k;
    const crn_metrics *m = &r->m;
    crn_sb_puts(&r->h, "<section>\n<h2>Confusion matrix</h2>\n");
    double *v = calloc((size_t)k * k, sizeof *v);
    if (!v) return oom(err);
    for (int row = 0; row < k; row++)
        for (int c = 0; c < k; c++)
            v[(size_t)row * k + c] = m->support[row] ? (double)m->confusion[(size_t)row * k + c] / (double)m->support[row] : 0;
    int cell = k <= 20 ? 24 : k <= 60 ? 10 : k <= 120 ? 7 : 3;
    crn_svg_heatmap(&r->svg, cell, cell, "Confusion matrix (each row divided by the class's support)", "predicted class",
                    "true class", v, k, k, 1.0, true, NULL, "share of row");
    free(v);
    int rc = figure(&r->h, r->dir, "confusion.svg", &r->svg,
                    "Rows: true class; columns: predicted class; colour: share of the true class's images "
                    "(square-root scale); the counts are in confusion.csv",
                    err);
    if (rc != CRN_OK) return rc;
    crn_sb_puts(&r->h, "</section>\n");
    per_class_table(r);
    return CRN_OK;
}

static void timings_table(report *r)
{
    const crn_epoch_record *ep = r->ep;
    int nep = r->nep;
    double secs = 0, imgs = 0;
    int best = 0;
    double best_loss = 0;
    for (int i = 0; i < nep; i++) {
        secs += ep[i].seconds;
        imgs += ep[i].train_images_per_s * ep[i].seconds;
        if (ep[i].best) best = ep[i].epoch, best_loss = ep[i].val_loss;
    }
    crn_sb *h = &r->h;
    crn_sb_printf(h, "<table>\n<tr><th>epochs run</th><td class=\"n\">%d</td></tr>\n", ep[nep - 1].epoch);
    if (best) crn_sb_printf(h, "<tr><th>best epoch (lowest validation loss)</th><td class=\"n\">%d (%.4f)</td></tr>\n", best, best_loss);
    crn_sb_printf(h, "<tr><th>training time</th><td class=\"n\">%.1f s (%.2f h)</td></tr>\n", secs, secs / 3600);
    crn_sb_printf(h, "<tr><th>training images/s</th><td class=\"n\">%.1f</td></tr>\n", secs > 0 ? imgs / secs : 0);
    crn_sb_printf(h, "<tr><th>final validation accuracy</th><td class=\"n\">%.4f</td></tr>\n</table>\n", ep[nep - 1].val_acc);
}

static void section_config(report *r)
{
    crn_sb *h = &r->h;
    crn_sb_puts(h, "<section>\n<h2>Configuration, device and timings</h2>\n");
    json_t *dev = r->cfg ? json_object_get(r->cfg, "device") : NULL;
    if (json_is_string(dev)) {
        crn_sb_puts(h, "<p>Device: <b>");
        crn_sb_xml(h, json_string_value(dev));
        crn_sb_puts(h, "</b></p>\n");
    }
    if (r->have_log) timings_table(r);
    if (r->cfg) {
        crn_sb_puts(h, "<h3>config.json</h3>\n<table>\n<tr><th>setting</th><th>value</th></tr>\n");
        const char *key;
        json_t *val;
        json_object_foreach(r->cfg, key, val) {
            crn_sb_puts(h, "<tr><td>");
            crn_sb_xml(h, key);
            crn_sb_puts(h, "</td><td>");
            json_value_text(h, val);
            crn_sb_puts(h, "</td></tr>\n");
        }
        crn_sb_puts(h, "</table>\n");
    } else {
        crn_sb_puts(h, "<p class=\"note\">No config.json in this run folder.</p>\n");
    }
    if (r->have_log) {
        const crn_epoch_record *ep = r->ep;
        crn_sb_puts(h, "<h3>Per-epoch log</h3>\n<table>\n<tr><th>epoch</th><th>train loss</th><th>train acc</th>"
                       "<th>val loss</th><th>val acc</th><th>lr</th><th>seconds</th><th>images/s</th><th>best</th></tr>\n");
        for (int i = 0; i < r->nep; i++)
            crn_sb_printf(h, "<tr><td class=\"n\">%d</td><td class=\"n\">%.4f</td><td class=\"n\">%.4f</td>"
                             "<td class=\"n\">%.4f</td><td class=\"n\">%.4f</td><td class=\"n\">%g</td>"
                             "<td class=\"n\">%.1f</td><td class=\"n\">%.1f</td><td>%s</td></tr>\n",
                          ep[i].epoch, ep[i].train_loss, ep[i].train_acc, ep[i].val_loss, ep[i].val_acc, ep[i].lr,
                          ep[i].seconds, ep[i].train_images_per_s, ep[i].best ? "*" : "");
        crn_sb_puts(h, "</table>\n");
    }
    crn_sb_puts(h, "</section>\n");
}

static void report_free(report *r)
{
    free(r->ep);
    crn_sb_free(&r->h);
    crn_sb_free(&r->svg);
    crn_metrics_free(&r->m);
    crn_names_free(r->mnames, r->mk);
    crn_class_table_free(&r->ct);
    if (r->cfg) json_decref(r->cfg);
    if (r->mjson) json_decref(r->mjson);
}

int crn_report_write(const char *run_dir, char *html_path, size_t html_path_size, crn_error *err)
{
    report r;
    memset(&r, 0, sizeof r);
    r.dir = run_dir;
    int rc = load_inputs(&r, err);
    crn_sb *h = &r.h;
    if (rc == CRN_OK) {
        char title[400];
        snprintf(title, sizeof title, "%s%s%s", r.runname, r.have_metrics ? ", " : "",
                 r.have_metrics ? r.split : "");
        if (r.have_metrics) snprintf(title + strlen(title), sizeof title - strlen(title), " split");
        crn_sb_puts(h, "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n"
                       "<meta charset=\"utf-8\"/>\n<title>clresnet report: ");
        crn_sb_xml(h, title);
        crn_sb_puts(h, "</title>\n<style>\n");
        crn_sb_puts(h, CSS);
        crn_sb_puts(h, "</style>\n</head>\n<body>\n<h1>clresnet run report: ");
        crn_sb_xml(h, title);
        crn_sb_puts(h, "</h1>\n<p>Run folder: <code>");
        crn_sb_xml(h, run_dir);
        crn_sb_puts(h, "</code></p>\n");
        section_summary(&r);
        rc = section_curves(&r, err);
    }
    if (rc == CRN_OK) rc = section_per_class(&r, err);
    if (rc == CRN_OK) rc = section_distribution(&r, err);
    if (rc == CRN_OK) rc = section_confusion(&r, err);
    if (rc == CRN_OK) {
        section_config(&r);
        crn_sb_puts(h, "<p class=\"note\">Written by clresnet from the files of the run folder "
                       "(config.json, log.jsonl, metrics.json, splits.json); <code>clresnet report RUN</code> "
                       "rebuilds it.</p>\n</body>\n</html>\n");
        char p[CRN_PATH_MAX];
        rc = crn_path_fmt(p, sizeof p, err, "%s/report.html", run_dir);
        if (rc == CRN_OK) rc = crn_sb_save(h, p, err);
        if (rc == CRN_OK && html_path) snprintf(html_path, html_path_size, "%s", p);
    }
    report_free(&r);
    return rc;
}

int crn_eval_write_run(const char *dir, const crn_dataset *ds, const char *split_mode, crn_split split,
                       const float *logits, size_t n, const char *checkpoint, int checkpoint_epoch,
                       crn_metrics *m_out, char *html_path, size_t html_path_size, crn_error *err)
{
    if ((int)split < 0 || split >= CRN_SPLIT_COUNT) return crn_fail(err, CRN_EINVAL, "evaluation: bad split %d", (int)split);
    if (n != ds->count[split])
        return crn_fail(err, CRN_EINVAL, "evaluation: %zu logits rows for the %s split of %zu images", n,
                        crn_split_name(split), ds->count[split]);
    int k = ds->num_classes;
    int *labels = malloc(sizeof(int) * (n ? n : 1));
    const char **files = malloc(sizeof(char *) * (n ? n : 1));
    crn_class_table t = {0};
    crn_metrics m = {0};
    int rc = CRN_OK;
    if (!labels || !files) {
        rc = crn_fail(err, CRN_ENOMEM, "evaluation: out of memory");
        goto out;
    }
    size_t rl = ds->root ? strlen(ds->root) : 0;
    for (size_t i = 0; i < n; i++) {
        const crn_sample *s = &ds->samples[split][i];
        labels[i] = s->label;
        files[i] = s->path;
        if (s->path && rl && !strncmp(s->path, ds->root, rl)) {
            const char *r = s->path + rl;
            while (*r == '/') r++;
            if (*r) files[i] = r;
        }
    }
    if ((rc = crn_mkdirs(dir, err)) != CRN_OK) goto out;
    if ((rc = crn_class_table_from_dataset(&t, ds, split_mode, err)) != CRN_OK) goto out;
    if ((rc = crn_class_table_write(&t, dir, err)) != CRN_OK) goto out;
    if ((rc = crn_metrics_compute(&m, labels, logits, n, k, CRN_PASS_MARK, err)) != CRN_OK) goto out;
    char *data = ds->root ? realpath(ds->root, NULL) : NULL;
    crn_eval_origin origin = {crn_split_name(split), data ? data : ds->root, checkpoint, checkpoint_epoch};
    rc = crn_metrics_write(&m, &t, &origin, dir, err);
    free(data);
    if (rc != CRN_OK) goto out;
    if ((rc = crn_predictions_write(dir, &t, files, labels, logits, n, k, err)) != CRN_OK) goto out;
    rc = crn_report_write(dir, html_path, html_path_size, err);
out:
    if (rc == CRN_OK && m_out) *m_out = m;
    else crn_metrics_free(&m);
    crn_class_table_free(&t);
    free(labels);
    free(files);
    return rc;
}
