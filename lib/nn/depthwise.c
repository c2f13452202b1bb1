/* depthwise.c: depthwise convolution, one (image, channel) plane at a time.
 *
 * Each plane is first copied into a zero-padded buffer, so the kernels have no boundary tests,
 * and its columns are stored by phase (column x at x % stride_w, x / stride_w): a strided
 * convolution then reads every tap as a contiguous run, like a stride-1 one. The output row loop
 * is vectorised over columns with all R x S taps summed in a register (`omp simd`: -O2 alone
 * leaves these loops scalar); 3x3 and 5x5 kernels have their taps spelled out. At stride 1 the
 * backward works on whole planes as one flat loop per tap (see widen_rows).
 *
 * Determinism: every output value, input gradient and weight gradient is computed by one thread
 * in a fixed order (forward and input gradient parallel over planes, weight gradient over
 * output channels, summing images in order), so results do not depend on the thread count.
 * The forward sums bias then taps in (r, s) order, as the definition does. */
#include "nn/depthwise.h"
#include "nn/simd.h"

#include <stdlib.h>
#include <string.h>

#include "core/common.h"

#define PAR_MIN 32768

/* The padded plane: Hp rows of `row` floats; (y, x) is input (y - pad_t, x - pad_l), stored at
 * y * row + (x % stride_w) * Wq + x / stride_w. Only the extent the convolution reads is kept. */
typedef struct padded {
    int64_t Hp, Wp, Wq, row;
    int64_t T;          /* taps: R * S */
    int64_t off[25];    /* tap (r, s): offset of its first read from an output row's base (T <= 25) */
    int64_t *offs;      /* off, or a heap copy for larger kernels */
} padded;

static void padded_init(padded *s, const nn_conv *c)
{
    s->Hp = (c->P - 1) * c->stride_h + (c->R - 1) * c->dil_h + 1;
    s->Wp = (c->Q - 1) * c->stride_w + (c->S - 1) * c->dil_w + 1;
    s->Wq = (s->Wp + c->stride_w - 1) / c->stride_w;
    s->row = c->stride_w * s->Wq;
    s->T = c->R * c->S;
    s->offs = s->T <= 25 ? s->off : dfs_malloc((size_t)s->T * sizeof *s->offs);
    for (int64_t r = 0; r < c->R; r++)
        for (int64_t t = 0; t < c->S; t++) {
            int64_t x = t * c->dil_w;
            s->offs[r * c->S + t] = r * c->dil_h * s->row + (x % c->stride_w) * s->Wq + x / c->stride_w;
        }
}

static void padded_free(padded *s)
{
    if (s->offs != s->off) free(s->offs);
}

static size_t padded_floats(const padded *s)
{
    return (size_t)s->Hp * (size_t)s->row;
}

/* A per-thread buffer that only grows: the kernels run once per layer and step, and a fresh
 * malloc of a plane per call costs page faults (it is never freed: one plane per thread). */
static float *thread_buffer(size_t floats)
{
    static _Thread_local float *buf;
    static _Thread_local size_t cap;
    if (floats > cap) {
        free(buf);
        buf = dfs_malloc(floats * sizeof *buf);
        cap = floats;
    }
    return buf;
}

/* ceil(a / b) for b > 0, and 0 for a <= 0 */
static int64_t ceil_div0(int64_t a, int64_t b)
{
    return a <= 0 ? 0 : (a + b - 1) / b;
}

