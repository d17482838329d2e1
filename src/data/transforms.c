/* torchvision-on-PIL transforms in 8-bit RGB, and the per-sample pipeline. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clresnet/data/image.h"
#include "clresnet/data/transforms.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

void crn_shuffle_indices(size_t *idx, size_t n, uint64_t seed, uint64_t epoch)
{
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    if (n < 2)
        return;
    crn_rng r;
    crn_rng_init(&r, seed, epoch, 0, CRN_RNG_SHUFFLE);
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)crn_rng_below(&r, (uint64_t)i + 1);
        size_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
}

/* ---------------- configuration ---------------- */

void crn_transform_config_default(crn_transform_config *c)
{
    memset(c, 0, sizeof(*c));
    c->image_size = 224;
    c->resize = 0;
    c->augment = 1;
    c->hflip_p = 0.5;
    c->rotation_deg = 15.0;
    c->grayscale_p = 0.1;
    c->brightness = 0.2;
    c->contrast = 0.2;
    c->saturation = 0.2;
    c->mean[0] = 0.485f; c->mean[1] = 0.456f; c->mean[2] = 0.406f;
    c->std[0] = 0.229f; c->std[1] = 0.224f; c->std[2] = 0.225f;
    c->dct_scaling = 1;
}

int crn_transform_resize_target(const crn_transform_config *c)
{
    if (c->resize > 0)
        return c->resize;
    return (int)lround((double)c->image_size * 256.0 / 224.0);
}

int crn_transform_config_check(const crn_transform_config *c, crn_error *err)
{
    if (c->image_size < 1 || c->image_size > 4096)
        return crn_fail(err, CRN_EINVAL, "image size %d is out of range 1..4096", c->image_size);
    if (c->resize < 0 || c->resize > 8192)
        return crn_fail(err, CRN_EINVAL, "resize %d is out of range 1..8192", c->resize);
    if (crn_transform_resize_target(c) < c->image_size)
        return crn_fail(err, CRN_EINVAL, "resize %d is smaller than the image size %d", crn_transform_resize_target(c),
                        c->image_size);
    if (!(c->hflip_p >= 0 && c->hflip_p <= 1))
        return crn_fail(err, CRN_EINVAL, "horizontal flip probability %g is not in 0..1", c->hflip_p);
    if (!(c->grayscale_p >= 0 && c->grayscale_p <= 1))
        return crn_fail(err, CRN_EINVAL, "grayscale probability %g is not in 0..1", c->grayscale_p);
    if (!(c->rotation_deg >= 0 && c->rotation_deg <= 180))
        return crn_fail(err, CRN_EINVAL, "rotation %g degrees is not in 0..180", c->rotation_deg);
    if (!(c->brightness >= 0 && c->brightness <= 10))
        return crn_fail(err, CRN_EINVAL, "brightness jitter %g is not in 0..10", c->brightness);
    if (!(c->contrast >= 0 && c->contrast <= 10))
        return crn_fail(err, CRN_EINVAL, "contrast jitter %g is not in 0..10", c->contrast);
    if (!(c->saturation >= 0 && c->saturation <= 10))
        return crn_fail(err, CRN_EINVAL, "saturation jitter %g is not in 0..10", c->saturation);
    for (int i = 0; i < 3; i++)
        if (!(c->std[i] > 0) || !isfinite(c->mean[i]))
            return crn_fail(err, CRN_EINVAL, "normalisation mean %g / std %g of channel %d is invalid",
                            (double)c->mean[i], (double)c->std[i], i);
    return CRN_OK;
}

void crn_resize_dims(int w, int h, int r, int *ow, int *oh)
{
    if (w <= h) {
        *ow = r;
        *oh = (int)((double)((long long)r * h) / (double)w);
    } else {
        *oh = r;
        *ow = (int)((double)((long long)r * w) / (double)h);
    }
}

/* ---------------- resize: Pillow's ImagingResample, bilinear, 8 bpc ---------------- */

#define PRECISION_BITS (32 - 8 - 2)

