#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "clresnet/ops/gemm_autotune.h"
#include "clresnet/runtime/device.h"
#include "clresnet/runtime/kernel_cache.h"

int cli_error(const crn_error *err)
{
    fprintf(stderr, "clresnet: error: %s\n", err->msg[0] ? err->msg : "unknown error");
    return 1;
}

void cli_parent_dir(const char *path, char *dir)
{
    snprintf(dir, CRN_PATH_MAX, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    else snprintf(dir, CRN_PATH_MAX, ".");
}

bool cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) return true;
    return false;
}

crn_ops_options cli_ops_options(void)
{
    /* debugging overrides, read here: the library reads no environment */
    return (crn_ops_options){.gemm = getenv("CLRESNET_GEMM"), .bn_layout = getenv("CLRESNET_BN_LAYOUT")};
}

crn_runtime_options cli_runtime_options(const cli_globals *g, bool profiling)
{
    /* the cache folder from the environment, read here: the library reads
     * none (no folder: nothing cached on disk) */
    static char dir[CRN_PATH_MAX];
    bool have = crn_cache_dir_choose(getenv("CLRESNET_CACHE_DIR"), getenv("XDG_CACHE_HOME"), getenv("HOME"), dir,
                                     sizeof dir, NULL) == CRN_OK;
    return (crn_runtime_options){.profiling = profiling, .no_kernel_cache = g->no_kernel_cache,
                                 .cache_dir = have ? dir : NULL};
}

int cli_open_device(const cli_globals *g, bool profiling, cli_device *dev)
{
    crn_device_list list;
    crn_error err = {0};
    int index = -1;
    char why[1024];
    dev->rt = NULL;
    dev->ops = NULL;
    if (crn_devices_list(&list, &err) != CRN_OK) return cli_error(&err);
    const crn_dist *d = g->dist;
    if (crn_devices_select_rank(&list, g->device, d ? d->local_rank : 0, &index, why, sizeof why, &err) != CRN_OK) {
        crn_devices_free(&list);
        return cli_error(&err);
    }
    if (d && d->size > 1) fprintf(stderr, "clresnet: rank %d of %d on %s: %s\n", d->rank, d->size, d->host, why);
    else if (!g->quiet) fprintf(stderr, "clresnet: %s\n", why);
    crn_runtime_options opt = cli_runtime_options(g, profiling);
    if (!g->quiet) { /* the first run on a device compiles every kernel: seconds to minutes */
        fprintf(stderr, "clresnet: getting the kernels ready (built on the first run on a device, then cached) ... ");
        fflush(stderr);
    }
    int rc = crn_runtime_create(&dev->rt, &list.devices[index], &opt, &err);
    if (!g->quiet && rc != CRN_OK) fputc('\n', stderr);
    crn_devices_free(&list);
    crn_ops_options oo = cli_ops_options();
    if (rc == CRN_OK) rc = crn_ops_create_opts(dev->rt, &oo, &dev->ops, &err);
    if (rc != CRN_OK) {
        cli_close_device(dev);
        return cli_error(&err);
    }
    if (!g->quiet) {
        crn_build_stats bs = crn_runtime_build_stats(dev->rt);
        fprintf(stderr, "%.2f s (%d built, %d from cache)%s\n", bs.seconds, bs.cache_builds, bs.cache_hits,
                bs.cache_builds ? "; some drivers finish compiling at the first launches, so the first steps "
                                  "are slower" : "");
    }
    if (g->verbose) {
        const char *log = crn_runtime_build_log(dev->rt);
        if (log) fprintf(stderr, "clresnet: the OpenCL compiler said:\n%s\n", log);
        cli_print_gemm(dev);
    }
    return 0;
}

static void autotune_progress(void *ctx, int i, int n, const char *plan, double s, double gflops, bool skipped)
{
    (void)ctx;
    if (skipped) fprintf(stderr, "  [%2d/%d] %-44s dropped: slower than the best so far\n", i, n, plan);
    else if (s < 0) fprintf(stderr, "  [%2d/%d] %-44s does not build or run here\n", i, n, plan);
    else fprintf(stderr, "  [%2d/%d] %-44s %9.1f ms %7.1f GFLOP/s\n", i, n, plan, s * 1e3, gflops);
}

