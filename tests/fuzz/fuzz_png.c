/* libFuzzer harness for the PNG path: the rest of the input after the first
 * byte is decoded from memory by crn_image_decode_mem (the magic-byte
 * dispatch that predict and the loader use; PNG seeds keep it on libpng),
 * then what decoded goes through the eval or training transforms (the first
 * byte's low bit). See tests/fuzz/README.md. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clresnet/data/image.h"
#include "clresnet/data/transforms.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static crn_image im;
    static crn_transform_scratch s;
    static float out[3 * 24 * 24];
    crn_error err;
    if (crn_image_decode_mem(data + 1, size - 1, 0, "fuzz", &im, &err) != CRN_OK)
        return 0;
    if ((size_t)im.w * (size_t)im.h > 4096 * 4096)
        return 0;
    crn_transform_config c;
    crn_transform_config_default(&c);
    c.image_size = 24;
    c.resize = 27;
    c.augment = data[0] & 1;
    crn_transform_image(&c, &im, 0, 0, size, &s, out, &err);
    return 0;
}
