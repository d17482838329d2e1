/* The training run of the seed protocol: shuffled mini-batches in training
 * mode, validation in eval mode after each epoch, ReduceLROnPlateau on the
 * validation loss, early stopping, the best weights kept for the final test,
 * checkpoints that resume bit-exactly. Library code: progress goes to a
 * callback, never to stdout. */
#ifndef CLRESNET_TRAIN_H
#define CLRESNET_TRAIN_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "clresnet/data/dataset.h"
#include "clresnet/runtime/dist.h"
#include "clresnet/data/loader.h"
#include "clresnet/nn/model.h"
#include "clresnet/train/optim.h"
#include "clresnet/train/run_dir.h"
#include "clresnet/train/schedule.h"

typedef struct crn_train_config {
    const char *data_root;
    crn_split_mode split_mode;
    const char *out_dir;
    crn_model_config model;          /* image_size is taken from transform.image_size */
    crn_optim_config optim;
    crn_transform_config transform;  /* augment = 1 for training; evaluation never augments */
    int batch_size;                  /* 32 */
    int eval_batch_size;             /* 0: batch_size */
    int epochs;                      /* 100 */
    long long max_steps;             /* 0: no limit */
    uint64_t seed;                   /* 0 */
    int workers;                     /* 0: cores */
    bool shuffle;                    /* true */
    bool skip_bad;                   /* false */
    crn_plateau plateau;             /* factor, patience, threshold, cooldown, min_lr */
    int early_stop_patience;         /* 15 */
    double early_stop_threshold;     /* 1e-4 */
    const char *init_path;           /* --init FILE.safetensors, or NULL */
    bool resume;                     /* continue the run in out_dir from its last checkpoint */
    const char *device_desc;         /* recorded in config.json */
    /* Data-parallel ranks (NULL: one). Each rank calls crn_train with the
     * same configuration on its own device; batch_size is per rank, the
     * global batch is batch_size * ranks. Gradients are averaged over every
     * sample of the global batch, BatchNorm statistics are per rank (as
     * PyTorch DDP), evaluation is sharded and reduced, and only rank 0
     * writes the run folder, checkpoints and report. */
    const crn_dist *dist;
} crn_train_config;

void crn_train_config_default(crn_train_config *c);

typedef enum crn_progress_phase { CRN_PHASE_TRAIN, CRN_PHASE_VAL, CRN_PHASE_TEST } crn_progress_phase;

typedef struct crn_progress {
    crn_progress_phase phase;
    int epoch, epochs;
    size_t batch, batches;
    long long step;
    double loss;            /* running mean of this phase */
    double images_per_s;    /* this phase so far, loading included */
    double eta_s;           /* this phase */
    const crn_epoch_record *epoch_done; /* set once per epoch, after validation */
} crn_progress;

typedef void (*crn_progress_fn)(void *ctx, const crn_progress *p);

typedef struct crn_train_result {
    int epochs_run;              /* the last epoch completed */
    long long steps;
    bool early_stopped, interrupted, max_steps_reached;
    double best_val_loss;
    int best_epoch;
    double test_loss, test_acc;  /* with the best weights */
    double test_precision, test_recall, test_f1; /* support-weighted */
    double test_macro_f1, test_top5;
    char report[4200];           /* report.html */
    double train_images_per_s;   /* over all training phases */
    char checkpoint[4200];       /* the last checkpoint written */
} crn_train_result;

/* Runs (or resumes) a training run. stop: set asynchronously (SIGINT) to
 * finish the current step, write a checkpoint and return with interrupted.
 * A NaN or Inf loss stops the run with an error naming the step; the last
 * good checkpoint stays. */
int crn_train(crn_ops *ops, const crn_train_config *cfg, volatile sig_atomic_t *stop, crn_progress_fn progress,
              void *progress_ctx, crn_train_result *res, crn_error *err);

/* Loss and accuracy of the model (eval mode) over a split. logits, when not
 * NULL, receives [count][classes] (sample-major) for metrics. */
int crn_evaluate(crn_model *m, const crn_dataset *ds, crn_split split, const crn_loader_config *lc,
                 double *loss, double *acc, float *logits, crn_progress_fn progress, void *ctx, int epoch,
                 crn_error *err);
/* The same on every rank of d, each on its shard of the split; loss, acc
 * and logits are those of the whole split on every rank. */
int crn_evaluate_dist(const crn_dist *d, crn_model *m, const crn_dataset *ds, crn_split split,
                      const crn_loader_config *lc, double *loss, double *acc, float *logits, crn_progress_fn progress,
                      void *ctx, int epoch, crn_error *err);

/* The device memory a training run of the model at this batch size needs
 * (model, gradients, activations, workspace, optimiser state), checked
 * against the device's global memory before anything big is allocated: a
 * plan that does not fit is an error saying how much is needed and which
 * batch size would fit. need_bytes may be NULL. */
int crn_train_plan_memory(crn_ops *ops, const crn_model_config *mc, int batch, crn_optim_kind opt,
                          size_t *need_bytes, crn_error *err);

/* A checksum of the dataset's sample lists (paths, labels): a checkpoint
 * refuses to resume on other data. */
uint64_t crn_dataset_checksum(const crn_dataset *ds);

#endif
