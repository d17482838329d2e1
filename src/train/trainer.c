/* The training loop. One image's way: loader (src/data) -> host batch ->
 * crn_model_forward (src/nn, ops in src/ops) -> crn_model_loss ->
 * crn_model_backward -> crn_optim_step (src/train/optim.c). */
#define _XOPEN_SOURCE 700 /* realpath */
#include "clresnet/train/train.h"
#include "clresnet/core/clock.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clresnet/train/checkpoint.h"
#include "clresnet/core/file_util.h"
#include "clresnet/core/hash.h"
#include "clresnet/eval/metrics.h"
#include "clresnet/train/run_config.h"

void crn_train_config_default(crn_train_config *c)
{
    memset(c, 0, sizeof *c);
    c->data_root = NULL;
    c->split_mode = CRN_SPLITS_SEED;
    c->model.kind = CRN_MODEL_RESNET50;
    c->model.act = CRN_ACT_RELU;
    c->model.final_act = true;
    c->model.classes = 0; /* from the dataset */
    c->model.width = 1.0;
    c->optim = crn_optim_defaults(CRN_OPT_NADAM);
    crn_transform_config_default(&c->transform);
    c->transform.augment = 1;
    c->batch_size = 32;
    c->epochs = 100;
    c->seed = 0;
    c->shuffle = true;
    crn_plateau_init(&c->plateau);
    c->early_stop_patience = 15;
    c->early_stop_threshold = 1e-4;
}

uint64_t crn_dataset_checksum(const crn_dataset *ds)
{
    uint64_t h = CRN_FNV1A64_INIT;
    for (int s = 0; s < CRN_SPLIT_COUNT; s++) {
        h = crn_fnv1a64(h, &ds->count[s], sizeof ds->count[s]);
        for (size_t i = 0; i < ds->count[s]; i++) {
            /* the file name, not the folder: a moved dataset still resumes */
            const char *p = strrchr(ds->samples[s][i].path, '/');
            p = p ? p + 1 : ds->samples[s][i].path;
            h = crn_fnv1a64(h, p, strlen(p));
            h = crn_fnv1a64(h, &ds->samples[s][i].label, sizeof ds->samples[s][i].label);
        }
    }
    return h;
}

/* Device memory of a model at batch b, measured by planning it: the model
 * allocates everything at creation, so batches 1 and 2 give the fixed part
 * (weights, gradients, workspace floor) and the part per image. */
static int model_bytes(crn_ops *ops, const crn_model_config *mc, int b, size_t *bytes, size_t *params,
                       crn_error *err)
{
    crn_model *m = NULL;
    int rc = crn_model_create(ops, mc, b, &m, err);
    if (rc != CRN_OK) return rc;
    *bytes = crn_model_device_bytes(m);
    crn_model_params_buffer(m, params);
    crn_model_destroy(m);
    return CRN_OK;
}

int crn_train_plan_memory(crn_ops *ops, const crn_model_config *mc, int batch, crn_optim_kind opt,
                          size_t *need_bytes, crn_error *err)
{
    const crn_device_info *dev = crn_runtime_device(crn_ops_runtime(ops));
    size_t b1 = 0, b2 = 0, np = 0;
    int rc = model_bytes(ops, mc, 1, &b1, &np, err);
    if (rc == CRN_OK) rc = model_bytes(ops, mc, 2, &b2, &np, err);
    if (rc != CRN_OK) return crn_error_prefix(err, "planning device memory");
    size_t per = b2 > b1 ? b2 - b1 : 0, fixed = b1 > per ? b1 - per : 0;
    size_t state = (opt == CRN_OPT_SGD ? 1 : 2) * np * sizeof(float); /* moment buffers */
    size_t need = fixed + state + per * (size_t)batch;
    if (need_bytes) *need_bytes = need;
    /* Leave a tenth of the device for the runtime, CLBlast's temporaries
     * and the input batch. */
    size_t have = (size_t)(dev->global_mem / 10 * 9);
    if (need <= have) return CRN_OK;
    long long fit = per ? (long long)((have > fixed + state ? have - fixed - state : 0) / per) : 0;
    if (fit < 1)
        return crn_fail(err, CRN_ENOMEM,
                        "%s at %dx%d needs %.0f MiB of device memory even at batch size 1; %s has %.0f MiB",
                        crn_model_name(mc->kind), mc->image_size, mc->image_size,
                        (double)(fixed + state + per) / 1048576.0, dev->name, (double)dev->global_mem / 1048576.0);
    return crn_fail(err, CRN_ENOMEM,
                    "%s at %dx%d with batch size %d needs %.0f MiB of device memory, but %s has %.0f MiB; "
                    "batch size %lld would fit (--batch-size %lld)",
                    crn_model_name(mc->kind), mc->image_size, mc->image_size, batch, (double)need / 1048576.0,
                    dev->name, (double)dev->global_mem / 1048576.0, fit, fit);
}


