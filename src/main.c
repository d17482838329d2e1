/* clresnet: ResNet50 training on any OpenCL device. This file parses the
 * global options and dispatches to a command in src/cli/. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#ifndef CLRESNET_VERSION
#define CLRESNET_VERSION "unknown"
#endif

static const cli_command COMMANDS[] = {
    {"list-devices", "list OpenCL platforms and devices (--check tests each one)", cmd_list_devices,
     help_list_devices},
    {"train", "train a model (the seed protocol; resumable)", cmd_train, help_train},
    {"experiment", "the seed report's experiment: its runs, then compared (resumable)", cmd_experiment,
     help_experiment},
    {"evaluate", "metrics and report of a checkpoint on a split", cmd_evaluate, help_evaluate},
    {"predict", "top classes of JPEG or PNG images", cmd_predict, help_predict},
    {"export", "write a checkpoint's model as ONNX (for onnxruntime)", cmd_export, help_export},
    {"report", "rebuild a run's report.html", cmd_report, help_report},
    {"compare", "compare runs: tables and overlaid curves", cmd_compare, help_compare},
    {"bench", "time training steps; per-layer profile", cmd_bench, help_bench},
    {"tune", "tune CLBlast's GEMM for this device (cached)", cmd_tune, help_tune},
};
static const int COMMAND_COUNT = (int)(sizeof COMMANDS / sizeof COMMANDS[0]);

static void usage(FILE *out)
{
    fprintf(out,
            "usage: clresnet [--device N|gpu|cpu|NAME] [--no-kernel-cache] [--quiet|--verbose] COMMAND [options]\n"
            "       clresnet COMMAND --help | help [COMMAND] | --help | --version\n"
            "       mpirun -np K clresnet [--device ...] train ...   (data-parallel, K ranks)\n\n"
            "commands:\n");
    for (int i = 0; i < COMMAND_COUNT; i++) fprintf(out, "  %-14s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
    fprintf(out, "\nglobal options:\n"
                 "  --device N|gpu|cpu|NAME  device index from list-devices, the first GPU / CPU device,\n"
                 "                      or the first whose platform or device name contains NAME;\n"
                 "                      default: the first GPU, else the first CPU device\n"
                 "  --no-kernel-cache   build kernels from source; do not read or write the cache\n"
                 "                      ($XDG_CACHE_HOME/clresnet, else ~/.cache/clresnet)\n"
                 "  --quiet             print only results and errors\n"
                 "  --verbose           also print the OpenCL compiler's messages and the GEMM in use\n");
}

static int run(cli_globals *g0, int argc, char **argv)
{
    cli_globals g = *g0;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--version")) {
            printf("clresnet %s (MPI data-parallel training: %s)\n", CLRESNET_VERSION,
                   crn_dist_built_with_mpi() ? "yes" : "no");
            return 0;
        } else if (!strcmp(a, "--device") || !strncmp(a, "--device=", 9)) {
            if (a[8] == '=') g.device = a + 9;
            else if (i + 1 < argc) g.device = argv[++i];
            else {
                fprintf(stderr, "clresnet: error: --device needs a value (an index, gpu, cpu or a name)\n");
                return 2;
            }
        } else if (!strcmp(a, "--no-kernel-cache")) {
            g.no_kernel_cache = true;
        } else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
            g.quiet = true;
        } else if (!strcmp(a, "--verbose") || !strcmp(a, "-v")) {
            g.verbose = true;
        } else {
            fprintf(stderr, "clresnet: error: unknown option '%s'\n\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[i], "help")) { /* clresnet help [COMMAND] */
        for (int c = 0; i + 1 < argc && c < COMMAND_COUNT; c++)
            if (!strcmp(argv[i + 1], COMMANDS[c].name)) {
                COMMANDS[c].help();
                return 0;
            }
        if (i + 1 < argc) {
            fprintf(stderr, "clresnet: error: no command '%s'\n\n", argv[i + 1]);
            usage(stderr);
            return 2;
        }
        usage(stdout);
        return 0;
    }
    for (int c = 0; c < COMMAND_COUNT; c++) {
        if (strcmp(argv[i], COMMANDS[c].name) != 0) continue;
        if (cli_wants_help(argc - i, argv + i)) {
            COMMANDS[c].help();
            return 0;
        }
        return COMMANDS[c].run(&g, argc - i, argv + i);
    }
    fprintf(stderr, "clresnet: error: unknown command '%s'\n\n", argv[i]);
    usage(stderr);
    return 2;
}

/* Whether the environment says mpirun started this process: Open MPI,
 * PMIx launchers, MPICH/Hydra. */
static bool mpi_launched(void)
{
    static const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", "PMI_RANK"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        if (getenv(vars[i])) return true;
    return false;
}

int main(int argc, char **argv)
{
    /* Under mpirun this process is one rank of a data-parallel job. */
    crn_dist dist;
    crn_error err = {0};
    if (crn_dist_init(&dist, mpi_launched(), &argc, &argv, &err) != CRN_OK) {
        fprintf(stderr, "clresnet: error: %s\n", err.msg);
        return 1;
    }
    cli_globals g = {.prog = argc > 0 && argv[0][0] ? argv[0] : "clresnet", .dist = &dist, .quiet = dist.rank != 0};
    int rc = run(&g, argc, argv);
    crn_dist_finalize(&dist);
    return rc;
}
