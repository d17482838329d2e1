#include "clresnet/runtime/device.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The ICD loader returns this (cl_ext.h) when no platform is installed. */
#ifndef CL_PLATFORM_NOT_FOUND_KHR
#define CL_PLATFORM_NOT_FOUND_KHR -1001
#endif

static void get_str(cl_device_id d, cl_device_info what, char *buf, size_t size)
{
    buf[0] = '\0';
    if (clGetDeviceInfo(d, what, size, buf, NULL) != CL_SUCCESS) snprintf(buf, size, "?");
    buf[size - 1] = '\0';
}

static void get_pstr(cl_platform_id p, cl_platform_info what, char *buf, size_t size)
{
    buf[0] = '\0';
    if (clGetPlatformInfo(p, what, size, buf, NULL) != CL_SUCCESS) snprintf(buf, size, "?");
    buf[size - 1] = '\0';
}

static bool has_extension(cl_device_id d, const char *ext)
{
    size_t n = 0;
    if (clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, 0, NULL, &n) != CL_SUCCESS || n == 0) return false;
    char *s = malloc(n + 1);
    if (!s) return false;
    bool found = false;
    if (clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, n, s, NULL) == CL_SUCCESS) {
        s[n] = '\0';
        size_t len = strlen(ext);
        for (char *p = strstr(s, ext); p; p = strstr(p + 1, ext)) {
            if ((p == s || p[-1] == ' ') && (p[len] == ' ' || p[len] == '\0')) {
                found = true;
                break;
            }
        }
    }
    free(s);
    return found;
}

static void fill_device(crn_device_info *di, cl_device_id d)
{
    di->device = d;
    get_str(d, CL_DEVICE_NAME, di->name, sizeof di->name);
    get_str(d, CL_DEVICE_VENDOR, di->vendor, sizeof di->vendor);
    get_str(d, CL_DEVICE_VERSION, di->version, sizeof di->version);
    get_str(d, CL_DRIVER_VERSION, di->driver_version, sizeof di->driver_version);
    get_str(d, CL_DEVICE_OPENCL_C_VERSION, di->opencl_c_version, sizeof di->opencl_c_version);
    /* "OpenCL C 1.2 pocl" -> 1.2 */
    di->cl_c_major = 1;
    di->cl_c_minor = 0;
    sscanf(di->opencl_c_version, "OpenCL C %d.%d", &di->cl_c_major, &di->cl_c_minor);
    clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof di->type, &di->type, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof di->compute_units, &di->compute_units, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_CLOCK_FREQUENCY, sizeof di->clock_mhz, &di->clock_mhz, NULL);
    clGetDeviceInfo(d, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof di->global_mem, &di->global_mem, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof di->max_alloc, &di->max_alloc, NULL);
    clGetDeviceInfo(d, CL_DEVICE_LOCAL_MEM_SIZE, sizeof di->local_mem, &di->local_mem, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof di->max_work_group, &di->max_work_group, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_ITEM_SIZES, sizeof di->max_work_item, di->max_work_item, NULL);
    cl_uint bits = 0;
    clGetDeviceInfo(d, CL_DEVICE_MEM_BASE_ADDR_ALIGN, sizeof bits, &bits, NULL);
    di->mem_base_align_bytes = bits >= 8 ? bits / 8 : 128;
    cl_bool b = CL_FALSE;
    clGetDeviceInfo(d, CL_DEVICE_AVAILABLE, sizeof b, &b, NULL);
    di->available = b;
    b = CL_FALSE;
    clGetDeviceInfo(d, CL_DEVICE_COMPILER_AVAILABLE, sizeof b, &b, NULL);
    di->compiler_available = b;
    di->fp16 = has_extension(d, "cl_khr_fp16");
    di->fp64 = has_extension(d, "cl_khr_fp64");
    cl_device_fp_config fp = 0;
    clGetDeviceInfo(d, CL_DEVICE_SINGLE_FP_CONFIG, sizeof fp, &fp, NULL);
    di->fma = (fp & CL_FP_FMA) != 0;
    clGetDeviceInfo(d, CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT, sizeof di->vector_width, &di->vector_width, NULL);
}

