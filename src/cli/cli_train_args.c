/* `clresnet train`'s flags -> crn_train_config (also the common settings
 * of `clresnet experiment`). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_train.h"

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


/* Flags without a value; false when a is not one. */
static bool switch_flag(train_args *t, const char *a)
{
    crn_train_config *c = &t->c;
    if (!strcmp(a, "--no-final-act")) c->model.final_act = false;
    else if (!strcmp(a, "--no-batchnorm")) c->model.no_batchnorm = true;
    else if (!strcmp(a, "--no-augment")) c->transform.augment = 0;
    else if (!strcmp(a, "--no-shuffle")) c->shuffle = false;
    else if (!strcmp(a, "--skip-bad")) c->skip_bad = true;
    else if (!strcmp(a, "--overwrite")) t->overwrite = true;
    else return false;
    return true;
}

/* Model, data, paths and augmentation flags: 0, 2 (bad value, printed) or -1 (not one of these). */
static int model_flag(train_args *t, const char *a, const char *v)
{
    crn_train_config *c = &t->c;
    long long n;
    double d;
    int k;
    if (!strcmp(a, "--data")) t->data = v;
    else if (!strcmp(a, "--out")) t->out = v;
    else if (!strcmp(a, "--resume")) t->resume = v;
    else if (!strcmp(a, "--init")) c->init_path = v;
    else if (!strcmp(a, "--freeze")) t->freeze = v;
    else if (!strcmp(a, "--split")) {
        if (crn_split_mode_parse(v, &c->split_mode) != CRN_OK) return bad_value(a, v, "want seed or official");
    } else if (!strcmp(a, "--model")) {
        if ((k = crn_model_parse(v)) < 0) {
            char want[200];
            snprintf(want, sizeof want, "want one of %s", crn_model_names());
            return bad_value(a, v, want);
        }
        c->model.kind = (crn_model_kind)k;
    } else if (!strcmp(a, "--act")) {
        if ((k = crn_act_parse(v)) < 0) return bad_value(a, v, "want relu, leaky or silu");
        c->model.act = (crn_act_kind)k;
    } else if (!strcmp(a, "--width")) {
        if (!parse_num(v, 1e-3, 16, &c->model.width)) return bad_value(a, v, "want a number in (0, 16]");
    } else if (!strcmp(a, "--image-size")) {
        if (!parse_int(v, 8, 4096, &n)) return bad_value(a, v, "want an integer in 8..4096");
        c->transform.image_size = (int)n;
    } else if (!strcmp(a, "--resize")) {
        if (!parse_int(v, 8, 8192, &n)) return bad_value(a, v, "want an integer in 8..8192");
        c->transform.resize = (int)n;
    } else if (!strcmp(a, "--hflip") || !strcmp(a, "--grayscale")) {
        if (!parse_num(v, 0, 1, &d)) return bad_value(a, v, "want a probability in [0, 1]");
        if (a[2] == 'h') c->transform.hflip_p = d;
        else c->transform.grayscale_p = d;
    } else if (!strcmp(a, "--rotation")) {
        if (!parse_num(v, 0, 180, &c->transform.rotation_deg)) return bad_value(a, v, "want degrees in [0, 180]");
    } else if (!strcmp(a, "--brightness") || !strcmp(a, "--contrast") || !strcmp(a, "--saturation")) {
        if (!parse_num(v, 0, 1, &d)) return bad_value(a, v, "want a number in [0, 1]");
        if (a[2] == 'b') c->transform.brightness = d;
        else if (a[2] == 'c') c->transform.contrast = d;
        else c->transform.saturation = d;
    } else return -1;
    return 0;
}

/* Optimiser and schedule flags: 0, 2 or -1, as model_flag. */
static int optim_flag(train_args *t, const char *a, const char *v)
{
    crn_train_config *c = &t->c;
    long long n;
    double d;
    int k;
    if (!strcmp(a, "--optimizer")) {
        if ((k = crn_optim_parse(v)) < 0) return bad_value(a, v, "want nadam, adam or sgd");
        crn_optim_config old = c->optim;
        c->optim = crn_optim_defaults((crn_optim_kind)k);
        c->optim.lr = old.lr;
        c->optim.weight_decay = old.weight_decay;
    } else if (!strcmp(a, "--epochs")) {
        if (!parse_int(v, 1, 1000000, &n)) return bad_value(a, v, "want a positive integer");
        c->epochs = (int)n;
    } else if (!strcmp(a, "--max-steps")) {
        if (!parse_int(v, 1, (long long)1 << 50, &c->max_steps)) return bad_value(a, v, "want a positive integer");
    } else if (!strcmp(a, "--batch-size") || !strcmp(a, "--eval-batch-size")) {
        if (!parse_int(v, 1, 65536, &n)) return bad_value(a, v, "want an integer in 1..65536");
        if (a[2] == 'b') c->batch_size = (int)n;
        else c->eval_batch_size = (int)n;
    } else if (!strcmp(a, "--workers")) {
        if (!parse_int(v, 0, 256, &n)) return bad_value(a, v, "want an integer in 0..256");
        c->workers = (int)n;
    } else if (!strcmp(a, "--seed")) {
        if (!parse_int(v, 0, (long long)1 << 62, &n)) return bad_value(a, v, "want a non-negative integer");
        c->seed = (uint64_t)n;
    } else if (!strcmp(a, "--lr")) {
        if (!parse_num(v, 0, 10, &c->optim.lr) || c->optim.lr <= 0) return bad_value(a, v, "want a number in (0, 10]");
    } else if (!strcmp(a, "--head-lr")) {
        if (!parse_num(v, 0, 10, &c->head_lr) || c->head_lr <= 0) return bad_value(a, v, "want a number in (0, 10]");
    } else if (!strcmp(a, "--weight-decay")) {
        if (!parse_num(v, 0, 1, &c->optim.weight_decay)) return bad_value(a, v, "want a number in [0, 1]");
    } else if (!strcmp(a, "--beta1") || !strcmp(a, "--beta2")) {
        if (!parse_num(v, 0, 0.999999999, &d)) return bad_value(a, v, "want a number in [0, 1)");
        if (a[6] == '1') c->optim.beta1 = d;
        else c->optim.beta2 = d;
    } else if (!strcmp(a, "--eps")) {
        if (!parse_num(v, 0, 1, &c->optim.eps)) return bad_value(a, v, "want a number in [0, 1]");
    } else if (!strcmp(a, "--momentum-decay")) {
        if (!parse_num(v, 0, 1, &c->optim.momentum_decay)) return bad_value(a, v, "want a number in [0, 1]");
    } else if (!strcmp(a, "--momentum")) {
        if (!parse_num(v, 0, 0.999999, &c->optim.momentum)) return bad_value(a, v, "want a number in [0, 1)");
    } else return -1;
    return 0;
}

