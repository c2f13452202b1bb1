/* test_graph_memory: the graph's memory plans (graph.h, nn_graph_set_memory). Every plan must
 * give bit-identical results to NN_MEM_ALL (each node in its own buffer) for every study
 * architecture: outputs, parameter gradients, wanted activation gradients, Grad-CAM maps and
 * guided gradients, forward_from reruns; and the lean plans must use less memory. */
#include "check.h"
#include "core/common.h"
#include "nn/backend.h"
#include "nn/gradcam.h"
#include "nn/graph.h"
#include "nn/models.h"

#include <stdlib.h>
#include <string.h>

#include "tiny_archs.h"

static nn_graph *build_at(int a, int64_t size, int plan, int train)
{
    nn_graph *g = nn_model_build(archs[a].arch, size);
    CHECK(g && nn_graph_check(g) == 0, "%s: %s", archs[a].arch, dfs_error());
    dfs_rng rng;
    dfs_rng_seed(&rng, 5);
    CHECK(nn_graph_alloc_params(g, &rng) == 0, "alloc_params: %s", dfs_error());
    CHECK(!train || nn_graph_alloc_train(g) == 0, "alloc_train: %s", dfs_error());
    nn_graph_set_memory(g, plan);
    return g;
}

static nn_graph *build(int a, int plan, int train)
{
    return build_at(a, archs[a].size, plan, train);
}

static float *input_at(int64_t size, unsigned seed)
{
    return tiny_input(N, size, seed);
}

static float *input(int a, unsigned seed)
{
    return input_at(archs[a].size, seed);
}

static int same(const float *a, const float *b, int64_t n)
{
    return !memcmp(a, b, (size_t)n * sizeof(float));
}

static size_t total_bytes(const nn_graph *g)
{
    size_t gb = 0, ab = nn_graph_memory(g, &gb);
    return ab + gb;
}

/* inference: same logits, less memory */
static void test_forward_plan(void)
{
    for (int a = 0; a < NARCH; a++) {
        nn_graph *ga = build(a, NN_MEM_ALL, 0), *gf = build(a, NN_MEM_FORWARD, 0);
        CHECK(nn_graph_set_batch(ga, N) == 0, "set_batch: %s", dfs_error());
        CHECK(nn_graph_set_batch(gf, N) == 0, "set_batch: %s", dfs_error());
        float *x = input(a, 1);
        for (int rep = 0; rep < 2; rep++) {   /* twice: reused buffers hold the first pass's values */
            CHECK(nn_graph_forward(ga, x, N, NN_EVAL) == 0, "%s", dfs_error());
            CHECK(nn_graph_forward(gf, x, N, NN_EVAL) == 0, "%s", dfs_error());
            CHECK(same(nn_graph_output(ga), nn_graph_output(gf), N * nn_graph_output_size(ga)),
                  "%s: forward plan changes the output", archs[a].arch);
        }
        size_t all = total_bytes(ga), fwd = total_bytes(gf);
        CHECK(fwd * 2 < all, "%s: forward plan %zu bytes, all %zu", archs[a].arch, fwd, all);
        size_t gb = 1;
        nn_graph_memory(gf, &gb);
        CHECK(gb == 0, "%s: inference allocated %zu gradient bytes", archs[a].arch, gb);
        printf("# %s %lldx%lld batch %d: inference %.2f MB (all: %.2f MB)\n", archs[a].arch, (long long)archs[a].size,
               (long long)archs[a].size, N, fwd / 1e6, all / 1e6);
        free(x);
        nn_graph_free(ga);
        nn_graph_free(gf);
    }
}

/* training steps: same parameter gradients, input gradient and outputs, less memory; the
 * training plan (one arena for activations and gradients) less again */
