/* The device runtime: start-up, every kernel file, CLBlast GEMM against a C
 * reference, the binary cache (hit, corrupt entry rebuilt), device choice. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clresnet/runtime/device.h"
#include "clresnet/ops/conv.h"
#include "clresnet/ops/gemm.h"
#include "clresnet/runtime/kernel_cache.h"
#include "clresnet/runtime/kernels.h"
#include "clresnet/ops/selftest.h"
#include "test_support.h"

START_TEST(test_runtime_starts)
{
    crn_runtime *rt = test_runtime();
    ck_assert_ptr_nonnull(crn_runtime_context(rt));
    crn_build_stats bs = crn_runtime_build_stats(rt);
    ck_assert_int_eq(bs.programs, crn_cl_source_count);
    ck_assert_int_gt(bs.kernels, 0);
    const crn_kernel *k = NULL;
    crn_error err = {0};
    CK_OK(crn_kernel_find(rt, "fill_f32", &k, &err));
    ck_assert_int_gt((int)k->max_wg, 0);
    ck_assert_int_eq((int)k->nargs, 3);
    ck_assert_int_ne(crn_kernel_find(rt, "no_such_kernel", &k, &err), CRN_OK);
    ck_assert_ptr_nonnull(strstr(err.msg, "no_such_kernel"));
    /* a wrapper out of step with its kernel is refused: too few arguments,
     * or one of the wrong size */
    cl_mem buf = NULL;
    CK_OK(crn_buffer_alloc(rt, &buf, 64, &err));
    crn_args a = crn_args_begin(k);
    crn_arg_mem(&a, buf);
    ck_assert_int_eq(crn_args_end(&a, &err), CRN_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "fill_f32 takes 3 arguments, its wrapper set 1"));
    a = crn_args_begin(k);
    crn_arg_float(&a, 1.0f);
    crn_arg_float(&a, 1.0f);
    crn_arg_int(&a, 1);
    ck_assert_int_eq(crn_args_end(&a, &err), CRN_ECL);
    ck_assert_ptr_nonnull(strstr(err.msg, "fill_f32: argument 0"));
    clReleaseMemObject(buf);
}
END_TEST

/* Every kernel file builds, and with -Werror: the compiler has nothing to
 * say about our kernels on this implementation (the packed GEMM with the
 * tile sizes each vector width gets). */
START_TEST(test_every_kernel_file_builds)
{
    crn_runtime *rt = test_runtime();
    crn_error err = {0};
    for (int i = 0; i < crn_cl_source_count; i++) {
        cl_program p = NULL;
        int cached = 1;
        int rc = crn_build_program(rt, crn_cl_sources[i].name, crn_cl_sources[i].text, "-Werror", &p, false, &cached,
                                   &err);
        ck_assert_msg(rc == CRN_OK, "cl/%s: %s", crn_cl_sources[i].name, err.msg);
        ck_assert_int_eq(cached, 0);
        clReleaseProgram(p);
    }
    const char *tiles[] = {"-DMR=8 -DNR=32 -DVW=16 -DPK=16 -DPJ=8", "-DMR=6 -DNR=16 -DVW=8 -DPK=16 -DPJ=8",
                           "-DMR=4 -DNR=8 -DVW=4 -DPK=16 -DPJ=8", "-DMR=5 -DNR=48 -DVW=16 -DPK=16 -DPJ=8 -DNO_FUSED -DLANES -DGATHER_LANES"};
    for (int i = 0; i < crn_cl_op_source_count; i++)
        for (size_t t = 0; t < sizeof tiles / sizeof tiles[0]; t++) {
            char opts[160];
            snprintf(opts, sizeof opts, "-Werror %s", tiles[t]);
            cl_program p = NULL;
            int cached = 1;
            int rc = crn_build_program(rt, crn_cl_op_sources[i].name, crn_cl_op_sources[i].text, opts, &p, false,
                                       &cached, &err);
            ck_assert_msg(rc == CRN_OK, "cl/%s %s: %s", crn_cl_op_sources[i].name, opts, err.msg);
            clReleaseProgram(p);
        }
}
END_TEST

/* A kernel the compiler warns about (a path that returns no value: on by
 * default in clang-based compilers) builds, its log is kept for --verbose,
 * and -Werror turns the warning into a failed build that shows it. */
