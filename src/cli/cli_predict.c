/* `clresnet predict`: the top classes of image files and folders. Each image
 * stands alone: one that cannot be read is reported and the others are still
 * classified. */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "cli.h"
#include "clresnet/data/transforms.h"
#include "clresnet/eval/metrics.h"
#include "clresnet/train/checkpoint.h"

/* Images decoded at a time: a folder of thousands needs no more memory than
 * this, and the decoding errors of the first ones come before device work. */
enum { PREDICT_CHUNK = 32 };

void help_predict(void)
{
    printf("usage: clresnet [--device N] predict RUN|CHECKPOINT IMAGE|FOLDER... [--top K] [--json|--csv]\n\n"
           "Classifies JPEG or PNG images (resize and center crop as in evaluation) with a run\n"
           "folder's best.safetensors or a checkpoint, and prints the top K (default 5)\n"
           "classes with names and probabilities. A FOLDER stands for every .jpg, .jpeg and\n"
           ".png file in it and in its subfolders, in path order (hidden entries and links\n"
           "to folders are skipped). An image that cannot be read is one error line on\n"
           "stderr, and the others are still classified.\n\n"
           "  --top K  the K most likely classes; more than the model has shows them all,\n"
           "           with a note on stderr (unless --quiet)\n"
           "  --json   one JSON document on stdout: {\"checkpoint\", \"classes\", \"images\": [\n"
           "           {\"path\", \"top\": [{\"class\" (1-based), \"name\", \"probability\"}]}\n"
           "           or {\"path\", \"error\"}]}; errors are on stderr as well\n"
           "  --csv    rows of path,rank,class,name,probability under that header\n\n"
           "Exit status: 0 when every image was classified, 1 when any image could not be\n"
           "read (or the checkpoint or device failed), 2 for bad arguments.\n");
}

typedef struct predict_args {
    const char *ckpt, *top_text; /* top_text: --top as given, for the note */
    const char **inputs;         /* image files and folders */
    int ninputs, top;
    bool json, csv;
} predict_args;

static int parse_top(const char *v, predict_args *a)
{
    char *end;
    errno = 0;
    long k = strtol(v, &end, 10);
    if (end == v || *end || k < 1) {
        fprintf(stderr, "clresnet predict: error: --top '%s': want a positive integer\n", v);
        return 2;
    }
    a->top = errno == ERANGE || k > INT_MAX ? INT_MAX : (int)k; /* bounded by the classes later */
    a->top_text = v;
    return 0;
}

static int parse_predict_args(int argc, char **argv, predict_args *a)
{
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "--top")) {
            if (i + 1 == argc) {
                fprintf(stderr, "clresnet predict: error: --top needs a value\n");
                return 2;
            }
            if (parse_top(argv[++i], a)) return 2;
        } else if (!strcmp(o, "--json")) a->json = true;
        else if (!strcmp(o, "--csv")) a->csv = true;
        else if (o[0] == '-') {
            if (cli_misplaced_global("predict", o)) return 2;
            fprintf(stderr, "clresnet predict: error: unknown option '%s'\n", o);
            return 2;
        } else if (!a->ckpt) a->ckpt = o;
        else a->inputs[a->ninputs++] = o;
    }
    if (a->json && a->csv) {
        fprintf(stderr, "clresnet predict: error: give one of --json and --csv\n");
        return 2;
    }
    if (!a->ckpt || a->ninputs == 0) {
        fprintf(stderr, "clresnet predict: error: give a checkpoint or run folder and at least one image\n");
        return 2;
    }
    return 0;
}

/* An image to classify, or an argument or folder that gave none. */
typedef struct predict_item {
    char *path;
    char *error; /* why it has no result, without the path; NULL until it fails */
} predict_item;

typedef struct predict_list {
    predict_item *v;
    size_t n, cap;
} predict_list;

/* 0, or -1 when out of memory (as for every list function here). */
static int list_add(predict_list *l, const char *path, const char *error)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        predict_item *v = realloc(l->v, cap * sizeof *v);
        if (!v) return -1;
        l->v = v, l->cap = cap;
    }
    predict_item *it = &l->v[l->n];
    it->path = strdup(path);
    it->error = error ? strdup(error) : NULL;
    if (!it->path || (error && !it->error)) {
        free(it->path), free(it->error);
        return -1;
    }
    l->n++;
    return 0;
}

