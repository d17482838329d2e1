/* Classification metrics with sklearn's definitions, and the files that hold
 * them in a run folder (metrics.json, per_class.csv, confusion.csv,
 * predictions.csv, splits.json). Host-only: no OpenCL.
 *
 * The per-class numbers mirror
 *   precision_recall_fscore_support(y, p, labels=list(range(k)), zero_division=0)
 * a class never predicted has precision 0, a class without support has
 * recall 0 (and F1 0); macro averages run over all k classes (those without
 * support included), weighted averages weight each class by its support (so
 * weighted recall equals accuracy). Classes are 0-based in memory and shown
 * 1..k in every file. */
#ifndef CLRESNET_METRICS_H
#define CLRESNET_METRICS_H

#include <stddef.h>

#include "clresnet/core/error.h"

#define CRN_PASS_MARK 0.7

enum { CRN_METRIC_PRECISION = 0, CRN_METRIC_RECALL = 1, CRN_METRIC_F1 = 2, CRN_METRIC_COUNT = 3 };

typedef struct crn_metrics {
    int num_classes;          /* k */
    long long n;              /* samples */
    double accuracy;          /* top-1 */
    double top5_accuracy;     /* 1.0 when k <= 5 (as sklearn) */
    double loss;              /* mean cross-entropy from the scores (natural log) */
    /* per class, k entries each */
    double *precision, *recall, *f1;
    long long *support;       /* true samples of the class */
    long long *predicted;     /* samples predicted as the class */
    long long *confusion;     /* [k][k], row = true class, column = predicted class */
    /* averages, indexed by CRN_METRIC_* */
    double macro[CRN_METRIC_COUNT];
    double weighted[CRN_METRIC_COUNT];
    /* the pass mark: among the classes with support > 0, the share whose
     * metric is >= pass_mark (with 1e-9 slack for rounding), and the list of
     * those under it (0-based class indices, ascending) */
    double pass_mark;
    int classes_with_support;
    double pass_share[CRN_METRIC_COUNT];
    int *under[CRN_METRIC_COUNT];
    int under_count[CRN_METRIC_COUNT];
} crn_metrics;

/* From true labels [n] (0..k-1) and class scores (logits, or probabilities)
 * [n][k], sample-major. The prediction is the first maximum score (numpy's
 * argmax); top-5 ranks by score, ties to the lower class. pass_mark <= 0
 * means CRN_PASS_MARK. Fails on n == 0, k < 1, a label out of range or a
 * non-finite score. *m is zeroed first and is safe to free on failure. */
int crn_metrics_compute(crn_metrics *m, const int *labels, const float *scores, size_t n, int k, double pass_mark,
                        crn_error *err);

/* Metrics from a confusion matrix alone ([k][k] counts, rows true): no top-5
 * (set to -1) and no loss (-1). Used when reading files back. */
int crn_metrics_from_confusion(crn_metrics *m, const long long *confusion, int k, double pass_mark, crn_error *err);

void crn_metrics_free(crn_metrics *m);

/* Softmax (computed in double) of one sample's scores [k], and its top
 * classes: cls[topn] (0-based) and prob[topn], highest first, ties to the
 * lower class. topn is clipped to k; returns the number filled. */
int crn_topk_softmax(const float *scores, int k, int topn, int *cls, double *prob);

/* What the files need to know about the classes and the splits: names,
 * and per-split class counts. Built from a dataset, written as splits.json
 * (so that a report can be rebuilt without the dataset) and read back. */
typedef struct crn_class_table {
    int num_classes;
    char **names;                   /* num_classes strings, or NULL */
    long long *counts[3];           /* train, val, test: num_classes each, or NULL when unknown */
    char split_mode[32];            /* "seed", "official", "" */
} crn_class_table;

struct crn_dataset;
/* split_mode may be NULL. */
int crn_class_table_from_dataset(crn_class_table *t, const struct crn_dataset *ds, const char *split_mode,
                                 crn_error *err);
/* An empty table of k classes without names or counts. */
int crn_class_table_init(crn_class_table *t, int k, crn_error *err);
void crn_class_table_free(crn_class_table *t);
int crn_class_table_write(const crn_class_table *t, const char *dir, crn_error *err); /* dir/splits.json */
int crn_class_table_read(crn_class_table *t, const char *dir, crn_error *err);
/* The display name of 0-based class c: its name, else its number 1..k in buf. */
const char *crn_class_table_name(const crn_class_table *t, int c, char *buf, size_t size);

/* What evaluated numbers were computed on, recorded in metrics.json so that
 * reports and comparisons say it (and keep runs of other data apart). */
typedef struct crn_eval_origin {
    const char *split;       /* "test", "val", "train"; NULL: "test" */
    const char *data;        /* the dataset's folder, or NULL */
    const char *checkpoint;  /* the weights, or NULL */
    int epoch;               /* the epoch that wrote them (a run's best), 0 unknown */
} crn_eval_origin;

/* Writes dir/metrics.json, dir/per_class.csv and dir/confusion.csv. t gives
 * names, the training counts (per_class.csv's train_count) and the split
 * mode, and may be NULL; origin may be NULL. */
int crn_metrics_write(const crn_metrics *m, const crn_class_table *t, const crn_eval_origin *origin,
                      const char *dir, crn_error *err);

/* Reads dir/metrics.json back (per-class numbers, averages, top-5,
 * confusion matrix, pass-mark lists). names, when not NULL, receives the
 * class names stored there (k malloc'd strings, or NULL when none; free
 * with crn_names_free). */
int crn_metrics_read(crn_metrics *m, char ***names, const char *dir, crn_error *err);
void crn_names_free(char **names, int k);

/* dir/predictions.csv: one row per sample: file, true class (1..k) and
 * name, predicted class and name, correct (0/1), then top-5 classes with
 * names and softmax probabilities. files[n] are written as given (may be
 * NULL: the sample index is written instead). */
int crn_predictions_write(const char *dir, const crn_class_table *t, const char *const *files, const int *labels,
                          const float *scores, size_t n, int k, crn_error *err);

#endif