static void test_backward_plan(void)
{
    for (int a = 0; a < NARCH; a++) {
        nn_graph *g[3] = {build(a, NN_MEM_ALL, 1), build(a, NN_MEM_BACKWARD, 1), build(a, NN_MEM_TRAIN, 1)};
        int64_t K = 0;
        for (int v = 0; v < 3; v++) {
            nn_graph_want_grad(g[v], 0, 1);
            CHECK(nn_graph_set_batch(g[v], N) == 0, "set_batch: %s", dfs_error());
            K = nn_graph_output_size(g[v]);
        }
        float *dl = malloc((size_t)(N * K) * sizeof *dl);
        for (int step = 0; step < 2; step++) {
            float *x = input(a, 10u + (unsigned)step);
            for (int64_t i = 0; i < N * K; i++) dl[i] = (float)((i * 7 + step) % 5) - 2.0f;
            for (int v = 0; v < 3; v++) {
                CHECK(nn_graph_forward(g[v], x, N, NN_TRAIN) == 0, "%s", dfs_error());
                nn_graph_zero_grad(g[v]);
                CHECK(nn_graph_backward(g[v], dl) == 0, "%s", dfs_error());
            }
            for (int v = 1; v < 3; v++) {
                CHECK(same(nn_graph_output(g[0]), nn_graph_output(g[v]), N * K), "%s step %d plan %d: outputs differ",
                      archs[a].arch, step, v);
                CHECK(same(g[0]->train.grads, g[v]->train.grads, (int64_t)g[0]->nparams),
                      "%s step %d plan %d: parameter gradients differ", archs[a].arch, step, v);
                CHECK(same(g[0]->nodes[0].dout, g[v]->nodes[0].dout, N * nn_node_size(g[0], 0)),
                      "%s step %d plan %d: input gradients differ", archs[a].arch, step, v);
            }
            free(x);
        }
        size_t all = total_bytes(g[0]), bwd = total_bytes(g[1]), trn = total_bytes(g[2]);
        CHECK(bwd < all * 3 / 4, "%s: backward plan %zu bytes, all %zu", archs[a].arch, bwd, all);
        CHECK(trn < bwd, "%s: training plan %zu bytes, backward plan %zu", archs[a].arch, trn, bwd);
        printf("# %s %lldx%lld batch %d: training %.2f MB, one-backward training %.2f MB (all: %.2f MB)\n",
               archs[a].arch, (long long)archs[a].size, (long long)archs[a].size, N, bwd / 1e6, trn / 1e6, all / 1e6);
        free(dl);
        for (int v = 0; v < 3; v++) nn_graph_free(g[v]);
    }
}

/* Grad-CAM (eval backward to a layer, then guided backward to the input) */
static void test_gradcam_plan(void)
{
    for (int a = 0; a < NARCH; a++) {
        const nn_model_info *m = nn_model_find(archs[a].arch);
        /* the default layers of xception and efficientnet-b0 are 1x1 at 32 */
        int64_t size = archs[a].size < 64 && a >= 3 ? 64 : archs[a].size;
        nn_graph *g[2] = {build_at(a, size, NN_MEM_ALL, 0), build_at(a, size, NN_MEM_BACKWARD, 0)};
        int layer = nn_gradcam_layer(g[0], m->cam_layer);
        CHECK(layer > 0, "%s: %s", archs[a].arch, dfs_error());
        if (layer <= 0) {
            nn_graph_free(g[0]);
            nn_graph_free(g[1]);
            continue;
        }
        int64_t hw = g[0]->nodes[layer].H * g[0]->nodes[layer].W, in = nn_node_size(g[0], 0);
        float *maps[2], *guided[2];
        float *x = input_at(size, 3);
        for (int v = 0; v < 2; v++) {
            CHECK(nn_graph_set_batch(g[v], N) == 0, "set_batch: %s", dfs_error());
            maps[v] = malloc((size_t)(N * hw) * sizeof(float));
            guided[v] = malloc((size_t)(N * in) * sizeof(float));
            for (int rep = 0; rep < 2; rep++)
                CHECK(nn_gradcam_batch(g[v], layer, NN_CAM_FAKE, x, N, 1, maps[v], rep ? guided[v] : NULL) == 0, "%s",
                      dfs_error());
        }
        CHECK(same(maps[0], maps[1], N * hw), "%s: Grad-CAM maps differ", archs[a].arch);
        CHECK(same(guided[0], guided[1], N * in), "%s: guided gradients differ", archs[a].arch);
        CHECK(total_bytes(g[1]) < total_bytes(g[0]), "%s: cam %zu bytes, all %zu", archs[a].arch, total_bytes(g[1]),
              total_bytes(g[0]));
        for (int v = 0; v < 2; v++) free(maps[v]), free(guided[v]), nn_graph_free(g[v]);
        free(x);
    }
}

