/* backend.cu: the CUDA plugin's entry point (dfs_cuda_backend), its table, memory entries,
 * error recording and the shared stream / cuBLAS handle / workspace (see common.cuh).
 *
 * One stream, one cuBLAS handle bound to it: every op and transfer is ordered on the stream, so
 * ops never wait on each other from the host and only download, l2_penalty and sync block. */
#include "nn/cuda/common.cuh"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#pragma GCC visibility push(hidden)

namespace dfs_cuda {

cudaStream_t stream;
cublasHandle_t blas;
int sm_count = 1;
int64_t scratch_cap = (int64_t)64 << 20;   /* 64M floats = 256 MiB of im2col at most */
bool tf32;
bool fuse;
bool idx32;

static bool debug_sync;                 /* DFS_CUDA_SYNC=1 */
static char pending[512];               /* first error since the last sync ("" = none) */
static char last[512];                  /* what last_error() returns */
static void *ws;                        /* workspace() */
static size_t ws_bytes;

void record_error(const char *op, const char *call, const char *what)
{
    snprintf(last, sizeof last, "%s: %s: %s", op, call, what);
    if (!pending[0]) memcpy(pending, last, sizeof pending);
}

bool cuda_ok(const char *op, const char *call, cudaError_t e)
{
    if (e == cudaSuccess) return true;
    record_error(op, call, cudaGetErrorString(e));
    /* a non-sticky error (e.g. out of memory) stays as the runtime's "last error" and would be
     * charged to the next kernel launch by launched(): clear it here, where it belongs */
    (void)cudaGetLastError();
    return false;
}

bool blas_ok(const char *op, const char *call, cublasStatus_t s)
{
    if (s == CUBLAS_STATUS_SUCCESS) return true;
    record_error(op, call, cublasGetStatusName(s));
    (void)cudaGetLastError();
    return false;
}

/* For the entries that return their failure (alloc, upload, download, host_alloc): the message
 * goes to last_error() at once, and is not left pending for the next sync to report again. */
static bool now_ok(const char *op, const char *call, cudaError_t e)
{
    if (e == cudaSuccess) return true;
    snprintf(last, sizeof last, "%s: %s: %s", op, call, cudaGetErrorString(e));
    (void)cudaGetLastError();
    return false;
}
#define NOW_OK(fn, ...) now_ok(op, #fn, fn(__VA_ARGS__))

bool launched(const char *op, const char *kernel)
{
    if (!cuda_ok(op, kernel, cudaGetLastError())) return false;
    if (debug_sync) return cuda_ok(op, kernel, cudaStreamSynchronize(stream));
    return true;
}

void *workspace(const char *op, size_t bytes)
{
    if (bytes <= ws_bytes) return ws;
    size_t want = ws_bytes * 2 > bytes ? ws_bytes * 2 : bytes;
    /* kernels queued earlier may still use the old workspace: wait for them before freeing it
     * (explicitly, rather than trusting cudaFree's implicit synchronisation) */
    if (ws && (!cuda_ok(op, "cudaStreamSynchronize", cudaStreamSynchronize(stream)) ||
               !cuda_ok(op, "cudaFree", cudaFree(ws))))
        return NULL;
    ws = NULL;
    ws_bytes = 0;
    if (!cuda_ok(op, "cudaMalloc", cudaMalloc(&ws, want))) {
        ws = NULL;
        return NULL;
    }
    ws_bytes = want;
    return ws;
}

/* ---- memory entries ---- */

static const char *last_error(void) { return last; }

static void *alloc(size_t bytes)
{
    const char *op = "alloc";
    void *p = NULL;
    if (!NOW_OK(cudaMalloc, &p, bytes ? bytes : 1)) return NULL;
    return p;
}

/* free and host_free wait for the queued work first: it may still read or write the buffer */
static void release(void *p)
{
    const char *op = "free";
    if (p && CUDA_OK(cudaStreamSynchronize, stream)) CUDA_OK(cudaFree, p);
}

/* From pageable memory the copy has left the host buffer when this returns. From pinned memory
 * (host_alloc) it may still be in flight: the caller must not reuse the host buffer until the
 * next sync (or download), which is what lets a batch upload overlap the previous step. */
static int upload(void *dst, const void *host_src, size_t bytes)
{
    const char *op = "upload";
    if (!bytes) return 0;
    return NOW_OK(cudaMemcpyAsync, dst, host_src, bytes, cudaMemcpyHostToDevice, stream) ? 0 : -1;
}

static int download(void *host_dst, const void *src, size_t bytes)
{
    const char *op = "download";
    if (bytes && !NOW_OK(cudaMemcpyAsync, host_dst, src, bytes, cudaMemcpyDeviceToHost, stream)) return -1;
    return NOW_OK(cudaStreamSynchronize, stream) ? 0 : -1;
}

static void copy(void *dst, const void *src, size_t bytes)
{
    const char *op = "copy";
    if (bytes && dst != src) CUDA_OK(cudaMemcpyAsync, dst, src, bytes, cudaMemcpyDeviceToDevice, stream);
}

static void zero(void *dst, size_t bytes)
{
    const char *op = "zero";
    if (bytes) CUDA_OK(cudaMemsetAsync, dst, 0, bytes, stream);
}

static int sync(void)
{
    const char *op = "sync";
    CUDA_OK(cudaStreamSynchronize, stream);
    if (!pending[0]) return 0;
    memcpy(last, pending, sizeof last);
    pending[0] = '\0';
    return -1;
}

static void *host_alloc(size_t bytes)
{
    const char *op = "host_alloc";
    void *p = NULL;
    if (!NOW_OK(cudaMallocHost, &p, bytes ? bytes : 1)) return NULL;
    return p;
}

static void host_free(void *p)
{
    const char *op = "host_free";
    if (p && CUDA_OK(cudaStreamSynchronize, stream)) CUDA_OK(cudaFreeHost, p);
}

/* ---- start ---- */

static nn_backend table;

/* A kernel that does nothing: cudaFuncGetAttributes on it says whether this build has code for
 * the device (the plugin carries sm_80 and sm_90 images, no PTX). */
__global__ void probe_kernel() {}

static int start(char *err, size_t errlen)
{
    int drv = 0, rt = 0;
    cudaDriverGetVersion(&drv);
    cudaRuntimeGetVersion(&rt);
    if (drv == 0) return snprintf(err, errlen, "no NVIDIA driver loaded"), -1;
    if (drv / 1000 < rt / 1000)
        return snprintf(err, errlen, "NVIDIA driver too old: it supports CUDA %d.%d, the plugin needs %d.x", drv / 1000,
                        drv % 1000 / 10, rt / 1000),
               -1;
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) return snprintf(err, errlen, "cudaGetDeviceCount: %s", cudaGetErrorString(e)), -1;
    if (count < 1) return snprintf(err, errlen, "no CUDA device found"), -1;
    int dev = 0;
    const char *env = getenv("DFS_CUDA_DEVICE");
    if (env && *env) {
        char *end;
        long d = strtol(env, &end, 10);
        if (*end || d < 0 || d >= count)
            return snprintf(err, errlen, "DFS_CUDA_DEVICE=%s: no such device (%d found)", env, count), -1;
        dev = (int)d;
    }
    if ((e = cudaSetDevice(dev)) != cudaSuccess)
        return snprintf(err, errlen, "cudaSetDevice(%d): %s", dev, cudaGetErrorString(e)), -1;
    cudaDeviceProp prop;
    if ((e = cudaGetDeviceProperties(&prop, dev)) != cudaSuccess)
        return snprintf(err, errlen, "cudaGetDeviceProperties: %s", cudaGetErrorString(e)), -1;
    cudaFuncAttributes fa;
    if ((e = cudaFuncGetAttributes(&fa, probe_kernel)) != cudaSuccess)
        return snprintf(err, errlen, "%s (sm_%d%d): %s (the plugin is built for sm_80 and sm_90; set CUDA_ARCH)",
                        prop.name, prop.major, prop.minor, cudaGetErrorString(e)),
               -1;
    if ((e = cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking)) != cudaSuccess)
        return snprintf(err, errlen, "cudaStreamCreate: %s", cudaGetErrorString(e)), -1;
    cublasStatus_t s = cublasCreate(&blas);
    if (s != CUBLAS_STATUS_SUCCESS) return snprintf(err, errlen, "cublasCreate: %s", cublasGetStatusName(s)), -1;
    if ((s = cublasSetStream(blas, stream)) != CUBLAS_STATUS_SUCCESS)
        return snprintf(err, errlen, "cublasSetStream: %s", cublasGetStatusName(s)), -1;
    /* Full FP32 GEMMs by default, the same arithmetic as the cpu backend. DFS_CUDA_TF32=1 lets
     * cuBLAS use TF32 tensor cores (cuDNN's default for PyTorch convolutions): faster, with
     * 10-bit mantissa products, so results then differ from the cpu at the 1e-3 level.
     * cuDNN follows the same switch (cudnn.cu). */
    const char *tf32_env = getenv("DFS_CUDA_TF32");
    tf32 = tf32_env && !strcmp(tf32_env, "1");
    if (tf32 && (s = cublasSetMathMode(blas, CUBLAS_TF32_TENSOR_OP_MATH)) != CUBLAS_STATUS_SUCCESS)
        return snprintf(err, errlen, "cublasSetMathMode: %s", cublasGetStatusName(s)), -1;
    sm_count = prop.multiProcessorCount > 0 ? prop.multiProcessorCount : 1;
    const char *dbg = getenv("DFS_CUDA_SYNC");
    debug_sync = dbg && !strcmp(dbg, "1");
    /* a smaller im2col chunk, for the tests to exercise the loop over image chunks */
    const char *cap = getenv("DFS_CUDA_SCRATCH_CAP");
    if (cap && *cap) {
        char *end;
        long long v = strtoll(cap, &end, 10);
        if (*end || v < 1) return snprintf(err, errlen, "DFS_CUDA_SCRATCH_CAP=%s: not a positive number", cap), -1;
        scratch_cap = v;
    }
    /* Fused batchnorm + activation (norm.cu) is the default: on an H200 it passed
     * bench/gpu-check.sh (the same bits as the unfused pair, the same distance from the cpu) and
     * ran 1.00-1.10x as fast (bench/gpu.md, third run). DFS_CUDA_FUSE=0 turns it off; a graph
     * can still choose per graph (nn_graph_set_fuse). */
    const char *fuse_env = getenv("DFS_CUDA_FUSE");
    if (fuse_env && *fuse_env && strcmp(fuse_env, "0") && strcmp(fuse_env, "1"))
        return snprintf(err, errlen, "DFS_CUDA_FUSE=%s: not 0 or 1", fuse_env), -1;
    fuse = !(fuse_env && !strcmp(fuse_env, "0"));
    const char *idx32_env = getenv("DFS_CUDA_IDX32");
    if (idx32_env && *idx32_env && strcmp(idx32_env, "0") && strcmp(idx32_env, "1"))
        return snprintf(err, errlen, "DFS_CUDA_IDX32=%s: not 0 or 1", idx32_env), -1;
    idx32 = idx32_env && !strcmp(idx32_env, "1");
    /* cuDNN is optional: without it (or with DFS_CUDNN=0) the convolutions run as im2col + GEMM */
    cudnn_start();
    snprintf(table.device_name, sizeof table.device_name, "%.40s (sm_%d%d, %llu GiB), conv %.70s", prop.name,
             prop.major, prop.minor, (unsigned long long)((prop.totalGlobalMem + (1ull << 29)) >> 30), cudnn_why);
    return 0;
}

}   // namespace dfs_cuda

