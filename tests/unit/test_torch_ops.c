/* Single ops against PyTorch (tests/fixtures/ops_torch.dft, made by tests/fixtures_ops.py):
 * catches convention errors that finite differences cannot (kernel orientation, layouts, where
 * 'same' puts the odd padding, running-variance and momentum conventions, loss definitions).
 * Tolerance per tensor: |c - ref| <= 1e-4 + 1e-4 |ref| (float32 both sides, short sums). */
#include "check.h"
#include "core/common.h"
#include "core/stream.h"
#include "nn/ops.h"

#include <stdlib.h>
#include <string.h>

static dfs_record_list FX;

static float *get(const char *key, int64_t *n)
{
    size_t klen = strlen(key);
    for (size_t i = 0; i < FX.n; i++) {
        size_t len;
        const char *v = dfs_meta_find(&FX.v[i], "key", &len);
        if (v && len == klen && !memcmp(v, key, len)) {
            if (n) *n = (int64_t)dfs_record_elems(&FX.v[i]);
            return FX.v[i].data;
        }
    }
    printf("# fixture has no %s\n", key);
    exit(1);
}

static void compare(const char *what, const float *got, const float *ref, int64_t n)
{
    int bad = 0;
    for (int64_t i = 0; i < n; i++)
        if (!(fabs((double)got[i] - ref[i]) <= 1e-4 + 1e-4 * fabs(ref[i]))) {
            if (bad < 3) printf("# %s[%lld]: %.8g, torch %.8g\n", what, (long long)i, got[i], ref[i]);
            bad++;
        }
    CHECK(bad == 0, "%s: %d of %lld values differ from PyTorch", what, bad, (long long)n);
}

static void conv_case(const char *cs, int64_t N, int64_t C, int64_t H, int64_t W, int64_t K, int64_t k, int64_t s,
                      int64_t d, int64_t g, int bias)
{
    char key[64];
#define GET(name, np) (snprintf(key, sizeof key, "%s.%s", cs, name), get(key, np))
    nn_conv c = {.N = N, .C = C, .H = H, .W = W, .K = K, .R = k, .S = k, .stride_h = s, .stride_w = s, .dil_h = d,
                 .dil_w = d, .groups = g};
    nn_pad_same(H, k, s, d, &c.pad_t, &c.pad_b);
    nn_pad_same(W, k, s, d, &c.pad_l, &c.pad_r);
    CHECK(nn_conv_init(&c) == 0, "%s: %s", cs, dfs_error());
    int64_t nin, nw, nout, nb = 0;
    const float *in = GET("in", &nin), *w = GET("w", &nw), *ref = GET("out", &nout), *dout = GET("dout", NULL);
    const float *b = bias ? GET("b", &nb) : NULL;
    CHECK(nout == N * K * c.P * c.Q, "%s: output size %lld vs %lld", cs, (long long)nout,
          (long long)(N * K * c.P * c.Q));
    float *out = calloc(nout, sizeof(float)), *din = calloc(nin, sizeof(float)), *dw = calloc(nw, sizeof(float));
    float *db = calloc(K, sizeof(float)), *scratch = calloc(nn_conv_scratch(&c) + 1, sizeof(float));
    nn_conv2d_forward(out, in, w, b, &c, scratch);
    nn_conv2d_backward(din, dw, bias ? db : NULL, dout, in, w, &c, scratch);
    snprintf(key, sizeof key, "%s out", cs), compare(key, out, ref, nout);
    const float *rdin = GET("din", NULL), *rdw = GET("dw", NULL);
    snprintf(key, sizeof key, "%s din", cs), compare(key, din, rdin, nin);
    snprintf(key, sizeof key, "%s dw", cs), compare(key, dw, rdw, nw);
    if (bias) {
        const float *rdb = GET("db", NULL);
        snprintf(key, sizeof key, "%s db", cs), compare(key, db, rdb, K);
    }
#undef GET
    free(out), free(din), free(dw), free(db), free(scratch);
}

static void test_conv_vs_torch(void)
{
    conv_case("conv_s2_same", 2, 3, 9, 10, 4, 3, 2, 1, 1, 1);
    conv_case("conv_dil2_grouped", 2, 4, 7, 7, 6, 3, 1, 2, 2, 1);
    conv_case("conv_dil3", 1, 2, 9, 8, 3, 3, 1, 3, 1, 0);
    conv_case("conv_depthwise_s2", 2, 3, 8, 8, 6, 5, 2, 1, 3, 0);
}

