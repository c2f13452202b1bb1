/* graph_plan.c: the memory plan (nn_graph_set_memory): buffer lifetimes, packing them into
 * the arenas, batchnorm + activation fusion, and the arena layout for a batch size. */
#include "nn/graph_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"

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

/* the node whose buffers node i uses: a flatten shares its input's */
static int root_of(const nn_graph *g, int i)
{
    while (g->nodes[i].kind == NN_FLATTEN) i = g->nodes[i].in[0];
    return i;
}

/* The outputs backward_node(j) reads, from its kind's descriptor (graph_kinds.c). */
static int backward_reads(const nn_graph *g, int j, int *r)
{
    const nn_node *n = &g->nodes[j];
    unsigned reads = nn_kinds[n->kind].reads;
    int m = 0;
    if (reads & NN_READS_IN0) r[m++] = n->in[0];
    if (reads & NN_READS_IN1) r[m++] = n->in[1];
    if (reads & NN_READS_OUT) r[m++] = j;
    return m;
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
    return (uint8_t)(g->run.need_grad[i] | (g->run.want_grad[i] << 2));
}

int graph_plan_changed(nn_graph *g)
{
    if (g->plan.dirty) return 1;
    if (!plans_backward(g->plan.mode)) return 0;
    graph_compute_need(g);
    for (int i = 0; i < g->nnodes; i++)
        if (plan_bits(g, i) != g->plan.sig[i]) return 1;
    return 0;
}

void graph_set_dout_pointers(nn_graph *g)
{
    uint8_t *base = g->plan.mode == NN_MEM_TRAIN ? g->plan.arena : g->plan.grad_arena;
    for (int i = 0; i < g->nnodes; i++) {
        int r = root_of(g, i);
        g->nodes[i].dout = base && g->plan.grad_off[r] != SIZE_MAX ? (float *)(base + g->plan.grad_off[r]) : NULL;
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
    free(g->plan.fused);
    g->plan.fused = dfs_calloc((size_t)nn, 1);
    int on = g->plan.fuse < 0 ? g->be->fuse : g->plan.fuse;
    if (!on || !g->be->batchnorm_act_forward) return;
    for (int i = 0; i + 1 < nn; i++) {
        const nn_node *n = &g->nodes[i], *a = &g->nodes[i + 1];
        if (n->kind != NN_BATCHNORM || !fusable_act(a->kind) || a->nin != 1 || a->in[0] != i) continue;
        int others = g->plan.keep[i] || root_of(g, g->output) == i;
        for (int j = i + 2; j < nn && !others; j++)
            for (int k = 0; k < g->nodes[j].nin; k++) others |= g->nodes[j].in[k] == i;
        g->plan.fused[i] = NN_FUSED_ACT | (g->plan.mode == NN_MEM_FORWARD && !others ? NN_FUSED_NO_PRE : 0);
        if (act[i + 1].start > i) act[i + 1].start = i;
    }
}

void nn_graph_set_fuse(nn_graph *g, int on)
{
    on = on < 0 ? -1 : on != 0;
    if (on != g->plan.fuse) g->plan.dirty = 1;
    g->plan.fuse = on;
}

/* Lay out the arena for N samples under the current plan: 0, or -1 with an error (a backend
 * allocation failed: the graph then has no arena, batch 0, until a later layout succeeds). */
int graph_layout(nn_graph *g, int64_t N)
{
    int nn = g->nnodes, plan = g->plan.mode;
    if (!g->run.want_grad) g->run.want_grad = dfs_calloc((size_t)nn, 1);
    if (!g->run.need_grad) g->run.need_grad = dfs_calloc((size_t)nn, 1);
    if (!g->plan.keep) g->plan.keep = dfs_calloc((size_t)nn, 1);
    if (!g->plan.sig) g->plan.sig = dfs_calloc((size_t)nn, 1);
    if (!g->plan.grad_birth) g->plan.grad_birth = dfs_malloc((size_t)nn * sizeof *g->plan.grad_birth);
    if (!g->plan.grad_off) g->plan.grad_off = dfs_malloc((size_t)nn * sizeof *g->plan.grad_off);
    graph_compute_need(g);
    for (int i = 0; i < nn; i++) g->plan.sig[i] = plan_bits(g, i);

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
            if (!g->plan.keep[L]) continue;
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
                int r[NN_MAX_INPUTS], m = g->run.need_grad[j] ? backward_reads(g, j, r) : 0;
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
        gneed[root_of(g, i)] |= g->run.need_grad[i];
        gwant[root_of(g, i)] |= g->run.want_grad[i];
    }
    for (int i = 0; i < nn; i++) {
        g->plan.grad_birth[i] = -1;
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
        g->plan.grad_birth[i] = grad[i].start;
        if (shared) {
            grad[i].start += nn;
            if (grad[i].end != LIFE_END) grad[i].end += nn;
        }
    }
    size_t off;
    if (shared) {
        off = pack(act, 2 * nn);
        g->plan.grad_arena_bytes = 0;
    } else {
        off = pack(act, nn);
        g->plan.grad_arena_bytes = pack(grad, nn);
    }
    for (int i = 0; i < nn; i++) g->plan.grad_off[i] = grad[i].bytes ? grad[i].off : SIZE_MAX;

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
    free(g->plan.arena);
    /* on a device the host mirror is only written where a caller fetches: untouched pages of a
     * large malloc cost no memory */
    g->plan.arena = on_host(g) ? dfs_calloc(off ? off : 1, 1) : dfs_malloc(off ? off : 1);
    g->plan.arena_bytes = off;
    int rc = graph_region_set(g, R_ARENA, g->plan.arena, off, 0);
    uint8_t *base = g->plan.arena;
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
    free(g->plan.scratch);
    g->plan.scratch_floats = scratch;
    g->plan.scratch = dfs_malloc((on_host(g) && scratch ? scratch : 1) * sizeof(float));
    if (rc == 0) rc = graph_scratch_set(g);
    free(g->plan.grad_arena);
    g->plan.grad_arena = NULL;
    graph_region_set(g, R_GRAD_ARENA, NULL, 0, 0);   /* no host buffer: nothing to allocate */
    g->plan.backward_done = 0;
    graph_set_dout_pointers(g);
    free(gneed);
    free(gwant);
    free(act);
    /* after a failure no forward runs (its batch exceeds 0) until a layout succeeds */
    g->plan.batch = rc ? 0 : N;
    g->plan.dirty = rc != 0;
    return rc;
}

