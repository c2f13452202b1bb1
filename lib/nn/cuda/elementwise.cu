/* elementwise.cu: activations, softmax, dropout, drop-connect, concat, add, channel scaling,
 * Adam and the L2 penalty on the GPU (contracts: ops.h; formulas of lib/nn/activation.c,
 * structure.c, optim.c). Element-wise ops are grid-stride loops; the reductions (softmax rows,
 * channel-scaling gradient, L2 sum) are per-warp or per-block sums in double, in a fixed order. */
#include <math.h>

#include "nn/counter_rng.h"
#include "nn/cuda/common.cuh"

namespace dfs_cuda {

#define FOR_EACH(i, n) \
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < (n); i += (int64_t)gridDim.x * blockDim.x)

__global__ void relu_forward_kernel(float *out, const float *in, int64_t n)
{
    FOR_EACH(i, n) out[i] = in[i] > 0 ? in[i] : 0.0f;
}
__global__ void relu_backward_kernel(float *din, const float *dout, const float *in, int64_t n)
{
    FOR_EACH(i, n) din[i] += in[i] > 0 ? dout[i] : 0.0f;
}
__global__ void guided_relu_backward_kernel(float *din, const float *dout, const float *in, int64_t n)
{
    FOR_EACH(i, n) if (in[i] > 0.0f && dout[i] > 0.0f) din[i] += dout[i];
}
__global__ void leaky_relu_forward_kernel(float *out, const float *in, float alpha, int64_t n)
{
    FOR_EACH(i, n) out[i] = in[i] > 0 ? in[i] : alpha * in[i];
}
__global__ void leaky_relu_backward_kernel(float *din, const float *dout, const float *in, float alpha, int64_t n)
{
    FOR_EACH(i, n) din[i] += in[i] > 0 ? dout[i] : alpha * dout[i];
}
__global__ void swish_forward_kernel(float *out, const float *in, int64_t n)
{
    FOR_EACH(i, n) out[i] = in[i] * sigmoidf_dev(in[i]);
}
/* d/dx x s(x) = s + x s (1 - s) */
__global__ void swish_backward_kernel(float *din, const float *dout, const float *in, int64_t n)
{
    FOR_EACH(i, n)
    {
        float s = sigmoidf_dev(in[i]);
        din[i] += dout[i] * (s + in[i] * s * (1.0f - s));
    }
}
__global__ void sigmoid_forward_kernel(float *out, const float *in, int64_t n)
{
    FOR_EACH(i, n) out[i] = sigmoidf_dev(in[i]);
}
__global__ void sigmoid_backward_kernel(float *din, const float *dout, const float *out, int64_t n)
{
    FOR_EACH(i, n) din[i] += dout[i] * out[i] * (1.0f - out[i]);
}

