/* Unit tests of the structural ops, losses, Adam, L2 and initialisation (lib/nn/{structure,
 * loss,optim}.c): finite-difference gradients and hand-computed formulas. */
#include "op_harness.h"
#include "core/common.h"
#include "nn/ops.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* ---- concat of three inputs (N=2, HW=5, C = 2, 3, 1) ---- */
static const int64_t CS[3] = {2, 3, 1};
static void concat_fwd(void)
{
    const float *ins[3] = {X, W, B};
    nn_concat_forward(OUT, ins, CS, 3, 2, 5);
}

static void test_concat(void)
{
    dfs_rng rng;
    dfs_rng_seed(&rng, 31);
    int64_t N = 2, HW = 5, na = N * 2 * HW, nb = N * 3 * HW, nc = N * 1 * HW;
    NOUT = na + nb + nc;
    gc_fill(X, na, &rng, -1, 1), gc_fill(W, nb, &rng, -1, 1), gc_fill(B, nc, &rng, -1, 1);
    gc_fill(RW, NOUT, &rng, -1, 1);
    concat_fwd();
    /* sample 1, channel 2 of the output is the second input's (W's) channel 0 */
    CHECK(OUT[(1 * 6 + 2) * HW + 3] == W[(1 * 3 + 0) * HW + 3], "concat layout");
    CHECK(OUT[(1 * 6 + 5) * HW + 4] == B[1 * HW + 4], "concat layout (last input)");
    prefill(&rng, na, nb, nc);
    float *dins[3] = {GX, GW, GB};
    nn_concat_backward(dins, RW, CS, 3, N, HW);
    analytic(na, nb, nc);
    fwd = concat_fwd;
    gc_check("concat d0", loss, NULL, X, GX, na, 100, 1e-2, 1e-4, 1e-3, &rng);
    gc_check("concat d1", loss, NULL, W, GW, nb, 100, 1e-2, 1e-4, 1e-3, &rng);
    gc_check("concat d2", loss, NULL, B, GB, nc, 100, 1e-2, 1e-4, 1e-3, &rng);
    /* a NULL input gradient is skipped */
    memcpy(GW, G0W, nb * sizeof(float));
    float *some[3] = {NULL, GW, NULL};
    nn_concat_backward(some, RW, CS, 3, N, HW);
    CHECK(GW[0] == G0W[0] + RW[2 * HW], "concat backward with NULLs");
}

/* ---- add and scale_channels ---- */
static void add_fwd(void) { nn_add_forward(OUT, X, W, NOUT); }
static void scale_fwd(void) { nn_scale_channels_forward(OUT, X, W, 2, 3, 4); }

static void test_add_scale(void)
{
    dfs_rng rng;
    dfs_rng_seed(&rng, 32);
    NOUT = 30;
    gc_fill(X, 30, &rng, -1, 1), gc_fill(W, 30, &rng, -1, 1), gc_fill(RW, 30, &rng, -1, 1);
    prefill(&rng, 30, 30, 0);
    nn_add_backward(GX, GW, RW, 30);
    analytic(30, 30, 0);
    fwd = add_fwd;
    gc_check("add da", loss, NULL, X, GX, 30, 30, 1e-2, 1e-4, 1e-3, &rng);
    gc_check("add db", loss, NULL, W, GW, 30, 30, 1e-2, 1e-4, 1e-3, &rng);
    nn_add_backward(NULL, NULL, RW, 30);   /* must not crash */

    NOUT = 2 * 3 * 4;
    gc_fill(X, NOUT, &rng, -1, 1), gc_fill(W, 6, &rng, 0, 1), gc_fill(RW, NOUT, &rng, -1, 1);
    scale_fwd();
    CHECK_CLOSE(OUT[(1 * 3 + 2) * 4 + 1], X[(1 * 3 + 2) * 4 + 1] * W[5], 0, 1e-7);
    prefill(&rng, NOUT, 6, 0);
    nn_scale_channels_backward(GX, GW, RW, X, W, 2, 3, 4);
    analytic(NOUT, 6, 0);
    fwd = scale_fwd;
    gc_check("scale_channels din", loss, NULL, X, GX, NOUT, 100, 1e-2, 1e-4, 1e-3, &rng);
    gc_check("scale_channels ds", loss, NULL, W, GW, 6, 100, 1e-2, 1e-4, 1e-3, &rng);
}

