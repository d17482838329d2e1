/* Image folder dataset: ROOT/{train,val,test}/CLASS/NAME.{jpg,jpeg,png}. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "clresnet/data/imagefolder.h"
#include "clresnet/core/file_util.h"

typedef struct strlist {
    char **v;
    size_t n, cap;
} strlist;

static int sl_push(strlist *l, const char *s)
{
    if (l->n == l->cap) {
        size_t c = l->cap ? 2 * l->cap : 16;
        char **v = realloc(l->v, c * sizeof(char *));
        if (!v)
            return -1;
        l->v = v;
        l->cap = c;
    }
    if (!(l->v[l->n] = strdup(s)))
        return -1;
    l->n++;
    return 0;
}

static void sl_free(strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof(*l));
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* By name only: the decoder goes by the file's first bytes (image.h). */
static int is_image_name(const char *n)
{
    const char *dot = strrchr(n, '.');
    return dot && (strcasecmp(dot, ".jpg") == 0 || strcasecmp(dot, ".jpeg") == 0 || strcasecmp(dot, ".png") == 0);
}

/* Entries of dir (sorted): directories when want_dirs, else image files. */
static int list_dir(const char *dir, int want_dirs, strlist *out, crn_error *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return crn_fail(err, CRN_EIO, "%s: %s", dir, strerror(errno));
    struct dirent *e;
    int rc = CRN_OK;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char *p = crn_path_alloc("%s/%s", dir, e->d_name);
        if (!p) {
            rc = crn_fail(err, CRN_ENOMEM, "out of memory");
            break;
        }
        int ok = want_dirs ? is_dir(p) : (is_image_name(e->d_name) && !is_dir(p));
        free(p);
        if (ok && sl_push(out, e->d_name) != 0) {
            rc = crn_fail(err, CRN_ENOMEM, "out of memory");
            break;
        }
    }
    closedir(d);
    if (rc == CRN_OK && out->n > 1)
        qsort(out->v, out->n, sizeof(char *), cmp_str);
    return rc;
}

int crn_imagefolder_open(crn_dataset *ds, const char *root, crn_error *err)
{
    memset(ds, 0, sizeof(*ds));
    static const char *splits[3] = {"train", "val", "test"};
    strlist classes = {0};
    strlist per[3] = {{0}};
    int rc = CRN_OK;
    char path[CRN_PATH_MAX];
    for (int s = 0; s < 3 && rc == CRN_OK; s++) {
        if ((rc = crn_path_fmt(path, sizeof path, err, "%s/%s", root, splits[s])) != CRN_OK) break;
        if (!is_dir(path)) {
            rc = crn_fail(err, CRN_EFORMAT, "%s: missing split folder (an image folder needs train/, val/, test/)",
                          path);
            break;
        }
        rc = list_dir(path, 1, &per[s], err);
        for (size_t i = 0; rc == CRN_OK && i < per[s].n; i++)
            if (sl_push(&classes, per[s].v[i]) != 0)
                rc = crn_fail(err, CRN_ENOMEM, "out of memory");
    }
    if (rc != CRN_OK)
        goto out;
    if (classes.n > 1)
        qsort(classes.v, classes.n, sizeof(char *), cmp_str);
    size_t u = 0;
    for (size_t i = 0; i < classes.n; i++) {
        if (u > 0 && strcmp(classes.v[u - 1], classes.v[i]) == 0) {
            free(classes.v[i]);
            continue;
        }
        classes.v[u++] = classes.v[i];
    }
    classes.n = u;
    if (classes.n == 0) {
        rc = crn_fail(err, CRN_EFORMAT, "%s: no class folders under train/, val/, test/", root);
        goto out;
    }
    ds->kind = CRN_DATASET_IMAGEFOLDER;
    ds->root = strdup(root);
    ds->num_classes = (int)classes.n;
    ds->class_names = calloc(classes.n, sizeof(char *));
    if (!ds->class_names || !ds->root) {
        rc = crn_fail(err, CRN_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t c = 0; c < classes.n; c++) {
        ds->class_names[c] = classes.v[c];
        classes.v[c] = NULL;
    }
    for (int s = 0; s < 3 && rc == CRN_OK; s++) {
        size_t cap = 0;
        int id = 0;
        for (int c = 0; c < ds->num_classes && rc == CRN_OK; c++) {
            if ((rc = crn_path_fmt(path, sizeof path, err, "%s/%s/%s", root, splits[s], ds->class_names[c])) != CRN_OK)
                break;
            if (!is_dir(path))
                continue;
            strlist files = {0};
            rc = list_dir(path, 0, &files, err);
            for (size_t i = 0; rc == CRN_OK && i < files.n; i++) {
                if (ds->count[s] == cap) {
                    cap = cap ? 2 * cap : 64;
                    crn_sample *ns = realloc(ds->samples[s], cap * sizeof(crn_sample));
                    if (!ns) {
                        rc = crn_fail(err, CRN_ENOMEM, "out of memory");
                        break;
                    }
                    ds->samples[s] = ns;
                }
                char *p = crn_path_alloc("%s/%s", path, files.v[i]);
                if (!p) {
                    rc = crn_fail(err, CRN_ENOMEM, "out of memory");
                    break;
                }
                crn_sample *smp = &ds->samples[s][ds->count[s]++];
                smp->path = p;
                smp->label = c;
                smp->id = id++;
            }
            sl_free(&files);
        }
        if (rc == CRN_OK && ds->count[s] == 0)
            rc = crn_fail(err, CRN_EFORMAT, "%s/%s: split '%s' holds no .jpg, .jpeg or .png images", root,
                          splits[s], splits[s]);
    }
out:
    sl_free(&classes);
    for (int s = 0; s < 3; s++)
        sl_free(&per[s]);
    if (rc != CRN_OK)
        crn_dataset_free(ds);
    return rc;
}