static void list_free(predict_list *l)
{
    for (size_t i = 0; i < l->n; i++) free(l->v[i].path), free(l->v[i].error);
    free(l->v);
}

static int cmp_item(const void *a, const void *b)
{
    return strcmp(((const predict_item *)a)->path, ((const predict_item *)b)->path);
}

/* By name, as the image folder datasets choose (the decoder goes by content). */
static bool is_image_name(const char *name)
{
    const char *dot = strrchr(name, '.');
    return dot && (!strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg") || !strcasecmp(dot, ".png"));
}

/* Every image file under dir and its subfolders; a subfolder that cannot be
 * read is an entry with its error. Links to folders are not followed, so a
 * link cycle cannot loop. */
static int walk_folder(const char *dir, predict_list *l)
{
    DIR *d = opendir(dir);
    if (!d) return list_add(l, dir, strerror(errno));
    size_t dn = strlen(dir);
    const char *sep = dn && dir[dn - 1] == '/' ? "" : "/";
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        size_t n = dn + strlen(e->d_name) + 2;
        char *p = malloc(n);
        if (!p) rc = -1;
        else {
            snprintf(p, n, "%s%s%s", dir, sep, e->d_name);
            struct stat st;
            if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) rc = walk_folder(p, l);
            else if (is_image_name(e->d_name)) rc = list_add(l, p, NULL);
            free(p);
        }
    }
    closedir(d);
    return rc;
}

/* The arguments as images: a file (or anything not a folder: its decoding
 * says what is wrong) as given, a folder as its images in path order. */
static int expand_inputs(const predict_args *a, predict_list *l)
{
    for (int i = 0; i < a->ninputs; i++) {
        const char *in = a->inputs[i];
        struct stat st;
        size_t start = l->n;
        if (stat(in, &st) != 0 || !S_ISDIR(st.st_mode)) {
            if (list_add(l, in, NULL)) return -1;
            continue;
        }
        if (walk_folder(in, l)) return -1;
        if (l->n == start && list_add(l, in, "no .jpg, .jpeg or .png images in this folder")) return -1;
        qsort(l->v + start, l->n - start, sizeof *l->v, cmp_item);
    }
    return 0;
}

/* The state of one predict: the images, the output, the model once needed. */
typedef struct predictor {
    const cli_globals *g;
    const predict_args *a;
    char ckpt[CRN_PATH_MAX];
    crn_model_config mc;
    predict_list list;
    crn_dataset ds;
    bool named;        /* ds holds the run's data, for class names */
    json_t *json;      /* --json: the images' entries so far */
    crn_transform_config tc;
    crn_transform_scratch scratch;
    size_t per;        /* floats of one transformed image */
    float *x, *logits; /* PREDICT_CHUNK images; one image's logits */
    int *cls;          /* the top classes of one image, 0-based, and their probabilities */
    double *prob;
    cli_device dev;
    crn_model *m;      /* NULL until an image could be read */
} predictor;

static int no_memory(void)
{
    fprintf(stderr, "clresnet: error: out of host memory\n");
    return 1;
}

/* A path or message as a JSON string; bytes that are not UTF-8 go out as they are. */
static json_t *jstr(const char *s)
{
    json_t *j = json_string(s);
    return j ? j : json_string_nocheck(s);
}

/* --top beyond the model's classes shows them all, and says so (the
 * default 5 just shows them all). */
static void bound_top(predictor *p, predict_args *a)
{
    int c = p->mc.classes;
    if (a->top <= c) return;
    if (a->top_text && !p->g->quiet)
        fprintf(stderr, "clresnet: --top %s: the model has %d classes; showing %d\n", a->top_text, c, c);
    a->top = c;
}

/* Class names from the run's data when it is still there. */
static void open_names(predictor *p, const char *run_config)
{
    char root[CRN_PATH_MAX];
    crn_split_mode mode;
    if (run_data(run_config, root, sizeof root, &mode, NULL) != CRN_OK) root[0] = '\0'; /* no names */
    crn_dataset_options dopt;
    crn_dataset_options_default(&dopt);
    p->named = root[0] && crn_dataset_open(&p->ds, root, &dopt, NULL) == CRN_OK && p->ds.num_classes == p->mc.classes;
}

