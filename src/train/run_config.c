/* config.json of a run folder (see run_config.h). */
#define _XOPEN_SOURCE 700 /* realpath */
#include "clresnet/train/run_config.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The changes already in the previous config.json, then c's, each with the
 * epoch and step it was made after. */
static json_t *changes_json(const crn_train_config *c, const char *previous, int epoch, long long step)
{
    json_t *prev = previous ? json_loads(previous, 0, NULL) : NULL;
    json_t *arr = prev ? json_object_get(prev, "changes") : NULL;
    arr = json_is_array(arr) ? json_deep_copy(arr) : json_array();
    if (prev) json_decref(prev);
    for (int i = 0; arr && i < c->nchanges; i++)
        json_array_append_new(arr, json_pack("{s:i,s:I,s:s,s:s,s:s}", "after_epoch", epoch, "after_step",
                                             (json_int_t)step, "setting", c->changes[i].setting, "from",
                                             c->changes[i].from, "to", c->changes[i].to));
    return arr;
}

/* The unreadable images a --skip-bad run leaves out, found by the data
 * check when it started (kept from the earlier config.json on resume). */
static json_t *skipped_json(const crn_train_config *c, const char *previous)
{
    if (!c->nbad_images && previous) {
        json_t *p = json_loads(previous, 0, NULL), *old = p ? json_object_get(p, "skipped_images") : NULL;
        json_t *kept = json_is_array(old) ? json_incref(old) : NULL;
        if (p) json_decref(p);
        if (kept) return kept;
    }
    json_t *a = json_array();
    for (size_t i = 0; i < c->nbad_images; i++) {
        const crn_bad_image *b = &c->bad_images[i];
        json_array_append_new(a, json_pack("{s:s,s:s,s:s}", "split", crn_split_name(b->split), "file", b->path,
                                           "reason", b->reason));
    }
    return a;
}

