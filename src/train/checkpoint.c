#include "clresnet/train/checkpoint.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <errno.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

#include "clresnet/core/file_util.h"
#include "clresnet/core/hash.h"
#include "clresnet/io/safetensors.h"
#include "clresnet/nn/weights.h"

static const char FORMAT[] = "checkpoint-1"; /* metadata "clresnet" */

#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 4, 5)))
#endif
static int meta(crn_st_writer *w, const char *key, crn_error *err, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return crn_st_writer_meta(w, key, buf, err);
}

/* A checksum over every tensor's bytes, in file order: a flipped byte in
 * the data is caught (the JSON header is checked by parsing). */
static uint64_t data_checksum(const crn_st_tensor *ts, int n)
{
    uint64_t h = CRN_FNV1A64_INIT;
    for (int i = 0; i < n; i++) {
        h = crn_fnv1a64(h, ts[i].name, strlen(ts[i].name));
        h = crn_fnv1a64(h, ts[i].data, ts[i].nbytes);
    }
    return h;
}

/* A checksum over the metadata (run state, configuration), whatever order
 * the JSON header lists it in: a changed digit of the step or the lr is
 * caught like a flipped bit in the data. */
static uint64_t meta_checksum(char *const *keys, char *const *values, int n)
{
    uint64_t sum = 0;
    for (int i = 0; i < n; i++) {
        if (!strcmp(keys[i], "checksum") || !strcmp(keys[i], "meta_checksum")) continue;
        uint64_t h = crn_fnv1a64(CRN_FNV1A64_INIT, keys[i], strlen(keys[i]) + 1);
        sum += crn_fnv1a64(h, values[i], strlen(values[i]));
    }
    return sum;
}

static int put_model_config(crn_st_writer *w, const crn_model_config *c, crn_error *err)
{
    /* model, act, final_act, width and classes come with the weights */
    int rc = crn_st_writer_meta(w, "clresnet", FORMAT, err);
    if (rc == CRN_OK) rc = meta(w, "image_size", err, "%d", c->image_size);
    return rc;
}

int crn_checkpoint_save(const char *path, crn_model *m, crn_optimizer *opt, const crn_run_state *st,
                        const char *config_json, crn_error *err)
{
    crn_st_writer w;
    crn_st_writer_init(&w);
    int rc = crn_weights_add(m, &w, NULL, err);
    if (rc == CRN_OK && opt) {
        crn_optim_state os;
        crn_optim_get_state(opt, &os);
        size_t n = 0;
        crn_model_params_buffer(m, &n);
        float *host = malloc((n ? n : 1) * sizeof *host);
        if (!host) rc = crn_fail(err, CRN_ENOMEM, "out of host memory");
        crn_runtime *rt = crn_model_runtime(m);
        for (int i = 0; rc == CRN_OK && i < os.buffer_count; i++) {
            rc = crn_buffer_read(rt, os.buffers[i], 0, n * sizeof *host, host, true, "the optimiser state", err);
            char name[128];
            snprintf(name, sizeof name, "optim.%s", os.buffer_names[i]);
            if (rc == CRN_OK) rc = crn_st_writer_add(&w, name, CRN_ST_F32, 1, &n, host, err);
        }
        free(host);
        if (rc == CRN_OK) rc = meta(&w, "optim.kind", err, "%s", crn_optim_name(crn_optim_get_config(opt)->kind));
        if (rc == CRN_OK) rc = meta(&w, "optim.step", err, "%lld", os.step);
        if (rc == CRN_OK) rc = meta(&w, "optim.mu_product", err, "%.17g", os.mu_product);
    }
    if (rc == CRN_OK) rc = put_model_config(&w, crn_model_get_config(m), err);
    if (rc == CRN_OK && st) {
        const crn_plateau *p = &st->plateau;
        rc = meta(&w, "run.epoch", err, "%d", st->epoch);
        if (rc == CRN_OK) rc = meta(&w, "run.step", err, "%lld", st->step);
        if (rc == CRN_OK) rc = meta(&w, "run.epoch_batches", err, "%lld", st->epoch_batches);
        if (rc == CRN_OK) rc = meta(&w, "run.epoch_position", err, "%lld", st->epoch_position);
        if (rc == CRN_OK)
            rc = meta(&w, "run.epoch_sums", err, "%.17g %.17g %.17g %.17g", st->epoch_loss_sum, st->epoch_correct,
                      st->epoch_seen, st->epoch_seconds);
        if (rc == CRN_OK) rc = meta(&w, "run.lr", err, "%.17g", st->lr);
        if (rc == CRN_OK && st->head_lr > 0) rc = meta(&w, "run.head_lr", err, "%.17g", st->head_lr);
        if (rc == CRN_OK)
            rc = meta(&w, "run.plateau", err, "%.17g %d %.17g %d %.17g %.17g %.17g %d %d %d", p->factor, p->patience,
                      p->threshold, p->cooldown, p->min_lr, p->eps, p->best, p->num_bad_epochs, p->cooldown_counter,
                      p->last_epoch);
        if (rc == CRN_OK)
            rc = meta(&w, "run.early_stop", err, "%d %.17g %.17g %d", st->early.patience, st->early.threshold,
                      st->early.best, st->early.bad_epochs);
        if (rc == CRN_OK) rc = meta(&w, "run.best_epoch", err, "%d", st->best_epoch);
        if (rc == CRN_OK) rc = meta(&w, "run.seed", err, "%" PRIu64, st->seed);
        if (rc == CRN_OK) rc = meta(&w, "run.data_checksum", err, "%016" PRIx64, st->data_checksum);
    }
    if (rc == CRN_OK && config_json) rc = crn_st_writer_meta(&w, "config", config_json, err);
    if (rc == CRN_OK)
        rc = meta(&w, "meta_checksum", err, "%016" PRIx64, meta_checksum(w.meta_keys, w.meta_values, w.meta_count));
    if (rc == CRN_OK) rc = meta(&w, "checksum", err, "%016" PRIx64, data_checksum(w.tensors, w.count));
    if (rc == CRN_OK) rc = crn_st_writer_save(&w, path, err);
    crn_st_writer_free(&w);
    return rc;
}

