/* graph_tail.c: the part of a graph after one node, as a graph of its own (see graph.h). */
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "nn/graph_impl.h"

/* Node i of g rebuilt in t by its kind's copy (graph_kinds.c), its inputs mapped by map[]; -1
 * with an error. */
static int rebuild_node(nn_graph *t, const nn_graph *g, int i, const int *map)
{
    const nn_node *n = &g->nodes[i];
    if (n->kind >= 0 && n->kind < NN_KIND_COUNT && nn_kinds[n->kind].copy) return nn_kinds[n->kind].copy(t, n, map);
    return dfs_fail("graph tail: node %s: a %s node cannot follow the input", n->name, nn_kind_name(n->kind));
}

/* Which nodes after `node` the output needs (need[]): 1, or 0 with an error when one of them
 * reads a node before it. */
static int tail_needs(const nn_graph *g, int node, uint8_t *need)
{
    need[g->output] = 1;
    for (int i = g->output; i > node; i--) {
        if (!need[i]) continue;
        const nn_node *n = &g->nodes[i];
        for (int k = 0; k < n->nin; k++) {
            if (n->in[k] > node) {
                need[n->in[k]] = 1;
            } else if (n->in[k] != node) {
                dfs_fail("graph tail: %s reads %s, which comes before %s", n->name, g->nodes[n->in[k]].name,
                         g->nodes[node].name);
                return 0;
            }
        }
    }
    return 1;
}

nn_graph *nn_graph_tail(const nn_graph *g, int node)
{
    if (node < 0 || node >= g->output) {
        dfs_fail("graph tail: node %d is not before the output node", node);
        return NULL;
    }
    if (!g->params) {
        dfs_fail("graph tail: the graph has no parameters yet");
        return NULL;
    }
    uint8_t *need = dfs_calloc((size_t)g->nnodes, 1);
    int *map = dfs_malloc((size_t)g->nnodes * sizeof *map);
    nn_graph *t = NULL;
    int ok = tail_needs(g, node, need);
    if (ok) {
        t = nn_graph_new();
        const nn_node *L = &g->nodes[node];
        map[node] = nn_g_input(t, L->name, L->C, L->H, L->W);
        for (int i = node + 1; i <= g->output && ok; i++) {
            if (!need[i]) continue;
            map[i] = rebuild_node(t, g, i, map);
            if (map[i] < 0) ok = 0;
            else t->nodes[map[i]].frozen = g->nodes[i].frozen;
        }
        /* the builders check as they go (a sticky error); the output is the last node rebuilt */
        if (ok && nn_graph_check(t) < 0) ok = 0;
    }
    if (ok) {
        t->plan.fuse = g->plan.fuse;
        t->run.frozen_bn_moving = g->run.frozen_bn_moving;
        t->run.guided_relu = g->run.guided_relu;
        dfs_rng rng;
        dfs_rng_seed(&rng, 0);   /* every value is overwritten from g below */
        /* on the host (t's backend is the cpu's until the end): moved to g's backend in one upload */
        if (nn_graph_alloc_params(t, &rng) != 0) ok = 0;
        for (int k = 0; k < t->ntensors && ok; k++) {
            nn_tensor *d = &t->tensors[k];
            int src = nn_graph_find_tensor(g, d->name);
            if (src < 0 || g->tensors[src].n != d->n) {
                dfs_fail("graph tail: tensor %s differs from the graph's", d->name);
                ok = 0;
                break;
            }
            memcpy(nn_tensor_data(t, k), nn_tensor_data(g, src), (size_t)d->n * sizeof(float));
            d->trainable = g->tensors[src].trainable;
            d->l2 = g->tensors[src].l2;
        }
        if (ok && nn_graph_set_backend(t, g->be) != 0) ok = 0;
    }
    if (!ok && t) {
        nn_graph_free(t);
        t = NULL;
    }
    free(map);
    free(need);
    return t;
}
