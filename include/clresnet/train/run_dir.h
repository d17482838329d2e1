/* A run folder: config.json, the per-epoch log (log.csv and log.jsonl), the
 * per-step log (steps.csv), checkpoints and the report all live in one
 * directory. Appends are flushed at once so an interrupted run loses nothing
 * that was printed. */
#ifndef CLRESNET_RUN_DIR_H
#define CLRESNET_RUN_DIR_H

#include <stdbool.h>
#include <stdio.h>

#include "clresnet/core/error.h"
#include "clresnet/core/file_util.h"
#include "clresnet/eval/run_log.h"

typedef struct crn_run_dir {
    char path[CRN_PATH_MAX];
    FILE *log_csv, *log_jsonl, *steps_csv;
} crn_run_dir;

/* Creates the folder (and parents) if needed and opens the logs. With
 * resume, the logs are truncated to the records of epochs <= keep_epochs
 * and steps <= keep_steps, so a resumed run's logs equal an uninterrupted
 * one's. */
int crn_run_dir_open(crn_run_dir *r, const char *path, bool resume, int keep_epochs, long long keep_steps,
                     crn_error *err);
void crn_run_dir_close(crn_run_dir *r);

/* Whether path holds a run (its config.json, logs, checkpoints or metrics);
 * which, when not NULL, receives the first such file found. */
bool crn_run_dir_holds_run(const char *path, char *which, size_t size);

/* A folder for a new run: an error when it holds a run already (saying how
 * to resume it or choose another folder), unless overwrite, which deletes
 * that run's files first. */
int crn_run_dir_claim(const char *path, bool overwrite, crn_error *err);

/* path/name into buf (an error naming it when it does not fit). */
int crn_run_dir_file(const crn_run_dir *r, const char *name, char *buf, size_t size, crn_error *err);

/* Writes text to path/name atomically (temp file, fsync, rename). */
int crn_run_dir_write_text(const crn_run_dir *r, const char *name, const char *text, crn_error *err);

int crn_run_dir_log_epoch(crn_run_dir *r, const crn_epoch_record *rec, crn_error *err);
int crn_run_dir_log_step(crn_run_dir *r, long long step, int epoch, double loss, double lr, crn_error *err);


/* Atomic file replace with fsync, for any file (checkpoints use it too). */
int crn_write_file_atomic(const char *path, const void *data, size_t n, crn_error *err);

#endif
