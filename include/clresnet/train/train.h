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

#include "clresnet/data/data_check.h"
#include "clresnet/data/dataset.h"
#include "clresnet/runtime/dist.h"
#include "clresnet/data/loader.h"
#include "clresnet/eval/evaluate.h"
#include "clresnet/nn/model.h"
#include "clresnet/train/optim.h"
#include "clresnet/train/run_dir.h"
#include "clresnet/train/schedule.h"

/* A setting changed when a run was resumed (config.json logs it). */
typedef struct crn_setting_change {
    char setting[32];
    char from[64], to[64];
} crn_setting_change;

typedef struct crn_train_config {
    const char *data_root;
    crn_split_mode split_mode;
    const char *out_dir;
    crn_model_config model;          /* image_size is taken from transform.image_size */
    crn_optim_config optim;
    double head_lr;                  /* --head-lr: the classifier's own learning rate (a second parameter
                                        group); 0: optim.lr for every parameter */
    crn_transform_config transform;  /* augment = 1 for training; evaluation never augments */
    int batch_size;                  /* 32 */
    int eval_batch_size;             /* 0: batch_size */
    int epochs;                      /* 100 */
    long long max_steps;             /* 0: no limit */
    uint64_t seed;                   /* 0 */
    int workers;                     /* 0: cores */
    bool shuffle;                    /* true */
    bool skip_bad;                   /* false */
    const crn_bad_image *bad_images; /* with skip_bad: what the data check found (config.json lists them) */
    size_t nbad_images;
    crn_plateau plateau;             /* factor, patience, threshold, cooldown, min_lr */
    int early_stop_patience;         /* 15 */
    double early_stop_threshold;     /* 1e-4 */
    const char *init_path;           /* --init FILE.safetensors, or NULL */
    bool resume;                     /* continue the run in out_dir from its last checkpoint */
    const crn_setting_change *changes; /* with resume: what differs from the run's config.json */
    int nchanges;
    bool test_if_done;               /* with resume: a run with nothing left to train is tested again */
    bool overwrite;                  /* replace a run already in out_dir (else that is an error) */
    const char *device_desc;         /* recorded in config.json */
    const char *gemm_plan;           /* the GEMM plan in use (gemm.h), recorded in config.json: a resumed run
                                        uses it again, so that it computes the same bits */
    /* Data-parallel ranks (NULL: one). Each rank calls crn_train with the
     * same configuration on its own device; batch_size is per rank, the
     * global batch is batch_size * ranks. Gradients are averaged over every
     * sample of the global batch, BatchNorm statistics are per rank (as
     * PyTorch DDP), evaluation is sharded and reduced, and only rank 0
     * writes the run folder, checkpoints and report. */
    const crn_dist *dist;
} crn_train_config;

void crn_train_config_default(crn_train_config *c);


typedef struct crn_train_result {
    int epochs_run;              /* the last epoch completed */
    long long steps;
    bool early_stopped, interrupted, max_steps_reached;
    bool nothing_to_do;          /* a resumed run that had already finished (not tested again) */
    double best_val_loss;
    int best_epoch;
    double test_loss, test_acc;  /* with the best weights */
    /* The test split's logits [test_count][classes] (sample-major, the
     * dataset's order) with the best weights, for the caller's metrics and
     * report (crn_eval_write_run); on rank 0 of a data-parallel job only.
     * Free with crn_train_result_free. */
    float *test_logits;
    size_t test_count;
    char test_checkpoint[CRN_PATH_MAX];  /* the weights tested: best.safetensors (or last) */
    double train_images_per_s;   /* over all training phases */
    char checkpoint[CRN_PATH_MAX];       /* the last checkpoint written */
} crn_train_result;

void crn_train_result_free(crn_train_result *res);

/* Runs (or resumes) a training run on ds (opened by the caller from
 * cfg->data_root with cfg->split_mode). stop: set asynchronously (SIGINT)
 * to finish the current step, write a checkpoint and return with
 * interrupted. A NaN or Inf loss stops the run with an error naming the
 * step; the last good checkpoint stays. */
int crn_train(crn_ops *ops, const crn_train_config *cfg, const crn_dataset *ds, volatile sig_atomic_t *stop,
              crn_progress_fn progress, void *progress_ctx, crn_train_result *res, crn_error *err);

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
