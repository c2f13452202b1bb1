/* Unit tests of dense, batchnorm, activations and pooling (lib/nn/{dense,batchnorm,activation,
 * pool}.c): finite-difference gradients (gradcheck.h) and forward values against formulas. */
#include "op_harness.h"
#include "core/common.h"
#include "nn/ops.h"

#include <stdlib.h>
#include <string.h>

/* ---- dense ---- */
static int64_t dN, dI, dO;
static void dense_fwd(void) { nn_dense_forward(OUT, X, W, B, dN, dI, dO); }

static void test_dense(void)
{
    dfs_rng rng;
    dfs_rng_seed(&rng, 21);
    dN = 3, dI = 17, dO = 5, NOUT = dN * dO;
    gc_fill(X, dN * dI, &rng, -1, 1), gc_fill(W, dO * dI, &rng, -1, 1), gc_fill(B, dO, &rng, -1, 1);
    gc_fill(RW, NOUT, &rng, -1, 1);
    dense_fwd();
    for (int64_t n = 0; n < dN; n++)
        for (int64_t o = 0; o < dO; o++) {
            double s = B[o];
            for (int64_t i = 0; i < dI; i++) s += (double)X[n * dI + i] * W[o * dI + i];
            CHECK_CLOSE(OUT[n * dO + o], s, 1e-5, 1e-5);
        }
    prefill(&rng, dN * dI, dO * dI, dO);
    nn_dense_backward(GX, GW, GB, RW, X, W, dN, dI, dO);
    analytic(dN * dI, dO * dI, dO);
    fwd = dense_fwd;
    gc_check("dense din", loss, NULL, X, GX, dN * dI, 60, 1e-2, 1e-3, 1e-3, &rng);
    gc_check("dense dw", loss, NULL, W, GW, dO * dI, 60, 1e-2, 1e-3, 1e-3, &rng);
    gc_check("dense db", loss, NULL, B, GB, dO, 60, 1e-2, 1e-3, 1e-3, &rng);
    /* without bias: out = in w^T exactly */
    nn_dense_forward(OUT, X, W, NULL, dN, dI, dO);
    double s = 0;
    for (int64_t i = 0; i < dI; i++) s += (double)X[i] * W[i];
    CHECK_CLOSE(OUT[0], s, 1e-5, 1e-5);
}

/* Each row's forward and input gradient are the same bytes whatever the batch holds (predict and
 * cam must not change with --batch): rows computed in batches of 1, 3, 5 and 37 (every tile and
 * remainder shape), sizes with and without a tail of In % 8, and a block boundary of In. */
static void test_dense_rows_independent_of_batch(void)
{
    dfs_rng rng;
    dfs_rng_seed(&rng, 22);
    const int64_t sizes[][2] = {{17, 5}, {64, 1}, {2051, 3}, {4100, 7}};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        int64_t N = 37, In = sizes[k][0], O = sizes[k][1];
        float *x = dfs_malloc((size_t)(N * In) * sizeof *x), *w = dfs_malloc((size_t)(O * In) * sizeof *w);
        float *b = dfs_malloc((size_t)O * sizeof *b), *g = dfs_malloc((size_t)(N * O) * sizeof *g);
        float *y = dfs_malloc((size_t)(N * O) * sizeof *y), *yb = dfs_malloc((size_t)(N * O) * sizeof *yb);
        float *d = dfs_calloc((size_t)(N * In), sizeof *d), *db = dfs_calloc((size_t)(N * In), sizeof *db);
        gc_fill(x, N * In, &rng, -1, 1), gc_fill(w, O * In, &rng, -1, 1), gc_fill(b, O, &rng, -1, 1);
        gc_fill(g, N * O, &rng, -1, 1);
        nn_dense_forward(y, x, w, b, N, In, O);
        nn_dense_backward(d, NULL, NULL, g, x, w, N, In, O);
        const int64_t batches[] = {1, 3, 5};
        for (size_t j = 0; j < 3; j++) {
            int64_t B = batches[j];
            memset(db, 0, (size_t)(N * In) * sizeof *db);
            for (int64_t n0 = 0; n0 < N; n0 += B) {
                int64_t nb = N - n0 < B ? N - n0 : B;
                nn_dense_forward(yb + n0 * O, x + n0 * In, w, b, nb, In, O);
                nn_dense_backward(db + n0 * In, NULL, NULL, g + n0 * O, x + n0 * In, w, nb, In, O);
            }
            CHECK(!memcmp(y, yb, (size_t)(N * O) * sizeof *y), "dense forward In %lld O %lld: batch %lld differs",
                  (long long)In, (long long)O, (long long)B);
            CHECK(!memcmp(d, db, (size_t)(N * In) * sizeof *d), "dense din In %lld O %lld: batch %lld differs",
                  (long long)In, (long long)O, (long long)B);
        }
        for (int64_t n = 0; n < N; n += 7)   /* and the values are the product */
            for (int64_t o = 0; o < O; o++) {
                double s = b[o];
                for (int64_t i = 0; i < In; i++) s += (double)x[n * In + i] * w[o * In + i];
                CHECK_CLOSE(y[n * O + o], s, 1e-4, 1e-5);
            }
        free(x), free(w), free(b), free(g), free(y), free(yb), free(d), free(db);
    }
}

