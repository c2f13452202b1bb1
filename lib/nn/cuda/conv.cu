/* conv.cu: 2-D convolution and dense layers on the GPU (contracts: ops.h).
 *
 * Paths, chosen per call: cuDNN when it is loaded and can express the padding (cudnn.cu), else
 * as on the cpu (lib/nn/conv.c):
 *  - depthwise (groups == C > 1): direct kernels, one thread per output value (forward), per
 *    input value (input gradient, a gather: no atomics), and blocks per (weight, share of the
 *    products) for the weight gradient (block reductions in double, then the shares in order);
 *    with DFS_CUDA_IDX32=1 the same with 32-bit in-plane indices and all taps of a channel in one
 *    block of the weight gradient (the "32-bit indices" kernels below);
 *  - pointwise (1x1, stride 1, no padding): the input planes are the GEMM operand; the forward
 *    and the input gradient are one strided-batched SGEMM over all images per group;
 *  - everything else: im2col of a chunk of images, then SGEMM (with DFS_CUDA_IDX32=1, im2col and
 *    col2im with 32-bit in-plane indices).
 *
 * Layouts of the im2col buffer (col), rows = (channel, r, s), ld = columns:
 *  - forward, per image: image i's (C*R*S, P*Q) block at i * C*R*S*P*Q, so the products of a
 *    chunk are one strided-batched SGEMM whose outputs land in NCHW directly;
 *  - backward, stacked: (C*R*S, nb*P*Q), column i*P*Q + pq, beside dout restacked as (K, nb*P*Q):
 *    the weight gradient of a chunk is then ONE SGEMM with the images in its inner dimension,
 *    and the column gradient one SGEMM, scattered back by a col2im gather (one thread per input
 *    value summing its taps: no atomics, deterministic).
 * Chunks hold as many images as fit in scratch_cap floats (at least one); conv_scratch sizes
 * the scratch for the backward's layout, the larger.
 *
 * cuBLAS is column-major: a row-major (rows, cols) matrix is a column-major (cols, rows) one
 * with the same leading dimension, so each row-major product C = A B below is issued as
 * C^T = B^T A^T; each call says which row-major product it computes. */
#include "nn/cuda/common.cuh"

namespace dfs_cuda {

static bool is_depthwise(const nn_conv *c) { return c->groups == c->C && c->groups > 1; }

static bool is_pointwise(const nn_conv *c)
{
    return c->R == 1 && c->S == 1 && c->stride_h == 1 && c->stride_w == 1 && c->pad_t == 0 && c->pad_l == 0 &&
           c->pad_b == 0 && c->pad_r == 0;
}

/* Floats per image of the backward's scratch: stacked col (none for pointwise: the input is
 * restacked instead, C rows) and stacked dout (K rows). */
static int64_t floats_per_image(const nn_conv *c)
{
    int64_t rows = is_pointwise(c) ? c->C : c->C * c->R * c->S;
    return (rows + c->K) * c->P * c->Q;
}

static int64_t chunk_images(const nn_conv *c)
{
    int64_t nb = scratch_cap / floats_per_image(c);
    return nb < 1 ? 1 : nb > c->N ? c->N : nb;
}

size_t conv_scratch(const nn_conv *c)
{
    if (is_depthwise(c)) return 0;
    return (size_t)(chunk_images(c) * floats_per_image(c));
}

/* ---- kernels ---- */

/* col[i * img_stride + row * row_stride + pq] = padded input value, row = (ch * R + r) * S + s,
 * for nb images of C channels starting at in. One thread per (image, channel, output position),
 * looping over the R*S taps: consecutive threads write consecutive pq. */
__global__ void im2col_kernel(float *col, const float *in, int64_t nb, nn_conv c, int64_t img_stride,
                              int64_t row_stride)
{
    int64_t PQ = c.P * c.Q, HW = c.H * c.W;
    int64_t total = nb * c.C * PQ;
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < total; e += (int64_t)gridDim.x * blockDim.x) {
        int64_t pq = e % PQ, ich = e / PQ;   /* ich = i * C + ch */
        int64_t i = ich / c.C, ch = ich % c.C;
        int64_t p = pq / c.Q, q = pq % c.Q;
        const float *x = in + ich * HW;
        float *dst = col + i * img_stride + ch * c.R * c.S * row_stride + pq;
        for (int64_t r = 0; r < c.R; r++) {
            int64_t ih = p * c.stride_h - c.pad_t + r * c.dil_h;
            for (int64_t s = 0; s < c.S; s++) {
                int64_t iw = q * c.stride_w - c.pad_l + s * c.dil_w;
                float v = ih >= 0 && ih < c.H && iw >= 0 && iw < c.W ? x[ih * c.W + iw] : 0.0f;
                dst[(r * c.S + s) * row_stride] = v;
            }
        }
    }
}

