/* Reading a run folder's per-epoch log back, for reports and comparisons. */
#include "clresnet/eval/run_log.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "clresnet/core/file_util.h"

int crn_run_log_read(const char *path, crn_epoch_record *out, int max, crn_error *err)
{
    char p[CRN_PATH_MAX];
    int rc = crn_path_fmt(p, sizeof p, err, "%s/log.jsonl", path);
    if (rc) return rc;
    FILE *f = fopen(p, "r");
    if (!f) return crn_fail(err, CRN_EIO, "%s: %s", p, strerror(errno));
    char line[8192];
    int n = 0, lineno = 0;
    while (n < max && fgets(line, sizeof line, f)) {
        lineno++;
        json_error_t je;
        json_t *o = json_loads(line, 0, &je);
        if (!o || !json_is_object(o)) {
            if (o) json_decref(o);
            fclose(f);
            return crn_fail(err, CRN_EFORMAT, "%s:%d: not a JSON object", p, lineno);
        }
        crn_epoch_record *e = &out[n++];
        memset(e, 0, sizeof *e);
        e->epoch = (int)json_integer_value(json_object_get(o, "epoch"));
        e->train_loss = json_number_value(json_object_get(o, "train_loss"));
        e->train_acc = json_number_value(json_object_get(o, "train_acc"));
        e->val_loss = json_number_value(json_object_get(o, "val_loss"));
        e->val_acc = json_number_value(json_object_get(o, "val_acc"));
        e->lr = json_number_value(json_object_get(o, "lr"));
        e->seconds = json_number_value(json_object_get(o, "seconds"));
        e->train_images_per_s = json_number_value(json_object_get(o, "train_images_per_s"));
        e->best = json_is_true(json_object_get(o, "best"));
        json_t *t5 = json_object_get(o, "val_top5");
        e->val_top5 = json_is_number(t5) ? json_number_value(t5) : -1;
        json_decref(o);
    }
    fclose(f);
    return n;
}

json_t *crn_run_json(const char *run_dir, const char *name)
{
    char p[CRN_PATH_MAX];
    if (crn_path_fmt(p, sizeof p, NULL, "%s/%s", run_dir, name) != CRN_OK) return NULL;
    json_error_t je;
    json_t *o = json_load_file(p, 0, &je);
    if (o && !json_is_object(o)) {
        json_decref(o);
        o = NULL;
    }
    return o;
}
