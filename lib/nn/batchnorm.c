/* batchnorm.c: batch normalisation per channel over N and the HW positions.
 * Statistics are summed in double, one channel per OpenMP iteration, in a fixed order, so
 * results do not depend on the thread count. gamma/beta may be NULL (scale 1, shift 0).
 * The inner loops are `omp simd` (vector lanes summed in a fixed order): GCC's -O2 cost model
 * would leave them scalar, and these passes are memory-bound sweeps over whole activations. */
#include "nn/ops.h"

#include <math.h>
#include <stdlib.h>

#include "core/common.h"
#include "nn/vmath.h"

#define PAR_MIN 32768

/* Channel c's batch statistics in one pass over its values, what forward saves, the running
 * update, and the affine map (scale, shift) that normalises it: shared by the plain and the
 * fused forward so that both compute the same floats. */
static inline void bn_train_channel(float *scale, float *shift, float *save_mean, float *save_invstd, const float *in,
                                    const float *gamma, const float *beta, float *running_mean, float *running_var,
                                    float momentum, float eps, int unbiased_running_var, int64_t N, int64_t C,
                                    int64_t HW, int64_t c)
{
    int64_t cnt = N * HW;
    /* one pass over the channel for both moments, shifted by one of its values: with the
     * shift near the mean, sq - s^2/cnt does not cancel (in double), so the second pass
     * over the data that an unshifted formula would need is saved */
    double k = in[c * HW], s = 0, sq = 0;
    for (int64_t n = 0; n < N; n++) {
        const float *x = in + (n * C + c) * HW;
#pragma omp simd reduction(+ : s, sq)
        for (int64_t i = 0; i < HW; i++) {
            double d = (double)x[i] - k;
            s += d;
            sq += d * d;
        }
    }
    double mean = k + s / (double)cnt;
    sq -= s * s / (double)cnt;   /* sum of squared deviations from the mean */
    if (sq < 0) sq = 0;
    double var = sq / (double)cnt;
    double invstd = 1.0 / sqrt(var + eps);
    if (save_mean) save_mean[c] = (float)mean;
    if (save_invstd) save_invstd[c] = (float)invstd;
    *scale = (float)(invstd * (gamma ? gamma[c] : 1.0f));
    *shift = (float)((beta ? beta[c] : 0.0f) - mean * *scale);
    if (running_mean) running_mean[c] = (float)(momentum * running_mean[c] + (1.0 - momentum) * mean);
    if (running_var) {
        double v = unbiased_running_var && cnt > 1 ? sq / (double)(cnt - 1) : var;
        running_var[c] = (float)(momentum * running_var[c] + (1.0 - momentum) * v);
    }
}

void nn_batchnorm_forward_train_ex(float *out, float *save_mean, float *save_invstd, const float *in,
                                   const float *gamma, const float *beta, float *running_mean, float *running_var,
                                   float momentum, float eps, int unbiased_running_var, int64_t N, int64_t C,
                                   int64_t HW)
{
#pragma omp parallel for schedule(static) if (N * C * HW > PAR_MIN)
    for (int64_t c = 0; c < C; c++) {
        float scale, shift;
        bn_train_channel(&scale, &shift, save_mean, save_invstd, in, gamma, beta, running_mean, running_var,
                         momentum, eps, unbiased_running_var, N, C, HW, c);
        for (int64_t n = 0; n < N; n++) {
            const float *x = in + (n * C + c) * HW;
            float *y = out + (n * C + c) * HW;
#pragma omp simd
            for (int64_t i = 0; i < HW; i++) y[i] = x[i] * scale + shift;
        }
    }
}

void nn_batchnorm_forward_train(float *out, float *save_mean, float *save_invstd, const float *in,
                                const float *gamma, const float *beta, float *running_mean, float *running_var,
                                float momentum, float eps, int64_t N, int64_t C, int64_t HW)
{
    nn_batchnorm_forward_train_ex(out, save_mean, save_invstd, in, gamma, beta, running_mean, running_var, momentum,
                                  eps, 1, N, C, HW);
}

