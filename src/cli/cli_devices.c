/* `clresnet list-devices [--check]` */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "clresnet/ops/gemm.h"
#include "clresnet/runtime/device.h"
#include "clresnet/runtime/runtime.h"
#include "clresnet/ops/selftest.h"

void help_list_devices(void)
{
    printf("usage: clresnet list-devices [--check]\n\n"
           "Lists every OpenCL platform and device with the index that --device takes.\n\n"
           "  --check   build the kernels on each device, run a GEMM against a C\n"
           "            reference and measure GFLOP/s; prints ok or FAILED per device\n");
}

static double mib(cl_ulong b) { return (double)b / 1048576.0; }

static void print_device(const crn_device_info *d)
{
    printf("  [%d] %s\n", d->index, d->name);
    printf("      type %s, vendor %s, driver %s\n", crn_device_type_name(d->type), d->vendor, d->driver_version);
    printf("      %u compute units at %u MHz, global memory %.0f MiB, max allocation %.0f MiB, "
           "local memory %.0f KiB\n",
           d->compute_units, d->clock_mhz, mib(d->global_mem), mib(d->max_alloc), (double)d->local_mem / 1024.0);
    printf("      max work-group %zu, %s, fp16 %s, fp64 %s%s\n", d->max_work_group, d->opencl_c_version,
           d->fp16 ? "yes" : "no", d->fp64 ? "yes" : "no", d->available ? "" : ", NOT AVAILABLE");
}

static int check_device(const cli_globals *g, const crn_device_info *d)
{
    crn_error err = {0};
    crn_runtime *rt = NULL;
    crn_ops *ops = NULL;
    crn_runtime_options opt = cli_runtime_options(g, false);
    crn_selftest_result res;
    int rc = crn_runtime_create(&rt, d, &opt, &err);
    crn_ops_options oo = cli_ops_options();
    if (rc == CRN_OK) rc = crn_ops_create_opts(rt, &oo, &ops, &err);
    if (rc == CRN_OK) rc = crn_selftest_gemm(ops, 512, &res, &err);
    if (rc == CRN_OK) {
        crn_build_stats bs = crn_runtime_build_stats(rt);
        printf("      check: ok (kernels built in %.2f s, %d from cache; GEMM max rel. error %.1e; "
               "SGEMM %zu^3 %.1f GFLOP/s)\n",
               bs.seconds, bs.cache_hits, res.max_rel_error, res.gflops_n, res.gflops);
        const char *gemm = crn_ops_gemm_desc(ops);
        char plan[CRN_GEMM_PLAN_TEXT];
        crn_gemm_plan_format(crn_gemm_get_plan(ops), plan, sizeof plan);
        printf("      GEMM plan: %s%s\n", plan, strstr(gemm, "measured") ? "" : " (the default: no plan measured "
                                                                                    "on this device yet)");
        printf("      convolution GEMM: %s\n", gemm[0] ? gemm : "CLBlast, its default parameters");
    } else {
        printf("      check: FAILED: %s\n", err.msg);
    }
    crn_ops_destroy(ops);
    crn_runtime_destroy(rt);
    return rc == CRN_OK ? 0 : 1;
}

int cmd_list_devices(const cli_globals *g, int argc, char **argv)
{
    bool check = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--check")) check = true;
        else {
            fprintf(stderr, "clresnet list-devices: unknown option '%s'\n", argv[i]);
            return 2;
        }
    }
    crn_device_list list;
    crn_error err = {0};
    if (crn_devices_list(&list, &err) != CRN_OK) return cli_error(&err);
    if (list.platform_count == 0) {
        printf("No OpenCL platform found. Install an OpenCL driver and the ICD loader, e.g. on Debian:\n"
               "  apt-get install ocl-icd-libopencl1 pocl-opencl-icd    (any CPU)\n"
               "  apt-get install mesa-opencl-icd                       (Mesa; RUSTICL_ENABLE=llvmpipe)\n"
               "NVIDIA, AMD and Intel GPUs need their vendor's OpenCL driver.\n");
        crn_devices_free(&list);
        return 1;
    }
    /* With --device, --check tests that device only. */
    int only = -1;
    if (check && g->device) {
        char why[512];
        if (crn_devices_select(&list, g->device, &only, why, sizeof why, &err) != CRN_OK) {
            crn_devices_free(&list);
            return cli_error(&err);
        }
    }
    int failed = 0;
    for (int p = 0; p < list.platform_count; p++) {
        const crn_platform_info *pi = &list.platforms[p];
        printf("Platform %d: %s (%s, %s)%s\n", p, pi->name, pi->vendor, pi->version,
               pi->device_count ? "" : ": no devices, skipped");
        for (int i = 0; i < list.device_count; i++) {
            if (list.devices[i].platform_index != p) continue;
            print_device(&list.devices[i]);
            if (check && (only < 0 || only == i)) {
                fflush(stdout);
                failed += check_device(g, &list.devices[i]);
            }
        }
    }
    if (list.device_count == 0) printf("No OpenCL device found on any platform.\n");
    crn_devices_free(&list);
    return failed ? 1 : 0;
}
