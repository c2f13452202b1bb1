/* pool.cu: max, average and global average pooling on the GPU (contracts: ops.h; semantics of
 * lib/nn/pool.c: windows clipped to the input, max ties and NaN keep the first value in scan
 * order, argmax the index within the (n, c) plane, average over the non-padded count).
 *
 * Backward passes are gathers, one thread per input value visiting the outputs whose window
 * holds it, in output order: no atomics where windows overlap, and the sum starts from the
 * gradient already there and adds the contributions in the cpu's order, so the results are the
 * cpu's bit for bit. */
#include "nn/cuda/common.cuh"

namespace dfs_cuda {

/* the window of output (i, j) clipped to the input: rows [h0, h1), columns [w0, w1) */
struct window {
    int64_t h0, h1, w0, w1;
};

__device__ inline window clip_window(const nn_pool &p, int64_t i, int64_t j)
{
    window w;
    w.h0 = i * p.stride_h - p.pad_t;
    w.w0 = j * p.stride_w - p.pad_l;
    w.h1 = w.h0 + p.kh < p.H ? w.h0 + p.kh : p.H;
    w.w1 = w.w0 + p.kw < p.W ? w.w0 + p.kw : p.W;
    if (w.h0 < 0) w.h0 = 0;
    if (w.w0 < 0) w.w0 = 0;
    return w;
}

/* The outputs whose (unclipped) window covers input row h: [*i0, *i1). Window i covers rows
 * [i*stride - pad, i*stride - pad + k). I: int64_t, or int for the 32-bit kernels. */
template <typename I>
__device__ inline void covering(I h, I k, I stride, I pad, I P, I *i0, I *i1)
{
    I hp = h + pad;                        /* i*stride <= hp and hp < i*stride + k */
    I lo = hp - k + 1 <= 0 ? 0 : (hp - k + 1 + stride - 1) / stride;
    I hi = hp / stride + 1;
    *i0 = lo;
    *i1 = hi < P ? hi : P;
}

/* one thread per output value */
__global__ void maxpool_forward_kernel(float *out, int32_t *argmax, const float *in, nn_pool p)
{
    int64_t PQ = p.P * p.Q, HW = p.H * p.W, total = p.N * p.C * PQ;
    for (int64_t o = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; o < total; o += (int64_t)gridDim.x * blockDim.x) {
        int64_t plane = o / PQ, pq = o % PQ;
        const float *x = in + plane * HW;
        window w = clip_window(p, pq / p.Q, pq % p.Q);
        int64_t best = w.h0 * p.W + w.w0;
        float bv = x[best];
        for (int64_t h = w.h0; h < w.h1; h++)
            for (int64_t v = w.w0; v < w.w1; v++)
                if (x[h * p.W + v] > bv) bv = x[best = h * p.W + v];
        out[o] = bv;
        if (argmax) argmax[o] = (int32_t)best;
    }
}

/* one thread per input value: the sum of dout over the outputs that chose it */
__global__ void maxpool_backward_kernel(float *din, const float *dout, const int32_t *argmax, nn_pool p)
{
    int64_t PQ = p.P * p.Q, HW = p.H * p.W, total = p.N * p.C * HW;
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < total; e += (int64_t)gridDim.x * blockDim.x) {
        int64_t plane = e / HW, hw = e % HW, h = hw / p.W, v = hw % p.W;
        int64_t i0, i1, j0, j1;
        covering(h, p.kh, p.stride_h, p.pad_t, p.P, &i0, &i1);
        covering(v, p.kw, p.stride_w, p.pad_l, p.Q, &j0, &j1);
        const int32_t *a = argmax + plane * PQ;
        const float *g = dout + plane * PQ;
        float acc = din[e];
        for (int64_t i = i0; i < i1; i++)
            for (int64_t j = j0; j < j1; j++)
                if (a[i * p.Q + j] == (int32_t)hw) acc += g[i * p.Q + j];
        din[e] = acc;
    }
}

/* ---- max pooling with 32-bit in-plane indices (DFS_CUDA_IDX32=1; opt-in until a GPU run has
 * checked them) ----
 * As the two kernels above, but the image and the channel come from the grid (blockIdx.z,
 * blockIdx.y) and the position within the plane is 32-bit: no 64-bit division per value (the
 * backward above does eight). They visit the same values in the same order: the same bits
 * (test_cuda_ops test_idx32_bits). */

