/* libFuzzer harness for the .mat path: the input is written to a temporary
 * file (fuzz_tmp.h: in /dev/shm) and read as imagelabels.mat and as
 * setid.mat. See tests/fuzz/README.md. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clresnet/data/flowers102.h"

#include "fuzz_tmp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_tmp_write("input.mat", data, size);
    if (!path)
        return 0;
    crn_error err;
    int *labels = NULL;
    size_t n = 0;
    if (crn_flowers102_read_labels(path, 102, &labels, &n, &err) == CRN_OK)
        free(labels);
    crn_flowers102_setid s;
    if (crn_flowers102_read_setid(path, 8189, &s, &err) == CRN_OK)
        crn_flowers102_setid_free(&s);
    return 0;
}