static int loader_config(const crn_train_config *c, bool train, crn_loader_config *lc)
{
    crn_loader_config_default(lc);
    lc->batch_size = train ? c->batch_size : (c->eval_batch_size > 0 ? c->eval_batch_size : c->batch_size);
    lc->workers = c->workers;
    lc->shuffle = train && c->shuffle;
    lc->skip_bad = c->skip_bad;
    lc->seed = c->seed;
    lc->transform = c->transform;
    if (!train) lc->transform.augment = 0;
    return CRN_OK;
}

typedef struct train_ctx {
    const crn_train_config *cfg;
    crn_runtime *rt;
    const crn_dataset *ds;
    crn_model *model;
    crn_optimizer *opt;
    crn_loader *loader;
    crn_run_dir run;
    crn_run_state st;
    char *config_text;
    float *losses;
    int32_t *correct;
    char last_path[CRN_PATH_MAX], best_path[CRN_PATH_MAX];
    bool have_last; /* last_path holds this run's checkpoint (written or resumed from) */
    const crn_dist *d;
    bool lead;      /* rank 0: writes the run folder */
    float *host;    /* scratch for gradient all-reduces and broadcasts */
    double epoch_wall_sum; /* wall time of the epochs completed in this invocation (training and validation) */
    int epochs_timed;
    crn_init_info init; /* what --init loaded (have_init) */
    bool have_init;
} train_ctx;

/* The line that says what --init loaded, through the progress callback. */
static void report_init(const train_ctx *t, crn_progress_fn progress, void *pctx)
{
    if (!t->have_init || !progress) return;
    const crn_init_info *i = &t->init;
    char note[512];
    if (i->head_replaced)
        snprintf(note, sizeof note,
                 "--init %s: loaded %d of %d tensors; %s and %s newly initialised (the file's classifier has %d "
                 "classes, this model %d)",
                 t->cfg->init_path, i->loaded, i->total, i->head_weight, i->head_bias, i->file_classes,
                 crn_model_get_config(t->model)->classes);
    else
        snprintf(note, sizeof note, "--init %s: loaded all %d tensors", t->cfg->init_path, i->total);
    progress(pctx, &(crn_progress){.phase = CRN_PHASE_TRAIN, .note = note});
}

static void ctx_free(train_ctx *t)
{
    crn_loader_destroy(t->loader);
    crn_optim_destroy(t->opt);
    crn_model_destroy(t->model);
    crn_run_dir_close(&t->run);
    free(t->config_text);
    free(t->losses);
    free(t->correct);
    free(t->host);
}

/* The learning rates of the run state to the optimiser's groups. */
static void use_lrs(train_ctx *t)
{
    crn_optim_set_lr(t->opt, 0, t->st.lr);
    if (crn_optim_group_count(t->opt) > 1) crn_optim_set_lr(t->opt, 1, t->st.head_lr);
}

/* The optimiser's parameter groups: what --freeze leaves trainable, with
 * the classifier in a group of its own under --head-lr (PyTorch: frozen
 * parameters are not given to the optimiser at all). */
static int set_groups(train_ctx *t, crn_error *err)
{
    size_t np = 0, from = 0, head = 0;
    crn_model_params_buffer(t->model, &np);
    crn_model_param_groups(t->model, &from, &head);
    double lr = t->cfg->optim.lr, head_lr = t->cfg->head_lr;
    if (head_lr > 0)
        return crn_optim_set_groups(t->opt, (const crn_optim_group[]){{from, head, lr}, {head, np, head_lr}}, 2, err);
    return crn_optim_set_groups(t->opt, (const crn_optim_group[]){{from, np, lr}}, 1, err);
}

