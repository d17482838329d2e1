/* libpng decoding from memory into 8-bit RGB with PIL's convert("RGB")
 * results (see png.h). libpng reports errors through on_error, which
 * longjmps back to read_png; warnings (benign errors such as zlib data past
 * the image's end) are dropped. */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

#include "clresnet/data/png.h"

typedef struct png_src {
    const uint8_t *buf;
    size_t len, pos;
    char msg[256]; /* libpng's last error message */
} png_src;

static void on_error(png_structp png, png_const_charp msg)
{
    png_src *s = png_get_error_ptr(png);
    snprintf(s->msg, sizeof s->msg, "%s", msg ? msg : "libpng error");
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

static void on_read(png_structp png, png_bytep dst, size_t n)
{
    png_src *s = png_get_io_ptr(png);
    if (n > s->len - s->pos)
        png_error(png, "unexpected end of file (truncated)");
    memcpy(dst, s->buf + s->pos, n);
    s->pos += n;
}

/* PIL's palette: PLTE's entries, then grey (i, i, i) for indexes past them. */
static void map_palette(png_structp png, png_infop info, crn_image *out)
{
    uint8_t table[256][3];
    for (int i = 0; i < 256; i++)
        table[i][0] = table[i][1] = table[i][2] = (uint8_t)i;
    png_colorp plte = NULL;
    int n = 0;
    if (png_get_PLTE(png, info, &plte, &n) && plte) {
        for (int i = 0; i < n && i < 256; i++) {
            table[i][0] = plte[i].red;
            table[i][1] = plte[i].green;
            table[i][2] = plte[i].blue;
        }
    }
    /* in place, right to left: index x sits at byte x, its RGB goes to 3x.. */
    for (int y = 0; y < out->h; y++) {
        uint8_t *row = out->data + (size_t)y * (size_t)out->w * 3;
        for (int x = out->w - 1; x >= 0; x--) {
            const uint8_t *c = table[row[x]];
            row[3 * x + 0] = c[0];
            row[3 * x + 1] = c[1];
            row[3 * x + 2] = c[2];
        }
    }
}

/* PIL opens 16-bit gray as mode "I" and converts to RGB by clamping to
 * 0..255 (not by taking the high byte). Samples are big-endian. */
static void clamp_gray16(crn_image *out)
{
    for (int y = 0; y < out->h; y++) {
        uint8_t *row = out->data + (size_t)y * (size_t)out->w * 3;
        for (int x = out->w - 1; x >= 0; x--) {
            unsigned v = ((unsigned)row[2 * x] << 8) | row[2 * x + 1];
            uint8_t g = (uint8_t)(v > 255 ? 255 : v);
            row[3 * x + 0] = row[3 * x + 1] = row[3 * x + 2] = g;
        }
    }
}

/* Everything that may call png_error; runs under read_png's setjmp. */
static int read_image(png_structp png, png_infop info, png_src *src, const char *name, crn_image *out,
                      crn_error *err)
{
    png_set_read_fn(png, src, on_read);
    /* a CRC error in any chunk read is an error, as in PIL (libpng would
     * only warn for ancillary chunks) */
    png_set_crc_action(png, PNG_CRC_DEFAULT, PNG_CRC_ERROR_QUIT);
#ifdef PNG_HANDLE_AS_UNKNOWN_SUPPORTED
    /* skip every ancillary chunk but tRNS: none changes PIL's RGB, and
     * text, ICC and other compressed chunks are only attack surface */
    png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, NULL, -1);
#endif
#ifdef PNG_CHECK_FOR_INVALID_INDEX_SUPPORTED
    png_set_check_for_invalid_index(png, 0); /* out-of-range indexes are grey, as in PIL */
#endif
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    int depth = png_get_bit_depth(png, info), type = png_get_color_type(png, info);
    if (w == 0 || h == 0 || w > 65500 || h > 65500 || (size_t)w * h > ((size_t)1 << 28))
        return crn_fail(err, CRN_EFORMAT, "%s: PNG size %ux%u is out of range", name, (unsigned)w, (unsigned)h);
    int palette = type == PNG_COLOR_TYPE_PALETTE;
    int gray16 = type == PNG_COLOR_TYPE_GRAY && depth == 16;
    /* libpng delivers palette indexes (one byte each) and 16-bit gray as
     * they are, for the PIL mappings above; everything else as 8-bit RGB */
    if (palette) {
        if (depth < 8)
            png_set_packing(png);
    } else if (!gray16) {
        if (depth == 16)
            png_set_strip_16(png); /* the high byte, as PIL's "RGB;16B" unpackers */
        if (type & PNG_COLOR_MASK_ALPHA)
            png_set_strip_alpha(png);
        if (!(type & PNG_COLOR_MASK_COLOR)) {
            if (depth < 8)
                png_set_expand_gray_1_2_4_to_8(png);
            png_set_gray_to_rgb(png);
        }
    }
    int passes = png_set_interlace_handling(png);
    png_read_update_info(png, info);
    size_t row_bytes = palette ? w : gray16 ? 2 * (size_t)w : 3 * (size_t)w;
    if (png_get_rowbytes(png, info) != row_bytes)
        return crn_fail(err, CRN_EFORMAT, "%s: PNG (colour type %d, %d-bit) decodes to %zu bytes a row, not %zu",
                        name, type, depth, (size_t)png_get_rowbytes(png, info), row_bytes);
    crn_error e2;
    if (crn_image_reserve(out, (int)w, (int)h, &e2) != CRN_OK)
        return crn_fail(err, e2.code, "%s: %s", name, e2.msg);
    /* rows land at their RGB stride; an interlaced image's later passes fill
     * in the same rows */
    size_t stride = 3 * (size_t)w;
    for (int p = 0; p < passes; p++)
        for (png_uint_32 y = 0; y < h; y++)
            png_read_row(png, out->data + y * stride, NULL);
    /* png_read_end is not called: a missing IEND or trailing junk is
     * harmless once every row has decoded (PIL accepts those too) */
    if (palette)
        map_palette(png, info, out);
    else if (gray16)
        clamp_gray16(out);
    return CRN_OK;
}

static int read_png(png_structp png, png_infop info, png_src *src, const char *name, crn_image *out,
                    crn_error *err)
{
    if (setjmp(png_jmpbuf(png)))
        return crn_fail(err, CRN_EFORMAT, "%s: corrupt PNG: %s", name, src->msg);
    return read_image(png, info, src, name, out, err);
}

int crn_png_decode_mem(const uint8_t *buf, size_t len, const char *name, crn_image *out, crn_error *err)
{
    if (!name)
        name = "(memory)";
    if (len == 0)
        return crn_fail(err, CRN_EFORMAT, "%s: empty file, not a PNG image", name);
    if (len < 8 || png_sig_cmp(buf, 0, 8) != 0)
        return crn_fail(err, CRN_EFORMAT, "%s: not a PNG image (no PNG signature)", name);
    png_src src = {.buf = buf, .len = len, .pos = 0};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, on_error, on_warning);
    if (!png)
        return crn_fail(err, CRN_ENOMEM, "%s: cannot start libpng (out of memory)", name);
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return crn_fail(err, CRN_ENOMEM, "%s: out of memory", name);
    }
    int rc = read_png(png, info, &src, name, out, err);
    png_destroy_read_struct(&png, &info, NULL);
    return rc;
}