static inline uint8_t clip8(int in)
{
    int v = in >> PRECISION_BITS;
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

static inline double bilinear_filter(double x)
{
    if (x < 0.0)
        x = -x;
    if (x < 1.0)
        return 1.0 - x;
    return 0.0;
}

/* Pillow's precompute_coeffs + normalize_coeffs_8bpc. Returns ksize, 0 on OOM. */
static int precompute(int in_size, int out_size, int **boundsp, int32_t **kkp)
{
    double scale = (double)in_size / out_size, filterscale = scale;
    if (filterscale < 1.0)
        filterscale = 1.0;
    double support = 1.0 * filterscale;
    int ksize = (int)ceil(support) * 2 + 1;
    double *k = malloc((size_t)ksize * sizeof(double));
    int32_t *kk = malloc((size_t)out_size * (size_t)ksize * sizeof(int32_t));
    int *bounds = malloc((size_t)out_size * 2 * sizeof(int));
    if (!k || !kk || !bounds) {
        free(k);
        free(kk);
        free(bounds);
        return 0;
    }
    for (int xx = 0; xx < out_size; xx++) {
        double center = (xx + 0.5) * scale, ww = 0.0, ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0)
            xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in_size)
            xmax = in_size;
        xmax -= xmin;
        int x;
        for (x = 0; x < xmax; x++) {
            double w = bilinear_filter((x + xmin - center + 0.5) * ss);
            k[x] = w;
            ww += w;
        }
        for (x = 0; x < xmax; x++)
            if (ww != 0.0)
                k[x] /= ww;
        for (; x < ksize; x++)
            k[x] = 0;
        for (x = 0; x < ksize; x++)
            kk[xx * ksize + x] = k[x] < 0 ? (int32_t)(-0.5 + k[x] * (1 << PRECISION_BITS))
                                          : (int32_t)(0.5 + k[x] * (1 << PRECISION_BITS));
        bounds[2 * xx] = xmin;
        bounds[2 * xx + 1] = xmax;
    }
    free(k);
    *boundsp = bounds;
    *kkp = kk;
    return ksize;
}

int crn_resize_bilinear(const crn_image *in, int ow, int oh, crn_image *out, crn_image *tmp, crn_error *err)
{
    if (ow <= 0 || oh <= 0)
        return crn_fail(err, CRN_EINVAL, "resize to %dx%d", ow, oh);
    int need_h = ow != in->w, need_v = oh != in->h;
    int *bh = NULL, *bv = NULL;
    int32_t *kh = NULL, *kv = NULL;
    int ksh = precompute(in->w, ow, &bh, &kh);
    int ksv = precompute(in->h, oh, &bv, &kv);
    int rc = CRN_OK;
    if (!ksh || !ksv) {
        rc = crn_fail(err, CRN_ENOMEM, "out of memory for resize coefficients");
        goto out;
    }
    const crn_image *src = in;
    int y_first = 0;
    if (need_h) {
        int y_last = in->h;
        if (need_v) { /* only the rows the vertical pass reads */
            y_first = bv[0];
            y_last = bv[2 * oh - 2] + bv[2 * oh - 1];
        }
        crn_image *dst = need_v ? tmp : out;
        if ((rc = crn_image_reserve(dst, ow, y_last - y_first, err)) != CRN_OK)
            goto out;
        for (int yy = 0; yy < dst->h; yy++) {
            const uint8_t *row = in->data + (size_t)(yy + y_first) * (size_t)in->w * 3;
            uint8_t *o = dst->data + (size_t)yy * (size_t)ow * 3;
            for (int xx = 0; xx < ow; xx++) {
                int xmin = bh[2 * xx], xmax = bh[2 * xx + 1];
                const int32_t *k = kh + (size_t)xx * ksh;
                int s0 = 1 << (PRECISION_BITS - 1), s1 = s0, s2 = s0;
                const uint8_t *p = row + (size_t)xmin * 3;
                for (int x = 0; x < xmax; x++) {
                    s0 += p[3 * x + 0] * k[x];
                    s1 += p[3 * x + 1] * k[x];
                    s2 += p[3 * x + 2] * k[x];
                }
                o[3 * xx + 0] = clip8(s0);
                o[3 * xx + 1] = clip8(s1);
                o[3 * xx + 2] = clip8(s2);
            }
        }
        src = dst;
    }
    if (need_v) {
        if ((rc = crn_image_reserve(out, ow, oh, err)) != CRN_OK)
            goto out;
        for (int yy = 0; yy < oh; yy++) {
            const int32_t *k = kv + (size_t)yy * ksv;
            int ymin = bv[2 * yy] - y_first, ymax = bv[2 * yy + 1];
            uint8_t *o = out->data + (size_t)yy * (size_t)ow * 3;
            for (int xx = 0; xx < ow * 3; xx++) {
                int s = 1 << (PRECISION_BITS - 1);
                const uint8_t *p = src->data + (size_t)ymin * (size_t)ow * 3 + xx;
                for (int y = 0; y < ymax; y++)
                    s += p[(size_t)y * (size_t)ow * 3] * k[y];
                o[xx] = clip8(s);
            }
        }
    }
    if (!need_h && !need_v) {
        if ((rc = crn_image_reserve(out, in->w, in->h, err)) != CRN_OK)
            goto out;
        memcpy(out->data, in->data, (size_t)in->w * (size_t)in->h * 3);
    }
out:
    free(bh);
    free(bv);
    free(kh);
    free(kv);
    return rc;
}