/* BN running statistics and num_batches_tracked of rank 0 to every rank,
 * as DDP's broadcast_buffers: evaluation on every shard then uses the
 * weights rank 0 writes to its checkpoints. */
static int sync_buffers(train_ctx *t, crn_error *err)
{
    if (t->d->size == 1) return CRN_OK;
    size_t nb = 0;
    cl_mem bufs = crn_model_buffers_buffer(t->model, &nb);
    int rc = crn_dist_bcast_buffer(t->d, t->rt, bufs, nb, t->host, err);
    for (int i = 0; rc == CRN_OK && i < crn_model_tensor_count(t->model); i++) {
        crn_param *p = crn_model_tensor(t->model, i);
        if (p->is_counter) rc = crn_dist_bcast(t->d, &p->counter, sizeof p->counter, 0, err);
    }
    return rc;
}

/* Rank 0's weights (and, with opt, optimiser and run state) to every rank:
 * after initialising or resuming, and after loading the best weights. */
static int sync_state(train_ctx *t, bool opt, crn_error *err)
{
    if (t->d->size == 1) return CRN_OK;
    size_t np = 0;
    cl_mem params = crn_model_params_buffer(t->model, &np);
    int rc = crn_dist_bcast_buffer(t->d, t->rt, params, np, t->host, err);
    if (rc == CRN_OK) rc = sync_buffers(t, err);
    if (rc != CRN_OK || !opt) return rc;
    crn_optim_state os;
    crn_optim_get_state(t->opt, &os);
    for (int i = 0; rc == CRN_OK && i < os.buffer_count; i++)
        rc = crn_dist_bcast_buffer(t->d, t->rt, os.buffers[i], np, t->host, err);
    double counters[2] = {(double)os.step, os.mu_product};
    if (rc == CRN_OK) rc = crn_dist_bcast(t->d, counters, sizeof counters, 0, err);
    if (rc == CRN_OK) crn_optim_set_counters(t->opt, (long long)counters[0], counters[1]);
    if (rc == CRN_OK) rc = crn_dist_bcast(t->d, &t->st, sizeof t->st, 0, err);
    if (rc == CRN_OK) use_lrs(t);
    return rc;
}

static int save_last(train_ctx *t, crn_train_result *res, crn_error *err)
{
    if (!t->lead) return CRN_OK;
    int rc = crn_checkpoint_save(t->last_path, t->model, t->opt, &t->st, t->config_text, err);
    if (rc == CRN_OK) {
        snprintf(res->checkpoint, sizeof res->checkpoint, "%s", t->last_path);
        t->have_last = true;
    }
    return rc;
}

/* Seconds left in the whole run, from inside epoch `epoch` whose training
 * phase has eta_s to go and takes train_s in all: the rest of this epoch
 * (its validation included) and the epochs left up to --epochs, at the mean
 * wall time of the epochs done so far (before the first: this one's
 * training time plus a validation pass, a third of a training step per
 * image). Early stopping can only make it shorter. */
static double run_eta(const train_ctx *t, int epoch, double eta_s, double train_s)
{
    double n_train = (double)t->ds->count[CRN_SPLIT_TRAIN], n_val = (double)t->ds->count[CRN_SPLIT_VAL];
    double val_s = train_s * n_val / (3.0 * (n_train > 0 ? n_train : 1));
    double epoch_s = t->epochs_timed ? t->epoch_wall_sum / t->epochs_timed : train_s + val_s;
    return eta_s + val_s + (double)(t->cfg->epochs - epoch) * epoch_s;
}

/* One epoch of training from position st.epoch_position of its order on.
 * Returns CRN_OK, CRN_EINTR (stop requested, checkpoint written) or an
 * error. With several ranks every step is collective: each rank computes
 * the gradient of its part of the global batch, then one small all-reduce
 * (samples, loss, correct, stop) and the gradient all-reduce make the step
 * the same everywhere. */
