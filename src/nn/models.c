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
    return -1;
}

const char *crn_model_name(crn_model_kind k)
{
    switch (k) {
    case CRN_MODEL_RESNET50: return "resnet50";
    case CRN_MODEL_PLAIN50: return "plain50";
    case CRN_MODEL_BASELINE: return "baseline";
    }
    return "?";
}

int crn_model_scale_channels(int c, double width)
{
    double v = nearbyint((double)c * width); /* default rounding: half to even, as Python's round() */
    return v < 1 ? 1 : (int)v;
}

static int bottleneck(builder *b, const char *prefix, int x, int width, int stride, bool residual)
{
    const crn_model_config *c = &b->m->cfg;
    char n[96];
    int cin = b->m->acts[x].c;
    /* torch registers the shortcut after the block: parameters in that order;
     * the shortcut is computed first, as the reference module's forward does. */
    snprintf(n, sizeof n, "%s.block.0", prefix);
    int y = graph_conv(b, n, x, width, 1, stride, 0);
    snprintf(n, sizeof n, "%s.block.1", prefix);
    y = graph_act(b, graph_bn(b, n, y));
    snprintf(n, sizeof n, "%s.block.3", prefix);
    y = graph_conv(b, n, y, width, 3, 1, 1);
    snprintf(n, sizeof n, "%s.block.4", prefix);
    y = graph_act(b, graph_bn(b, n, y));
    snprintf(n, sizeof n, "%s.block.6", prefix);
    y = graph_conv(b, n, y, 4 * width, 1, 1, 0);
    snprintf(n, sizeof n, "%s.block.7", prefix);
    y = graph_bn(b, n, y);
    if (residual) {
        int r = x;
        if (stride != 1 || cin != 4 * width) {
            snprintf(n, sizeof n, "%s.downsample.0", prefix);
            r = graph_conv(b, n, x, 4 * width, 1, stride, 0);
            snprintf(n, sizeof n, "%s.downsample.1", prefix);
            r = graph_bn(b, n, r);
        }
        y = graph_add(b, y, r);
    }
    if (c->final_act) y = graph_act(b, y);
    return y;
}

static int build_resnet(builder *b, bool residual)
{
    const crn_model_config *c = &b->m->cfg;
    int x = graph_input(b, 3, c->image_size, c->image_size);
    int stem = crn_model_scale_channels(64, c->width);
    x = graph_conv(b, "footer.0", x, stem, 7, 2, 3);
    x = graph_maxpool(b, graph_act(b, graph_bn(b, "footer.1", x)), 3, 2, 1);
    static const int widths[4] = {64, 128, 256, 512}, reps[4] = {3, 4, 6, 3}, strides[4] = {1, 2, 2, 2};
    for (int s = 0; s < 4; s++) {
        int w = crn_model_scale_channels(widths[s], c->width);
        for (int r = 0; r < reps[s]; r++) {
            char prefix[64];
            snprintf(prefix, sizeof prefix, "block%d.%d", s + 1, r);
            x = bottleneck(b, prefix, x, w, r == 0 ? strides[s] : 1, residual);
        }
    }
    x = graph_gap(b, x);
    graph_linear(b, "fc.0", x, c->classes);
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
    }
    x = graph_gap(b, x);
    graph_linear(b, "fc.0", x, c->classes);
    return b->rc;
}

int models_build(builder *b)
{
    switch (b->m->cfg.kind) {
    case CRN_MODEL_RESNET50: return build_resnet(b, true);
    case CRN_MODEL_PLAIN50: return build_resnet(b, false);
    case CRN_MODEL_BASELINE: return build_baseline(b);
    }
    return crn_fail(b->err, CRN_EINVAL, "model: unknown kind %d", (int)b->m->cfg.kind);
}