/* With xhat = (x - mean) invstd and y = gamma xhat + beta, over the cnt values of a channel:
 * din = gamma invstd (dy - mean(dy) - xhat mean(dy xhat)). */
void nn_batchnorm_backward_train(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                                 const float *gamma, const float *save_mean, const float *save_invstd,
                                 int64_t N, int64_t C, int64_t HW)
{
    double cnt = (double)(N * HW);
#pragma omp parallel for schedule(static) if (N * C * HW > PAR_MIN)
    for (int64_t c = 0; c < C; c++) {
        float mean = save_mean[c], invstd = save_invstd[c];
        double sdy = 0, sdyx = 0;
        for (int64_t n = 0; n < N; n++) {
            const float *x = in + (n * C + c) * HW, *dy = dout + (n * C + c) * HW;
#pragma omp simd reduction(+ : sdy, sdyx)
            for (int64_t i = 0; i < HW; i++) {
                sdy += dy[i];
                sdyx += (double)dy[i] * ((x[i] - mean) * invstd);
            }
        }
        if (dbeta) dbeta[c] += (float)sdy;
        if (dgamma) dgamma[c] += (float)sdyx;
        if (!din) continue;
        float k = (gamma ? gamma[c] : 1.0f) * invstd;
        float mdy = (float)(sdy / cnt), mdyx = (float)(sdyx / cnt);
        for (int64_t n = 0; n < N; n++) {
            const float *x = in + (n * C + c) * HW, *dy = dout + (n * C + c) * HW;
            float *dx = din + (n * C + c) * HW;
#pragma omp simd
            for (int64_t i = 0; i < HW; i++) dx[i] += k * (dy[i] - mdy - (x[i] - mean) * invstd * mdyx);
        }
    }
}

/* The affine map per channel once, not per (sample, channel): for dense-like inputs (HW = 1) the
 * square root per element cost more than the map itself. scale and shift: C floats each. */
static void bn_eval_map(float *scale, float *shift, const float *gamma, const float *beta,
                        const float *running_mean, const float *running_var, float eps, int64_t C)
{
    for (int64_t c = 0; c < C; c++) {
        double invstd = 1.0 / sqrt((double)running_var[c] + eps);
        scale[c] = (float)(invstd * (gamma ? gamma[c] : 1.0f));
        shift[c] = (float)((beta ? beta[c] : 0.0f) - running_mean[c] * (double)scale[c]);
    }
}

void nn_batchnorm_forward_eval(float *out, const float *in, const float *gamma, const float *beta,
                               const float *running_mean, const float *running_var, float eps,
                               int64_t N, int64_t C, int64_t HW)
{
    float *scale = dfs_malloc((size_t)C * 2 * sizeof(float)), *shift = scale + C;
    bn_eval_map(scale, shift, gamma, beta, running_mean, running_var, eps, C);
#pragma omp parallel for schedule(static) if (N * C * HW > PAR_MIN)
    for (int64_t nc = 0; nc < N * C; nc++) {
        int64_t c = nc % C;
        const float *x = in + nc * HW;
        float *y = out + nc * HW;
        float a = scale[c], b = shift[c];
#pragma omp simd
        for (int64_t i = 0; i < HW; i++) y[i] = x[i] * a + b;
    }
    free(scale);
}

