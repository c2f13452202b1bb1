/* graph_build.c: the builders (nn_g_*): each appends one node, computes its output shape and
 * adds its parameter tensors to the size table; errors are sticky (graph.h). */
#include "nn/graph_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"

static int fail(nn_graph *g, const char *fmt, const char *name, const char *detail)
{
    if (!g->err) {
        g->err = 1;
        dfs_fail(fmt, name, detail);
    }
    return -1;
}

static int valid_input(nn_graph *g, const char *name, int in)
{
    if (g->err) return 0;
    if (in < 0 || in >= g->nnodes) {
        fail(g, "node %s: %s", name, "input is not an earlier node");
        return 0;
    }
    return 1;
}

static nn_node *new_node(nn_graph *g, const char *name, nn_kind kind, const int *ins, int nin)
{
    if (g->err) return NULL;
    if (strlen(name) == 0 || strlen(name) >= NN_NAME_MAX) {
        fail(g, "node '%s': %s", name, "name is empty or too long");
        return NULL;
    }
    if (nn_graph_find(g, name) >= 0) {
        fail(g, "node %s: %s", name, "name used twice");
        return NULL;
    }
    for (int i = 0; i < nin; i++)
        if (!valid_input(g, name, ins[i])) return NULL;
    if (g->nnodes == g->node_cap) {
        g->node_cap = g->node_cap ? 2 * g->node_cap : 64;
        g->nodes = dfs_realloc(g->nodes, (size_t)g->node_cap * sizeof *g->nodes);
    }
    nn_node *n = &g->nodes[g->nnodes++];
    memset(n, 0, sizeof *n);
    strcpy(n->name, name);
    n->kind = kind;
    n->nin = nin;
    for (int i = 0; i < nin; i++) n->in[i] = ins[i];
    n->w = n->b = n->rmean = n->rvar = -1;
    if (nin > 0) {
        const nn_node *a = &g->nodes[ins[0]];
        n->C = a->C;
        n->H = a->H;
        n->W = a->W;
    }
    g->output = g->nnodes - 1;
    return n;
}

static int add_tensor(nn_graph *g, int node, const char *param, int rank, const int64_t *dims, int is_stat,
                      int64_t fan_in, int64_t fan_out, float init_value)
{
    if (g->ntensors == g->tensor_cap) {
        g->tensor_cap = g->tensor_cap ? 2 * g->tensor_cap : 128;
        g->tensors = dfs_realloc(g->tensors, (size_t)g->tensor_cap * sizeof *g->tensors);
    }
    nn_tensor *t = &g->tensors[g->ntensors];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s.%s", g->nodes[node].name, param);
    t->node = node;
    t->rank = rank;
    t->n = 1;
    for (int i = 0; i < rank; i++) {
        t->dims[i] = dims[i];
        t->n *= dims[i];
    }
    t->is_stat = is_stat;
    t->trainable = !is_stat;
    t->fan_in = fan_in;
    t->fan_out = fan_out;
    t->init_value = init_value;
    if (is_stat) {
        t->off = g->nstats;
        g->nstats += (size_t)t->n;
    } else {
        t->off = g->nparams;
        g->nparams += (size_t)t->n;
    }
    return g->ntensors++;
}

int nn_g_input(nn_graph *g, const char *name, int64_t C, int64_t H, int64_t W)
{
    nn_node *n = new_node(g, name, NN_INPUT, NULL, 0);
    if (!n) return -1;
    if (C < 1 || H < 1 || W < 1) return fail(g, "node %s: %s", name, "empty input shape");
    n->C = C;
    n->H = H;
    n->W = W;
    return g->nnodes - 1;
}

