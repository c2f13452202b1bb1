/* nnbench: time inference or training steps of one study architecture on random data.
 *
 *   nnbench ARCH SIZE BATCH train|infer STEPS [WARMUP [DEVICE]]
 *
 * DEVICE: cpu (default), cuda or cpu-split (lib/nn/device.h); bench/gpu.sh uses cuda.
 * NNBENCH_FUSE=0 or 1 in the environment turns the graph's batchnorm + activation fusion off or
 * on (nn_graph_set_fuse); unset, the backend's default (cuda: DFS_CUDA_FUSE).
 *
 * Built by `make build/bench/nnbench` (bench/build-nnbench.sh): it links build/libdfstudy.a and
 * uses the same graph, model builders, losses and Adam as bin/train and bin/predict, without their
 * data loading, so the numbers compare the network code alone with PyTorch's (which also runs on
 * tensors in memory). The batch is in the backend's memory, as bench/torchbench.py's is on its
 * device: each step copies it into the graph's input within that memory (nn_graph_forward_dev),
 * so on a GPU no step moves the batch from the host.
 *   infer: forward in NN_EVAL mode (batchnorm with running statistics).
 *   train: NN_TRAIN forward, the architecture's stage-1 loss, zero_grad, backward, L2, Adam step,
 *          all parameters trainable (as stage 1 of the study).
 * Prints one line on stdout: `arch size batch mode steps seconds img_per_s fwd_gflop_per_img`,
 * where fwd_gflop_per_img counts 2 FLOPs per multiply-accumulate of convolutions and dense layers
 * (from the graph's shapes), nothing else. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core/common.h"
#include "tool/tool.h"
#include "core/rng.h"
#include "tool/device.h"
#include "nn/graph.h"
#include "nn/models.h"
#include "study/trainer.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Multiply-accumulates of one sample's forward pass through convolutions and dense layers. */
static double forward_macs(const nn_graph *g)
{
    double macs = 0;
    for (int i = 0; i < g->nnodes; i++) {
        const nn_node *n = &g->nodes[i];
        const nn_node *in = &g->nodes[n->in[0]];
        if (n->kind == NN_CONV)
            macs += (double)n->C * (double)n->H * (double)n->W * (double)(in->C / n->conv.groups) *
                    (double)n->conv.R * (double)n->conv.S;
        else if (n->kind == NN_DENSE)
            macs += (double)n->C * (double)(in->C * in->H * in->W);
    }
    return macs;
}

int main(int argc, char **argv)
{
    dfs_tool_init(argv[0]);
    if (argc == 2 && !strcmp(argv[1], "--help")) {
        printf("usage: nnbench ARCH SIZE BATCH train|infer STEPS [WARMUP [DEVICE]]\n");
        return 0;
    }
    if (argc < 6 || argc > 8) dfs_die("usage: nnbench ARCH SIZE BATCH train|infer STEPS [WARMUP [DEVICE]]");
    const char *arch = argv[1];
    long size = dfs_arg_long("SIZE", argv[2], 8, 4096);
    long batch = dfs_arg_long("BATCH", argv[3], 1, 4096);
    long steps = dfs_arg_long("STEPS", argv[5], 1, 1000000);
    long warmup = argc >= 7 ? dfs_arg_long("WARMUP", argv[6], 0, 1000000) : 1;
    const nn_backend *be = dfs_tool_device(argc == 8 ? argv[7] : "cpu", 0);
    int train = !strcmp(argv[4], "train");
    if (!train && strcmp(argv[4], "infer")) dfs_die("%s: mode must be train or infer", argv[4]);
    const nn_model_info *m = nn_model_find(arch);
    if (!m) dfs_die("%s: unknown architecture", arch);
    nn_graph *g = nn_model_build(arch, size);
    if (!g || nn_graph_check(g) != 0 || nn_graph_set_backend(g, be) != 0) dfs_die_error();
    const char *fuse = getenv("NNBENCH_FUSE");
    if (fuse && *fuse) {
        if (strcmp(fuse, "0") && strcmp(fuse, "1")) dfs_die("NNBENCH_FUSE=%s: not 0 or 1", fuse);
        nn_graph_set_fuse(g, fuse[0] == '1');
    }

    dfs_rng rng;
    dfs_rng_seed(&rng, 1);
    if (nn_graph_alloc_params(g, &rng) != 0 || (train && nn_graph_alloc_train(g) != 0)) dfs_die_error();
    /* the plans bin/train and bin/predict use */
    nn_graph_set_memory(g, train ? NN_MEM_TRAIN : NN_MEM_FORWARD);
    if (nn_graph_set_batch(g, batch) != 0) dfs_die_error();
    size_t nx = (size_t)batch * 3 * (size_t)size * (size_t)size;
    float *x = dfs_malloc(nx * sizeof *x);
    for (size_t i = 0; i < nx; i++) x[i] = (float)dfs_rng_uniform(&rng);
    float *x_dev = be->alloc(nx * sizeof *x);
    if (!x_dev || be->upload(x_dev, x, nx * sizeof *x) != 0) dfs_die("batch on %s: %s", be->name, be->last_error());
    float *y = dfs_malloc((size_t)batch * sizeof *y);
    for (long i = 0; i < batch; i++) y[i] = (float)(i & 1);
    float *dlogits = dfs_malloc((size_t)batch * (size_t)m->classes * sizeof *dlogits);
    double lr;
    nn_loss_kind loss;
    if (nn_train_defaults(arch, 1, &lr, &loss) != 0) dfs_die("%s: no training defaults", arch);
    nn_adam adam = {.lr = (float)lr, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-7f, .t = 0};

    double t0 = 0, sink = 0;
    for (long s = 0; s < warmup + steps; s++) {
        if (s == warmup) t0 = now();
        if (nn_graph_forward_dev(g, x_dev, batch, 1, train ? NN_TRAIN : NN_EVAL) != 0) dfs_die_error();
        const float *logits = nn_graph_output(g);
        if (!logits) dfs_die_error();
        if (train) {
            sink += nn_loss_apply(loss, dlogits, logits, y, batch);
            nn_graph_zero_grad(g);
            if (nn_graph_backward(g, dlogits) != 0) dfs_die_error();
            double pen;
            if (nn_graph_l2(g, &pen) != 0) dfs_die_error();
            sink += pen;
            nn_graph_adam_step(g, &adam);   /* increments adam.t itself */
        } else {
            sink += logits[0];
        }
    }
    if (be->sync() != 0) dfs_die("sync: %s", be->last_error());   /* the last step's Adam is asynchronous */
    double secs = now() - t0;
    /* the sink keeps the work observable; a non-finite value means the run itself went wrong */
    if (sink != sink) dfs_die("%s: non-finite loss or output", arch);
    printf("%s %ld %ld %s %ld %.6f %.3f %.6f\n", arch, size, batch, train ? "train" : "infer", steps, secs,
           (double)(batch * steps) / secs, 2.0 * forward_macs(g) / 1e9);
    be->free(x_dev);
    free(x);
    free(y);
    free(dlogits);
    nn_graph_free(g);
    return 0;
}
