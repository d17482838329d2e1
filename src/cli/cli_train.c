#define _XOPEN_SOURCE 700 /* realpath */
/* `clresnet train`: flags -> crn_train_config (or a run's config.json for
 * --resume), progress on the terminal or in a log, Ctrl-C / SIGTERM /
 * SIGHUP -> checkpoint and the resume command. */
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli_train.h"
#include "clresnet/io/safetensors.h"
#include "clresnet/train/checkpoint.h"
#include "clresnet/core/file_util.h"
#include "clresnet/core/clock.h"
#include "clresnet/eval/report.h"
#include "clresnet/train/run_config.h"
#include "clresnet/train/run_dir.h"
#include "clresnet/train/train.h"


/* Also the list of train's flags that suggestions are drawn from. */
const char HELP_TRAIN[] =
        "usage: clresnet [--device N] train [options]\n\n"
        "Trains a model with the seed report's protocol: NAdam, ReduceLROnPlateau on the\n"
        "validation loss, early stopping, best weights for the final test.\n\n"
        "data:\n"
        "  --data DIR              Flowers-102 in its official layout, or an image folder\n"
        "                          DIR/{train,val,test}/CLASS/*.jpg (default: the sample in data/)\n"
        "  --split seed|official   Flowers-102 split mode (default seed: train on tstid)\n"
        "  --image-size S          crop size (default 224)\n"
        "  --resize R              shorter side before cropping (default round(S*256/224))\n"
        "  --workers N             loader threads (default: cores)\n"
        "  --skip-bad              skip images that fail to decode (counted) instead of stopping\n"
        "augmentation (training only):\n"
        "  --no-augment            resize + center crop only\n"
        "  --hflip P (0.5)  --rotation DEG (15)  --grayscale P (0.1)\n"
        "  --brightness F (0.2)  --contrast F (0.2)  --saturation F (0.2)\n"
        "model:\n"
        "  --model resnet50|plain50|baseline   (default resnet50)\n"
        "          or resnet50-tv  torchvision's ResNet50 graph and names (for its ImageNet weights);\n"
        "          resnet18-tv, resnet34-tv, resnet101-tv, resnet152-tv: its other depths\n"
        "  --act relu|leaky|silu   (default relu)\n"
        "  --no-final-act          no activation after the residual add\n"
        "  --no-batchnorm          leave out every BatchNorm (for exact multi-rank checks)\n"
        "  --width W               channel multiplier (default 1)\n"
        "  --init FILE             start from weights in safetensors (PyTorch names)\n"
        "  --freeze STAGE          fine-tuning: keep everything up to STAGE fixed (stem, layer1..4)\n"
        "                          with its batch norms in eval mode; no backward runs there\n"
        "optimisation:\n"
        "  --optimizer nadam|adam|sgd (nadam)  --lr LR (1e-3)  --weight-decay WD (1e-4)\n"
        "  --head-lr LR            the classifier's own learning rate (default: --lr)\n"
        "  --beta1 B (0.9)  --beta2 B (0.999)  --eps E (1e-8)  --momentum-decay D (4e-3)\n"
        "  --momentum M (SGD, 0.9)\n"
        "  --batch-size B (32)  --eval-batch-size B (batch size)  --epochs N (100)\n"
        "  --max-steps N           stop after N optimiser steps\n"
        "  --seed N (0)  --no-shuffle\n"
        "  --plateau-factor F (0.1)  --plateau-patience N (10)  --plateau-threshold T (1e-4)\n"
        "  --plateau-cooldown N (0)  --min-lr LR (0)\n"
        "  --early-stop N (15)  --early-stop-threshold T (1e-4)\n"
        "run folder:\n"
        "  --out DIR               default runs/<time>-<model>-<act>; a folder that holds a run\n"
        "                          is never written over (resume it, or add --overwrite)\n"
        "  --overwrite             replace the run already in --out\n"
        "  --no-data-check         start without decoding every image first (a fresh run checks\n"
        "                          them all and names every unreadable one before it starts)\n"
        "  --print-config          print the settings this run would have (config.json), then exit\n"
        "  --resume DIR            continue the run in DIR from its last checkpoint with all its\n"
        "                          settings; only --epochs, --workers, --batch-size,\n"
        "                          --eval-batch-size, --skip-bad and --data (the same data,\n"
        "                          moved) may be given, and config.json logs each change. A run\n"
        "                          stopped before its first checkpoint starts again from the\n"
        "                          beginning with its settings\n"
        "\n"
        "Ctrl-C, SIGTERM or SIGHUP: the step finishes, a checkpoint is written and the resume\n"
        "command printed (exit 128 + the signal). Signals within 2 s of the first are the same\n"
        "request (`timeout` signals twice); a later one stops at once, without that checkpoint.\n"
        "The sample data: --data, else $CLRESNET_DATA, else the data/ folder next to the\n"
        "program or installed with it.\n"
        "\n"
        "data-parallel (MPI): mpirun -np K clresnet [--device D] train ...  runs K ranks, each on\n"
        "its own device (local rank r: the host's r-th GPU, else the CPU device; --device a,b,..\n"
        "gives local rank r the r-th entry). --batch-size is per rank; the global batch is K times\n"
        "it. Rank 0 writes the run folder. A run resumes with any number of ranks.\n";

