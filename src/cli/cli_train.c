/* `clresnet train`: flags -> crn_train_config, progress on the terminal,
 * Ctrl-C -> checkpoint and the resume command. */
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "clresnet/core/file_util.h"
#include "clresnet/core/clock.h"
#include "clresnet/eval/report.h"
#include "clresnet/train/train.h"

#ifndef CLRESNET_DATA_DIR
#define CLRESNET_DATA_DIR "data"
#endif

void help_train(void)
{
    printf(
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
        "  --act relu|leaky|silu   (default relu)\n"
        "  --no-final-act          no activation after the residual add\n"
        "  --no-batchnorm          leave out every BatchNorm (for exact multi-rank checks)\n"
        "  --width W               channel multiplier (default 1)\n"
        "  --init FILE             start from weights in safetensors (PyTorch names)\n"
        "optimisation:\n"
        "  --optimizer nadam|adam|sgd (nadam)  --lr LR (1e-3)  --weight-decay WD (1e-4)\n"
        "  --beta1 B (0.9)  --beta2 B (0.999)  --eps E (1e-8)  --momentum-decay D (4e-3)\n"
        "  --momentum M (SGD, 0.9)\n"
        "  --batch-size B (32)  --eval-batch-size B (batch size)  --epochs N (100)\n"
        "  --max-steps N           stop after N optimiser steps\n"
        "  --seed N (0)  --no-shuffle\n"
        "  --plateau-factor F (0.1)  --plateau-patience N (10)  --plateau-threshold T (1e-4)\n"
        "  --plateau-cooldown N (0)  --min-lr LR (0)\n"
        "  --early-stop N (15)  --early-stop-threshold T (1e-4)\n"
        "run folder:\n"
        "  --out DIR               default runs/<time>-<model>-<act>\n"
        "  --resume DIR            continue the run in DIR from its last checkpoint, with its\n"
        "                          settings (--epochs, --workers and --batch-size may be changed)\n"
        "\n"
        "data-parallel (MPI): mpirun -np K clresnet [--device D] train ...  runs K ranks, each on\n"
        "its own device (local rank r: the host's r-th GPU, else the CPU device; --device a,b,..\n"
        "gives local rank r the r-th entry). --batch-size is per rank; the global batch is K times\n"
        "it. Rank 0 writes the run folder. A run resumes with any number of ranks.\n");
}

static volatile sig_atomic_t g_stop;

static void on_sigint(int sig)
{
    (void)sig;
    if (g_stop) _exit(130); /* a second Ctrl-C: stop now */
    g_stop = 1;
}

typedef struct progress_ctx {
    bool tty, quiet;
    double last_print;
} progress_ctx;

static void fmt_eta(double s, char *buf, size_t n)
{
    if (!(s >= 0) || s > 1e7) snprintf(buf, n, "?");
    else if (s >= 3600) snprintf(buf, n, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
    else snprintf(buf, n, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
}

static void on_progress(void *vctx, const crn_progress *p)
{
    progress_ctx *c = vctx;
    if (c->quiet) return;
    if (p->epoch_done) {
        const crn_epoch_record *e = p->epoch_done;
        if (c->tty) fprintf(stderr, "\r\033[K");
        fprintf(stderr,
                "epoch %3d/%d  train loss %.4f acc %.4f  val loss %.4f acc %.4f  lr %.3g  %.1f s  %.1f img/s%s\n",
                e->epoch, p->epochs, e->train_loss, e->train_acc, e->val_loss, e->val_acc, e->lr, e->seconds,
                e->train_images_per_s, e->best ? "  *best" : "");
        return;
    }
    if (!c->tty) return;
    double t = crn_now_s();
    if (t - c->last_print < 0.2 && p->batch != p->batches) return;
    c->last_print = t;
    static const char *names[] = {"train", "val", "test"};
    char eta[32];
    fmt_eta(p->eta_s, eta, sizeof eta);
    fprintf(stderr, "\r\033[K%s epoch %d  batch %zu/%zu  %.1f img/s  loss %.4f  ETA %s", names[p->phase], p->epoch,
            p->batch, p->batches, p->images_per_s, p->loss, eta);
    fflush(stderr);
}

static int bad_value(const char *flag, const char *v, const char *want)
{
    fprintf(stderr, "clresnet train: error: %s '%s': %s\n", flag, v, want);
    return 2;
}

static bool parse_int(const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end || v < lo || v > hi) return false;
    *out = v;
    return true;
}

static bool parse_num(const char *s, double lo, double hi, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v >= lo && v <= hi)) return false;
    *out = v;
    return true;
}