/* Launch a flat kernel over n values, return after checking the launch. */
#define FLAT(kernel, n, ...)                                                     \
    do {                                                                         \
        if ((n) <= 0) return;                                                    \
        kernel<<<flat_grid(n), THREADS, 0, stream>>>(__VA_ARGS__);               \
        LAUNCHED(#kernel);                                                       \
    } while (0)

void relu_forward(float *out, const float *in, int64_t n)
{
    const char *op = "relu_forward";
    FLAT(relu_forward_kernel, n, out, in, n);
}
void relu_backward(float *din, const float *dout, const float *in, int64_t n)
{
    const char *op = "relu_backward";
    if (din) FLAT(relu_backward_kernel, n, din, dout, in, n);
}
void guided_relu_backward(float *din, const float *dout, const float *in, int64_t n)
{
    const char *op = "guided_relu_backward";
    if (din) FLAT(guided_relu_backward_kernel, n, din, dout, in, n);
}
void leaky_relu_forward(float *out, const float *in, float alpha, int64_t n)
{
    const char *op = "leaky_relu_forward";
    FLAT(leaky_relu_forward_kernel, n, out, in, alpha, n);
}
void leaky_relu_backward(float *din, const float *dout, const float *in, float alpha, int64_t n)
{
    const char *op = "leaky_relu_backward";
    if (din) FLAT(leaky_relu_backward_kernel, n, din, dout, in, alpha, n);
}
void swish_forward(float *out, const float *in, int64_t n)
{
    const char *op = "swish_forward";
    FLAT(swish_forward_kernel, n, out, in, n);
}
void swish_backward(float *din, const float *dout, const float *in, int64_t n)
{
    const char *op = "swish_backward";
    if (din) FLAT(swish_backward_kernel, n, din, dout, in, n);
}
void sigmoid_forward(float *out, const float *in, int64_t n)
{
    const char *op = "sigmoid_forward";
    FLAT(sigmoid_forward_kernel, n, out, in, n);
}
void sigmoid_backward(float *din, const float *dout, const float *out, int64_t n)
{
    const char *op = "sigmoid_backward";
    if (din) FLAT(sigmoid_backward_kernel, n, din, dout, out, n);
}

/* ---- softmax over the last axis: one warp per row ---- */

__device__ inline double warp_sum(double v)
{
    for (int off = 16; off > 0; off /= 2) v += __shfl_xor_sync(0xffffffffu, v, off);
    return v;
}

__global__ void softmax_forward_kernel(float *out, const float *in, int64_t N, int64_t K)
{
    int lane = threadIdx.x % 32;
    int64_t warps = (int64_t)gridDim.x * blockDim.x / 32;
    for (int64_t row = (blockIdx.x * (int64_t)blockDim.x + threadIdx.x) / 32; row < N; row += warps) {
        const float *x = in + row * K;
        float *y = out + row * K;
        float mx = x[0];
        for (int64_t k = lane; k < K; k += 32) mx = x[k] > mx ? x[k] : mx;
        for (int off = 16; off > 0; off /= 2) {
            float o = __shfl_xor_sync(0xffffffffu, mx, off);
            mx = o > mx ? o : mx;
        }
        double sum = 0;
        for (int64_t k = lane; k < K; k += 32) sum += (y[k] = expf(x[k] - mx));
        float inv = (float)(1.0 / warp_sum(sum));
        for (int64_t k = lane; k < K; k += 32) y[k] *= inv;
    }
}

/* din_k += y_k (dout_k - sum_j dout_j y_j) */
__global__ void softmax_backward_kernel(float *din, const float *dout, const float *out, int64_t N, int64_t K)
{
    int lane = threadIdx.x % 32;
    int64_t warps = (int64_t)gridDim.x * blockDim.x / 32;
    for (int64_t row = (blockIdx.x * (int64_t)blockDim.x + threadIdx.x) / 32; row < N; row += warps) {
        const float *y = out + row * K, *g = dout + row * K;
        double dot = 0;
        for (int64_t k = lane; k < K; k += 32) dot += (double)g[k] * y[k];
        float d = (float)warp_sum(dot);
        for (int64_t k = lane; k < K; k += 32) din[row * K + k] += y[k] * (g[k] - d);
    }
}

static unsigned warp_rows_grid(int64_t rows) { return flat_grid(rows * 32); }

void softmax_forward(float *out, const float *in, int64_t N, int64_t K)
{
    const char *op = "softmax_forward";
    if (N <= 0 || K <= 0) return;
    softmax_forward_kernel<<<warp_rows_grid(N), THREADS, 0, stream>>>(out, in, N, K);
    LAUNCHED("softmax_forward_kernel");
}

void softmax_backward(float *din, const float *dout, const float *out, int64_t N, int64_t K)
{
    const char *op = "softmax_backward";
    if (!din || N <= 0 || K <= 0) return;
    softmax_backward_kernel<<<warp_rows_grid(N), THREADS, 0, stream>>>(din, dout, out, N, K);
    LAUNCHED("softmax_backward_kernel");
}

/* ---- dropout and drop-connect: masks drawn here, from counter_rng.h as the cpu draws them ---- */

/* one thread per block of four mask bytes: the same Philox call and bytes as nn_dropout_mask */
__global__ void dropout_mask_kernel(uint8_t *mask, float rate, int64_t n, uint64_t key, uint32_t node,
                                    int64_t blocks)
{
    FOR_EACH(b, blocks) dfs_crng_keep_block(mask, rate, n, key, node, b);
}

/* (the generator's stream is the graph's node; `stream` here is the CUDA stream) */
void dropout_mask(uint8_t *mask, float rate, int64_t n, uint64_t key, uint32_t node)
{
    const char *op = "dropout_mask";
    int64_t blocks = (n + 3) / 4;
    FLAT(dropout_mask_kernel, blocks, mask, rate, n, key, node, blocks);
}

/* as structure.c: kept values are scaled by 1 / (1 - rate); rate 1 keeps nothing */
static float keep_scale(float rate) { return rate < 1.0f ? 1.0f / (1.0f - rate) : 0.0f; }

__global__ void dropout_apply_kernel(float *out, const uint8_t *mask, const float *in, float scale, int64_t n)
{
    FOR_EACH(i, n) out[i] = mask[i] ? in[i] * scale : 0.0f;
}
__global__ void dropout_backward_kernel(float *din, const float *dout, const uint8_t *mask, float scale, int64_t n)
{
    FOR_EACH(i, n) din[i] += mask[i] ? dout[i] * scale : 0.0f;
}

void dropout_apply(float *out, const uint8_t *mask, const float *in, float rate, int64_t n)
{
    const char *op = "dropout_apply";
    FLAT(dropout_apply_kernel, n, out, mask, in, keep_scale(rate), n);
}
void dropout_backward(float *din, const float *dout, const uint8_t *mask, float rate, int64_t n)
{
    const char *op = "dropout_backward";
    if (din) FLAT(dropout_backward_kernel, n, din, dout, mask, keep_scale(rate), n);
}

/* grid (x: values of a sample, y: samples) */
static dim3 sample_grid(int64_t N, int64_t per_sample)
{
    unsigned x = flat_grid(per_sample);
    int64_t y = N > 65535 ? 65535 : N;
    int64_t most = (int64_t)sm_count * 32;
    if (x * y > most && most / y >= 1) x = (unsigned)(most / y);
    return dim3(x, (unsigned)(y < 1 ? 1 : y));
}

#define FOR_EACH_SAMPLE(n, i, N, per)                                                                 \
    for (int64_t n = blockIdx.y; n < (N); n += gridDim.y)                                             \
        for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < (per); i += (int64_t)gridDim.x * blockDim.x)

