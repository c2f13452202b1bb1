/* checkpoint.h: saving and loading a model as a tensor stream (formats/checkpoint.md).
 *
 * Record 0 describes the model (format, version, arch, size, output convention, caller
 * metadata); then one f32 record per parameter and running statistic in graph order, named
 * "<node>.<param>" with its trainable flag; optionally the training state for resuming: Adam m
 * and v for every parameter and one record with the Adam step count, epoch and RNG state.
 * Loading checks the architecture, every name and shape, and refuses NaN or Inf. */
#ifndef DFS_NN_CHECKPOINT_H
#define DFS_NN_CHECKPOINT_H

#include "nn/graph.h"
#include "core/rng.h"

#define NN_CHECKPOINT_FORMAT "dfstudy-checkpoint"
#define NN_CHECKPOINT_VERSION 1

/* What a training run needs beyond the weights to resume exactly. */
typedef struct nn_ckpt_state {
    int64_t adam_t;   /* Adam steps taken */
    int64_t epoch;    /* epochs completed */
    dfs_rng rng;      /* the training RNG as it is now */
} nn_ckpt_state;

/* Save g (built as arch at size x size) to path atomically. extra_meta: more "key=value\n" lines
 * for record 0 (e.g. "stage=2\ndataset=celeb\n"), or NULL. state: also save Adam moments (g must
 * have them) and the state record, or NULL for weights only. */
int nn_checkpoint_save(const nn_graph *g, const char *arch, int64_t size, const char *extra_meta,
                       const nn_ckpt_state *state, const char *path);

/* Record 0 of a checkpoint: arch, size and the whole metadata (malloc'd; free with
 * nn_ckpt_info_free). */
typedef struct nn_ckpt_info {
    char arch[32];
    int64_t size;
    char *meta;
} nn_ckpt_info;
int nn_checkpoint_info(const char *path, nn_ckpt_info *info);
void nn_ckpt_info_free(nn_ckpt_info *info);

/* Load weights (and trainable flags) into an already built graph of architecture `arch` with
 * allocated params. When state is not NULL and the file has a training state, the Adam moments
 * (g must have them: nn_graph_alloc_train) and *state are restored and *has_state set to 1. */
int nn_checkpoint_load_into(nn_graph *g, const char *arch, const char *path, nn_ckpt_state *state, int *has_state);

/* Build the model a checkpoint describes and load it; expect_arch (or NULL) refuses another
 * architecture. Returns NULL with an error naming the file. */
nn_graph *nn_checkpoint_load(const char *path, const char *expect_arch, nn_ckpt_info *info);

#endif
