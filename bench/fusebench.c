/* fusebench: the cpu's fused batchnorm + activation (nn_batchnorm_act_forward) against the two
 * ops it replaces, on one tensor; the graph-level comparison is bench/fuse.sh.
 *
 *   fusebench N C HW REPS
 *
 * For each of training / eval mode and ReLU / swish: the unfused pair
 * (nn_batchnorm_forward_train_ex or _eval, then nn_relu_forward or nn_swish_forward) and the
 * fused op writing the activation and the batchnorm output (what a training plan needs) or the
 * activation alone (the inference plan), alternated REPS times; the minimum time of each, which a
 * loaded machine disturbs least. Prints one markdown row per case. Built by `make build/bench/fusebench` (bench/fuse.sh). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/common.h"
#include "tool/tool.h"
#include "core/rng.h"
#include "nn/ops.h"

#ifndef OFF
#define OFF 1
#endif

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    dfs_tool_init(argv[0]);
    if (argc != 5) dfs_die("usage: fusebench N C HW REPS");
    int64_t N = dfs_arg_long("N", argv[1], 1, 4096), C = dfs_arg_long("C", argv[2], 1, 1 << 16),
            HW = dfs_arg_long("HW", argv[3], 1, 1 << 24);
    long reps = dfs_arg_long("REPS", argv[4], 1, 100000);
    size_t n = (size_t)(N * C * HW);
    /* the three tensors at different offsets modulo 4 KiB, as the graph's arena packs them (three
     * page-aligned buffers alias in the cache's sets and stall the op that streams all three) */
    float *xb = dfs_malloc((n + 64) * sizeof *xb), *yb = dfs_malloc((n + 64) * sizeof *yb);
    float *zb = dfs_malloc((n + 64) * sizeof *zb);
    float *x = xb, *y = yb + 16 * OFF, *z = zb + 32 * OFF;
    float *p = dfs_malloc((size_t)C * 6 * sizeof *p);
    float *gamma = p, *beta = p + C, *rm = p + 2 * C, *rv = p + 3 * C, *sm = p + 4 * C, *si = p + 5 * C;
    dfs_rng rng;
    dfs_rng_seed(&rng, 1);
    for (size_t i = 0; i < n; i++) x[i] = (float)dfs_rng_range(&rng, -2, 2);
    for (int64_t c = 0; c < C; c++) gamma[c] = 1, beta[c] = 0.1f, rm[c] = 0, rv[c] = 1;
    printf("| N C HW | mode | act | unfused ms | fused (+ bn output) ms | fused (activation only) ms |\n");
    printf("|---|---|---|---:|---:|---:|\n");
    for (int train = 1; train >= 0; train--) {
        for (int act = NN_ACT_RELU; act <= NN_ACT_SWISH; act += NN_ACT_SWISH - NN_ACT_RELU) {
            nn_bn_act f = {.train = train, .act = act, .momentum = 0.99f, .eps = 1e-3f, .unbiased_running_var = 1};
            double best[3] = {1e30, 1e30, 1e30};
            for (long r = 0; r < reps; r++) {
                for (int k = 0; k < 3; k++) {
                    double t0 = now();
                    if (k == 0) {
                        if (train) nn_batchnorm_forward_train_ex(y, sm, si, x, gamma, beta, rm, rv, 0.99f, 1e-3f, 1, N, C, HW);
                        else nn_batchnorm_forward_eval(y, x, gamma, beta, rm, rv, 1e-3f, N, C, HW);
                        if (act == NN_ACT_RELU) nn_relu_forward(z, y, (int64_t)n);
                        else nn_swish_forward(z, y, (int64_t)n);
                    } else {
                        nn_batchnorm_act_forward(z, k == 1 ? y : NULL, sm, si, x, gamma, beta, rm, rv, &f, N, C, HW);
                    }
                    double t = now() - t0;
                    if (t < best[k]) best[k] = t;
                }
            }
            printf("| %lld %lld %lld | %s | %s | %.3f | %.3f | %.3f |\n", (long long)N, (long long)C, (long long)HW,
                   train ? "train" : "eval", act == NN_ACT_RELU ? "relu" : "swish", 1e3 * best[0], 1e3 * best[1],
                   1e3 * best[2]);
        }
    }
    free(xb);
    free(yb);
    free(zb);
    free(p);
    return 0;
}