#pragma GCC visibility pop

using namespace dfs_cuda;

extern "C" __attribute__((visibility("default"))) const nn_backend *dfs_cuda_backend(char *err, size_t errlen)
{
    static int state;   /* 0 not tried, 1 ready, -1 failed */
    static char why[400];
    if (state == 0) {
        state = start(why, sizeof why) == 0 ? 1 : -1;
        if (state == 1) {
            nn_backend *t = &table;
            t->abi = NN_BACKEND_ABI;
            t->name = "cuda";
            t->host_memory = 0;
            t->flags = 0;   /* no NN_BE_POISON_MIRRORS: its memsets would slow real runs */
            t->last_error = last_error;
            t->alloc = alloc;
            t->free = release;
            t->upload = upload;
            t->download = download;
            t->copy = copy;
            t->zero = zero;
            t->sync = sync;
            t->host_alloc = host_alloc;
            t->host_free = host_free;
            t->conv_scratch = conv_scratch;
            t->conv2d_forward = conv2d_forward;
            t->conv2d_backward = conv2d_backward;
            t->dense_forward = dense_forward;
            t->dense_backward = dense_backward;
            t->batchnorm_forward_train_ex = batchnorm_forward_train_ex;
            t->batchnorm_backward_train = batchnorm_backward_train;
            t->batchnorm_forward_eval = batchnorm_forward_eval;
            t->batchnorm_backward_eval = batchnorm_backward_eval;
            t->relu_forward = relu_forward;
            t->relu_backward = relu_backward;
            t->guided_relu_backward = guided_relu_backward;
            t->leaky_relu_forward = leaky_relu_forward;
            t->leaky_relu_backward = leaky_relu_backward;
            t->swish_forward = swish_forward;
            t->swish_backward = swish_backward;
            t->sigmoid_forward = sigmoid_forward;
            t->sigmoid_backward = sigmoid_backward;
            t->softmax_forward = softmax_forward;
            t->softmax_backward = softmax_backward;
            t->maxpool_forward = maxpool_forward;
            t->maxpool_backward = maxpool_backward;
            t->avgpool_forward = avgpool_forward;
            t->avgpool_backward = avgpool_backward;
            t->global_avgpool_forward = global_avgpool_forward;
            t->global_avgpool_backward = global_avgpool_backward;
            t->dropout_mask = dropout_mask;
            t->dropout_apply = dropout_apply;
            t->dropout_backward = dropout_backward;
            t->drop_connect_apply = drop_connect_apply;
            t->drop_connect_backward = drop_connect_backward;
            t->concat_forward = concat_forward;
            t->concat_backward = concat_backward;
            t->add_forward = add_forward;
            t->add_backward = add_backward;
            t->scale_channels_forward = scale_channels_forward;
            t->scale_channels_backward = scale_channels_backward;
            t->adam_update = adam_update;
            t->l2_penalty = l2_penalty;
            /* analysis ops */
            t->cam_map = cam_map;
            t->channel_minmax = channel_minmax;
            t->set_neurons = set_neurons;
            t->pfake_sum = pfake_sum;
            t->fuse = fuse;
            t->batchnorm_act_forward = batchnorm_act_forward;
        }
    }
    if (state < 0) {
        if (err && errlen) snprintf(err, errlen, "%s", why);
        return NULL;
    }
    return &table;
}
