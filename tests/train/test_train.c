/* The training run end to end on a tiny fixed image folder
 * (tests/fixtures/train_tiny, made by make_fixtures_train.py: 3 classes x 8
 * training images, 40 px): the loss goes down, an interrupted-and-resumed
 * run logs bit-identical losses and ends with bit-identical weights, a NaN
 * stops the run naming the step and leaves the last checkpoint alone, and
 * damaged or foreign checkpoints are refused with a clear message. */
#define _GNU_SOURCE /* memmem */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clresnet/train/checkpoint.h"
#include "clresnet/train/train.h"
#include "clresnet/nn/weights.h"
#include "clresnet/eval/report.h"
#include "test_support.h"

#define TRAIN_IMAGES 24
#define BATCH 8
#define STEPS_PER_EPOCH (TRAIN_IMAGES / BATCH)

static char g_tmp[256];

static const char *tmp_root(void)
{
    if (!g_tmp[0]) {
        snprintf(g_tmp, sizeof g_tmp, "/tmp/clresnet-train-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(g_tmp));
    }
    return g_tmp;
}

/* A fresh, empty folder under the test's temporary root. */
static const char *run_dir(const char *name)
{
    static char bufs[8][512];
    static int next;
    char *b = bufs[next++ % 8];
    snprintf(b, sizeof bufs[0], "%s/%s", tmp_root(), name);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", b);
    ck_assert_int_eq(system(cmd), 0);
    return b;
}

/* What `clresnet train` does around crn_train: opens the dataset, trains,
 * then writes the test metrics and report into the run folder. */
static int train_run(const crn_train_config *c, volatile sig_atomic_t *stop, crn_progress_fn progress, void *ctx,
                     crn_train_result *res, crn_error *err)
{
    crn_dataset ds;
    crn_dataset_options opt;
    crn_dataset_options_default(&opt);
    opt.split_mode = c->split_mode;
    memset(res, 0, sizeof *res);
    int rc = crn_dataset_open(&ds, c->data_root, &opt, err);
    if (rc != CRN_OK) return rc;
    rc = crn_train(test_ops(), c, &ds, stop, progress, ctx, res, err);
    if (rc == CRN_OK && !res->nothing_to_do) {
        crn_metrics met;
        char html[4200];
        rc = crn_eval_write_run(c->out_dir, &ds, crn_split_mode_name(c->split_mode), CRN_SPLIT_TEST,
                                res->test_logits, res->test_count, res->test_checkpoint, 0, &met, html, sizeof html, err);
        if (rc == CRN_OK) crn_metrics_free(&met);
    }
    crn_train_result_free(res);
    crn_dataset_free(&ds);
    return rc;
}

static void small_config(crn_train_config *c, const char *out)
{
    static char data[4096];
    snprintf(data, sizeof data, "%s", test_fixture_path("train_tiny"));
    crn_train_config_default(c);
    c->data_root = data;
    c->out_dir = out;
    c->model.kind = CRN_MODEL_BASELINE;
    c->model.width = 0.25;
    c->transform.image_size = 32;
    c->transform.augment = 0;
    c->batch_size = BATCH;
    c->epochs = 2;
    c->workers = 2;
    c->device_desc = "test";
}

static char *slurp(const char *dir, const char *name, size_t *n)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", p);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)len + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_int_eq(fread(buf, 1, (size_t)len, f), (size_t)len);
    buf[len] = 0;
    fclose(f);
    if (n) *n = (size_t)len;
    return buf;
}

static void spit(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    ck_assert_int_eq(fwrite(data, 1, n, f), n);
    fclose(f);
}

static bool exists(const char *dir, const char *name)
{
    char p[1024];
    struct stat s;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &s) == 0;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

/* The per-epoch records without the timing fields (seconds, images/s). */
static void epoch_losses(const char *dir, char *out, size_t size, int *epochs)
{
    crn_epoch_record rec[16];
    crn_error err = {0};
    int n = crn_run_log_read(dir, rec, 16, &err);
    ck_assert_msg(n >= 0, "%s", err.msg);
    size_t used = 0;
    out[0] = 0;
    for (int i = 0; i < n; i++)
        used += (size_t)snprintf(out + used, size - used, "%d %.17g %.17g %.17g %.17g %.17g %d\n", rec[i].epoch,
                                 rec[i].train_loss, rec[i].train_acc, rec[i].val_loss, rec[i].val_acc, rec[i].lr,
                                 rec[i].best);
    *epochs = n;
}

/* Every tensor of two checkpoints is bit-identical (weights, BN statistics
 * and optimiser moments). */
static void same_tensors(const char *a_dir, const char *b_dir, const char *name)
{
    char pa[1024], pb[1024];
    snprintf(pa, sizeof pa, "%s/%s", a_dir, name);
    snprintf(pb, sizeof pb, "%s/%s", b_dir, name);
    crn_error err = {0};
    crn_st_file a, b;
    CK_OK(crn_st_read(pa, &a, &err));
    CK_OK(crn_st_read(pb, &b, &err));
    ck_assert_int_eq(a.count, b.count);
    for (int i = 0; i < a.count; i++) {
        const crn_st_tensor *tb = crn_st_find(&b, a.tensors[i].name);
        ck_assert_msg(tb != NULL, "%s: %s missing", pb, a.tensors[i].name);
        ck_assert_int_eq(a.tensors[i].nbytes, tb->nbytes);
        ck_assert_msg(memcmp(a.tensors[i].data, tb->data, tb->nbytes) == 0, "%s: tensor %s differs from %s", pb,
                      a.tensors[i].name, pa);
    }
    ck_assert_str_eq(crn_st_meta(&a, "run.step"), crn_st_meta(&b, "run.step"));
    ck_assert_str_eq(crn_st_meta(&a, "run.lr"), crn_st_meta(&b, "run.lr"));
    ck_assert_str_eq(crn_st_meta(&a, "run.plateau"), crn_st_meta(&b, "run.plateau"));
    ck_assert_str_eq(crn_st_meta(&a, "run.early_stop"), crn_st_meta(&b, "run.early_stop"));
    crn_st_free(&a);
    crn_st_free(&b);
}