int nn_g_conv(nn_graph *g, const char *name, int in, int64_t K, int64_t kernel, int64_t stride, int64_t dil,
              int64_t groups, int same, int bias)
{
    nn_node *n = new_node(g, name, NN_CONV, &in, 1);
    if (!n) return -1;
    int idx = g->nnodes - 1;
    nn_conv *c = &n->conv;
    c->N = 1;
    c->C = n->C;
    c->H = n->H;
    c->W = n->W;
    c->K = K;
    c->R = c->S = kernel;
    c->stride_h = c->stride_w = stride;
    c->dil_h = c->dil_w = dil;
    c->groups = groups;
    n->same = same != 0;
    if (groups < 1 || c->C % groups || K % groups) return fail(g, "node %s: %s", name, "channels not divisible by groups");
    if (same) {
        nn_pad_same(c->H, kernel, stride, dil, &c->pad_t, &c->pad_b);
        nn_pad_same(c->W, kernel, stride, dil, &c->pad_l, &c->pad_r);
    }
    if ((kernel - 1) * dil + 1 > c->H + c->pad_t + c->pad_b || (kernel - 1) * dil + 1 > c->W + c->pad_l + c->pad_r)
        return fail(g, "node %s: %s", name, "input too small for the kernel (try a larger --size)");
    if (nn_conv_init(c) != 0) return fail(g, "node %s: %s", name, dfs_error());
    n->C = K;
    n->H = c->P;
    n->W = c->Q;
    int64_t cin = c->C / groups;
    int64_t dims[4] = {K, cin, kernel, kernel};
    /* Keras's Glorot fans: receptive field times input depth / output depth; a depthwise kernel
     * (groups == C, K == C) has input depth C and output depth 1 (depth multiplier) */
    int64_t rf = kernel * kernel;
    int64_t fan_in = cin * rf, fan_out = K * rf;
    if (groups > 1 && groups == c->C) {
        fan_in = c->C * rf;
        fan_out = (K / groups) * rf;
    }
    n->w = add_tensor(g, idx, "weight", 4, dims, 0, fan_in, fan_out, 0.0f);
    if (bias) n->b = add_tensor(g, idx, "bias", 1, &K, 0, 0, 0, 0.0f);
    return idx;
}

int nn_g_dense(nn_graph *g, const char *name, int in, int64_t O, int bias)
{
    nn_node *n = new_node(g, name, NN_DENSE, &in, 1);
    if (!n) return -1;
    int idx = g->nnodes - 1;
    if (n->H != 1 || n->W != 1) return fail(g, "node %s: %s", name, "dense needs a flat input (flatten first)");
    int64_t I = n->C;
    n->C = O;
    int64_t dims[2] = {O, I};
    n->w = add_tensor(g, idx, "weight", 2, dims, 0, I, O, 0.0f);
    if (bias) n->b = add_tensor(g, idx, "bias", 1, &O, 0, 0, 0, 0.0f);
    return idx;
}

int nn_g_batchnorm(nn_graph *g, const char *name, int in, float momentum, float eps)
{
    nn_node *n = new_node(g, name, NN_BATCHNORM, &in, 1);
    if (!n) return -1;
    int idx = g->nnodes - 1;
    n->momentum = momentum;
    n->eps = eps;
    int64_t C = n->C;
    n->w = add_tensor(g, idx, "gamma", 1, &C, 0, 0, 0, 1.0f);
    n->b = add_tensor(g, idx, "beta", 1, &C, 0, 0, 0, 0.0f);
    n->rmean = add_tensor(g, idx, "running_mean", 1, &C, 1, 0, 0, 0.0f);
    n->rvar = add_tensor(g, idx, "running_var", 1, &C, 1, 0, 0, 1.0f);
    return idx;
}

int nn_g_act(nn_graph *g, nn_kind kind, const char *name, int in)
{
    if (kind != NN_RELU && kind != NN_SWISH && kind != NN_SIGMOID && kind != NN_SOFTMAX)
        return fail(g, "node %s: %s", name, "not an activation kind");
    nn_node *n = new_node(g, name, kind, &in, 1);
    if (!n) return -1;
    if (kind == NN_SOFTMAX && (n->H != 1 || n->W != 1))
        return fail(g, "node %s: %s", name, "softmax needs a flat input");
    return g->nnodes - 1;
}

int nn_g_leaky_relu(nn_graph *g, const char *name, int in, float alpha)
{
    nn_node *n = new_node(g, name, NN_LEAKY_RELU, &in, 1);
    if (!n) return -1;
    n->alpha = alpha;
    return g->nnodes - 1;
}

