/* Flowers-102 official layout through libmatio; every value checked. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <matio.h>
#include <zlib.h>

#include "clresnet/data/flowers102.h"
#include "clresnet/core/file_util.h"

/* matio reports problems through a log function; keep the last message
 * instead of letting it print (library code never prints). */
static char mat_last_log[512];
static size_t mat_file_size; /* of the file being read: bounds what a variable may claim */

static void mat_log(int level, char *message)
{
    (void)level;
    snprintf(mat_last_log, sizeof(mat_last_log), "%s", message ? message : "");
}

static void mat_quiet(void)
{
    static int done;
    if (!done) {
        Mat_LogInitFunc("clresnet", mat_log);
        done = 1;
    }
    mat_last_log[0] = 0;
}

static const char *class_name(enum matio_classes c)
{
    switch (c) {
    case MAT_C_DOUBLE: return "double";
    case MAT_C_SINGLE: return "single";
    case MAT_C_INT8: return "int8";
    case MAT_C_UINT8: return "uint8";
    case MAT_C_INT16: return "int16";
    case MAT_C_UINT16: return "uint16";
    case MAT_C_INT32: return "int32";
    case MAT_C_UINT32: return "uint32";
    case MAT_C_INT64: return "int64";
    case MAT_C_UINT64: return "uint64";
    case MAT_C_CHAR: return "char";
    case MAT_C_CELL: return "cell";
    case MAT_C_STRUCT: return "struct";
    case MAT_C_SPARSE: return "sparse";
    case MAT_C_OBJECT: return "object";
    case MAT_C_FUNCTION: return "function handle";
    case MAT_C_OPAQUE: return "opaque";
    default: return "unsupported";
    }
}

/* Size in bytes of one element of a numeric class, 0 if not numeric. */
static size_t class_size(enum matio_classes c)
{
    switch (c) {
    case MAT_C_DOUBLE: case MAT_C_INT64: case MAT_C_UINT64: return 8;
    case MAT_C_SINGLE: case MAT_C_INT32: case MAT_C_UINT32: return 4;
    case MAT_C_INT16: case MAT_C_UINT16: return 2;
    case MAT_C_INT8: case MAT_C_UINT8: return 1;
    default: return 0;
    }
}

static double elem(const matvar_t *v, size_t i)
{
    const char *d = (const char *)v->data;
    switch (v->class_type) {
    case MAT_C_DOUBLE: { double x; memcpy(&x, d + 8 * i, 8); return x; }
    case MAT_C_SINGLE: { float x; memcpy(&x, d + 4 * i, 4); return x; }
    case MAT_C_INT8: return ((const int8_t *)d)[i];
    case MAT_C_UINT8: return ((const uint8_t *)d)[i];
    case MAT_C_INT16: { int16_t x; memcpy(&x, d + 2 * i, 2); return x; }
    case MAT_C_UINT16: { uint16_t x; memcpy(&x, d + 2 * i, 2); return x; }
    case MAT_C_INT32: { int32_t x; memcpy(&x, d + 4 * i, 4); return x; }
    case MAT_C_UINT32: { uint32_t x; memcpy(&x, d + 4 * i, 4); return x; }
    case MAT_C_INT64: { int64_t x; memcpy(&x, d + 8 * i, 8); return (double)x; }
    case MAT_C_UINT64: { uint64_t x; memcpy(&x, d + 8 * i, 8); return (double)x; }
    default: return NAN;
    }
}

/* Reads a numeric vector variable as integers in lo..hi. The returned
 * array holds *n values (n may be 0: callers decide whether that is an error). */
