/* graph_tail.c: the part of a graph after one node, as a graph of its own (see graph.h). */
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "nn/graph.h"

/* Node i of g rebuilt in t by its builder, its inputs mapped by map[]; -1 with an error. Every
 * argument comes from what the node stores: the builders square kernels and strides, so R, S and
 * stride_h are the builder's kernel and stride, and `same` is kept on the node. */
static int rebuild_node(nn_graph *t, const nn_graph *g, int i, const int *map)
{
    const nn_node *n = &g->nodes[i];
    int in = map[n->in[0]];
    switch (n->kind) {
    case NN_CONV: {
        const nn_conv *c = &n->conv;
        return nn_g_conv(t, n->name, in, c->K, c->R, c->stride_h, c->dil_h, c->groups, n->same, n->b >= 0);
    }
    case NN_DENSE: return nn_g_dense(t, n->name, in, n->C, n->b >= 0);
    case NN_BATCHNORM: return nn_g_batchnorm(t, n->name, in, n->momentum, n->eps);
    case NN_RELU:
    case NN_SWISH:
    case NN_SIGMOID:
    case NN_SOFTMAX: return nn_g_act(t, n->kind, n->name, in);
    case NN_LEAKY_RELU: return nn_g_leaky_relu(t, n->name, in, n->alpha);
    case NN_MAXPOOL: return nn_g_maxpool(t, n->name, in, n->pool.kh, n->pool.stride_h, n->same);
    case NN_AVGPOOL: return nn_g_avgpool(t, n->name, in, n->pool.kh, n->pool.stride_h, n->same);
    case NN_GLOBAL_AVGPOOL: return nn_g_global_avgpool(t, n->name, in);
    case NN_DROPOUT: return nn_g_dropout(t, n->name, in, n->rate);
    case NN_DROP_CONNECT: return nn_g_drop_connect(t, n->name, in, n->rate);
    case NN_CONCAT: {
        int ins[NN_MAX_INPUTS];
        for (int k = 0; k < n->nin; k++) ins[k] = map[n->in[k]];
        return nn_g_concat(t, n->name, ins, n->nin);
    }
    case NN_ADD: return nn_g_add(t, n->name, in, map[n->in[1]]);
    case NN_SCALE_CHANNELS: return nn_g_scale_channels(t, n->name, in, map[n->in[1]]);
    case NN_FLATTEN: return nn_g_flatten(t, n->name, in);
    case NN_INPUT:
    case NN_KIND_COUNT: break;
    }
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
        nn_graph_alloc_params(t, &rng);   /* on the host: moved to g's backend in one upload */
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
