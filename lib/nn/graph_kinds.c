/* graph_kinds.c: what each node kind does, one descriptor per kind (graph_impl.h nn_kind_desc):
 * its name, its forward and backward through the backend's ops, the activations its backward
 * reads (for the memory planner) and how nn_graph_tail copies it. Adding a node kind: an
 * nn_kind value (graph.h), its builder (graph_build.c), its functions and one line in
 * nn_kinds[] below; graph_layout() in graph_plan.c sizes per-node extras (batchnorm statistics,
 * dropout masks, max-pool argmax, conv scratch) for the kinds that need them. */
#include "nn/graph_impl.h"

#include "core/common.h"

/* ---- forward and backward ----
 * Every op goes through g->be on backend pointers (DV: the host mirror's pointer translated);
 * on the cpu table these are the functions and pointers of before, in the same order. */

static void conv_fwd(const nn_step *s)
{
    const nn_graph *g = s->g;
    nn_node *n = s->n;
    n->conv.N = s->N;
    s->be->conv2d_forward(s->out, s->x, param_ptr(g, n->w), param_ptr(g, n->b), &n->conv, scratch_ptr(g));
}

static void conv_bwd(const nn_step *s)
{
    const nn_graph *g = s->g;
    nn_node *n = s->n;
    n->conv.N = s->N;
    s->be->conv2d_backward(s->dx, grad_ptr(g, n->w), grad_ptr(g, n->b), s->dout, s->x, param_ptr(g, n->w), &n->conv,
                           scratch_ptr(g));
}

static void dense_fwd(const nn_step *s)
{
    const nn_graph *g = s->g;
    const nn_node *n = s->n;
    s->be->dense_forward(s->out, s->x, param_ptr(g, n->w), param_ptr(g, n->b), s->N, s->a->C, n->C);
}

static void dense_bwd(const nn_step *s)
{
    const nn_graph *g = s->g;
    const nn_node *n = s->n;
    s->be->dense_backward(s->dx, grad_ptr(g, n->w), grad_ptr(g, n->b), s->dout, s->x, param_ptr(g, n->w), s->N,
                          s->a->C, n->C);
}

static void batchnorm_fwd(const nn_step *s)
{
    const nn_graph *g = s->g;
    const nn_backend *be = s->be;
    const nn_node *n = s->n;
    int64_t N = s->N;
    /* Keras 2 / TF 1.x: a BatchNormalization layer with trainable=False still normalises a
     * training batch with the batch's statistics (its call() picks them by the learning phase
     * alone: keras-team/keras keras/layers/normalization.py, tensorflow/python/keras/layers/
     * normalization.py before TF 2.0's "trainable=False means inference"), and its moving
     * statistics are not updated, because Layer.updates returns [] for a layer that is not
     * trainable (keras/engine/base_layer.py; tensorflow/python/keras/engine/base_layer.py) */
    if (bn_batch_stats(g, n))
        be->batchnorm_forward_train_ex(s->out, DV(n->save_mean), DV(n->save_invstd), s->x, param_ptr(g, n->w),
                                       param_ptr(g, n->b), n->frozen ? NULL : param_ptr(g, n->rmean),
                                       n->frozen ? NULL : param_ptr(g, n->rvar), n->momentum, n->eps, 1, N, n->C,
                                       n->H * n->W);
    else
        be->batchnorm_forward_eval(s->out, s->x, param_ptr(g, n->w), param_ptr(g, n->b), param_ptr(g, n->rmean),
                                   param_ptr(g, n->rvar), n->eps, N, n->C, n->H * n->W);
}

static void batchnorm_bwd(const nn_step *s)
{
    const nn_graph *g = s->g;
    const nn_backend *be = s->be;
    const nn_node *n = s->n;
    int64_t N = s->N;
    if (bn_batch_stats(g, n))
        be->batchnorm_backward_train(s->dx, grad_ptr(g, n->w), grad_ptr(g, n->b), s->dout, s->x, param_ptr(g, n->w),
                                     DV(n->save_mean), DV(n->save_invstd), N, n->C, n->H * n->W);
    else
        be->batchnorm_backward_eval(s->dx, grad_ptr(g, n->w), grad_ptr(g, n->b), s->dout, s->x, param_ptr(g, n->w),
                                    param_ptr(g, n->rmean), param_ptr(g, n->rvar), n->eps, N, n->C, n->H * n->W);
}

