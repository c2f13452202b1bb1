/* models.c: builders for meso4, mesoinception4, shallownet, xception and efficientnet-b0.
 *
 * Node naming: "<block>.<layer>", with Keras's layer names where Keras has them (Xception's
 * block2.sepconv1_bn, EfficientNet's block2a.expand_conv); activations that Keras fuses into a
 * Conv2D/Dense are separate nodes here (block1.conv -> block1.relu). The model output is always
 * the node "head.logits". */
#include "nn/models.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/common.h"

void nn_model_pfake(const nn_model_info *m, const float *logits, int64_t N, float *pfake)
{
    for (int64_t i = 0; i < N; i++) pfake[i] = nn_pfake(logits, m->classes, i);
}

/* name formatting for the builders */
static const char *nm(char *buf, const char *block, const char *layer)
{
    /* a name that does not fit becomes "", which the graph refuses with an error */
    if (snprintf(buf, NN_NAME_MAX, "%s.%s", block, layer) >= NN_NAME_MAX) buf[0] = '\0';
    return buf;
}

#define BN(g, name, x) nn_g_batchnorm(g, name, x, NN_BN_MOMENTUM, NN_BN_EPS)

/* ---- Meso4 and MesoInception4 ----
 * block<i>.conv, .relu, .bn, .pool (ReLU before BN, as in the original), then the common head
 * head.flatten, head.dropout1 (0.5), head.dense1 (16), head.lrelu (0.1), head.dropout2 (0.5),
 * head.logits (1). */
static int meso_head_build(nn_graph *g, int x)
{
    x = nn_g_flatten(g, "head.flatten", x);
    x = nn_g_dropout(g, "head.dropout1", x, 0.5f);
    x = nn_g_dense(g, "head.dense1", x, 16, 1);
    x = nn_g_leaky_relu(g, "head.lrelu", x, 0.1f);
    x = nn_g_dropout(g, "head.dropout2", x, 0.5f);
    return nn_g_dense(g, "head.logits", x, 1, 1);
}

/* conv (same, with bias) -> ReLU */
static int meso_conv(nn_graph *g, const char *blk, int x, int64_t K, int64_t k)
{
    char b[NN_NAME_MAX];
    x = nn_g_conv(g, nm(b, blk, "conv"), x, K, k, 1, 1, 1, 1, 1);
    return nn_g_act(g, NN_RELU, nm(b, blk, "relu"), x);
}

/* BN -> max pool (same) */
static int meso_bn_pool(nn_graph *g, const char *blk, int x, int64_t pool)
{
    char b[NN_NAME_MAX];
    x = BN(g, nm(b, blk, "bn"), x);
    return nn_g_maxpool(g, nm(b, blk, "pool"), x, pool, pool, 1);
}

static void build_meso4(nn_graph *g, int64_t S)
{
    static const struct { const char *blk; int64_t K, k, pool; } L[4] = {
        {"block1", 8, 3, 2}, {"block2", 8, 5, 2}, {"block3", 16, 5, 2}, {"block4", 16, 5, 4}};
    int x = nn_g_input(g, "input", 3, S, S);
    for (int i = 0; i < 4; i++) {
        x = meso_conv(g, L[i].blk, x, L[i].K, L[i].k);
        x = meso_bn_pool(g, L[i].blk, x, L[i].pool);
    }
    meso_head_build(g, x);
}

/* Inception(a, b, c, d) as in MesoNet: four branches, all ReLU and 'same', concatenated in order:
 * <blk>.b1 (1x1 a); <blk>.b2a (1x1 b) -> <blk>.b2b (3x3 b); <blk>.b3a (1x1 c) -> <blk>.b3b (3x3 c,
 * dilation 2); <blk>.b4a (1x1 d) -> <blk>.b4b (3x3 d, dilation 3); each conv followed by
 * <conv>_relu; then <blk>.concat. */