/* ---- dropout and drop-connect: the mask is fixed by re-seeding before every forward ---- */
static uint8_t MASK[FMAX];
static float RATE;
static int64_t DN, DPER;
static void dropout_fwd(void)
{
    dfs_rng r;
    dfs_rng_seed(&r, 77);
    nn_dropout_forward(OUT, MASK, X, RATE, NOUT, &r);
}
static void drop_connect_fwd(void)
{
    dfs_rng r;
    dfs_rng_seed(&r, 78);
    nn_drop_connect_forward(OUT, MASK, X, RATE, DN, DPER, &r);
}

static void test_dropout(void)
{
    dfs_rng rng;
    dfs_rng_seed(&rng, 33);
    RATE = 0.3f, NOUT = 400;
    gc_fill(X, NOUT, &rng, -1, 1), gc_fill(RW, NOUT, &rng, -1, 1);
    dropout_fwd();
    int kept = 0, ok = 1;
    for (int64_t i = 0; i < NOUT; i++) {
        kept += MASK[i];
        ok &= MASK[i] ? fabsf(OUT[i] - X[i] / 0.7f) <= 1e-6f : OUT[i] == 0;
    }
    CHECK(ok, "dropout values: kept ones scaled by 1/(1-rate), others zero");
    CHECK(kept > 240 && kept < 320, "kept %d of 400 at rate 0.3", kept);
    prefill(&rng, NOUT, 0, 0);
    nn_dropout_backward(GX, RW, MASK, RATE, NOUT);
    analytic(NOUT, 0, 0);
    fwd = dropout_fwd;
    gc_check("dropout din", loss, NULL, X, GX, NOUT, 100, 1e-2, 1e-4, 1e-3, &rng);
    /* the keep rate over many draws */
    static float big_in[100000], big_out[100000];
    static uint8_t big_mask[100000];
    dfs_rng r;
    dfs_rng_seed(&r, 5);
    nn_dropout_forward(big_out, big_mask, big_in, 0.25f, 100000, &r);
    long k = 0;
    for (int i = 0; i < 100000; i++) k += big_mask[i];
    CHECK(fabs(k / 1e5 - 0.75) < 0.006, "keep fraction %g at rate 0.25", k / 1e5);
    /* rate 0 is the identity; rate 1 drops everything without dividing by zero */
    nn_dropout_forward(OUT, MASK, X, 0.0f, NOUT, &r);
    CHECK(memcmp(OUT, X, NOUT * sizeof(float)) == 0, "rate 0 is not the identity");
    nn_dropout_forward(OUT, MASK, X, 1.0f, NOUT, &r);
    int zero = 1;
    for (int64_t i = 0; i < NOUT; i++) zero &= OUT[i] == 0 && MASK[i] == 0;
    CHECK(zero, "rate 1 keeps something");

    /* drop-connect: whole samples */
    DN = 40, DPER = 10, NOUT = DN * DPER, RATE = 0.5f;
    gc_fill(X, NOUT, &rng, -1, 1), gc_fill(RW, NOUT, &rng, -1, 1);
    drop_connect_fwd();
    int nk = 0;
    ok = 1;
    for (int64_t n = 0; n < DN; n++) {
        nk += MASK[n];
        for (int64_t i = 0; i < DPER; i++)
            ok &= MASK[n] ? fabsf(OUT[n * DPER + i] - 2 * X[n * DPER + i]) <= 1e-6f : OUT[n * DPER + i] == 0;
    }
    CHECK(ok, "drop-connect values");
    CHECK(nk > 8 && nk < 32, "kept %d of 40 samples at rate 0.5", nk);
    prefill(&rng, NOUT, 0, 0);
    nn_drop_connect_backward(GX, RW, MASK, RATE, DN, DPER);
    analytic(NOUT, 0, 0);
    fwd = drop_connect_fwd;
    gc_check("drop_connect din", loss, NULL, X, GX, NOUT, 100, 1e-2, 1e-4, 1e-3, &rng);
}