/* The test numbers of a finished run come from its best weights on the
 * test split:
 *  - the best epoch is the last one whose validation loss improved on the
 *    best so far by the early-stopping threshold (replayed on the log), and
 *    log.jsonl marks exactly those epochs "best";
 *  - best.safetensors, loaded into a fresh model and evaluated on the test
 *    split here, gives res.test_acc exactly (the same device, kernels and
 *    batches) and res.test_loss within 1e-6 relative;
 *  - metrics.json (computed on the host from the test logits) holds the same
 *    accuracy exactly, every test image, and the loss within 1e-5 relative
 *    (float32 logits through a double log-softmax vs the float32 loss
 *    kernel: ~1e-7);
 *  - the accuracy is a whole number of correct images over the test count. */
static void check_test_result(const crn_train_config *c, const char *dir, const crn_train_result *res,
                              const crn_epoch_record *rec, int n)
{
    crn_error err = {0};
    crn_early_stop es;
    crn_early_stop_init(&es, c->early_stop_patience, c->early_stop_threshold);
    int best = 0;
    for (int i = 0; i < n; i++) {
        bool improved;
        crn_early_stop_update(&es, rec[i].val_loss, &improved);
        ck_assert_msg(rec[i].best == improved, "epoch %d is logged %s", i + 1, rec[i].best ? "best" : "not best");
        if (improved) best = i + 1;
    }
    ck_assert_int_eq(res->best_epoch, best);

    crn_dataset ds;
    crn_dataset_options opt;
    crn_dataset_options_default(&opt);
    opt.split_mode = c->split_mode;
    CK_OK(crn_dataset_open(&ds, c->data_root, &opt, &err));
    size_t nt = ds.count[CRN_SPLIT_TEST];
    crn_model_config mc = c->model;
    mc.image_size = c->transform.image_size;
    mc.classes = ds.num_classes;
    crn_model *m = NULL;
    CK_OK(crn_model_create(test_ops(), &mc, c->batch_size, &m, &err));
    char path[1024];
    snprintf(path, sizeof path, "%s/best.safetensors", dir);
    CK_OK(crn_checkpoint_load(path, m, NULL, NULL, &err));
    crn_loader_config lc;
    crn_loader_config_default(&lc);
    lc.batch_size = c->eval_batch_size > 0 ? c->eval_batch_size : c->batch_size;
    lc.workers = c->workers;
    lc.shuffle = 0;
    lc.skip_bad = c->skip_bad;
    lc.seed = c->seed;
    lc.transform = c->transform;
    lc.transform.augment = 0;
    crn_eval_result er;
    CK_OK(crn_evaluate(m, &ds, CRN_SPLIT_TEST, &lc, &er, NULL, NULL, NULL, 0, &err));
    crn_metrics met;
    CK_OK(crn_metrics_read(&met, NULL, dir, &err));
    printf("test split: accuracy %.6f loss %.7f (run); best.safetensors: %.6f %.7f; metrics.json: %.6f %.7f, "
           "%lld images\n", res->test_acc, res->test_loss, er.accuracy, er.loss, met.accuracy, met.loss, met.n);
    ck_assert_msg(res->test_acc == er.accuracy, "test accuracy %.9g, best.safetensors on the test split gives %.9g",
                  res->test_acc, er.accuracy);
    ck_assert_msg(fabs(res->test_loss - er.loss) <= 1e-6 * er.loss,
                  "test loss %.9g, best.safetensors on the test split gives %.9g", res->test_loss, er.loss);
    ck_assert_msg(met.accuracy == res->test_acc, "metrics.json accuracy %.9g, run %.9g", met.accuracy, res->test_acc);
    ck_assert_int_eq((int)met.n, (int)nt);
    ck_assert_msg(fabs(met.loss - res->test_loss) <= 1e-5 * res->test_loss, "metrics.json loss %.9g, run %.9g",
                  met.loss, res->test_loss);
    double correct = res->test_acc * (double)nt;
    ck_assert_msg(fabs(correct - round(correct)) < 1e-9, "accuracy %.9g is not k/%zu", res->test_acc, nt);
    crn_metrics_free(&met);
    crn_model_destroy(m);
    crn_dataset_free(&ds);
}

/* ---- 1. the loss goes down ---- */

START_TEST(test_loss_goes_down)
{
    crn_error err = {0};
    crn_train_config c;
    const char *out = run_dir("down");
    small_config(&c, out);
    c.epochs = 6;
    crn_train_result res;
    CK_OK(train_run(&c, NULL, NULL, NULL, &res, &err));
    ck_assert_int_eq(res.epochs_run, 6);
    ck_assert_int_eq(res.steps, 6 * STEPS_PER_EPOCH);
    ck_assert(!res.interrupted && !res.early_stopped && !res.max_steps_reached);
    crn_epoch_record rec[8];
    int n = crn_run_log_read(out, rec, 8, &err);
    ck_assert_int_eq(n, 6);
    /* Stated amount: the last epoch's mean training loss is below a third of
     * the first epoch's (3 well-separated classes; typically ~1/15), and
     * below 0.4 (chance is ln 3 = 1.10), after 6 epochs of 3 steps. */
    printf("train loss by epoch:");
    for (int i = 0; i < n; i++) printf(" %.4f", rec[i].train_loss);
    printf("; val loss %.4f -> %.4f; test acc %.3f\n", rec[0].val_loss, rec[n - 1].val_loss, res.test_acc);
    ck_assert_msg(rec[5].train_loss < rec[0].train_loss / 3, "train loss %g -> %g: not down to a third",
                  rec[0].train_loss, rec[5].train_loss);
    ck_assert_msg(rec[5].train_loss < 0.4, "final train loss %g", rec[5].train_loss);
    ck_assert_msg(rec[5].train_acc > 0.9, "final train accuracy %g", rec[5].train_acc);
    for (int i = 0; i < n; i++) {
        ck_assert_int_eq(rec[i].epoch, i + 1);
        ck_assert(isfinite(rec[i].val_loss));
        ck_assert(rec[i].lr == 1e-3);
    }
    /* steps.csv: a header and one line per step, the first loss near ln 3 */
    char *steps = slurp(out, "steps.csv", NULL);
    ck_assert_int_eq(count_lines(steps), 1 + 6 * STEPS_PER_EPOCH);
    ck_assert(strncmp(steps, "step,epoch,loss,lr\n1,1,", 23) == 0);
    double first = strtod(steps + 23, NULL);
    ck_assert_msg(first > 0.5 && first < 2.5, "first step loss %g (chance ln 3 = 1.0986)", first);
    free(steps);
    /* the folder holds what the run promises */
    const char *files[] = {"config.json", "log.csv", "log.jsonl", "steps.csv", "last.safetensors",
                           "best.safetensors", "metrics.json", "report.html", "splits.json"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) ck_assert_msg(exists(out, files[i]), "%s missing", files[i]);
    check_test_result(&c, out, &res, rec, n);
}
END_TEST