/* din (nb images) += the col2im of dcol (layout as im2col_kernel's): each input value sums the
 * column entries of every (output position, tap) that read it. */
__global__ void col2im_add_kernel(float *din, const float *dcol, int64_t nb, nn_conv c, int64_t img_stride,
                                  int64_t row_stride)
{
    int64_t HW = c.H * c.W;
    int64_t total = nb * c.C * HW;
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < total; e += (int64_t)gridDim.x * blockDim.x) {
        int64_t hw = e % HW, ich = e / HW;
        int64_t i = ich / c.C, ch = ich % c.C;
        int64_t h = hw / c.W, w = hw % c.W;
        const float *src = dcol + i * img_stride + ch * c.R * c.S * row_stride;
        float acc = 0.0f;
        for (int64_t r = 0; r < c.R; r++) {
            int64_t ph = h + c.pad_t - r * c.dil_h;   /* = p * stride_h for the output row p that reads h */
            if (ph < 0 || ph % c.stride_h) continue;
            int64_t p = ph / c.stride_h;
            if (p >= c.P) continue;
            for (int64_t s = 0; s < c.S; s++) {
                int64_t pw = w + c.pad_l - s * c.dil_w;
                if (pw < 0 || pw % c.stride_w) continue;
                int64_t q = pw / c.stride_w;
                if (q >= c.Q) continue;
                acc += src[(r * c.S + s) * row_stride + p * c.Q + q];
            }
        }
        din[e] += acc;
    }
}

/* dst (K, nb*PQ) row k, columns i*PQ.. = src plane (i, k): restack nb images' K planes. One block
 * per plane. */
__global__ void stack_planes_kernel(float *dst, const float *src, int64_t nb, int64_t K, int64_t PQ)
{
    int64_t L = nb * PQ;
    for (int64_t plane = blockIdx.x; plane < nb * K; plane += gridDim.x) {
        int64_t i = plane / K, k = plane % K;
        const float *s = src + plane * PQ;
        float *d = dst + k * L + i * PQ;
        for (int64_t j = threadIdx.x; j < PQ; j += blockDim.x) d[j] = s[j];
    }
}

/* out plane (n, k) += b[k]: one block per plane */
__global__ void add_bias_kernel(float *out, const float *b, int64_t planes, int64_t K, int64_t PQ)
{
    for (int64_t plane = blockIdx.x; plane < planes; plane += gridDim.x) {
        float bk = b[plane % K];
        float *y = out + plane * PQ;
        for (int64_t j = threadIdx.x; j < PQ; j += blockDim.x) y[j] += bk;
    }
}

/* ---- im2col and col2im with 32-bit in-plane indices (DFS_CUDA_IDX32=1; opt-in until a GPU run
 * has checked them) ----
 * On an H200 the two kernels above were a third of meso4's training step and a fifth of
 * shallownet's (bench/gpu.md, third run), at about three times the time their bytes need: each
 * thread does six 64-bit divisions and modulos to place itself, and col2im four more per tap.
 * These take the image and the channel from the grid (blockIdx.z, blockIdx.y: no division),
 * the position within the plane in 32-bit arithmetic (a plane is far below 2^31 values; the
 * offsets of planes and of col's rows stay 64-bit), and col2im's stride-1 taps without any
 * division. They copy the same values, and col2im adds each value's taps in the same order as
 * col2im_add_kernel: the same bits (test_cuda_ops test_idx32_bits). */

/* An nn_conv's in-plane extents and steps as ints (idx32_fits bounds them), for the kernels with
 * 32-bit indices: `const auto [P, Q, H, W, R, S, sh, sw, dh, dw, pt, pl] = narrow(c);` */
struct conv32 {
    int P, Q, H, W, R, S, sh, sw, dh, dw, pt, pl;
};
__device__ inline conv32 narrow(const nn_conv &c)
{
    return {(int)c.P,        (int)c.Q,        (int)c.H,     (int)c.W,     (int)c.R,     (int)c.S,
            (int)c.stride_h, (int)c.stride_w, (int)c.dil_h, (int)c.dil_w, (int)c.pad_t, (int)c.pad_l};
}

/* The output index p whose tap at offset r*dil reads input index h (a row, or a column), along
 * one axis of extent P with stride and leading pad: false when there is none. */
__device__ inline bool tap_reader(int h, int pad, int r, int dil, int stride, int P, int *p)
{
    int ph = h + pad - r * dil;   /* = p * stride */
    if (ph < 0) return false;
    if (stride != 1) {
        if (ph % stride) return false;
        ph /= stride;
    }
    *p = ph;
    return ph < P;
}

