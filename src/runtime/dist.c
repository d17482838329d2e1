/* MPI behind crn_dist; one rank without it. */
#define _XOPEN_SOURCE 700 /* gethostname, nanosleep */
#include "clresnet/runtime/dist.h"
#include "clresnet/core/clock.h"
#include "clresnet/runtime/tensor.h"

#include "runtime_impl.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef CRN_HAVE_MPI
#include <mpi.h>
#endif

static double g_allreduce_seconds;

bool crn_dist_built_with_mpi(void)
{
#ifdef CRN_HAVE_MPI
    return true;
#else
    return false;
#endif
}

static void single(crn_dist *d)
{
    memset(d, 0, sizeof *d);
    d->size = d->local_size = 1;
    if (gethostname(d->host, sizeof d->host) != 0) snprintf(d->host, sizeof d->host, "localhost");
    d->host[sizeof d->host - 1] = 0;
}

const crn_dist *crn_dist_single(void)
{
    static const crn_dist one = {.size = 1, .local_size = 1, .host = "localhost"};
    return &one;
}

double crn_dist_allreduce_seconds(void)
{
    return g_allreduce_seconds;
}

static void scale(float *v, size_t n, float s)
{
    if (s == 1.0f) return;
    for (size_t i = 0; i < n; i++) v[i] *= s;
}

#ifdef CRN_HAVE_MPI

static int mpi_fail(crn_error *err, int code, const char *what)
{
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(code, msg, &len) != MPI_SUCCESS) snprintf(msg, sizeof msg, "MPI error %d", code);
    return crn_fail(err, CRN_EIO, "%s failed: %s", what, msg);
}

int crn_dist_init(crn_dist *d, bool launched, int *argc, char ***argv, crn_error *err)
{
    single(d);
    if (!launched) return CRN_OK;
    int provided = 0;
    /* Only the main thread calls MPI; the loader's threads never do. */
    int rc = MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    if (rc != MPI_SUCCESS) return mpi_fail(err, rc, "MPI_Init_thread");
    d->mpi = true;
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &d->size);
    MPI_Comm local;
    if ((rc = MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, d->rank, MPI_INFO_NULL, &local)) !=
        MPI_SUCCESS)
        return mpi_fail(err, rc, "MPI_Comm_split_type");
    MPI_Comm_rank(local, &d->local_rank);
    MPI_Comm_size(local, &d->local_size);
    MPI_Comm_free(&local);
    char name[MPI_MAX_PROCESSOR_NAME];
    int len = 0;
    if (MPI_Get_processor_name(name, &len) == MPI_SUCCESS) snprintf(d->host, sizeof d->host, "%.*s", len, name);
    return CRN_OK;
}

void crn_dist_finalize(crn_dist *d)
{
    if (d->mpi) MPI_Finalize();
    d->mpi = false;
}

void crn_dist_abort(const crn_dist *d, int code)
{
    if (d->mpi && d->size > 1) MPI_Abort(MPI_COMM_WORLD, code);
}

