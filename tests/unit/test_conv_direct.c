/* Unit tests of the direct convolution kernels (lib/nn/conv_direct.c), called directly so that
 * every shape runs them whatever nn_conv2d_forward would choose: forward, input gradient and
 * weight gradient against the naive definition on odd shapes,
 * finite differences, and the same bits at any thread count. */
#include "gradcheck.h"
#include "core/common.h"
#include "nn/conv_direct.h"
#include "nn/ops.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

static nn_conv shape(int64_t N, int64_t C, int64_t H, int64_t W, int64_t K, int64_t R, int64_t S, int64_t sh,
                     int64_t dh, int64_t dw, int64_t pt, int64_t pl, int64_t pb, int64_t pr)
{
    nn_conv c = {.N = N, .C = C, .H = H, .W = W, .K = K, .R = R, .S = S, .stride_h = sh, .stride_w = 1,
                 .dil_h = dh, .dil_w = dw, .pad_t = pt, .pad_l = pl, .pad_b = pb, .pad_r = pr, .groups = 1};
    return c;
}

static float *rnd(int64_t n, dfs_rng *rng)
{
    float *x = malloc((size_t)n * sizeof *x);
    gc_fill(x, n, rng, -1, 1);
    return x;
}

static double rel_diff(const float *a, const float *b, int64_t n)
{
    double worst = 0;
    for (int64_t i = 0; i < n; i++) worst = fmax(worst, fabs(a[i] - b[i]) / (1 + fabs(b[i])));
    return worst;
}

/* Shapes the dispatcher sends here and odd ones around them: C = 3, K not a multiple of the
 * 8-filter tile, rows shorter and longer than the 32-column tile, stride 2 rows, dilation,
 * asymmetric and zero padding, padding wider than the kernel. */
static nn_conv case_shape(int i)
{
    switch (i) {
    case 0: return shape(2, 3, 37, 45, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1);        /* C=3, K=8, 3x3 same */
    case 1: return shape(2, 8, 21, 70, 16, 5, 5, 1, 1, 1, 2, 2, 2, 2);       /* 5x5 same, two row tiles */
    case 2: return shape(3, 5, 17, 19, 13, 3, 3, 1, 2, 2, 2, 2, 2, 2);       /* K=13: 8+4+1, dilation 2 */
    case 3: return shape(2, 4, 19, 23, 6, 3, 3, 1, 3, 3, 3, 3, 3, 3);        /* dilation 3, K=6: 4+2 */
    case 4: return shape(2, 3, 16, 33, 7, 3, 4, 2, 1, 1, 0, 1, 1, 2);        /* stride 2 rows, asymmetric */
    case 5: return shape(1, 2, 9, 9, 3, 5, 5, 1, 1, 1, 0, 0, 0, 0);          /* valid */
    case 6: return shape(2, 6, 11, 12, 5, 1, 1, 1, 1, 1, 0, 0, 0, 0);        /* pointwise */
    case 7: return shape(2, 3, 8, 9, 4, 2, 2, 1, 1, 1, 3, 2, 0, 3);          /* padding wider than the kernel */
    case 8: return shape(2, 2, 7, 40, 33, 3, 7, 1, 1, 1, 1, 3, 1, 3);        /* K=33, S=7 (5+2 columns) */
    case 9: return shape(1, 3, 12, 11, 9, 4, 6, 3, 1, 2, 1, 4, 2, 5);        /* stride 3 rows, S=6 dilated */
    default: return shape(1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0);         /* 1x1 image, one filter */
    }
}
#define NCASES 11

