/* graph_mirror.c: backend memory (graph.h "Backends"): the backend copy of each host buffer
 * (a region), the translation of a host-mirror pointer to the backend's, stale-mirror
 * poisoning for the test backend, and the moves between host and backend (sync_params,
 * fetch, put, set_backend). */
#include "nn/graph_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"

int graph_be_fail(const nn_graph *g, const char *op)
{
    return dfs_fail("%s on %s: %s", op, g->be->name, g->be->last_error());
}

/* The backend copy of host buffer `host` (bytes long) as region r: allocated, and filled from
 * the host when `upload`. Nothing on a host-memory backend. On failure the region has no
 * backend copy (graph_dv then finds none for its pointers). */
int graph_region_set(nn_graph *g, int r, void *host, size_t bytes, int upload)
{
    const nn_backend *be = g->be;
    if (be->host_memory) return 0;
    if (g->mirror.dev[r]) be->free(g->mirror.dev[r]);
    g->mirror.dev[r] = NULL;
    g->mirror.host[r] = host;
    g->mirror.bytes[r] = bytes;
    if (!host) return 0;
    void *d = be->alloc(bytes ? bytes : 1);
    if (!d) return graph_be_fail(g, "graph: alloc");
    if (upload && be->upload(d, host, bytes) != 0) {
        int rc = graph_be_fail(g, "graph: upload");
        be->free(d);
        return rc;
    }
    g->mirror.dev[r] = d;
    return 0;
}

/* Backend pointer of a host-mirror pointer (identity on a host-memory backend).
 * A pointer in no buffer is a programming error of the graph's own code (a caller that went on
 * after a failed allocation is stopped before the pass, by graph_ready), met deep inside a pass
 * where an op is about to be called with it, with no way to return. It is kept as the graph's
 * sticky error (g->mirror.stray) and the host pointer itself comes back: memory of the right
 * size that the host owns, so the one op that gets it works on a host mirror instead of on
 * backend memory (harmless on a backend that can address host memory; on cuda the op fails and
 * the backend reports it). The passes stop at the node that met it and, like every later pass
 * (graph_stray), return -1 with this message. The graph is cast to writable: every graph comes
 * from nn_graph_new's heap. */
void *graph_dv(const nn_graph *g, const void *h)
{
    if (!h || g->be->host_memory) return (void *)h;
    const uint8_t *p = h;
    for (int r = 0; r < NN_DEV_REGIONS; r++) {
        const uint8_t *b = g->mirror.host[r];
        if (b && g->mirror.dev[r] && p >= b && p < b + (g->mirror.bytes[r] ? g->mirror.bytes[r] : 1))
            return (uint8_t *)g->mirror.dev[r] + (p - b);
    }
    if (!g->mirror.stray) ((nn_graph *)g)->mirror.stray = h;
    return (void *)h;
}

int graph_stray(const nn_graph *g)
{
    if (!g->mirror.stray) return 0;
    return dfs_fail("graph: internal error: pointer %p is in no buffer of the graph", g->mirror.stray);
}

int graph_ready(const nn_graph *g, int train)
{
    if (on_host(g)) return 0;
    static const char *const what[] = {"parameters", "batchnorm statistics", "gradients", "Adam first moments",
                                       "Adam second moments"};
    const void *host[] = {g->params, g->stats, g->train.grads, g->train.adam_m, g->train.adam_v};
    for (int r = R_PARAMS; r <= (train ? R_ADAM_V : R_STATS); r++)
        if (host[r] && (g->mirror.host[r] != host[r] || !g->mirror.dev[r]))
            return dfs_fail("graph: the %s have no copy on %s (an allocation or move failed: free the graph)", what[r],
                            g->be->name);
    return 0;
}

/* Test backend: a host mirror that has gone stale is NaN-filled, so a missed download reads
 * NaN instead of an old value that might pass. */
void graph_poison(const nn_graph *g, void *host, size_t bytes)
{
    if (g->mirror.poison && host) memset(host, 0xff, bytes);
}

int graph_region_copy(const nn_graph *g, int r, int to_host, size_t off, size_t bytes)
{
    if (on_host(g) || !g->mirror.dev[r] || bytes == 0) return 0;
    const nn_backend *be = g->be;
    uint8_t *h = (uint8_t *)g->mirror.host[r] + off, *d = (uint8_t *)g->mirror.dev[r] + off;
    if (to_host) {
        if (be->download(h, d, bytes) != 0) return dfs_fail("graph: download: %s", be->last_error());
        if (be->sync() != 0) return dfs_fail("graph: sync: %s", be->last_error());
    } else if (be->upload(d, h, bytes) != 0) {
        return dfs_fail("graph: upload: %s", be->last_error());
    }
    return 0;
}

int nn_graph_sync_params(const nn_graph *g, int how)
{
    int to_host = (how & NN_TO_HOST) != 0;
    size_t pb = g->nparams * sizeof(float);
    if (graph_region_copy(g, R_PARAMS, to_host, 0, pb) || graph_region_copy(g, R_STATS, to_host, 0, g->nstats * sizeof(float)))
        return -1;
    if ((how & NN_SYNC_ADAM) && (graph_region_copy(g, R_ADAM_M, to_host, 0, pb) || graph_region_copy(g, R_ADAM_V, to_host, 0, pb)))
        return -1;
    if ((how & NN_SYNC_GRADS) && graph_region_copy(g, R_GRADS, to_host, 0, pb)) return -1;
    return 0;
}

