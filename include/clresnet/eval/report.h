/* The run report: RUN/report.html (self-contained: inline SVG, no scripts,
 * no network, print-friendly) and each chart as its own .svg in RUN
 * (curves_accuracy.svg, curves_loss.svg, per_class_precision.svg,
 * per_class_recall.svg, per_class_f1.svg, train_distribution.svg,
 * confusion.svg). Built from the run folder's files alone, so that
 * `clresnet report RUN` needs neither the dataset nor a device:
 *   config.json  the run's settings (model, act, final_act, device, ...)
 *   log.jsonl    per-epoch train/val loss and accuracy, lr, seconds, images/s
 *   metrics.json test metrics (crn_metrics_write)
 *   splits.json  class names and per-split class counts (crn_class_table_write)
 * Every file is optional: a missing one leaves its sections out with a note;
 * at least one of log.jsonl and metrics.json must be there. */
#ifndef CLRESNET_REPORT_H
#define CLRESNET_REPORT_H

#include <stddef.h>

#include "clresnet/data/dataset.h"
#include "clresnet/core/error.h"
#include "clresnet/eval/metrics.h"

/* Writes RUN/report.html and the .svg files. html_path, when not NULL,
 * receives the report's path. */
int crn_report_write(const char *run_dir, char *html_path, size_t html_path_size, crn_error *err);

/* Everything evaluation writes into a folder, in one call, from the logits
 * [n][k] (sample-major, k = ds->num_classes) of ds's samples of `split`
 * in their order (n must be ds->count[split]): splits.json, metrics.json,
 * per_class.csv, confusion.csv, predictions.csv (files relative to the
 * dataset root), then report.html and the .svg files. split_mode ("seed",
 * "official") and checkpoint may be NULL. m_out, when not NULL, receives
 * the metrics (free with crn_metrics_free). Intended: dir = the run folder
 * for the test split; for another split a folder of its own (e.g.
 * RUN/eval-val), since the report of RUN shows RUN/metrics.json. */
int crn_eval_write_run(const char *dir, const crn_dataset *ds, const char *split_mode, crn_split split,
                       const float *logits, size_t n, const char *checkpoint, int checkpoint_epoch,
                       crn_metrics *m_out, char *html_path, size_t html_path_size, crn_error *err);

/* The run's name from RUN/config.json: model/act, with /no-final-act when
 * final_act is false (resnet50/silu, resnet50/relu/no-final-act,
 * plain50/relu, baseline/relu). Without a readable config.json: the
 * folder's last path component. */
void crn_run_name(const char *run_dir, char *buf, size_t size);

#endif