static int read_int_vector(mat_t *mat, const char *path, const char *var, long lo, long hi, int **out, size_t *n,
                           crn_error *err)
{
    *out = NULL;
    *n = 0;
    mat_last_log[0] = 0;
    /* check the claimed size before matio allocates it: zlib expands at most
     * about 1032:1, and no Flowers-102 variable is near 2^26 values */
    matvar_t *info = Mat_VarReadInfo(mat, var);
    if (!info) {
        if (mat_last_log[0])
            return crn_fail(err, CRN_EFORMAT, "%s: cannot read variable '%s' (%s)", path, var, mat_last_log);
        return crn_fail(err, CRN_EFORMAT, "%s: no variable '%s'", path, var);
    }
    size_t claimed = 1;
    int too_big = info->rank < 0 || info->rank > 8 || !info->dims;
    for (int d = 0; !too_big && d < info->rank; d++) {
        if (info->dims[d] > ((size_t)1 << 26) || claimed * info->dims[d] > ((size_t)1 << 26))
            too_big = 1;
        else
            claimed *= info->dims[d];
    }
    size_t esz0 = class_size(info->class_type);
    if (!too_big && esz0 && claimed * esz0 > mat_file_size * 1100 + 4096)
        too_big = 1;
    Mat_VarFree(info);
    if (too_big)
        return crn_fail(err, CRN_EFORMAT, "%s: variable '%s' claims more values than the file can hold", path, var);
    mat_last_log[0] = 0;
    matvar_t *v = Mat_VarRead(mat, var);
    if (!v) {
        if (mat_last_log[0])
            return crn_fail(err, CRN_EFORMAT, "%s: cannot read variable '%s' (%s)", path, var, mat_last_log);
        return crn_fail(err, CRN_EFORMAT, "%s: no variable '%s'", path, var);
    }
    int rc = CRN_OK;
    size_t esz = class_size(v->class_type);
    if (esz == 0 || v->isComplex || v->isLogical) {
        rc = crn_fail(err, CRN_EFORMAT, "%s: variable '%s' is %s%s, expected a real numeric vector", path, var,
                      v->isComplex ? "complex " : v->isLogical ? "logical " : "", class_name(v->class_type));
        goto done;
    }
    size_t numel = 1, big = 0;
    for (int d = 0; d < v->rank; d++) {
        if (v->dims[d] != 1)
            big++;
        numel *= v->dims[d];
    }
    if (v->rank < 1 || big > 1) {
        rc = crn_fail(err, CRN_EFORMAT, "%s: variable '%s' has shape %zux%zu%s, expected a vector", path, var,
                      v->rank > 0 ? v->dims[0] : 0, v->rank > 1 ? v->dims[1] : 0, v->rank > 2 ? "x..." : "");
        goto done;
    }
    if (numel > 0 && (!v->data || v->nbytes < numel * esz)) {
        rc = crn_fail(err, CRN_EFORMAT, "%s: variable '%s' holds %zu bytes of data, expected %zu", path, var,
                      v->nbytes, numel * esz);
        goto done;
    }
    int *a = numel ? malloc(numel * sizeof(int)) : NULL;
    if (numel && !a) {
        rc = crn_fail(err, CRN_ENOMEM, "%s: out of memory for '%s' (%zu values)", path, var, numel);
        goto done;
    }
    for (size_t i = 0; i < numel; i++) {
        double x = elem(v, i);
        if (!isfinite(x) || x != floor(x)) {
            rc = crn_fail(err, CRN_EFORMAT, "%s: %s(%zu) = %.17g is not an integer", path, var, i + 1, x);
            free(a);
            goto done;
        }
        if (x < (double)lo || x > (double)hi) {
            rc = crn_fail(err, CRN_EFORMAT, "%s: %s(%zu) = %.0f is out of range %ld..%ld", path, var, i + 1, x, lo,
                          hi);
            free(a);
            goto done;
        }
        a[i] = (int)x;
    }
    *out = a;
    *n = numel;
done:
    Mat_VarFree(v);
    return rc;
}

/* Level-5 structure, checked with our own code before libmatio opens the
 * file: matio trusts the sizes in a variable's tags and may calloc gigabytes
 * for a few bytes of garbage. 64 MiB is the most one variable may inflate
 * to or decode to (the largest Flowers-102 variable is 65 KB). */
#define MAT_VAR_LIMIT ((size_t)64 << 20)
#define MAT_VAR_LIMIT_TEXT "64 MiB"

enum { MI_INT8 = 1, MI_UINT8, MI_INT16, MI_UINT16, MI_INT32, MI_UINT32, MI_SINGLE, MI_DOUBLE = 9,
       MI_INT64 = 12, MI_UINT64, MI_MATRIX, MI_COMPRESSED };

