/* The command-line front end: global options and one function per command.
 * Only this layer prints; the library returns errors with messages. */
#ifndef CLRESNET_CLI_H
#define CLRESNET_CLI_H

#include <stdbool.h>

#include "clresnet/core/file_util.h"
#include "clresnet/data/dataset.h"
#include "clresnet/runtime/dist.h"
#include "clresnet/nn/model.h"
#include "clresnet/ops/ops.h"
#include "clresnet/runtime/runtime.h"

typedef struct cli_globals {
    const char *prog;       /* argv[0], as the user ran it, for the commands we suggest */
    const char *device;     /* --device N|gpu|cpu, NULL for the default choice */
    bool no_kernel_cache;   /* --no-kernel-cache */
    bool quiet;             /* --quiet */
    bool verbose;           /* --verbose: the compiler's messages, the GEMM in use */
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

/* The runtime's options: the global flags, and the cache folder that
 * CLRESNET_CACHE_DIR, XDG_CACHE_HOME or HOME names. */
crn_runtime_options cli_runtime_options(const cli_globals *g, bool profiling);
/* Selects the device as --device says (for a rank of an MPI job: its own
 * device, crn_devices_select_rank), says which one and why on stderr,
 * and starts the runtime (kernels built or loaded from the cache) and the
 * ops context. Returns 0, or 1 after printing the error. */
int cli_open_device(const cli_globals *g, bool profiling, cli_device *dev);
void cli_close_device(cli_device *dev);

/* The ops' overrides from $CLRESNET_GEMM (a GEMM plan: packed, clblast, or
 * one that `list-devices --check` shows) and $CLRESNET_BN_LAYOUT
 * (blocked|interleaved), for debugging. */
crn_ops_options cli_ops_options(void);

/* The GEMM plan for a model on this device: the one measured for it before
 * (the cache), else (none forced by $CLRESNET_GEMM, not $CLRESNET_AUTOTUNE=0,
 * one rank) measured now on the model's convolutions within budget_s
 * ($CLRESNET_AUTOTUNE=SECONDS overrides it), a line per candidate on
 * stderr, and cached (gemm_autotune.h). force: measure anyway (`clresnet
 * tune`). 0, or 1 after printing the error. */
enum { AUTOTUNE_BUDGET_S = 60 };
int cli_autotune(const cli_globals *g, cli_device *dev, const crn_model_config *mc, int batch, bool force,
                 double budget_s);

/* One line on stderr: which GEMM the convolutions use on this device. */
void cli_print_gemm(const cli_device *dev);

/* The sample data that ships with clresnet, for a train without --data:
 * $CLRESNET_DATA, else data/ next to the program, one folder up (a build
 * folder inside the source tree) or in ../share/clresnet (an installed
 * program), else the folder `meson install` put it in. 0, or 1 with the
 * error saying where it looked. */
int cli_sample_data(char *buf, size_t size, crn_error *err);

/* Prints "clresnet: error: <message>" on stderr and returns 1. */
int cli_error(const crn_error *err);

/* For an option a command does not know: when it is a global option given
 * after the command, says where it goes ("--device is a global option:
 * clresnet --device 0 train ...") and returns 2; else returns 0. */
int cli_misplaced_global(const char *command, const char *option);

/* --freeze STAGE of `clresnet command` into mc->freeze, for mc's model
 * (flags come in any order: called once all are read; NULL: nothing to
 * do). 0, or 2 after printing the stages the model has. */
int cli_resolve_freeze(const char *command, const char *stage, crn_model_config *mc);

/* The flag named in help closest to an unknown one (at most two edits:
 * --epoch -> --epochs) into out; false when none is that close. */
bool cli_suggest_flag(const char *help, const char *given, char *out, size_t size);

/* True when argv holds -h or --help. */
bool cli_wants_help(int argc, char **argv);

int cmd_list_devices(const cli_globals *g, int argc, char **argv);
void help_list_devices(void);
int cmd_train(const cli_globals *g, int argc, char **argv);
void help_train(void);
int cmd_bench(const cli_globals *g, int argc, char **argv);
void help_bench(void);
/* bench --convs (cli_bench_conv.c) */
int bench_convs(crn_ops *ops, int batch, int image, int reps, bool json, crn_error *err);
int cmd_evaluate(const cli_globals *g, int argc, char **argv);
void help_evaluate(void);
int cmd_predict(const cli_globals *g, int argc, char **argv);
void help_predict(void);
/* Shared by evaluate and predict (cli_eval.c): the data root and split mode
 * a run's config.json names ("" when it names none; an error naming it
 * when it does not fit in n), and the model of a
 * checkpoint on the device opened here (0, or 1 after printing the error). */
/* The folder of a path shorter than CRN_PATH_MAX ("." for a bare name)
 * into dir (CRN_PATH_MAX bytes). */
void cli_parent_dir(const char *path, char *dir);
int run_data(const char *config_json, char *root, size_t n, crn_split_mode *mode, crn_error *err);
int load_model(const cli_globals *g, const char *ckpt, const crn_model_config *mc, int batch, cli_device *dev,
               crn_model **m);
int cmd_report(const cli_globals *g, int argc, char **argv);
void help_report(void);
int cmd_compare(const cli_globals *g, int argc, char **argv);
void help_compare(void);
int cmd_tune(const cli_globals *g, int argc, char **argv);
int cmd_experiment(const cli_globals *g, int argc, char **argv);
void help_experiment(void);
void help_tune(void);
int cmd_export(const cli_globals *g, int argc, char **argv);
void help_export(void);

#endif
