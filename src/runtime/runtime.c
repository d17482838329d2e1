#include "clresnet/runtime/runtime.h"
#include "clresnet/core/clock.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clresnet/runtime/kernel_cache.h"
#include "clresnet/runtime/kernels.h"
#include "runtime_impl.h"


/* Options come from what the device reports: -cl-std only where the device's
 * OpenCL C is at least 1.2 (a 1.1 compiler rejects it). No fast-math: the
 * numbers must agree with PyTorch. */
static void choose_build_options(crn_runtime *rt)
{
    const crn_device_info *d = &rt->dev;
    int n = 0;
    rt->build_options[0] = '\0';
    if (d->cl_c_major > 1 || (d->cl_c_major == 1 && d->cl_c_minor >= 2))
        n += snprintf(rt->build_options + n, sizeof rt->build_options - (size_t)n, "-cl-std=CL1.2 ");
    snprintf(rt->build_options + n, sizeof rt->build_options - (size_t)n, "-DCRN_MAX_WG=%zu%s%s",
             d->max_work_group, d->fp64 ? " -DCRN_HAS_FP64=1" : "", rt->werror ? " -Werror" : "");
}

static uint64_t cache_key(const crn_runtime *rt, const char *name, const char *source, const char *options)
{
    const crn_device_info *d = &rt->dev;
    const char *parts[] = {"clresnet-kernels-1", d->platform_name, d->platform_version, d->name,
                           d->vendor, d->version, d->driver_version, options, name, source};
    uint64_t h = CRN_FNV1A64_INIT;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        h = crn_fnv1a64(h, parts[i], strlen(parts[i]) + 1);
    return h;
}

/* The program's build log without trailing blank lines (malloc'd), or NULL. */
static char *read_build_log(const crn_runtime *rt, cl_program p)
{
    size_t n = 0;
    if (clGetProgramBuildInfo(p, rt->dev.device, CL_PROGRAM_BUILD_LOG, 0, NULL, &n) != CL_SUCCESS) return NULL;
    char *log = malloc(n + 1);
    if (!log) return NULL;
    log[0] = '\0';
    if (n && clGetProgramBuildInfo(p, rt->dev.device, CL_PROGRAM_BUILD_LOG, n, log, NULL) != CL_SUCCESS) n = 0;
    log[n] = '\0';
    size_t len = strlen(log);
    while (len && (log[len - 1] == '\n' || log[len - 1] == ' ' || log[len - 1] == '\r')) log[--len] = '\0';
    return log;
}

static int build_log_error(crn_runtime *rt, cl_program p, const char *name, const char *opts, cl_int s,
                           crn_error *err)
{
    char *log = read_build_log(rt, p);
    crn_fail(err, CRN_ECL, "building kernel file cl/%s for %s failed (%s), options '%s'; build log:\n%s",
             name, rt->dev.name, crn_cl_strerror(s), opts, log ? log : "(no log)");
    free(log);
    return CRN_ECL;
}

/* A successful build's log, kept when it says anything (compiler warnings):
 * the CLI shows it only under --verbose, and the tests build with -Werror. */
static void keep_build_log(crn_runtime *rt, cl_program p, const char *name)
{
    char *log = read_build_log(rt, p);
    size_t len = log ? strlen(log) : 0;
    size_t old = rt->build_log ? strlen(rt->build_log) : 0, add = strlen(name) + len + 16;
    char *grown = len ? realloc(rt->build_log, old + add) : NULL;
    if (grown) {
        snprintf(grown + old, add, "%scl/%s:\n%s", old ? "\n" : "", name, log);
        rt->build_log = grown;
    }
    free(log);
}

static int try_binary(crn_runtime *rt, const unsigned char *bin, size_t len, const char *opts, cl_program *out)
{
    cl_int s, bs;
    cl_program p = clCreateProgramWithBinary(rt->ctx, 1, &rt->dev.device, &len, &bin, &bs, &s);
    if (s != CL_SUCCESS || bs != CL_SUCCESS) {
        if (p) clReleaseProgram(p);
        return 0;
    }
    if (clBuildProgram(p, 1, &rt->dev.device, opts, NULL, NULL) != CL_SUCCESS) {
        clReleaseProgram(p);
        return 0;
    }
    *out = p;
    return 1;
}

