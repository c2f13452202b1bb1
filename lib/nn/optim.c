/* optim.c: Adam as Keras computes it, the L2 penalty, Glorot-uniform initialisation.
 *
 * Adam is Keras 2's (keras-team/keras keras/optimizers.py Adam.get_updates; TF1's tf.keras copy
 * is tensorflow/python/keras/optimizer_v1.py): per step the counter `iterations` is advanced by
 * one FIRST, t = iterations, lr_t = lr sqrt(1 - beta2^t) / (1 - beta1^t), m = beta1 m + (1 - beta1) g,
 * v = beta2 v + (1 - beta2) g^2, p -= lr_t m / (sqrt(v) + epsilon), with epsilon = K.epsilon() =
 * 1e-7 by default (tensorflow/python/keras/optimizer_v2/adam.py: `epsilon or
 * backend_config.epsilon()`; the TF ApplyAdam kernel has the same update). So the first step
 * (t = 1) moves every parameter whose |g| is well above epsilon by lr: lr_t = lr sqrt(0.001) / 0.1
 * and m / sqrt(v) = 0.1 g / (sqrt(0.001) |g|). The caller (nn_graph_adam_step) advances a->t. */
#include "nn/ops.h"

#include <math.h>

#define PAR_MIN 32768

void nn_adam_update(float *p, const float *g, float *m, float *v, const nn_adam *a, int64_t n)
{
    double t = (double)a->t;
    float lr_t = (float)(a->lr * sqrt(1.0 - pow(a->beta2, t)) / (1.0 - pow(a->beta1, t)));
    float b1 = a->beta1, b2 = a->beta2, eps = a->eps;
#pragma omp parallel for schedule(static) if (n > PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        m[i] = b1 * m[i] + (1.0f - b1) * g[i];
        v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
        p[i] -= lr_t * m[i] / (sqrtf(v[i]) + eps);
    }
}

/* The sum of squares over a fixed split into blocks (not one per thread), added in block order:
 * the same bits for any thread count. */
#define L2_BLOCKS 64
double nn_l2_penalty(float *g, const float *w, float lambda, int64_t n)
{
    double part[L2_BLOCKS];
    int64_t len = (n + L2_BLOCKS - 1) / L2_BLOCKS;
    float k = 2.0f * lambda;
#pragma omp parallel for schedule(static) if (n > PAR_MIN)
    for (int b = 0; b < L2_BLOCKS; b++) {
        int64_t lo = b * len, hi = lo + len < n ? lo + len : n;
        double s = 0;
        for (int64_t i = lo; i < hi; i++) {
            s += (double)w[i] * w[i];
            if (g) g[i] += k * w[i];
        }
        part[b] = s;
    }
    double sum = 0;
    for (int b = 0; b < L2_BLOCKS; b++) sum += part[b];
    return lambda * sum;
}

void nn_init_glorot_uniform(float *w, int64_t n, int64_t fan_in, int64_t fan_out, dfs_rng *rng)
{
    double limit = sqrt(6.0 / (double)(fan_in + fan_out));
    for (int64_t i = 0; i < n; i++) w[i] = (float)dfs_rng_range(rng, -limit, limit);
}

/* TF 1.x's VarianceScaling 'normal' (tensorflow/python/ops/init_ops.py, which tf.keras used): a
 * truncated normal (redrawn outside two standard deviations) whose standard deviation before
 * truncation is sqrt(scale / fan) / 0.87962566103423978, the standard deviation of a unit normal
 * truncated to [-2, 2]: so the values have standard deviation sqrt(scale / fan). */
void nn_init_variance_scaling_normal(float *w, int64_t n, double scale, int64_t fan, dfs_rng *rng)
{
    double sd = sqrt(scale / (double)fan) / 0.87962566103423978;
    for (int64_t i = 0; i < n; i++) {
        double z;
        do z = dfs_rng_normal(rng);
        while (z < -2.0 || z > 2.0);
        w[i] = (float)(sd * z);
    }
}
