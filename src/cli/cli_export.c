/* `clresnet export RUN|CHECKPOINT --onnx FILE.onnx`: the inference graph
 * for onnxruntime and other ONNX runtimes (src/nn/onnx_export.c), with what
 * a user needs to feed it in the model's metadata: the input size, the
 * resize before the centre crop, the normalisation, the class names. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "clresnet/core/file_util.h"
#include "clresnet/data/dataset.h"
#include "clresnet/data/transforms.h"
#include "clresnet/eval/metrics.h"
#include "clresnet/nn/onnx_export.h"
#include "clresnet/train/checkpoint.h"

void help_export(void)
{
    printf("usage: clresnet [--device N] export RUN|CHECKPOINT --onnx FILE.onnx [--softmax] [--data DIR]\n\n"
           "Writes the model of a run folder (its best.safetensors) or a checkpoint as ONNX\n"
           "(opset %d): input \"%s\" float [batch, 3, S, S], normalised as in evaluation;\n"
           "output \"%s\" [batch, classes] (and \"%s\" with --softmax). Batch norm in\n"
           "evaluation mode, the run's activation, the final linear layer; any batch size.\n"
           "The metadata records the input size, the resize, mean and std, and the class\n"
           "names (from the run folder's splits.json, else the data the run was trained on,\n"
           "or --data DIR).\n",
           CRN_ONNX_OPSET, CRN_ONNX_INPUT, CRN_ONNX_LOGITS, CRN_ONNX_PROBABILITIES);
}

typedef struct export_args {
    const char *ckpt, *onnx, *data;
    bool softmax;
} export_args;

static int parse_export_args(int argc, char **argv, export_args *a)
{
    memset(a, 0, sizeof *a);
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (o[0] != '-') {
            if (a->ckpt) {
                fprintf(stderr, "clresnet export: error: one checkpoint or run folder only ('%s')\n", o);
                return 2;
            }
            a->ckpt = o;
        } else if (!strcmp(o, "--softmax")) a->softmax = true;
        else if (!strcmp(o, "--onnx") || !strcmp(o, "--data")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "clresnet export: error: %s needs a value\n", o);
                return 2;
            }
            *(!strcmp(o, "--onnx") ? &a->onnx : &a->data) = argv[++i];
        } else {
            if (cli_misplaced_global("export", o)) return 2;
            fprintf(stderr, "clresnet export: error: unknown option '%s'\n", o);
            return 2;
        }
    }
    if (!a->ckpt) {
        fprintf(stderr, "clresnet export: error: which checkpoint or run folder? (see clresnet export --help)\n");
        return 2;
    }
    if (!a->onnx) {
        fprintf(stderr, "clresnet export: error: give the file to write: --onnx FILE.onnx\n");
        return 2;
    }
    return 0;
}

#ifdef CRN_HAVE_ONNX
/* The shortest decimal that reads back as the same float. */
static void float_text(float v, char *buf, size_t size)
{
    for (int prec = 6; prec <= 9; prec++) {
        snprintf(buf, size, "%.*g", prec, (double)v);
        if ((float)strtod(buf, NULL) == v) return;
    }
}

static char *triple_json(const float v[3])
{
    char a[32], b[32], c[32], *s = NULL;
    float_text(v[0], a, sizeof a), float_text(v[1], b, sizeof b), float_text(v[2], c, sizeof c);
    size_t n = strlen(a) + strlen(b) + strlen(c) + 8;
    if ((s = malloc(n))) snprintf(s, n, "[%s, %s, %s]", a, b, c);
    return s;
}

/* The run's resize, when set. */
static void run_resize(const char *run_config, int *resize)
{
    json_t *o = run_config ? json_loads(run_config, 0, NULL) : NULL;
    if (!o) return;
    json_int_t r = json_integer_value(json_object_get(o, "resize"));
    if (r > 0) *resize = (int)r;
    json_decref(o);
}

/* The class names as a JSON array, from the checkpoint folder's
 * splits.json, else the dataset at root; NULL when neither has them. */
static char *class_names_json(const char *ckpt, const char *root, int classes, const char **from)
{
    char dir[CRN_PATH_MAX];
    cli_parent_dir(ckpt, dir);
    json_t *arr = NULL;
    crn_class_table ct;
    memset(&ct, 0, sizeof ct);
    if (crn_class_table_read(&ct, dir, NULL) == CRN_OK && ct.names && ct.num_classes == classes) {
        arr = json_array();
        for (int c = 0; c < classes; c++) json_array_append_new(arr, json_string(ct.names[c] ? ct.names[c] : ""));
        *from = "splits.json";
    }
    crn_class_table_free(&ct);
    crn_dataset ds;
    memset(&ds, 0, sizeof ds);
    crn_dataset_options dopt;
    crn_dataset_options_default(&dopt);
    if (!arr && root[0] && crn_dataset_open(&ds, root, &dopt, NULL) == CRN_OK && ds.class_names &&
        ds.num_classes == classes) {
        arr = json_array();
        for (int c = 0; c < classes; c++) {
            char buf[32];
            json_array_append_new(arr, json_string(crn_dataset_class_name(&ds, c, buf, sizeof buf)));
        }
        *from = root;
    }
    crn_dataset_free(&ds);
    char *s = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
    json_decref(arr);
    return s;
}