int crn_devices_list(crn_device_list *out, crn_error *err)
{
    memset(out, 0, sizeof *out);
    cl_uint np = 0;
    cl_int s = clGetPlatformIDs(0, NULL, &np);
    if (s == CL_PLATFORM_NOT_FOUND_KHR || np == 0) return CRN_OK;
    if (s != CL_SUCCESS)
        return crn_fail(err, CRN_ECL, "clGetPlatformIDs failed: %s", crn_cl_strerror(s));
    cl_platform_id *ps = calloc(np, sizeof *ps);
    out->platforms = calloc(np, sizeof *out->platforms);
    if (!ps || !out->platforms) {
        free(ps);
        crn_devices_free(out);
        return crn_fail(err, CRN_ENOMEM, "out of host memory listing platforms");
    }
    clGetPlatformIDs(np, ps, NULL);
    out->platform_count = (int)np;
    for (cl_uint p = 0; p < np; p++) {
        crn_platform_info *pi = &out->platforms[p];
        pi->index = (int)p;
        get_pstr(ps[p], CL_PLATFORM_NAME, pi->name, sizeof pi->name);
        get_pstr(ps[p], CL_PLATFORM_VENDOR, pi->vendor, sizeof pi->vendor);
        get_pstr(ps[p], CL_PLATFORM_VERSION, pi->version, sizeof pi->version);
        cl_uint nd = 0;
        /* A platform with no devices answers CL_DEVICE_NOT_FOUND: skip it. */
        if (clGetDeviceIDs(ps[p], CL_DEVICE_TYPE_ALL, 0, NULL, &nd) != CL_SUCCESS || nd == 0) continue;
        cl_device_id *ds = calloc(nd, sizeof *ds);
        crn_device_info *grown = realloc(out->devices, (size_t)(out->device_count + (int)nd) * sizeof *grown);
        if (!ds || !grown) {
            free(ds);
            if (grown) out->devices = grown;
            free(ps);
            crn_devices_free(out);
            return crn_fail(err, CRN_ENOMEM, "out of host memory listing devices");
        }
        out->devices = grown;
        clGetDeviceIDs(ps[p], CL_DEVICE_TYPE_ALL, nd, ds, NULL);
        pi->device_count = (int)nd;
        for (cl_uint d = 0; d < nd; d++) {
            crn_device_info *di = &out->devices[out->device_count];
            memset(di, 0, sizeof *di);
            di->index = out->device_count;
            di->platform_index = (int)p;
            di->platform = ps[p];
            snprintf(di->platform_name, sizeof di->platform_name, "%s", pi->name);
            snprintf(di->platform_version, sizeof di->platform_version, "%s", pi->version);
            fill_device(di, ds[d]);
            out->device_count++;
        }
        free(ds);
    }
    free(ps);
    return CRN_OK;
}

void crn_devices_free(crn_device_list *list)
{
    free(list->platforms);
    free(list->devices);
    memset(list, 0, sizeof *list);
}

const char *crn_device_type_name(cl_device_type t)
{
    if (t & CL_DEVICE_TYPE_GPU) return "GPU";
    if (t & CL_DEVICE_TYPE_CPU) return "CPU";
    if (t & CL_DEVICE_TYPE_ACCELERATOR) return "accelerator";
    return "other";
}

static int choices(const crn_device_list *list, crn_error *err, const char *fmt, const char *spec)
{
    char buf[1536];
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; i < list->device_count && n < sizeof buf; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "\n  %d: %s (%s, %s)", i, list->devices[i].name,
                              crn_device_type_name(list->devices[i].type), list->devices[i].platform_name);
    char head[256];
    snprintf(head, sizeof head, fmt, spec);
    return crn_fail(err, CRN_ENODEV,
                    "%s; valid choices: gpu, cpu, an index, or part of a platform or device name:%s", head, buf);
}

/* Case-insensitive substring (ASCII), for names such as "rusticl" or "pocl". */
static bool contains_nocase(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    if (n == 0) return false;
    for (; *hay; hay++) {
        size_t k = 0;
        while (k < n && hay[k] && tolower((unsigned char)hay[k]) == tolower((unsigned char)needle[k])) k++;
        if (k == n) return true;
    }
    return false;
}

/* The first available device whose platform name or version, or device name
 * or vendor, contains `spec` ("PoCL" is only in PoCL's platform version),
 * else the first unavailable one, else -1. */
static int first_named(const crn_device_list *list, const char *spec)
{
    int any = -1;
    for (int i = 0; i < list->device_count; i++) {
        const crn_device_info *d = &list->devices[i];
        if (!contains_nocase(d->platform_name, spec) && !contains_nocase(d->platform_version, spec) &&
            !contains_nocase(d->name, spec) && !contains_nocase(d->vendor, spec))
            continue;
        if (d->available) return i;
        if (any < 0) any = i;
    }
    return any;
}

/* The k-th available device of a type, or -1. */
static int nth_of_type(const crn_device_list *list, cl_device_type type, int k)
{
    for (int i = 0; i < list->device_count; i++)
        if ((list->devices[i].type & type) && list->devices[i].available && k-- == 0) return i;
    return -1;
}