/* ---- losses ---- */
static int loss_kind;   /* 0 mse_sigmoid, 1 bce_sigmoid, 2 bce_softmax2 */
static float TGT[64];
static int64_t LN;
static double loss_only(void *ctx)
{
    (void)ctx;
    switch (loss_kind) {
    case 0: return nn_loss_mse_sigmoid(NULL, X, TGT, LN);
    case 1: return nn_loss_bce_sigmoid(NULL, X, TGT, LN);
    default: return nn_loss_bce_softmax2(NULL, X, TGT, LN);
    }
}

static double sig(double z) { return 1 / (1 + exp(-z)); }

static void test_losses(void)
{
    dfs_rng rng;
    dfs_rng_seed(&rng, 34);
    LN = 8;
    for (int i = 0; i < LN; i++) TGT[i] = (float)(i % 2);
    const char *names[3] = {"mse_sigmoid", "bce_sigmoid", "bce_softmax2"};
    for (loss_kind = 0; loss_kind < 3; loss_kind++) {
        int64_t n = loss_kind == 2 ? 2 * LN : LN;
        gc_fill(X, n, &rng, -3, 3);
        /* the value against the textbook formula on probabilities */
        double ref = 0;
        for (int i = 0; i < LN; i++) {
            double t = TGT[i];
            if (loss_kind == 0) ref += (sig(X[i]) - t) * (sig(X[i]) - t);
            if (loss_kind == 1) ref += -t * log(sig(X[i])) - (1 - t) * log(1 - sig(X[i]));
            if (loss_kind == 2) {
                double p1 = exp(X[2 * i + 1]) / (exp(X[2 * i]) + exp(X[2 * i + 1])), p0 = 1 - p1;
                /* Keras: the mean over both outputs of the element-wise binary cross-entropy */
                double y0 = 1 - t, y1 = t;
                ref += 0.5 * (-y0 * log(p0) - (1 - y0) * log(1 - p0) - y1 * log(p1) - (1 - y1) * log(1 - p1));
            }
        }
        ref /= LN;
        for (int i = 0; i < n; i++) GX[i] = 123;   /* overwritten, not accumulated */
        double L = 0;
        switch (loss_kind) {
        case 0: L = nn_loss_mse_sigmoid(GX, X, TGT, LN); break;
        case 1: L = nn_loss_bce_sigmoid(GX, X, TGT, LN); break;
        default: L = nn_loss_bce_softmax2(GX, X, TGT, LN); break;
        }
        CHECK_CLOSE(L, ref, 1e-7, 1e-6);
        /* finite differences of the returned loss itself */
        int bad = 0;
        for (int i = 0; i < n; i++) {
            float s = X[i];
            X[i] = s + 1e-3f;
            double lp = loss_only(NULL);
            X[i] = s - 1e-3f;
            double lm = loss_only(NULL);
            X[i] = s;
            double num = (lp - lm) / ((double)(s + 1e-3f) - (double)(s - 1e-3f));
            if (fabs(num - GX[i]) > 1e-5 + 1e-3 * fabs(num)) {
                printf("# %s d[%d]: analytic %.8g numeric %.8g\n", names[loss_kind], i, GX[i], num);
                bad++;
            }
        }
        CHECK(bad == 0, "%s gradient", names[loss_kind]);
    }
    /* saturated outputs, as Keras/TF1: the probability is clipped to [1e-7, 1 - 1e-7] (float32),
     * so a confident wrong answer costs -log(1e-7) = 16.12 (or -log(1 - (1 - 1e-7)f) = 15.94) and
     * a saturated output gets no gradient at all */
    const double lo = 1e-7f, hi = 1.0f - 1e-7f;
    float z[4] = {100, -100, 1000, -1000}, t[4] = {1, 0, 0, 1}, d[8];
    double L = nn_loss_bce_sigmoid(d, z, t, 4);
    double want = (-log(hi) - log1p(-lo) - log1p(-hi) - log(lo)) / 4;
    CHECK(fabs(L - want) < 1e-9, "saturated bce_sigmoid %.9g, expected %.9g", L, want);
    CHECK(d[0] == 0 && d[1] == 0 && d[2] == 0 && d[3] == 0, "saturated gradient %g %g %g %g", d[0], d[1], d[2], d[3]);
    /* just inside the range (p = 1 - 2e-7, z = 15.4) the gradient flows; just outside (z = 17,
     * p rounds to float above 1 - 1e-7) it does not */
    float zb[2] = {15.4f, 17.0f}, tb[2] = {0, 0};
    nn_loss_bce_sigmoid(d, zb, tb, 2);
    CHECK(fabs(d[0] - 1.0 / (1 + exp(-15.4)) / 2) < 1e-7 && d[1] == 0, "clip edge: %g %g", d[0], d[1]);
    L = nn_loss_mse_sigmoid(d, z, t, 4);
    CHECK(isfinite(L) && fabs(L - 0.5) < 1e-9, "saturated mse %g", L);
    for (int i = 0; i < 4; i++) CHECK(isfinite(d[i]), "mse gradient %d not finite", i);
    float z2[8] = {1000, -1000, -1000, 1000, 500, -500, 0, 0}, t2[4] = {0, 1, 1, 0};
    L = nn_loss_bce_softmax2(d, z2, t2, 4);
    /* samples 0, 1 right and saturated, 2 wrong and saturated, 3 at p = 0.5 */
    double right = 0.5 * (-log(hi) - log1p(-lo)), wrong = 0.5 * (-log1p(-hi) - log(lo));
    want = (2 * right + wrong + log(2.0)) / 4;
    CHECK(fabs(L - want) < 1e-9, "saturated bce_softmax2 %.9g, expected %.9g", L, want);
    CHECK(d[0] == 0 && d[1] == 0 && d[2] == 0 && d[3] == 0 && d[4] == 0 && d[5] == 0 &&
              fabsf(d[6] + 0.125f) < 1e-7f && fabsf(d[7] - 0.125f) < 1e-7f,
          "saturated softmax gradient %g %g %g %g", d[4], d[5], d[6], d[7]);
}