/* forward_from a kept node reruns only what follows it, reading kept values (ace's interventions) */
static void test_forward_from_kept(void)
{
    for (int a = 0; a < NARCH; a++) {
        const nn_model_info *m = nn_model_find(archs[a].arch);
        nn_graph *g[2] = {build(a, NN_MEM_ALL, 0), build(a, NN_MEM_FORWARD, 0)};
        int layer = nn_graph_find(g[0], m->ace_layer ? m->ace_layer : m->cam_layer);
        CHECK(layer > 0, "%s: no layer", archs[a].arch);
        nn_graph_keep(g[1], layer, 1);
        float *x = input(a, 4);
        int64_t S = nn_node_size(g[0], layer), K = nn_graph_output_size(g[0]);
        for (int v = 0; v < 2; v++) {
            CHECK(nn_graph_set_batch(g[v], N) == 0, "set_batch: %s", dfs_error());
            CHECK(nn_graph_forward(g[v], x, N, NN_EVAL) == 0, "%s", dfs_error());
        }
        CHECK(same(g[0]->nodes[layer].out, g[1]->nodes[layer].out, N * S), "%s: kept layer differs", archs[a].arch);
        for (int c = 0; c < 3; c++) {
            for (int v = 0; v < 2; v++) {
                float *o = g[v]->nodes[layer].out;
                for (int64_t i = 0; i < N * S; i += 1 + c) o[i] = 0.5f * (float)c;
                CHECK(nn_graph_forward_from(g[v], layer, NN_EVAL) == 0, "%s", dfs_error());
            }
            CHECK(same(nn_graph_output(g[0]), nn_graph_output(g[1]), N * K), "%s: rerun %d differs", archs[a].arch,
                  c);
        }
        /* a node that is not kept cannot be a rerun point */
        CHECK(nn_graph_forward_from(g[1], layer - 1, NN_EVAL) == -1, "%s: forward_from an unkept node accepted",
              archs[a].arch);
        free(x);
        nn_graph_free(g[0]);
        nn_graph_free(g[1]);
    }
}

/* wanting a gradient after the layout: the next forward lays the arena out again */
static void test_replan(void)
{
    int a = NARCH - 1;   /* efficientnet-b0: branches, flatten-free, squeeze-excitation */
    nn_graph *g[2] = {build(a, NN_MEM_ALL, 1), build(a, NN_MEM_BACKWARD, 1)};
    int64_t K = nn_graph_output_size(g[0]);
    float *dl = malloc((size_t)(N * K) * sizeof *dl), *x = input(a, 6);
    for (int64_t i = 0; i < N * K; i++) dl[i] = i % 2 ? 1.0f : -0.5f;
    for (int v = 0; v < 2; v++) {
        CHECK(nn_graph_set_batch(g[v], N) == 0, "set_batch: %s", dfs_error());
        CHECK(nn_graph_forward(g[v], x, N, NN_TRAIN) == 0, "%s", dfs_error());
        CHECK(nn_graph_backward(g[v], dl) == 0, "%s", dfs_error());
    }
    size_t before = total_bytes(g[1]);
    int mid = g[0]->nnodes / 2;
    for (int v = 0; v < 2; v++) {
        nn_graph_want_grad(g[v], mid, 1);
        nn_graph_want_grad(g[v], 0, 1);
        nn_graph_zero_grad(g[v]);
        CHECK(nn_graph_forward(g[v], x, N, NN_TRAIN) == 0, "%s", dfs_error());
        CHECK(nn_graph_backward(g[v], dl) == 0, "%s", dfs_error());
    }
    CHECK(total_bytes(g[1]) > before, "wanting gradients did not change the layout (%zu bytes)", before);
    CHECK(same(g[0]->train.grads, g[1]->train.grads, (int64_t)g[0]->nparams), "parameter gradients differ after re-plan");
    CHECK(same(g[0]->nodes[mid].dout, g[1]->nodes[mid].dout, N * nn_node_size(g[0], mid)),
          "wanted gradient of %s differs", g[0]->nodes[mid].name);
    CHECK(same(g[0]->nodes[0].dout, g[1]->nodes[0].dout, N * nn_node_size(g[0], 0)), "input gradient differs");
    free(dl), free(x);
    nn_graph_free(g[0]);
    nn_graph_free(g[1]);
}

