/* dense.c: fully connected layer, out (N,O) = in (N,In) w^T + b; w is (O,In).
 *
 * Each row's result does not depend on how many rows share the call. The forward and the input
 * gradient are what predict, cam and ace compute per image, and a user who reruns them with
 * another --batch must get the same bytes. A BLAS GEMM does not promise that: which micro-kernel
 * (full tile or edge) computes a row, and so how its sum is unrolled and rounded, depends on
 * where the row falls in the matrix and on the OpenBLAS kernel (measured: predict with --batch 7
 * and the default batch differed under OPENBLAS_CORETYPE=Haswell). So both are computed here in
 * an order fixed per output element:
 *  - forward: out[n][o] = sum over i of in[n][i] w[o][i], kept as DENSE_LANES partial sums
 *    (lane l takes i = l, l + LANES, ...), summed pairwise in a fixed tree, then the tail
 *    i >= In - In % LANES in order, then the bias;
 *  - input gradient: din[n][i] += dout[n][o] w[o][i] for o = 0, 1, ... in order.
 * Blocking over rows, outputs and In only chooses which elements are computed together, never
 * the order of one element's sum; threads own disjoint outputs. The lane count is fixed in the
 * source, not taken from the target: lane arithmetic is element-wise IEEE (no contraction under
 * -std=c11), so the bytes do not depend on the vector width either.
 * The weight gradient sums over the batch and is only taken in training, where the batch is
 * the training batch: it stays a GEMM. */
#include "nn/ops.h"
#include "core/common.h"

#include <cblas.h>
#include <stdlib.h>

#define DENSE_LANES 8   /* lane_sum is written for 8 */
#define ROWS 4      /* rows of in per register tile */
#define OUTS 2      /* outputs per register tile */
#define IN_BLOCK 2048   /* floats of In per pass: ROWS x IN_BLOCK of in stays in cache across outputs */

typedef float lanes __attribute__((vector_size(DENSE_LANES * sizeof(float))));   /* never passed by value */
typedef float lanes_u __attribute__((vector_size(DENSE_LANES * sizeof(float)), aligned(4), may_alias));

/* acc[(n * O + o)] += sum over i in [i0, i1) (whole lanes) of in[n][i] w[o][i], for a tile of
 * nr <= ROWS rows and no <= OUTS outputs. Inlined with constant nr, no. */
static inline __attribute__((always_inline)) void dense_tile(float *acc, const float *in, const float *w, int64_t In,
                                                            int64_t O, int64_t n0, int64_t o0, int64_t i0, int64_t i1,
                                                            const int nr, const int no)
{
    lanes a[ROWS][OUTS];
    for (int r = 0; r < nr; r++)
        for (int k = 0; k < no; k++) a[r][k] = *(const lanes_u *)(acc + ((n0 + r) * O + o0 + k) * DENSE_LANES);
    for (int64_t i = i0; i < i1; i += DENSE_LANES) {
        lanes wv[OUTS];
        for (int k = 0; k < no; k++) wv[k] = *(const lanes_u *)(w + (o0 + k) * In + i);
        for (int r = 0; r < nr; r++) {
            lanes xv = *(const lanes_u *)(in + (n0 + r) * In + i);
            for (int k = 0; k < no; k++) a[r][k] += xv * wv[k];
        }
    }
    for (int r = 0; r < nr; r++)
        for (int k = 0; k < no; k++) *(lanes_u *)(acc + ((n0 + r) * O + o0 + k) * DENSE_LANES) = a[r][k];
}

static float lane_sum(const float *v)
{
    /* a fixed pairwise tree: ((0+4)+(2+6)) + ((1+5)+(3+7)) */
    float s[DENSE_LANES / 2];
    for (int l = 0; l < DENSE_LANES / 2; l++) s[l] = v[l] + v[l + DENSE_LANES / 2];
    return (s[0] + s[2]) + (s[1] + s[3]);
}

