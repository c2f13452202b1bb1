/* libFuzzer target: the checkpoint loader (lib/nn/checkpoint.c) on any bytes: the header record,
 * the architecture it names, every tensor's name, dtype, shape and values, and the training
 * state, both through nn_checkpoint_load (builds the model the file names) and loading into a
 * built meso4 with optimiser state. Run by `make fuzz`; seeds in tests/fuzz/seeds/fuzz_checkpoint. */
#include "fuzz_file.h"
#include "nn/checkpoint.h"
#include "nn/graph.h"
#include "nn/models.h"

static void fuzz_checkpoint(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size);
    nn_ckpt_info info;
    nn_graph *g = nn_checkpoint_load(path, NULL, &info);
    if (g) {
        nn_graph_free(g);
        nn_ckpt_info_free(&info);
    }
    /* the training-state path: a fixed small model with Adam moments to restore into */
    static nn_graph *m4;
    if (!m4) {
        dfs_rng r;
        dfs_rng_seed(&r, 1);
        m4 = nn_model_build("meso4", 32);
        /* on the cpu backend these allocate host memory only, which exits on failure */
        if (nn_graph_alloc_params(m4, &r) != 0 || nn_graph_alloc_train(m4) != 0) abort();   /* a crash the fuzzer reports */
    }
    nn_ckpt_state st;
    int has = 0;
    (void)nn_checkpoint_load_into(m4, "meso4", path, &st, &has);
}
DFS_FUZZ_ENTRY(fuzz_checkpoint)
