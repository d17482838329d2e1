/* State dicts in safetensors with PyTorch's names (include/clresnet/nn/weights.h). */
#include "clresnet/nn/weights.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int read_all(crn_model *m, float **hp, float **hb, size_t *np, size_t *nb, crn_error *err)
{
    crn_model_params_buffer(m, np);
    crn_model_buffers_buffer(m, nb);
    *hp = malloc((*np ? *np : 1) * sizeof(float));
    *hb = malloc((*nb ? *nb : 1) * sizeof(float));
    if (!*hp || !*hb) return crn_fail(err, CRN_ENOMEM, "weights: out of host memory");
    return CRN_OK;
}

static int download(crn_model *m, cl_mem buf, float *host, size_t n, crn_error *err)
{
    return crn_buffer_read(crn_model_runtime(m), buf, 0, n * sizeof(float), host, true, "the model's weights", err);
}

static int upload(crn_model *m, cl_mem buf, const float *host, size_t n, crn_error *err)
{
    return crn_buffer_write(crn_model_runtime(m), buf, 0, n * sizeof(float), host, true, "the model's weights", err);
}

int crn_weights_add(crn_model *m, crn_st_writer *w, const char *prefix, crn_error *err)
{
    if (!prefix) prefix = "";
    float *hp = NULL, *hb = NULL;
    size_t np, nb;
    int rc = read_all(m, &hp, &hb, &np, &nb, err);
    if (rc == CRN_OK) rc = download(m, crn_model_params_buffer(m, NULL), hp, np, err);
    if (rc == CRN_OK) rc = download(m, crn_model_buffers_buffer(m, NULL), hb, nb, err);
    int count = crn_model_tensor_count(m);
    for (int i = 0; i < count && rc == CRN_OK; i++) {
        crn_param *p = crn_model_tensor(m, i);
        char name[256];
        snprintf(name, sizeof name, "%s%s", prefix, p->name);
        if (p->is_counter) {
            int64_t v = (int64_t)p->counter;
            rc = crn_st_writer_add(w, name, CRN_ST_I64, 0, NULL, &v, err);
        } else {
            const float *src = (p->trainable ? hp : hb) + p->offset;
            rc = crn_st_writer_add(w, name, CRN_ST_F32, p->ndim, p->shape, src, err);
        }
    }
    if (rc == CRN_OK && !*prefix) {
        const crn_model_config *c = crn_model_get_config(m);
        char buf[64];
        rc = crn_st_writer_meta(w, "model", crn_model_name(c->kind), err);
        if (rc == CRN_OK) rc = crn_st_writer_meta(w, "act", crn_act_name(c->act), err);
        if (rc == CRN_OK) rc = crn_st_writer_meta(w, "final_act", c->final_act ? "1" : "0", err);
        /* only when off: files of models with BN stay as they were */
        if (rc == CRN_OK && c->no_batchnorm) rc = crn_st_writer_meta(w, "batchnorm", "0", err);
        snprintf(buf, sizeof buf, "%.17g", c->width);
        if (rc == CRN_OK) rc = crn_st_writer_meta(w, "width", buf, err);
        snprintf(buf, sizeof buf, "%d", c->classes);
        if (rc == CRN_OK) rc = crn_st_writer_meta(w, "classes", buf, err);
        if (rc == CRN_OK) rc = crn_st_writer_meta(w, "format", "pt", err);
    }
    free(hp), free(hb);
    return rc;
}

int crn_weights_save(crn_model *m, const char *path, crn_error *err)
{
    crn_st_writer w;
    crn_st_writer_init(&w);
    int rc = crn_weights_add(m, &w, NULL, err);
    if (rc == CRN_OK) rc = crn_st_writer_save(&w, path, err);
    crn_st_writer_free(&w);
    if (rc != CRN_OK) crn_error_prefix(err, "saving weights to %s", path);
    return rc;
}

static void shape_str(char *buf, size_t n, int ndim, const size_t *shape)
{
    size_t at = 0;
    at += (size_t)snprintf(buf + at, n - at, "[");
    for (int i = 0; i < ndim && at < n; i++) at += (size_t)snprintf(buf + at, n - at, i ? ", %zu" : "%zu", shape[i]);
    if (at < n) snprintf(buf + at, n - at, "]");
}

/* The classifier to leave out of a load: the model's last two tensors (a
 * linear layer's weight [K, C] and bias [K]) when the file has them with
 * another class count K' (and the same C): info->head_replaced. */
static void find_head(crn_model *m, const crn_st_file *f, crn_init_info *info)
{
    int n = crn_model_tensor_count(m);
    if (n < 2) return;
    const crn_param *w = crn_model_tensor(m, n - 2), *b = crn_model_tensor(m, n - 1);
    if (w->ndim != 2 || b->ndim != 1 || b->shape[0] != w->shape[0]) return;
    const crn_st_tensor *fw = crn_st_find(f, w->name), *fb = crn_st_find(f, b->name);
    if (!fw || !fb || fw->ndim != 2 || fb->ndim != 1 || fw->shape[1] != w->shape[1] || fb->shape[0] != fw->shape[0] ||
        fw->shape[0] == w->shape[0])
        return;
    info->head_replaced = true;
    info->file_classes = (int)fw->shape[0];
    snprintf(info->head_weight, sizeof info->head_weight, "%s", w->name);
    snprintf(info->head_bias, sizeof info->head_bias, "%s", b->name);
}

static bool in_head(const crn_init_info *info, const char *name)
{
    return info && info->head_replaced && (!strcmp(name, info->head_weight) || !strcmp(name, info->head_bias));
}

