#include "clresnet/io/safetensors.h"
#include "clresnet/core/shape.h"

#include "clresnet/core/file_util.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *DTYPE_NAMES[] = {"F32", "F64", "I64", "I32", "U8"};
static const size_t DTYPE_SIZES[] = {4, 8, 8, 4, 1};

size_t crn_st_dtype_size(crn_st_dtype t) { return DTYPE_SIZES[t]; }
const char *crn_st_dtype_name(crn_st_dtype t) { return DTYPE_NAMES[t]; }

static int dtype_of(const char *s, crn_st_dtype *t)
{
    for (int i = 0; i < (int)(sizeof DTYPE_NAMES / sizeof DTYPE_NAMES[0]); i++)
        if (!strcmp(s, DTYPE_NAMES[i])) {
            *t = (crn_st_dtype)i;
            return 1;
        }
    return 0;
}

static uint64_t le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static char *str_dup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static int parse_tensor(crn_st_file *f, const char *key, json_t *v, size_t data_len, crn_st_tensor *t,
                        crn_error *err)
{
    const char *path = f->path;
    json_t *dt = json_object_get(v, "dtype"), *sh = json_object_get(v, "shape"),
           *off = json_object_get(v, "data_offsets");
    if (!json_is_string(dt) || !json_is_array(sh) || !json_is_array(off) || json_array_size(off) != 2)
        return crn_fail(err, CRN_EFORMAT, "%s: tensor '%s' lacks dtype, shape or data_offsets", path, key);
    if (!dtype_of(json_string_value(dt), &t->dtype))
        return crn_fail(err, CRN_EFORMAT, "%s: tensor '%s' has unsupported dtype %s", path, key,
                        json_string_value(dt));
    if (json_array_size(sh) > CRN_ST_MAX_DIMS)
        return crn_fail(err, CRN_EFORMAT, "%s: tensor '%s' has too many dimensions", path, key);
    t->ndim = (int)json_array_size(sh);
    t->numel = 1;
    for (int i = 0; i < t->ndim; i++) {
        json_t *d = json_array_get(sh, (size_t)i);
        if (!json_is_integer(d) || json_integer_value(d) < 0)
            return crn_fail(err, CRN_EFORMAT, "%s: tensor '%s' has a bad shape", path, key);
        t->shape[i] = (size_t)json_integer_value(d);
        /* a product that wraps around could match a small byte count */
        if (t->shape[i] && t->numel > SIZE_MAX / 8 / t->shape[i])
            return crn_fail(err, CRN_EFORMAT, "%s: tensor '%s' has a shape too large for any file", path, key);
        t->numel *= t->shape[i];
    }
    json_t *b = json_array_get(off, 0), *e = json_array_get(off, 1);
    if (!json_is_integer(b) || !json_is_integer(e) || json_integer_value(b) < 0 ||
        json_integer_value(e) < json_integer_value(b) || (size_t)json_integer_value(e) > data_len)
        return crn_fail(err, CRN_EFORMAT, "%s: tensor '%s' has data offsets outside the file (truncated?)", path,
                        key);
    t->nbytes = (size_t)(json_integer_value(e) - json_integer_value(b));
    if (t->nbytes != t->numel * crn_st_dtype_size(t->dtype))
        return crn_fail(err, CRN_EFORMAT, "%s: tensor '%s' holds %zu bytes but its shape needs %zu", path, key,
                        t->nbytes, t->numel * crn_st_dtype_size(t->dtype));
    t->data = f->bytes + 8 + le64(f->bytes) + (size_t)json_integer_value(b);
    t->name = str_dup(key);
    return t->name ? CRN_OK : crn_fail(err, CRN_ENOMEM, "out of host memory");
}