static int inception(nn_graph *g, const char *blk, int x, int64_t a, int64_t b, int64_t c, int64_t d)
{
    char n[NN_NAME_MAX], r[NN_NAME_MAX];
    int br[4];
    br[0] = nn_g_act(g, NN_RELU, nm(r, blk, "b1_relu"), nn_g_conv(g, nm(n, blk, "b1"), x, a, 1, 1, 1, 1, 1, 1));
    const int64_t ch[3] = {b, c, d};
    for (int i = 0; i < 3; i++) {
        char la[32], lb[32], ra[32], rb[32];
        snprintf(la, sizeof la, "b%da", i + 2);
        snprintf(lb, sizeof lb, "b%db", i + 2);
        snprintf(ra, sizeof ra, "b%da_relu", i + 2);
        snprintf(rb, sizeof rb, "b%db_relu", i + 2);
        int y = nn_g_conv(g, nm(n, blk, la), x, ch[i], 1, 1, 1, 1, 1, 1);
        y = nn_g_act(g, NN_RELU, nm(r, blk, ra), y);
        y = nn_g_conv(g, nm(n, blk, lb), y, ch[i], 3, 1, i + 1, 1, 1, 1);
        br[i + 1] = nn_g_act(g, NN_RELU, nm(r, blk, rb), y);
    }
    return nn_g_concat(g, nm(n, blk, "concat"), br, 4);
}

static void build_mesoinception4(nn_graph *g, int64_t S)
{
    int x = nn_g_input(g, "input", 3, S, S);
    x = inception(g, "block1", x, 1, 4, 4, 2);
    x = meso_bn_pool(g, "block1", x, 2);
    x = inception(g, "block2", x, 2, 4, 4, 2);
    x = meso_bn_pool(g, "block2", x, 2);
    x = meso_conv(g, "block3", x, 16, 5);
    x = meso_bn_pool(g, "block3", x, 2);
    x = meso_conv(g, "block4", x, 16, 5);
    x = meso_bn_pool(g, "block4", x, 4);
    meso_head_build(g, x);
}

/* ---- ShallowNet-V3 as the study used it ----
 * block<i>.conv<j> -> .relu<j> -> .drop<j> (0.25), 'valid' padding, L2 1e-4 on every conv kernel;
 * blocks 1 and 2 end in .pool (2x2 valid) -> .drop3. Head: head.flatten, head.dense1 (1024,
 * L2 1e-4), head.relu (the causal-analysis layer), head.bn, head.dropout (0.25), head.logits (1). */
static int shallow_conv(nn_graph *g, const char *blk, int j, int x, int64_t K, int64_t k, int drop)
{
    char n[NN_NAME_MAX], l[32];
    snprintf(l, sizeof l, "conv%d", j);
    x = nn_g_conv(g, nm(n, blk, l), x, K, k, 1, 1, 1, 0, 1);
    if (x >= 0) g->tensors[g->nodes[x].w].l2 = 1e-4f;
    snprintf(l, sizeof l, "relu%d", j);
    x = nn_g_act(g, NN_RELU, nm(n, blk, l), x);
    if (drop) {
        snprintf(l, sizeof l, "drop%d", j);
        x = nn_g_dropout(g, nm(n, blk, l), x, 0.25f);
    }
    return x;
}

static void build_shallownet(nn_graph *g, int64_t S)
{
    char n[NN_NAME_MAX];
    int x = nn_g_input(g, "input", 3, S, S);
    const char *blk[2] = {"block1", "block2"};
    const int64_t K[2] = {32, 64}, k[2] = {5, 3};
    for (int i = 0; i < 2; i++) {
        x = shallow_conv(g, blk[i], 1, x, K[i], k[i], 1);
        x = shallow_conv(g, blk[i], 2, x, K[i], 1, 1);
        x = shallow_conv(g, blk[i], 3, x, K[i], 1, 0);
        x = nn_g_maxpool(g, nm(n, blk[i], "pool"), x, 2, 2, 0);
        x = nn_g_dropout(g, nm(n, blk[i], "drop3"), x, 0.25f);
    }
    x = shallow_conv(g, "block3", 1, x, 128, 3, 1);
    x = shallow_conv(g, "block3", 2, x, 32, 1, 1);
    x = nn_g_flatten(g, "head.flatten", x);
    x = nn_g_dense(g, "head.dense1", x, 1024, 1);
    if (x >= 0) g->tensors[g->nodes[x].w].l2 = 1e-4f;
    x = nn_g_act(g, NN_RELU, "head.relu", x);
    x = BN(g, "head.bn", x);
    x = nn_g_dropout(g, "head.dropout", x, 0.25f);
    nn_g_dense(g, "head.logits", x, 1, 1);
}