int crn_dist_sum_f64(const crn_dist *d, double *v, size_t n, crn_error *err)
{
    if (d->size == 1 || n == 0) return CRN_OK;
    if (n > INT_MAX) return crn_fail(err, CRN_EINVAL, "crn_dist_sum_f64: %zu values is too many", n);
    int rc = MPI_Allreduce(MPI_IN_PLACE, v, (int)n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? CRN_OK : mpi_fail(err, rc, "MPI_Allreduce");
}

int crn_dist_sum_f32(const crn_dist *d, float *v, size_t n, crn_error *err)
{
    const size_t chunk = (size_t)1 << 28;
    for (size_t off = 0; d->size > 1 && off < n; off += chunk) {
        size_t len = n - off < chunk ? n - off : chunk;
        int rc = MPI_Allreduce(MPI_IN_PLACE, v + off, (int)len, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) return mpi_fail(err, rc, "MPI_Allreduce");
    }
    return CRN_OK;
}

int crn_dist_bcast(const crn_dist *d, void *buf, size_t bytes, int root, crn_error *err)
{
    const size_t chunk = (size_t)1 << 30;
    for (size_t off = 0; d->size > 1 && off < bytes; off += chunk) {
        size_t len = bytes - off < chunk ? bytes - off : chunk;
        int rc = MPI_Bcast((char *)buf + off, (int)len, MPI_BYTE, root, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) return mpi_fail(err, rc, "MPI_Bcast");
    }
    return CRN_OK;
}

/* Buckets of 4 Mi floats (16 MiB): big enough for full bandwidth, small
 * enough that the first reduction starts early. */
#define BUCKET ((size_t)4 << 20)

int crn_dist_allreduce_buffer(const crn_dist *d, crn_runtime *rt, cl_mem buf, size_t n, float *host, float scale_in,
                              float scale_out, crn_error *err)
{
    if (n == 0 || (d->size == 1 && scale_in * scale_out == 1.0f)) return CRN_OK;
    /* the backward pass first, so the time below is the reduction's own
     * (plus any wait for a slower rank) */
    cl_int s = clFinish(rt->queue);
    if (s != CL_SUCCESS) return crn_fail(err, CRN_ECL, "finishing the backward pass: %s", crn_cl_strerror(s));
    double t0 = crn_now_s();
    size_t nb = (n + BUCKET - 1) / BUCKET;
    cl_event *ev = calloc(nb, sizeof *ev);
    MPI_Request *req = malloc(nb * sizeof *req);
    if (!ev || !req) {
        free(ev);
        free(req);
        return crn_fail(err, CRN_ENOMEM, "out of host memory");
    }
    for (size_t k = 0; k < nb; k++) req[k] = MPI_REQUEST_NULL;
    int rc = CRN_OK;
    for (size_t k = 0; k < nb && s == CL_SUCCESS; k++) {
        size_t off = k * BUCKET, len = n - off < BUCKET ? n - off : BUCKET;
        s = clEnqueueReadBuffer(rt->queue, buf, CL_FALSE, off * sizeof(float), len * sizeof(float), host + off, 0,
                                NULL, &ev[k]);
    }
    if (s == CL_SUCCESS) s = clFlush(rt->queue);
    if (s != CL_SUCCESS) rc = crn_fail(err, CRN_ECL, "reading gradients for the all-reduce: %s", crn_cl_strerror(s));
    /* Start each bucket's reduction as soon as its read lands; poll MPI in
     * between so the started ones progress. */
    size_t started = 0;
    while (rc == CRN_OK && started < nb) {
        cl_int st = CL_QUEUED;
        s = clGetEventInfo(ev[started], CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof st, &st, NULL);
        if (s != CL_SUCCESS || st < 0) {
            rc = crn_fail(err, CRN_ECL, "reading gradients for the all-reduce: %s",
                          crn_cl_strerror(s != CL_SUCCESS ? s : st));
            break;
        }
        if (st == CL_COMPLETE) {
            size_t off = started * BUCKET, len = n - off < BUCKET ? n - off : BUCKET;
            scale(host + off, len, scale_in);
            int m = d->size > 1 ? MPI_Iallreduce(MPI_IN_PLACE, host + off, (int)len, MPI_FLOAT, MPI_SUM,
                                                 MPI_COMM_WORLD, &req[started])
                                : MPI_SUCCESS;
            if (m != MPI_SUCCESS) rc = mpi_fail(err, m, "MPI_Iallreduce");
            started++;
        } else if (started > 0 && d->size > 1) {
            int flag = 0;
            MPI_Testall((int)started, req, &flag, MPI_STATUSES_IGNORE);
        } else {
            clWaitForEvents(1, &ev[started]);
        }
    }
    for (size_t k = 0; k < nb; k++) {
        if (rc == CRN_OK) {
            int m = MPI_Wait(&req[k], MPI_STATUS_IGNORE);
            if (m != MPI_SUCCESS) rc = mpi_fail(err, m, "MPI_Iallreduce");
        } else if (req[k] != MPI_REQUEST_NULL) {
            MPI_Wait(&req[k], MPI_STATUS_IGNORE);
        }
        if (rc == CRN_OK) {
            size_t off = k * BUCKET, len = n - off < BUCKET ? n - off : BUCKET;
            scale(host + off, len, scale_out);
            rc = crn_buffer_write(rt, buf, off * sizeof(float), len * sizeof(float), host + off, false,
                                  "the reduced gradients", err);
        }
    }
    s = clFinish(rt->queue); /* host must outlive the writes */
    if (rc == CRN_OK && s != CL_SUCCESS) rc = crn_fail(err, CRN_ECL, "all-reduce: %s", crn_cl_strerror(s));
    for (size_t k = 0; k < nb; k++)
        if (ev[k]) clReleaseEvent(ev[k]);
    free(ev);
    free(req);
    g_allreduce_seconds += crn_now_s() - t0;
    return rc;
}

#else /* no MPI: one rank */

int crn_dist_init(crn_dist *d, bool launched, int *argc, char ***argv, crn_error *err)
{
    (void)argc, (void)argv;
    single(d);
    if (launched)
        return crn_fail(err, CRN_EINVAL,
                        "started by mpirun, but this clresnet was built without MPI; install Open MPI "
                        "(libopenmpi-dev) and rebuild (meson option -Dmpi=enabled)");
    return CRN_OK;
}

void crn_dist_finalize(crn_dist *d)
{
    (void)d;
}

void crn_dist_abort(const crn_dist *d, int code)
{
    (void)d, (void)code;
}

int crn_dist_sum_f64(const crn_dist *d, double *v, size_t n, crn_error *err)
{
    (void)d, (void)v, (void)n, (void)err;
    return CRN_OK;
}

int crn_dist_sum_f32(const crn_dist *d, float *v, size_t n, crn_error *err)
{
    (void)d, (void)v, (void)n, (void)err;
    return CRN_OK;
}

int crn_dist_bcast(const crn_dist *d, void *buf, size_t bytes, int root, crn_error *err)
{
    (void)d, (void)buf, (void)bytes, (void)root, (void)err;
    return CRN_OK;
}

int crn_dist_allreduce_buffer(const crn_dist *d, crn_runtime *rt, cl_mem buf, size_t n, float *host, float scale_in,
                              float scale_out, crn_error *err)
{
    (void)d;
    float f = scale_in * scale_out;
    if (n == 0 || f == 1.0f) return CRN_OK;
    double t0 = crn_now_s();
    int rc = crn_buffer_read(rt, buf, 0, n * sizeof(float), host, true, "the gradients", err);
    if (rc == CRN_OK) {
        scale(host, n, f);
        rc = crn_buffer_write(rt, buf, 0, n * sizeof(float), host, true, "the scaled gradients", err);
    }
    g_allreduce_seconds += crn_now_s() - t0;
    return rc;
}

#endif

int crn_dist_bcast_string(const crn_dist *d, char **s, crn_error *err)
{
    if (d->size == 1) return CRN_OK;
    long long len = d->rank == 0 ? (*s ? (long long)strlen(*s) : -1) : 0;
    int rc = crn_dist_bcast(d, &len, sizeof len, 0, err);
    if (rc != CRN_OK) return rc;
    if (d->rank != 0) {
        *s = NULL;
        if (len < 0) return CRN_OK;
        if (!(*s = malloc((size_t)len + 1))) return crn_fail(err, CRN_ENOMEM, "out of host memory");
        (*s)[len] = 0;
    }
    return len > 0 ? crn_dist_bcast(d, *s, (size_t)len, 0, err) : CRN_OK;
}

int crn_dist_bcast_buffer(const crn_dist *d, crn_runtime *rt, cl_mem buf, size_t n, float *host, crn_error *err)
{
    if (d->size == 1 || n == 0) return CRN_OK;
    int rc = d->rank == 0 ? crn_buffer_read(rt, buf, 0, n * sizeof(float), host, true, "a buffer to broadcast", err)
                          : CRN_OK;
    if (rc == CRN_OK) rc = crn_dist_bcast(d, host, n * sizeof(float), 0, err);
    if (rc == CRN_OK && d->rank != 0)
        rc = crn_buffer_write(rt, buf, 0, n * sizeof(float), host, true, "a broadcast buffer", err);
    return rc;
}