static int need(const crn_st_file *f, const char *key, const char **v, crn_error *err)
{
    *v = crn_st_meta(f, key);
    if (!*v) return crn_fail(err, CRN_EFORMAT, "%s: checkpoint metadata '%s' is missing", f->path, key);
    return CRN_OK;
}

static int read_config(const crn_st_file *f, crn_model_config *c, crn_error *err)
{
    const char *v;
    int rc = need(f, "clresnet", &v, err);
    if (rc != CRN_OK) return crn_fail(err, CRN_EFORMAT, "%s is not a clresnet checkpoint", f->path);
    if (strcmp(v, FORMAT) != 0)
        return crn_fail(err, CRN_EFORMAT, "%s: unsupported checkpoint format '%s' (want %s)", f->path, v, FORMAT);
    memset(c, 0, sizeof *c);
    int kind, act;
    if ((rc = need(f, "model", &v, err)) != CRN_OK) return rc;
    if ((kind = crn_model_parse(v)) < 0) return crn_fail(err, CRN_EFORMAT, "%s: unknown model '%s'", f->path, v);
    if ((rc = need(f, "act", &v, err)) != CRN_OK) return rc;
    if ((act = crn_act_parse(v)) < 0) return crn_fail(err, CRN_EFORMAT, "%s: unknown activation '%s'", f->path, v);
    c->kind = (crn_model_kind)kind;
    c->act = (crn_act_kind)act;
    if ((rc = need(f, "final_act", &v, err)) != CRN_OK) return rc;
    c->final_act = atoi(v) != 0;
    if ((rc = need(f, "classes", &v, err)) != CRN_OK) return rc;
    c->classes = atoi(v);
    if ((rc = need(f, "image_size", &v, err)) != CRN_OK) return rc;
    c->image_size = atoi(v);
    if ((rc = need(f, "width", &v, err)) != CRN_OK) return rc;
    c->width = strtod(v, NULL);
    v = crn_st_meta(f, "batchnorm");
    c->no_batchnorm = v && !strcmp(v, "0");
    return CRN_OK;
}

static int open_checked(const char *path, crn_st_file *f, crn_error *err)
{
    int rc = crn_st_read(path, f, err);
    if (rc != CRN_OK) return rc;
    const char *sum = crn_st_meta(f, "checksum");
    if (sum) {
        char want[32];
        snprintf(want, sizeof want, "%016" PRIx64, data_checksum(f->tensors, f->count));
        if (strcmp(sum, want) != 0) {
            /* the message first: sum points into f */
            crn_fail(err, CRN_EFORMAT, "%s is damaged: its data checksum does not match (%s, stored %s)", path, want,
                     sum);
            crn_st_free(f);
            return CRN_EFORMAT;
        }
    }
    const char *msum = crn_st_meta(f, "meta_checksum"); /* absent in older checkpoints */
    if (msum) {
        char want[32];
        snprintf(want, sizeof want, "%016" PRIx64, meta_checksum(f->meta_keys, f->meta_values, f->meta_count));
        if (strcmp(msum, want) != 0) {
            crn_fail(err, CRN_EFORMAT, "%s is damaged: its metadata checksum does not match (%s, stored %s)", path,
                     want, msum);
            crn_st_free(f);
            return CRN_EFORMAT;
        }
    }
    return CRN_OK;
}

