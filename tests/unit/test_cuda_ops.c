/* Unit tests of the CUDA backend (lib/nn/cuda/): every op entry of its table, forward and
 * backward, against the cpu table on the same random data (upload, call, download), on shapes
 * chosen to reach every path (odd sizes, N = 1 and 3, stride 1 and 2, asymmetric 'same' and
 * explicit padding, dilation 2, groups 1 / 2 / depthwise, kernels 1, 3, 5, chunked im2col);
 * backward gradients are pre-filled with random values, so accumulation (+=) is checked too;
 * then the memory entries and an error path.
 *
 * Tolerances, |cuda - cpu| <= atol + rtol |cpu|:
 *  - element-wise ops: rtol 1e-6, atol 1e-6 (the GPU fuses multiply-adds, the cpu build does
 *    not; exp differs by an ulp or two);
 *  - GEMM and reductions over L terms of size ~1: rtol 1e-4, atol 2e-6 sqrt(L) + 1e-6;
 *  - pooling, concat, dropout, argmax: the same values (the kernels sum in the cpu's order);
 *  - the analysis ops: Grad-CAM's map, channel ranges and interventions bit for bit (the kernels
 *    keep the cpu's order and round the double multiply and add separately); sums of P(fake) within
 *    a float ulp per term (the device's double exp).
 *
 * Without a usable CUDA device every test is reported as skipped, with the reason. Environment:
 * DFS_REQUIRE_CUDA=1 turns that skip into a failure (for GPU machines, so a broken plugin is not
 * mistaken for a missing GPU); DFS_TEST_CUDA_SELF=1 tests the cpu table against itself, which
 * checks this harness on a machine without a GPU.
 *
 * Convolutions have two GPU paths: cuDNN when the plugin found it (its device line says
 * "conv cuDNN ..."), else im2col + cuBLAS. test_conv checks the path this process runs; when that
 * is cuDNN, test_conv_im2col reruns test_conv in a child process with DFS_CUDNN=0 (the plugin
 * picks its path once, at start), and when it is not, test_conv_cudnn is skipped with the
 * reason, or fails under DFS_REQUIRE_CUDNN=1 (for machines that have cuDNN).
 * DFS_TEST_CUDA_CONV_ONLY=1 runs test_conv alone (the child's mode). */
#include "check.h"
#include "core/common.h"
#include "nn/backend.h"
#include "nn/ops.h"
#include "core/rng.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const nn_backend *CPU, *DEV;
static dfs_rng RNG;

/* ---- allocations, released at the end of each test ---- */

#define MAX_ALLOCS 512
static void *dev_allocs[MAX_ALLOCS], *host_allocs[MAX_ALLOCS];
static size_t dev_sizes[MAX_ALLOCS];
static int ndev, nhost;

/* Every device buffer is followed by a guard zone of known bytes, checked when the test
 * releases it: a kernel writing past the end of an output (or of a scratch that conv_scratch
 * sized too small) is caught even where the write would not fault. */
#define GUARD 1024
static unsigned char guard_bytes[GUARD];

static void *hmem(size_t bytes)
{
    void *p = calloc(1, bytes ? bytes : 1);
    if (!p || nhost == MAX_ALLOCS) {
        fprintf(stderr, "test_cuda_ops: out of memory\n");
        exit(2);
    }
    return host_allocs[nhost++] = p;
}

static void *dmem(size_t bytes)
{
    unsigned char *p = DEV->alloc(bytes + GUARD);
    if (!p || ndev == MAX_ALLOCS) {
        fprintf(stderr, "test_cuda_ops: device alloc of %zu bytes: %s\n", bytes, DEV->last_error());
        exit(2);
    }
    if (!guard_bytes[0])
        for (int i = 0; i < GUARD; i++) guard_bytes[i] = (unsigned char)(0xA5 ^ (i * 29));
    CHECK(DEV->upload(p + bytes, guard_bytes, GUARD) == 0, "upload: %s", DEV->last_error());
    dev_sizes[ndev] = bytes;
    return dev_allocs[ndev++] = p;
}

static void release_all(void)
{
    CHECK(DEV->sync() == 0, "sync: %s", DEV->last_error());
    unsigned char back[GUARD];
    while (ndev) {
        ndev--;
        unsigned char *p = dev_allocs[ndev];
        CHECK(DEV->download(back, p + dev_sizes[ndev], GUARD) == 0, "download: %s", DEV->last_error());
        CHECK(!memcmp(back, guard_bytes, GUARD), "something wrote past the end of a %zu-byte device buffer",
              dev_sizes[ndev]);
        DEV->free(p);
    }
    while (nhost) free(host_allocs[--nhost]);
}

/* a device copy of n host floats (NULL for NULL) */
static float *up(const float *h, int64_t n)
{
    if (!h) return NULL;
    float *d = dmem((size_t)n * sizeof(float));
    CHECK(DEV->upload(d, h, (size_t)n * sizeof(float)) == 0, "upload: %s", DEV->last_error());
    return d;
}

static void *up_bytes(const void *h, size_t bytes)
{
    void *d = dmem(bytes);
    CHECK(DEV->upload(d, h, bytes) == 0, "upload: %s", DEV->last_error());
    return d;
}

/* a host copy of n device floats */
static float *down(const float *d, int64_t n)
{
    float *h = hmem((size_t)n * sizeof(float));
    CHECK(DEV->download(h, d, (size_t)n * sizeof(float)) == 0, "download: %s", DEV->last_error());
    return h;
}

static float *rnd(int64_t n, double lo, double hi)
{
    float *x = hmem((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) x[i] = (float)dfs_rng_range(&RNG, lo, hi);
    return x;
}

static float *dup(const float *x, int64_t n)
{
    if (!x) return NULL;
    float *y = hmem((size_t)n * sizeof(float));
    memcpy(y, x, (size_t)n * sizeof(float));
    return y;
}

/* Compare the device result with the cpu's: every value, the first few mismatches printed. */
static void same(const char *what, const float *got, const float *ref, int64_t n, double atol, double rtol)
{
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - ref[i]);
        if (!(d <= atol + rtol * fabs((double)ref[i]))) {
            if (bad < 3) printf("#   %s[%lld]: cuda %.9g, cpu %.9g\n", what, (long long)i, got[i], ref[i]);
            bad++;
        }
    }
    CHECK(bad == 0, "%s: %lld of %lld values differ (atol %g, rtol %g)", what, (long long)bad, (long long)n, atol,
          rtol);
}

/* download a device result and compare it */
static void same_dev(const char *what, const float *dev, const float *ref, int64_t n, double atol, double rtol)
{
    same(what, down(dev, n), ref, n, atol, rtol);
}

#define EW_ATOL 1e-6
#define EW_RTOL 1e-6
static double red_atol(int64_t L) { return 2e-6 * sqrt((double)L) + 1e-6; }
#define RED_RTOL 1e-4

/* ---- convolution ---- */

typedef struct conv_case {
    const char *name;
    int64_t N, C, H, W, K, R, S, stride, dil, groups;
    int pad;   /* 0: valid, 1: Keras 'same', 2: the explicit pads below */
    int64_t pt, pl, pb, pr;
} conv_case;

static const conv_case CONVS[] = {
    {"3x3 s1 same", 3, 5, 11, 9, 7, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0},
    {"3x3 s2 same (asymmetric)", 1, 4, 13, 10, 6, 3, 3, 2, 1, 1, 1, 0, 0, 0, 0},
    {"3x3 dilation 2 same", 3, 3, 12, 11, 4, 3, 3, 1, 2, 1, 1, 0, 0, 0, 0},
    {"5x5 groups 2 valid", 3, 6, 9, 10, 4, 5, 5, 1, 1, 2, 0, 0, 0, 0, 0},
    {"5x5 s2 explicit pads 2,1,0,3", 3, 2, 14, 11, 3, 5, 5, 2, 1, 1, 2, 2, 1, 0, 3},
    {"3x3 s2 groups 2 same", 3, 4, 8, 7, 6, 3, 3, 2, 1, 2, 1, 0, 0, 0, 0},
    {"3x3 s2 valid stem", 3, 3, 17, 15, 8, 3, 3, 2, 1, 1, 0, 0, 0, 0, 0},
    {"1x3 same", 3, 3, 7, 6, 5, 1, 3, 1, 1, 1, 1, 0, 0, 0, 0},
    {"1x1 padded", 1, 3, 4, 5, 2, 1, 1, 1, 1, 1, 2, 1, 1, 1, 1},
    {"1x1 pointwise", 3, 16, 7, 5, 24, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0},
    {"1x1 pointwise groups 4", 3, 8, 6, 6, 12, 1, 1, 1, 1, 4, 0, 0, 0, 0, 0},
    {"1x1 pointwise N=1", 1, 5, 3, 9, 7, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0},
    {"1x1 pointwise 2+1 images per chunk", 3, 16, 13, 11, 24, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0},
    {"1x1 s2", 3, 8, 9, 9, 12, 1, 1, 2, 1, 1, 0, 0, 0, 0, 0},
    {"depthwise 3x3 s1 same", 3, 8, 10, 9, 8, 3, 3, 1, 1, 8, 1, 0, 0, 0, 0},
    {"depthwise 5x5 s2 same", 1, 5, 12, 13, 5, 5, 5, 2, 1, 5, 1, 0, 0, 0, 0},
    {"depthwise x2 3x3 dilation 2 same", 3, 4, 9, 11, 8, 3, 3, 1, 2, 4, 1, 0, 0, 0, 0},
    {"depthwise 3x3 s2 valid", 3, 6, 9, 8, 6, 3, 3, 2, 1, 6, 0, 0, 0, 0, 0},
    {"3x3 32->64 same (one image per chunk)", 3, 32, 17, 17, 64, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0},
    /* a layer of model size, where cuDNN picks among all its algorithms (Winograd, FFT, ...) */
    {"3x3 64->64 same 32x32", 2, 64, 32, 32, 64, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0},
    {"depthwise 3x3 64 same 32x32", 2, 64, 32, 32, 64, 3, 3, 1, 1, 64, 1, 0, 0, 0, 0},
    /* few channels of many values: the weight gradient splits its (image, position) pairs over
     * several blocks per channel (16 x 32 x 32 pairs over 8 channels) */
    {"depthwise 3x3 8 same 32x32 N=16", 16, 8, 32, 32, 8, 3, 3, 1, 1, 8, 1, 0, 0, 0, 0},
    {"depthwise 3x3 explicit pads 2,1,0,3", 2, 4, 11, 10, 4, 3, 3, 1, 1, 4, 2, 2, 1, 0, 3},
    {"depthwise x3 5x5 s2 dilation 2 explicit pads 4,3,5,1", 2, 3, 17, 15, 9, 5, 5, 2, 2, 3, 2, 4, 3, 5, 1},
};

