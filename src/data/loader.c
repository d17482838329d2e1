/* Prefetching loader: per-sample work items over a ring of batch slots. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clresnet/data/loader.h"
#include "clresnet/core/clock.h"
#include "clresnet/core/file_util.h"

typedef struct slot {
    crn_batch b;
    long long batch;   /* batch index held, -1 when none */
    int size;          /* samples assigned */
    int done;          /* samples finished */
    unsigned char *ok; /* per position */
    int err_pos;       /* lowest failing position, or batch_size */
    crn_error err;
} slot;

typedef struct worker {
    crn_loader *l;
    pthread_t th;
    crn_transform_scratch scratch;
    crn_error err;
} worker;

struct crn_loader {
    const crn_sample *samples;
    size_t n;
    crn_loader_config cfg;
    int S, B, Q, nworkers;
    int rank, K;      /* shard */
    size_t per_image; /* floats */
    size_t *order;
    size_t first;     /* the epoch starts at this position of order */
    size_t nbatches;  /* batches left from first on */
    size_t nbatches_epoch;
    slot *slots;
    worker *workers;
    pthread_mutex_t mu;
    pthread_cond_t work, ready, idle;
    int stop;
    int threads_started;
    uint64_t epoch;
    size_t total, next_item, released, cur;
    int holding, in_flight, started;
    size_t skipped;
    char first_skip[sizeof(((crn_error *)0)->msg)];
};

void crn_loader_config_default(crn_loader_config *c)
{
    /* zero workers and queue depth: chosen from the cores */
    *c = (crn_loader_config){.batch_size = 32, .shuffle = 1};
    crn_transform_config_default(&c->transform);
}

