/* graph_train.c: what training does with a graph beyond forward and backward: which tensors
 * train (transfer learning), zeroing gradients, the L2 penalty, the Adam step and precise
 * batchnorm statistics. */
#include "nn/graph_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"

/* ---- trainability ---- */

void nn_graph_unfreeze_all(nn_graph *g)
{
    for (int i = 0; i < g->ntensors; i++) g->tensors[i].trainable = !g->tensors[i].is_stat;
    for (int i = 0; i < g->nnodes; i++) g->nodes[i].frozen = 0;
}

int nn_graph_train_only(nn_graph *g, const char *const *names, int n)
{
    uint8_t *keep = dfs_calloc((size_t)g->nnodes, 1);
    for (int k = 0; k < n; k++) {
        int i = nn_graph_find(g, names[k]);
        if (i < 0) {
            free(keep);
            return dfs_fail("no node named '%s'", names[k]);
        }
        keep[i] = 1;
    }
    for (int i = 0; i < g->ntensors; i++)
        g->tensors[i].trainable = !g->tensors[i].is_stat && keep[g->tensors[i].node];
    for (int i = 0; i < g->nnodes; i++) g->nodes[i].frozen = g->nodes[i].kind == NN_BATCHNORM && !keep[i];
    free(keep);
    return 0;
}

/* zero_grad and adam_step return nothing: on a buffer without its backend copy (graph_ready)
 * they do nothing, and the next pass or nn_graph_l2 reports it */
void nn_graph_zero_grad(nn_graph *g)
{
    if (!g->train.grads || graph_ready(g, 1)) return;
    g->be->zero(DV(g->train.grads), g->nparams * sizeof(float));
    graph_poison(g, g->train.grads, g->nparams * sizeof(float));
}

int nn_graph_l2(nn_graph *g, double *penalty)
{
    if (graph_ready(g, 1)) return -1;
    double pen = 0.0;
    for (int i = 0; i < g->ntensors; i++) {
        const nn_tensor *t = &g->tensors[i];
        if (!t->trainable || t->l2 <= 0.0f) continue;
        if (g->train.grads) {
            pen += g->be->l2_penalty(DV(g->train.grads + t->off), DV(g->params + t->off), t->l2, t->n);
        } else {
            /* the host mirror of this tensor first */
            if (graph_region_copy(g, R_PARAMS, 1, t->off * sizeof(float), (size_t)t->n * sizeof(float)) != 0)
                return dfs_fail_prefix("l2");
            const float *w = g->params + t->off;
            double s = 0.0;
            for (int64_t j = 0; j < t->n; j++) s += (double)w[j] * w[j];
            pen += t->l2 * s;
        }
    }
    if (g->be->sync() != 0) return dfs_fail("l2 penalty on %s: %s", g->be->name, g->be->last_error());
    if (graph_stray(g)) return -1;
    *penalty = pen;
    return 0;
}

void nn_graph_adam_step(nn_graph *g, nn_adam *a)
{
    if (graph_ready(g, 1)) return;
    a->t++;
    for (int i = 0; i < g->ntensors; i++) {
        const nn_tensor *t = &g->tensors[i];
        if (!t->trainable) continue;
        g->be->adam_update(DV(g->params + t->off), DV(g->train.grads + t->off), DV(g->train.adam_m + t->off),
                           DV(g->train.adam_v + t->off), a, t->n);
    }
    graph_poison(g, g->params, g->nparams * sizeof(float));
    graph_poison(g, g->train.adam_m, g->nparams * sizeof(float));
    graph_poison(g, g->train.adam_v, g->nparams * sizeof(float));
}

/* ---- precise batchnorm (graph.h) ---- */

struct nn_bn_pop {
    int64_t count;   /* values per channel so far (samples x H x W) */
    double *acc;     /* per node with a running mean, per channel: shift, sum, sum of squares */
    size_t *at;      /* per node: offset of its channels in acc, or SIZE_MAX */
    int plan;        /* the memory plan to restore */
};