static int conv_setup(const conv_case *k, nn_conv *c)
{
    memset(c, 0, sizeof *c);
    c->N = k->N, c->C = k->C, c->H = k->H, c->W = k->W, c->K = k->K, c->R = k->R, c->S = k->S;
    c->stride_h = c->stride_w = k->stride;
    c->dil_h = c->dil_w = k->dil;
    c->groups = k->groups;
    if (k->pad == 1) {
        nn_pad_same(k->H, k->R, k->stride, k->dil, &c->pad_t, &c->pad_b);
        nn_pad_same(k->W, k->S, k->stride, k->dil, &c->pad_l, &c->pad_r);
    } else if (k->pad == 2) {
        c->pad_t = k->pt, c->pad_l = k->pl, c->pad_b = k->pb, c->pad_r = k->pr;
    }
    return nn_conv_init(c);
}

/* one backward call on both backends with the given gradients present, compared */
static void conv_backward_case(const char *name, const nn_conv *c, const float *x, const float *w, const float *dy,
                               const float *dx_w, const float *dw_w, const float *db_w, int want_din, int want_dw,
                               int want_db, float *cs, float *ds_)
{
    int64_t nin = c->N * c->C * c->H * c->W, nw = c->K * (c->C / c->groups) * c->R * c->S,
            nout = c->N * c->K * c->P * c->Q;
    float *dx = want_din ? dup(dx_w, nin) : NULL, *dw = want_dw ? dup(dw_w, nw) : NULL,
          *db = want_db ? dup(db_w, c->K) : NULL;
    float *gdx = up(dx, nin), *gdw = up(dw, nw), *gdb = up(db, c->K);
    CPU->conv2d_backward(dx, dw, db, dy, x, w, c, cs);
    DEV->conv2d_backward(gdx, gdw, gdb, up(dy, nout), up(x, nin), up(w, nw), c, ds_);
    char what[160];
    int64_t PQN = c->N * c->P * c->Q;
    if (dx) {
        snprintf(what, sizeof what, "%s din (din%s dw%s db%s)", name, "+", want_dw ? "+" : "-", want_db ? "+" : "-");
        same_dev(what, gdx, dx, nin, red_atol(c->K / c->groups * c->R * c->S), RED_RTOL);
    }
    if (dw) {
        snprintf(what, sizeof what, "%s dw (din%s dw+ db%s)", name, want_din ? "+" : "-", want_db ? "+" : "-");
        same_dev(what, gdw, dw, nw, red_atol(PQN), RED_RTOL);
    }
    if (db) {
        snprintf(what, sizeof what, "%s db (din%s dw%s db+)", name, want_din ? "+" : "-", want_dw ? "+" : "-");
        same_dev(what, gdb, db, c->K, red_atol(PQN), RED_RTOL);
    }
}

static void test_conv(void)
{
    for (size_t t = 0; t < sizeof CONVS / sizeof CONVS[0]; t++) {
        const conv_case *k = &CONVS[t];
        nn_conv c;
        if (conv_setup(k, &c) != 0) {
            CHECK(0, "%s: nn_conv_init: %s", k->name, dfs_error());
            continue;
        }
        int64_t nin = c.N * c.C * c.H * c.W, nw = c.K * (c.C / c.groups) * c.R * c.S, nout = c.N * c.K * c.P * c.Q;
        float *x = rnd(nin, -1, 1), *w = rnd(nw, -1, 1), *b = rnd(c.K, -1, 1), *dy = rnd(nout, -1, 1);
        size_t cpu_scratch = nn_conv_scratch(&c), dev_scratch = DEV->conv_scratch(&c);
        printf("# conv %s: %lldx%lld -> %lldx%lld, cuda scratch %zu floats\n", k->name, (long long)c.H, (long long)c.W,
               (long long)c.P, (long long)c.Q, dev_scratch);
        float *cs = hmem(cpu_scratch * sizeof(float));
        float *ds_ = dev_scratch ? dmem(dev_scratch * sizeof(float)) : NULL;
        float *gx = up(x, nin), *gw = up(w, nw), *gb = up(b, c.K), *gy = dmem((size_t)nout * sizeof(float));
        for (int with_bias = 0; with_bias < 2; with_bias++) {
            float *y = hmem((size_t)nout * sizeof(float));
            CPU->conv2d_forward(y, x, w, with_bias ? b : NULL, &c, cs);
            DEV->conv2d_forward(gy, gx, gw, with_bias ? gb : NULL, &c, ds_);
            char what[160];
            snprintf(what, sizeof what, "%s forward%s", k->name, with_bias ? " + bias" : "");
            same_dev(what, gy, y, nout, red_atol(c.C / c.groups * c.R * c.S), RED_RTOL);
        }
        float *dx0 = rnd(nin, -1, 1), *dw0 = rnd(nw, -1, 1), *db0 = rnd(c.K, -1, 1);
        conv_backward_case(k->name, &c, x, w, dy, dx0, dw0, db0, 1, 1, 1, cs, ds_);
        conv_backward_case(k->name, &c, x, w, dy, dx0, dw0, db0, 1, 0, 0, cs, ds_);
        conv_backward_case(k->name, &c, x, w, dy, dx0, dw0, db0, 0, 1, 1, cs, ds_);
        conv_backward_case(k->name, &c, x, w, dy, dx0, dw0, db0, 0, 1, 0, cs, ds_);
        release_all();
    }
}

/* ---- dense ---- */

static void test_dense(void)
{
    static const int64_t shapes[][4] = {{3, 37, 5, 1}, {1, 8, 1, 0}, {5, 300, 70, 1}, {32, 64, 2, 1}};
    for (size_t t = 0; t < sizeof shapes / sizeof shapes[0]; t++) {
        int64_t N = shapes[t][0], In = shapes[t][1], O = shapes[t][2];
        int bias = (int)shapes[t][3];
        float *x = rnd(N * In, -1, 1), *w = rnd(O * In, -1, 1), *b = bias ? rnd(O, -1, 1) : NULL;
        float *dy = rnd(N * O, -1, 1);
        float *y = hmem((size_t)(N * O) * sizeof(float)), *gy = dmem((size_t)(N * O) * sizeof(float));
        float *gx = up(x, N * In), *gw = up(w, O * In), *gdy = up(dy, N * O);
        CPU->dense_forward(y, x, w, b, N, In, O);
        DEV->dense_forward(gy, gx, gw, up(b, O), N, In, O);
        char what[96];
        snprintf(what, sizeof what, "dense %lldx%lld->%lld forward", (long long)N, (long long)In, (long long)O);
        same_dev(what, gy, y, N * O, red_atol(In), RED_RTOL);
        for (int variant = 0; variant < 3; variant++) {
            /* 0: all gradients; 1: din only; 2: dw and db */
            float *dx = variant != 2 ? rnd(N * In, -1, 1) : NULL, *dw = variant != 1 ? rnd(O * In, -1, 1) : NULL;
            float *db = variant != 1 ? rnd(O, -1, 1) : NULL;
            float *gdx = up(dx, N * In), *gdw = up(dw, O * In), *gdb = up(db, O);
            CPU->dense_backward(dx, dw, db, dy, x, w, N, In, O);
            DEV->dense_backward(gdx, gdw, gdb, gdy, gx, gw, N, In, O);
            snprintf(what, sizeof what, "dense %lldx%lld->%lld backward variant %d", (long long)N, (long long)In,
                     (long long)O, variant);
            if (dx) same_dev(what, gdx, dx, N * In, red_atol(O), RED_RTOL);
            if (dw) same_dev(what, gdw, dw, O * In, red_atol(N), RED_RTOL);
            if (db) same_dev(what, gdb, db, O, red_atol(N), RED_RTOL);
        }
        release_all();
    }
}

/* ---- batch normalisation ---- */

typedef struct bn_case {
    int64_t N, C, HW;
    int unbiased, affine, save, running;
} bn_case;

