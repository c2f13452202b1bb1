/* strmap.h: a string -> index map (open addressing; the strings are copied), used wherever
 * keys, names or paths are looked up: dataset keys and videos, key lists, cam's PNG names. */
#ifndef DFS_CORE_STRMAP_H
#define DFS_CORE_STRMAP_H

#include <stddef.h>

typedef struct dfs_strmap {
    char **keys;
    size_t *vals;
    size_t cap, n;
} dfs_strmap;
void dfs_strmap_init(dfs_strmap *m);
void dfs_strmap_free(dfs_strmap *m);
/* Value stored for s, or insert v for s and return v. *found (may be NULL) says which. */
size_t dfs_strmap_put(dfs_strmap *m, const char *s, size_t v, int *found);
int dfs_strmap_get(const dfs_strmap *m, const char *s, size_t *v);   /* 1 found, 0 not */

#endif