static uint32_t rd32(const unsigned char *p, int be)
{
    return be ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
              : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

/* Bytes per value of a numeric data type, 0 for any other type. */
static size_t mi_size(uint32_t t)
{
    switch (t) {
    case MI_INT8: case MI_UINT8: return 1;
    case MI_INT16: case MI_UINT16: return 2;
    case MI_INT32: case MI_UINT32: case MI_SINGLE: return 4;
    case MI_DOUBLE: case MI_INT64: case MI_UINT64: return 8;
    default: return 0;
    }
}

typedef struct mat_sub {
    uint32_t type;
    size_t n;
    const unsigned char *data;
} mat_sub;

/* The subelement at *off of a matrix of len bytes. In the small format the
 * upper 16 bits of the type word are the byte count (at most 4) and the data
 * sits in the tag's second word. Returns what is wrong, or NULL. */
static const char *next_sub(const unsigned char *m, size_t len, size_t *off, int be, mat_sub *s)
{
    if (len - *off < 8)
        return "its contents end before all of its parts (flags, dimensions, name, data)";
    uint32_t t = rd32(m + *off, be);
    if (t >> 16) {
        s->type = t & 0xffff;
        s->n = t >> 16;
        if (s->n > 4)
            return "a small data element claims more than 4 bytes";
        s->data = m + *off + 4;
        *off += 8;
        return NULL;
    }
    uint32_t n = rd32(m + *off + 4, be);
    if (n > len - *off - 8)
        return "a part extends past the end of the variable";
    s->type = t;
    s->n = n;
    s->data = m + *off + 8;
    size_t adv = 8 + ((size_t)n + 7) / 8 * 8; /* padded to 8 bytes; the last part's padding may be cut */
    *off = adv > len - *off ? len : *off + adv;
    return NULL;
}

/* The contents of one miMATRIX (after its tag): a real numeric array only. */
static int check_matrix(const char *path, size_t at, const unsigned char *m, size_t len, int be, crn_error *err)
{
    char who[160], what[200];
    snprintf(who, sizeof who, "the variable at byte %zu", at);
    mat_sub flags, dims, name, re, im;
    size_t off = 0;
    const char *why = next_sub(m, len, &off, be, &flags);
    if (!why)
        why = next_sub(m, len, &off, be, &dims);
    if (!why)
        why = next_sub(m, len, &off, be, &name);
    if (why)
        return crn_fail(err, CRN_EFORMAT, "%s: %s: %s", path, who, why);
    if (name.type != MI_INT8)
        return crn_fail(err, CRN_EFORMAT, "%s: %s: its name has data type %u, expected miINT8 (1)", path, who,
                        (unsigned)name.type);
    char nm[48];
    size_t k = 0;
    for (; k < name.n && k + 4 < sizeof nm; k++)
        nm[k] = name.data[k] >= 0x20 && name.data[k] < 0x7f && name.data[k] != '\'' ? (char)name.data[k] : '?';
    if (k < name.n) {
        memcpy(nm + k, "...", 3);
        k += 3;
    }
    nm[k] = 0;
    snprintf(who, sizeof who, "variable '%s' (at byte %zu)", nm, at);
#define MAT_BAD(...) \
    (snprintf(what, sizeof what, __VA_ARGS__), crn_fail(err, CRN_EFORMAT, "%s: %s: %s", path, who, what))
    if (flags.type != MI_UINT32 || flags.n != 8)
        return MAT_BAD("its array flags are %zu bytes of type %u, expected 8 bytes of miUINT32 (6)", flags.n,
                       (unsigned)flags.type);
    uint32_t f0 = rd32(flags.data, be);
    /* the class byte of the array flags numbers classes as matio's enum does */
    enum matio_classes cls = (enum matio_classes)(f0 & 0xff);
    int complex = (f0 & 0x800) != 0;
    size_t csz = class_size(cls);
    if (!csz)
        return MAT_BAD("it is a %s array (class %u); only real or complex numeric arrays (double, single, "
                       "int8..uint64) are read", class_name(cls), (unsigned)cls);
    if (dims.type != MI_INT32 || dims.n % 4 || dims.n / 4 < 2 || dims.n / 4 > 8)
        return MAT_BAD("its dimensions are %zu bytes of type %u, expected 2 to 8 miINT32 (5) values", dims.n,
                       (unsigned)dims.type);
    size_t numel = 1;
    for (size_t d = 0; d < dims.n / 4; d++) {
        int32_t v = (int32_t)rd32(dims.data + 4 * d, be);
        if (v < 0)
            return MAT_BAD("dimension %zu is negative (%ld)", d + 1, (long)v);
        if (v && numel > MAT_VAR_LIMIT / (size_t)v)
            numel = MAT_VAR_LIMIT + 1; /* saturate: refused below */
        else
            numel *= (size_t)v;
    }
    if (numel > MAT_VAR_LIMIT / csz)
        return MAT_BAD("its dimensions claim more than " MAT_VAR_LIMIT_TEXT " of %s values, the limit for one "
                       "variable", class_name(cls));
    for (int part = 0; part < 1 + complex; part++) {
        mat_sub *p = part ? &im : &re;
        if ((why = next_sub(m, len, &off, be, p)))
            return MAT_BAD("%s", why);
        size_t esz = mi_size(p->type);
        if (!esz)
            return MAT_BAD("its %s part has data type %u, not a numeric type", part ? "imaginary" : "real",
                           (unsigned)p->type);
        if (p->n != numel * esz)
            return MAT_BAD("its %s part holds %zu bytes, expected %zu (%zu values of %zu bytes)",
                           part ? "imaginary" : "real", p->n, numel * esz, numel, esz);
    }
    if (off != len)
        return MAT_BAD("%zu unexpected bytes follow its data", len - off);
#undef MAT_BAD
    return CRN_OK;
}

/* Inflates the miCOMPRESSED element of n bytes at the file's position into
 * a new buffer holding the contents of its miMATRIX (*len bytes). The inner
 * tag is read first so that its claimed size is checked before allocating. */
static int inflate_var(const char *path, FILE *f, size_t at, uint32_t n, int be, unsigned char **out, size_t *len,
                       crn_error *err)
{
    *out = NULL;
    *len = 0;
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit(&z) != Z_OK)
        return crn_fail(err, CRN_ENOMEM, "%s: out of memory for zlib", path);
    unsigned char in[16384], tag[8], extra[64], *buf = NULL, *dst = tag;
    size_t want = 8, got = 0, left = n;
    int stage = 0, rc = CRN_OK; /* 0: the inner tag, 1: the matrix, 2: past its claimed end */
    for (;;) {
        if (z.avail_in == 0 && left > 0) {
            size_t k = left < sizeof in ? left : sizeof in;
            if (fread(in, 1, k, f) != k) {
                rc = crn_fail(err, CRN_EIO, "%s: read error at byte %zu", path, at);
                goto out;
            }
            z.next_in = in;
            z.avail_in = (uInt)k;
            left -= k;
        }
        z.next_out = stage < 2 ? dst + got : extra;
        z.avail_out = stage < 2 ? (uInt)(want - got) : (uInt)sizeof extra;
        int zr = inflate(&z, Z_NO_FLUSH);
        if (stage == 2 && z.avail_out < sizeof extra) {
            rc = crn_fail(err, CRN_EFORMAT, "%s: the variable at byte %zu inflates to more than its matrix tag "
                          "claims (%zu bytes)", path, at, want + 8);
            goto out;
        }
        if (stage < 2)
            got = want - z.avail_out;
        while (stage < 2 && got == want) {
            if (stage == 0) {
                uint32_t t = rd32(tag, be), m = rd32(tag + 4, be);
                if (t != MI_MATRIX) {
                    rc = crn_fail(err, CRN_EFORMAT, "%s: the variable at byte %zu: its compressed data holds an "
                                  "element of type %u, expected miMATRIX (14)", path, at, (unsigned)t);
                    goto out;
                }
                if (m > MAT_VAR_LIMIT) {
                    rc = crn_fail(err, CRN_EFORMAT, "%s: the variable at byte %zu: its compressed matrix claims "
                                  "%lu bytes, more than the " MAT_VAR_LIMIT_TEXT " limit for one variable",
                                  path, at, (unsigned long)m);
                    goto out;
                }
                if (!(buf = malloc(m ? m : 1))) {
                    rc = crn_fail(err, CRN_ENOMEM, "%s: out of memory for a variable of %lu bytes", path,
                                  (unsigned long)m);
                    goto out;
                }
                dst = buf;
                want = m;
                got = 0;
            }
            stage++;
        }
        if (zr == Z_STREAM_END)
            break;
        if (zr == Z_BUF_ERROR && z.avail_in == 0 && left == 0) {
            rc = crn_fail(err, CRN_EFORMAT, "%s: the variable at byte %zu: its compressed data is truncated "
                          "(%zu of %zu bytes inflated)", path, at, stage ? got + 8 : got, want + (stage ? 8 : 0));
            goto out;
        }
        if (zr != Z_OK && zr != Z_BUF_ERROR) {
            rc = crn_fail(err, CRN_EFORMAT, "%s: the variable at byte %zu: corrupt compressed data (zlib: %s)",
                          path, at, z.msg ? z.msg : "error");
            goto out;
        }
    }
    if (stage < 2) {
        rc = crn_fail(err, CRN_EFORMAT, "%s: the variable at byte %zu inflates to %zu bytes, less than its "
                      "matrix tag claims (%zu)", path, at, stage ? got + 8 : got, want + (stage ? 8 : 0));
        goto out;
    }
    if (z.avail_in > 0 || left > 0) {
        rc = crn_fail(err, CRN_EFORMAT, "%s: the variable at byte %zu: %zu bytes follow the end of its zlib "
                      "stream", path, at, (size_t)z.avail_in + left);
        goto out;
    }
    *out = buf;
    *len = want;
    buf = NULL;
out:
    inflateEnd(&z);
    free(buf);
    return rc;
}

