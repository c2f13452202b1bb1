/* graph_impl.h: what the graph's source files share; private to lib/nn/graph*.c (everyone else
 * includes graph.h). The graph's code by job:
 *   graph.c         a graph's life, kind names, parameter buffers, lookup and counting
 *   graph_build.c   the builders (nn_g_*) and nn_graph_check
 *   graph_mirror.c  backend memory: regions, pointer translation, host <-> backend moves
 *   graph_plan.c    the memory plan: lifetimes, packing, fusion, the arena layout
 *   graph_run.c     forward and backward: the passes over the nodes
 *   graph_kinds.c   each node kind: its name, forward, backward, backward reads, tail copy
 *   graph_train.c   trainability, L2, Adam, precise batchnorm
 *   graph_tail.c    nn_graph_tail, the part of a graph after one node */
#ifndef DFS_NN_GRAPH_IMPL_H
#define DFS_NN_GRAPH_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "nn/backend.h"
#include "nn/graph.h"

/* ---- backend memory (graph_mirror.c; graph.h "Backends") ---- */

/* the regions of nn_graph.dev: the host buffers that have a backend copy */
enum { R_PARAMS, R_STATS, R_GRADS, R_ADAM_M, R_ADAM_V, R_ARENA, R_GRAD_ARENA };

static inline int on_host(const nn_graph *g)
{
    return g->be->host_memory;
}

/* -1 with an error naming op, the backend and its last error */
int graph_be_fail(const nn_graph *g, const char *op);
/* The backend copy of host buffer `host` (bytes long) as region r: allocated, and filled from
 * the host when `upload`. Nothing on a host-memory backend. 0, or -1 with an error (the region
 * then has no backend copy). */
int graph_region_set(nn_graph *g, int r, void *host, size_t bytes, int upload);
/* Backend pointer of a host-mirror pointer (identity on a host-memory backend). A pointer in
 * no buffer becomes the graph's sticky error (g->mirror.stray, see graph_mirror.c). */
void *graph_dv(const nn_graph *g, const void *h);
/* 0, or -1 with the internal error once graph_dv met a pointer in no buffer. */
int graph_stray(const nn_graph *g);
/* 0 when the buffers a pass uses have their backend copies (parameters and statistics; with
 * `train` the gradients and Adam's moments too, where allocated), else -1 with an error naming
 * the first that has none: a caller went on after a failed allocation or move. Checked before a
 * pass, so no op is handed a host pointer for them. */
int graph_ready(const nn_graph *g, int train);
#define DV(p) ((__typeof__(p))graph_dv(g, (p)))
/* Test backend: NaN-fill a host mirror that has gone stale. */
void graph_poison(const nn_graph *g, void *host, size_t bytes);
/* Copy bytes at off of region r between host and backend: 0, or -1 with an error. */
int graph_region_copy(const nn_graph *g, int r, int to_host, size_t off, size_t bytes);
/* Free every backend copy and the backend's conv scratch. */
void graph_dev_free_all(nn_graph *g);
/* (Re)allocate the conv scratch in backend memory (g->plan.scratch_floats): 0, or -1 with an
 * error. */
int graph_scratch_set(nn_graph *g);
/* The arena region holding p and its offset there: 0, or -1 when p is in neither arena. */
int graph_arena_off(const nn_graph *g, const void *p, int *r, size_t *off);

/* ---- memory plan (graph_plan.c) ---- */

static inline int plans_backward(int plan) { return plan == NN_MEM_BACKWARD || plan == NN_MEM_TRAIN; }

/* need_grad[] from want_grad[] and trainability */
void graph_compute_need(nn_graph *g);
/* Whether the layout must be redone before the next forward. */
int graph_plan_changed(nn_graph *g);
/* Lay out the arena for N samples under the current plan: 0, or -1 with an error (a backend
 * allocation; the graph then has no arena). */
int graph_layout(nn_graph *g, int64_t N);
/* Point every node's dout into the gradient buffers (NULL where it has none). */
void graph_set_dout_pointers(nn_graph *g);

/* ---- running (graph_run.c, graph_kinds.c) ---- */

/* A parameter tensor, its gradient (NULL unless trainable and allocated) and the conv scratch,
 * in backend memory. */
static inline float *param_ptr(const nn_graph *g, int t)
{
    return t >= 0 ? DV(nn_tensor_data(g, t)) : NULL;
}

static inline float *grad_ptr(const nn_graph *g, int t)
{
    return (t >= 0 && g->train.grads && g->tensors[t].trainable) ? DV(g->train.grads + g->tensors[t].off) : NULL;
}

static inline float *scratch_ptr(const nn_graph *g)
{
    return on_host(g) ? g->plan.scratch : g->mirror.scratch;
}

static inline int dropout_active(const nn_graph *g, const nn_node *n)
{
    return g->run.mode == NN_TRAIN && !g->run.no_dropout && n->rate > 0.0f;
}

/* Whether a batchnorm normalises with the batch's statistics in the current mode. */
static inline int bn_batch_stats(const nn_graph *g, const nn_node *n)
{
    return g->run.mode == NN_TRAIN && (!n->frozen || !g->run.frozen_bn_moving);
}

/* What a kind's forward or backward gets: node i of g with its pointers in backend memory. */
typedef struct nn_step {
    nn_graph *g;
    const nn_backend *be;
    int i;
    nn_node *n;
    int64_t N, sz;          /* samples in the pass; values of the node's output over them */
    const nn_node *a;       /* input 0 (NULL: none) */
    const float *x;         /* input 0's output */
    float *out;             /* forward: the node's output */
    float *dx;              /* backward: input 0's gradient, NULL when it needs none */
    const float *dout;      /* backward: the node's gradient */
} nn_step;

/* nn_kind_desc.reads: the activations a kind's backward reads */
enum { NN_READS_IN0 = 1, NN_READS_IN1 = 2, NN_READS_OUT = 4 };

/* One node kind (graph_kinds.c). */
typedef struct nn_kind_desc {
    const char *name;                        /* nn_kind_name */
    void (*forward)(const nn_step *s);       /* NULL: nothing runs */
    void (*backward)(const nn_step *s);      /* NULL: nothing runs */
    unsigned reads;                          /* NN_READS_* bits: what the memory plan keeps for backward */
    /* nn_graph_tail: node n rebuilt in t by its builder, its inputs mapped by map[]; NULL: the
     * kind cannot be copied (the input) */
    int (*copy)(nn_graph *t, const nn_node *n, const int *map);
} nn_kind_desc;

extern const nn_kind_desc nn_kinds[NN_KIND_COUNT];

#endif
