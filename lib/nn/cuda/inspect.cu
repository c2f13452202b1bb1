/* inspect.cu: the analysis ops on the GPU: Grad-CAM's map, ACE's channel ranges, interventions
 * and P(fake) sums (contracts: ops.h "analysis"; formulas of lib/nn/inspect.c).
 *
 * They run once per batch on small tensors (a layer near the end of a network), so they are kept
 * simple and as close to the cpu's arithmetic as the GPU allows:
 *  - cam_map: one thread per (sample, channel) sums the gradient over the positions in the cpu's
 *    order, then one thread per (sample, position) sums the channels in the cpu's order, with the
 *    double multiply and add rounded separately (no fused multiply-add): the cpu's bits;
 *  - channel_minmax: one block per channel; every thread keeps the first of equal values (by
 *    index) and the block merges them by index, so the bound is the value the cpu's sequential
 *    scan keeps, down to the sign of a zero;
 *  - set_neurons: copies;
 *  - pfake_sum: one thread per copy, the samples in order; P(fake) through the device's double
 *    exp (within an ulp of the host's), so a sum may differ from the cpu's in its last bits. */
#include <math.h>

#include "nn/cuda/common.cuh"

namespace dfs_cuda {

#define FOR_EACH_I(i, n) \
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < (n); i += (int64_t)gridDim.x * blockDim.x)

/* w[plane] = mean of the plane's HW gradient values, summed in order in double */
__global__ void cam_weights_kernel(double *w, const float *grad, int64_t planes, int64_t HW)
{
    FOR_EACH_I(pl, planes)
    {
        const float *G = grad + pl * HW;
        double s = 0.0;
        for (int64_t p = 0; p < HW; p++) s = __dadd_rn(s, (double)G[p]);
        w[pl] = s / (double)HW;
    }
}

/* maps[n, p] = sum over k in order of w[n, k] * act[n, k, p] */
__global__ void cam_sum_kernel(float *maps, const float *act, const double *w, int64_t N, int64_t K, int64_t HW,
                               int relu)
{
    FOR_EACH_I(e, N * HW)
    {
        int64_t n = e / HW, p = e % HW;
        const float *A = act + n * K * HW + p;
        const double *wn = w + n * K;
        double acc = 0.0;
        for (int64_t k = 0; k < K; k++) acc = __dadd_rn(acc, __dmul_rn(wn[k], (double)A[k * HW]));
        maps[e] = (float)(relu && acc < 0.0 ? 0.0 : acc);
    }
}

void cam_map(float *maps, const float *act, const float *grad, int64_t N, int64_t K, int64_t HW, int relu)
{
    const char *op = "cam_map";
    if (N * K * HW <= 0) return;
    double *w = (double *)workspace(op, (size_t)(N * K) * sizeof(double));
    if (!w) return;
    cam_weights_kernel<<<flat_grid(N * K), THREADS, 0, stream>>>(w, grad, N * K, HW);
    if (!LAUNCHED("cam_weights_kernel")) return;
    cam_sum_kernel<<<flat_grid(N * HW), THREADS, 0, stream>>>(maps, act, w, N, K, HW, relu);
    LAUNCHED("cam_sum_kernel");
}

/* One block per channel (blockDim.x == THREADS). A thread scans its values in increasing index
 * and keeps the first strict minimum / maximum with its index; the block keeps, among equal
 * bounds, the one of the smallest index: the cpu's scan, which keeps the first. The values
 * before the scan (mn, mx unless reset) come before every index. NaN never compares. */