/* dst (padded) <- src (H, W) plane */
static void pad_plane(float *dst, const float *src, const nn_conv *c, const padded *s)
{
    int64_t sw = c->stride_w, Wq = s->Wq, pl = c->pad_l;
    for (int64_t y = 0; y < s->Hp; y++) {
        float *d = dst + y * s->row;
        int64_t ih = y - c->pad_t;
        if (ih < 0 || ih >= c->H) {
            memset(d, 0, (size_t)s->row * sizeof *d);
            continue;
        }
        const float *srow = src + ih * c->W;
        for (int64_t ph = 0; ph < sw; ph++) {
            /* slot i of this phase is column x = i * sw + ph: input column x - pl when that lies
             * in [0, W) and x < Wp, padding otherwise */
            float *dd = d + ph * Wq;
            int64_t i0 = ceil_div0(pl - ph, sw), i1 = ceil_div0(pl + c->W - ph, sw), ip = ceil_div0(s->Wp - ph, sw);
            if (i1 > ip) i1 = ip;
            if (i1 > Wq) i1 = Wq;
            if (i0 > i1) i0 = i1;
            memset(dd, 0, (size_t)i0 * sizeof *dd);
            if (sw == 1) {
                memcpy(dd + i0, srow + i0 - pl, (size_t)(i1 - i0) * sizeof *dd);
            } else {
                int64_t o = ph - pl;   /* i * sw + o is in [0, W) for i in [i0, i1) */
#pragma omp simd
                for (int64_t i = i0; i < i1; i++) dd[i] = srow[i * sw + o];
            }
            memset(dd + i1, 0, (size_t)(Wq - i1) * sizeof *dd);
        }
    }
}

/* One output plane from its padded input (added to dst when `add`, else bias plus the taps), any
 * kernel: tap by tap into the output row (in L1). */
static void fwd_plane_any(float *dst, const float *pad, const float *wk, float bias, int add, const int64_t *off,
                          int64_t T, int64_t P, int64_t Q, int64_t prow)
{
    for (int64_t p = 0; p < P; p++) {
        const float *base = pad + p * prow;
        float *o = dst + p * Q;
        if (!add)
            for (int64_t q = 0; q < Q; q++) o[q] = bias;
        for (int64_t t = 0; t < T; t++) {
            const float *x = base + off[t];
            float wv = wk[t];
#pragma omp simd
            for (int64_t q = 0; q < Q; q++) o[q] += wv * x[q];
        }
    }
}

/* 3x3 and 5x5: every tap of an output value summed in a register, one store per value. The
 * taps are spelled out because GCC does not vectorise a loop over q around a loop over taps. */
#define TAP_DECL(i) const float *x##i = base + off[i]; const float w##i = wk[i];
#define TAP(i) + w##i * x##i[q]

static void fwd_plane_3x3(float *dst, const float *pad, const float *wk, float bias, int add, const int64_t *off,
                          int64_t P, int64_t Q, int64_t prow)
{
    for (int64_t p = 0; p < P; p++) {
        const float *base = pad + p * prow;
        float *o = dst + p * Q;
        TAP_DECL(0) TAP_DECL(1) TAP_DECL(2) TAP_DECL(3) TAP_DECL(4) TAP_DECL(5) TAP_DECL(6) TAP_DECL(7) TAP_DECL(8)
#pragma omp simd
        for (int64_t q = 0; q < Q; q++)
            o[q] = (add ? o[q] : bias) TAP(0) TAP(1) TAP(2) TAP(3) TAP(4) TAP(5) TAP(6) TAP(7) TAP(8);
    }
}

static void fwd_plane_5x5(float *dst, const float *pad, const float *wk, float bias, int add, const int64_t *off,
                          int64_t P, int64_t Q, int64_t prow)
{
    for (int64_t p = 0; p < P; p++) {
        const float *base = pad + p * prow;
        float *o = dst + p * Q;
        TAP_DECL(0) TAP_DECL(1) TAP_DECL(2) TAP_DECL(3) TAP_DECL(4) TAP_DECL(5) TAP_DECL(6) TAP_DECL(7) TAP_DECL(8)
        TAP_DECL(9) TAP_DECL(10) TAP_DECL(11) TAP_DECL(12) TAP_DECL(13) TAP_DECL(14) TAP_DECL(15) TAP_DECL(16)
        TAP_DECL(17) TAP_DECL(18) TAP_DECL(19) TAP_DECL(20) TAP_DECL(21) TAP_DECL(22) TAP_DECL(23) TAP_DECL(24)
#pragma omp simd
        for (int64_t q = 0; q < Q; q++)
            o[q] = (add ? o[q] : bias) TAP(0) TAP(1) TAP(2) TAP(3) TAP(4) TAP(5) TAP(6) TAP(7) TAP(8) TAP(9) TAP(10) TAP(11) TAP(12)
                TAP(13) TAP(14) TAP(15) TAP(16) TAP(17) TAP(18) TAP(19) TAP(20) TAP(21) TAP(22) TAP(23) TAP(24);
    }
}

