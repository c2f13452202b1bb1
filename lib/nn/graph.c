/* graph.c: building, sizing and running a graph of named nodes (see graph.h). */
#include "nn/graph.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "nn/backend.h"
#include "tool/tool.h"   /* dfs_die: pending, tests/check-layers.sh */

static const char *const kind_names[NN_KIND_COUNT] = {
    "input", "conv", "dense", "batchnorm", "relu", "leaky_relu", "swish", "sigmoid", "softmax", "maxpool",
    "avgpool", "global_avgpool", "dropout", "drop_connect", "concat", "add", "scale_channels", "flatten",
};

const char *nn_kind_name(nn_kind k)
{
    return (k >= 0 && k < NN_KIND_COUNT) ? kind_names[k] : "?";
}

nn_graph *nn_graph_new(void)
{
    nn_graph *g = dfs_calloc(1, sizeof *g);
    g->output = -1;
    dfs_rng_seed(&g->rng, 0);
    g->be = nn_backend_cpu();
    g->fuse = -1;
    return g;
}

/* ---- backend memory (graph.h "Backends") ---- */

enum { R_PARAMS, R_STATS, R_GRADS, R_ADAM_M, R_ADAM_V, R_ARENA, R_GRAD_ARENA };

static int on_host(const nn_graph *g)
{
    return g->be->host_memory;
}

static void be_die(const nn_graph *g, const char *op)
{
    dfs_die("%s on %s: %s", op, g->be->name, g->be->last_error());
}

/* The backend copy of host buffer `host` (bytes long) as region r: allocated, and filled from
 * the host when `upload`. Nothing on a host-memory backend. */
static void region_set(nn_graph *g, int r, void *host, size_t bytes, int upload)
{
    const nn_backend *be = g->be;
    if (be->host_memory) return;
    if (g->dev[r]) be->free(g->dev[r]);
    g->dev[r] = NULL;
    g->dev_host[r] = host;
    g->dev_bytes[r] = bytes;
    if (!host) return;
    g->dev[r] = be->alloc(bytes ? bytes : 1);
    if (!g->dev[r]) be_die(g, "graph: alloc");
    if (upload && be->upload(g->dev[r], host, bytes) != 0) be_die(g, "graph: upload");
}

/* Backend pointer of a host-mirror pointer (identity on a host-memory backend). */
static void *dv(const nn_graph *g, const void *h)
{
    if (!h || g->be->host_memory) return (void *)h;
    const uint8_t *p = h;
    for (int r = 0; r < NN_DEV_REGIONS; r++) {
        const uint8_t *b = g->dev_host[r];
        if (b && g->dev[r] && p >= b && p < b + (g->dev_bytes[r] ? g->dev_bytes[r] : 1))
            return (uint8_t *)g->dev[r] + (p - b);
    }
    dfs_die("graph: internal error: pointer %p is in no buffer of the graph", h);
}
#define DV(p) ((__typeof__(p))dv(g, (p)))

/* Test backend: a host mirror that has gone stale is NaN-filled, so a missed download reads
 * NaN instead of an old value that might pass. */
static void poison(const nn_graph *g, void *host, size_t bytes)
{
    if (g->poison && host) memset(host, 0xff, bytes);
}

static int region_copy(const nn_graph *g, int r, int to_host, size_t off, size_t bytes)
{
    if (on_host(g) || !g->dev[r] || bytes == 0) return 0;
    const nn_backend *be = g->be;
    uint8_t *h = (uint8_t *)g->dev_host[r] + off, *d = (uint8_t *)g->dev[r] + off;
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
    if (region_copy(g, R_PARAMS, to_host, 0, pb) || region_copy(g, R_STATS, to_host, 0, g->nstats * sizeof(float)))
        return -1;
    if ((how & NN_SYNC_ADAM) && (region_copy(g, R_ADAM_M, to_host, 0, pb) || region_copy(g, R_ADAM_V, to_host, 0, pb)))
        return -1;
    if ((how & NN_SYNC_GRADS) && region_copy(g, R_GRADS, to_host, 0, pb)) return -1;
    return 0;
}

static void dev_free_all(nn_graph *g)
{
    if (on_host(g)) return;
    for (int r = 0; r < NN_DEV_REGIONS; r++) {
        if (g->dev[r]) g->be->free(g->dev[r]);
        g->dev[r] = g->dev_host[r] = NULL;
        g->dev_bytes[r] = 0;
    }
    if (g->dev_scratch) g->be->free(g->dev_scratch);
    g->dev_scratch = NULL;
}

static void scratch_set(nn_graph *g)
{
    if (on_host(g)) return;
    if (g->dev_scratch) g->be->free(g->dev_scratch);
    g->dev_scratch = g->be->alloc((g->scratch_floats ? g->scratch_floats : 1) * sizeof(float));
    if (!g->dev_scratch) be_die(g, "graph: alloc conv scratch");
}

int nn_graph_set_backend(nn_graph *g, const nn_backend *be)
{
    if (!be) return dfs_fail("graph: no backend");
    if (be == g->be) return 0;
    if (!on_host(g)) {
        if (nn_graph_sync_params(g, NN_TO_HOST | NN_SYNC_ADAM | NN_SYNC_GRADS) != 0) return -1;
        dev_free_all(g);
    }
    g->be = be;
    g->poison = !be->host_memory && (be->flags & NN_BE_POISON_MIRRORS);
    size_t pb = g->nparams * sizeof(float);
    region_set(g, R_PARAMS, g->params, pb, 1);
    region_set(g, R_STATS, g->stats, g->nstats * sizeof(float), 1);
    region_set(g, R_GRADS, g->grads, pb, 1);
    region_set(g, R_ADAM_M, g->adam_m, pb, 1);
    region_set(g, R_ADAM_V, g->adam_v, pb, 1);
    /* the arenas and the conv scratch are laid out again for this backend by the next forward
     * (the host scratch exists only on a host-memory backend); activations are recomputed */
    if (g->arena) g->plan_dirty = 1;
    return 0;
}

void *nn_graph_host_alloc(const nn_graph *g, size_t bytes)
{
    void *p = g->be->host_alloc(bytes ? bytes : 1);
    if (!p) dfs_die("graph: pinned host memory (%zu bytes) on %s: %s", bytes, g->be->name, g->be->last_error());
    return p;
}