/* ---- Xception (Keras applications) ----
 * A separable conv <name> is two nodes: <name>_dw (3x3 depthwise, same, no bias) and <name>
 * (1x1 pointwise, no bias). Names follow Keras: block1.conv1, block1.conv1_bn, block1.conv1_act,
 * ...; blocks 2-4 and 13 have block<i>.residual and block<i>.residual_bn (1x1 stride-2 conv + BN
 * on the block input), block<i>.sepconv<j>_act (ReLU BEFORE sepconv j, except block 2's first),
 * block<i>.sepconv<j>, block<i>.sepconv<j>_bn, block<i>.pool (3x3 s2 same), block<i>.add; middle
 * blocks 5-12 have three ReLU-sepconv-BN units and block<i>.add; block 14 has
 * sepconv<j> -> _bn -> _act (ReLU AFTER). Head: head.gap, head.logits (2). */
static int sepconv(nn_graph *g, const char *blk, const char *layer, int x, int64_t K)
{
    char n[NN_NAME_MAX], l[48];
    snprintf(l, sizeof l, "%s_dw", layer);
    int64_t C = x >= 0 ? g->nodes[x].C : 1;
    x = nn_g_conv(g, nm(n, blk, l), x, C, 3, 1, 1, C, 1, 0);
    return nn_g_conv(g, nm(n, blk, layer), x, K, 1, 1, 1, 1, 1, 0);
}

static int sep_bn(nn_graph *g, const char *blk, int j, int x, int64_t K, int act_before)
{
    char n[NN_NAME_MAX], l[40];
    if (act_before) {
        snprintf(l, sizeof l, "sepconv%d_act", j);
        x = nn_g_act(g, NN_RELU, nm(n, blk, l), x);
    }
    snprintf(l, sizeof l, "sepconv%d", j);
    x = sepconv(g, blk, l, x, K);
    snprintf(l, sizeof l, "sepconv%d_bn", j);
    return BN(g, nm(n, blk, l), x);
}

/* blocks 2, 3, 4, 13: residual 1x1 s2 conv + BN; two sepconv units; max pool; add */
static int xception_down(nn_graph *g, const char *blk, int x, int64_t K1, int64_t K2, int first_act)
{
    char n[NN_NAME_MAX];
    int r = nn_g_conv(g, nm(n, blk, "residual"), x, K2, 1, 2, 1, 1, 1, 0);
    r = BN(g, nm(n, blk, "residual_bn"), r);
    x = sep_bn(g, blk, 1, x, K1, first_act);
    x = sep_bn(g, blk, 2, x, K2, 1);
    x = nn_g_maxpool(g, nm(n, blk, "pool"), x, 3, 2, 1);
    return nn_g_add(g, nm(n, blk, "add"), x, r);
}

static void build_xception(nn_graph *g, int64_t S)
{
    char n[NN_NAME_MAX], blk[24];
    int x = nn_g_input(g, "input", 3, S, S);
    x = nn_g_conv(g, "block1.conv1", x, 32, 3, 2, 1, 1, 0, 0);
    x = BN(g, "block1.conv1_bn", x);
    x = nn_g_act(g, NN_RELU, "block1.conv1_act", x);
    x = nn_g_conv(g, "block1.conv2", x, 64, 3, 1, 1, 1, 0, 0);
    x = BN(g, "block1.conv2_bn", x);
    x = nn_g_act(g, NN_RELU, "block1.conv2_act", x);
    x = xception_down(g, "block2", x, 128, 128, 0);
    x = xception_down(g, "block3", x, 256, 256, 1);
    x = xception_down(g, "block4", x, 728, 728, 1);
    for (int i = 5; i <= 12; i++) {
        snprintf(blk, sizeof blk, "block%d", i);
        int r = x;
        for (int j = 1; j <= 3; j++) x = sep_bn(g, blk, j, x, 728, 1);
        x = nn_g_add(g, nm(n, blk, "add"), x, r);
    }
    x = xception_down(g, "block13", x, 728, 1024, 1);
    x = sep_bn(g, "block14", 1, x, 1536, 0);
    x = nn_g_act(g, NN_RELU, "block14.sepconv1_act", x);
    x = sep_bn(g, "block14", 2, x, 2048, 0);
    x = nn_g_act(g, NN_RELU, "block14.sepconv2_act", x);
    x = nn_g_global_avgpool(g, "head.gap", x);
    nn_g_dense(g, "head.logits", x, 2, 1);
}

