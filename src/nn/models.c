/* The models of the seed experiment, with the state-dict names and order of
 * its PyTorch modules (tools/seed_torch.py: footer.*, block1..block4 with
 * block.* and downsample.*, fc.0.*; the baseline's features.* and fc.0.*):
 * - resnet50: stem conv7x7/2 + BN + act + maxpool 3x3/2, bottleneck stages
 *   of 3, 4, 6, 3 blocks (widths 64..512, output 4x), the stride on the
 *   first 1x1 conv of a block (ResNet v1), a projection shortcut where the
 *   shape changes, the activation after the add, global average pool,
 *   linear;
 * - plain50: the same without any shortcut;
 * - resnet50-tv: torchvision's resnet50() (torchvision/models/resnet.py,
 *   https://github.com/pytorch/vision): the same stages with the stride on
 *   the 3x3 conv of a block ("ResNet v1.5"), the activation always after
 *   the add, and its names (conv1, bn1, layer1..4 with conv1..3, bn1..3 and
 *   downsample.*, fc);
 * - baseline: four stages of conv3x3 + BN + act + maxpool2 (32..256
 *   channels), global average pool, linear. */
#include <math.h>
#include <stdio.h>

#include "graph.h"

int crn_model_parse(const char *name)
{
    if (!name) return -1;
    if (strcmp(name, "resnet50") == 0) return CRN_MODEL_RESNET50;
    if (strcmp(name, "plain50") == 0) return CRN_MODEL_PLAIN50;
    if (strcmp(name, "baseline") == 0) return CRN_MODEL_BASELINE;
    if (strcmp(name, "resnet50-tv") == 0) return CRN_MODEL_RESNET50_TV;
    return -1;
}

const char *crn_model_name(crn_model_kind k)
{
    switch (k) {
    case CRN_MODEL_RESNET50: return "resnet50";
    case CRN_MODEL_PLAIN50: return "plain50";
    case CRN_MODEL_BASELINE: return "baseline";
    case CRN_MODEL_RESNET50_TV: return "resnet50-tv";
    }
    return "?";
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

/* What differs between the two ResNet50 graphs: the names (printf formats
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

static int build_resnet(builder *b, const resnet_style *st, bool residual)
{
    const crn_model_config *c = &b->m->cfg;
    int x = graph_input(b, 3, c->image_size, c->image_size);
    int stem = crn_model_scale_channels(64, c->width);
    x = graph_conv(b, st->stem_conv, x, stem, 7, 2, 3);
    x = graph_maxpool(b, graph_act(b, graph_bn(b, st->stem_bn, x)), 3, 2, 1);
    graph_stage_end(b);
    static const int widths[4] = {64, 128, 256, 512}, reps[4] = {3, 4, 6, 3}, strides[4] = {1, 2, 2, 2};
    for (int s = 0; s < 4; s++) {
        int w = crn_model_scale_channels(widths[s], c->width);
        for (int r = 0; r < reps[s]; r++) {
            char prefix[64];
            snprintf(prefix, sizeof prefix, st->stage, s + 1, r);
            x = bottleneck(b, st, prefix, x, w, r == 0 ? strides[s] : 1, residual);
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
    switch (b->m->cfg.kind) {
    case CRN_MODEL_RESNET50: return build_resnet(b, &SEED_STYLE, true);
    case CRN_MODEL_PLAIN50: return build_resnet(b, &SEED_STYLE, false);
    case CRN_MODEL_RESNET50_TV: return build_resnet(b, &TV_STYLE, true);
    case CRN_MODEL_BASELINE: return build_baseline(b);
    }
    return crn_fail(b->err, CRN_EINVAL, "model: unknown kind %d", (int)b->m->cfg.kind);
}
