/* strmap.c: a string -> index map with open addressing (core/strmap.h). */
#include "core/strmap.h"

#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "core/rng.h"   /* dfs_hash_str */

void dfs_strmap_init(dfs_strmap *m) { memset(m, 0, sizeof *m); }

void dfs_strmap_free(dfs_strmap *m)
{
    for (size_t i = 0; i < m->cap; i++) free(m->keys[i]);
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

static size_t strmap_slot(const dfs_strmap *m, const char *s)
{
    size_t i = (size_t)dfs_hash_str(s) & (m->cap - 1);
    while (m->keys[i] && strcmp(m->keys[i], s) != 0) i = (i + 1) & (m->cap - 1);
    return i;
}

int dfs_strmap_get(const dfs_strmap *m, const char *s, size_t *v)
{
    if (!m->cap) return 0;
    size_t i = strmap_slot(m, s);
    if (!m->keys[i]) return 0;
    if (v) *v = m->vals[i];
    return 1;
}

size_t dfs_strmap_put(dfs_strmap *m, const char *s, size_t v, int *found)
{
    if (2 * (m->n + 1) > m->cap) {   /* keep the load at most 1/2 */
        dfs_strmap old = *m;
        m->cap = old.cap ? 2 * old.cap : 64;
        m->keys = dfs_calloc(m->cap, sizeof *m->keys);
        m->vals = dfs_calloc(m->cap, sizeof *m->vals);
        for (size_t i = 0; i < old.cap; i++)
            if (old.keys[i]) {
                size_t j = strmap_slot(m, old.keys[i]);
                m->keys[j] = old.keys[i];
                m->vals[j] = old.vals[i];
            }
        free(old.keys);
        free(old.vals);
    }
    size_t i = strmap_slot(m, s);
    if (m->keys[i]) {
        if (found) *found = 1;
        return m->vals[i];
    }
    m->keys[i] = dfs_strdup(s);
    m->vals[i] = v;
    m->n++;
    if (found) *found = 0;
    return v;
}