START_TEST(test_build_warnings_kept)
{
    crn_device_list list;
    crn_error err = {0};
    CK_OK(crn_devices_list(&list, &err));
    int index = -1;
    char why[512];
    CK_OK(crn_devices_select(&list, getenv("CLRESNET_TEST_DEVICE"), &index, why, sizeof why, &err));
    crn_runtime *rt = NULL;
    crn_runtime_options opt = {.no_kernel_cache = true};
    CK_OK(crn_runtime_create(&rt, &list.devices[index], &opt, &err));
    const char *start_log = crn_runtime_build_log(rt); /* our kernels: nothing to warn about */
    ck_assert_msg(!start_log || !strstr(start_log, "warning"), "%s", start_log);
    const char *src = "float f(float x) { if (x > 0.0f) return x; }\n"
                      "__kernel void k(__global float *y) { y[0] = f(y[0]); }\n";
    cl_program p = NULL;
    int cached = 0;
    CK_OK(crn_build_program(rt, "warns.cl", src, NULL, &p, false, &cached, &err));
    clReleaseProgram(p);
    int rc = crn_build_program(rt, "warns.cl", src, "-Werror", &p, false, &cached, &err);
    ck_assert_int_eq(rc, CRN_ECL);
    ck_assert_ptr_nonnull(strstr(err.msg, "cl/warns.cl"));
    /* PoCL and Intel's runtime return the warning in a successful build's
     * log; Mesa's rusticl returns an empty log (only -Werror shows it) */
    const char *log = crn_runtime_build_log(rt);
    if (!strstr(crn_runtime_device(rt)->platform_name, "rusticl")) {
        ck_assert_ptr_nonnull(log);
        ck_assert_ptr_nonnull(strstr(log, "cl/warns.cl:"));
    }
    crn_runtime_destroy(rt);
    crn_devices_free(&list);
}
END_TEST

START_TEST(test_build_failure_shows_log)
{
    crn_runtime *rt = test_runtime();
    crn_error err = {0};
    cl_program p = NULL;
    int cached = 0;
    int rc = crn_build_program(rt, "broken.cl", "__kernel void k(__global float *x) { x[0] = undeclared; }", NULL,
                               &p, false, &cached, &err);
    ck_assert_int_eq(rc, CRN_ECL);
    ck_assert_ptr_nonnull(strstr(err.msg, "cl/broken.cl"));
    ck_assert_ptr_nonnull(strstr(err.msg, "build log"));
    ck_assert_ptr_nonnull(strstr(err.msg, "undeclared"));
}
END_TEST

/* Odd shapes and every transpose combination, with offsets and padded
 * leading dimensions, against the double-accumulating C reference. */
START_TEST(test_sgemm_odd_sizes)
{
    crn_ops *ops = test_ops();
    crn_error err = {0};
    const size_t shapes[][3] = {{1, 1, 1}, {7, 13, 5}, {33, 17, 65}, {127, 3, 129}, {64, 96, 147}, {5, 250, 1}};
    unsigned seed = 7;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                size_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
                size_t lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 1, ldc = n + 2, off = 5;
                size_t na = off + (ta ? k : m) * lda, nb = off + (tb ? n : k) * ldb, nc = off + m * ldc;
                float *a = malloc(na * 4), *b = malloc(nb * 4), *c = malloc(nc * 4), *ref = malloc(nc * 4);
                for (size_t i = 0; i < na; i++) a[i] = (float)((seed = seed * 1664525u + 1013904223u) >> 8) / 1.6e7f - 0.5f;
                for (size_t i = 0; i < nb; i++) b[i] = (float)((seed = seed * 1664525u + 1013904223u) >> 8) / 1.6e7f - 0.5f;
                for (size_t i = 0; i < nc; i++) c[i] = ref[i] = 1.0f;
                /* beta = 0.5 checks accumulation into C as well */
                float *prod = malloc(m * n * 4);
                crn_ref_sgemm(ta, tb, m, n, k, a + off, lda, b + off, ldb, prod, n);
                for (size_t i = 0; i < m; i++)
                    for (size_t j = 0; j < n; j++) ref[off + i * ldc + j] = 2.0f * prod[i * n + j] + 0.5f;
                crn_tensor da, db, dc;
                test_upload(&da, a, 1, &na);
                test_upload(&db, b, 1, &nb);
                test_upload(&dc, c, 1, &nc);
                CK_OK(crn_sgemm(ops, ta, tb, m, n, k, 2.0f, da.buf, off, lda, db.buf, off, ldb, 0.5f, dc.buf, off, ldc,
                                &err));
                float *got = test_download(&dc);
                char what[128];
                snprintf(what, sizeof what, "sgemm %zux%zux%zu ta=%d tb=%d", m, n, k, ta, tb);
                test_check_close(what, got, ref, nc, 1e-5, 1e-5);
                crn_tensor_free(&da);
                crn_tensor_free(&db);
                crn_tensor_free(&dc);
                free(a), free(b), free(c), free(ref), free(prod), free(got);
            }
    }
}
END_TEST

