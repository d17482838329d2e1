/* Shared helpers for the check tests: the test device, fixtures, and
 * tensor comparisons with a stated tolerance. */
#ifndef CLRESNET_TEST_SUPPORT_H
#define CLRESNET_TEST_SUPPORT_H

#include <check.h>
#include <stddef.h>

#include "clresnet/ops/ops.h"
#include "clresnet/runtime/runtime.h"
#include "clresnet/io/safetensors.h"
#include "clresnet/runtime/tensor.h"

/* The runtime on CLRESNET_TEST_DEVICE (index, gpu or cpu; default: the
 * engine's usual choice), created once per test process. */
crn_runtime *test_runtime(void);
/* The ops context on that runtime. */
crn_ops *test_ops(void);
/* The cache folder the environment names (as the CLI reads it), or NULL. */
const char *test_cache_dir(void);
/* Blocking copies between a device buffer and the host (crn_buffer_read /
 * write on the test runtime); a failure fails the test. */
void test_read(cl_mem buf, size_t bytes, void *host);
void test_write(cl_mem buf, size_t bytes, const void *host);

/* Full path of a committed fixture: $CLRESNET_FIXTURES/name. */
const char *test_fixture_path(const char *name);

/* Loads a fixture file; fails the test on error. */
void test_load_fixture(const char *name, crn_st_file *f);

/* Reads a fixture tensor into a new malloc'd float array (numel out). */
float *test_fixture_f32(const crn_st_file *f, const char *name, size_t *numel);

/* Uploads host floats into a new device tensor. */
void test_upload(crn_tensor *t, const float *host, int ndim, const size_t *shape);

/* Downloads a device tensor into a new malloc'd float array. */
float *test_download(const crn_tensor *t);

/* Worst error of got vs want, |g - w| / (atol + rtol * |w|) <= 1 passes.
 * Returns the worst ratio; fails the test (naming what) when above 1. */
double test_check_close(const char *what, const float *got, const float *want, size_t n, double rtol,
                        double atol);

/* Runs a suite and returns the process exit code. */
int test_run_suite(Suite *s);

/* Asserts that a library call succeeded; needs a crn_error `err` in scope. */
#define CK_OK(expr)                                                                  \
    do {                                                                             \
        int rc_ = (expr);                                                            \
        ck_assert_msg(rc_ == CRN_OK, "%s: %s", #expr, err.msg);                      \
    } while (0)

#endif