/* A small graph by hand (input 2x5x5, conv, relu, global pool, dense) under `plan`, batch 2;
 * tiny_input's 3-channel samples are more than its input reads. */
static nn_graph *small(int plan, int train)
{
    nn_graph *g = nn_graph_new();
    int x = nn_g_input(g, "in", 2, 5, 5);
    x = nn_g_conv(g, "conv", x, 3, 3, 1, 1, 1, 1, 1);
    x = nn_g_act(g, NN_RELU, "relu", x);
    x = nn_g_global_avgpool(g, "gap", x);
    nn_g_dense(g, "dense", x, 2, 1);
    CHECK(nn_graph_check(g) == 0, "%s", dfs_error());
    dfs_rng rng;
    dfs_rng_seed(&rng, 3);
    CHECK(nn_graph_alloc_params(g, &rng) == 0, "alloc_params: %s", dfs_error());
    CHECK(!train || nn_graph_alloc_train(g) == 0, "alloc_train: %s", dfs_error());
    nn_graph_set_memory(g, plan);
    CHECK(nn_graph_set_batch(g, 2) == 0, "set_batch: %s", dfs_error());
    return g;
}

static int failed_with(const char *part)
{
    return strstr(dfs_error(), part) != NULL;
}

/* A backward the plan does not allow returns -1 with the reason, and the graph stays usable. */
static void test_backward_misuse(void)
{
    float *x = tiny_input(2, 5, 1), dl[4] = {0.5f, -0.25f, 1.0f, 0.125f};

    nn_graph *g = small(NN_MEM_FORWARD, 0);
    CHECK(nn_graph_forward(g, x, 2, NN_EVAL) == 0, "%s", dfs_error());
    CHECK(nn_graph_backward(g, dl) == -1 && failed_with("forward-only"), "forward-only plan: %s", dfs_error());
    nn_graph_free(g);

    g = small(NN_MEM_TRAIN, 1);
    CHECK(nn_graph_forward(g, x, 2, NN_TRAIN) == 0, "%s", dfs_error());
    CHECK(nn_graph_backward(g, dl) == 0, "%s", dfs_error());
    CHECK(nn_graph_backward(g, dl) == -1 && failed_with("second backward"), "second backward: %s", dfs_error());
    CHECK(nn_graph_forward(g, x, 2, NN_TRAIN) == 0, "%s", dfs_error());
    CHECK(nn_graph_backward(g, dl) == 0, "backward after a new forward: %s", dfs_error());
    nn_graph_free(g);

    /* want_grad marked after the forward: its gradient has no buffer in the forward's plan */
    g = small(NN_MEM_BACKWARD, 0);
    CHECK(nn_graph_forward(g, x, 2, NN_EVAL) == 0, "%s", dfs_error());
    nn_graph_want_grad(g, nn_graph_find(g, "relu"), 1);
    CHECK(nn_graph_backward(g, dl) == -1 && failed_with("did not plan for"), "unplanned gradient: %s", dfs_error());
    CHECK(nn_graph_forward(g, x, 2, NN_EVAL) == 0, "%s", dfs_error());   /* re-plans */
    CHECK(nn_graph_backward(g, dl) == 0 && nn_graph_fetch(g, nn_graph_find(g, "relu"), NN_FETCH_GRAD) == 0,
          "backward after the re-planning forward: %s", dfs_error());
    nn_graph_free(g);
    free(x);
}

