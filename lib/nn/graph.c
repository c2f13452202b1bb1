/* graph.c: a graph's life (new, free), the names of the node kinds, its parameter buffers
 * (allocation and initialisation), lookup and counting (see graph.h; graph_impl.h lists the
 * other files of the graph). */
#include "nn/graph_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "nn/backend.h"

const char *nn_kind_name(nn_kind k)
{
    return (k >= 0 && k < NN_KIND_COUNT) ? nn_kinds[k].name : "?";
}

nn_graph *nn_graph_new(void)
{
    nn_graph *g = dfs_calloc(1, sizeof *g);
    g->output = -1;
    dfs_rng_seed(&g->run.rng, 0);
    g->be = nn_backend_cpu();
    g->plan.fuse = -1;
    return g;
}

void nn_graph_free(nn_graph *g)
{
    if (!g) return;
    graph_dev_free_all(g);
    free(g->nodes);
    free(g->tensors);
    free(g->params);
    free(g->stats);
    free(g->train.grads);
    free(g->train.adam_m);
    free(g->train.adam_v);
    free(g->plan.arena);
    free(g->plan.scratch);
    free(g->run.want_grad);
    free(g->run.need_grad);
    free(g->plan.keep);
    free(g->plan.sig);
    free(g->plan.grad_birth);
    free(g->plan.grad_off);
    free(g->plan.grad_arena);
    free(g->plan.fused);
    free(g);
}

/* ---- lookup and counting ---- */

int nn_graph_find(const nn_graph *g, const char *name)
{
    for (int i = 0; i < g->nnodes; i++)
        if (strcmp(g->nodes[i].name, name) == 0) return i;
    return -1;
}

int nn_graph_find_tensor(const nn_graph *g, const char *name)
{
    for (int i = 0; i < g->ntensors; i++)
        if (strcmp(g->tensors[i].name, name) == 0) return i;
    return -1;
}

float *nn_tensor_data(const nn_graph *g, int t)
{
    const nn_tensor *T = &g->tensors[t];
    float *base = T->is_stat ? g->stats : g->params;
    return base ? base + T->off : NULL;
}

float *nn_tensor_grad(const nn_graph *g, int t)
{
    const nn_tensor *T = &g->tensors[t];
    return (!T->is_stat && g->train.grads) ? g->train.grads + T->off : NULL;
}

int64_t nn_node_size(const nn_graph *g, int node)
{
    const nn_node *n = &g->nodes[node];
    return n->C * n->H * n->W;
}

int64_t nn_node_params(const nn_graph *g, int node)
{
    int64_t s = 0;
    for (int i = 0; i < g->ntensors; i++)
        if (g->tensors[i].node == node) s += g->tensors[i].n;
    return s;
}

void nn_graph_count(const nn_graph *g, int64_t *total, int64_t *trainable)
{
    int64_t t = 0, tr = 0;
    for (int i = 0; i < g->ntensors; i++) {
        t += g->tensors[i].n;
        if (g->tensors[i].trainable) tr += g->tensors[i].n;
    }
    *total = t;
    *trainable = tr;
}

/* ---- memory ---- */

int nn_graph_init_params(nn_graph *g, dfs_rng *rng)
{
    for (int i = 0; i < g->ntensors; i++) {
        const nn_tensor *t = &g->tensors[i];
        float *d = nn_tensor_data(g, i);
        if (t->fan_in > 0 && t->init == NN_INIT_VS_NORMAL_FAN_OUT) {
            nn_init_variance_scaling_normal(d, t->n, t->init_scale, t->fan_out, rng);
        } else if (t->fan_in > 0 && t->init == NN_INIT_VS_UNIFORM_FAN_OUT) {
            double limit = sqrt(3.0 * t->init_scale / (double)t->fan_out);
            for (int64_t j = 0; j < t->n; j++) d[j] = (float)dfs_rng_range(rng, -limit, limit);
        } else if (t->fan_in > 0) {
            nn_init_glorot_uniform(d, t->n, t->fan_in, t->fan_out, rng);
        } else {
            for (int64_t j = 0; j < t->n; j++) d[j] = t->init_value;
        }
    }
    return nn_graph_sync_params(g, NN_TO_DEVICE);
}

int nn_graph_alloc_params(nn_graph *g, dfs_rng *rng)
{
    free(g->params);
    free(g->stats);
    g->params = dfs_malloc((g->nparams ? g->nparams : 1) * sizeof(float));
    g->stats = dfs_malloc((g->nstats ? g->nstats : 1) * sizeof(float));
    if (nn_graph_params_allocated(g) != 0) return -1;
    return nn_graph_init_params(g, rng);
}

int nn_graph_params_allocated(nn_graph *g)
{
    if (graph_region_set(g, R_PARAMS, g->params, g->nparams * sizeof(float), 0) != 0) return -1;
    return graph_region_set(g, R_STATS, g->stats, g->nstats * sizeof(float), 0);
}

/* one training buffer: allocated zeroed once, with its backend copy */
static int alloc_train_buf(nn_graph *g, float **buf, int r)
{
    if (*buf) return 0;
    *buf = dfs_calloc(g->nparams ? g->nparams : 1, sizeof(float));
    if (graph_region_set(g, r, *buf, g->nparams * sizeof(float), 1) == 0) return 0;
    /* without its backend copy: a later call allocates it again */
    graph_region_set(g, r, NULL, 0, 0);
    free(*buf);
    *buf = NULL;
    return -1;
}

int nn_graph_alloc_train(nn_graph *g)
{
    if (alloc_train_buf(g, &g->train.grads, R_GRADS) || alloc_train_buf(g, &g->train.adam_m, R_ADAM_M) ||
        alloc_train_buf(g, &g->train.adam_v, R_ADAM_V))
        return -1;
    return 0;
}