static int train_epoch(train_ctx *t, int epoch, volatile sig_atomic_t *stop, crn_progress_fn progress, void *pctx,
                       crn_train_result *res, crn_error *err)
{
    const crn_train_config *c = t->cfg;
    const crn_dist *d = t->d;
    if (t->st.epoch_position < 0) t->st.epoch_position = t->st.epoch_batches * c->batch_size;
    size_t n_train = t->ds->count[CRN_SPLIT_TRAIN];
    if ((size_t)t->st.epoch_position > n_train) t->st.epoch_position = (long long)n_train;
    int rc = crn_loader_start_epoch_at(t->loader, (uint64_t)epoch, (size_t)t->st.epoch_position, err);
    if (rc != CRN_OK) return rc;
    size_t batches = crn_loader_batches_per_epoch(t->loader);
    double t0 = crn_now_s() - t->st.epoch_seconds, seen_at_start = t->st.epoch_seen;
    const crn_batch *b = NULL;
    size_t np = 0;
    cl_mem params = crn_model_params_buffer(t->model, &np), grads = crn_model_grads_buffer(t->model, &np);
    for (;;) {
        int got = crn_loader_next(t->loader, &b, err);
        if (got < 0) return got;
        if (got == 0) break;
        /* The step goes into the queue with no wait; one read at its end
         * brings back the losses and correct answers. With several ranks,
         * the sample count and the stop request are summed first (the
         * gradient all-reduce weighs by them), the losses at the end. */
        double v[4] = {b->n, stop && *stop, 0, 0}; /* samples, stop; then loss sum, correct */
        if ((rc = crn_dist_sum_f64(d, v, 2, err)) != CRN_OK) return rc;
        t->st.epoch_position += (long long)b->global_n;
        if (v[0] == 0) continue; /* every sample of the step was bad and skipped */
        if (b->n > 0) {
            if ((rc = crn_model_forward(t->model, b->images, b->n, true, err)) != CRN_OK) return rc;
            if ((rc = crn_model_loss(t->model, b->labels, b->n, NULL, err)) != CRN_OK) return rc;
            if ((rc = crn_model_backward(t->model, err)) != CRN_OK) return rc;
        }
        /* the mean over the global batch: each rank's mean times its share */
        if (d->size > 1 &&
            (rc = crn_dist_allreduce_buffer(d, t->rt, grads, np, t->host, (float)b->n, (float)(1.0 / v[0]), err)) !=
                CRN_OK)
            return rc;
        if ((rc = crn_optim_step(t->opt, params, grads, err)) != CRN_OK) return rc;
        if (b->n > 0 && (rc = crn_model_read_loss(t->model, b->n, t->losses, t->correct, err)) != CRN_OK) return rc;
        for (int i = 0; i < b->n; i++) {
            v[2] += t->losses[i];
            v[3] += t->correct[i];
        }
        if ((rc = crn_dist_sum_f64(d, v + 2, 2, err)) != CRN_OK) return rc;
        double bl = v[2] / v[0];
        if (!isfinite(bl))
            return crn_fail(err, CRN_EINVAL,
                            "the loss became %s at step %lld (epoch %d, batch %zu); stopping. %s%s",
                            isnan(bl) ? "NaN" : "infinite", t->st.step + 1, epoch, b->batch_index + 1,
                            t->have_last ? "The last good checkpoint is " : "No checkpoint was written yet",
                            t->have_last ? t->last_path : "");
        t->st.step++;
        t->st.epoch_batches++;
        t->st.epoch_loss_sum += v[2];
        t->st.epoch_correct += v[3];
        t->st.epoch_seen += v[0];
        t->st.epoch_seconds = crn_now_s() - t0;
        if (t->lead && (rc = crn_run_dir_log_step(&t->run, t->st.step, epoch, bl, t->st.lr, err)) != CRN_OK)
            return rc;
        if (progress) {
            double el = crn_now_s() - t0;
            crn_progress p = {.phase = CRN_PHASE_TRAIN, .epoch = epoch, .epochs = c->epochs,
                              .batch = b->batch_index + 1, .batches = batches, .step = t->st.step,
                              .loss = t->st.epoch_loss_sum / t->st.epoch_seen,
                              .images_per_s = (t->st.epoch_seen - seen_at_start) / (el > 0 ? el : 1e-9)};
            p.eta_s = (double)(batches - p.batch) * el / (double)p.batch;
            p.eta_run_s = run_eta(t, epoch, p.eta_s, el + p.eta_s);
            progress(pctx, &p);
        }
        if (c->max_steps > 0 && t->st.step >= c->max_steps) {
            res->max_steps_reached = true;
            break;
        }
        if (v[1] > 0 || (d->size == 1 && stop && *stop)) {
            /* Finish here: the checkpoint records the position in the epoch. */
            if ((rc = save_last(t, res, err)) != CRN_OK) return rc;
            res->interrupted = true;
            return CRN_EINTR;
        }
    }
    return CRN_OK;
}