/* ---- batchnorm ---- */
static int64_t bN, bC, bHW;
static float MEAN[64], INVSTD[64], RM[64], RV[64];
static void bn_train_fwd(void)
{
    nn_batchnorm_forward_train(OUT, MEAN, INVSTD, X, W, B, NULL, NULL, 0.99f, 1e-3f, bN, bC, bHW);
}
static void bn_eval_fwd(void) { nn_batchnorm_forward_eval(OUT, X, W, B, RM, RV, 1e-3f, bN, bC, bHW); }

static void bn_gradcheck(int64_t N, int64_t C, int64_t HW, int train, dfs_rng *rng)
{
    bN = N, bC = C, bHW = HW, NOUT = N * C * HW;
    gc_fill(X, NOUT, rng, -2, 2), gc_fill(W, C, rng, 0.5, 1.5), gc_fill(B, C, rng, -1, 1);
    gc_fill(RM, C, rng, -0.5, 0.5), gc_fill(RV, C, rng, 0.5, 2);
    gc_fill(RW, NOUT, rng, -1, 1);
    prefill(rng, NOUT, C, C);
    char what[96];
    if (train) {
        bn_train_fwd();
        nn_batchnorm_backward_train(GX, GW, GB, RW, X, W, MEAN, INVSTD, N, C, HW);
        fwd = bn_train_fwd;
    } else {
        bn_eval_fwd();
        nn_batchnorm_backward_eval(GX, GW, GB, RW, X, W, RM, RV, 1e-3f, N, C, HW);
        fwd = bn_eval_fwd;
    }
    analytic(NOUT, C, C);
    snprintf(what, sizeof what, "bn %s N%lld C%lld HW%lld din", train ? "train" : "eval", (long long)N, (long long)C,
             (long long)HW);
    gc_check(what, loss, NULL, X, GX, NOUT, 60, 1e-3, 2e-3, 1e-2, rng);
    gc_check("bn dgamma", loss, NULL, W, GW, C, 60, 1e-3, 2e-3, 1e-2, rng);
    gc_check("bn dbeta", loss, NULL, B, GB, C, 60, 1e-3, 2e-3, 1e-2, rng);
}

static void test_batchnorm_gradcheck(void)
{
    dfs_rng rng;
    dfs_rng_seed(&rng, 22);
    bn_gradcheck(3, 4, 6, 1, &rng);
    bn_gradcheck(5, 3, 1, 1, &rng);   /* after a dense layer */
    bn_gradcheck(3, 4, 6, 0, &rng);
    bn_gradcheck(4, 2, 1, 0, &rng);
}

