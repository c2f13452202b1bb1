/* graph.h: a neural network as a list of named nodes in topological order.
 *
 * Every node names its inputs (by index), so branches (Inception), residuals (Xception) and
 * squeeze-excitation (MBConv) are ordinary nodes with two or more inputs. Shapes are per sample
 * (C, H, W); dense-like tensors are (C, 1, 1), which has the same memory layout as (N, C).
 *
 * Memory:
 *  - every parameter (conv/dense kernel and bias, batchnorm gamma and beta) lives in ONE float
 *    buffer (params), carved per tensor from a size table; gradients and Adam m and v, when
 *    training, are three more buffers of the same size and layout;
 *  - running batchnorm statistics (non-trainable, as Keras counts them) have their own buffer;
 *  - activations, saved batchnorm statistics, dropout masks and max-pool argmax live in an arena
 *    sized once per batch size (nn_graph_set_batch); activation gradients in a second one,
 *    allocated at the first backward. How much the buffers share is the memory plan
 *    (nn_graph_set_memory): by default every node keeps its own.
 * Building a graph only computes shapes and the size table; nothing large is allocated until
 * nn_graph_alloc_params, so `train --summary` of a 118M-parameter model costs nothing.
 *
 * Names: a node name is unique within the graph (e.g. "block2.sepconv1"); a tensor is named
 * "<node>.<param>" with param one of weight, bias, gamma, beta, running_mean, running_var.
 * Layouts follow ops.h (conv K x C/groups x R x S, dense O x I); a flattened feature map is in
 * NCHW (channel-major) order, unlike Keras's HWC Flatten (only matters when importing Keras
 * weights, which this project never does).
 *
 * Errors while building are sticky: the first failure is kept in g->err (and dfs_error()), every
 * later builder call returns -1, and nn_graph_check() reports it once at the end. */
#ifndef DFS_NN_GRAPH_H
#define DFS_NN_GRAPH_H

#include <stdint.h>
#include <stddef.h>
#include "core/rng.h"
#include "nn/ops.h"

struct nn_backend;

typedef enum nn_kind {
    NN_INPUT, NN_CONV, NN_DENSE, NN_BATCHNORM, NN_RELU, NN_LEAKY_RELU, NN_SWISH, NN_SIGMOID,
    NN_SOFTMAX, NN_MAXPOOL, NN_AVGPOOL, NN_GLOBAL_AVGPOOL, NN_DROPOUT, NN_DROP_CONNECT, NN_CONCAT,
    NN_ADD, NN_SCALE_CHANNELS, NN_FLATTEN, NN_KIND_COUNT
} nn_kind;

const char *nn_kind_name(nn_kind k);

#define NN_NAME_MAX 48
#define NN_TENSOR_NAME_MAX 64
#define NN_MAX_INPUTS 4

/* A parameter or running statistic. */
typedef struct nn_tensor {
    char name[NN_TENSOR_NAME_MAX];   /* "<node>.<param>" */
    int node;
    int rank;
    int64_t dims[4];
    int64_t n;
    size_t off;          /* offset in params (is_stat == 0) or stats (is_stat == 1) */
    int is_stat;         /* running mean/var: updated by training forward, never by Adam */
    int trainable;       /* parameters only; stats are never trainable */
    float l2;            /* L2 regularisation factor (0: none) */
    int64_t fan_in, fan_out;   /* Keras's fans of a kernel; 0: a constant (init_value) */
    float init_value;
    int init;            /* kernels (fan_in > 0): NN_INIT_* */
    float init_scale;    /* VarianceScaling's scale */
} nn_tensor;

/* Kernel initialisers, as Keras defines them (keras/initializers.py; tensorflow/python/ops/
 * init_ops.py for TF 1.x's VarianceScaling):
 *  GLOROT_UNIFORM (Keras's default): uniform in +-sqrt(6 / (fan_in + fan_out));
 *  VS_NORMAL_FAN_OUT: VarianceScaling(scale, 'fan_out', 'normal'), a normal truncated at two
 *    standard deviations and widened by 1/0.8796 so that its standard deviation after the
 *    truncation is sqrt(scale / fan_out);
 *  VS_UNIFORM_FAN_OUT: VarianceScaling(scale, 'fan_out', 'uniform'): uniform in
 *    +-sqrt(3 scale / fan_out). */
enum { NN_INIT_GLOROT_UNIFORM = 0, NN_INIT_VS_NORMAL_FAN_OUT = 1, NN_INIT_VS_UNIFORM_FAN_OUT = 2 };