/* ---------------- geometric transforms ---------------- */

/* The RGB pixel (sx, sy) of in, or black outside the image. */
static void copy_pixel(const crn_image *in, int sx, int sy, uint8_t *o)
{
    if (sx < 0 || sx >= in->w || sy < 0 || sy >= in->h) {
        o[0] = o[1] = o[2] = 0;
        return;
    }
    const uint8_t *p = in->data + ((size_t)sy * (size_t)in->w + (size_t)sx) * 3;
    o[0] = p[0];
    o[1] = p[1];
    o[2] = p[2];
}

int crn_crop(const crn_image *in, int top, int left, int s, crn_image *out, crn_error *err)
{
    int rc = crn_image_reserve(out, s, s, err);
    if (rc != CRN_OK)
        return rc;
    for (int y = 0; y < s; y++) {
        uint8_t *o = out->data + (size_t)y * (size_t)s * 3;
        int sy = top + y;
        if (sy < 0 || sy >= in->h) {
            memset(o, 0, (size_t)s * 3);
            continue;
        }
        for (int x = 0; x < s; x++) {
            copy_pixel(in, left + x, sy, o + 3 * x);
        }
    }
    return CRN_OK;
}

void crn_center_crop_offsets(int w, int h, int s, int *top, int *left)
{
    /* Python's round(): half to even, which nearbyint does in the default rounding mode */
    *top = (int)nearbyint((h - s) / 2.0);
    *left = (int)nearbyint((w - s) / 2.0);
}

void crn_hflip(crn_image *im)
{
    for (int y = 0; y < im->h; y++) {
        uint8_t *r = im->data + (size_t)y * (size_t)im->w * 3;
        for (int a = 0, b = im->w - 1; a < b; a++, b--)
            for (int c = 0; c < 3; c++) {
                uint8_t t = r[3 * a + c];
                r[3 * a + c] = r[3 * b + c];
                r[3 * b + c] = t;
            }
    }
}

int crn_rotate_nearest(const crn_image *in, double angle_deg, crn_image *out, crn_error *err)
{
    int rc = crn_image_reserve(out, in->w, in->h, err);
    if (rc != CRN_OK)
        return rc;
    /* PIL Image.rotate: inverse affine matrix about the centre (w/2, h/2) */
    double ang = fmod(angle_deg, 360.0);
    if (ang < 0)
        ang += 360.0;
    double t = -ang * M_PI / 180.0;
    double a = cos(t), b = sin(t), d = -sin(t), e = cos(t);
    double cx = in->w / 2.0, cy = in->h / 2.0;
    double c = a * -cx + b * -cy + cx;
    double f = d * -cx + e * -cy + cy;
    for (int y = 0; y < in->h; y++) {
        uint8_t *o = out->data + (size_t)y * (size_t)in->w * 3;
        for (int x = 0; x < in->w; x++) {
            double xin = a * (x + 0.5) + b * (y + 0.5) + c;
            double yin = d * (x + 0.5) + e * (y + 0.5) + f;
            int sx = xin < 0.0 ? -1 : (int)xin, sy = yin < 0.0 ? -1 : (int)yin;
            copy_pixel(in, sx, sy, o + 3 * x);
        }
    }
    return CRN_OK;
}