int crn_build_program(crn_runtime *rt, const char *name, const char *source, const char *extra, cl_program *out,
                      bool use_cache, int *from_cache, crn_error *err)
{
    char dir[CRN_PATH_MAX] = "", opts[1024];
    snprintf(opts, sizeof opts, "%s%s%s", rt->build_options, extra && *extra ? " " : "", extra ? extra : "");
    uint64_t key = cache_key(rt, name, source, opts);
    *from_cache = 0;
    if (use_cache && crn_runtime_cache_dir(rt, dir, sizeof dir, NULL) == CRN_OK) {
        unsigned char *bin = NULL;
        size_t len = 0;
        if (crn_cache_load(dir, key, &bin, &len, NULL, 0)) {
            /* A binary the driver refuses is stale: fall through and rebuild. */
            int ok = try_binary(rt, bin, len, opts, out);
            free(bin);
            if (ok) {
                *from_cache = 1;
                return CRN_OK;
            }
        }
    }
    cl_int s;
    size_t slen = strlen(source);
    cl_program p = clCreateProgramWithSource(rt->ctx, 1, &source, &slen, &s);
    if (s != CL_SUCCESS)
        return crn_fail(err, CRN_ECL, "clCreateProgramWithSource(cl/%s): %s", name, crn_cl_strerror(s));
    s = clBuildProgram(p, 1, &rt->dev.device, opts, NULL, NULL);
    if (s != CL_SUCCESS) {
        build_log_error(rt, p, name, opts, s, err);
        clReleaseProgram(p);
        return CRN_ECL;
    }
    keep_build_log(rt, p, name);
    if (use_cache && dir[0]) {
        size_t len = 0;
        if (clGetProgramInfo(p, CL_PROGRAM_BINARY_SIZES, sizeof len, &len, NULL) == CL_SUCCESS && len > 0) {
            unsigned char *bin = malloc(len);
            if (bin && clGetProgramInfo(p, CL_PROGRAM_BINARIES, sizeof bin, &bin, NULL) == CL_SUCCESS)
                crn_cache_store(dir, key, bin, len, NULL); /* a cache that cannot be written only costs time */
            free(bin);
        }
    }
    *out = p;
    return CRN_OK;
}

/* A kernel handle with what launches need to know about it. */
static void kernel_info(const crn_runtime *rt, cl_kernel k, crn_kernel *e)
{
    memset(e, 0, sizeof *e);
    e->handle = k;
    clGetKernelInfo(k, CL_KERNEL_FUNCTION_NAME, sizeof e->name, e->name, NULL);
    e->name[sizeof e->name - 1] = '\0';
    clGetKernelInfo(k, CL_KERNEL_NUM_ARGS, sizeof e->nargs, &e->nargs, NULL);
    e->max_wg = rt->dev.max_work_group;
    size_t wg = 0;
    if (clGetKernelWorkGroupInfo(k, rt->dev.device, CL_KERNEL_WORK_GROUP_SIZE, sizeof wg, &wg, NULL) == CL_SUCCESS &&
        wg > 0)
        e->max_wg = wg;
}

int crn_program_kernel(crn_runtime *rt, cl_program p, const char *name, crn_kernel *k, crn_error *err)
{
    cl_int s;
    cl_kernel h = clCreateKernel(p, name, &s);
    if (s != CL_SUCCESS) return crn_fail(err, CRN_ECL, "kernel %s: %s", name, crn_cl_strerror(s));
    kernel_info(rt, h, k);
    return CRN_OK;
}

static int add_kernels(crn_runtime *rt, cl_program p, const char *file, crn_error *err)
{
    cl_uint n = 0;
    cl_int s = clCreateKernelsInProgram(p, 0, NULL, &n);
    if (s != CL_SUCCESS) return crn_fail(err, CRN_ECL, "cl/%s: listing kernels: %s", file, crn_cl_strerror(s));
    if (n == 0) return CRN_OK;
    cl_kernel *ks = calloc(n, sizeof *ks);
    crn_kernel *grown = realloc(rt->kernels, (size_t)(rt->kernel_count + (int)n) * sizeof *grown);
    if (!ks || !grown) {
        free(ks);
        if (grown) rt->kernels = grown;
        return crn_fail(err, CRN_ENOMEM, "out of host memory creating kernels");
    }
    rt->kernels = grown;
    clCreateKernelsInProgram(p, n, ks, NULL);
    for (cl_uint i = 0; i < n; i++) {
        kernel_info(rt, ks[i], &rt->kernels[rt->kernel_count++]);
    }
    free(ks);
    return CRN_OK;
}