/* ---- Adam, L2, Glorot ---- */
static void test_adam(void)
{
    float p[3] = {0.5f, -1.0f, 2.0f}, m[3] = {0}, v[3] = {0};
    const float g1[3] = {0.1f, -0.2f, 0.0f}, g2[3] = {-0.3f, 0.05f, 1.0f};
    nn_adam a = {.lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-7f, .t = 0};
    double P[3] = {0.5, -1, 2}, M[3] = {0}, V[3] = {0};
    const float *gs[2] = {g1, g2};
    /* the hyper-parameters are float32 in Keras too, so 1 - beta2 is 1 - 0.999f, not 0.001 */
    const double b1 = 0.9f, b2 = 0.999f, lr = 1e-3f, eps = 1e-7f;
    for (int step = 1; step <= 2; step++) {
        a.t++;
        nn_adam_update(p, gs[step - 1], m, v, &a, 3);
        double lr_t = lr * sqrt(1 - pow(b2, step)) / (1 - pow(b1, step));
        for (int i = 0; i < 3; i++) {
            double g = gs[step - 1][i];
            M[i] = b1 * M[i] + (1 - b1) * g;
            V[i] = b2 * V[i] + (1 - b2) * g * g;
            P[i] -= lr_t * M[i] / (sqrt(V[i]) + eps);
            CHECK_CLOSE(m[i], M[i], 1e-9, 1e-6);
            CHECK_CLOSE(v[i], V[i], 1e-12, 1e-5);
            CHECK_CLOSE(p[i], P[i], 1e-7, 1e-6);
        }
    }
    /* Adam's first step moves a parameter by lr whatever the gradient's size */
    float q = 0, gq = 5, mq = 0, vq = 0;
    nn_adam a1 = {.lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-7f, .t = 1};
    nn_adam_update(&q, &gq, &mq, &vq, &a1, 1);
    CHECK_CLOSE(q, -1e-3, 1e-9, 1e-5);
}

