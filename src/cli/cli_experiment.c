/* `clresnet experiment`: the seed experiment in one command (the runs
 * tools/seed_torch.py makes in PyTorch: resnet50 with relu, leaky and
 * silu; the baseline with relu; optionally plain50 and the no-final-act
 * variant), each in its own
 * folder under --out, trained one after the other with the same settings,
 * then compared (compare.md, compare.csv, compare.html). OUT/experiment.json
 * keeps the settings: run again with just --out to continue a stopped
 * experiment with the run it stopped in. */
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_train.h"
#include "clresnet/core/file_util.h"
#include "clresnet/eval/compare.h"
#include "clresnet/train/run_config.h"

void help_experiment(void)
{
    printf("usage: clresnet [--device N] experiment --out DIR [--plain50] [--no-final-act-runs]\n"
           "                                       [train options...]\n\n"
           "Runs the seed report's experiment: resnet50 with relu, leaky and silu and the\n"
           "baseline with relu (--plain50 adds plain50/relu, --no-final-act-runs the three\n"
           "activations without the activation after the residual add), each in DIR/<model>-<act>,\n"
           "with the report's protocol (NAdam, ReduceLROnPlateau, early stopping after 15\n"
           "epochs, the best weights tested) or what the train options given say (e.g.\n"
           "--image-size 64 --epochs 12 --data DIR); then compares them: DIR/compare.md,\n"
           "compare.csv and compare.html.\n\n"
           "Stopped (Ctrl-C, SIGTERM) or killed, it continues where it stopped when run again\n"
           "with only --out DIR: finished runs are kept, the one it stopped in resumes.\n"
           "The train options it does not take: --model, --act, --no-final-act, --out,\n"
           "--resume, --init, --freeze, --head-lr, --overwrite.\n");
}

enum { MAX_RUNS = 8 };

typedef struct plan_run {
    char name[32];
    crn_model_kind model;
    crn_act_kind act;
    bool final_act;
} plan_run;

typedef struct plan {
    const char *out;
    bool plain50, nfa;
    int argc;            /* the train options, as given */
    char **argv;
    int saved_from;      /* argv[saved_from..] were read back from experiment.json (owned); 0: none */
    plan_run runs[MAX_RUNS];
    int nruns;
    const char *prog;    /* the program as run, for the commands we suggest */
    bool more_epochs;    /* continued with another --epochs: each run resumes to it */
    char pause_run[32];  /* --test-pause RUN:STEP (tests): that run pauses after that step */
    cli_test_pause pause;
} plan;

static void add_run(plan *p, crn_model_kind m, crn_act_kind a, bool final_act)
{
    plan_run *r = &p->runs[p->nruns++];
    r->model = m, r->act = a, r->final_act = final_act;
    snprintf(r->name, sizeof r->name, "%s-%s%s", crn_model_name(m), crn_act_name(a), final_act ? "" : "-nfa");
}

static void make_runs(plan *p)
{
    p->nruns = 0;
    for (int a = 0; a < 3; a++) add_run(p, CRN_MODEL_RESNET50, (crn_act_kind)a, true);
    add_run(p, CRN_MODEL_BASELINE, CRN_ACT_RELU, true);
    if (p->plain50) add_run(p, CRN_MODEL_PLAIN50, CRN_ACT_RELU, true);
    for (int a = 0; p->nfa && a < 3; a++) add_run(p, CRN_MODEL_RESNET50, (crn_act_kind)a, false);
}

static const char *const NOT_HERE[] = {"--model", "--act", "--no-final-act", "--out", "--resume", "--init",
                                       "--freeze", "--head-lr", "--overwrite"};

/* Experiment flags out, train options kept in p->argv (argv[0] unused). */
static int parse_plan(int argc, char **argv, plan *p)
{
    p->argv = calloc((size_t)argc + 1, sizeof *p->argv);
    if (!p->argv) return 1;
    p->argc = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--out") && i + 1 < argc) p->out = argv[++i];
        else if (!strcmp(a, "--plain50")) p->plain50 = true;
        else if (!strcmp(a, "--no-final-act-runs")) p->nfa = true;
        else if (!strcmp(a, "--test-pause") && i + 1 < argc) { /* not a setting: not in experiment.json */
            const char *v = argv[++i], *colon = strchr(v, ':');
            if (!colon || (size_t)(colon - v) >= sizeof p->pause_run || cli_parse_test_pause(colon + 1, &p->pause)) {
                fprintf(stderr, "clresnet experiment: error: --test-pause '%s': want RUN:STEP\n", v);
                return 2;
            }
            snprintf(p->pause_run, sizeof p->pause_run, "%.*s", (int)(colon - v), v);
        } else {
            for (size_t k = 0; k < sizeof NOT_HERE / sizeof NOT_HERE[0]; k++)
                if (!strcmp(a, NOT_HERE[k])) {
                    fprintf(stderr, "clresnet experiment: error: %s is not an experiment option (the experiment "
                                    "chooses the runs and their folders)\n", a);
                    return 2;
                }
            p->argv[p->argc++] = argv[i];
        }
    }
    if (!p->out) {
        fprintf(stderr, "clresnet experiment: error: give --out DIR (the experiment's folder)\n");
        return 2;
    }
    return 0;
}

