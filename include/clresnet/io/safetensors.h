/* safetensors files (https://huggingface.co/docs/safetensors): an 8-byte
 * little-endian header length, a JSON header, then raw little-endian data.
 * Used for weights, checkpoints and the PyTorch test fixtures. */
#ifndef CLRESNET_SAFETENSORS_H
#define CLRESNET_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "clresnet/core/error.h"

typedef enum crn_st_dtype { CRN_ST_F32, CRN_ST_F64, CRN_ST_I64, CRN_ST_I32, CRN_ST_U8 } crn_st_dtype;

enum { CRN_ST_MAX_DIMS = 8 };

typedef struct crn_st_tensor {
    char *name;
    crn_st_dtype dtype;
    int ndim;
    size_t shape[CRN_ST_MAX_DIMS];
    size_t numel;
    const unsigned char *data; /* into the file's bytes, little-endian */
    size_t nbytes;
} crn_st_tensor;

typedef struct crn_st_file {
    char *path;
    unsigned char *bytes;
    size_t size;
    crn_st_tensor *tensors;
    int count;
    char **meta_keys, **meta_values;
    int meta_count;
} crn_st_file;

/* Reads and validates the whole file: header JSON, dtypes, shapes, offsets
 * inside the data and sized to match. Errors name the file and the tensor. */
int crn_st_read(const char *path, crn_st_file *f, crn_error *err);
void crn_st_free(crn_st_file *f);

const crn_st_tensor *crn_st_find(const crn_st_file *f, const char *name);
const char *crn_st_meta(const crn_st_file *f, const char *key);

/* Copies tensor `name` into out as float32, converting from F64/I64/I32.
 * The element count must be `numel` exactly; errors name the tensor. */
int crn_st_get_f32(const crn_st_file *f, const char *name, float *out, size_t numel, crn_error *err);

size_t crn_st_dtype_size(crn_st_dtype t);
const char *crn_st_dtype_name(crn_st_dtype t);

/* Writer: tensors are copied in; save is atomic (temp file, fsync, rename). */
typedef struct crn_st_writer {
    crn_st_tensor *tensors;
    int count, cap;
    char **meta_keys, **meta_values;
    int meta_count;
} crn_st_writer;

void crn_st_writer_init(crn_st_writer *w);
int crn_st_writer_add(crn_st_writer *w, const char *name, crn_st_dtype dtype, int ndim, const size_t *shape,
                      const void *data, crn_error *err);
int crn_st_writer_meta(crn_st_writer *w, const char *key, const char *value, crn_error *err);
int crn_st_writer_save(const crn_st_writer *w, const char *path, crn_error *err);
void crn_st_writer_free(crn_st_writer *w);

#endif
