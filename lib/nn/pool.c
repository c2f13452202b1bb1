/* pool.c: max, average and global average pooling (NCHW). One (n, c) plane per OpenMP
 * iteration: backward scatters only inside its own plane, so there are no races. */
#include "nn/ops.h"
#include "core/common.h"

#include <math.h>

#define PAR_MIN 32768

int nn_pool_init(nn_pool *p)
{
    if (p->N < 1 || p->C < 1 || p->H < 1 || p->W < 1 || p->kh < 1 || p->kw < 1 || p->stride_h < 1 || p->stride_w < 1)
        return dfs_fail("pool: sizes and strides must be positive");
    if (p->pad_t < 0 || p->pad_l < 0 || p->pad_b < 0 || p->pad_r < 0)
        return dfs_fail("pool: negative padding");
    /* a window made only of padding would have no maximum and nothing to average */
    if (p->pad_t >= p->kh || p->pad_b >= p->kh || p->pad_l >= p->kw || p->pad_r >= p->kw)
        return dfs_fail("pool: padding must be smaller than the window");
    int64_t ph = p->H + p->pad_t + p->pad_b, pw = p->W + p->pad_l + p->pad_r;
    if (p->kh > ph || p->kw > pw)
        return dfs_fail("pool: window %lldx%lld larger than padded input %lldx%lld", (long long)p->kh,
                        (long long)p->kw, (long long)ph, (long long)pw);
    if (p->H * p->W > INT32_MAX) return dfs_fail("pool: feature map too large");
    p->P = (ph - p->kh) / p->stride_h + 1;
    p->Q = (pw - p->kw) / p->stride_w + 1;
    return 0;
}

/* the window of output (i, j), clipped to the input */
typedef struct { int64_t h0, h1, w0, w1; } window;
static inline window clip_window(const nn_pool *p, int64_t i, int64_t j)
{
    window w;
    w.h0 = i * p->stride_h - p->pad_t;
    w.w0 = j * p->stride_w - p->pad_l;
    w.h1 = w.h0 + p->kh < p->H ? w.h0 + p->kh : p->H;
    w.w1 = w.w0 + p->kw < p->W ? w.w0 + p->kw : p->W;
    if (w.h0 < 0) w.h0 = 0;
    if (w.w0 < 0) w.w0 = 0;
    return w;
}

/* Windows that tile the input without padding or overlap (Meso's 2x2 and 4x4 pools on even
 * sizes): no clipping, and the running maximum of a whole output row is updated one window
 * position at a time, so the loop over output columns has independent iterations (vectorised,
 * branch-free) instead of one compare-and-branch chain per window that mispredicts on every
 * other value of real activations. Ties and NaN keep the first value in scan order, as below. */
static void maxpool_tiled(float *out, int32_t *argmax, const float *in, const nn_pool *p)
{
    int64_t H = p->H, W = p->W, P = p->P, Q = p->Q, kh = p->kh, kw = p->kw;
#pragma omp parallel for schedule(static) if (p->N * p->C * H * W > PAR_MIN)
    for (int64_t nc = 0; nc < p->N * p->C; nc++) {
        const float *x = in + nc * H * W;
        for (int64_t i = 0; i < P; i++) {
            float *o = out + (nc * P + i) * Q;
            int32_t *a = argmax ? argmax + (nc * P + i) * Q : NULL;
            int32_t row0 = (int32_t)(i * kh * W);
            for (int64_t j = 0; j < Q; j++) o[j] = x[row0 + j * kw];
            if (a)
                for (int64_t j = 0; j < Q; j++) a[j] = row0 + (int32_t)(j * kw);
            for (int64_t h = 0; h < kh; h++)
                for (int64_t v = h == 0; v < kw; v++) {
                    int32_t at = row0 + (int32_t)(h * W + v);
                    const float *src = x + at;
                    if (a) {
#pragma omp simd
                        for (int64_t j = 0; j < Q; j++) {
                            float xv = src[j * kw];
                            int up = xv > o[j];
                            o[j] = up ? xv : o[j];
                            a[j] = up ? at + (int32_t)(j * kw) : a[j];
                        }
                    } else {
#pragma omp simd
                        for (int64_t j = 0; j < Q; j++) o[j] = src[j * kw] > o[j] ? src[j * kw] : o[j];
                    }
                }
        }
    }
}

