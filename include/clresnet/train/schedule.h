/* ReduceLROnPlateau (PyTorch's, mode "min", relative threshold) and early
 * stopping on the validation loss. Plain host state: saved in checkpoints. */
#ifndef CLRESNET_SCHEDULE_H
#define CLRESNET_SCHEDULE_H

#include <stdbool.h>

typedef struct crn_plateau {
    double factor;      /* 0.1 */
    int patience;       /* 10 */
    double threshold;   /* 1e-4, relative */
    int cooldown;       /* 0 */
    double min_lr;      /* 0 */
    double eps;         /* 1e-8: smaller reductions are ignored */
    /* state */
    double best;        /* +inf before the first step */
    int num_bad_epochs;
    int cooldown_counter;
    int last_epoch;
} crn_plateau;

void crn_plateau_init(crn_plateau *p);  /* PyTorch's defaults */

/* One epoch's validation loss; returns the (possibly reduced) lr. */
double crn_plateau_step(crn_plateau *p, double metric, double lr);

/* The same in two parts, for several parameter groups: update takes the
 * epoch's metric and says whether to reduce now; reduce gives one group's
 * reduced lr (by factor, not below min_lr, unchanged when the reduction
 * would be under eps), as PyTorch's _reduce_lr does for each group. */
bool crn_plateau_update(crn_plateau *p, double metric);
double crn_plateau_reduce(const crn_plateau *p, double lr);

typedef struct crn_early_stop {
    int patience;       /* 15 */
    double threshold;   /* 1e-4, relative */
    double best;        /* +inf before the first epoch */
    int bad_epochs;
} crn_early_stop;

void crn_early_stop_init(crn_early_stop *e, int patience, double threshold);

/* Records an epoch; *improved says whether it is the new best (keep these
 * weights). Returns true when training should stop. */
bool crn_early_stop_update(crn_early_stop *e, double val_loss, bool *improved);

#endif
