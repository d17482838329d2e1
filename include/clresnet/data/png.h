/* PNG decoding with libpng into 8-bit RGB, as PIL's Image.open(f).convert("RGB")
 * gives it (PIL 9.4, checked by tests/make_fixtures_png.py):
 *   - alpha (RGBA, gray+alpha, tRNS) is dropped, not composited;
 *   - palette images map through PLTE; an index past the PLTE entries is
 *     grey (i, i, i) as in PIL's default palette;
 *   - 1/2/4-bit gray is scaled to 0..255 (v * 255 / (2^bits - 1));
 *   - 16-bit RGB, RGBA and gray+alpha keep the high byte of each sample;
 *   - 16-bit gray (PIL mode "I") is clamped to 0..255, not shifted: values
 *     above 255 come out white, as PIL's I -> RGB conversion does;
 *   - interlaced (Adam7) images decode like the others.
 * Errors (bad signature, truncated data, a CRC error in any chunk read, zlib
 * errors in the image data) are returned naming the file; libpng's warnings
 * are ignored; ancillary chunks other than tRNS are skipped (CRC checked,
 * contents unused). Nothing exits or prints. */
#ifndef CLRESNET_PNG_H
#define CLRESNET_PNG_H

#include <stddef.h>
#include <stdint.h>

#include "clresnet/core/error.h"
#include "clresnet/data/image.h"

/* Decodes a whole PNG file held in buf at full size (the image buffer is
 * reused). name is used in messages (the file path). */
int crn_png_decode_mem(const uint8_t *buf, size_t len, const char *name, crn_image *out, crn_error *err);

#endif