/* the test device with an upload, a download and a sync that fail when armed */
static int upload_armed, sync_armed, download_armed;
static int (*split_upload)(void *dst, const void *host_src, size_t bytes);
static int (*split_sync)(void);
static int (*split_download)(void *host_dst, const void *src, size_t bytes);
static int failing_upload(void *dst, const void *src, size_t bytes)
{
    return upload_armed ? -1 : split_upload(dst, src, bytes);
}
static int failing_sync(void) { return sync_armed ? -1 : split_sync(); }
static int failing_download(void *dst, const void *src, size_t bytes)
{
    return download_armed ? -1 : split_download(dst, src, bytes);
}
static const char *failing_error(void) { return "refused (test)"; }

/* Backend failures in the output's download, backward and the L2 penalty return -1 with the op and the backend's
 * message, and the graph works again once the backend does. */
static void test_backend_failures(void)
{
    const nn_backend *split = nn_backend_open("cpu-split");
    CHECK(split != NULL, "%s", dfs_error());
    if (!split) return;
    nn_backend be = *split;
    split_upload = split->upload;
    split_sync = split->sync;
    split_download = split->download;
    be.upload = failing_upload;
    be.sync = failing_sync;
    be.download = failing_download;
    be.last_error = failing_error;
    float *x = tiny_input(2, 5, 2), dl[4] = {1, 0, 0, 1};
    for (int train = 0; train < 2; train++) {   /* the L2 penalty on the backend (grads) and on the host */
        nn_graph *g = small(NN_MEM_BACKWARD, train);
        g->tensors[nn_graph_find_tensor(g, "conv.weight")].l2 = 0.01f;
        nn_graph_want_grad(g, nn_graph_find(g, "relu"), 1);   /* a gradient to seed without parameter ones */
        CHECK(nn_graph_set_backend(g, &be) == 0, "%s", dfs_error());
        CHECK(nn_graph_forward(g, x, 2, NN_TRAIN) == 0, "%s", dfs_error());
        download_armed = 1;
        CHECK(nn_graph_output(g) == NULL && failed_with("output: graph: download: refused (test)"),
              "failed download: %s", dfs_error());
        download_armed = 0;
        CHECK(nn_graph_output(g) != NULL, "output once the download works: %s", dfs_error());
        upload_armed = 1;
        CHECK(nn_graph_backward(g, dl) == -1 && failed_with("upload of the output gradient on cpu-split") &&
                  failed_with("refused (test)"),
              "failed upload: %s", dfs_error());
        upload_armed = 0;
        CHECK(nn_graph_backward(g, dl) == 0, "backward once the upload works: %s", dfs_error());
        double pen = -1, pen2 = -1;
        sync_armed = 1;
        CHECK(nn_graph_l2(g, &pen) == -1 && pen == -1 && failed_with("refused (test)") &&
                  failed_with(train ? "l2 penalty on cpu-split" : "l2: graph: sync"),
              "failed sync (train %d): %s", train, dfs_error());
        sync_armed = 0;
        CHECK(nn_graph_l2(g, &pen2) == 0 && pen2 > 0, "L2 once the sync works: %s", dfs_error());
        nn_graph_free(g);
    }
    free(x);
}

/* the test device whose n-th backend allocation from now (alloc_fail_at = n, one-shot) and
 * whose pinned host allocations (host_alloc_armed) fail, on top of the hooks above */
