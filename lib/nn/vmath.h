/* vmath.h: an exp and a sigmoid that the compiler can vectorise.
 *
 * libm's expf is an out-of-line call, so a loop over it stays scalar; EfficientNet's swish spent a
 * third of its training time there. nn_expf is straight-line float and integer arithmetic (no
 * branches, no tables), so loops that call it become SIMD loops under -O2 -march=native.
 *
 * Method: e^x = 2^n * e^r with n = round(x / ln 2) and r = x - n ln 2 in [-ln2/2, ln2/2]
 * (ln 2 split in two floats, each step an fma); e^r = 1 + r + r^2 p(r), p of degree 4 fitted
 * for relative error (7e-9 on the interval, below half an ulp); 2^n is built from exponent bits
 * in two halves so results that are subnormal, or near FLT_MAX, still come out right.
 * Accuracy: within 2 ulp of expf for every float (tests/unit/test_vmath.c checks a sweep of the
 * whole range); x below -104 gives 0, above 89 +inf, NaN gives NaN, as expf. */
#ifndef DFS_NN_VMATH_H
#define DFS_NN_VMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

static inline float nn_expf(float x)
{
    /* clamp written with comparisons so NaN passes through unchanged */
    x = x < -104.0f ? -104.0f : x;
    x = x > 89.0f ? 89.0f : x;
    /* adding 1.5 * 2^23 rounds x log2(e) to an integer held in the low mantissa bits */
    const float shifter = 0x1.8p23f;
    float t = fmaf(x, 0x1.715476p+0f, shifter);
    float n = t - shifter;
    float r = fmaf(n, -0x1.62e430p-1f, x);   /* ln 2, high part (exact product) */
    r = fmaf(n, 0x1.05c610p-29f, r);         /* ln 2, low part (negative: subtracting it adds) */
    float p = fmaf(r, 0x1.6c75ecp-10f, 0x1.122504p-7f);
    p = fmaf(p, r, 0x1.555590p-5f);
    p = fmaf(p, r, 0x1.5554b0p-3f);
    p = fmaf(p, r, 0x1.0p-1f);
    p = fmaf(p, r * r, r) + 1.0f;
    uint32_t tb;
    memcpy(&tb, &t, sizeof tb);
    int32_t ni = (int32_t)(tb - 0x4b400000u);   /* n as an integer, in [-150, 128] */
    int32_t n1 = ni >> 1, n2 = ni - n1;         /* two halves, each a normal power of two */
    uint32_t b1 = (uint32_t)(n1 + 127) << 23, b2 = (uint32_t)(n2 + 127) << 23;
    float s1, s2;
    memcpy(&s1, &b1, sizeof s1);
    memcpy(&s2, &b2, sizeof s2);
    return p * s1 * s2;
}

/* 1 / (1 + e^-x) from e^-|x| only, so nothing overflows: e / (1 + e) for negative x. */
static inline float nn_sigmoidf(float x)
{
    float e = nn_expf(-fabsf(x));
    float s = 1.0f / (1.0f + e);
    return x >= 0.0f ? s : e * s;
}

#endif
