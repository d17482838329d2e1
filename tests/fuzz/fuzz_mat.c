/* libFuzzer harness for the .mat path: the input is written to a temporary
 * file and read as imagelabels.mat and as setid.mat. See tests/fuzz/README.md. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clresnet/data/flowers102.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    if (!path[0])
        snprintf(path, sizeof path, "/tmp/clresnet-fuzz-mat-%d.mat", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
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
