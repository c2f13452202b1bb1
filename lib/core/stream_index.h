/* stream_index.h: random access to the records of a stream file.
 *
 * Training shuffles every epoch and must not need the whole dataset in memory (the paper
 * protocol's 16,000 images at 256x256 are 3.1 GB as u8). One sequential pass records where each
 * record's payload lies, its label and key; afterwards any record's payload is read with pread(),
 * which is thread-safe, so batches can be assembled in parallel and in any order. */
#ifndef DFS_STREAM_INDEX_H
#define DFS_STREAM_INDEX_H

#include "core/stream.h"

typedef struct dfs_index_entry {
    uint64_t payload_offset;   /* byte offset of the payload in the file */
    uint64_t nbytes;
    int32_t label;
    char *key;                 /* the key= metadata, or "#<index>" when absent */
    char *dataset;             /* the dataset= metadata, or "" */
} dfs_index_entry;

typedef struct dfs_index {
    char *path;
    int fd;
    int dtype, rank;
    uint64_t dims[DFS_MAX_RANK];   /* common shape of all records */
    dfs_index_entry *e;
    size_t n;
} dfs_index;

/* Index a stream FILE (a regular file, not a pipe). Every record must have the dtype and shape
 * of the first; a record that differs is an error naming it and both shapes. */
int dfs_index_open(dfs_index *ix, const char *path);
void dfs_index_close(dfs_index *ix);
/* Read record i's payload into buf (ix->e[i].nbytes bytes). Thread-safe. */
int dfs_index_read(const dfs_index *ix, size_t i, void *buf);
/* Counts of labels 0, 1 and -1. */
void dfs_index_label_counts(const dfs_index *ix, size_t *real, size_t *fake, size_t *unknown);

#endif