/* ---- EfficientNet-B0 (qubvel/efficientnet, as the study trained it) ----
 * stem.conv (32 3x3 s2 same, no bias), stem.bn, stem.act (swish); MBConv blocks named like
 * Keras, block<stage><letter>: .expand_conv/.expand_bn/.expand_act (absent when expand ratio is
 * 1), .dwconv (depthwise kxk, stride, same, no bias), .bn, .act, squeeze-excitation .se_squeeze
 * (global average pool), .se_reduce (1x1 with bias, max(1, in*0.25) channels) -> .se_reduce_act
 * (swish), .se_expand (1x1 with bias) -> .se_expand_act (sigmoid), .se_excite (channel scaling),
 * .project_conv (1x1, no bias), .project_bn, and when stride 1 and in == out channels .drop
 * (drop-connect 0.2 * block_index / 16, when > 0) and .add. Top: top.conv (1280 1x1, no bias),
 * top.bn, top.act (swish), head.gap, head.dropout (0.2), head.logits (2). */
static int mbconv(nn_graph *g, const char *blk, int x, int64_t k, int64_t in_f, int64_t out_f, int64_t expand,
                  int64_t stride, float drop_rate)
{
    char n[NN_NAME_MAX];
    int inp = x;
    int64_t filters = in_f * expand;
    if (expand != 1) {
        x = nn_g_conv(g, nm(n, blk, "expand_conv"), x, filters, 1, 1, 1, 1, 1, 0);
        x = BN(g, nm(n, blk, "expand_bn"), x);
        x = nn_g_act(g, NN_SWISH, nm(n, blk, "expand_act"), x);
    }
    x = nn_g_conv(g, nm(n, blk, "dwconv"), x, filters, k, stride, 1, filters, 1, 0);
    x = BN(g, nm(n, blk, "bn"), x);
    x = nn_g_act(g, NN_SWISH, nm(n, blk, "act"), x);
    int64_t reduced = (int64_t)(in_f * 0.25);
    if (reduced < 1) reduced = 1;
    int s = nn_g_global_avgpool(g, nm(n, blk, "se_squeeze"), x);
    s = nn_g_conv(g, nm(n, blk, "se_reduce"), s, reduced, 1, 1, 1, 1, 1, 1);
    s = nn_g_act(g, NN_SWISH, nm(n, blk, "se_reduce_act"), s);
    s = nn_g_conv(g, nm(n, blk, "se_expand"), s, filters, 1, 1, 1, 1, 1, 1);
    s = nn_g_act(g, NN_SIGMOID, nm(n, blk, "se_expand_act"), s);
    x = nn_g_scale_channels(g, nm(n, blk, "se_excite"), x, s);
    x = nn_g_conv(g, nm(n, blk, "project_conv"), x, out_f, 1, 1, 1, 1, 1, 0);
    x = BN(g, nm(n, blk, "project_bn"), x);
    if (stride == 1 && in_f == out_f) {
        if (drop_rate > 0.0f) x = nn_g_drop_connect(g, nm(n, blk, "drop"), x, drop_rate);
        x = nn_g_add(g, nm(n, blk, "add"), x, inp);
    }
    return x;
}