__global__ void drop_connect_apply_kernel(float *out, const uint8_t *keep, const float *in, float scale, int64_t N,
                                          int64_t per)
{
    FOR_EACH_SAMPLE(n, i, N, per) out[n * per + i] = in[n * per + i] * (keep[n] ? scale : 0.0f);
}
__global__ void drop_connect_backward_kernel(float *din, const float *dout, const uint8_t *keep, float scale,
                                             int64_t N, int64_t per)
{
    FOR_EACH_SAMPLE(n, i, N, per) if (keep[n]) din[n * per + i] += dout[n * per + i] * scale;
}

void drop_connect_apply(float *out, const uint8_t *keep, const float *in, float rate, int64_t N, int64_t per_sample)
{
    const char *op = "drop_connect_apply";
    if (N <= 0 || per_sample <= 0) return;
    drop_connect_apply_kernel<<<sample_grid(N, per_sample), THREADS, 0, stream>>>(out, keep, in, keep_scale(rate), N,
                                                                                   per_sample);
    LAUNCHED("drop_connect_apply_kernel");
}
void drop_connect_backward(float *din, const float *dout, const uint8_t *keep, float rate, int64_t N,
                           int64_t per_sample)
{
    const char *op = "drop_connect_backward";
    if (!din || N <= 0 || per_sample <= 0) return;
    drop_connect_backward_kernel<<<sample_grid(N, per_sample), THREADS, 0, stream>>>(din, dout, keep,
                                                                                      keep_scale(rate), N, per_sample);
    LAUNCHED("drop_connect_backward_kernel");
}

