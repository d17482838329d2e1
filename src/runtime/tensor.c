#include "clresnet/runtime/tensor.h"
#include "clresnet/core/shape.h"

#include "runtime_impl.h"

#include <string.h>

size_t crn_dtype_size(crn_dtype t)
{
    (void)t;
    return 4; /* f32 and i32 */
}

size_t crn_tensor_bytes(const crn_tensor *t)
{
    return t->numel * crn_dtype_size(t->dtype);
}

int crn_buffer_alloc(crn_runtime *rt, cl_mem *buf, size_t bytes, crn_error *err)
{
    *buf = NULL;
    if (bytes == 0) bytes = 4; /* OpenCL refuses empty buffers */
    if (bytes > rt->dev.max_alloc)
        return crn_fail(err, CRN_ENOMEM, "a buffer of %.1f MiB exceeds %s's max allocation of %.1f MiB",
                        (double)bytes / 1048576.0, rt->dev.name, (double)rt->dev.max_alloc / 1048576.0);
    cl_int s;
    *buf = clCreateBuffer(rt->ctx, CL_MEM_READ_WRITE, bytes, NULL, &s);
    if (s != CL_SUCCESS)
        return crn_fail(err, CRN_ENOMEM, "allocating %.1f MiB on %s: %s", (double)bytes / 1048576.0,
                        rt->dev.name, crn_cl_strerror(s));
    return CRN_OK;
}

int crn_buffer_alloc_zero(crn_runtime *rt, cl_mem *buf, size_t bytes, crn_error *err)
{
    int rc = crn_buffer_alloc(rt, buf, bytes, err);
    return rc ? rc : crn_buffer_fill(rt, *buf, 0, bytes ? bytes : 4, 0.0f, "a new buffer", err);
}

/* The one error path of device memory I/O. */
static int io_status(const crn_runtime *rt, cl_int s, const char *verb, const char *what, size_t bytes,
                     crn_error *err)
{
    if (s == CL_SUCCESS) return CRN_OK;
    return crn_fail(err, CRN_ECL, "%s %s (%zu bytes) on %s: %s", verb, what, bytes, rt->dev.name, crn_cl_strerror(s));
}

int crn_buffer_write(crn_runtime *rt, cl_mem buf, size_t offset, size_t bytes, const void *host, bool wait,
                     const char *what, crn_error *err)
{
    if (bytes == 0) return CRN_OK;
    cl_int s = clEnqueueWriteBuffer(rt->queue, buf, wait ? CL_TRUE : CL_FALSE, offset, bytes, host, 0, NULL, NULL);
    return io_status(rt, s, "writing", what, bytes, err);
}

int crn_buffer_read(crn_runtime *rt, cl_mem buf, size_t offset, size_t bytes, void *host, bool wait,
                    const char *what, crn_error *err)
{
    if (bytes == 0) return CRN_OK;
    cl_int s = clEnqueueReadBuffer(rt->queue, buf, wait ? CL_TRUE : CL_FALSE, offset, bytes, host, 0, NULL, NULL);
    return io_status(rt, s, "reading", what, bytes, err);
}

int crn_buffer_fill(crn_runtime *rt, cl_mem buf, size_t offset, size_t bytes, float value, const char *what,
                    crn_error *err)
{
    if (bytes == 0) return CRN_OK;
    /* clEnqueueFillBuffer is OpenCL 1.2; every device we target has it. */
    cl_int s = clEnqueueFillBuffer(rt->queue, buf, &value, sizeof value, offset, bytes, 0, NULL, NULL);
    return io_status(rt, s, "filling", what, bytes, err);
}

int crn_buffer_copy(crn_runtime *rt, cl_mem src, size_t src_offset, cl_mem dst, size_t dst_offset, size_t bytes,
                    const char *what, crn_error *err)
{
    if (bytes == 0) return CRN_OK;
    cl_int s = clEnqueueCopyBuffer(rt->queue, src, dst, src_offset, dst_offset, bytes, 0, NULL, NULL);
    return io_status(rt, s, "copying", what, bytes, err);
}

