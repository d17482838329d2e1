/* Device runtime: context, in-order queue, the kernels of the cl/ kernel
 * files built for the device (from the binary cache when possible), typed
 * kernel arguments, launches and profiling events. The runtime knows no
 * layer or GEMM: the ops above it look their kernels up once, by name, and
 * keep the handles. Opaque outside src/runtime/. */
#ifndef CLRESNET_RUNTIME_RUNTIME_H
#define CLRESNET_RUNTIME_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>

#include <CL/cl.h>

#include "clresnet/core/error.h"
#include "clresnet/runtime/cl_status.h"
#include "clresnet/runtime/device.h"

typedef struct crn_runtime crn_runtime;

typedef struct crn_runtime_options {
    bool profiling;        /* queue with CL_QUEUE_PROFILING_ENABLE */
    bool no_kernel_cache;  /* always build from source, write nothing */
    bool warnings_as_errors; /* build every kernel with -Werror (a compiler warning fails the build) */
    /* The folder of the on-disk caches (kernel binaries, the GEMM tuning
     * and plans; crn_cache_dir_choose gives the usual one); NULL or "":
     * nothing cached on disk. */
    const char *cache_dir;
} crn_runtime_options;

int crn_runtime_create(crn_runtime **out, const crn_device_info *dev, const crn_runtime_options *opt,
                       crn_error *err);
void crn_runtime_destroy(crn_runtime *rt);

const crn_device_info *crn_runtime_device(const crn_runtime *rt);
cl_context crn_runtime_context(const crn_runtime *rt);
cl_command_queue crn_runtime_queue(const crn_runtime *rt);

/* How the kernel files got ready at start-up. */
typedef struct crn_build_stats {
    int programs, kernels;
    int cache_hits;    /* programs loaded from the binary cache */
    int cache_builds;  /* programs compiled from source */
    double seconds;    /* wall time spent getting them ready */
} crn_build_stats;
crn_build_stats crn_runtime_build_stats(const crn_runtime *rt);

/* What the OpenCL compiler said while building kernels from source that
 * built (warnings, notes), each part headed by its file; NULL when it said
 * nothing or everything came from the binary cache. */
const char *crn_runtime_build_log(const crn_runtime *rt);

/* Lowers the largest single buffer the engine assumes the device takes
 * (never above what it reports; 0 restores that): for a device shared with
 * other work, and for tests of the code paths that split work to fit. */
void crn_runtime_limit_alloc(crn_runtime *rt, size_t bytes);

/* ------------------------------------------------------------ kernels */

/* A kernel of the cl/ files, looked up once by its owner. */
typedef struct crn_kernel {
    cl_kernel handle;
    char name[64];
    size_t max_wg;   /* CL_KERNEL_WORK_GROUP_SIZE for this device */
    cl_uint nargs;   /* CL_KERNEL_NUM_ARGS */
} crn_kernel;

/* The kernel with this name from any of the cl/ kernel files; an error
 * names it when it does not exist. Owners call it when they are set up,
 * never per launch. */
int crn_kernel_find(crn_runtime *rt, const char *name, const crn_kernel **out, crn_error *err);

/* How every module resolves its kernels, once, when it is set up: a table
 * of slots, each a kernel's name and where its handle (a const crn_kernel
 * *) lives in the module's struct (offsetof), filled in owner. */
typedef struct crn_kernel_slot {
    const char *name;
    size_t offset;
} crn_kernel_slot;
int crn_kernels_find(crn_runtime *rt, const crn_kernel_slot *slots, size_t n, void *owner, crn_error *err);

/* Typed argument setting. Each op wraps a kernel in a function whose
 * parameters are that kernel's, in order (so the compiler checks count and
 * types at every call), and whose body is crn_args_begin, one crn_arg_* per
 * parameter and crn_args_end, which fails when the count differs from the
 * kernel's own (a wrapper out of step with its cl/ file). */
typedef struct crn_args {
    const crn_kernel *k;
    cl_uint count;
    cl_int status;
    cl_uint failed_at;
} crn_args;

