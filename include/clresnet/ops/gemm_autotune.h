/* The GEMM plan measured per device (gemm.h's crn_gemm_plan): candidates
 * (packed tiles of every vector width, per work-item or over a work-group's
 * lanes, B fused or pre-packed, and CLBlast) timed on the convolutions of
 * the model being trained, forward and backward as training runs them. The
 * fastest is cached per platform, device, driver version and kernel source
 * (beside the kernel binary cache), for the workload and as the device's
 * latest: every later ops context on the device starts with the latest
 * (crn_ops_create), and a run of a workload already measured takes its own
 * plan without measuring again. */
#ifndef CLRESNET_GEMM_AUTOTUNE_H
#define CLRESNET_GEMM_AUTOTUNE_H

#include <stdbool.h>

#include "clresnet/ops/conv.h"
#include "clresnet/ops/gemm.h"

/* One convolution of the model: input n x h x w, how many layers have it,
 * whether its backward runs (not in a frozen stage) and whether that
 * computes dx (not the first layer's, nor the first after a frozen stage). */
typedef struct crn_conv_work {
    crn_conv_desc d;
    int n, h, w;
    int count;
    bool backward, dx;
} crn_conv_work;

typedef struct crn_autotune_options {
    double budget_s;  /* no new candidate starts after this many seconds (the default plan always runs) */
    const char *what; /* the workload, for the cache entry ("resnet50 64 px batch 32") */
} crn_autotune_options;

typedef struct crn_autotune_result {
    crn_gemm_plan plan;      /* the winner, now in use and cached */
    double seconds;          /* its time for the workload */
    double default_seconds;  /* the default plan's */
    double gflops;           /* the winner's rate on the workload */
    int tried, candidates;   /* measured, and in the list */
    double elapsed_s;        /* the whole search, builds included */
} crn_autotune_result;

/* One line per candidate: its plan, its time (< 0: failed to build or run
 * on the device; seconds == 0 with skipped: dropped after part of the
 * workload, already slower than the best), and its rate. */
typedef void (*crn_autotune_progress)(void *ctx, int index, int total, const char *plan, double seconds,
                                      double gflops, bool skipped);

int crn_gemm_autotune(crn_ops *ops, const crn_conv_work *work, int nwork, const crn_autotune_options *opt,
                      crn_autotune_progress progress, void *ctx, crn_autotune_result *res, crn_error *err);

/* The plan cached for this ops' device and kernel source: for one workload
 * (crn_autotune_options.what), or with what == NULL the device's latest.
 * True with the plan and a line saying where it came from, or false (none,
 * or an entry that does not parse: never trusted). */
bool crn_gemm_plan_cached(const crn_ops *ops, const char *what, crn_gemm_plan *plan, char *where, size_t where_size);

/* The cache file of this device's plan (for messages and tests). */
int crn_gemm_plan_cache_path(const crn_ops *ops, char *buf, size_t size, crn_error *err);

#endif
