#include <stdlib.h>
#include "clresnet/core/clock.h"

#include <time.h>

double crn_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_time(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

void crn_sort_times(double *t, size_t n) { qsort(t, n, sizeof *t, cmp_time); }
