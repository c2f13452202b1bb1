/* activation.c: element-wise activations and the row softmax. Each element is independent,
 * so the OpenMP split cannot change results. The loops are `omp simd`: GCC's -O2 cost model
 * leaves them scalar, and a conditional one (ReLU) then branches on every value's random sign
 * (ReLU backward was 18% of Meso4 training that way). Swish and sigmoid use vmath.h's exp so
 * they vectorise; the softmax keeps libm's expf. */
#include "nn/ops.h"

#include <math.h>

#include "nn/vmath.h"

#define PAR_MIN 32768   /* below this many values a parallel region costs more than it saves */

void nn_relu_forward(float *out, const float *in, int64_t n)
{
#pragma omp parallel for simd schedule(static) if (n > PAR_MIN)
    for (int64_t i = 0; i < n; i++) out[i] = in[i] > 0 ? in[i] : 0.0f;
}

void nn_relu_backward(float *din, const float *dout, const float *in, int64_t n)
{
    if (!din) return;
#pragma omp parallel for simd schedule(static) if (n > PAR_MIN)
    for (int64_t i = 0; i < n; i++) din[i] += in[i] > 0 ? dout[i] : 0.0f;
}

void nn_guided_relu_backward(float *din, const float *dout, const float *in, int64_t n)
{
    if (!din) return;
    for (int64_t i = 0; i < n; i++)
        if (in[i] > 0.0f && dout[i] > 0.0f) din[i] += dout[i];
}

void nn_leaky_relu_forward(float *out, const float *in, float alpha, int64_t n)
{
#pragma omp parallel for simd schedule(static) if (n > PAR_MIN)
    for (int64_t i = 0; i < n; i++) out[i] = in[i] > 0 ? in[i] : alpha * in[i];
}

void nn_leaky_relu_backward(float *din, const float *dout, const float *in, float alpha, int64_t n)
{
    if (!din) return;
#pragma omp parallel for simd schedule(static) if (n > PAR_MIN)
    for (int64_t i = 0; i < n; i++) din[i] += in[i] > 0 ? dout[i] : alpha * dout[i];
}

void nn_swish_forward(float *out, const float *in, int64_t n)
{
#pragma omp parallel for simd schedule(static) if (n > PAR_MIN)
    for (int64_t i = 0; i < n; i++) out[i] = in[i] * nn_sigmoidf(in[i]);
}

/* d/dx x s(x) = s + x s (1 - s) */
void nn_swish_backward(float *din, const float *dout, const float *in, int64_t n)
{
    if (!din) return;
#pragma omp parallel for simd schedule(static) if (n > PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        float s = nn_sigmoidf(in[i]);
        din[i] += dout[i] * (s + in[i] * s * (1.0f - s));
    }
}

void nn_sigmoid_forward(float *out, const float *in, int64_t n)
{
#pragma omp parallel for simd schedule(static) if (n > PAR_MIN)
    for (int64_t i = 0; i < n; i++) out[i] = nn_sigmoidf(in[i]);
}

void nn_sigmoid_backward(float *din, const float *dout, const float *out, int64_t n)
{
    if (!din) return;
#pragma omp parallel for simd schedule(static) if (n > PAR_MIN)
    for (int64_t i = 0; i < n; i++) din[i] += dout[i] * out[i] * (1.0f - out[i]);
}

void nn_softmax_forward(float *out, const float *in, int64_t N, int64_t K)
{
#pragma omp parallel for schedule(static) if (N * K > PAR_MIN)
    for (int64_t n = 0; n < N; n++) {
        const float *x = in + n * K;
        float *y = out + n * K;
        float mx = x[0];
        for (int64_t k = 1; k < K; k++) mx = x[k] > mx ? x[k] : mx;
        double sum = 0;
        for (int64_t k = 0; k < K; k++) sum += (y[k] = expf(x[k] - mx));
        float inv = (float)(1.0 / sum);
        for (int64_t k = 0; k < K; k++) y[k] *= inv;
    }
}

/* din_k += y_k (dout_k - sum_j dout_j y_j) */
void nn_softmax_backward(float *din, const float *dout, const float *out, int64_t N, int64_t K)
{
    if (!din) return;
#pragma omp parallel for schedule(static) if (N * K > PAR_MIN)
    for (int64_t n = 0; n < N; n++) {
        const float *y = out + n * K, *g = dout + n * K;
        double dot = 0;
        for (int64_t k = 0; k < K; k++) dot += (double)g[k] * y[k];
        for (int64_t k = 0; k < K; k++) din[n * K + k] += y[k] * (g[k] - (float)dot);
    }
}