typedef struct nn_node {
    char name[NN_NAME_MAX];
    nn_kind kind;
    int nin;
    int in[NN_MAX_INPUTS];
    int64_t C, H, W;     /* per-sample output shape */
    /* settings (by kind) */
    nn_conv conv;        /* NN_CONV; N filled in by nn_graph_set_batch */
    nn_pool pool;        /* NN_MAXPOOL, NN_AVGPOOL */
    int same;            /* conv and pools: built with Keras 'same' padding (else 'valid'); the
                          * padding in conv/pool follows from it and the input's shape */
    float rate;          /* dropout, drop-connect */
    float alpha;         /* leaky relu */
    float momentum, eps; /* batchnorm (Keras convention: running = m * running + (1-m) * batch) */
    int frozen;          /* batchnorm: not trained and its running statistics never updated; how it
                          * normalises in training is nn_graph.run.frozen_bn_moving */
    int w, b;            /* tensor indices: conv/dense weight and bias, batchnorm gamma and beta; -1 none */
    int rmean, rvar;     /* batchnorm running statistics; -1 none */
    /* arena pointers, valid after nn_graph_set_batch */
    float *out, *dout;
    float *save_mean, *save_invstd;
    uint8_t *mask;       /* dropout (one byte per value) or drop-connect (one per sample) */
    int32_t *argmax;
} nn_node;

#define NN_DEV_REGIONS 7

/* The fields by job; lib/nn/graph_impl.h names the file of each job. */

/* Training state (nn_graph_alloc_train). */
typedef struct nn_graph_train {
    float *grads, *adam_m, *adam_v;  /* NULL until nn_graph_alloc_train; the layout of params */
} nn_graph_train;

/* What a forward and backward do: settings a caller may change between passes, and the state of
 * the last forward. */
typedef struct nn_graph_run {
    int64_t cur_n;                   /* samples in the last forward */
    int mode;                        /* mode of the last forward (backward follows it) */
    /* Dropout and drop-connect: every training forward (not reusing masks) takes one 64-bit key
     * from rng, and node i's mask is nn_dropout_mask(key, stream i) (counter_rng.h), drawn on
     * the backend. The masks of a step are thus a function of the seed, the number of training
     * forwards before it (saved in checkpoints as rng's state) and the node. */
    dfs_rng rng;
    uint64_t drop_key;               /* the key of the last training forward */
    int reuse_masks;                 /* training forward reuses the previous dropout masks */
    int no_dropout;                  /* training forward treats dropout and drop-connect as identity */
    int frozen_bn_moving;            /* training forward of a frozen batchnorm: 0 (default) normalises with
                                      * the batch's own statistics, as Keras 2 / TF 1.x did for a layer with
                                      * trainable=False; 1 with its running statistics (TF 2.x, PyTorch
                                      * eval()). Either way its statistics, gamma and beta stay as they are */
    int guided_relu;                 /* backward: ReLU and leaky ReLU pass a gradient only where both it
                                      * and the input are positive (guided backpropagation) */
    uint8_t *want_grad;              /* per node: caller wants this activation's gradient */
    uint8_t *need_grad;              /* per node: computed at backward time */
} nn_graph_run;

/* The memory plan (nn_graph_set_memory) and the arenas laid out by it; the layout is redone when
 * the mode, the keep marks or the fusion setting change. */
typedef struct nn_graph_plan {
    int mode;                        /* NN_MEM_ALL, NN_MEM_FORWARD, NN_MEM_BACKWARD or NN_MEM_TRAIN */
    int backward_done;               /* NN_MEM_TRAIN: a backward ran since the last forward */
    int dirty;                       /* plan or keep marks changed since the layout */
    uint8_t *keep;                   /* per node: output stays readable (nn_graph_keep) */
    uint8_t *sig;                    /* per node, what the layout assumed: bit 0 need_grad, bit 2
                                      * want_grad (NN_MEM_BACKWARD, NN_MEM_TRAIN) */
    int64_t *grad_birth;             /* per node: backward step zeroing its gradient buffer, -1 none */
    size_t *grad_off;                /* per node: offset of its gradient in grad_arena (in arena under
                                      * NN_MEM_TRAIN), SIZE_MAX none */
    int64_t batch;                   /* arena capacity in samples; 0 until nn_graph_set_batch */
    void *arena;
    size_t arena_bytes;
    void *grad_arena;                /* NULL until the first backward */
    size_t grad_arena_bytes;
    float *scratch;                  /* shared conv scratch */
    size_t scratch_floats;
    /* fusion (nn_graph_set_fuse) */
    int fuse;                        /* -1 (default): the backend's choice (nn_backend.fuse); 0 off; 1 on */
    uint8_t *fused;                  /* per node, from the layout: NN_FUSED_* bits */
    int64_t fused_ops;               /* fused ops run since the graph was made (tests) */
} nn_graph_plan;

