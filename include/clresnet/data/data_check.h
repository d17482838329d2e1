/* Every image of a dataset decoded once before a run starts, so that all
 * unreadable files are named together, before any run folder or device
 * work, instead of one at a time mid-run. */
#ifndef CLRESNET_DATA_DATA_CHECK_H
#define CLRESNET_DATA_DATA_CHECK_H

#include <stddef.h>

#include "clresnet/data/dataset.h"

typedef struct crn_bad_image {
    crn_split split;
    const char *path;  /* the sample's path (points into the dataset) */
    char reason[256];  /* the decoder's message */
} crn_bad_image;

typedef struct crn_data_check {
    crn_bad_image *bad; /* in split, then sample order */
    size_t nbad;
    size_t checked;     /* images decoded */
} crn_data_check;

/* Decodes every sample of every split as the loader would (JPEG DCT scaling
 * to min_short, see crn_image_decode_file) on `workers` threads (0: one per
 * core). Unreadable images are listed in out, not errors; the return is an
 * error only for what stops the check itself (memory, threads). */
int crn_data_check_run(const crn_dataset *ds, int min_short, int workers, crn_data_check *out, crn_error *err);
void crn_data_check_free(crn_data_check *c);

#endif