static void build_efficientnet_b0(nn_graph *g, int64_t S)
{
    static const struct { int64_t k, repeats, in, out, expand, stride; } B[7] = {
        {3, 1, 32, 16, 1, 1}, {3, 2, 16, 24, 6, 2}, {5, 2, 24, 40, 6, 2}, {3, 3, 40, 80, 6, 2},
        {5, 3, 80, 112, 6, 1}, {5, 4, 112, 192, 6, 2}, {3, 1, 192, 320, 6, 1}};
    const int total_blocks = 16;
    const float drop_connect = 0.2f;
    int x = nn_g_input(g, "input", 3, S, S);
    x = nn_g_conv(g, "stem.conv", x, 32, 3, 2, 1, 1, 1, 0);
    x = BN(g, "stem.bn", x);
    x = nn_g_act(g, NN_SWISH, "stem.act", x);
    int block = 0;
    for (int s = 0; s < 7; s++) {
        for (int j = 0; j < B[s].repeats; j++) {
            char blk[24];
            snprintf(blk, sizeof blk, "block%d%c", s + 1, 'a' + j);
            float rate = drop_connect * (float)block / (float)total_blocks;
            x = mbconv(g, blk, x, B[s].k, j == 0 ? B[s].in : B[s].out, B[s].out, B[s].expand,
                       j == 0 ? B[s].stride : 1, rate);
            block++;
        }
    }
    x = nn_g_conv(g, "top.conv", x, 1280, 1, 1, 1, 1, 1, 0);
    x = BN(g, "top.bn", x);
    x = nn_g_act(g, NN_SWISH, "top.act", x);
    x = nn_g_global_avgpool(g, "head.gap", x);
    x = nn_g_dropout(g, "head.dropout", x, 0.2f);
    nn_g_dense(g, "head.logits", x, 2, 1);
    /* qubvel/efficientnet model.py: every Conv2D and DepthwiseConv2D kernel (stem, expand,
     * depthwise, squeeze-excitation, project, top) is CONV_KERNEL_INITIALIZER =
     * VarianceScaling(2.0, 'fan_out', 'normal') and the classifier DENSE_KERNEL_INITIALIZER =
     * VarianceScaling(1/3, 'fan_out', 'uniform'); biases stay Keras's zeros. A depthwise kernel's
     * fan_out is its receptive field (depth multiplier 1), as Keras computes fans. */
    for (int i = 0; !g->err && i < g->nnodes; i++) {
        const nn_node *n = &g->nodes[i];
        if (n->kind != NN_CONV && n->kind != NN_DENSE) continue;
        nn_tensor *w = &g->tensors[n->w];
        w->init = n->kind == NN_CONV ? NN_INIT_VS_NORMAL_FAN_OUT : NN_INIT_VS_UNIFORM_FAN_OUT;
        w->init_scale = n->kind == NN_CONV ? 2.0f : 1.0f / 3.0f;
    }
}

/* ---- the table ---- */
static const char *const meso_head[] = {"head.dense1", "head.logits", NULL};
static const char *const shallow_head[] = {"head.dense1", "head.bn", "head.logits", NULL};
static const char *const xception_head[] = {"block14.sepconv2_dw", "block14.sepconv2", "block14.sepconv2_bn",
                                            "head.logits", NULL};
static const char *const effnet_head[] = {"top.conv", "top.bn", "head.logits", NULL};

const nn_model_info nn_models[] = {
    {"meso4", "MesoNet", 1, NN_LOSS_MSE, 1e-3, "block4.relu", NULL, meso_head, build_meso4},
    {"mesoinception4", "MesoInception", 1, NN_LOSS_MSE, 1e-3, "block4.relu", NULL, meso_head, build_mesoinception4},
    {"shallownet", "ShallowNet", 1, NN_LOSS_BCE, 5e-5, "block3.relu2", "head.relu", shallow_head, build_shallownet},
    {"xception", "XceptionNet", 2, NN_LOSS_BCE_SOFTMAX2, 5e-5, "block14.sepconv2_act", NULL, xception_head,
     build_xception},
    {"efficientnet-b0", "EfficientNet", 2, NN_LOSS_BCE_SOFTMAX2, 5e-5, "top.conv", NULL, effnet_head,
     build_efficientnet_b0},
    {NULL, NULL, 0, NN_LOSS_MSE, 0, NULL, NULL, NULL, NULL},
};

const nn_model_info *nn_model_find(const char *arch)
{
    for (const nn_model_info *m = nn_models; arch && m->name; m++)
        if (strcmp(m->name, arch) == 0) return m;
    return NULL;
}

const char *nn_model_list(char *buf, size_t n, const char *last)
{
    size_t k = 0;
    if (n) buf[0] = '\0';
    for (const nn_model_info *m = nn_models; m->name && k < n; m++) {
        const char *sep = m == nn_models ? "" : m[1].name ? ", " : last;
        int w = snprintf(buf + k, n - k, "%s%s", sep, m->name);
        if (w < 0) break;
        k += (size_t)w;
    }
    return buf;
}

nn_graph *nn_model_build(const char *arch, int64_t size)
{
    const nn_model_info *m = nn_model_find(arch);
    if (!m) {
        char known[256];
        dfs_fail("unknown architecture '%s' (known: %s)", arch ? arch : "", nn_model_list(known, sizeof known, ", "));
        return NULL;
    }
    if (size < 1 || size > 4096) {
        dfs_fail("input size %lld is not in [1, 4096]", (long long)size);
        return NULL;
    }
    nn_graph *g = nn_graph_new();
    m->build(g, size);
    if (nn_graph_check(g) != 0) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", dfs_error());
        dfs_fail("%s at %lldx%lld: %s", arch, (long long)size, (long long)size, msg);
        nn_graph_free(g);
        return NULL;
    }
    return g;
}
