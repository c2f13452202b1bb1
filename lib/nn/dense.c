/* dense.c: fully connected layer, out (N,O) = in (N,In) w^T + b, through cblas_sgemm. */
#include "nn/ops.h"

#include <cblas.h>

void nn_dense_forward(float *out, const float *in, const float *w, const float *b, int64_t N, int64_t In, int64_t O)
{
    float beta = 0.0f;
    if (b) {
        for (int64_t n = 0; n < N; n++)
            for (int64_t o = 0; o < O; o++) out[n * O + o] = b[o];
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)N, (int)O, (int)In, 1.0f, in, (int)In, w, (int)In, beta,
                out, (int)O);
}

void nn_dense_backward(float *din, float *dw, float *db, const float *dout, const float *in, const float *w,
                       int64_t N, int64_t In, int64_t O)
{
    if (din)   /* din (N,In) += dout (N,O) w (O,In) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)N, (int)In, (int)O, 1.0f, dout, (int)O, w, (int)In,
                    1.0f, din, (int)In);
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
