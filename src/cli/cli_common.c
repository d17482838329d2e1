#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "clresnet/runtime/device.h"

int cli_error(const crn_error *err)
{
    fprintf(stderr, "clresnet: error: %s\n", err->msg[0] ? err->msg : "unknown error");
    return 1;
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
    crn_runtime_options opt = {.profiling = profiling, .no_kernel_cache = g->no_kernel_cache};
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