static const bn_case BNS[] = {
    {3, 4, 35, 1, 1, 1, 1},  {3, 7, 1, 0, 1, 1, 1},  {1, 3, 1, 1, 1, 1, 1},   {3, 2, 5000, 1, 1, 1, 1},
    {2, 3, 4099, 0, 0, 1, 1}, {3, 5, 16, 1, 0, 0, 1}, {3, 5, 16, 1, 1, 1, 0}, {32, 64, 9, 1, 1, 1, 1},
};

/* y = x scale + shift cancels where the variance is tiny (one value per channel: scale 31.6, x
 * about 5), and a large invstd scales the input gradient's rounding: fused and unfused
 * multiply-adds then differ by ~1e-5 */
#define BN_ATOL 4e-5

static void test_batchnorm(void)
{
    const float momentum = 0.99f, eps = 1e-3f;
    for (size_t t = 0; t < sizeof BNS / sizeof BNS[0]; t++) {
        const bn_case *k = &BNS[t];
        int64_t N = k->N, C = k->C, HW = k->HW, n = N * C * HW;
        char what[128];
#define BN_WHAT(s) (snprintf(what, sizeof what, "batchnorm N=%lld C=%lld HW=%lld: %s", (long long)N, (long long)C, \
                             (long long)HW, s), what)
        float *x = rnd(n, 3, 7);   /* an offset mean: the shifted sums must handle it */
        float *gamma = k->affine ? rnd(C, 0.5, 1.5) : NULL, *beta = k->affine ? rnd(C, -1, 1) : NULL;
        float *rm = rnd(C, -1, 1), *rv = rnd(C, 0.5, 2);
        float *grm = up(rm, C), *grv = up(rv, C);
        float *y = hmem((size_t)n * sizeof(float)), *mean = hmem((size_t)C * sizeof(float));
        float *invstd = hmem((size_t)C * sizeof(float));
        float *gy = dmem((size_t)n * sizeof(float)), *gmean = dmem((size_t)C * sizeof(float));
        float *ginv = dmem((size_t)C * sizeof(float));
        float *gx = up(x, n), *ggamma = up(gamma, C), *gbeta = up(beta, C);
        /* training forward */
        float *crm = dup(rm, C), *crv = dup(rv, C);
        CPU->batchnorm_forward_train_ex(y, k->save ? mean : NULL, k->save ? invstd : NULL, x, gamma, beta,
                                        k->running ? crm : NULL, k->running ? crv : NULL, momentum, eps, k->unbiased,
                                        N, C, HW);
        DEV->batchnorm_forward_train_ex(gy, k->save ? gmean : NULL, k->save ? ginv : NULL, gx, ggamma, gbeta,
                                        k->running ? grm : NULL, k->running ? grv : NULL, momentum, eps, k->unbiased,
                                        N, C, HW);
        same_dev(BN_WHAT("train forward"), gy, y, n, BN_ATOL, 1e-5);
        if (k->save) {
            same_dev(BN_WHAT("save_mean"), gmean, mean, C, 1e-6, 1e-6);
            same_dev(BN_WHAT("save_invstd"), ginv, invstd, C, 1e-6, 1e-6);
        }
        /* unchanged when NULL was passed */
        same_dev(BN_WHAT("running_mean"), grm, crm, C, 1e-6, 1e-6);
        same_dev(BN_WHAT("running_var"), grv, crv, C, 1e-6, 1e-6);
        if (!k->save) {   /* backward needs them: the cpu's */
            CPU->batchnorm_forward_train_ex(y, mean, invstd, x, gamma, beta, NULL, NULL, momentum, eps, 1, N, C, HW);
        }
        CHECK(DEV->upload(gmean, mean, (size_t)C * sizeof(float)) == 0, "upload");
        CHECK(DEV->upload(ginv, invstd, (size_t)C * sizeof(float)) == 0, "upload");
        /* training backward: all gradients, then din alone, then the parameter gradients alone */
        float *dy = rnd(n, -1, 1), *gdy = up(dy, n);
        float *dx0 = rnd(n, -1, 1), *dg0 = rnd(C, -1, 1), *dbt0 = rnd(C, -1, 1);
        for (int variant = 0; variant < 3; variant++) {
            float *dx = variant != 2 ? dup(dx0, n) : NULL;
            float *dg = variant != 1 ? dup(dg0, C) : NULL, *dbt = variant != 1 ? dup(dbt0, C) : NULL;
            float *gdx = up(dx, n), *gdg = up(dg, C), *gdbt = up(dbt, C);
            CPU->batchnorm_backward_train(dx, dg, dbt, dy, x, gamma, mean, invstd, N, C, HW);
            DEV->batchnorm_backward_train(gdx, gdg, gdbt, gdy, gx, ggamma, gmean, ginv, N, C, HW);
            if (dx) same_dev(BN_WHAT("train backward din"), gdx, dx, n, BN_ATOL, 1e-5);
            if (dg) same_dev(BN_WHAT("train backward dgamma"), gdg, dg, C, red_atol(N * HW), RED_RTOL);
            if (dbt) same_dev(BN_WHAT("train backward dbeta"), gdbt, dbt, C, red_atol(N * HW), RED_RTOL);
        }
        /* inference forward and backward on the (cpu-updated) running statistics */
        CHECK(DEV->upload(grm, crm, (size_t)C * sizeof(float)) == 0, "upload");
        CHECK(DEV->upload(grv, crv, (size_t)C * sizeof(float)) == 0, "upload");
        CPU->batchnorm_forward_eval(y, x, gamma, beta, crm, crv, eps, N, C, HW);
        DEV->batchnorm_forward_eval(gy, gx, ggamma, gbeta, grm, grv, eps, N, C, HW);
        same_dev(BN_WHAT("eval forward"), gy, y, n, BN_ATOL, 1e-5);
        for (int variant = 0; variant < 3; variant++) {
            float *dx = variant != 2 ? dup(dx0, n) : NULL;
            float *dg = variant != 1 ? dup(dg0, C) : NULL, *dbt = variant != 1 ? dup(dbt0, C) : NULL;
            float *gdx = up(dx, n), *gdg = up(dg, C), *gdbt = up(dbt, C);
            CPU->batchnorm_backward_eval(dx, dg, dbt, dy, x, gamma, crm, crv, eps, N, C, HW);
            DEV->batchnorm_backward_eval(gdx, gdg, gdbt, gdy, gx, ggamma, grm, grv, eps, N, C, HW);
            if (dx) same_dev(BN_WHAT("eval backward din"), gdx, dx, n, 1e-6, 1e-6);
            if (dg) same_dev(BN_WHAT("eval backward dgamma"), gdg, dg, C, red_atol(N * HW), RED_RTOL);
            if (dbt) same_dev(BN_WHAT("eval backward dbeta"), gdbt, dbt, C, red_atol(N * HW), RED_RTOL);
        }
#undef BN_WHAT
        release_all();
    }
}

/* ---- batchnorm fused with its activation (backend.h batchnorm_act_forward) ----
 * Against the cpu's unfused pair: the activation's output, the batchnorm's output (pre) when
 * asked for, the saved statistics and the running statistics, in training and eval mode, for
 * each activation the graph fuses; the tolerances of the batchnorm's own comparison (the
 * activations are 1-Lipschitz up to swish's 1.1). */
static void test_batchnorm_act(void)
{
    const float momentum = 0.99f, eps = 1e-3f;
    static const int acts[3] = {NN_ACT_RELU, NN_ACT_LEAKY_RELU, NN_ACT_SWISH};
    static const char *const names[3] = {"relu", "leaky_relu", "swish"};
    for (size_t t = 0; t < sizeof BNS / sizeof BNS[0]; t++) {
        const bn_case *k = &BNS[t];
        int64_t N = k->N, C = k->C, HW = k->HW, n = N * C * HW;
        /* centred near zero after normalisation, so every activation's both sides are used */
        float *x = rnd(n, 3, 7), *gx = up(x, n);
        float *gamma = k->affine ? rnd(C, 0.5, 1.5) : NULL, *beta = k->affine ? rnd(C, -1, 1) : NULL;
        float *ggamma = up(gamma, C), *gbeta = up(beta, C);
        float *rm = rnd(C, 3, 7), *rv = rnd(C, 0.5, 2);
        for (int a = 0; a < 3; a++) {
            for (int train = 0; train < 2; train++) {
                for (int with_pre = 0; with_pre < 2; with_pre++) {
                    char what[160];
                    nn_bn_act f = {.train = train, .act = acts[a], .alpha = 0.1f, .momentum = momentum, .eps = eps,
                                   .unbiased_running_var = k->unbiased};
                    float *crm = dup(rm, C), *crv = dup(rv, C), *grm = up(rm, C), *grv = up(rv, C);
                    float *y = hmem((size_t)n * sizeof(float)), *z = hmem((size_t)n * sizeof(float));
                    float *mean = hmem((size_t)C * sizeof(float)), *invstd = hmem((size_t)C * sizeof(float));
                    float *gz = dmem((size_t)n * sizeof(float)), *gy = with_pre ? dmem((size_t)n * sizeof(float)) : NULL;
                    float *gmean = dmem((size_t)C * sizeof(float)), *ginv = dmem((size_t)C * sizeof(float));
                    float *rmp = k->running ? crm : NULL, *rvp = k->running ? crv : NULL;
                    if (train)
                        CPU->batchnorm_forward_train_ex(y, mean, invstd, x, gamma, beta, rmp, rvp, momentum, eps,
                                                        k->unbiased, N, C, HW);
                    else
                        CPU->batchnorm_forward_eval(y, x, gamma, beta, crm, crv, eps, N, C, HW);
                    if (acts[a] == NN_ACT_RELU) CPU->relu_forward(z, y, n);
                    else if (acts[a] == NN_ACT_LEAKY_RELU) CPU->leaky_relu_forward(z, y, f.alpha, n);
                    else CPU->swish_forward(z, y, n);
                    DEV->batchnorm_act_forward(gz, gy, train ? gmean : NULL, train ? ginv : NULL, gx, ggamma, gbeta,
                                               train && !k->running ? NULL : grm, train && !k->running ? NULL : grv,
                                               &f, N, C, HW);
#define BA_WHAT(s) (snprintf(what, sizeof what, "batchnorm_act %s %s%s N=%lld C=%lld HW=%lld: %s", \
                             names[a], train ? "train" : "eval", with_pre ? " +pre" : "", \
                             (long long)N, (long long)C, (long long)HW, s), what)
                    same_dev(BA_WHAT("activation"), gz, z, n, 1.1 * BN_ATOL, 1e-5);
                    if (with_pre) same_dev(BA_WHAT("batchnorm output"), gy, y, n, BN_ATOL, 1e-5);
                    if (train) {
                        same_dev(BA_WHAT("save_mean"), gmean, mean, C, 1e-6, 1e-6);
                        same_dev(BA_WHAT("save_invstd"), ginv, invstd, C, 1e-6, 1e-6);
                    }
                    same_dev(BA_WHAT("running_mean"), grm, crm, C, 1e-6, 1e-6);
                    same_dev(BA_WHAT("running_var"), grv, crv, C, 1e-6, 1e-6);
#undef BA_WHAT
                }
            }
        }
        release_all();
    }
}