static int write_onnx(const cli_globals *g, const export_args *a, const char *ckpt, const crn_model_config *mc,
                      const crn_onnx_options *o)
{
    cli_device dev = {0};
    crn_model *m = NULL;
    crn_error err = {0};
    if (cli_open_device(g, false, &dev) != 0) return 1;
    int rc = crn_model_create(dev.ops, mc, 1, &m, &err);
    if (rc == CRN_OK) rc = crn_checkpoint_load(ckpt, m, NULL, NULL, &err);
    if (rc == CRN_OK) rc = crn_onnx_export(m, o, a->onnx, &err);
    crn_model_destroy(m);
    cli_close_device(&dev);
    return rc == CRN_OK ? 0 : cli_error(&err);
}
#endif

int cmd_export(const cli_globals *g, int argc, char **argv)
{
    export_args a;
    int prc = parse_export_args(argc, argv, &a);
    if (prc) return prc;
#ifndef CRN_HAVE_ONNX
    (void)g;
    fprintf(stderr, "clresnet export: error: this clresnet was built without ONNX export (install libprotobuf-c-dev, "
                    "protobuf-c-compiler and libonnx-dev, then reconfigure with meson)\n");
    return 1;
#else
    crn_error err = {0};
    char ckpt[CRN_PATH_MAX], root[CRN_PATH_MAX];
    crn_split_mode mode;
    crn_model_config mc;
    char *run_config = NULL;
    int rc = crn_checkpoint_resolve(a.ckpt, ckpt, sizeof ckpt, &err);
    if (rc == CRN_OK) rc = crn_checkpoint_read_config(ckpt, &mc, &run_config, &err);
    if (rc != CRN_OK) return cli_error(&err);
    crn_transform_config tc;
    crn_transform_config_default(&tc);
    tc.image_size = mc.image_size;
    run_resize(run_config, &tc.resize);
    rc = a.data ? crn_path_fmt(root, sizeof root, &err, "%s", a.data)
                : run_data(run_config, root, sizeof root, &mode, &err);
    free(run_config);
    if (rc != CRN_OK) return cli_error(&err);
    const char *names_from = NULL;
    char *names = class_names_json(ckpt, root, mc.classes, &names_from);
    char *mean = triple_json(tc.mean), *std = triple_json(tc.std);
    char size[16], resize[16], classes[16], width[32];
    snprintf(size, sizeof size, "%d", mc.image_size);
    snprintf(resize, sizeof resize, "%d", crn_transform_resize_target(&tc));
    snprintf(classes, sizeof classes, "%d", mc.classes);
    snprintf(width, sizeof width, "%.17g", mc.width);
    char preprocess[512];
    snprintf(preprocess, sizeof preprocess,
             "RGB; resize the shorter side to %s px (bilinear, antialiased as PIL); centre crop %sx%s; "
             "scale to [0, 1]; subtract mean, divide by std per channel; NCHW float32",
             resize, size, size);
    const crn_onnx_prop props[] = {
        {"clresnet_version", CLRESNET_VERSION},
        {"model", crn_model_name(mc.kind)},
        {"activation", crn_act_name(mc.act)},
        {"final_act", mc.final_act ? "1" : "0"},
        {"batchnorm", mc.no_batchnorm ? "0" : "1"},
        {"width", width},
        {"input_name", CRN_ONNX_INPUT},
        {"input_size", size},
        {"resize", resize},
        {"mean", mean},
        {"std", std},
        {"preprocess", preprocess},
        {"num_classes", classes},
        {"class_names", names}, /* last: left out when unknown */
    };
    int nprops = (int)(sizeof props / sizeof props[0]) - (names ? 0 : 1);
    crn_onnx_options o = {a.softmax, CLRESNET_VERSION, "clresnet inference graph; metadata_props say how to feed it",
                          props, nprops};
    if (!mean || !std) rc = crn_fail(&err, CRN_ENOMEM, "out of host memory");
    if (rc == CRN_OK) rc = crn_check_can_write(a.onnx, &err); /* before any device work */
    int ret = rc == CRN_OK ? write_onnx(g, &a, ckpt, &mc, &o) : cli_error(&err);
    if (ret == 0) {
        printf("wrote %s: %s %s, input [batch, 3, %d, %d], %d classes, opset %d\n", a.onnx, crn_model_name(mc.kind),
               crn_act_name(mc.act), mc.image_size, mc.image_size, mc.classes, CRN_ONNX_OPSET);
        if (!g->quiet) {
            if (names) fprintf(stderr, "clresnet: class names from %s\n", names_from);
            else fprintf(stderr, "clresnet: no class names found (no splits.json, no data; --data DIR gives them)\n");
        }
    }
    free(names), free(mean), free(std);
    return ret;
#endif
}
