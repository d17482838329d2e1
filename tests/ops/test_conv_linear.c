/* Convolution and linear layers against PyTorch (tests/make_fixtures_conv.py:
 * activations stored channel-major CNHW in the fixtures, weights OIHW),
 * against central finite differences of our own forward pass, chunked vs
 * unchunked batches, and run-to-run determinism of the backward pass. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clresnet/ops/conv.h"
#include "clresnet/ops/linear.h"
#include "test_support.h"

/* Tolerance for comparisons with the PyTorch reference (computed in float64,
 * stored as float32): rtol 1e-4, and an absolute floor of 1e-5 times the
 * tensor's largest magnitude. The floor is needed because outputs and
 * gradients are sums of terms of both signs: an element that cancels to
 * nearly zero carries the float32 rounding of its terms (about 1e-7 of their
 * size), which is tiny against the tensor but huge relative to itself. */
#define RTOL 1e-4
#define ATOL_SCALE 1e-5

static double max_abs(const float *v, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs(v[i]) > m) m = fabs(v[i]);
    return m;
}

/* Compares and prints the worst relative error max|g-w| / max|w| (normwise)
 * and the worst ratio to the tolerance. */
static void compare(const char *what, const float *got, const float *want, size_t n)
{
    double m = max_abs(want, n), worst_abs = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - (double)want[i]);
        if (!(e <= worst_abs)) worst_abs = e;
    }
    double ratio = test_check_close(what, got, want, n, RTOL, ATOL_SCALE * m + 1e-30);
    printf("  %-34s n=%-6zu max|err|/max|ref| = %.2e  (tolerance ratio %.3f)\n", what, n, m > 0 ? worst_abs / m : worst_abs,
           ratio);
}

static int meta_int(const crn_st_file *f, const char *key)
{
    const char *v = crn_st_meta(f, key);
    ck_assert_msg(v != NULL, "%s: no metadata '%s'", f->path, key);
    return atoi(v);
}

typedef struct conv_case {
    crn_conv_desc d;
    int n, h, w, ho, wo;
    float *x, *wt, *b, *y, *dy, *dx, *dw, *db;
    size_t nx, nw, ny;
    crn_st_file f;
} conv_case;

static void load_conv_case(const char *name, conv_case *c)
{
    memset(c, 0, sizeof *c);
    char file[128];
    snprintf(file, sizeof file, "%s.safetensors", name);
    test_load_fixture(file, &c->f);
    c->d.cin = meta_int(&c->f, "cin");
    c->d.cout = meta_int(&c->f, "cout");
    c->d.kh = meta_int(&c->f, "kh");
    c->d.kw = meta_int(&c->f, "kw");
    c->d.stride = meta_int(&c->f, "stride");
    c->d.pad = meta_int(&c->f, "pad");
    c->d.bias = meta_int(&c->f, "bias") != 0;
    c->n = meta_int(&c->f, "n");
    c->h = meta_int(&c->f, "h");
    c->w = meta_int(&c->f, "w");
    c->ho = crn_conv_out_size(c->h, c->d.kh, c->d.stride, c->d.pad);
    c->wo = crn_conv_out_size(c->w, c->d.kw, c->d.stride, c->d.pad);
    c->x = test_fixture_f32(&c->f, "x", &c->nx);
    c->wt = test_fixture_f32(&c->f, "w", &c->nw);
    c->y = test_fixture_f32(&c->f, "y", &c->ny);
    c->dy = test_fixture_f32(&c->f, "dy", NULL);
    c->dx = test_fixture_f32(&c->f, "dx", NULL);
    c->dw = test_fixture_f32(&c->f, "dw", NULL);
    ck_assert_int_eq((int)c->nx, c->d.cin * c->n * c->h * c->w);
    ck_assert_int_eq((int)c->ny, c->d.cout * c->n * c->ho * c->wo);
    if (c->d.bias) {
        c->b = test_fixture_f32(&c->f, "b", NULL);
        c->db = test_fixture_f32(&c->f, "db", NULL);
    }
}

