/* Unit tests of conv2d (lib/nn/conv.c): Keras 'same' sizes, the fast paths against the naive
 * definition over many shapes, and finite-difference gradients. */
#include "gradcheck.h"
#include "core/common.h"
#include "nn/ops.h"

#include <stdlib.h>
#include <string.h>

typedef struct conv_case {
    nn_conv c;
    float *in, *w, *b, *out, *rw, *scratch;
    int64_t nin, nw, nout;
} conv_case;

static int conv_make(conv_case *t, nn_conv c, int bias, dfs_rng *rng)
{
    memset(t, 0, sizeof *t);
    if (nn_conv_init(&c) != 0) return -1;
    t->c = c;
    t->nin = c.N * c.C * c.H * c.W;
    t->nw = c.K * (c.C / c.groups) * c.R * c.S;
    t->nout = c.N * c.K * c.P * c.Q;
    t->in = malloc(t->nin * sizeof(float));
    t->w = malloc(t->nw * sizeof(float));
    t->b = bias ? malloc(c.K * sizeof(float)) : NULL;
    t->out = malloc(t->nout * sizeof(float));
    t->rw = malloc(t->nout * sizeof(float));
    t->scratch = malloc((nn_conv_scratch(&c) + 1) * sizeof(float));
    gc_fill(t->in, t->nin, rng, -1, 1);
    gc_fill(t->w, t->nw, rng, -1, 1);
    if (t->b) gc_fill(t->b, c.K, rng, -1, 1);
    gc_fill(t->rw, t->nout, rng, -1, 1);
    return 0;
}

static void conv_free(conv_case *t)
{
    free(t->in), free(t->w), free(t->b), free(t->out), free(t->rw), free(t->scratch);
}

static nn_conv conv_shape(int64_t N, int64_t C, int64_t H, int64_t W, int64_t K, int64_t R, int64_t S, int64_t sh,
                          int64_t sw, int64_t dh, int64_t dw, int64_t groups, int same)
{
    nn_conv c = {.N = N, .C = C, .H = H, .W = W, .K = K, .R = R, .S = S, .stride_h = sh, .stride_w = sw,
                 .dil_h = dh, .dil_w = dw, .groups = groups};
    if (same) {
        nn_pad_same(H, R, sh, dh, &c.pad_t, &c.pad_b);
        nn_pad_same(W, S, sw, dw, &c.pad_l, &c.pad_r);
    }
    return c;
}