/* ---- 1b. the plateau schedule acts on the validation loss ---- */

/* The lr of each epoch that crn_plateau_step gives with the run's settings
 * (fresh state, as a new run starts) fed the logged validation loss, or the
 * training loss when use_train. */
static int replay_plateau(const crn_train_config *c, const crn_epoch_record *rec, int n, bool use_train, double *lr)
{
    crn_plateau p = c->plateau;
    p.best = INFINITY;
    p.num_bad_epochs = p.cooldown_counter = p.last_epoch = 0;
    double cur = c->optim.lr;
    int cuts = 0;
    for (int i = 0; i < n; i++) {
        lr[i] = cur;
        double next = crn_plateau_step(&p, use_train ? rec[i].train_loss : rec[i].val_loss, cur);
        cuts += next < cur;
        cur = next;
    }
    lr[n] = cur; /* the lr after the last epoch (for a resumed run) */
    return cuts;
}

START_TEST(test_plateau_schedule_wired)
{
    /* patience 0 and a relative threshold of 0.5: an epoch whose validation
     * loss is not below half the best so far cuts the lr (factor 0.5,
     * cooldown 1, min_lr 2e-4). On the tiny data the validation loss moves
     * slowly while the training loss falls fast, so the val-loss schedule
     * and a (wrong) train-loss schedule differ. */
    crn_error err = {0};
    crn_train_config c;
    const char *out = run_dir("plateau");
    small_config(&c, out);
    c.epochs = 6;
    c.plateau.factor = 0.5;
    c.plateau.patience = 0;
    c.plateau.threshold = 0.5;
    c.plateau.cooldown = 1;
    c.plateau.min_lr = 2e-4;
    crn_train_result res;
    CK_OK(train_run(&c, NULL, NULL, NULL, &res, &err));
    ck_assert_int_eq(res.epochs_run, 6);
    crn_epoch_record rec[8];
    int n = crn_run_log_read(out, rec, 8, &err);
    ck_assert_int_eq(n, 6);
    double want[9], wrong[9];
    int cuts = replay_plateau(&c, rec, n, false, want);
    replay_plateau(&c, rec, n, true, wrong);
    printf("plateau run: epoch val_loss train_loss lr (val-loss replay, train-loss replay)\n");
    for (int i = 0; i < n; i++)
        printf("  %d %.6f %.6f %.9g (%.9g, %.9g)\n", rec[i].epoch, rec[i].val_loss, rec[i].train_loss, rec[i].lr,
               want[i], wrong[i]);
    printf("  next lr (%.9g, %.9g)\n", want[n], wrong[n]);
    /* Tolerance 1e-8 relative: log.jsonl keeps 9 significant digits of the
     * lr; a cut is a factor 0.5. The replay reads the val_loss rounded to 6
     * decimals, which only matters within 1e-6 of a threshold. */
    for (int i = 0; i < n; i++)
        ck_assert_msg(fabs(rec[i].lr - want[i]) <= 1e-8 * want[i],
                      "epoch %d: logged lr %.9g, but the plateau schedule on the validation loss gives %.9g "
                      "(on the training loss: %.9g)", i + 1, rec[i].lr, want[i], wrong[i]);
    ck_assert_msg(cuts >= 1, "the plateau schedule never cut the lr: the run cannot tell");
    int differ = 0;
    for (int i = 0; i < n; i++) differ += want[i] != wrong[i];
    ck_assert_msg(differ > 0, "the training loss would give the same lr sequence: the run cannot tell");
    /* steps.csv: every step ran with its epoch's lr */
    char *steps = slurp(out, "steps.csv", NULL);
    ck_assert_int_eq(count_lines(steps), 1 + n * STEPS_PER_EPOCH);
    const char *line = strchr(steps, '\n') + 1;
    for (int i = 0; i < n * STEPS_PER_EPOCH; i++, line = strchr(line, '\n') + 1) {
        long long step;
        int epoch;
        double loss, lr;
        ck_assert_int_eq(sscanf(line, "%lld,%d,%lf,%lf", &step, &epoch, &loss, &lr), 4);
        ck_assert_int_eq(epoch, i / STEPS_PER_EPOCH + 1);
        ck_assert_msg(fabs(lr - want[epoch - 1]) <= 1e-8 * want[epoch - 1], "step %lld: lr %.9g, epoch %d's is %.9g",
                      step, lr, epoch, want[epoch - 1]);
    }
    free(steps);
    /* the lr after the last cut (clamped to min_lr 2e-4) is what a resumed
     * run would continue with: last.safetensors' run.lr ("%.17g") */
    char last[1024];
    snprintf(last, sizeof last, "%s/last.safetensors", out);
    crn_st_file f;
    CK_OK(crn_st_read(last, &f, &err));
    ck_assert_ptr_nonnull(crn_st_meta(&f, "run.lr"));
    double next = strtod(crn_st_meta(&f, "run.lr"), NULL);
    ck_assert_msg(fabs(next - want[n]) <= 1e-12 * want[n], "last.safetensors run.lr %.17g, replay %.17g", next,
                  want[n]);
    crn_st_free(&f);
    check_test_result(&c, out, &res, rec, n);
}
END_TEST

/* ---- 2. resume ---- */