/* Every packed plan (vector widths, tiles, lanes, fused or pre-packed B)
 * gives the same bits, for matrix GEMMs (every transpose, odd sizes, beta)
 * and for convolutions forward and backward (the implicit im2col paths),
 * and they agree with the double-accumulating reference. Plans that the
 * tuner chooses between therefore change no result. */
static void run_plan_cases(crn_ops *ops, float **out, size_t *nout)
{
    crn_error err = {0};
    const size_t shapes[][3] = {{7, 13, 5}, {33, 17, 65}, {67, 50, 129}, {5, 250, 3}};
    size_t at = 0;
    unsigned seed = 11;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                size_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
                size_t lda = (ta ? m : k) + 1, ldb = (tb ? k : n) + 2, na = (ta ? k : m) * lda, nb = (tb ? n : k) * ldb;
                float *a = malloc(na * 4), *b = malloc(nb * 4), *c = malloc(m * n * 4);
                for (size_t i = 0; i < na; i++) a[i] = (float)((seed = seed * 1664525u + 1013904223u) >> 8) / 1.6e7f - 0.5f;
                for (size_t i = 0; i < nb; i++) b[i] = (float)((seed = seed * 1664525u + 1013904223u) >> 8) / 1.6e7f - 0.5f;
                for (size_t i = 0; i < m * n; i++) c[i] = 0.5f;
                crn_tensor da, db, dc;
                size_t nc = m * n;
                test_upload(&da, a, 1, &na);
                test_upload(&db, b, 1, &nb);
                test_upload(&dc, c, 1, &nc);
                CK_OK(crn_sgemm(ops, ta, tb, m, n, k, 1.5f, da.buf, 0, lda, db.buf, 0, ldb, s % 2 ? 0.25f : 0.0f,
                                dc.buf, 0, n, &err));
                float *got = test_download(&dc);
                memcpy(out[0] + at, got, nc * 4);
                at += nc;
                free(got), free(a), free(b), free(c);
                crn_tensor_free(&da), crn_tensor_free(&db), crn_tensor_free(&dc);
            }
    *nout = at;
    /* convolutions: 3x3/2 pad 1, 1x1/1, 7x7/2 pad 3 on odd sizes, batch 3 */
    const crn_conv_desc convs[] = {{5, 19, 3, 3, 2, 1, false}, {21, 34, 1, 1, 1, 0, false}, {3, 9, 7, 7, 2, 3, false}};
    at = 0;
    for (size_t t = 0; t < sizeof convs / sizeof convs[0]; t++) {
        const crn_conv_desc *d = &convs[t];
        int nb_ = 3, h = 11, w = 13, ho = crn_conv_out_size(h, d->kh, d->stride, d->pad),
            wo = crn_conv_out_size(w, d->kw, d->stride, d->pad);
        size_t nx = (size_t)d->cin * nb_ * h * w, nw = (size_t)d->cout * d->cin * d->kh * d->kw,
               ny = (size_t)d->cout * nb_ * ho * wo;
        float *x = malloc(nx * 4), *wt = malloc(nw * 4), *dy = malloc(ny * 4);
        for (size_t i = 0; i < nx; i++) x[i] = (float)((seed = seed * 1664525u + 1013904223u) >> 8) / 1.6e7f - 0.5f;
        for (size_t i = 0; i < nw; i++) wt[i] = (float)((seed = seed * 1664525u + 1013904223u) >> 8) / 1.6e7f - 0.5f;
        for (size_t i = 0; i < ny; i++) dy[i] = (float)((seed = seed * 1664525u + 1013904223u) >> 8) / 1.6e7f - 0.5f;
        crn_tensor dx_, dw_, dy_, tx, tw, ty;
        test_upload(&tx, x, 1, &nx);
        test_upload(&tw, wt, 1, &nw);
        CK_OK(crn_tensor_zeros(crn_ops_runtime(ops), &ty, CRN_F32, 1, &ny, &err));
        CK_OK(crn_tensor_zeros(crn_ops_runtime(ops), &dx_, CRN_F32, 1, &nx, &err));
        CK_OK(crn_tensor_zeros(crn_ops_runtime(ops), &dw_, CRN_F32, 1, &nw, &err));
        crn_workspace ws = {0};
        size_t wsb = crn_conv_workspace_bytes(ops, d, nb_, h, w);
        if (wsb) CK_OK(crn_workspace_reserve(crn_ops_runtime(ops), &ws, wsb, &err));
        CK_OK(crn_conv2d_forward(ops, d, nb_, h, w, &tx, &tw, NULL, &ty, &ws, &err));
        test_upload(&dy_, dy, 1, &ny);
        CK_OK(crn_conv2d_backward(ops, d, nb_, h, w, &tx, &tw, &dy_, &dx_, &dw_, NULL, &ws, &err));
        float *parts[3] = {test_download(&ty), test_download(&dx_), test_download(&dw_)};
        size_t sizes[3] = {ny, nx, nw};
        for (int i = 0; i < 3; i++) {
            memcpy(out[1] + at, parts[i], sizes[i] * 4);
            at += sizes[i];
            free(parts[i]);
        }
        crn_tensor *all[] = {&tx, &tw, &ty, &dx_, &dw_, &dy_};
        for (size_t i = 0; i < 6; i++) crn_tensor_free(all[i]);
        crn_workspace_free(&ws);
        free(x), free(wt), free(dy);
    }
    nout[1] = at;
}

