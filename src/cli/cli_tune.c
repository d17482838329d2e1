/* `clresnet tune`: CLBlast's GEMM parameters searched for this device on the
 * GEMM shapes of a model's training step, then cached for every later run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "clresnet/ops/gemm_tune.h"
#include "clresnet/nn/model.h"
#include "clresnet/train/optim.h"

void help_tune(void)
{
    printf("usage: clresnet [--device N] tune [--model M] [--image-size S] [--batch-size B] [--freeze STAGE]\n"
           "                                 [--budget SECONDS]\n\n"
           "Times CLBlast's GEMM kernels with a set of parameter candidates on the GEMM shapes\n"
           "of one training step of the model (default resnet50, 64x64, batch 32) and keeps the\n"
           "fastest; then measures every GEMM plan (clresnet's packed GEMM with each tile shape,\n"
           "per work-item or over a work-group's lanes, B fused or pre-packed; CLBlast so tuned)\n"
           "on the model's convolutions, forward and backward, for up to --budget seconds\n"
           "(default 600; a run measures for at most %d s the first time it meets a model on a\n"
           "device). Both are cached for this device ($XDG_CACHE_HOME/clresnet): every later run\n"
           "uses them. --freeze measures fine-tuning's step (train --freeze), whose frozen\n"
           "stages run forward only. Run it on an otherwise idle machine.\n", (int)AUTOTUNE_BUDGET_S);
}

static void progress(void *ctx, const char *config, double s)
{
    (void)ctx;
    if (s >= 1e29) printf("  %-52s failed on this device\n", config);
    else printf("  %-52s %9.1f ms\n", config, s * 1e3);
    fflush(stdout);
}

int cmd_tune(const cli_globals *g, int argc, char **argv)
{
    crn_model_config mc = {CRN_MODEL_RESNET50, CRN_ACT_RELU, true, 102, 64, 1.0, false, 0};
    int batch = 32;
    double budget = 600;
    const char *freeze = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int k;
        if (!v) goto bad;
        i++;
        if (!strcmp(a, "--model") && (k = crn_model_parse(v)) >= 0) mc.kind = (crn_model_kind)k;
        else if (!strcmp(a, "--image-size") && (mc.image_size = atoi(v)) >= 8) continue;
        else if (!strcmp(a, "--batch-size") && (batch = atoi(v)) >= 1) continue;
        else if (!strcmp(a, "--budget") && (budget = atof(v)) > 0) continue;
        else if (!strcmp(a, "--freeze")) freeze = v;
        else goto bad;
        continue;
    bad:
        fprintf(stderr, "clresnet tune: error: bad option or value '%s %s' (see clresnet tune --help)\n", a,
                v ? v : "");
        return 2;
    }
    if (cli_resolve_freeze("tune", freeze, &mc)) return 2;
    cli_device dev;
    if (cli_open_device(g, false, &dev) != 0) return 1;
    if (!g->verbose) cli_print_gemm(&dev); /* what the tuning below is for, or not */
    crn_runtime *rt = dev.rt;
    crn_error err = {0};
    crn_model *m = NULL;
    size_t S = (size_t)mc.image_size, nin = (size_t)batch * 3 * S * S;
    float *x = calloc(nin, sizeof *x);
    int32_t *y = calloc((size_t)batch, sizeof *y);
    int rc = (!x || !y) ? crn_fail(&err, CRN_ENOMEM, "out of host memory") : CRN_OK;
    if (rc == CRN_OK) rc = crn_model_create(dev.ops, &mc, batch, &m, &err);
    if (rc == CRN_OK) rc = crn_model_init(m, 0, &err);
    /* one forward and backward pass, recording every GEMM shape */
    crn_gemm_log_start(dev.ops);
    if (rc == CRN_OK) rc = crn_model_forward(m, x, batch, true, &err);
    if (rc == CRN_OK) rc = crn_model_loss(m, y, batch, NULL, &err);
    if (rc == CRN_OK) rc = crn_model_backward(m, &err);
    if (rc == CRN_OK) rc = crn_finish(rt, &err);
    crn_gemm_log_stop(dev.ops);
    crn_model_destroy(m);
    crn_gemm_tune_result res;
    if (rc == CRN_OK) {
        int nshapes = 0;
        const crn_gemm_shape *shapes = crn_gemm_log(dev.ops, &nshapes);
        printf("tuning SGEMM on %s with the %d GEMM shapes of a %s step (batch %d, %dx%d):\n",
               crn_runtime_device(rt)->name, nshapes, crn_model_name(mc.kind), batch, mc.image_size, mc.image_size);
        rc = crn_gemm_tune(dev.ops, shapes, nshapes, progress, NULL, &res, &err);
    }
    if (rc == CRN_OK)
        printf("best: %s: %.1f ms for the step's GEMMs, %.2fx CLBlast's defaults (%.1f ms); cached for this device\n",
               res.config, res.best_s * 1e3, res.default_s / res.best_s, res.default_s * 1e3);
    fflush(stdout);
    int trc = rc == CRN_OK ? cli_autotune(g, &dev, &mc, batch, true, budget) : 0;
    free(x), free(y);
    cli_close_device(&dev);
    return rc != CRN_OK ? cli_error(&err) : trc;
}