typedef struct stopper {
    volatile sig_atomic_t *flag;
    long long at_step;
    crn_progress_phase at_phase; /* CRN_PHASE_TRAIN: after that step; CRN_PHASE_VAL: after that epoch */
    int at_epoch;
} stopper;

static void stop_cb(void *vctx, const crn_progress *p)
{
    stopper *s = vctx;
    if (s->at_phase == CRN_PHASE_TRAIN && p->phase == CRN_PHASE_TRAIN && !p->epoch_done && p->step == s->at_step)
        *s->flag = 1;
    if (s->at_phase == CRN_PHASE_VAL && p->epoch_done && p->epoch == s->at_epoch) *s->flag = 1;
}

/* The uninterrupted reference: 2 epochs, shuffled, augmented (so the RNG
 * state of the loader matters too). */
static const char *reference_run(void)
{
    static char ref[512];
    if (ref[0]) return ref;
    crn_error err = {0};
    crn_train_config c;
    snprintf(ref, sizeof ref, "%s", run_dir("ref"));
    small_config(&c, ref);
    c.transform.augment = 1;
    crn_train_result res;
    CK_OK(train_run(&c, NULL, NULL, NULL, &res, &err));
    ck_assert_int_eq(res.steps, 2 * STEPS_PER_EPOCH);
    return ref;
}

static void check_same_as_reference(const char *dir)
{
    const char *ref = reference_run();
    char *a = slurp(ref, "steps.csv", NULL), *b = slurp(dir, "steps.csv", NULL);
    ck_assert_int_eq(count_lines(a), 1 + 2 * STEPS_PER_EPOCH);
    ck_assert_msg(strcmp(a, b) == 0, "steps.csv differs:\n--- uninterrupted\n%s--- resumed\n%s", a, b);
    free(a);
    free(b);
    char ea[4096], eb[4096];
    int na, nb;
    epoch_losses(ref, ea, sizeof ea, &na);
    epoch_losses(dir, eb, sizeof eb, &nb);
    ck_assert_int_eq(na, 2);
    ck_assert_int_eq(nb, 2);
    ck_assert_msg(strcmp(ea, eb) == 0, "log.jsonl differs:\n--- uninterrupted\n%s--- resumed\n%s", ea, eb);
    /* log.csv: the same number of lines (the columns are those of log.jsonl) */
    a = slurp(ref, "log.csv", NULL);
    b = slurp(dir, "log.csv", NULL);
    ck_assert_int_eq(count_lines(a), count_lines(b));
    free(a);
    free(b);
    same_tensors(ref, dir, "last.safetensors");
    same_tensors(ref, dir, "best.safetensors");
}

/* Runs to 2 epochs, stopping where s says, then resumes (more than once if
 * resume_stops lists further stops) to the end. */
static void interrupted_run(const char *dir, stopper first, const long long *more_stops, int n_more)
{
    crn_error err = {0};
    crn_train_config c;
    small_config(&c, dir);
    c.transform.augment = 1;
    volatile sig_atomic_t flag = 0;
    first.flag = &flag;
    crn_train_result res;
    int rc = train_run(&c, &flag, stop_cb, &first, &res, &err);
    ck_assert_msg(rc == CRN_EINTR, "want an interrupt, got %d: %s", rc, err.msg);
    ck_assert(res.interrupted);
    ck_assert(exists(dir, "last.safetensors"));
    c.resume = true;
    for (int i = 0; i < n_more; i++) {
        flag = 0;
        stopper s = {&flag, more_stops[i], CRN_PHASE_TRAIN, 0};
        rc = train_run(&c, &flag, stop_cb, &s, &res, &err);
        ck_assert_msg(rc == CRN_EINTR, "resume %d: want an interrupt, got %d: %s", i + 1, rc, err.msg);
        ck_assert_int_eq(res.steps, more_stops[i]);
    }
    flag = 0;
    CK_OK(train_run(&c, &flag, NULL, NULL, &res, &err));
    ck_assert(!res.interrupted);
    ck_assert_int_eq(res.epochs_run, 2);
    ck_assert_int_eq(res.steps, 2 * STEPS_PER_EPOCH);
}

START_TEST(test_resume_after_epoch)
{
    /* 1 epoch (epochs = 1), then the same folder resumed with epochs = 2 */
    crn_error err = {0};
    crn_train_config c;
    const char *dir = run_dir("resume_epoch");
    small_config(&c, dir);
    c.transform.augment = 1;
    c.epochs = 1;
    crn_train_result res;
    CK_OK(train_run(&c, NULL, NULL, NULL, &res, &err));
    ck_assert_int_eq(res.epochs_run, 1);
    c.epochs = 2;
    c.resume = true;
    CK_OK(train_run(&c, NULL, NULL, NULL, &res, &err));
    ck_assert_int_eq(res.epochs_run, 2);
    check_same_as_reference(dir);
}
END_TEST

START_TEST(test_resume_after_stop_at_epoch_end)
{
    /* the stop flag raised during epoch 1's validation: checkpoint after it */
    stopper s = {NULL, 0, CRN_PHASE_VAL, 1};
    const char *dir = run_dir("resume_val");
    interrupted_run(dir, s, NULL, 0);
    check_same_as_reference(dir);
}
END_TEST

START_TEST(test_resume_mid_epoch)
{
    /* stops after step 2 (mid epoch 1), 3 (the last batch of epoch 1, before
     * its validation) and 4 (first batch of epoch 2) */
    stopper s = {NULL, 2, CRN_PHASE_TRAIN, 0};
    const long long more[] = {3, 4};
    const char *dir = run_dir("resume_mid");
    interrupted_run(dir, s, more, 2);
    check_same_as_reference(dir);
}
END_TEST

/* ---- 3. NaN stops the run ---- */

static void poke_nan(crn_model *m, const char *tensor)
{
    crn_error err = {0};
    int i = crn_model_find(m, tensor);
    ck_assert_msg(i >= 0, "no tensor %s", tensor);
    crn_param *p = crn_model_tensor(m, i);
    float *host = malloc(p->numel * sizeof *host);
    ck_assert_ptr_nonnull(host);
    CK_OK(crn_tensor_download(crn_model_runtime(m), &p->value, host, &err));
    host[0] = NAN;
    CK_OK(crn_tensor_upload(crn_model_runtime(m), &p->value, host, &err));
    free(host);
}

