/* JPEG decoding with libjpeg into 8-bit RGB (interleaved, row-major).
 * Grayscale is replicated; CMYK and YCCK (Adobe inverted, as libjpeg
 * delivers them) are converted as PIL converts CMYK to RGB. libjpeg errors
 * and warnings (a truncated file, corrupt data) are caught and returned as
 * errors naming the file; nothing exits or prints. To take a JPEG or a
 * PNG, whichever the file is, use crn_image_decode_* (image.h). */
#ifndef CLRESNET_JPEG_H
#define CLRESNET_JPEG_H

#include <stddef.h>
#include <stdint.h>

#include "clresnet/core/error.h"
#include "clresnet/data/image.h" /* crn_image, crn_image_free, crn_image_reserve */

/* min_short: the smallest shorter side wanted after decoding. libjpeg's
 * DCT scaling (1/8 .. 8/8) picks the smallest scale whose shorter side is
 * still >= min_short; 0 decodes at full size. The image buffer is reused.
 * name is used in messages (the file path). */
int crn_jpeg_decode_mem(const uint8_t *buf, size_t len, int min_short, const char *name, crn_image *out,
                        crn_error *err);

/* Reads PATH (whole file) and decodes it; file_buf/file_cap is a reusable
 * read buffer (may be NULL pointers to start). */
int crn_jpeg_decode_file(const char *path, int min_short, crn_image *out, uint8_t **file_buf, size_t *file_cap,
                         crn_error *err);

#endif