char *crn_run_config_json(const crn_train_config *c, const crn_dataset *ds, size_t params, const char *previous,
                          int epoch, long long step)
{
    json_t *o = json_object();
    /* absolute, so that --resume works from any working directory */
    char *abs = realpath(ds->root, NULL);
    json_object_set_new(o, "data", json_string(abs ? abs : ds->root));
    free(abs);
    /* an image folder has its own splits: no split mode */
    json_object_set_new(o, "split_mode", ds->kind == CRN_DATASET_FLOWERS102 ? json_string(crn_split_mode_name(c->split_mode))
                                                                             : json_null());
    json_object_set_new(o, "train_images", json_integer((json_int_t)ds->count[CRN_SPLIT_TRAIN]));
    json_object_set_new(o, "val_images", json_integer((json_int_t)ds->count[CRN_SPLIT_VAL]));
    json_object_set_new(o, "test_images", json_integer((json_int_t)ds->count[CRN_SPLIT_TEST]));
    json_object_set_new(o, "model", json_string(crn_model_name(c->model.kind)));
    json_object_set_new(o, "act", json_string(crn_act_name(c->model.act)));
    json_object_set_new(o, "final_act", json_boolean(c->model.final_act));
    json_object_set_new(o, "batchnorm", json_boolean(!c->model.no_batchnorm));
    json_object_set_new(o, "width", json_real(c->model.width));
    const char *frozen = crn_model_freeze_name(c->model.kind, c->model.freeze);
    json_object_set_new(o, "freeze", frozen ? json_string(frozen) : json_null());
    json_object_set_new(o, "classes", json_integer(ds->num_classes));
    json_object_set_new(o, "parameters", json_integer((json_int_t)params));
    json_object_set_new(o, "image_size", json_integer(c->transform.image_size));
    json_object_set_new(o, "resize", json_integer(crn_transform_resize_target(&c->transform)));
    json_object_set_new(o, "augment", json_boolean(c->transform.augment));
    json_object_set_new(o, "hflip", json_real(c->transform.hflip_p));
    json_object_set_new(o, "rotation", json_real(c->transform.rotation_deg));
    json_object_set_new(o, "grayscale", json_real(c->transform.grayscale_p));
    json_object_set_new(o, "brightness", json_real(c->transform.brightness));
    json_object_set_new(o, "contrast", json_real(c->transform.contrast));
    json_object_set_new(o, "saturation", json_real(c->transform.saturation));
    json_object_set_new(o, "batch_size", json_integer(c->batch_size));
    json_object_set_new(o, "epochs", json_integer(c->epochs));
    json_object_set_new(o, "max_steps", json_integer(c->max_steps));
    json_object_set_new(o, "seed", json_integer((json_int_t)c->seed));
    json_object_set_new(o, "shuffle", json_boolean(c->shuffle));
    /* the values used: 0 means one loader thread per core, the batch size */
    json_object_set_new(o, "workers", json_integer(crn_loader_worker_count(c->workers)));
    json_object_set_new(o, "eval_batch_size", json_integer(c->eval_batch_size ? c->eval_batch_size : c->batch_size));
    json_object_set_new(o, "skip_bad", json_boolean(c->skip_bad));
    json_object_set_new(o, "skipped_images", skipped_json(c, previous));
    json_object_set_new(o, "optimizer", json_string(crn_optim_name(c->optim.kind)));
    json_object_set_new(o, "lr", json_real(c->optim.lr));
    json_object_set_new(o, "head_lr", c->head_lr > 0 ? json_real(c->head_lr) : json_null());
    json_object_set_new(o, "betas", json_pack("[ff]", c->optim.beta1, c->optim.beta2));
    json_object_set_new(o, "eps", json_real(c->optim.eps));
    json_object_set_new(o, "weight_decay", json_real(c->optim.weight_decay));
    json_object_set_new(o, "momentum_decay", json_real(c->optim.momentum_decay));
    json_object_set_new(o, "momentum", json_real(c->optim.momentum));
    json_object_set_new(o, "plateau", json_pack("{s:f,s:i,s:f,s:i,s:f}", "factor", c->plateau.factor, "patience",
                                                c->plateau.patience, "threshold", c->plateau.threshold, "cooldown",
                                                c->plateau.cooldown, "min_lr", c->plateau.min_lr));
    json_object_set_new(o, "early_stop", json_pack("{s:i,s:f}", "patience", c->early_stop_patience, "threshold",
                                                   c->early_stop_threshold));
    json_object_set_new(o, "init", c->init_path ? json_string(c->init_path) : json_null());
    json_object_set_new(o, "device", json_string(c->device_desc ? c->device_desc : ""));
    json_object_set_new(o, "gemm_plan", c->gemm_plan ? json_string(c->gemm_plan) : json_null());
    json_object_set_new(o, "changes", changes_json(c, previous, epoch, step));
    /* numbers as people write them (0.1, not 0.10000000000000001) where
     * 15 digits give back the same doubles, else all 17: resume reads them */
    char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
    json_t *back = s ? json_loads(s, 0, NULL) : NULL;
    if (!back || !json_equal(o, back)) {
        free(s);
        s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    }
    if (back) json_decref(back);
    json_decref(o);
    return s;
}