static crn_model *small_model(int classes)
{
    crn_error err = {0};
    crn_model_config mc = {CRN_MODEL_BASELINE, CRN_ACT_RELU, true, classes, 32, 0.25, false, 0};
    crn_model *m = NULL;
    CK_OK(crn_model_create(test_ops(), &mc, BATCH, &m, &err));
    return m;
}

/* Saves m (destroyed) as NAME_init.safetensors and trains from it in run
 * folder NAME: the run must fail; returns the folder. */
static const char *train_from_bad_init(crn_model *m, const char *name, crn_train_result *res, crn_error *run_err)
{
    char init[600];
    crn_error err = {0};
    snprintf(init, sizeof init, "%s/%s_init.safetensors", tmp_root(), name);
    CK_OK(crn_weights_save(m, init, &err));
    crn_model_destroy(m);
    crn_train_config c;
    const char *dir = run_dir(name);
    small_config(&c, dir);
    c.init_path = init;
    ck_assert_int_ne(train_run(&c, NULL, NULL, NULL, res, run_err), CRN_OK);
    return dir;
}

START_TEST(test_nan_init_stops_at_step_1)
{
    crn_error err = {0};
    crn_model *m = small_model(3);
    CK_OK(crn_model_init(m, 0, &err));
    poke_nan(m, "fc.0.weight");
    crn_train_result res;
    const char *dir = train_from_bad_init(m, "nan", &res, &err);
    printf("NaN init: %s\n", err.msg);
    ck_assert_msg(strstr(err.msg, "NaN at step 1 ") != NULL, "message does not name step 1: %s", err.msg);
    ck_assert_int_eq(res.steps, 0);
    /* no checkpoint was written, and the message does not claim one */
    ck_assert(!exists(dir, "last.safetensors"));
    ck_assert_msg(strstr(err.msg, "last.safetensors") == NULL, "names a checkpoint that does not exist: %s", err.msg);
}
END_TEST

START_TEST(test_inf_init_stops)
{
    /* weights at FLT_MAX in the classifier: the logits overflow, the loss is
     * not finite at step 1 */
    crn_error err = {0};
    crn_model *m = small_model(3);
    CK_OK(crn_model_init(m, 0, &err));
    int i = crn_model_find(m, "fc.0.weight");
    ck_assert_int_ge(i, 0);
    crn_param *p = crn_model_tensor(m, i);
    float *host = malloc(p->numel * sizeof *host);
    for (size_t j = 0; j < p->numel; j++) host[j] = 3e38f;
    CK_OK(crn_tensor_upload(crn_model_runtime(m), &p->value, host, &err));
    free(host);
    crn_train_result res;
    train_from_bad_init(m, "inf", &res, &err);
    printf("huge init: %s\n", err.msg);
    ck_assert_msg(strstr(err.msg, "at step 1 ") != NULL, "message does not name step 1: %s", err.msg);
    ck_assert_msg(strstr(err.msg, "NaN") || strstr(err.msg, "infinite"), "%s", err.msg);
    ck_assert_int_eq(res.steps, 0);
}
END_TEST

START_TEST(test_nan_after_checkpoint_keeps_it)
{
    /* A 1-epoch run, then its checkpoint poisoned with a NaN weight (saved
     * as a valid checkpoint): resuming stops at step 4 and leaves
     * last.safetensors byte-for-byte as it was, still loadable. */
    crn_error err = {0};
    crn_train_config c;
    const char *dir = run_dir("nan_resume");
    small_config(&c, dir);
    c.epochs = 1;
    crn_train_result res;
    CK_OK(train_run(&c, NULL, NULL, NULL, &res, &err));
    char last[700];
    snprintf(last, sizeof last, "%s/last.safetensors", dir);
    crn_model *m = small_model(3);
    size_t np = 0;
    crn_model_params_buffer(m, &np);
    crn_optimizer *opt = NULL;
    CK_OK(crn_optim_create(test_runtime(), &c.optim, np, &opt, &err));
    crn_run_state st;
    CK_OK(crn_checkpoint_load(last, m, opt, &st, &err));
    ck_assert_int_eq(st.epoch, 1);
    ck_assert_int_eq(st.step, STEPS_PER_EPOCH);
    char *config = NULL;
    crn_model_config mc;
    CK_OK(crn_checkpoint_read_config(last, &mc, &config, &err));
    poke_nan(m, "fc.0.weight");
    CK_OK(crn_checkpoint_save(last, m, opt, &st, config, &err));
    free(config);
    size_t n_before, n_after;
    char *before = slurp(dir, "last.safetensors", &n_before);

    c.epochs = 2;
    c.resume = true;
    int rc = train_run(&c, NULL, NULL, NULL, &res, &err);
    ck_assert_int_ne(rc, CRN_OK);
    printf("NaN after resume: %s\n", err.msg);
    ck_assert_msg(strstr(err.msg, "at step 4 ") != NULL, "message does not name step 4: %s", err.msg);
    ck_assert_msg(strstr(err.msg, last) != NULL, "message does not name the last checkpoint: %s", err.msg);
    char *after = slurp(dir, "last.safetensors", &n_after);
    ck_assert(n_before == n_after && memcmp(before, after, n_after) == 0);
    CK_OK(crn_checkpoint_load(last, m, opt, &st, &err));
    ck_assert_int_eq(st.step, STEPS_PER_EPOCH);
    /* steps.csv holds the 3 good steps only */
    char *steps = slurp(dir, "steps.csv", NULL);
    ck_assert_int_eq(count_lines(steps), 1 + STEPS_PER_EPOCH);
    free(steps);
    free(before);
    free(after);
    crn_optim_destroy(opt);
    crn_model_destroy(m);
}
END_TEST

/* ---- 4. damaged and foreign checkpoints ---- */

