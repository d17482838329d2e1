/* The command-line front end: global options and one function per command.
 * Only this layer prints; the library returns errors with messages. */
#ifndef CLRESNET_CLI_H
#define CLRESNET_CLI_H

#include <stdbool.h>

#include "clresnet/runtime/dist.h"
#include "clresnet/ops/ops.h"
#include "clresnet/runtime/runtime.h"

typedef struct cli_globals {
    const char *device;     /* --device N|gpu|cpu, NULL for the default choice */
    bool no_kernel_cache;   /* --no-kernel-cache */
    bool quiet;             /* --quiet */
    const crn_dist *dist;   /* the MPI job this process is a rank of (one rank without mpirun) */
} cli_globals;

typedef struct cli_command {
    const char *name;
    const char *summary;
    int (*run)(const cli_globals *g, int argc, char **argv);
    void (*help)(void);
} cli_command;

/* The device a command works on: its runtime and the ops context. */
typedef struct cli_device {
    crn_runtime *rt;
    crn_ops *ops;
} cli_device;

/* Selects the device as --device says (for a rank of an MPI job: its own
 * device, crn_devices_select_rank), says which one and why on stderr,
 * and starts the runtime (kernels built or loaded from the cache) and the
 * ops context. Returns 0, or 1 after printing the error. */
int cli_open_device(const cli_globals *g, bool profiling, cli_device *dev);
void cli_close_device(cli_device *dev);

/* Prints "clresnet: error: <message>" on stderr and returns 1. */
int cli_error(const crn_error *err);

/* True when argv holds -h or --help. */
bool cli_wants_help(int argc, char **argv);

int cmd_list_devices(const cli_globals *g, int argc, char **argv);
void help_list_devices(void);
int cmd_train(const cli_globals *g, int argc, char **argv);
void help_train(void);
int cmd_bench(const cli_globals *g, int argc, char **argv);
void help_bench(void);
int cmd_evaluate(const cli_globals *g, int argc, char **argv);
void help_evaluate(void);
int cmd_predict(const cli_globals *g, int argc, char **argv);
void help_predict(void);
int cmd_report(const cli_globals *g, int argc, char **argv);
void help_report(void);
int cmd_compare(const cli_globals *g, int argc, char **argv);
void help_compare(void);
int cmd_tune(const cli_globals *g, int argc, char **argv);
void help_tune(void);

#endif