/* Walks every top-level element of a level-5 file of fsize bytes: each must
 * be a variable (miMATRIX or miCOMPRESSED) that fits in the file and holds a
 * consistent real or complex numeric array. */
static int check_level5(const char *path, FILE *f, size_t fsize, int be, crn_error *err)
{
    size_t off = 128;
    while (off < fsize) {
        unsigned char tag[8];
        if (fsize - off < 8)
            return crn_fail(err, CRN_EFORMAT, "%s: %zu stray bytes at the end (byte %zu), too few for an "
                            "element", path, fsize - off, off);
        if (fseek(f, (long)off, SEEK_SET) != 0 || fread(tag, 1, 8, f) != 8)
            return crn_fail(err, CRN_EIO, "%s: read error at byte %zu", path, off);
        uint32_t t = rd32(tag, be), n = rd32(tag + 4, be);
        if (t != MI_MATRIX && t != MI_COMPRESSED)
            return crn_fail(err, CRN_EFORMAT, "%s: the element at byte %zu has type %lu; only variables "
                            "(miMATRIX 14, miCOMPRESSED 15) are allowed", path, off, (unsigned long)t);
        if (n > fsize - off - 8)
            return crn_fail(err, CRN_EFORMAT, "%s: the variable at byte %zu claims %lu bytes, but only %zu are "
                            "left in the file", path, off, (unsigned long)n, fsize - off - 8);
        unsigned char *m = NULL;
        size_t len = 0;
        int rc;
        if (t == MI_COMPRESSED) {
            rc = inflate_var(path, f, off, n, be, &m, &len, err);
        } else if (n > MAT_VAR_LIMIT) {
            rc = crn_fail(err, CRN_EFORMAT, "%s: the variable at byte %zu claims %lu bytes, more than the "
                          MAT_VAR_LIMIT_TEXT " limit for one variable", path, off, (unsigned long)n);
        } else if (!(m = malloc(n ? n : 1))) {
            rc = crn_fail(err, CRN_ENOMEM, "%s: out of memory for a variable of %lu bytes", path, (unsigned long)n);
        } else {
            len = n;
            rc = fread(m, 1, n, f) == n ? CRN_OK : crn_fail(err, CRN_EIO, "%s: read error at byte %zu", path, off);
        }
        if (rc == CRN_OK)
            rc = check_matrix(path, off, m, len, be, err);
        free(m);
        if (rc != CRN_OK)
            return rc;
        off += 8 + (size_t)n;
    }
    return CRN_OK;
}

