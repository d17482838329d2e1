/* libjpeg decoding with a setjmp error manager; warnings count as errors
 * (a truncated file only warns in libjpeg and would otherwise come back grey). */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

#include "clresnet/data/jpeg.h"

typedef struct err_mgr {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
    int failed;
} err_mgr;

static void on_error(j_common_ptr cinfo)
{
    err_mgr *e = (err_mgr *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, e->msg);
    e->failed = 1;
    longjmp(e->jb, 1);
}

static void on_message(j_common_ptr cinfo, int level)
{
    if (level < 0) { /* a warning: corrupt or truncated data */
        err_mgr *e = (err_mgr *)cinfo->err;
        (*cinfo->err->format_message)(cinfo, e->msg);
        e->failed = 1;
        longjmp(e->jb, 1);
    }
}

static void on_output(j_common_ptr cinfo)
{
    (void)cinfo;
}

/* PIL's CMYK -> RGB on PIL's (non-inverted) CMYK values. */
static inline uint8_t cmyk_chan(int c, int k)
{
    int nk = 255 - k;
    int tmp = c * nk + 128;
    int v = nk - (((tmp >> 8) + tmp) >> 8);
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

static int decode(const uint8_t *buf, size_t len, int min_short, const char *name, crn_image *out, crn_error *err)
{
    if (len == 0)
        return crn_fail(err, CRN_EFORMAT, "%s: empty file, not a JPEG image", name);
    if (len < 3 || buf[0] != 0xFF || buf[1] != 0xD8)
        return crn_fail(err, CRN_EFORMAT, "%s: not a JPEG image (no SOI marker)", name);
    struct jpeg_decompress_struct cinfo;
    err_mgr em;
    memset(&em, 0, sizeof(em));
    cinfo.err = jpeg_std_error(&em.pub);
    em.pub.error_exit = on_error;
    em.pub.emit_message = on_message;
    em.pub.output_message = on_output;
    JSAMPROW row = NULL;
    /* volatile: read after longjmp */
    uint8_t *volatile rowbuf = NULL;
    if (setjmp(em.jb)) {
        jpeg_destroy_decompress(&cinfo);
        free(rowbuf);
        return crn_fail(err, CRN_EFORMAT, "%s: corrupt JPEG: %s", name, em.msg);
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, (const unsigned char *)buf, (unsigned long)len);
    jpeg_read_header(&cinfo, TRUE);
    int cmyk = 0;
    switch (cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE:
    case JCS_YCbCr:
    case JCS_RGB:
        cinfo.out_color_space = JCS_RGB;
        break;
    case JCS_CMYK:
    case JCS_YCCK:
        cinfo.out_color_space = JCS_CMYK;
        cmyk = 1;
        break;
    default:
        jpeg_destroy_decompress(&cinfo);
        return crn_fail(err, CRN_EFORMAT, "%s: unsupported JPEG colour space %d", name, (int)cinfo.jpeg_color_space);
    }
    if (cinfo.image_width == 0 || cinfo.image_height == 0 || cinfo.image_width > 65500 || cinfo.image_height > 65500 ||
        (size_t)cinfo.image_width * cinfo.image_height > ((size_t)1 << 28)) {
        jpeg_destroy_decompress(&cinfo);
        return crn_fail(err, CRN_EFORMAT, "%s: JPEG size %ux%u is out of range", name, cinfo.image_width,
                        cinfo.image_height);
    }
    cinfo.scale_num = 8;
    cinfo.scale_denom = 8;
    if (min_short > 0) {
        /* smallest scale num/8 whose shorter side still covers min_short */
        for (unsigned num = 1; num <= 8; num++) {
            cinfo.scale_num = num;
            jpeg_calc_output_dimensions(&cinfo);
            unsigned s = cinfo.output_width < cinfo.output_height ? cinfo.output_width : cinfo.output_height;
            if (s >= (unsigned)min_short)
                break;
        }
    }
    jpeg_start_decompress(&cinfo);
    int w = (int)cinfo.output_width, h = (int)cinfo.output_height;
    int comps = cinfo.output_components;
    crn_error e2;
    if (crn_image_reserve(out, w, h, &e2) != CRN_OK) {
        jpeg_destroy_decompress(&cinfo);
        return crn_fail(err, e2.code, "%s: %s", name, e2.msg);
    }
    if (cmyk) {
        rowbuf = malloc((size_t)w * (size_t)comps);
        if (!rowbuf) {
            jpeg_destroy_decompress(&cinfo);
            return crn_fail(err, CRN_ENOMEM, "%s: out of memory", name);
        }
    }
    /* PIL reads Adobe CMYK as inverted ("CMYK;I"): raw value = 255 - C */
    int inverted = cinfo.saw_Adobe_marker;
    while (cinfo.output_scanline < cinfo.output_height) {
        uint8_t *dst = out->data + (size_t)cinfo.output_scanline * (size_t)w * 3;
        row = cmyk ? rowbuf : dst;
        jpeg_read_scanlines(&cinfo, &row, 1);
        if (cmyk) {
            for (int x = 0; x < w; x++) {
                const uint8_t *p = rowbuf + 4 * x;
                int c = p[0], m = p[1], y = p[2], k = p[3];
                if (inverted) {
                    c = 255 - c; m = 255 - m; y = 255 - y; k = 255 - k;
                }
                dst[3 * x + 0] = cmyk_chan(c, k);
                dst[3 * x + 1] = cmyk_chan(m, k);
                dst[3 * x + 2] = cmyk_chan(y, k);
            }
        }
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    free(rowbuf);
    return CRN_OK;
}

int crn_jpeg_decode_mem(const uint8_t *buf, size_t len, int min_short, const char *name, crn_image *out,
                        crn_error *err)
{
    return decode(buf, len, min_short, name ? name : "(memory)", out, err);
}

int crn_jpeg_decode_file(const char *path, int min_short, crn_image *out, uint8_t **file_buf, size_t *file_cap,
                         crn_error *err)
{
    size_t len;
    int rc = crn_image_read_file(path, file_buf, file_cap, &len, err);
    if (rc != CRN_OK)
        return rc;
    return crn_jpeg_decode_mem(*file_buf, len, min_short, path, out, err);
}