void help_train(void) { fputs(HELP_TRAIN, stdout); }

static volatile sig_atomic_t g_stop; /* the signal that asked to stop, 0 none */
static struct timespec g_stop_at;     /* when it came (CLOCK_MONOTONIC) */
static char g_forced_msg[CRN_PATH_MAX + 300]; /* what a forced stop says, written from the handler */
static volatile sig_atomic_t g_paused, g_signals; /* --test-pause-at-step: paused; stop signals seen */

/* Signals within this many seconds of the first are one stop request:
 * `timeout` sends SIGTERM to the child and then to its process group, and a
 * terminal's Ctrl-C reaches every process of the foreground group. */
#define STOP_REPEAT_WINDOW_S 2.0

static void on_stop_signal(int sig)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now); /* async-signal-safe (POSIX.1-2008) */
    g_signals++;
    if (!g_stop) {
        g_stop = sig;
        g_stop_at = now;
        return;
    }
    /* a run paused by --test-pause-at-step has its clock stopped: the tests
     * send repeated signals at moments of their own */
    double since = g_paused ? 0
                            : (double)(now.tv_sec - g_stop_at.tv_sec) + (double)(now.tv_nsec - g_stop_at.tv_nsec) * 1e-9;
    if (since < STOP_REPEAT_WINDOW_S) return; /* the same request */
    /* a second request: stop now, saying so (write() is async-signal-safe) */
    size_t n = strlen(g_forced_msg);
    if (n && write(2, g_forced_msg, n) < 0) n = 0;
    _exit(128 + sig);
}

typedef struct progress_ctx {
    bool tty, quiet;
    double last_print;
    double interval; /* seconds between lines without a terminal: 30, or $CLRESNET_PROGRESS_SECONDS */
    cli_test_pause pause;
    bool shown_first;        /* the first training step's line was printed */
} progress_ctx;

/* --test-pause-at-step N[:K]: a state the tests wait for instead of a
 * moment. The line is printed once step N is done and logged (steps.csv);
 * then the run waits for K stop signals, saying when each came, with them
 * blocked except inside sigsuspend so that none is missed. */
static void pause_for_signals(long long step, int k)
{
    fprintf(stderr, "paused after step %lld (--test-pause-at-step); waiting for a stop signal\n", step);
    fflush(stderr);
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGHUP);
    sigprocmask(SIG_BLOCK, &block, &old);
    sigset_t wait = old;
    sigdelset(&wait, SIGINT);
    sigdelset(&wait, SIGTERM);
    sigdelset(&wait, SIGHUP);
    g_paused = 1;
    for (int seen = 0; seen < k;) {
        sigsuspend(&wait);
        for (; seen < g_signals && seen < k; seen++) fprintf(stderr, "stop signal %d received\n", seen + 1);
        fflush(stderr);
    }
    g_paused = 0;
    sigprocmask(SIG_SETMASK, &old, NULL);
}