void nn_batchnorm_backward_eval(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                                const float *gamma, const float *running_mean, const float *running_var,
                                float eps, int64_t N, int64_t C, int64_t HW)
{
#pragma omp parallel for schedule(static) if (N * C * HW > PAR_MIN)
    for (int64_t c = 0; c < C; c++) {
        float mean = running_mean[c];
        float invstd = (float)(1.0 / sqrt((double)running_var[c] + eps));
        float k = (gamma ? gamma[c] : 1.0f) * invstd;
        double sdy = 0, sdyx = 0;
        for (int64_t n = 0; n < N; n++) {
            const float *x = in + (n * C + c) * HW, *dy = dout + (n * C + c) * HW;
#pragma omp simd reduction(+ : sdy, sdyx)
            for (int64_t i = 0; i < HW; i++) {
                sdy += dy[i];
                sdyx += (double)dy[i] * ((x[i] - mean) * invstd);
            }
            if (din) {
                float *dx = din + (n * C + c) * HW;
#pragma omp simd
                for (int64_t i = 0; i < HW; i++) dx[i] += k * dy[i];
            }
        }
        if (dbeta) dbeta[c] += (float)sdy;
        if (dgamma) dgamma[c] += (float)sdyx;
    }
}

/* ---- batchnorm fused with its activation (ops.h nn_batchnorm_act_forward) ----
 * One plane of HW values: v = x * a + b, the batchnorm's expression, then the activation's own
 * expression of activation.c on v (so each value is the float the unfused pair computes); pre
 * keeps v when given. The activation is chosen outside the loops so each stays a SIMD loop. */
#define AFFINE_ACT_LOOP(EXPR)                                                   \
    do {                                                                        \
        if (pre) {                                                              \
            _Pragma("omp simd") for (int64_t i = 0; i < HW; i++) {              \
                float v = x[i] * a + b;                                         \
                pre[i] = v;                                                     \
                out[i] = (EXPR);                                                \
            }                                                                   \
        } else {                                                                \
            _Pragma("omp simd") for (int64_t i = 0; i < HW; i++) {              \
                float v = x[i] * a + b;                                         \
                out[i] = (EXPR);                                                \
            }                                                                   \
        }                                                                       \
    } while (0)

static inline void affine_act_plane(float *out, float *pre, const float *x, float a, float b, int act, float alpha,
                                    int64_t HW)
{
    switch (act) {
    case NN_ACT_RELU: AFFINE_ACT_LOOP(v > 0 ? v : 0.0f); break;
    case NN_ACT_LEAKY_RELU: AFFINE_ACT_LOOP(v > 0 ? v : alpha * v); break;
    default: AFFINE_ACT_LOOP(v * nn_sigmoidf(v)); break;
    }
}

void nn_batchnorm_act_forward(float *out, float *pre, float *save_mean, float *save_invstd, const float *in,
                              const float *gamma, const float *beta, float *running_mean, float *running_var,
                              const nn_bn_act *f, int64_t N, int64_t C, int64_t HW)
{
    if (f->train) {
        /* per channel, as forward_train_ex: the channel's values are still in cache when the
         * normalising pass reads them again */
#pragma omp parallel for schedule(static) if (N * C * HW > PAR_MIN)
        for (int64_t c = 0; c < C; c++) {
            float a, b;
            bn_train_channel(&a, &b, save_mean, save_invstd, in, gamma, beta, running_mean, running_var, f->momentum,
                             f->eps, f->unbiased_running_var, N, C, HW, c);
            for (int64_t n = 0; n < N; n++) {
                int64_t at = (n * C + c) * HW;
                affine_act_plane(out + at, pre ? pre + at : NULL, in + at, a, b, f->act, f->alpha, HW);
            }
        }
        return;
    }
    float *scale = dfs_malloc((size_t)C * 2 * sizeof(float)), *shift = scale + C;
    bn_eval_map(scale, shift, gamma, beta, running_mean, running_var, f->eps, C);
#pragma omp parallel for schedule(static) if (N * C * HW > PAR_MIN)
    for (int64_t nc = 0; nc < N * C; nc++) {
        int64_t c = nc % C;
        affine_act_plane(out + nc * HW, pre ? pre + nc * HW : NULL, in + nc * HW, scale[c], shift[c], f->act,
                         f->alpha, HW);
    }
    free(scale);
}