void crn_train_result_free(crn_train_result *res)
{
    free(res->test_logits);
    res->test_logits = NULL;
    res->test_count = 0;
}

/* The test split with the best weights (lowest validation loss): its loss,
 * accuracy and logits go back to the caller, which writes the report. */
static int final_test(train_ctx *t, crn_train_result *res, crn_progress_fn progress, void *pctx, crn_error *err)
{
    int rc = CRN_OK;
    if (t->lead && t->st.best_epoch > 0 && (rc = crn_checkpoint_load(t->best_path, t->model, NULL, NULL, err)) != CRN_OK)
        return rc;
    if ((rc = sync_state(t, false, err)) != CRN_OK) return rc;
    size_t nt = t->ds->count[CRN_SPLIT_TEST];
    int k = crn_model_get_config(t->model)->classes;
    float *logits = malloc(nt * (size_t)k * sizeof *logits);
    if (!logits) return crn_fail(err, CRN_ENOMEM, "out of host memory");
    crn_loader_config el;
    loader_config(t->cfg, false, &el);
    crn_eval_result er;
    rc = crn_evaluate_dist(t->d, t->model, t->ds, CRN_SPLIT_TEST, &el, &er, logits, progress, pctx, t->st.epoch, err);
    res->test_loss = er.loss;
    res->test_acc = er.accuracy;
    if (rc != CRN_OK || !t->lead) {
        free(logits);
        return rc;
    }
    res->test_logits = logits;
    res->test_count = nt;
    snprintf(res->test_checkpoint, sizeof res->test_checkpoint, "%s", t->st.best_epoch > 0 ? t->best_path : t->last_path);
    return CRN_OK;
}

/* The dataset: every split has images, and every rank has the same data. */
static int check_data(train_ctx *t, uint64_t *checksum, crn_error *err)
{
    const crn_train_config *c = t->cfg;
    for (int s = 0; s < CRN_SPLIT_COUNT; s++)
        if (t->ds->count[s] == 0)
            return crn_fail(err, CRN_EINVAL, "%s: the %s split is empty", c->data_root, crn_split_name((crn_split)s));
    uint64_t mine = crn_dataset_checksum(t->ds), lead = mine;
    int rc = crn_dist_bcast(t->d, &lead, sizeof lead, 0, err);
    if (rc == CRN_OK && lead != mine)
        rc = crn_fail(err, CRN_EINVAL, "rank %d on %s: the data in %s differs from rank 0's (dataset checksum)",
                      t->d->rank, t->d->host, c->data_root);
    *checksum = mine;
    return rc;
}

/* Model, optimiser and host buffers, once the device memory plan fits. */
static int create_model(train_ctx *t, crn_ops *ops, crn_error *err)
{
    const crn_train_config *c = t->cfg;
    crn_model_config mc = c->model;
    mc.classes = t->ds->num_classes;
    mc.image_size = c->transform.image_size;
    int rc = crn_train_plan_memory(ops, &mc, c->batch_size, c->optim.kind, NULL, err);
    if (rc == CRN_OK) rc = crn_model_create(ops, &mc, c->batch_size, &t->model, err);
    if (rc != CRN_OK) return rc;
    size_t np = 0, nbuf = 0;
    crn_model_params_buffer(t->model, &np);
    crn_model_buffers_buffer(t->model, &nbuf);
    if ((rc = crn_optim_create(t->rt, &c->optim, np, &t->opt, err)) != CRN_OK) return rc;
    if ((rc = set_groups(t, err)) != CRN_OK) return rc;
    t->losses = malloc((size_t)c->batch_size * sizeof *t->losses);
    t->correct = malloc((size_t)c->batch_size * sizeof *t->correct);
    if (t->d->size > 1) t->host = malloc((np > nbuf ? np : nbuf) * sizeof *t->host + 1);
    if (!t->losses || !t->correct || (t->d->size > 1 && !t->host))
        return crn_fail(err, CRN_ENOMEM, "out of host memory");
    if ((rc = crn_path_fmt(t->last_path, sizeof t->last_path, err, "%s/last.safetensors", c->out_dir)) != CRN_OK)
        return rc;
    return crn_path_fmt(t->best_path, sizeof t->best_path, err, "%s/best.safetensors", c->out_dir);
}