static mat_t *open_mat(const char *path, crn_error *err, int *rc)
{
    mat_quiet();
    struct stat st;
    if (stat(path, &st) != 0) {
        *rc = crn_fail(err, CRN_EIO, "%s: %s", path, strerror(errno));
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        *rc = crn_fail(err, CRN_EIO, "%s: not a regular file", path);
        return NULL;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        *rc = crn_fail(err, CRN_EIO, "%s: %s", path, strerror(errno));
        return NULL;
    }
    /* Only level-5 / v7.3 files (a 128-byte header ending in version 0x0100
     * or 0x0200 and "IM"/"MI"): matio's v4 fallback would take any bytes as
     * a header and may allocate gigabytes for a few bytes of garbage. */
    unsigned char hdr[128];
    size_t got = fread(hdr, 1, sizeof hdr, f);
    int le = got == sizeof hdr && hdr[126] == 'I' && hdr[127] == 'M';
    int be = got == sizeof hdr && hdr[126] == 'M' && hdr[127] == 'I';
    unsigned version = le ? (unsigned)hdr[125] << 8 | hdr[124] : be ? (unsigned)hdr[124] << 8 | hdr[125] : 0;
    if (version != 0x0100 && version != 0x0200) {
        fclose(f);
        *rc = crn_fail(err, CRN_EFORMAT, "%s: not a MATLAB .mat file (no level 5 / v7.3 header)", path);
        return NULL;
    }
    /* v7.3 is HDF5, read by matio through libhdf5 */
    *rc = version == 0x0100 ? check_level5(path, f, (size_t)st.st_size, be, err) : CRN_OK;
    fclose(f);
    if (*rc != CRN_OK)
        return NULL;
    mat_file_size = (size_t)st.st_size;
    mat_t *m = Mat_Open(path, MAT_ACC_RDONLY);
    if (!m) {
        *rc = crn_fail(err, CRN_EFORMAT, "%s: not a MATLAB .mat file (level 5 or v7.3)%s%s", path,
                       mat_last_log[0] ? ": " : "", mat_last_log);
        return NULL;
    }
    *rc = CRN_OK;
    return m;
}