int crn_runtime_create(crn_runtime **out, const crn_device_info *dev, const crn_runtime_options *opt,
                       crn_error *err)
{
    crn_runtime_options defaults = {0};
    if (!opt) opt = &defaults;
    crn_runtime *rt = calloc(1, sizeof *rt);
    if (!rt) return crn_fail(err, CRN_ENOMEM, "out of host memory");
    rt->dev = *dev;
    rt->reported_max_alloc = dev->max_alloc;
    rt->use_cache = !opt->no_kernel_cache;
    rt->profiling = opt->profiling;
    rt->werror = opt->warnings_as_errors;
    int rc = crn_path_fmt(rt->cache_dir, sizeof rt->cache_dir, err, "%s", opt->cache_dir ? opt->cache_dir : "");
    if (rc != CRN_OK) {
        free(rt);
        return crn_error_prefix(err, "the cache folder");
    }
    cl_int s;
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)dev->platform, 0};
    rt->ctx = clCreateContext(props, 1, &dev->device, NULL, NULL, &s);
    if (s != CL_SUCCESS) {
        crn_runtime_destroy(rt);
        return crn_fail(err, CRN_ECL, "cannot create an OpenCL context on %s: %s", dev->name, crn_cl_strerror(s));
    }
    rt->queue = clCreateCommandQueue(rt->ctx, dev->device, opt->profiling ? CL_QUEUE_PROFILING_ENABLE : 0, &s);
    if (s != CL_SUCCESS) {
        crn_runtime_destroy(rt);
        return crn_fail(err, CRN_ECL, "cannot create a command queue on %s: %s", dev->name, crn_cl_strerror(s));
    }
    if (!dev->compiler_available) {
        crn_runtime_destroy(rt);
        return crn_fail(err, CRN_ENODEV, "%s has no OpenCL C compiler; choose another --device", dev->name);
    }
    choose_build_options(rt);
    rt->programs = calloc((size_t)crn_cl_source_count, sizeof *rt->programs);
    if (!rt->programs) {
        crn_runtime_destroy(rt);
        return crn_fail(err, CRN_ENOMEM, "out of host memory");
    }
    double t0 = crn_now_s();
    for (int i = 0; i < crn_cl_source_count; i++) {
        int cached = 0;
        int rc = crn_build_program(rt, crn_cl_sources[i].name, crn_cl_sources[i].text, NULL, &rt->programs[i],
                                   !opt->no_kernel_cache, &cached, err);
        if (rc == CRN_OK) {
            rt->program_count++;
            rc = add_kernels(rt, rt->programs[i], crn_cl_sources[i].name, err);
        }
        if (rc != CRN_OK) {
            crn_runtime_destroy(rt);
            return rc;
        }
        if (cached) rt->cache_hits++;
        else rt->cache_builds++;
    }
    rt->build_seconds = crn_now_s() - t0;
    *out = rt;
    return CRN_OK;
}

static void prof_clear(crn_runtime *rt)
{
    for (int i = 0; i < rt->prof_count; i++) {
        if (rt->prof[i].event) clReleaseEvent(rt->prof[i].event);
        if (rt->prof[i].start) clReleaseEvent(rt->prof[i].start);
    }
    rt->prof_count = 0;
}

void crn_prof_start(crn_runtime *rt)
{
    prof_clear(rt);
    rt->prof_on = rt->profiling;
}

void crn_prof_stop(crn_runtime *rt) { rt->prof_on = false; }

void crn_prof_tag(crn_runtime *rt, const char *tag) { rt->prof_tag = tag; }

const crn_prof_event *crn_prof_events(const crn_runtime *rt, int *count)
{
    *count = rt->prof_count;
    return rt->prof;
}