static void test_batchnorm_values(void)
{
    /* one channel of 4 values 1, 2, 3, 6: mean 3, biased var 3.5, unbiased 14/3 */
    const float x[8] = {1, 2, 3, 6, 0, 0, 0, 0};   /* N=4, C=2, HW=1 with channel 1 all zero */
    float in[8] = {x[0], x[4], x[1], x[5], x[2], x[6], x[3], x[7]};
    float out[8], mean[2], invstd[2], gamma[2] = {2, 1}, beta[2] = {0.5f, -1};
    float rm[2] = {1, 1}, rv[2] = {2, 2};
    nn_batchnorm_forward_train(out, mean, invstd, in, gamma, beta, rm, rv, 0.99f, 1e-3f, 4, 2, 1);
    CHECK_CLOSE(mean[0], 3, 1e-6, 0);
    CHECK_CLOSE(invstd[0], 1 / sqrt(3.5 + 1e-3), 1e-6, 1e-6);
    CHECK_CLOSE(out[0], 2 * (1 - 3) / sqrt(3.5 + 1e-3) + 0.5, 1e-5, 1e-5);
    CHECK_CLOSE(out[6], 2 * (6 - 3) / sqrt(3.5 + 1e-3) + 0.5, 1e-5, 1e-5);
    CHECK_CLOSE(out[1], -1, 1e-6, 0);   /* constant channel: normalised to beta */
    CHECK_CLOSE(rm[0], 0.99 * 1 + 0.01 * 3, 1e-6, 1e-6);
    CHECK_CLOSE(rv[0], 0.99 * 2 + 0.01 * 14.0 / 3.0, 1e-6, 1e-6);
    CHECK_CLOSE(rm[1], 0.99, 1e-6, 1e-6);
    CHECK_CLOSE(rv[1], 0.99 * 2, 1e-6, 1e-6);
    /* the biased variant (Keras's non-fused path) */
    rm[0] = 1, rv[0] = 2;
    nn_batchnorm_forward_train_ex(out, NULL, NULL, in, NULL, NULL, rm, rv, 0.9f, 1e-3f, 0, 4, 2, 1);
    CHECK_CLOSE(rv[0], 0.9 * 2 + 0.1 * 3.5, 1e-6, 1e-6);
    CHECK_CLOSE(rm[0], 0.9 * 1 + 0.1 * 3, 1e-6, 1e-6);
    CHECK_CLOSE(out[0], (1 - 3) / sqrt(3.5 + 1e-3), 1e-5, 1e-5);   /* NULL gamma/beta: 1 and 0 */
    /* eval uses the running statistics */
    float rme[2] = {2, 0}, rve[2] = {4, 1};
    nn_batchnorm_forward_eval(out, in, gamma, beta, rme, rve, 1e-3f, 4, 2, 1);
    CHECK_CLOSE(out[6], 2 * (6 - 2) / sqrt(4 + 1e-3) + 0.5, 1e-5, 1e-5);
    CHECK_CLOSE(out[7], -1, 1e-6, 0);
    /* training output over a larger channel: mean 0, biased variance var/(var+eps) */
    dfs_rng rng;
    dfs_rng_seed(&rng, 23);
    gc_fill(X, 3 * 2 * 50, &rng, 3, 9);
    nn_batchnorm_forward_train(OUT, MEAN, INVSTD, X, NULL, NULL, NULL, NULL, 0.99f, 0, 3, 2, 50);
    for (int c = 0; c < 2; c++) {
        double s = 0, ss = 0;
        for (int n = 0; n < 3; n++)
            for (int i = 0; i < 50; i++) s += OUT[(n * 2 + c) * 50 + i], ss += OUT[(n * 2 + c) * 50 + i] * OUT[(n * 2 + c) * 50 + i];
        CHECK_CLOSE(s / 150, 0, 1e-5, 0);
        CHECK_CLOSE(ss / 150, 1, 1e-4, 0);
    }
}

