/* batchnorm.c: batch normalisation per channel over N and the HW positions.
 * Statistics are summed in double, one channel per OpenMP iteration, in a fixed order, so
 * results do not depend on the thread count. gamma/beta may be NULL (scale 1, shift 0).
 * The inner loops are `omp simd` (vector lanes summed in a fixed order): GCC's -O2 cost model
 * would leave them scalar, and these passes are memory-bound sweeps over whole activations. */
#include "nn/ops.h"

#include <math.h>
#include <stdlib.h>

#include "common.h"

#define PAR_MIN 32768

void nn_batchnorm_forward_train_ex(float *out, float *save_mean, float *save_invstd, const float *in,
                                   const float *gamma, const float *beta, float *running_mean, float *running_var,
                                   float momentum, float eps, int unbiased_running_var, int64_t N, int64_t C,
                                   int64_t HW)
{
    int64_t cnt = N * HW;
#pragma omp parallel for schedule(static) if (N * C * HW > PAR_MIN)
    for (int64_t c = 0; c < C; c++) {
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
        float scale = (float)(invstd * (gamma ? gamma[c] : 1.0f));
        float shift = (float)((beta ? beta[c] : 0.0f) - mean * scale);
        for (int64_t n = 0; n < N; n++) {
            const float *x = in + (n * C + c) * HW;
            float *y = out + (n * C + c) * HW;
#pragma omp simd
            for (int64_t i = 0; i < HW; i++) y[i] = x[i] * scale + shift;
        }
        if (running_mean) running_mean[c] = (float)(momentum * running_mean[c] + (1.0 - momentum) * mean);
        if (running_var) {
            double v = unbiased_running_var && cnt > 1 ? sq / (double)(cnt - 1) : var;
            running_var[c] = (float)(momentum * running_var[c] + (1.0 - momentum) * v);
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

void nn_batchnorm_forward_eval(float *out, const float *in, const float *gamma, const float *beta,
                               const float *running_mean, const float *running_var, float eps,
                               int64_t N, int64_t C, int64_t HW)
{
    /* the affine map per channel once, not per (sample, channel): for dense-like inputs (HW = 1)
     * the square root per element cost more than the map itself */
    float *scale = dfs_malloc((size_t)C * 2 * sizeof(float)), *shift = scale + C;
    for (int64_t c = 0; c < C; c++) {
        double invstd = 1.0 / sqrt((double)running_var[c] + eps);
        scale[c] = (float)(invstd * (gamma ? gamma[c] : 1.0f));
        shift[c] = (float)((beta ? beta[c] : 0.0f) - running_mean[c] * (double)scale[c]);
    }
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
