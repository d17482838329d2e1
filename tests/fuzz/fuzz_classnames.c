/* libFuzzer harness for cat_to_name.json (Flowers-102 class names): the
 * first input byte picks the class count (1..102), the rest is written to a
 * temporary file and read with crn_read_class_names. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clresnet/data/flowers102.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    int classes = 1 + data[0] % 102;
    static char path[64];
    if (!path[0]) snprintf(path, sizeof path, "/tmp/clresnet-fuzz-names-%d.json", (int)getpid());
    FILE *fp = fopen(path, "wb");
    if (!fp) return 0;
    fwrite(data + 1, 1, size - 1, fp);
    fclose(fp);
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