/* The results of a class of plans (the first is the reference), each
 * plan's text read back unchanged; every other plan of the class must give
 * the same bits. */
static void check_plan_class(crn_ops *ops, const char *const *plans, int np, float *ref[2], size_t nref[2],
                             float *now[2])
{
    crn_error err = {0};
    size_t n1[2] = {0, 0};
    for (int i = 0; i < np; i++) {
        crn_gemm_plan p;
        CK_OK(crn_gemm_plan_parse(plans[i], &p, &err));
        char back[CRN_GEMM_PLAN_TEXT];
        crn_gemm_plan_format(&p, back, sizeof back);
        ck_assert_str_eq(back, plans[i]);
        CK_OK(crn_gemm_set_plan(ops, &p, "test", &err));
        run_plan_cases(ops, i ? now : ref, i ? n1 : nref);
        if (i == 0) continue;
        ck_assert_int_eq((int)nref[0], (int)n1[0]);
        ck_assert_int_eq((int)nref[1], (int)n1[1]);
        ck_assert_msg(!memcmp(ref[0], now[0], nref[0] * 4), "GEMMs with %s differ from %s", plans[i], plans[0]);
        ck_assert_msg(!memcmp(ref[1], now[1], nref[1] * 4), "convolutions with %s differ from %s", plans[i], plans[0]);
    }
}