__global__ void im2col32_kernel(float *col, const float *in, int64_t nb, nn_conv c, int64_t img_stride,
                                int64_t row_stride)
{
    for_plane_positions(nb, c.C, (int)(c.P * c.Q), [&](int64_t i, int64_t ch, int pq) {
        const auto [P, Q, H, W, R, S, sh, sw, dh, dw, pt, pl] = narrow(c);
        const float *x = in + (i * c.C + ch) * (int64_t)(H * W);
        float *dst = col + i * img_stride + ch * (int64_t)(R * S) * row_stride + pq;
        int p = pq / Q, q = pq - p * Q;
        for (int r = 0; r < R; r++) {
            int ih = p * sh - pt + r * dh;
            bool row_in = ih >= 0 && ih < H;
            for (int s = 0; s < S; s++, dst += row_stride) {
                int iw = q * sw - pl + s * dw;
                *dst = row_in && iw >= 0 && iw < W ? x[ih * W + iw] : 0.0f;
            }
        }
    });
}

__global__ void col2im32_add_kernel(float *din, const float *dcol, int64_t nb, nn_conv c, int64_t img_stride,
                                    int64_t row_stride)
{
    for_plane_positions(nb, c.C, (int)(c.H * c.W), [&](int64_t i, int64_t ch, int hw) {
        const auto [P, Q, H, W, R, S, sh, sw, dh, dw, pt, pl] = narrow(c);
        const float *src = dcol + i * img_stride + ch * (int64_t)(R * S) * row_stride;
        int h = hw / W, w = hw - h * W;
        float acc = 0.0f;
        for (int r = 0, p; r < R; r++) {
            if (!tap_reader(h, pt, r, dh, sh, P, &p)) continue;
            for (int s = 0, q; s < S; s++)
                if (tap_reader(w, pl, s, dw, sw, Q, &q)) acc += src[(int64_t)(r * S + s) * row_stride + p * Q + q];
        }
        din[(i * c.C + ch) * (int64_t)(H * W) + hw] += acc;
    });
}

/* ---- depthwise: groups == C, K = C * mult, w (K, 1, R, S) ---- */

/* One block per output plane (n, k), threads over its positions. */
__global__ void dw_forward_kernel(float *out, const float *in, const float *w, const float *b, nn_conv c)
{
    int64_t mult = c.K / c.C, PQ = c.P * c.Q, HW = c.H * c.W, RS = c.R * c.S;
    for (int64_t plane = blockIdx.x; plane < c.N * c.K; plane += gridDim.x) {
        int64_t n = plane / c.K, k = plane % c.K;
        const float *x = in + (n * c.C + k / mult) * HW;
        const float *wk = w + k * RS;
        float bias = b ? b[k] : 0.0f;
        for (int64_t pq = threadIdx.x; pq < PQ; pq += blockDim.x) {
            int64_t p = pq / c.Q, q = pq % c.Q;
            float acc = bias;
            for (int64_t r = 0; r < c.R; r++) {
                int64_t ih = p * c.stride_h - c.pad_t + r * c.dil_h;
                if (ih < 0 || ih >= c.H) continue;
                for (int64_t s = 0; s < c.S; s++) {
                    int64_t iw = q * c.stride_w - c.pad_l + s * c.dil_w;
                    if (iw < 0 || iw >= c.W) continue;
                    acc += x[ih * c.W + iw] * wk[r * c.S + s];
                }
            }
            out[plane * PQ + pq] = acc;
        }
    }
}

/* din plane (n, ch) += sum over its mult output channels and the taps that read each value. */
__global__ void dw_backward_data_kernel(float *din, const float *dout, const float *w, nn_conv c)
{
    int64_t mult = c.K / c.C, PQ = c.P * c.Q, HW = c.H * c.W, RS = c.R * c.S;
    for (int64_t plane = blockIdx.x; plane < c.N * c.C; plane += gridDim.x) {
        int64_t n = plane / c.C, ch = plane % c.C;
        for (int64_t hw = threadIdx.x; hw < HW; hw += blockDim.x) {
            int64_t h = hw / c.W, x = hw % c.W;
            float acc = 0.0f;
            for (int64_t m = 0; m < mult; m++) {
                int64_t k = ch * mult + m;
                const float *g = dout + (n * c.K + k) * PQ;
                const float *wk = w + k * RS;
                for (int64_t r = 0; r < c.R; r++) {
                    int64_t ph = h + c.pad_t - r * c.dil_h;
                    if (ph < 0 || ph % c.stride_h) continue;
                    int64_t p = ph / c.stride_h;
                    if (p >= c.P) continue;
                    for (int64_t s = 0; s < c.S; s++) {
                        int64_t pw = x + c.pad_l - s * c.dil_w;
                        if (pw < 0 || pw % c.stride_w) continue;
                        int64_t q = pw / c.stride_w;
                        if (q >= c.Q) continue;
                        acc += g[p * c.Q + q] * wk[r * c.S + s];
                    }
                }
            }
            din[plane * HW + hw] += acc;
        }
    }
}

