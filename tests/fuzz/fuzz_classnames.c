/* libFuzzer harness for cat_to_name.json (Flowers-102 class names): the
 * first input byte picks the class count (1..102), the rest is written to a
 * temporary file (fuzz_tmp.h: in /dev/shm) and read with crn_read_class_names. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clresnet/data/flowers102.h"

#include "fuzz_tmp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    int classes = 1 + data[0] % 102;
    const char *path = fuzz_tmp_write("names.json", data + 1, size - 1);
    if (!path) return 0;
    crn_error err;
    char **names = NULL;
    if (crn_read_class_names(path, classes, &names, &err) == CRN_OK) {
        for (int c = 0; c < classes; c++) {
            if (!names[c]) abort(); /* every class has a name */
            (void)strlen(names[c]);
            free(names[c]);
        }
        free(names);
    }
    return 0;
}