int crn_flowers102_read_labels(const char *path, int num_classes, int **labels, size_t *n, crn_error *err)
{
    *labels = NULL;
    *n = 0;
    if (num_classes <= 0)
        num_classes = CRN_FLOWERS102_CLASSES;
    int rc;
    mat_t *m = open_mat(path, err, &rc);
    if (!m)
        return rc;
    rc = read_int_vector(m, path, "labels", 1, num_classes, labels, n, err);
    Mat_Close(m);
    if (rc == CRN_OK && *n == 0) {
        free(*labels);
        *labels = NULL;
        return crn_fail(err, CRN_EFORMAT, "%s: variable 'labels' is empty", path);
    }
    return rc;
}

void crn_flowers102_setid_free(crn_flowers102_setid *s)
{
    free(s->trnid);
    free(s->valid);
    free(s->tstid);
    memset(s, 0, sizeof(*s));
}

int crn_flowers102_read_setid(const char *path, size_t n_labels, crn_flowers102_setid *s, crn_error *err)
{
    memset(s, 0, sizeof(*s));
    int rc;
    mat_t *m = open_mat(path, err, &rc);
    if (!m)
        return rc;
    const char *names[3] = {"trnid", "valid", "tstid"};
    int **arr[3] = {&s->trnid, &s->valid, &s->tstid};
    size_t *cnt[3] = {&s->n_trn, &s->n_val, &s->n_tst};
    long hi = n_labels > (size_t)INT32_MAX ? INT32_MAX : (long)n_labels;
    for (int k = 0; k < 3 && rc == CRN_OK; k++) {
        rc = read_int_vector(m, path, names[k], 1, hi, arr[k], cnt[k], err);
        if (rc == CRN_OK && *cnt[k] == 0)
            rc = crn_fail(err, CRN_EFORMAT, "%s: split '%s' is empty", path, names[k]);
    }
    Mat_Close(m);
    if (rc != CRN_OK) {
        crn_flowers102_setid_free(s);
        return rc;
    }
    /* which split holds each id (0 = none) and where */
    unsigned char *owner = calloc(n_labels + 1, 1);
    size_t *where = calloc(n_labels + 1, sizeof(size_t));
    if (!owner || !where) {
        free(owner);
        free(where);
        crn_flowers102_setid_free(s);
        return crn_fail(err, CRN_ENOMEM, "out of memory");
    }
    for (int k = 0; k < 3 && rc == CRN_OK; k++) {
        for (size_t i = 0; i < *cnt[k]; i++) {
            int id = (*arr[k])[i];
            if (owner[id]) {
                int o = owner[id] - 1;
                if (o == k)
                    rc = crn_fail(err, CRN_EFORMAT, "%s: id %d appears twice in '%s' (%s(%zu) and %s(%zu))", path,
                                  id, names[k], names[k], where[id] + 1, names[k], i + 1);
                else
                    rc = crn_fail(err, CRN_EFORMAT, "%s: id %d is in two splits: %s(%zu) and %s(%zu)", path, id,
                                  names[o], where[id] + 1, names[k], i + 1);
                break;
            }
            owner[id] = (unsigned char)(k + 1);
            where[id] = i;
        }
    }
    free(owner);
    free(where);
    if (rc != CRN_OK)
        crn_flowers102_setid_free(s);
    return rc;
}