/* Partial weight gradients part[wi * splits + sp] = the sum, over split sp's share of the
 * (n, pq) pairs, of dout(n, k, p, q) * in(n, k / mult, ih, iw) for weight wi = (k, r, s): a block
 * per (weight, split), summed in double, then a block reduction. Splitting the pairs keeps the
 * GPU busy where a few weights each sum millions of products (32 channels of 128x128 x 32). */
__global__ void dw_weights_partial_kernel(double *part, const float *dout, const float *in, nn_conv c)
{
    int64_t mult = c.K / c.C, PQ = c.P * c.Q, HW = c.H * c.W, RS = c.R * c.S;
    int64_t total = c.N * PQ, splits = gridDim.y, sp = blockIdx.y;
    int64_t len = (total + splits - 1) / splits, e0 = sp * len, e1 = e0 + len < total ? e0 + len : total;
    for (int64_t wi = blockIdx.x; wi < c.K * RS; wi += gridDim.x) {
        int64_t k = wi / RS, r = wi % RS / c.S, s = wi % c.S;
        double acc = 0;
        /* e = n * PQ + pq, with n and pq advanced incrementally (no division per value) */
        int64_t e = e0 + threadIdx.x, n = e / PQ, pq = e % PQ;
        for (; e < e1; e += blockDim.x) {
            int64_t p = pq / c.Q, q = pq % c.Q;
            int64_t ih = p * c.stride_h - c.pad_t + r * c.dil_h, iw = q * c.stride_w - c.pad_l + s * c.dil_w;
            if (ih >= 0 && ih < c.H && iw >= 0 && iw < c.W)
                acc += (double)dout[(n * c.K + k) * PQ + pq] * in[(n * c.C + k / mult) * HW + ih * c.W + iw];
            pq += blockDim.x;
            while (pq >= PQ) {
                pq -= PQ;
                n++;
            }
        }
        double sum = block_sum(acc);
        if (threadIdx.x == 0) part[wi * splits + sp] = sum;
    }
}

/* dw[wi] += its partials, in split order */
__global__ void dw_weights_finish_kernel(float *dw, const double *part, int splits, int64_t nw)
{
    for (int64_t wi = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; wi < nw; wi += (int64_t)gridDim.x * blockDim.x) {
        double s = 0;
        for (int sp = 0; sp < splits; sp++) s += part[wi * splits + sp];
        dw[wi] += (float)s;
    }
}

/* ---- depthwise with 32-bit indices (DFS_CUDA_IDX32=1; opt-in until a GPU run has checked it) ----
 * On an H200 the three kernels above took about half of xception's and efficientnet-b0's
 * training step (bench/gpu.md, third run), the two backward ones 5-7 times the forward's time
 * for the same products: they do 64-bit divisions and modulos per value and, for the input
 * gradient, per tap, and the weight gradient reads dout once per tap. These compute the same
 * sums with 32-bit in-plane indices (a plane is far below 2^31 values; the plane's offset stays
 * 64-bit), a stride-1 input gradient without any modulo, and a weight gradient whose block
 * holds all R x S taps of one channel, reading each dout value once. The forward and the input
 * gradient add in the same order as the kernels above (the same bits); the weight gradient sums
 * each weight's products in double over other shares (float results equal but for rare last-bit
 * roundings of the double sum). */

__global__ void dw32_forward_kernel(float *out, const float *in, const float *w, const float *b, nn_conv c)
{
    const auto [P, Q, H, W, R, S, sh, sw, dh, dw, pt, pl] = narrow(c);
    const int mult = (int)(c.K / c.C), PQ = P * Q;
    for (int64_t plane = blockIdx.x; plane < c.N * c.K; plane += gridDim.x) {
        int64_t n = plane / c.K;
        int k = (int)(plane - n * c.K);
        const float *x = in + (n * c.C + k / mult) * (int64_t)(H * W);
        const float *wk = w + (int64_t)k * R * S;
        float bias = b ? b[k] : 0.0f;
        for (int pq = threadIdx.x; pq < PQ; pq += blockDim.x) {
            int p = pq / Q, q = pq - p * Q;
            float acc = bias;
            for (int r = 0; r < R; r++) {
                int ih = p * sh - pt + r * dh;
                if (ih < 0 || ih >= H) continue;
                for (int s = 0; s < S; s++) {
                    int iw = q * sw - pl + s * dw;
                    if (iw < 0 || iw >= W) continue;
                    acc += x[ih * W + iw] * wk[r * S + s];
                }
            }
            out[plane * PQ + pq] = acc;
        }
    }
}