static void free_conv_case(conv_case *c)
{
    free(c->x), free(c->wt), free(c->b), free(c->y), free(c->dy), free(c->dx), free(c->dw), free(c->db);
    crn_st_free(&c->f);
}

/* Device results of one forward + backward. */
typedef struct conv_out {
    float *y, *dx, *dw, *db;
} conv_out;

static void free_out(conv_out *o)
{
    free(o->y), free(o->dx), free(o->dw), free(o->db);
    memset(o, 0, sizeof *o);
}

/* Runs forward and backward on the device (backward `reps` times, checking
 * that every repetition is bit-identical: determinism). */
static void run_conv(const conv_case *c, int reps, bool want_dx, cl_ulong max_alloc, conv_out *o)
{
    crn_runtime *rt = test_runtime();
    crn_ops *ops = test_ops();
    crn_error err = {0};
    crn_tensor x, w, b = {0}, y, dy, dx = {0}, dw, db = {0};
    crn_workspace ws = {0};
    size_t sx[4] = {c->d.cin, c->n, c->h, c->w}, sw[4] = {c->d.cout, c->d.cin, c->d.kh, c->d.kw};
    size_t sy[4] = {c->d.cout, c->n, c->ho, c->wo}, sb[1] = {c->d.cout};
    test_upload(&x, c->x, 4, sx);
    test_upload(&w, c->wt, 4, sw);
    test_upload(&dy, c->dy, 4, sy);
    if (c->d.bias) test_upload(&b, c->b, 1, sb);
    CK_OK(crn_tensor_alloc(rt, &y, CRN_F32, 4, sy, &err));
    CK_OK(crn_tensor_alloc(rt, &dw, CRN_F32, 4, sw, &err));
    if (want_dx) CK_OK(crn_tensor_alloc(rt, &dx, CRN_F32, 4, sx, &err));
    if (c->d.bias) CK_OK(crn_tensor_alloc(rt, &db, CRN_F32, 1, sb, &err));
    /* A lowered max allocation (chunking tests) applies to the layer's own
     * workspace, not to the test's tensors; main() restores it after a
     * failed test. */
    if (max_alloc) crn_runtime_limit_alloc(rt, max_alloc);

    CK_OK(crn_conv2d_forward(ops, &c->d, c->n, c->h, c->w, &x, &w, c->d.bias ? &b : NULL, &y, &ws, &err));
    o->y = test_download(&y);
    for (int r = 0; r < reps; r++) {
        /* Poison the outputs: backward must overwrite every element. */
        CK_OK(crn_buffer_fill(rt, dw.buf, 0, crn_tensor_bytes(&dw), NAN, "dw", &err));
        if (want_dx) CK_OK(crn_buffer_fill(rt, dx.buf, 0, crn_tensor_bytes(&dx), NAN, "dx", &err));
        if (c->d.bias) CK_OK(crn_buffer_fill(rt, db.buf, 0, crn_tensor_bytes(&db), NAN, "db", &err));
        CK_OK(crn_conv2d_backward(ops, &c->d, c->n, c->h, c->w, &x, &w, &dy, want_dx ? &dx : NULL, &dw,
                                  c->d.bias ? &db : NULL, &ws, &err));
        float *gdx = want_dx ? test_download(&dx) : NULL, *gdw = test_download(&dw);
        float *gdb = c->d.bias ? test_download(&db) : NULL;
        if (r == 0) {
            o->dx = gdx, o->dw = gdw, o->db = gdb;
        } else {
            if (want_dx) ck_assert_msg(memcmp(gdx, o->dx, c->nx * 4) == 0, "dx differs between two backward runs");
            ck_assert_msg(memcmp(gdw, o->dw, c->nw * 4) == 0, "dw differs between two backward runs");
            if (gdb) ck_assert_msg(memcmp(gdb, o->db, (size_t)c->d.cout * 4) == 0, "db differs between runs");
            free(gdx), free(gdw), free(gdb);
        }
    }
    crn_runtime_limit_alloc(rt, 0);
    crn_tensor_free(&x), crn_tensor_free(&w), crn_tensor_free(&b), crn_tensor_free(&y), crn_tensor_free(&dy);
    crn_tensor_free(&dx), crn_tensor_free(&dw), crn_tensor_free(&db);
    crn_workspace_free(&ws);
}

