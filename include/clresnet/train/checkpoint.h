/* Checkpoints: one safetensors file with the model's state dict (PyTorch
 * names, loadable with load_state_dict after dropping the "optim." tensors),
 * the optimiser's moment buffers, and the run state in the metadata
 * (scheduler, early stopping, epoch and step, lr, RNG seed, data checksum,
 * configuration). Written atomically; a checksum over the tensor data makes
 * a damaged file an error, never a silent wrong resume. */
#ifndef CLRESNET_CHECKPOINT_H
#define CLRESNET_CHECKPOINT_H

#include <stdint.h>

#include "clresnet/nn/model.h"
#include "clresnet/nn/weights.h"
#include "clresnet/train/optim.h"
#include "clresnet/train/schedule.h"

typedef struct crn_run_state {
    int epoch;                /* epochs completed */
    long long step;           /* optimiser steps taken */
    long long epoch_batches;  /* steps done of epoch+1 (an interrupt mid-epoch), else 0 */
    long long epoch_position; /* positions of epoch+1's sample order done, on all ranks together; -1: not
                                 recorded (older files: epoch_batches * batch size) */
    double epoch_loss_sum;    /* sums over those batches, so the epoch log is exact */
    double epoch_correct;
    double epoch_seen;
    double epoch_seconds;
    double lr;
    double head_lr;           /* the classifier's group (--head-lr), 0: none of its own */
    crn_plateau plateau;
    crn_early_stop early;
    int best_epoch;
    uint64_t seed;
    uint64_t data_checksum;
} crn_run_state;

/* opt may be NULL (weights only); config_json may be NULL. */
int crn_checkpoint_save(const char *path, crn_model *m, crn_optimizer *opt, const crn_run_state *st,
                        const char *config_json, crn_error *err);

/* Loads weights (and, when opt and st are not NULL, the optimiser and run
 * state). A file of another model, activation width or class count, a
 * damaged file or a missing tensor is an error naming the file. */
int crn_checkpoint_load(const char *path, crn_model *m, crn_optimizer *opt, crn_run_state *st, crn_error *err);

/* --init: the weights of a clresnet checkpoint or a PyTorch state dict
 * (torchvision's or timm's names for resnet50-tv) into a model already
 * initialised, as crn_checkpoint_load, except that a classifier with another
 * class count keeps its initialisation (info says what was loaded). */
int crn_checkpoint_load_init(const char *path, crn_model *m, crn_init_info *info, crn_error *err);

/* The checkpoint a user names: a checkpoint file as it is, or a run folder,
 * whose best.safetensors (the lowest validation loss) it takes. Anything
 * else is an error that says what was expected. path receives the file. */
int crn_checkpoint_resolve(const char *arg, char *path, size_t size, crn_error *err);

/* The model configuration stored in a checkpoint, to rebuild the model
 * (evaluate, predict), and the run's config.json text when run_config is
 * not NULL (malloc'd; NULL when the checkpoint has none). */
int crn_checkpoint_read_config(const char *path, crn_model_config *cfg, char **run_config, crn_error *err);

/* The epoch after which a run wrote the checkpoint (best.safetensors: the
 * best epoch); 0 for weights without a run's state. */
int crn_checkpoint_read_epoch(const char *path, int *epoch, crn_error *err);

#endif