/* din plane (n, ch) += its taps' products, in dw_backward_data_kernel's order */
__global__ void dw32_backward_data_kernel(float *din, const float *dout, const float *w, nn_conv c)
{
    const auto [P, Q, H, W, R, S, sh, sw, dh, dw, pt, pl] = narrow(c);
    const int mult = (int)(c.K / c.C), PQ = P * Q, HW = H * W;
    for (int64_t plane = blockIdx.x; plane < c.N * c.C; plane += gridDim.x) {
        int64_t n = plane / c.C;
        int ch = (int)(plane - n * c.C);
        for (int hw = threadIdx.x; hw < HW; hw += blockDim.x) {
            int h = hw / W, x = hw - h * W;
            float acc = 0.0f;
            for (int m = 0; m < mult; m++) {
                int k = ch * mult + m;
                const float *g = dout + (n * c.K + k) * (int64_t)PQ;
                const float *wk = w + (int64_t)k * R * S;
                for (int r = 0, p; r < R; r++) {
                    if (!tap_reader(h, pt, r, dh, sh, P, &p)) continue;
                    for (int s = 0, q; s < S; s++)
                        if (tap_reader(x, pl, s, dw, sw, Q, &q)) acc += g[p * Q + q] * wk[r * S + s];
                }
            }
            din[plane * HW + hw] += acc;
        }
    }
}

/* part[(k * R*S + tap) * splits + sp] = the sum over split sp's share of the (n, pq) pairs of
 * dout(n, k, p, q) * in(n, k / mult, ih, iw), for every tap of channel k at once: a block per
 * (channel, split), R*S sums in double per thread, then R*S block reductions. */
template <int R, int S>
__global__ void dw32_weights_partial_kernel(double *part, const float *dout, const float *in, nn_conv c)
{
    const int mult = (int)(c.K / c.C), P = (int)c.P, Q = (int)c.Q, H = (int)c.H, W = (int)c.W,
              sh = (int)c.stride_h, sw = (int)c.stride_w, dh = (int)c.dil_h, dw = (int)c.dil_w, pt = (int)c.pad_t,
              pl = (int)c.pad_l, PQ = P * Q, HW = H * W;
    int64_t total = c.N * PQ, splits = gridDim.y, sp = blockIdx.y;
    int64_t len = (total + splits - 1) / splits, e0 = sp * len, e1 = e0 + len < total ? e0 + len : total;
    for (int64_t k = blockIdx.x; k < c.K; k += gridDim.x) {
        double acc[R * S];
#pragma unroll
        for (int i = 0; i < R * S; i++) acc[i] = 0;
        int64_t e = e0 + threadIdx.x, n = e / PQ;
        int pq = (int)(e - n * PQ);
        for (; e < e1; e += blockDim.x) {
            int p = pq / Q, q = pq - p * Q;
            double g = dout[(n * c.K + k) * PQ + pq];
            const float *x = in + (n * c.C + k / mult) * (int64_t)HW;
#pragma unroll
            for (int r = 0; r < R; r++) {
                int ih = p * sh - pt + r * dh;
                if (ih < 0 || ih >= H) continue;
#pragma unroll
                for (int s = 0; s < S; s++) {
                    int iw = q * sw - pl + s * dw;
                    if (iw >= 0 && iw < W) acc[r * S + s] += g * x[ih * W + iw];
                }
            }
            pq += blockDim.x;
            while (pq >= PQ) {
                pq -= PQ;
                n++;
            }
        }
#pragma unroll
        for (int i = 0; i < R * S; i++) {
            double sum = block_sum(acc[i]);
            if (threadIdx.x == 0) part[(k * R * S + i) * splits + sp] = sum;
        }
    }
}

/* the 32-bit kernels (im2col32, col2im32, dw32) apply: DFS_CUDA_IDX32=1 and every in-plane
 * index, with the loops' steps of up to a grid's width and the padded extents, far below 2^31 */
static bool idx32_fits(const nn_conv *c)
{
    const int64_t most = (int64_t)1 << 30;
    return idx32 && c->H * c->W <= most && c->P * c->Q <= most && c->K * c->R * c->S <= most &&
           c->H + c->pad_t + c->pad_b <= most && c->W + c->pad_l + c->pad_r <= most &&
           (c->R - 1) * c->dil_h <= most && (c->S - 1) * c->dil_w <= most && c->stride_h * c->P <= most &&
           c->stride_w * c->Q <= most;
}

/* im2col / col2im of nb images (layouts: the header comment) through the 32-bit kernels where
 * they apply, else the 64-bit ones; false after a failed launch (recorded) */
