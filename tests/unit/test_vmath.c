/* test_vmath: nn_expf and the swish/sigmoid ops built on it, against libm's expf and a double
 * precision oracle, over the whole float range (including subnormal results, overflow, +-inf
 * and NaN) and on array lengths that exercise the vector remainders and the parallel path. */
#include "check.h"
#include "nn/ops.h"
#include "nn/vmath.h"

#include <float.h>
#include <stdint.h>

static uint32_t bits(float x)
{
    uint32_t b;
    memcpy(&b, &x, sizeof b);
    return b;
}

static float from_bits(uint32_t b)
{
    float x;
    memcpy(&x, &b, sizeof x);
    return x;
}

/* distance in units in the last place between two non-negative floats (0, subnormal, normal,
 * inf all lie on one integer line) */
static int64_t ulps(float a, float b)
{
    return llabs((int64_t)bits(a) - (int64_t)bits(b));
}

static void test_expf_sweep(void)
{
    int64_t worst = 0;
    float worst_x = 0;
    long n = 0;
    /* every 251st bit pattern of the whole float line, both signs */
    for (uint64_t u = 0; u < 0x100000000ull; u += 251) {
        float x = from_bits((uint32_t)u);
        if (isnan(x)) continue;
        float want = expf(x), got = nn_expf(x);
        int64_t d = ulps(got, want);
        if (d > worst) {
            worst = d;
            worst_x = x;
        }
        n++;
    }
    CHECK(worst <= 2, "worst %lld ulp at x = %a (of %ld values)", (long long)worst, worst_x, n);
}

/* a dense sweep of the range where results are finite and non-zero, and of the range reduction
 * boundaries (x near (k + 1/2) ln 2, where n rounds the other way) */
static void test_expf_dense(void)
{
    int64_t worst = 0;
    float worst_x = 0;
    for (float x = -104.0f; x <= 89.0f; x = nextafterf(x, 100.0f) + 1e-5f) {
        int64_t d = ulps(nn_expf(x), expf(x));
        if (d > worst) worst = d, worst_x = x;
    }
    for (int k = -151; k <= 128; k++) {
        float c = (float)((k + 0.5) * 0.69314718055994530942);
        float x = c;
        for (int j = 0; j < 8; j++) x = nextafterf(x, -INFINITY);
        for (int j = 0; j < 16; j++, x = nextafterf(x, INFINITY)) {
            int64_t d = ulps(nn_expf(x), expf(x));
            if (d > worst) worst = d, worst_x = x;
        }
    }
    CHECK(worst <= 2, "worst %lld ulp at x = %a", (long long)worst, worst_x);
}

static void test_expf_special(void)
{
    CHECK(nn_expf(0.0f) == 1.0f, "exp(0) = %a", nn_expf(0.0f));
    CHECK(nn_expf(-0.0f) == 1.0f, "exp(-0) = %a", nn_expf(-0.0f));
    CHECK(nn_expf(1.0f) == expf(1.0f), "exp(1) = %a", nn_expf(1.0f));
    CHECK(isinf(nn_expf(INFINITY)) && nn_expf(INFINITY) > 0, "exp(inf) = %a", nn_expf(INFINITY));
    CHECK(nn_expf(-INFINITY) == 0.0f, "exp(-inf) = %a", nn_expf(-INFINITY));
    CHECK(isnan(nn_expf(NAN)), "exp(nan) = %a", nn_expf(NAN));
    CHECK(isnan(nn_expf(-NAN)), "exp(-nan) = %a", nn_expf(-NAN));
    CHECK(isinf(nn_expf(88.73f)), "exp(88.73) = %a (overflows)", nn_expf(88.73f));
    CHECK(isinf(nn_expf(1e30f)), "exp(1e30) = %a", nn_expf(1e30f));
    CHECK(nn_expf(88.72f) < INFINITY && ulps(nn_expf(88.72f), expf(88.72f)) <= 2, "exp(88.72) = %a, expf %a",
          nn_expf(88.72f), expf(88.72f));
    CHECK(nn_expf(-103.5f) == expf(-103.5f) || ulps(nn_expf(-103.5f), expf(-103.5f)) <= 1,
          "exp(-103.5) = %a, expf %a (subnormal)", nn_expf(-103.5f), expf(-103.5f));
    CHECK(nn_expf(-110.0f) == 0.0f && nn_expf(-1e30f) == 0.0f, "exp(-110) = %a", nn_expf(-110.0f));
    CHECK(fabsf(nn_expf(-87.5f) - expf(-87.5f)) <= FLT_MIN * FLT_EPSILON * 4, "exp(-87.5) = %a, expf %a",
          nn_expf(-87.5f), expf(-87.5f));
}

