/* keyjoin.c: see keyjoin.h. Each stream has a table of the keys it has shown so far (to catch
 * duplicates and to name the first record in messages) and, for streams after the first, a table
 * of records read ahead of their turn. */
#include "analysis/keyjoin.h"
#include "core/rng.h"

#include <stdlib.h>
#include <string.h>

typedef struct kj_node {
    char *key;
    uint64_t index;      /* record number in its stream */
    dfs_record *rec;     /* pending tables only */
    struct kj_node *next;
} kj_node;

typedef struct kj_table {
    kj_node **b;
    size_t nb, n;
} kj_table;

typedef struct kj_stream {
    dfs_reader rd;
    int open, eof;
    kj_table seen, pending;
    uint64_t unmatched;
} kj_stream;

struct dfs_keyjoin {
    int n, intersect, done;
    kj_stream *s;
    dfs_record tmp;
};

/* ---- a chained hash table of strings ---- */
static kj_node **table_slot(kj_table *t, const char *key)
{
    if (!t->nb) return NULL;
    kj_node **p = &t->b[dfs_hash_str(key) & (t->nb - 1)];
    while (*p && strcmp((*p)->key, key) != 0) p = &(*p)->next;
    return p;
}

static kj_node *table_find(kj_table *t, const char *key)
{
    kj_node **p = table_slot(t, key);
    return p ? *p : NULL;
}

static void table_grow(kj_table *t)
{
    size_t nb = t->nb ? 2 * t->nb : 64;
    kj_node **b = dfs_calloc(nb, sizeof *b);
    for (size_t i = 0; i < t->nb; i++) {
        kj_node *e = t->b[i];
        while (e) {
            kj_node *next = e->next;
            size_t h = dfs_hash_str(e->key) & (nb - 1);
            e->next = b[h];
            b[h] = e;
            e = next;
        }
    }
    free(t->b);
    t->b = b;
    t->nb = nb;
}

/* Takes ownership of key. */
static kj_node *table_add(kj_table *t, char *key, uint64_t index, dfs_record *rec)
{
    if (t->n >= t->nb) table_grow(t);
    kj_node *e = dfs_malloc(sizeof *e);
    size_t h = dfs_hash_str(key) & (t->nb - 1);
    e->key = key;
    e->index = index;
    e->rec = rec;
    e->next = t->b[h];
    t->b[h] = e;
    t->n++;
    return e;
}

static void node_free(kj_node *e)
{
    free(e->key);
    if (e->rec) {
        dfs_record_free(e->rec);
        free(e->rec);
    }
    free(e);
}

static void table_free(kj_table *t)
{
    for (size_t i = 0; i < t->nb; i++) {
        kj_node *e = t->b[i];
        while (e) {
            kj_node *next = e->next;
            node_free(e);
            e = next;
        }
    }
    free(t->b);
    memset(t, 0, sizeof *t);
}

static void record_swap(dfs_record *a, dfs_record *b)
{
    dfs_record t = *a;
    *a = *b;
    *b = t;
}

/* ---- the join ---- */

/* Read the next record of stream st into rec; *key gets a malloc'd copy of its key. The key must
 * be present and new in this stream. 1, 0 at the end, -1 on error. */
static int read_keyed(kj_stream *st, dfs_record *rec, char **key)
{
    *key = NULL;
    if (st->eof) return 0;
    int r = dfs_reader_next(&st->rd, rec);
    if (r <= 0) {
        if (r == 0) st->eof = 1;
        return r;
    }
    uint64_t index = st->rd.index - 1;
    char *k = dfs_meta_dup(rec, "key");
    if (!k)
        return dfs_fail("%s: record %llu: no key= metadata", st->rd.name, (unsigned long long)index);
    kj_node *first = table_find(&st->seen, k);
    if (first) {
        dfs_fail("%s: record %llu: duplicate key '%s' (first at record %llu)", st->rd.name,
                 (unsigned long long)index, k, (unsigned long long)first->index);
        free(k);
        return -1;
    }
    table_add(&st->seen, dfs_strdup(k), index, NULL);
    *key = k;
    return 1;
}

