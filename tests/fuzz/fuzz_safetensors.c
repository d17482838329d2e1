/* libFuzzer harness for safetensors reading: the input is written to a
 * temporary file (fuzz_tmp.h: in /dev/shm) and read with crn_st_read (header
 * length, JSON header, dtypes, shapes, offsets); what reads is then walked:
 * every tensor found by name and converted to float32, every metadata key
 * looked up. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "clresnet/io/safetensors.h"

#include "fuzz_tmp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_tmp_write("st.safetensors", data, size);
    if (!path) return 0;
    crn_error err;
    crn_st_file f;
    if (crn_st_read(path, &f, &err) != CRN_OK) return 0;
    for (int i = 0; i < f.count; i++) {
        const crn_st_tensor *t = crn_st_find(&f, f.tensors[i].name);
        if (!t) abort(); /* a tensor the file lists must be found by its name */
        size_t numel = 1; /* its element count is its shape's product, without wrapping around */
        for (int d = 0; d < t->ndim; d++)
            if (__builtin_mul_overflow(numel, t->shape[d], &numel)) abort();
        if (numel != t->numel || t->nbytes != numel * crn_st_dtype_size(t->dtype)) abort();
        if (t->numel <= ((size_t)1 << 20)) {
            float *buf = malloc((t->numel ? t->numel : 1) * sizeof *buf);
            if (buf) {
                if (crn_st_get_f32(&f, t->name, buf, t->numel, &err) != CRN_OK && t->dtype != CRN_ST_U8) abort();
                free(buf);
            }
        }
    }
    for (int i = 0; i < f.meta_count; i++)
        if (!crn_st_meta(&f, f.meta_keys[i])) abort();
    crn_st_free(&f);
    return 0;
}
