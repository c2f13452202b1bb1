/* test_depthwise: the depthwise convolution kernels (lib/nn/depthwise.c, reached through
 * nn_conv2d_forward/backward with groups == C) against the naive definition on odd shapes: the
 * 3x3 and 5x5 specialisations and the generic path, strides 1 to 3 (the phase-split layout),
 * dilation, channel multipliers, 'same', 'valid' and arbitrary padding, and planes large enough
 * for the parallel path; backward accumulates, NULL gradients are skipped, and results do not
 * depend on the thread count. */
#include "check.h"
#include "core/common.h"
#include "nn/ops.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

static void fill(float *x, int64_t n, dfs_rng *rng, double lo, double hi)
{
    for (int64_t i = 0; i < n; i++) x[i] = (float)(lo + (hi - lo) * dfs_rng_uniform(rng));
}

typedef struct dw_case {
    nn_conv c;
    float *in, *w, *b, *g;   /* g: an output gradient */
    int64_t nin, nw, nout;
} dw_case;

static int dw_make(dw_case *t, nn_conv c, int bias, dfs_rng *rng)
{
    memset(t, 0, sizeof *t);
    if (nn_conv_init(&c) != 0) return -1;
    t->c = c;
    t->nin = c.N * c.C * c.H * c.W;
    t->nw = c.K * c.R * c.S;
    t->nout = c.N * c.K * c.P * c.Q;
    t->in = malloc((size_t)t->nin * sizeof(float));
    t->w = malloc((size_t)t->nw * sizeof(float));
    t->b = bias ? malloc((size_t)c.K * sizeof(float)) : NULL;
    t->g = malloc((size_t)t->nout * sizeof(float));
    fill(t->in, t->nin, rng, -1, 1);
    fill(t->w, t->nw, rng, -1, 1);
    if (t->b) fill(t->b, c.K, rng, -1, 1);
    fill(t->g, t->nout, rng, -1, 1);
    return 0;
}

static void dw_free(dw_case *t)
{
    free(t->in), free(t->w), free(t->b), free(t->g);
}

static double rel_diff(const float *a, const float *b, int64_t n)
{
    double worst = 0;
    for (int64_t i = 0; i < n; i++) worst = fmax(worst, fabs((double)a[i] - b[i]) / (1 + fabs((double)b[i])));
    return worst;
}

/* forward and both gradients (accumulating onto random values) against the naive code;
 * returns the worst relative difference */
static double compare(dw_case *t, unsigned seed)
{
    float *out = malloc((size_t)t->nout * sizeof(float)), *ref = malloc((size_t)t->nout * sizeof(float));
    nn_conv2d_forward(out, t->in, t->w, t->b, &t->c, NULL);
    nn_conv2d_forward_naive(ref, t->in, t->w, t->b, &t->c);
    double worst = rel_diff(out, ref, t->nout);
    float *gi[2], *gw[2];
    dfs_rng r;
    dfs_rng_seed(&r, seed);
    for (int v = 0; v < 2; v++) {
        gi[v] = malloc((size_t)t->nin * sizeof(float));
        gw[v] = malloc((size_t)t->nw * sizeof(float));
    }
    fill(gi[0], t->nin, &r, -1, 1);
    fill(gw[0], t->nw, &r, -1, 1);
    memcpy(gi[1], gi[0], (size_t)t->nin * sizeof(float));
    memcpy(gw[1], gw[0], (size_t)t->nw * sizeof(float));
    nn_conv2d_backward(gi[0], gw[0], NULL, t->g, t->in, t->w, &t->c, NULL);
    nn_conv2d_backward_naive(gi[1], gw[1], NULL, t->g, t->in, t->w, &t->c);
    worst = fmax(worst, rel_diff(gi[0], gi[1], t->nin));
    worst = fmax(worst, rel_diff(gw[0], gw[1], t->nw));
    for (int v = 0; v < 2; v++) free(gi[v]), free(gw[v]);
    free(out), free(ref);
    return worst;
}

