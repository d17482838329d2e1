/* A run's config.json: every setting of the run, the data and the device,
 * and the settings changed when it was resumed (with the epoch and step of
 * each change). `--resume` reads it back, so a resumed run keeps them all. */
#ifndef CLRESNET_TRAIN_RUN_CONFIG_H
#define CLRESNET_TRAIN_RUN_CONFIG_H

#include <stddef.h>

#include "clresnet/data/dataset.h"
#include "clresnet/train/train.h"

/* The text of config.json for c on ds (params: the model's trainable
 * parameter count). previous: the run's earlier config.json text, whose
 * "changes" are kept, or NULL; c->changes are appended as made after
 * `epoch` epochs and `step` steps. malloc'd; NULL when out of memory. */
char *crn_run_config_json(const crn_train_config *c, const crn_dataset *ds, size_t params, const char *previous,
                          int epoch, long long step);

/* Strings that a parsed configuration points into. */
typedef struct crn_run_config_strings {
    char data[CRN_PATH_MAX];
    char gemm_plan[64];
} crn_run_config_strings;

/* Every setting of a run from its config.json text into c (which starts
 * from crn_train_config_default). path names the file in messages. */
int crn_run_config_parse(const char *text, const char *path, crn_train_config *c, crn_run_config_strings *s,
                         crn_error *err);

#endif