cl_event *crn_prof_slot(crn_runtime *rt, const char *kernel, bool library)
{
    if (!rt->prof_on) return NULL;
    if (rt->prof_count == rt->prof_cap) {
        int cap = rt->prof_cap ? 2 * rt->prof_cap : 1024;
        crn_prof_event *g = realloc(rt->prof, (size_t)cap * sizeof *g);
        if (!g) return NULL; /* profiling is best effort */
        rt->prof = g;
        rt->prof_cap = cap;
    }
    crn_prof_event *e = &rt->prof[rt->prof_count++];
    e->tag = rt->prof_tag ? rt->prof_tag : "other";
    snprintf(e->kernel, sizeof e->kernel, "%s", kernel);
    e->library = library;
    e->event = NULL;
    e->start = NULL;
    if (library && clEnqueueMarkerWithWaitList(rt->queue, 0, NULL, &e->start) != CL_SUCCESS) e->start = NULL;
    return &e->event;
}

double crn_prof_seconds(const crn_prof_event *e)
{
    cl_ulong a = 0, b = 0;
    if (!e->event || clGetEventProfilingInfo(e->event, CL_PROFILING_COMMAND_START, sizeof a, &a, NULL) != CL_SUCCESS ||
        clGetEventProfilingInfo(e->event, CL_PROFILING_COMMAND_END, sizeof b, &b, NULL) != CL_SUCCESS)
        return 0;
    /* A library routine runs from its marker's completion (the in-order queue has
     * finished everything before) to the end of CLBlast's last kernel. */
    cl_ulong s = 0;
    if (e->start && clGetEventProfilingInfo(e->start, CL_PROFILING_COMMAND_END, sizeof s, &s, NULL) == CL_SUCCESS &&
        s > 0 && s < a)
        a = s;
    return b > a ? (double)(b - a) * 1e-9 : 0;
}

void crn_runtime_destroy(crn_runtime *rt)
{
    if (!rt) return;
    prof_clear(rt);
    free(rt->prof);
    for (int i = 0; i < rt->kernel_count; i++) clReleaseKernel(rt->kernels[i].handle);
    for (int i = 0; i < rt->program_count; i++) clReleaseProgram(rt->programs[i]);
    free(rt->kernels);
    free(rt->programs);
    if (rt->queue) {
        clFinish(rt->queue);
        clReleaseCommandQueue(rt->queue);
    }
    if (rt->ctx) clReleaseContext(rt->ctx);
    free(rt->build_log);
    free(rt);
}

int crn_kernel_find(crn_runtime *rt, const char *name, const crn_kernel **out, crn_error *err)
{
    for (int i = 0; i < rt->kernel_count; i++)
        if (!strcmp(rt->kernels[i].name, name)) {
            *out = &rt->kernels[i];
            return CRN_OK;
        }
    return crn_fail(err, CRN_EINVAL, "no kernel named '%s' in the cl/ kernel files", name);
}

int crn_kernels_find(crn_runtime *rt, const crn_kernel_slot *slots, size_t n, void *owner, crn_error *err)
{
    int rc = CRN_OK;
    for (size_t i = 0; rc == CRN_OK && i < n; i++)
        rc = crn_kernel_find(rt, slots[i].name, (const crn_kernel **)((char *)owner + slots[i].offset), err);
    return rc;
}

crn_args crn_args_begin(const crn_kernel *k)
{
    crn_args a = {k, 0, CL_SUCCESS, 0};
    return a;
}

static void set_arg(crn_args *a, size_t size, const void *value)
{
    cl_int s = clSetKernelArg(a->k->handle, a->count, size, value);
    if (s != CL_SUCCESS && a->status == CL_SUCCESS) {
        a->status = s;
        a->failed_at = a->count;
    }
    a->count++;
}

void crn_arg_mem(crn_args *a, cl_mem v) { set_arg(a, sizeof v, &v); }
void crn_arg_int(crn_args *a, int v) { set_arg(a, sizeof(cl_int), &v); }
void crn_arg_ulong(crn_args *a, cl_ulong v) { set_arg(a, sizeof v, &v); }
void crn_arg_float(crn_args *a, float v) { set_arg(a, sizeof(cl_float), &v); }
void crn_arg_local(crn_args *a, size_t bytes) { set_arg(a, bytes, NULL); }

