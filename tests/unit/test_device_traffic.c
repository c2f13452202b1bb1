/* test_device_traffic: what crosses between host and device, counted on cpu-split (the backend's
 * upload and download count their bytes: nn_backend_split_traffic).
 *
 * A training step (as the trainer runs it: forward, output, loss gradient, backward, L2, Adam)
 * may move only the input batch up and the logits down, plus the loss gradient (N x C values)
 * up: labels and the loss stay on the host, and the dropout and drop-connect masks are drawn on
 * the device. An eval forward moves the input up and the logits down. A Grad-CAM batch moves
 * the input and the class seed (N x C) up and its maps (N x H x W of the layer) down: the maps
 * are made on the device (the backend's cam_map), not from the layer's activations and gradient
 * brought to the host; with guided backpropagation the seed goes up again and the guided
 * gradient (a result, the input's size) comes down. An ACE run moves per batch only its images
 * up; once per run the tail graph's parameters and the intervention values go up and the ranges
 * and the sums of P(fake) come down (ranges, interventions and sums are made on the device).
 * Every bound is exact to the byte: anything else that crossed (a mask, a parameter, a
 * statistic, an activation) fails. */
#include "check.h"
#include "core/common.h"
#include "analysis/ace.h"
#include "nn/backend.h"
#include "nn/device.h"
#include "nn/gradcam.h"
#include "nn/graph.h"
#include "nn/models.h"

#include <stdlib.h>
#include <string.h>

#include "tiny_archs.h"

static nn_graph *build(int a, const nn_backend *be, int plan)
{
    return tiny_graph(a, archs[a].size, be, plan, N, -1, 0);
}

static float *input(int a)
{
    return tiny_input(N, archs[a].size, 3);
}

static int has_dropout(const nn_graph *g)
{
    for (int i = 0; i < g->nnodes; i++)
        if ((g->nodes[i].kind == NN_DROPOUT || g->nodes[i].kind == NN_DROP_CONNECT) && g->nodes[i].rate > 0.0f) return 1;
    return 0;
}

static void test_train_and_eval(void)
{
    const nn_backend *split = nn_backend_open("cpu-split");
    CHECK(split, "cpu-split: %s", dfs_error());
    if (!split) return;
    int with_dropout = 0;
    for (int a = 0; a < NARCH; a++) {
        nn_graph *g = build(a, split, NN_MEM_TRAIN);
        float *x = input(a);
        int64_t C = nn_graph_output_size(g);
        uint64_t xb = (uint64_t)(N * nn_node_size(g, 0)) * sizeof(float), ob = (uint64_t)(N * C) * sizeof(float);
        float *dl = malloc((size_t)ob);
        nn_adam adam = {.lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-7f, .t = 0};
        with_dropout += has_dropout(g);
        for (int step = 0; step < 3; step++) {
            uint64_t up, down;
            nn_backend_split_traffic(NULL, NULL, 1);
            CHECK(nn_graph_forward(g, x, N, NN_TRAIN) == 0, "%s", dfs_error());
            const float *logits = nn_graph_output(g);
            for (int64_t i = 0; i < N * C; i++) dl[i] = logits[i] * 0.5f;   /* any loss gradient */
            nn_graph_zero_grad(g);
            CHECK(nn_graph_backward(g, dl) == 0, "%s", dfs_error());
            double pen;
            CHECK(nn_graph_l2(g, &pen) == 0, "%s", dfs_error());
            adam.t++;
            nn_graph_adam_step(g, &adam);
            CHECK(split->sync() == 0, "sync");
            nn_backend_split_traffic(&up, &down, 1);
            CHECK(up == xb + ob, "%s step %d: %llu bytes up, expected %llu (input %llu + loss gradient %llu)",
                  archs[a].arch, step, (unsigned long long)up, (unsigned long long)(xb + ob), (unsigned long long)xb,
                  (unsigned long long)ob);
            CHECK(down == ob, "%s step %d: %llu bytes down, expected the logits' %llu", archs[a].arch, step,
                  (unsigned long long)down, (unsigned long long)ob);
        }
        /* eval forward */
        uint64_t up, down;
        nn_backend_split_traffic(NULL, NULL, 1);
        CHECK(nn_graph_forward(g, x, N, NN_EVAL) == 0, "%s", dfs_error());
        (void)nn_graph_output(g);
        nn_backend_split_traffic(&up, &down, 1);
        CHECK(up == xb && down == ob, "%s eval: %llu up (input %llu), %llu down (logits %llu)", archs[a].arch,
              (unsigned long long)up, (unsigned long long)xb, (unsigned long long)down, (unsigned long long)ob);
        free(dl);
        free(x);
        nn_graph_free(g);
    }
    CHECK(with_dropout >= 3, "the architectures exercise dropout and drop-connect (%d do)", with_dropout);
}