static int alloc_fail_at, host_alloc_armed;
static void *(*split_alloc)(size_t bytes);
static void *(*split_host_alloc)(size_t bytes);
static void *failing_alloc(size_t bytes)
{
    if (alloc_fail_at > 0 && --alloc_fail_at == 0) return NULL;
    return split_alloc(bytes);
}
static void *failing_host_alloc(size_t bytes) { return host_alloc_armed ? NULL : split_host_alloc(bytes); }
/* and that counts the ops handed pointers of its convolution forwards, zeroing and Adam */
static int conv_ops, zero_ops, adam_ops;
static void (*split_conv2d_forward)(float *, const float *, const float *, const float *, const nn_conv *, float *);
static void (*split_zero)(void *, size_t);
static void (*split_adam_update)(float *, const float *, float *, float *, const nn_adam *, int64_t);
static void counting_conv2d_forward(float *out, const float *in, const float *w, const float *b, const nn_conv *c,
                                    float *scratch)
{
    conv_ops++;
    split_conv2d_forward(out, in, w, b, c, scratch);
}
static void counting_zero(void *dst, size_t bytes)
{
    zero_ops++;
    split_zero(dst, bytes);
}
static void counting_adam_update(float *p, const float *g, float *m, float *v, const nn_adam *a, int64_t n)
{
    adam_ops++;
    split_adam_update(p, g, m, v, a, n);
}

static int failing_backend(nn_backend *be)
{
    const nn_backend *split = nn_backend_open("cpu-split");
    CHECK(split != NULL, "%s", dfs_error());
    if (!split) return -1;
    *be = *split;
    split_upload = split->upload;
    split_sync = split->sync;
    split_download = split->download;
    split_alloc = split->alloc;
    split_host_alloc = split->host_alloc;
    split_conv2d_forward = split->conv2d_forward;
    split_zero = split->zero;
    split_adam_update = split->adam_update;
    be->upload = failing_upload;
    be->conv2d_forward = counting_conv2d_forward;
    be->zero = counting_zero;
    be->adam_update = counting_adam_update;
    be->sync = failing_sync;
    be->download = failing_download;
    be->alloc = failing_alloc;
    be->host_alloc = failing_host_alloc;
    be->last_error = failing_error;
    return 0;
}

/* Backend allocations and uploads that fail while the graph sets up its memory (the batch's
 * arena and conv scratch, a re-layout at forward, the move to a backend, parameters, training
 * buffers, the gradient arena, pinned input memory) return -1 or NULL with the op and the
 * backend's message instead of exiting; the graph works again once the backend does, or
 * (after a failure the caller went on from) its passes fail with the internal error. */
