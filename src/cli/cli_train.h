/* The training command's pieces shared with `clresnet experiment`: its
 * flags and one run on an open dataset and device. */
#ifndef CLRESNET_CLI_TRAIN_H
#define CLRESNET_CLI_TRAIN_H

#include "cli.h"
#include "clresnet/train/train.h"

/* --test-pause-at-step N[:K] (tests): after step N, print "paused after
 * step N" and wait for K stop signals (default 1). */
typedef struct cli_test_pause {
    long long step; /* 0: no pause */
    int signals;
} cli_test_pause;

typedef struct train_args {
    crn_train_config c;
    const char *resume, *out, *data;
    const char *freeze; /* --freeze STAGE: a stage of the model, resolved once every flag is read */
    bool overwrite;
    bool print_config; /* --print-config */
    bool no_data_check; /* --no-data-check */
    cli_test_pause pause;
    const char *given[128]; /* the flags given, in order, for --resume's check */
    int ngiven;
} train_args;

/* train --help's text: every flag of train is named in it. */
extern const char HELP_TRAIN[];

/* Appends the change of an integer setting (when from != to) to ch[*n]. */
void cli_add_int_change(crn_setting_change *ch, int *n, const char *setting, long long from, long long to);

/* "N" or "N:K" into p: 0, or -1 when malformed. */
int cli_parse_test_pause(const char *v, cli_test_pause *p);

/* Parses train's flags into t (t->c starts from crn_train_config_default):
 * 0, or 2 after printing what is wrong. */
int cli_train_parse(int argc, char **argv, train_args *t);

/* Trains c into out on ds with dev (fresh or c->resume), then writes the
 * test metrics and report. Prints progress and the summary (unless quiet).
 * pause: see cli_test_pause. 0, 1 after printing an error, or 128 + the
 * signal that stopped it. */
int cli_train_run(const cli_globals *g, const crn_dist *d, crn_train_config *c, const char *out, crn_dataset *ds,
                  cli_device *dev, cli_test_pause pause);

#endif
