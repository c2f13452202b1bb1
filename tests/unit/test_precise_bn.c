/* test_precise_bn: the precise batchnorm pass (graph.h, nn_bn_pop_*): after it every batchnorm
 * that is not frozen holds the exact population mean and unbiased variance of its input over
 * the batches given as evaluation feeds it (dropout off), computed here independently; frozen
 * ones and the dropout generator are untouched; on the cpu-split test device (separate memory)
 * the result is the same. */
#include "check.h"
#include "core/common.h"
#include "core/rng.h"
#include "nn/backend.h"
#include "nn/graph.h"

enum { C = 3, H = 4, W = 5, TOTAL = 23, B = 8 };

/* input -> bn1 -> dropout -> conv-free dense chain: bn1 sees the data itself; bn2 sees a dense
 * layer's output of the dropped-out bn1 output; bn3 is frozen */
static nn_graph *build(int *bn1, int *bn2, int *bn3, int *dense)
{
    nn_graph *g = nn_graph_new();
    int x = nn_g_input(g, "in", C, H, W);
    *bn1 = nn_g_batchnorm(g, "bn1", x, 0.99f, 1e-3f);
    int d = nn_g_dropout(g, "drop", *bn1, 0.5f);
    int f = nn_g_flatten(g, "flat", d);
    *dense = nn_g_dense(g, "dense", f, 6, 1);
    *bn2 = nn_g_batchnorm(g, "bn2", *dense, 0.99f, 1e-3f);
    *bn3 = nn_g_batchnorm(g, "bn3", *bn2, 0.99f, 1e-3f);
    nn_g_dense(g, "out", *bn3, 1, 1);
    CHECK(nn_graph_check(g) == 0, "%s", dfs_error());
    g->nodes[*bn3].frozen = 1;
    dfs_rng rng;
    dfs_rng_seed(&rng, 7);
    CHECK(nn_graph_alloc_params(g, &rng) == 0, "alloc_params: %s", dfs_error());
    CHECK(nn_graph_alloc_train(g) == 0, "alloc_train: %s", dfs_error());
    nn_graph_set_memory(g, NN_MEM_TRAIN);
    CHECK(nn_graph_set_batch(g, B) == 0, "set_batch: %s", dfs_error());
    dfs_rng_seed(&g->run.rng, 11);
    return g;
}

/* per channel: mean and unbiased variance, in long double, two passes */
static void moments(const float *v, int64_t n, int64_t ch, int64_t hw, long double *mean, long double *var)
{
    for (int64_t c = 0; c < ch; c++) {
        long double s = 0, q = 0;
        int64_t cnt = n * hw;
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < hw; j++) s += v[(i * ch + c) * hw + j];
        mean[c] = s / cnt;
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < hw; j++) {
                long double d = v[(i * ch + c) * hw + j] - mean[c];
                q += d * d;
            }
        var[c] = q / (cnt - 1);
    }
}