void nn_graph_host_free(const nn_graph *g, void *p)
{
    if (p) g->be->host_free(p);
}

/* The arena region holding a node's buffer and its offset there (gradients are in the
 * activation arena under NN_MEM_TRAIN, else in the gradient arena). */
static int arena_off(const nn_graph *g, const void *p, int *r, size_t *off)
{
    static const int rs[2] = {R_ARENA, R_GRAD_ARENA};
    for (int k = 0; p && k < 2; k++) {
        const uint8_t *b = g->dev_host[rs[k]];
        if (b && (const uint8_t *)p >= b && (const uint8_t *)p < b + g->dev_bytes[rs[k]]) {
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
    size_t bytes = (size_t)(g->cur_n * nn_node_size(g, node)) * sizeof(float), off;
    int r;
    if (what & NN_FETCH_OUT) {
        if (arena_off(g, n->out, &r, &off)) return dfs_fail("graph: fetch: node %s has no output", n->name);
        if (region_copy(g, r, 1, off, bytes)) return -1;
    }
    if (what & NN_FETCH_GRAD) {
        if (arena_off(g, n->dout, &r, &off)) return dfs_fail("graph: fetch: node %s has no gradient", n->name);
        if (region_copy(g, r, 1, off, bytes)) return -1;
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
    if (arena_off(g, n->out, &r, &off)) return dfs_fail("graph: put: node %s has no output", n->name);
    return region_copy(g, r, 0, off, (size_t)(g->cur_n * nn_node_size(g, node)) * sizeof(float));
}

void nn_graph_free(nn_graph *g)
{
    if (!g) return;
    dev_free_all(g);
    free(g->nodes);
    free(g->tensors);
    free(g->params);
    free(g->stats);
    free(g->grads);
    free(g->adam_m);
    free(g->adam_v);
    free(g->arena);
    free(g->scratch);
    free(g->want_grad);
    free(g->need_grad);
    free(g->keep);
    free(g->plan_sig);
    free(g->grad_birth);
    free(g->grad_off);
    free(g->grad_arena);
    free(g->fused);
    free(g);
}

/* ---- building ---- */

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
    return (!T->is_stat && g->grads) ? g->grads + T->off : NULL;
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

void nn_graph_init_params(nn_graph *g, dfs_rng *rng)
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
    if (nn_graph_sync_params(g, NN_TO_DEVICE) != 0) dfs_die("%s", dfs_error());
}

void nn_graph_alloc_params(nn_graph *g, dfs_rng *rng)
{
    free(g->params);
    free(g->stats);
    g->params = dfs_malloc((g->nparams ? g->nparams : 1) * sizeof(float));
    g->stats = dfs_malloc((g->nstats ? g->nstats : 1) * sizeof(float));
    nn_graph_params_allocated(g);
    nn_graph_init_params(g, rng);
}

void nn_graph_params_allocated(nn_graph *g)
{
    region_set(g, R_PARAMS, g->params, g->nparams * sizeof(float), 0);
    region_set(g, R_STATS, g->stats, g->nstats * sizeof(float), 0);
}

void nn_graph_alloc_train(nn_graph *g)
{
    size_t n = g->nparams ? g->nparams : 1;
    if (!g->grads) {
        g->grads = dfs_calloc(n, sizeof(float));
        region_set(g, R_GRADS, g->grads, g->nparams * sizeof(float), 1);
    }
    if (!g->adam_m) {
        g->adam_m = dfs_calloc(n, sizeof(float));
        region_set(g, R_ADAM_M, g->adam_m, g->nparams * sizeof(float), 1);
    }
    if (!g->adam_v) {
        g->adam_v = dfs_calloc(n, sizeof(float));
        region_set(g, R_ADAM_V, g->adam_v, g->nparams * sizeof(float), 1);
    }
}

static size_t align64(size_t x)
{
    return (x + 63) & ~(size_t)63;
}

/* ---- memory plan ----
 * Buffers get offsets in an arena from their lifetimes, in steps: forward runs node i at step i;
 * backward seeds the output's gradient at step 0 and runs node j at step nnodes - j. A buffer
 * lives over a closed interval of steps, so a node's inputs and output never share memory
 * (no op works in place). Activations live from their node's forward step to their last reader
 * (LIFE_END when something reads them after the forward: a backward, the caller), gradients
 * from the backward step of their first writer (when they are zeroed) to their own node's
 * backward step. Activations and gradients have separate arenas, so backward may run again
 * after one forward (Grad-CAM runs two); except under NN_MEM_TRAIN, where both are placed on one
 * timeline (forward steps 0..nn-1, then backward step s at nn + s) in one arena: an activation
 * dies at its last backward reader and its memory serves the gradients that follow, as a
 * caching allocator would give it back. */

#define LIFE_END INT64_MAX

typedef struct life {
    size_t bytes;
    int64_t start, end;
    size_t off;
} life;

static void compute_need(nn_graph *g);

/* the node whose buffers node i uses: a flatten shares its input's */
static int root_of(const nn_graph *g, int i)
{
    while (g->nodes[i].kind == NN_FLATTEN) i = g->nodes[i].in[0];
    return i;
}

/* The outputs backward_node(j) reads (conv and dense read their input for the weight gradient;
 * they are counted whether or not it is wanted, so an op that reads more stays safe). */
static int backward_reads(const nn_graph *g, int j, int *r)
{
    const nn_node *n = &g->nodes[j];
    switch (n->kind) {
    case NN_CONV:
    case NN_DENSE:
    case NN_BATCHNORM:
    case NN_RELU:
    case NN_LEAKY_RELU:
    case NN_SWISH: r[0] = n->in[0]; return 1;
    case NN_SIGMOID:
    case NN_SOFTMAX: r[0] = j; return 1;
    case NN_SCALE_CHANNELS: r[0] = n->in[0], r[1] = n->in[1]; return 2;
    default: return 0;   /* max pool reads its argmax, dropouts their masks: not activations */
    }
}

/* largest first, ties in index order (the lives are one array, so addresses follow indices) */
static int by_size_desc(const void *a, const void *b)
{
    const life *x = *(const life *const *)a, *y = *(const life *const *)b;
    if (x->bytes != y->bytes) return x->bytes < y->bytes ? 1 : -1;
    return x < y ? -1 : x > y;
}

static int by_off(const void *a, const void *b)
{
    const life *x = *(const life *const *)a, *y = *(const life *const *)b;
    return x->off < y->off ? -1 : x->off > y->off;
}

/* Give every buffer with bytes > 0 an offset such that buffers alive at the same step do not
 * overlap: largest first, each at the lowest offset that fits between the placed buffers it
 * meets in time. Deterministic. Returns the bytes needed. */
static size_t pack(life *b, int n)
{
    life **order = dfs_malloc((size_t)(n ? n : 1) * sizeof *order), **met = dfs_malloc((size_t)(n ? n : 1) * sizeof *met);
    size_t total = 0;
    for (int i = 0; i < n; i++) order[i] = &b[i];
    qsort(order, (size_t)n, sizeof *order, by_size_desc);
    for (int k = 0; k < n; k++) {
        life *x = order[k];
        if (x->bytes == 0) continue;
        int m = 0;
        for (int j = 0; j < k; j++) {   /* the placed ones */
            life *y = order[j];
            if (y->bytes && !(y->end < x->start || x->end < y->start)) met[m++] = y;
        }
        qsort(met, (size_t)m, sizeof *met, by_off);
        size_t off = 0;
        for (int j = 0; j < m; j++) {
            if (met[j]->off >= off + x->bytes) break;
            if (met[j]->off + met[j]->bytes > off) off = met[j]->off + met[j]->bytes;
        }
        x->off = off;
        if (off + x->bytes > total) total = off + x->bytes;
    }
    free(order);
    free(met);
    return total;
}

/* what the layout depends on beyond the plan and keep marks (NN_MEM_BACKWARD) */
static uint8_t plan_bits(const nn_graph *g, int i)
{
    return (uint8_t)(g->need_grad[i] | (g->want_grad[i] << 2));
}

static int plans_backward(int plan) { return plan == NN_MEM_BACKWARD || plan == NN_MEM_TRAIN; }

static int plan_changed(nn_graph *g)
{
    if (g->plan_dirty) return 1;
    if (!plans_backward(g->mem_plan)) return 0;
    compute_need(g);
    for (int i = 0; i < g->nnodes; i++)
        if (plan_bits(g, i) != g->plan_sig[i]) return 1;
    return 0;
}

static void set_dout_pointers(nn_graph *g)
{
    uint8_t *base = g->mem_plan == NN_MEM_TRAIN ? g->arena : g->grad_arena;
    for (int i = 0; i < g->nnodes; i++) {
        int r = root_of(g, i);
        g->nodes[i].dout = base && g->grad_off[r] != SIZE_MAX ? (float *)(base + g->grad_off[r]) : NULL;
    }
}

/* ---- Fusion ----
 * A batchnorm node i and the node i + 1 when that is a relu, leaky relu or swish reading it run
 * as one backend op (batchnorm_act_forward): the activation is applied while the normalised
 * value is in a register, which saves reading the batchnorm's output back and, on a GPU, a
 * launch. In training the batch statistics are a reduction over the whole channel, so the op is
 * still two passes over the input (statistics, then normalise + activate), as the plain
 * batchnorm is; the activation's pass is what goes.
 * What backward reads stays stored: the batchnorm's backward reads its input (the conv output)
 * and the saved mean and invstd, the activation's backward its input, the batchnorm's output:
 * so the fused op writes that output too ("pre") in every plan with a backward, and in NN_MEM_ALL
 * where a caller may read it. Only under NN_MEM_FORWARD, when nothing else reads it and it is
 * not kept, is it not written. (ReLU's backward could test its output instead, which has the
 * same sign, and let the plans drop the pre-activation; not done: swish needs its input anyway.)
 * The activation's output is written at step i, one step before its own: its life starts there,
 * so the packer cannot give it memory that a buffer dying at step i (the batchnorm's input,
 * under the inference plan) still holds. Adjacent nodes only, so nothing runs in between. */
static int fusable_act(nn_kind k)
{
    return k == NN_RELU || k == NN_LEAKY_RELU || k == NN_SWISH;
}

static void plan_fusion(nn_graph *g, life *act)
{
    int nn = g->nnodes;
    free(g->fused);
    g->fused = dfs_calloc((size_t)nn, 1);
    int on = g->fuse < 0 ? g->be->fuse : g->fuse;
    if (!on || !g->be->batchnorm_act_forward) return;
    for (int i = 0; i + 1 < nn; i++) {
        const nn_node *n = &g->nodes[i], *a = &g->nodes[i + 1];
        if (n->kind != NN_BATCHNORM || !fusable_act(a->kind) || a->nin != 1 || a->in[0] != i) continue;
        int others = g->keep[i] || root_of(g, g->output) == i;
        for (int j = i + 2; j < nn && !others; j++)
            for (int k = 0; k < g->nodes[j].nin; k++) others |= g->nodes[j].in[k] == i;
        g->fused[i] = NN_FUSED_ACT | (g->mem_plan == NN_MEM_FORWARD && !others ? NN_FUSED_NO_PRE : 0);
        if (act[i + 1].start > i) act[i + 1].start = i;
    }
}

void nn_graph_set_fuse(nn_graph *g, int on)
{
    on = on < 0 ? -1 : on != 0;
    if (on != g->fuse) g->plan_dirty = 1;
    g->fuse = on;
}

/* Lay out the arena for N samples under the current plan. */
static void layout(nn_graph *g, int64_t N)
{
    int nn = g->nnodes, plan = g->mem_plan;
    if (!g->want_grad) g->want_grad = dfs_calloc((size_t)nn, 1);
    if (!g->need_grad) g->need_grad = dfs_calloc((size_t)nn, 1);
    if (!g->keep) g->keep = dfs_calloc((size_t)nn, 1);
    if (!g->plan_sig) g->plan_sig = dfs_calloc((size_t)nn, 1);
    if (!g->grad_birth) g->grad_birth = dfs_malloc((size_t)nn * sizeof *g->grad_birth);
    if (!g->grad_off) g->grad_off = dfs_malloc((size_t)nn * sizeof *g->grad_off);
    compute_need(g);
    for (int i = 0; i < nn; i++) g->plan_sig[i] = plan_bits(g, i);

    /* activations in act[0..nn), gradients in act[nn..2nn) (packed with them under NN_MEM_TRAIN) */
    int shared = plan == NN_MEM_TRAIN;
    life *act = dfs_calloc(2 * (size_t)nn, sizeof *act);
    for (int i = 0; i < nn; i++) {
        if (g->nodes[i].kind == NN_FLATTEN) continue;
        act[i].bytes = align64(dfs_mul_size((size_t)N, (size_t)nn_node_size(g, i)) * sizeof(float));
        act[i].start = i;
        act[i].end = plan == NN_MEM_ALL ? LIFE_END : i;
    }
    if (plan != NN_MEM_ALL) {
        for (int j = 0; j < nn; j++)
            for (int k = 0; k < g->nodes[j].nin; k++) {
                int r = root_of(g, g->nodes[j].in[k]);
                if (act[r].end < j) act[r].end = j;
            }
        act[root_of(g, g->output)].end = LIFE_END;
        for (int L = 0; L < nn; L++) {
            if (!g->keep[L]) continue;
            act[root_of(g, L)].end = LIFE_END;
            /* forward_from(L) reruns the nodes after L: what they read from before it stays */
            for (int j = L + 1; j < nn; j++)
                for (int k = 0; k < g->nodes[j].nin; k++) {
                    int r = root_of(g, g->nodes[j].in[k]);
                    if (r <= L) act[r].end = LIFE_END;
                }
        }
        if (plans_backward(plan))
            for (int j = 0; j < nn; j++) {
                int r[NN_MAX_INPUTS], m = g->need_grad[j] ? backward_reads(g, j, r) : 0;
                for (int k = 0; k < m; k++) {
                    life *a = &act[root_of(g, r[k])];
                    int64_t end = shared ? 2 * (int64_t)nn - j : LIFE_END;   /* backward_node(j) at nn + (nn - j) */
                    if (a->end < end) a->end = end;
                }
            }
    }

    plan_fusion(g, act);

    /* gradients (grad = act + nn): their offsets are in the arena under NN_MEM_TRAIN, else in
     * the gradient arena, which the first backward allocates */
    life *grad = act + nn;
    uint8_t *gneed = dfs_calloc((size_t)nn, 1), *gwant = dfs_calloc((size_t)nn, 1);
    for (int i = 0; i < nn; i++) {
        gneed[root_of(g, i)] |= g->need_grad[i];
        gwant[root_of(g, i)] |= g->want_grad[i];
    }
    for (int i = 0; i < nn; i++) {
        g->grad_birth[i] = -1;
        if (plan == NN_MEM_FORWARD || g->nodes[i].kind == NN_FLATTEN) continue;
        if (plans_backward(plan) && !gneed[i]) continue;
        grad[i].bytes = align64((size_t)N * (size_t)nn_node_size(g, i) * sizeof(float));
        if (plan == NN_MEM_ALL) {
            grad[i].start = 0;
            grad[i].end = LIFE_END;
        } else {
            /* the last reader in forward order (through flattens, which share the buffer) is
             * the first writer in backward */
            int last = -1;
            for (int j = i + 1; j < nn; j++)
                for (int k = 0; k < g->nodes[j].nin; k++)
                    if (root_of(g, g->nodes[j].in[k]) == i && g->nodes[j].kind != NN_FLATTEN) last = j;
            grad[i].start = last >= 0 ? nn - last : 0;
            grad[i].end = gwant[i] ? LIFE_END : nn - i;
        }
        g->grad_birth[i] = grad[i].start;
        if (shared) {
            grad[i].start += nn;
            if (grad[i].end != LIFE_END) grad[i].end += nn;
        }
    }
    size_t off;
    if (shared) {
        off = pack(act, 2 * nn);
        g->grad_arena_bytes = 0;
    } else {
        off = pack(act, nn);
        g->grad_arena_bytes = pack(grad, nn);
    }
    for (int i = 0; i < nn; i++) g->grad_off[i] = grad[i].bytes ? grad[i].off : SIZE_MAX;

    /* extras (small, or only needed by a backward: max-pool argmax) */
    size_t *o_extra = dfs_calloc((size_t)nn, sizeof *o_extra);
    size_t scratch = 0;
    for (int i = 0; i < nn; i++) {
        nn_node *n = &g->nodes[i];
        size_t sz = (size_t)N * (size_t)nn_node_size(g, i);
        o_extra[i] = off;
        switch (n->kind) {
        case NN_BATCHNORM: off += 2 * align64((size_t)n->C * sizeof(float)); break;
        case NN_DROPOUT: off += align64(sz); break;
        case NN_DROP_CONNECT: off += align64((size_t)N); break;
        case NN_MAXPOOL:
            if (plan != NN_MEM_FORWARD) off += align64(sz * sizeof(int32_t));
            break;
        case NN_CONV: {
            n->conv.N = N;
            /* the backend's own need: cuda's im2col chunks are laid out unlike the cpu's */
            size_t s = g->be->conv_scratch(&n->conv);
            if (s > scratch) scratch = s;
            break;
        }
        default: break;
        }
    }
    free(g->arena);
    /* on a device the host mirror is only written where a caller fetches: untouched pages of a
     * large malloc cost no memory */
    g->arena = on_host(g) ? dfs_calloc(off ? off : 1, 1) : dfs_malloc(off ? off : 1);
    g->arena_bytes = off;
    region_set(g, R_ARENA, g->arena, off, 0);
    uint8_t *base = g->arena;
    for (int i = 0; i < nn; i++) {
        nn_node *n = &g->nodes[i];
        n->out = (float *)(base + act[root_of(g, i)].off);
        n->save_mean = n->save_invstd = NULL;
        n->mask = NULL;
        n->argmax = NULL;
        if (n->kind == NN_BATCHNORM) {
            n->save_mean = (float *)(base + o_extra[i]);
            n->save_invstd = (float *)(base + o_extra[i] + align64((size_t)n->C * sizeof(float)));
        } else if (n->kind == NN_DROPOUT || n->kind == NN_DROP_CONNECT) {
            n->mask = base + o_extra[i];
        } else if (n->kind == NN_MAXPOOL && plan != NN_MEM_FORWARD) {
            n->argmax = (int32_t *)(base + o_extra[i]);
        }
    }
    free(o_extra);
    free(g->scratch);
    g->scratch_floats = scratch;
    g->scratch = dfs_malloc((on_host(g) && scratch ? scratch : 1) * sizeof(float));
    scratch_set(g);
    free(g->grad_arena);
    g->grad_arena = NULL;
    region_set(g, R_GRAD_ARENA, NULL, 0, 0);
    g->backward_done = 0;
    set_dout_pointers(g);
    free(gneed);
    free(gwant);
    free(act);
    g->batch = N;
    g->plan_dirty = 0;
}

void nn_graph_set_batch(nn_graph *g, int64_t N)
{
    if (N <= g->batch && g->arena && !g->plan_dirty) return;
    layout(g, N > g->batch ? N : g->batch);
}

void nn_graph_set_memory(nn_graph *g, int plan)
{
    if (plan != g->mem_plan) g->plan_dirty = 1;
    g->mem_plan = plan;
}

void nn_graph_keep(nn_graph *g, int node, int on)
{
    if (!g->keep) g->keep = dfs_calloc((size_t)g->nnodes, 1);
    if (g->keep[node] != (on != 0)) g->plan_dirty = 1;
    g->keep[node] = (uint8_t)(on != 0);
}

size_t nn_graph_memory(const nn_graph *g, size_t *grad_bytes)
{
    if (grad_bytes) *grad_bytes = g->grad_arena ? g->grad_arena_bytes : 0;   /* NN_MEM_TRAIN: in the arena */
    return g->arena_bytes;
}

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

/* ---- running ----
 * Every op goes through g->be on backend pointers (DV: the host mirror's pointer translated);
 * on the cpu table these are the functions and pointers of before, in the same order. */

static float *param_ptr(const nn_graph *g, int t)
{
    return t >= 0 ? DV(nn_tensor_data(g, t)) : NULL;
}

static float *grad_ptr(const nn_graph *g, int t)
{
    return (t >= 0 && g->grads && g->tensors[t].trainable) ? DV(g->grads + g->tensors[t].off) : NULL;
}

static float *scratch_ptr(const nn_graph *g)
{
    return on_host(g) ? g->scratch : g->dev_scratch;
}

static int dropout_active(const nn_graph *g, const nn_node *n)
{
    return g->mode == NN_TRAIN && !g->no_dropout && n->rate > 0.0f;
}

/* One key per training forward that draws masks; the masks themselves are drawn on the backend
 * (the host mirror of a mask is never written). */
static void next_drop_key(nn_graph *g)
{
    if (g->mode == NN_TRAIN && !g->no_dropout && !g->reuse_masks) g->drop_key = dfs_rng_u64(&g->rng);
}

/* Whether a batchnorm normalises with the batch's statistics in the current mode. */
static int bn_batch_stats(const nn_graph *g, const nn_node *n)
{
    return g->mode == NN_TRAIN && (!n->frozen || !g->frozen_bn_moving);
}

static void forward_node(nn_graph *g, int i)
{
    const nn_backend *be = g->be;
    nn_node *n = &g->nodes[i];
    int64_t N = g->cur_n;
    int64_t sz = N * nn_node_size(g, i);
    const nn_node *a = n->nin > 0 ? &g->nodes[n->in[0]] : NULL;
    const float *x = a ? DV(a->out) : NULL;
    float *out = DV(n->out);
    switch (n->kind) {
    case NN_INPUT:
    case NN_FLATTEN:
        break;
    case NN_CONV:
        n->conv.N = N;
        be->conv2d_forward(out, x, param_ptr(g, n->w), param_ptr(g, n->b), &n->conv, scratch_ptr(g));
        break;
    case NN_DENSE:
        be->dense_forward(out, x, param_ptr(g, n->w), param_ptr(g, n->b), N, a->C, n->C);
        break;
    case NN_BATCHNORM:
        /* Keras 2 / TF 1.x: a BatchNormalization layer with trainable=False still normalises a
         * training batch with the batch's statistics (its call() picks them by the learning phase
         * alone: keras-team/keras keras/layers/normalization.py, tensorflow/python/keras/layers/
         * normalization.py before TF 2.0's "trainable=False means inference"), and its moving
         * statistics are not updated, because Layer.updates returns [] for a layer that is not
         * trainable (keras/engine/base_layer.py; tensorflow/python/keras/engine/base_layer.py) */
        if (bn_batch_stats(g, n))
            be->batchnorm_forward_train_ex(out, DV(n->save_mean), DV(n->save_invstd), x, param_ptr(g, n->w),
                                           param_ptr(g, n->b), n->frozen ? NULL : param_ptr(g, n->rmean),
                                           n->frozen ? NULL : param_ptr(g, n->rvar), n->momentum, n->eps, 1, N,
                                           n->C, n->H * n->W);
        else
            be->batchnorm_forward_eval(out, x, param_ptr(g, n->w), param_ptr(g, n->b), param_ptr(g, n->rmean),
                                       param_ptr(g, n->rvar), n->eps, N, n->C, n->H * n->W);
        break;
    case NN_RELU: be->relu_forward(out, x, sz); break;
    case NN_LEAKY_RELU: be->leaky_relu_forward(out, x, n->alpha, sz); break;
    case NN_SWISH: be->swish_forward(out, x, sz); break;
    case NN_SIGMOID: be->sigmoid_forward(out, x, sz); break;
    case NN_SOFTMAX: be->softmax_forward(out, x, N, n->C); break;
    case NN_MAXPOOL:
        n->pool.N = N;
        be->maxpool_forward(out, DV(n->argmax), x, &n->pool);
        break;
    case NN_AVGPOOL:
        n->pool.N = N;
        be->avgpool_forward(out, x, &n->pool);
        break;
    case NN_GLOBAL_AVGPOOL: be->global_avgpool_forward(out, x, N, n->C, a->H * a->W); break;
    case NN_DROPOUT:
        if (!dropout_active(g, n)) {
            be->copy(out, x, (size_t)sz * sizeof(float));
        } else if (g->reuse_masks) {
            /* out = in * mask / (1 - rate), written through the op's own backward */
            be->zero(out, (size_t)sz * sizeof(float));
            be->dropout_backward(out, x, DV(n->mask), n->rate, sz);
        } else {
            be->dropout_mask(DV(n->mask), n->rate, sz, g->drop_key, (uint32_t)i);
            be->dropout_apply(out, DV(n->mask), x, n->rate, sz);
        }
        break;
    case NN_DROP_CONNECT:
        if (!dropout_active(g, n)) {
            be->copy(out, x, (size_t)sz * sizeof(float));
        } else if (g->reuse_masks) {
            be->zero(out, (size_t)sz * sizeof(float));
            be->drop_connect_backward(out, x, DV(n->mask), n->rate, N, sz / N);
        } else {
            be->dropout_mask(DV(n->mask), n->rate, N, g->drop_key, (uint32_t)i);
            be->drop_connect_apply(out, DV(n->mask), x, n->rate, N, sz / N);
        }
        break;
    case NN_CONCAT: {
        const float *ins[NN_MAX_INPUTS];
        int64_t Cs[NN_MAX_INPUTS];
        for (int k = 0; k < n->nin; k++) {
            ins[k] = DV(g->nodes[n->in[k]].out);
            Cs[k] = g->nodes[n->in[k]].C;
        }
        be->concat_forward(out, ins, Cs, n->nin, N, n->H * n->W);
        break;
    }
    case NN_ADD: be->add_forward(out, x, DV(g->nodes[n->in[1]].out), sz); break;
    case NN_SCALE_CHANNELS:
        be->scale_channels_forward(out, x, DV(g->nodes[n->in[1]].out), N, n->C, n->H * n->W);
        break;
    case NN_KIND_COUNT: break;
    }
}

/* Batchnorm node i with the activation node i + 1 (see "Fusion"). */
static void forward_fused(nn_graph *g, int i)
{
    const nn_backend *be = g->be;
    nn_node *n = &g->nodes[i];
    const nn_node *a = &g->nodes[i + 1];
    nn_bn_act f = {.train = bn_batch_stats(g, n),
                   .act = a->kind == NN_RELU ? NN_ACT_RELU : a->kind == NN_LEAKY_RELU ? NN_ACT_LEAKY_RELU : NN_ACT_SWISH,
                   .alpha = a->alpha,
                   .momentum = n->momentum,
                   .eps = n->eps,
                   .unbiased_running_var = 1};
    float *pre = (g->fused[i] & NN_FUSED_NO_PRE) ? NULL : DV(n->out);
    const float *x = DV(g->nodes[n->in[0]].out);
    /* the arguments of the unfused calls in forward_node */
    if (f.train)
        be->batchnorm_act_forward(DV(a->out), pre, DV(n->save_mean), DV(n->save_invstd), x, param_ptr(g, n->w),
                                  param_ptr(g, n->b), n->frozen ? NULL : param_ptr(g, n->rmean),
                                  n->frozen ? NULL : param_ptr(g, n->rvar), &f, g->cur_n, n->C, n->H * n->W);
    else
        be->batchnorm_act_forward(DV(a->out), pre, NULL, NULL, x, param_ptr(g, n->w), param_ptr(g, n->b),
                                  param_ptr(g, n->rmean), param_ptr(g, n->rvar), &f, g->cur_n, n->C, n->H * n->W);
    g->fused_ops++;
}

/* Nodes from..nnodes-1 in order, a fused pair as one op. */
static void forward_nodes(nn_graph *g, int from)
{
    for (int i = from; i < g->nnodes; i++) {
        if (g->fused && (g->fused[i] & NN_FUSED_ACT)) {
            forward_fused(g, i);
            i++;
        } else {
            forward_node(g, i);
        }
    }
}

/* On the test backend: the mirrors of what a forward rewrites go stale (from < 0: the whole
 * arena; else the outputs of the nodes after `from`). */
static void poison_forward(nn_graph *g, int from)
{
    if (!g->poison) return;
    if (from < 0) {
        poison(g, g->arena, g->arena_bytes);
    } else {
        for (int i = from + 1; i < g->nnodes; i++) {
            const nn_node *n = &g->nodes[i];
            if (n->kind == NN_FLATTEN) continue;
            poison(g, n->out, (size_t)(g->cur_n * nn_node_size(g, i)) * sizeof(float));
        }
    }
    if (g->mode == NN_TRAIN) poison(g, g->stats, g->nstats * sizeof(float));   /* running statistics */
}

/* What every full forward does before its input is placed: 0, or -1 with an error. */
static int forward_begin(nn_graph *g, int64_t N, int mode)
{
    if (!g->params) return dfs_fail("graph parameters are not allocated");
    if (N < 1 || N > g->batch) return dfs_fail("batch of %lld exceeds the arena's %lld", (long long)N, (long long)g->batch);
    if (plan_changed(g)) layout(g, g->batch);
    g->cur_n = N;
    g->mode = mode;
    g->backward_done = 0;
    next_drop_key(g);
    poison_forward(g, -1);
    return 0;
}

int nn_graph_forward(nn_graph *g, const float *x, int64_t N, int mode)
{
    if (forward_begin(g, N, mode) != 0) return -1;
    if (g->be->upload(DV(g->nodes[0].out), x, (size_t)(N * nn_node_size(g, 0)) * sizeof(float)) != 0)
        return dfs_fail("forward: input upload on %s: %s", g->be->name, g->be->last_error());
    forward_nodes(g, 1);
    return 0;
}

/* ---- work on the backend without the host (graph.h) ---- */

static float *node_dev(const nn_graph *g, int node, int grad)
{
    if (node < 0 || node >= g->nnodes) return dfs_fail("graph: no node %d", node), NULL;
    const nn_node *n = &g->nodes[node];
    const float *h = grad ? n->dout : n->out;
    int r;
    size_t off;
    if (!h || (!on_host(g) && arena_off(g, h, &r, &off)))
        return dfs_fail("graph: node %s has no %s in this memory plan", n->name, grad ? "gradient" : "output"), NULL;
    return DV((float *)h);
}

float *nn_graph_out_dev(const nn_graph *g, int node) { return node_dev(g, node, 0); }
float *nn_graph_grad_dev(const nn_graph *g, int node) { return node_dev(g, node, 1); }

int nn_graph_forward_dev(nn_graph *g, const float *x, int64_t n, int64_t reps, int mode)
{
    if (n < 1 || reps < 1) return dfs_fail("forward_dev: %lld samples x %lld", (long long)n, (long long)reps);
    if (forward_begin(g, n * reps, mode) != 0) return -1;
    size_t bytes = (size_t)(n * nn_node_size(g, 0)) * sizeof(float);
    uint8_t *in = (uint8_t *)DV(g->nodes[0].out);
    for (int64_t k = 0; k < reps; k++) g->be->copy(in + (size_t)k * bytes, x, bytes);
    for (int i = 1; i < g->nnodes; i++) forward_node(g, i);
    return 0;
}

int nn_graph_forward_from(nn_graph *g, int from, int mode)
{
    if (g->cur_n < 1) return dfs_fail("forward_from before any forward");
    if (from < 0 || from >= g->nnodes) return dfs_fail("forward_from: no node %d", from);
    if (g->mem_plan != NN_MEM_ALL && !(g->keep && g->keep[from]))
        return dfs_fail("forward_from: node %s is not kept (nn_graph_keep) in this memory plan", g->nodes[from].name);
    g->mode = mode;
    g->backward_done = 0;
    next_drop_key(g);
    poison_forward(g, from);
    forward_nodes(g, from + 1);
    return 0;
}

float *nn_graph_output(const nn_graph *g)
{
    const nn_node *o = &g->nodes[g->output];
    if (!on_host(g)) {
        size_t off = (size_t)((const uint8_t *)o->out - (const uint8_t *)g->dev_host[R_ARENA]);
        if (region_copy(g, R_ARENA, 1, off, (size_t)(g->cur_n * nn_node_size(g, g->output)) * sizeof(float)) != 0)
            dfs_die("output: %s", dfs_error());
    }
    return o->out;
}

int64_t nn_graph_output_size(const nn_graph *g)
{
    return nn_node_size(g, g->output);
}

void nn_graph_want_grad(nn_graph *g, int node, int on)
{
    if (!g->want_grad) g->want_grad = dfs_calloc((size_t)g->nnodes, 1);
    g->want_grad[node] = (uint8_t)(on != 0);
}

static void backward_node(nn_graph *g, int i)
{
    const nn_backend *be = g->be;
    nn_node *n = &g->nodes[i];
    int64_t N = g->cur_n;
    int64_t sz = N * nn_node_size(g, i);
    const nn_node *a = n->nin > 0 ? &g->nodes[n->in[0]] : NULL;
    const float *x = a ? DV(a->out) : NULL;
    float *dx = (a && g->need_grad[n->in[0]]) ? DV(a->dout) : NULL;
    const float *dout = DV(n->dout);
    switch (n->kind) {
    case NN_INPUT:
    case NN_FLATTEN:   /* shares its input's gradient buffer */
        break;
    case NN_CONV:
        n->conv.N = N;
        be->conv2d_backward(dx, grad_ptr(g, n->w), grad_ptr(g, n->b), dout, x, param_ptr(g, n->w), &n->conv,
                            scratch_ptr(g));
        break;
    case NN_DENSE:
        be->dense_backward(dx, grad_ptr(g, n->w), grad_ptr(g, n->b), dout, x, param_ptr(g, n->w), N, a->C, n->C);
        break;
    case NN_BATCHNORM:
        if (bn_batch_stats(g, n))
            be->batchnorm_backward_train(dx, grad_ptr(g, n->w), grad_ptr(g, n->b), dout, x, param_ptr(g, n->w),
                                         DV(n->save_mean), DV(n->save_invstd), N, n->C, n->H * n->W);
        else
            be->batchnorm_backward_eval(dx, grad_ptr(g, n->w), grad_ptr(g, n->b), dout, x, param_ptr(g, n->w),
                                        param_ptr(g, n->rmean), param_ptr(g, n->rvar), n->eps, N, n->C,
                                        n->H * n->W);
        break;
    case NN_RELU:
        if (dx && g->guided_relu) be->guided_relu_backward(dx, dout, x, sz);
        else if (dx) be->relu_backward(dx, dout, x, sz);
        break;
    case NN_LEAKY_RELU:
        if (dx && g->guided_relu) be->guided_relu_backward(dx, dout, x, sz);
        else if (dx) be->leaky_relu_backward(dx, dout, x, n->alpha, sz);
        break;
    case NN_SWISH:
        if (dx) be->swish_backward(dx, dout, x, sz);
        break;
    case NN_SIGMOID:
        if (dx) be->sigmoid_backward(dx, dout, DV(n->out), sz);
        break;
    case NN_SOFTMAX:
        if (dx) be->softmax_backward(dx, dout, DV(n->out), N, n->C);
        break;
    case NN_MAXPOOL:
        if (dx) be->maxpool_backward(dx, dout, DV(n->argmax), &n->pool);
        break;
    case NN_AVGPOOL:
        if (dx) be->avgpool_backward(dx, dout, &n->pool);
        break;
    case NN_GLOBAL_AVGPOOL:
        if (dx) be->global_avgpool_backward(dx, dout, N, n->C, a->H * a->W);
        break;
    case NN_DROPOUT:
        if (!dx) break;
        if (dropout_active(g, n)) be->dropout_backward(dx, dout, DV(n->mask), n->rate, sz);
        else be->add_backward(dx, NULL, dout, sz);
        break;
    case NN_DROP_CONNECT:
        if (!dx) break;
        if (dropout_active(g, n)) be->drop_connect_backward(dx, dout, DV(n->mask), n->rate, N, sz / N);
        else be->add_backward(dx, NULL, dout, sz);
        break;
    case NN_CONCAT: {
        float *dins[NN_MAX_INPUTS];
        int64_t Cs[NN_MAX_INPUTS];
        for (int k = 0; k < n->nin; k++) {
            const nn_node *b = &g->nodes[n->in[k]];
            dins[k] = g->need_grad[n->in[k]] ? DV(b->dout) : NULL;
            Cs[k] = b->C;
        }
        be->concat_backward(dins, dout, Cs, n->nin, N, n->H * n->W);
        break;
    }
    case NN_ADD: {
        float *db = g->need_grad[n->in[1]] ? DV(g->nodes[n->in[1]].dout) : NULL;
        be->add_backward(dx, db, dout, sz);
        break;
    }
    case NN_SCALE_CHANNELS: {
        const nn_node *s = &g->nodes[n->in[1]];
        float *ds = g->need_grad[n->in[1]] ? DV(s->dout) : NULL;
        be->scale_channels_backward(dx, ds, dout, x, DV(s->out), N, n->C, n->H * n->W);
        break;
    }
    case NN_KIND_COUNT: break;
    }
}

/* need_grad[i]: some gradient the caller wants (a trainable parameter, a marked activation)
 * depends on node i's output, so the gradient must flow into it. */
static void compute_need(nn_graph *g)
{
    for (int i = 0; i < g->nnodes; i++) {
        const nn_node *n = &g->nodes[i];
        int need = g->want_grad[i];
        if (g->grads && ((n->w >= 0 && g->tensors[n->w].trainable) || (n->b >= 0 && g->tensors[n->b].trainable)))
            need = 1;
        for (int k = 0; k < n->nin && !need; k++) need = g->need_grad[n->in[k]];
        g->need_grad[i] = (uint8_t)need;
    }
}


void nn_graph_backward(nn_graph *g, const float *dout)
{
    const nn_backend *be = g->be;
    compute_need(g);
    int nn = g->nnodes;
    /* a misuse of the plan would read reused memory: stop rather than return wrong gradients */
    if (g->mem_plan == NN_MEM_FORWARD) dfs_die("nn_graph_backward: the graph's memory plan is forward-only");
    if (g->mem_plan == NN_MEM_TRAIN && g->backward_done)
        dfs_die("nn_graph_backward: a second backward after one forward under NN_MEM_TRAIN (the first one "
                "reused the activations' memory)");
    if (plans_backward(g->mem_plan))
        for (int i = 0; i < nn; i++)
            if ((g->need_grad[i] && !(g->plan_sig[i] & 1)) || (g->want_grad[i] && !(g->plan_sig[i] & 4)))
                dfs_die("nn_graph_backward: node %s needs a gradient its forward did not plan for "
                        "(set want_grad and trainability before nn_graph_forward)", g->nodes[i].name);
    if (g->mem_plan == NN_MEM_TRAIN) {
        g->backward_done = 1;
    } else if (!g->grad_arena) {
        g->grad_arena = dfs_malloc(g->grad_arena_bytes ? g->grad_arena_bytes : 1);
        region_set(g, R_GRAD_ARENA, g->grad_arena, g->grad_arena_bytes, 0);
        set_dout_pointers(g);
    }
    poison(g, g->grad_arena, g->grad_arena_bytes);
    poison(g, g->grads, g->grads ? g->nparams * sizeof(float) : 0);
    /* each gradient buffer is zeroed just before its first writer (ops accumulate) */
    for (int64_t step = 0; step < nn; step++) {
        for (int i = 0; i < nn; i++)
            if (g->grad_birth[i] == step)
                be->zero(DV(g->nodes[i].dout), (size_t)(g->cur_n * nn_node_size(g, i)) * sizeof(float));
        if (step == 0) {
            nn_node *o = &g->nodes[g->output];
            if (o->dout &&
                be->upload(DV(o->dout), dout, (size_t)(g->cur_n * nn_node_size(g, g->output)) * sizeof(float)) != 0)
                be_die(g, "backward: upload of the output gradient");
        } else if (g->need_grad[nn - step]) {
            backward_node(g, (int)(nn - step));
        }
    }
}

void nn_graph_zero_grad(nn_graph *g)
{
    if (!g->grads) return;
    g->be->zero(DV(g->grads), g->nparams * sizeof(float));
    poison(g, g->grads, g->nparams * sizeof(float));
}

double nn_graph_l2(nn_graph *g)
{
    double pen = 0.0;
    for (int i = 0; i < g->ntensors; i++) {
        const nn_tensor *t = &g->tensors[i];
        if (!t->trainable || t->l2 <= 0.0f) continue;
        if (g->grads) {
            pen += g->be->l2_penalty(DV(g->grads + t->off), DV(g->params + t->off), t->l2, t->n);
        } else {
            /* the host mirror of this tensor first */
            if (region_copy(g, R_PARAMS, 1, t->off * sizeof(float), (size_t)t->n * sizeof(float)) != 0)
                dfs_die("l2: %s", dfs_error());
            const float *w = g->params + t->off;
            double s = 0.0;
            for (int64_t j = 0; j < t->n; j++) s += (double)w[j] * w[j];
            pen += t->l2 * s;
        }
    }
    if (g->be->sync() != 0) be_die(g, "l2 penalty");
    return pen;
}

void nn_graph_adam_step(nn_graph *g, nn_adam *a)
{
    a->t++;
    for (int i = 0; i < g->ntensors; i++) {
        const nn_tensor *t = &g->tensors[i];
        if (!t->trainable) continue;
        g->be->adam_update(DV(g->params + t->off), DV(g->grads + t->off), DV(g->adam_m + t->off),
                           DV(g->adam_v + t->off), a, t->n);
    }
    poison(g, g->params, g->nparams * sizeof(float));
    poison(g, g->adam_m, g->nparams * sizeof(float));
    poison(g, g->adam_v, g->nparams * sizeof(float));
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
    p->plan = g->mem_plan;
    nn_graph_set_memory(g, NN_MEM_ALL);
    return p;
}

int nn_bn_pop_add(nn_graph *g, nn_bn_pop *p, const float *x, int64_t N)
{
    /* dropout and drop-connect off: the statistics are those the batchnorms see in
     * evaluation; with them on, the inputs of a batchnorm behind dropout and a ReLU have another
     * mean and a larger variance (the dropout noise), and evaluation then shifts and shrinks
     * every output (a ShallowNet at 93% training accuracy scored one class only) */
    dfs_rng keep = g->rng;
    int keep_nd = g->no_dropout;
    g->no_dropout = 1;
    int rc = nn_graph_forward(g, x, N, NN_TRAIN);
    g->no_dropout = keep_nd;
    g->rng = keep;
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