int crn_checkpoint_read_config(const char *path, crn_model_config *cfg, char **run_config, crn_error *err)
{
    crn_st_file f;
    int rc = open_checked(path, &f, err);
    if (rc != CRN_OK) return rc;
    rc = read_config(&f, cfg, err);
    if (rc == CRN_OK && run_config) {
        const char *v = crn_st_meta(&f, "config");
        *run_config = NULL;
        if (v && !(*run_config = strdup(v))) rc = crn_fail(err, CRN_ENOMEM, "out of host memory");
    }
    crn_st_free(&f);
    return rc;
}

int crn_checkpoint_read_epoch(const char *path, int *epoch, crn_error *err)
{
    crn_st_file f;
    *epoch = 0;
    int rc = open_checked(path, &f, err);
    if (rc != CRN_OK) return rc;
    const char *v = crn_st_meta(&f, "run.epoch");
    if (v) *epoch = atoi(v);
    crn_st_free(&f);
    return CRN_OK;
}

static int parse_state(const crn_st_file *f, crn_run_state *st, crn_error *err)
{
    const char *v;
    int rc;
    crn_plateau *p = &st->plateau;
    int ok = 1;
    if ((rc = need(f, "run.epoch", &v, err)) != CRN_OK) return rc;
    st->epoch = atoi(v);
    if ((rc = need(f, "run.step", &v, err)) != CRN_OK) return rc;
    st->step = strtoll(v, NULL, 10);
    if ((rc = need(f, "run.epoch_batches", &v, err)) != CRN_OK) return rc;
    st->epoch_batches = strtoll(v, NULL, 10);
    v = crn_st_meta(f, "run.epoch_position"); /* since data-parallel training */
    st->epoch_position = v ? strtoll(v, NULL, 10) : -1;
    if ((rc = need(f, "run.epoch_sums", &v, err)) != CRN_OK) return rc;
    ok &= sscanf(v, "%lf %lf %lf %lf", &st->epoch_loss_sum, &st->epoch_correct, &st->epoch_seen,
                 &st->epoch_seconds) == 4;
    if ((rc = need(f, "run.lr", &v, err)) != CRN_OK) return rc;
    st->lr = strtod(v, NULL);
    v = crn_st_meta(f, "run.head_lr"); /* a run with --head-lr */
    st->head_lr = v ? strtod(v, NULL) : 0;
    if ((rc = need(f, "run.plateau", &v, err)) != CRN_OK) return rc;
    ok &= sscanf(v, "%lf %d %lf %d %lf %lf %lf %d %d %d", &p->factor, &p->patience, &p->threshold, &p->cooldown,
                 &p->min_lr, &p->eps, &p->best, &p->num_bad_epochs, &p->cooldown_counter, &p->last_epoch) == 10;
    if ((rc = need(f, "run.early_stop", &v, err)) != CRN_OK) return rc;
    ok &= sscanf(v, "%d %lf %lf %d", &st->early.patience, &st->early.threshold, &st->early.best,
                 &st->early.bad_epochs) == 4;
    if ((rc = need(f, "run.best_epoch", &v, err)) != CRN_OK) return rc;
    st->best_epoch = atoi(v);
    if ((rc = need(f, "run.seed", &v, err)) != CRN_OK) return rc;
    st->seed = strtoull(v, NULL, 10);
    if ((rc = need(f, "run.data_checksum", &v, err)) != CRN_OK) return rc;
    st->data_checksum = strtoull(v, NULL, 16);
    if (!ok) return crn_fail(err, CRN_EFORMAT, "%s: malformed run state in the checkpoint metadata", f->path);
    return CRN_OK;
}

/* A file with our metadata must hold this model (any class count where
 * `classes_may_differ`: --init replaces the classifier); a file without it
 * (a PyTorch state_dict for --init) is checked tensor by tensor only. */