static void fmt_eta(double s, char *buf, size_t n)
{
    if (!(s >= 0) || s > 1e7) snprintf(buf, n, "?");
    else if (s >= 3600) snprintf(buf, n, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
    else snprintf(buf, n, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
}

/* Once per epoch: its line, and what the schedule and early stopping decided. */
static void print_epoch(const crn_progress *p)
{
    const crn_epoch_record *e = p->epoch_done;
    char top5[32] = "";
    if (e->val_top5 >= 0) snprintf(top5, sizeof top5, " top-5 %.4f", e->val_top5);
    fprintf(stderr,
            "epoch %3d/%d  train loss %.4f acc %.4f  val loss %.4f acc %.4f%s  lr %.3g  %.1f s  %.1f img/s%s\n",
            e->epoch, p->epochs, e->train_loss, e->train_acc, e->val_loss, e->val_acc, top5, e->lr, e->seconds,
            e->train_images_per_s, e->best ? "  *best" : "");
    if (p->next_lr < e->lr)
        fprintf(stderr, "learning rate reduced: %.3g -> %.3g (no validation improvement for %d epoch%s)\n", e->lr,
                p->next_lr, p->plateau_patience + 1, p->plateau_patience ? "s" : "");
    if (p->early_stop)
        fprintf(stderr, "early stop: no validation improvement for %d epochs (best loss %.4f at epoch %d)\n",
                p->early_stop_patience, p->best_val_loss, p->best_epoch);
}

/* A live line on a terminal; otherwise a line at least every 30 s. */
static void on_progress(void *vctx, const crn_progress *p)
{
    progress_ctx *c = vctx;
    if (p->note) {
        if (!c->quiet) fprintf(stderr, "clresnet: %s\n", p->note);
        return;
    }
    if (c->pause.step && p->phase == CRN_PHASE_TRAIN && !p->epoch_done && p->step == c->pause.step)
        pause_for_signals(p->step, c->pause.signals);
    if (c->quiet) return;
    double t = crn_now_s();
    if (p->epoch_done) {
        if (c->tty) fprintf(stderr, "\r\033[K");
        print_epoch(p);
        c->last_print = t;
        return;
    }
    /* the first step is always shown: it can take long (kernels compiled at first launch) */
    bool first = !c->shown_first && p->phase == CRN_PHASE_TRAIN;
    if (!first && (c->tty ? t - c->last_print < 0.2 && p->batch != p->batches : t - c->last_print < c->interval))
        return;
    c->shown_first |= first;
    c->last_print = t;
    static const char *names[] = {"train", "val", "test"};
    char eta[32], run[48] = "";
    fmt_eta(p->eta_s, eta, sizeof eta);
    if (p->eta_run_s > 0) {
        char r[32];
        fmt_eta(p->eta_run_s, r, sizeof r);
        snprintf(run, sizeof run, ", run %s", r);
    }
    char epochs[24] = "";
    if (p->epochs > 0) snprintf(epochs, sizeof epochs, "/%d", p->epochs);
    fprintf(stderr, "%s%s epoch %d%s  batch %zu/%zu  %.1f img/s  loss %.4f  ETA %s%s%s", c->tty ? "\r\033[K" : "",
            names[p->phase], p->epoch, epochs, p->batch, p->batches, p->images_per_s, p->loss, eta, run,
            c->tty ? "" : "\n");
    fflush(stderr);
}

/* The flags that may change when a run resumes (config.json logs each). */
static const char *const RESUME_FLAGS[] = {"--resume", "--epochs", "--workers", "--batch-size", "--eval-batch-size",
                                           "--data", "--skip-bad"};

static int resume_flags_ok(const train_args *t)
{
    for (int i = 0; i < t->ngiven; i++) {
        bool ok = false;
        for (size_t j = 0; j < sizeof RESUME_FLAGS / sizeof RESUME_FLAGS[0]; j++) ok |= !strcmp(t->given[i], RESUME_FLAGS[j]);
        if (!ok) {
            fprintf(stderr,
                    "clresnet train: error: %s cannot be given with --resume: a resumed run keeps the settings of "
                    "its config.json; only --epochs, --workers, --batch-size, --eval-batch-size, --data and --skip-bad may "
                    "change\n", t->given[i]);
            return 2;
        }
    }
    return 0;
}

static void add_change(crn_setting_change *ch, int *n, const char *setting, const char *from, const char *to)
{
    if (!strcmp(from, to)) return;
    crn_setting_change *x = &ch[(*n)++];
    snprintf(x->setting, sizeof x->setting, "%s", setting);
    snprintf(x->from, sizeof x->from, "%s", from);
    snprintf(x->to, sizeof x->to, "%.63s", to);
}

void cli_add_int_change(crn_setting_change *ch, int *n, const char *setting, long long from, long long to)
{
    char a[32], b[32];
    snprintf(a, sizeof a, "%lld", from);
    snprintf(b, sizeof b, "%lld", to);
    add_change(ch, n, setting, a, b);
}

/* --resume DIR: every setting from DIR/config.json (read by rank 0 and sent
 * to the others: the run folder need only be on rank 0's machine), then the
 * flags that may change, each logged. 0, or 1/2 after printing the error. */
static int apply_resume(const crn_dist *d, train_args *t, crn_run_config_strings *strs, crn_setting_change *ch,
                        int *nch)
{
    if (resume_flags_ok(t)) return 2;
    char path[CRN_PATH_MAX];
    char *text = NULL;
    size_t len = 0;
    crn_error err = {0};
    if (crn_path_fmt(path, sizeof path, &err, "%s/config.json", t->resume) != CRN_OK) return cli_error(&err);
    int rc = d->rank == 0 ? crn_read_file(path, &text, &len, &err) : CRN_OK;
    if (rc == CRN_OK) rc = crn_dist_bcast_string(d, &text, &err);
    if (rc != CRN_OK || !text) {
        fprintf(stderr, "clresnet train: error: --resume: %s is not a run folder (%s)\n", t->resume,
                err.msg[0] ? err.msg : "rank 0 could not read its config.json");
        free(text);
        return 1;
    }
    crn_train_config given = t->c;
    crn_train_config_default(&t->c);
    rc = crn_run_config_parse(text, path, &t->c, strs, &err);
    free(text);
    if (rc != CRN_OK) return cli_error(&err);
    crn_train_config *c = &t->c;
    for (int i = 0; i < t->ngiven; i++) {
        const char *f = t->given[i];
        if (!strcmp(f, "--epochs")) cli_add_int_change(ch, nch, "epochs", c->epochs, given.epochs), c->epochs = given.epochs;
        if (!strcmp(f, "--workers")) cli_add_int_change(ch, nch, "workers", c->workers, given.workers), c->workers = given.workers;
        if (!strcmp(f, "--batch-size")) {
            /* an evaluation batch that was the batch size (config.json records the value used) follows it */
            bool eval_given = false;
            for (int k = 0; k < t->ngiven; k++) eval_given |= !strcmp(t->given[k], "--eval-batch-size");
            if (!eval_given && c->eval_batch_size == c->batch_size) c->eval_batch_size = 0;
            cli_add_int_change(ch, nch, "batch_size", c->batch_size, given.batch_size), c->batch_size = given.batch_size;
        }
        if (!strcmp(f, "--eval-batch-size"))
            cli_add_int_change(ch, nch, "eval_batch_size", c->eval_batch_size, given.eval_batch_size),
                c->eval_batch_size = given.eval_batch_size;
        if (!strcmp(f, "--skip-bad") && !c->skip_bad) add_change(ch, nch, "skip_bad", "false", "true"), c->skip_bad = true;
    }
    if (t->data) {
        char *abs = realpath(t->data, NULL);
        add_change(ch, nch, "data", c->data_root, abs ? abs : t->data);
        int prc = crn_path_fmt(strs->data, sizeof strs->data, &err, "%s", abs ? abs : t->data);
        free(abs);
        if (prc != CRN_OK) return cli_error(&err);
    }
    t->out = t->resume;
    c->resume = true;
    if (crn_path_fmt(path, sizeof path, &err, "%s/last.safetensors", t->resume) != CRN_OK) return cli_error(&err);
    if (access(path, F_OK) != 0) { /* nothing to resume from: the run starts again, as it was set up */
        if (d->rank == 0)
            fprintf(stderr, "clresnet: %s has no checkpoint yet (it stopped before its first one): starting it again "
                            "from the beginning with its settings\n", t->resume);
        c->resume = false;
        c->overwrite = true;
        *nch = 0;
    }
    return 0;
}

/* runs/<time>-<model>-<act>[-nfa], named by rank 0's clock. */
static int default_out(const crn_dist *d, const crn_train_config *c, char *buf, size_t size)
{
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    crn_error err = {0};
    int rc = crn_path_fmt(buf, size, &err, "runs/%s-%s-%s%s", stamp, crn_model_name(c->model.kind),
                          crn_act_name(c->model.act), c->model.final_act ? "" : "-nfa");
    if (rc == CRN_OK) rc = crn_dist_bcast(d, buf, size, 0, &err);
    return rc == CRN_OK ? 0 : cli_error(&err);
}

/* On one rank of several, an error must end the whole job: the other ranks
 * would wait for this one forever. */
static int train_failed(const crn_dist *d, int code)
{
    if (d->size > 1) {
        fprintf(stderr, "clresnet: rank %d of %d on %s failed; ending the job (resume it with --resume, with any "
                        "number of ranks)\n", d->rank, d->size, d->host);
        crn_dist_abort(d, code);
    }
    return code;
}

static void announce(const crn_dist *d, const crn_train_config *c, const char *out)
{
    fprintf(stderr, "clresnet: %s %s/%s%s%s, data %s, run folder %s", c->resume ? "resuming" : "training",
            crn_model_name(c->model.kind), crn_act_name(c->model.act), c->model.final_act ? "" : "/no-final-act",
            c->model.no_batchnorm ? "/no-batchnorm" : "", c->data_root, out);
    if (d->size > 1)
        fprintf(stderr, ", %d ranks x batch %d = global batch %d", d->size, c->batch_size, d->size * c->batch_size);
    fprintf(stderr, "\n");
    for (int i = 0; i < c->nchanges; i++)
        fprintf(stderr, "clresnet: %s changed on resume: %s -> %s\n", c->changes[i].setting, c->changes[i].from,
                c->changes[i].to);
}

static void print_summary(const crn_dist *d, const char *out, const crn_train_result *res, const crn_metrics *met,
                          const char *report)
{
    printf("run %s: %d epoch%s, %lld steps%s, %.1f training images/s\n", out, res->epochs_run,
           res->epochs_run == 1 ? "" : "s", res->steps,
           res->early_stopped ? " (early stop)" : res->max_steps_reached ? " (--max-steps)" : "",
           res->train_images_per_s);
    if (d->size > 1)
        printf("%d ranks: the gradient all-reduces took %.2f s on rank 0 (this invocation)\n", d->size,
               crn_dist_allreduce_seconds());
    printf("best validation loss %.4f at epoch %d; test (best weights): loss %.4f, accuracy %.4f, "
           "weighted precision %.4f, recall %.4f, F1 %.4f, top-5 %.4f\n",
           res->best_val_loss, res->best_epoch, res->test_loss, res->test_acc, met->weighted[CRN_METRIC_PRECISION],
           met->weighted[CRN_METRIC_RECALL], met->weighted[CRN_METRIC_F1], met->top5_accuracy);
    printf("report: %s\n", report);
}

static void print_nothing_to_do(const char *out, const crn_train_config *c, const crn_train_result *res)
{
    const char *why = res->early_stopped ? "early stopping ended it"
                      : c->max_steps > 0 && res->steps >= c->max_steps ? "it took its --max-steps"
                      : res->epochs_run > c->epochs ? "it trained more epochs than --epochs"
                                                    : "it trained all its epochs";
    printf("run %s is finished (%s): %d epoch%s, %lld steps; nothing to do. Report: %s/report.html\n", out, why,
           res->epochs_run, res->epochs_run == 1 ? "" : "s", res->steps, out);
}

static void install_stop_handlers(const char *prog, const char *out)
{
    snprintf(g_forced_msg, sizeof g_forced_msg,
             "\nclresnet: stopped at once by a second stop signal, without a checkpoint of the steps since the last "
             "one; resume from that one with: %s train --resume %s\n", prog, out);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

int cli_train_run(const cli_globals *g, const crn_dist *d, crn_train_config *c, const char *out, crn_dataset *ds,
                  cli_device *dev, cli_test_pause pause)
{
    bool lead = d->rank == 0, quiet = g->quiet || !lead;
    /* The GEMM plan: a resumed run's own (its config.json), so that it
     * computes the same bits as if it had never stopped; a new run's from
     * the measurement for its model on this device (made now if none). */
    crn_error perr = {0};
    crn_ops_options oo = cli_ops_options();
    if (c->resume && c->gemm_plan && !(oo.gemm && *oo.gemm)) {
        crn_gemm_plan p;
        if (crn_gemm_plan_parse(c->gemm_plan, &p, &perr) != CRN_OK ||
            crn_gemm_set_plan(dev->ops, &p, "the run's own (config.json)", &perr) != CRN_OK)
            return cli_error(&perr);
    } else if (!c->resume) {
        crn_model_config mc = c->model;
        mc.image_size = c->transform.image_size;
        if (cli_autotune(g, dev, &mc, c->batch_size, false, AUTOTUNE_BUDGET_S) != 0) return 1;
    }
    char plan[CRN_GEMM_PLAN_TEXT];
    crn_gemm_plan_format(crn_gemm_get_plan(dev->ops), plan, sizeof plan);
    c->gemm_plan = plan;
    if (g->verbose && lead) cli_print_gemm(dev);
    const crn_device_info *di = crn_runtime_device(dev->rt);
    char device_desc[800];
    snprintf(device_desc, sizeof device_desc, "%s (%s, %s)", di->name, di->platform_name, di->driver_version);
    c->device_desc = device_desc;
    if (!quiet) announce(d, c, out);
    install_stop_handlers(g->prog, out);
    const char *iv = getenv("CLRESNET_PROGRESS_SECONDS");
    progress_ctx pc = {.tty = isatty(2), .quiet = quiet, .last_print = crn_now_s(), .interval = iv ? atof(iv) : 30,
                       .pause = pause};
    crn_train_result res;
    crn_error err = {0};
    int rc = crn_train(dev->ops, c, ds, &g_stop, quiet && !pause.step ? NULL : on_progress, &pc, &res, &err);
    if (pc.tty && !quiet) fprintf(stderr, "\r\033[K");
    crn_metrics met;
    char report[CRN_PATH_MAX] = "";
    int test_epoch = 0; /* the epoch whose weights were tested, as their file says */
    if (rc == CRN_OK && lead && !res.nothing_to_do && res.test_checkpoint[0])
        rc = crn_checkpoint_read_epoch(res.test_checkpoint, &test_epoch, &err);
    if (rc == CRN_OK && lead && !res.nothing_to_do)
        rc = crn_eval_write_run(out, ds, ds->kind == CRN_DATASET_FLOWERS102 ? crn_split_mode_name(c->split_mode) : NULL,
                                CRN_SPLIT_TEST, res.test_logits, res.test_count, res.test_checkpoint, test_epoch, &met,
                                report, sizeof report, &err);
    crn_train_result_free(&res);
    if (rc == CRN_EINTR) {
        if (lead)
            fprintf(stderr, "clresnet: stopped by %s after step %lld; checkpoint %s\nresume with: %s train "
                            "--resume %s\n", g_stop == SIGTERM ? "SIGTERM" : g_stop == SIGHUP ? "SIGHUP" : "Ctrl-C",
                    res.steps, res.checkpoint, g->prog, out);
        return 128 + (g_stop ? g_stop : SIGINT);
    }
    if (rc != CRN_OK) {
        if (d->size > 1) fprintf(stderr, "clresnet: rank %d of %d: error: %s\n", d->rank, d->size, err.msg);
        else cli_error(&err);
        return train_failed(d, 1);
    }
    if (!lead) return 0;
    if (res.nothing_to_do) print_nothing_to_do(out, c, &res);
    else {
        print_summary(d, out, &res, &met, report);
        crn_metrics_free(&met);
    }
    return 0;
}

/* --out holds a run: what to do with it, in the program's own name. */
static int out_holds_run(const cli_globals *g, const char *out, int code, const crn_error *err)
{
    char m[CRN_PATH_MAX];
    if (code != CRN_EEXIST) return cli_error(err);
    if (crn_path_fmt(m, sizeof m, NULL, "%s/metrics.json", out) == CRN_OK && access(m, F_OK) == 0)
        fprintf(stderr, "clresnet: error: %s already holds a finished run (metrics.json): train it further with "
                        "`%s train --resume %s --epochs N`, choose another --out, or add --overwrite to replace it\n",
                out, g->prog, out);
    else
        fprintf(stderr, "clresnet: error: %s: resume it with `%s train --resume %s`, choose another --out, or add "
                        "--overwrite to replace it\n", err->msg, g->prog, out);
    return 1;
}

/* Decodes every image before a run starts. Unreadable ones: without
 * --skip-bad an error naming every one (nothing made yet); with it, listed
 * and left out (c->bad_images, config.json). 0 or 1 (printed). */
static int check_data(const cli_globals *g, crn_train_config *c, const crn_dataset *ds, crn_data_check *chk)
{
    crn_error err = {0};
    size_t n = ds->count[0] + ds->count[1] + ds->count[2];
    if (!g->quiet) {
        fprintf(stderr, "clresnet: checking that the %zu images decode (--no-data-check skips it) ... ", n);
        fflush(stderr);
    }
    double t0 = crn_now_s();
    if (crn_data_check_run(ds, crn_transform_resize_target(&c->transform), c->workers, chk, &err) != CRN_OK) {
        if (!g->quiet) fputc('\n', stderr);
        return cli_error(&err);
    }
    if (!g->quiet) fprintf(stderr, "%zu unreadable, %.1f s\n", chk->nbad, crn_now_s() - t0);
    if (chk->nbad == 0) return 0;
    bool skip = c->skip_bad;
    fprintf(stderr, "clresnet: %s%zu unreadable image%s:\n", skip ? "--skip-bad leaves out " : "error: ", chk->nbad,
            chk->nbad == 1 ? "" : "s");
    for (size_t i = 0; i < chk->nbad; i++) { /* the decoder's message names the file */
        const crn_bad_image *b = &chk->bad[i];
        if (strstr(b->reason, b->path)) fprintf(stderr, "  %s split: %s\n", crn_split_name(b->split), b->reason);
        else fprintf(stderr, "  %s split: %s: %s\n", crn_split_name(b->split), b->path, b->reason);
    }
    if (!skip) {
        fprintf(stderr, "fix or remove them, or add --skip-bad to train without them; nothing was started\n");
        return 1;
    }
    c->bad_images = chk->bad;
    c->nbad_images = chk->nbad;
    return 0;
}

static int check_init_file(const char *path, crn_error *err)
{
    crn_st_file f;
    crn_error e = {0};
    int rc = crn_st_read(path, &f, &e);
    if (rc == CRN_OK) crn_st_free(&f);
    return rc == CRN_OK ? CRN_OK : crn_fail(err, rc, "--init: %s", e.msg);
}

/* --print-config: the settings as config.json would hold them, less what
 * only the model and device know (parameters, device), then nothing else. */
static int print_config(const crn_train_config *c, const crn_dataset *ds)
{
    char *text = crn_run_config_json(c, ds, 0, NULL, 0, 0);
    json_t *o = text ? json_loads(text, 0, NULL) : NULL;
    free(text);
    if (!o) {
        fprintf(stderr, "clresnet: error: out of memory\n");
        return 1;
    }
    json_object_del(o, "parameters");
    json_object_del(o, "device");
    json_object_del(o, "changes");
    text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
    json_decref(o);
    if (text) puts(text);
    free(text);
    return 0;
}

int cmd_train(const cli_globals *g, int argc, char **argv)
{
    const crn_dist *d = g->dist ? g->dist : crn_dist_single();
    train_args t;
    memset(&t, 0, sizeof t);
    crn_train_config_default(&t.c);
    int rc = cli_train_parse(argc, argv, &t);
    if (rc) return rc;
    crn_run_config_strings strs;
    crn_setting_change changes[8];
    char out_buf[CRN_PATH_MAX], data_buf[CRN_PATH_MAX];
    crn_train_config *c = &t.c;
    if (t.resume) {
        if ((rc = apply_resume(d, &t, &strs, changes, &c->nchanges))) return train_failed(d, rc);
        c->changes = changes;
        char metrics[CRN_PATH_MAX];
        crn_error err = {0};
        if (crn_path_fmt(metrics, sizeof metrics, &err, "%s/metrics.json", t.resume) != CRN_OK)
            return train_failed(d, cli_error(&err));
        c->test_if_done = access(metrics, F_OK) != 0; /* the test did not run: run it now */
    } else {
        crn_error err = {0};
        if (t.data) c->data_root = t.data;
        else if (cli_sample_data(data_buf, sizeof data_buf, &err) != 0) return train_failed(d, cli_error(&err));
        else c->data_root = data_buf;
        if (!t.out && default_out(d, c, out_buf, sizeof out_buf) != 0) return train_failed(d, 1);
        if (!t.out) t.out = out_buf;
        c->overwrite = t.overwrite;
        /* before any device work: a run folder is never written over unasked */
        int crc = d->rank == 0 && !t.overwrite && !t.print_config ? crn_run_dir_claim(t.out, false, &err) : CRN_OK;
        if (crc != CRN_OK) return train_failed(d, out_holds_run(g, t.out, crc, &err));
        /* a folder that cannot be made, or --init weights that cannot be
         * read, are found now, not after the device has started */
        if (c->init_path && check_init_file(c->init_path, &err) != CRN_OK) return train_failed(d, cli_error(&err));
    }
    c->out_dir = t.out;
    c->dist = d;
    /* The data first: a bad path or file is reported before any device work. */
    crn_dataset ds;
    crn_dataset_options dopt;
    crn_dataset_options_default(&dopt);
    dopt.split_mode = c->split_mode;
    crn_error derr = {0};
    if (crn_dataset_open(&ds, c->data_root, &dopt, &derr) != CRN_OK) return train_failed(d, cli_error(&derr));
    if (t.print_config) {
        rc = print_config(c, &ds);
        crn_dataset_free(&ds);
        return rc;
    }
    /* a fresh run: every image decoded once, the folder made, then the device */
    crn_data_check chk = {0};
    crn_error err = {0};
    if (!c->resume && d->rank == 0) {
        bool existed = access(t.out, F_OK) == 0;
        if (crn_mkdirs(t.out, &err) != CRN_OK) rc = cli_error(&err);
        if (rc == 0 && !t.no_data_check) rc = check_data(g, c, &ds, &chk);
        if (rc != 0 && !existed) rmdir(t.out); /* nothing left behind (it is empty) */
    }
    cli_device dev;
    if (rc == 0 && cli_open_device(g, false, &dev) != 0) rc = 1;
    if (rc != 0) {
        crn_data_check_free(&chk);
        crn_dataset_free(&ds);
        return train_failed(d, rc);
    }
    rc = cli_train_run(g, d, c, t.out, &ds, &dev, t.pause);
    cli_close_device(&dev);
    crn_data_check_free(&chk);
    crn_dataset_free(&ds);
    return rc;
}
