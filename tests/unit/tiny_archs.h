/* tiny_archs.h: the five study architectures at the smallest input sizes the whole-graph tests
 * use (ShallowNet's valid convolutions and pools need 24 at least; the others run at 32), and
 * the batch of those tests; the graphs and inputs those tests build from them. */
#ifndef DFS_TINY_ARCHS_H
#define DFS_TINY_ARCHS_H

#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "core/common.h"
#include "nn/backend.h"
#include "nn/graph.h"
#include "nn/models.h"
#include "core/rng.h"

#define N 2

static const struct {
    const char *arch;
    int64_t size;
} archs[] = {{"meso4", 32}, {"mesoinception4", 32}, {"shallownet", 24}, {"xception", 32}, {"efficientnet-b0", 32}};
#define NARCH (int)(sizeof archs / sizeof *archs)

/* n inputs of size x size x 3, uniform in [0, 1) from seed. */
static inline float *tiny_input(int64_t n, int64_t size, unsigned seed)
{
    size_t k = (size_t)n * 3 * (size_t)(size * size);
    float *x = malloc(k * sizeof *x);
    dfs_rng rng;
    dfs_rng_seed(&rng, seed);
    for (size_t i = 0; i < k; i++) x[i] = (float)dfs_rng_uniform(&rng);
    return x;
}

/* Architecture a at size x size on be, ready for batches of n under memory plan `plan`: fusion
 * `fuse` (-1: the backend's), parameters from seed 5 (every kernel Glorot-uniform when glorot,
 * else the architecture's own initialisers), training buffers, the dropout generator at seed 77. */
static inline nn_graph *tiny_graph(int a, int64_t size, const nn_backend *be, int plan, int64_t n, int fuse,
                                   int glorot)
{
    nn_graph *g = nn_model_build(archs[a].arch, size);
    CHECK(g && nn_graph_check(g) == 0, "%s: %s", archs[a].arch, dfs_error());
    CHECK(nn_graph_set_backend(g, be) == 0, "%s: %s", archs[a].arch, dfs_error());
    nn_graph_set_fuse(g, fuse);
    if (glorot)
        for (int t = 0; t < g->ntensors; t++) g->tensors[t].init = NN_INIT_GLOROT_UNIFORM;
    dfs_rng rng;
    dfs_rng_seed(&rng, 5);
    CHECK(nn_graph_alloc_params(g, &rng) == 0, "alloc_params: %s", dfs_error());
    CHECK(nn_graph_alloc_train(g) == 0, "alloc_train: %s", dfs_error());
    dfs_rng_seed(&g->run.rng, 77);
    nn_graph_set_memory(g, plan);
    CHECK(nn_graph_set_batch(g, n) == 0, "set_batch: %s", dfs_error());
    return g;
}

#endif