static const char *const conv_cases[] = {
    "conv_stem7x7s2", "conv_3x3s1",     "conv_1x1s1",       "conv_1x1s1_bias", "conv_1x1s2_odd", "conv_3x3s2_odd",
    "conv_3x3_bias",  "conv_nonsquare", "conv_kernel2x3s3", "conv_batch3",     "conv_5x5s2p2",
};
enum { N_CONV_CASES = sizeof conv_cases / sizeof conv_cases[0] };

START_TEST(test_conv_vs_torch)
{
    conv_case c;
    if (_i == 0) printf("device: %s (%s)\n", crn_runtime_device(test_runtime())->name, crn_runtime_device(test_runtime())->platform_name);
    load_conv_case(conv_cases[_i], &c);
    printf("%s: cin %d cout %d k %dx%d s %d p %d bias %d, input %dx%dx%d -> %dx%d\n", conv_cases[_i], c.d.cin,
           c.d.cout, c.d.kh, c.d.kw, c.d.stride, c.d.pad, c.d.bias, c.n, c.h, c.w, c.ho, c.wo);
    conv_out o;
    memset(&o, 0, sizeof o);
    run_conv(&c, 2, true, 0, &o); /* backward twice: bit-identical (checked inside) */
    char what[96];
    snprintf(what, sizeof what, "%s y", conv_cases[_i]);
    compare(what, o.y, c.y, c.ny);
    snprintf(what, sizeof what, "%s dx", conv_cases[_i]);
    compare(what, o.dx, c.dx, c.nx);
    snprintf(what, sizeof what, "%s dw", conv_cases[_i]);
    compare(what, o.dw, c.dw, c.nw);
    if (c.d.bias) {
        snprintf(what, sizeof what, "%s db", conv_cases[_i]);
        compare(what, o.db, c.db, (size_t)c.d.cout);
    }
    /* dx = NULL (a first layer): weights and bias gradients unchanged. */
    conv_out o2;
    memset(&o2, 0, sizeof o2);
    run_conv(&c, 1, false, 0, &o2);
    ck_assert_msg(memcmp(o2.dw, o.dw, c.nw * 4) == 0, "dw changes when dx is skipped");
    free_out(&o), free_out(&o2);
    free_conv_case(&c);
}
END_TEST

/* The batch split into chunks of images (max allocation lowered so that one
 * or two images fit) gives the same results as the whole batch at once. */