static void relu_fwd(const nn_step *s) { s->be->relu_forward(s->out, s->x, s->sz); }

static void relu_bwd(const nn_step *s)
{
    if (s->dx && s->g->run.guided_relu) s->be->guided_relu_backward(s->dx, s->dout, s->x, s->sz);
    else if (s->dx) s->be->relu_backward(s->dx, s->dout, s->x, s->sz);
}

static void leaky_relu_fwd(const nn_step *s) { s->be->leaky_relu_forward(s->out, s->x, s->n->alpha, s->sz); }

static void leaky_relu_bwd(const nn_step *s)
{
    if (s->dx && s->g->run.guided_relu) s->be->guided_relu_backward(s->dx, s->dout, s->x, s->sz);
    else if (s->dx) s->be->leaky_relu_backward(s->dx, s->dout, s->x, s->n->alpha, s->sz);
}

static void swish_fwd(const nn_step *s) { s->be->swish_forward(s->out, s->x, s->sz); }

static void swish_bwd(const nn_step *s)
{
    if (s->dx) s->be->swish_backward(s->dx, s->dout, s->x, s->sz);
}

static void sigmoid_fwd(const nn_step *s) { s->be->sigmoid_forward(s->out, s->x, s->sz); }

static void sigmoid_bwd(const nn_step *s)
{
    const nn_graph *g = s->g;
    if (s->dx) s->be->sigmoid_backward(s->dx, s->dout, DV(s->n->out), s->sz);
}

static void softmax_fwd(const nn_step *s) { s->be->softmax_forward(s->out, s->x, s->N, s->n->C); }

static void softmax_bwd(const nn_step *s)
{
    const nn_graph *g = s->g;
    if (s->dx) s->be->softmax_backward(s->dx, s->dout, DV(s->n->out), s->N, s->n->C);
}

static void maxpool_fwd(const nn_step *s)
{
    const nn_graph *g = s->g;
    nn_node *n = s->n;
    n->pool.N = s->N;
    s->be->maxpool_forward(s->out, DV(n->argmax), s->x, &n->pool);
}

static void maxpool_bwd(const nn_step *s)
{
    const nn_graph *g = s->g;
    if (s->dx) s->be->maxpool_backward(s->dx, s->dout, DV(s->n->argmax), &s->n->pool);
}

static void avgpool_fwd(const nn_step *s)
{
    nn_node *n = s->n;
    n->pool.N = s->N;
    s->be->avgpool_forward(s->out, s->x, &n->pool);
}

static void avgpool_bwd(const nn_step *s)
{
    if (s->dx) s->be->avgpool_backward(s->dx, s->dout, &s->n->pool);
}

static void global_avgpool_fwd(const nn_step *s)
{
    s->be->global_avgpool_forward(s->out, s->x, s->N, s->n->C, s->a->H * s->a->W);
}

static void global_avgpool_bwd(const nn_step *s)
{
    if (s->dx) s->be->global_avgpool_backward(s->dx, s->dout, s->N, s->n->C, s->a->H * s->a->W);
}

static void dropout_fwd(const nn_step *s)
{
    const nn_graph *g = s->g;
    const nn_backend *be = s->be;
    const nn_node *n = s->n;
    int64_t sz = s->sz;
    if (!dropout_active(g, n)) {
        be->copy(s->out, s->x, (size_t)sz * sizeof(float));
    } else if (g->run.reuse_masks) {
        /* out = in * mask / (1 - rate), written through the op's own backward */
        be->zero(s->out, (size_t)sz * sizeof(float));
        be->dropout_backward(s->out, s->x, DV(n->mask), n->rate, sz);
    } else {
        be->dropout_mask(DV(n->mask), n->rate, sz, g->run.drop_key, (uint32_t)s->i);
        be->dropout_apply(s->out, DV(n->mask), s->x, n->rate, sz);
    }
}

static void dropout_bwd(const nn_step *s)
{
    const nn_graph *g = s->g;
    if (!s->dx) return;
    if (dropout_active(g, s->n)) s->be->dropout_backward(s->dx, s->dout, DV(s->n->mask), s->n->rate, s->sz);
    else s->be->add_backward(s->dx, NULL, s->dout, s->sz);
}