/* ---------------- colour ---------------- */

static inline uint8_t luma(const uint8_t *p)
{
    return (uint8_t)((p[0] * 19595 + p[1] * 38470 + p[2] * 7471 + 0x8000) >> 16);
}

void crn_grayscale(crn_image *im)
{
    size_t n = (size_t)im->w * (size_t)im->h;
    for (size_t i = 0; i < n; i++) {
        uint8_t *p = im->data + 3 * i;
        p[0] = p[1] = p[2] = luma(p);
    }
}

/* PIL ImagingBlend: in1 + alpha * (in2 - in1), truncated (clipped when extrapolating). */
static inline uint8_t blend(int in1, int in2, float alpha)
{
    float t = (float)in1 + alpha * (float)(in2 - in1);
    if (alpha >= 0 && alpha <= 1.0f)
        return (uint8_t)t;
    if (t <= 0.0f)
        return 0;
    if (t >= 255.0f)
        return 255;
    return (uint8_t)t;
}

void crn_adjust_brightness(crn_image *im, float f)
{
    size_t n = (size_t)im->w * (size_t)im->h * 3;
    for (size_t i = 0; i < n; i++)
        im->data[i] = blend(0, im->data[i], f);
}

void crn_adjust_contrast(crn_image *im, float f)
{
    size_t n = (size_t)im->w * (size_t)im->h;
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += luma(im->data + 3 * i);
    /* ImageStat mean of the L image, int(mean + 0.5) */
    int mean = n ? (int)((double)sum / (double)n + 0.5) : 0;
    for (size_t i = 0; i < 3 * n; i++)
        im->data[i] = blend(mean, im->data[i], f);
}

void crn_adjust_saturation(crn_image *im, float f)
{
    size_t n = (size_t)im->w * (size_t)im->h;
    for (size_t i = 0; i < n; i++) {
        uint8_t *p = im->data + 3 * i;
        int l = luma(p);
        p[0] = blend(l, p[0], f);
        p[1] = blend(l, p[1], f);
        p[2] = blend(l, p[2], f);
    }
}

void crn_to_tensor_normalize(const crn_image *im, const float mean[3], const float std[3], float *out)
{
    size_t n = (size_t)im->w * (size_t)im->h;
    for (int c = 0; c < 3; c++) {
        float *o = out + (size_t)c * n;
        for (size_t i = 0; i < n; i++) {
            float v = (float)im->data[3 * i + (size_t)c] / 255.0f;
            o[i] = (v - mean[c]) / std[c];
        }
    }
}

/* ---------------- pipeline ---------------- */

void crn_transform_scratch_free(crn_transform_scratch *s)
{
    crn_image_free(&s->decoded);
    crn_image_free(&s->a);
    crn_image_free(&s->b);
    crn_image_free(&s->tmp);
    free(s->file_buf);
    memset(s, 0, sizeof(*s));
}

static float jitter_factor(crn_rng *r, double amount)
{
    double lo = 1.0 - amount < 0 ? 0 : 1.0 - amount, hi = 1.0 + amount;
    return (float)(lo + (hi - lo) * crn_rng_uniform(r));
}

