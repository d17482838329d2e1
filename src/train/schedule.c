#include "clresnet/train/schedule.h"

#include <math.h>

void crn_plateau_init(crn_plateau *p)
{
    p->factor = 0.1;
    p->patience = 10;
    p->threshold = 1e-4;
    p->cooldown = 0;
    p->min_lr = 0.0;
    p->eps = 1e-8;
    p->best = INFINITY;
    p->num_bad_epochs = 0;
    p->cooldown_counter = 0;
    p->last_epoch = 0;
}

/* torch/optim/lr_scheduler.py, ReduceLROnPlateau.step, mode min, rel. */
bool crn_plateau_update(crn_plateau *p, double metric)
{
    p->last_epoch++;
    if (metric < p->best * (1.0 - p->threshold)) {
        p->best = metric;
        p->num_bad_epochs = 0;
    } else {
        p->num_bad_epochs++;
    }
    if (p->cooldown_counter > 0) {
        p->cooldown_counter--;
        p->num_bad_epochs = 0;
    }
    if (p->num_bad_epochs > p->patience) {
        p->cooldown_counter = p->cooldown;
        p->num_bad_epochs = 0;
        return true;
    }
    return false;
}

double crn_plateau_reduce(const crn_plateau *p, double lr)
{
    double new_lr = fmax(lr * p->factor, p->min_lr);
    return lr - new_lr > p->eps ? new_lr : lr;
}

double crn_plateau_step(crn_plateau *p, double metric, double lr)
{
    return crn_plateau_update(p, metric) ? crn_plateau_reduce(p, lr) : lr;
}

void crn_early_stop_init(crn_early_stop *e, int patience, double threshold)
{
    e->patience = patience;
    e->threshold = threshold;
    e->best = INFINITY;
    e->bad_epochs = 0;
}

bool crn_early_stop_update(crn_early_stop *e, double val_loss, bool *improved)
{
    *improved = val_loss < e->best * (1.0 - e->threshold);
    if (*improved) {
        e->best = val_loss;
        e->bad_epochs = 0;
    } else {
        e->bad_epochs++;
    }
    return e->bad_epochs >= e->patience;
}
