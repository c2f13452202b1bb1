/* ops.h: the neural-network ops of dfstudy, CPU reference backend.
 *
 * Conventions (llm.c style):
 *  - Tensors are float32, NCHW for images/feature maps, (N, F) for dense activations, contiguous.
 *  - Each op is a forward/backward pair of free functions on raw pointers plus dimensions.
 *    Outputs come first, inputs are const. Forward caches what backward needs in buffers the
 *    caller provides (e.g. batchnorm's mean and inverse std, dropout's mask).
 *  - Backward ACCUMULATES (+=) into every gradient it writes: parameter gradients and input
 *    gradients alike, so a tensor consumed by two nodes sums both contributions. A NULL gradient
 *    pointer means "not needed" and is skipped (e.g. the image input, frozen parameters).
 *  - Sizes are int64_t; index arithmetic is done in int64_t/size_t.
 *  - Parallelism: OpenMP inside ops; GEMM through OpenBLAS (cblas_sgemm).
 *  - Weight layouts follow PyTorch (conv: K x C/groups x R x S; dense: O x I) so reference
 *    fixtures map one to one.
 */
#ifndef DFS_NN_OPS_H
#define DFS_NN_OPS_H

#include <stdint.h>
#include <stddef.h>
#include "core/rng.h"

/* ---- convolution ----
 * Padding is explicit and may be asymmetric: Keras/TensorFlow 'same' puts the odd extra row or
 * column at the bottom/right (nn_pad_same computes it); 'valid' is all zeros. */
typedef struct nn_conv {
    int64_t N, C, H, W;          /* input */
    int64_t K;                   /* output channels */
    int64_t R, S;                /* kernel height, width */
    int64_t stride_h, stride_w;
    int64_t dil_h, dil_w;
    int64_t pad_t, pad_l, pad_b, pad_r;
    int64_t groups;              /* C and K divisible by groups; depthwise: groups == C */
    int64_t P, Q;                /* output height, width: set by nn_conv_init */
} nn_conv;

/* Keras 'same' padding for one axis: output = ceil(in / stride); total padding
 * max((out - 1) * stride + (k - 1) * dil + 1 - in, 0), split before = total / 2, after = rest. */
void nn_pad_same(int64_t in, int64_t k, int64_t stride, int64_t dil, int64_t *before, int64_t *after);
/* Fill P and Q; returns 0, or -1 (with dfs_fail) when the configuration is impossible. */
int nn_conv_init(nn_conv *c);
/* Floats of scratch memory the conv needs (im2col buffers etc.) for forward and backward. */
size_t nn_conv_scratch(const nn_conv *c);
/* out (N,K,P,Q) = conv(in (N,C,H,W), w (K,C/g,R,S)) + b (K) [b may be NULL] */
void nn_conv2d_forward(float *out, const float *in, const float *w, const float *b, const nn_conv *c,
                       float *scratch);
/* din += dL/din, dw += dL/dw, db += dL/db (each may be NULL) */
void nn_conv2d_backward(float *din, float *dw, float *db, const float *dout, const float *in, const float *w,
                        const nn_conv *c, float *scratch);
/* The definition computed directly, one output at a time (slow): the oracle of the unit tests.
 * nn_conv_scratch may be 0 (depthwise and 1x1 stride-1 unpadded convolutions need none). */
void nn_conv2d_forward_naive(float *out, const float *in, const float *w, const float *b, const nn_conv *c);
void nn_conv2d_backward_naive(float *din, float *dw, float *db, const float *dout, const float *in, const float *w,
                              const nn_conv *c);

/* ---- dense: out (N,O) = in (N,In) w^T + b, w is (O,In), b may be NULL ----
 * (In, not I: <complex.h>, which <cblas.h> includes, defines I as a macro.) */
void nn_dense_forward(float *out, const float *in, const float *w, const float *b, int64_t N, int64_t In, int64_t O);
void nn_dense_backward(float *din, float *dw, float *db, const float *dout, const float *in, const float *w,
                       int64_t N, int64_t In, int64_t O);

/* ---- batch normalisation over N and spatial positions, per channel C (HW = 1 for dense) ----
 * Training: normalise with the batch mean and biased variance, save mean and invstd for
 * backward, and update running stats: running = momentum * running + (1 - momentum) * batch,
 * with the unbiased variance for running_var (Keras's momentum convention: 0.99 keeps 99%).
 * Inference (and frozen, for transfer learning): normalise with running stats; backward then
 * treats mean and invstd as constants. */
