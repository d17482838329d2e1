#include "test_support.h"

#include "clresnet/runtime/kernel_cache.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clresnet/runtime/device.h"

static crn_runtime *g_rt;
static crn_ops *g_ops;

static void release(void)
{
    crn_ops_destroy(g_ops);
    crn_runtime_destroy(g_rt);
    g_ops = NULL;
    g_rt = NULL;
}

crn_runtime *test_runtime(void)
{
    if (g_rt) return g_rt;
    crn_device_list list;
    crn_error err = {0};
    int index = -1;
    char why[512];
    ck_assert_msg(crn_devices_list(&list, &err) == CRN_OK, "%s", err.msg);
    const char *spec = getenv("CLRESNET_TEST_DEVICE");
    if (crn_devices_select(&list, spec, &index, why, sizeof why, &err) != CRN_OK) {
        /* The device asked for is not on this machine (e.g. the rusticl test
         * setup without Mesa): skipped, exit 77, saying why. */
        fprintf(stderr, "SKIP: CLRESNET_TEST_DEVICE=%s: %s\n", spec ? spec : "", err.msg);
        crn_devices_free(&list);
        exit(77);
    }
    /* every kernel built with -Werror: a compiler warning fails the tests */
    crn_runtime_options opt = {.warnings_as_errors = true, .cache_dir = test_cache_dir()};
    int rc = crn_runtime_create(&g_rt, &list.devices[index], &opt, &err);
    crn_devices_free(&list);
    ck_assert_msg(rc == CRN_OK, "%s", err.msg);
    rc = crn_ops_create(g_rt, &g_ops, &err);
    ck_assert_msg(rc == CRN_OK, "%s", err.msg);
    atexit(release);
    return g_rt;
}

const char *test_cache_dir(void)
{
    static char dir[CRN_PATH_MAX];
    return crn_cache_dir_choose(getenv("CLRESNET_CACHE_DIR"), getenv("XDG_CACHE_HOME"), getenv("HOME"), dir,
                                sizeof dir, NULL) == CRN_OK ? dir : NULL;
}

void test_read(cl_mem buf, size_t bytes, void *host)
{
    crn_error err = {0};
    int rc = crn_buffer_read(test_runtime(), buf, 0, bytes, host, true, "a test buffer", &err);
    ck_assert_msg(rc == CRN_OK, "%s", err.msg);
}

void test_write(cl_mem buf, size_t bytes, const void *host)
{
    crn_error err = {0};
    int rc = crn_buffer_write(test_runtime(), buf, 0, bytes, host, true, "a test buffer", &err);
    ck_assert_msg(rc == CRN_OK, "%s", err.msg);
}

crn_ops *test_ops(void)
{
    test_runtime();
    return g_ops;
}

const char *test_fixture_path(const char *name)
{
    static char buf[4096];
    const char *dir = getenv("CLRESNET_FIXTURES");
    snprintf(buf, sizeof buf, "%s/%s", dir ? dir : "tests/fixtures", name);
    return buf;
}

void test_load_fixture(const char *name, crn_st_file *f)
{
    crn_error err = {0};
    ck_assert_msg(crn_st_read(test_fixture_path(name), f, &err) == CRN_OK, "%s", err.msg);
}

float *test_fixture_f32(const crn_st_file *f, const char *name, size_t *numel)
{
    const crn_st_tensor *t = crn_st_find(f, name);
    ck_assert_msg(t != NULL, "fixture %s has no tensor '%s'", f->path, name);
    float *out = malloc((t->numel ? t->numel : 1) * sizeof *out);
    ck_assert_ptr_nonnull(out);
    crn_error err = {0};
    ck_assert_msg(crn_st_get_f32(f, name, out, t->numel, &err) == CRN_OK, "%s", err.msg);
    if (numel) *numel = t->numel;
    return out;
}

void test_upload(crn_tensor *t, const float *host, int ndim, const size_t *shape)
{
    crn_error err = {0};
    ck_assert_msg(crn_tensor_alloc(test_runtime(), t, CRN_F32, ndim, shape, &err) == CRN_OK, "%s", err.msg);
    ck_assert_msg(crn_tensor_upload(test_runtime(), t, host, &err) == CRN_OK, "%s", err.msg);
}

float *test_download(const crn_tensor *t)
{
    float *out = malloc((t->numel ? t->numel : 1) * sizeof *out);
    ck_assert_ptr_nonnull(out);
    crn_error err = {0};
    ck_assert_msg(crn_tensor_download(test_runtime(), t, out, &err) == CRN_OK, "%s", err.msg);
    return out;
}

double test_check_close(const char *what, const float *got, const float *want, size_t n, double rtol, double atol)
{
    double worst = 0;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        double r = fabs((double)got[i] - (double)want[i]) / (atol + rtol * fabs((double)want[i]));
        if (!(r <= worst)) { /* NaN is worst */
            worst = r;
            at = i;
        }
    }
    ck_assert_msg(worst <= 1.0, "%s: element %zu is %.9g, want %.9g (rtol %.1e, atol %.1e, ratio %.3g)", what, at,
                  (double)got[at], (double)want[at], rtol, atol, worst);
    return worst;
}

int test_run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    /* No fork: one OpenCL runtime per process is far cheaper, and PoCL's
     * threads do not survive fork(). */
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    /* The runtime goes before main returns, not only at exit (the atexit
     * handler is for tests that exit early): OpenCL implementations and
     * CLBlast have their own exit-time teardown. */
    release();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