void graph_dev_free_all(nn_graph *g)
{
    if (on_host(g)) return;
    for (int r = 0; r < NN_DEV_REGIONS; r++) {
        if (g->mirror.dev[r]) g->be->free(g->mirror.dev[r]);
        g->mirror.dev[r] = g->mirror.host[r] = NULL;
        g->mirror.bytes[r] = 0;
    }
    if (g->mirror.scratch) g->be->free(g->mirror.scratch);
    g->mirror.scratch = NULL;
}

int graph_scratch_set(nn_graph *g)
{
    if (on_host(g)) return 0;
    if (g->mirror.scratch) g->be->free(g->mirror.scratch);
    g->mirror.scratch = g->be->alloc((g->plan.scratch_floats ? g->plan.scratch_floats : 1) * sizeof(float));
    if (!g->mirror.scratch) return graph_be_fail(g, "graph: alloc conv scratch");
    return 0;
}

int nn_graph_set_backend(nn_graph *g, const nn_backend *be)
{
    if (!be) return dfs_fail("graph: no backend");
    if (be == g->be) return 0;
    if (!on_host(g)) {
        if (nn_graph_sync_params(g, NN_TO_HOST | NN_SYNC_ADAM | NN_SYNC_GRADS) != 0) return -1;
        graph_dev_free_all(g);
    }
    g->be = be;
    g->mirror.poison = !be->host_memory && (be->flags & NN_BE_POISON_MIRRORS);
    size_t pb = g->nparams * sizeof(float);
    /* the arenas and the conv scratch are laid out again for this backend by the next forward
     * (the host scratch exists only on a host-memory backend); activations are recomputed */
    if (g->plan.arena) g->plan.dirty = 1;
    if (graph_region_set(g, R_PARAMS, g->params, pb, 1) || graph_region_set(g, R_STATS, g->stats, g->nstats * sizeof(float), 1) ||
        graph_region_set(g, R_GRADS, g->train.grads, pb, 1) || graph_region_set(g, R_ADAM_M, g->train.adam_m, pb, 1) ||
        graph_region_set(g, R_ADAM_V, g->train.adam_v, pb, 1))
        return -1;
    return 0;
}

void *nn_graph_host_alloc(const nn_graph *g, size_t bytes)
{
    void *p = g->be->host_alloc(bytes ? bytes : 1);
    if (!p) dfs_fail("graph: pinned host memory (%zu bytes) on %s: %s", bytes, g->be->name, g->be->last_error());
    return p;
}

void nn_graph_host_free(const nn_graph *g, void *p)
{
    if (p) g->be->host_free(p);
}

/* The arena region holding a node's buffer and its offset there (gradients are in the
 * activation arena under NN_MEM_TRAIN, else in the gradient arena). */
int graph_arena_off(const nn_graph *g, const void *p, int *r, size_t *off)
{
    static const int rs[2] = {R_ARENA, R_GRAD_ARENA};
    for (int k = 0; p && k < 2; k++) {
        const uint8_t *b = g->mirror.host[rs[k]];
        if (b && (const uint8_t *)p >= b && (const uint8_t *)p < b + g->mirror.bytes[rs[k]]) {
            *r = rs[k];
            *off = (size_t)((const uint8_t *)p - b);
            return 0;
        }
    }
    return -1;
}

int nn_graph_fetch(nn_graph *g, int node, int what)
{
    if (node < 0 || node >= g->nnodes) return dfs_fail("graph: fetch: no node %d", node);
    if (on_host(g)) return 0;
    const nn_node *n = &g->nodes[node];
    size_t bytes = (size_t)(g->run.cur_n * nn_node_size(g, node)) * sizeof(float), off;
    int r;
    if (what & NN_FETCH_OUT) {
        if (graph_arena_off(g, n->out, &r, &off)) return dfs_fail("graph: fetch: node %s has no output", n->name);
        if (graph_region_copy(g, r, 1, off, bytes)) return -1;
    }
    if (what & NN_FETCH_GRAD) {
        if (graph_arena_off(g, n->dout, &r, &off)) return dfs_fail("graph: fetch: node %s has no gradient", n->name);
        if (graph_region_copy(g, r, 1, off, bytes)) return -1;
    }
    return 0;
}

int nn_graph_put(nn_graph *g, int node)
{
    if (node < 0 || node >= g->nnodes) return dfs_fail("graph: put: no node %d", node);
    if (on_host(g)) return 0;
    const nn_node *n = &g->nodes[node];
    size_t off;
    int r;
    if (graph_arena_off(g, n->out, &r, &off)) return dfs_fail("graph: put: node %s has no output", n->name);
    return graph_region_copy(g, r, 0, off, (size_t)(g->run.cur_n * nn_node_size(g, node)) * sizeof(float));
}