/* Backend copies (see "Backends" below): the host buffers are the mirrors and the keys. */
typedef struct nn_graph_mirror {
    void *dev[NN_DEV_REGIONS];       /* backend copy of params, stats, grads, adam_m, adam_v, arena,
                                      * grad_arena (NULL on a host-memory backend) */
    void *host[NN_DEV_REGIONS];      /* the host buffer each one mirrors */
    size_t bytes[NN_DEV_REGIONS];
    void *scratch;                   /* conv scratch in backend memory (no host mirror) */
    int poison;                      /* stale host mirrors are NaN-filled (NN_BE_POISON_MIRRORS) */
    const void *stray;               /* sticky internal error: a pointer that was in no buffer (the
                                      * passes fail from then on; lib/nn/graph_mirror.c, graph_dv) */
} nn_graph_mirror;

typedef struct nn_graph {
    /* the network: nodes, the size table of their tensors, and the parameters */
    nn_node *nodes;
    int nnodes, node_cap;
    nn_tensor *tensors;
    int ntensors, tensor_cap;
    size_t nparams, nstats;          /* floats in params and in stats */
    float *params, *stats;           /* NULL until nn_graph_alloc_params */
    int output;                      /* the node whose output is the model output (logits) */
    int err;                         /* sticky builder error */
    const struct nn_backend *be;     /* never NULL: the cpu table unless nn_graph_set_backend */
    nn_graph_train train;
    nn_graph_run run;
    nn_graph_plan plan;
    nn_graph_mirror mirror;
} nn_graph;

/* nn_graph.plan.fused bits of a batchnorm node i (graph_plan.c "Fusion"): NN_FUSED_ACT, it runs as one op
 * with the activation node i + 1; NN_FUSED_NO_PRE, its own output is not written at all (an
 * inference plan, no other reader, not kept). */
enum { NN_FUSED_ACT = 1, NN_FUSED_NO_PRE = 2 };

/* ---- building ---- */
nn_graph *nn_graph_new(void);
void nn_graph_free(nn_graph *g);
/* Each returns the new node's index, or -1 (sticky error). `same`: Keras 'same' padding
 * (asymmetric: extra on the bottom/right), otherwise 'valid'. */
int nn_g_input(nn_graph *g, const char *name, int64_t C, int64_t H, int64_t W);
int nn_g_conv(nn_graph *g, const char *name, int in, int64_t K, int64_t kernel, int64_t stride, int64_t dil,
              int64_t groups, int same, int bias);
int nn_g_dense(nn_graph *g, const char *name, int in, int64_t O, int bias);
int nn_g_batchnorm(nn_graph *g, const char *name, int in, float momentum, float eps);
/* relu, swish, sigmoid, softmax (softmax over C of a (C,1,1) input) */
int nn_g_act(nn_graph *g, nn_kind kind, const char *name, int in);
int nn_g_leaky_relu(nn_graph *g, const char *name, int in, float alpha);
int nn_g_maxpool(nn_graph *g, const char *name, int in, int64_t k, int64_t stride, int same);
int nn_g_avgpool(nn_graph *g, const char *name, int in, int64_t k, int64_t stride, int same);
int nn_g_global_avgpool(nn_graph *g, const char *name, int in);   /* -> (C,1,1) */
int nn_g_dropout(nn_graph *g, const char *name, int in, float rate);
int nn_g_drop_connect(nn_graph *g, const char *name, int in, float rate);
int nn_g_concat(nn_graph *g, const char *name, const int *ins, int n);   /* along channels */
int nn_g_add(nn_graph *g, const char *name, int a, int b);
int nn_g_scale_channels(nn_graph *g, const char *name, int in, int s);   /* in (C,H,W) * s (C,1,1) */
int nn_g_flatten(nn_graph *g, const char *name, int in);   /* -> (C*H*W,1,1), shares the input's memory */
/* 0, or -1 with the first building error as dfs_error(). */
int nn_graph_check(const nn_graph *g);
/* The nodes after `node` that the output depends on, as a new graph whose input node (index 0,
 * named as `node`, of its shape) stands for node's output: every other node rebuilt from its
 * description with the same builder, name and settings, in the same order, so that the tail's
 * forward from node's activations computes what g's forward computes after node. Parameters and
 * running statistics are copied from g's host buffers (current on a device backend only after
 * loading or nn_graph_sync_params(g, NN_TO_HOST)), with their trainability and L2 factors;
 * frozen batchnorms and g's forward settings (fusion, frozen_bn_moving, guided_relu) carry over;
 * the tail runs on g's backend. The memory plan, batch and dropout generator start afresh.
 * NULL with an error when g has no parameters yet, when node is not before the output, or when the
 * output reads a node before `node` other than through it (a residual across it). */