static int pool_node(nn_graph *g, nn_kind kind, const char *name, int in, int64_t k, int64_t stride, int same)
{
    nn_node *n = new_node(g, name, kind, &in, 1);
    if (!n) return -1;
    nn_pool *p = &n->pool;
    p->N = 1;
    p->C = n->C;
    p->H = n->H;
    p->W = n->W;
    p->kh = p->kw = k;
    p->stride_h = p->stride_w = stride;
    n->same = same != 0;
    if (same) {
        nn_pad_same(p->H, k, stride, 1, &p->pad_t, &p->pad_b);
        nn_pad_same(p->W, k, stride, 1, &p->pad_l, &p->pad_r);
    }
    if (k > p->H + p->pad_t + p->pad_b || k > p->W + p->pad_l + p->pad_r)
        return fail(g, "node %s: %s", name, "input too small for the pool window (try a larger --size)");
    if (nn_pool_init(p) != 0) return fail(g, "node %s: %s", name, dfs_error());
    n->H = p->P;
    n->W = p->Q;
    return g->nnodes - 1;
}

int nn_g_maxpool(nn_graph *g, const char *name, int in, int64_t k, int64_t stride, int same)
{
    return pool_node(g, NN_MAXPOOL, name, in, k, stride, same);
}

int nn_g_avgpool(nn_graph *g, const char *name, int in, int64_t k, int64_t stride, int same)
{
    return pool_node(g, NN_AVGPOOL, name, in, k, stride, same);
}

int nn_g_global_avgpool(nn_graph *g, const char *name, int in)
{
    nn_node *n = new_node(g, name, NN_GLOBAL_AVGPOOL, &in, 1);
    if (!n) return -1;
    n->H = n->W = 1;
    return g->nnodes - 1;
}

int nn_g_dropout(nn_graph *g, const char *name, int in, float rate)
{
    nn_node *n = new_node(g, name, NN_DROPOUT, &in, 1);
    if (!n) return -1;
    if (!(rate >= 0.0f && rate < 1.0f)) return fail(g, "node %s: %s", name, "dropout rate not in [0, 1)");
    n->rate = rate;
    return g->nnodes - 1;
}

int nn_g_drop_connect(nn_graph *g, const char *name, int in, float rate)
{
    nn_node *n = new_node(g, name, NN_DROP_CONNECT, &in, 1);
    if (!n) return -1;
    if (!(rate >= 0.0f && rate < 1.0f)) return fail(g, "node %s: %s", name, "drop-connect rate not in [0, 1)");
    n->rate = rate;
    return g->nnodes - 1;
}

int nn_g_concat(nn_graph *g, const char *name, const int *ins, int k)
{
    if (k < 1 || k > NN_MAX_INPUTS) return fail(g, "node %s: %s", name, "concat of too many inputs");
    nn_node *n = new_node(g, name, NN_CONCAT, ins, k);
    if (!n) return -1;
    int64_t C = 0;
    for (int i = 0; i < k; i++) {
        const nn_node *a = &g->nodes[ins[i]];
        if (a->H != n->H || a->W != n->W) return fail(g, "node %s: %s", name, "concat inputs differ in size");
        C += a->C;
    }
    n->C = C;
    return g->nnodes - 1;
}

int nn_g_add(nn_graph *g, const char *name, int a, int b)
{
    int ins[2] = {a, b};
    nn_node *n = new_node(g, name, NN_ADD, ins, 2);
    if (!n) return -1;
    const nn_node *B = &g->nodes[b];
    if (B->C != n->C || B->H != n->H || B->W != n->W) return fail(g, "node %s: %s", name, "add inputs differ in shape");
    return g->nnodes - 1;
}

int nn_g_scale_channels(nn_graph *g, const char *name, int in, int s)
{
    int ins[2] = {in, s};
    nn_node *n = new_node(g, name, NN_SCALE_CHANNELS, ins, 2);
    if (!n) return -1;
    const nn_node *S = &g->nodes[s];
    if (S->C != n->C || S->H != 1 || S->W != 1)
        return fail(g, "node %s: %s", name, "scale must be one value per channel");
    return g->nnodes - 1;
}

int nn_g_flatten(nn_graph *g, const char *name, int in)
{
    nn_node *n = new_node(g, name, NN_FLATTEN, &in, 1);
    if (!n) return -1;
    n->C = n->C * n->H * n->W;
    n->H = n->W = 1;
    return g->nnodes - 1;
}

int nn_graph_check(const nn_graph *g)
{
    if (g->err) return -1;
    if (g->nnodes == 0 || g->nodes[0].kind != NN_INPUT) return dfs_fail("graph has no input node");
    return 0;
}
