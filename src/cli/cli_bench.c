/* `clresnet bench`: the median time of a whole training step (forward,
 * loss, backward, optimiser) on random data, images/s, a per-layer table
 * from OpenCL profiling events, the GEMM share, and device memory. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "clresnet/nn/model.h"
#include "clresnet/core/clock.h"
#include "clresnet/train/optim.h"

void help_bench(void)
{
    printf("usage: clresnet [--device N] bench [--model M] [--act A] [--batch-size B] [--image-size S]\n"
           "                                  [--steps N] [--warmup N] [--width W] [--classes K] [--json]\n"
           "                                  [--no-final-act] [--no-batchnorm] [--freeze STAGE] [--convs]\n\n"
           "Times training steps (forward, loss, backward, NAdam) on random data: the median\n"
           "step time and images/s, then a per-layer table from OpenCL profiling events\n"
           "(one extra profiled step), the GEMM share and the model's device memory, and\n"
           "the kernels that took the most time.\n"
           "Defaults: resnet50, relu, batch 32, 224x224, 10 steps after 3 warm-up steps.\n"
           "--json prints one JSON object (images/s under \"images_per_s\").\n"
           "--freeze STAGE times fine-tuning's step, as train --freeze (stem, layer1..4):\n"
           "no backward or update up to that stage.\n"
           "--convs times each distinct convolution of ResNet50 instead (forward, and\n"
           "backward: data and weight gradients), scaled to --image-size, at --batch-size,\n"
           "median of --steps calls: GFLOP/s per shape (with --json one object per line,\n"
           "for tests/bench/conv_side_by_side.sh).\n");
}

typedef struct row {
    const char *tag;
    double seconds, gemm_seconds;
    int launches;
} row;

static int step(crn_model *m, crn_optimizer *opt, const float *x, const int32_t *y, int n, float *losses,
                crn_error *err)
{
    crn_runtime *rt = crn_model_runtime(m);
    int rc = crn_model_forward(m, x, n, true, err);
    crn_prof_tag(rt, "loss");
    if (rc == CRN_OK) rc = crn_model_loss(m, y, n, NULL, err);
    if (rc == CRN_OK) rc = crn_model_backward(m, err);
    crn_prof_tag(rt, "optimizer");
    if (rc == CRN_OK) rc = crn_optim_step(opt, crn_model_params_buffer(m, NULL), crn_model_grads_buffer(m, NULL), err);
    /* as the trainer: one read at the end of the step */
    if (rc == CRN_OK) rc = crn_model_read_loss(m, n, losses, NULL, err);
    return rc;
}

typedef struct bench_args {
    crn_model_config mc;
    int batch, steps, warmup;
    bool json, convs;
} bench_args;

/* 0, or 2 after printing what is wrong. */
static int parse_args(int argc, char **argv, bench_args *b)
{
    *b = (bench_args){{CRN_MODEL_RESNET50, CRN_ACT_RELU, true, 102, 224, 1.0, false, 0}, 32, 10, 3, false, false};
    crn_model_config *mc = &b->mc;
    const char *freeze = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int k;
        if (!strcmp(a, "--json")) { b->json = true; continue; }
        if (!strcmp(a, "--convs")) { b->convs = true; continue; }
        if (!strcmp(a, "--no-final-act")) { mc->final_act = false; continue; }
        if (!strcmp(a, "--no-batchnorm")) { mc->no_batchnorm = true; continue; }
        if (!v) {
            fprintf(stderr, "clresnet bench: error: unknown option or missing value '%s'\n", a);
            return 2;
        }
        i++;
        bool ok = true;
        if (!strcmp(a, "--model")) ok = (k = crn_model_parse(v)) >= 0 && (mc->kind = (crn_model_kind)k, true);
        else if (!strcmp(a, "--act")) ok = (k = crn_act_parse(v)) >= 0 && (mc->act = (crn_act_kind)k, true);
        else if (!strcmp(a, "--batch-size")) ok = (b->batch = atoi(v)) >= 1;
        else if (!strcmp(a, "--image-size")) ok = (mc->image_size = atoi(v)) >= 8;
        else if (!strcmp(a, "--steps")) ok = (b->steps = atoi(v)) >= 1;
        else if (!strcmp(a, "--warmup")) ok = (b->warmup = atoi(v)) >= 0;
        else if (!strcmp(a, "--classes")) ok = (mc->classes = atoi(v)) >= 1;
        else if (!strcmp(a, "--width")) ok = (mc->width = atof(v)) > 0;
        else if (!strcmp(a, "--freeze")) freeze = v;
        else {
            fprintf(stderr, "clresnet bench: error: unknown option '%s'\n", a);
            return 2;
        }
        if (!ok) {
            fprintf(stderr, "clresnet bench: error: bad value '%s' for %s\n", v, a);
            return 2;
        }
    }
    return cli_resolve_freeze("bench", freeze, mc);
}

