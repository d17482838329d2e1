/* Comparison of run folders: the seed experiment's tables (test accuracy and
 * the support-weighted precision, recall and F1 per run, plus macro F1,
 * top-5, epochs, best epoch, training images/s) and the curves and
 * per-class F1 of all runs side by side. Each run is named model/act[/no-
 * final-act] from its config.json (crn_run_name). Runs without metrics.json
 * show "-" for the test numbers; runs without log.jsonl have no curves. */
#ifndef CLRESNET_COMPARE_H
#define CLRESNET_COMPARE_H

#include <stdio.h>

#include "clresnet/core/error.h"

/* Writes the Markdown table to md (when not NULL), and out_dir/compare.csv
 * and out_dir/compare.html (out_dir NULL: no files; created if needed). Fails
 * when a run folder has neither metrics.json nor log.jsonl. */
int crn_compare_write(const char *const *runs, int nruns, FILE *md, const char *out_dir, crn_error *err);

#endif