int crn_st_read(const char *path, crn_st_file *f, crn_error *err)
{
    memset(f, 0, sizeof *f);
    f->path = str_dup(path);
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        int e = errno;
        crn_st_free(f);
        return crn_fail(err, CRN_EIO, "%s: %s", path, strerror(e));
    }
    int rc = CRN_OK;
    struct stat sb;
    /* a folder opens for reading on Linux and seeks to LONG_MAX */
    if (fstat(fileno(fp), &sb) != 0 || !S_ISREG(sb.st_mode))
        rc = crn_fail(err, CRN_EIO, "%s is %s, not a safetensors file", path,
                      S_ISDIR(sb.st_mode) ? "a folder" : "not a regular file");
    if (rc == CRN_OK && (fseek(fp, 0, SEEK_END) != 0 || ftell(fp) < 0))
        rc = crn_fail(err, CRN_EIO, "%s: cannot seek", path);
    if (rc == CRN_OK) {
        f->size = (size_t)ftell(fp);
        rewind(fp);
        f->bytes = malloc(f->size ? f->size : 1);
        if (!f->bytes) rc = crn_fail(err, CRN_ENOMEM, "%s: out of host memory (%zu bytes)", path, f->size);
        else if (fread(f->bytes, 1, f->size, fp) != f->size) rc = crn_fail(err, CRN_EIO, "%s: read error", path);
    }
    fclose(fp);
    if (rc != CRN_OK) {
        crn_st_free(f);
        return rc;
    }
    if (f->size < 8 || le64(f->bytes) > f->size - 8) {
        crn_st_free(f);
        return crn_fail(err, CRN_EFORMAT, "%s: not a safetensors file (bad or truncated header)", path);
    }
    size_t hlen = (size_t)le64(f->bytes), data_len = f->size - 8 - hlen;
    json_error_t je;
    json_t *root = json_loadb((const char *)f->bytes + 8, hlen, 0, &je);
    if (!root || !json_is_object(root)) {
        if (root) json_decref(root);
        crn_fail(err, CRN_EFORMAT, "%s: safetensors header is not a JSON object (%s)", path, je.text);
        crn_st_free(f);
        return CRN_EFORMAT;
    }
    size_t n = json_object_size(root);
    f->tensors = calloc(n ? n : 1, sizeof *f->tensors);
    f->meta_keys = calloc(n ? n : 1, sizeof(char *));
    f->meta_values = calloc(n ? n : 1, sizeof(char *));
    const char *key;
    json_t *v;
    if (!f->tensors || !f->meta_keys || !f->meta_values) rc = crn_fail(err, CRN_ENOMEM, "out of host memory");
    json_object_foreach(root, key, v)
    {
        if (rc != CRN_OK) break;
        if (!strcmp(key, "__metadata__")) {
            const char *mk;
            json_t *mv;
            size_t mn = json_object_size(v);
            free(f->meta_keys);
            free(f->meta_values);
            f->meta_keys = calloc(mn ? mn : 1, sizeof(char *));
            f->meta_values = calloc(mn ? mn : 1, sizeof(char *));
            if (!f->meta_keys || !f->meta_values) {
                rc = crn_fail(err, CRN_ENOMEM, "out of host memory");
                break;
            }
            json_object_foreach(v, mk, mv)
            {
                if (!json_is_string(mv)) {
                    rc = crn_fail(err, CRN_EFORMAT, "%s: metadata '%s' is not a string", path, mk);
                    break;
                }
                f->meta_keys[f->meta_count] = str_dup(mk);
                f->meta_values[f->meta_count] = str_dup(json_string_value(mv));
                f->meta_count++;
            }
            continue;
        }
        rc = parse_tensor(f, key, v, data_len, &f->tensors[f->count], err);
        if (rc == CRN_OK) f->count++;
    }
    json_decref(root);
    if (rc != CRN_OK) crn_st_free(f);
    return rc;
}

void crn_st_free(crn_st_file *f)
{
    for (int i = 0; i < f->count; i++) free(f->tensors[i].name);
    for (int i = 0; i < f->meta_count; i++) {
        free(f->meta_keys[i]);
        free(f->meta_values[i]);
    }
    free(f->meta_keys);
    free(f->meta_values);
    free(f->tensors);
    free(f->bytes);
    free(f->path);
    memset(f, 0, sizeof *f);
}

const crn_st_tensor *crn_st_find(const crn_st_file *f, const char *name)
{
    for (int i = 0; i < f->count; i++)
        if (!strcmp(f->tensors[i].name, name)) return &f->tensors[i];
    return NULL;
}

const char *crn_st_meta(const crn_st_file *f, const char *key)
{
    for (int i = 0; i < f->meta_count; i++)
        if (!strcmp(f->meta_keys[i], key)) return f->meta_values[i];
    return NULL;
}

int crn_st_get_f32(const crn_st_file *f, const char *name, float *out, size_t numel, crn_error *err)
{
    const crn_st_tensor *t = crn_st_find(f, name);
    if (!t) return crn_fail(err, CRN_EFORMAT, "%s: tensor '%s' is missing", f->path, name);
    if (t->numel != numel)
        return crn_fail(err, CRN_EFORMAT, "%s: tensor '%s' has %zu elements, expected %zu", f->path, name, t->numel,
                        numel);
    /* memcpy per element: the data has no alignment guarantee. */
    for (size_t i = 0; i < numel; i++) {
        const unsigned char *p = t->data + i * crn_st_dtype_size(t->dtype);
        switch (t->dtype) {
        case CRN_ST_F32: memcpy(&out[i], p, 4); break;
        case CRN_ST_F64: { double d; memcpy(&d, p, 8); out[i] = (float)d; break; }
        case CRN_ST_I64: { int64_t d; memcpy(&d, p, 8); out[i] = (float)d; break; }
        case CRN_ST_I32: { int32_t d; memcpy(&d, p, 4); out[i] = (float)d; break; }
        case CRN_ST_U8: out[i] = (float)p[0]; break;
        }
    }
    return CRN_OK;
}

