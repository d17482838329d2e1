/* The models of the seed experiment, with the state-dict names and order of
 * its PyTorch modules (tools/seed_torch.py: footer.*, block1..block4 with
 * block.* and downsample.*, fc.0.*; the baseline's features.* and fc.0.*):
 * - resnet50: stem conv7x7/2 + BN + act + maxpool 3x3/2, bottleneck stages
 *   of 3, 4, 6, 3 blocks (widths 64..512, output 4x), the stride on the
 *   first 1x1 conv of a block (ResNet v1), a projection shortcut where the
 *   shape changes, the activation after the add, global average pool,
 *   linear;
 * - plain50: the same without any shortcut;
 * - baseline: four stages of conv3x3 + BN + act + maxpool2 (32..256
 *   channels), global average pool, linear;
 * and torchvision's ResNets (torchvision/models/resnet.py,
 * https://github.com/pytorch/vision), for their ImageNet weights:
 * - resnet50-tv, resnet101-tv, resnet152-tv: bottleneck stages of 3-4-6-3,
 *   3-4-23-3 and 3-8-36-3 blocks with the stride on the 3x3 conv of a block
 *   ("ResNet v1.5"), the activation always after the add, and torchvision's
 *   names (conv1, bn1, layer1..4 with conv1..3, bn1..3 and downsample.*, fc);
 * - resnet18-tv, resnet34-tv: basic blocks (two 3x3 convs, output 1x) in
 *   stages of 2-2-2-2 and 3-4-6-3, with conv1..2, bn1..2. */
#include <math.h>
#include <stdio.h>

#include "graph.h"

/* What differs between the ResNet graphs: the names (printf formats
 * taking the block's prefix) and which conv of a block takes the stride. */
typedef struct resnet_style {
    const char *stem_conv, *stem_bn, *stage, *conv[3], *bn[3], *down_conv, *down_bn, *fc;
    int stride_at; /* 0: the first 1x1 (the seed's ResNet v1), 1: the 3x3 (torchvision's v1.5) */
    bool always_final_act;
} resnet_style;

static const resnet_style SEED_STYLE = {"footer.0", "footer.1", "block%d.%d",
                                        {"%s.block.0", "%s.block.3", "%s.block.6"},
                                        {"%s.block.1", "%s.block.4", "%s.block.7"},
                                        "%s.downsample.0", "%s.downsample.1", "fc.0", 0, false};
static const resnet_style TV_STYLE = {"conv1", "bn1", "layer%d.%d", {"%s.conv1", "%s.conv2", "%s.conv3"},
                                      {"%s.bn1", "%s.bn2", "%s.bn3"}, "%s.downsample.0", "%s.downsample.1",
                                      "fc", 1, true};

/* A row per model kind: its name and how it is built. */
typedef struct model_row {
    const char *name;
    const resnet_style *style; /* NULL: the baseline */
    bool residual, basic;      /* shortcuts; basic blocks (else bottlenecks) */
    int reps[4];               /* blocks per stage */
} model_row;

static const model_row MODELS[] = {
    [CRN_MODEL_RESNET50] = {"resnet50", &SEED_STYLE, true, false, {3, 4, 6, 3}},
    [CRN_MODEL_PLAIN50] = {"plain50", &SEED_STYLE, false, false, {3, 4, 6, 3}},
    [CRN_MODEL_BASELINE] = {"baseline", NULL, false, false, {0, 0, 0, 0}},
    [CRN_MODEL_RESNET50_TV] = {"resnet50-tv", &TV_STYLE, true, false, {3, 4, 6, 3}},
    [CRN_MODEL_RESNET18_TV] = {"resnet18-tv", &TV_STYLE, true, true, {2, 2, 2, 2}},
    [CRN_MODEL_RESNET34_TV] = {"resnet34-tv", &TV_STYLE, true, true, {3, 4, 6, 3}},
    [CRN_MODEL_RESNET101_TV] = {"resnet101-tv", &TV_STYLE, true, false, {3, 4, 23, 3}},
    [CRN_MODEL_RESNET152_TV] = {"resnet152-tv", &TV_STYLE, true, false, {3, 8, 36, 3}},
};
_Static_assert(sizeof MODELS / sizeof MODELS[0] == CRN_MODEL_KIND_COUNT, "a row for every model kind (model.h)");

int crn_model_parse(const char *name)
{
    for (int k = 0; name && k < CRN_MODEL_KIND_COUNT; k++)
        if (!strcmp(MODELS[k].name, name)) return k;
    return -1;
}

const char *crn_model_name(crn_model_kind k)
{
    return (int)k >= 0 && k < CRN_MODEL_KIND_COUNT ? MODELS[k].name : "?";
}