#undef TAP_DECL
#undef TAP

static void conv_plane(float *dst, const float *pad, const float *wk, float bias, int add, const padded *s,
                       const nn_conv *c, int64_t prow)
{
    if (s->T == 9 && c->R == 3) fwd_plane_3x3(dst, pad, wk, bias, add, s->offs, c->P, c->Q, prow);
    else if (s->T == 25 && c->R == 5) fwd_plane_5x5(dst, pad, wk, bias, add, s->offs, c->P, c->Q, prow);
    else fwd_plane_any(dst, pad, wk, bias, add, s->offs, s->T, c->P, c->Q, prow);
}

void nn_depthwise_forward(float *out, const float *in, const float *w, const float *b, const nn_conv *c)
{
    int64_t C = c->C, K = c->K, mult = K / C, P = c->P, Q = c->Q, HW = c->H * c->W;
    padded s;
    padded_init(&s, c);
    int64_t prow = c->stride_h * s.row, T = s.T;
#pragma omp parallel if (c->N * K * P * Q * T > PAR_MIN)
    {
        float *pad = thread_buffer(padded_floats(&s));
        int64_t padded_plane = -1;   /* input plane now in pad (mult > 1 reuses it) */
#pragma omp for schedule(static)
        for (int64_t nk = 0; nk < c->N * K; nk++) {
            int64_t n = nk / K, k = nk % K, plane = n * C + k / mult;
            if (plane != padded_plane) {
                pad_plane(pad, in + plane * HW, c, &s);
                padded_plane = plane;
            }
            const float *wk = w + k * T;
            float bias = b ? b[k] : 0.0f, *dst = out + nk * P * Q;
            conv_plane(dst, pad, wk, bias, 0, &s, c, prow);
        }
    }
    padded_free(&s);
}

/* dpad (padded layout) += the scatter of one output-gradient plane through kernel wk */
static void bwd_data_plane(float *dpad, const float *g, const float *wk, const padded *s, int64_t P, int64_t Q,
                           int64_t prow)
{
    for (int64_t p = 0; p < P; p++) {
        const float *grow = g + p * Q;
        float *base = dpad + p * prow;
        for (int64_t t = 0; t < s->T; t++) {
            float *d = base + s->offs[t];
            float wv = wk[t];
#pragma omp simd
            for (int64_t q = 0; q < Q; q++) d[q] += wv * grow[q];
        }
    }
}

/* din (H, W) += the input part of dpad */
static void unpad_add(float *din, const float *dpad, const nn_conv *c, const padded *s)
{
    int64_t sw = c->stride_w;
    for (int64_t ih = 0; ih < c->H; ih++) {
        int64_t y = ih + c->pad_t;
        if (y >= s->Hp) break;   /* rows the convolution never reads get no gradient */
        const float *d = dpad + y * s->row;
        float *o = din + ih * c->W;
        int64_t iw1 = s->Wp - c->pad_l < c->W ? s->Wp - c->pad_l : c->W;
        if (sw == 1) {
            const float *dd = d + c->pad_l;
#pragma omp simd
            for (int64_t iw = 0; iw < iw1; iw++) o[iw] += dd[iw];
        } else {
            for (int64_t iw = 0; iw < iw1; iw++) {
                int64_t x = iw + c->pad_l;
                o[iw] += d[(x % sw) * s->Wq + x / sw];
            }
        }
    }
}