/* the scalar code swish and sigmoid used before vmath.h, as the oracle */
static double ref_sigmoid(double x)
{
    return x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x));
}

static void fill(float *x, int64_t n, unsigned seed)
{
    uint32_t s = seed * 2654435761u + 1;
    for (int64_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        /* mostly the activations' usual range, some large magnitudes */
        double u = (double)(s >> 8) / 16777216.0;
        x[i] = (float)(i % 17 == 0 ? (u - 0.5) * 400.0 : (u - 0.5) * 24.0);
    }
}

static void check_act(int64_t n)
{
    float *x = malloc((size_t)n * sizeof *x), *y = malloc((size_t)n * sizeof *y);
    float *g = malloc((size_t)n * sizeof *g), *d = malloc((size_t)n * sizeof *d);
    fill(x, n, (unsigned)n);
    fill(g, n, (unsigned)n + 7);
    int bad = 0;
    nn_swish_forward(y, x, n);
    for (int64_t i = 0; i < n && bad < 5; i++) {
        double want = x[i] * ref_sigmoid(x[i]);
        if (fabs(y[i] - want) > 1e-37 + 4e-7 * fabs(want)) {
            bad++;
            CHECK(0, "n=%lld swish(%a) = %a, want %a", (long long)n, x[i], y[i], want);
        }
    }
    nn_sigmoid_forward(y, x, n);
    for (int64_t i = 0; i < n && bad < 5; i++) {
        double want = ref_sigmoid(x[i]);
        if (fabs(y[i] - want) > 1e-37 + 4e-7 * fabs(want)) {
            bad++;
            CHECK(0, "n=%lld sigmoid(%a) = %a, want %a", (long long)n, x[i], y[i], want);
        }
    }
    /* backward accumulates into what is there */
    for (int64_t i = 0; i < n; i++) d[i] = 0.5f;
    nn_swish_backward(d, g, x, n);
    for (int64_t i = 0; i < n && bad < 5; i++) {
        double s = ref_sigmoid(x[i]);
        double want = 0.5 + g[i] * (s + x[i] * s * (1 - s));
        /* s + x s (1 - s) cancels near x = -1.28; the error scales with its terms, not the sum */
        double scale = fabs(g[i]) * (s + fabs(x[i]) * s * (1 - s)) + 0.5;
        if (fabs(d[i] - want) > 1e-37 + 1e-6 * scale) {
            bad++;
            CHECK(0, "n=%lld swish' at %a: %a, want %a", (long long)n, x[i], d[i], want);
        }
    }
    free(x), free(y), free(g), free(d);
}

static void test_activations_odd_lengths(void)
{
    int64_t lens[] = {1, 3, 15, 17, 33, 1001, 40003};   /* 40003: above the parallel threshold */
    for (size_t k = 0; k < sizeof lens / sizeof *lens; k++) check_act(lens[k]);
}

static void test_activations_special(void)
{
    float x[7] = {INFINITY, -INFINITY, NAN, 0.0f, -0.0f, 200.0f, -200.0f};
    float y[7], s[7];
    nn_swish_forward(y, x, 7);
    nn_sigmoid_forward(s, x, 7);
    CHECK(s[0] == 1.0f && s[1] == 0.0f && isnan(s[2]) && s[3] == 0.5f && s[4] == 0.5f, "sigmoid %a %a %a %a %a",
          s[0], s[1], s[2], s[3], s[4]);
    CHECK(s[5] == 1.0f && s[6] >= 0.0f && s[6] < 1e-37f, "sigmoid(+-200) = %a %a", s[5], s[6]);
    CHECK(isinf(y[0]) && y[0] > 0 && isnan(y[2]) && y[3] == 0.0f, "swish %a %a %a", y[0], y[2], y[3]);
    CHECK(y[5] == 200.0f && y[6] <= 0.0f && y[6] > -1e-35f, "swish(+-200) = %a %a", y[5], y[6]);
    /* -inf * sigmoid(-inf) = -inf * 0: NaN, as the scalar code gave */
    CHECK(isnan(y[1]), "swish(-inf) = %a", y[1]);
}

int main(void)
{
    RUN(test_expf_sweep);
    RUN(test_expf_dense);
    RUN(test_expf_special);
    RUN(test_activations_odd_lengths);
    RUN(test_activations_special);
    return CHECK_DONE();
}
