/* densebench: the dense layer's fixed-order forward and input gradient (lib/nn/dense.c) against
 * the cblas_sgemm calls they replace, in process CPU seconds, for one layer shape.
 *   densebench N IN OUT [REPEATS]   (bench/dense.sh builds and runs it; OMP_NUM_THREADS sets threads) */
#include "nn/ops.h"
#include "core/common.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double cpu_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: densebench N IN OUT [REPEATS]\n");
        return 2;
    }
    int64_t N = atol(argv[1]), In = atol(argv[2]), O = atol(argv[3]);
    int reps = argc > 4 ? atoi(argv[4]) : 3;
    float *x = dfs_malloc((size_t)(N * In) * sizeof *x), *w = dfs_malloc((size_t)(O * In) * sizeof *w);
    float *y = dfs_malloc((size_t)(N * O) * sizeof *y), *g = dfs_malloc((size_t)(N * O) * sizeof *g);
    float *d = dfs_calloc((size_t)(N * In), sizeof *d);
    for (int64_t i = 0; i < N * In; i++) x[i] = (float)(i % 97) / 97.0f;
    for (int64_t i = 0; i < O * In; i++) w[i] = (float)(i % 89) / 89.0f - 0.5f;
    for (int64_t i = 0; i < N * O; i++) g[i] = (float)(i % 7) / 7.0f;
    double best[4] = {1e30, 1e30, 1e30, 1e30};
    for (int r = 0; r < reps; r++) {
        double t[5];
        t[0] = cpu_seconds();
        nn_dense_forward(y, x, w, NULL, N, In, O);
        t[1] = cpu_seconds();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)N, (int)O, (int)In, 1.0f, x, (int)In, w, (int)In, 0.0f,
                    y, (int)O);
        t[2] = cpu_seconds();
        nn_dense_backward(d, NULL, NULL, g, x, w, N, In, O);
        t[3] = cpu_seconds();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)N, (int)In, (int)O, 1.0f, g, (int)O, w, (int)In,
                    1.0f, d, (int)In);
        t[4] = cpu_seconds();
        for (int k = 0; k < 4; k++)
            if (t[k + 1] - t[k] < best[k]) best[k] = t[k + 1] - t[k];
    }
    printf("dense N=%lld In=%lld O=%lld (best of %d, CPU s): forward %.3f (sgemm %.3f), input gradient %.3f (sgemm %.3f)\n",
           (long long)N, (long long)In, (long long)O, reps, best[0], best[1], best[2], best[3]);
    free(x), free(w), free(y), free(g), free(d);
    return 0;
}