/* Rank 0 continues from the run's last checkpoint. */
static int resume_state(train_ctx *t, uint64_t checksum, crn_error *err)
{
    const crn_train_config *c = t->cfg;
    if (access(t->last_path, F_OK) != 0)
        return crn_fail(err, CRN_EINVAL,
                        "%s does not exist: the run in %s stopped before its first checkpoint; start it again "
                        "without --resume, with --out %s --overwrite",
                        t->last_path, c->out_dir, c->out_dir);
    int rc = crn_checkpoint_load(t->last_path, t->model, t->opt, &t->st, err);
    if (rc != CRN_OK) return rc;
    t->have_last = true;
    if (t->st.data_checksum != checksum)
        return crn_fail(err, CRN_EINVAL, "%s was trained on other data than %s (dataset checksum differs)",
                        t->last_path, c->data_root);
    if (t->st.seed != c->seed)
        return crn_fail(err, CRN_EINVAL, "%s used --seed %llu; resume with the same seed", t->last_path,
                        (unsigned long long)t->st.seed);
    if ((t->st.head_lr > 0) != (c->head_lr > 0))
        return crn_fail(err, CRN_EFORMAT, "%s %s a learning rate for the classifier, but the run's config.json %s",
                        t->last_path, t->st.head_lr > 0 ? "has" : "does not have",
                        c->head_lr > 0 ? "has one" : "does not");
    use_lrs(t);
    return CRN_OK;
}

/* Fresh state, then whatever the checkpoint or --init says; every rank gets rank 0's. */
static int start_state(train_ctx *t, uint64_t checksum, crn_error *err)
{
    const crn_train_config *c = t->cfg;
    t->st.lr = c->optim.lr;
    t->st.head_lr = c->head_lr;
    t->st.plateau = c->plateau;
    t->st.plateau.best = INFINITY;
    t->st.plateau.num_bad_epochs = t->st.plateau.cooldown_counter = t->st.plateau.last_epoch = 0;
    crn_early_stop_init(&t->st.early, c->early_stop_patience, c->early_stop_threshold);
    t->st.seed = c->seed;
    t->st.data_checksum = checksum;
    int rc;
    if (t->lead && c->resume) rc = resume_state(t, checksum, err);
    else if (t->lead && c->init_path) {
        /* initialised first: a replaced classifier keeps these values */
        rc = crn_model_init(t->model, c->seed, err);
        if (rc == CRN_OK) rc = crn_checkpoint_load_init(c->init_path, t->model, &t->init, err);
        t->have_init = rc == CRN_OK;
    }
    else rc = crn_model_init(t->model, c->seed, err); /* other ranks: overwritten by rank 0's below */
    if (rc == CRN_OK) rc = sync_state(t, true, err);
    t->have_last = c->resume;
    return rc;
}

/* The run's config.json text (rank 0 keeps the changes logged by earlier resumes). */
static int make_config_text(train_ctx *t, crn_error *err)
{
    const crn_train_config *c = t->cfg;
    char *previous = NULL;
    if (t->lead && c->resume) {
        char p[CRN_PATH_MAX];
        size_t n = 0;
        int rc = crn_path_fmt(p, sizeof p, err, "%s/config.json", c->out_dir);
        if (rc) return rc;
        if (crn_read_file(p, &previous, &n, NULL) != CRN_OK) previous = NULL;
    }
    t->config_text = crn_run_config_json(c, t->ds, crn_model_param_count(t->model), previous, t->st.epoch, t->st.step);
    free(previous);
    return t->config_text ? CRN_OK : crn_fail(err, CRN_ENOMEM, "out of host memory");
}

/* Rank 0: the run folder with its logs, config.json and splits.json (now,
 * so that a report made mid-run shows the label distribution). A folder
 * that holds another run is never written over unless asked to. */