/* ---- activations ---- */
static int64_t an;
static int act;   /* 0 relu, 1 leaky, 2 swish, 3 sigmoid, 4 softmax (rows of 5) */
static void act_fwd(void)
{
    switch (act) {
    case 0: nn_relu_forward(OUT, X, an); break;
    case 1: nn_leaky_relu_forward(OUT, X, 0.1f, an); break;
    case 2: nn_swish_forward(OUT, X, an); break;
    case 3: nn_sigmoid_forward(OUT, X, an); break;
    default: nn_softmax_forward(OUT, X, an / 5, 5); break;
    }
}
/* relu and leaky relu: a perturbation that changes an input's sign crosses the kink */
static float X0[FMAX];
static double act_loss(void *ctx)
{
    (void)ctx;
    act_fwd();
    if (act <= 1)
        for (int64_t i = 0; i < an; i++)
            if ((X[i] > 0) != (X0[i] > 0)) gc_kink = 1;
    return gc_dot(OUT, RW, NOUT);
}

static void test_activations_gradcheck(void)
{
    const char *names[] = {"relu", "leaky_relu", "swish", "sigmoid", "softmax"};
    dfs_rng rng;
    dfs_rng_seed(&rng, 24);
    for (act = 0; act < 5; act++) {
        an = 200, NOUT = an;
        gc_fill(X, an, &rng, -4, 4);
        if (act <= 1) X[0] = 5e-4f, X[1] = -5e-4f;   /* within h of the kink: must be skipped */
        gc_fill(RW, an, &rng, -1, 1);
        act_fwd();
        memcpy(G0W, OUT, an * sizeof(float));   /* the forward output, for sigmoid/softmax backward */
        prefill(&rng, an, 0, 0);
        switch (act) {
        case 0: nn_relu_backward(GX, RW, X, an); break;
        case 1: nn_leaky_relu_backward(GX, RW, X, 0.1f, an); break;
        case 2: nn_swish_backward(GX, RW, X, an); break;
        case 3: nn_sigmoid_backward(GX, RW, G0W, an); break;
        default: nn_softmax_backward(GX, RW, G0W, an / 5, 5); break;
        }
        analytic(an, 0, 0);
        memcpy(X0, X, an * sizeof(float));
        gc_skipped = 0;
        gc_check(names[act], act_loss, NULL, X, GX, an, an, 1e-3, 1e-3, 5e-3, &rng);
        if (act <= 1) CHECK(gc_skipped >= 2, "%s: the kink samples were not skipped (%d)", names[act], gc_skipped);
    }
}

static void test_activation_values(void)
{
    float in[6] = {-100, -3, 0, 0.5f, 3, 100}, out[6], d[6] = {0};
    nn_sigmoid_forward(out, in, 6);
    for (int i = 0; i < 6; i++) CHECK_CLOSE(out[i], 1 / (1 + exp(-(double)in[i])), 1e-7, 1e-6);
    nn_swish_forward(out, in, 6);
    for (int i = 0; i < 6; i++) CHECK_CLOSE(out[i], in[i] / (1 + exp(-(double)in[i])), 1e-7, 1e-6);
    nn_leaky_relu_forward(out, in, 0.1f, 6);
    CHECK_CLOSE(out[1], -0.3, 1e-7, 1e-6);
    CHECK_CLOSE(out[4], 3, 0, 0);
    nn_relu_forward(out, in, 6);
    CHECK(out[0] == 0 && out[2] == 0 && out[5] == 100, "relu values");
    float ones[6] = {1, 1, 1, 1, 1, 1};
    nn_relu_backward(d, ones, in, 6);
    CHECK(d[0] == 0 && d[2] == 0 && d[3] == 1 && d[5] == 1, "relu gradient: 0 at and below 0");
    /* softmax of large logits: finite and sums to 1 */
    float z[4] = {1000, 1001, -1000, 0}, p[4];
    nn_softmax_forward(p, z, 2, 2);
    CHECK_CLOSE(p[0], 1 / (1 + exp(1.0)), 1e-6, 1e-5);
    CHECK_CLOSE(p[0] + p[1], 1, 1e-6, 0);
    CHECK_CLOSE(p[2], exp(-1000.0), 1e-30, 0);
    CHECK(isfinite(p[2]) && isfinite(p[3]), "softmax overflow");
}

