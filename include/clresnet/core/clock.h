/* The monotonic clock every timing in clresnet uses. */
#ifndef CLRESNET_CORE_CLOCK_H
#define CLRESNET_CORE_CLOCK_H

#include <stddef.h>

/* Seconds since an arbitrary start, monotonic (CLOCK_MONOTONIC). */
double crn_now_s(void);

/* Sorts n timings ascending, so that t[n / 2] is their median. */
void crn_sort_times(double *t, size_t n);

#endif
