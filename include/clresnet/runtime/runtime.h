/* Device runtime: context, in-order queue, the kernels of the cl/ kernel files built for
 * the device (from the binary cache when possible), and CLBlast on the queue. */
#ifndef CLRESNET_RUNTIME_H
#define CLRESNET_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>

#include <CL/cl.h>

#include "clresnet/runtime/device.h"
#include "clresnet/core/error.h"
#include "clresnet/runtime/cl_status.h"

typedef struct crn_runtime_options {
    bool profiling;        /* queue with CL_QUEUE_PROFILING_ENABLE */
    bool no_kernel_cache;  /* always build from source, write nothing */
} crn_runtime_options;

typedef struct crn_kernel_entry {
    char name[64];
    cl_kernel kernel;
    size_t max_wg;         /* CL_KERNEL_WORK_GROUP_SIZE for this device */
} crn_kernel_entry;

/* One profiled command: the layer tag current when it was enqueued, the
 * kernel (or "sgemm"), and its event. */
typedef struct crn_prof_event {
    const char *tag;
    char kernel[48];
    bool gemm;
    cl_event event;
    cl_event start;   /* GEMMs: a marker enqueued before CLBlast's kernels (its
                       * event covers only the last of them) */
} crn_prof_event;

typedef struct crn_runtime {
    crn_device_info dev;
    cl_context ctx;
    cl_command_queue queue;
    bool profiling;
    char build_options[512];
    cl_program *programs;
    int program_count;
    crn_kernel_entry *kernels;
    int kernel_count;
    int cache_hits;        /* programs loaded from the binary cache */
    int cache_builds;      /* programs compiled from source */
    double build_seconds;  /* wall time spent getting programs ready */
    /* Profiling (queue created with profiling): while prof_on, every launch
     * and GEMM records an event tagged with prof_tag (set by the model). */
    bool prof_on;
    const char *prof_tag;
    crn_prof_event *prof;
    int prof_count, prof_cap;
    /* GEMM shapes seen while gemm_log_on (gemm_tune.h), deduplicated */
    bool gemm_log_on;
    struct crn_gemm_shape *gemm_log;
    int gemm_log_count, gemm_log_cap;
    char gemm_tuning[200];  /* the tuned GEMM configuration applied at start, or "" */
    cl_mem splitk_buf;      /* partial products of crn_sgemm_nt_long_k, grown on demand */
    size_t splitk_bytes;
} crn_runtime;

int crn_runtime_create(crn_runtime **out, const crn_device_info *dev,
                       const crn_runtime_options *opt, crn_error *err);
void crn_runtime_destroy(crn_runtime *rt);

/* The kernel with this name from any the cl/ kernel files file; an error names it when
 * it does not exist. */
int crn_kernel_get(crn_runtime *rt, const char *name, crn_kernel_entry **out, crn_error *err);

/* Sets arguments from (size, pointer) pairs: crn_kernel_args(k, err, 2,
 * sizeof(cl_mem), &buf, sizeof(int), &n). */
int crn_kernel_args(cl_kernel k, crn_error *err, int count, ...);

/* Enqueues a 1-3D range; global sizes are rounded up to the local size, so
 * kernels must check their bounds. local may be NULL (driver's choice). */
int crn_launch(crn_runtime *rt, const crn_kernel_entry *k, int dims, const size_t *global,
               const size_t *local, crn_error *err);

/* A 1-D launch of n work items with a work-group size the kernel allows. */
int crn_launch_1d(crn_runtime *rt, const crn_kernel_entry *k, size_t n, crn_error *err);

int crn_finish(crn_runtime *rt, crn_error *err);

/* Profiling: start recording (drops earlier records), tag what follows. */
void crn_prof_start(crn_runtime *rt);
void crn_prof_stop(crn_runtime *rt);
static inline void crn_prof_tag(crn_runtime *rt, const char *tag) { rt->prof_tag = tag; }

/* An event slot for the next command, or NULL when not profiling; the
 * caller passes it to clEnqueue... / CLBlast. */
cl_event *crn_prof_slot(crn_runtime *rt, const char *kernel, bool gemm);

/* Seconds of a recorded command (after crn_finish). */
double crn_prof_seconds(const crn_prof_event *e);

/* Builds one OpenCL C source for this device, through the cache; used for
 * the cl/ kernel files at start-up and by tests. log receives the build log on failure. */
int crn_build_program(crn_runtime *rt, const char *name, const char *source, cl_program *out,
                      bool use_cache, int *from_cache, crn_error *err);

#endif