void nn_batchnorm_forward_train(float *out, float *save_mean, float *save_invstd, const float *in,
                                const float *gamma, const float *beta, float *running_mean, float *running_var,
                                float momentum, float eps, int64_t N, int64_t C, int64_t HW);
/* The same with a choice of running variance. Keras itself is inconsistent here: its fused
 * kernel (4-D inputs, i.e. after convolutions) feeds the UNBIASED batch variance to the moving
 * average, its non-fused path (2-D inputs, e.g. ShallowNet's BN after a dense layer) the BIASED
 * one. nn_batchnorm_forward_train is this with unbiased_running_var = 1.
 * NULL save_mean/save_invstd are not written; NULL running_mean/running_var are not updated;
 * NULL gamma/beta (in every batchnorm function) mean scale 1 and shift 0. */
void nn_batchnorm_forward_train_ex(float *out, float *save_mean, float *save_invstd, const float *in,
                                   const float *gamma, const float *beta, float *running_mean, float *running_var,
                                   float momentum, float eps, int unbiased_running_var, int64_t N, int64_t C,
                                   int64_t HW);
void nn_batchnorm_backward_train(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                                 const float *gamma, const float *save_mean, const float *save_invstd,
                                 int64_t N, int64_t C, int64_t HW);
void nn_batchnorm_forward_eval(float *out, const float *in, const float *gamma, const float *beta,
                               const float *running_mean, const float *running_var, float eps,
                               int64_t N, int64_t C, int64_t HW);
void nn_batchnorm_backward_eval(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                                const float *gamma, const float *running_mean, const float *running_var,
                                float eps, int64_t N, int64_t C, int64_t HW);

/* ---- batchnorm fused with the activation that follows it (graph.c fuses a batchnorm node with
 * an adjacent relu, leaky relu or swish node that reads it) ----
 * out = act(y) with y the batchnorm's output, and pre = y unless pre is NULL; in training mode
 * (f->train) also save_mean, save_invstd and the running statistics as
 * nn_batchnorm_forward_train_ex, in eval mode the running statistics are read as
 * nn_batchnorm_forward_eval does. Every float operation is the unfused pair's, in the same order
 * (the same per-channel statistics code, y = x * scale + shift, then the activation's own
 * expression on y), so out and pre equal the unfused results bit for bit. */
enum { NN_ACT_RELU = 1, NN_ACT_LEAKY_RELU = 2, NN_ACT_SWISH = 3 };
typedef struct nn_bn_act {
    int train;                   /* 1: batch statistics (forward_train_ex); 0: running statistics */
    int act;                     /* NN_ACT_* */
    float alpha;                 /* leaky ReLU's slope */
    float momentum, eps;
    int unbiased_running_var;    /* as forward_train_ex */
} nn_bn_act;
void nn_batchnorm_act_forward(float *out, float *pre, float *save_mean, float *save_invstd, const float *in,
                              const float *gamma, const float *beta, float *running_mean, float *running_var,
                              const nn_bn_act *f, int64_t N, int64_t C, int64_t HW);

/* ---- element-wise activations on n values; backward uses the forward input or output ---- */
void nn_relu_forward(float *out, const float *in, int64_t n);
void nn_relu_backward(float *din, const float *dout, const float *in, int64_t n);
/* Guided backpropagation (Springenberg et al.): din += dout only where in > 0 and dout > 0. */
void nn_guided_relu_backward(float *din, const float *dout, const float *in, int64_t n);
void nn_leaky_relu_forward(float *out, const float *in, float alpha, int64_t n);
void nn_leaky_relu_backward(float *din, const float *dout, const float *in, float alpha, int64_t n);
void nn_swish_forward(float *out, const float *in, int64_t n);                 /* x * sigmoid(x) */
void nn_swish_backward(float *din, const float *dout, const float *in, int64_t n);
void nn_sigmoid_forward(float *out, const float *in, int64_t n);
void nn_sigmoid_backward(float *din, const float *dout, const float *out, int64_t n);
/* softmax over the last axis of (N, K) */
void nn_softmax_forward(float *out, const float *in, int64_t N, int64_t K);
void nn_softmax_backward(float *din, const float *dout, const float *out, int64_t N, int64_t K);

/* ---- pooling (NCHW), window kh x kw, stride, explicit padding as in nn_conv ----
 * Max pool ignores padded positions (as if -inf); average pool divides by the number of
 * non-padded positions in the window (Keras/TensorFlow 'same' semantics). */
