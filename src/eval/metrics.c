/* Classification metrics (sklearn's definitions) and the metric files of a
 * run folder. See metrics.h. */
#include "clresnet/eval/metrics.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clresnet/data/dataset.h"
#include "clresnet/core/file_util.h"
#include "clresnet/eval/svg.h"

static const char *const metric_names[CRN_METRIC_COUNT] = {"precision", "recall", "f1"};
static const char *const split_names[3] = {"train", "val", "test"};

void crn_metrics_free(crn_metrics *m)
{
    if (!m) return;
    free(m->precision);
    free(m->recall);
    free(m->f1);
    free(m->support);
    free(m->predicted);
    free(m->confusion);
    for (int i = 0; i < CRN_METRIC_COUNT; i++) free(m->under[i]);
    memset(m, 0, sizeof *m);
}

static int metrics_alloc(crn_metrics *m, int k, crn_error *err)
{
    memset(m, 0, sizeof *m);
    m->num_classes = k;
    size_t kk = (size_t)k;
    m->precision = calloc(kk, sizeof *m->precision);
    m->recall = calloc(kk, sizeof *m->recall);
    m->f1 = calloc(kk, sizeof *m->f1);
    m->support = calloc(kk, sizeof *m->support);
    m->predicted = calloc(kk, sizeof *m->predicted);
    m->confusion = calloc(kk * kk, sizeof *m->confusion);
    bool ok = m->precision && m->recall && m->f1 && m->support && m->predicted && m->confusion;
    for (int i = 0; i < CRN_METRIC_COUNT; i++) {
        m->under[i] = calloc(kk, sizeof *m->under[i]);
        ok = ok && m->under[i];
    }
    if (!ok) {
        crn_metrics_free(m);
        return crn_fail(err, CRN_ENOMEM, "metrics: out of memory for %d classes", k);
    }
    return CRN_OK;
}

/* Everything that follows from the confusion matrix. */
static void from_confusion(crn_metrics *m, double pass_mark)
{
    int k = m->num_classes;
    long long n = 0, correct = 0;
    for (int i = 0; i < k; i++) m->support[i] = m->predicted[i] = 0;
    for (int t = 0; t < k; t++)
        for (int p = 0; p < k; p++) {
            long long c = m->confusion[(size_t)t * k + p];
            m->support[t] += c;
            m->predicted[p] += c;
            n += c;
            if (t == p) correct += c;
        }
    m->n = n;
    m->accuracy = n ? (double)correct / (double)n : 0;
    for (int j = 0; j < CRN_METRIC_COUNT; j++) m->macro[j] = m->weighted[j] = 0;
    for (int c = 0; c < k; c++) {
        double tp = (double)m->confusion[(size_t)c * k + c];
        double fp = (double)m->predicted[c] - tp, fn = (double)m->support[c] - tp;
        m->precision[c] = m->predicted[c] ? tp / (tp + fp) : 0;             /* zero_division=0 */
        m->recall[c] = m->support[c] ? tp / (tp + fn) : 0;
        m->f1[c] = (2 * tp + fp + fn) > 0 ? 2 * tp / (2 * tp + fp + fn) : 0; /* = 2PR/(P+R) */
        double v[3] = {m->precision[c], m->recall[c], m->f1[c]};
        for (int j = 0; j < CRN_METRIC_COUNT; j++) {
            m->macro[j] += v[j];
            m->weighted[j] += v[j] * (double)m->support[c];
        }
    }
    for (int j = 0; j < CRN_METRIC_COUNT; j++) {
        m->macro[j] = k ? m->macro[j] / k : 0;
        m->weighted[j] = n ? m->weighted[j] / (double)n : 0;
    }
    m->pass_mark = pass_mark > 0 ? pass_mark : CRN_PASS_MARK;
    m->classes_with_support = 0;
    for (int j = 0; j < CRN_METRIC_COUNT; j++) m->under_count[j] = 0;
    int passed[CRN_METRIC_COUNT] = {0, 0, 0};
    for (int c = 0; c < k; c++) {
        if (!m->support[c]) continue;
        m->classes_with_support++;
        double v[3] = {m->precision[c], m->recall[c], m->f1[c]};
        for (int j = 0; j < CRN_METRIC_COUNT; j++) {
            if (v[j] >= m->pass_mark - 1e-9) passed[j]++;
            else m->under[j][m->under_count[j]++] = c;
        }
    }
    for (int j = 0; j < CRN_METRIC_COUNT; j++)
        m->pass_share[j] = m->classes_with_support ? (double)passed[j] / m->classes_with_support : 0;
}