static int bn_pop_node(const nn_node *n)
{
    return n->kind == NN_BATCHNORM && !n->frozen && n->rmean >= 0 && n->rvar >= 0;
}

nn_bn_pop *nn_bn_pop_begin(nn_graph *g)
{
    nn_bn_pop *p = dfs_calloc(1, sizeof *p);
    p->at = dfs_malloc((size_t)(g->nnodes > 0 ? g->nnodes : 1) * sizeof *p->at);
    size_t total = 0;
    for (int i = 0; i < g->nnodes; i++) {
        p->at[i] = bn_pop_node(&g->nodes[i]) ? total : SIZE_MAX;
        if (p->at[i] != SIZE_MAX) total += 3 * (size_t)g->nodes[i].C;
    }
    p->acc = dfs_calloc(total ? total : 1, sizeof *p->acc);
    /* every node's output readable after the forward: a plan for training may reuse a
     * batchnorm's input buffer once its backward no longer needs it */
    p->plan = g->plan.mode;
    nn_graph_set_memory(g, NN_MEM_ALL);
    return p;
}

int nn_bn_pop_add(nn_graph *g, nn_bn_pop *p, const float *x, int64_t N)
{
    /* dropout and drop-connect off: the statistics are those the batchnorms see in
     * evaluation; with them on, the inputs of a batchnorm behind dropout and a ReLU have another
     * mean and a larger variance (the dropout noise), and evaluation then shifts and shrinks
     * every output (a ShallowNet at 93% training accuracy scored one class only) */
    dfs_rng keep = g->run.rng;
    int keep_nd = g->run.no_dropout;
    g->run.no_dropout = 1;
    int rc = nn_graph_forward(g, x, N, NN_TRAIN);
    g->run.no_dropout = keep_nd;
    g->run.rng = keep;
    if (rc != 0) return -1;
    for (int i = 0; i < g->nnodes; i++) {
        if (p->at[i] == SIZE_MAX) continue;
        const nn_node *n = &g->nodes[i];
        if (nn_graph_fetch(g, n->in[0], NN_FETCH_OUT) != 0) return -1;
        const float *in = g->nodes[n->in[0]].out;
        int64_t HW = n->H * n->W;
        double *a = p->acc + p->at[i];
        for (int64_t c = 0; c < n->C; c++, a += 3) {
            if (p->count == 0) a[0] = in[c * HW];
            double k = a[0], s = 0, sq = 0;
            for (int64_t b = 0; b < N; b++) {
                const float *v = in + (b * n->C + c) * HW;
                for (int64_t j = 0; j < HW; j++) {
                    double d = (double)v[j] - k;
                    s += d;
                    sq += d * d;
                }
            }
            a[1] += s;
            a[2] += sq;
        }
    }
    p->count += N;
    return 0;
}

int nn_bn_pop_end(nn_graph *g, nn_bn_pop *p)
{
    int rc = 0;
    /* the host mirrors of params and stats current before the stats are written back */
    if (p->count > 0 && nn_graph_sync_params(g, NN_TO_HOST) != 0) rc = -1;
    for (int i = 0; i < g->nnodes && !rc && p->count > 0; i++) {
        if (p->at[i] == SIZE_MAX) continue;
        const nn_node *n = &g->nodes[i];
        double cnt = (double)p->count * (double)(n->H * n->W);
        float *rm = nn_tensor_data(g, n->rmean), *rv = nn_tensor_data(g, n->rvar);
        const double *a = p->acc + p->at[i];
        for (int64_t c = 0; c < n->C; c++, a += 3) {
            double m2 = a[2] - a[1] * a[1] / cnt;
            if (m2 < 0) m2 = 0;
            rm[c] = (float)(a[0] + a[1] / cnt);
            rv[c] = (float)(cnt > 1 ? m2 / (cnt - 1) : 0);
        }
    }
    if (!rc && p->count > 0 && nn_graph_sync_params(g, NN_TO_DEVICE) != 0) rc = -1;
    nn_graph_set_memory(g, p->plan);
    free(p->acc);
    free(p->at);
    free(p);
    return rc;
}
