/* libFuzzer harness for checkpoint loading's metadata path: the input is
 * written to a temporary file (fuzz_tmp.h: in /dev/shm) and read with
 * crn_checkpoint_read_config (safetensors reading, the data and metadata
 * checksums when present, the model configuration and the run's config.json
 * text). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clresnet/train/checkpoint.h"

#include "fuzz_tmp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_tmp_write("ckpt.safetensors", data, size);
    if (!path) return 0;
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
