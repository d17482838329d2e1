/* Device tensors: a buffer, a shape and a dtype. Activations are stored
 * channel-major, C x (N*H*W) (see docs/layout.md); shape[] is given in the
 * logical order the owner documents. */
#ifndef CLRESNET_TENSOR_H
#define CLRESNET_TENSOR_H

#include <stddef.h>

#include "clresnet/runtime/runtime.h"

enum { CRN_MAX_DIMS = 4 };

typedef enum crn_dtype { CRN_F32 = 0, CRN_I32 = 1 } crn_dtype;

typedef struct crn_tensor {
    cl_mem buf;
    crn_dtype dtype;
    int ndim;
    size_t shape[CRN_MAX_DIMS];
    size_t numel;
} crn_tensor;

size_t crn_dtype_size(crn_dtype t);
size_t crn_tensor_bytes(const crn_tensor *t);

/* Allocates a device tensor (contents undefined). An allocation larger than
 * the device's max allocation is an error that says so. */
int crn_tensor_alloc(crn_runtime *rt, crn_tensor *t, crn_dtype dtype, int ndim, const size_t *shape,
                     crn_error *err);
int crn_tensor_zeros(crn_runtime *rt, crn_tensor *t, crn_dtype dtype, int ndim, const size_t *shape,
                     crn_error *err);
void crn_tensor_free(crn_tensor *t);

/* A view of `parent` starting `byte_offset` bytes in (an OpenCL sub-buffer):
 * many parameters in one allocation, each usable as its own tensor. The
 * offset must be a multiple of crn_view_align(rt). Free views before the
 * parent with crn_tensor_free. */
int crn_tensor_view(crn_runtime *rt, crn_tensor *view, cl_mem parent, size_t byte_offset, crn_dtype dtype,
                    int ndim, const size_t *shape, crn_error *err);
size_t crn_view_align(const crn_runtime *rt);

/* The copy to the device enqueued without waiting: host must stay unchanged
 * until the queue has done it (a later blocking read, or crn_finish). */
int crn_tensor_upload_nowait(crn_runtime *rt, crn_tensor *t, const void *host, crn_error *err);

/* Blocking copies of the whole tensor. */
int crn_tensor_upload(crn_runtime *rt, crn_tensor *t, const void *host, crn_error *err);
int crn_tensor_download(crn_runtime *rt, const crn_tensor *t, void *host, crn_error *err);
int crn_tensor_fill_zero(crn_runtime *rt, crn_tensor *t, crn_error *err);

/* A plain device buffer with its size, for the same checks as tensors. */
int crn_buffer_alloc(crn_runtime *rt, cl_mem *buf, size_t bytes, crn_error *err);
/* The same, filled with zeros. */
int crn_buffer_alloc_zero(crn_runtime *rt, cl_mem *buf, size_t bytes, crn_error *err);

/* Device memory from the host: every read, write, fill and copy of a
 * device buffer goes through these (the tensor functions too), with one
 * error path that names `what` (e.g. "the model's parameters") and the
 * device. The bytes [offset, offset + bytes) of buf; 0 bytes do nothing.
 * wait: the call returns when the copy is done; else it is only enqueued,
 * and host must stay as it is (write) or unread (read) until the queue has
 * done it (a later blocking call, or crn_finish). */
int crn_buffer_write(crn_runtime *rt, cl_mem buf, size_t offset, size_t bytes, const void *host, bool wait,
                     const char *what, crn_error *err);
int crn_buffer_read(crn_runtime *rt, cl_mem buf, size_t offset, size_t bytes, void *host, bool wait,
                    const char *what, crn_error *err);
/* value (a float) into bytes [offset, offset + bytes), a multiple of 4. */
int crn_buffer_fill(crn_runtime *rt, cl_mem buf, size_t offset, size_t bytes, float value, const char *what,
                    crn_error *err);
int crn_buffer_copy(crn_runtime *rt, cl_mem src, size_t src_offset, cl_mem dst, size_t dst_offset, size_t bytes,
                    const char *what, crn_error *err);

/* A scratch buffer that only grows (im2col columns and the like), reused
 * across layers and steps. */
typedef struct crn_workspace {
    cl_mem buf;
    size_t bytes;
} crn_workspace;

int crn_workspace_reserve(crn_runtime *rt, crn_workspace *ws, size_t bytes, crn_error *err);
void crn_workspace_free(crn_workspace *ws);

#endif
