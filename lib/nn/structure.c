/* structure.c: ops that route or mask values: concat, add, channel scaling, dropout and
 * drop-connect. The graph's masks come from nn_dropout_mask (counter_rng.h: each value a pure
 * function of key, node and index, drawn in parallel); the dfs_rng forms draw sequentially from
 * the caller's generator. Either way a seed fixes the mask whatever the thread count. */
#include "nn/counter_rng.h"
#include "nn/ops.h"

#include <string.h>

#define PAR_MIN 32768

void nn_concat_forward(float *out, const float *const *ins, const int64_t *Cs, int nin, int64_t N, int64_t HW)
{
    int64_t Ctot = 0;
    for (int k = 0; k < nin; k++) Ctot += Cs[k];
    for (int64_t n = 0; n < N; n++) {
        int64_t off = 0;
        for (int k = 0; k < nin; k++) {
            memcpy(out + (n * Ctot + off) * HW, ins[k] + n * Cs[k] * HW, (size_t)(Cs[k] * HW) * sizeof(float));
            off += Cs[k];
        }
    }
}

void nn_concat_backward(float *const *dins, const float *dout, const int64_t *Cs, int nin, int64_t N, int64_t HW)
{
    int64_t Ctot = 0;
    for (int k = 0; k < nin; k++) Ctot += Cs[k];
    int64_t off = 0;
    for (int k = 0; k < nin; k++) {
        float *d = dins[k];
        int64_t len = Cs[k] * HW;
        if (d) {
#pragma omp parallel for schedule(static) if (N * len > PAR_MIN)
            for (int64_t n = 0; n < N; n++) {
                const float *g = dout + (n * Ctot + off) * HW;
                for (int64_t i = 0; i < len; i++) d[n * len + i] += g[i];
            }
        }
        off += Cs[k];
    }
}

