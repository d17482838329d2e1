/* Dataset common code: kind detection, freeing, names and counts. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clresnet/data/dataset.h"
#include "clresnet/core/file_util.h"
#include "clresnet/data/flowers102.h"
#include "clresnet/data/imagefolder.h"

void crn_dataset_options_default(crn_dataset_options *opt)
{
    memset(opt, 0, sizeof(*opt));
    opt->split_mode = CRN_SPLITS_SEED;
    opt->num_classes = 0;
}

static int exists(const char *path, int want_dir)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return 0;
    return want_dir ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode);
}

int crn_dataset_open(crn_dataset *ds, const char *root, const crn_dataset_options *opt, crn_error *err)
{
    memset(ds, 0, sizeof(*ds));
    if (!root || !*root)
        return crn_fail(err, CRN_EINVAL, "dataset: no data folder given");
    if (!exists(root, 1))
        return crn_fail(err, CRN_EIO, "%s: not a folder (expected Flowers-102's jpg/, imagelabels.mat, setid.mat, "
                                      "or an image folder with train/, val/, test/)", root);
    char *mat = crn_path_alloc("%s/imagelabels.mat", root), *train = crn_path_alloc("%s/train", root);
    int flowers = mat && (exists(mat, 1) || exists(mat, 0)), folder = train && exists(train, 1);
    bool oom = !mat || !train;
    free(mat), free(train);
    if (oom) return crn_fail(err, CRN_ENOMEM, "out of memory");
    if (flowers)
        return crn_flowers102_open(ds, root, opt, err);
    if (folder)
        return crn_imagefolder_open(ds, root, err);
    return crn_fail(err, CRN_EFORMAT,
                    "%s: neither Flowers-102 (no imagelabels.mat) nor an image folder (no train/ folder)", root);
}

void crn_dataset_free(crn_dataset *ds)
{
    if (!ds)
        return;
    for (int s = 0; s < CRN_SPLIT_COUNT; s++) {
        for (size_t i = 0; i < ds->count[s]; i++)
            free(ds->samples[s][i].path);
        free(ds->samples[s]);
    }
    if (ds->class_names) {
        for (int c = 0; c < ds->num_classes; c++)
            free(ds->class_names[c]);
        free(ds->class_names);
    }
    free(ds->root);
    memset(ds, 0, sizeof(*ds));
}

const char *crn_split_name(crn_split s)
{
    switch (s) {
    case CRN_SPLIT_TRAIN: return "train";
    case CRN_SPLIT_VAL: return "val";
    case CRN_SPLIT_TEST: return "test";
    default: return "?";
    }
}

const char *crn_split_mode_name(crn_split_mode mode) { return mode == CRN_SPLITS_SEED ? "seed" : "official"; }

int crn_split_mode_parse(const char *name, crn_split_mode *mode)
{
    if (name && strcmp(name, "seed") == 0) {
        *mode = CRN_SPLITS_SEED;
        return CRN_OK;
    }
    if (name && strcmp(name, "official") == 0) {
        *mode = CRN_SPLITS_OFFICIAL;
        return CRN_OK;
    }
    return CRN_EINVAL;
}

const char *crn_dataset_class_name(const crn_dataset *ds, int c, char *buf, size_t bufsize)
{
    if (ds->class_names && c >= 0 && c < ds->num_classes && ds->class_names[c])
        return ds->class_names[c];
    snprintf(buf, bufsize, "%d", c + 1);
    return buf;
}

void crn_dataset_class_counts(const crn_dataset *ds, crn_split s, size_t *counts)
{
    memset(counts, 0, sizeof(size_t) * (size_t)ds->num_classes);
    for (size_t i = 0; i < ds->count[s]; i++) {
        int l = ds->samples[s][i].label;
        if (l >= 0 && l < ds->num_classes)
            counts[l]++;
    }
}

int crn_dataset_check_files(const crn_dataset *ds, crn_error *err)
{
    size_t missing = 0;
    const char *first = NULL;
    crn_split first_split = CRN_SPLIT_TRAIN;
    for (int s = 0; s < CRN_SPLIT_COUNT; s++)
        for (size_t i = 0; i < ds->count[s]; i++)
            if (!exists(ds->samples[s][i].path, 0)) {
                if (!first) {
                    first = ds->samples[s][i].path;
                    first_split = (crn_split)s;
                }
                missing++;
            }
    if (missing)
        return crn_fail(err, CRN_EIO, "%s: missing image (%s split); %zu image(s) missing in all", first,
                        crn_split_name(first_split), missing);
    return CRN_OK;
}