START_TEST(test_packed_plans_bit_identical)
{
    crn_ops *ops = test_ops();
    crn_error err = {0};
    crn_gemm_plan keep = *crn_gemm_get_plan(ops);
    /* one fused plan (its build takes 18 s on Intel's CPU runtime) */
    static const char *const plans[] = {
        "packed:vw=8,mr=5,nr=24,lanes=0,fused=0,gather=0", "packed:vw=16,mr=8,nr=32,lanes=0,fused=1,gather=0",
        "packed:vw=4,mr=3,nr=16,lanes=0,fused=0,gather=1", "packed:vw=16,mr=4,nr=48,lanes=1,fused=0,gather=1"};
    /* multiply-add plans: bit-identical among themselves (per work-item and over lanes) */
    static const char *const mul_add[] = {"packed:vw=8,mr=5,nr=24,lanes=0,fused=0,gather=0,mul_add=1",
                                          "packed:vw=8,mr=8,nr=32,lanes=1,fused=0,gather=1,mul_add=1"};
    float *first[2] = {malloc(1 << 20), malloc(1 << 22)};
    float *madd[2] = {malloc(1 << 20), malloc(1 << 22)};
    float *now[2] = {malloc(1 << 20), malloc(1 << 22)};
    size_t n0[2] = {0, 0}, nm[2] = {0, 0}, n1[2] = {0, 0};
    check_plan_class(ops, plans, sizeof plans / sizeof plans[0], first, n0, now);
    /* bit for bit where they are used (fma emulated); elsewhere a compiler
     * may contract the multiply and the add of one kernel and not of the
     * other despite FP_CONTRACT OFF (Intel's CPU runtime does), so there the
     * first one only, checked close below */
    bool fma_slow = false;
    CK_OK(crn_gemm_fma_slow(ops, &fma_slow, &err));
    check_plan_class(ops, mul_add, fma_slow ? (int)(sizeof mul_add / sizeof mul_add[0]) : 1, madd, nm, now);
    /* the packed results against CLBlast's (another summation order), and
     * multiply-add against fma: close */
    CK_OK(crn_gemm_set_plan(ops, &(crn_gemm_plan){CRN_GEMM_CLBLAST, 0, 0, 0, 0, 0, 0, 0}, "test", &err));
    run_plan_cases(ops, now, n1);
    test_check_close("GEMMs, packed vs CLBlast", now[0], first[0], n0[0], 1e-4, 1e-5);
    test_check_close("convolutions, packed vs CLBlast", now[1], first[1], n0[1], 1e-4, 1e-5);
    test_check_close("GEMMs, multiply-add vs fma", madd[0], first[0], n0[0], 1e-4, 1e-5);
    test_check_close("convolutions, multiply-add vs fma", madd[1], first[1], n0[1], 1e-4, 1e-5);
    CK_OK(crn_gemm_set_plan(ops, &keep, "", &err));
    for (int i = 0; i < 2; i++) free(first[i]), free(madd[i]), free(now[i]);
    /* plans the kernels are not written for are refused, naming the rule */
    const char *bad[] = {"packed:vw=12,mr=8,nr=24,lanes=0,fused=1,gather=0", "packed:vw=8,mr=0,nr=16,lanes=0,fused=1,gather=0",
                         "packed:vw=8,mr=4,nr=12,lanes=0,fused=1,gather=0", "packed:vw=8,mr=4,nr=16,lanes=1,fused=1,gather=0",
                         "packed:vw=8,mr=4,nr=16,lanes=0,fused=1,gather=1", "packed:vw=8", "fastest",
                         "packed:vw=8,mr=4,nr=16,lanes=0,fused=1,gather=0,mul_add=2",
                         "packed:vw=8,mr=4,nr=16,lanes=0,fused=1,gather=0,mul_add=1x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        crn_gemm_plan p;
        ck_assert_int_eq(crn_gemm_plan_parse(bad[i], &p, &err), CRN_EINVAL);
        ck_assert_msg(strstr(err.msg, bad[i]), "%s: %s", bad[i], err.msg);
    }
}
END_TEST

/* The weight-gradient GEMM with a long inner dimension, split into chunks
 * on devices where that pays: equal to the reference, for beta 0 and 1,
 * and bit-identical when repeated. */