void nn_dense_forward(float *out, const float *in, const float *w, const float *b, int64_t N, int64_t In, int64_t O)
{
    int64_t Iv = In - In % DENSE_LANES;   /* whole lanes; the rest is the tail */
    float *acc = dfs_calloc((size_t)(N * O * DENSE_LANES), sizeof *acc);
    for (int64_t i0 = 0; i0 < Iv; i0 += IN_BLOCK) {
        int64_t i1 = i0 + IN_BLOCK < Iv ? i0 + IN_BLOCK : Iv;
#pragma omp parallel for schedule(static) if (N * O * (i1 - i0) > 262144)
        for (int64_t o0 = 0; o0 < O; o0 += OUTS) {
            int full_o = o0 + OUTS <= O;
            int64_t n0 = 0;
            for (; n0 + ROWS <= N; n0 += ROWS) {
                if (full_o) dense_tile(acc, in, w, In, O, n0, o0, i0, i1, ROWS, OUTS);
                else dense_tile(acc, in, w, In, O, n0, o0, i0, i1, ROWS, 1);
            }
            for (; n0 < N; n0++) {
                if (full_o) dense_tile(acc, in, w, In, O, n0, o0, i0, i1, 1, OUTS);
                else dense_tile(acc, in, w, In, O, n0, o0, i0, i1, 1, 1);
            }
        }
    }
#pragma omp parallel for schedule(static) if (N * O > 65536)
    for (int64_t e = 0; e < N * O; e++) {
        int64_t n = e / O, o = e % O;
        float s = lane_sum(acc + e * DENSE_LANES);
        for (int64_t i = Iv; i < In; i++) s += in[n * In + i] * w[o * In + i];
        out[e] = b ? s + b[o] : s;
    }
    free(acc);
}

/* din[n][i] += dout[n][o] w[o][i] for o ascending, on a register tile of ROWS rows x 2 lane
 * vectors of columns: the tile is loaded once, takes every o in order, and is stored once.
 * Lanes run over columns (separate elements), so vectorising changes no element's order.
 * Threads own column tiles. */
static inline __attribute__((always_inline)) void din_tile(float *din, const float *dout, const float *w, int64_t In,
                                                          int64_t O, int64_t n0, int64_t c0, const int nr)
{
    lanes a[ROWS][2];
    for (int r = 0; r < nr; r++)
        for (int v = 0; v < 2; v++) a[r][v] = *(const lanes_u *)(din + (n0 + r) * In + c0 + v * DENSE_LANES);
    for (int64_t o = 0; o < O; o++) {
        lanes w0 = *(const lanes_u *)(w + o * In + c0), w1 = *(const lanes_u *)(w + o * In + c0 + DENSE_LANES);
        for (int r = 0; r < nr; r++) {
            float g = dout[(n0 + r) * O + o];
            a[r][0] += g * w0;
            a[r][1] += g * w1;
        }
    }
    for (int r = 0; r < nr; r++)
        for (int v = 0; v < 2; v++) *(lanes_u *)(din + (n0 + r) * In + c0 + v * DENSE_LANES) = a[r][v];
}

static void dense_backward_data(float *din, const float *dout, const float *w, int64_t N, int64_t In, int64_t O)
{
    const int64_t T = 2 * DENSE_LANES, Iv = In - In % T;
#pragma omp parallel for schedule(static) if (N * O * In > 262144)
    for (int64_t c0 = 0; c0 < Iv; c0 += T) {
        int64_t n0 = 0;
        for (; n0 + ROWS <= N; n0 += ROWS) din_tile(din, dout, w, In, O, n0, c0, ROWS);
        for (; n0 < N; n0++) din_tile(din, dout, w, In, O, n0, c0, 1);
    }
    for (int64_t n = 0; n < N; n++)   /* the last In % T columns, in the same order */
        for (int64_t i = Iv; i < In; i++) {
            float s = din[n * In + i];
            for (int64_t o = 0; o < O; o++) s += dout[n * O + o] * w[o * In + i];
            din[n * In + i] = s;
        }
}

void nn_dense_backward(float *din, float *dw, float *db, const float *dout, const float *in, const float *w,
                       int64_t N, int64_t In, int64_t O)
{
    if (din) dense_backward_data(din, dout, w, N, In, O);
    if (dw)    /* dw (O,In) += dout^T (O,N) in (N,In) */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)O, (int)In, (int)N, 1.0f, dout, (int)O, in, (int)In,
                    1.0f, dw, (int)In);
    if (db) {
#pragma omp parallel for schedule(static) if (N * O > 65536)
        for (int64_t o = 0; o < O; o++) {
            double acc = 0;
            for (int64_t n = 0; n < N; n++) acc += dout[n * O + o];
            db[o] += (float)acc;
        }
    }
}
