/* common.cuh: what every file of the CUDA plugin shares: the stream, the cuBLAS handle, error
 * recording, launch sizes, a growable device workspace and the declarations of the table's
 * entries (defined in conv.cu, norm.cu, pool.cu, elementwise.cu, inspect.cu; the table is in
 * backend.cu).
 *
 * Errors: each entry names itself in a local `op` ("conv2d_forward"); CUDA_OK / BLAS_OK wrap a
 * runtime or cuBLAS call and LAUNCHED checks a kernel launch. The first failure since the last
 * sync is kept as "op: call: error string" and reported by sync (backend.h's contract). */
#ifndef DFS_NN_CUDA_COMMON_CUH
#define DFS_NN_CUDA_COMMON_CUH

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>

extern "C" {
#include "nn/backend.h"
}

/* Only dfs_cuda_backend is meant to be seen outside the plugin. */
#pragma GCC visibility push(hidden)

namespace dfs_cuda {

extern cudaStream_t stream;
extern cublasHandle_t blas;
extern int sm_count;
/* im2col chunks are capped at this many floats (DFS_CUDA_SCRATCH_CAP, read once at start) */
extern int64_t scratch_cap;
/* DFS_CUDA_TF32=1: cuBLAS and cuDNN may use TF32 tensor cores (read once at start) */
extern bool tf32;

/* cuDNN (cudnn.cu), opened at start when present: cudnn_on says whether it is in use and
 * cudnn_why names the convolution path for the device line ("cuDNN 9.19.0", "im2col (...)").
 * cudnn_handles says whether a convolution may go through it (padding cuDNN can express);
 * cudnn_forward / cudnn_backward_data / cudnn_backward_filter return 1 when done, 0 after
 * recording an error, -1 when cuDNN has no usable algorithm for the shape (run im2col). */
extern bool cudnn_on;
extern char cudnn_why[96];
void cudnn_start(void);
bool cudnn_handles(const nn_conv *c);
int cudnn_forward(float *out, const float *in, const float *w, const nn_conv *c);
int cudnn_backward_data(float *din, const float *dout, const float *w, const nn_conv *c);
int cudnn_backward_filter(float *dw, const float *dout, const float *in, const nn_conv *c);

/* Record "op: call: what" as the pending error unless one is pending already. */
void record_error(const char *op, const char *call, const char *what);
bool cuda_ok(const char *op, const char *call, cudaError_t e);
bool blas_ok(const char *op, const char *call, cublasStatus_t s);
/* After a kernel launch: the launch error (bad configuration, no kernel image), and with
 * DFS_CUDA_SYNC=1 a synchronisation so an asynchronous fault is charged to the op that caused it. */
bool launched(const char *op, const char *kernel);
/* Device scratch owned by the plugin, valid until the next call of workspace (ops use it within
 * one call; the stream orders them). NULL (error recorded) when it cannot grow. */
void *workspace(const char *op, size_t bytes);

/* dst[c] += sum over n and i of src[(n * C + c) * HW + i], in double, without atomics (norm.cu:
 * the batchnorm statistics' split reduction). Returns false after recording an error. */
bool channel_sum_add(const char *op, float *dst, const float *src, int64_t N, int64_t C, int64_t HW);

/* Threads per block of the flat kernels, and a grid that covers n with grid-stride loops. */
constexpr int THREADS = 256;
inline unsigned flat_grid(int64_t n)
{
    int64_t blocks = (n + THREADS - 1) / THREADS;
    int64_t most = (int64_t)sm_count * 32;
    if (blocks > most) blocks = most;
    return (unsigned)(blocks < 1 ? 1 : blocks);
}
/* Plane kernels (one block per (n, c) plane of HW values): a block no wider than the plane. */
inline int plane_threads(int64_t HW)
{
    int64_t t = (HW + 31) / 32 * 32;
    return (int)(t < 32 ? 32 : t > 256 ? 256 : t);
}
inline unsigned plane_grid(int64_t planes)
{
    return (unsigned)(planes < 1 ? 1 : planes > 0x7fffffff ? 0x7fffffff : planes);
}
/* Kernels over nb images of C planes with a block's threads (plane_threads) over each plane's
 * positions: x over the positions (at most flat_grid's blocks), y over channels, z over images,
 * each stride-looped in the kernel, so any size fits; the kernel needs no division to find its
 * plane. */
inline dim3 plane_grid3(int64_t positions, int64_t C, int64_t nb, int threads)
{
    int64_t x = (positions + threads - 1) / threads, most = (int64_t)sm_count * 32;
    x = x < 1 ? 1 : x > most ? most : x;
    int64_t y = C < 1 ? 1 : C > 65535 ? 65535 : C, z = nb < 1 ? 1 : nb > 65535 ? 65535 : nb;
    return dim3((unsigned)x, (unsigned)y, (unsigned)z);
}
/* A plane_grid3 kernel's loops: f(image, channel, position) for each position (below
 * `positions`, at most 2^30) of each (image, channel) plane this thread serves. */
template <typename F>
__device__ inline void for_plane_positions(int64_t nb, int64_t C, int positions, F f)
{
    for (int64_t i = blockIdx.z; i < nb; i += gridDim.z)
        for (int64_t ch = blockIdx.y; ch < C; ch += gridDim.y)
            for (int pos = blockIdx.x * blockDim.x + threadIdx.x; pos < positions; pos += gridDim.x * blockDim.x)
                f(i, ch, pos);
}

/* Block-wide sum of one double per thread (blockDim.x a multiple of 32, at most 1024), in a
 * fixed order: deterministic. The result is valid in thread 0. */
__device__ inline double block_sum(double v)
{
    __shared__ double warp_sums[32];
    for (int off = 16; off > 0; off /= 2) v += __shfl_down_sync(0xffffffffu, v, off);
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    __syncthreads();   /* warp_sums may still be read by a previous call */
    if (lane == 0) warp_sums[warp] = v;
    __syncthreads();
    double s = 0;
    if (threadIdx.x == 0)
        for (int i = 0; i < (int)(blockDim.x / 32); i++) s += warp_sums[i];
    return s;
}

/* 1 / (1 + e^-x) from e^-|x| only (nothing overflows), as nn_sigmoidf: one definition for the
 * swish and sigmoid kernels and the fused batchnorm + swish, so they compute the same floats */
__device__ inline float sigmoidf_dev(float x)
{
    float e = expf(-fabsf(x));
    float s = 1.0f / (1.0f + e);
    return x >= 0.0f ? s : e * s;
}

/* the graph fuses batchnorm + activation by default unless DFS_CUDA_FUSE=0 (backend.cu, read once) */
extern bool fuse;
/* DFS_CUDA_IDX32=1: depthwise convolutions, im2col, col2im and max pooling through the kernels
 * with 32-bit in-plane indices (conv.cu, pool.cu) */
extern bool idx32;

/* ---- the table's entries (contracts: ops.h / backend.h) ---- */
size_t conv_scratch(const nn_conv *c);
void conv2d_forward(float *out, const float *in, const float *w, const float *b, const nn_conv *c, float *scratch);
void conv2d_backward(float *din, float *dw, float *db, const float *dout, const float *in, const float *w,
                     const nn_conv *c, float *scratch);
void dense_forward(float *out, const float *in, const float *w, const float *b, int64_t N, int64_t In, int64_t O);
void dense_backward(float *din, float *dw, float *db, const float *dout, const float *in, const float *w, int64_t N,
                    int64_t In, int64_t O);

void batchnorm_forward_train_ex(float *out, float *save_mean, float *save_invstd, const float *in,
                                const float *gamma, const float *beta, float *running_mean, float *running_var,
                                float momentum, float eps, int unbiased_running_var, int64_t N, int64_t C,
                                int64_t HW);
void batchnorm_backward_train(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                              const float *gamma, const float *save_mean, const float *save_invstd, int64_t N,
                              int64_t C, int64_t HW);
void batchnorm_forward_eval(float *out, const float *in, const float *gamma, const float *beta,
                            const float *running_mean, const float *running_var, float eps, int64_t N, int64_t C,
                            int64_t HW);
void batchnorm_backward_eval(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                             const float *gamma, const float *running_mean, const float *running_var, float eps,
                             int64_t N, int64_t C, int64_t HW);

void batchnorm_act_forward(float *out, float *pre, float *save_mean, float *save_invstd, const float *in,
                           const float *gamma, const float *beta, float *running_mean, float *running_var,
                           const nn_bn_act *f, int64_t N, int64_t C, int64_t HW);

void relu_forward(float *out, const float *in, int64_t n);
void relu_backward(float *din, const float *dout, const float *in, int64_t n);
void guided_relu_backward(float *din, const float *dout, const float *in, int64_t n);
void leaky_relu_forward(float *out, const float *in, float alpha, int64_t n);
void leaky_relu_backward(float *din, const float *dout, const float *in, float alpha, int64_t n);
void swish_forward(float *out, const float *in, int64_t n);
void swish_backward(float *din, const float *dout, const float *in, int64_t n);
void sigmoid_forward(float *out, const float *in, int64_t n);
void sigmoid_backward(float *din, const float *dout, const float *out, int64_t n);
void softmax_forward(float *out, const float *in, int64_t N, int64_t K);
void softmax_backward(float *din, const float *dout, const float *out, int64_t N, int64_t K);

void maxpool_forward(float *out, int32_t *argmax, const float *in, const nn_pool *p);
void maxpool_backward(float *din, const float *dout, const int32_t *argmax, const nn_pool *p);
void avgpool_forward(float *out, const float *in, const nn_pool *p);
void avgpool_backward(float *din, const float *dout, const nn_pool *p);
void global_avgpool_forward(float *out, const float *in, int64_t N, int64_t C, int64_t HW);
void global_avgpool_backward(float *din, const float *dout, int64_t N, int64_t C, int64_t HW);

void dropout_mask(uint8_t *mask, float rate, int64_t n, uint64_t key, uint32_t node);
void dropout_apply(float *out, const uint8_t *mask, const float *in, float rate, int64_t n);
void dropout_backward(float *din, const float *dout, const uint8_t *mask, float rate, int64_t n);
void drop_connect_apply(float *out, const uint8_t *keep, const float *in, float rate, int64_t N, int64_t per_sample);
void drop_connect_backward(float *din, const float *dout, const uint8_t *keep, float rate, int64_t N,
                           int64_t per_sample);
void concat_forward(float *out, const float *const *ins, const int64_t *Cs, int nin, int64_t N, int64_t HW);
void concat_backward(float *const *dins, const float *dout, const int64_t *Cs, int nin, int64_t N, int64_t HW);
void add_forward(float *out, const float *a, const float *b, int64_t n);
void add_backward(float *da, float *db, const float *dout, int64_t n);
void scale_channels_forward(float *out, const float *in, const float *s, int64_t N, int64_t C, int64_t HW);
void scale_channels_backward(float *din, float *ds, const float *dout, const float *in, const float *s, int64_t N,
                             int64_t C, int64_t HW);
void adam_update(float *p, const float *g, float *m, float *v, const nn_adam *a, int64_t n);
double l2_penalty(float *g, const float *w, float lambda, int64_t n);

/* analysis ops (inspect.cu) */
void cam_map(float *maps, const float *act, const float *grad, int64_t N, int64_t K, int64_t HW, int relu);
void channel_minmax(float *mn, float *mx, const float *in, int64_t N, int64_t C, int64_t HW, int reset);
void set_neurons(float *h, const float *src, const float *vals, int64_t copies, int64_t N, int64_t C, int64_t HW,
                 int64_t c0);
void pfake_sum(double *acc, int64_t stride, const float *logits, int classes, int64_t copies, int64_t N);

}   // namespace dfs_cuda

#pragma GCC visibility pop

#define CUDA_OK(fn, ...) dfs_cuda::cuda_ok(op, #fn, fn(__VA_ARGS__))
#define BLAS_OK(fn, ...) dfs_cuda::blas_ok(op, #fn, fn(__VA_ARGS__))
#define LAUNCHED(kernel) dfs_cuda::launched(op, kernel)

#endif