static void run(const nn_backend *be)
{
    int bn1, bn2, bn3, dense;
    nn_graph *g = build(&bn1, &bn2, &bn3, &dense);
    if (be) CHECK(nn_graph_set_backend(g, be) == 0, "%s", dfs_error());
    float *data = malloc(sizeof(float) * TOTAL * C * H * W);
    dfs_rng r;
    dfs_rng_seed(&r, 3);
    /* a large common offset per channel: a one-pass sum of squares without the shift would
     * lose the variance */
    for (int64_t i = 0; i < (int64_t)TOTAL * C * H * W; i++)
        data[i] = 1000.0f * (float)((i / (H * W)) % C) + (float)dfs_rng_uniform(&r);
    float *x = nn_graph_host_alloc(g, sizeof(float) * B * C * H * W);
    CHECK(x != NULL, "host_alloc: %s", dfs_error());

    /* the reference for bn2: its input, dense's output, over the same batches with dropout
     * off (evaluation's input; with the rate 0.5 dropout on, its mean and variance differ) */
    float *dout = malloc(sizeof(float) * TOTAL * 6);
    dfs_rng keep = g->run.rng;
    nn_graph_set_memory(g, NN_MEM_ALL);
    g->run.no_dropout = 1;
    for (int at = 0; at < TOTAL; at += B) {
        int n = TOTAL - at < B ? TOTAL - at : B;
        memcpy(x, data + (size_t)at * C * H * W, sizeof(float) * n * C * H * W);
        CHECK(nn_graph_forward(g, x, n, NN_TRAIN) == 0, "%s", dfs_error());
        g->run.rng = keep;
        CHECK(nn_graph_fetch(g, dense, NN_FETCH_OUT) == 0, "%s", dfs_error());
        memcpy(dout + (size_t)at * 6, g->nodes[dense].out, sizeof(float) * n * 6);
    }
    g->run.no_dropout = 0;
    nn_graph_set_memory(g, NN_MEM_TRAIN);
    CHECK(nn_graph_sync_params(g, NN_TO_HOST) == 0, "%s", dfs_error());
    float frozen_m[6], frozen_v[6];
    memcpy(frozen_m, nn_tensor_data(g, g->nodes[bn3].rmean), sizeof frozen_m);
    memcpy(frozen_v, nn_tensor_data(g, g->nodes[bn3].rvar), sizeof frozen_v);
    /* the reference forwards moved the running statistics: the pass must replace them */
    nn_bn_pop *p = nn_bn_pop_begin(g);
    for (int at = 0; at < TOTAL; at += B) {
        int n = TOTAL - at < B ? TOTAL - at : B;
        memcpy(x, data + (size_t)at * C * H * W, sizeof(float) * n * C * H * W);
        CHECK(nn_bn_pop_add(g, p, x, n) == 0, "%s", dfs_error());
    }
    CHECK(nn_bn_pop_end(g, p) == 0, "%s", dfs_error());
    CHECK(memcmp(&keep, &g->run.rng, sizeof keep) == 0, "the dropout generator moved");
    CHECK(g->run.no_dropout == 0, "dropout left off after the pass");
    CHECK(g->plan.mode == NN_MEM_TRAIN, "memory plan not restored");
    CHECK(nn_graph_sync_params(g, NN_TO_HOST) == 0, "%s", dfs_error());

    long double m[6], v[6];
    moments(data, TOTAL, C, H * W, m, v);
    const float *rm = nn_tensor_data(g, g->nodes[bn1].rmean), *rv = nn_tensor_data(g, g->nodes[bn1].rvar);
    for (int c = 0; c < C; c++) {
        CHECK_CLOSE(rm[c], (double)m[c], 0, 1e-6);
        CHECK_CLOSE(rv[c], (double)v[c], 0, 1e-5);
    }
    moments(dout, TOTAL, 6, 1, m, v);
    rm = nn_tensor_data(g, g->nodes[bn2].rmean);
    rv = nn_tensor_data(g, g->nodes[bn2].rvar);
    for (int c = 0; c < 6; c++) {
        CHECK_CLOSE(rm[c], (double)m[c], 1e-6, 1e-5);
        CHECK_CLOSE(rv[c], (double)v[c], 1e-7, 1e-5);
    }
    CHECK(!memcmp(frozen_m, nn_tensor_data(g, g->nodes[bn3].rmean), sizeof frozen_m) &&
              !memcmp(frozen_v, nn_tensor_data(g, g->nodes[bn3].rvar), sizeof frozen_v),
          "a frozen batchnorm's statistics changed");
    nn_graph_host_free(g, x);
    free(data);
    free(dout);
    nn_graph_free(g);
}

static void test_population_stats_cpu(void) { run(NULL); }

static void test_population_stats_cpu_split(void)
{
    const nn_backend *be = nn_backend_open("cpu-split");
    CHECK(be != NULL, "%s", dfs_error());
    if (be) run(be);
}

int main(void)
{
    RUN(test_population_stats_cpu);
    RUN(test_population_stats_cpu_split);
    return CHECK_DONE();
}