__global__ void channel_minmax_kernel(float *mn, float *mx, const float *in, int64_t N, int64_t C, int64_t HW,
                                      int reset)
{
    __shared__ float lo_v[THREADS], hi_v[THREADS];
    __shared__ int64_t lo_i[THREADS], hi_i[THREADS];
    const int64_t none = INT64_MAX;
    for (int64_t c = blockIdx.x; c < C; c += gridDim.x) {
        float lo = INFINITY, hi = -INFINITY;
        int64_t li = none, hi_at = none;
        for (int64_t e = threadIdx.x; e < N * HW; e += blockDim.x) {
            float v = in[(e / HW * C + c) * HW + e % HW];
            if (v < lo || (li == none && v == lo)) lo = v, li = e;
            if (v > hi || (hi_at == none && v == hi)) hi = v, hi_at = e;
        }
        lo_v[threadIdx.x] = lo, lo_i[threadIdx.x] = li;
        hi_v[threadIdx.x] = hi, hi_i[threadIdx.x] = hi_at;
        __syncthreads();
        for (int s = blockDim.x / 2; s > 0; s /= 2) {
            if ((int)threadIdx.x < s) {
                int o = threadIdx.x + s;
                if (lo_i[o] != none &&
                    (lo_i[threadIdx.x] == none || lo_v[o] < lo_v[threadIdx.x] ||
                     (lo_v[o] == lo_v[threadIdx.x] && lo_i[o] < lo_i[threadIdx.x])))
                    lo_v[threadIdx.x] = lo_v[o], lo_i[threadIdx.x] = lo_i[o];
                if (hi_i[o] != none &&
                    (hi_i[threadIdx.x] == none || hi_v[o] > hi_v[threadIdx.x] ||
                     (hi_v[o] == hi_v[threadIdx.x] && hi_i[o] < hi_i[threadIdx.x])))
                    hi_v[threadIdx.x] = hi_v[o], hi_i[threadIdx.x] = hi_i[o];
            }
            __syncthreads();
        }
        if (threadIdx.x == 0) {
            float l = reset ? INFINITY : mn[c], h = reset ? -INFINITY : mx[c];
            if (lo_i[0] != none && lo_v[0] < l) l = lo_v[0];
            if (hi_i[0] != none && hi_v[0] > h) h = hi_v[0];
            mn[c] = l;
            mx[c] = h;
        }
        __syncthreads();   /* the shared arrays are rewritten for the next channel */
    }
}

void channel_minmax(float *mn, float *mx, const float *in, int64_t N, int64_t C, int64_t HW, int reset)
{
    const char *op = "channel_minmax";
    if (C <= 0) return;
    channel_minmax_kernel<<<plane_grid(C > 65535 ? 65535 : C), THREADS, 0, stream>>>(mn, mx, in, N, C, HW, reset);
    LAUNCHED("channel_minmax_kernel");
}

__global__ void set_neurons_kernel(float *h, const float *src, const float *vals, int64_t copies, int64_t N,
                                   int64_t C, int64_t HW, int64_t c0)
{
    FOR_EACH_I(e, copies * N * HW)
    {
        int64_t s = e / HW, q = e % HW, j = s / N, i = s % N, c = c0 + j;
        h[(s * C + c) * HW + q] = src ? src[(i * C + c) * HW + q] : vals[j];
    }
}

void set_neurons(float *h, const float *src, const float *vals, int64_t copies, int64_t N, int64_t C, int64_t HW,
                 int64_t c0)
{
    const char *op = "set_neurons";
    if (copies * N * HW <= 0) return;
    set_neurons_kernel<<<flat_grid(copies * N * HW), THREADS, 0, stream>>>(h, src, vals, copies, N, C, HW, c0);
    LAUNCHED("set_neurons_kernel");
}

/* nn_pfake of lib/nn/inspect.c */
__device__ inline float pfake_dev(const float *logits, int classes, int64_t i)
{
    if (classes == 1) return (float)(1.0 / (1.0 + exp(-(double)logits[i])));
    double d = (double)logits[2 * i] - (double)logits[2 * i + 1];
    return (float)(1.0 / (1.0 + exp(d)));
}

__global__ void pfake_sum_kernel(double *acc, int64_t stride, const float *logits, int classes, int64_t copies,
                                 int64_t N)
{
    FOR_EACH_I(j, copies)
    {
        double s = 0.0;
        for (int64_t i = 0; i < N; i++) s = __dadd_rn(s, (double)pfake_dev(logits, classes, j * N + i));
        acc[j * stride] += s;
    }
}

void pfake_sum(double *acc, int64_t stride, const float *logits, int classes, int64_t copies, int64_t N)
{
    const char *op = "pfake_sum";
    if (copies <= 0) return;
    pfake_sum_kernel<<<flat_grid(copies), THREADS, 0, stream>>>(acc, stride, logits, classes, copies, N);
    LAUNCHED("pfake_sum_kernel");
}

}   // namespace dfs_cuda