static void drop_connect_fwd(const nn_step *s)
{
    const nn_graph *g = s->g;
    const nn_backend *be = s->be;
    const nn_node *n = s->n;
    int64_t N = s->N, sz = s->sz;
    if (!dropout_active(g, n)) {
        be->copy(s->out, s->x, (size_t)sz * sizeof(float));
    } else if (g->run.reuse_masks) {
        be->zero(s->out, (size_t)sz * sizeof(float));
        be->drop_connect_backward(s->out, s->x, DV(n->mask), n->rate, N, sz / N);
    } else {
        be->dropout_mask(DV(n->mask), n->rate, N, g->run.drop_key, (uint32_t)s->i);
        be->drop_connect_apply(s->out, DV(n->mask), s->x, n->rate, N, sz / N);
    }
}

static void drop_connect_bwd(const nn_step *s)
{
    const nn_graph *g = s->g;
    if (!s->dx) return;
    if (dropout_active(g, s->n))
        s->be->drop_connect_backward(s->dx, s->dout, DV(s->n->mask), s->n->rate, s->N, s->sz / s->N);
    else s->be->add_backward(s->dx, NULL, s->dout, s->sz);
}

static void concat_fwd(const nn_step *s)
{
    const nn_graph *g = s->g;
    const nn_node *n = s->n;
    const float *ins[NN_MAX_INPUTS];
    int64_t Cs[NN_MAX_INPUTS];
    for (int k = 0; k < n->nin; k++) {
        ins[k] = DV(g->nodes[n->in[k]].out);
        Cs[k] = g->nodes[n->in[k]].C;
    }
    s->be->concat_forward(s->out, ins, Cs, n->nin, s->N, n->H * n->W);
}

static void concat_bwd(const nn_step *s)
{
    const nn_graph *g = s->g;
    const nn_node *n = s->n;
    float *dins[NN_MAX_INPUTS];
    int64_t Cs[NN_MAX_INPUTS];
    for (int k = 0; k < n->nin; k++) {
        const nn_node *b = &g->nodes[n->in[k]];
        dins[k] = g->run.need_grad[n->in[k]] ? DV(b->dout) : NULL;
        Cs[k] = b->C;
    }
    s->be->concat_backward(dins, s->dout, Cs, n->nin, s->N, n->H * n->W);
}

static void add_fwd(const nn_step *s)
{
    const nn_graph *g = s->g;
    s->be->add_forward(s->out, s->x, DV(g->nodes[s->n->in[1]].out), s->sz);
}

static void add_bwd(const nn_step *s)
{
    const nn_graph *g = s->g;
    const nn_node *n = s->n;
    float *db = g->run.need_grad[n->in[1]] ? DV(g->nodes[n->in[1]].dout) : NULL;
    s->be->add_backward(s->dx, db, s->dout, s->sz);
}

static void scale_channels_fwd(const nn_step *s)
{
    const nn_graph *g = s->g;
    const nn_node *n = s->n;
    s->be->scale_channels_forward(s->out, s->x, DV(g->nodes[n->in[1]].out), s->N, n->C, n->H * n->W);
}

static void scale_channels_bwd(const nn_step *s)
{
    const nn_graph *g = s->g;
    const nn_node *n = s->n;
    const nn_node *sc = &g->nodes[n->in[1]];
    float *ds = g->run.need_grad[n->in[1]] ? DV(sc->dout) : NULL;
    s->be->scale_channels_backward(s->dx, ds, s->dout, s->x, DV(sc->out), s->N, n->C, n->H * n->W);
}

/* ---- copies for nn_graph_tail ----
 * Node i of g rebuilt in t by its builder, its inputs mapped by map[]; -1 with an error. Every
 * argument comes from what the node stores: the builders square kernels and strides, so R, S and
 * stride_h are the builder's kernel and stride, and `same` is kept on the node. */

#define COPY_ARGS nn_graph *t, const nn_node *n, const int *map