static bool im2col(const char *op, float *col, const float *in, int64_t nb, const nn_conv &c, int64_t img_stride,
                   int64_t row_stride)
{
    if (idx32_fits(&c)) {
        int t = plane_threads(c.P * c.Q);
        im2col32_kernel<<<plane_grid3(c.P * c.Q, c.C, nb, t), t, 0, stream>>>(col, in, nb, c, img_stride, row_stride);
        return LAUNCHED("im2col32_kernel");
    }
    im2col_kernel<<<flat_grid(nb * c.C * c.P * c.Q), THREADS, 0, stream>>>(col, in, nb, c, img_stride, row_stride);
    return LAUNCHED("im2col_kernel");
}

static bool col2im_add(const char *op, float *din, const float *dcol, int64_t nb, const nn_conv &c,
                       int64_t img_stride, int64_t row_stride)
{
    if (idx32_fits(&c)) {
        int t = plane_threads(c.H * c.W);
        col2im32_add_kernel<<<plane_grid3(c.H * c.W, c.C, nb, t), t, 0, stream>>>(din, dcol, nb, c, img_stride,
                                                                                  row_stride);
        return LAUNCHED("col2im32_add_kernel");
    }
    col2im_add_kernel<<<flat_grid(nb * c.C * c.H * c.W), THREADS, 0, stream>>>(din, dcol, nb, c, img_stride,
                                                                               row_stride);
    return LAUNCHED("col2im_add_kernel");
}

/* ---- GEMM helpers (row-major products, see the header comment) ---- */

/* For each of `batch` items: Y_b (M, Nn) = A_b (M, Kk) X_b (Kk, Nn) [+ beta Y_b], all row-major
 * with leading dimensions lda, ldx, ldy and batch strides sa, sx, sy (a stride may be 0).
 * transA: A_b is stored as (Kk, M) row-major instead (its transpose is used). */
static bool gemm_rm(const char *op, bool transA, bool transX, int64_t M, int64_t Nn, int64_t Kk, const float *A,
                    int64_t lda, int64_t sa, const float *X, int64_t ldx, int64_t sx, float beta, float *Y,
                    int64_t ldy, int64_t sy, int64_t batch)
{
    const float one = 1.0f;
    /* Y^T (Nn, M) = X^T (Nn, Kk) A^T (Kk, M) in column-major terms: first operand X, second A */
    cublasOperation_t opx = transX ? CUBLAS_OP_T : CUBLAS_OP_N, opa = transA ? CUBLAS_OP_T : CUBLAS_OP_N;
    if (batch == 1)
        return BLAS_OK(cublasSgemm, blas, opx, opa, (int)Nn, (int)M, (int)Kk, &one, X, (int)ldx, A, (int)lda, &beta, Y,
                       (int)ldy);
    return BLAS_OK(cublasSgemmStridedBatched, blas, opx, opa, (int)Nn, (int)M, (int)Kk, &one, X, (int)ldx,
                   (long long)sx, A, (int)lda, (long long)sa, &beta, Y, (int)ldy, (long long)sy, (int)batch);
}

/* ---- entries ---- */

void conv2d_forward(float *out, const float *in, const float *w, const float *b, const nn_conv *cp, float *scratch)
{
    const char *op = "conv2d_forward";
    const nn_conv c = *cp;
    int64_t PQ = c.P * c.Q, HW = c.H * c.W;
    int64_t G = c.groups, Cg = c.C / G, Kg = c.K / G, CRSg = Cg * c.R * c.S;
    int via_cudnn = cudnn_handles(&c) ? cudnn_forward(out, in, w, &c) : -1;
    if (via_cudnn == 0) return;
    if (via_cudnn == 1) {
        /* cuDNN leaves the bias to the kernel below */
    } else if (is_depthwise(&c)) {
        if (idx32_fits(&c)) {
            dw32_forward_kernel<<<plane_grid(c.N * c.K), plane_threads(PQ), 0, stream>>>(out, in, w, b, c);
            LAUNCHED("dw32_forward_kernel");
            return;
        }
        dw_forward_kernel<<<plane_grid(c.N * c.K), plane_threads(PQ), 0, stream>>>(out, in, w, b, c);
        LAUNCHED("dw_forward_kernel");
        return;
    } else if (is_pointwise(&c)) {
        /* per image n and group g: Y (Kg, HW) = W_g (Kg, Cg) X (Cg, HW) */
        for (int64_t g = 0; g < G; g++)
            if (!gemm_rm(op, false, false, Kg, HW, Cg, w + g * Kg * Cg, Cg, 0, in + g * Cg * HW, HW, c.C * HW, 0.0f,
                         out + g * Kg * HW, HW, c.K * HW, c.N))
                return;
    } else {
        int64_t nb = chunk_images(&c), img = c.C * c.R * c.S * PQ;
        for (int64_t n0 = 0; n0 < c.N; n0 += nb) {
            int64_t cnt = c.N - n0 < nb ? c.N - n0 : nb;
            if (!im2col(op, scratch, in + n0 * c.C * HW, cnt, c, img, PQ)) return;
            /* per image and group: Y (Kg, PQ) = W_g (Kg, CRSg) col_g (CRSg, PQ) */
            for (int64_t g = 0; g < G; g++)
                if (!gemm_rm(op, false, false, Kg, PQ, CRSg, w + g * Kg * CRSg, CRSg, 0, scratch + g * CRSg * PQ, PQ,
                             img, 0.0f, out + (n0 * c.K + g * Kg) * PQ, PQ, c.K * PQ, cnt))
                    return;
        }
    }
    if (b) {
        add_bias_kernel<<<plane_grid(c.N * c.K), plane_threads(PQ), 0, stream>>>(out, b, c.N * c.K, c.K, PQ);
        LAUNCHED("add_bias_kernel");
    }
}

