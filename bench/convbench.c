/* convbench: per-core rate of the direct convolution kernels (lib/nn/conv_direct.c) on the
 * study's few-filter layers, in GFLOP/s of process CPU time (so a busy shared machine slows the
 * clock less than it slows wall time; run it with OMP_NUM_THREADS=1 for a per-core figure).
 *
 *   OMP_NUM_THREADS=1 build/bench/convbench [N]      (N images, default 4)
 *
 * Built by `make build/bench/convbench` (or `make bench-build`), with the Makefile's flags.
 * Each kernel runs once untimed first (first touch of the output), then once timed. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/common.h"
#include "tool/tool.h"
#include "nn/conv_direct.h"
#include "nn/ops.h"

static double cpu_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv)
{
    dfs_tool_init(argv[0]);
    long N = argc > 1 ? dfs_arg_long("N", argv[1], 1, 1024) : 4;
    /* C, H (= W), K, kernel, dilation, as the layers of meso4 (1-4), mesoinception4 (a dilated
     * branch, a 1-filter 1x1) and shallownet (first conv, 1x1 32 -> 32) */
    static const struct { int64_t C, H, K, k, dil; } L[] = {
        {3, 256, 8, 3, 1}, {8, 128, 8, 5, 1}, {8, 64, 16, 5, 1}, {16, 32, 16, 5, 1},
        {4, 256, 4, 3, 2}, {3, 256, 1, 1, 1}, {32, 126, 32, 1, 1}, {3, 256, 32, 5, 1},
    };
    for (size_t l = 0; l < sizeof L / sizeof L[0]; l++) {
        nn_conv c = {.N = N, .C = L[l].C, .H = L[l].H, .W = L[l].H, .K = L[l].K, .R = L[l].k, .S = L[l].k,
                     .stride_h = 1, .stride_w = 1, .dil_h = L[l].dil, .dil_w = L[l].dil, .groups = 1};
        nn_pad_same(c.H, c.R, 1, c.dil_h, &c.pad_t, &c.pad_b);
        nn_pad_same(c.W, c.S, 1, c.dil_w, &c.pad_l, &c.pad_r);
        if (nn_conv_init(&c) != 0) dfs_die_error();
        size_t ni = (size_t)(N * c.C * c.H * c.W), no = (size_t)(N * c.K * c.P * c.Q), nw = (size_t)(c.K * c.C * c.R * c.S);
        float *in = dfs_malloc(ni * sizeof *in), *out = dfs_malloc(no * sizeof *out), *w = dfs_malloc(nw * sizeof *w);
        float *dw = dfs_calloc(nw, sizeof *dw), *din = dfs_calloc(ni, sizeof *din);
        for (size_t i = 0; i < ni; i++) in[i] = (float)(i % 7) * 0.1f - 0.3f;
        for (size_t i = 0; i < nw; i++) w[i] = (float)(i % 5) * 0.1f - 0.2f;
        nn_conv_direct_forward(out, in, w, NULL, &c);
        nn_conv_direct_backward_data(din, out, w, &c);
        double gflop = 2.0 * (double)N * (double)(c.K * c.P * c.Q) * (double)(c.C * c.R * c.S) / 1e9;
        double t0 = cpu_seconds();
        nn_conv_direct_forward(out, in, w, NULL, &c);
        double t1 = cpu_seconds();
        nn_conv_direct_backward_data(din, out, w, &c);
        double t2 = cpu_seconds();
        nn_conv_direct_backward_weights(dw, out, in, &c);
        double t3 = cpu_seconds();
        printf("C%-3lld %3lldx%-3lld K%-3lld %lldx%lld dil %lld: forward %6.1f  input grad %6.1f  weight grad %6.1f"
               " GFLOP/s (%.3f GFLOP each)\n",
               (long long)c.C, (long long)c.H, (long long)c.W, (long long)c.K, (long long)c.R, (long long)c.S,
               (long long)c.dil_h, gflop / (t1 - t0), gflop / (t2 - t1), gflop / (t3 - t2), gflop);
        free(in), free(out), free(w), free(dw), free(din);
    }
    return 0;
}