void nn_maxpool_forward(float *out, int32_t *argmax, const float *in, const nn_pool *p)
{
    int64_t H = p->H, W = p->W, P = p->P, Q = p->Q;
    if (p->pad_t == 0 && p->pad_l == 0 && p->stride_h == p->kh && p->stride_w == p->kw && P * p->kh <= H &&
        Q * p->kw <= W) {
        maxpool_tiled(out, argmax, in, p);
        return;
    }
#pragma omp parallel for schedule(static) if (p->N * p->C * H * W > PAR_MIN)
    for (int64_t nc = 0; nc < p->N * p->C; nc++) {
        const float *x = in + nc * H * W;
        for (int64_t i = 0; i < P; i++)
            for (int64_t j = 0; j < Q; j++) {
                window w = clip_window(p, i, j);
                int64_t best = w.h0 * W + w.w0;   /* ties and NaN: the first in scan order */
                float bv = x[best];
                for (int64_t h = w.h0; h < w.h1; h++)
                    for (int64_t v = w.w0; v < w.w1; v++)
                        if (x[h * W + v] > bv) bv = x[best = h * W + v];
                out[(nc * P + i) * Q + j] = bv;
                if (argmax) argmax[(nc * P + i) * Q + j] = (int32_t)best;
            }
    }
}

void nn_maxpool_backward(float *din, const float *dout, const int32_t *argmax, const nn_pool *p)
{
    if (!din) return;
    int64_t HW = p->H * p->W, PQ = p->P * p->Q;
#pragma omp parallel for schedule(static) if (p->N * p->C * HW > PAR_MIN)
    for (int64_t nc = 0; nc < p->N * p->C; nc++)
        for (int64_t o = 0; o < PQ; o++) din[nc * HW + argmax[nc * PQ + o]] += dout[nc * PQ + o];
}

void nn_avgpool_forward(float *out, const float *in, const nn_pool *p)
{
    int64_t H = p->H, W = p->W, P = p->P, Q = p->Q;
#pragma omp parallel for schedule(static) if (p->N * p->C * H * W > PAR_MIN)
    for (int64_t nc = 0; nc < p->N * p->C; nc++) {
        const float *x = in + nc * H * W;
        for (int64_t i = 0; i < P; i++)
            for (int64_t j = 0; j < Q; j++) {
                window w = clip_window(p, i, j);
                float s = 0;
                for (int64_t h = w.h0; h < w.h1; h++)
                    for (int64_t v = w.w0; v < w.w1; v++) s += x[h * W + v];
                out[(nc * P + i) * Q + j] = s / (float)((w.h1 - w.h0) * (w.w1 - w.w0));
            }
    }
}

void nn_avgpool_backward(float *din, const float *dout, const nn_pool *p)
{
    if (!din) return;
    int64_t H = p->H, W = p->W, P = p->P, Q = p->Q;
#pragma omp parallel for schedule(static) if (p->N * p->C * H * W > PAR_MIN)
    for (int64_t nc = 0; nc < p->N * p->C; nc++) {
        float *dx = din + nc * H * W;
        for (int64_t i = 0; i < P; i++)
            for (int64_t j = 0; j < Q; j++) {
                window w = clip_window(p, i, j);
                float g = dout[(nc * P + i) * Q + j] / (float)((w.h1 - w.h0) * (w.w1 - w.w0));
                for (int64_t h = w.h0; h < w.h1; h++)
                    for (int64_t v = w.w0; v < w.w1; v++) dx[h * W + v] += g;
            }
    }
}

void nn_global_avgpool_forward(float *out, const float *in, int64_t N, int64_t C, int64_t HW)
{
#pragma omp parallel for schedule(static) if (N * C * HW > PAR_MIN)
    for (int64_t nc = 0; nc < N * C; nc++) {
        double s = 0;
        for (int64_t i = 0; i < HW; i++) s += in[nc * HW + i];
        out[nc] = (float)(s / (double)HW);
    }
}

void nn_global_avgpool_backward(float *din, const float *dout, int64_t N, int64_t C, int64_t HW)
{
    if (!din) return;
#pragma omp parallel for schedule(static) if (N * C * HW > PAR_MIN)
    for (int64_t nc = 0; nc < N * C; nc++) {
        float g = dout[nc] / (float)HW;
        for (int64_t i = 0; i < HW; i++) din[nc * HW + i] += g;
    }
}
