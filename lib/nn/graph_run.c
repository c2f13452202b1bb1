/* graph_run.c: running a graph: forward (whole, from a node, from backend memory) and backward,
 * node by node through each kind's descriptor (graph_kinds.c). */
#include "nn/graph_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"

/* ---- running ----
 * The passes over the nodes; what each node does is its kind's (graph_kinds.c). */

/* One key per training forward that draws masks; the masks themselves are drawn on the backend
 * (the host mirror of a mask is never written). */
static void next_drop_key(nn_graph *g)
{
    if (g->run.mode == NN_TRAIN && !g->run.no_dropout && !g->run.reuse_masks) g->run.drop_key = dfs_rng_u64(&g->run.rng);
}

/* What forward and backward both hand node i's descriptor: the node, its first input and that
 * input's output on the backend, the batch and the node's element count. */
static nn_step step_of(nn_graph *g, int i)
{
    nn_node *n = &g->nodes[i];
    nn_step s = {.g = g, .be = g->be, .i = i, .n = n, .N = g->run.cur_n};
    s.sz = s.N * nn_node_size(g, i);
    s.a = n->nin > 0 ? &g->nodes[n->in[0]] : NULL;
    s.x = s.a ? DV(s.a->out) : NULL;
    return s;
}

/* Node i's forward through its kind's descriptor (graph_kinds.c). */
static void forward_node(nn_graph *g, int i)
{
    nn_node *n = &g->nodes[i];
    nn_step s = step_of(g, i);
    s.out = DV(n->out);
    if (nn_kinds[n->kind].forward) nn_kinds[n->kind].forward(&s);
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
    float *pre = (g->plan.fused[i] & NN_FUSED_NO_PRE) ? NULL : DV(n->out);
    const float *x = DV(g->nodes[n->in[0]].out);
    /* the arguments of the unfused calls in forward_node */
    if (f.train)
        be->batchnorm_act_forward(DV(a->out), pre, DV(n->save_mean), DV(n->save_invstd), x, param_ptr(g, n->w),
                                  param_ptr(g, n->b), n->frozen ? NULL : param_ptr(g, n->rmean),
                                  n->frozen ? NULL : param_ptr(g, n->rvar), &f, g->run.cur_n, n->C, n->H * n->W);
    else
        be->batchnorm_act_forward(DV(a->out), pre, NULL, NULL, x, param_ptr(g, n->w), param_ptr(g, n->b),
                                  param_ptr(g, n->rmean), param_ptr(g, n->rvar), &f, g->run.cur_n, n->C, n->H * n->W);
    g->plan.fused_ops++;
}

/* Nodes from..nnodes-1 in order, a fused pair as one op; stops after a node that met a
 * pointer in no buffer (graph_dv). */