static void test_pad_same_sizes(void)
{
    struct { int64_t in, k, s, d, before, after, out; } cases[] = {
        {256, 3, 2, 1, 0, 1, 128},   /* strided conv: the extra row goes to the bottom */
        {256, 5, 1, 1, 2, 2, 256},
        {256, 2, 2, 1, 0, 0, 128},   /* Meso max pool 2 */
        {32, 4, 4, 1, 0, 0, 8},      /* Meso max pool 4 */
        {7, 3, 2, 1, 1, 1, 4},
        {8, 3, 2, 1, 0, 1, 4},
        {9, 4, 4, 1, 1, 2, 3},
        {5, 3, 1, 2, 2, 2, 5},       /* dilation 2: effective kernel 5 */
        {5, 3, 1, 3, 3, 3, 5},       /* dilation 3: effective kernel 7 */
        {128, 1, 2, 1, 0, 0, 64},    /* Xception 1x1 stride-2 shortcut */
        {113, 5, 2, 1, 2, 2, 57},
        {3, 7, 2, 1, 3, 3, 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t b, a;
        nn_pad_same(cases[i].in, cases[i].k, cases[i].s, cases[i].d, &b, &a);
        CHECK(b == cases[i].before && a == cases[i].after, "case %zu: pad %lld/%lld", i, (long long)b, (long long)a);
        nn_conv c = conv_shape(1, 1, cases[i].in, cases[i].in, 1, cases[i].k, cases[i].k, cases[i].s, cases[i].s,
                               cases[i].d, cases[i].d, 1, 1);
        CHECK(nn_conv_init(&c) == 0, "case %zu: %s", i, dfs_error());
        CHECK(c.P == cases[i].out && c.Q == cases[i].out, "case %zu: out %lld", i, (long long)c.P);
    }
    /* 'valid' sizes and rejected configurations */
    nn_conv v = conv_shape(1, 3, 256, 256, 32, 5, 5, 1, 1, 1, 1, 1, 0);
    CHECK(nn_conv_init(&v) == 0 && v.P == 252 && v.Q == 252, "valid 5x5: %lld", (long long)v.P);
    nn_conv bad = conv_shape(1, 3, 4, 4, 8, 5, 5, 1, 1, 1, 1, 1, 0);
    CHECK(nn_conv_init(&bad) == -1, "kernel larger than input accepted");
    bad = conv_shape(1, 6, 8, 8, 8, 3, 3, 1, 1, 1, 1, 4, 1);
    CHECK(nn_conv_init(&bad) == -1, "groups not dividing C accepted");
}

/* Random shapes (odd sizes, strides, dilations, groups, asymmetric padding): fast == naive for
 * forward and for all three gradients (which also must accumulate). */
static void test_fast_equals_naive(void)
{
    dfs_rng rng;
    dfs_rng_seed(&rng, 11);
    int fails = 0;
    for (int iter = 0; iter < 120; iter++) {
        int64_t N = 1 + dfs_rng_below(&rng, 3);
        int64_t groups, C, K;
        int kind = (int)dfs_rng_below(&rng, 4);   /* 0,1: dense groups, 2: depthwise, 3: grouped */
        if (kind == 2) {
            C = 1 + dfs_rng_below(&rng, 6);
            C += C == 1;
            groups = C;
            K = C * (1 + dfs_rng_below(&rng, 2));
        } else if (kind == 3) {
            groups = 2 + dfs_rng_below(&rng, 2);
            C = groups * (1 + dfs_rng_below(&rng, 3));
            K = groups * (1 + dfs_rng_below(&rng, 3));
        } else {
            groups = 1;
            C = 1 + dfs_rng_below(&rng, 5);
            K = 1 + dfs_rng_below(&rng, 7);
        }
        int64_t H = 1 + dfs_rng_below(&rng, 13), W = 1 + dfs_rng_below(&rng, 13);
        int64_t R = 1 + dfs_rng_below(&rng, 5), S = 1 + dfs_rng_below(&rng, 5);
        int64_t sh = 1 + dfs_rng_below(&rng, 3), sw = 1 + dfs_rng_below(&rng, 3);
        int64_t dh = 1 + dfs_rng_below(&rng, 3), dw = 1 + dfs_rng_below(&rng, 3);
        if (iter % 5 == 0) R = S = 1, sh = sw = 1, dh = dw = 1;   /* exercise the pointwise path */
        nn_conv c = conv_shape(N, C, H, W, K, R, S, sh, sw, dh, dw, groups, 0);
        int mode = (int)dfs_rng_below(&rng, 3);
        if (mode == 1) {
            nn_pad_same(H, R, sh, dh, &c.pad_t, &c.pad_b);
            nn_pad_same(W, S, sw, dw, &c.pad_l, &c.pad_r);
        } else if (mode == 2) {
            c.pad_t = dfs_rng_below(&rng, 3), c.pad_b = dfs_rng_below(&rng, 3);
            c.pad_l = dfs_rng_below(&rng, 3), c.pad_r = dfs_rng_below(&rng, 3);
        }
        conv_case t;
        if (conv_make(&t, c, (int)dfs_rng_below(&rng, 2), &rng) != 0) continue;   /* kernel too big */
        float *ref = malloc(t.nout * sizeof(float));
        nn_conv2d_forward(t.out, t.in, t.w, t.b, &t.c, t.scratch);
        nn_conv2d_forward_naive(ref, t.in, t.w, t.b, &t.c);
        double worst = 0;
        for (int64_t i = 0; i < t.nout; i++) worst = fmax(worst, fabs(t.out[i] - ref[i]));
        /* gradients: both start from the same random values */
        float *gi[2], *gw[2], *gb[2];
        for (int v = 0; v < 2; v++) {
            gi[v] = malloc(t.nin * sizeof(float));
            gw[v] = malloc(t.nw * sizeof(float));
            gb[v] = malloc(t.c.K * sizeof(float));
        }
        dfs_rng g0;
        dfs_rng_seed(&g0, 100 + iter);
        gc_fill(gi[0], t.nin, &g0, -1, 1), gc_fill(gw[0], t.nw, &g0, -1, 1), gc_fill(gb[0], t.c.K, &g0, -1, 1);
        memcpy(gi[1], gi[0], t.nin * sizeof(float));
        memcpy(gw[1], gw[0], t.nw * sizeof(float));
        memcpy(gb[1], gb[0], t.c.K * sizeof(float));
        nn_conv2d_backward(gi[0], gw[0], gb[0], t.rw, t.in, t.w, &t.c, t.scratch);
        nn_conv2d_backward_naive(gi[1], gw[1], gb[1], t.rw, t.in, t.w, &t.c);
        for (int64_t i = 0; i < t.nin; i++) worst = fmax(worst, fabs(gi[0][i] - gi[1][i]));
        for (int64_t i = 0; i < t.nw; i++) worst = fmax(worst, fabs(gw[0][i] - gw[1][i]) / (1 + fabs(gw[1][i])));
        for (int64_t i = 0; i < t.c.K; i++) worst = fmax(worst, fabs(gb[0][i] - gb[1][i]) / (1 + fabs(gb[1][i])));
        if (worst > 2e-5) {
            if (fails < 5)
                printf("# shape N%lld C%lld %lldx%lld K%lld %lldx%lld s%lld,%lld d%lld,%lld g%lld pad %lld,%lld,%lld,%lld:"
                       " max diff %g\n",
                       (long long)N, (long long)C, (long long)H, (long long)W, (long long)K, (long long)R,
                       (long long)S, (long long)sh, (long long)sw, (long long)dh, (long long)dw, (long long)groups,
                       (long long)t.c.pad_t, (long long)t.c.pad_l, (long long)t.c.pad_b, (long long)t.c.pad_r, worst);
            fails++;
        }
        for (int v = 0; v < 2; v++) free(gi[v]), free(gw[v]), free(gb[v]);
        free(ref);
        conv_free(&t);
    }
    CHECK(fails == 0, "%d shapes differ from the naive conv", fails);
}

/* Larger shapes than the random ones, as the study's layers have them (one of each path). */
static void test_fast_equals_naive_large(void)
{
    dfs_rng rng;
    dfs_rng_seed(&rng, 12);
    nn_conv shapes[] = {
        conv_shape(2, 8, 33, 31, 16, 5, 5, 1, 1, 1, 1, 1, 1),      /* Meso 5x5 same */
        conv_shape(2, 16, 32, 32, 24, 3, 3, 2, 2, 1, 1, 1, 1),     /* strided same, bottom/right pad */
        conv_shape(2, 24, 17, 17, 24, 5, 5, 2, 2, 1, 1, 24, 1),    /* depthwise stride 2 */
        conv_shape(2, 32, 16, 16, 48, 1, 1, 1, 1, 1, 1, 1, 0),     /* pointwise */
        conv_shape(2, 12, 20, 20, 8, 1, 1, 2, 2, 1, 1, 1, 1),      /* 1x1 stride 2 */
        conv_shape(2, 4, 19, 23, 6, 3, 3, 1, 1, 3, 3, 1, 1),       /* dilation 3 */
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        conv_case t;
        CHECK(conv_make(&t, shapes[i], 1, &rng) == 0, "shape %zu: %s", i, dfs_error());
        float *ref = malloc(t.nout * sizeof(float));
        nn_conv2d_forward(t.out, t.in, t.w, t.b, &t.c, t.scratch);
        nn_conv2d_forward_naive(ref, t.in, t.w, t.b, &t.c);
        double worst = 0;
        for (int64_t j = 0; j < t.nout; j++) worst = fmax(worst, fabs(t.out[j] - ref[j]) / (1 + fabs(ref[j])));
        CHECK(worst < 1e-5, "shape %zu: forward differs by %g", i, worst);
        float *gi = calloc(t.nin, sizeof(float)), *gi2 = calloc(t.nin, sizeof(float));
        float *gw = calloc(t.nw, sizeof(float)), *gw2 = calloc(t.nw, sizeof(float));
        nn_conv2d_backward(gi, gw, NULL, t.rw, t.in, t.w, &t.c, t.scratch);
        nn_conv2d_backward_naive(gi2, gw2, NULL, t.rw, t.in, t.w, &t.c);
        worst = 0;
        for (int64_t j = 0; j < t.nin; j++) worst = fmax(worst, fabs(gi[j] - gi2[j]) / (1 + fabs(gi2[j])));
        for (int64_t j = 0; j < t.nw; j++) worst = fmax(worst, fabs(gw[j] - gw2[j]) / (1 + fabs(gw2[j])));
        CHECK(worst < 1e-4, "shape %zu: backward differs by %g", i, worst);
        free(gi), free(gi2), free(gw), free(gw2), free(ref);
        conv_free(&t);
    }
}

static conv_case *fd_case;
static double conv_loss(void *ctx)
{
    (void)ctx;
    conv_case *t = fd_case;
    nn_conv2d_forward(t->out, t->in, t->w, t->b, &t->c, t->scratch);
    return gc_dot(t->out, t->rw, t->nout);
}

/* Finite differences against the fast backward, per configuration the study uses. */
static void test_conv_gradcheck(void)
{
    dfs_rng rng;
    dfs_rng_seed(&rng, 13);
    struct { const char *name; nn_conv c; int bias; } cases[] = {
        {"3x3 same", conv_shape(2, 3, 9, 8, 4, 3, 3, 1, 1, 1, 1, 1, 1), 1},
        {"3x3 stride2 same (asymmetric)", conv_shape(2, 3, 10, 9, 4, 3, 3, 2, 2, 1, 1, 1, 1), 1},
        {"5x5 valid", conv_shape(1, 2, 9, 9, 3, 5, 5, 1, 1, 1, 1, 1, 0), 1},
        {"dilation 2", conv_shape(2, 2, 9, 9, 3, 3, 3, 1, 1, 2, 2, 1, 1), 1},
        {"dilation 3", conv_shape(2, 2, 11, 10, 3, 3, 3, 1, 1, 3, 3, 1, 1), 1},
        {"depthwise", conv_shape(2, 4, 8, 8, 4, 3, 3, 1, 1, 1, 1, 4, 1), 0},
        {"depthwise stride2 5x5", conv_shape(2, 3, 9, 9, 6, 5, 5, 2, 2, 1, 1, 3, 1), 0},
        {"grouped", conv_shape(2, 4, 7, 7, 6, 3, 3, 1, 1, 1, 1, 2, 1), 1},
        {"pointwise no bias", conv_shape(2, 5, 6, 6, 3, 1, 1, 1, 1, 1, 1, 1, 0), 0},
        {"1x1 stride2", conv_shape(2, 3, 7, 7, 2, 1, 1, 2, 2, 1, 1, 1, 1), 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        conv_case t;
        CHECK(conv_make(&t, cases[i].c, cases[i].bias, &rng) == 0, "%s: %s", cases[i].name, dfs_error());
        float *gi = malloc(t.nin * sizeof(float)), *gi0 = malloc(t.nin * sizeof(float));
        float *gw = malloc(t.nw * sizeof(float)), *gw0 = malloc(t.nw * sizeof(float));
        float gb[64], gb0[64];
        gc_fill(gi0, t.nin, &rng, -1, 1), gc_fill(gw0, t.nw, &rng, -1, 1), gc_fill(gb0, t.c.K, &rng, -1, 1);
        memcpy(gi, gi0, t.nin * sizeof(float)), memcpy(gw, gw0, t.nw * sizeof(float));
        memcpy(gb, gb0, t.c.K * sizeof(float));
        nn_conv2d_forward(t.out, t.in, t.w, t.b, &t.c, t.scratch);
        nn_conv2d_backward(gi, gw, t.b ? gb : NULL, t.rw, t.in, t.w, &t.c, t.scratch);
        gc_delta(gi, gi0, t.nin), gc_delta(gw, gw0, t.nw), gc_delta(gb, gb0, t.c.K);
        fd_case = &t;
        char what[128];
        snprintf(what, sizeof what, "%s din", cases[i].name);
        gc_check(what, conv_loss, NULL, t.in, gi, t.nin, 40, 1e-2, 1e-3, 1e-3, &rng);
        snprintf(what, sizeof what, "%s dw", cases[i].name);
        gc_check(what, conv_loss, NULL, t.w, gw, t.nw, 40, 1e-2, 1e-3, 1e-3, &rng);
        if (t.b) {
            snprintf(what, sizeof what, "%s db", cases[i].name);
            gc_check(what, conv_loss, NULL, t.b, gb, t.c.K, 40, 1e-2, 1e-3, 1e-3, &rng);
        } else {
            for (int64_t k = 0; k < t.c.K; k++) CHECK(gb[k] == 0, "%s: db written without bias", cases[i].name);
        }
        free(gi), free(gi0), free(gw), free(gw0);
        conv_free(&t);
    }
}

/* NULL gradients are skipped, and the same call twice gives identical bits. */
static void test_conv_null_and_determinism(void)
{
    dfs_rng rng;
    dfs_rng_seed(&rng, 14);
    conv_case t;
    CHECK(conv_make(&t, conv_shape(3, 8, 21, 21, 16, 3, 3, 2, 2, 1, 1, 1, 1), 1, &rng) == 0, "%s", dfs_error());
    float *o2 = malloc(t.nout * sizeof(float));
    nn_conv2d_forward(t.out, t.in, t.w, t.b, &t.c, t.scratch);
    nn_conv2d_forward(o2, t.in, t.w, t.b, &t.c, t.scratch);
    CHECK(memcmp(o2, t.out, t.nout * sizeof(float)) == 0, "forward not deterministic");
    float *gw1 = calloc(t.nw, sizeof(float)), *gw2 = calloc(t.nw, sizeof(float));
    float *gi = calloc(t.nin, sizeof(float));
    nn_conv2d_backward(NULL, gw1, NULL, t.rw, t.in, t.w, &t.c, t.scratch);
    nn_conv2d_backward(gi, gw2, NULL, t.rw, t.in, t.w, &t.c, t.scratch);
    CHECK(memcmp(gw1, gw2, t.nw * sizeof(float)) == 0, "dw depends on whether din is requested");
    nn_conv2d_backward(NULL, NULL, NULL, t.rw, t.in, t.w, &t.c, t.scratch);   /* must not crash */
    free(o2), free(gw1), free(gw2), free(gi);
    conv_free(&t);
}

int main(void)
{
    RUN(test_pad_same_sizes);
    RUN(test_fast_equals_naive);
    RUN(test_fast_equals_naive_large);
    RUN(test_conv_gradcheck);
    RUN(test_conv_null_and_determinism);
    return CHECK_DONE();
}
