/* libFuzzer harness for `clresnet train`'s command line: the input, split at
 * NUL bytes, is the argument list after "train". Linked with
 * src/cli/cli_train.c and a cli_open_device that fails, so every flag is
 * parsed and checked (and --resume DIR's config.json read) but no device is
 * opened and nothing is trained. Run it with -close_fd_mask=2: the flag
 * errors go to stderr (libFuzzer and the sanitizers keep a copy of it). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/cli/cli.h"

static int g_opened;

int cli_open_device(const cli_globals *g, bool profiling, cli_device *dev)
{
    (void)g, (void)profiling;
    dev->rt = NULL;
    dev->ops = NULL;
    g_opened++;
    return 1;
}

void cli_close_device(cli_device *dev) { (void)dev; }

/* never reached: no device opens */
int cli_autotune(const cli_globals *g, cli_device *dev, const crn_model_config *mc, int batch, bool force,
                 double budget_s)
{
    (void)g, (void)dev, (void)mc, (void)batch, (void)force, (void)budget_s;
    return 1;
}

crn_ops_options cli_ops_options(void) { return (crn_ops_options){0}; }

void cli_print_gemm(const cli_device *dev) { (void)dev; }


int cli_error(const crn_error *err)
{
    (void)err;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096) return 0;
    char *buf = malloc(size + 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    buf[size] = 0;
    char *argv[258];
    int argc = 0;
    argv[argc++] = "train";
    for (size_t i = 0; i <= size && argc < 257;) {
        argv[argc++] = buf + i;
        i += strlen(buf + i) + 1;
    }
    argv[argc] = NULL;
    cli_globals g = {.device = NULL, .no_kernel_cache = true, .quiet = true};
    int rc = cmd_train(&g, argc, argv);
    if (rc != 1 && rc != 2) abort(); /* a flag error (2) or the stub's failure to open the device (1) */
    free(buf);
    return 0;
}