static void test_gradcam_batch(void)
{
    const nn_backend *split = nn_backend_open("cpu-split");
    if (!split) return;
    int a = 0;   /* meso4 */
    CHECK(!strcmp(archs[a].arch, "meso4"), "meso4 first");
    nn_graph *g = build(a, split, NN_MEM_BACKWARD);
    float *x = input(a);
    int layer = nn_gradcam_layer(g, "block4.relu");
    CHECK(layer > 0, "%s", dfs_error());
    if (layer <= 0) return;
    int64_t C = nn_graph_output_size(g), hw = g->nodes[layer].H * g->nodes[layer].W;
    uint64_t xb = (uint64_t)(N * nn_node_size(g, 0)) * sizeof(float), ob = (uint64_t)(N * C) * sizeof(float);
    uint64_t mb = (uint64_t)(N * hw) * sizeof(float);
    float *maps = malloc((size_t)(N * hw) * sizeof(float)), *guided = malloc((size_t)xb);
    for (int with_guided = 0; with_guided < 2; with_guided++) {
        uint64_t up, down;
        nn_backend_split_traffic(NULL, NULL, 1);
        CHECK(nn_gradcam_batch(g, layer, NN_CAM_FAKE, x, N, 1, maps, with_guided ? guided : NULL) == 0, "%s",
              dfs_error());
        nn_backend_split_traffic(&up, &down, 1);
        uint64_t want_up = xb + ob * (with_guided ? 2 : 1), want_down = mb + (with_guided ? xb : 0);
        CHECK(up == want_up && down == want_down, "grad-cam (guided %d): %llu up (expected %llu), %llu down (expected %llu)",
              with_guided, (unsigned long long)up, (unsigned long long)want_up, (unsigned long long)down,
              (unsigned long long)want_down);
    }
    free(maps);
    free(guided);
    free(x);
    nn_graph_free(g);
}

/* One ACE run of meso4 at block4.relu on a backend: 2 batches of B per phase, 2 steps. */
static int ace_on(const nn_backend *be, int no_tail, ace_result *r, uint64_t *up, uint64_t *down, uint64_t *pb,
                  int64_t *C)
{
    int a = 0;   /* meso4: its head after block4 is a tail graph */
    nn_graph *g = build(a, be, NN_MEM_FORWARD);
    int layer = nn_graph_find(g, "block4.relu");
    CHECK(layer > 0, "meso4 has block4.relu");
    if (layer <= 0) return -1;
    int64_t h = archs[a].size, n = 8;
    ace_sample s = {.n = n, .h = h, .w = h, .seen = (uint64_t)n};
    s.px = malloc((size_t)(n * h * h * 3));
    for (int64_t i = 0; i < n * h * h * 3; i++) s.px[i] = (uint8_t)(i * 37 % 251);
    ace_opts o;
    ace_opts_default(&o);
    o.batches = 2;
    o.batch = 2;
    o.steps = 2;
    o.no_tail = no_tail;
    nn_backend_split_traffic(NULL, NULL, 1);
    int rc = ace_run(g, nn_model_find("meso4"), layer, &s, &o, r);
    CHECK(rc == 0, "%s", dfs_error());
    nn_backend_split_traffic(up, down, 1);
    CHECK(rc != 0 || (r->tail == !no_tail && !r->shared), "tail %d, shared phases %d", r->tail, r->shared);
    /* the tail's parameters and statistics: those of every node after the layer */
    *pb = 0;
    for (int i = layer + 1; i < g->nnodes; i++) {
        const nn_node *nd = &g->nodes[i];
        const int ts[4] = {nd->w, nd->b, nd->rmean, nd->rvar};
        for (int k = 0; k < 4; k++)
            if (ts[k] >= 0) *pb += (uint64_t)g->tensors[ts[k]].n * sizeof(float);
    }
    *C = g->nodes[layer].C;
    free(s.px);
    nn_graph_free(g);
    return rc;
}

