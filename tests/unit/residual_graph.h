/* residual_graph.h: the smallest graph whose tail after a node cannot stand alone, for the
 * tests of nn_graph_tail and of ACE's fall-back to the full graph. */
#ifndef DFS_RESIDUAL_GRAPH_H
#define DFS_RESIDUAL_GRAPH_H

#include "check.h"
#include "core/common.h"
#include "nn/graph.h"

/* input (3) -> a (dense 4) -> act (ReLU) -> b (dense 4) -> sum = b + a -> logits (dense 1): the
 * sum reads a, from before act. *act and *sum are those nodes; parameters not allocated. */
static inline nn_graph *residual_graph(int *act, int *sum)
{
    nn_graph *g = nn_graph_new();
    int x = nn_g_input(g, "input", 3, 1, 1);
    int a = nn_g_dense(g, "a", x, 4, 1);
    *act = nn_g_act(g, NN_RELU, "act", a);
    int b = nn_g_dense(g, "b", *act, 4, 1);
    *sum = nn_g_add(g, "sum", b, a);
    nn_g_dense(g, "logits", *sum, 1, 1);
    CHECK(nn_graph_check(g) == 0, "%s", dfs_error());
    return g;
}

#endif