static void test_against_naive(void)
{
    dfs_rng rng;
    dfs_rng_seed(&rng, 21);
    for (int i = 0; i < NCASES; i++) {
        nn_conv c = case_shape(i);
        CHECK(nn_conv_init(&c) == 0, "case %d: %s", i, dfs_error());
        CHECK(nn_conv_direct_forward_ok(&c), "case %d: direct forward refused", i);
        int64_t nin = c.N * c.C * c.H * c.W, nw = c.K * c.C * c.R * c.S, nout = c.N * c.K * c.P * c.Q;
        float *in = rnd(nin, &rng), *w = rnd(nw, &rng), *b = rnd(c.K, &rng), *dout = rnd(nout, &rng);
        float *out = malloc(nout * sizeof *out), *ref = malloc(nout * sizeof *ref);
        /* forward, with and without bias */
        for (int v = 0; v < 2; v++) {
            const float *bb = v == 1 ? NULL : b;
            nn_conv2d_forward_naive(ref, in, w, bb, &c);
            memset(out, 0x7f, nout * sizeof *out);   /* every output must be written */
            nn_conv_direct_forward(out, in, w, bb, &c);
            double d = rel_diff(out, ref, nout);
            CHECK(d < 1e-5, "case %d forward variant %d: differs by %g", i, v, d);
        }
        /* weight gradient: accumulates into random start values */
        float *gw = rnd(nw, &rng), *gw2 = malloc(nw * sizeof *gw2);
        memcpy(gw2, gw, nw * sizeof *gw);
        nn_conv_direct_backward_weights(gw, dout, in, &c);
        nn_conv2d_backward_naive(NULL, gw2, NULL, dout, in, w, &c);
        double d = rel_diff(gw, gw2, nw);
        CHECK(d < 1e-4, "case %d weight gradient: differs by %g", i, d);
        /* input gradient (stride-1 rows only) */
        CHECK(nn_conv_direct_din_ok(&c) == (c.stride_h == 1), "case %d: din_ok", i);
        if (nn_conv_direct_din_ok(&c)) {
            float *gi = rnd(nin, &rng), *gi2 = malloc(nin * sizeof *gi2);
            memcpy(gi2, gi, nin * sizeof *gi);
            nn_conv_direct_backward_data(gi, dout, w, &c);
            nn_conv2d_backward_naive(gi2, NULL, NULL, dout, in, w, &c);
            d = rel_diff(gi, gi2, nin);
            CHECK(d < 1e-5, "case %d input gradient: differs by %g", i, d);
            free(gi), free(gi2);
        }
        free(in), free(w), free(b), free(dout), free(out), free(ref), free(gw), free(gw2);
    }
}

/* What the direct kernels refuse, and that the dispatcher still gets those right. */
static void test_refused_shapes(void)
{
    dfs_rng rng;
    dfs_rng_seed(&rng, 22);
    nn_conv grouped = shape(2, 4, 9, 9, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1);
    grouped.groups = 2;
    nn_conv strided = shape(2, 3, 9, 10, 4, 3, 3, 2, 1, 1, 0, 0, 1, 1);
    strided.stride_w = 2;
    nn_conv rows2 = shape(2, 3, 9, 10, 4, 3, 3, 2, 1, 1, 0, 1, 1, 1);
    CHECK(nn_conv_init(&grouped) == 0 && nn_conv_init(&strided) == 0 && nn_conv_init(&rows2) == 0, "%s",
          dfs_error());
    CHECK(!nn_conv_direct_forward_ok(&grouped) && !nn_conv_direct_din_ok(&grouped), "grouped conv accepted");
    CHECK(!nn_conv_direct_forward_ok(&strided) && !nn_conv_direct_din_ok(&strided), "column stride 2 accepted");
    CHECK(nn_conv_direct_forward_ok(&rows2) && !nn_conv_direct_din_ok(&rows2), "row stride 2: din accepted");
    /* row stride 2 through the dispatcher: direct forward and dw, GEMM input gradient */
    nn_conv *cs[3] = {&grouped, &strided, &rows2};
    for (int i = 0; i < 3; i++) {
        nn_conv c = *cs[i];
        int64_t nin = c.N * c.C * c.H * c.W, nw = c.K * (c.C / c.groups) * c.R * c.S, nout = c.N * c.K * c.P * c.Q;
        float *in = rnd(nin, &rng), *w = rnd(nw, &rng), *dout = rnd(nout, &rng);
        float *out = malloc(nout * sizeof *out), *ref = malloc(nout * sizeof *ref);
        float *scratch = malloc((nn_conv_scratch(&c) + 1) * sizeof *scratch);
        float *gi = calloc(nin, sizeof *gi), *gi2 = calloc(nin, sizeof *gi2);
        float *gw = calloc(nw, sizeof *gw), *gw2 = calloc(nw, sizeof *gw2);
        nn_conv2d_forward(out, in, w, NULL, &c, scratch);
        nn_conv2d_forward_naive(ref, in, w, NULL, &c);
        nn_conv2d_backward(gi, gw, NULL, dout, in, w, &c, scratch);
        nn_conv2d_backward_naive(gi2, gw2, NULL, dout, in, w, &c);
        double d = fmax(rel_diff(out, ref, nout), fmax(rel_diff(gi, gi2, nin), rel_diff(gw, gw2, nw)));
        CHECK(d < 1e-4, "refused shape %d through the dispatcher: differs by %g", i, d);
        free(in), free(w), free(dout), free(out), free(ref), free(scratch), free(gi), free(gi2), free(gw), free(gw2);
    }
}