/* ---- structure ---- */

void concat_forward(float *out, const float *const *ins, const int64_t *Cs, int nin, int64_t N, int64_t HW)
{
    const char *op = "concat_forward";
    int64_t Ctot = 0;
    for (int k = 0; k < nin; k++) Ctot += Cs[k];
    int64_t off = 0;
    for (int k = 0; k < nin; k++) {
        /* N rows of Cs[k]*HW floats, from a packed source into the output's channel block */
        size_t width = (size_t)(Cs[k] * HW) * sizeof(float);
        if (width && N > 0 &&
            !CUDA_OK(cudaMemcpy2DAsync, out + off * HW, (size_t)(Ctot * HW) * sizeof(float), ins[k], width, width,
                     (size_t)N, cudaMemcpyDeviceToDevice, stream))
            return;
        off += Cs[k];
    }
}

__global__ void concat_backward_kernel(float *d, const float *dout, int64_t N, int64_t len, int64_t Ctot_HW,
                                       int64_t off_HW)
{
    FOR_EACH_SAMPLE(n, i, N, len) d[n * len + i] += dout[n * Ctot_HW + off_HW + i];
}

void concat_backward(float *const *dins, const float *dout, const int64_t *Cs, int nin, int64_t N, int64_t HW)
{
    const char *op = "concat_backward";
    int64_t Ctot = 0;
    for (int k = 0; k < nin; k++) Ctot += Cs[k];
    int64_t off = 0;
    for (int k = 0; k < nin; k++) {
        int64_t len = Cs[k] * HW;
        if (dins[k] && len > 0 && N > 0) {
            concat_backward_kernel<<<sample_grid(N, len), THREADS, 0, stream>>>(dins[k], dout, N, len, Ctot * HW,
                                                                                 off * HW);
            if (!LAUNCHED("concat_backward_kernel")) return;
        }
        off += Cs[k];
    }
}

__global__ void add_forward_kernel(float *out, const float *a, const float *b, int64_t n)
{
    FOR_EACH(i, n) out[i] = a[i] + b[i];
}
__global__ void add_backward_kernel(float *da, float *db, const float *dout, int64_t n)
{
    FOR_EACH(i, n)
    {
        float g = dout[i];
        if (da) da[i] += g;
        if (db) db[i] += g;
    }
}

void add_forward(float *out, const float *a, const float *b, int64_t n)
{
    const char *op = "add_forward";
    FLAT(add_forward_kernel, n, out, a, b, n);
}
void add_backward(float *da, float *db, const float *dout, int64_t n)
{
    const char *op = "add_backward";
    if (da || db) FLAT(add_backward_kernel, n, da, db, dout, n);
}

/* out plane (n, c) = in * s[n, c]: one block per plane */
__global__ void scale_channels_forward_kernel(float *out, const float *in, const float *s, int64_t planes,
                                              int64_t HW)
{
    for (int64_t plane = blockIdx.x; plane < planes; plane += gridDim.x) {
        float f = s[plane];
        for (int64_t i = threadIdx.x; i < HW; i += blockDim.x) out[plane * HW + i] = in[plane * HW + i] * f;
    }
}

/* din += dout * s; ds[plane] += sum(dout * in) in double */
__global__ void scale_channels_backward_kernel(float *din, float *ds, const float *dout, const float *in,
                                               const float *s, int64_t planes, int64_t HW)
{
    for (int64_t plane = blockIdx.x; plane < planes; plane += gridDim.x) {
        const float *g = dout + plane * HW, *x = in + plane * HW;
        if (din) {
            float f = s[plane];
            for (int64_t i = threadIdx.x; i < HW; i += blockDim.x) din[plane * HW + i] += g[i] * f;
        }
        if (ds) {   /* the same for every thread of the block: block_sum is reached by all */
            double acc = 0;
            for (int64_t i = threadIdx.x; i < HW; i += blockDim.x) acc += (double)g[i] * x[i];
            double t = block_sum(acc);
            if (threadIdx.x == 0) ds[plane] += (float)t;
        }
    }
}

