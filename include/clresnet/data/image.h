/* Decoded images (8-bit RGB, interleaved, row-major) and the decode entry
 * that picks the format by the file's first bytes: JPEG (FF D8 FF, see
 * jpeg.h) or PNG (89 'PNG' 0D 0A 1A 0A, see png.h), whatever the file's
 * name says. Errors name the file; nothing exits or prints. */
#ifndef CLRESNET_IMAGE_H
#define CLRESNET_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "clresnet/core/error.h"

typedef struct crn_image {
    uint8_t *data; /* h * w * 3 bytes, RGB */
    int w, h;
    size_t cap;    /* bytes allocated: the buffer is reused when big enough */
} crn_image;

void crn_image_free(crn_image *im);
/* Makes room for w x h RGB (keeps the buffer when it is big enough). */
int crn_image_reserve(crn_image *im, int w, int h, crn_error *err);

typedef enum crn_image_format {
    CRN_IMAGE_UNKNOWN = 0,
    CRN_IMAGE_JPEG,
    CRN_IMAGE_PNG,
} crn_image_format;

/* The format the first bytes announce (CRN_IMAGE_UNKNOWN when neither). */
crn_image_format crn_image_sniff(const uint8_t *buf, size_t len);

/* Decodes a JPEG or PNG held in memory. min_short is the JPEG DCT-scaling
 * target (see crn_jpeg_decode_mem; 0: full size); PNG has no such scaling
 * and always decodes at full size. name is used in messages (the path).
 * Anything else fails with "NAME: not a JPEG or PNG image". */
int crn_image_decode_mem(const uint8_t *buf, size_t len, int min_short, const char *name, crn_image *out,
                         crn_error *err);

/* Reads PATH (whole file) and decodes it as above; file_buf/file_cap is a
 * reusable read buffer (may be NULL / 0 to start). */
int crn_image_decode_file(const char *path, int min_short, crn_image *out, uint8_t **file_buf, size_t *file_cap,
                          crn_error *err);

/* Reads a whole regular file (at most 1 GiB) into *buf (grown as needed,
 * capacity *cap); *len gets its size. */
int crn_image_read_file(const char *path, uint8_t **buf, size_t *cap, size_t *len, crn_error *err);

#endif