static int load_file(crn_model *m, const crn_st_file *f, const char *prefix, crn_init_info *info, crn_error *err)
{
    if (!prefix) prefix = "";
    size_t plen = strlen(prefix);
    int count = crn_model_tensor_count(m);
    const char *model = crn_model_name(crn_model_get_config(m)->kind);
    /* Extra tensors first: a file for another model names its first stranger. */
    for (int t = 0; t < f->count; t++) {
        const char *nm = f->tensors[t].name;
        if (plen && strncmp(nm, prefix, plen) != 0) continue;
        if (!plen && !strncmp(nm, "optim.", 6)) continue; /* a checkpoint's optimiser state */
        if (crn_model_find(m, nm + plen) < 0)
            return crn_fail(err, CRN_EFORMAT, "%s: tensor '%s' is not part of %s (width %g)", f->path, nm, model,
                            crn_model_get_config(m)->width);
    }
    for (int i = 0; i < count; i++) {
        crn_param *p = crn_model_tensor(m, i);
        char name[256];
        snprintf(name, sizeof name, "%s%s", prefix, p->name);
        if (in_head(info, name)) continue;
        const crn_st_tensor *t = crn_st_find(f, name);
        if (!t) return crn_fail(err, CRN_EFORMAT, "%s: tensor '%s' of %s is missing", f->path, name, model);
        bool same = t->ndim == p->ndim;
        for (int d = 0; same && d < p->ndim; d++) same = t->shape[d] == p->shape[d];
        if (!same) {
            char want[96], got[96];
            shape_str(want, sizeof want, p->ndim, p->shape);
            shape_str(got, sizeof got, t->ndim, t->shape);
            return crn_fail(err, CRN_EFORMAT, "%s: tensor '%s' has shape %s, %s needs %s", f->path, name, got, model,
                            want);
        }
        bool ok = p->is_counter ? (t->dtype == CRN_ST_I64 || t->dtype == CRN_ST_I32)
                                : (t->dtype == CRN_ST_F32 || t->dtype == CRN_ST_F64);
        if (!ok)
            return crn_fail(err, CRN_EFORMAT, "%s: tensor '%s' is %s, expected %s", f->path, name,
                            crn_st_dtype_name(t->dtype), p->is_counter ? "I64" : "F32");
    }
    size_t np, nb;
    crn_model_params_buffer(m, &np);
    crn_model_buffers_buffer(m, &nb);
    float *hp = calloc(np ? np : 1, sizeof *hp), *hb = calloc(nb ? nb : 1, sizeof *hb);
    long long *counters = calloc(count > 0 ? (size_t)count : 1, sizeof *counters);
    int rc = CRN_OK;
    if (!hp || !hb || !counters) rc = crn_fail(err, CRN_ENOMEM, "weights: out of host memory");
    if (rc == CRN_OK && info && info->head_replaced) { /* the replaced classifier keeps its values */
        float *dp = malloc((np ? np : 1) * sizeof *dp);
        rc = dp ? download(m, crn_model_params_buffer(m, NULL), dp, np, err)
                : crn_fail(err, CRN_ENOMEM, "weights: out of host memory");
        for (int i = 0; rc == CRN_OK && i < count; i++) {
            crn_param *p = crn_model_tensor(m, i);
            if (in_head(info, p->name)) memcpy(hp + p->offset, dp + p->offset, p->numel * sizeof *hp);
        }
        free(dp);
    }
    int loaded = 0;
    for (int i = 0; i < count && rc == CRN_OK; i++) {
        crn_param *p = crn_model_tensor(m, i);
        char name[256];
        snprintf(name, sizeof name, "%s%s", prefix, p->name);
        if (in_head(info, name)) {
            counters[i] = p->counter;
            continue;
        }
        loaded++;
        const crn_st_tensor *t = crn_st_find(f, name);
        if (p->is_counter) {
            if (t->dtype == CRN_ST_I64) {
                int64_t v;
                memcpy(&v, t->data, 8); /* little-endian hosts */
                counters[i] = v;
            } else {
                int32_t v;
                memcpy(&v, t->data, 4);
                counters[i] = v;
            }
            if (counters[i] < 0)
                rc = crn_fail(err, CRN_EFORMAT, "%s: tensor '%s' is negative (%lld)", f->path, name, counters[i]);
        } else {
            rc = crn_st_get_f32(f, name, (p->trainable ? hp : hb) + p->offset, p->numel, err);
        }
    }
    if (rc == CRN_OK) rc = upload(m, crn_model_params_buffer(m, NULL), hp, np, err);
    if (rc == CRN_OK) rc = upload(m, crn_model_buffers_buffer(m, NULL), hb, nb, err);
    if (rc == CRN_OK)
        for (int i = 0; i < count; i++) {
            crn_param *p = crn_model_tensor(m, i);
            if (p->is_counter) p->counter = counters[i];
        }
    free(hp), free(hb), free(counters);
    if (rc == CRN_OK && info) {
        info->loaded = loaded;
        info->total = count;
    }
    return rc;
}

int crn_weights_load_file(crn_model *m, const crn_st_file *f, const char *prefix, crn_error *err)
{
    return load_file(m, f, prefix, NULL, err);
}

int crn_weights_load_init(crn_model *m, const crn_st_file *f, crn_init_info *info, crn_error *err)
{
    memset(info, 0, sizeof *info);
    find_head(m, f, info);
    return load_file(m, f, NULL, info, err);
}

int crn_weights_load(crn_model *m, const char *path, crn_error *err)
{
    crn_st_file f;
    int rc = crn_st_read(path, &f, err);
    if (rc != CRN_OK) return rc;
    rc = crn_weights_load_file(m, &f, NULL, err);
    crn_st_free(&f);
    return rc;
}