/* ---- pooling ---- */
static nn_pool PL;
static int32_t ARG[FMAX], ARG0[FMAX];
static int pool_max;
static void pool_fwd(void)
{
    if (pool_max)
        nn_maxpool_forward(OUT, ARG, X, &PL);
    else
        nn_avgpool_forward(OUT, X, &PL);
}
static double pool_loss(void *ctx)
{
    (void)ctx;
    pool_fwd();
    if (pool_max && memcmp(ARG, ARG0, NOUT * sizeof(int32_t))) gc_kink = 1;   /* the winner changed */
    return gc_dot(OUT, RW, NOUT);
}

static nn_pool pool_shape(int64_t N, int64_t C, int64_t H, int64_t W, int64_t k, int64_t s, int same)
{
    nn_pool p = {.N = N, .C = C, .H = H, .W = W, .kh = k, .kw = k, .stride_h = s, .stride_w = s};
    if (same) {
        nn_pad_same(H, k, s, 1, &p.pad_t, &p.pad_b);
        nn_pad_same(W, k, s, 1, &p.pad_l, &p.pad_r);
    }
    return p;
}

static void test_pool_gradcheck(void)
{
    dfs_rng rng;
    dfs_rng_seed(&rng, 25);
    struct { const char *name; nn_pool p; } cases[] = {
        {"2x2 s2 same odd", pool_shape(2, 2, 7, 9, 2, 2, 1)},
        {"4x4 s4 same", pool_shape(1, 2, 10, 9, 4, 4, 1)},
        {"3x3 s1 same", pool_shape(2, 2, 5, 6, 3, 1, 1)},
        {"3x3 s2 valid", pool_shape(2, 2, 9, 8, 3, 2, 0)},
        {"2x2 s2 valid", pool_shape(1, 3, 8, 8, 2, 2, 0)},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        PL = cases[i].p;
        CHECK(nn_pool_init(&PL) == 0, "%s: %s", cases[i].name, dfs_error());
        int64_t nin = PL.N * PL.C * PL.H * PL.W;
        NOUT = PL.N * PL.C * PL.P * PL.Q;
        /* distinct values 0.01 apart: no ties, and a 1e-3 step cannot change a winner */
        for (int64_t j = 0; j < nin; j++) X[j] = (float)j * 0.01f - 1;
        for (int64_t j = nin - 1; j > 0; j--) {
            int64_t k = (int64_t)dfs_rng_below(&rng, (uint64_t)j + 1);
            float t = X[j];
            X[j] = X[k], X[k] = t;
        }
        gc_fill(RW, NOUT, &rng, -1, 1);
        for (pool_max = 0; pool_max < 2; pool_max++) {
            pool_fwd();
            memcpy(ARG0, ARG, NOUT * sizeof(int32_t));
            prefill(&rng, nin, 0, 0);
            if (pool_max)
                nn_maxpool_backward(GX, RW, ARG, &PL);
            else
                nn_avgpool_backward(GX, RW, &PL);
            analytic(nin, 0, 0);
            char what[96];
            snprintf(what, sizeof what, "%s %s", pool_max ? "maxpool" : "avgpool", cases[i].name);
            gc_skipped = 0;
            gc_check(what, pool_loss, NULL, X, GX, nin, 80, 1e-3, 1e-3, 5e-3, &rng);
            CHECK(gc_skipped == 0, "%s: %d winners changed", what, gc_skipped);
        }
    }
    /* global average pool */
    int64_t N = 2, C = 3, HW = 7;
    NOUT = N * C;
    gc_fill(X, N * C * HW, &rng, -1, 1), gc_fill(RW, NOUT, &rng, -1, 1);
    nn_global_avgpool_forward(OUT, X, N, C, HW);
    double s = 0;
    for (int j = 0; j < HW; j++) s += X[HW + j];
    CHECK_CLOSE(OUT[1], s / HW, 1e-6, 1e-6);
    prefill(&rng, N * C * HW, 0, 0);
    nn_global_avgpool_backward(GX, RW, N, C, HW);
    analytic(N * C * HW, 0, 0);
    for (int64_t j = 0; j < N * C * HW; j++) CHECK_CLOSE(GX[j], RW[j / HW] / HW, 1e-6, 1e-5);
}