static void test_backend_alloc_failures(void)
{
    nn_backend be;
    if (failing_backend(&be) != 0) return;
    float *x = tiny_input(2, 5, 4), dl[4] = {1, 0, 0, 1};
    nn_graph *ref = small(NN_MEM_FORWARD, 0);
    CHECK(nn_graph_forward(ref, x, 2, NN_EVAL) == 0, "%s", dfs_error());
    const float *want = nn_graph_output(ref);

    /* the batch's arena, then its conv scratch */
    nn_graph *g = small(NN_MEM_FORWARD, 0);
    CHECK(nn_graph_set_backend(g, &be) == 0, "%s", dfs_error());
    alloc_fail_at = 1;
    CHECK(nn_graph_set_batch(g, 2) == -1 && failed_with("graph: alloc on cpu-split: refused (test)"),
          "arena: %s", dfs_error());
    CHECK(nn_graph_forward(g, x, 2, NN_EVAL) == -1 && failed_with("exceeds the arena's 0"),
          "forward without an arena: %s", dfs_error());
    alloc_fail_at = 2;
    CHECK(nn_graph_set_batch(g, 2) == -1 && failed_with("graph: alloc conv scratch on cpu-split: refused (test)"),
          "scratch: %s", dfs_error());
    CHECK(nn_graph_set_batch(g, 2) == 0, "set_batch once the backend allocates: %s", dfs_error());
    CHECK(nn_graph_forward(g, x, 2, NN_EVAL) == 0, "%s", dfs_error());
    const float *got = nn_graph_output(g);
    CHECK(got && same(got, want, 4), "output after the failures differs from the cpu's");
    /* a plan changed after set_batch is laid out by the next forward */
    nn_graph_set_memory(g, NN_MEM_ALL);
    alloc_fail_at = 1;
    CHECK(nn_graph_forward(g, x, 2, NN_EVAL) == -1 && failed_with("graph: alloc on cpu-split: refused (test)"),
          "re-layout at forward: %s", dfs_error());
    CHECK(nn_graph_set_batch(g, 2) == 0 && nn_graph_forward(g, x, 2, NN_EVAL) == 0, "%s", dfs_error());
    got = nn_graph_output(g);
    CHECK(got && same(got, want, 4), "output after the failed re-layout differs from the cpu's");
    /* pinned input memory */
    host_alloc_armed = 1;
    CHECK(nn_graph_host_alloc(g, 12) == NULL && failed_with("graph: pinned host memory (12 bytes) on cpu-split: refused (test)"),
          "host_alloc: %s", dfs_error());
    host_alloc_armed = 0;
    void *h = nn_graph_host_alloc(g, 12);
    CHECK(h != NULL, "host_alloc once the backend gives: %s", dfs_error());
    nn_graph_host_free(g, h);
    nn_graph_free(g);

    /* moving to the backend: an allocation (the gradients), an upload */
    g = small(NN_MEM_TRAIN, 1);
    alloc_fail_at = 3;
    CHECK(nn_graph_set_backend(g, &be) == -1 && failed_with("graph: alloc on cpu-split: refused (test)"),
          "set_backend alloc: %s", dfs_error());
    nn_graph_free(g);
    g = small(NN_MEM_TRAIN, 1);
    upload_armed = 1;
    CHECK(nn_graph_set_backend(g, &be) == -1 && failed_with("graph: upload on cpu-split: refused (test)"),
          "set_backend upload: %s", dfs_error());
    upload_armed = 0;
    nn_graph_free(g);

    /* parameters allocated and initialised on the backend */
    g = nn_graph_new();
    nn_g_dense(g, "dense", nn_g_input(g, "in", 3, 1, 1), 2, 1);
    CHECK(nn_graph_check(g) == 0 && nn_graph_set_backend(g, &be) == 0, "%s", dfs_error());
    dfs_rng rng;
    dfs_rng_seed(&rng, 3);
    alloc_fail_at = 1;
    CHECK(nn_graph_alloc_params(g, &rng) == -1 && failed_with("graph: alloc on cpu-split: refused (test)"),
          "alloc_params: %s", dfs_error());
    CHECK(nn_graph_alloc_params(g, &rng) == 0, "alloc_params once the backend allocates: %s", dfs_error());
    upload_armed = 1;
    CHECK(nn_graph_init_params(g, &rng) == -1 && failed_with("graph: upload: refused (test)"),
          "init_params: %s", dfs_error());
    CHECK(nn_graph_alloc_params(g, &rng) == -1 && failed_with("graph: upload: refused (test)"),
          "alloc_params upload: %s", dfs_error());
    upload_armed = 0;
    nn_graph_free(g);

    /* training buffers (Adam's m fails), then the gradient arena of the first backward */
    g = small(NN_MEM_BACKWARD, 0);
    nn_graph_want_grad(g, nn_graph_find(g, "relu"), 1);
    CHECK(nn_graph_set_backend(g, &be) == 0, "%s", dfs_error());
    alloc_fail_at = 2;
    CHECK(nn_graph_alloc_train(g) == -1 && failed_with("graph: alloc on cpu-split: refused (test)") && g->train.grads &&
              !g->train.adam_m && !g->train.adam_v,
          "alloc_train: %s", dfs_error());
    CHECK(nn_graph_alloc_train(g) == 0 && g->train.adam_m && g->train.adam_v, "alloc_train again: %s", dfs_error());
    CHECK(nn_graph_forward(g, x, 2, NN_TRAIN) == 0, "%s", dfs_error());
    alloc_fail_at = 1;
    CHECK(nn_graph_backward(g, dl) == -1 && failed_with("graph: alloc on cpu-split: refused (test)"),
          "gradient arena: %s", dfs_error());
    CHECK(nn_graph_backward(g, dl) == 0 && nn_graph_fetch(g, nn_graph_find(g, "relu"), NN_FETCH_GRAD) == 0,
          "backward once the backend allocates: %s", dfs_error());
    nn_graph_free(g);

    /* a caller that goes on after a failed move: the parameters have no backend copy, and
     * every pass fails before any op is handed their host pointer */
    g = small(NN_MEM_FORWARD, 0);
    alloc_fail_at = 1;
    CHECK(nn_graph_set_backend(g, &be) == -1, "set_backend should fail");
    CHECK(nn_graph_set_batch(g, 2) == 0, "%s", dfs_error());
    conv_ops = 0;
    for (int k = 0; k < 2; k++)
        CHECK(nn_graph_forward(g, x, 2, NN_EVAL) == -1 &&
                  failed_with("graph: the parameters have no copy on cpu-split (an allocation or move failed: free the "
                              "graph)"),
              "pass %d after a failed move: %s", k, dfs_error());
    CHECK(conv_ops == 0, "%d convolutions ran after the failed move", conv_ops);
    nn_graph_free(g);

    /* the same for the training buffers: a move that failed at the gradients' copy (after the
     * parameters' and the statistics'), then backward and the L2 penalty refuse */
    g = small(NN_MEM_TRAIN, 1);
    alloc_fail_at = 3;
    CHECK(nn_graph_set_backend(g, &be) == -1, "set_backend should fail at the gradients");
    CHECK(nn_graph_set_batch(g, 2) == 0, "%s", dfs_error());
    CHECK(nn_graph_forward(g, x, 2, NN_TRAIN) == 0, "a forward needs no training buffer: %s", dfs_error());
    /* zero_grad and adam_step return nothing: they leave the buffers alone (the passes report) */
    zero_ops = adam_ops = 0;
    nn_adam adam = {.lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-7f, .t = 0};
    nn_graph_zero_grad(g);
    nn_graph_adam_step(g, &adam);
    CHECK(zero_ops == 0 && adam_ops == 0 && adam.t == 0, "zero_grad and adam_step ran %d and %d ops (t %lld)",
          zero_ops, adam_ops, (long long)adam.t);
    double pen;
    CHECK(nn_graph_backward(g, dl) == -1 && failed_with("graph: the gradients have no copy on cpu-split"),
          "backward after a failed alloc_train: %s", dfs_error());
    CHECK(nn_graph_l2(g, &pen) == -1 && failed_with("graph: the gradients have no copy on cpu-split"),
          "l2 after a failed alloc_train: %s", dfs_error());
    nn_graph_free(g);

    /* a pointer in no buffer (an internal error, planted here): the pass stops at that node and
     * says so, as every pass after it */
    g = small(NN_MEM_FORWARD, 0);
    CHECK(nn_graph_set_backend(g, &be) == 0 && nn_graph_set_batch(g, 2) == 0 &&
              nn_graph_forward(g, x, 2, NN_EVAL) == 0,
          "%s", dfs_error());
    float *junk = dfs_malloc(64 * 1024);
    float *kept = g->nodes[g->output].out;
    g->nodes[g->output].out = junk;
    for (int k = 0; k < 2; k++)
        CHECK(nn_graph_forward(g, x, 2, NN_EVAL) == -1 && failed_with("graph: internal error: pointer") &&
                  failed_with("is in no buffer of the graph"),
              "pass %d with a stray pointer: %s", k, dfs_error());
    g->nodes[g->output].out = kept;
    nn_graph_free(g);
    free(junk);
    alloc_fail_at = 0;
    nn_graph_free(ref);
    free(x);
}

int main(void)
{
    RUN(test_forward_plan);
    RUN(test_backward_plan);
    RUN(test_gradcam_plan);
    RUN(test_forward_from_kept);
    RUN(test_replan);
    RUN(test_backward_misuse);
    RUN(test_backend_failures);
    RUN(test_backend_alloc_failures);
    return CHECK_DONE();
}