int cli_autotune(const cli_globals *g, cli_device *dev, const crn_model_config *mc, int batch, bool force,
                 double budget_s)
{
    crn_ops_options oo = cli_ops_options();
    const char *off = getenv("CLRESNET_AUTOTUNE");
    if (!force && ((oo.gemm && *oo.gemm) || (off && !strcmp(off, "0")))) return 0;
    if (!force && off && atof(off) > 0) budget_s = atof(off); /* CLRESNET_AUTOTUNE=SECONDS: the first-run budget */
    /* the tuning batch: the run's, capped at 4 images of 224 px (the choice
     * depends on the shapes' proportions far more than on their size) */
    long long px = (long long)mc->image_size * mc->image_size;
    int tb = batch;
    while (tb > 1 && tb * px > 4LL * 224 * 224) tb = (tb + 1) / 2;
    char what[160];
    /* what sets the convolutions' shapes (not the activation) */
    char width[32] = "";
    if (mc->width != 1.0) snprintf(width, sizeof width, " width %g", mc->width);
    /* and which of them run backward (--freeze) */
    const char *frozen = crn_model_freeze_name(mc->kind, mc->freeze);
    snprintf(what, sizeof what, "%s%s%s%s %d px batch %d", crn_model_name(mc->kind), width,
             frozen ? " frozen to " : "", frozen ? frozen : "", mc->image_size, tb);
    crn_gemm_plan cached;
    char where[200];
    crn_error err = {0};
    if (!force && crn_gemm_plan_cached(dev->ops, what, &cached, where, sizeof where))
        return crn_gemm_set_plan(dev->ops, &cached, where, &err) == CRN_OK ? 0 : cli_error(&err);
    if (!force && g->dist && g->dist->size > 1) { /* ranks would race and may choose differently */
        if (g->dist->rank == 0)
            fprintf(stderr, "clresnet: no GEMM plan measured for %s on this device yet: `%s tune` measures it "
                            "(one process)\n", what, g->prog);
        return 0;
    }
    crn_conv_work *work = NULL;
    int nwork = 0;
    if (crn_model_conv_work(mc, tb, &work, &nwork, &err) != CRN_OK) return cli_error(&err);
    fprintf(stderr, "clresnet: %s the GEMM plans on %s's %d convolutions (%s), at most %.0f s%s:\n",
            force ? "measuring" : "first run of this model on this device: measuring", crn_model_name(mc->kind), nwork, what,
            budget_s, force ? "" : " (`clresnet tune` searches longer; CLRESNET_AUTOTUNE=0 skips this, =S sets the seconds)");
    crn_autotune_options ao = {budget_s, what};
    crn_autotune_result res;
    int rc = crn_gemm_autotune(dev->ops, work, nwork, &ao, autotune_progress, NULL, &res, &err);
    free(work);
    if (rc != CRN_OK) return cli_error(&err);
    char plan[CRN_GEMM_PLAN_TEXT], path[CRN_PATH_MAX] = "";
    crn_gemm_plan_format(&res.plan, plan, sizeof plan);
    crn_gemm_plan_cache_path(dev->ops, path, sizeof path, &err);
    fprintf(stderr,
            "clresnet: GEMM plan %s: %.1f GFLOP/s, %.2fx the default plan (%d of %d plans measured in %.0f s); "
            "cached in %s\n",
            plan, res.gflops, res.default_seconds / res.seconds, res.tried, res.candidates, res.elapsed_s, path);
    return 0;
}

void cli_print_gemm(const cli_device *dev)
{
    const char *gemm = crn_ops_gemm_desc(dev->ops);
    fprintf(stderr, "clresnet: convolution GEMM: %s\n", gemm[0] ? gemm : "CLBlast, its default parameters "
                                                                       "(`clresnet tune` tunes them)");
}

void cli_close_device(cli_device *dev)
{
    crn_ops_destroy(dev->ops);
    crn_runtime_destroy(dev->rt);
    dev->ops = NULL;
    dev->rt = NULL;
}