void nn_add_forward(float *out, const float *a, const float *b, int64_t n)
{
#pragma omp parallel for schedule(static) if (n > PAR_MIN)
    for (int64_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

void nn_add_backward(float *da, float *db, const float *dout, int64_t n)
{
    if (da) {
#pragma omp parallel for schedule(static) if (n > PAR_MIN)
        for (int64_t i = 0; i < n; i++) da[i] += dout[i];
    }
    if (db) {
#pragma omp parallel for schedule(static) if (n > PAR_MIN)
        for (int64_t i = 0; i < n; i++) db[i] += dout[i];
    }
}

void nn_scale_channels_forward(float *out, const float *in, const float *s, int64_t N, int64_t C, int64_t HW)
{
#pragma omp parallel for schedule(static) if (N * C * HW > PAR_MIN)
    for (int64_t nc = 0; nc < N * C; nc++)
        for (int64_t i = 0; i < HW; i++) out[nc * HW + i] = in[nc * HW + i] * s[nc];
}

void nn_scale_channels_backward(float *din, float *ds, const float *dout, const float *in, const float *s,
                                int64_t N, int64_t C, int64_t HW)
{
#pragma omp parallel for schedule(static) if (N * C * HW > PAR_MIN)
    for (int64_t nc = 0; nc < N * C; nc++) {
        const float *g = dout + nc * HW, *x = in + nc * HW;
        if (din)
            for (int64_t i = 0; i < HW; i++) din[nc * HW + i] += g[i] * s[nc];
        if (ds) {
            double acc = 0;
            for (int64_t i = 0; i < HW; i++) acc += (double)g[i] * x[i];
            ds[nc] += (float)acc;
        }
    }
}

/* keep with probability 1 - rate: a uniform draw in [0, 1) at or above rate (as TensorFlow) */
static inline uint8_t draw_keep(float rate, dfs_rng *rng) { return dfs_rng_uniformf(rng) >= rate; }

static float keep_scale(float rate) { return rate < 1.0f ? 1.0f / (1.0f - rate) : 0.0f; }

static uint8_t draw_keep_or_fixed(float rate, dfs_rng *rng)
{
    return rate <= 0.0f ? 1 : rate >= 1.0f ? 0 : draw_keep(rate, rng);
}

void nn_dropout_draw(uint8_t *mask, float rate, int64_t n, dfs_rng *rng)
{
    if (rate <= 0.0f || rate >= 1.0f) {
        memset(mask, rate <= 0.0f, (size_t)n);
        return;
    }
    /* serial and in order: the seed fixes the mask at any thread count and on any backend */
    for (int64_t i = 0; i < n; i++) mask[i] = draw_keep(rate, rng);
}

void nn_dropout_mask(uint8_t *mask, float rate, int64_t n, uint64_t key, uint32_t stream)
{
    /* each block of four values is its own Philox call: any split over threads writes the same bytes */
    int64_t blocks = (n + 3) / 4;
#pragma omp parallel for schedule(static) if (n > PAR_MIN)
    for (int64_t b = 0; b < blocks; b++) dfs_crng_keep_block(mask, rate, n, key, stream, b);
}

void nn_dropout_apply(float *out, const uint8_t *mask, const float *in, float rate, int64_t n)
{
    float scale = keep_scale(rate);
#pragma omp parallel for simd schedule(static) if (n > PAR_MIN)
    for (int64_t i = 0; i < n; i++) out[i] = mask[i] ? in[i] * scale : 0.0f;
}

void nn_dropout_forward(float *out, uint8_t *mask, const float *in, float rate, int64_t n, dfs_rng *rng)
{
    if (mask) {
        /* drawing and applying are separate passes: done in the drawing loop, applying doubled
         * the serial part (dropout was a third of ShallowNet's training step) */
        nn_dropout_draw(mask, rate, n, rng);
        nn_dropout_apply(out, mask, in, rate, n);
        return;
    }
    float scale = keep_scale(rate);
    for (int64_t i = 0; i < n; i++) {
        uint8_t k = draw_keep_or_fixed(rate, rng);
        out[i] = k ? in[i] * scale : 0.0f;
    }
}

void nn_dropout_backward(float *din, const float *dout, const uint8_t *mask, float rate, int64_t n)
{
    if (!din) return;
    float scale = keep_scale(rate);
#pragma omp parallel for simd schedule(static) if (n > PAR_MIN)   /* -O2 alone leaves it scalar */
    for (int64_t i = 0; i < n; i++) din[i] += mask[i] ? dout[i] * scale : 0.0f;
}

/* y = x * f over one sample's values */
static void scale_sample(float *y, const float *x, float f, int64_t per_sample)
{
#pragma omp parallel for schedule(static) if (per_sample > PAR_MIN)
    for (int64_t i = 0; i < per_sample; i++) y[i] = x[i] * f;
}

void nn_drop_connect_draw(uint8_t *keep, float rate, int64_t N, dfs_rng *rng)
{
    for (int64_t n = 0; n < N; n++) keep[n] = draw_keep_or_fixed(rate, rng);
}

void nn_drop_connect_apply(float *out, const uint8_t *keep, const float *in, float rate, int64_t N,
                           int64_t per_sample)
{
    float scale = keep_scale(rate);
    for (int64_t n = 0; n < N; n++)
        scale_sample(out + n * per_sample, in + n * per_sample, keep[n] ? scale : 0.0f, per_sample);
}

void nn_drop_connect_forward(float *out, uint8_t *keep, const float *in, float rate, int64_t N, int64_t per_sample,
                             dfs_rng *rng)
{
    float scale = keep_scale(rate);
    for (int64_t n = 0; n < N; n++) {
        uint8_t k = draw_keep_or_fixed(rate, rng);
        if (keep) keep[n] = k;
        scale_sample(out + n * per_sample, in + n * per_sample, k ? scale : 0.0f, per_sample);
    }
}

void nn_drop_connect_backward(float *din, const float *dout, const uint8_t *keep, float rate, int64_t N,
                              int64_t per_sample)
{
    if (!din) return;
    float scale = keep_scale(rate);
    for (int64_t n = 0; n < N; n++) {
        if (!keep[n]) continue;
        float *d = din + n * per_sample;
        const float *g = dout + n * per_sample;
#pragma omp parallel for schedule(static) if (per_sample > PAR_MIN)
        for (int64_t i = 0; i < per_sample; i++) d[i] += g[i] * scale;
    }
}
