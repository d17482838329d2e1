/* A prefetching batch loader: worker threads decode and transform samples
 * into a ring of reusable host batch buffers (bounded depth, so memory stays
 * flat) while the caller works. An epoch yields the batches in the order of
 * a permutation derived from (seed, epoch) (or in order when shuffle is off),
 * the last partial batch included. Each sample's random choices depend only
 * on (seed, epoch, sample index), so the bytes do not depend on the number of
 * workers. */
#ifndef CLRESNET_LOADER_H
#define CLRESNET_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "clresnet/data/dataset.h"
#include "clresnet/core/error.h"
#include "clresnet/data/transforms.h"

typedef struct crn_loader_config {
    int batch_size;       /* 32 */
    int workers;          /* 0: the number of online cores */
    int queue_depth;      /* batches in flight; 0: workers + 2 (at least 2) */
    int shuffle;          /* 1 */
    int skip_bad;         /* 1: a sample that fails to decode is left out and counted; 0: the error is returned */
    uint64_t seed;        /* 0 */
    crn_transform_config transform;
    /* Data-parallel sharding: the epoch is cut into global batches of
     * batch_size * shard_count positions of the order, and this loader
     * yields part shard_rank of each (an even split; only the last global
     * batch gives parts smaller than batch_size, maybe empty). 0, 0: no
     * sharding. */
    int shard_rank, shard_count;
} crn_loader_config;

void crn_loader_config_default(crn_loader_config *c);

typedef struct crn_batch {
    int n;                /* samples in this batch (<= batch_size; fewer in the last batch or when skipping) */
    int image_size;       /* S */
    float *images;        /* [n, 3, S, S] normalised, NCHW */
    int32_t *labels;      /* [n], 0-based */
    size_t *indices;      /* [n], positions in the sample list */
    size_t batch_index;   /* 0-based within the epoch */
    int skipped;          /* samples of this batch left out as bad */
    size_t global_n;      /* positions of the epoch's order this step covers on all shards together */
} crn_batch;

typedef struct crn_loader crn_loader;

/* samples is not copied: it must outlive the loader. */
/* The loader threads a `workers` setting means: itself, or one per online
 * core for 0 (the data check and config.json use the same rule). */
int crn_loader_worker_count(int workers);

int crn_loader_create(crn_loader **out, const crn_sample *samples, size_t n, const crn_loader_config *cfg,
                      crn_error *err);

/* Starts (or restarts) epoch `epoch`; an unfinished epoch is abandoned. */
int crn_loader_start_epoch(crn_loader *l, uint64_t epoch, crn_error *err);
/* The same from position `first` of the epoch's order on (a resumed epoch:
 * the positions before it were trained on; with sharding, the global
 * batches are counted from there). */
int crn_loader_start_epoch_at(crn_loader *l, uint64_t epoch, size_t first, crn_error *err);

/* The next batch of the epoch: returns 1 with *batch set (valid until the
 * next call of next/start_epoch/destroy), 0 when the epoch is over, or a
 * negative error code (a bad sample without skip_bad: the message names the
 * file). */
int crn_loader_next(crn_loader *l, const crn_batch **batch, crn_error *err);

/* Steps of a whole epoch (global batches when sharded). */
size_t crn_loader_batches_per_epoch(const crn_loader *l);
/* Bad samples skipped since the loader was created, and the first such message. */
size_t crn_loader_skipped(const crn_loader *l, char *first_msg, size_t msg_size);

void crn_loader_destroy(crn_loader *l);

/* Loader throughput: runs `epochs` epochs over samples with the given config
 * and reports decoded-and-transformed images per second. */
typedef struct crn_loader_bench_result {
    size_t images;
    double seconds;
    double images_per_s;
    size_t skipped;
} crn_loader_bench_result;

int crn_loader_bench(const crn_sample *samples, size_t n, const crn_loader_config *cfg, int epochs,
                     crn_loader_bench_result *res, crn_error *err);

/* Samples for every .jpg or .jpeg file directly in DIR (sorted, label 0):
 * for benchmarks on a bare folder of images. Free with crn_samples_free. */
int crn_samples_from_dir(const char *dir, crn_sample **samples, size_t *n, crn_error *err);
void crn_samples_free(crn_sample *samples, size_t n);

#endif
