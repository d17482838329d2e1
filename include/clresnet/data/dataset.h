/* Datasets: a list of samples (image path, 0-based class) per split, the
 * class count and optional class names. Two kinds: Flowers-102 in its
 * official layout (flowers102.h) and an image folder (imagefolder.h);
 * crn_dataset_open picks the kind from what ROOT holds. */
#ifndef CLRESNET_DATASET_H
#define CLRESNET_DATASET_H

#include <stddef.h>

#include "clresnet/core/error.h"

typedef enum { CRN_SPLIT_TRAIN = 0, CRN_SPLIT_VAL = 1, CRN_SPLIT_TEST = 2, CRN_SPLIT_COUNT = 3 } crn_split;

/* Flowers-102 split modes: `seed` (as tools/seed_torch.py: train on tstid, validate
 * on valid, test on trnid) and `official` (train on trnid, validate on
 * valid, test on tstid). */
typedef enum { CRN_SPLITS_SEED = 0, CRN_SPLITS_OFFICIAL = 1 } crn_split_mode;

typedef enum { CRN_DATASET_FLOWERS102 = 0, CRN_DATASET_IMAGEFOLDER = 1 } crn_dataset_kind;

typedef struct crn_sample {
    char *path;  /* full path of the image file */
    int label;   /* 0-based class */
    int id;      /* Flowers-102 image id (1-based), or the position in the folder listing */
} crn_sample;

typedef struct crn_dataset {
    crn_dataset_kind kind;
    char *root;
    crn_sample *samples[CRN_SPLIT_COUNT];
    size_t count[CRN_SPLIT_COUNT];
    int num_classes;
    char **class_names; /* num_classes strings, or NULL when the dataset has none */
} crn_dataset;

typedef struct crn_dataset_options {
    crn_split_mode split_mode; /* Flowers-102 only; default CRN_SPLITS_SEED */
    int num_classes;           /* Flowers-102: labels must lie in 1..num_classes; 0 means 102 */
} crn_dataset_options;

void crn_dataset_options_default(crn_dataset_options *opt);

/* Opens ROOT: Flowers-102 when ROOT/imagelabels.mat exists, else an image
 * folder when ROOT/train exists; otherwise an error naming ROOT. opt may be
 * NULL (defaults). On failure *ds is left empty (safe to free). */
int crn_dataset_open(crn_dataset *ds, const char *root, const crn_dataset_options *opt, crn_error *err);
void crn_dataset_free(crn_dataset *ds);

const char *crn_split_name(crn_split s); /* "train", "val", "test" */
const char *crn_split_mode_name(crn_split_mode mode); /* "seed", "official" */
int crn_split_mode_parse(const char *name, crn_split_mode *mode); /* "seed"/"official"; CRN_OK or CRN_EINVAL */

/* The display name of 0-based class c: the flower name when known, else its
 * 1-based number ("77"). buf must hold at least 16 bytes; the returned
 * pointer is either a class name or buf. */
const char *crn_dataset_class_name(const crn_dataset *ds, int c, char *buf, size_t bufsize);

/* Checks that every sample's file exists and is a regular file; the error
 * names the first missing one and how many are missing in all. */
int crn_dataset_check_files(const crn_dataset *ds, crn_error *err);

/* Samples per class of a split into counts[num_classes]. */
void crn_dataset_class_counts(const crn_dataset *ds, crn_split s, size_t *counts);

#endif