/* OUT/experiment.json: what the experiment was started with. */
static char *plan_json(const plan *p)
{
    json_t *o = json_object(), *args = json_array();
    for (int i = 1; i < p->argc; i++) json_array_append_new(args, json_string(p->argv[i]));
    json_object_set_new(o, "train_options", args);
    json_object_set_new(o, "plain50", json_boolean(p->plain50));
    json_object_set_new(o, "no_final_act_runs", json_boolean(p->nfa));
    json_t *runs = json_array();
    for (int i = 0; i < p->nruns; i++) json_array_append_new(runs, json_string(p->runs[i].name));
    json_object_set_new(o, "runs", runs);
    char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(o);
    return s;
}

/* An experiment already in OUT: given no other options, its own come back;
 * given other ones, that is an error (a stopped experiment continues as it
 * was started). 0, or 1/2 after printing the error; *saved: the text. */
static int load_saved(plan *p, char **saved)
{
    char path[CRN_PATH_MAX];
    size_t n = 0;
    *saved = NULL;
    crn_error err = {0};
    if (crn_path_fmt(path, sizeof path, &err, "%s/experiment.json", p->out) != CRN_OK) return cli_error(&err);
    if (access(path, F_OK) != 0) return 0;
    if (crn_read_file(path, saved, &n, &err) != CRN_OK) return cli_error(&err);
    json_t *o = json_loads(*saved, 0, NULL);
    json_t *args = o ? json_object_get(o, "train_options") : NULL;
    if (!json_is_array(args)) {
        if (o) json_decref(o);
        fprintf(stderr, "clresnet experiment: error: %s is not an experiment's settings\n", path);
        return 1;
    }
    /* --out DIR --epochs N alone: the saved options, every run resumed to N epochs */
    const char *more = NULL;
    if (p->argc == 3 && !strcmp(p->argv[1], "--epochs") && !p->plain50 && !p->nfa) {
        more = p->argv[2];
        p->argc = 1;
    }
    if (p->argc == 1 && !p->plain50 && !p->nfa) {
        p->plain50 = json_is_true(json_object_get(o, "plain50"));
        p->nfa = json_is_true(json_object_get(o, "no_final_act_runs"));
        size_t i, nargs = json_array_size(args);
        json_t *v;
        char **grown = realloc(p->argv, (nargs + 4) * sizeof *grown);
        if (!grown) {
            json_decref(o);
            return 1;
        }
        p->argv = grown;
        p->saved_from = p->argc;
        json_array_foreach(args, i, v) p->argv[p->argc++] = strdup(json_string_value(v) ? json_string_value(v) : "");
        if (more) { /* the last --epochs counts */
            p->argv[p->argc++] = strdup("--epochs");
            p->argv[p->argc++] = strdup(more);
            p->more_epochs = true;
        }
        json_decref(o);
        return 0;
    }
    make_runs(p);
    char *now = plan_json(p);
    bool same = now && !strcmp(now, *saved);
    free(now);
    json_decref(o);
    if (!same) {
        fprintf(stderr, "clresnet experiment: error: %s holds an experiment started with other settings "
                        "(experiment.json); continue it with: %s experiment --out %s (add --epochs N alone to train "
                        "every run to N epochs)\n", p->out, p->prog, p->out);
        return 2;
    }
    return 0;
}

/* One run of the plan: fresh, resumed where it stopped, or (finished) left as it is. */
static int run_one(const cli_globals *g, const plan *p, const plan_run *r, crn_dataset *ds, cli_device *dev)
{
    const crn_dist *d = crn_dist_single();
    char out[CRN_PATH_MAX], path[CRN_PATH_MAX], last[CRN_PATH_MAX], metrics[CRN_PATH_MAX];
    crn_setting_change ch; /* a changed --epochs, logged in the run's config.json */
    crn_error err = {0};
    if (crn_path_fmt(out, sizeof out, &err, "%s/%s", p->out, r->name) != CRN_OK ||
        crn_path_fmt(path, sizeof path, &err, "%s/config.json", out) != CRN_OK ||
        crn_path_fmt(last, sizeof last, &err, "%s/last.safetensors", out) != CRN_OK ||
        crn_path_fmt(metrics, sizeof metrics, &err, "%s/metrics.json", out) != CRN_OK)
        return cli_error(&err);
    train_args t;
    memset(&t, 0, sizeof t);
    crn_train_config_default(&t.c);
    int rc = cli_train_parse(p->argc, p->argv, &t);
    if (rc) return rc;
    crn_train_config *c = &t.c;
    c->model.kind = r->model;
    c->model.act = r->act;
    c->model.final_act = r->final_act;
    c->data_root = ds->root;
    crn_run_config_strings strs;
    if (access(last, F_OK) != 0) c->overwrite = true; /* never started, or killed before its first checkpoint */
    else if (access(path, F_OK) == 0) { /* started before: resume it with its own settings */
        char *text = NULL;
        size_t n = 0;
        int epochs = c->epochs;
        crn_train_config_default(c);
        if (crn_read_file(path, &text, &n, &err) != CRN_OK || crn_run_config_parse(text, path, c, &strs, &err) != CRN_OK) {
            free(text);
            return cli_error(&err);
        }
        free(text);
        c->resume = true;
        if (p->more_epochs) { /* as train --resume --epochs: logged in config.json */
            cli_add_int_change(&ch, &c->nchanges, "epochs", c->epochs, epochs);
            c->changes = &ch;
            c->epochs = epochs;
        }
        c->test_if_done = access(metrics, F_OK) != 0;
    }
    c->out_dir = out;
    c->dist = d;
    if (!g->quiet) fprintf(stderr, "clresnet experiment: run %s\n", r->name);
    return cli_train_run(g, d, c, out, ds, dev, strcmp(r->name, p->pause_run) ? (cli_test_pause){0} : p->pause);
}