__global__ void maxpool32_forward_kernel(float *out, int32_t *argmax, const float *in, nn_pool p)
{
    const int P = (int)p.P, Q = (int)p.Q, H = (int)p.H, W = (int)p.W, kh = (int)p.kh, kw = (int)p.kw,
              sh = (int)p.stride_h, sw = (int)p.stride_w, pt = (int)p.pad_t, pl = (int)p.pad_l;
    for_plane_positions(p.N, p.C, P * Q, [&](int64_t n, int64_t c, int pq) {
        int64_t plane = n * p.C + c;
        const float *x = in + plane * (int64_t)(H * W);
        int i = pq / Q, j = pq - i * Q;
        int h0 = i * sh - pt, w0 = j * sw - pl;
        int h1 = h0 + kh < H ? h0 + kh : H, w1 = w0 + kw < W ? w0 + kw : W;
        h0 = h0 < 0 ? 0 : h0;
        w0 = w0 < 0 ? 0 : w0;
        int best = h0 * W + w0;
        float bv = x[best];
        for (int h = h0; h < h1; h++)
            for (int v = w0; v < w1; v++)
                if (x[h * W + v] > bv) bv = x[best = h * W + v];
        out[plane * (P * Q) + pq] = bv;
        if (argmax) argmax[plane * (P * Q) + pq] = best;
    });
}

__global__ void maxpool32_backward_kernel(float *din, const float *dout, const int32_t *argmax, nn_pool p)
{
    const int P = (int)p.P, Q = (int)p.Q, H = (int)p.H, W = (int)p.W;
    for_plane_positions(p.N, p.C, H * W, [&](int64_t n, int64_t c, int hw) {
        int64_t plane = n * p.C + c;
        const int32_t *a = argmax + plane * (P * Q);
        const float *g = dout + plane * (P * Q);
        float *d = din + plane * (H * W);
        int h = hw / W, v = hw - h * W, i0, i1, j0, j1;
        covering<int>(h, (int)p.kh, (int)p.stride_h, (int)p.pad_t, P, &i0, &i1);
        covering<int>(v, (int)p.kw, (int)p.stride_w, (int)p.pad_l, Q, &j0, &j1);
        float acc = d[hw];
        for (int i = i0; i < i1; i++)
            for (int j = j0; j < j1; j++)
                if (a[i * Q + j] == hw) acc += g[i * Q + j];
        d[hw] = acc;
    });
}

/* the 32-bit kernels apply: DFS_CUDA_IDX32=1 and every in-plane index, with the loops' steps of
 * up to a grid's width and the padded extents, far below 2^31 */
static bool idx32_fits(const nn_pool *p)
{
    const int64_t most = (int64_t)1 << 30;
    return idx32 && p->H * p->W <= most && p->P * p->Q <= most && p->H + p->pad_t + p->kh <= most &&
           p->W + p->pad_l + p->kw <= most && p->stride_h * p->P <= most && p->stride_w * p->Q <= most;
}

__global__ void avgpool_forward_kernel(float *out, const float *in, nn_pool p)
{
    int64_t PQ = p.P * p.Q, HW = p.H * p.W, total = p.N * p.C * PQ;
    for (int64_t o = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; o < total; o += (int64_t)gridDim.x * blockDim.x) {
        int64_t plane = o / PQ, pq = o % PQ;
        const float *x = in + plane * HW;
        window w = clip_window(p, pq / p.Q, pq % p.Q);
        float s = 0;
        for (int64_t h = w.h0; h < w.h1; h++)
            for (int64_t v = w.w0; v < w.w1; v++) s += x[h * p.W + v];
        out[o] = s / (float)((w.h1 - w.h0) * (w.w1 - w.w0));
    }
}