/* ---- element-wise activations ---- */

/* inputs in [-6, 6] with some exact zeros (the ReLU boundary) */
static float *act_input(int64_t n)
{
    float *x = rnd(n, -6, 6);
    for (int64_t i = 0; i < n; i += 97) x[i] = 0.0f;
    return x;
}

typedef enum { RELU, GUIDED, LEAKY, SWISH, SIGMOID } act_kind;
static const char *const ACT_NAMES[] = {"relu", "guided_relu", "leaky_relu", "swish", "sigmoid"};

static void act_forward(const nn_backend *b, act_kind k, float *out, const float *in, int64_t n)
{
    switch (k) {
    case RELU: case GUIDED: b->relu_forward(out, in, n); break;
    case LEAKY: b->leaky_relu_forward(out, in, 0.2f, n); break;
    case SWISH: b->swish_forward(out, in, n); break;
    case SIGMOID: b->sigmoid_forward(out, in, n); break;
    }
}

/* backward from the forward input (sigmoid: from its output) */
static void act_backward(const nn_backend *b, act_kind k, float *din, const float *dout, const float *in,
                         const float *out, int64_t n)
{
    switch (k) {
    case RELU: b->relu_backward(din, dout, in, n); break;
    case GUIDED: b->guided_relu_backward(din, dout, in, n); break;
    case LEAKY: b->leaky_relu_backward(din, dout, in, 0.2f, n); break;
    case SWISH: b->swish_backward(din, dout, in, n); break;
    case SIGMOID: b->sigmoid_backward(din, dout, out, n); break;
    }
}

static void test_activations(void)
{
    static const int64_t sizes[] = {1237, 1, 1500001};   /* the last is past one grid's reach */
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int64_t n = sizes[s];
        float *x = act_input(n), *dy = rnd(n, -1, 1), *dx0 = rnd(n, -1, 1);
        float *gx = up(x, n), *gdy = up(dy, n), *gy = dmem((size_t)n * sizeof(float));
        for (int k = RELU; k <= SIGMOID; k++) {
            char what[80];
            float *y = hmem((size_t)n * sizeof(float));
            act_forward(CPU, (act_kind)k, y, x, n);
            act_forward(DEV, (act_kind)k, gy, gx, n);
            snprintf(what, sizeof what, "%s forward (n=%lld)", ACT_NAMES[k], (long long)n);
            same_dev(what, gy, y, n, EW_ATOL, EW_RTOL);
            float *dx = dup(dx0, n), *gdx = up(dx, n);
            act_backward(CPU, (act_kind)k, dx, dy, x, y, n);
            act_backward(DEV, (act_kind)k, gdx, gdy, gx, gy, n);
            snprintf(what, sizeof what, "%s backward (n=%lld)", ACT_NAMES[k], (long long)n);
            same_dev(what, gdx, dx, n, EW_ATOL, EW_RTOL);
            /* a NULL input gradient is skipped (nothing to compare: it must not crash) */
            act_backward(DEV, (act_kind)k, NULL, gdy, gx, gy, n);
        }
        release_all();
    }
}

static void test_softmax(void)
{
    static const int64_t shapes[][2] = {{3, 2}, {5, 37}, {1, 1000}, {70, 3}, {2, 1}};
    for (size_t t = 0; t < sizeof shapes / sizeof shapes[0]; t++) {
        int64_t N = shapes[t][0], K = shapes[t][1], n = N * K;
        float *x = rnd(n, -10, 10), *dy = rnd(n, -1, 1), *dx = rnd(n, -1, 1), *y = hmem((size_t)n * sizeof(float));
        float *gy = dmem((size_t)n * sizeof(float)), *gdx = up(dx, n);
        CPU->softmax_forward(y, x, N, K);
        DEV->softmax_forward(gy, up(x, n), N, K);
        char what[64];
        snprintf(what, sizeof what, "softmax %lldx%lld forward", (long long)N, (long long)K);
        same_dev(what, gy, y, n, EW_ATOL, 1e-5);
        CHECK(DEV->upload(gy, y, (size_t)n * sizeof(float)) == 0, "upload");   /* backward from the same y */
        CPU->softmax_backward(dx, dy, y, N, K);
        DEV->softmax_backward(gdx, up(dy, n), gy, N, K);
        snprintf(what, sizeof what, "softmax %lldx%lld backward", (long long)N, (long long)K);
        same_dev(what, gdx, dx, n, EW_ATOL, 1e-5);
        release_all();
    }
}

/* ---- pooling ---- */

typedef struct pool_case {
    const char *name;
    int64_t N, C, H, W, kh, kw, stride;
    int pad;   /* 0 valid, 1 'same', 2: bottom/right 1 */
} pool_case;

static const pool_case POOLS[] = {
    {"2x2 s2 (tiled)", 3, 2, 10, 12, 2, 2, 2, 0},     {"3x3 s2 same (asymmetric)", 3, 3, 12, 13, 3, 3, 2, 1},
    {"3x3 s1 same", 1, 2, 7, 9, 3, 3, 1, 1},          {"4x4 s4 (tiled, a row left over)", 3, 2, 17, 16, 4, 4, 4, 0},
    {"3x3 s2 valid", 3, 2, 9, 9, 3, 3, 2, 0},         {"2x2 s1 pad bottom/right", 3, 2, 6, 5, 2, 2, 1, 2},
    {"2x3 s2 same", 3, 2, 7, 8, 2, 3, 2, 1},
};

static int pool_setup(const pool_case *k, nn_pool *p)
{
    memset(p, 0, sizeof *p);
    p->N = k->N, p->C = k->C, p->H = k->H, p->W = k->W, p->kh = k->kh, p->kw = k->kw;
    p->stride_h = p->stride_w = k->stride;
    if (k->pad == 1) {
        nn_pad_same(k->H, k->kh, k->stride, 1, &p->pad_t, &p->pad_b);
        nn_pad_same(k->W, k->kw, k->stride, 1, &p->pad_l, &p->pad_r);
    } else if (k->pad == 2) {
        p->pad_b = p->pad_r = 1;
    }
    return nn_pool_init(p);
}

static void test_pool(void)
{
    for (size_t t = 0; t < sizeof POOLS / sizeof POOLS[0]; t++) {
        const pool_case *k = &POOLS[t];
        nn_pool p;
        if (pool_setup(k, &p) != 0) {
            CHECK(0, "%s: nn_pool_init: %s", k->name, dfs_error());
            continue;
        }
        int64_t nin = p.N * p.C * p.H * p.W, nout = p.N * p.C * p.P * p.Q;
        for (int ties = 0; ties < 2; ties++) {
            /* ties: values in {0, 1, 2}, so windows hold equal maxima and the first must win */
            float *x = rnd(nin, -1, 1);
            if (ties)
                for (int64_t i = 0; i < nin; i++) x[i] = (float)(int)((x[i] + 1.0f) * 1.5f);
            float *dy = rnd(nout, -1, 1), *dx0 = rnd(nin, -1, 1);
            float *gx = up(x, nin), *gdy = up(dy, nout);
            float *y = hmem((size_t)nout * sizeof(float)), *gy = dmem((size_t)nout * sizeof(float));
            int32_t *am = hmem((size_t)nout * sizeof(int32_t)), *gam = dmem((size_t)nout * sizeof(int32_t));
            char what[128];
            CPU->maxpool_forward(y, am, x, &p);
            DEV->maxpool_forward(gy, gam, gx, &p);
            snprintf(what, sizeof what, "maxpool %s%s forward", k->name, ties ? " (ties)" : "");
            same_dev(what, gy, y, nout, 0, 0);
            int32_t *am_dev = hmem((size_t)nout * sizeof(int32_t));
            CHECK(DEV->download(am_dev, gam, (size_t)nout * sizeof(int32_t)) == 0, "download");
            int64_t bad = 0;
            for (int64_t i = 0; i < nout; i++) bad += am_dev[i] != am[i];
            CHECK(bad == 0, "%s: %lld argmax entries differ", what, (long long)bad);
            float *dx = dup(dx0, nin), *gdx = up(dx, nin);
            CPU->maxpool_backward(dx, dy, am, &p);
            DEV->maxpool_backward(gdx, gdy, gam, &p);
            snprintf(what, sizeof what, "maxpool %s%s backward", k->name, ties ? " (ties)" : "");
            same_dev(what, gdx, dx, nin, 0, 0);
            CPU->avgpool_forward(y, x, &p);
            DEV->avgpool_forward(gy, gx, &p);
            snprintf(what, sizeof what, "avgpool %s%s forward", k->name, ties ? " (ties)" : "");
            same_dev(what, gy, y, nout, 0, 0);
            dx = dup(dx0, nin), gdx = up(dx, nin);
            CPU->avgpool_backward(dx, dy, &p);
            DEV->avgpool_backward(gdx, gdy, &p);
            snprintf(what, sizeof what, "avgpool %s%s backward", k->name, ties ? " (ties)" : "");
            same_dev(what, gdx, dx, nin, 0, 0);
        }
        release_all();
    }
}

