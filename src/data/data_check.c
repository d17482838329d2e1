#include "clresnet/data/data_check.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clresnet/data/image.h"
#include "clresnet/data/loader.h"

typedef struct check_job {
    const crn_dataset *ds;
    int min_short;
    size_t total;
    size_t next;           /* the next sample to take, under lock */
    pthread_mutex_t lock;
    char (*reason)[256];   /* per sample: "" when it decoded */
} check_job;

/* The i-th sample over all splits, in split order. */
static const crn_sample *nth(const crn_dataset *ds, size_t i, crn_split *split)
{
    for (int s = 0; s < CRN_SPLIT_COUNT; s++) {
        if (i < ds->count[s]) {
            *split = (crn_split)s;
            return &ds->samples[s][i];
        }
        i -= ds->count[s];
    }
    return NULL;
}

static void *check_worker(void *arg)
{
    check_job *j = arg;
    crn_image im = {0};
    uint8_t *buf = NULL;
    size_t cap = 0;
    for (;;) {
        pthread_mutex_lock(&j->lock);
        size_t i = j->next++;
        pthread_mutex_unlock(&j->lock);
        if (i >= j->total) break;
        crn_split split;
        const crn_sample *s = nth(j->ds, i, &split);
        crn_error e = {0};
        if (crn_image_decode_file(s->path, j->min_short, &im, &buf, &cap, &e) != CRN_OK)
            snprintf(j->reason[i], sizeof j->reason[i], "%.255s", e.msg[0] ? e.msg : "cannot be decoded");
    }
    free(buf);
    crn_image_free(&im);
    return NULL;
}

int crn_data_check_run(const crn_dataset *ds, int min_short, int workers, crn_data_check *out, crn_error *err)
{
    memset(out, 0, sizeof *out);
    check_job j = {.ds = ds, .min_short = min_short};
    for (int s = 0; s < CRN_SPLIT_COUNT; s++) j.total += ds->count[s];
    if (j.total == 0) return CRN_OK;
    j.reason = calloc(j.total, sizeof *j.reason);
    if (!j.reason) return crn_fail(err, CRN_ENOMEM, "data check: out of host memory");
    workers = crn_loader_worker_count(workers);
    if ((size_t)workers > j.total) workers = (int)j.total;
    pthread_t th[64];
    if (workers > 64) workers = 64;
    pthread_mutex_init(&j.lock, NULL);
    int started = 0;
    while (started < workers && pthread_create(&th[started], NULL, check_worker, &j) == 0) started++;
    if (started == 0) check_worker(&j); /* no thread to be had: check here */
    for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    pthread_mutex_destroy(&j.lock);
    size_t nbad = 0;
    for (size_t i = 0; i < j.total; i++) nbad += j.reason[i][0] != '\0';
    out->checked = j.total;
    if (nbad && !(out->bad = calloc(nbad, sizeof *out->bad))) {
        free(j.reason);
        return crn_fail(err, CRN_ENOMEM, "data check: out of host memory");
    }
    for (size_t i = 0; i < j.total; i++) {
        if (!j.reason[i][0]) continue;
        crn_bad_image *b = &out->bad[out->nbad++];
        b->path = nth(ds, i, &b->split)->path;
        memcpy(b->reason, j.reason[i], sizeof b->reason);
    }
    free(j.reason);
    return CRN_OK;
}

void crn_data_check_free(crn_data_check *c)
{
    free(c->bad);
    memset(c, 0, sizeof *c);
}