static int open_run_folder(train_ctx *t, crn_error *err)
{
    const crn_train_config *c = t->cfg;
    int rc = make_config_text(t, err);
    if (rc != CRN_OK || !t->lead) return rc;
    if (!c->resume && (rc = crn_run_dir_claim(c->out_dir, c->overwrite, err)) != CRN_OK) return rc;
    rc = crn_run_dir_open(&t->run, c->out_dir, c->resume, t->st.epoch, t->st.step, err);
    if (rc == CRN_OK) rc = crn_run_dir_write_text(&t->run, "config.json", t->config_text, err);
    if (rc != CRN_OK) return rc;
    crn_class_table ct;
    const char *mode = t->ds->kind == CRN_DATASET_FLOWERS102 ? crn_split_mode_name(c->split_mode) : NULL;
    if ((rc = crn_class_table_from_dataset(&ct, t->ds, mode, err)) != CRN_OK) return rc;
    rc = crn_class_table_write(&ct, c->out_dir, err);
    crn_class_table_free(&ct);
    return rc;
}

/* Whether the run has nothing left to train: its epochs, its --max-steps or
 * early stopping ended it. */
static bool training_done(const train_ctx *t)
{
    const crn_train_config *c = t->cfg;
    return t->st.epoch >= c->epochs || t->st.early.bad_epochs >= t->st.early.patience ||
           (c->max_steps > 0 && t->st.step >= c->max_steps);
}

/* After an epoch's training: validation, the scheduler and early stopping,
 * checkpoints and the log. *stop_now: early stopping says stop. */
static int end_epoch(train_ctx *t, int epoch, crn_epoch_record *rec, bool *stop_now, crn_progress_fn progress,
                     void *pctx, crn_train_result *res, crn_error *err)
{
    const crn_train_config *c = t->cfg;
    *rec = (crn_epoch_record){.epoch = epoch, .lr = t->st.lr, .seconds = t->st.epoch_seconds};
    rec->train_loss = t->st.epoch_loss_sum / t->st.epoch_seen;
    rec->train_acc = t->st.epoch_correct / t->st.epoch_seen;
    rec->train_images_per_s = t->st.epoch_seen / (t->st.epoch_seconds > 0 ? t->st.epoch_seconds : 1e-9);
    crn_loader_config el;
    loader_config(c, false, &el);
    crn_eval_result er;
    int rc = sync_buffers(t, err);
    if (rc == CRN_OK)
        rc = crn_evaluate_dist(t->d, t->model, t->ds, CRN_SPLIT_VAL, &el, &er, NULL, progress, pctx, epoch, err);
    if (rc != CRN_OK) return rc;
    rec->val_loss = er.loss;
    rec->val_acc = er.accuracy;
    rec->val_top5 = er.top5;
    /* every group's lr is reduced together, as PyTorch's scheduler does */
    bool reduce = crn_plateau_update(&t->st.plateau, rec->val_loss);
    double new_lr = reduce ? crn_plateau_reduce(&t->st.plateau, t->st.lr) : t->st.lr;
    *stop_now = crn_early_stop_update(&t->st.early, rec->val_loss, &rec->best);
    t->st.epoch = epoch;
    t->st.epoch_batches = t->st.epoch_position = 0;
    t->st.epoch_loss_sum = t->st.epoch_correct = t->st.epoch_seen = t->st.epoch_seconds = 0;
    t->st.lr = new_lr;
    if (reduce && t->st.head_lr > 0) t->st.head_lr = crn_plateau_reduce(&t->st.plateau, t->st.head_lr);
    use_lrs(t);
    if (rec->best) {
        t->st.best_epoch = epoch;
        if (t->lead && (rc = crn_checkpoint_save(t->best_path, t->model, NULL, &t->st, t->config_text, err)) != CRN_OK)
            return rc;
    }
    if (t->lead && (rc = crn_run_dir_log_epoch(&t->run, rec, err)) != CRN_OK) return rc;
    if ((rc = save_last(t, res, err)) != CRN_OK) return rc;
    res->epochs_run = epoch;
    if (progress) {
        crn_progress p = {.phase = CRN_PHASE_VAL, .epoch = epoch, .epochs = c->epochs, .step = t->st.step,
                          .epoch_done = rec, .next_lr = new_lr, .early_stop = *stop_now,
                          .early_stop_patience = t->st.early.patience, .plateau_patience = t->st.plateau.patience,
                          .best_val_loss = t->st.early.best, .best_epoch = t->st.best_epoch};
        progress(pctx, &p);
    }
    return CRN_OK;
}