START_TEST(test_conv_chunked)
{
    static const char *const names[] = {"conv_batch3", "conv_5x5s2p2", "conv_stem7x7s2", "conv_1x1s2_odd"};
    crn_runtime *rt = test_runtime();
    crn_ops *ops = test_ops();
    for (size_t t = 0; t < sizeof names / sizeof names[0]; t++) {
        conv_case c;
        load_conv_case(names[t], &c);
        conv_out whole;
        memset(&whole, 0, sizeof whole);
        ck_assert_int_eq(crn_conv_chunk_images(ops, &c.d, c.n, c.h, c.w), c.n);
        run_conv(&c, 1, true, 0, &whole);
        size_t per_image = crn_conv_workspace_bytes(ops, &c.d, 1, c.h, c.w);
        ck_assert_uint_gt(per_image, 0);
        ck_assert_uint_eq(crn_conv_workspace_bytes(ops, &c.d, c.n, c.h, c.w), per_image * c.n);
        for (int per = 1; per < c.n; per++) {
            /* room for `per` images and a bit, not per+1 */
            cl_ulong limit = per * per_image + per_image / 2;
            crn_runtime_limit_alloc(rt, limit);
            ck_assert_int_eq(crn_conv_chunk_images(ops, &c.d, c.n, c.h, c.w), per);
            ck_assert_uint_eq(crn_conv_workspace_bytes(ops, &c.d, c.n, c.h, c.w), per * per_image);
            crn_runtime_limit_alloc(rt, 0);
            conv_out part;
            memset(&part, 0, sizeof part);
            run_conv(&c, 2, true, limit, &part);
            char what[96];
            /* Each output column and each input element is computed from the
             * same values in the same order whether chunked or not. */
            snprintf(what, sizeof what, "%s chunks of %d: y", names[t], per);
            ck_assert_msg(memcmp(part.y, whole.y, c.ny * 4) == 0, "%s not identical", what);
            snprintf(what, sizeof what, "%s chunks of %d: dx", names[t], per);
            ck_assert_msg(memcmp(part.dx, whole.dx, c.nx * 4) == 0, "%s not identical", what);
            /* dW accumulates chunk by chunk (beta = 1), a different order of
             * summation than one GEMM over the whole batch: equal within
             * float rounding, not bit for bit. */
            snprintf(what, sizeof what, "%s chunks of %d: dw vs whole", names[t], per);
            compare(what, part.dw, whole.dw, c.nw);
            snprintf(what, sizeof what, "%s chunks of %d: dw vs torch", names[t], per);
            compare(what, part.dw, c.dw, c.nw);
            if (c.d.bias) ck_assert(memcmp(part.db, whole.db, (size_t)c.d.cout * 4) == 0);
            free_out(&part);
        }
        /* Not even one image fits: a clear error, not a crash. */
        if (crn_conv_workspace_bytes(ops, &c.d, 1, c.h, c.w) > 0) {
            crn_error err = {0};
            crn_tensor x, w, y;
            size_t sx = c.nx, sw = c.nw, sy = c.ny;
            test_upload(&x, c.x, 1, &sx);
            test_upload(&w, c.wt, 1, &sw);
            CK_OK(crn_tensor_alloc(rt, &y, CRN_F32, 1, &sy, &err));
            crn_workspace ws = {0};
            crn_runtime_limit_alloc(rt, per_image / 2);
            int rc = crn_conv2d_forward(ops, &c.d, c.n, c.h, c.w, &x, &w, NULL, &y, &ws, &err);
            crn_runtime_limit_alloc(rt, 0);
            ck_assert_int_eq(rc, CRN_ENOMEM);
            ck_assert_ptr_nonnull(strstr(err.msg, "im2col"));
            crn_tensor_free(&x), crn_tensor_free(&w), crn_tensor_free(&y);
        }
        crn_runtime_limit_alloc(rt, 0);
        free_out(&whole);
        free_conv_case(&c);
    }
}
END_TEST

/* Loss L = sum(y * dy) in double from one device forward pass. */
static double conv_loss(const conv_case *c, const float *x, const float *w, const float *b)
{
    crn_runtime *rt = test_runtime();
    crn_ops *ops = test_ops();
    crn_error err = {0};
    crn_tensor tx, tw, tb = {0}, ty;
    crn_workspace ws = {0};
    size_t sx = c->nx, sw = c->nw, sy = c->ny, sb = c->d.cout;
    test_upload(&tx, x, 1, &sx);
    test_upload(&tw, w, 1, &sw);
    if (c->d.bias) test_upload(&tb, b, 1, &sb);
    CK_OK(crn_tensor_alloc(rt, &ty, CRN_F32, 1, &sy, &err));
    CK_OK(crn_conv2d_forward(ops, &c->d, c->n, c->h, c->w, &tx, &tw, c->d.bias ? &tb : NULL, &ty, &ws, &err));
    float *y = test_download(&ty);
    double l = 0;
    for (size_t i = 0; i < c->ny; i++) l += (double)y[i] * c->dy[i];
    free(y);
    crn_tensor_free(&tx), crn_tensor_free(&tw), crn_tensor_free(&tb), crn_tensor_free(&ty);
    crn_workspace_free(&ws);
    return l;
}