static void test_global_avgpool(void)
{
    static const int64_t shapes[][3] = {{3, 5, 49}, {1, 3, 1000}, {2, 4, 1}, {32, 40, 64}};
    for (size_t t = 0; t < sizeof shapes / sizeof shapes[0]; t++) {
        int64_t N = shapes[t][0], C = shapes[t][1], HW = shapes[t][2], n = N * C * HW;
        float *x = rnd(n, -1, 1), *dy = rnd(N * C, -1, 1), *dx = rnd(n, -1, 1), *y = hmem((size_t)(N * C) * 4);
        float *gy = dmem((size_t)(N * C) * sizeof(float)), *gdx = up(dx, n);
        CPU->global_avgpool_forward(y, x, N, C, HW);
        DEV->global_avgpool_forward(gy, up(x, n), N, C, HW);
        char what[80];
        snprintf(what, sizeof what, "global_avgpool %lldx%lldx%lld forward", (long long)N, (long long)C, (long long)HW);
        same_dev(what, gy, y, N * C, 1e-6, 1e-6);
        CPU->global_avgpool_backward(dx, dy, N, C, HW);
        DEV->global_avgpool_backward(gdx, up(dy, N * C), N, C, HW);
        snprintf(what, sizeof what, "global_avgpool %lldx%lldx%lld backward", (long long)N, (long long)C,
                 (long long)HW);
        same_dev(what, gdx, dx, n, EW_ATOL, EW_RTOL);
        release_all();
    }
}

/* ---- dropout, drop-connect ---- */

static void test_dropout(void)
{
    static const float rates[] = {0.3f, 0.0f, 1.0f};
    int64_t n = 1237;
    for (size_t r = 0; r < sizeof rates / sizeof rates[0]; r++) {
        float rate = rates[r];
        uint8_t *mask = hmem((size_t)n);
        nn_dropout_draw(mask, rate, n, &RNG);
        float *x = rnd(n, -2, 2), *dy = rnd(n, -1, 1), *dx = rnd(n, -1, 1), *y = hmem((size_t)n * sizeof(float));
        uint8_t *gmask = up_bytes(mask, (size_t)n);
        float *gy = dmem((size_t)n * sizeof(float)), *gdx = up(dx, n);
        CPU->dropout_apply(y, mask, x, rate, n);
        DEV->dropout_apply(gy, gmask, up(x, n), rate, n);
        char what[64];
        snprintf(what, sizeof what, "dropout %.1f apply", rate);
        same_dev(what, gy, y, n, 0, 0);
        CPU->dropout_backward(dx, dy, mask, rate, n);
        DEV->dropout_backward(gdx, up(dy, n), gmask, rate, n);
        snprintf(what, sizeof what, "dropout %.1f backward", rate);
        same_dev(what, gdx, dx, n, EW_ATOL, EW_RTOL);
        release_all();
    }
}

/* The masks the graph draws on the device (dropout_mask, counter_rng.h) equal the cpu's byte for
 * byte: sizes around the four-value blocks and past one grid's worth of threads, several rates,
 * keys and node streams. Guard bytes catch a write past n. */
static void test_dropout_mask(void)
{
    static const int64_t sizes[] = {1, 3, 4, 5, 1237, 1 << 20, (1 << 22) + 7};
    static const float rates[] = {0.5f, 0.3f, 0.0f, 1.0f};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int64_t n = sizes[s];
        for (size_t r = 0; r < sizeof rates / sizeof rates[0]; r++) {
            uint64_t key = 0x9e3779b97f4a7c15ull * (s + 1) + r;
            uint32_t node = (uint32_t)(17 * s + r);
            uint8_t *mask = hmem((size_t)n), *back = hmem((size_t)n);
            nn_dropout_mask(mask, rates[r], n, key, node);
            uint8_t *gmask = dmem((size_t)n);
            DEV->dropout_mask(gmask, rates[r], n, key, node);
            CHECK(DEV->download(back, gmask, (size_t)n) == 0, "download: %s", DEV->last_error());
            CHECK(DEV->sync() == 0, "sync: %s", DEV->last_error());
            int64_t diff = 0;
            for (int64_t i = 0; i < n; i++) diff += mask[i] != back[i];
            CHECK(diff == 0, "dropout_mask n %lld rate %.1f: %lld of the device's bytes differ from the cpu's",
                  (long long)n, rates[r], (long long)diff);
            release_all();
        }
    }
}

static void test_drop_connect(void)
{
    for (int variant = 0; variant < 2; variant++) {
        int64_t N = variant ? 5 : 3, per = variant ? 4096 : 333, n = N * per;
        float rate = variant ? 0.5f : 0.3f;
        uint8_t *keep = hmem((size_t)N);
        if (variant)
            nn_drop_connect_draw(keep, rate, N, &RNG);
        else
            keep[0] = 1, keep[1] = 0, keep[2] = 1;
        float *x = rnd(n, -2, 2), *dy = rnd(n, -1, 1), *dx = rnd(n, -1, 1), *y = hmem((size_t)n * sizeof(float));
        uint8_t *gkeep = up_bytes(keep, (size_t)N);
        float *gy = dmem((size_t)n * sizeof(float)), *gdx = up(dx, n);
        CPU->drop_connect_apply(y, keep, x, rate, N, per);
        DEV->drop_connect_apply(gy, gkeep, up(x, n), rate, N, per);
        same_dev("drop_connect apply", gy, y, n, 0, 0);
        CPU->drop_connect_backward(dx, dy, keep, rate, N, per);
        DEV->drop_connect_backward(gdx, up(dy, n), gkeep, rate, N, per);
        same_dev("drop_connect backward", gdx, dx, n, EW_ATOL, EW_RTOL);
        release_all();
    }
}

/* ---- concat, add, channel scaling ---- */

static void test_concat(void)
{
    static const int64_t Cs[3] = {2, 3, 1};
    int64_t N = 3, HW = 17, tot = N * 6 * HW;
    float *in[3], *gin[3], *d0[3];
    for (int k = 0; k < 3; k++) {
        in[k] = rnd(N * Cs[k] * HW, -1, 1);
        gin[k] = up(in[k], N * Cs[k] * HW);
        d0[k] = rnd(N * Cs[k] * HW, -1, 1);
    }
    float *y = hmem((size_t)tot * sizeof(float)), *gy = dmem((size_t)tot * sizeof(float));
    CPU->concat_forward(y, (const float *const *)in, Cs, 3, N, HW);
    DEV->concat_forward(gy, (const float *const *)gin, Cs, 3, N, HW);
    same_dev("concat forward", gy, y, tot, 0, 0);
    float *dy = rnd(tot, -1, 1), *gdy = up(dy, tot);
    for (int variant = 0; variant < 2; variant++) {
        /* variant 1: the middle input needs no gradient */
        float *d[3], *gd[3];
        for (int k = 0; k < 3; k++) {
            int need = !(variant && k == 1);
            d[k] = need ? dup(d0[k], N * Cs[k] * HW) : NULL;
            gd[k] = up(d[k], N * Cs[k] * HW);
        }
        CPU->concat_backward(d, dy, Cs, 3, N, HW);
        DEV->concat_backward(gd, gdy, Cs, 3, N, HW);
        for (int k = 0; k < 3; k++)
            if (d[k]) same_dev(variant ? "concat backward (one NULL)" : "concat backward", gd[k], d[k], N * Cs[k] * HW,
                               0, 0);
    }
    release_all();
}