static void test_pool_values(void)
{
    /* average pool 3x3 'same' stride 1 on a 3x3 plane: windows exclude padding from the count */
    float in[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, out[9];
    nn_pool p = pool_shape(1, 1, 3, 3, 3, 1, 1);
    CHECK(nn_pool_init(&p) == 0 && p.P == 3 && p.Q == 3, "same 3x3 size");
    nn_avgpool_forward(out, in, &p);
    CHECK_CLOSE(out[0], (1 + 2 + 4 + 5) / 4.0, 1e-6, 0);
    CHECK_CLOSE(out[1], (1 + 2 + 3 + 4 + 5 + 6) / 6.0, 1e-6, 0);
    CHECK_CLOSE(out[4], 5, 1e-6, 0);
    CHECK_CLOSE(out[8], (5 + 6 + 8 + 9) / 4.0, 1e-6, 0);
    /* 2x2 stride 2 'same' on 3x3: the extra pad is bottom/right, so the last window is partial */
    p = pool_shape(1, 1, 3, 3, 2, 2, 1);
    CHECK(nn_pool_init(&p) == 0 && p.P == 2 && p.pad_t == 0 && p.pad_b == 1, "same 2x2 s2 pads");
    nn_avgpool_forward(out, in, &p);
    CHECK_CLOSE(out[0], (1 + 2 + 4 + 5) / 4.0, 1e-6, 0);
    CHECK_CLOSE(out[1], (3 + 6) / 2.0, 1e-6, 0);
    CHECK_CLOSE(out[3], 9, 1e-6, 0);
    /* max pool treats padding as -inf: all-negative input never yields 0 */
    float neg[9];
    for (int i = 0; i < 9; i++) neg[i] = -1 - i;
    int32_t am[4];
    nn_maxpool_forward(out, am, neg, &p);
    CHECK(out[0] == -1 && out[1] == -3 && out[2] == -7 && out[3] == -9, "maxpool %g %g %g %g", out[0], out[1],
          out[2], out[3]);
    CHECK(am[0] == 0 && am[1] == 2 && am[2] == 6 && am[3] == 8, "argmax");
    /* ties: the first position in scan order wins (as TensorFlow and PyTorch route the gradient) */
    float tie[9] = {0, 5, 5, 5, 5, 0, 0, 0, 0};
    nn_maxpool_forward(out, am, tie, &p);
    CHECK(am[0] == 1 && am[1] == 2 && am[2] == 6, "tie argmax %d %d %d", am[0], am[1], am[2]);
    /* Meso sizes: 256 -> 128 (2x2 s2 same), 32 -> 8 (4x4 s4 same) */
    p = pool_shape(1, 1, 256, 256, 2, 2, 1);
    CHECK(nn_pool_init(&p) == 0 && p.P == 128, "256 -> %lld", (long long)p.P);
    p = pool_shape(1, 1, 32, 32, 4, 4, 1);
    CHECK(nn_pool_init(&p) == 0 && p.P == 8, "32 -> %lld", (long long)p.P);
    /* rejected configurations */
    p = pool_shape(1, 1, 4, 4, 2, 2, 0);
    p.pad_b = 2;
    CHECK(nn_pool_init(&p) == -1, "window of padding only accepted");
    p = pool_shape(1, 1, 2, 2, 3, 1, 0);
    CHECK(nn_pool_init(&p) == -1, "window larger than input accepted");
}

int main(void)
{
    RUN(test_dense);
    RUN(test_dense_rows_independent_of_batch);
    RUN(test_batchnorm_gradcheck);
    RUN(test_batchnorm_values);
    RUN(test_activations_gradcheck);
    RUN(test_activation_values);
    RUN(test_pool_gradcheck);
    RUN(test_pool_values);
    return CHECK_DONE();
}
