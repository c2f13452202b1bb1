/* gradcam.c: class-score gradients at one node and the weighted sum of its channels. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "nn/backend.h"
#include "nn/gradcam.h"

int nn_gradcam_layer(const nn_graph *g, const char *name)
{
    int i = nn_graph_find(g, name);
    if (i >= 0 && g->nodes[i].H * g->nodes[i].W > 1) return i;
    /* name the last few spatial nodes: the usual choices are near the end */
    char list[512];
    size_t o = 0;
    int shown = 0;
    for (int k = g->nnodes - 1; k > 0 && shown < 8; k--) {
        const nn_node *n = &g->nodes[k];
        if (n->H * n->W <= 1 || n->kind == NN_FLATTEN) continue;
        int w = snprintf(list + o, sizeof list - o, "%s%s", shown ? ", " : "", n->name);
        if (w < 0 || (size_t)w >= sizeof list - o) break;
        o += (size_t)w;
        shown++;
    }
    if (o == 0) list[0] = '\0';
    if (i >= 0) return dfs_fail("layer '%s' has no spatial extent (1x1); spatial layers near the end: %s", name, list);
    return dfs_fail("no layer '%s' in this model; spatial layers near the end: %s", name, list);
}

/* dL/d(output) that makes the backward pass compute d(class score). */
static void class_seed(const nn_graph *g, int cls, int64_t N, float *seed)
{
    int64_t C = nn_graph_output_size(g);
    memset(seed, 0, (size_t)(N * C) * sizeof(float));
    for (int64_t n = 0; n < N; n++) {
        if (C == 1) seed[n] = cls == NN_CAM_FAKE ? 1.0f : -1.0f;
        else seed[n * C + (cls == NN_CAM_FAKE ? 1 : 0)] = 1.0f;
    }
}

/* maps (host, N x H x W) from the layer's activations and their gradient after a backward: made
 * where the network ran (the backend's cam_map), so only the maps cross to the host. */
static int cam_maps(nn_graph *g, int layer, int64_t N, int relu, float *maps)
{
    const nn_backend *be = g->be;
    const nn_node *L = &g->nodes[layer];
    int64_t K = L->C, HW = L->H * L->W;
    size_t bytes = (size_t)(N * HW) * sizeof(float);
    const float *A = nn_graph_out_dev(g, layer), *G = nn_graph_grad_dev(g, layer);
    if (!A || !G) return -1;
    float *dmaps = be->host_memory ? maps : be->alloc(bytes);
    if (!dmaps) return dfs_fail("gradcam: alloc on %s: %s", be->name, be->last_error());
    be->cam_map(dmaps, A, G, N, K, HW, relu);
    int rc = 0;
    if (dmaps != maps && be->download(maps, dmaps, bytes) != 0)
        rc = dfs_fail("gradcam: download on %s: %s", be->name, be->last_error());
    if (rc == 0 && be->sync() != 0) rc = dfs_fail("gradcam on %s: %s", be->name, be->last_error());
    if (dmaps != maps) be->free(dmaps);
    return rc;
}

int nn_gradcam_batch(nn_graph *g, int layer, int cls, const float *x, int64_t N, int relu, float *maps,
                     float *guided)
{
    if (N > g->plan.batch) return dfs_fail("gradcam: batch of %lld above the graph's %lld", (long long)N, (long long)g->plan.batch);
    int64_t C = nn_graph_output_size(g);
    if (C != 1 && C != 2) return dfs_fail("gradcam: the model has %lld outputs (1 or 2 expected)", (long long)C);
    uint8_t *saved = dfs_malloc((size_t)g->nnodes);
    if (!g->run.want_grad) nn_graph_want_grad(g, 0, 0);
    memcpy(saved, g->run.want_grad, (size_t)g->nnodes);
    /* under NN_MEM_BACKWARD the forward plans memory for the gradients wanted at that time: the
     * union of what the two backward passes below read, and the layer's activations */
    memset(g->run.want_grad, 0, (size_t)g->nnodes);
    nn_graph_want_grad(g, layer, 1);
    if (guided) nn_graph_want_grad(g, 0, 1);
    nn_graph_keep(g, layer, 1);
    if (nn_graph_forward(g, x, N, NN_EVAL) != 0) {
        memcpy(g->run.want_grad, saved, (size_t)g->nnodes);
        free(saved);
        return -1;
    }
    float *seed = dfs_malloc((size_t)(N * C) * sizeof(float));
    class_seed(g, cls, N, seed);

    memset(g->run.want_grad, 0, (size_t)g->nnodes);
    g->run.guided_relu = 0;
    nn_graph_want_grad(g, layer, 1);
    if (nn_graph_backward(g, seed) != 0 || cam_maps(g, layer, N, relu, maps) != 0) {
        memcpy(g->run.want_grad, saved, (size_t)g->nnodes);
        free(saved);
        free(seed);
        return -1;
    }

    if (guided) {
        memset(g->run.want_grad, 0, (size_t)g->nnodes);
        nn_graph_want_grad(g, 0, 1);
        g->run.guided_relu = 1;
        int rc = nn_graph_backward(g, seed);
        g->run.guided_relu = 0;
        if (rc != 0 || nn_graph_fetch(g, 0, NN_FETCH_GRAD) != 0) {
            memcpy(g->run.want_grad, saved, (size_t)g->nnodes);
            free(saved);
            free(seed);
            return -1;
        }
        memcpy(guided, g->nodes[0].dout, (size_t)(N * nn_node_size(g, 0)) * sizeof(float));
    }
    memcpy(g->run.want_grad, saved, (size_t)g->nnodes);
    free(saved);
    free(seed);
    return 0;
}