static int check_model(const char *path, const crn_st_file *f, const crn_model *m, bool classes_may_differ,
                       crn_error *err)
{
    const crn_model_config *have = crn_model_get_config(m);
    if (!crn_st_meta(f, "clresnet")) return CRN_OK;
    crn_model_config c;
    int rc = read_config(f, &c, err);
    if (rc == CRN_OK && (c.kind != have->kind || (c.classes != have->classes && !classes_may_differ) ||
                         fabs(c.width - have->width) > 1e-12 || c.final_act != have->final_act || c.act != have->act ||
                         c.no_batchnorm != have->no_batchnorm))
        rc = crn_fail(err, CRN_EINVAL,
                      "%s holds a %s/%s%s%s model of width %g with %d classes, but this run is %s/%s%s%s of width %g "
                      "with %d classes",
                      path, crn_model_name(c.kind), crn_act_name(c.act), c.final_act ? "" : "/no-final-act",
                      c.no_batchnorm ? "/no-batchnorm" : "", c.width, c.classes, crn_model_name(have->kind),
                      crn_act_name(have->act), have->final_act ? "" : "/no-final-act",
                      have->no_batchnorm ? "/no-batchnorm" : "", have->width, have->classes);
    return rc;
}

int crn_checkpoint_load_init(const char *path, crn_model *m, crn_init_info *info, crn_error *err)
{
    crn_st_file f;
    int rc = open_checked(path, &f, err);
    if (rc != CRN_OK) return rc;
    rc = check_model(path, &f, m, true, err);
    if (rc == CRN_OK) rc = crn_weights_load_init(m, &f, info, err);
    crn_st_free(&f);
    return rc;
}

int crn_checkpoint_load(const char *path, crn_model *m, crn_optimizer *opt, crn_run_state *st, crn_error *err)
{
    crn_st_file f;
    int rc = open_checked(path, &f, err);
    if (rc != CRN_OK) return rc;
    rc = check_model(path, &f, m, false, err);
    if (rc == CRN_OK && !crn_st_meta(&f, "clresnet") && (opt || st))
        rc = crn_fail(err, CRN_EFORMAT, "%s is not a clresnet checkpoint: it cannot be resumed", path);
    if (rc == CRN_OK) rc = crn_weights_load_file(m, &f, NULL, err);
    if (rc == CRN_OK && opt) {
        crn_optim_state os;
        crn_optim_get_state(opt, &os);
        const char *v = crn_st_meta(&f, "optim.kind");
        if (!v || strcmp(v, crn_optim_name(crn_optim_get_config(opt)->kind)) != 0)
            rc = crn_fail(err, CRN_EINVAL, "%s was trained with optimizer %s, not %s", path, v ? v : "(none)",
                          crn_optim_name(crn_optim_get_config(opt)->kind));
        size_t n = 0;
        crn_model_params_buffer(m, &n);
        crn_runtime *rt = crn_model_runtime(m);
        for (int i = 0; rc == CRN_OK && i < os.buffer_count; i++) {
            char name[128];
            snprintf(name, sizeof name, "optim.%s", os.buffer_names[i]);
            const crn_st_tensor *t = crn_st_find(&f, name);
            if (!t || t->dtype != CRN_ST_F32 || t->numel != n) {
                rc = crn_fail(err, CRN_EFORMAT, "%s: optimiser tensor '%s' is missing or mis-shaped", path, name);
                break;
            }
            rc = crn_buffer_write(rt, os.buffers[i], 0, t->nbytes, t->data, true, "the optimiser state", err);
        }
        const char *sv = crn_st_meta(&f, "optim.step"), *mv = crn_st_meta(&f, "optim.mu_product");
        if (rc == CRN_OK && (!sv || !mv)) rc = crn_fail(err, CRN_EFORMAT, "%s: optimiser counters missing", path);
        if (rc == CRN_OK) crn_optim_set_counters(opt, strtoll(sv, NULL, 10), strtod(mv, NULL));
    }
    if (rc == CRN_OK && st) rc = parse_state(&f, st, err);
    crn_st_free(&f);
    return rc;
}

int crn_checkpoint_resolve(const char *arg, char *path, size_t size, crn_error *err)
{
    struct stat sb;
    if (stat(arg, &sb) != 0)
        return crn_fail(err, CRN_EIO, "%s: %s; give a checkpoint (.safetensors) or a run folder", arg, strerror(errno));
    if (S_ISDIR(sb.st_mode)) {
        int rc = crn_path_fmt(path, size, err, "%s/best.safetensors", arg);
        if (rc) return rc;
        if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
            return crn_fail(err, CRN_EINVAL,
                            "%s is a folder without best.safetensors: give a run folder of clresnet train (after its "
                            "first epoch) or a checkpoint file", arg);
        return CRN_OK;
    }
    if (!S_ISREG(sb.st_mode))
        return crn_fail(err, CRN_EINVAL, "%s is not a file: give a checkpoint (.safetensors) or a run folder", arg);
    return crn_path_fmt(path, size, err, "%s", arg);
}