/* The profiled step's events grouped by layer tag (or by kernel), largest
 * first. */
static int collect_rows(crn_runtime *rt, bool by_kernel, row *rows, int max_rows, double *total, double *gemm)
{
    int nrows = 0, nev = 0;
    *total = *gemm = 0;
    const crn_prof_event *ev = crn_prof_events(rt, &nev);
    for (int i = 0; i < nev; i++) {
        const crn_prof_event *e = &ev[i];
        double s = crn_prof_seconds(e);
        int r = 0;
        const char *key = by_kernel ? e->kernel : e->tag;
        while (r < nrows && strcmp(rows[r].tag, key) != 0) r++;
        if (r == nrows) {
            if (nrows == max_rows) continue;
            rows[nrows++] = (row){key, 0, 0, 0};
        }
        rows[r].seconds += s;
        rows[r].launches++;
        /* CLBlast's routines, and the packed GEMM's kernels */
        if (e->library || !strncmp(e->kernel, "gemm_", 5) || !strncmp(e->kernel, "pack_", 5)) {
            rows[r].gemm_seconds += s;
            *gemm += s;
        }
        *total += s;
    }
    for (int i = 0; i < nrows; i++)
        for (int j = i + 1; j < nrows; j++)
            if (rows[j].seconds > rows[i].seconds) {
                row tmp = rows[i];
                rows[i] = rows[j];
                rows[j] = tmp;
            }
    return nrows;
}

/* The kernels that took the most time, for whoever speeds them up. */
static void print_kernels(const row *rows, int nrows, double total)
{
    printf("\n%-28s %10s %7s %8s\n", "kernel", "ms", "share", "launches");
    for (int i = 0; i < nrows && i < 15; i++)
        printf("%-28s %10.2f %6.1f%% %8d\n", rows[i].tag, rows[i].seconds * 1e3,
               total > 0 ? 100 * rows[i].seconds / total : 0, rows[i].launches);
}

static void print_results(const bench_args *b, crn_model *m, const char *device, const double *t, const row *rows,
                          int nrows, double total, double gemm)
{
    const crn_model_config *mc = &b->mc;
    int steps = b->steps, batch = b->batch;
    double med = t[steps / 2], ips = batch / med;
    double mib = (double)crn_model_device_bytes(m) / 1048576.0;
    const char *frozen = crn_model_freeze_name(mc->kind, mc->freeze);
    if (b->json) {
        printf("{\"device\":\"%s\",\"model\":\"%s\",\"act\":\"%s\",\"freeze\":%s%s%s,\"batch_size\":%d,"
               "\"image_size\":%d,\"steps\":%d,\"median_step_s\":%.6f,\"images_per_s\":%.3f,"
               "\"device_memory_mib\":%.1f,\"profiled_s\":%.6f,\"gemm_share\":%.4f,\"layers\":[",
               device, crn_model_name(mc->kind), crn_act_name(mc->act), frozen ? "\"" : "", frozen ? frozen : "null",
               frozen ? "\"" : "", batch, mc->image_size, steps, med, ips, mib, total, total > 0 ? gemm / total : 0);
        for (int i = 0; i < nrows; i++)
            printf("%s{\"layer\":\"%s\",\"seconds\":%.6f,\"gemm_seconds\":%.6f,\"gflops\":%.3f,\"launches\":%d}",
                   i ? "," : "", rows[i].tag, rows[i].seconds, rows[i].gemm_seconds,
                   rows[i].seconds > 0 ? crn_model_tag_flops(m, rows[i].tag, batch) / rows[i].seconds * 1e-9 : 0,
                   rows[i].launches);
        printf("]}\n");
        return;
    }
    printf("%s/%s batch %d at %dx%d%s%s on %s\n", crn_model_name(mc->kind), crn_act_name(mc->act), batch,
           mc->image_size, mc->image_size, frozen ? ", frozen up to " : "", frozen ? frozen : "", device);
    printf("training step: median %.1f ms over %d steps (min %.1f, max %.1f) = %.1f images/s\n", med * 1e3, steps,
           t[0] * 1e3, t[steps - 1] * 1e3, ips);
    printf("device memory of the model (weights, grads, activations, workspace): %.0f MiB\n", mib);
    printf("profiled step: %.1f ms in kernels, GEMM %.1f%%\n\n", total * 1e3, total > 0 ? 100 * gemm / total : 0);
    printf("%-20s %10s %7s %9s %9s %8s\n", "layer", "ms", "share", "GEMM ms", "GFLOP/s", "launches");
    for (int i = 0; i < nrows; i++) {
        double fl = crn_model_tag_flops(m, rows[i].tag, batch);
        char gf[32] = "-";
        if (fl > 0 && rows[i].seconds > 0) snprintf(gf, sizeof gf, "%.1f", fl / rows[i].seconds * 1e-9);
        printf("%-20s %10.2f %6.1f%% %9.2f %9s %8d\n", rows[i].tag, rows[i].seconds * 1e3,
               total > 0 ? 100 * rows[i].seconds / total : 0, rows[i].gemm_seconds * 1e3, gf, rows[i].launches);
    }
}