static int conv_copy(COPY_ARGS)
{
    const nn_conv *c = &n->conv;
    return nn_g_conv(t, n->name, map[n->in[0]], c->K, c->R, c->stride_h, c->dil_h, c->groups, n->same, n->b >= 0);
}
static int dense_copy(COPY_ARGS) { return nn_g_dense(t, n->name, map[n->in[0]], n->C, n->b >= 0); }
static int batchnorm_copy(COPY_ARGS) { return nn_g_batchnorm(t, n->name, map[n->in[0]], n->momentum, n->eps); }
static int act_copy(COPY_ARGS) { return nn_g_act(t, n->kind, n->name, map[n->in[0]]); }
static int leaky_relu_copy(COPY_ARGS) { return nn_g_leaky_relu(t, n->name, map[n->in[0]], n->alpha); }
static int maxpool_copy(COPY_ARGS)
{
    return nn_g_maxpool(t, n->name, map[n->in[0]], n->pool.kh, n->pool.stride_h, n->same);
}
static int avgpool_copy(COPY_ARGS)
{
    return nn_g_avgpool(t, n->name, map[n->in[0]], n->pool.kh, n->pool.stride_h, n->same);
}
static int global_avgpool_copy(COPY_ARGS) { return nn_g_global_avgpool(t, n->name, map[n->in[0]]); }
static int dropout_copy(COPY_ARGS) { return nn_g_dropout(t, n->name, map[n->in[0]], n->rate); }
static int drop_connect_copy(COPY_ARGS) { return nn_g_drop_connect(t, n->name, map[n->in[0]], n->rate); }
static int concat_copy(COPY_ARGS)
{
    int ins[NN_MAX_INPUTS];
    for (int k = 0; k < n->nin; k++) ins[k] = map[n->in[k]];
    return nn_g_concat(t, n->name, ins, n->nin);
}
static int add_copy(COPY_ARGS) { return nn_g_add(t, n->name, map[n->in[0]], map[n->in[1]]); }
static int scale_channels_copy(COPY_ARGS) { return nn_g_scale_channels(t, n->name, map[n->in[0]], map[n->in[1]]); }
static int flatten_copy(COPY_ARGS) { return nn_g_flatten(t, n->name, map[n->in[0]]); }

/* ---- the table ----
 * reads: the activations backward reads (conv and dense read their input for the weight
 * gradient; they are counted whether or not it is wanted, so an op that reads more stays safe);
 * max pool reads its argmax and dropouts their masks, which are not activations. No forward:
 * the input (placed by the caller) and flatten (it shares its input's buffer, and its gradient). */
const nn_kind_desc nn_kinds[NN_KIND_COUNT] = {
    [NN_INPUT] = {"input", NULL, NULL, 0, NULL},
    [NN_CONV] = {"conv", conv_fwd, conv_bwd, NN_READS_IN0, conv_copy},
    [NN_DENSE] = {"dense", dense_fwd, dense_bwd, NN_READS_IN0, dense_copy},
    [NN_BATCHNORM] = {"batchnorm", batchnorm_fwd, batchnorm_bwd, NN_READS_IN0, batchnorm_copy},
    [NN_RELU] = {"relu", relu_fwd, relu_bwd, NN_READS_IN0, act_copy},
    [NN_LEAKY_RELU] = {"leaky_relu", leaky_relu_fwd, leaky_relu_bwd, NN_READS_IN0, leaky_relu_copy},
    [NN_SWISH] = {"swish", swish_fwd, swish_bwd, NN_READS_IN0, act_copy},
    [NN_SIGMOID] = {"sigmoid", sigmoid_fwd, sigmoid_bwd, NN_READS_OUT, act_copy},
    [NN_SOFTMAX] = {"softmax", softmax_fwd, softmax_bwd, NN_READS_OUT, act_copy},
    [NN_MAXPOOL] = {"maxpool", maxpool_fwd, maxpool_bwd, 0, maxpool_copy},
    [NN_AVGPOOL] = {"avgpool", avgpool_fwd, avgpool_bwd, 0, avgpool_copy},
    [NN_GLOBAL_AVGPOOL] = {"global_avgpool", global_avgpool_fwd, global_avgpool_bwd, 0, global_avgpool_copy},
    [NN_DROPOUT] = {"dropout", dropout_fwd, dropout_bwd, 0, dropout_copy},
    [NN_DROP_CONNECT] = {"drop_connect", drop_connect_fwd, drop_connect_bwd, 0, drop_connect_copy},
    [NN_CONCAT] = {"concat", concat_fwd, concat_bwd, 0, concat_copy},
    [NN_ADD] = {"add", add_fwd, add_bwd, 0, add_copy},
    [NN_SCALE_CHANNELS] = {"scale_channels", scale_channels_fwd, scale_channels_bwd, NN_READS_IN0 | NN_READS_IN1,
                           scale_channels_copy},
    [NN_FLATTEN] = {"flatten", NULL, NULL, 0, flatten_copy},
};