int nn_graph_set_batch(nn_graph *g, int64_t N)
{
    if (N <= g->plan.batch && g->plan.arena && !g->plan.dirty) return 0;
    return graph_layout(g, N > g->plan.batch ? N : g->plan.batch);
}

void nn_graph_set_memory(nn_graph *g, int plan)
{
    if (plan != g->plan.mode) g->plan.dirty = 1;
    g->plan.mode = plan;
}

void nn_graph_keep(nn_graph *g, int node, int on)
{
    if (!g->plan.keep) g->plan.keep = dfs_calloc((size_t)g->nnodes, 1);
    if (g->plan.keep[node] != (on != 0)) g->plan.dirty = 1;
    g->plan.keep[node] = (uint8_t)(on != 0);
}

size_t nn_graph_memory(const nn_graph *g, size_t *grad_bytes)
{
    if (grad_bytes) *grad_bytes = g->plan.grad_arena ? g->plan.grad_arena_bytes : 0;   /* NN_MEM_TRAIN: in the arena */
    return g->plan.arena_bytes;
}

/* need_grad[i]: some gradient the caller wants (a trainable parameter, a marked activation)
 * depends on node i's output, so the gradient must flow into it. */
void graph_compute_need(nn_graph *g)
{
    for (int i = 0; i < g->nnodes; i++) {
        const nn_node *n = &g->nodes[i];
        int need = g->run.want_grad[i];
        if (g->train.grads && ((n->w >= 0 && g->tensors[n->w].trainable) || (n->b >= 0 && g->tensors[n->b].trainable)))
            need = 1;
        for (int k = 0; k < n->nin && !need; k++) need = g->run.need_grad[n->in[k]];
        g->run.need_grad[i] = (uint8_t)need;
    }
}