static void test_add(void)
{
    int64_t n = 1237;
    float *a = rnd(n, -1, 1), *b = rnd(n, -1, 1), *dy = rnd(n, -1, 1), *y = hmem((size_t)n * sizeof(float));
    float *gy = dmem((size_t)n * sizeof(float));
    CPU->add_forward(y, a, b, n);
    DEV->add_forward(gy, up(a, n), up(b, n), n);
    same_dev("add forward", gy, y, n, 0, 0);
    float *gdy = up(dy, n), *da0 = rnd(n, -1, 1), *db0 = rnd(n, -1, 1);
    for (int variant = 0; variant < 2; variant++) {
        float *da = variant ? NULL : dup(da0, n), *db = dup(db0, n), *gda = up(da, n), *gdb = up(db, n);
        CPU->add_backward(da, db, dy, n);
        DEV->add_backward(gda, gdb, gdy, n);
        if (da) same_dev("add backward da", gda, da, n, 0, 0);
        same_dev(variant ? "add backward db (da NULL)" : "add backward db", gdb, db, n, 0, 0);
    }
    release_all();
}

static void test_scale_channels(void)
{
    static const int64_t shapes[][3] = {{3, 5, 31}, {2, 3, 300}, {4, 6, 1}};
    for (size_t t = 0; t < sizeof shapes / sizeof shapes[0]; t++) {
        int64_t N = shapes[t][0], C = shapes[t][1], HW = shapes[t][2], n = N * C * HW;
        float *x = rnd(n, -1, 1), *s = rnd(N * C, 0, 1), *dy = rnd(n, -1, 1), *y = hmem((size_t)n * sizeof(float));
        float *gx = up(x, n), *gs = up(s, N * C), *gdy = up(dy, n), *gy = dmem((size_t)n * sizeof(float));
        CPU->scale_channels_forward(y, x, s, N, C, HW);
        DEV->scale_channels_forward(gy, gx, gs, N, C, HW);
        same_dev("scale_channels forward", gy, y, n, 0, 0);
        float *dx0 = rnd(n, -1, 1), *ds0 = rnd(N * C, -1, 1);
        for (int variant = 0; variant < 3; variant++) {
            float *dx = variant != 2 ? dup(dx0, n) : NULL, *ds = variant != 1 ? dup(ds0, N * C) : NULL;
            float *gdx = up(dx, n), *gds = up(ds, N * C);
            CPU->scale_channels_backward(dx, ds, dy, x, s, N, C, HW);
            DEV->scale_channels_backward(gdx, gds, gdy, gx, gs, N, C, HW);
            if (dx) same_dev("scale_channels backward din", gdx, dx, n, EW_ATOL, EW_RTOL);
            if (ds) same_dev("scale_channels backward ds", gds, ds, N * C, red_atol(HW), RED_RTOL);
        }
        release_all();
    }
}

/* ---- Adam, L2 ---- */

static void test_adam(void)
{
    int64_t n = 1001;
    float *p = rnd(n, -1, 1), *m = rnd(n, -0.1, 0.1), *v = rnd(n, 0, 0.01);
    float *gp = up(p, n), *gm = up(m, n), *gv = up(v, n);
    nn_adam a = {.lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-7f, .t = 0};
    for (int step = 1; step <= 5; step++) {
        float *g = rnd(n, -1, 1);
        a.t = step;
        CPU->adam_update(p, g, m, v, &a, n);
        DEV->adam_update(gp, up(g, n), gm, gv, &a, n);
        char what[64];
        snprintf(what, sizeof what, "adam step %d: p", step);
        same_dev(what, gp, p, n, 1e-6, 1e-6);
        snprintf(what, sizeof what, "adam step %d: m", step);
        same_dev(what, gm, m, n, 1e-6, 1e-6);
        snprintf(what, sizeof what, "adam step %d: v", step);
        same_dev(what, gv, v, n, 1e-7, 1e-5);
    }
    release_all();
}

static void test_l2(void)
{
    static const int64_t sizes[] = {7, 100003};
    for (size_t t = 0; t < sizeof sizes / sizeof sizes[0]; t++) {
        int64_t n = sizes[t];
        float *w = rnd(n, -1, 1), *g = rnd(n, -1, 1), *gw = up(w, n), *gg = up(g, n);
        double ref = CPU->l2_penalty(g, w, 1e-3f, n);
        double got = DEV->l2_penalty(gg, gw, 1e-3f, n);
        CHECK_CLOSE(got, ref, 0, 1e-9);
        same_dev("l2_penalty gradient", gg, g, n, EW_ATOL, EW_RTOL);
        double alone = DEV->l2_penalty(NULL, gw, 1e-3f, n);   /* no gradient to add to */
        CHECK_CLOSE(alone, ref, 0, 1e-9);
        release_all();
    }
}

/* ---- analysis ops (Grad-CAM, ACE): cam_map and channel_minmax are the cpu's bits by
 * construction (inspect.cu), set_neurons copies; pfake_sum goes through the device's double exp,
 * within an ulp of the host's, so each P(fake) may differ in its last float bit ---- */

/* bit for bit, so that -0 and +0 (and NaN payloads) count as different */
static void same_bits(const char *what, const float *dev, const float *ref, int64_t n)
{
    float *got = down(dev, n);
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++)
        if (memcmp(got + i, ref + i, sizeof(float))) {
            if (bad < 3) printf("#   %s[%lld]: cuda %.9g, cpu %.9g\n", what, (long long)i, got[i], ref[i]);
            bad++;
        }
    CHECK(bad == 0, "%s: %lld of %lld values differ in their bits", what, (long long)bad, (long long)n);
}

static void test_cam_map(void)
{
    static const int64_t shapes[][3] = {{3, 37, 49}, {1, 5, 1}, {2, 300, 100}, {4, 64, 64}};
    for (size_t t = 0; t < sizeof shapes / sizeof shapes[0]; t++) {
        int64_t N = shapes[t][0], K = shapes[t][1], HW = shapes[t][2], n = N * K * HW;
        float *a = rnd(n, 0, 2), *g = rnd(n, -1, 1), *ga = up(a, n), *gg = up(g, n);
        for (int relu = 0; relu < 2; relu++) {
            float *maps = hmem((size_t)(N * HW) * sizeof(float)), *gm = dmem((size_t)(N * HW) * sizeof(float));
            CPU->cam_map(maps, a, g, N, K, HW, relu);
            DEV->cam_map(gm, ga, gg, N, K, HW, relu);
            char what[80];
            snprintf(what, sizeof what, "cam_map %lldx%lldx%lld relu %d", (long long)N, (long long)K, (long long)HW,
                     relu);
            same_bits(what, gm, maps, N * HW);
        }
        release_all();
    }
}

static void test_channel_minmax(void)
{
    /* few distinct values, so bounds tie: the first of equal values is kept, down to the sign of
     * a zero; NaN is never a bound; one channel is all zeros of both signs, one all NaN */
    static const float pool[] = {-1.0f, -0.0f, 0.0f, 0.5f, 2.0f, NAN};
    static const int64_t shapes[][3] = {{3, 5, 1000}, {1, 7, 1}, {2, 65600, 2}, {4, 3, 257}};
    for (size_t t = 0; t < sizeof shapes / sizeof shapes[0]; t++) {
        int64_t N = shapes[t][0], C = shapes[t][1], HW = shapes[t][2], n = N * C * HW;
        float *x = hmem((size_t)n * sizeof(float));
        for (int64_t i = 0; i < n; i++) x[i] = pool[dfs_rng_below(&RNG, 6)];
        for (int64_t b = 0; b < N && C > 2; b++)
            for (int64_t q = 0; q < HW; q++) {
                x[(b * C + 0) * HW + q] = dfs_rng_below(&RNG, 2) ? 0.0f : -0.0f;
                x[(b * C + 1) * HW + q] = NAN;
            }
        float *gx = up(x, n);
        float *mn = hmem((size_t)C * sizeof(float)), *mx = hmem((size_t)C * sizeof(float));
        float *gmn = dmem((size_t)C * sizeof(float)), *gmx = dmem((size_t)C * sizeof(float));
        CPU->channel_minmax(mn, mx, x, N, C, HW, 1);
        DEV->channel_minmax(gmn, gmx, gx, N, C, HW, 1);
        same_bits("channel_minmax min (reset)", gmn, mn, C);
        same_bits("channel_minmax max (reset)", gmx, mx, C);
        /* a second batch on top of the first's bounds, and bounds that tie with zeros */
        float *x2 = hmem((size_t)n * sizeof(float));
        for (int64_t i = 0; i < n; i++) x2[i] = pool[dfs_rng_below(&RNG, 6)] * 1.5f;
        CPU->channel_minmax(mn, mx, x2, N, C, HW, 0);
        DEV->channel_minmax(gmn, gmx, up(x2, n), N, C, HW, 0);
        same_bits("channel_minmax min (running)", gmn, mn, C);
        same_bits("channel_minmax max (running)", gmx, mx, C);
        release_all();
    }
}

static void test_set_neurons(void)
{
    int64_t copies = 3, N = 4, C = 5, HW = 7, n = copies * N * C * HW;
    for (int64_t c0 = 0; c0 + copies <= C; c0 += 2) {
        float *h = rnd(n, -1, 1), *src = rnd(N * C * HW, -1, 1), *vals = rnd(copies, -3, 3);
        float *gh = up(h, n), *gsrc = up(src, N * C * HW), *gvals = up(vals, copies);
        CPU->set_neurons(h, NULL, vals, copies, N, C, HW, c0);
        DEV->set_neurons(gh, NULL, gvals, copies, N, C, HW, c0);
        same_bits("set_neurons to values", gh, h, n);
        CPU->set_neurons(h, src, NULL, copies, N, C, HW, c0);
        DEV->set_neurons(gh, gsrc, NULL, copies, N, C, HW, c0);
        same_bits("set_neurons back to the source", gh, h, n);
        release_all();
    }
}