static const char *one_epoch_run(void)
{
    static char dir[512];
    if (dir[0]) return dir;
    crn_error err = {0};
    crn_train_config c;
    snprintf(dir, sizeof dir, "%s", run_dir("one"));
    small_config(&c, dir);
    c.epochs = 1;
    crn_train_result res;
    CK_OK(train_run(&c, NULL, NULL, NULL, &res, &err));
    return dir;
}

/* Loads path into a fresh small model with its optimiser and run state;
 * returns the code, err filled. */
static int load_into(const char *path, crn_model_config mc, crn_error *err)
{
    crn_error e2 = {0};
    crn_model *m = NULL;
    ck_assert_msg(crn_model_create(test_ops(), &mc, BATCH, &m, &e2) == CRN_OK, "%s", e2.msg);
    size_t np = 0;
    crn_model_params_buffer(m, &np);
    crn_optim_config oc = crn_optim_defaults(CRN_OPT_NADAM);
    crn_optimizer *opt = NULL;
    ck_assert_msg(crn_optim_create(test_runtime(), &oc, np, &opt, &e2) == CRN_OK, "%s", e2.msg);
    crn_run_state st;
    int rc = crn_checkpoint_load(path, m, opt, &st, err);
    crn_optim_destroy(opt);
    crn_model_destroy(m);
    return rc;
}

static const crn_model_config k_small = {CRN_MODEL_BASELINE, CRN_ACT_RELU, true, 3, 32, 0.25, false, 0};

START_TEST(test_damaged_checkpoint_refused)
{
    crn_error err = {0};
    const char *dir = one_epoch_run();
    size_t n;
    char *good = slurp(dir, "last.safetensors", &n);
    char path[700];
    snprintf(path, sizeof path, "%s/copy.safetensors", tmp_root());
    spit(path, good, n);
    CK_OK(load_into(path, k_small, &err)); /* the copy itself is fine */

    /* a flipped bit in the tensor data, at several places */
    uint64_t header;
    memcpy(&header, good, 8);
    size_t data0 = 8 + (size_t)header;
    ck_assert(data0 < n);
    size_t where[] = {data0, data0 + (n - data0) / 3, data0 + (n - data0) / 2, n - 1};
    for (size_t i = 0; i < sizeof where / sizeof *where; i++) {
        char *bad = malloc(n);
        memcpy(bad, good, n);
        bad[where[i]] ^= 0x10;
        spit(path, bad, n);
        free(bad);
        memset(&err, 0, sizeof err);
        int rc = load_into(path, k_small, &err);
        ck_assert_msg(rc != CRN_OK, "a flipped bit at byte %zu of %zu was accepted", where[i], n);
        ck_assert_msg(strstr(err.msg, "damaged") != NULL, "byte %zu: %s", where[i], err.msg);
        /* the stored checksum is quoted as it is in the file (16 hex digits) */
        const char *st = strstr(err.msg, "stored ");
        ck_assert_msg(st && strspn(st + 7, "0123456789abcdef") == 16 && st[23] == ')', "%s", err.msg);
        if (i == 0) printf("flipped bit: %s\n", err.msg);
    }
    /* a changed digit in the header's run state (run.step "3" -> "4") or
     * in the configuration: the metadata is covered by a checksum too */
    const char *keys[] = {"\"run.step\"", "\"run.lr\"", "\"image_size\""};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        char *bad = malloc(n);
        memcpy(bad, good, n);
        char *k = memmem(bad + 8, (size_t)header, keys[i], strlen(keys[i]));
        ck_assert_msg(k != NULL, "no %s in the header", keys[i]);
        char *d = k + strlen(keys[i]);
        while (d < bad + data0 && (*d < '0' || *d > '9')) d++;
        ck_assert(d < bad + data0);
        *d = (char)(*d == '9' ? '8' : *d + 1);
        spit(path, bad, n);
        free(bad);
        memset(&err, 0, sizeof err);
        int rc = load_into(path, k_small, &err);
        ck_assert_msg(rc != CRN_OK, "a changed digit in %s was accepted", keys[i]);
        ck_assert_msg(strstr(err.msg, "damaged") != NULL, "%s: %s", keys[i], err.msg);
        if (i == 0) printf("changed metadata: %s\n", err.msg);
    }
    /* truncated: in the data, in the header, and empty */
    size_t cuts[] = {n - 1, data0 + 10, 100, 4, 0};
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        spit(path, good, cuts[i]);
        memset(&err, 0, sizeof err);
        int rc = load_into(path, k_small, &err);
        ck_assert_msg(rc != CRN_OK, "a file cut to %zu of %zu bytes was accepted", cuts[i], n);
        ck_assert_msg(err.msg[0] != 0 && strstr(err.msg, path) != NULL, "cut %zu: message without the file: %s",
                      cuts[i], err.msg);
        if (i == 0) printf("truncated: %s\n", err.msg);
    }
    free(good);
}
END_TEST

START_TEST(test_damaged_checkpoint_refused_on_resume)
{
    /* crn_train --resume over a damaged last.safetensors stops with the
     * message, and the checkpoint is not replaced */
    crn_error err = {0};
    const char *src = one_epoch_run();
    const char *dir = run_dir("damaged_resume");
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "cp -r '%s' '%s'", src, dir);
    ck_assert_int_eq(system(cmd), 0);
    size_t n;
    char *buf = slurp(dir, "last.safetensors", &n);
    buf[n - 5] ^= 0x01;
    char path[700];
    snprintf(path, sizeof path, "%s/last.safetensors", dir);
    spit(path, buf, n);
    crn_train_config c;
    small_config(&c, dir);
    c.resume = true;
    crn_train_result res;
    int rc = train_run(&c, NULL, NULL, NULL, &res, &err);
    ck_assert_int_ne(rc, CRN_OK);
    ck_assert_msg(strstr(err.msg, "damaged") && strstr(err.msg, path), "%s", err.msg);
    size_t n2;
    char *after = slurp(dir, "last.safetensors", &n2);
    ck_assert(n == n2 && memcmp(buf, after, n) == 0);
    free(buf);
    free(after);
}
END_TEST