/* Central differences of our own forward pass against our backward pass, for
 * a few entries of x, w and b. The layer is linear in each of them, so the
 * difference quotient is exact up to rounding and a large step (0.5) keeps
 * that rounding small: only the outputs the entry touches change, each by
 * float32 rounding (~1e-7 relative), so rtol 1e-3 with a floor of 1e-4 of
 * the gradient's scale is loose and still catches any indexing error (those
 * give O(1) errors). */
START_TEST(test_conv_finite_differences)
{
    static const char *const names[] = {"conv_3x3s2_odd", "conv_nonsquare", "conv_kernel2x3s3", "conv_1x1s1_bias"};
    conv_case c;
    load_conv_case(names[_i], &c);
    conv_out o;
    memset(&o, 0, sizeof o);
    run_conv(&c, 1, true, 0, &o);
    const float eps = 0.5f;
    double worst = 0;
    double sdx = max_abs(o.dx, c.nx), sdw = max_abs(o.dw, c.nw);
    for (int which = 0; which < 3; which++) {
        float *v = which == 0 ? c.x : which == 1 ? c.wt : c.b;
        const float *g = which == 0 ? o.dx : which == 1 ? o.dw : o.db;
        size_t n = which == 0 ? c.nx : which == 1 ? c.nw : (c.d.bias ? (size_t)c.d.cout : 0);
        double scale = which == 0 ? sdx : which == 1 ? sdw : max_abs(o.db, n);
        for (int s = 0; s < 5 && n > 0; s++) {
            size_t i = (s * 7919u + 13u * which) % n; /* spread over the tensor, corners included */
            if (s == 0) i = 0;
            if (s == 1) i = n - 1;
            float keep = v[i];
            v[i] = keep + eps;
            double lp = conv_loss(&c, c.x, c.wt, c.b);
            v[i] = keep - eps;
            double lm = conv_loss(&c, c.x, c.wt, c.b);
            v[i] = keep;
            double fd = (lp - lm) / (2.0 * eps);
            double r = fabs(fd - g[i]) / (1e-3 * fabs(g[i]) + 1e-4 * scale);
            ck_assert_msg(r <= 1.0, "%s: d%s[%zu] backward %.7g, finite difference %.7g", names[_i],
                          which == 0 ? "x" : which == 1 ? "w" : "b", i, (double)g[i], fd);
            double rel = fabs(fd - g[i]) / (fabs(g[i]) > 1e-30 ? fabs(g[i]) : 1.0);
            if (rel > worst) worst = rel;
        }
    }
    printf("  %s finite differences: worst relative error %.2e\n", names[_i], worst);
    free_out(&o);
    free_conv_case(&c);
}
END_TEST

START_TEST(test_conv_bad_shapes)
{
    crn_runtime *rt = test_runtime();
    crn_ops *ops = test_ops();
    crn_error err = {0};
    crn_conv_desc d = {.cin = 2, .cout = 3, .kh = 3, .kw = 3, .stride = 1, .pad = 1, .bias = false};
    size_t sx = 2 * 1 * 4 * 4, sw = 3 * 2 * 9, sy = 3 * 4 * 4;
    crn_tensor x, w, y;
    crn_workspace ws = {0};
    CK_OK(crn_tensor_zeros(rt, &x, CRN_F32, 1, &sx, &err));
    CK_OK(crn_tensor_zeros(rt, &w, CRN_F32, 1, &sw, &err));
    CK_OK(crn_tensor_zeros(rt, &y, CRN_F32, 1, &sy, &err));
    CK_OK(crn_conv2d_forward(ops, &d, 1, 4, 4, &x, &w, NULL, &y, &ws, &err));
    /* batch 2 does not match the tensors */
    ck_assert_int_eq(crn_conv2d_forward(ops, &d, 2, 4, 4, &x, &w, NULL, &y, &ws, &err), CRN_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "x has"));
    /* a bias layer without its bias */
    d.bias = true;
    ck_assert_int_eq(crn_conv2d_forward(ops, &d, 1, 4, 4, &x, &w, NULL, &y, &ws, &err), CRN_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "bias"));
    d.bias = false;
    /* kernel larger than the padded input */
    d.kh = 7;
    ck_assert_int_eq(crn_conv2d_forward(ops, &d, 1, 4, 4, &x, &w, NULL, &y, &ws, &err), CRN_EINVAL);
    d.kh = 3;
    d.stride = 0;
    ck_assert_int_eq(crn_conv2d_forward(ops, &d, 1, 4, 4, &x, &w, NULL, &y, &ws, &err), CRN_EINVAL);
    ck_assert_int_eq(crn_conv_out_size(224, 7, 2, 3), 112);
    ck_assert_int_eq(crn_conv_out_size(9, 1, 2, 0), 5);
    ck_assert_int_eq(crn_conv_out_size(7, 3, 2, 1), 4);
    crn_conv_desc pw = {.cin = 64, .cout = 256, .kh = 1, .kw = 1, .stride = 1, .pad = 0};
    ck_assert_uint_eq(crn_conv_workspace_bytes(ops, &pw, 32, 56, 56), 0);
    crn_tensor_free(&x), crn_tensor_free(&w), crn_tensor_free(&y);
    crn_workspace_free(&ws);
}
END_TEST