crn_args crn_args_begin(const crn_kernel *k);
void crn_arg_mem(crn_args *a, cl_mem v);
void crn_arg_int(crn_args *a, int v);
void crn_arg_ulong(crn_args *a, cl_ulong v);
void crn_arg_float(crn_args *a, float v);
void crn_arg_local(crn_args *a, size_t bytes); /* __local scratch of this size */
/* Runs of arguments of one type, in order. */
void crn_arg_mems(crn_args *a, int n, const cl_mem *v);
void crn_arg_ints(crn_args *a, int n, const int *v);
void crn_arg_floats(crn_args *a, int n, const float *v);
int crn_args_end(const crn_args *a, crn_error *err);

/* Enqueues a 1-3D range; global sizes are rounded up to the local size, so
 * kernels must check their bounds. local may be NULL (driver's choice). */
int crn_launch(crn_runtime *rt, const crn_kernel *k, int dims, const size_t *global, const size_t *local,
               crn_error *err);

/* Work-group sizes: CRN_WG_MAX work-items a group at most (what the ops
 * ask for; larger groups bought nothing on the devices measured), and
 * CRN_WG_RUN neighbouring work-items along x (a coalesced run, or the
 * lanes that share a row). */
enum { CRN_WG_MAX = 256, CRN_WG_RUN = 64 };

/* The work-group size for k: want, capped by what the device allows for
 * this kernel (CL_KERNEL_WORK_GROUP_SIZE, asked when the kernel was looked
 * up); at least 1. Every launch picks its sizes through this. */
size_t crn_kernel_wg(const crn_kernel *k, size_t want);

/* A 1-D launch of n work items in groups of crn_kernel_wg(k, CRN_WG_MAX). */
int crn_launch_1d(crn_runtime *rt, const crn_kernel *k, size_t n, crn_error *err);

int crn_finish(crn_runtime *rt, crn_error *err);

/* Builds one OpenCL C source for this device, through the cache; used for
 * the cl/ kernel files at start-up, by ops for the files they build with
 * their own options (extra, appended to the device's; may be NULL), and by
 * tests. The error carries the build log on failure. */
int crn_build_program(crn_runtime *rt, const char *name, const char *source, const char *extra, cl_program *out,
                      bool use_cache, int *from_cache, crn_error *err);

/* Whether programs go through the binary cache (not --no-kernel-cache). */
bool crn_runtime_uses_cache(const crn_runtime *rt);

/* The cache folder the runtime was given into buf; an error when it was
 * given none. */
int crn_runtime_cache_dir(const crn_runtime *rt, char *buf, size_t size, crn_error *err);

/* A kernel of a program an op built (crn_build_program): k receives its
 * handle, which the caller releases (clReleaseKernel(k->handle)). */
int crn_program_kernel(crn_runtime *rt, cl_program p, const char *name, crn_kernel *k, crn_error *err);

/* ------------------------------------------------------------ profiling */

/* One profiled command: the layer tag current when it was enqueued, the
 * kernel (or a library routine such as "sgemm"), and its event. */
typedef struct crn_prof_event {
    const char *tag;
    char kernel[48];
    bool library;     /* a library's routine (CLBlast): several kernels */
    cl_event event;
    cl_event start;   /* library routines: a marker enqueued before them
                       * (the routine's event covers only its last kernel) */
} crn_prof_event;

/* Start recording (drops earlier records) when the queue profiles. */
void crn_prof_start(crn_runtime *rt);
void crn_prof_stop(crn_runtime *rt);
/* Labels what is enqueued next (a static string owned by the caller). */
void crn_prof_tag(crn_runtime *rt, const char *tag);

/* An event slot for the next command, or NULL when not recording; the
 * caller passes it to clEnqueue... or the library. */
cl_event *crn_prof_slot(crn_runtime *rt, const char *kernel, bool library);

/* The recorded commands (valid until the next crn_prof_start). */
const crn_prof_event *crn_prof_events(const crn_runtime *rt, int *count);

/* Seconds of a recorded command (after crn_finish). */
double crn_prof_seconds(const crn_prof_event *e);

#endif