static nn_conv shape(int64_t N, int64_t C, int64_t H, int64_t W, int64_t mult, int64_t R, int64_t S, int64_t sh,
                     int64_t sw, int64_t dh, int64_t dw, int pad_mode, dfs_rng *rng)
{
    nn_conv c = {.N = N, .C = C, .H = H, .W = W, .K = C * mult, .R = R, .S = S, .stride_h = sh, .stride_w = sw,
                 .dil_h = dh, .dil_w = dw, .groups = C};
    if (pad_mode == 1) {
        nn_pad_same(H, R, sh, dh, &c.pad_t, &c.pad_b);
        nn_pad_same(W, S, sw, dw, &c.pad_l, &c.pad_r);
    } else if (pad_mode == 2) {
        c.pad_t = dfs_rng_below(rng, 4), c.pad_b = dfs_rng_below(rng, 4);
        c.pad_l = dfs_rng_below(rng, 4), c.pad_r = dfs_rng_below(rng, 4);
    }
    return c;
}

static void test_random_shapes(void)
{
    dfs_rng rng;
    dfs_rng_seed(&rng, 21);
    int fails = 0, tried = 0;
    for (int iter = 0; iter < 300; iter++) {
        int64_t N = 1 + dfs_rng_below(&rng, 3), C = 2 + dfs_rng_below(&rng, 5), mult = 1 + dfs_rng_below(&rng, 3);
        int64_t H = 1 + dfs_rng_below(&rng, 19), W = 1 + dfs_rng_below(&rng, 19);
        int64_t R, S;
        switch (iter % 3) {
        case 0: R = S = 3; break;
        case 1: R = S = 5; break;
        default: R = 1 + dfs_rng_below(&rng, 6), S = 1 + dfs_rng_below(&rng, 6); break;
        }
        int64_t sh = 1 + dfs_rng_below(&rng, 3), sw = 1 + dfs_rng_below(&rng, 3);
        int64_t dh = 1 + (dfs_rng_below(&rng, 4) == 0), dw = 1 + (dfs_rng_below(&rng, 4) == 0);
        nn_conv c = shape(N, C, H, W, mult, R, S, sh, sw, dh, dw, (int)dfs_rng_below(&rng, 3), &rng);
        dw_case t;
        if (dw_make(&t, c, (int)dfs_rng_below(&rng, 2), &rng) != 0) continue;   /* kernel larger than input */
        tried++;
        double worst = compare(&t, 1000u + (unsigned)iter);
        if (worst > 2e-5) {
            if (fails < 5)
                printf("# N%lld C%lld %lldx%lld mult %lld %lldx%lld s%lld,%lld d%lld,%lld pad %lld,%lld,%lld,%lld: %g\n",
                       (long long)N, (long long)C, (long long)H, (long long)W, (long long)mult, (long long)R,
                       (long long)S, (long long)sh, (long long)sw, (long long)dh, (long long)dw, (long long)t.c.pad_t,
                       (long long)t.c.pad_l, (long long)t.c.pad_b, (long long)t.c.pad_r, worst);
            fails++;
        }
        dw_free(&t);
    }
    CHECK(tried > 200, "only %d shapes were valid", tried);
    CHECK(fails == 0, "%d of %d shapes differ from the naive conv", fails, tried);
}

/* The study's layers: EfficientNet's 3x3 and 5x5 at strides 1 and 2, Xception's 3x3, at sizes
 * above the parallel threshold. */