typedef struct nn_pool {
    int64_t N, C, H, W;
    int64_t kh, kw, stride_h, stride_w;
    int64_t pad_t, pad_l, pad_b, pad_r;
    int64_t P, Q;                /* set by nn_pool_init */
} nn_pool;
int nn_pool_init(nn_pool *p);
/* argmax (N,C,P,Q) records the winning input index for backward */
void nn_maxpool_forward(float *out, int32_t *argmax, const float *in, const nn_pool *p);
void nn_maxpool_backward(float *din, const float *dout, const int32_t *argmax, const nn_pool *p);
void nn_avgpool_forward(float *out, const float *in, const nn_pool *p);
void nn_avgpool_backward(float *din, const float *dout, const nn_pool *p);
/* (N,C,H,W) -> (N,C) */
void nn_global_avgpool_forward(float *out, const float *in, int64_t N, int64_t C, int64_t HW);
void nn_global_avgpool_backward(float *din, const float *dout, int64_t N, int64_t C, int64_t HW);

/* ---- dropout (inverted: kept values scaled by 1/(1-rate); identity in inference) ---- */
/* The mask (1 keep, 0 drop) is drawn in order from rng, so a seed fixes it at any thread count;
 * a value is kept when a uniform draw in [0, 1) is >= rate, as TensorFlow does. rate 0 keeps all
 * (no draws), rate 1 drops all. */
void nn_dropout_forward(float *out, uint8_t *mask, const float *in, float rate, int64_t n, dfs_rng *rng);
void nn_dropout_backward(float *din, const float *dout, const uint8_t *mask, float rate, int64_t n);
/* The two halves of nn_dropout_forward with a mask: the serial dfs_rng draws and
 * out = mask ? in / (1 - rate) : 0 (the graph draws its masks with nn_dropout_mask instead). */
void nn_dropout_draw(uint8_t *mask, float rate, int64_t n, dfs_rng *rng);
void nn_dropout_apply(float *out, const uint8_t *mask, const float *in, float rate, int64_t n);

/* The training graph's masks (counter_rng.h): mask[i] = keep(Philox(key, stream, i)), 1 with
 * probability 1 - rate; a pure function of (key, stream, i), so the same bytes on every backend
 * and at any thread count. Drop-connect's per-sample keeps are the same mask with n = N. */
void nn_dropout_mask(uint8_t *mask, float rate, int64_t n, uint64_t key, uint32_t stream);

/* ---- drop-connect (stochastic depth, EfficientNet): each sample's whole tensor of per_sample
 * values is kept with probability 1-rate and scaled by 1/(1-rate), or zeroed; keep (N) saves
 * the draw. Identity in inference. */
void nn_drop_connect_forward(float *out, uint8_t *keep, const float *in, float rate, int64_t N, int64_t per_sample,
                             dfs_rng *rng);
void nn_drop_connect_backward(float *din, const float *dout, const uint8_t *keep, float rate, int64_t N,
                              int64_t per_sample);
void nn_drop_connect_draw(uint8_t *keep, float rate, int64_t N, dfs_rng *rng);
void nn_drop_connect_apply(float *out, const uint8_t *keep, const float *in, float rate, int64_t N,
                           int64_t per_sample);

/* ---- structure ---- */
/* concat along channels: inputs k of shape (N, C_k, HW) -> (N, sum C_k, HW) */
void nn_concat_forward(float *out, const float *const *ins, const int64_t *Cs, int nin, int64_t N, int64_t HW);
void nn_concat_backward(float *const *dins, const float *dout, const int64_t *Cs, int nin, int64_t N, int64_t HW);
/* out = a + b (n values); backward: da += dout, db += dout */
void nn_add_forward(float *out, const float *a, const float *b, int64_t n);
void nn_add_backward(float *da, float *db, const float *dout, int64_t n);
/* channel scaling (squeeze-excitation's last step): out (N,C,HW) = in * s (N,C) */
void nn_scale_channels_forward(float *out, const float *in, const float *s, int64_t N, int64_t C, int64_t HW);
void nn_scale_channels_backward(float *din, float *ds, const float *dout, const float *in, const float *s,
                                int64_t N, int64_t C, int64_t HW);

/* ---- losses: return the mean loss over the batch and write dL/d(input) (overwrite, not +=) ----
 * Binary models produce one logit per sample (N); two-way models produce two logits (N, 2)
 * whose softmax is (P(real), P(fake)). Targets are 0 (real) or 1 (fake). The loss is computed
 * from logits so it stays finite for saturated outputs. */