static void test_pfake_sum(void)
{
    for (int classes = 1; classes <= 2; classes++) {
        int64_t copies = 5, N = 37, stride = 3, na = copies * stride;
        float *logits = rnd(copies * N * classes, -30, 30);
        double *acc = hmem((size_t)na * sizeof(double)), *back = hmem((size_t)na * sizeof(double));
        for (int64_t i = 0; i < na; i++) acc[i] = 0.25 * (double)i;   /* the sums are added to these */
        double *gacc = up_bytes(acc, (size_t)na * sizeof(double));
        CPU->pfake_sum(acc, stride, logits, classes, copies, N);
        DEV->pfake_sum(gacc, stride, up(logits, copies * N * classes), classes, copies, N);
        CHECK(DEV->download(back, gacc, (size_t)na * sizeof(double)) == 0, "download: %s", DEV->last_error());
        for (int64_t i = 0; i < na; i++)   /* N values, each within a float ulp (6e-8) of 1 */
            CHECK_CLOSE(back[i], acc[i], 6e-8 * (double)N, 0);
        release_all();
    }
}

/* ---- memory entries and errors ---- */

static void test_memory(void)
{
    CHECK(DEV->abi == NN_BACKEND_ABI, "abi %d", DEV->abi);
    CHECK(!DEV->host_memory || DEV == CPU, "a device backend has device memory");
    CHECK(DEV->device_name[0] != '\0', "device name");
    printf("# device: %s (%s)\n", DEV->device_name, DEV->name);
    size_t n = 10007;
    unsigned char *src = hmem(n), *back = hmem(n);
    for (size_t i = 0; i < n; i++) src[i] = (unsigned char)(i * 7 + 3);
    unsigned char *a = dmem(n), *b = dmem(n);
    CHECK(DEV->upload(a, src, n) == 0, "upload: %s", DEV->last_error());
    CHECK(DEV->download(back, a, n) == 0, "download: %s", DEV->last_error());
    CHECK(!memcmp(back, src, n), "upload then download gives the bytes back");
    DEV->copy(b, a, n);
    DEV->zero(a + 100, 1000);
    CHECK(DEV->download(back, b, n) == 0, "download: %s", DEV->last_error());
    CHECK(!memcmp(back, src, n), "copy");
    CHECK(DEV->download(back, a, n) == 0, "download: %s", DEV->last_error());
    int ok = 1;
    for (size_t i = 0; i < n; i++) ok &= back[i] == (i >= 100 && i < 1100 ? 0 : src[i]);
    CHECK(ok, "zero clears exactly its range");
    DEV->copy(b + 1, a + 5000, 17);   /* unaligned, within device memory */
    CHECK(DEV->download(back, b, 32) == 0, "download: %s", DEV->last_error());
    CHECK(!memcmp(back + 1, src + 5000, 17) && back[0] == src[0] && back[18] == src[18], "partial copy");
    /* pinned staging buffers: upload from one, download into another after a sync */
    size_t pn = 1 << 20;
    unsigned char *h1 = DEV->host_alloc(pn), *h2 = DEV->host_alloc(pn);
    CHECK(h1 && h2, "host_alloc: %s", DEV->last_error());
    if (h1 && h2) {
        for (size_t i = 0; i < pn; i++) h1[i] = (unsigned char)(i * 13 + 1);
        void *d = dmem(pn);
        CHECK(DEV->upload(d, h1, pn) == 0, "upload: %s", DEV->last_error());
        CHECK(DEV->sync() == 0, "sync: %s", DEV->last_error());
        CHECK(DEV->download(h2, d, pn) == 0, "download: %s", DEV->last_error());
        CHECK(!memcmp(h1, h2, pn), "pinned upload and download");
    }
    DEV->host_free(h1);
    DEV->host_free(h2);
    void *z = DEV->alloc(0);
    CHECK(z != NULL, "alloc(0) gives a pointer that free accepts");
    DEV->free(z);
    DEV->free(NULL);
    CHECK(DEV->sync() == 0, "sync: %s", DEV->last_error());
    release_all();
}

static void test_errors(void)
{
    /* 1 PiB: no device has it; the failure is returned now, with a message naming the op */
    void *p = DEV->alloc((size_t)1 << 50);
    CHECK(p == NULL, "alloc of 1 PiB fails");
    if (p) DEV->free(p);
    const char *msg = DEV->last_error();
    printf("# alloc(1 PiB): %s\n", msg);
    CHECK(msg && (strstr(msg, "alloc") || DEV == CPU), "the message names the op: '%s'", msg ? msg : "(null)");
    /* and it does not poison what follows: the next sync is clean and ops still work */
    CHECK(DEV->sync() == 0, "sync after a failed alloc: %s", DEV->last_error());
    float x[5] = {-1, 2, -3, 4, 0}, y[5];
    float *gx = up(x, 5), *gy = dmem(sizeof y);
    DEV->relu_forward(gy, gx, 5);
    CHECK(DEV->download(y, gy, sizeof y) == 0, "download: %s", DEV->last_error());
    CHECK(y[0] == 0 && y[1] == 2 && y[2] == 0 && y[3] == 4 && y[4] == 0, "relu after the failed alloc");
    release_all();
}

static const char *WHY;
static void fail_no_device(void) { CHECK(0, "DFS_REQUIRE_CUDA=1 but the CUDA backend is unavailable: %s", WHY); }

/* the words after "conv " in the device line: "cuDNN 9.19.0", "im2col (DFS_CUDNN=0)", ... */
static const char *conv_path(void)
{
    const char *p = DEV ? strstr(DEV->device_name, ", conv ") : NULL;
    return p ? p + 7 : "im2col";
}
static int conv_via_cudnn(void) { return !strncmp(conv_path(), "cuDNN", 5); }

static void fail_no_cudnn(void) { CHECK(0, "DFS_REQUIRE_CUDNN=1 but convolutions run as %s", conv_path()); }

/* test_conv again in a child process whose plugin runs im2col (DFS_CUDNN=0); its lines are
 * passed on as comments */
static void test_conv_im2col(void)
{
    char exe[PATH_MAX] = "";
    CHECK(realpath("/proc/self/exe", exe) != NULL, "cannot find the running program (/proc/self/exe)");
    if (!exe[0]) return;
    CHECK(!strchr(exe, '\''), "program path %s has a quote", exe);
    if (strchr(exe, '\'')) return;
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "DFS_CUDNN=0 DFS_TEST_CUDA_CONV_ONLY=1 '%s' 2>&1", exe);
    FILE *f = popen(cmd, "r");
    CHECK(f != NULL, "popen %s failed", exe);
    if (!f) return;
    char line[1024];
    int ran = 0;
    while (fgets(line, sizeof line, f)) {
        printf("#   child: %s", line);
        if (strstr(line, "ok 1 - test_conv") == line) ran |= 1;
        if (strstr(line, "# conv path: im2col (DFS_CUDNN=0)")) ran |= 2;
    }
    int st = pclose(f);
    CHECK(st == 0, "the child with DFS_CUDNN=0 failed (status %d)", st);
    /* the cpu against itself (DFS_TEST_CUDA_SELF=1, which the child inherits) has no conv path */
    CHECK(ran == (DEV == CPU ? 1 : 3), "the child did not run test_conv on the im2col path");
}

/* conv case k's forward (with bias), input gradient and, unless depthwise, weight gradient on
 * DEV (the depthwise weight gradient of DFS_CUDA_IDX32=1 sums its doubles in other shares: equal
 * floats but for rare last-bit roundings, held to tolerances by test_conv), written to f as raw
 * floats */
static void conv_outputs(FILE *f, const conv_case *k)
{
    nn_conv c;
    if (conv_setup(k, &c) != 0) {
        CHECK(0, "%s: nn_conv_init: %s", k->name, dfs_error());
        return;
    }
    int64_t nin = c.N * c.C * c.H * c.W, nw = c.K * (c.C / c.groups) * c.R * c.S, nout = c.N * c.K * c.P * c.Q;
    int dwise = c.groups == c.C && c.groups > 1;
    float *x = rnd(nin, -1, 1), *w = rnd(nw, -1, 1), *b = rnd(c.K, -1, 1), *dy = rnd(nout, -1, 1);
    float *dx0 = rnd(nin, -1, 1), *dw0 = rnd(nw, -1, 1);
    size_t dev_scratch = DEV->conv_scratch(&c);
    float *ds_ = dev_scratch ? dmem(dev_scratch * sizeof(float)) : NULL;
    float *gx = up(x, nin), *gw = up(w, nw), *gy = dmem((size_t)nout * sizeof(float)), *gdx = up(dx0, nin);
    float *gdw = up(dw0, nw);
    DEV->conv2d_forward(gy, gx, gw, up(b, c.K), &c, ds_);
    DEV->conv2d_backward(gdx, dwise ? NULL : gdw, NULL, up(dy, nout), gx, gw, &c, ds_);
    CHECK(fwrite(down(gy, nout), sizeof(float), (size_t)nout, f) == (size_t)nout, "write failed");
    CHECK(fwrite(down(gdx, nin), sizeof(float), (size_t)nin, f) == (size_t)nin, "write failed");
    if (!dwise) CHECK(fwrite(down(gdw, nw), sizeof(float), (size_t)nw, f) == (size_t)nw, "write failed");
    release_all();
}