/* finite differences of L = sum(conv(in, w) * rw) through the direct kernels */
static nn_conv fd_c;
static float *fd_in, *fd_w, *fd_out, *fd_rw;
static double fd_loss(void *ctx)
{
    (void)ctx;
    nn_conv_direct_forward(fd_out, fd_in, fd_w, NULL, &fd_c);
    return gc_dot(fd_out, fd_rw, fd_c.N * fd_c.K * fd_c.P * fd_c.Q);
}

static void test_gradcheck(void)
{
    dfs_rng rng;
    dfs_rng_seed(&rng, 23);
    int which[3] = {0, 2, 7};
    for (int k = 0; k < 3; k++) {
        fd_c = case_shape(which[k]);
        fd_c.N = 1;
        CHECK(nn_conv_init(&fd_c) == 0, "%s", dfs_error());
        int64_t nin = fd_c.C * fd_c.H * fd_c.W, nw = fd_c.K * fd_c.C * fd_c.R * fd_c.S;
        int64_t nout = fd_c.K * fd_c.P * fd_c.Q;
        fd_in = rnd(nin, &rng), fd_w = rnd(nw, &rng), fd_rw = rnd(nout, &rng);
        fd_out = malloc(nout * sizeof *fd_out);
        /* random start values, subtracted afterwards: the kernels must accumulate */
        float *gi = rnd(nin, &rng), *gw = rnd(nw, &rng), *gi0 = malloc(nin * sizeof *gi0), *gw0 = malloc(nw * sizeof *gw0);
        memcpy(gi0, gi, nin * sizeof *gi), memcpy(gw0, gw, nw * sizeof *gw);
        nn_conv_direct_backward_data(gi, fd_rw, fd_w, &fd_c);
        nn_conv_direct_backward_weights(gw, fd_rw, fd_in, &fd_c);
        gc_delta(gi, gi0, nin), gc_delta(gw, gw0, nw);
        char what[64];
        snprintf(what, sizeof what, "case %d din", which[k]);
        gc_check(what, fd_loss, NULL, fd_in, gi, nin, 30, 1e-2, 1e-3, 1e-3, &rng);
        snprintf(what, sizeof what, "case %d dw", which[k]);
        gc_check(what, fd_loss, NULL, fd_w, gw, nw, 30, 1e-2, 1e-3, 1e-3, &rng);
        free(fd_in), free(fd_w), free(fd_rw), free(fd_out), free(gi), free(gw), free(gi0), free(gw0);
    }
}

/* The weight gradient sums images in order: the same bits at 1 and 3 threads. */
static void test_thread_count(void)
{
    dfs_rng rng;
    dfs_rng_seed(&rng, 24);
    nn_conv c = case_shape(1);
    c.N = 5;
    CHECK(nn_conv_init(&c) == 0, "%s", dfs_error());
    int64_t nin = c.N * c.C * c.H * c.W, nw = c.K * c.C * c.R * c.S, nout = c.N * c.K * c.P * c.Q;
    float *in = rnd(nin, &rng), *w = rnd(nw, &rng), *dout = rnd(nout, &rng);
    float *gw[2], *gi[2], *out[2];
    int saved = omp_get_max_threads();
    for (int v = 0; v < 2; v++) {
        omp_set_num_threads(v ? 3 : 1);
        gw[v] = calloc(nw, sizeof(float)), gi[v] = calloc(nin, sizeof(float)), out[v] = malloc(nout * sizeof(float));
        nn_conv_direct_forward(out[v], in, w, NULL, &c);
        nn_conv_direct_backward_weights(gw[v], dout, in, &c);
        nn_conv_direct_backward_data(gi[v], dout, w, &c);
    }
    omp_set_num_threads(saved);
    CHECK(memcmp(out[0], out[1], nout * sizeof(float)) == 0, "forward depends on the thread count");
    CHECK(memcmp(gw[0], gw[1], nw * sizeof(float)) == 0, "weight gradient depends on the thread count");
    CHECK(memcmp(gi[0], gi[1], nin * sizeof(float)) == 0, "input gradient depends on the thread count");
    for (int v = 0; v < 2; v++) free(gw[v]), free(gi[v]), free(out[v]);
    free(in), free(w), free(dout);
}

int main(void)
{
    RUN(test_against_naive);
    RUN(test_refused_shapes);
    RUN(test_gradcheck);
    RUN(test_thread_count);
    return CHECK_DONE();
}