static int set_shape(crn_tensor *t, crn_dtype dtype, int ndim, const size_t *shape, crn_error *err)
{
    memset(t, 0, sizeof *t);
    if (ndim < 1 || ndim > CRN_MAX_DIMS) return crn_fail(err, CRN_EINVAL, "tensor rank %d unsupported", ndim);
    t->dtype = dtype;
    t->ndim = ndim;
    memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    t->numel = crn_shape_numel(shape, ndim);
    return CRN_OK;
}

int crn_tensor_alloc(crn_runtime *rt, crn_tensor *t, crn_dtype dtype, int ndim, const size_t *shape,
                     crn_error *err)
{
    int rc = set_shape(t, dtype, ndim, shape, err);
    return rc == CRN_OK ? crn_buffer_alloc(rt, &t->buf, crn_tensor_bytes(t), err) : rc;
}

int crn_tensor_zeros(crn_runtime *rt, crn_tensor *t, crn_dtype dtype, int ndim, const size_t *shape,
                     crn_error *err)
{
    int rc = crn_tensor_alloc(rt, t, dtype, ndim, shape, err);
    if (rc == CRN_OK) rc = crn_tensor_fill_zero(rt, t, err);
    if (rc != CRN_OK) crn_tensor_free(t);
    return rc;
}

size_t crn_view_align(const crn_runtime *rt)
{
    return rt->dev.mem_base_align_bytes ? rt->dev.mem_base_align_bytes : 128;
}

int crn_tensor_view(crn_runtime *rt, crn_tensor *t, cl_mem parent, size_t byte_offset, crn_dtype dtype, int ndim,
                    const size_t *shape, crn_error *err)
{
    int rc = set_shape(t, dtype, ndim, shape, err);
    if (rc != CRN_OK) return rc;
    if (byte_offset % crn_view_align(rt) != 0)
        return crn_fail(err, CRN_EINVAL, "view offset %zu is not a multiple of the device's %zu-byte alignment",
                        byte_offset, crn_view_align(rt));
    cl_buffer_region region = {byte_offset, crn_tensor_bytes(t) ? crn_tensor_bytes(t) : 4};
    cl_int s;
    t->buf = clCreateSubBuffer(parent, CL_MEM_READ_WRITE, CL_BUFFER_CREATE_TYPE_REGION, &region, &s);
    if (s != CL_SUCCESS) {
        t->buf = NULL;
        return crn_fail(err, CRN_ECL, "creating a %zu-byte view at offset %zu: %s", region.size, byte_offset,
                        crn_cl_strerror(s));
    }
    return CRN_OK;
}

void crn_tensor_free(crn_tensor *t)
{
    if (t->buf) clReleaseMemObject(t->buf);
    memset(t, 0, sizeof *t);
}

int crn_tensor_upload(crn_runtime *rt, crn_tensor *t, const void *host, crn_error *err)
{
    return crn_buffer_write(rt, t->buf, 0, crn_tensor_bytes(t), host, true, "a tensor", err);
}

int crn_tensor_upload_nowait(crn_runtime *rt, crn_tensor *t, const void *host, crn_error *err)
{
    return crn_buffer_write(rt, t->buf, 0, crn_tensor_bytes(t), host, false, "a tensor", err);
}

int crn_tensor_download(crn_runtime *rt, const crn_tensor *t, void *host, crn_error *err)
{
    return crn_buffer_read(rt, t->buf, 0, crn_tensor_bytes(t), host, true, "a tensor", err);
}

int crn_tensor_fill_zero(crn_runtime *rt, crn_tensor *t, crn_error *err)
{
    return crn_buffer_fill(rt, t->buf, 0, crn_tensor_bytes(t), 0.0f, "a tensor", err);
}

int crn_workspace_reserve(crn_runtime *rt, crn_workspace *ws, size_t bytes, crn_error *err)
{
    if (bytes <= ws->bytes && ws->buf) return CRN_OK;
    /* Callers must keep outstanding work ordered on the one in-order queue;
     * releasing a buffer still in use is deferred by OpenCL until it is done. */
    crn_workspace_free(ws);
    int rc = crn_buffer_alloc(rt, &ws->buf, bytes, err);
    if (rc == CRN_OK) ws->bytes = bytes;
    return rc;
}

void crn_workspace_free(crn_workspace *ws)
{
    if (ws->buf) clReleaseMemObject(ws->buf);
    ws->buf = NULL;
    ws->bytes = 0;
}