START_TEST(test_sgemm_long_k)
{
    crn_runtime *rt = test_runtime();
    crn_ops *ops = test_ops();
    crn_error err = {0};
    const size_t shapes[][3] = {{8, 8, 4096}, {3, 27, 6144}, {64, 9, 1000}, {130, 70, 2048}};
    for (size_t t = 0; t < sizeof shapes / sizeof shapes[0]; t++) {
        size_t m = shapes[t][0], n = shapes[t][1], k = shapes[t][2], lda = k + 5;
        float *a = malloc(m * lda * 4), *b = malloc(n * k * 4), *c = malloc(m * n * 4), *ref = malloc(m * n * 4);
        unsigned seed = 99;
        for (size_t i = 0; i < m * lda; i++) a[i] = (float)((seed = seed * 1664525u + 1013904223u) >> 8) / 1.6e7f - 0.5f;
        for (size_t i = 0; i < n * k; i++) b[i] = (float)((seed = seed * 1664525u + 1013904223u) >> 8) / 1.6e7f - 0.5f;
        for (size_t i = 0; i < m * n; i++) c[i] = 0.25f;
        crn_ref_sgemm(0, 1, m, n, k, a + 3, lda, b, k, ref, n);
        crn_tensor da, db, dc;
        size_t na = m * lda, nb = n * k, nc = m * n;
        test_upload(&da, a, 1, &na);
        test_upload(&db, b, 1, &nb);
        test_upload(&dc, c, 1, &nc);
        char what[96];
        snprintf(what, sizeof what, "long-k sgemm %zux%zux%zu (%zu chunks)", m, n, k, crn_gemm_k_splits(ops, m, n, k));
        /* beta 1: C = 0.25 + A B^T */
        CK_OK(crn_sgemm_nt_long_k(ops, m, n, k, da.buf, 3, lda, db.buf, 0, k, 1.0f, dc.buf, 0, n, &err));
        float *got = test_download(&dc);
        for (size_t i = 0; i < m * n; i++) got[i] -= 0.25f;
        test_check_close(what, got, ref, m * n, 1e-4, 1e-4);
        free(got);
        /* beta 0, twice: the same bits */
        CK_OK(crn_sgemm_nt_long_k(ops, m, n, k, da.buf, 3, lda, db.buf, 0, k, 0.0f, dc.buf, 0, n, &err));
        float *g1 = test_download(&dc);
        test_check_close(what, g1, ref, m * n, 1e-4, 1e-4);
        CK_OK(crn_sgemm_nt_long_k(ops, m, n, k, da.buf, 3, lda, db.buf, 0, k, 0.0f, dc.buf, 0, n, &err));
        float *g2 = test_download(&dc);
        ck_assert_mem_eq(g1, g2, m * n * sizeof(float));
        free(g1), free(g2);
        crn_tensor_free(&da), crn_tensor_free(&db), crn_tensor_free(&dc);
        free(a), free(b), free(c), free(ref);
    }
    /* this device must split at least the first shape, or the test checks nothing new */
    ck_assert_msg(crn_gemm_k_splits(ops, 8, 8, 4096) > 1, "8x8x4096 is not split on %s",
                  crn_runtime_device(rt)->name);
}
END_TEST

static int count_entries(const char *dir)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "ls '%s'/*.clbin 2>/dev/null | wc -l", dir);
    FILE *p = popen(cmd, "r");
    int n = -1;
    if (p) {
        if (fscanf(p, "%d", &n) != 1) n = -1;
        pclose(p);
    }
    return n;
}