START_TEST(test_foreign_checkpoint_refused)
{
    crn_error err = {0};
    const char *dir = one_epoch_run();
    char path[700];
    snprintf(path, sizeof path, "%s/last.safetensors", dir);
    struct {
        crn_model_config mc;
        const char *want[2];
    } cases[] = {
        {{CRN_MODEL_BASELINE, CRN_ACT_RELU, true, 5, 32, 0.25, false, 0}, {"3 classes", "5 classes"}},
        {{CRN_MODEL_RESNET50, CRN_ACT_RELU, true, 3, 32, 1.0 / 16, false, 0}, {"baseline", "resnet50"}},
        {{CRN_MODEL_BASELINE, CRN_ACT_SILU, true, 3, 32, 0.25, false, 0}, {"relu", "silu"}},
        {{CRN_MODEL_BASELINE, CRN_ACT_RELU, true, 3, 32, 0.5, false, 0}, {"width 0.25", "width 0.5"}},
        {{CRN_MODEL_BASELINE, CRN_ACT_RELU, true, 3, 32, 0.25, true, 0}, {"baseline/relu model", "baseline/relu/no-batchnorm"}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        memset(&err, 0, sizeof err);
        int rc = load_into(path, cases[i].mc, &err);
        ck_assert_msg(rc != CRN_OK, "case %zu accepted", i);
        printf("foreign %zu: %s\n", i, err.msg);
        for (int j = 0; j < 2; j++)
            ck_assert_msg(strstr(err.msg, cases[i].want[j]) != NULL, "case %zu: no '%s' in: %s", i, cases[i].want[j],
                          err.msg);
        ck_assert_msg(strstr(err.msg, path) != NULL, "case %zu: the file is not named: %s", i, err.msg);
    }
    /* resuming a run of another class count through crn_train */
    crn_train_config c;
    small_config(&c, dir);
    c.resume = true;
    c.model.kind = CRN_MODEL_RESNET50;
    c.model.width = 1.0 / 16;
    crn_train_result res;
    memset(&err, 0, sizeof err);
    ck_assert_int_ne(train_run(&c, NULL, NULL, NULL, &res, &err), CRN_OK);
    ck_assert_msg(strstr(err.msg, "baseline") && strstr(err.msg, "resnet50"), "%s", err.msg);
    /* another optimiser */
    small_config(&c, dir);
    c.resume = true;
    c.optim = crn_optim_defaults(CRN_OPT_SGD);
    memset(&err, 0, sizeof err);
    ck_assert_int_ne(train_run(&c, NULL, NULL, NULL, &res, &err), CRN_OK);
    ck_assert_msg(strstr(err.msg, "nadam") && strstr(err.msg, "sgd"), "%s", err.msg);
    /* another seed */
    small_config(&c, dir);
    c.resume = true;
    c.seed = 7;
    memset(&err, 0, sizeof err);
    ck_assert_int_ne(train_run(&c, NULL, NULL, NULL, &res, &err), CRN_OK);
    ck_assert_msg(strstr(err.msg, "seed"), "%s", err.msg);
}
END_TEST

START_TEST(test_resume_without_checkpoint)
{
    crn_error err = {0};
    crn_train_config c;
    const char *dir = run_dir("empty_resume");
    small_config(&c, dir);
    c.resume = true;
    crn_train_result res;
    ck_assert_int_ne(train_run(&c, NULL, NULL, NULL, &res, &err), CRN_OK);
    printf("resume without checkpoint: %s\n", err.msg);
    ck_assert_msg(strstr(err.msg, "last.safetensors") != NULL, "%s", err.msg);
}
END_TEST

START_TEST(test_resume_on_other_data)
{
    /* the same data in another folder resumes; one training image fewer is
     * refused */
    crn_error err = {0};
    const char *src = one_epoch_run();
    const char *dir = run_dir("other_data_run");
    const char *data = run_dir("other_data");
    char cmd[3000];
    snprintf(cmd, sizeof cmd, "cp -r '%s' '%s' && cp -r '%s' '%s'", src, dir, test_fixture_path("train_tiny"), data);
    ck_assert_int_eq(system(cmd), 0);
    crn_train_config c;
    small_config(&c, dir);
    c.data_root = data;
    c.resume = true;
    c.epochs = 1; /* already done: only the data check runs */
    crn_train_result res;
    CK_OK(train_run(&c, NULL, NULL, NULL, &res, &err));
    ck_assert(res.nothing_to_do);
    ck_assert_int_eq(res.epochs_run, 1);
    ck_assert_int_eq(res.steps, STEPS_PER_EPOCH);
    snprintf(cmd, sizeof cmd, "rm '%s/train/beta/beta_03.jpg'", data);
    ck_assert_int_eq(system(cmd), 0);
    c.epochs = 2;
    memset(&err, 0, sizeof err);
    ck_assert_int_ne(train_run(&c, NULL, NULL, NULL, &res, &err), CRN_OK);
    printf("other data: %s\n", err.msg);
    ck_assert_msg(strstr(err.msg, "other data"), "%s", err.msg);
}
END_TEST

START_TEST(test_max_steps_then_resume)
{
    /* --max-steps 2 stops mid-epoch 1; resuming that run takes no more steps */
    crn_error err = {0};
    crn_train_config c;
    const char *dir = run_dir("max_steps");
    small_config(&c, dir);
    c.max_steps = 2;
    crn_train_result res;
    CK_OK(train_run(&c, NULL, NULL, NULL, &res, &err));
    ck_assert(res.max_steps_reached);
    ck_assert_int_eq(res.steps, 2);
    c.resume = true;
    CK_OK(train_run(&c, NULL, NULL, NULL, &res, &err));
    ck_assert(res.max_steps_reached);
    ck_assert(res.nothing_to_do);
    ck_assert_int_eq(res.steps, 2);
    char *steps = slurp(dir, "steps.csv", NULL);
    ck_assert_int_eq(count_lines(steps), 1 + 2);
    free(steps);
}
END_TEST

static void cleanup(void)
{
    if (g_tmp[0] && !getenv("CLRESNET_KEEP_TMP")) {
        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_tmp);
    }
}

/* The memory plan: a batch that cannot fit is refused before anything big
 * is allocated, with the batch size that would fit; that one does fit. */
