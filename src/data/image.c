/* The image buffer, whole-file reads, and the JPEG / PNG dispatch by magic
 * bytes (a .jpg that is really a PNG, or the reverse, still decodes). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clresnet/data/image.h"
#include "clresnet/data/jpeg.h"
#include "clresnet/data/png.h"

void crn_image_free(crn_image *im)
{
    if (!im)
        return;
    free(im->data);
    memset(im, 0, sizeof(*im));
}

int crn_image_reserve(crn_image *im, int w, int h, crn_error *err)
{
    if (w <= 0 || h <= 0 || (size_t)w > ((size_t)1 << 30) / (size_t)h / 3)
        return crn_fail(err, CRN_EINVAL, "image size %dx%d is out of range", w, h);
    size_t need = (size_t)w * (size_t)h * 3;
    if (need > im->cap) {
        uint8_t *p = realloc(im->data, need);
        if (!p)
            return crn_fail(err, CRN_ENOMEM, "out of memory for a %dx%d image", w, h);
        im->data = p;
        im->cap = need;
    }
    im->w = w;
    im->h = h;
    return CRN_OK;
}

crn_image_format crn_image_sniff(const uint8_t *buf, size_t len)
{
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
    if (len >= 3 && buf[0] == 0xFF && buf[1] == 0xD8 && buf[2] == 0xFF)
        return CRN_IMAGE_JPEG;
    if (len >= 8 && memcmp(buf, png_sig, 8) == 0)
        return CRN_IMAGE_PNG;
    return CRN_IMAGE_UNKNOWN;
}

int crn_image_decode_mem(const uint8_t *buf, size_t len, int min_short, const char *name, crn_image *out,
                         crn_error *err)
{
    if (!name)
        name = "(memory)";
    switch (crn_image_sniff(buf, len)) {
    case CRN_IMAGE_JPEG:
        return crn_jpeg_decode_mem(buf, len, min_short, name, out, err);
    case CRN_IMAGE_PNG:
        return crn_png_decode_mem(buf, len, name, out, err); /* no DCT scaling in PNG */
    default:
        if (len == 0)
            return crn_fail(err, CRN_EFORMAT, "%s: empty file, not a JPEG or PNG image", name);
        return crn_fail(err, CRN_EFORMAT, "%s: not a JPEG or PNG image", name);
    }
}

int crn_image_read_file(const char *path, uint8_t **buf, size_t *cap, size_t *len, crn_error *err)
{
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return crn_fail(err, CRN_EIO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return crn_fail(err, CRN_EIO, "%s: not a regular file", path);
    }
    size_t n = (size_t)st.st_size;
    if (n > ((size_t)1 << 30)) {
        fclose(f);
        return crn_fail(err, CRN_EFORMAT, "%s: file too large for an image (%zu bytes)", path, n);
    }
    if (n > *cap) {
        uint8_t *p = realloc(*buf, n);
        if (!p) {
            fclose(f);
            return crn_fail(err, CRN_ENOMEM, "%s: out of memory", path);
        }
        *buf = p;
        *cap = n;
    }
    size_t got = n ? fread(*buf, 1, n, f) : 0;
    int ioerr = ferror(f);
    fclose(f);
    if (got != n || ioerr)
        return crn_fail(err, CRN_EIO, "%s: read error", path);
    *len = n;
    return CRN_OK;
}

int crn_image_decode_file(const char *path, int min_short, crn_image *out, uint8_t **file_buf, size_t *file_cap,
                          crn_error *err)
{
    size_t len;
    int rc = crn_image_read_file(path, file_buf, file_cap, &len, err);
    if (rc != CRN_OK)
        return rc;
    return crn_image_decode_mem(*file_buf, len, min_short, path, out, err);
}
