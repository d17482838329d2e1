/* Data-parallel training across processes ("ranks") on MPI: the job's
 * shape (rank, size, rank on this host), the collectives the trainer needs,
 * and their device-buffer forms. Without MPI in the build, or when the
 * program was not started by mpirun, there is one rank and every collective
 * is a no-op, so the trainer has a single code path. */
#ifndef CLRESNET_DIST_H
#define CLRESNET_DIST_H

#include <stdbool.h>
#include <stddef.h>

#include "clresnet/runtime/runtime.h"

typedef struct crn_dist {
    int rank, size;              /* in the job */
    int local_rank, local_size;  /* among the ranks on this host: picks the device */
    bool mpi;                    /* MPI was initialised by crn_dist_init */
    char host[256];
} crn_dist;

/* Whether this build has MPI ("mpi" build option). */
bool crn_dist_built_with_mpi(void);

/* Initialises MPI when launched (mpirun started this process, as the
 * caller tells from the environment: any number of ranks); otherwise fills
 * d with one rank and leaves MPI alone. Launched but built without MPI is
 * an error: K copies would each train alone. */
int crn_dist_init(crn_dist *d, bool launched, int *argc, char ***argv, crn_error *err);
void crn_dist_finalize(crn_dist *d);

/* A job of one rank: for callers given no job. */
const crn_dist *crn_dist_single(void);

/* Ends every rank of the job (MPI_Abort): for an error on one rank, which
 * would otherwise leave the others waiting in a collective forever. */
void crn_dist_abort(const crn_dist *d, int code);

/* In-place sums over all ranks. */
int crn_dist_sum_f64(const crn_dist *d, double *v, size_t n, crn_error *err);
int crn_dist_sum_f32(const crn_dist *d, float *v, size_t n, crn_error *err);
/* Rank root's bytes to every rank. */
int crn_dist_bcast(const crn_dist *d, void *buf, size_t bytes, int root, crn_error *err);
/* A string of rank 0 to every rank: *s is replaced by a malloc'd copy on
 * the others (and may be NULL). */
int crn_dist_bcast_string(const crn_dist *d, char **s, crn_error *err);

/* The gradient all-reduce of one step: every rank's n floats of buf,
 * multiplied by `scale_in` (the rank's sample count), summed over the ranks
 * and multiplied by `scale_out` (1 / the global count), written back. Done
 * in buckets: the device-to-host read of one bucket overlaps the reduction of
 * the previous one. host: n floats of scratch. */
int crn_dist_allreduce_buffer(const crn_dist *d, crn_runtime *rt, cl_mem buf, size_t n, float *host, float scale_in,
                              float scale_out, crn_error *err);
/* Rank 0's n floats of buf to every rank (through host, n floats). */
int crn_dist_bcast_buffer(const crn_dist *d, crn_runtime *rt, cl_mem buf, size_t n, float *host, crn_error *err);

/* Seconds spent in crn_dist_allreduce_buffer so far: transfers and waits
 * for slower ranks, not the backward pass it waits for first. */
double crn_dist_allreduce_seconds(void);

#endif