START_TEST(test_kernel_cache)
{
    crn_runtime *rt0 = test_runtime();
    const crn_device_info *dev0 = crn_runtime_device(rt0);
    crn_error err = {0};
    char dir[] = "/tmp/clresnet-cache-test-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    const crn_runtime_options cached = {.cache_dir = dir};

    crn_runtime *rt = NULL;
    CK_OK(crn_runtime_create(&rt, dev0, &cached, &err));
    ck_assert_int_eq(crn_runtime_build_stats(rt).cache_hits, 0);
    ck_assert_int_eq(crn_runtime_build_stats(rt).cache_builds, crn_cl_source_count);
    crn_runtime_destroy(rt);
    ck_assert_int_eq(count_entries(dir), crn_cl_source_count);

    /* Second start: every program from the cache. */
    CK_OK(crn_runtime_create(&rt, dev0, &cached, &err));
    ck_assert_int_eq(crn_runtime_build_stats(rt).cache_hits, crn_cl_source_count);
    ck_assert_int_eq(crn_runtime_build_stats(rt).cache_builds, 0);
    crn_runtime_destroy(rt);

    /* Corrupt every entry (one flipped byte in the binary, one truncated):
     * each is detected and rebuilt, and the runtime still works. */
    char cmd[4300];
    snprintf(cmd, sizeof cmd,
             "for f in '%s'/*.clbin; do printf '\\377' | dd of=\"$f\" bs=1 seek=40 conv=notrunc status=none; done", dir);
    ck_assert_int_eq(system(cmd), 0);
    CK_OK(crn_runtime_create(&rt, dev0, &cached, &err));
    ck_assert_int_eq(crn_runtime_build_stats(rt).cache_hits, 0);
    ck_assert_int_eq(crn_runtime_build_stats(rt).cache_builds, crn_cl_source_count);
    crn_ops *ops = NULL;
    CK_OK(crn_ops_create(rt, &ops, &err));
    crn_selftest_result res;
    CK_OK(crn_selftest_gemm(ops, 0, &res, &err));
    crn_ops_destroy(ops);
    crn_runtime_destroy(rt);
    snprintf(cmd, sizeof cmd, "for f in '%s'/*.clbin; do truncate -s 20 \"$f\"; done", dir);
    ck_assert_int_eq(system(cmd), 0);
    CK_OK(crn_runtime_create(&rt, dev0, &cached, &err));
    ck_assert_int_eq(crn_runtime_build_stats(rt).cache_builds, crn_cl_source_count);
    crn_runtime_destroy(rt);

    /* no_kernel_cache: builds everything, reads nothing. */
    crn_runtime_options opt = {.no_kernel_cache = true, .cache_dir = dir};
    CK_OK(crn_runtime_create(&rt, dev0, &opt, &err));
    ck_assert_int_eq(crn_runtime_build_stats(rt).cache_hits, 0);
    crn_runtime_destroy(rt);

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(test_cache_entry_validation)
{
    crn_error err = {0};
    char dir[] = "/tmp/clresnet-cache-unit-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    const unsigned char bin[] = "binary-bytes";
    CK_OK(crn_cache_store(dir, 42, bin, sizeof bin, &err));
    unsigned char *got = NULL;
    size_t len = 0;
    char why[64];
    ck_assert_int_eq(crn_cache_load(dir, 42, &got, &len, why, sizeof why), 1);
    ck_assert_int_eq((int)len, (int)sizeof bin);
    ck_assert_mem_eq(got, bin, len);
    free(got);
    ck_assert_int_eq(crn_cache_load(dir, 43, &got, &len, why, sizeof why), 0);
    ck_assert_str_eq(why, "not cached");
    /* An entry renamed to another key is stale: its header key disagrees. */
    char a[CRN_PATH_MAX], b[CRN_PATH_MAX];
    CK_OK(crn_cache_path(dir, 42, a, sizeof a, &err));
    CK_OK(crn_cache_path(dir, 44, b, sizeof b, &err));
    ck_assert_int_eq(rename(a, b), 0);
    ck_assert_int_eq(crn_cache_load(dir, 44, &got, &len, why, sizeof why), 0);
    ck_assert_str_eq(why, "key mismatch");
    unlink(b);
    rmdir(dir);
}
END_TEST

START_TEST(test_device_selection_errors)
{
    crn_device_list list;
    crn_error err = {0};
    int index = -1;
    char why[512];
    CK_OK(crn_devices_list(&list, &err));
    ck_assert_int_gt(list.device_count, 0);
    const char *bad[] = {"99", "-1", "no-such-device-9z"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(crn_devices_select(&list, bad[i], &index, why, sizeof why, &err), CRN_ENODEV);
        ck_assert_msg(strstr(err.msg, "valid choices") && strstr(err.msg, list.devices[0].name),
                      "'%s' gave: %s", bad[i], err.msg);
    }
    CK_OK(crn_devices_select(&list, "0", &index, why, sizeof why, &err));
    ck_assert_int_eq(index, 0);
    CK_OK(crn_devices_select(&list, NULL, &index, why, sizeof why, &err));
    ck_assert_ptr_nonnull(strstr(why, list.devices[index].name));
    crn_devices_free(&list);
}
END_TEST

/* Selection by name, on a made-up list (independent of this machine):
 * platform name, platform version, device name or vendor, any case; the
 * first available match; numbers stay indices; no match is an error. */
START_TEST(test_device_selection_by_name)
{
    crn_device_info devs[4];
    memset(devs, 0, sizeof devs);
    const char *plat[] = {"Portable Computing Language", "rusticl", "rusticl", "NVIDIA CUDA"};
    const char *pver[] = {"OpenCL 3.0 PoCL 3.1", "OpenCL 3.0 ", "OpenCL 3.0 ", "OpenCL 3.0 CUDA 12.4"};
    const char *name[] = {"pthread-skylake", "llvmpipe (LLVM 15)", "radeonsi", "NVIDIA H100"};
    const char *vend[] = {"GenuineIntel", "Mesa/X.org", "AMD", "NVIDIA Corporation"};
    for (int i = 0; i < 4; i++) {
        devs[i].index = i;
        snprintf(devs[i].platform_name, sizeof devs[i].platform_name, "%s", plat[i]);
        snprintf(devs[i].platform_version, sizeof devs[i].platform_version, "%s", pver[i]);
        snprintf(devs[i].name, sizeof devs[i].name, "%s", name[i]);
        snprintf(devs[i].vendor, sizeof devs[i].vendor, "%s", vend[i]);
        devs[i].type = i == 0 || i == 1 ? CL_DEVICE_TYPE_CPU : CL_DEVICE_TYPE_GPU;
        devs[i].available = i != 1; /* the llvmpipe one is unavailable */
    }
    crn_device_list list = {.devices = devs, .device_count = 4};
    crn_error err = {0};
    int index = -1;
    char why[512];
    struct { const char *spec; int want; } ok[] = {
        {"pocl", 0}, {"POCL", 0}, {"portable", 0}, {"rusticl", 2}, {"RustiCL", 2}, {"llvmpipe", 1},
        {"mesa", 1}, {"radeon", 2}, {"nvidia", 3}, {"h100", 3}, {"3", 3}, {"0", 0}, {"gpu", 2}, {"cpu", 0},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        CK_OK(crn_devices_select(&list, ok[i].spec, &index, why, sizeof why, &err));
        ck_assert_msg(index == ok[i].want, "'%s' chose %d, want %d (%s)", ok[i].spec, index, ok[i].want, why);
        ck_assert_msg(strstr(why, devs[index].name), "'%s': %s", ok[i].spec, why);
    }
    const char *bad[] = {"abc", "1x", "tpu", "4", "-1", "intelx"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(crn_devices_select(&list, bad[i], &index, why, sizeof why, &err), CRN_ENODEV);
        ck_assert_msg(strstr(err.msg, "valid choices") && strstr(err.msg, "radeonsi"), "'%s' gave: %s", bad[i],
                      err.msg);
    }
    ck_assert_ptr_nonnull(strstr(err.msg, "'intelx' is not a device"));
    /* ranks of an MPI job: local rank r takes the r-th GPU, then the CPU
     * device; "gpu" shares the GPUs in turn; a list gives entry r */
    struct { const char *spec; int rank, want; } ranks[] = {
        {NULL, 0, 2}, {NULL, 1, 3}, {NULL, 2, 0}, {NULL, 5, 0}, {"gpu", 1, 3}, {"gpu", 2, 2}, {"gpu", 3, 3},
        {"0,3", 0, 0}, {"0,3", 1, 3}, {"0,3", 2, 0}, {"pocl,nvidia", 1, 3}, {"pocl", 1, 0}, {"cpu", 3, 0}, {"3", 1, 3},
    };
    for (size_t i = 0; i < sizeof ranks / sizeof ranks[0]; i++) {
        CK_OK(crn_devices_select_rank(&list, ranks[i].spec, ranks[i].rank, &index, why, sizeof why, &err));
        ck_assert_msg(index == ranks[i].want, "'%s' for local rank %d chose %d, want %d (%s)",
                      ranks[i].spec ? ranks[i].spec : "(none)", ranks[i].rank, index, ranks[i].want, why);
    }
    /* an unavailable GPU is not counted: local rank 1 then takes the CPU device */
    devs[3].available = false;
    CK_OK(crn_devices_select_rank(&list, NULL, 1, &index, why, sizeof why, &err));
    ck_assert_msg(index == 0, "with GPU 3 unavailable, local rank 1 chose %d (%s)", index, why);
    devs[3].available = true;
    ck_assert_int_eq(crn_devices_select_rank(&list, "0,,3", 1, &index, why, sizeof why, &err), CRN_ENODEV);
    ck_assert_ptr_nonnull(strstr(err.msg, "empty entry"));
    ck_assert_int_eq(crn_devices_select_rank(&list, "0,tpu", 1, &index, why, sizeof why, &err), CRN_ENODEV);
    ck_assert_ptr_nonnull(strstr(err.msg, "'tpu' is not a device"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("runtime");
    TCase *tc = tcase_create("runtime");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_runtime_starts);
    tcase_add_test(tc, test_every_kernel_file_builds);
    tcase_add_test(tc, test_build_failure_shows_log);
    tcase_add_test(tc, test_build_warnings_kept);
    tcase_add_test(tc, test_sgemm_odd_sizes);
    tcase_add_test(tc, test_sgemm_long_k);
    tcase_add_test(tc, test_kernel_cache);
    tcase_add_test(tc, test_cache_entry_validation);
    tcase_add_test(tc, test_device_selection_errors);
    tcase_add_test(tc, test_device_selection_by_name);
    suite_add_tcase(s, tc);
    /* its own case, so that tests/oclgrind_check.sh can run it alone
     * (CK_RUN_CASE=plans): the rest builds a broken kernel on purpose */
    TCase *plans = tcase_create("plans");
    tcase_set_timeout(plans, 600);
    tcase_add_test(plans, test_packed_plans_bit_identical);
    suite_add_tcase(s, plans);
    return test_run_suite(s);
}