int crn_topk_softmax(const float *scores, int k, int topn, int *cls, double *prob)
{
    if (topn > k) topn = k;
    if (topn <= 0) return 0;
    double mx = -INFINITY, sum = 0;
    for (int c = 0; c < k; c++)
        if (scores[c] > mx) mx = scores[c];
    for (int c = 0; c < k; c++) sum += exp((double)scores[c] - mx);
    int filled = 0;
    for (int c = 0; c < k; c++) {
        /* insertion into the sorted top list; strict > keeps the lower class first on ties */
        int pos = filled;
        while (pos > 0 && scores[c] > scores[cls[pos - 1]]) pos--;
        if (pos >= topn) continue;
        int end = filled < topn ? filled : topn - 1;
        for (int i = end; i > pos; i--) cls[i] = cls[i - 1];
        cls[pos] = c;
        if (filled < topn) filled++;
    }
    for (int i = 0; i < filled; i++) prob[i] = exp((double)scores[cls[i]] - mx) / sum;
    return filled;
}

int crn_metrics_compute(crn_metrics *m, const int *labels, const float *scores, size_t n, int k, double pass_mark,
                        crn_error *err)
{
    memset(m, 0, sizeof *m);
    if (k < 1) return crn_fail(err, CRN_EINVAL, "metrics: %d classes", k);
    if (n == 0) return crn_fail(err, CRN_EINVAL, "metrics: no samples");
    for (size_t i = 0; i < n; i++) {
        if (labels[i] < 0 || labels[i] >= k)
            return crn_fail(err, CRN_EINVAL, "metrics: sample %zu has label %d, outside 0..%d", i, labels[i], k - 1);
        for (int c = 0; c < k; c++)
            if (!isfinite(scores[i * (size_t)k + c]))
                return crn_fail(err, CRN_EINVAL, "metrics: sample %zu has a non-finite score for class %d", i, c + 1);
    }
    int rc = metrics_alloc(m, k, err);
    if (rc != CRN_OK) return rc;
    long long top5 = 0;
    double loss = 0;
    for (size_t i = 0; i < n; i++) {
        const float *s = scores + i * (size_t)k;
        int best = 0;
        for (int c = 1; c < k; c++)
            if (s[c] > s[best]) best = c;
        m->confusion[(size_t)labels[i] * k + best]++;
        /* top-5: the label ranks among the first 5 by score (ties to the lower class) */
        int above = 0;
        float sl = s[labels[i]];
        for (int c = 0; c < k; c++)
            if (s[c] > sl || (s[c] == sl && c < labels[i])) above++;
        if (above < 5) top5++;
        double mx = s[best], sum = 0;
        for (int c = 0; c < k; c++) sum += exp((double)s[c] - mx);
        loss += log(sum) - ((double)sl - mx);
    }
    from_confusion(m, pass_mark);
    m->top5_accuracy = (double)top5 / (double)n;
    m->loss = loss / (double)n;
    return CRN_OK;
}

int crn_metrics_from_confusion(crn_metrics *m, const long long *confusion, int k, double pass_mark, crn_error *err)
{
    memset(m, 0, sizeof *m);
    if (k < 1) return crn_fail(err, CRN_EINVAL, "metrics: %d classes", k);
    int rc = metrics_alloc(m, k, err);
    if (rc != CRN_OK) return rc;
    for (size_t i = 0; i < (size_t)k * k; i++) {
        if (confusion[i] < 0) {
            crn_metrics_free(m);
            return crn_fail(err, CRN_EINVAL, "metrics: negative count in the confusion matrix");
        }
        m->confusion[i] = confusion[i];
    }
    from_confusion(m, pass_mark);
    m->top5_accuracy = -1;
    m->loss = -1;
    return CRN_OK;
}

/* ---- class table ---- */

int crn_class_table_init(crn_class_table *t, int k, crn_error *err)
{
    memset(t, 0, sizeof *t);
    if (k < 1) return crn_fail(err, CRN_EINVAL, "class table: %d classes", k);
    t->num_classes = k;
    return CRN_OK;
}

void crn_class_table_free(crn_class_table *t)
{
    if (!t) return;
    crn_names_free(t->names, t->num_classes);
    for (int s = 0; s < 3; s++) free(t->counts[s]);
    memset(t, 0, sizeof *t);
}