/* Plateau and early-stopping flags: 0, 2 or -1, as model_flag. */
static int stop_flag(train_args *t, const char *a, const char *v)
{
    crn_train_config *c = &t->c;
    long long n;
    double d;
    if (!strcmp(a, "--plateau-factor")) {
        if (!parse_num(v, 0, 0.999999, &c->plateau.factor) || c->plateau.factor <= 0)
            return bad_value(a, v, "want a number in (0, 1)");
    } else if (!strcmp(a, "--plateau-patience") || !strcmp(a, "--plateau-cooldown") || !strcmp(a, "--early-stop")) {
        if (!parse_int(v, 0, 1000000, &n)) return bad_value(a, v, "want a non-negative integer");
        if (!strcmp(a, "--plateau-patience")) c->plateau.patience = (int)n;
        else if (!strcmp(a, "--plateau-cooldown")) c->plateau.cooldown = (int)n;
        else c->early_stop_patience = (int)n;
    } else if (!strcmp(a, "--plateau-threshold") || !strcmp(a, "--early-stop-threshold")) {
        if (!parse_num(v, 0, 1, &d)) return bad_value(a, v, "want a number in [0, 1]");
        if (a[2] == 'p') c->plateau.threshold = d;
        else c->early_stop_threshold = d;
    } else if (!strcmp(a, "--min-lr")) {
        if (!parse_num(v, 0, 10, &c->plateau.min_lr)) return bad_value(a, v, "want a number in [0, 10]");
    } else return -1;
    return 0;
}

int cli_parse_test_pause(const char *v, cli_test_pause *p)
{
    char *end = NULL;
    errno = 0;
    long long step = strtoll(v, &end, 10);
    long k = 1;
    if (end != v && *end == ':') {
        const char *ks = end + 1;
        k = strtol(ks, &end, 10);
        if (end == ks) return -1;
    }
    if (errno || end == v || *end || step < 1 || k < 1 || k > 100) return -1;
    p->step = step;
    p->signals = (int)k;
    return 0;
}

int cli_train_parse(int argc, char **argv, train_args *t)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0) {
            if (cli_misplaced_global("train", a)) return 2;
            fprintf(stderr, "clresnet train: error: unexpected argument '%s'\n", a);
            return 2;
        }
        /* what this invocation does, not settings of the run: allowed with --resume */
        if (!strcmp(a, "--print-config")) {
            t->print_config = true;
            continue;
        }
        if (!strcmp(a, "--no-data-check")) {
            t->no_data_check = true;
            continue;
        }
        if (!strcmp(a, "--test-pause-at-step")) { /* for tests: changes no setting, allowed with --resume */
            if (cli_parse_test_pause(i + 1 < argc ? argv[i + 1] : "", &t->pause) != 0)
                return bad_value(a, i + 1 < argc ? argv[i + 1] : "", "want STEP or STEP:SIGNALS");
            i++;
            continue;
        }
        if (t->ngiven < (int)(sizeof t->given / sizeof t->given[0])) t->given[t->ngiven++] = a;
        if (switch_flag(t, a)) continue;
        if (cli_misplaced_global("train", a)) return 2;
        if (i + 1 >= argc) {
            fprintf(stderr, "clresnet train: error: %s needs a value (see clresnet train --help)\n", a);
            return 2;
        }
        const char *v = argv[++i];
        int rc = model_flag(t, a, v);
        if (rc < 0) rc = optim_flag(t, a, v);
        if (rc < 0) rc = stop_flag(t, a, v);
        if (rc < 0) {
            char near[48];
            if (cli_suggest_flag(HELP_TRAIN, a, near, sizeof near))
                fprintf(stderr, "clresnet train: error: unknown option '%s'; did you mean %s?\n", a, near);
            else fprintf(stderr, "clresnet train: error: unknown option '%s' (see clresnet train --help)\n", a);
            return 2;
        }
        if (rc) return rc;
    }
    return cli_resolve_freeze("train", t->freeze, &t->c.model);
}

