/* libFuzzer harness for checkpoint loading's metadata path: the input is
 * written to a temporary file and read with crn_checkpoint_read_config
 * (safetensors reading, the data and metadata checksums when present, the
 * model configuration and the run's config.json text). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clresnet/train/checkpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    if (!path[0]) snprintf(path, sizeof path, "/tmp/clresnet-fuzz-ckpt-%d.safetensors", (int)getpid());
    FILE *fp = fopen(path, "wb");
    if (!fp) return 0;
    fwrite(data, 1, size, fp);
    fclose(fp);
    crn_error err = {0};
    crn_model_config cfg;
    char *run_config = NULL;
    if (crn_checkpoint_read_config(path, &cfg, &run_config, &err) == CRN_OK) {
        if (run_config) (void)strlen(run_config);
        free(run_config);
    } else if (!err.msg[0]) {
        abort(); /* an error always says why */
    }
    return 0;
}
