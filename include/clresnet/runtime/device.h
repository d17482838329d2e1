/* Device discovery and selection. Devices get a stable global index: platforms
 * in the order the ICD loader reports them, devices in platform order. */
#ifndef CLRESNET_DEVICE_H
#define CLRESNET_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <CL/cl.h>

#include "clresnet/core/error.h"
#include "clresnet/runtime/cl_status.h"

typedef struct crn_device_info {
    int index;                 /* global index, as `list-devices` shows it */
    int platform_index;
    cl_platform_id platform;
    cl_device_id device;
    char platform_name[256];
    char platform_version[256];
    char name[256];
    char vendor[256];
    char version[256];         /* CL_DEVICE_VERSION */
    char driver_version[256];
    char opencl_c_version[256];
    int cl_c_major, cl_c_minor;
    cl_device_type type;
    cl_uint compute_units;
    cl_uint clock_mhz;
    cl_ulong global_mem;
    cl_ulong max_alloc;
    cl_ulong local_mem;
    size_t max_work_group;
    size_t max_work_item[3];
    cl_uint mem_base_align_bytes; /* sub-buffer offsets must be multiples */
    bool fp16, fp64;
    bool fma;                  /* single precision fma() in hardware (CL_FP_FMA), not emulated */
    cl_uint vector_width;      /* CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT */
    bool available, compiler_available;
} crn_device_info;

typedef struct crn_platform_info {
    int index;
    char name[256];
    char vendor[256];
    char version[256];
    int device_count;          /* 0 for a platform with no devices (skipped) */
} crn_platform_info;

typedef struct crn_device_list {
    crn_platform_info *platforms;
    int platform_count;
    crn_device_info *devices;
    int device_count;
} crn_device_list;

/* Lists every platform and device. No platform at all is not an error here:
 * platform_count is 0 and the caller explains what to install. */
int crn_devices_list(crn_device_list *out, crn_error *err);
void crn_devices_free(crn_device_list *list);

/* Picks a device from a user string: NULL or "" (first GPU, else first CPU,
 * else first device), "gpu", "cpu", a global index, or any other text, which
 * picks the first device whose platform name or version, or device name or
 * vendor, contains it, ignoring case ("rusticl", "pocl", "nvidia"; unlike an
 * index, independent of the platform order). `why` receives one line saying
 * which device was chosen and why. A bad value is an error that
 * lists the valid choices. */
int crn_devices_select(const crn_device_list *list, const char *spec,
                       int *index, char *why, size_t why_size, crn_error *err);

/* The device of one rank of a data-parallel job, by its rank among the
 * job's ranks on this host: with no spec (or "gpu") local rank r takes the
 * host's r-th GPU; ranks beyond the GPUs take the CPU device (with "gpu":
 * share the GPUs in turn). A comma-separated list gives local rank r its
 * r-th entry (cycling). Any other spec names one device for every rank.
 * Local rank 0 and no list: as crn_devices_select. */
int crn_devices_select_rank(const crn_device_list *list, const char *spec, int local_rank, int *index, char *why,
                            size_t why_size, crn_error *err);

const char *crn_device_type_name(cl_device_type type);

#endif