static void test_l2(void)
{
    dfs_rng rng;
    dfs_rng_seed(&rng, 35);
    static float w[100000], g[100000], g0[100000];
    gc_fill(w, 100000, &rng, -1, 1), gc_fill(g0, 100000, &rng, -1, 1);
    memcpy(g, g0, sizeof g);
    double ref = 0;
    for (int i = 0; i < 100000; i++) ref += (double)w[i] * w[i];
    double pen = nn_l2_penalty(g, w, 1e-4f, 100000);
    CHECK_CLOSE(pen, 1e-4f * ref, 0, 1e-9);
    int ok = 1;
    for (int i = 0; i < 100000; i++) ok &= fabsf(g[i] - g0[i] - 2e-4f * w[i]) <= 1e-7f;
    CHECK(ok, "L2 gradient is not 2 lambda w");
    /* finite differences of the penalty */
    float small[5] = {0.3f, -0.7f, 1.1f, 0, 2}, gs[5] = {0};
    nn_l2_penalty(gs, small, 0.5f, 5);
    for (int i = 0; i < 5; i++) {
        float s = small[i];
        small[i] = s + 1e-3f;
        double lp = nn_l2_penalty(NULL, small, 0.5f, 5);
        small[i] = s - 1e-3f;
        double lm = nn_l2_penalty(NULL, small, 0.5f, 5);
        small[i] = s;
        CHECK_CLOSE(gs[i], (lp - lm) / 2e-3, 1e-4, 1e-3);
    }
    /* the same bits whatever the thread count */
    int nt = omp_get_max_threads();
    omp_set_num_threads(1);
    double p1 = nn_l2_penalty(NULL, w, 1e-4f, 100000);
    omp_set_num_threads(3);
    double p3 = nn_l2_penalty(NULL, w, 1e-4f, 100000);
    omp_set_num_threads(nt);
    CHECK(p1 == p3 && p1 == pen, "L2 penalty depends on the thread count: %.17g %.17g", p1, p3);
}

static void test_glorot(void)
{
    static float w[30000], w2[30000];
    dfs_rng r;
    dfs_rng_seed(&r, 9);
    int64_t fan_in = 3 * 3 * 16, fan_out = 3 * 3 * 32;
    double limit = sqrt(6.0 / (fan_in + fan_out));
    nn_init_glorot_uniform(w, 30000, fan_in, fan_out, &r);
    double mn = 1, mx = -1, s = 0, ss = 0;
    for (int i = 0; i < 30000; i++) {
        mn = fmin(mn, w[i]), mx = fmax(mx, w[i]);
        s += w[i], ss += (double)w[i] * w[i];
    }
    CHECK(mn >= -limit && mx < limit, "outside [-%g, %g): %g %g", limit, limit, mn, mx);
    CHECK(mn < -0.99 * limit && mx > 0.99 * limit, "does not span the range: %g %g", mn, mx);
    CHECK(fabs(s / 30000) < 0.01 * limit, "mean %g", s / 30000);
    CHECK_CLOSE(ss / 30000, limit * limit / 3, 0, 0.03);
    dfs_rng_seed(&r, 9);
    nn_init_glorot_uniform(w2, 30000, fan_in, fan_out, &r);
    CHECK(memcmp(w, w2, sizeof w) == 0, "same seed, different weights");
    dfs_rng_seed(&r, 10);
    nn_init_glorot_uniform(w2, 30000, fan_in, fan_out, &r);
    CHECK(memcmp(w, w2, sizeof w) != 0, "different seeds, same weights");
}

int main(void)
{
    RUN(test_concat);
    RUN(test_add_scale);
    RUN(test_dropout);
    RUN(test_losses);
    RUN(test_adam);
    RUN(test_l2);
    RUN(test_glorot);
    return CHECK_DONE();
}