static int compare_all(const plan *p)
{
    const char *runs[MAX_RUNS];
    char dirs[MAX_RUNS][CRN_PATH_MAX], md_path[CRN_PATH_MAX];
    crn_error err = {0};
    for (int i = 0; i < p->nruns; i++) {
        if (crn_path_fmt(dirs[i], sizeof dirs[i], &err, "%s/%s", p->out, p->runs[i].name) != CRN_OK)
            return cli_error(&err);
        runs[i] = dirs[i];
    }
    if (crn_path_fmt(md_path, sizeof md_path, &err, "%s/compare.md", p->out) != CRN_OK) return cli_error(&err);
    FILE *md = fopen(md_path, "w");
    int rc = md ? crn_compare_write(runs, p->nruns, md, p->out, &err)
                : crn_fail(&err, CRN_EIO, "%s: cannot write", md_path);
    if (md) fclose(md);
    if (rc != CRN_OK) return cli_error(&err);
    char *text = NULL;
    size_t n = 0;
    if (crn_read_file(md_path, &text, &n, NULL) == CRN_OK) fputs(text, stdout);
    free(text);
    printf("comparison: %s/compare.md, %s/compare.csv, %s/compare.html\n", p->out, p->out, p->out);
    return 0;
}

/* The data the runs train on (the train options' --data, else the sample). */
static int open_data(const plan *p, crn_dataset *ds)
{
    train_args t;
    memset(&t, 0, sizeof t);
    crn_train_config_default(&t.c);
    int rc = cli_train_parse(p->argc, p->argv, &t);
    if (rc) return rc;
    static char data[CRN_PATH_MAX];
    crn_error err = {0};
    if (t.data) {
        if (crn_path_fmt(data, sizeof data, &err, "%s", t.data) != CRN_OK) return cli_error(&err);
    } else if (cli_sample_data(data, sizeof data, &err) != 0) return cli_error(&err);
    crn_dataset_options dopt;
    crn_dataset_options_default(&dopt);
    dopt.split_mode = t.c.split_mode;
    return crn_dataset_open(ds, data, &dopt, &err) == CRN_OK ? 0 : cli_error(&err);
}

int cmd_experiment(const cli_globals *g, int argc, char **argv)
{
    if (g->dist && g->dist->size > 1) {
        fprintf(stderr, "clresnet experiment: error: runs on one rank (use `mpirun ... clresnet train` per run)\n");
        return 2;
    }
    plan p;
    memset(&p, 0, sizeof p);
    char *saved = NULL;
    p.prog = g->prog;
    int rc = parse_plan(argc, argv, &p);
    if (rc == 0) rc = load_saved(&p, &saved);
    crn_dataset ds;
    memset(&ds, 0, sizeof ds);
    if (rc == 0) {
        make_runs(&p);
        rc = open_data(&p, &ds);
    }
    crn_error err = {0};
    char *text = rc == 0 ? plan_json(&p) : NULL;
    char path[CRN_PATH_MAX];
    if (rc == 0 && (crn_path_fmt(path, sizeof path, &err, "%s/experiment.json", p.out ? p.out : ".") != CRN_OK ||
                    crn_mkdirs(p.out, &err) != CRN_OK || crn_write_file_atomic(path, text, strlen(text), &err) != CRN_OK))
        rc = cli_error(&err);
    cli_device dev = {0};
    if (rc == 0 && cli_open_device(g, false, &dev) != 0) rc = 1;
    for (int i = 0; rc == 0 && i < p.nruns; i++) rc = run_one(g, &p, &p.runs[i], &ds, &dev);
    if (rc > 128)
        fprintf(stderr, "clresnet experiment: stopped; continue it with: %s experiment --out %s\n", g->prog, p.out);
    if (dev.rt) cli_close_device(&dev);
    if (rc == 0) rc = compare_all(&p);
    crn_dataset_free(&ds);
    free(text);
    free(saved);
    for (int i = p.saved_from; p.saved_from > 0 && i < p.argc; i++) free(p.argv[i]);
    free(p.argv);
    return rc;
}