static void test_study_shapes(void)
{
    dfs_rng rng;
    dfs_rng_seed(&rng, 22);
    nn_conv shapes[] = {
        shape(2, 16, 33, 31, 1, 3, 3, 1, 1, 1, 1, 1, &rng),
        shape(2, 24, 32, 32, 1, 3, 3, 2, 2, 1, 1, 1, &rng),
        shape(3, 12, 29, 30, 1, 5, 5, 2, 2, 1, 1, 1, &rng),
        shape(2, 20, 17, 17, 1, 5, 5, 1, 1, 1, 1, 1, &rng),
        shape(2, 8, 40, 37, 2, 3, 3, 1, 1, 1, 1, 0, &rng),
    };
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
        dw_case t;
        CHECK(dw_make(&t, shapes[i], (int)(i & 1), &rng) == 0, "shape %zu: %s", i, dfs_error());
        double worst = compare(&t, 50u + (unsigned)i);
        CHECK(worst < 2e-5, "shape %zu differs by %g", i, worst);
        dw_free(&t);
    }
}

/* NULL gradients: the other one is still computed, and the NULL one is not touched */
static void test_null_gradients(void)
{
    dfs_rng rng;
    dfs_rng_seed(&rng, 23);
    dw_case t;
    CHECK(dw_make(&t, shape(2, 5, 11, 9, 1, 3, 3, 2, 1, 1, 1, 1, &rng), 0, &rng) == 0, "%s", dfs_error());
    float *gi = calloc((size_t)t.nin, sizeof(float)), *gi2 = calloc((size_t)t.nin, sizeof(float));
    float *gw = calloc((size_t)t.nw, sizeof(float)), *gw2 = calloc((size_t)t.nw, sizeof(float));
    nn_conv2d_backward(gi, NULL, NULL, t.g, t.in, t.w, &t.c, NULL);
    nn_conv2d_backward(NULL, gw, NULL, t.g, t.in, t.w, &t.c, NULL);
    nn_conv2d_backward_naive(gi2, gw2, NULL, t.g, t.in, t.w, &t.c);
    CHECK(rel_diff(gi, gi2, t.nin) < 1e-5, "din alone: %g", rel_diff(gi, gi2, t.nin));
    CHECK(rel_diff(gw, gw2, t.nw) < 1e-5, "dw alone: %g", rel_diff(gw, gw2, t.nw));
    free(gi), free(gi2), free(gw), free(gw2);
    dw_free(&t);
}

/* bit-identical results with 1 and 2 threads (training must not depend on the thread count) */
static void test_thread_count_invariance(void)
{
    dfs_rng rng;
    dfs_rng_seed(&rng, 24);
    dw_case t;
    CHECK(dw_make(&t, shape(3, 32, 36, 35, 1, 5, 5, 2, 2, 1, 1, 1, &rng), 1, &rng) == 0, "%s", dfs_error());
    float *out[2], *gi[2], *gw[2];
    int saved = omp_get_max_threads();
    for (int v = 0; v < 2; v++) {
        omp_set_num_threads(v + 1);
        out[v] = malloc((size_t)t.nout * sizeof(float));
        gi[v] = calloc((size_t)t.nin, sizeof(float));
        gw[v] = calloc((size_t)t.nw, sizeof(float));
        nn_conv2d_forward(out[v], t.in, t.w, t.b, &t.c, NULL);
        nn_conv2d_backward(gi[v], gw[v], NULL, t.g, t.in, t.w, &t.c, NULL);
    }
    omp_set_num_threads(saved);
    CHECK(!memcmp(out[0], out[1], (size_t)t.nout * sizeof(float)), "forward differs between 1 and 2 threads");
    CHECK(!memcmp(gi[0], gi[1], (size_t)t.nin * sizeof(float)), "din differs between 1 and 2 threads");
    CHECK(!memcmp(gw[0], gw[1], (size_t)t.nw * sizeof(float)), "dw differs between 1 and 2 threads");
    for (int v = 0; v < 2; v++) free(out[v]), free(gi[v]), free(gw[v]);
    dw_free(&t);
}

int main(void)
{
    RUN(test_random_shapes);
    RUN(test_study_shapes);
    RUN(test_null_gradients);
    RUN(test_thread_count_invariance);
    return CHECK_DONE();
}
