/* Evaluation of a model over a split of a dataset: eval-mode forward
 * passes (BatchNorm with its running statistics, which stay unchanged), the
 * mean cross-entropy, accuracy and every logit. Training uses it for
 * validation and the final test; `evaluate` for a checkpoint. */
#ifndef CLRESNET_EVAL_EVALUATE_H
#define CLRESNET_EVAL_EVALUATE_H

#include "clresnet/data/dataset.h"
#include "clresnet/data/loader.h"
#include "clresnet/eval/run_log.h"
#include "clresnet/nn/model.h"
#include "clresnet/runtime/dist.h"

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

/* The index of the largest of v[0..k-1] (the first on ties). */
int crn_argmax(const float *v, int k);

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

#endif
