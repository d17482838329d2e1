/* Evaluation of a model over a split of a dataset: eval-mode forward
 * passes (BatchNorm with its running statistics, which stay unchanged), the
 * mean cross-entropy, accuracy and every logit. Training uses it for
 * validation and the final test; `evaluate` for a checkpoint. */
#ifndef CLRESNET_EVAL_EVALUATE_H
#define CLRESNET_EVAL_EVALUATE_H

#include <stdbool.h>

#include "clresnet/data/dataset.h"
#include "clresnet/data/loader.h"
#include "clresnet/eval/run_log.h"
#include "clresnet/nn/model.h"
#include "clresnet/runtime/dist.h"

typedef enum crn_progress_phase { CRN_PHASE_TRAIN, CRN_PHASE_VAL, CRN_PHASE_TEST } crn_progress_phase;

/* Progress of a long phase, reported to a callback (the command line
 * prints it). */
typedef struct crn_progress {
    crn_progress_phase phase;
    int epoch, epochs;
    size_t batch, batches;
    long long step;
    double loss;            /* running mean of this phase */
    double images_per_s;    /* this phase so far, loading included */
    double eta_s;           /* this phase */
    double eta_run_s;       /* training: the whole run, up to --epochs; 0 unknown */
    /* Set once per epoch, after validation: the epoch's record, the lr of
     * the next epoch (lower when the plateau schedule reduced it), whether
     * early stopping ends the run here, and what those rules count. */
    const crn_epoch_record *epoch_done;
    double next_lr;
    bool early_stop;
    int early_stop_patience, plateau_patience;
    double best_val_loss;
    int best_epoch;
    /* Set alone, once: a line for the user about the run's start (what
     * --init loaded); nothing else in the report is meaningful then. */
    const char *note;
} crn_progress;

typedef void (*crn_progress_fn)(void *ctx, const crn_progress *p);

/* The index of the largest of v[0..k-1] (the first on ties). */
int crn_argmax(const float *v, int k);

/* Whether class `label` is among the top n of scores v[0..k-1] (ranked by
 * score, ties to the lower class, as sklearn's top_k_accuracy_score). */
int crn_in_top(const float *v, int k, int label, int n);

typedef struct crn_eval_result {
    double loss;      /* mean cross-entropy */
    double accuracy;  /* top-1 */
    double top5;      /* top-5 accuracy */
} crn_eval_result;

/* Loss, accuracy and top-5 accuracy of the model (eval mode) over a split.
 * logits, when not NULL, receives [count][classes] (sample-major) for
 * metrics. */
int crn_evaluate(crn_model *m, const crn_dataset *ds, crn_split split, const crn_loader_config *lc,
                 crn_eval_result *res, float *logits, crn_progress_fn progress, void *ctx, int epoch, crn_error *err);
/* The same on every rank of d, each on its shard of the split; loss, acc
 * and logits are those of the whole split on every rank. */
int crn_evaluate_dist(const crn_dist *d, crn_model *m, const crn_dataset *ds, crn_split split,
                      const crn_loader_config *lc, crn_eval_result *res, float *logits, crn_progress_fn progress,
                      void *ctx, int epoch, crn_error *err);

#endif
