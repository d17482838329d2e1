/* Loader benchmark: decoded-and-augmented images per second through
 * crn_loader_bench, on a folder of JPEGs or a dataset root (its train split).
 * Usage: bench_loader PATH [image_size=224] [workers=1,2] [epochs=1] [max_images=0]
 * Build: cc -O2 -Iinclude tests/bench/bench_loader.c BUILD/libclresnet.a
 *        $(pkg-config --libs libjpeg jansson matio OpenCL clblast) -lpthread -lm */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clresnet/data/dataset.h"
#include "clresnet/data/loader.h"

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PATH [image_size] [workers,...] [epochs] [max_images]\n", argv[0]);
        return 2;
    }
    const char *path = argv[1];
    int S = argc > 2 ? atoi(argv[2]) : 224;
    const char *wl = argc > 3 ? argv[3] : "1,2";
    int epochs = argc > 4 ? atoi(argv[4]) : 1;
    size_t max_images = argc > 5 ? (size_t)atol(argv[5]) : 0;
    crn_error err = {0};
    crn_dataset ds = {0};
    crn_sample *own = NULL;
    const crn_sample *smp;
    size_t n;
    char jpg[4096];
    snprintf(jpg, sizeof jpg, "%s/jpg", path);
    struct stat st;
    if (crn_dataset_open(&ds, path, NULL, &err) == CRN_OK) {
        smp = ds.samples[CRN_SPLIT_TRAIN];
        n = ds.count[CRN_SPLIT_TRAIN];
    } else if (crn_samples_from_dir(stat(jpg, &st) == 0 ? jpg : path, &own, &n, &err) == CRN_OK) {
        smp = own;
    } else {
        fprintf(stderr, "bench_loader: %s\n", err.msg);
        return 1;
    }
    size_t n_all = n;
    if (max_images && n > max_images)
        n = max_images;
    char wbuf[256];
    snprintf(wbuf, sizeof wbuf, "%s", wl);
    for (char *tok = strtok(wbuf, ","); tok; tok = strtok(NULL, ",")) {
        crn_loader_config c;
        crn_loader_config_default(&c);
        c.workers = atoi(tok);
        c.transform.image_size = S;
        crn_loader_bench_result r;
        if (crn_loader_bench(smp, n, &c, epochs, &r, &err) != CRN_OK) {
            fprintf(stderr, "bench_loader: %s\n", err.msg);
            return 1;
        }
        printf("%s: %zu images, S=%d R=%d, %d worker(s): %.1f images/s (%.2f s, %zu skipped)\n", path, r.images, S,
               crn_transform_resize_target(&c.transform), c.workers, r.images_per_s, r.seconds, r.skipped);
        fflush(stdout);
    }
    crn_dataset_free(&ds);
    crn_samples_free(own, own ? n_all : 0);
    return 0;
}