nn_graph *nn_graph_tail(const nn_graph *g, int node);

/* ---- lookup ---- */
int nn_graph_find(const nn_graph *g, const char *name);          /* node index or -1 */
int nn_graph_find_tensor(const nn_graph *g, const char *name);   /* tensor index or -1 */
float *nn_tensor_data(const nn_graph *g, int t);                 /* NULL before alloc_params */
float *nn_tensor_grad(const nn_graph *g, int t);                 /* NULL when no grads or a stat */
int64_t nn_node_size(const nn_graph *g, int node);              /* C*H*W per sample */

/* ---- counting (Keras conventions: running mean/var are non-trainable parameters) ---- */
int64_t nn_node_params(const nn_graph *g, int node);             /* parameters and stats of a node */
void nn_graph_count(const nn_graph *g, int64_t *total, int64_t *trainable);

/* ---- memory ----
 * Each returns 0, or -1 with an error naming the backend op that failed (an allocation or an
 * upload of backend memory; the host's own allocations exit on out-of-memory, core/common.h).
 * After a failure of alloc_params, params_allocated or init_params the parameters have no
 * current backend copy: free the graph. */
/* Allocate params and stats and initialise them (kernels from rng by their nn_tensor.init,
 * Glorot-uniform unless the model says otherwise; zero biases, gamma 1, beta 0, running mean 0,
 * var 1), tensor by tensor in graph order. */
int nn_graph_alloc_params(nn_graph *g, dfs_rng *rng);
/* Re-initialise already allocated params and stats. */
int nn_graph_init_params(nn_graph *g, dfs_rng *rng);
/* The caller allocated g->params and g->stats itself (a checkpoint load): give them their
 * backend copies (filled by a later nn_graph_sync_params(g, NN_TO_DEVICE)). */
int nn_graph_params_allocated(nn_graph *g);
/* Allocate zeroed gradients and Adam moments (needed for backward into parameters); after a
 * failure the buffers not allocated are allocated by the next call. */
int nn_graph_alloc_train(nn_graph *g);
/* Size the activation arena for batches of up to N samples (reallocates when N grows). After a
 * failure the graph has no arena (forward fails) until a later call succeeds. */
int nn_graph_set_batch(nn_graph *g, int64_t N);
/* Memory plans. Lifetimes are planned from the graph's shape and a buffer's memory is reused
 * once nothing will read it again; none changes any result.
 *  NN_MEM_ALL (default): every node's output stays readable after forward and every node's
 *    gradient after backward (tests and diagnostics that inspect any node).
 *  NN_MEM_FORWARD: inference only (nn_graph_backward fails). Outputs are
 *    readable after forward only for the output node and nodes marked with nn_graph_keep.
 *  NN_MEM_BACKWARD: forward then backward (training, Grad-CAM). Keeps the activations that the
 *    backward of a node that needs a gradient reads; gradient buffers exist only for nodes that
 *    need one and share memory once consumed. Readable after backward: the gradients of nodes
 *    marked with nn_graph_want_grad, the outputs of the output node and kept nodes. Set
 *    want_grad and trainability before the forward: a forward re-plans when they changed (with
 *    the same batch capacity), and a backward that needs more than its forward planned for fails.
 *  NN_MEM_TRAIN: NN_MEM_BACKWARD for training, where each forward is followed by at most one
 *    backward: activations and gradients share one arena, an activation's memory going to the
 *    gradients once its last backward reader has run (ShallowNet at 256x256, batch 32: 2.9 GB of
 *    activations and gradients under NN_MEM_BACKWARD, see tests/unit/test_graph_memory.c for
 *    what this saves). A second backward without a forward in between fails.
 * Set before nn_graph_set_batch (a later change re-plans at the next forward). */