int crn_train(crn_ops *ops, const crn_train_config *c, const crn_dataset *ds, volatile sig_atomic_t *stop,
              crn_progress_fn progress, void *pctx, crn_train_result *res, crn_error *err)
{
    train_ctx t;
    memset(&t, 0, sizeof t);
    memset(res, 0, sizeof *res);
    t.cfg = c;
    t.rt = crn_ops_runtime(ops);
    t.ds = ds;
    t.d = c->dist ? c->dist : crn_dist_single();
    t.lead = t.d->rank == 0;
    if (c->batch_size < 1) return crn_fail(err, CRN_EINVAL, "--batch-size must be at least 1 (got %d)", c->batch_size);
    if (c->epochs < 1) return crn_fail(err, CRN_EINVAL, "--epochs must be at least 1 (got %d)", c->epochs);
    int rc = crn_transform_config_check(&c->transform, err);
    uint64_t checksum = 0;
    if (rc == CRN_OK) rc = check_data(&t, &checksum, err);
    if (rc == CRN_OK) rc = create_model(&t, ops, err);
    if (rc == CRN_OK) rc = start_state(&t, checksum, err);
    if (rc == CRN_OK) report_init(&t, progress, pctx);
    if (rc == CRN_OK && c->resume && training_done(&t) && !c->test_if_done) {
        res->nothing_to_do = true;
        res->early_stopped = t.st.early.bad_epochs >= t.st.early.patience;
        res->max_steps_reached = c->max_steps > 0 && t.st.step >= c->max_steps;
        res->best_val_loss = t.st.early.best;
        res->best_epoch = t.st.best_epoch;
        res->steps = t.st.step;
        res->epochs_run = t.st.epoch;
        ctx_free(&t);
        return CRN_OK;
    }
    if (rc == CRN_OK) rc = open_run_folder(&t, err);
    crn_loader_config tl;
    loader_config(c, true, &tl);
    tl.shard_rank = t.d->rank;
    tl.shard_count = t.d->size;
    if (rc == CRN_OK)
        rc = crn_loader_create(&t.loader, ds->samples[CRN_SPLIT_TRAIN], ds->count[CRN_SPLIT_TRAIN], &tl, err);

    double train_seconds = 0, train_images = 0;
    bool stop_now = t.st.early.bad_epochs >= t.st.early.patience;
    /* a resumed run that already took its --max-steps takes no more */
    if (c->max_steps > 0 && t.st.step >= c->max_steps) res->max_steps_reached = true;
    for (int epoch = t.st.epoch + 1; rc == CRN_OK && epoch <= c->epochs && !stop_now && !res->max_steps_reached;
         epoch++) {
        double e0 = crn_now_s();
        rc = train_epoch(&t, epoch, stop, progress, pctx, res, err);
        crn_epoch_record rec;
        if (rc == CRN_OK) {
            train_seconds += t.st.epoch_seconds;
            train_images += t.st.epoch_seen;
            rc = end_epoch(&t, epoch, &rec, &stop_now, progress, pctx, res, err);
            t.epoch_wall_sum += crn_now_s() - e0;
            t.epochs_timed++;
        }
        double stop_flag = stop && *stop; /* every rank stops if one was asked to */
        if (rc == CRN_OK) rc = crn_dist_sum_f64(t.d, &stop_flag, 1, err);
        if (rc == CRN_OK && stop_flag > 0) {
            res->interrupted = true;
            rc = CRN_EINTR;
        }
    }
    res->early_stopped = stop_now;
    res->best_val_loss = t.st.early.best;
    res->best_epoch = t.st.best_epoch;
    res->train_images_per_s = train_images / (train_seconds > 0 ? train_seconds : 1e-9);
    if (rc == CRN_OK) rc = final_test(&t, res, progress, pctx, err);
    res->steps = t.st.step;
    res->epochs_run = t.st.epoch;
    ctx_free(&t);
    return rc;
}