/* pool case k's max pooling forward, argmax and backward on DEV, to f */
static void pool_outputs(FILE *f, const pool_case *k)
{
    nn_pool p;
    if (pool_setup(k, &p) != 0) {
        CHECK(0, "%s: nn_pool_init: %s", k->name, dfs_error());
        return;
    }
    int64_t nin = p.N * p.C * p.H * p.W, nout = p.N * p.C * p.P * p.Q;
    float *x = rnd(nin, -1, 1), *dy = rnd(nout, -1, 1), *dx0 = rnd(nin, -1, 1);
    float *gy = dmem((size_t)nout * sizeof(float)), *gdx = up(dx0, nin);
    int32_t *gam = dmem((size_t)nout * sizeof(int32_t)), *am = hmem((size_t)nout * sizeof(int32_t));
    DEV->maxpool_forward(gy, gam, up(x, nin), &p);
    DEV->maxpool_backward(gdx, up(dy, nout), gam, &p);
    CHECK(DEV->download(am, gam, (size_t)nout * sizeof(int32_t)) == 0, "download");
    CHECK(fwrite(down(gy, nout), sizeof(float), (size_t)nout, f) == (size_t)nout, "write failed");
    CHECK(fwrite(am, sizeof(int32_t), (size_t)nout, f) == (size_t)nout, "write failed");
    CHECK(fwrite(down(gdx, nin), sizeof(float), (size_t)nin, f) == (size_t)nin, "write failed");
    release_all();
}

/* planes wider than a grid's x extent (sm_count * 32 blocks of 256 threads, 1.08 million
 * positions on an H200), so the kernels' loops over positions take a second lap */
static const conv_case WIDE_CONV = {"3x3 s1 same 1100x1100", 1, 1, 1100, 1100, 2, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0};
static const pool_case WIDE_POOL = {"3x3 s1 same 1100x1100", 1, 1, 1100, 1100, 3, 3, 1, 1};

/* What test_idx32_bits compares: every conv and pool case's outputs (conv_outputs,
 * pool_outputs), from inputs drawn after reseeding RNG (so two processes draw the same). */
static void idx32_outputs(FILE *f)
{
    dfs_rng_seed(&RNG, 424242);
    for (size_t t = 0; t < sizeof CONVS / sizeof CONVS[0]; t++) conv_outputs(f, &CONVS[t]);
    conv_outputs(f, &WIDE_CONV);
    for (size_t t = 0; t < sizeof POOLS / sizeof POOLS[0]; t++) pool_outputs(f, &POOLS[t]);
    pool_outputs(f, &WIDE_POOL);
}

/* child_dump(env, path): run this program as a child with the environment assignments env and
 * DFS_TEST_CUDA_IDX32_DUMP=path; it writes idx32_outputs to path, its output lines become our
 * comments. 0, or -1 (checked). */
static int child_dump(const char *env, const char *path)
{
    char exe[PATH_MAX] = "";
    CHECK(realpath("/proc/self/exe", exe) != NULL && !strchr(exe, '\''), "cannot name the running program");
    if (!exe[0] || strchr(exe, '\'')) return -1;
    char cmd[4400], line[1024];
    snprintf(cmd, sizeof cmd, "%s DFS_TEST_CUDA_IDX32_DUMP='%s' '%s' 2>&1", env, path, exe);
    FILE *f = popen(cmd, "r");
    CHECK(f != NULL, "popen %s failed", exe);
    if (!f) return -1;
    /* the child's lines become comments of our TAP (a prefix at each line's start only, so a
     * line longer than the buffer stays one comment) */
    for (int at_start = 1; fgets(line, sizeof line, f); at_start = strchr(line, '\n') != NULL)
        printf("%s%s", at_start ? "#   child: " : "", line);
    int st = pclose(f);
    CHECK(st == 0, "the child with %s failed (status %d)", env, st);
    return st == 0 ? 0 : -1;
}

/* the whole of file path into *n bytes (NULL when unreadable) */
static char *slurp(const char *path, size_t *n)
{
    char *buf = NULL;
    *n = 0;
    FILE *f = fopen(path, "rb"), *m = open_memstream(&buf, n);
    if (f && m) {
        char chunk[65536];
        size_t got;
        while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) fwrite(chunk, 1, got, m);
    }
    if (f) fclose(f);
    if (m) fclose(m);
    return buf;
}

/* DFS_CUDA_IDX32=1's im2col, col2im, max pooling, depthwise forward and depthwise input gradient
 * compute what the default kernels compute, in the same order, so their bits must be the
 * default's: two children, both on the plugin's own kernels (DFS_CUDNN=0; the plugin reads its
 * switches once, at start), one with DFS_CUDA_IDX32=0 and one with 1, write every case's
 * outputs, and the bytes are compared. */
static void test_idx32_bits(void)
{
    char a[] = "/tmp/test_cuda_ops_idx32.XXXXXX", b[] = "/tmp/test_cuda_ops_idx32.XXXXXX";
    int fa = mkstemp(a), fb = mkstemp(b);
    CHECK(fa >= 0 && fb >= 0, "mkstemp failed");
    FILE *ma = fa >= 0 ? fdopen(fa, "wb") : NULL, *mb = fb >= 0 ? fdopen(fb, "wb") : NULL;
    if (ma) fclose(ma);   /* the children write them by name */
    if (mb) fclose(mb);
    size_t n0 = 0, n1 = 0;
    char *d0 = NULL, *d1 = NULL;
    if (fa >= 0 && fb >= 0 && child_dump("DFS_CUDNN=0 DFS_CUDA_IDX32=0", a) == 0 &&
        child_dump("DFS_CUDNN=0 DFS_CUDA_IDX32=1", b) == 0) {
        d0 = slurp(a, &n0);
        d1 = slurp(b, &n1);
        CHECK(n0 > 0 && n1 == n0, "the IDX32 child wrote %zu bytes, the default one %zu", n1, n0);
        size_t i = 0;
        while (i < n0 && i < n1 && d0[i] == d1[i]) i++;
        CHECK(i == n0, "DFS_CUDA_IDX32=1 and the default kernels differ from word %zu on", i / sizeof(float));
        printf("# conv and max pool outputs, DFS_CUDA_IDX32=1 against the default kernels: %zu words, %s\n",
               n0 / sizeof(float), i == n0 ? "the same bits" : "DIFFERENT");
    }
    if (fa >= 0) remove(a);
    if (fb >= 0) remove(b);
    free(d0);
    free(d1);
}

int main(void)
{
    /* small im2col chunks, so the loop over image chunks runs on these shapes: chunks of 2 + 1
     * images ("3x3 s1 same", "3x3 dilation 2 same", "5x5 groups 2 valid", the chunked pointwise),
     * 1 + 1 + 1 ("32->64"), all 3 at once (the others) */
    setenv("DFS_CUDA_SCRATCH_CAP", "12000", 0);
    dfs_rng_seed(&RNG, 20261126);
    CPU = nn_backend_cpu();
    const char *self = getenv("DFS_TEST_CUDA_SELF");
    DEV = self && !strcmp(self, "1") ? CPU : nn_backend_open("cuda");
    WHY = DEV ? "" : dfs_error();
    const char *req = getenv("DFS_REQUIRE_CUDA");
    int required = req && !strcmp(req, "1");
    const char *req_dnn = getenv("DFS_REQUIRE_CUDNN");
    int required_dnn = req_dnn && !strcmp(req_dnn, "1");
    const char *conv_only = getenv("DFS_TEST_CUDA_CONV_ONLY");
    if (DEV && DEV != CPU) printf("# conv path: %s\n", conv_path());
#define T(fn)                                               \
    do {                                                    \
        if (DEV)                                            \
            RUN(fn);                                        \
        else if (required)                                  \
            RUN(fail_no_device);                            \
        else                                                \
            SKIP(fn, "no GPU: %s", WHY);                    \
    } while (0)
    if (conv_only && !strcmp(conv_only, "1")) {
        T(test_conv);
        return CHECK_DONE();
    }
    const char *idx32_dump = getenv("DFS_TEST_CUDA_IDX32_DUMP");
    if (idx32_dump && *idx32_dump) {   /* test_idx32_bits's child */
        FILE *f = DEV ? fopen(idx32_dump, "wb") : NULL;
        if (!f) return 2;
        idx32_outputs(f);
        return fclose(f) == 0 ? CHECK_DONE() : 2;
    }
    T(test_memory);
    T(test_errors);
    T(test_conv);
    if (!DEV)
        T(test_conv_im2col);   /* skipped (or failed) with the rest */
    else if (DEV == CPU || conv_via_cudnn())
        RUN(test_conv_im2col);
    else if (required_dnn)
        RUN(fail_no_cudnn);
    else
        SKIP(test_conv_cudnn, "convolutions run as %s", conv_path());
    T(test_idx32_bits);
    T(test_dense);
    T(test_batchnorm);
    T(test_batchnorm_act);
    T(test_activations);
    T(test_softmax);
    T(test_pool);
    T(test_global_avgpool);
    T(test_dropout);
    T(test_dropout_mask);
    T(test_drop_connect);
    T(test_concat);
    T(test_add);
    T(test_scale_channels);
    T(test_adam);
    T(test_l2);
    T(test_cam_map);
    T(test_channel_minmax);
    T(test_set_neurons);
    T(test_pfake_sum);
    return CHECK_DONE();
}
