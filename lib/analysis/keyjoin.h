/* keyjoin.h: walk several tensor streams together, matching records by their `key=` metadata.
 *
 * The output follows the order of the first stream. The other streams may hold their records in
 * any order: a record read before its key is wanted is held in memory until then, so streams in
 * the same order (the usual case: tools that map one stream to another keep its order) cost one
 * record each, and streams in unrelated orders cost at most the whole stream.
 *
 * Strict mode (the default): every key must be in every stream exactly once, else an error that
 * names the file, the record and the key. Intersect mode: keys missing from any stream are
 * skipped and counted (duplicates and records without a key are still errors). */
#ifndef DFS_ANALYSIS_KEYJOIN_H
#define DFS_ANALYSIS_KEYJOIN_H

#include "core/stream.h"

typedef struct dfs_keyjoin dfs_keyjoin;

/* Open n >= 1 streams ("-" = stdin, at most once). NULL with an error on failure. */
dfs_keyjoin *dfs_keyjoin_open(const char *const *paths, int n, int intersect);
/* 1: out[0..n-1] (initialised records) now hold the records of the next key, in stream order;
 * their previous buffers are taken over by the join. 0: all streams are done. -1: error. */
int dfs_keyjoin_next(dfs_keyjoin *j, dfs_record *out);
/* In intersect mode, after the end: how many records of stream s had no match. */
uint64_t dfs_keyjoin_unmatched(const dfs_keyjoin *j, int s);
/* The file name of stream s, as used in messages. */
const char *dfs_keyjoin_name(const dfs_keyjoin *j, int s);
void dfs_keyjoin_close(dfs_keyjoin *j);

#endif