static void test_batchnorm_vs_torch(void)
{
    int64_t n;
    const float *in = get("bn_train.in", &n), *gamma = get("bn_train.gamma", NULL), *beta = get("bn_train.beta", NULL);
    float rm[3], rv[3], mean[3], invstd[3], dg[3] = {0}, dbt[3] = {0};
    memcpy(rm, get("bn_train.running_mean0", NULL), sizeof rm);
    memcpy(rv, get("bn_train.running_var0", NULL), sizeof rv);
    float *out = calloc(n, sizeof(float)), *din = calloc(n, sizeof(float));
    nn_batchnorm_forward_train(out, mean, invstd, in, gamma, beta, rm, rv, 0.99f, 1e-3f, 4, 3, 9);
    compare("bn out", out, get("bn_train.out", NULL), n);
    compare("bn running_mean", rm, get("bn_train.running_mean", NULL), 3);
    compare("bn running_var", rv, get("bn_train.running_var", NULL), 3);
    nn_batchnorm_backward_train(din, dg, dbt, get("bn_train.dout", NULL), in, gamma, mean, invstd, 4, 3, 9);
    compare("bn din", din, get("bn_train.din", NULL), n);
    compare("bn dgamma", dg, get("bn_train.dgamma", NULL), 3);
    compare("bn dbeta", dbt, get("bn_train.dbeta", NULL), 3);
    free(out), free(din);
}

static void pool_case(const char *cs, int max, int64_t H, int64_t k, int64_t s)
{
    char key[64];
    nn_pool p = {.N = 2, .C = 3, .H = H, .W = H, .kh = k, .kw = k, .stride_h = s, .stride_w = s};
    nn_pad_same(H, k, s, 1, &p.pad_t, &p.pad_b);
    nn_pad_same(H, k, s, 1, &p.pad_l, &p.pad_r);
    CHECK(nn_pool_init(&p) == 0, "%s: %s", cs, dfs_error());
    int64_t nin, nout;
    snprintf(key, sizeof key, "%s.in", cs);
    const float *in = get(key, &nin);
    snprintf(key, sizeof key, "%s.out", cs);
    const float *ref = get(key, &nout);
    CHECK(nout == 2 * 3 * p.P * p.Q, "%s: output size", cs);
    snprintf(key, sizeof key, "%s.dout", cs);
    const float *dout = get(key, NULL);
    float *out = calloc(nout, sizeof(float)), *din = calloc(nin, sizeof(float));
    int32_t *am = calloc(nout, sizeof(int32_t));
    if (max) {
        nn_maxpool_forward(out, am, in, &p);
        nn_maxpool_backward(din, dout, am, &p);
    } else {
        nn_avgpool_forward(out, in, &p);
        nn_avgpool_backward(din, dout, &p);
    }
    snprintf(key, sizeof key, "%s.din", cs);
    const float *rdin = get(key, NULL);
    snprintf(key, sizeof key, "%s out", cs), compare(key, out, ref, nout);
    snprintf(key, sizeof key, "%s din", cs), compare(key, din, rdin, nin);
    free(out), free(din), free(am);
}

static void test_pool_vs_torch(void)
{
    pool_case("maxpool_2s2_same", 1, 7, 2, 2);
    pool_case("avgpool_3s2_same", 0, 8, 3, 2);
}

static void test_losses_vs_torch(void)
{
    int64_t n;
    const float *t = get("loss.target", &n), *z = get("loss.logit", NULL), *z2 = get("loss.logits2", NULL);
    float d[6], d2[12];
    float L = (float)nn_loss_bce_sigmoid(d, z, t, n);
    compare("bce_sigmoid", &L, get("loss.bce", NULL), 1);
    compare("bce_sigmoid grad", d, get("loss.dbce", NULL), n);
    L = (float)nn_loss_mse_sigmoid(d, z, t, n);
    compare("mse_sigmoid", &L, get("loss.mse", NULL), 1);
    compare("mse_sigmoid grad", d, get("loss.dmse", NULL), n);
    L = (float)nn_loss_bce_softmax2(d2, z2, t, n);
    compare("bce_softmax2", &L, get("loss.bce2", NULL), 1);
    compare("bce_softmax2 grad", d2, get("loss.dbce2", NULL), 2 * n);
}

int main(void)
{
    if (dfs_read_all("tests/fixtures/ops_torch.dft", &FX) != 0) {
        printf("# %s\n", dfs_error());
        return 1;
    }
    RUN(test_conv_vs_torch);
    RUN(test_batchnorm_vs_torch);
    RUN(test_pool_vs_torch);
    RUN(test_losses_vs_torch);
    dfs_record_list_free(&FX);
    return CHECK_DONE();
}