void conv2d_backward(float *din, float *dw, float *db, const float *dout, const float *in, const float *w,
                     const nn_conv *cp, float *scratch)
{
    const char *op = "conv2d_backward";
    const nn_conv c = *cp;
    int64_t PQ = c.P * c.Q, HW = c.H * c.W;
    /* db[k] += sum of dout's channel k: a split reduction (few channels of many values at the
     * first layers: one block per channel would leave most of the GPU idle) */
    if (db && !channel_sum_add(op, db, dout, c.N, c.K, PQ)) return;
    if (cudnn_handles(&c)) {
        /* what cuDNN did is taken out of what remains for the paths below */
        int r = din ? cudnn_backward_data(din, dout, w, &c) : -1;
        if (r == 0) return;
        if (r == 1) din = NULL;
        r = dw ? cudnn_backward_filter(dw, dout, in, &c) : -1;
        if (r == 0) return;
        if (r == 1) dw = NULL;
        if (!din && !dw) return;
    }
    if (is_depthwise(&c)) {
        bool narrow = idx32_fits(&c);
        if (din && narrow) {
            dw32_backward_data_kernel<<<plane_grid(c.N * c.C), plane_threads(HW), 0, stream>>>(din, dout, w, c);
            if (!LAUNCHED("dw32_backward_data_kernel")) return;
        } else if (din) {
            dw_backward_data_kernel<<<plane_grid(c.N * c.C), plane_threads(HW), 0, stream>>>(din, dout, w, c);
            if (!LAUNCHED("dw_backward_data_kernel")) return;
        }
        int taps = narrow && c.R == c.S && (c.R == 3 || c.R == 5) ? (int)c.R : 0;
        if (dw && taps) {
            /* about 8 blocks per SM in all, each with at least 4096 pairs (of R*S products) */
            int64_t nw = c.K * c.R * c.S, pairs = c.N * PQ;
            int64_t splits = (8 * (int64_t)sm_count + c.K - 1) / c.K, most = (pairs + 4095) / 4096;
            splits = splits > most ? most : splits;
            splits = splits < 1 ? 1 : splits > 1024 ? 1024 : splits;
            double *part = (double *)workspace(op, (size_t)(nw * splits) * sizeof(double));
            if (!part) return;
            dim3 grid(plane_grid(c.K), (unsigned)splits);
            if (taps == 3) dw32_weights_partial_kernel<3, 3><<<grid, THREADS, 0, stream>>>(part, dout, in, c);
            else dw32_weights_partial_kernel<5, 5><<<grid, THREADS, 0, stream>>>(part, dout, in, c);
            if (!LAUNCHED("dw32_weights_partial_kernel")) return;
            dw_weights_finish_kernel<<<flat_grid(nw), THREADS, 0, stream>>>(dw, part, (int)splits, nw);
            LAUNCHED("dw_weights_finish_kernel");
        } else if (dw) {
            /* about 8 blocks per SM in all, each with at least 4096 products */
            int64_t nw = c.K * c.R * c.S, pairs = c.N * PQ;
            int64_t splits = (8 * (int64_t)sm_count + nw - 1) / nw, most = (pairs + 4095) / 4096;
            splits = splits > most ? most : splits;
            splits = splits < 1 ? 1 : splits > 1024 ? 1024 : splits;
            double *part = (double *)workspace(op, (size_t)(nw * splits) * sizeof(double));
            if (!part) return;
            dim3 grid(plane_grid(nw), (unsigned)splits);
            dw_weights_partial_kernel<<<grid, THREADS, 0, stream>>>(part, dout, in, c);
            if (!LAUNCHED("dw_weights_partial_kernel")) return;
            dw_weights_finish_kernel<<<flat_grid(nw), THREADS, 0, stream>>>(dw, part, (int)splits, nw);
            LAUNCHED("dw_weights_finish_kernel");
        }
        return;
    }
    int64_t G = c.groups, Cg = c.C / G, Kg = c.K / G;
    bool pointwise = is_pointwise(&c);
    if (pointwise && din) {
        /* per image and group: dX (Cg, HW) += W_g^T (Cg, Kg) dY (Kg, HW), straight into din */
        for (int64_t g = 0; g < G; g++)
            if (!gemm_rm(op, true, false, Cg, HW, Kg, w + g * Kg * Cg, Cg, 0, dout + g * Kg * HW, HW, c.K * HW, 1.0f,
                         din + g * Cg * HW, HW, c.C * HW, c.N))
                return;
    }
    if (pointwise && !dw) return;
    if (!din && !dw) return;
    /* stacked layouts over a chunk of nb images: col (rows, L) then dY (K, L), L = nb * PQ */
    int64_t rows = pointwise ? c.C : c.C * c.R * c.S, rowsg = rows / G;
    int64_t nb = chunk_images(&c);
    for (int64_t n0 = 0; n0 < c.N; n0 += nb) {
        int64_t cnt = c.N - n0 < nb ? c.N - n0 : nb, L = cnt * PQ;
        float *col = scratch, *dys = scratch + rows * L;
        stack_planes_kernel<<<plane_grid(cnt * c.K), plane_threads(PQ), 0, stream>>>(dys, dout + n0 * c.K * PQ, cnt,
                                                                                     c.K, PQ);
        if (!LAUNCHED("stack_planes_kernel")) return;
        if (dw) {
            /* im2col with R = S = 1 and no stride or padding is the plain restacking of the input */
            if (!im2col(op, col, in + n0 * c.C * HW, cnt, c, PQ, L)) return;
            /* per group: dW_g (Kg, rowsg) += dY_g (Kg, L) col_g^T (L, rowsg) */
            for (int64_t g = 0; g < G; g++)
                if (!gemm_rm(op, false, true, Kg, rowsg, L, dys + g * Kg * L, L, 0, col + g * rowsg * L, L, 0, 1.0f,
                             dw + g * Kg * rowsg, rowsg, 0, 1))
                    return;
        }
        if (din && !pointwise) {
            /* per group: dcol_g (rowsg, L) = W_g^T (rowsg, Kg) dY_g (Kg, L), over col (used) */
            for (int64_t g = 0; g < G; g++)
                if (!gemm_rm(op, true, false, rowsg, L, Kg, w + g * Kg * rowsg, rowsg, 0, dys + g * Kg * L, L, 0, 0.0f,
                             col + g * rowsg * L, L, 0, 1))
                    return;
            if (!col2im_add(op, din + n0 * c.C * HW, col, cnt, c, PQ, L)) return;
        }
    }
}