void crn_names_free(char **names, int k)
{
    if (!names) return;
    for (int i = 0; i < k; i++) free(names[i]);
    free(names);
}

static char *dupstr(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

int crn_class_table_from_dataset(crn_class_table *t, const crn_dataset *ds, const char *split_mode, crn_error *err)
{
    int rc = crn_class_table_init(t, ds->num_classes, err);
    if (rc != CRN_OK) return rc;
    int k = ds->num_classes;
    if (split_mode) snprintf(t->split_mode, sizeof t->split_mode, "%s", split_mode);
    if (ds->class_names) {
        t->names = calloc((size_t)k, sizeof *t->names);
        if (!t->names) goto oom;
        for (int c = 0; c < k; c++)
            if (!(t->names[c] = dupstr(ds->class_names[c] ? ds->class_names[c] : ""))) goto oom;
    }
    size_t *tmp = calloc((size_t)k, sizeof *tmp);
    if (!tmp) goto oom;
    for (int s = 0; s < 3; s++) {
        t->counts[s] = calloc((size_t)k, sizeof *t->counts[s]);
        if (!t->counts[s]) {
            free(tmp);
            goto oom;
        }
        crn_dataset_class_counts(ds, (crn_split)s, tmp);
        for (int c = 0; c < k; c++) t->counts[s][c] = (long long)tmp[c];
    }
    free(tmp);
    return CRN_OK;
oom:
    crn_class_table_free(t);
    return crn_fail(err, CRN_ENOMEM, "class table: out of memory");
}

const char *crn_class_table_name(const crn_class_table *t, int c, char *buf, size_t size)
{
    if (t && t->names && c >= 0 && c < t->num_classes && t->names[c] && t->names[c][0]) return t->names[c];
    snprintf(buf, size, "%d", c + 1);
    return buf;
}

/* Writes b (and frees it) as dir/name. */
static int save_text(crn_sb *b, const char *dir, const char *name, crn_error *err)
{
    char path[CRN_PATH_MAX];
    int rc = crn_path_fmt(path, sizeof path, err, "%s/%s", dir, name);
    if (rc == CRN_OK) rc = crn_sb_save(b, path, err);
    crn_sb_free(b);
    return rc;
}

/* Writes o (and releases it) as dir/name. */
static int save_json(json_t *o, const char *dir, const char *name, crn_error *err)
{
    char path[CRN_PATH_MAX];
    int prc = crn_path_fmt(path, sizeof path, err, "%s/%s", dir, name);
    char *text = prc ? NULL : json_dumps(o, JSON_INDENT(1) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
    json_decref(o);
    if (prc) return prc;
    if (!text) return crn_fail(err, CRN_ENOMEM, "%s: out of memory", path);
    size_t n = strlen(text);
    int rc = crn_write_file_atomic(path, text, n, err);
    free(text);
    return rc;
}

int crn_class_table_write(const crn_class_table *t, const char *dir, crn_error *err)
{
    json_t *o = json_object();
    json_object_set_new(o, "num_classes", json_integer(t->num_classes));
    json_object_set_new(o, "split_mode", json_string(t->split_mode));
    if (t->names) {
        json_t *a = json_array();
        for (int c = 0; c < t->num_classes; c++) json_array_append_new(a, json_string(t->names[c] ? t->names[c] : ""));
        json_object_set_new(o, "class_names", a);
    } else {
        json_object_set_new(o, "class_names", json_null());
    }
    json_t *sp = json_object();
    for (int s = 0; s < 3; s++) {
        if (!t->counts[s]) continue;
        json_t *a = json_array();
        for (int c = 0; c < t->num_classes; c++) json_array_append_new(a, json_integer(t->counts[s][c]));
        json_object_set_new(sp, split_names[s], a);
    }
    json_object_set_new(o, "class_counts", sp);
    return save_json(o, dir, "splits.json", err);
}

static int load_json(const char *path, json_t **out, crn_error *err)
{
    char *text = NULL;
    size_t n = 0;
    *out = NULL;
    int rc = crn_read_file(path, &text, &n, err);
    if (rc != CRN_OK) return rc;
    json_error_t je;
    json_t *o = json_loadb(text, n, 0, &je);
    free(text);
    if (!o) return crn_fail(err, CRN_EFORMAT, "%s:%d: %s", path, je.line, je.text);
    if (!json_is_object(o)) {
        json_decref(o);
        return crn_fail(err, CRN_EFORMAT, "%s: not a JSON object", path);
    }
    *out = o;
    return CRN_OK;
}

static char **read_names(json_t *a, int k)
{
    if (!json_is_array(a) || (int)json_array_size(a) != k) return NULL;
    char **names = calloc((size_t)k, sizeof *names);
    if (!names) return NULL;
    for (int c = 0; c < k; c++) {
        const char *s = json_string_value(json_array_get(a, (size_t)c));
        names[c] = dupstr(s ? s : "");
        if (!names[c]) {
            crn_names_free(names, k);
            return NULL;
        }
    }
    return names;
}

int crn_class_table_read(crn_class_table *t, const char *dir, crn_error *err)
{
    memset(t, 0, sizeof *t);
    char path[CRN_PATH_MAX];
    int lrc = crn_path_fmt(path, sizeof path, err, "%s/splits.json", dir);
    if (lrc != CRN_OK) return lrc;
    json_t *o = NULL;
    lrc = load_json(path, &o, err);
    if (lrc != CRN_OK) return lrc;
    int k = (int)json_integer_value(json_object_get(o, "num_classes"));
    if (k < 1 || k > 1000000) {
        json_decref(o);
        return crn_fail(err, CRN_EFORMAT, "%s: num_classes missing or out of range", path);
    }
    t->num_classes = k;
    const char *sm = json_string_value(json_object_get(o, "split_mode"));
    if (sm) snprintf(t->split_mode, sizeof t->split_mode, "%s", sm);
    t->names = read_names(json_object_get(o, "class_names"), k);
    json_t *sp = json_object_get(o, "class_counts");
    for (int s = 0; s < 3; s++) {
        json_t *a = json_object_get(sp, split_names[s]);
        if (!json_is_array(a)) continue;
        if ((int)json_array_size(a) != k) {
            json_decref(o);
            crn_class_table_free(t);
            return crn_fail(err, CRN_EFORMAT, "%s: class_counts.%s has %zu entries, not %d", path, split_names[s],
                            json_array_size(a), k);
        }
        t->counts[s] = calloc((size_t)k, sizeof *t->counts[s]);
        if (!t->counts[s]) {
            json_decref(o);
            crn_class_table_free(t);
            return crn_fail(err, CRN_ENOMEM, "%s: out of memory", path);
        }
        for (int c = 0; c < k; c++) t->counts[s][c] = (long long)json_integer_value(json_array_get(a, (size_t)c));
    }
    json_decref(o);
    return CRN_OK;
}

/* ---- metrics files ---- */

static json_t *class_list(const crn_metrics *m, const crn_class_table *t, const int *idx, int n)
{
    json_t *a = json_array();
    char buf[32];
    for (int i = 0; i < n; i++) {
        int c = idx[i];
        json_array_append_new(a, json_pack("{s:i,s:s,s:f,s:f,s:f,s:I}", "class", c + 1, "name",
                                           crn_class_table_name(t, c, buf, sizeof buf), "precision", m->precision[c],
                                           "recall", m->recall[c], "f1", m->f1[c], "support",
                                           (json_int_t)m->support[c]));
    }
    return a;
}

int crn_metrics_write(const crn_metrics *m, const crn_class_table *t, const crn_eval_origin *origin,
                      const char *dir, crn_error *err)
{
    int k = m->num_classes;
    if (t && t->num_classes != k)
        return crn_fail(err, CRN_EINVAL, "metrics: %d classes, but the class table has %d", k, t->num_classes);
    char buf[32];
    /* metrics.json */
    json_t *o = json_object();
    json_object_set_new(o, "split", json_string(origin && origin->split ? origin->split : "test"));
    if (origin && origin->checkpoint) json_object_set_new(o, "checkpoint", json_string(origin->checkpoint));
    if (origin && origin->epoch > 0) json_object_set_new(o, "checkpoint_epoch", json_integer(origin->epoch));
    if (origin && origin->data) json_object_set_new(o, "data", json_string(origin->data));
    if (t && t->split_mode[0]) json_object_set_new(o, "split_mode", json_string(t->split_mode));
    json_object_set_new(o, "samples", json_integer((json_int_t)m->n));
    json_object_set_new(o, "num_classes", json_integer(k));
    json_object_set_new(o, "accuracy", json_real(m->accuracy));
    json_object_set_new(o, "top5_accuracy", m->top5_accuracy >= 0 ? json_real(m->top5_accuracy) : json_null());
    json_object_set_new(o, "loss", m->loss >= 0 ? json_real(m->loss) : json_null());
    json_t *mac = json_object(), *wt = json_object();
    for (int j = 0; j < CRN_METRIC_COUNT; j++) {
        json_object_set_new(mac, metric_names[j], json_real(m->macro[j]));
        json_object_set_new(wt, metric_names[j], json_real(m->weighted[j]));
    }
    json_object_set_new(o, "weighted", wt);
    json_object_set_new(o, "macro", mac);
    json_t *pm = json_object();
    json_object_set_new(pm, "mark", json_real(m->pass_mark));
    json_object_set_new(pm, "classes_with_support", json_integer(m->classes_with_support));
    json_t *share = json_object(), *under = json_object();
    for (int j = 0; j < CRN_METRIC_COUNT; j++) {
        json_object_set_new(share, metric_names[j], json_real(m->pass_share[j]));
        json_object_set_new(under, metric_names[j], class_list(m, t, m->under[j], m->under_count[j]));
    }
    json_object_set_new(pm, "share_at_or_above", share);
    json_object_set_new(pm, "classes_under", under);
    json_object_set_new(o, "pass_mark", pm);
    json_t *pc = json_array();
    for (int c = 0; c < k; c++) {
        json_t *e = json_pack("{s:i,s:s,s:f,s:f,s:f,s:I,s:I}", "class", c + 1, "name",
                              crn_class_table_name(t, c, buf, sizeof buf), "precision", m->precision[c], "recall",
                              m->recall[c], "f1", m->f1[c], "support", (json_int_t)m->support[c], "predicted",
                              (json_int_t)m->predicted[c]);
        if (t && t->counts[0]) json_object_set_new(e, "train_count", json_integer(t->counts[0][c]));
        json_array_append_new(pc, e);
    }
    json_object_set_new(o, "per_class", pc);
    json_t *cm = json_array();
    for (int r = 0; r < k; r++) {
        json_t *row = json_array();
        for (int c = 0; c < k; c++) json_array_append_new(row, json_integer(m->confusion[(size_t)r * k + c]));
        json_array_append_new(cm, row);
    }
    json_object_set_new(o, "confusion", cm);
    int rc = save_json(o, dir, "metrics.json", err);
    if (rc != CRN_OK) return rc;

    /* per_class.csv */
    crn_sb b = {0};
    crn_sb_puts(&b, "class,name,precision,recall,f1,support,predicted,train_count\n");
    for (int c = 0; c < k; c++) {
        crn_sb_printf(&b, "%d,", c + 1);
        crn_sb_csv(&b, t && t->names ? t->names[c] : "");
        crn_sb_printf(&b, ",%.6f,%.6f,%.6f,%lld,%lld,", m->precision[c], m->recall[c], m->f1[c], m->support[c],
                      m->predicted[c]);
        if (t && t->counts[0]) crn_sb_printf(&b, "%lld", t->counts[0][c]);
        crn_sb_puts(&b, "\n");
    }
    rc = save_text(&b, dir, "per_class.csv", err);
    if (rc != CRN_OK) return rc;

    /* confusion.csv: a header row of predicted classes, one row per true class */
    crn_sb_puts(&b, "true\\predicted");
    for (int c = 0; c < k; c++) crn_sb_printf(&b, ",%d", c + 1);
    crn_sb_puts(&b, "\n");
    for (int r = 0; r < k; r++) {
        crn_sb_printf(&b, "%d", r + 1);
        for (int c = 0; c < k; c++) crn_sb_printf(&b, ",%lld", m->confusion[(size_t)r * k + c]);
        crn_sb_puts(&b, "\n");
    }
    return save_text(&b, dir, "confusion.csv", err);
}

int crn_metrics_read(crn_metrics *m, char ***names, const char *dir, crn_error *err)
{
    memset(m, 0, sizeof *m);
    if (names) *names = NULL;
    char path[CRN_PATH_MAX];
    int lrc = crn_path_fmt(path, sizeof path, err, "%s/metrics.json", dir);
    if (lrc != CRN_OK) return lrc;
    json_t *o = NULL;
    lrc = load_json(path, &o, err);
    if (lrc != CRN_OK) return lrc;
    int k = (int)json_integer_value(json_object_get(o, "num_classes"));
    json_t *cm = json_object_get(o, "confusion");
    if (k < 1 || k > 100000 || !json_is_array(cm) || (int)json_array_size(cm) != k) {
        json_decref(o);
        return crn_fail(err, CRN_EFORMAT, "%s: num_classes or the confusion matrix is missing or malformed", path);
    }
    long long *conf = calloc((size_t)k * k, sizeof *conf);
    if (!conf) {
        json_decref(o);
        return crn_fail(err, CRN_ENOMEM, "%s: out of memory", path);
    }
    for (int r = 0; r < k; r++) {
        json_t *row = json_array_get(cm, (size_t)r);
        if (!json_is_array(row) || (int)json_array_size(row) != k) {
            free(conf);
            json_decref(o);
            return crn_fail(err, CRN_EFORMAT, "%s: confusion row %d does not have %d entries", path, r + 1, k);
        }
        for (int c = 0; c < k; c++) conf[(size_t)r * k + c] = (long long)json_integer_value(json_array_get(row, (size_t)c));
    }
    double mark = json_number_value(json_object_get(json_object_get(o, "pass_mark"), "mark"));
    int rc = crn_metrics_from_confusion(m, conf, k, mark, err);
    free(conf);
    if (rc != CRN_OK) {
        json_decref(o);
        return crn_error_prefix(err, "%s: ", path);
    }
    json_t *t5 = json_object_get(o, "top5_accuracy"), *ls = json_object_get(o, "loss");
    m->top5_accuracy = json_is_number(t5) ? json_number_value(t5) : -1;
    m->loss = json_is_number(ls) ? json_number_value(ls) : -1;
    if (names) {
        json_t *pc = json_object_get(o, "per_class");
        if (json_is_array(pc) && (int)json_array_size(pc) == k) {
            json_t *a = json_array();
            bool named = false;
            for (int c = 0; c < k; c++) {
                json_t *nm = json_object_get(json_array_get(pc, (size_t)c), "name");
                const char *s = json_string_value(nm);
                char num[32];
                snprintf(num, sizeof num, "%d", c + 1);
                if (s && strcmp(s, num)) named = true;
                json_array_append_new(a, json_string(s ? s : num));
            }
            if (named) *names = read_names(a, k);
            json_decref(a);
        }
    }
    json_decref(o);
    return CRN_OK;
}

int crn_predictions_write(const char *dir, const crn_class_table *t, const char *const *files, const int *labels,
                          const float *scores, size_t n, int k, crn_error *err)
{
    char buf[32];
    crn_sb b = {0};
    crn_sb_puts(&b, "file,true_class,true_name,predicted_class,predicted_name,correct");
    for (int i = 1; i <= 5; i++) crn_sb_printf(&b, ",top%d_class,top%d_name,top%d_prob", i, i, i);
    crn_sb_puts(&b, "\n");
    int cls[5];
    double prob[5];
    for (size_t i = 0; i < n; i++) {
        if (labels[i] < 0 || labels[i] >= k) {
            crn_sb_free(&b);
            return crn_fail(err, CRN_EINVAL, "predictions: sample %zu has label %d, outside 0..%d", i, labels[i], k - 1);
        }
        int got = crn_topk_softmax(scores + i * (size_t)k, k, 5, cls, prob);
        if (files && files[i]) crn_sb_csv(&b, files[i]);
        else crn_sb_printf(&b, "%zu", i);
        crn_sb_printf(&b, ",%d,", labels[i] + 1);
        crn_sb_csv(&b, crn_class_table_name(t, labels[i], buf, sizeof buf));
        crn_sb_printf(&b, ",%d,", cls[0] + 1);
        crn_sb_csv(&b, crn_class_table_name(t, cls[0], buf, sizeof buf));
        crn_sb_printf(&b, ",%d", cls[0] == labels[i]);
        for (int j = 0; j < 5; j++) {
            if (j < got) {
                crn_sb_printf(&b, ",%d,", cls[j] + 1);
                crn_sb_csv(&b, crn_class_table_name(t, cls[j], buf, sizeof buf));
                crn_sb_printf(&b, ",%.6f", prob[j]);
            } else {
                crn_sb_puts(&b, ",,,");
            }
        }
        crn_sb_puts(&b, "\n");
    }
    return save_text(&b, dir, "predictions.csv", err);
}