static const char *str_of(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

/* Settings of an earlier run, from its config.json, for --resume: read by
 * rank 0 and sent to the others (the run folder need only be on rank 0's
 * machine). */
static int apply_run_config(const crn_dist *d, const char *dir, crn_train_config *c, char *data_buf,
                            size_t data_size)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/config.json", dir);
    char *text = NULL;
    crn_error err = {0};
    size_t len = 0;
    int rc = d->rank == 0 ? crn_read_file(path, &text, &len, &err) : CRN_OK;
    if (rc == CRN_OK) rc = crn_dist_bcast_string(d, &text, &err);
    if (rc != CRN_OK || !text) {
        fprintf(stderr, "clresnet train: error: --resume %s: cannot read %s: %s\n", dir, path,
                err.msg[0] ? err.msg : "rank 0 could not read it");
        free(text);
        return 1;
    }
    json_error_t je;
    json_t *o = json_loads(text, 0, &je);
    free(text);
    if (!o) {
        fprintf(stderr, "clresnet train: error: --resume %s: %s is not valid JSON: %s\n", dir, path, je.text);
        return 1;
    }
    int kind = crn_model_parse(str_of(o, "model"));
    int act = crn_act_parse(str_of(o, "act"));
    int opt = crn_optim_parse(str_of(o, "optimizer"));
    const char *data = json_string_value(json_object_get(o, "data"));
    if (kind < 0 || act < 0 || opt < 0 || !data) {
        fprintf(stderr, "clresnet train: error: %s: not a clresnet run configuration\n", path);
        json_decref(o);
        return 1;
    }
    snprintf(data_buf, data_size, "%s", data);
    c->data_root = data_buf;
    const char *split = json_string_value(json_object_get(o, "split_mode"));
    c->split_mode = split && !strcmp(split, "official") ? CRN_SPLITS_OFFICIAL : CRN_SPLITS_SEED;
    c->model.kind = (crn_model_kind)kind;
    c->model.act = (crn_act_kind)act;
    c->model.final_act = json_is_true(json_object_get(o, "final_act"));
    c->model.no_batchnorm = json_is_false(json_object_get(o, "batchnorm"));
    c->model.width = json_number_value(json_object_get(o, "width"));
    c->transform.image_size = (int)json_integer_value(json_object_get(o, "image_size"));
    c->transform.resize = (int)json_integer_value(json_object_get(o, "resize"));
    c->transform.augment = json_is_true(json_object_get(o, "augment"));
    c->transform.hflip_p = json_number_value(json_object_get(o, "hflip"));
    c->transform.rotation_deg = json_number_value(json_object_get(o, "rotation"));
    c->transform.grayscale_p = json_number_value(json_object_get(o, "grayscale"));
    c->transform.brightness = json_number_value(json_object_get(o, "brightness"));
    c->transform.contrast = json_number_value(json_object_get(o, "contrast"));
    c->transform.saturation = json_number_value(json_object_get(o, "saturation"));
    c->batch_size = (int)json_integer_value(json_object_get(o, "batch_size"));
    c->max_steps = json_integer_value(json_object_get(o, "max_steps"));
    c->seed = (uint64_t)json_integer_value(json_object_get(o, "seed"));
    c->shuffle = json_is_true(json_object_get(o, "shuffle"));
    c->optim = crn_optim_defaults((crn_optim_kind)opt);
    c->optim.lr = json_number_value(json_object_get(o, "lr"));
    json_t *betas = json_object_get(o, "betas");
    c->optim.beta1 = json_number_value(json_array_get(betas, 0));
    c->optim.beta2 = json_number_value(json_array_get(betas, 1));
    c->optim.eps = json_number_value(json_object_get(o, "eps"));
    c->optim.weight_decay = json_number_value(json_object_get(o, "weight_decay"));
    c->optim.momentum_decay = json_number_value(json_object_get(o, "momentum_decay"));
    c->optim.momentum = json_number_value(json_object_get(o, "momentum"));
    json_t *p = json_object_get(o, "plateau"), *e = json_object_get(o, "early_stop");
    c->plateau.factor = json_number_value(json_object_get(p, "factor"));
    c->plateau.patience = (int)json_integer_value(json_object_get(p, "patience"));
    c->plateau.threshold = json_number_value(json_object_get(p, "threshold"));
    c->plateau.cooldown = (int)json_integer_value(json_object_get(p, "cooldown"));
    c->plateau.min_lr = json_number_value(json_object_get(p, "min_lr"));
    c->early_stop_patience = (int)json_integer_value(json_object_get(e, "patience"));
    c->early_stop_threshold = json_number_value(json_object_get(e, "threshold"));
    json_decref(o);
    return 0;
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

int cmd_train(const cli_globals *g, int argc, char **argv)
{
    const crn_dist *d = g->dist ? g->dist : crn_dist_single();
    crn_train_config c;
    crn_train_config_default(&c);
    c.data_root = CLRESNET_DATA_DIR;
    const char *resume = NULL, *out = NULL;
    long long epochs_flag = -1, workers_flag = -1, batch_flag = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        /* flags without a value */
        if (!strcmp(a, "--no-final-act")) { c.model.final_act = false; continue; }
        if (!strcmp(a, "--no-batchnorm")) { c.model.no_batchnorm = true; continue; }
        if (!strcmp(a, "--no-augment")) { c.transform.augment = 0; continue; }
        if (!strcmp(a, "--no-shuffle")) { c.shuffle = false; continue; }
        if (!strcmp(a, "--skip-bad")) { c.skip_bad = true; continue; }
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "clresnet train: error: unexpected argument '%s'\n", a);
            return 2;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "clresnet train: error: %s needs a value (see clresnet train --help)\n", a);
            return 2;
        }
        const char *v = argv[++i];
        long long n;
        double d;
        int k;
        if (!strcmp(a, "--data")) c.data_root = v;
        else if (!strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--resume")) resume = v;
        else if (!strcmp(a, "--init")) c.init_path = v;
        else if (!strcmp(a, "--split")) {
            if (crn_split_mode_parse(v, &c.split_mode) != CRN_OK) return bad_value(a, v, "want seed or official");
        } else if (!strcmp(a, "--model")) {
            if ((k = crn_model_parse(v)) < 0) return bad_value(a, v, "want resnet50, plain50 or baseline");
            c.model.kind = (crn_model_kind)k;
        } else if (!strcmp(a, "--act")) {
            if ((k = crn_act_parse(v)) < 0) return bad_value(a, v, "want relu, leaky or silu");
            c.model.act = (crn_act_kind)k;
        } else if (!strcmp(a, "--optimizer")) {
            if ((k = crn_optim_parse(v)) < 0) return bad_value(a, v, "want nadam, adam or sgd");
            crn_optim_config old = c.optim;
            c.optim = crn_optim_defaults((crn_optim_kind)k);
            c.optim.lr = old.lr;
            c.optim.weight_decay = old.weight_decay;
        } else if (!strcmp(a, "--width")) {
            if (!parse_num(v, 1e-3, 16, &c.model.width)) return bad_value(a, v, "want a number in (0, 16]");
        } else if (!strcmp(a, "--epochs")) {
            if (!parse_int(v, 1, 1000000, &epochs_flag)) return bad_value(a, v, "want a positive integer");
            c.epochs = (int)epochs_flag;
        } else if (!strcmp(a, "--max-steps")) {
            if (!parse_int(v, 1, (long long)1 << 50, &c.max_steps)) return bad_value(a, v, "want a positive integer");
        } else if (!strcmp(a, "--batch-size") || !strcmp(a, "--eval-batch-size")) {
            if (!parse_int(v, 1, 65536, &n)) return bad_value(a, v, "want an integer in 1..65536");
            if (a[2] == 'b') c.batch_size = (int)(batch_flag = n);
            else c.eval_batch_size = (int)n;
        } else if (!strcmp(a, "--image-size")) {
            if (!parse_int(v, 8, 4096, &n)) return bad_value(a, v, "want an integer in 8..4096");
            c.transform.image_size = (int)n;
        } else if (!strcmp(a, "--resize")) {
            if (!parse_int(v, 8, 8192, &n)) return bad_value(a, v, "want an integer in 8..8192");
            c.transform.resize = (int)n;
        } else if (!strcmp(a, "--workers")) {
            if (!parse_int(v, 0, 256, &workers_flag)) return bad_value(a, v, "want an integer in 0..256");
            c.workers = (int)workers_flag;
        } else if (!strcmp(a, "--seed")) {
            if (!parse_int(v, 0, (long long)1 << 62, &n)) return bad_value(a, v, "want a non-negative integer");
            c.seed = (uint64_t)n;
        } else if (!strcmp(a, "--lr")) {
            if (!parse_num(v, 0, 10, &c.optim.lr) || c.optim.lr <= 0) return bad_value(a, v, "want a number in (0, 10]");
        } else if (!strcmp(a, "--weight-decay")) {
            if (!parse_num(v, 0, 1, &c.optim.weight_decay)) return bad_value(a, v, "want a number in [0, 1]");
        } else if (!strcmp(a, "--beta1") || !strcmp(a, "--beta2")) {
            if (!parse_num(v, 0, 0.999999999, &d)) return bad_value(a, v, "want a number in [0, 1)");
            if (a[6] == '1') c.optim.beta1 = d;
            else c.optim.beta2 = d;
        } else if (!strcmp(a, "--eps")) {
            if (!parse_num(v, 0, 1, &c.optim.eps)) return bad_value(a, v, "want a number in [0, 1]");
        } else if (!strcmp(a, "--momentum-decay")) {
            if (!parse_num(v, 0, 1, &c.optim.momentum_decay)) return bad_value(a, v, "want a number in [0, 1]");
        } else if (!strcmp(a, "--momentum")) {
            if (!parse_num(v, 0, 0.999999, &c.optim.momentum)) return bad_value(a, v, "want a number in [0, 1)");
        } else if (!strcmp(a, "--hflip") || !strcmp(a, "--grayscale")) {
            if (!parse_num(v, 0, 1, &d)) return bad_value(a, v, "want a probability in [0, 1]");
            if (a[2] == 'h') c.transform.hflip_p = d;
            else c.transform.grayscale_p = d;
        } else if (!strcmp(a, "--rotation")) {
            if (!parse_num(v, 0, 180, &c.transform.rotation_deg)) return bad_value(a, v, "want degrees in [0, 180]");
        } else if (!strcmp(a, "--brightness") || !strcmp(a, "--contrast") || !strcmp(a, "--saturation")) {
            if (!parse_num(v, 0, 1, &d)) return bad_value(a, v, "want a number in [0, 1]");
            if (a[2] == 'b') c.transform.brightness = d;
            else if (a[2] == 'c') c.transform.contrast = d;
            else c.transform.saturation = d;
        } else if (!strcmp(a, "--plateau-factor")) {
            if (!parse_num(v, 0, 0.999999, &c.plateau.factor) || c.plateau.factor <= 0)
                return bad_value(a, v, "want a number in (0, 1)");
        } else if (!strcmp(a, "--plateau-patience") || !strcmp(a, "--plateau-cooldown") ||
                   !strcmp(a, "--early-stop")) {
            if (!parse_int(v, 0, 1000000, &n)) return bad_value(a, v, "want a non-negative integer");
            if (!strcmp(a, "--plateau-patience")) c.plateau.patience = (int)n;
            else if (!strcmp(a, "--plateau-cooldown")) c.plateau.cooldown = (int)n;
            else c.early_stop_patience = (int)n;
        } else if (!strcmp(a, "--plateau-threshold") || !strcmp(a, "--early-stop-threshold")) {
            if (!parse_num(v, 0, 1, &d)) return bad_value(a, v, "want a number in [0, 1]");
            if (a[2] == 'p') c.plateau.threshold = d;
            else c.early_stop_threshold = d;
        } else if (!strcmp(a, "--min-lr")) {
            if (!parse_num(v, 0, 10, &c.plateau.min_lr)) return bad_value(a, v, "want a number in [0, 10]");
        } else {
            fprintf(stderr, "clresnet train: error: unknown option '%s' (see clresnet train --help)\n", a);
            return 2;
        }
    }
    char data_buf[4096], out_buf[4096];
    if (resume) {
        if (apply_run_config(d, resume, &c, data_buf, sizeof data_buf) != 0) return train_failed(d, 1);
        c.resume = true;
        out = resume;
        if (epochs_flag > 0) c.epochs = (int)epochs_flag;
        if (workers_flag >= 0) c.workers = (int)workers_flag;
        /* e.g. the same global batch on another number of ranks */
        if (batch_flag > 0) c.batch_size = (int)batch_flag;
    }
    if (!out) {
        time_t t = time(NULL);
        struct tm tm;
        localtime_r(&t, &tm);
        char stamp[32];
        strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
        snprintf(out_buf, sizeof out_buf, "runs/%s-%s-%s%s", stamp, crn_model_name(c.model.kind),
                 crn_act_name(c.model.act), c.model.final_act ? "" : "-nfa");
        /* rank 0's clock names the folder */
        crn_error berr = {0};
        if (crn_dist_bcast(d, out_buf, sizeof out_buf, 0, &berr) != CRN_OK) return train_failed(d, cli_error(&berr));
        out = out_buf;
    }
    c.out_dir = out;
    c.dist = d;
    bool lead = d->rank == 0, quiet = g->quiet || !lead;

    /* The data first: a bad path or file is reported before any device work. */
    crn_dataset ds;
    crn_dataset_options dopt;
    crn_dataset_options_default(&dopt);
    dopt.split_mode = c.split_mode;
    crn_error derr = {0};
    if (crn_dataset_open(&ds, c.data_root, &dopt, &derr) != CRN_OK) return train_failed(d, cli_error(&derr));
    cli_device dev;
    if (cli_open_device(g, false, &dev) != 0) {
        crn_dataset_free(&ds);
        return train_failed(d, 1);
    }
    const crn_device_info *di = crn_runtime_device(dev.rt);
    char device_desc[800];
    snprintf(device_desc, sizeof device_desc, "%s (%s, %s)", di->name, di->platform_name, di->driver_version);
    c.device_desc = device_desc;
    if (!quiet)
        fprintf(stderr, "clresnet: %s %s/%s%s%s, data %s, run folder %s", resume ? "resuming" : "training",
                crn_model_name(c.model.kind), crn_act_name(c.model.act), c.model.final_act ? "" : "/no-final-act",
                c.model.no_batchnorm ? "/no-batchnorm" : "", c.data_root, out);
    if (!quiet && d->size > 1)
        fprintf(stderr, ", %d ranks x batch %d = global batch %d", d->size, c.batch_size, d->size * c.batch_size);
    if (!quiet) fprintf(stderr, "\n");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL);
    progress_ctx pc = {.tty = isatty(2), .quiet = quiet};
    crn_train_result res;
    crn_error err = {0};
    int rc = crn_train(dev.ops, &c, &ds, &g_stop, quiet ? NULL : on_progress, &pc, &res, &err);
    if (pc.tty && !quiet) fprintf(stderr, "\r\033[K");
    cli_close_device(&dev);
    crn_metrics met;
    char report[4200] = "";
    if (rc == CRN_OK && lead)
        rc = crn_eval_write_run(out, &ds, ds.kind == CRN_DATASET_FLOWERS102 ? crn_split_mode_name(c.split_mode) : NULL,
                                CRN_SPLIT_TEST, res.test_logits, res.test_count, res.test_checkpoint, &met, report,
                                sizeof report, &err);
    crn_train_result_free(&res);
    crn_dataset_free(&ds);
    if (rc == CRN_EINTR) {
        if (lead)
            fprintf(stderr,
                    "clresnet: interrupted after step %lld; checkpoint %s\nresume with: clresnet train --resume %s\n",
                    res.steps, res.checkpoint, out);
        return 130;
    }
    if (rc != CRN_OK) {
        if (d->size > 1) fprintf(stderr, "clresnet: rank %d of %d: error: %s\n", d->rank, d->size, err.msg);
        else cli_error(&err);
        return train_failed(d, 1);
    }
    if (!lead) return 0;
    printf("run %s: %d epochs, %lld steps%s, %.1f training images/s\n", out, res.epochs_run, res.steps,
           res.early_stopped ? " (early stop)" : res.max_steps_reached ? " (--max-steps)" : "",
           res.train_images_per_s);
    if (d->size > 1)
        printf("%d ranks: the gradient all-reduces took %.2f s on rank 0 (this invocation)\n", d->size,
               crn_dist_allreduce_seconds());
    printf("best validation loss %.4f at epoch %d; test (best weights): loss %.4f, accuracy %.4f, "
           "weighted precision %.4f, recall %.4f, F1 %.4f, top-5 %.4f\n",
           res.best_val_loss, res.best_epoch, res.test_loss, res.test_acc, met.weighted[CRN_METRIC_PRECISION],
           met.weighted[CRN_METRIC_RECALL], met.weighted[CRN_METRIC_F1], met.top5_accuracy);
    printf("report: %s\n", report);
    crn_metrics_free(&met);
    return 0;
}