static void forward_nodes(nn_graph *g, int from)
{
    for (int i = from; i < g->nnodes && !g->mirror.stray; i++) {
        if (g->plan.fused && (g->plan.fused[i] & NN_FUSED_ACT)) {
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
    if (!g->mirror.poison) return;
    if (from < 0) {
        graph_poison(g, g->plan.arena, g->plan.arena_bytes);
    } else {
        for (int i = from + 1; i < g->nnodes; i++) {
            const nn_node *n = &g->nodes[i];
            if (n->kind == NN_FLATTEN) continue;
            graph_poison(g, n->out, (size_t)(g->run.cur_n * nn_node_size(g, i)) * sizeof(float));
        }
    }
    if (g->run.mode == NN_TRAIN) graph_poison(g, g->stats, g->nstats * sizeof(float));   /* running statistics */
}

/* What every full forward does before its input is placed: 0, or -1 with an error. */
static int forward_begin(nn_graph *g, int64_t N, int mode)
{
    if (graph_stray(g) || graph_ready(g, 0)) return -1;
    if (!g->params) return dfs_fail("graph parameters are not allocated");
    if (N < 1 || N > g->plan.batch) return dfs_fail("batch of %lld exceeds the arena's %lld", (long long)N, (long long)g->plan.batch);
    if (graph_plan_changed(g) && graph_layout(g, g->plan.batch) != 0) return -1;
    g->run.cur_n = N;
    g->run.mode = mode;
    g->plan.backward_done = 0;
    next_drop_key(g);
    poison_forward(g, -1);
    return 0;
}

int nn_graph_forward(nn_graph *g, const float *x, int64_t N, int mode)
{
    if (forward_begin(g, N, mode) != 0) return -1;
    float *in = DV(g->nodes[0].out);
    if (graph_stray(g)) return -1;
    if (g->be->upload(in, x, (size_t)(N * nn_node_size(g, 0)) * sizeof(float)) != 0)
        return dfs_fail("forward: input upload on %s: %s", g->be->name, g->be->last_error());
    forward_nodes(g, 1);
    return graph_stray(g);
}

/* ---- work on the backend without the host (graph.h) ---- */

static float *node_dev(const nn_graph *g, int node, int grad)
{
    if (node < 0 || node >= g->nnodes) return dfs_fail("graph: no node %d", node), NULL;
    const nn_node *n = &g->nodes[node];
    const float *h = grad ? n->dout : n->out;
    int r;
    size_t off;
    if (!h || (!on_host(g) && graph_arena_off(g, h, &r, &off)))
        return dfs_fail("graph: node %s has no %s in this memory plan", n->name, grad ? "gradient" : "output"), NULL;
    float *d = DV((float *)h);
    return graph_stray(g) ? NULL : d;
}

float *nn_graph_out_dev(const nn_graph *g, int node) { return node_dev(g, node, 0); }
float *nn_graph_grad_dev(const nn_graph *g, int node) { return node_dev(g, node, 1); }

int nn_graph_forward_dev(nn_graph *g, const float *x, int64_t n, int64_t reps, int mode)
{
    if (n < 1 || reps < 1) return dfs_fail("forward_dev: %lld samples x %lld", (long long)n, (long long)reps);
    if (forward_begin(g, n * reps, mode) != 0) return -1;
    size_t bytes = (size_t)(n * nn_node_size(g, 0)) * sizeof(float);
    uint8_t *in = (uint8_t *)DV(g->nodes[0].out);
    if (graph_stray(g)) return -1;
    for (int64_t k = 0; k < reps; k++) g->be->copy(in + (size_t)k * bytes, x, bytes);
    forward_nodes(g, 1);
    return graph_stray(g);
}

int nn_graph_forward_from(nn_graph *g, int from, int mode)
{
    if (graph_stray(g) || graph_ready(g, 0)) return -1;
    if (g->run.cur_n < 1) return dfs_fail("forward_from before any forward");
    if (from < 0 || from >= g->nnodes) return dfs_fail("forward_from: no node %d", from);
    if (g->plan.mode != NN_MEM_ALL && !(g->plan.keep && g->plan.keep[from]))
        return dfs_fail("forward_from: node %s is not kept (nn_graph_keep) in this memory plan", g->nodes[from].name);
    g->run.mode = mode;
    g->plan.backward_done = 0;
    next_drop_key(g);
    poison_forward(g, from);
    forward_nodes(g, from + 1);
    return graph_stray(g);
}

float *nn_graph_output(const nn_graph *g)
{
    const nn_node *o = &g->nodes[g->output];
    if (!on_host(g)) {
        size_t off = (size_t)((const uint8_t *)o->out - (const uint8_t *)g->mirror.host[R_ARENA]);
        if (graph_region_copy(g, R_ARENA, 1, off, (size_t)(g->run.cur_n * nn_node_size(g, g->output)) * sizeof(float)) != 0)
            return dfs_fail_prefix("output"), NULL;
    }
    return o->out;
}

int64_t nn_graph_output_size(const nn_graph *g)
{
    return nn_node_size(g, g->output);
}

void nn_graph_want_grad(nn_graph *g, int node, int on)
{
    if (!g->run.want_grad) g->run.want_grad = dfs_calloc((size_t)g->nnodes, 1);
    g->run.want_grad[node] = (uint8_t)(on != 0);
}

/* Node i's backward through its kind's descriptor (graph_kinds.c). */
static void backward_node(nn_graph *g, int i)
{
    nn_node *n = &g->nodes[i];
    nn_step s = step_of(g, i);
    s.dx = (s.a && g->run.need_grad[n->in[0]]) ? DV(s.a->dout) : NULL;
    s.dout = DV(n->dout);
    if (nn_kinds[n->kind].backward) nn_kinds[n->kind].backward(&s);
}

int nn_graph_backward(nn_graph *g, const float *dout)
{
    const nn_backend *be = g->be;
    if (graph_stray(g) || graph_ready(g, 1)) return -1;
    graph_compute_need(g);
    int nn = g->nnodes;
    /* a misuse of the plan would read reused memory: stop rather than return wrong gradients */
    if (g->plan.mode == NN_MEM_FORWARD) return dfs_fail("nn_graph_backward: the graph's memory plan is forward-only");
    if (g->plan.mode == NN_MEM_TRAIN && g->plan.backward_done)
        return dfs_fail("nn_graph_backward: a second backward after one forward under NN_MEM_TRAIN (the first "
                        "one reused the activations' memory)");
    if (plans_backward(g->plan.mode))
        for (int i = 0; i < nn; i++)
            if ((g->run.need_grad[i] && !(g->plan.sig[i] & 1)) || (g->run.want_grad[i] && !(g->plan.sig[i] & 4)))
                return dfs_fail("nn_graph_backward: node %s needs a gradient its forward did not plan for "
                                "(set want_grad and trainability before nn_graph_forward)", g->nodes[i].name);
    if (g->plan.mode == NN_MEM_TRAIN) {
        g->plan.backward_done = 1;
    } else if (!g->plan.grad_arena) {
        g->plan.grad_arena = dfs_malloc(g->plan.grad_arena_bytes ? g->plan.grad_arena_bytes : 1);
        if (graph_region_set(g, R_GRAD_ARENA, g->plan.grad_arena, g->plan.grad_arena_bytes, 0) != 0) {
            /* the next backward tries again */
            free(g->plan.grad_arena);
            g->plan.grad_arena = NULL;
            graph_region_set(g, R_GRAD_ARENA, NULL, 0, 0);
            return -1;
        }
        graph_set_dout_pointers(g);
    }
    graph_poison(g, g->plan.grad_arena, g->plan.grad_arena_bytes);
    graph_poison(g, g->train.grads, g->train.grads ? g->nparams * sizeof(float) : 0);
    /* each gradient buffer is zeroed just before its first writer (ops accumulate) */
    for (int64_t step = 0; step < nn && !g->mirror.stray; step++) {
        for (int i = 0; i < nn; i++)
            if (g->plan.grad_birth[i] == step)
                be->zero(DV(g->nodes[i].dout), (size_t)(g->run.cur_n * nn_node_size(g, i)) * sizeof(float));
        if (step == 0) {
            nn_node *o = &g->nodes[g->output];
            if (o->dout &&
                be->upload(DV(o->dout), dout, (size_t)(g->run.cur_n * nn_node_size(g, g->output)) * sizeof(float)) != 0)
                return dfs_fail("backward: upload of the output gradient on %s: %s", be->name, be->last_error());
        } else if (g->run.need_grad[nn - step]) {
            backward_node(g, (int)(nn - step));
        }
    }
    return graph_stray(g);
}