void crn_arg_mems(crn_args *a, int n, const cl_mem *v)
{
    for (int i = 0; i < n; i++) crn_arg_mem(a, v[i]);
}

void crn_arg_ints(crn_args *a, int n, const int *v)
{
    for (int i = 0; i < n; i++) crn_arg_int(a, v[i]);
}

void crn_arg_floats(crn_args *a, int n, const float *v)
{
    for (int i = 0; i < n; i++) crn_arg_float(a, v[i]);
}

int crn_args_end(const crn_args *a, crn_error *err)
{
    if (a->status != CL_SUCCESS)
        return crn_fail(err, CRN_ECL, "kernel %s: argument %u: %s", a->k->name, a->failed_at,
                        crn_cl_strerror(a->status));
    if (a->count != a->k->nargs)
        return crn_fail(err, CRN_EINVAL, "kernel %s takes %u arguments, its wrapper set %u", a->k->name,
                        a->k->nargs, a->count);
    return CRN_OK;
}

int crn_launch(crn_runtime *rt, const crn_kernel *k, int dims, const size_t *global, const size_t *local,
               crn_error *err)
{
    size_t g[3];
    for (int i = 0; i < dims; i++) {
        g[i] = global[i];
        if (local && local[i] > 0) g[i] = (global[i] + local[i] - 1) / local[i] * local[i];
        if (g[i] == 0) return CRN_OK; /* nothing to do */
    }
    cl_int s = clEnqueueNDRangeKernel(rt->queue, k->handle, (cl_uint)dims, NULL, g, local, 0, NULL,
                                      crn_prof_slot(rt, k->name, false));
    if (s != CL_SUCCESS)
        return crn_fail(err, CRN_ECL, "launching kernel %s: %s", k->name, crn_cl_strerror(s));
    return CRN_OK;
}

size_t crn_kernel_wg(const crn_kernel *k, size_t want)
{
    size_t wg = k->max_wg < want ? k->max_wg : want;
    return wg ? wg : 1;
}

int crn_launch_1d(crn_runtime *rt, const crn_kernel *k, size_t n, crn_error *err)
{
    size_t local = crn_kernel_wg(k, CRN_WG_MAX);
    return crn_launch(rt, k, 1, &n, &local, err);
}

int crn_finish(crn_runtime *rt, crn_error *err)
{
    cl_int s = clFinish(rt->queue);
    if (s != CL_SUCCESS) return crn_fail(err, CRN_ECL, "clFinish on %s: %s", rt->dev.name, crn_cl_strerror(s));
    return CRN_OK;
}

const crn_device_info *crn_runtime_device(const crn_runtime *rt) { return &rt->dev; }
cl_context crn_runtime_context(const crn_runtime *rt) { return rt->ctx; }
cl_command_queue crn_runtime_queue(const crn_runtime *rt) { return rt->queue; }
const char *crn_runtime_build_log(const crn_runtime *rt) { return rt->build_log; }
bool crn_runtime_uses_cache(const crn_runtime *rt) { return rt->use_cache; }

int crn_runtime_cache_dir(const crn_runtime *rt, char *buf, size_t size, crn_error *err)
{
    if (!rt->cache_dir[0]) return crn_fail(err, CRN_EIO, "no cache folder (the runtime was given none)");
    return crn_path_fmt(buf, size, err, "%s", rt->cache_dir);
}

const crn_cl_source *crn_cl_op_source(const char *name)
{
    for (int i = 0; i < crn_cl_op_source_count; i++)
        if (!strcmp(crn_cl_op_sources[i].name, name)) return &crn_cl_op_sources[i];
    return NULL;
}

crn_build_stats crn_runtime_build_stats(const crn_runtime *rt)
{
    crn_build_stats s = {rt->program_count, rt->kernel_count, rt->cache_hits, rt->cache_builds, rt->build_seconds};
    return s;
}

void crn_runtime_limit_alloc(crn_runtime *rt, size_t bytes)
{
    rt->dev.max_alloc = bytes > 0 && bytes < rt->reported_max_alloc ? bytes : rt->reported_max_alloc;
}