void crn_st_writer_init(crn_st_writer *w) { memset(w, 0, sizeof *w); }

int crn_st_writer_add(crn_st_writer *w, const char *name, crn_st_dtype dtype, int ndim, const size_t *shape,
                      const void *data, crn_error *err)
{
    if (ndim < 0 || ndim > CRN_ST_MAX_DIMS) return crn_fail(err, CRN_EINVAL, "tensor '%s': bad rank", name);
    if (w->count == w->cap) {
        int cap = w->cap ? 2 * w->cap : 64;
        crn_st_tensor *g = realloc(w->tensors, (size_t)cap * sizeof *g);
        if (!g) return crn_fail(err, CRN_ENOMEM, "out of host memory");
        w->tensors = g;
        w->cap = cap;
    }
    crn_st_tensor *t = &w->tensors[w->count];
    memset(t, 0, sizeof *t);
    t->dtype = dtype;
    t->ndim = ndim;
    if (ndim > 0) memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    t->numel = crn_shape_numel(shape, ndim);
    t->nbytes = t->numel * crn_st_dtype_size(dtype);
    unsigned char *copy = malloc(t->nbytes ? t->nbytes : 1);
    t->name = str_dup(name);
    if (!copy || !t->name) {
        free(copy);
        free(t->name);
        return crn_fail(err, CRN_ENOMEM, "out of host memory");
    }
    memcpy(copy, data, t->nbytes);
    t->data = copy;
    w->count++;
    return CRN_OK;
}

int crn_st_writer_meta(crn_st_writer *w, const char *key, const char *value, crn_error *err)
{
    char **k = realloc(w->meta_keys, (size_t)(w->meta_count + 1) * sizeof *k);
    if (k) w->meta_keys = k;
    char **v = realloc(w->meta_values, (size_t)(w->meta_count + 1) * sizeof *v);
    if (v) w->meta_values = v;
    if (!k || !v) return crn_fail(err, CRN_ENOMEM, "out of host memory");
    w->meta_keys[w->meta_count] = str_dup(key);
    w->meta_values[w->meta_count] = str_dup(value);
    w->meta_count++;
    return CRN_OK;
}

int crn_st_writer_save(const crn_st_writer *w, const char *path, crn_error *err)
{
    json_t *root = json_object();
    if (w->meta_count) {
        json_t *m = json_object();
        for (int i = 0; i < w->meta_count; i++) json_object_set_new(m, w->meta_keys[i], json_string(w->meta_values[i]));
        json_object_set_new(root, "__metadata__", m);
    }
    size_t off = 0;
    for (int i = 0; i < w->count; i++) {
        const crn_st_tensor *t = &w->tensors[i];
        json_t *o = json_object(), *sh = json_array();
        for (int d = 0; d < t->ndim; d++) json_array_append_new(sh, json_integer((json_int_t)t->shape[d]));
        json_object_set_new(o, "dtype", json_string(crn_st_dtype_name(t->dtype)));
        json_object_set_new(o, "shape", sh);
        json_object_set_new(o, "data_offsets", json_pack("[II]", (json_int_t)off, (json_int_t)(off + t->nbytes)));
        json_object_set_new(root, t->name, o);
        off += t->nbytes;
    }
    char *hdr = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (!hdr) return crn_fail(err, CRN_ENOMEM, "out of host memory");
    /* The header is padded with spaces to 8 bytes, as the reference writer does. */
    size_t hlen = strlen(hdr), padded = (hlen + 7) / 8 * 8, total = 8 + padded + off;
    unsigned char *buf = malloc(total);
    if (!buf) {
        free(hdr);
        return crn_fail(err, CRN_ENOMEM, "out of host memory (%zu bytes) writing %s", total, path);
    }
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    memcpy(buf + 8, hdr, hlen);
    memset(buf + 8 + hlen, ' ', padded - hlen);
    free(hdr);
    size_t pos = 8 + padded;
    for (int i = 0; i < w->count; i++) {
        memcpy(buf + pos, w->tensors[i].data, w->tensors[i].nbytes);
        pos += w->tensors[i].nbytes;
    }
    int rc = crn_write_file_atomic(path, buf, total, err);
    free(buf);
    return rc;
}

void crn_st_writer_free(crn_st_writer *w)
{
    for (int i = 0; i < w->count; i++) {
        free(w->tensors[i].name);
        free((void *)w->tensors[i].data);
    }
    for (int i = 0; i < w->meta_count; i++) {
        free(w->meta_keys[i]);
        free(w->meta_values[i]);
    }
    free(w->tensors);
    free(w->meta_keys);
    free(w->meta_values);
    memset(w, 0, sizeof *w);
}