static const char *const linear_cases[] = {"linear_small", "linear_wide"};

START_TEST(test_linear_vs_torch)
{
    crn_runtime *rt = test_runtime();
    crn_ops *ops = test_ops();
    crn_error err = {0};
    crn_st_file f;
    char file[128];
    snprintf(file, sizeof file, "%s.safetensors", linear_cases[_i]);
    test_load_fixture(file, &f);
    int in = meta_int(&f, "in"), out = meta_int(&f, "out"), n = meta_int(&f, "n");
    float *hx = test_fixture_f32(&f, "x", NULL), *hw = test_fixture_f32(&f, "w", NULL);
    float *hb = test_fixture_f32(&f, "b", NULL), *hy = test_fixture_f32(&f, "y", NULL);
    float *hdy = test_fixture_f32(&f, "dy", NULL), *hdx = test_fixture_f32(&f, "dx", NULL);
    float *hdw = test_fixture_f32(&f, "dw", NULL), *hdb = test_fixture_f32(&f, "db", NULL);
    size_t sx[2] = {in, n}, sw[2] = {out, in}, sy[2] = {out, n}, sb[1] = {out};
    crn_tensor x, w, b, y, dy, dx, dw, db;
    test_upload(&x, hx, 2, sx);
    test_upload(&w, hw, 2, sw);
    test_upload(&b, hb, 1, sb);
    test_upload(&dy, hdy, 2, sy);
    CK_OK(crn_tensor_alloc(rt, &y, CRN_F32, 2, sy, &err));
    CK_OK(crn_tensor_alloc(rt, &dx, CRN_F32, 2, sx, &err));
    CK_OK(crn_tensor_alloc(rt, &dw, CRN_F32, 2, sw, &err));
    CK_OK(crn_tensor_alloc(rt, &db, CRN_F32, 1, sb, &err));
    printf("%s: in %d out %d batch %d\n", linear_cases[_i], in, out, n);
    CK_OK(crn_linear_forward(ops, in, out, n, &x, &w, &b, &y, &err));
    float *gy = test_download(&y);
    compare("linear y", gy, hy, (size_t)out * n);
    float *first[3] = {0};
    for (int r = 0; r < 2; r++) {
        CK_OK(crn_linear_backward(ops, in, out, n, &x, &w, &dy, &dx, &dw, &db, &err));
        float *g[3] = {test_download(&dx), test_download(&dw), test_download(&db)};
        if (r == 0) {
            compare("linear dx", g[0], hdx, (size_t)in * n);
            compare("linear dw", g[1], hdw, (size_t)out * in);
            compare("linear db", g[2], hdb, (size_t)out);
            memcpy(first, g, sizeof g);
        } else {
            ck_assert_msg(memcmp(g[0], first[0], (size_t)in * n * 4) == 0, "linear dx not deterministic");
            ck_assert_msg(memcmp(g[1], first[1], (size_t)out * in * 4) == 0, "linear dw not deterministic");
            ck_assert_msg(memcmp(g[2], first[2], (size_t)out * 4) == 0, "linear db not deterministic");
            for (int i = 0; i < 3; i++) free(g[i]);
        }
    }
    /* dx skipped: dw and db unchanged. */
    CK_OK(crn_linear_backward(ops, in, out, n, &x, &w, &dy, NULL, &dw, &db, &err));
    float *g2 = test_download(&dw);
    ck_assert(memcmp(g2, first[1], (size_t)out * in * 4) == 0);
    free(g2);
    /* Mismatched shapes are refused. */
    ck_assert_int_eq(crn_linear_forward(ops, in + 1, out, n, &x, &w, &b, &y, &err), CRN_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "x has"));
    for (int i = 0; i < 3; i++) free(first[i]);
    free(gy), free(hx), free(hw), free(hb), free(hy), free(hdy), free(hdx), free(hdw), free(hdb);
    crn_tensor_free(&x), crn_tensor_free(&w), crn_tensor_free(&b), crn_tensor_free(&y), crn_tensor_free(&dy);
    crn_tensor_free(&dx), crn_tensor_free(&dw), crn_tensor_free(&db);
    crn_st_free(&f);
}
END_TEST