START_TEST(test_memory_plan)
{
    crn_ops *ops = test_ops();
    crn_error err = {0};
    crn_model_config mc = {CRN_MODEL_BASELINE, CRN_ACT_RELU, true, 102, 64, 1.0, false, 0};
    size_t need1 = 0, need = 0;
    CK_OK(crn_train_plan_memory(ops, &mc, 8, CRN_OPT_NADAM, &need1, &err));
    ck_assert_int_gt((int)(need1 / 1024), 0);
    int huge = 4000000;
    ck_assert_int_eq(crn_train_plan_memory(ops, &mc, huge, CRN_OPT_NADAM, &need, &err), CRN_ENOMEM);
    ck_assert_msg(need > need1, "the plan does not grow with the batch");
    const char *p = strstr(err.msg, "--batch-size ");
    ck_assert_msg(p && strstr(err.msg, "MiB"), "no suggestion in: %s", err.msg);
    long long fit = atoll(p + strlen("--batch-size "));
    ck_assert_msg(fit >= 1 && fit < huge, "suggested batch %lld (%s)", fit, err.msg);
    CK_OK(crn_train_plan_memory(ops, &mc, (int)fit, CRN_OPT_NADAM, NULL, &err));
    ck_assert_int_eq(crn_train_plan_memory(ops, &mc, (int)fit + 2, CRN_OPT_NADAM, NULL, &err), CRN_ENOMEM);
}
END_TEST

/* Fine-tuning through the trainer: torchvision weights (10 classes, so
 * the classifier is replaced), layer3 and everything before it frozen, the
 * head at its own lr. Every frozen tensor, running statistics and counters
 * included, is in the checkpoints bit for bit as in the file it came from;
 * config.json and the checkpoint keep both settings, and a resume goes on
 * with them. */
START_TEST(test_finetune_run)
{
    crn_error err = {0};
    crn_train_config c;
    const char *dir = run_dir("finetune");
    small_config(&c, dir);
    static char init[4096];
    snprintf(init, sizeof init, "%s", test_fixture_path("tv_resnet50_w16_c10.safetensors"));
    c.init_path = init;
    c.model.kind = CRN_MODEL_RESNET50_TV;
    c.model.width = 1.0 / 16;
    c.model.freeze = crn_model_freeze_parse(CRN_MODEL_RESNET50_TV, "layer3");
    c.head_lr = 1e-2;
    c.epochs = 1;
    crn_train_result res;
    CK_OK(train_run(&c, NULL, NULL, NULL, &res, &err));
    size_t n = 0;
    char *cfg = slurp(dir, "config.json", &n);
    ck_assert_msg(strstr(cfg, "\"freeze\": \"layer3\"") && strstr(cfg, "\"head_lr\": 0.01"), "%s", cfg);
    free(cfg);
    c.epochs = 2;
    c.resume = true;
    CK_OK(train_run(&c, NULL, NULL, NULL, &res, &err));
    ck_assert_int_eq(res.epochs_run, 2);

    char last[1024];
    snprintf(last, sizeof last, "%s/last.safetensors", dir);
    crn_st_file a, b;
    CK_OK(crn_st_read(init, &a, &err));
    CK_OK(crn_st_read(last, &b, &err));
    ck_assert_str_eq(crn_st_meta(&b, "run.head_lr"), "0.01");
    int frozen = 0, trained = 0;
    for (int i = 0; i < b.count; i++) {
        const crn_st_tensor *t = &b.tensors[i], *o = crn_st_find(&a, t->name);
        if (!strncmp(t->name, "optim.", 6)) continue;
        ck_assert_msg(o != NULL, "%s is not in the torchvision file", t->name);
        bool same = o->nbytes == t->nbytes && !memcmp(o->data, t->data, t->nbytes);
        if (!strncmp(t->name, "layer4.", 7) || !strncmp(t->name, "fc.", 3)) {
            /* trained (the replaced classifier has another shape) */
            ck_assert_msg(!same, "%s did not change", t->name);
            trained++;
        } else {
            ck_assert_msg(same, "frozen %s changed", t->name);
            frozen++;
        }
    }
    printf("fine-tuning run: %d tensors frozen bit for bit, %d trained\n", frozen, trained);
    ck_assert_int_eq(frozen + trained, 320);
    /* fc's 2; layer4's 3 blocks of 3 convs and 3 batch norms (5 tensors
     * each, running statistics and counter included), and its downsample */
    ck_assert_int_eq(trained, 2 + 3 * (3 + 3 * 5) + (1 + 5));
    crn_st_free(&a);
    crn_st_free(&b);

    /* a resume that would drop the head's lr is refused */
    c.head_lr = 0;
    c.epochs = 3;
    ck_assert_int_ne(train_run(&c, NULL, NULL, NULL, &res, &err), CRN_OK);
    ck_assert_msg(strstr(err.msg, "learning rate for the classifier"), "%s", err.msg);
}
END_TEST

int main(void)
{
    atexit(cleanup);
    Suite *s = suite_create("train");
    TCase *tc = tcase_create("train");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_loss_goes_down);
    tcase_add_test(tc, test_plateau_schedule_wired);
    tcase_add_test(tc, test_resume_after_epoch);
    tcase_add_test(tc, test_resume_after_stop_at_epoch_end);
    tcase_add_test(tc, test_resume_mid_epoch);
    tcase_add_test(tc, test_nan_init_stops_at_step_1);
    tcase_add_test(tc, test_inf_init_stops);
    tcase_add_test(tc, test_nan_after_checkpoint_keeps_it);
    tcase_add_test(tc, test_damaged_checkpoint_refused);
    tcase_add_test(tc, test_damaged_checkpoint_refused_on_resume);
    tcase_add_test(tc, test_foreign_checkpoint_refused);
    tcase_add_test(tc, test_resume_without_checkpoint);
    tcase_add_test(tc, test_resume_on_other_data);
    tcase_add_test(tc, test_max_steps_then_resume);
    tcase_add_test(tc, test_memory_plan);
    tcase_add_test(tc, test_finetune_run);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
