/* norm.cu: batch normalisation on the GPU (contracts: ops.h; arithmetic mirrors lib/nn/batchnorm.c).
 *
 * Per-channel statistics are a grid reduction without atomics: the N*HW values of a channel are
 * split into `splits` contiguous ranges, one block each (grid splits x C), each block sums its
 * range in double and writes its partial sums to the workspace; then one thread per channel adds
 * its partials in split order and derives what the element-wise pass needs. Deterministic, and
 * the GPU stays busy when C is small (EfficientNet's stem has 32 channels of 128x128 x 32 images).
 *
 * The forward sums are shifted by the channel's first value, as on the cpu: shifted sums of
 * several ranges simply add, and in double sq - s^2/cnt does not cancel. */
#include <math.h>

#include "nn/cuda/common.cuh"

namespace dfs_cuda {

/* blocks per channel: about 4 blocks per SM over all channels, each with at least 4096 values */
static int bn_splits(int64_t cnt, int64_t C)
{
    int64_t want = (4 * (int64_t)sm_count + C - 1) / C;
    int64_t most = (cnt + 4095) / 4096;
    if (want > most) want = most;
    if (want > 256) want = 256;
    return (int)(want < 1 ? 1 : want);
}

static dim3 bn_grid(int splits, int64_t C)
{
    return dim3((unsigned)splits, (unsigned)(C > 65535 ? 65535 : C));
}

/* What bn_partial_kernel sums */
enum { SUM_STATS, SUM_BACKWARD, SUM_PLAIN };

/* Partial sums of channel c over split sp: part[(c * splits + sp) * 2 + {0, 1}] =
 *  SUM_STATS: sum(d), sum(d^2) with d = x - x[first value of the channel];
 *  SUM_BACKWARD: sum(dy), sum(dy * xhat) with xhat = (x - mean[c]) * invstd[c] (float, as the cpu);
 *  SUM_PLAIN: sum(x), 0. */
template <int MODE>
__global__ void bn_partial_kernel(double *part, const float *x, const float *dy, const float *mean,
                                  const float *invstd, int64_t N, int64_t C, int64_t HW)
{
    int64_t cnt = N * HW, splits = gridDim.x, sp = blockIdx.x;
    int64_t len = (cnt + splits - 1) / splits, e0 = sp * len, e1 = e0 + len < cnt ? e0 + len : cnt;
    for (int64_t c = blockIdx.y; c < C; c += gridDim.y) {
        double k = MODE == SUM_STATS ? (double)x[c * HW] : 0.0;
        float m = MODE == SUM_BACKWARD ? mean[c] : 0.0f, inv = MODE == SUM_BACKWARD ? invstd[c] : 0.0f;
        double s = 0, sq = 0;
        /* e = n * HW + i, with n and i advanced incrementally (no division per value) */
        int64_t e = e0 + threadIdx.x, n = e / HW, i = e % HW;
        for (; e < e1; e += blockDim.x) {
            int64_t at = (n * C + c) * HW + i;
            if (MODE == SUM_PLAIN) {
                s += x[at];
            } else if (MODE == SUM_BACKWARD) {
                float g = dy[at];
                s += g;
                sq += (double)g * ((x[at] - m) * inv);
            } else {
                double d = (double)x[at] - k;
                s += d;
                sq += d * d;
            }
            i += blockDim.x;
            while (i >= HW) {
                i -= HW;
                n++;
            }
        }
        double ts = block_sum(s), tsq = block_sum(sq);
        if (threadIdx.x == 0) {
            part[(c * splits + sp) * 2] = ts;
            part[(c * splits + sp) * 2 + 1] = tsq;
        }
    }
}

/* One thread per channel: batch statistics, saved mean/invstd, the affine map (scale, shift) of
 * the normalisation, and the running statistics. */
__global__ void bn_forward_finish_kernel(float *scale, float *shift, float *save_mean, float *save_invstd,
                                         const double *part, int splits, const float *x, const float *gamma,
                                         const float *beta, float *running_mean, float *running_var, float momentum,
                                         float eps, int unbiased, int64_t N, int64_t C, int64_t HW)
{
    int64_t cnt = N * HW;
    for (int64_t c = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; c < C; c += (int64_t)gridDim.x * blockDim.x) {
        double s = 0, sq = 0;
        for (int sp = 0; sp < splits; sp++) {
            s += part[(c * splits + sp) * 2];
            sq += part[(c * splits + sp) * 2 + 1];
        }
        double k = x[c * HW];
        double mean = k + s / (double)cnt;
        sq -= s * s / (double)cnt;   /* sum of squared deviations from the mean */
        if (sq < 0) sq = 0;
        double var = sq / (double)cnt;
        double invstd = 1.0 / sqrt(var + eps);
        if (save_mean) save_mean[c] = (float)mean;
        if (save_invstd) save_invstd[c] = (float)invstd;
        float sc = (float)(invstd * (gamma ? gamma[c] : 1.0f));
        scale[c] = sc;
        shift[c] = (float)((beta ? beta[c] : 0.0f) - mean * sc);
        if (running_mean) running_mean[c] = (float)(momentum * running_mean[c] + (1.0 - momentum) * mean);
        if (running_var) {
            double v = unbiased && cnt > 1 ? sq / (double)(cnt - 1) : var;
            running_var[c] = (float)(momentum * running_var[c] + (1.0 - momentum) * v);
        }
    }
}

/* y = x * scale[c] + shift[c]: one block per (n, c) plane */
__global__ void bn_affine_kernel(float *out, const float *in, const float *scale, const float *shift, int64_t N,
                                 int64_t C, int64_t HW)
{
    for (int64_t plane = blockIdx.x; plane < N * C; plane += gridDim.x) {
        int64_t c = plane % C;
        float a = scale[c], b = shift[c];
        const float *x = in + plane * HW;
        float *y = out + plane * HW;
        for (int64_t i = threadIdx.x; i < HW; i += blockDim.x) y[i] = x[i] * a + b;
    }
}

/* Backward, one thread per channel: parameter gradients, and for the input gradient
 * kx = gamma * invstd, mdy = mean(dy), mdyx = mean(dy * xhat). */
__global__ void bn_backward_finish_kernel(float *kx, float *mdy, float *mdyx, float *dgamma, float *dbeta,
                                          const double *part, int splits, const float *gamma, const float *invstd,
                                          int64_t cnt, int64_t C)
{
    for (int64_t c = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; c < C; c += (int64_t)gridDim.x * blockDim.x) {
        double sdy = 0, sdyx = 0;
        for (int sp = 0; sp < splits; sp++) {
            sdy += part[(c * splits + sp) * 2];
            sdyx += part[(c * splits + sp) * 2 + 1];
        }
        if (dbeta) dbeta[c] += (float)sdy;
        if (dgamma) dgamma[c] += (float)sdyx;
        kx[c] = (gamma ? gamma[c] : 1.0f) * invstd[c];
        mdy[c] = (float)(sdy / (double)cnt);
        mdyx[c] = (float)(sdyx / (double)cnt);
    }
}

/* din += kx (dy - mdy - xhat mdyx), xhat = (x - mean) invstd: one block per plane */
__global__ void bn_backward_data_kernel(float *din, const float *dout, const float *in, const float *mean,
                                        const float *invstd, const float *kx, const float *mdy, const float *mdyx,
                                        int64_t N, int64_t C, int64_t HW)
{
    for (int64_t plane = blockIdx.x; plane < N * C; plane += gridDim.x) {
        int64_t c = plane % C;
        float m = mean[c], inv = invstd[c], k = kx[c], a = mdy[c], b = mdyx[c];
        for (int64_t i = threadIdx.x; i < HW; i += blockDim.x) {
            int64_t at = plane * HW + i;
            din[at] += k * (dout[at] - a - (in[at] - m) * inv * b);
        }
    }
}

/* Inference: the affine map from the running statistics (one thread per channel) */
__global__ void bn_eval_prep_kernel(float *scale, float *shift, float *mean_f, float *invstd_f, float *kx,
                                    const float *gamma, const float *beta, const float *running_mean,
                                    const float *running_var, float eps, int64_t C)
{
    for (int64_t c = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; c < C; c += (int64_t)gridDim.x * blockDim.x) {
        double invstd = 1.0 / sqrt((double)running_var[c] + eps);
        if (scale) {
            float sc = (float)(invstd * (gamma ? gamma[c] : 1.0f));
            scale[c] = sc;
            shift[c] = (float)((beta ? beta[c] : 0.0f) - running_mean[c] * (double)sc);
        }
        if (mean_f) {   /* backward: mean and invstd as floats, as the cpu's eval backward */
            float inv = (float)invstd;
            mean_f[c] = running_mean[c];
            invstd_f[c] = inv;
            kx[c] = (gamma ? gamma[c] : 1.0f) * inv;
        }
    }
}

/* din += kx * dy: one block per plane */
__global__ void bn_eval_backward_data_kernel(float *din, const float *dout, const float *kx, int64_t N, int64_t C,
                                             int64_t HW)
{
    for (int64_t plane = blockIdx.x; plane < N * C; plane += gridDim.x) {
        float k = kx[plane % C];
        for (int64_t i = threadIdx.x; i < HW; i += blockDim.x) din[plane * HW + i] += k * dout[plane * HW + i];
    }
}

/* Eval backward's parameter gradients: the sums, then dbeta += sdy, dgamma += sdyx. */
__global__ void bn_param_grad_kernel(float *dgamma, float *dbeta, const double *part, int splits, int64_t C)
{
    for (int64_t c = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; c < C; c += (int64_t)gridDim.x * blockDim.x) {
        double sdy = 0, sdyx = 0;
        for (int sp = 0; sp < splits; sp++) {
            sdy += part[(c * splits + sp) * 2];
            sdyx += part[(c * splits + sp) * 2 + 1];
        }
        if (dbeta) dbeta[c] += (float)sdy;
        if (dgamma) dgamma[c] += (float)sdyx;
    }
}

/* dst[c] += the sum of the partials of channel c, in split order */
__global__ void add_partials_kernel(float *dst, const double *part, int splits, int64_t C)
{
    for (int64_t c = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; c < C; c += (int64_t)gridDim.x * blockDim.x) {
        double s = 0;
        for (int sp = 0; sp < splits; sp++) s += part[(c * splits + sp) * 2];
        dst[c] += (float)s;
    }
}

/* The workspace: partial sums (double), then `floats` per-channel float arrays. */
struct bn_ws {
    double *part;
    float *f[5];
};

static bool bn_workspace(const char *op, bn_ws *w, int splits, int64_t C)
{
    size_t pbytes = (size_t)C * (size_t)splits * 2 * sizeof(double);
    char *base = (char *)workspace(op, pbytes + (size_t)C * 5 * sizeof(float));
    if (!base) return false;
    w->part = (double *)base;
    for (int i = 0; i < 5; i++) w->f[i] = (float *)(base + pbytes) + (size_t)i * C;
    return true;
}

void batchnorm_forward_train_ex(float *out, float *save_mean, float *save_invstd, const float *in,
                                const float *gamma, const float *beta, float *running_mean, float *running_var,
                                float momentum, float eps, int unbiased_running_var, int64_t N, int64_t C, int64_t HW)
{
    const char *op = "batchnorm_forward_train_ex";
    int splits = bn_splits(N * HW, C);
    bn_ws w;
    if (!bn_workspace(op, &w, splits, C)) return;
    float *scale = w.f[0], *shift = w.f[1];
    bn_partial_kernel<SUM_STATS><<<bn_grid(splits, C), THREADS, 0, stream>>>(w.part, in, NULL, NULL, NULL, N, C, HW);
    if (!LAUNCHED("bn_partial_kernel")) return;
    bn_forward_finish_kernel<<<flat_grid(C), THREADS, 0, stream>>>(scale, shift, save_mean, save_invstd, w.part,
                                                                    splits, in, gamma, beta, running_mean,
                                                                    running_var, momentum, eps,
                                                                    unbiased_running_var, N, C, HW);
    if (!LAUNCHED("bn_forward_finish_kernel")) return;
    bn_affine_kernel<<<plane_grid(N * C), plane_threads(HW), 0, stream>>>(out, in, scale, shift, N, C, HW);
    LAUNCHED("bn_affine_kernel");
}

void batchnorm_backward_train(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                              const float *gamma, const float *save_mean, const float *save_invstd, int64_t N,
                              int64_t C, int64_t HW)
{
    const char *op = "batchnorm_backward_train";
    if (!din && !dgamma && !dbeta) return;
    int splits = bn_splits(N * HW, C);
    bn_ws w;
    if (!bn_workspace(op, &w, splits, C)) return;
    float *kx = w.f[0], *mdy = w.f[1], *mdyx = w.f[2];
    bn_partial_kernel<SUM_BACKWARD><<<bn_grid(splits, C), THREADS, 0, stream>>>(w.part, in, dout, save_mean, save_invstd,
                                                                         N, C, HW);
    if (!LAUNCHED("bn_partial_kernel")) return;
    bn_backward_finish_kernel<<<flat_grid(C), THREADS, 0, stream>>>(kx, mdy, mdyx, dgamma, dbeta, w.part, splits,
                                                                     gamma, save_invstd, N * HW, C);
    if (!LAUNCHED("bn_backward_finish_kernel") || !din) return;
    bn_backward_data_kernel<<<plane_grid(N * C), plane_threads(HW), 0, stream>>>(din, dout, in, save_mean,
                                                                                  save_invstd, kx, mdy, mdyx, N, C,
                                                                                  HW);
    LAUNCHED("bn_backward_data_kernel");
}

void batchnorm_forward_eval(float *out, const float *in, const float *gamma, const float *beta,
                            const float *running_mean, const float *running_var, float eps, int64_t N, int64_t C,
                            int64_t HW)
{
    const char *op = "batchnorm_forward_eval";
    bn_ws w;
    if (!bn_workspace(op, &w, 1, C)) return;
    float *scale = w.f[0], *shift = w.f[1];
    bn_eval_prep_kernel<<<flat_grid(C), THREADS, 0, stream>>>(scale, shift, NULL, NULL, NULL, gamma, beta,
                                                               running_mean, running_var, eps, C);
    if (!LAUNCHED("bn_eval_prep_kernel")) return;
    bn_affine_kernel<<<plane_grid(N * C), plane_threads(HW), 0, stream>>>(out, in, scale, shift, N, C, HW);
    LAUNCHED("bn_affine_kernel");
}

void batchnorm_backward_eval(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                             const float *gamma, const float *running_mean, const float *running_var, float eps,
                             int64_t N, int64_t C, int64_t HW)
{
    const char *op = "batchnorm_backward_eval";
    if (!din && !dgamma && !dbeta) return;
    int splits = bn_splits(N * HW, C);
    bn_ws w;
    if (!bn_workspace(op, &w, splits, C)) return;
    float *mean_f = w.f[2], *invstd_f = w.f[3], *kx = w.f[4];
    bn_eval_prep_kernel<<<flat_grid(C), THREADS, 0, stream>>>(NULL, NULL, mean_f, invstd_f, kx, gamma, NULL,
                                                               running_mean, running_var, eps, C);
    if (!LAUNCHED("bn_eval_prep_kernel")) return;
    if (dgamma || dbeta) {
        bn_partial_kernel<SUM_BACKWARD><<<bn_grid(splits, C), THREADS, 0, stream>>>(w.part, in, dout, mean_f, invstd_f, N,
                                                                             C, HW);
        if (!LAUNCHED("bn_partial_kernel")) return;
        bn_param_grad_kernel<<<flat_grid(C), THREADS, 0, stream>>>(dgamma, dbeta, w.part, splits, C);
        if (!LAUNCHED("bn_param_grad_kernel")) return;
    }
    if (din) {
        bn_eval_backward_data_kernel<<<plane_grid(N * C), plane_threads(HW), 0, stream>>>(din, dout, kx, N, C, HW);
        LAUNCHED("bn_eval_backward_data_kernel");
    }
}

/* ---- batchnorm fused with its activation (ops.h nn_batchnorm_act_forward) ----
 * The statistics (training) or the running-statistics map (eval) exactly as the unfused entries
 * compute them, then one element-wise pass: v = x * scale + shift, the expression of
 * bn_affine_kernel (contracted to the same fma), the activation of elementwise.cu's kernel on v.
 * The unfused pair writes v to memory and reads it back as a float; here it stays a float in a
 * register, so out and pre are the same bits. */
template <int ACT>
__device__ inline float act_dev(float v, float alpha)
{
    if (ACT == NN_ACT_RELU) return v > 0 ? v : 0.0f;
    if (ACT == NN_ACT_LEAKY_RELU) return v > 0 ? v : alpha * v;
    return v * sigmoidf_dev(v);
}

/* out = act(x * scale[c] + shift[c]), and pre = x * scale[c] + shift[c] unless NULL: one block
 * per (n, c) plane, as bn_affine_kernel */
template <int ACT>
__global__ void bn_affine_act_kernel(float *out, float *pre, const float *in, const float *scale, const float *shift,
                                     float alpha, int64_t N, int64_t C, int64_t HW)
{
    for (int64_t plane = blockIdx.x; plane < N * C; plane += gridDim.x) {
        int64_t c = plane % C;
        float a = scale[c], b = shift[c];
        const float *x = in + plane * HW;
        float *y = out + plane * HW;
        float *p = pre ? pre + plane * HW : NULL;
        for (int64_t i = threadIdx.x; i < HW; i += blockDim.x) {
            float v = x[i] * a + b;
            if (p) p[i] = v;
            y[i] = act_dev<ACT>(v, alpha);
        }
    }
}

void batchnorm_act_forward(float *out, float *pre, float *save_mean, float *save_invstd, const float *in,
                           const float *gamma, const float *beta, float *running_mean, float *running_var,
                           const nn_bn_act *f, int64_t N, int64_t C, int64_t HW)
{
    const char *op = "batchnorm_act_forward";
    int splits = f->train ? bn_splits(N * HW, C) : 1;
    bn_ws w;
    if (!bn_workspace(op, &w, splits, C)) return;
    float *scale = w.f[0], *shift = w.f[1];
    if (f->train) {
        bn_partial_kernel<SUM_STATS><<<bn_grid(splits, C), THREADS, 0, stream>>>(w.part, in, NULL, NULL, NULL, N, C,
                                                                                 HW);
        if (!LAUNCHED("bn_partial_kernel")) return;
        bn_forward_finish_kernel<<<flat_grid(C), THREADS, 0, stream>>>(scale, shift, save_mean, save_invstd, w.part,
                                                                        splits, in, gamma, beta, running_mean,
                                                                        running_var, f->momentum, f->eps,
                                                                        f->unbiased_running_var, N, C, HW);
        if (!LAUNCHED("bn_forward_finish_kernel")) return;
    } else {
        bn_eval_prep_kernel<<<flat_grid(C), THREADS, 0, stream>>>(scale, shift, NULL, NULL, NULL, gamma, beta,
                                                                   running_mean, running_var, f->eps, C);
        if (!LAUNCHED("bn_eval_prep_kernel")) return;
    }
    dim3 grid(plane_grid(N * C)), block(plane_threads(HW));
    switch (f->act) {
    case NN_ACT_RELU:
        bn_affine_act_kernel<NN_ACT_RELU><<<grid, block, 0, stream>>>(out, pre, in, scale, shift, f->alpha, N, C, HW);
        break;
    case NN_ACT_LEAKY_RELU:
        bn_affine_act_kernel<NN_ACT_LEAKY_RELU><<<grid, block, 0, stream>>>(out, pre, in, scale, shift, f->alpha, N, C,
                                                                            HW);
        break;
    default:
        bn_affine_act_kernel<NN_ACT_SWISH><<<grid, block, 0, stream>>>(out, pre, in, scale, shift, f->alpha, N, C, HW);
        break;
    }
    LAUNCHED("bn_affine_act_kernel");
}

bool channel_sum_add(const char *op, float *dst, const float *src, int64_t N, int64_t C, int64_t HW)
{
    int splits = bn_splits(N * HW, C);
    bn_ws w;
    if (!bn_workspace(op, &w, splits, C)) return false;
    bn_partial_kernel<SUM_PLAIN><<<bn_grid(splits, C), THREADS, 0, stream>>>(w.part, src, NULL, NULL, NULL, N, C, HW);
    if (!LAUNCHED("bn_partial_kernel")) return false;
    add_partials_kernel<<<flat_grid(C), THREADS, 0, stream>>>(dst, w.part, splits, C);
    return LAUNCHED("add_partials_kernel");
}

}   // namespace dfs_cuda