int cmd_bench(const cli_globals *g, int argc, char **argv)
{
    bench_args b;
    int prc = parse_args(argc, argv, &b);
    if (prc) return prc;
    const crn_model_config *mc = &b.mc;
    int batch = b.batch, steps = b.steps;
    cli_device dev;
    if (cli_open_device(g, true, &dev) != 0) return 1;
    if (cli_autotune(g, &dev, mc, batch, false, AUTOTUNE_BUDGET_S) != 0) {
        cli_close_device(&dev);
        return 1;
    }
    if (!g->verbose) cli_print_gemm(&dev); /* a figure means little without it */
    crn_runtime *rt = dev.rt;
    crn_error err = {0};
    if (b.convs) {
        int rc = bench_convs(dev.ops, batch, mc->image_size, steps, b.json, &err);
        cli_close_device(&dev);
        return rc == CRN_OK ? 0 : cli_error(&err);
    }
    crn_model *m = NULL;
    crn_optimizer *opt = NULL;
    size_t S = (size_t)mc->image_size, nin = (size_t)batch * 3 * S * S;
    float *x = malloc(nin * sizeof *x), *losses = malloc((size_t)batch * sizeof *losses);
    int32_t *y = malloc((size_t)batch * sizeof *y);
    double *t = malloc((size_t)steps * sizeof *t);
    int rc = (!x || !losses || !y || !t) ? crn_fail(&err, CRN_ENOMEM, "out of host memory") : CRN_OK;
    unsigned seed = 1;
    for (size_t i = 0; rc == CRN_OK && i < nin; i++)
        x[i] = (float)((seed = seed * 1664525u + 1013904223u) >> 8) / 8388608.0f - 1.0f;
    for (int i = 0; rc == CRN_OK && i < batch; i++) y[i] = i % mc->classes;
    if (rc == CRN_OK) rc = crn_model_create(dev.ops, mc, batch, &m, &err);
    size_t np = 0;
    if (rc == CRN_OK) {
        crn_model_params_buffer(m, &np);
        crn_optim_config oc = crn_optim_defaults(CRN_OPT_NADAM);
        rc = crn_optim_create(rt, &oc, np, &opt, &err);
        size_t from = 0; /* as the trainer: frozen parameters are not the optimiser's */
        crn_model_param_groups(m, &from, NULL);
        if (rc == CRN_OK) rc = crn_optim_set_groups(opt, (const crn_optim_group[]){{from, np, oc.lr}}, 1, &err);
    }
    if (rc == CRN_OK) rc = crn_model_init(m, 0, &err);
    for (int i = 0; rc == CRN_OK && i < b.warmup; i++) rc = step(m, opt, x, y, batch, losses, &err);
    for (int i = 0; rc == CRN_OK && i < steps; i++) {
        double t0 = crn_now_s();
        rc = step(m, opt, x, y, batch, losses, &err);
        t[i] = crn_now_s() - t0;
    }
    /* One more step with events on: profiling can slow a device down, so it
     * is not part of the timed median. */
    if (rc == CRN_OK) {
        crn_prof_start(rt);
        rc = step(m, opt, x, y, batch, losses, &err);
        crn_prof_stop(rt);
    }
    if (rc == CRN_OK) {
        crn_sort_times(t, (size_t)steps);
        row rows[256];
        double total = 0, gemm = 0;
        int nrows = collect_rows(rt, false, rows, 256, &total, &gemm);
        print_results(&b, m, crn_runtime_device(rt)->name, t, rows, nrows, total, gemm);
        if (!b.json) print_kernels(rows, collect_rows(rt, true, rows, 256, &total, &gemm), total);
    }
    crn_optim_destroy(opt);
    crn_model_destroy(m);
    cli_close_device(&dev);
    free(x), free(y), free(losses), free(t);
    return rc == CRN_OK ? 0 : cli_error(&err);
}
