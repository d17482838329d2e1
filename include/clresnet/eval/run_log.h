/* A run's per-epoch record, as the trainer logs it (log.csv, log.jsonl in
 * the run folder) and as reports and comparisons read it back. */
#ifndef CLRESNET_EVAL_RUN_LOG_H
#define CLRESNET_EVAL_RUN_LOG_H

#include <stdbool.h>

#include "clresnet/core/error.h"

typedef struct crn_epoch_record {
    int epoch;             /* 1-based */
    double train_loss, train_acc;
    double val_loss, val_acc;
    double val_top5;       /* top-5 accuracy on the validation split; -1: not logged (older runs) */
    double lr;             /* the lr used during this epoch */
    double seconds;        /* training phase wall time */
    double train_images_per_s;
    bool best;             /* lowest validation loss so far */
} crn_epoch_record;

/* Reads RUN/log.jsonl: up to max records; returns the count (or an error code < 0). */
int crn_run_log_read(const char *run_dir, crn_epoch_record *out, int max, crn_error *err);

/* RUN/NAME (config.json, metrics.json, splits.json) as a jansson object
 * (json_decref it), or NULL when it is missing, unreadable or not an object:
 * reports and comparisons then leave out what it would have said. */
struct json_t;
struct json_t *crn_run_json(const char *run_dir, const char *name);

#endif