void scale_channels_forward(float *out, const float *in, const float *s, int64_t N, int64_t C, int64_t HW)
{
    const char *op = "scale_channels_forward";
    if (N * C <= 0 || HW <= 0) return;
    scale_channels_forward_kernel<<<plane_grid(N * C), plane_threads(HW), 0, stream>>>(out, in, s, N * C, HW);
    LAUNCHED("scale_channels_forward_kernel");
}

void scale_channels_backward(float *din, float *ds, const float *dout, const float *in, const float *s, int64_t N,
                             int64_t C, int64_t HW)
{
    const char *op = "scale_channels_backward";
    if ((!din && !ds) || N * C <= 0 || HW <= 0) return;
    scale_channels_backward_kernel<<<plane_grid(N * C), plane_threads(HW), 0, stream>>>(din, ds, dout, in, s, N * C,
                                                                                          HW);
    LAUNCHED("scale_channels_backward_kernel");
}

/* ---- optimiser and regularisation ---- */

__global__ void adam_kernel(float *p, const float *g, float *m, float *v, float lr_t, float b1, float b2, float eps,
                            int64_t n)
{
    FOR_EACH(i, n)
    {
        float mi = b1 * m[i] + (1.0f - b1) * g[i];
        float vi = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
        m[i] = mi;
        v[i] = vi;
        p[i] -= lr_t * mi / (sqrtf(vi) + eps);
    }
}

void adam_update(float *p, const float *g, float *m, float *v, const nn_adam *a, int64_t n)
{
    const char *op = "adam_update";
    /* the step size on the host, in double, exactly as optim.c */
    double t = (double)a->t;
    float lr_t = (float)(a->lr * sqrt(1.0 - pow(a->beta2, t)) / (1.0 - pow(a->beta1, t)));
    FLAT(adam_kernel, n, p, g, m, v, lr_t, a->beta1, a->beta2, a->eps, n);
}

/* Stage 1: g += 2 lambda w (g may be NULL) and one partial sum of w^2 per block. */
__global__ void l2_partial_kernel(double *part, float *g, const float *w, float k, int64_t n)
{
    double s = 0;
    FOR_EACH(i, n)
    {
        float wi = w[i];
        s += (double)wi * wi;
        if (g) g[i] += k * wi;
    }
    double t = block_sum(s);
    if (threadIdx.x == 0) part[blockIdx.x] = t;
}

/* Stage 2, one block: the partials in a fixed order. */
__global__ void l2_total_kernel(double *total, const double *part, int64_t nparts)
{
    double s = 0;
    for (int64_t i = threadIdx.x; i < nparts; i += blockDim.x) s += part[i];
    double t = block_sum(s);
    if (threadIdx.x == 0) *total = t;
}

double l2_penalty(float *g, const float *w, float lambda, int64_t n)
{
    const char *op = "l2_penalty";
    if (n <= 0) return 0.0;
    unsigned blocks = flat_grid(n);
    double *part = (double *)workspace(op, (blocks + 1) * sizeof(double));
    if (!part) return NAN;
    double *total = part + blocks;
    l2_partial_kernel<<<blocks, THREADS, 0, stream>>>(part, g, w, 2.0f * lambda, n);
    if (!LAUNCHED("l2_partial_kernel")) return NAN;
    l2_total_kernel<<<1, THREADS, 0, stream>>>(total, part, blocks);
    if (!LAUNCHED("l2_total_kernel")) return NAN;
    double sum = NAN;
    if (!CUDA_OK(cudaMemcpyAsync, &sum, total, sizeof sum, cudaMemcpyDeviceToHost, stream)) return NAN;
    if (!CUDA_OK(cudaStreamSynchronize, stream)) return NAN;
    return lambda * sum;
}

}   // namespace dfs_cuda