/* The weight gradient's partial sums at stride 1: DW_LANES lanes per tap, kept in vector
 * registers (nn_vf, simd.h) across loops, since an `omp simd reduction` ends in a slow horizontal
 * sum at every loop exit. The lane count is fixed, not the vector width: lane l sums the products
 * j = l (mod DW_LANES) in order whatever the width, so with the build's -std=c11 (no contraction
 * into FMAs) dw has the same bits on every target. */
#define DW_LANES 16
#define DW_VECS (DW_LANES / NN_VL)

/* Stride 1 only: g (P, Q) -> gz (P, prow) with zero columns [Q, prow), so that output (p, q) and
 * its tap t's input sit at the same distance (off[t]) for every p: a whole plane's taps become
 * one contiguous loop. The zero columns meet padded inputs that no output reads; they add
 * 0 * x, which is exact for finite x. */
static void widen_rows(float *gz, const float *g, int64_t P, int64_t Q, int64_t prow)
{
    for (int64_t p = 0; p < P; p++) {
        memcpy(gz + p * prow, g + p * Q, (size_t)Q * sizeof *gz);
        memset(gz + p * prow + Q, 0, (size_t)(prow - Q) * sizeof *gz);
    }
}

void nn_depthwise_backward(float *din, float *dw, const float *dout, const float *in, const float *w,
                           const nn_conv *c)
{
    int64_t C = c->C, K = c->K, mult = K / C, P = c->P, Q = c->Q, HW = c->H * c->W, N = c->N;
    padded s;
    padded_init(&s, c);
    int64_t prow = c->stride_h * s.row, T = s.T;
    int flat = c->stride_h == 1 && c->stride_w == 1;
    /* the flat loops run off[t] + P * prow floats past a padded plane's start: up to
     * (S - 1) * dil_w - 1 beyond it, so padded buffers get a zeroed tail of one row */
    size_t pf = padded_floats(&s) + (size_t)s.row, wide = (size_t)(P * prow);
    int par = N * K * P * Q * T > PAR_MIN;
    /* din at stride 1 is the gradient plane correlated with the flipped kernel, i.e. the forward
     * kernel run on the zero-padded gradient (one store per input value, not a read-modify-write
     * per tap); tg describes that convolution. It needs padding that does not exceed the
     * kernel's reach (always so for 'same'); otherwise the taps are scattered. */
    nn_conv tg = *c;
    tg.H = P, tg.W = Q, tg.P = c->H, tg.Q = c->W;
    tg.pad_t = (c->R - 1) * c->dil_h - c->pad_t, tg.pad_l = (c->S - 1) * c->dil_w - c->pad_l;
    tg.pad_b = tg.pad_r = 0;
    int gather = flat && tg.pad_t >= 0 && tg.pad_l >= 0 && T <= 25;
    if (din && gather) {
        padded st;
        padded_init(&st, &tg);
#pragma omp parallel if (par)
        {
            float *gpad = thread_buffer(padded_floats(&st));
#pragma omp for schedule(static)
            for (int64_t nc = 0; nc < N * C; nc++) {
                int64_t n = nc / C, ch = nc % C;
                for (int64_t m = 0; m < mult; m++) {
                    int64_t k = ch * mult + m;
                    float wf[25];
                    for (int64_t t = 0; t < T; t++) wf[t] = w[k * T + T - 1 - t];
                    pad_plane(gpad, dout + (n * K + k) * P * Q, &tg, &st);
                    conv_plane(din + nc * HW, gpad, wf, 0.0f, 1, &st, &tg, st.row);
                }
            }
        }
        padded_free(&st);
    }
    /* otherwise: one input plane per iteration, gathering the gradients of its mult output
     * planes into a padded buffer */
    if (din && !gather) {
#pragma omp parallel if (par)
        {
            float *buf = thread_buffer(pf + wide);
            float *dpad = buf, *gz = buf + pf;
#pragma omp for schedule(static)
            for (int64_t nc = 0; nc < N * C; nc++) {
                int64_t n = nc / C, ch = nc % C;
                memset(dpad, 0, pf * sizeof *dpad);
                for (int64_t m = 0; m < mult; m++) {
                    int64_t k = ch * mult + m;
                    const float *g = dout + (n * K + k) * P * Q, *wk = w + k * T;
                    if (!flat) {
                        bwd_data_plane(dpad, g, wk, &s, P, Q, prow);
                        continue;
                    }
                    widen_rows(gz, g, P, Q, prow);
                    for (int64_t t = 0; t < T; t++) {
                        float *d = dpad + s.offs[t], wv = wk[t];
#pragma omp simd
                        for (int64_t j = 0; j < (int64_t)wide; j++) d[j] += wv * gz[j];
                    }
                }
                unpad_add(din + nc * HW, dpad, c, &s);
            }
        }
    }
    /* dw: one output channel per iteration, images summed in order. Tap t's gradient is the dot
     * product of the gradient plane with the input shifted by the tap. Each tap keeps partial
     * sums in lanes over all rows and images, added up once at the end: DW_LANES lanes of one flat
     * loop per plane at stride 1, otherwise one lane per column. */
    if (dw) {
#pragma omp parallel if (par)
        {
            float *buf = thread_buffer(pf + wide + (size_t)(T * (Q > DW_LANES ? Q : DW_LANES)));
            float *pad = buf, *gz = buf + pf, *racc = gz + wide;
            memset(pad + padded_floats(&s), 0, (size_t)s.row * sizeof *pad);   /* the tail */
#pragma omp for schedule(static)
            for (int64_t k = 0; k < K; k++) {
                memset(racc, 0, (size_t)(T * (Q > DW_LANES ? Q : DW_LANES)) * sizeof *racc);
                for (int64_t n = 0; n < N; n++) {
                    pad_plane(pad, in + (n * C + k / mult) * HW, c, &s);
                    const float *g = dout + (n * K + k) * P * Q;
                    if (flat) {
                        widen_rows(gz, g, P, Q, prow);
                        int64_t j16 = (int64_t)wide & ~(int64_t)(DW_LANES - 1);
                        for (int64_t t = 0; t < T; t++) {
                            const float *x = pad + s.offs[t];
                            float *r = racc + t * DW_LANES;
                            nn_vf a[DW_VECS];
                            memcpy(a, r, sizeof a);
                            for (int64_t j = 0; j < j16; j += DW_LANES)
                                for (int i = 0; i < DW_VECS; i++)
                                    a[i] += NN_VLOAD(gz + j + i * NN_VL) * NN_VLOAD(x + j + i * NN_VL);
                            memcpy(r, a, sizeof a);
                            for (int64_t j = j16; j < (int64_t)wide; j++) r[j - j16] += gz[j] * x[j];
                        }
                        continue;
                    }
                    for (int64_t p = 0; p < P; p++) {
                        const float *base = pad + p * prow, *grow = g + p * Q;
                        for (int64_t t = 0; t < T; t++) {
                            const float *x = base + s.offs[t];
                            float *r = racc + t * Q;
#pragma omp simd
                            for (int64_t q = 0; q < Q; q++) r[q] += grow[q] * x[q];
                        }
                    }
                }
                /* flat: DW_LANES lanes per tap; otherwise Q */
                int64_t lanes = flat ? DW_LANES : Q;
                for (int64_t t = 0; t < T; t++) {
                    double a = 0;
                    for (int64_t q = 0; q < lanes; q++) a += racc[t * lanes + q];
                    dw[k * T + t] += (float)a;
                }
            }
        }
    }
    padded_free(&s);
}