/* MSE between sigmoid(logit) and the target (Meso models; Keras 'mse' on a sigmoid output) */
/* dlogit may be NULL to get the loss alone (evaluation, finite differences). */
double nn_loss_mse_sigmoid(float *dlogit, const float *logit, const float *target, int64_t N);
/* binary cross-entropy on sigmoid(logit), as Keras/TF1: the probability clipped to
 * [1e-7, 1 - 1e-7] (no gradient where the clip acts; loss.c) */
double nn_loss_bce_sigmoid(float *dlogit, const float *logit, const float *target, int64_t N);
/* Keras 'binary_crossentropy' on a 2-way softmax with one-hot targets: the mean over the two
 * outputs of the element-wise clipped BCE, which equals the categorical cross-entropy of the
 * true class while no probability is within 1e-7 of 0 or 1 */
double nn_loss_bce_softmax2(float *dlogits, const float *logits, const float *target, int64_t N);
/* The three losses by name: the study's stage-1 loss of an architecture (models.h) and a
 * training run's loss (its checkpoint's run signature spells it with nn_loss_name). */
typedef enum nn_loss_kind { NN_LOSS_MSE, NN_LOSS_BCE, NN_LOSS_BCE_SOFTMAX2 } nn_loss_kind;
/* "mse", "bce" (on the sigmoid) or "bce_softmax2" */
const char *nn_loss_name(nn_loss_kind k);
/* the loss of kind k (one of the three functions above) */
double nn_loss_apply(nn_loss_kind k, float *dlogits, const float *logits, const float *target, int64_t N);

/* ---- optimiser and regularisation ---- */
typedef struct nn_adam {
    float lr, beta1, beta2, eps;   /* Keras defaults: 0.9, 0.999, 1e-7 */
    int64_t t;                     /* steps taken */
} nn_adam;
/* One Adam step over n parameters as Keras computes it:
 * lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t); p -= lr_t * m / (sqrt(v) + eps).
 * Frozen parameters are simply not passed. The caller increments t before the step. */
void nn_adam_update(float *p, const float *g, float *m, float *v, const nn_adam *a, int64_t n);
/* L2 penalty lambda * sum(w^2): adds 2 * lambda * w to g and returns the penalty */
double nn_l2_penalty(float *g, const float *w, float lambda, int64_t n);

/* ---- initialisation (Keras defaults) ---- */
/* Glorot uniform: U(-limit, limit), limit = sqrt(6 / (fan_in + fan_out)) */
void nn_init_glorot_uniform(float *w, int64_t n, int64_t fan_in, int64_t fan_out, dfs_rng *rng);
/* VarianceScaling(scale, mode, 'normal') of TF 1.x: truncated at 2 standard deviations, standard
 * deviation sqrt(scale / fan) after the truncation (fan: fan_in or fan_out per the mode) */
void nn_init_variance_scaling_normal(float *w, int64_t n, double scale, int64_t fan, dfs_rng *rng);

/* ---- analysis (Grad-CAM, ACE): the reductions and edits that let the analyses run where the
 * network runs, so only their results cross to the host (lib/nn/inspect.c; backend.h) ---- */
/* Grad-CAM's map, per sample n of N: w_k = mean over the HW positions of grad (N,K,HW) channel k,
 * maps[n, p] = sum_k w_k act[n, k, p], summed in double in the order p then k, ReLU'd when relu
 * is set (maps is overwritten). */
void nn_cam_map(float *maps, const float *act, const float *grad, int64_t N, int64_t K, int64_t HW, int relu);
/* Per channel c of in (N,C,HW): mn[c] = min(mn[c], every value), mx[c] = max(mx[c], every value);
 * reset != 0 starts from +inf / -inf instead of mn and mx. A NaN never replaces a bound. */
void nn_channel_minmax(float *mn, float *mx, const float *in, int64_t N, int64_t C, int64_t HW, int reset);
/* h holds `copies` back-to-back batches of N samples of (C,HW). In copy j, channel c0 + j of every
 * sample is set: to vals[j] everywhere (src NULL), or back to src's channel c0 + j (src: one
 * batch of N samples of (C,HW)). */
void nn_set_neurons(float *h, const float *src, const float *vals, int64_t copies, int64_t N, int64_t C, int64_t HW,
                    int64_t c0);
/* P(fake) of sample i from a model's logits: classes 1, sigmoid(z); classes 2, softmax's second
 * value. Computed in double, rounded to float (nn_model_pfake uses it). */
float nn_pfake(const float *logits, int classes, int64_t i);
/* acc[j * stride] += sum over i < N of nn_pfake(logits, classes, j * N + i), in double and in
 * order of i, for each j < copies. */
void nn_pfake_sum(double *acc, int64_t stride, const float *logits, int classes, int64_t copies, int64_t N);

#endif