int crn_read_class_names(const char *path, int num_classes, char ***names, crn_error *err)
{
    *names = NULL;
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root)
        return crn_fail(err, CRN_EFORMAT, "%s: line %d: %s", path, je.line, je.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return crn_fail(err, CRN_EFORMAT, "%s: expected a JSON object {\"1\": \"name\", ...}", path);
    }
    char **a = calloc((size_t)num_classes, sizeof(char *));
    if (!a) {
        json_decref(root);
        return crn_fail(err, CRN_ENOMEM, "out of memory");
    }
    int rc = CRN_OK;
    for (int c = 0; c < num_classes; c++) {
        char key[16];
        snprintf(key, sizeof(key), "%d", c + 1);
        json_t *v = json_object_get(root, key);
        if (!v || !json_is_string(v)) {
            rc = crn_fail(err, CRN_EFORMAT, "%s: class \"%s\" %s", path, key, v ? "is not a string" : "is missing");
            break;
        }
        a[c] = strdup(json_string_value(v));
        if (!a[c]) {
            rc = crn_fail(err, CRN_ENOMEM, "out of memory");
            break;
        }
    }
    json_decref(root);
    if (rc != CRN_OK) {
        for (int c = 0; c < num_classes; c++)
            free(a[c]);
        free(a);
        return rc;
    }
    *names = a;
    return CRN_OK;
}

static char *join(const char *root, const char *name)
{
    return crn_path_alloc("%s/%s", root, name);
}

int crn_flowers102_open(crn_dataset *ds, const char *root, const crn_dataset_options *opt, crn_error *err)
{
    crn_dataset_options def;
    if (!opt) {
        crn_dataset_options_default(&def);
        opt = &def;
    }
    memset(ds, 0, sizeof(*ds));
    int k = opt->num_classes > 0 ? opt->num_classes : CRN_FLOWERS102_CLASSES;
    char *lp = join(root, "imagelabels.mat"), *sp = join(root, "setid.mat"), *cp = join(root, "cat_to_name.json");
    int *labels = NULL;
    size_t nl = 0;
    crn_flowers102_setid set = {0};
    int rc = CRN_OK;
    if (!lp || !sp || !cp) {
        rc = crn_fail(err, CRN_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = crn_flowers102_read_labels(lp, k, &labels, &nl, err)) != CRN_OK)
        goto out;
    if ((rc = crn_flowers102_read_setid(sp, nl, &set, err)) != CRN_OK)
        goto out;
    ds->kind = CRN_DATASET_FLOWERS102;
    ds->num_classes = k;
    ds->root = strdup(root);
    struct stat st;
    if (stat(cp, &st) == 0) {
        if ((rc = crn_read_class_names(cp, k, &ds->class_names, err)) != CRN_OK)
            goto out;
    }
    /* seed: train on tstid, validate on valid, test on trnid */
    int *ids[3];
    size_t cnt[3];
    if (opt->split_mode == CRN_SPLITS_OFFICIAL) {
        ids[0] = set.trnid; cnt[0] = set.n_trn;
        ids[2] = set.tstid; cnt[2] = set.n_tst;
    } else {
        ids[0] = set.tstid; cnt[0] = set.n_tst;
        ids[2] = set.trnid; cnt[2] = set.n_trn;
    }
    ids[1] = set.valid;
    cnt[1] = set.n_val;
    for (int s = 0; s < 3; s++) {
        ds->samples[s] = calloc(cnt[s], sizeof(crn_sample));
        if (!ds->samples[s]) {
            rc = crn_fail(err, CRN_ENOMEM, "out of memory");
            goto out;
        }
        for (size_t i = 0; i < cnt[s]; i++) {
            int id = ids[s][i];
            char *p = crn_path_alloc("%s/jpg/image_%05d.jpg", root, id);
            if (!p) {
                rc = crn_fail(err, CRN_ENOMEM, "out of memory");
                goto out;
            }
            ds->samples[s][i].path = p;
            ds->samples[s][i].label = labels[id - 1] - 1;
            ds->samples[s][i].id = id;
            ds->count[s] = i + 1;
        }
    }
out:
    if (rc != CRN_OK)
        crn_dataset_free(ds);
    free(labels);
    crn_flowers102_setid_free(&set);
    free(lp);
    free(sp);
    free(cp);
    return rc;
}
