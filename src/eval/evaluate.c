/* Evaluation of a model over a split: eval-mode forward passes (BatchNorm
 * with its running statistics), the mean loss, accuracy and, on request,
 * every logit; sharded over the ranks of a data-parallel job. */
#include "clresnet/eval/evaluate.h"

#include <stdlib.h>
#include <string.h>

#include "clresnet/core/clock.h"

int crn_argmax(const float *v, int k)
{
    int best = 0;
    for (int i = 1; i < k; i++)
        if (v[i] > v[best]) best = i;
    return best;
}

int crn_in_top(const float *v, int k, int label, int n)
{
    int rank = 0;
    for (int c = 0; c < k; c++) rank += v[c] > v[label] || (v[c] == v[label] && c < label);
    return rank < n;
}

int crn_evaluate(crn_model *m, const crn_dataset *ds, crn_split split, const crn_loader_config *lc,
                 crn_eval_result *res, float *logits_out, crn_progress_fn progress, void *ctx, int epoch, crn_error *err)
{
    return crn_evaluate_dist(crn_dist_single(), m, ds, split, lc, res, logits_out, progress, ctx, epoch, err);
}

int crn_evaluate_dist(const crn_dist *d, crn_model *m, const crn_dataset *ds, crn_split split,
                      const crn_loader_config *lc_in, crn_eval_result *res, float *logits_out,
                      crn_progress_fn progress, void *ctx, int epoch, crn_error *err)
{
    const crn_model_config *mc = crn_model_get_config(m);
    crn_loader_config shard = *lc_in;
    const crn_loader_config *lc = &shard;
    shard.shard_rank = d->rank;
    shard.shard_count = d->size;
    crn_loader *ld = NULL;
    int rc = crn_loader_create(&ld, ds->samples[split], ds->count[split], lc, err);
    if (rc != CRN_OK) return rc;
    int k = mc->classes;
    /* every rank fills its own samples' rows; the sum assembles them */
    if (logits_out && d->size > 1) memset(logits_out, 0, ds->count[split] * (size_t)k * sizeof *logits_out);
    float *losses = malloc((size_t)lc->batch_size * sizeof *losses);
    float *logits = malloc((size_t)lc->batch_size * (size_t)k * sizeof *logits);
    if (!losses || !logits) rc = crn_fail(err, CRN_ENOMEM, "out of host memory");
    double sum = 0, correct = 0, top5 = 0, seen = 0, t0 = crn_now_s();
    if (rc == CRN_OK) rc = crn_loader_start_epoch(ld, 0, err);
    const crn_batch *b = NULL;
    size_t batches = crn_loader_batches_per_epoch(ld);
    while (rc == CRN_OK) {
        int got = crn_loader_next(ld, &b, err);
        if (got <= 0) {
            rc = got;
            break;
        }
        if (b->n == 0) continue;
        rc = crn_model_forward(m, b->images, b->n, false, err);
        if (rc == CRN_OK) rc = crn_model_loss(m, b->labels, b->n, NULL, err);
        if (rc == CRN_OK) rc = crn_model_read_loss(m, b->n, losses, NULL, err);
        if (rc == CRN_OK) rc = crn_model_read_logits(m, b->n, logits, err);
        if (rc != CRN_OK) break;
        for (int i = 0; i < b->n; i++) {
            sum += losses[i];
            correct += crn_argmax(logits + (size_t)i * k, k) == b->labels[i];
            top5 += crn_in_top(logits + (size_t)i * k, k, b->labels[i], 5);
            if (logits_out) memcpy(logits_out + b->indices[i] * (size_t)k, logits + (size_t)i * k, (size_t)k * sizeof *logits);
        }
        seen += b->n;
        if (progress) {
            double el = crn_now_s() - t0;
            crn_progress p = {.phase = split == CRN_SPLIT_TEST ? CRN_PHASE_TEST : CRN_PHASE_VAL,
                              .epoch = epoch, .batch = b->batch_index + 1, .batches = batches,
                              .loss = sum / seen, .images_per_s = seen / (el > 0 ? el : 1e-9)};
            p.eta_s = (double)(batches - p.batch) * el / (double)p.batch;
            progress(ctx, &p);
        }
    }
    if (rc == CRN_OK && d->size > 1) {
        double v[4] = {sum, correct, top5, seen};
        rc = crn_dist_sum_f64(d, v, 4, err);
        sum = v[0], correct = v[1], top5 = v[2], seen = v[3];
        if (rc == CRN_OK && logits_out) rc = crn_dist_sum_f32(d, logits_out, ds->count[split] * (size_t)k, err);
    }
    if (rc == CRN_OK && seen == 0)
        rc = crn_fail(err, CRN_EINVAL, "the %s split has no usable image", crn_split_name(split));
    if (rc == CRN_OK) *res = (crn_eval_result){sum / seen, correct / seen, top5 / seen};
    free(losses);
    free(logits);
    crn_loader_destroy(ld);
    return rc;
}

