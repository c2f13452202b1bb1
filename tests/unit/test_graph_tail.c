/* test_graph_tail: nn_graph_tail (the nodes after one node as a graph of their own, which ACE
 * reruns for its interventions) computes, from that node's activations, what the full graph
 * computes: for every architecture, at its ACE and Grad-CAM layers and at the first node whose
 * tail stands alone (which keeps almost every node kind of the architecture), on cpu and on the
 * cpu-split test device. The tail runs the same ops on the same shapes and batch as the full
 * graph, so the outputs are compared bit for bit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/common.h"
#include "nn/backend.h"
#include "nn/graph.h"
#include "nn/models.h"
#include "residual_graph.h"
#include "core/rng.h"

#define SIZE 40   /* odd map sizes after the strides: 'same' padding is asymmetric somewhere */
#define BATCH 2

/* Random running statistics, so that a tail that did not copy them computes something else. */
static void perturb_stats(nn_graph *g, uint64_t seed)
{
    dfs_rng r;
    dfs_rng_seed(&r, seed);
    for (int k = 0; k < g->ntensors; k++) {
        const nn_tensor *t = &g->tensors[k];
        if (!t->is_stat) continue;
        int var = strstr(t->name, "running_var") != NULL;
        float *v = nn_tensor_data(g, k);
        for (int64_t i = 0; i < t->n; i++) v[i] = var ? 0.5f + dfs_rng_uniformf(&r) : dfs_rng_uniformf(&r) - 0.5f;
    }
}

/* The first node after the input whose tail stands alone. */
static int first_tail_node(const nn_graph *g)
{
    for (int i = 1; i < g->output; i++) {
        nn_graph *t = nn_graph_tail(g, i);
        if (t) {
            nn_graph_free(t);
            return i;
        }
    }
    return -1;
}

/* Every window op of the tail has the settings (padding included) of its original; N, the
 * batch, is each graph's own. */
static void check_padding(const nn_graph *g, const nn_graph *t, const char *arch)
{
    for (int i = 1; i < t->nnodes; i++) {
        const nn_node *a = &t->nodes[i];
        const nn_node *b = &g->nodes[nn_graph_find(g, a->name)];
        if (a->kind == NN_CONV) {
            nn_conv x = a->conv, y = b->conv;
            x.N = y.N = 1;
            CHECK(!memcmp(&x, &y, sizeof x) && a->same == b->same, "%s: %s: conv differs", arch, a->name);
        }
        if (a->kind == NN_MAXPOOL || a->kind == NN_AVGPOOL) {
            nn_pool x = a->pool, y = b->pool;
            x.N = y.N = 1;
            CHECK(!memcmp(&x, &y, sizeof x) && a->same == b->same, "%s: %s: pool differs", arch, a->name);
        }
    }
}

/* The tail of g from `layer` on be, fed g's activations there, against g's output. */
static void check_tail(nn_graph *g, const nn_backend *be, int layer, const float *x, const float *want,
                       const char *arch)
{
    const char *lname = g->nodes[layer].name;
    nn_graph *t = nn_graph_tail(g, layer);
    CHECK(t != NULL, "%s: no tail after %s: %s", arch, lname, dfs_error());
    if (!t) return;
    CHECK(t->be == be && t->nodes[0].kind == NN_INPUT && !strcmp(t->nodes[0].name, lname), "%s: %s: tail's input",
          arch, lname);
    CHECK(!strcmp(t->nodes[t->output].name, g->nodes[g->output].name), "%s: %s: tail's output", arch, lname);
    check_padding(g, t, arch);
    nn_graph_set_memory(g, NN_MEM_FORWARD);
    nn_graph_keep(g, layer, 1);
    CHECK(nn_graph_set_batch(g, BATCH) == 0, "set_batch: %s", dfs_error());
    CHECK(nn_graph_forward(g, x, BATCH, NN_EVAL) == 0, "%s", dfs_error());
    nn_graph_set_memory(t, NN_MEM_FORWARD);
    CHECK(nn_graph_set_batch(t, BATCH) == 0, "set_batch: %s", dfs_error());
    const float *h = nn_graph_out_dev(g, layer);
    int64_t ran = t->plan.fused_ops;
    CHECK(h && nn_graph_forward_dev(t, h, BATCH, 1, NN_EVAL) == 0, "%s: %s: %s", arch, lname, dfs_error());
    /* forward_dev runs the fused pairs of its plan as nn_graph_forward does */
    int64_t pairs = 0;
    for (int i = 0; i < t->nnodes && t->plan.fused; i++) pairs += (t->plan.fused[i] & NN_FUSED_ACT) != 0;
    CHECK(t->plan.fused_ops - ran == pairs, "%s: %s: the tail ran %lld fused ops, its plan has %lld pairs", arch, lname,
          (long long)(t->plan.fused_ops - ran), (long long)pairs);
    const float *got = nn_graph_output(t);
    int64_t n = BATCH * nn_graph_output_size(g);
    CHECK(got && nn_graph_output_size(t) == nn_graph_output_size(g), "%s: %s: output", arch, lname);
    if (got) {
        int same = !memcmp(got, want, (size_t)n * sizeof(float));
        CHECK(same, "%s on %s: tail after %s: %.9g, full graph %.9g", arch, be->name, lname, got[0], want[0]);
    }
    nn_graph_keep(g, layer, 0);
    nn_graph_free(t);
}

