/* graph_impl.h: what the graph's source files share; private to lib/nn/graph*.c (everyone else
 * includes graph.h). The graph's code by job:
 *   graph.c         a graph's life, kind names, parameter buffers, lookup and counting
 *   graph_build.c   the builders (nn_g_*) and nn_graph_check
 *   graph_mirror.c  backend memory: regions, pointer translation, host <-> backend moves
 *   graph_plan.c    the memory plan: lifetimes, packing, fusion, the arena layout
 *   graph_run.c     forward and backward
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

/* dfs_die naming op, the backend and its last error */
void graph_be_die(const nn_graph *g, const char *op);
/* The backend copy of host buffer `host` (bytes long) as region r: allocated, and filled from
 * the host when `upload`. Nothing on a host-memory backend. */
void graph_region_set(nn_graph *g, int r, void *host, size_t bytes, int upload);
/* Backend pointer of a host-mirror pointer (identity on a host-memory backend). */
void *graph_dv(const nn_graph *g, const void *h);
#define DV(p) ((__typeof__(p))graph_dv(g, (p)))
/* Test backend: NaN-fill a host mirror that has gone stale. */
void graph_poison(const nn_graph *g, void *host, size_t bytes);
/* Copy bytes at off of region r between host and backend: 0, or -1 with an error. */
int graph_region_copy(const nn_graph *g, int r, int to_host, size_t off, size_t bytes);
/* Free every backend copy and the backend's conv scratch. */
void graph_dev_free_all(nn_graph *g);
/* (Re)allocate the conv scratch in backend memory (g->plan.scratch_floats). */
void graph_scratch_set(nn_graph *g);
/* The arena region holding p and its offset there: 0, or -1 when p is in neither arena. */
int graph_arena_off(const nn_graph *g, const void *p, int *r, size_t *off);

/* ---- memory plan (graph_plan.c) ---- */

static inline int plans_backward(int plan) { return plan == NN_MEM_BACKWARD || plan == NN_MEM_TRAIN; }

/* need_grad[] from want_grad[] and trainability */
void graph_compute_need(nn_graph *g);
/* Whether the layout must be redone before the next forward. */
int graph_plan_changed(nn_graph *g);
/* Lay out the arena for N samples under the current plan. */
void graph_layout(nn_graph *g, int64_t N);
/* Point every node's dout into the gradient buffers (NULL where it has none). */
void graph_set_dout_pointers(nn_graph *g);

#endif