static int first_of_type(const crn_device_list *list, cl_device_type type)
{
    return nth_of_type(list, type, 0);
}

static int count_of_type(const crn_device_list *list, cl_device_type type)
{
    int n = 0;
    while (nth_of_type(list, type, n) >= 0) n++;
    return n;
}

int crn_devices_select(const crn_device_list *list, const char *spec, int *index, char *why,
                       size_t why_size, crn_error *err)
{
    if (list->device_count == 0)
        return crn_fail(err, CRN_ENODEV,
                        "no OpenCL device found; install an OpenCL driver, e.g. "
                        "`apt-get install pocl-opencl-icd` for the CPU");
    int i = -1;
    const char *reason = "";
    char named[300];
    if (!spec || !*spec) {
        if ((i = first_of_type(list, CL_DEVICE_TYPE_GPU)) >= 0) reason = "the first GPU (no --device given)";
        else if ((i = first_of_type(list, CL_DEVICE_TYPE_CPU)) >= 0)
            reason = "no GPU found, falling back to the first CPU device";
        else {
            i = 0;
            reason = "no GPU or CPU device found, using device 0";
        }
    } else if (!strcmp(spec, "gpu") || !strcmp(spec, "cpu")) {
        int gpu = !strcmp(spec, "gpu");
        i = first_of_type(list, gpu ? CL_DEVICE_TYPE_GPU : CL_DEVICE_TYPE_CPU);
        if (i < 0) return choices(list, err, "--device %s: no such device on this machine", spec);
        reason = gpu ? "the first GPU (--device gpu)" : "the first CPU device (--device cpu)";
    } else {
        char *end = NULL;
        long v = strtol(spec, &end, 10);
        if (end != spec && *end == '\0') {
            if (v < 0 || v >= list->device_count)
                return choices(list, err, "--device %s is out of range", spec);
            i = (int)v;
            reason = "--device";
        } else if ((i = first_named(list, spec)) >= 0) {
            snprintf(named, sizeof named, "the first device whose platform or device name contains '%.200s'", spec);
            reason = named;
        } else {
            return choices(list, err, "--device '%s' is not a device", spec);
        }
    }
    *index = i;
    if (why)
        snprintf(why, why_size, "device %d: %s (%s, %s): %s", i, list->devices[i].name,
                 crn_device_type_name(list->devices[i].type), list->devices[i].platform_name, reason);
    return CRN_OK;
}

int crn_devices_select_rank(const crn_device_list *list, const char *spec, int local_rank, int *index, char *why,
                            size_t why_size, crn_error *err)
{
    if (local_rank <= 0 && (!spec || !strchr(spec, ',')))
        return crn_devices_select(list, spec, index, why, why_size, err);
    if (spec && strchr(spec, ',')) {
        /* a list: one entry per local rank, in turn */
        int parts = 1;
        for (const char *p = spec; *p; p++) parts += *p == ',';
        int want = local_rank % parts;
        const char *p = spec;
        for (int k = 0; k < want; k++) p = strchr(p, ',') + 1;
        size_t len = strcspn(p, ",");
        char one[256];
        snprintf(one, sizeof one, "%.*s", (int)(len < sizeof one - 1 ? len : sizeof one - 1), p);
        if (!one[0]) return choices(list, err, "--device '%s' has an empty entry", spec);
        return crn_devices_select(list, one, index, why, why_size, err);
    }
    int gpus = count_of_type(list, CL_DEVICE_TYPE_GPU);
    bool want_gpu = spec && !strcmp(spec, "gpu");
    if ((spec && *spec && !want_gpu) || gpus == 0) return crn_devices_select(list, spec, index, why, why_size, err);
    int i = -1;
    char reason[160];
    if (local_rank < gpus) {
        i = nth_of_type(list, CL_DEVICE_TYPE_GPU, local_rank);
        snprintf(reason, sizeof reason, "GPU %d of this host for local rank %d", local_rank, local_rank);
    } else if (!want_gpu && (i = first_of_type(list, CL_DEVICE_TYPE_CPU)) >= 0) {
        snprintf(reason, sizeof reason, "local rank %d, more ranks than the host's %d GPU(s): the CPU device",
                 local_rank, gpus);
    } else {
        i = nth_of_type(list, CL_DEVICE_TYPE_GPU, local_rank % gpus);
        snprintf(reason, sizeof reason, "local rank %d shares GPU %d (the host has %d)", local_rank,
                 local_rank % gpus, gpus);
    }
    *index = i;
    if (why)
        snprintf(why, why_size, "device %d: %s (%s, %s): %s", i, list->devices[i].name,
                 crn_device_type_name(list->devices[i].type), list->devices[i].platform_name, reason);
    return CRN_OK;
}
