/* batch.h: image records -> network input batches.
 *
 * Images in streams are u8 (H, W, 3) HWC RGB; the networks take float NCHW scaled to [0, 1]
 * (the study's ImageDataGenerator(rescale=1/255), no other preprocessing). Training reads
 * records by index from a stream_index (pread, so only the index and one batch are in memory,
 * whatever the dataset's size); prediction reads a stream sequentially (pipes work). */
#ifndef DFS_NN_BATCH_H
#define DFS_NN_BATCH_H

#include <stdint.h>
#include "core/stream.h"
#include "core/stream_index.h"

/* One u8 HWC image (H, W, 3) -> float CHW / 255. */
void nn_image_to_chw(const uint8_t *hwc, int64_t H, int64_t W, float *chw);

/* Check an indexed file before training: u8 images of shape (size, size, 3) and labels 0 or 1
 * only (labels_required) or also -1. Errors name the file, and the record for a label
 * ("t.dft: images are 32x32x3, the model's input is 64x64x3"; "t.dft: record 7 (key k): label -1,
 * expected 0 or 1"). */
int nn_index_check(const dfs_index *ix, int64_t size, int labels_required);

/* Read records idx[0..n) of ix into x (n, 3, S, S) and their labels into y (0.0 or 1.0), in
 * parallel over samples (OpenMP; each sample has its own buffer, so the result does not depend
 * on the thread count). -1 with an error naming the file on a read failure. */
int nn_batch_load(const dfs_index *ix, const uint64_t *idx, int64_t n, float *x, float *y);

/* A record as a model input of side `size`: 0 when it is u8 (size, size, 3), else -1 with
 * "record I: image HxWxC does not match the model's input SxSx3" (or the dtype/rank named). */
int nn_record_check(const dfs_record *r, uint64_t index, int64_t size);

#endif