/* ACE's per-batch work (ranges, interventions, P(fake) sums) stays on the device: per batch only
 * the images go up (2 batches in each phase); once per run the values of the interventions
 * (C x steps floats) and, with the tail graph, its parameters go up, and the ranges (2 C floats)
 * and the sums (C x steps doubles) come down. The results equal the cpu's bit for bit. */
static void test_ace_run(void)
{
    const nn_backend *split = nn_backend_open("cpu-split"), *cpu = nn_backend_cpu();
    if (!split) return;
    for (int no_tail = 0; no_tail < 2; no_tail++) {
        ace_result r, rc;
        uint64_t up, down, pb, u2, d2, p2;
        int64_t C, C2;
        if (ace_on(split, no_tail, &r, &up, &down, &pb, &C) != 0) continue;
        if (ace_on(cpu, no_tail, &rc, &u2, &d2, &p2, &C2) != 0) {
            ace_result_free(&r);
            continue;
        }
        uint64_t f = sizeof(float), xb = (uint64_t)(2 * 3 * archs[0].size * archs[0].size) * f;
        uint64_t want_up = (no_tail ? 0 : pb) + 4 * xb + (uint64_t)(C * 2) * f;
        uint64_t want_down = (uint64_t)(2 * C) * f + (uint64_t)(C * 2) * sizeof(double);
        CHECK(up == want_up && down == want_down, "ace (tail %d): %llu up (expected %llu), %llu down (expected %llu)",
              !no_tail, (unsigned long long)up, (unsigned long long)want_up, (unsigned long long)down,
              (unsigned long long)want_down);
        CHECK(u2 == 0 && d2 == 0, "the cpu backend moves nothing through cpu-split's counters");
        int same = r.n == rc.n && !memcmp(r.lo, rc.lo, (size_t)C * sizeof(double)) &&
                   !memcmp(r.hi, rc.hi, (size_t)C * sizeof(double)) &&
                   !memcmp(r.e, rc.e, (size_t)(C * 2) * sizeof(double)) &&
                   !memcmp(r.rank, rc.rank, (size_t)C * sizeof(int64_t));
        CHECK(same, "ace (tail %d) on cpu-split equals the cpu's bit for bit", !no_tail);
        ace_result_free(&r);
        ace_result_free(&rc);
    }
}

/* nn_device_open returns its errors (the tools print them: lib/tool/device.c) */
static void test_device_names(void)
{
    const char *env = getenv("DFS_DEVICE");
    char *saved = env ? dfs_strdup(env) : NULL;
    int auto_chose = -1;
    dfs_fail("none");
    CHECK(nn_device_open("tpu", &auto_chose) == NULL, "tpu");
    CHECK(!strcmp(dfs_error(), "--device: unknown device 'tpu' (auto, cpu, cuda; cpu-split for tests)"), "%s",
          dfs_error());
    CHECK(nn_device_open("", NULL) == NULL && strstr(dfs_error(), "unknown device ''"), "'': %s", dfs_error());
    setenv("DFS_DEVICE", "gpu", 1);
    CHECK(nn_device_open(NULL, NULL) == NULL, "DFS_DEVICE=gpu");
    CHECK(!strcmp(dfs_error(), "DFS_DEVICE: unknown device 'gpu' (auto, cpu, cuda; cpu-split for tests)"), "%s",
          dfs_error());
    const nn_backend *be = nn_device_open("cpu", &auto_chose);
    CHECK(be && !strcmp(be->name, "cpu") && auto_chose == 0, "cpu: %s", be ? be->name : dfs_error());
    be = nn_device_open("cpu-split", &auto_chose);
    CHECK(be && !strcmp(be->name, "cpu-split") && auto_chose == 0, "cpu-split: %s", be ? be->name : dfs_error());
    setenv("DFS_DEVICE", "auto", 1);
    be = nn_device_open(NULL, &auto_chose);
    CHECK(be && auto_chose == 1, "auto: %s", be ? be->name : dfs_error());
    if (saved) setenv("DFS_DEVICE", saved, 1);
    else unsetenv("DFS_DEVICE");
    free(saved);
}

int main(void)
{
    RUN(test_device_names);
    RUN(test_train_and_eval);
    RUN(test_gradcam_batch);
    RUN(test_ace_run);
    return CHECK_DONE();
}