dfs_keyjoin *dfs_keyjoin_open(const char *const *paths, int n, int intersect)
{
    if (n < 1) {
        dfs_fail("no streams to join");
        return NULL;
    }
    int stdin_uses = 0;
    for (int i = 0; i < n; i++) stdin_uses += !paths[i] || strcmp(paths[i], "-") == 0;
    if (stdin_uses > 1) {
        dfs_fail("-: standard input can be only one of the streams");
        return NULL;
    }
    dfs_keyjoin *j = dfs_calloc(1, sizeof *j);
    j->n = n;
    j->intersect = intersect;
    j->s = dfs_calloc((size_t)n, sizeof *j->s);
    dfs_record_init(&j->tmp);
    for (int i = 0; i < n; i++) {
        if (dfs_reader_open(&j->s[i].rd, paths[i]) != 0) {
            dfs_keyjoin_close(j);
            return NULL;
        }
        j->s[i].open = 1;
    }
    return j;
}

/* Find key in stream s (s >= 1): from the records held back, else by reading on. 1 found (moved
 * into out), 0 not in the stream, -1 error. */
static int find_key(dfs_keyjoin *j, int s, const char *key, dfs_record *out)
{
    kj_stream *st = &j->s[s];
    kj_node **p = table_slot(&st->pending, key);
    if (p && *p) {
        kj_node *e = *p;
        *p = e->next;
        st->pending.n--;
        record_swap(out, e->rec);
        node_free(e);
        return 1;
    }
    for (;;) {
        char *k;
        int r = read_keyed(st, &j->tmp, &k);
        if (r <= 0) return r;
        if (strcmp(k, key) == 0) {
            free(k);
            record_swap(out, &j->tmp);
            return 1;
        }
        dfs_record *held = dfs_malloc(sizeof *held);
        dfs_record_init(held);
        record_swap(held, &j->tmp);
        table_add(&st->pending, k, st->rd.index - 1, held);
    }
}

/* Stream 0 has ended: whatever the other streams still hold has no match. */
static int finish(dfs_keyjoin *j)
{
    j->done = 1;
    for (int s = 1; s < j->n; s++) {
        kj_stream *st = &j->s[s];
        if (!j->intersect && st->pending.n) {
            kj_node *first = NULL;
            for (size_t i = 0; i < st->pending.nb; i++)
                for (kj_node *e = st->pending.b[i]; e; e = e->next)
                    if (!first || e->index < first->index) first = e;
            return dfs_fail("%s: record %llu: key '%s' is not in %s", st->rd.name,
                            (unsigned long long)first->index, first->key, j->s[0].rd.name);
        }
        st->unmatched += st->pending.n;
        for (;;) {
            char *k;
            int r = read_keyed(st, &j->tmp, &k);
            if (r < 0) return -1;
            if (r == 0) break;
            if (!j->intersect) {
                dfs_fail("%s: record %llu: key '%s' is not in %s", st->rd.name,
                         (unsigned long long)(st->rd.index - 1), k, j->s[0].rd.name);
                free(k);
                return -1;
            }
            free(k);
            st->unmatched++;
        }
    }
    return 0;
}

int dfs_keyjoin_next(dfs_keyjoin *j, dfs_record *out)
{
    if (j->done) return 0;
    for (;;) {
        char *key;
        int r = read_keyed(&j->s[0], &out[0], &key);
        if (r < 0) return -1;
        if (r == 0) return finish(j);
        int s;
        for (s = 1; s < j->n; s++) {
            r = find_key(j, s, key, &out[s]);
            if (r < 0) {
                free(key);
                return -1;
            }
            if (r == 0) break;
        }
        if (s == j->n) {
            free(key);
            return 1;
        }
        if (!j->intersect) {
            dfs_fail("%s: key '%s' (%s record %llu) is missing", j->s[s].rd.name, key,
                     j->s[0].rd.name, (unsigned long long)(j->s[0].rd.index - 1));
            free(key);
            return -1;
        }
        free(key);
        /* the records found for this key in the streams before s have no match either */
        for (int t = 0; t < s; t++) j->s[t].unmatched++;
    }
}

uint64_t dfs_keyjoin_unmatched(const dfs_keyjoin *j, int s)
{
    return j->s[s].unmatched;
}

const char *dfs_keyjoin_name(const dfs_keyjoin *j, int s)
{
    return j->s[s].rd.name;
}

void dfs_keyjoin_close(dfs_keyjoin *j)
{
    if (!j) return;
    for (int i = 0; i < j->n; i++) {
        if (j->s[i].open) dfs_reader_close(&j->s[i].rd);
        table_free(&j->s[i].seen);
        table_free(&j->s[i].pending);
    }
    dfs_record_free(&j->tmp);
    free(j->s);
    free(j);
}
