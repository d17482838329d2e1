/* The monotonic clock every timing in clresnet uses. */
#ifndef CLRESNET_CORE_CLOCK_H
#define CLRESNET_CORE_CLOCK_H

/* Seconds since an arbitrary start, monotonic (CLOCK_MONOTONIC). */
double crn_now_s(void);

#endif