/* ---- dense: out (N, O) = in (N, In) w^T + b, w (O, In) ---- */

/* db[o] += sum over n of dout[n, o]: one thread per output, in double, n in order */
__global__ void dense_bias_grad_kernel(float *db, const float *dout, int64_t N, int64_t O)
{
    for (int64_t o = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; o < O; o += (int64_t)gridDim.x * blockDim.x) {
        double acc = 0;
        for (int64_t n = 0; n < N; n++) acc += dout[n * O + o];
        db[o] += (float)acc;
    }
}

/* out[n, o] += b[o]: one block per sample */
__global__ void dense_add_bias_kernel(float *out, const float *b, int64_t N, int64_t O)
{
    for (int64_t n = blockIdx.x; n < N; n += gridDim.x)
        for (int64_t o = threadIdx.x; o < O; o += blockDim.x) out[n * O + o] += b[o];
}

void dense_forward(float *out, const float *in, const float *w, const float *b, int64_t N, int64_t In, int64_t O)
{
    const char *op = "dense_forward";
    /* out (N, O) = in (N, In) w^T (In, O) */
    if (!gemm_rm(op, false, true, N, O, In, in, In, 0, w, In, 0, 0.0f, out, O, 0, 1)) return;
    if (b) {
        dense_add_bias_kernel<<<plane_grid(N), plane_threads(O), 0, stream>>>(out, b, N, O);
        LAUNCHED("dense_add_bias_kernel");
    }
}

void dense_backward(float *din, float *dw, float *db, const float *dout, const float *in, const float *w, int64_t N,
                    int64_t In, int64_t O)
{
    const char *op = "dense_backward";
    /* din (N, In) += dout (N, O) w (O, In) */
    if (din && !gemm_rm(op, false, false, N, In, O, dout, O, 0, w, In, 0, 1.0f, din, In, 0, 1)) return;
    /* dw (O, In) += dout^T (O, N) in (N, In) */
    if (dw && !gemm_rm(op, true, false, O, In, N, dout, O, 0, in, In, 0, 1.0f, dw, In, 0, 1)) return;
    if (db) {
        dense_bias_grad_kernel<<<flat_grid(O), THREADS, 0, stream>>>(db, dout, N, O);
        LAUNCHED("dense_bias_grad_kernel");
    }
}

}   // namespace dfs_cuda