const char *crn_model_names(void)
{
    static char list[160];
    if (!list[0])
        for (int k = 0; k < CRN_MODEL_KIND_COUNT; k++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", k ? ", " : "", MODELS[k].name);
    return list;
}

/* The stages --freeze names, in the order the builders below end them
 * (graph_stage_end): torchvision's module names for the ResNets (the stem
 * is conv1, bn1, relu and maxpool), and the same layer1..layer4 for the
 * baseline's four conv-BN-act-pool blocks. */
static const char *const RESNET_STAGES[] = {"stem", "layer1", "layer2", "layer3", "layer4", NULL};
static const char *const BASELINE_STAGES[] = {"layer1", "layer2", "layer3", "layer4", NULL};

static const char *const *stages_of(crn_model_kind kind)
{
    return kind == CRN_MODEL_BASELINE ? BASELINE_STAGES : RESNET_STAGES;
}

int crn_model_freeze_parse(crn_model_kind kind, const char *stage)
{
    const char *const *s = stages_of(kind);
    for (int i = 0; stage && s[i]; i++)
        if (!strcmp(s[i], stage)) return i + 1;
    return -1;
}

const char *crn_model_freeze_name(crn_model_kind kind, int freeze)
{
    const char *const *s = stages_of(kind);
    for (int i = 0; s[i]; i++)
        if (i + 1 == freeze) return s[i];
    return NULL;
}

int crn_model_scale_channels(int c, double width)
{
    double v = nearbyint((double)c * width); /* default rounding: half to even, as Python's round() */
    return v < 1 ? 1 : (int)v;
}

static int bottleneck(builder *b, const resnet_style *st, const char *prefix, int x, int width, int stride,
                      bool residual)
{
    const crn_model_config *c = &b->m->cfg;
    char n[96];
    int cin = b->m->acts[x].c;
    static const int out_mul[3] = {1, 1, 4}, ksize[3] = {1, 3, 1}, pad[3] = {0, 1, 0};
    /* torch registers the shortcut after the block: parameters in that order;
     * the shortcut is computed first, as the reference module's forward does. */
    int y = x;
    for (int i = 0; i < 3; i++) {
        snprintf(n, sizeof n, st->conv[i], prefix);
        y = graph_conv(b, n, y, out_mul[i] * width, ksize[i], i == st->stride_at ? stride : 1, pad[i]);
        snprintf(n, sizeof n, st->bn[i], prefix);
        y = graph_bn(b, n, y);
        if (i < 2) y = graph_act(b, y);
    }
    if (residual) {
        int r = x;
        if (stride != 1 || cin != 4 * width) {
            snprintf(n, sizeof n, st->down_conv, prefix);
            r = graph_conv(b, n, x, 4 * width, 1, stride, 0);
            snprintf(n, sizeof n, st->down_bn, prefix);
            r = graph_bn(b, n, r);
        }
        y = graph_add(b, y, r);
    }
    if (c->final_act || st->always_final_act) y = graph_act(b, y);
    return y;
}

/* torchvision's BasicBlock: conv3x3 (stride) + BN + act, conv3x3 + BN, the
 * shortcut (a projection where the shape changes), the add, the act. */
static int basic_block(builder *b, const resnet_style *st, const char *prefix, int x, int width, int stride)
{
    char n[96];
    int cin = b->m->acts[x].c, y = x;
    for (int i = 0; i < 2; i++) {
        snprintf(n, sizeof n, st->conv[i], prefix);
        y = graph_conv(b, n, y, width, 3, i == 0 ? stride : 1, 1);
        snprintf(n, sizeof n, st->bn[i], prefix);
        y = graph_bn(b, n, y);
        if (i == 0) y = graph_act(b, y);
    }
    int r = x;
    if (stride != 1 || cin != width) {
        snprintf(n, sizeof n, st->down_conv, prefix);
        r = graph_conv(b, n, x, width, 1, stride, 0);
        snprintf(n, sizeof n, st->down_bn, prefix);
        r = graph_bn(b, n, r);
    }
    return graph_act(b, graph_add(b, y, r));
}

static int build_resnet(builder *b, const model_row *row)
{
    const crn_model_config *c = &b->m->cfg;
    const resnet_style *st = row->style;
    int x = graph_input(b, 3, c->image_size, c->image_size);
    int stem = crn_model_scale_channels(64, c->width);
    x = graph_conv(b, st->stem_conv, x, stem, 7, 2, 3);
    x = graph_maxpool(b, graph_act(b, graph_bn(b, st->stem_bn, x)), 3, 2, 1);
    graph_stage_end(b);
    static const int widths[4] = {64, 128, 256, 512}, strides[4] = {1, 2, 2, 2};
    for (int s = 0; s < 4; s++) {
        int w = crn_model_scale_channels(widths[s], c->width);
        for (int r = 0; r < row->reps[s]; r++) {
            char prefix[64];
            snprintf(prefix, sizeof prefix, st->stage, s + 1, r);
            int stride = r == 0 ? strides[s] : 1;
            x = row->basic ? basic_block(b, st, prefix, x, w, stride)
                           : bottleneck(b, st, prefix, x, w, stride, row->residual);
        }
        graph_stage_end(b);
    }
    x = graph_gap(b, x);
    graph_linear(b, st->fc, x, c->classes);
    return b->rc;
}

static int build_baseline(builder *b)
{
    const crn_model_config *c = &b->m->cfg;
    int x = graph_input(b, 3, c->image_size, c->image_size);
    static const int ch[4] = {32, 64, 128, 256};
    for (int s = 0; s < 4; s++) {
        char n[32];
        snprintf(n, sizeof n, "features.%d", 4 * s);
        x = graph_conv(b, n, x, crn_model_scale_channels(ch[s], c->width), 3, 1, 1);
        snprintf(n, sizeof n, "features.%d", 4 * s + 1);
        x = graph_maxpool(b, graph_act(b, graph_bn(b, n, x)), 2, 2, 0);
        graph_stage_end(b);
    }
    x = graph_gap(b, x);
    graph_linear(b, "fc.0", x, c->classes);
    return b->rc;
}

int models_build(builder *b)
{
    int k = (int)b->m->cfg.kind;
    if (k < 0 || k >= CRN_MODEL_KIND_COUNT) return crn_fail(b->err, CRN_EINVAL, "model: unknown kind %d", k);
    return MODELS[k].style ? build_resnet(b, &MODELS[k]) : build_baseline(b);
}
