/* The runtime's state, shared by the files of src/runtime/ only: everything
 * above the runtime sees crn_runtime as opaque (runtime.h). */
#ifndef CLRESNET_RUNTIME_IMPL_H
#define CLRESNET_RUNTIME_IMPL_H

#include "clresnet/core/file_util.h"
#include "clresnet/runtime/runtime.h"

struct crn_runtime {
    crn_device_info dev;      /* as reported, except max_alloc under crn_runtime_limit_alloc */
    cl_ulong reported_max_alloc;
    cl_context ctx;
    cl_command_queue queue;
    bool profiling;
    bool use_cache;            /* programs through the binary cache */
    char cache_dir[CRN_PATH_MAX]; /* "" for none */
    bool werror;               /* build with -Werror (the tests) */
    char *build_log;           /* what successful builds from source said, NULL if nothing */
    char build_options[512];
    cl_program *programs;
    int program_count;
    crn_kernel *kernels;
    int kernel_count;
    int cache_hits, cache_builds;
    double build_seconds;
    /* Profiling (queue created with profiling): while prof_on, every launch
     * records an event tagged with prof_tag. */
    bool prof_on;
    const char *prof_tag;
    crn_prof_event *prof;
    int prof_count, prof_cap;
};

#endif