static int predictor_buffers(predictor *p, crn_error *err)
{
    crn_transform_config_default(&p->tc);
    p->tc.image_size = p->mc.image_size;
    p->tc.augment = 0;
    p->per = 3 * (size_t)p->mc.image_size * p->mc.image_size;
    p->x = malloc(PREDICT_CHUNK * p->per * sizeof *p->x);
    p->logits = malloc((size_t)p->mc.classes * sizeof *p->logits);
    p->cls = malloc((size_t)p->a->top * sizeof *p->cls);
    p->prob = malloc((size_t)p->a->top * sizeof *p->prob);
    if (p->a->json) p->json = json_array();
    if (!p->x || !p->logits || !p->cls || !p->prob || (p->a->json && !p->json))
        return crn_fail(err, CRN_ENOMEM, "out of host memory");
    return CRN_OK;
}

static void predictor_free(predictor *p)
{
    list_free(&p->list);
    crn_dataset_free(&p->ds);
    json_decref(p->json);
    crn_transform_scratch_free(&p->scratch);
    free(p->x), free(p->logits), free(p->cls), free(p->prob);
    if (p->m) {
        crn_model_destroy(p->m);
        cli_close_device(&p->dev);
    }
}

/* The library's messages start with the path; the entry has it already. */
static const char *reason(const char *path, const char *msg)
{
    size_t n = strlen(path);
    return !strncmp(msg, path, n) && !strncmp(msg + n, ": ", 2) ? msg + n + 2 : msg;
}

/* Items [from, to) decoded into x as in evaluation; each that fails (or
 * failed when listed) is one line on stderr. How many were read, or -1. */
static int decode_chunk(predictor *p, size_t from, size_t to)
{
    int good = 0;
    for (size_t i = from; i < to; i++) {
        predict_item *it = &p->list.v[i];
        crn_error err = {0};
        if (!it->error) {
            float *out = p->x + (i - from) * p->per;
            if (crn_transform_file(&p->tc, it->path, 0, 0, 0, &p->scratch, out, &err) == CRN_OK) {
                good++;
                continue;
            }
            if (!(it->error = strdup(reason(it->path, err.msg)))) return -1;
        }
        fprintf(stderr, "clresnet: error: %s: %s\n", it->path, it->error);
    }
    return good;
}

static void csv_field(const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, stdout);
        return;
    }
    putchar('"');
    for (; *s; s++) {
        if (*s == '"') putchar('"');
        putchar(*s);
    }
    putchar('"');
}

/* The display name of class c, NULL without the run's data. */
static const char *class_name(const predictor *p, int c, char *buf, size_t n)
{
    return p->named ? crn_dataset_class_name(&p->ds, c, buf, n) : NULL;
}

/* [{class (1-based), name, probability}] of the image just classified. */
static json_t *json_top(const predictor *p, int k)
{
    json_t *top = json_array();
    for (int j = 0; top && j < k; j++) {
        char buf[32];
        const char *name = class_name(p, p->cls[j], buf, sizeof buf);
        json_t *c = json_pack("{s:i, s:o, s:f}", "class", p->cls[j] + 1, "name", name ? jstr(name) : json_null(),
                              "probability", p->prob[j]);
        if (!c || json_array_append_new(top, c)) {
            json_decref(top);
            return NULL;
        }
    }
    return top;
}

static int json_entry(predictor *p, const predict_item *it, int k)
{
    json_t *e = it->error ? json_pack("{s:o, s:o}", "path", jstr(it->path), "error", jstr(it->error))
                          : json_pack("{s:o, s:o}", "path", jstr(it->path), "top", json_top(p, k));
    return e && !json_array_append_new(p->json, e) ? 0 : -1;
}