/* Global batch b (from l->first): its size M and this shard's part [lo, hi). */
static size_t shard_part(const crn_loader *l, size_t b, size_t *lo, size_t *hi)
{
    size_t G = (size_t)l->B * (size_t)l->K, start = l->first + b * G;
    size_t M = l->n - start < G ? l->n - start : G;
    *lo = M * (size_t)l->rank / (size_t)l->K;
    *hi = M * (size_t)(l->rank + 1) / (size_t)l->K;
    return M;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    crn_loader *l = w->l;
    pthread_mutex_lock(&l->mu);
    while (!l->stop) {
        if (l->next_item < l->total && l->next_item / (size_t)l->B < l->released + (size_t)l->Q) {
            size_t i = l->next_item++;
            size_t b = i / (size_t)l->B;
            int pos = (int)(i % (size_t)l->B);
            slot *s = &l->slots[b % (size_t)l->Q];
            size_t lo, hi, M = shard_part(l, b, &lo, &hi);
            if (pos == 0) {
                s->batch = (long long)b;
                s->size = (int)(hi - lo);
                s->done = 0;
                s->err_pos = l->B;
                s->b.skipped = 0;
                s->b.global_n = M;
                if (s->size == 0) pthread_cond_broadcast(&l->ready);
            }
            if (pos >= s->size) continue; /* a short part of the last global batch */
            size_t idx = l->order[l->first + b * (size_t)l->B * (size_t)l->K + lo + (size_t)pos];
            uint64_t epoch = l->epoch;
            l->in_flight++;
            pthread_mutex_unlock(&l->mu);

            float *out = s->b.images + (size_t)pos * l->per_image;
            int rc = crn_transform_file(&l->cfg.transform, l->samples[idx].path, l->cfg.seed, epoch, idx,
                                        &w->scratch, out, &w->err);
            s->b.labels[pos] = l->samples[idx].label;
            s->b.indices[pos] = idx;
            s->ok[pos] = rc == CRN_OK;

            pthread_mutex_lock(&l->mu);
            if (rc != CRN_OK && pos < s->err_pos) {
                s->err_pos = pos;
                s->err = w->err;
            }
            s->done++;
            if (s->done == s->size)
                pthread_cond_broadcast(&l->ready);
            if (--l->in_flight == 0)
                pthread_cond_broadcast(&l->idle);
            continue;
        }
        pthread_cond_wait(&l->work, &l->mu);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

int crn_loader_worker_count(int workers)
{
    if (workers > 0) return workers;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

int crn_loader_create(crn_loader **out, const crn_sample *samples, size_t n, const crn_loader_config *cfg,
                      crn_error *err)
{
    *out = NULL;
    if (cfg->batch_size < 1 || cfg->batch_size > 65536)
        return crn_fail(err, CRN_EINVAL, "batch size %d is out of range 1..65536", cfg->batch_size);
    if (cfg->workers < 0 || cfg->workers > 256)
        return crn_fail(err, CRN_EINVAL, "workers %d is out of range 0..256", cfg->workers);
    if (cfg->queue_depth < 0 || cfg->queue_depth > 1024)
        return crn_fail(err, CRN_EINVAL, "queue depth %d is out of range 0..1024", cfg->queue_depth);
    int rc = crn_transform_config_check(&cfg->transform, err);
    if (rc != CRN_OK)
        return rc;
    if (n == 0)
        return crn_fail(err, CRN_EINVAL, "loader: no samples");
    crn_loader *l = calloc(1, sizeof(*l));
    if (!l)
        return crn_fail(err, CRN_ENOMEM, "out of memory");
    l->samples = samples;
    l->n = n;
    l->cfg = *cfg;
    l->S = cfg->transform.image_size;
    l->B = cfg->batch_size;
    l->nworkers = crn_loader_worker_count(cfg->workers);
    l->Q = cfg->queue_depth ? cfg->queue_depth : l->nworkers + 2;
    if (l->Q < 2)
        l->Q = 2;
    l->per_image = (size_t)3 * (size_t)l->S * (size_t)l->S;
    l->K = cfg->shard_count > 0 ? cfg->shard_count : 1;
    l->rank = cfg->shard_rank;
    if (l->rank < 0 || l->rank >= l->K) {
        int k = l->K;
        free(l);
        return crn_fail(err, CRN_EINVAL, "loader: shard %d of %d does not exist", cfg->shard_rank, k);
    }
    l->nbatches = l->nbatches_epoch = (n + (size_t)l->B * (size_t)l->K - 1) / ((size_t)l->B * (size_t)l->K);
    l->order = malloc(n * sizeof(size_t));
    l->slots = calloc((size_t)l->Q, sizeof(slot));
    l->workers = calloc((size_t)l->nworkers, sizeof(worker));
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->work, NULL);
    pthread_cond_init(&l->ready, NULL);
    pthread_cond_init(&l->idle, NULL);
    if (!l->order || !l->slots || !l->workers) {
        crn_loader_destroy(l);
        return crn_fail(err, CRN_ENOMEM, "out of memory");
    }
    for (int q = 0; q < l->Q; q++) {
        slot *s = &l->slots[q];
        s->batch = -1;
        s->b.image_size = l->S;
        s->b.images = malloc((size_t)l->B * l->per_image * sizeof(float));
        s->b.labels = malloc((size_t)l->B * sizeof(int32_t));
        s->b.indices = malloc((size_t)l->B * sizeof(size_t));
        s->ok = malloc((size_t)l->B);
        if (!s->b.images || !s->b.labels || !s->b.indices || !s->ok) {
            crn_loader_destroy(l);
            return crn_fail(err, CRN_ENOMEM, "out of memory for %d batch buffers of %d x 3 x %d x %d", l->Q, l->B,
                            l->S, l->S);
        }
    }
    for (int i = 0; i < l->nworkers; i++) {
        l->workers[i].l = l;
        if (pthread_create(&l->workers[i].th, NULL, worker_main, &l->workers[i]) != 0) {
            crn_loader_destroy(l);
            return crn_fail(err, CRN_ENOMEM, "cannot start loader worker thread %d", i);
        }
        l->threads_started = i + 1;
    }
    *out = l;
    return CRN_OK;
}

/* Stops handing out items of the current epoch and waits for those in flight. Lock held. */
static void quiesce(crn_loader *l)
{
    l->total = 0;
    l->next_item = 0;
    while (l->in_flight > 0)
        pthread_cond_wait(&l->idle, &l->mu);
}

int crn_loader_start_epoch(crn_loader *l, uint64_t epoch, crn_error *err)
{
    return crn_loader_start_epoch_at(l, epoch, 0, err);
}

int crn_loader_start_epoch_at(crn_loader *l, uint64_t epoch, size_t first, crn_error *err)
{
    if (first > l->n)
        return crn_fail(err, CRN_EINVAL, "loader: the epoch cannot start at position %zu of %zu", first, l->n);
    pthread_mutex_lock(&l->mu);
    quiesce(l);
    if (l->cfg.shuffle)
        crn_shuffle_indices(l->order, l->n, l->cfg.seed, epoch);
    else
        for (size_t i = 0; i < l->n; i++)
            l->order[i] = i;
    for (int q = 0; q < l->Q; q++)
        l->slots[q].batch = -1;
    l->epoch = epoch;
    l->released = 0;
    l->cur = 0;
    l->holding = 0;
    l->next_item = 0;
    l->first = first;
    size_t G = (size_t)l->B * (size_t)l->K;
    l->nbatches = (l->n - first + G - 1) / G;
    l->total = l->nbatches * (size_t)l->B; /* item slots; parts shorter than B leave some empty */
    l->started = 1;
    pthread_cond_broadcast(&l->work);
    pthread_mutex_unlock(&l->mu);
    return CRN_OK;
}

int crn_loader_next(crn_loader *l, const crn_batch **batch, crn_error *err)
{
    *batch = NULL;
    pthread_mutex_lock(&l->mu);
    if (!l->started) {
        pthread_mutex_unlock(&l->mu);
        return crn_fail(err, CRN_EINVAL, "loader: next before start_epoch");
    }
    if (l->holding) {
        l->holding = 0;
        l->released++;
        pthread_cond_broadcast(&l->work);
    }
    if (l->cur >= l->nbatches) {
        pthread_mutex_unlock(&l->mu);
        return 0;
    }
    slot *s = &l->slots[l->cur % (size_t)l->Q];
    while (!(s->batch == (long long)l->cur && s->done == s->size))
        pthread_cond_wait(&l->ready, &l->mu);
    size_t b = l->cur++;
    l->holding = 1;
    int rc = CRN_OK;
    if (s->err_pos < s->size) {
        if (!l->cfg.skip_bad) {
            rc = crn_fail(err, s->err.code ? s->err.code : CRN_EFORMAT, "%s", s->err.msg);
        } else {
            /* compact the good samples to the front, in order */
            int k = 0, skipped = 0;
            for (int p = 0; p < s->size; p++) {
                if (!s->ok[p]) {
                    skipped++;
                    continue;
                }
                if (k != p) {
                    memmove(s->b.images + (size_t)k * l->per_image, s->b.images + (size_t)p * l->per_image,
                            l->per_image * sizeof(float));
                    s->b.labels[k] = s->b.labels[p];
                    s->b.indices[k] = s->b.indices[p];
                }
                k++;
            }
            if (l->skipped == 0)
                snprintf(l->first_skip, sizeof(l->first_skip), "%s", s->err.msg);
            l->skipped += (size_t)skipped;
            s->b.skipped = skipped;
            s->size = k;
            s->done = k;
            s->err_pos = l->B;
        }
    }
    s->b.n = s->size;
    s->b.batch_index = b + (l->nbatches_epoch - l->nbatches);
    pthread_mutex_unlock(&l->mu);
    if (rc != CRN_OK)
        return rc;
    *batch = &s->b;
    return 1;
}

size_t crn_loader_batches_per_epoch(const crn_loader *l)
{
    return l->nbatches_epoch;
}

size_t crn_loader_skipped(const crn_loader *l, char *first_msg, size_t msg_size)
{
    if (first_msg && msg_size)
        snprintf(first_msg, msg_size, "%s", l->first_skip);
    return l->skipped;
}

void crn_loader_destroy(crn_loader *l)
{
    if (!l)
        return;
    pthread_mutex_lock(&l->mu);
    quiesce(l);
    l->stop = 1;
    pthread_cond_broadcast(&l->work);
    pthread_mutex_unlock(&l->mu);
    for (int i = 0; i < l->threads_started; i++)
        pthread_join(l->workers[i].th, NULL);
    if (l->workers)
        for (int i = 0; i < l->nworkers; i++)
            crn_transform_scratch_free(&l->workers[i].scratch);
    if (l->slots)
        for (int q = 0; q < l->Q; q++) {
            free(l->slots[q].b.images);
            free(l->slots[q].b.labels);
            free(l->slots[q].b.indices);
            free(l->slots[q].ok);
        }
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->work);
    pthread_cond_destroy(&l->ready);
    pthread_cond_destroy(&l->idle);
    free(l->slots);
    free(l->workers);
    free(l->order);
    free(l);
}

int crn_loader_bench(const crn_sample *samples, size_t n, const crn_loader_config *cfg, int epochs,
                     crn_loader_bench_result *res, crn_error *err)
{
    memset(res, 0, sizeof(*res));
    crn_loader *l;
    int rc = crn_loader_create(&l, samples, n, cfg, err);
    if (rc != CRN_OK)
        return rc;
    double t0 = crn_now_s();
    for (int e = 0; e < (epochs > 0 ? epochs : 1) && rc == CRN_OK; e++) {
        crn_loader_start_epoch(l, (uint64_t)e, err);
        const crn_batch *b;
        int got;
        while ((got = crn_loader_next(l, &b, err)) == 1)
            res->images += (size_t)b->n;
        if (got < 0)
            rc = got;
    }
    res->seconds = crn_now_s() - t0;
    res->images_per_s = res->seconds > 0 ? (double)res->images / res->seconds : 0;
    res->skipped = crn_loader_skipped(l, NULL, 0);
    crn_loader_destroy(l);
    return rc;
}

static int cmp_sample(const void *a, const void *b)
{
    return strcmp(((const crn_sample *)a)->path, ((const crn_sample *)b)->path);
}

int crn_samples_from_dir(const char *dir, crn_sample **samples, size_t *n, crn_error *err)
{
    *samples = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return crn_fail(err, CRN_EIO, "%s: %s", dir, strerror(errno));
    size_t cap = 0, cnt = 0;
    crn_sample *s = NULL;
    struct dirent *e;
    int rc = CRN_OK;
    while ((e = readdir(d))) {
        const char *dot = strrchr(e->d_name, '.');
        if (e->d_name[0] == '.' || !dot || (strcasecmp(dot, ".jpg") != 0 && strcasecmp(dot, ".jpeg") != 0 && strcasecmp(dot, ".png") != 0))
            continue;
        if (cnt == cap) {
            cap = cap ? 2 * cap : 64;
            crn_sample *ns = realloc(s, cap * sizeof(*s));
            if (!ns) {
                rc = crn_fail(err, CRN_ENOMEM, "out of memory");
                break;
            }
            s = ns;
        }
        char *p = crn_path_alloc("%s/%s", dir, e->d_name);
        if (!p) {
            rc = crn_fail(err, CRN_ENOMEM, "out of memory");
            break;
        }
        s[cnt].path = p;
        s[cnt].label = 0;
        s[cnt].id = (int)cnt;
        cnt++;
    }
    closedir(d);
    if (rc == CRN_OK && cnt == 0)
        rc = crn_fail(err, CRN_EINVAL, "%s: no .jpg, .jpeg or .png files", dir);
    if (rc != CRN_OK) {
        crn_samples_free(s, cnt);
        return rc;
    }
    qsort(s, cnt, sizeof(*s), cmp_sample);
    for (size_t i = 0; i < cnt; i++)
        s[i].id = (int)i;
    *samples = s;
    *n = cnt;
    return CRN_OK;
}

void crn_samples_free(crn_sample *samples, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(samples[i].path);
    free(samples);
}