enum { NN_MEM_ALL = 0, NN_MEM_FORWARD = 1, NN_MEM_BACKWARD = 2, NN_MEM_TRAIN = 3 };
void nn_graph_set_memory(nn_graph *g, int plan);
/* Keep node's output readable after forward (and backward), and allow
 * nn_graph_forward_from(node): outputs that later nodes read across it are kept too. */
void nn_graph_keep(nn_graph *g, int node, int on);
/* Bytes of the activation arena and of the gradient arena (0 before the first backward). */
size_t nn_graph_memory(const nn_graph *g, size_t *grad_bytes);

/* ---- trainability (transfer learning) ---- */
/* Make every parameter trainable and every batchnorm unfrozen. */
void nn_graph_unfreeze_all(nn_graph *g);
/* Make only the parameters of the named nodes trainable; batchnorm nodes not named become
 * frozen (no update of gamma, beta or the running statistics; see frozen_bn_moving for how they
 * normalise in training). Unknown name: -1 with an error. */
int nn_graph_train_only(nn_graph *g, const char *const *names, int n);

/* ---- running ---- */
enum { NN_EVAL = 0, NN_TRAIN = 1 };
/* Copy x (N,C,H,W) into the input node and run every node. N <= the arena's batch. The passes
 * (forward, forward_from, forward_dev, backward) and nn_graph_l2 return 0, or -1 with an error:
 * besides their own, a backend failure (a re-layout's allocation, an upload), a buffer they use
 * without its backend copy (a caller went on after a failed set_backend or allocation: refused
 * before any op runs), or the graph's sticky internal error (a pointer in no buffer of the
 * graph, graph_mirror.c's graph_dv: it also stays after nn_graph_zero_grad or
 * nn_graph_adam_step met it, and fails every later pass). */
int nn_graph_forward(nn_graph *g, const float *x, int64_t N, int mode);
/* Precise batchnorm (Wu & Johnson's "precise BN"): the population statistics of every
 * batchnorm node that is not frozen, over the batches given, replace its running statistics.
 * Each batch runs forward in training mode (earlier batchnorms normalise with the batch's own
 * statistics, as in training) with dropout and drop-connect off (g->run.no_dropout for the pass:
 * the inputs evaluation gives the batchnorms), and each node's input is summed per channel in
 * double, shifted by one of its values; _end stores mean = sum / count and the variance with the convention the
 * running variance has here, unbiased (count - 1), as nn_batchnorm_forward_train's update:
 * Keras 2.2's BatchNormalization.call (keras/layers/normalization.py) scales tf.nn.moments'
 * biased batch variance by m / (m - (1 + epsilon)) before K.moving_average_update.
 * The dropout generator (g->run.rng) is restored after each batch, so training that follows draws
 * the same masks as without the pass. _begin: NULL with an error; _add/_end: 0, or -1 with an
 * error (_end frees p either way). */
typedef struct nn_bn_pop nn_bn_pop;
nn_bn_pop *nn_bn_pop_begin(nn_graph *g);
int nn_bn_pop_add(nn_graph *g, nn_bn_pop *p, const float *x, int64_t N);
int nn_bn_pop_end(nn_graph *g, nn_bn_pop *p);
/* Rerun the nodes after `from` (a caller has changed node `from`'s output), same N as before.
 * Under NN_MEM_FORWARD and NN_MEM_BACKWARD `from` must be kept (nn_graph_keep). */
int nn_graph_forward_from(nn_graph *g, int from, int mode);
/* The output node's activation (N, C); NULL with an error when its download fails. */
float *nn_graph_output(const nn_graph *g);
int64_t nn_graph_output_size(const nn_graph *g);   /* C of the output */
/* Backward from dL/d(output) (N, C of the output), in the mode of the last forward. Clears
 * all activation gradients first; ACCUMULATES into parameter gradients (zero them with
 * nn_graph_zero_grad). Computes what is needed for trainable parameters and for the nodes
 * marked with nn_graph_want_grad. 0, or -1 with an error: a backward the memory plan does not
 * allow (a forward-only plan; a second backward after one forward under NN_MEM_TRAIN; a
 * gradient that the forward did not plan for) or the upload of dout failed. */
int nn_graph_backward(nn_graph *g, const float *dout);
void nn_graph_want_grad(nn_graph *g, int node, int on);
void nn_graph_zero_grad(nn_graph *g);
/* Add the L2 penalty gradients of trainable parameters (when gradients are allocated) and set
 * *penalty to the penalty (sum lambda w^2). 0, or -1 with an error (a backend failure). */