/* An image's top k classes, or its error in the JSON document. */
static int print_result(predictor *p, const predict_item *it, int k)
{
    if (p->json) return json_entry(p, it, k);
    if (it->error) return 0;
    if (!p->a->csv) printf("%s\n", it->path);
    for (int j = 0; j < k; j++) {
        char buf[32];
        const char *name = class_name(p, p->cls[j], buf, sizeof buf);
        if (!p->a->csv) {
            printf("  %d. class %3d %-28s %.4f\n", j + 1, p->cls[j] + 1, name ? name : "", p->prob[j]);
            continue;
        }
        csv_field(it->path);
        printf(",%d,%d,", j + 1, p->cls[j] + 1);
        csv_field(name ? name : "");
        printf(",%.6f\n", p->prob[j]);
    }
    return 0;
}

/* Image j of the decoded chunk through the model: its top classes. */
static int classify(predictor *p, size_t j, int *k)
{
    crn_error err = {0};
    int rc = crn_model_forward(p->m, p->x + j * p->per, 1, false, &err);
    if (rc == CRN_OK) rc = crn_model_read_logits(p->m, 1, p->logits, &err);
    if (rc != CRN_OK) return cli_error(&err);
    *k = crn_topk_softmax(p->logits, p->mc.classes, p->a->top, p->cls, p->prob);
    return 0;
}

/* Every image, a chunk at a time; the device opens with the first image
 * that could be read. 0, or 1 after printing a fatal error. */
static int run_chunks(predictor *p)
{
    if (p->a->csv) printf("path,rank,class,name,probability\n");
    for (size_t from = 0; from < p->list.n; from += PREDICT_CHUNK) {
        size_t to = p->list.n - from > PREDICT_CHUNK ? from + PREDICT_CHUNK : p->list.n;
        int good = decode_chunk(p, from, to);
        if (good < 0) return no_memory();
        if (good > 0 && !p->m && load_model(p->g, p->ckpt, &p->mc, 1, &p->dev, &p->m) != 0) return 1;
        for (size_t i = from; i < to; i++) {
            int k = 0;
            if (!p->list.v[i].error && classify(p, i - from, &k)) return 1;
            if (print_result(p, &p->list.v[i], k)) return no_memory();
        }
    }
    return 0;
}

/* The JSON document, then the exit status: 1 when any image failed. */
static int finish(predictor *p)
{
    size_t failed = 0;
    for (size_t i = 0; i < p->list.n; i++) failed += p->list.v[i].error != NULL;
    if (p->json) {
        json_t *doc = json_pack("{s:o, s:i, s:O}", "checkpoint", jstr(p->ckpt), "classes", p->mc.classes,
                                "images", p->json);
        char *s = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6)) : NULL;
        json_decref(doc);
        if (!s) return no_memory();
        puts(s);
        free(s);
    }
    if (failed == p->list.n) {
        fprintf(stderr, "clresnet: error: no image could be read (%zu failed)\n", failed);
        return 1;
    }
    return failed > 0;
}

static int predict(const cli_globals *g, predict_args *a)
{
    predictor p = {.g = g, .a = a};
    crn_error err = {0};
    char *run_config = NULL;
    int rc = crn_checkpoint_resolve(a->ckpt, p.ckpt, sizeof p.ckpt, &err);
    if (rc == CRN_OK) rc = crn_checkpoint_read_config(p.ckpt, &p.mc, &run_config, &err);
    if (rc == CRN_OK) bound_top(&p, a);
    if (rc == CRN_OK && expand_inputs(a, &p.list)) rc = crn_fail(&err, CRN_ENOMEM, "out of host memory");
    if (rc == CRN_OK) rc = predictor_buffers(&p, &err);
    if (rc == CRN_OK) open_names(&p, run_config);
    free(run_config);
    int status = rc != CRN_OK ? cli_error(&err) : run_chunks(&p);
    if (rc == CRN_OK && status == 0) status = finish(&p);
    predictor_free(&p);
    return status;
}

int cmd_predict(const cli_globals *g, int argc, char **argv)
{
    predict_args a = {.top = 5};
    if (!(a.inputs = calloc((size_t)argc, sizeof *a.inputs))) return no_memory();
    int rc = parse_predict_args(argc, argv, &a);
    if (rc == 0) rc = predict(g, &a);
    free(a.inputs);
    return rc;
}