/* Bias reduction over a long row (many elements per work-item, a partial
 * last stride) against a double host sum; bit-identical on repeat. */
START_TEST(test_row_sum_long)
{
    crn_runtime *rt = test_runtime();
    crn_ops *ops = test_ops();
    crn_error err = {0};
    const int rows = 3, cols = 10007;
    size_t nx = (size_t)rows * cols, sb = rows;
    float *hx = malloc(nx * 4);
    unsigned s = 99;
    for (size_t i = 0; i < nx; i++) hx[i] = (float)((s = s * 1664525u + 1013904223u) >> 8) / 1.6e7f - 0.5f;
    float want[3];
    for (int r = 0; r < rows; r++) {
        double acc = 0;
        for (int p = 0; p < cols; p++) acc += hx[(size_t)r * cols + p];
        want[r] = (float)acc;
    }
    crn_tensor x, b;
    test_upload(&x, hx, 1, &nx);
    CK_OK(crn_tensor_alloc(rt, &b, CRN_F32, 1, &sb, &err));
    CK_OK(crn_row_sum(ops, x.buf, b.buf, rows, cols, &err));
    float *g1 = test_download(&b);
    CK_OK(crn_row_sum(ops, x.buf, b.buf, rows, cols, &err));
    float *g2 = test_download(&b);
    ck_assert(memcmp(g1, g2, sizeof want) == 0);
    /* sum of 10007 values of size 0.5 with cancellation: float32 rounding of
     * the partial sums is about 1e-7 * sqrt(cols) * 0.5 absolute */
    compare("row sum 3x10007", g1, want, rows);
    test_check_close("row sum 3x10007 (abs)", g1, want, rows, 0, 1e-4);
    free(hx), free(g1), free(g2);
    crn_tensor_free(&x), crn_tensor_free(&b);
}
END_TEST

/* The chunking test lowers the device's max allocation; a failed assertion
 * jumps out of the test, so the limit is restored after every test. */
static void save_limits(void) { test_runtime(); }

static void restore_limits(void) { crn_runtime_limit_alloc(test_runtime(), 0); }

int main(void)
{
    Suite *s = suite_create("conv_linear");
    TCase *tc = tcase_create("conv_linear");
    tcase_add_checked_fixture(tc, save_limits, restore_limits);
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, test_conv_vs_torch, 0, N_CONV_CASES);
    tcase_add_test(tc, test_conv_chunked);
    tcase_add_loop_test(tc, test_conv_finite_differences, 0, 4);
    tcase_add_test(tc, test_conv_bad_shapes);
    tcase_add_loop_test(tc, test_linear_vs_torch, 0, 2);
    tcase_add_test(tc, test_row_sum_long);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
