/* Oxford Flowers-102 in its official layout: ROOT/jpg/image_%05d.jpg,
 * ROOT/imagelabels.mat (variable `labels`, 1xN, classes 1..K) and
 * ROOT/setid.mat (`trnid`, `valid`, `tstid`: 1-based image ids), read with
 * libmatio (level 5, compressed or not, and v7.3/HDF5). The structure of a
 * level-5 file is checked first with our own code (every element fits, at
 * most 64 MiB per variable inflated, only real or complex numeric arrays),
 * then every value; an error names the file, the variable and the value.
 * Class names come from ROOT/cat_to_name.json ({"1": "pink primrose", ...})
 * when present. */
#ifndef CLRESNET_FLOWERS102_H
#define CLRESNET_FLOWERS102_H

#include <stddef.h>

#include "clresnet/data/dataset.h"
#include "clresnet/core/error.h"

#define CRN_FLOWERS102_CLASSES 102

/* Reads `labels` from PATH into a new array of *n 1-based labels; each must
 * be integral and in 1..num_classes. */
int crn_flowers102_read_labels(const char *path, int num_classes, int **labels, size_t *n, crn_error *err);

/* The three id lists of setid.mat, in file order. */
typedef struct crn_flowers102_setid {
    int *trnid, *valid, *tstid;
    size_t n_trn, n_val, n_tst;
} crn_flowers102_setid;

/* Reads setid.mat from PATH; every id must be integral and in 1..n_labels,
 * no id in two splits (or twice in one), no split empty. */
int crn_flowers102_read_setid(const char *path, size_t n_labels, crn_flowers102_setid *s, crn_error *err);
void crn_flowers102_setid_free(crn_flowers102_setid *s);

/* Class names from a cat_to_name.json: keys "1".."num_classes". On success
 * *names is a new array of num_classes strings (missing keys give NULL
 * entries is an error). */
int crn_read_class_names(const char *path, int num_classes, char ***names, crn_error *err);

int crn_flowers102_open(crn_dataset *ds, const char *root, const crn_dataset_options *opt, crn_error *err);

#endif
