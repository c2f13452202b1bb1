/* inspect.c: the analysis ops of ops.h (Grad-CAM's map, ACE's ranges, interventions and P(fake)
 * sums) on the cpu. Each output value is computed by one thread in a fixed order, so the results
 * do not depend on the thread count. The CUDA kernels (lib/nn/cuda/inspect.cu) follow the same
 * formulas. */
#include <math.h>
#include <stdlib.h>

#include "core/common.h"
#include "nn/ops.h"

#define PAR_MIN 32768   /* below this many values a parallel region costs more than it saves */

void nn_cam_map(float *maps, const float *act, const float *grad, int64_t N, int64_t K, int64_t HW, int relu)
{
#pragma omp parallel for schedule(static) if (N * K * HW > PAR_MIN)
    for (int64_t n = 0; n < N; n++) {
        const float *A = act + n * K * HW, *G = grad + n * K * HW;
        double *acc = dfs_calloc((size_t)HW, sizeof(double));
        for (int64_t k = 0; k < K; k++) {
            double w = 0.0;
            for (int64_t p = 0; p < HW; p++) w += G[k * HW + p];
            w /= (double)HW;
            for (int64_t p = 0; p < HW; p++) acc[p] += w * A[k * HW + p];
        }
        for (int64_t p = 0; p < HW; p++) {
            double v = acc[p];
            maps[n * HW + p] = (float)(relu && v < 0.0 ? 0.0 : v);
        }
        free(acc);
    }
}

void nn_channel_minmax(float *mn, float *mx, const float *in, int64_t N, int64_t C, int64_t HW, int reset)
{
#pragma omp parallel for schedule(static) if (N * C * HW > PAR_MIN)
    for (int64_t c = 0; c < C; c++) {
        float lo = reset ? INFINITY : mn[c], hi = reset ? -INFINITY : mx[c];
        for (int64_t n = 0; n < N; n++) {
            const float *p = in + (n * C + c) * HW;
            for (int64_t q = 0; q < HW; q++) {
                if (p[q] < lo) lo = p[q];
                if (p[q] > hi) hi = p[q];
            }
        }
        mn[c] = lo;
        mx[c] = hi;
    }
}

void nn_set_neurons(float *h, const float *src, const float *vals, int64_t copies, int64_t N, int64_t C, int64_t HW,
                    int64_t c0)
{
#pragma omp parallel for schedule(static) if (copies * N * HW > PAR_MIN)
    for (int64_t s = 0; s < copies * N; s++) {
        int64_t j = s / N, i = s % N, c = c0 + j;
        float *d = h + (s * C + c) * HW;
        if (src) {
            const float *p = src + (i * C + c) * HW;
            for (int64_t q = 0; q < HW; q++) d[q] = p[q];
        } else {
            for (int64_t q = 0; q < HW; q++) d[q] = vals[j];
        }
    }
}

float nn_pfake(const float *logits, int classes, int64_t i)
{
    if (classes == 1) return (float)(1.0 / (1.0 + exp(-(double)logits[i])));
    double d = (double)logits[2 * i] - (double)logits[2 * i + 1];   /* softmax[1] = 1/(1+e^(l0-l1)) */
    return (float)(1.0 / (1.0 + exp(d)));
}

void nn_pfake_sum(double *acc, int64_t stride, const float *logits, int classes, int64_t copies, int64_t N)
{
    for (int64_t j = 0; j < copies; j++) {
        double sum = 0;
        for (int64_t i = 0; i < N; i++) sum += nn_pfake(logits, classes, j * N + i);
        acc[j * stride] += sum;
    }
}