int nn_graph_l2(nn_graph *g, double *penalty);
/* One Adam step over the trainable parameters (increments a->t first). The sticky internal
 * error (see nn_graph_forward) shows at the next pass. */
void nn_graph_adam_step(nn_graph *g, nn_adam *a);

/* ---- backends (backend.h) ----
 * Every op runs through g->be. On a backend whose memory is not the host's (cuda; cpu-split, the
 * test device), params, stats, gradients, Adam moments, both arenas and the conv scratch live in
 * backend memory for the graph's whole life; the host buffers of the struct stay as MIRRORS
 * (pointers such as nn_node.out and nn_tensor_data() keep naming the host mirror, and the op
 * pointers are translated to backend memory at call time). A mirror is current only when the
 * caller makes it so:
 *  - nn_graph_output() downloads the output node (N x C values) and returns its mirror (NULL
 *    with an error when the download fails);
 *  - nn_graph_fetch(g, node, NN_FETCH_OUT | NN_FETCH_GRAD) downloads a node's output and/or
 *    gradient of the last forward/backward; nn_graph_put(g, node) uploads an output the host
 *    changed (then nn_graph_forward_from);
 *  - nn_graph_sync_params() moves params and running stats (and on request Adam moments and
 *    gradients) either way: TO_DEVICE after the host wrote them (init is uploaded by
 *    nn_graph_alloc_params and nn_graph_init_params itself; checkpoint loading uploads), TO_HOST
 *    before the host reads them (checkpoint saving downloads).
 * The input of nn_graph_forward is uploaded asynchronously: allocate it with
 * nn_graph_host_alloc (pinned on cuda) and do not change it before the next host read
 * (nn_graph_output, fetch, sync_params). On the cpu backend every one of these is free: the
 * mirrors are the buffers. Backend failures return -1 (or NULL) with an error naming the op. */
/* Fusion: a batchnorm node followed by the relu, leaky relu or swish node that reads it runs as
 * one backend op (batchnorm_act_forward), which changes no result (bit for bit the unfused
 * floats) and saves a pass over the tensor and a launch. on: -1 the backend's default, 0 off,
 * 1 on. Takes effect at the next forward (the layout is redone). */
void nn_graph_set_fuse(nn_graph *g, int on);
/* Use be for everything from now on; buffers already allocated move to it (their contents are
 * uploaded; leaving a device backend downloads params, stats, grads and Adam moments first).
 * 0, or -1 with an error (after a failed allocation or upload on be, free the graph). */
int nn_graph_set_backend(nn_graph *g, const struct nn_backend *be);
enum { NN_TO_DEVICE = 1, NN_TO_HOST = 2, NN_SYNC_ADAM = 4, NN_SYNC_GRADS = 8 };
/* Params and stats, plus Adam moments with NN_SYNC_ADAM and gradients with NN_SYNC_GRADS, in
 * the direction given (one of NN_TO_DEVICE, NN_TO_HOST). 0, or -1 with an error. */
int nn_graph_sync_params(const nn_graph *g, int how);
enum { NN_FETCH_OUT = 1, NN_FETCH_GRAD = 2 };
int nn_graph_fetch(nn_graph *g, int node, int what);
int nn_graph_put(nn_graph *g, int node);
/* Host memory for the forward input: pinned on cuda (asynchronous uploads). NULL with an error
 * when the backend has none to give. */
void *nn_graph_host_alloc(const nn_graph *g, size_t bytes);
void nn_graph_host_free(const nn_graph *g, void *p);
/* Work on the backend without the host (analyses that call g->be's ops themselves, so that only
 * their results cross: Grad-CAM, ACE). The backend pointers of node's output and of its
 * gradient (its host mirror on a host-memory backend), valid until the arena is laid out again
 * (nn_graph_set_batch, or a forward after the plan or its marks changed); NULL with an error
 * when the node has none in this memory plan. Changing what they point to leaves the host mirror
 * stale (nn_graph_fetch reads it back). */
float *nn_graph_out_dev(const nn_graph *g, int node);
float *nn_graph_grad_dev(const nn_graph *g, int node);
/* nn_graph_forward with an input already in backend memory: n samples at x (e.g. another graph's
 * nn_graph_out_dev on the same backend), copied reps times back to back, so N = n * reps. */
int nn_graph_forward_dev(nn_graph *g, const float *x, int64_t n, int64_t reps, int mode);

#endif