static const char *str_of(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static void parse_model_and_data(json_t *o, crn_train_config *c)
{
    const char *split = json_string_value(json_object_get(o, "split_mode"));
    c->split_mode = split && !strcmp(split, "official") ? CRN_SPLITS_OFFICIAL : CRN_SPLITS_SEED;
    c->model.kind = (crn_model_kind)crn_model_parse(str_of(o, "model"));
    c->model.act = (crn_act_kind)crn_act_parse(str_of(o, "act"));
    c->model.final_act = json_is_true(json_object_get(o, "final_act"));
    c->model.no_batchnorm = json_is_false(json_object_get(o, "batchnorm"));
    c->model.width = json_number_value(json_object_get(o, "width"));
    /* runs from before --freeze have no "freeze": none */
    int frozen = crn_model_freeze_parse(c->model.kind, json_string_value(json_object_get(o, "freeze")));
    c->model.freeze = frozen > 0 ? frozen : 0;
    crn_transform_config *t = &c->transform;
    t->image_size = (int)json_integer_value(json_object_get(o, "image_size"));
    t->resize = (int)json_integer_value(json_object_get(o, "resize"));
    t->augment = json_is_true(json_object_get(o, "augment"));
    t->hflip_p = json_number_value(json_object_get(o, "hflip"));
    t->rotation_deg = json_number_value(json_object_get(o, "rotation"));
    t->grayscale_p = json_number_value(json_object_get(o, "grayscale"));
    t->brightness = json_number_value(json_object_get(o, "brightness"));
    t->contrast = json_number_value(json_object_get(o, "contrast"));
    t->saturation = json_number_value(json_object_get(o, "saturation"));
}

static void parse_schedule(json_t *o, crn_train_config *c)
{
    c->batch_size = (int)json_integer_value(json_object_get(o, "batch_size"));
    c->epochs = (int)json_integer_value(json_object_get(o, "epochs"));
    c->max_steps = json_integer_value(json_object_get(o, "max_steps"));
    c->seed = (uint64_t)json_integer_value(json_object_get(o, "seed"));
    c->shuffle = json_is_true(json_object_get(o, "shuffle"));
    c->workers = (int)json_integer_value(json_object_get(o, "workers"));
    c->eval_batch_size = (int)json_integer_value(json_object_get(o, "eval_batch_size"));
    c->skip_bad = json_is_true(json_object_get(o, "skip_bad"));
    c->optim = crn_optim_defaults((crn_optim_kind)crn_optim_parse(str_of(o, "optimizer")));
    c->optim.lr = json_number_value(json_object_get(o, "lr"));
    c->head_lr = json_number_value(json_object_get(o, "head_lr")); /* null or absent: 0 */
    json_t *betas = json_object_get(o, "betas");
    c->optim.beta1 = json_number_value(json_array_get(betas, 0));
    c->optim.beta2 = json_number_value(json_array_get(betas, 1));
    c->optim.eps = json_number_value(json_object_get(o, "eps"));
    c->optim.weight_decay = json_number_value(json_object_get(o, "weight_decay"));
    c->optim.momentum_decay = json_number_value(json_object_get(o, "momentum_decay"));
    c->optim.momentum = json_number_value(json_object_get(o, "momentum"));
    json_t *p = json_object_get(o, "plateau"), *e = json_object_get(o, "early_stop");
    c->plateau.factor = json_number_value(json_object_get(p, "factor"));
    c->plateau.patience = (int)json_integer_value(json_object_get(p, "patience"));
    c->plateau.threshold = json_number_value(json_object_get(p, "threshold"));
    c->plateau.cooldown = (int)json_integer_value(json_object_get(p, "cooldown"));
    c->plateau.min_lr = json_number_value(json_object_get(p, "min_lr"));
    c->early_stop_patience = (int)json_integer_value(json_object_get(e, "patience"));
    c->early_stop_threshold = json_number_value(json_object_get(e, "threshold"));
}

int crn_run_config_parse(const char *text, const char *path, crn_train_config *c, crn_run_config_strings *s,
                         crn_error *err)
{
    json_error_t je;
    json_t *o = json_loads(text, 0, &je);
    if (!o) return crn_fail(err, CRN_EFORMAT, "%s is not valid JSON: %s", path, je.text);
    const char *data = json_string_value(json_object_get(o, "data"));
    if (!json_is_object(o) || crn_model_parse(str_of(o, "model")) < 0 || crn_act_parse(str_of(o, "act")) < 0 ||
        crn_optim_parse(str_of(o, "optimizer")) < 0 || !data || json_integer_value(json_object_get(o, "epochs")) < 1 ||
        (json_is_string(json_object_get(o, "freeze")) &&
         crn_model_freeze_parse((crn_model_kind)crn_model_parse(str_of(o, "model")), str_of(o, "freeze")) < 0)) {
        json_decref(o);
        return crn_fail(err, CRN_EFORMAT, "%s is not the configuration of a clresnet run", path);
    }
    snprintf(s->data, sizeof s->data, "%s", data);
    c->data_root = s->data;
    /* runs from before plans were recorded have none: the device's plan */
    const char *plan = json_string_value(json_object_get(o, "gemm_plan"));
    snprintf(s->gemm_plan, sizeof s->gemm_plan, "%s", plan ? plan : "");
    c->gemm_plan = s->gemm_plan[0] ? s->gemm_plan : NULL;
    parse_model_and_data(o, c);
    parse_schedule(o, c);
    json_decref(o);
    return CRN_OK;
}