static void test_every_architecture(void)
{
    const nn_backend *bes[2] = {nn_backend_open("cpu"), nn_backend_open("cpu-split")};
    CHECK(bes[0] && bes[1], "%s", dfs_error());
    float *x = dfs_malloc((size_t)BATCH * 3 * SIZE * SIZE * sizeof(float));
    dfs_rng r;
    dfs_rng_seed(&r, 3);
    for (int64_t i = 0; i < BATCH * 3 * SIZE * SIZE; i++) x[i] = dfs_rng_uniformf(&r);
    for (const nn_model_info *m = nn_models; m->name; m++) {
        nn_graph *g = nn_model_build(m->name, SIZE);
        CHECK(g != NULL, "%s", dfs_error());
        if (!g) continue;
        dfs_rng init;
        dfs_rng_seed(&init, 1);
        CHECK(nn_graph_alloc_params(g, &init) == 0, "alloc_params: %s", dfs_error());
        perturb_stats(g, 2);
        int layers[3] = {m->ace_layer ? nn_graph_find(g, m->ace_layer) : -1, nn_graph_find(g, m->cam_layer),
                         first_tail_node(g)};
        CHECK(layers[1] >= 0 && layers[2] > 0, "%s: layers", m->name);
        /* the reference: the whole graph on cpu */
        CHECK(nn_graph_set_batch(g, BATCH) == 0, "set_batch: %s", dfs_error());
        CHECK(nn_graph_forward(g, x, BATCH, NN_EVAL) == 0, "%s", dfs_error());
        int64_t n = BATCH * nn_graph_output_size(g);
        float *want = dfs_malloc((size_t)n * sizeof(float));
        memcpy(want, nn_graph_output(g), (size_t)n * sizeof(float));
        for (int b = 0; b < 2; b++) {
            if (nn_graph_set_backend(g, bes[b]) != 0) {
                CHECK(0, "%s", dfs_error());
                continue;
            }
            for (int k = 0; k < 3; k++)
                if (layers[k] >= 0) check_tail(g, bes[b], layers[k], x, want, m->name);
        }
        free(want);
        nn_graph_free(g);
    }
    free(x);
}

/* A tail that would need a node before its input is refused, naming the residual. */
static void test_residual_refused(void)
{
    int h, s;
    nn_graph *g = residual_graph(&h, &s);
    CHECK(nn_graph_tail(g, h) == NULL && strstr(dfs_error(), "no parameters"), "before alloc: %s", dfs_error());
    dfs_rng r;
    dfs_rng_seed(&r, 1);
    CHECK(nn_graph_alloc_params(g, &r) == 0, "alloc_params: %s", dfs_error());
    CHECK(nn_graph_tail(g, h) == NULL && strstr(dfs_error(), "sum reads a, which comes before act"), "%s",
          dfs_error());
    CHECK(nn_graph_tail(g, g->output) == NULL, "the output has no tail");
    nn_graph *t = nn_graph_tail(g, s);   /* after the residual: just the logits */
    CHECK(t && t->nnodes == 2 && t->nodes[1].kind == NN_DENSE, "tail after the sum");
    if (t) nn_graph_free(t);
    nn_graph_free(g);
}

/* Settings that are not parameters carry over: a frozen batchnorm, trainability, L2, fusion. */
static void test_settings_carried(void)
{
    nn_graph *g = nn_model_build("shallownet", 32);
    CHECK(g != NULL, "%s", dfs_error());
    if (!g) return;
    dfs_rng r;
    dfs_rng_seed(&r, 1);
    CHECK(nn_graph_alloc_params(g, &r) == 0, "alloc_params: %s", dfs_error());
    const char *only[1] = {"head.logits"};
    CHECK(nn_graph_train_only(g, only, 1) == 0, "%s", dfs_error());
    int w = nn_graph_find_tensor(g, "head.logits.weight");
    g->tensors[w].l2 = 0.25f;
    nn_graph_set_fuse(g, 0);
    g->run.frozen_bn_moving = 1;
    nn_graph *t = nn_graph_tail(g, nn_graph_find(g, "block3.relu2"));
    CHECK(t != NULL, "%s", dfs_error());
    if (t) {
        int bn = nn_graph_find(t, "head.bn"), tw = nn_graph_find_tensor(t, "head.logits.weight");
        CHECK(bn > 0 && t->nodes[bn].frozen, "head.bn frozen");
        CHECK(tw >= 0 && t->tensors[tw].trainable && t->tensors[tw].l2 == 0.25f, "logits weight settings");
        int d1 = nn_graph_find_tensor(t, "head.dense1.weight");
        CHECK(d1 >= 0 && !t->tensors[d1].trainable, "dense1 not trainable");
        CHECK(t->plan.fuse == 0 && t->run.frozen_bn_moving == 1, "graph settings");
        nn_graph_free(t);
    }
    nn_graph_free(g);
}

int main(void)
{
    RUN(test_every_architecture);
    RUN(test_residual_refused);
    RUN(test_settings_carried);
    return CHECK_DONE();
}