__global__ void avgpool_backward_kernel(float *din, const float *dout, nn_pool p)
{
    int64_t PQ = p.P * p.Q, HW = p.H * p.W, total = p.N * p.C * HW;
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < total; e += (int64_t)gridDim.x * blockDim.x) {
        int64_t plane = e / HW, hw = e % HW, h = hw / p.W, v = hw % p.W;
        int64_t i0, i1, j0, j1;
        covering(h, p.kh, p.stride_h, p.pad_t, p.P, &i0, &i1);
        covering(v, p.kw, p.stride_w, p.pad_l, p.Q, &j0, &j1);
        const float *g = dout + plane * PQ;
        float acc = din[e];
        for (int64_t i = i0; i < i1; i++)
            for (int64_t j = j0; j < j1; j++) {
                window w = clip_window(p, i, j);
                acc += g[i * p.Q + j] / (float)((w.h1 - w.h0) * (w.w1 - w.w0));
            }
        din[e] = acc;
    }
}

/* out[plane] = mean of the plane: one block per plane, in double */
__global__ void global_avgpool_forward_kernel(float *out, const float *in, int64_t planes, int64_t HW)
{
    for (int64_t plane = blockIdx.x; plane < planes; plane += gridDim.x) {
        double s = 0;
        for (int64_t i = threadIdx.x; i < HW; i += blockDim.x) s += in[plane * HW + i];
        double t = block_sum(s);
        if (threadIdx.x == 0) out[plane] = (float)(t / (double)HW);
    }
}

__global__ void global_avgpool_backward_kernel(float *din, const float *dout, int64_t planes, int64_t HW)
{
    for (int64_t plane = blockIdx.x; plane < planes; plane += gridDim.x) {
        float g = dout[plane] / (float)HW;
        for (int64_t i = threadIdx.x; i < HW; i += blockDim.x) din[plane * HW + i] += g;
    }
}

void maxpool_forward(float *out, int32_t *argmax, const float *in, const nn_pool *p)
{
    const char *op = "maxpool_forward";
    if (idx32_fits(p)) {
        int t = plane_threads(p->P * p->Q);
        maxpool32_forward_kernel<<<plane_grid3(p->P * p->Q, p->C, p->N, t), t, 0, stream>>>(out, argmax, in, *p);
        LAUNCHED("maxpool32_forward_kernel");
        return;
    }
    maxpool_forward_kernel<<<flat_grid(p->N * p->C * p->P * p->Q), THREADS, 0, stream>>>(out, argmax, in, *p);
    LAUNCHED("maxpool_forward_kernel");
}

void maxpool_backward(float *din, const float *dout, const int32_t *argmax, const nn_pool *p)
{
    const char *op = "maxpool_backward";
    if (!din) return;
    if (idx32_fits(p)) {
        int t = plane_threads(p->H * p->W);
        maxpool32_backward_kernel<<<plane_grid3(p->H * p->W, p->C, p->N, t), t, 0, stream>>>(din, dout, argmax, *p);
        LAUNCHED("maxpool32_backward_kernel");
        return;
    }
    maxpool_backward_kernel<<<flat_grid(p->N * p->C * p->H * p->W), THREADS, 0, stream>>>(din, dout, argmax, *p);
    LAUNCHED("maxpool_backward_kernel");
}

void avgpool_forward(float *out, const float *in, const nn_pool *p)
{
    const char *op = "avgpool_forward";
    avgpool_forward_kernel<<<flat_grid(p->N * p->C * p->P * p->Q), THREADS, 0, stream>>>(out, in, *p);
    LAUNCHED("avgpool_forward_kernel");
}

void avgpool_backward(float *din, const float *dout, const nn_pool *p)
{
    const char *op = "avgpool_backward";
    if (!din) return;
    avgpool_backward_kernel<<<flat_grid(p->N * p->C * p->H * p->W), THREADS, 0, stream>>>(din, dout, *p);
    LAUNCHED("avgpool_backward_kernel");
}

void global_avgpool_forward(float *out, const float *in, int64_t N, int64_t C, int64_t HW)
{
    const char *op = "global_avgpool_forward";
    global_avgpool_forward_kernel<<<plane_grid(N * C), plane_threads(HW), 0, stream>>>(out, in, N * C, HW);
    LAUNCHED("global_avgpool_forward_kernel");
}

void global_avgpool_backward(float *din, const float *dout, int64_t N, int64_t C, int64_t HW)
{
    const char *op = "global_avgpool_backward";
    if (!din) return;
    global_avgpool_backward_kernel<<<plane_grid(N * C), plane_threads(HW), 0, stream>>>(din, dout, N * C, HW);
    LAUNCHED("global_avgpool_backward_kernel");
}

}   // namespace dfs_cuda