void crn_augment_sample(const crn_transform_config *c, int w, int h, uint64_t seed, uint64_t epoch, uint64_t index,
                        crn_augment_params *p)
{
    int S = c->image_size;
    crn_rng g;
    /* the draws in this order, so that a sample's stream never changes */
    crn_rng_init(&g, seed, epoch, index, CRN_RNG_AUGMENT);
    /* RandomCrop(S), no padding (a smaller image is padded with 0 instead of failing) */
    p->top = crn_rng_int(&g, 0, h > S ? h - S : 0);
    p->left = crn_rng_int(&g, 0, w > S ? w - S : 0);
    p->hflip = crn_rng_uniform(&g) < c->hflip_p;
    p->angle = c->rotation_deg > 0 ? -c->rotation_deg + 2.0 * c->rotation_deg * crn_rng_uniform(&g) : 0;
    p->grayscale = crn_rng_uniform(&g) < c->grayscale_p;
    /* ColorJitter: factors drawn, then applied in a random order */
    p->brightness = c->brightness > 0 ? jitter_factor(&g, c->brightness) : 1.0f;
    p->contrast = c->contrast > 0 ? jitter_factor(&g, c->contrast) : 1.0f;
    p->saturation = c->saturation > 0 ? jitter_factor(&g, c->saturation) : 1.0f;
    int *order = p->order;
    order[0] = 0, order[1] = 1, order[2] = 2;
    for (int i = 2; i > 0; i--) {
        int j = crn_rng_int(&g, 0, i), tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
    }
}

int crn_transform_image(const crn_transform_config *c, const crn_image *img, uint64_t seed, uint64_t epoch,
                        uint64_t index, crn_transform_scratch *s, float *out, crn_error *err)
{
    int r = crn_transform_resize_target(c), S = c->image_size, ow, oh, rc;
    crn_resize_dims(img->w, img->h, r, &ow, &oh);
    if (ow < 1 || oh < 1)
        return crn_fail(err, CRN_EINVAL, "image %dx%d cannot be resized to shorter side %d", img->w, img->h, r);
    if ((rc = crn_resize_bilinear(img, ow, oh, &s->a, &s->tmp, err)) != CRN_OK)
        return rc;
    crn_image *cur = &s->a, *other = &s->b;
    if (!c->augment) {
        int top, left;
        crn_center_crop_offsets(cur->w, cur->h, S, &top, &left);
        if ((rc = crn_crop(cur, top, left, S, other, err)) != CRN_OK)
            return rc;
        crn_to_tensor_normalize(other, c->mean, c->std, out);
        return CRN_OK;
    }
    crn_augment_params p;
    crn_augment_sample(c, cur->w, cur->h, seed, epoch, index, &p);
    if ((rc = crn_crop(cur, p.top, p.left, S, other, err)) != CRN_OK)
        return rc;
    crn_image *t = cur;
    cur = other;
    other = t;
    if (p.hflip)
        crn_hflip(cur);
    if (c->rotation_deg > 0) {
        if ((rc = crn_rotate_nearest(cur, p.angle, other, err)) != CRN_OK)
            return rc;
        t = cur;
        cur = other;
        other = t;
    }
    if (p.grayscale)
        crn_grayscale(cur);
    for (int i = 0; i < 3; i++) {
        if (p.order[i] == 0 && c->brightness > 0)
            crn_adjust_brightness(cur, p.brightness);
        else if (p.order[i] == 1 && c->contrast > 0)
            crn_adjust_contrast(cur, p.contrast);
        else if (p.order[i] == 2 && c->saturation > 0)
            crn_adjust_saturation(cur, p.saturation);
    }
    crn_to_tensor_normalize(cur, c->mean, c->std, out);
    return CRN_OK;
}

int crn_transform_file(const crn_transform_config *c, const char *path, uint64_t seed, uint64_t epoch,
                       uint64_t index, crn_transform_scratch *s, float *out, crn_error *err)
{
    int r = crn_transform_resize_target(c);
    int rc = crn_image_decode_file(path, c->dct_scaling ? r : 0, &s->decoded, &s->file_buf, &s->file_cap, err);
    if (rc != CRN_OK)
        return rc;
    rc = crn_transform_image(c, &s->decoded, seed, epoch, index, s, out, err);
    if (rc != CRN_OK)
        crn_error_prefix(err, "%s: ", path);
    return rc;
}
