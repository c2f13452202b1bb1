/* kernel-bits: hashes of the bits the hand-vectorised kernels produce (depthwise backward at
 * stride 1 and 2, conv_direct forward / input gradient / weight gradient) on fixed inputs, to
 * compare builds for different targets (lib/nn/simd.h). For a build folder B made with MARCH=M:
 *   make BUILD=B MARCH=M B/bench/kernel-bits
 * Expected (bench/march-notes.md): depthwise the same on every target; conv_direct out and din
 * the same wherever FMA is (or is not) used; conv_direct dw different for each vector width. */
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <stdlib.h>
#include "nn/ops.h"
#include "nn/depthwise.h"
#include "nn/conv_direct.h"
static uint64_t h(const float *x, int64_t n)
{
    uint64_t s = 1469598103934665603ull;
    const unsigned char *b = (const unsigned char *)x;
    for (int64_t i = 0; i < n * 4; i++) s = (s ^ b[i]) * 1099511628211ull;
    return s;
}
static float *rnd(int64_t n, uint32_t seed)
{
    float *x = malloc(n * sizeof *x);
    for (int64_t i = 0; i < n; i++) { seed = seed * 1664525u + 1013904223u; x[i] = (float)((seed >> 8) & 0xffff) / 32768.0f - 1.0f; }
    return x;
}
int main(void)
{
    for (int st = 1; st <= 2; st++) {
        nn_conv c = {.N = 3, .C = 6, .H = 29, .W = 37, .K = 12, .R = 3, .S = 3, .stride_h = st, .stride_w = st,
                     .dil_h = 1, .dil_w = 1, .pad_t = 1, .pad_l = 1, .pad_b = 1, .pad_r = 1, .groups = 6};
        if (nn_conv_init(&c)) return 1;
        int64_t nin = c.N * c.C * c.H * c.W, nw = c.K * c.R * c.S, nout = c.N * c.K * c.P * c.Q;
        float *in = rnd(nin, 1), *w = rnd(nw, 2), *dout = rnd(nout, 3), *dw = calloc(nw, 4), *din = calloc(nin, 4);
        nn_depthwise_backward(din, dw, dout, in, w, &c);
        printf("depthwise stride %d: dw %016llx din %016llx\n", st, (unsigned long long)h(dw, nw), (unsigned long long)h(din, nin));
    }
    nn_conv c = {.N = 2, .C = 5, .H = 17, .W = 41, .K = 13, .R = 3, .S = 3, .stride_h = 1, .stride_w = 1,
                 .dil_h = 1, .dil_w = 1, .pad_t = 1, .pad_l = 1, .pad_b = 1, .pad_r = 1, .groups = 1};
    if (nn_conv_init(&c)) return 1;
    int64_t nin = c.N * c.C * c.H * c.W, nw = c.K * c.C * c.R * c.S, nout = c.N * c.K * c.P * c.Q;
    float *in = rnd(nin, 4), *w = rnd(nw, 5), *dout = rnd(nout, 6), *out = malloc(nout * 4), *dw = calloc(nw, 4), *din = calloc(nin, 4);
    nn_conv_direct_forward(out, in, w, NULL, &c);
    nn_conv_direct_backward_data(din, dout, w, &c);
    nn_conv_direct_backward_weights(dw, dout, in, &c);
    printf("conv_direct: out %016llx din %016llx dw %016llx\n", (unsigned long long)h(out, nout), (unsigned long long)h(din, nin), (unsigned long long)h(dw, nw));
    return 0;
}
