/* test_models_gradcheck: whole-model finite-difference gradient checks of the five architectures,
 * in inference mode (running statistics, calibrated as the batch statistics of the test batch)
 * and training mode (batch statistics), with each model's study loss, all in our float32 graph.
 *
 * Float32 losses cannot be differenced element by element (one weight moves the loss by less than
 * its rounding), so each check is a DIRECTIONAL derivative along a random +-1 direction d over ONE
 * parameter tensor, with a step h chosen for that tensor (h = min(H_REL rms + H_ABS,
 * max(DL_TARGET, rounding) / |<g, d>|): the loss moves by ~DL_TARGET, or more where its rounding
 * needs it, see below), and Richardson's (4 D(h/2) - D(h)) / 3 of
 * central differences D to cancel the h^2 curvature term (training batchnorm over few values
 * curves the loss strongly). Analytic: <dL/dtheta, w+ - w-> / 2h over the float-rounded steps.
 *
 * Kinks: every ReLU/leaky-ReLU input and max-pool argmax is recorded at the centre, +h and -h.
 * Crossing a kink moves L(+h) - L(-h) away from the linear prediction by at most
 * |dL/dy| min(|p+|, |p-|) for a ReLU input p that changes sign, |dL/dout| times the winners' moves
 * for a pool window whose winner changes (the loss is continuous there); their sum is `bound`.
 * A direction is used only when bound <= 0.1 |derivative| and the curvature term that Richardson
 * cancels, 3/4 |D(h) - D(h/2)|, is under a quarter of it (else the step is quartered, up to
 * SHRINKS times, then a new direction is drawn, MAX_DRAWS; then the next deeper tensor, TRIES).
 * Pass when |numeric - analytic| <= RTOL |analytic| + noise / h + bound.
 *
 * Rounding: the noise term is MEASURED per model and mode, not assumed. A whole-model float32
 * loss moves by rounding alone by amounts that differ by orders of magnitude between models
 * (measured spread: meso4 ~1e-8, efficientnet-b0 ~2e-5 in inference mode) and between OpenBLAS
 * kernels, so the fixed guess this replaced let the check flip with OPENBLAS_CORETYPE. NOISE_DRAWS evaluations with every trainable weight moved by
 * a few ulps (their first-order effect, <grad, step>, subtracted) give the spread sigma of one
 * loss evaluation; the Richardson derivative's rounding is then at most sqrt(65/18) sigma / h
 * (its weights on the four losses), taken NOISE_Z times. The step is the largest of DL_TARGET's
 * and the one that keeps that term under RTOL/2 of the derivative, within the tensor's scale.
 * A derivative whose predicted loss change is below the rounding term is checked as ~0 (only
 * |numeric| <= rounding), which is weak: such lines show |diff|/|analytic| far above RTOL.
 *
 * Planted bugs: the check runs again on a copy of the cpu backend whose batchnorm backward is
 * wrong in one way (the training-mode input gradient without its mean term, the inference-mode
 * input gradient 10% too large, dbeta 10% too large), and must fail for meso4 and
 * efficientnet-b0: a check that passes a wrong backward is no check.
 * Checked tensors: at CHECK_AT fractions through each model's trainable tensors, and the deepest
 * batchnorm's gamma and beta, both modes; at least MIN_USABLE of the five positions per mode must
 * find a usable direction.
 * GC_ONLY=<arch> GC_SIZE=<n> runs one architecture (for development). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/common.h"
#include "nn/backend.h"
#include "nn/graph.h"
#include "nn/models.h"
#include "nn/ops.h"
#include "core/rng.h"

#define RTOL 3e-2
#define NOISE_DRAWS 8     /* loss evaluations that measure the rounding spread */
#define NOISE_ULPS 4      /* how far each weight moves for them */
#define NOISE_Z 6.0       /* rounding term: this many measured standard deviations (8 draws) */
#define DL_TARGET 1e-3
#define H_REL 1e-2
#define H_ABS 2e-2     /* steps of tensors near zero (betas, biases): large enough for rounding */
#define MAX_DRAWS 2
#define SHRINKS 3
#define TRIES 8
#define MIN_USABLE 3
#define CHECK_AT {0.0, 0.25, 0.5, 0.75, 1.0}
#define BATCH 4
#define RICHARDSON_NOISE 1.9   /* sqrt(65/18): (4 D(h/2) - D(h)) / 3 over four losses of spread sigma, per unit 1/h */

typedef struct {
    const char *arch;
    nn_graph *g;
    const float *x;
    float target[BATCH];
    int mode;
    double sigma[2];   /* measured rounding spread of one loss evaluation, per mode */
    int planted;       /* a planted-bug run: failures are counted in caught, not reported */
    int caught;
    /* snapshots of every kink input (ReLU/leaky-ReLU input, max-pool input) and max-pool argmax
     * at +h and -h */
    float *vp, *vm;
    int32_t *ap, *am;
    size_t nv, na;
} model;


/* The categorical cross-entropy of the two-way softmax, smooth everywhere: the training loss
 * (Keras's clipped BCE, loss.c) has no gradient where an output saturates, and a random
 * efficientnet-b0 saturates some, so a finite difference would straddle the clip. */
static double ce_softmax2(float *d, const float *z, const float *t, int64_t N)
{
    double sum = 0;
    for (int64_t n = 0; n < N; n++) {
        double z0 = z[2 * n], z1 = z[2 * n + 1], m = z0 > z1 ? z0 : z1;
        double e0 = exp(z0 - m), e1 = exp(z1 - m), lse = m + log(e0 + e1);
        sum += lse - (1.0 - t[n]) * z0 - t[n] * z1;
        if (d) {
            d[2 * n] = (float)((e0 / (e0 + e1) - (1.0 - t[n])) / (double)N);
            d[2 * n + 1] = (float)((e1 / (e0 + e1) - t[n]) / (double)N);
        }
    }
    return sum / (double)N;
}

static double loss_of(model *m, float *dlogits)
{
    const nn_model_info *info = nn_model_find(m->arch);
    CHECK(nn_graph_forward(m->g, m->x, BATCH, m->mode) == 0, "%s", dfs_error());
    const float *lg = nn_graph_output(m->g);
    if (info->loss == NN_LOSS_MSE) return nn_loss_mse_sigmoid(dlogits, lg, m->target, BATCH);
    if (info->loss == NN_LOSS_BCE) return nn_loss_bce_sigmoid(dlogits, lg, m->target, BATCH);
    return ce_softmax2(dlogits, lg, m->target, BATCH);
}

static int is_kink(const nn_node *n) { return n->kind == NN_RELU || n->kind == NN_LEAKY_RELU || n->kind == NN_MAXPOOL; }

/* Copy the kink inputs and argmaxes of the last forward (v, a NULL: only count them). */
static void snapshot(const nn_graph *g, float *v, int32_t *a, size_t *nv, size_t *na)
{
    size_t ov = 0, oa = 0;
    for (int i = 0; i < g->nnodes; i++) {
        const nn_node *n = &g->nodes[i];
        if (!is_kink(n)) continue;
        size_t in_sz = (size_t)(BATCH * nn_node_size(g, n->in[0]));
        if (v) memcpy(v + ov, g->nodes[n->in[0]].out, in_sz * sizeof(float));
        ov += in_sz;
        if (n->kind == NN_MAXPOOL) {
            size_t sz = (size_t)(BATCH * nn_node_size(g, i));
            if (a) memcpy(a + oa, n->argmax, sz * sizeof(int32_t));
            oa += sz;
        }
    }
    *nv = ov;
    *na = oa;
}

/* First-order bound on how much the kinks crossed between -h and +h can move L(+h) - L(-h) away
 * from <grad, step>: a ReLU input k that changes sign moves L by at most |dL/dy_k| |p+ - p-| away
 * from the linear prediction, a max-pool output whose winner differs between -h, 0 and +h by at
 * most |dL/dout| times the winners' changes. dL/dy are the unperturbed backward's (still in the
 * graph: forward does not touch activation gradients). Also counts the crossings. */
static double kink_bound(const model *m, const int32_t *a0, int *crossed)
{
    const nn_graph *g = m->g;
    size_t ov = 0, oa = 0;
    double b = 0;
    *crossed = 0;
    for (int i = 0; i < g->nnodes; i++) {
        const nn_node *n = &g->nodes[i];
        if (!is_kink(n)) continue;
        int64_t in_sz = BATCH * nn_node_size(g, n->in[0]), sz = BATCH * nn_node_size(g, i);
        const float *p = m->vp + ov, *q = m->vm + ov;
        if (n->kind != NN_MAXPOOL) {
            for (int64_t k = 0; k < sz; k++)
                if ((p[k] > 0) != (q[k] > 0)) {
                    (*crossed)++;
                    b += fabs((double)n->dout[k]) * fmin(fabs((double)p[k]), fabs((double)q[k])) *
                         (n->kind == NN_LEAKY_RELU ? 1.0 - n->alpha : 1.0);
                }
        } else {
            int64_t plane = g->nodes[n->in[0]].H * g->nodes[n->in[0]].W, PQ = n->H * n->W;
            for (int64_t k = 0; k < sz; k++) {
                int32_t wa = m->ap[oa + (size_t)k], wb = m->am[oa + (size_t)k], wc = a0[oa + (size_t)k];
                if (wa == wb && wb == wc) continue;
                (*crossed)++;
                int64_t base = (k / PQ) * plane;
                double ch = fabs((double)p[base + wa] - q[base + wa]) + fabs((double)p[base + wb] - q[base + wb]) +
                            fabs((double)p[base + wc] - q[base + wc]);
                b += fabs((double)n->dout[k]) * ch;
            }
        }
        ov += (size_t)in_sz;
        if (n->kind == NN_MAXPOOL) oa += (size_t)sz;
    }
    return b;
}

/* One central difference along d with step h: numeric and analytic derivatives, kink bound (all
 * per unit of h), kinks crossed. Leaves tensor t at w0 - h d. */
static void central(model *m, int t, const float *w0, const float *d, const float *gw, double h, const int32_t *a0,
                    double *num, double *an, double *bound, int *crossed)
{
    nn_graph *g = m->g;
    const nn_tensor *T = &g->tensors[t];
    float *w = nn_tensor_data(g, t);
    size_t nv, na;
    /* the steps actually taken are the float-rounded ones: <g, w+ - w-> / 2h is the analytic
     * value that matches them to first order */
    double step = 0;
    for (int64_t i = 0; i < T->n; i++) {
        float wp = (float)(w0[i] + h * d[i]), wm = (float)(w0[i] - h * d[i]);
        step += (double)gw[i] * ((double)wp - wm);
        w[i] = wp;
    }
    double Lp = loss_of(m, NULL);
    snapshot(g, m->vp, m->ap, &nv, &na);
    for (int64_t i = 0; i < T->n; i++) w[i] = (float)(w0[i] - h * d[i]);
    double Lm = loss_of(m, NULL);
    snapshot(g, m->vm, m->am, &nv, &na);
    *num = (Lp - Lm) / (2 * h);
    *an = step / (2 * h);
    *bound = kink_bound(m, a0, crossed) / (2 * h);
}

/* One directional check of tensor t. Returns 1 passed, 0 failed (a CHECK failure), -1 unusable:
 * no direction and step found whose crossed kinks (kink_bound) stay under a tenth of the
 * derivative while the loss still moves well above its rounding. */
static int check_tensor(model *m, int t, dfs_rng *rng, int *crossings)
{
    nn_graph *g = m->g;
    const nn_tensor *T = &g->tensors[t];
    float *w = nn_tensor_data(g, t), *gw = nn_tensor_grad(g, t);
    float *w0 = dfs_malloc((size_t)T->n * sizeof(float)), *d = dfs_malloc((size_t)T->n * sizeof(float));
    int32_t *a0 = dfs_malloc((m->na + 1) * sizeof(int32_t));
    memcpy(w0, w, (size_t)T->n * sizeof(float));
    float dl[2 * BATCH];
    nn_graph_zero_grad(g);
    loss_of(m, dl);
    size_t nv, na;
    snapshot(g, m->vp, a0, &nv, &na);
    CHECK(nn_graph_backward(g, dl) == 0, "%s", dfs_error());
    double ss = 0;
    for (int64_t i = 0; i < T->n; i++) ss += (double)w0[i] * w0[i];
    double rms = sqrt(ss / (double)T->n), noise = NOISE_Z * RICHARDSON_NOISE * m->sigma[m->mode];
    int result = -1, crossed = 0;
    for (int draw = 0; draw < MAX_DRAWS && result < 0; draw++) {
        double an_d = 0;
        for (int64_t i = 0; i < T->n; i++) {
            d[i] = dfs_rng_below(rng, 2) ? 1.0f : -1.0f;
            an_d += (double)gw[i] * d[i];
        }
        double h_max = H_REL * rms + H_ABS, h = h_max;
        if (fabs(an_d) * h > DL_TARGET) {
            /* the loss moves by ~DL_TARGET, or more where rounding needs it (noise / h <= RTOL/2 |an|) */
            h = fmax(DL_TARGET, 2 * noise / RTOL) / fabs(an_d);
            if (h > h_max) h = h_max;
        }
        int zero = fabs(an_d) * h <= noise;   /* a derivative too small to tell from rounding: test |numeric| */
        for (int shrink = 0; shrink < SHRINKS && result < 0; shrink++, h /= 4) {
            if (!zero && noise / h > 0.1 * fabs(an_d)) break;   /* smaller steps only add rounding */
            /* Richardson: central differences at h and h/2 combined to cancel the h^2 term (training
             * batchnorm over a few values curves the loss strongly) */
            double n1, a1, b1, n2, a2, b2;
            int c1, c2;
            central(m, t, w0, d, gw, h, a0, &n1, &a1, &b1, &c1);
            central(m, t, w0, d, gw, h / 2, a0, &n2, &a2, &b2, &c2);
            double num = (4 * n2 - n1) / 3, an = (4 * a2 - a1) / 3, bound = (4 * b2 + b1) / 3;
            if (getenv("GC_DEBUG")) printf("# D(h) %.7g D(h/2) %.7g a1 %.7g a2 %.7g\n", n1, n2, a1, a2);
            crossed = c1 + c2;
            if (zero ? bound > noise / h : bound > 0.1 * fabs(an)) continue;
            /* curvature: the h^2 term (3/4 of D(h) - D(h/2)) is what Richardson cancels; when it is a
             * large share of the derivative, the h^4 term left over is not small either (kinks
             * crossed move the two differences by up to their bounds) */
            if (!zero && fabs(n1 - n2) > 0.25 * fabs(an) + noise / h + b1 + b2) continue;
            double tol = RTOL * fabs(an) + noise / h + bound;
            result = fabs(num - an) <= tol;
            if (m->planted) m->caught += !result;
            else
                CHECK(result, "%s %s %s: numeric %.7g analytic %.7g (|diff| %.3g > tol %.3g, h %.3g, %d kinks crossed)",
                      m->arch, m->mode ? "train" : "eval", T->name, num, an, fabs(num - an), tol, h, crossed);
            printf("# %s%s %s %s: numeric %.7g analytic %.7g |diff|/|analytic| %.2g (h %.3g, %d kinks crossed)\n",
                   m->planted ? "planted bug: " : "", m->arch, m->mode ? "train" : "eval", T->name, num, an, fabs(num - an) / fmax(fabs(an), 1e-30), h,
                   crossed);
        }
    }
    memcpy(w, w0, (size_t)T->n * sizeof(float));
    *crossings = crossed;
    free(w0);
    free(d);
    free(a0);
    return result;
}

/* The spread of one loss evaluation from rounding alone (see the header): NOISE_DRAWS losses with
 * every trainable weight moved by +-NOISE_ULPS ulps, less their first-order change <grad, step>. */
static double measure_sigma(model *m, dfs_rng *rng)
{
    nn_graph *g = m->g;
    float dl[2 * BATCH];
    nn_graph_zero_grad(g);
    loss_of(m, dl);
    CHECK(nn_graph_backward(g, dl) == 0, "%s", dfs_error());
    size_t total = 0;
    for (int t = 0; t < g->ntensors; t++)
        if (!g->tensors[t].is_stat) total += (size_t)g->tensors[t].n;
    float *saved = dfs_malloc(total * sizeof *saved);
    double r[NOISE_DRAWS], mean = 0;
    for (int k = 0; k < NOISE_DRAWS; k++) {
        double lin = 0;
        size_t o = 0;
        for (int t = 0; t < g->ntensors; t++) {
            if (g->tensors[t].is_stat) continue;
            float *w = nn_tensor_data(g, t), *gw = nn_tensor_grad(g, t);
            for (int64_t i = 0; i < g->tensors[t].n; i++) {
                float w0 = w[i], w1 = w0;
                int up = (int)dfs_rng_below(rng, 2);
                for (int u = 0; u < NOISE_ULPS; u++) w1 = nextafterf(w1, up ? INFINITY : -INFINITY);
                saved[o++] = w0;
                w[i] = w1;
                lin += (double)gw[i] * ((double)w1 - w0);
            }
        }
        r[k] = loss_of(m, NULL) - lin;
        mean += r[k] / NOISE_DRAWS;
        o = 0;
        for (int t = 0; t < g->ntensors; t++) {
            if (g->tensors[t].is_stat) continue;
            float *w = nn_tensor_data(g, t);
            for (int64_t i = 0; i < g->tensors[t].n; i++) w[i] = saved[o++];
        }
    }
    free(saved);
    double ss = 0;
    for (int k = 0; k < NOISE_DRAWS; k++) ss += (r[k] - mean) * (r[k] - mean);
    return sqrt(ss / (NOISE_DRAWS - 1));
}

/* ---- planted bugs: the cpu backend with one batchnorm backward made wrong ---- */
enum { PLANT_NONE, PLANT_TRAIN_DIN_MEAN, PLANT_EVAL_DIN, PLANT_DBETA };
static int plant;
static nn_backend planted_table;

static void planted_bn_backward_train(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                                      const float *gamma, const float *save_mean, const float *save_invstd, int64_t N,
                                      int64_t C, int64_t HW)
{
    nn_backend_cpu()->batchnorm_backward_train(din, dgamma, dbeta, dout, in, gamma, save_mean, save_invstd, N, C, HW);
    for (int64_t c = 0; c < C; c++) {
        double sum = 0;
        for (int64_t n = 0; n < N; n++)
            for (int64_t i = 0; i < HW; i++) sum += dout[(n * C + c) * HW + i];
        if (plant == PLANT_TRAIN_DIN_MEAN && din) {   /* the - mean(dout) term left out */
            float add = (float)((gamma ? gamma[c] : 1.0f) * save_invstd[c] * sum / (double)(N * HW));
            for (int64_t n = 0; n < N; n++)
                for (int64_t i = 0; i < HW; i++) din[(n * C + c) * HW + i] += add;
        }
        if (plant == PLANT_DBETA && dbeta) dbeta[c] += (float)(0.1 * sum);
    }
}

static void planted_bn_backward_eval(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                                     const float *gamma, const float *running_mean, const float *running_var, float eps,
                                     int64_t N, int64_t C, int64_t HW)
{
    nn_backend_cpu()->batchnorm_backward_eval(din, dgamma, dbeta, dout, in, gamma, running_mean, running_var, eps, N, C,
                                              HW);
    for (int64_t c = 0; c < C; c++) {
        double sum = 0, scale = (gamma ? gamma[c] : 1.0f) / sqrt((double)running_var[c] + eps);
        for (int64_t n = 0; n < N; n++)
            for (int64_t i = 0; i < HW; i++) {
                int64_t k = (n * C + c) * HW + i;
                sum += dout[k];
                if (plant == PLANT_EVAL_DIN && din) din[k] += (float)(0.1 * scale * dout[k]);   /* 10% too large */
            }
        if (plant == PLANT_DBETA && dbeta) dbeta[c] += (float)(0.1 * sum);
    }
}

/* Checks one architecture on backend be (NULL: the cpu's). sigma: the measured rounding spread
 * per mode, measured here when sigma[0] < 0 (a planted-bug run reuses the clean run's: the
 * forward is the same). Returns how many checks failed in a planted run. */
static int check_arch_on(const char *arch, int64_t size, const nn_backend *be, double sigma[2])
{
    nn_graph *g = nn_model_build(arch, size);
    CHECK(g != NULL, "%s", dfs_error());
    if (!g) return 0;
    dfs_rng rng;
    dfs_rng_derive(&rng, 7, dfs_hash_str(arch));
    /* Glorot-uniform everywhere: efficientnet-b0's own initialisers (VarianceScaling 2.0) with
     * random statistics blow its logits up to where float32 differences mean nothing; this test
     * checks backward, which does not depend on where the weights came from */
    for (int t = 0; t < g->ntensors; t++) g->tensors[t].init = NN_INIT_GLOROT_UNIFORM;
    CHECK(nn_graph_alloc_params(g, &rng) == 0, "alloc_params: %s", dfs_error());
    CHECK(nn_graph_alloc_train(g) == 0, "alloc_train: %s", dfs_error());
    if (be) CHECK(nn_graph_set_backend(g, be) == 0, "%s", dfs_error());
    CHECK(nn_graph_set_batch(g, BATCH) == 0, "set_batch: %s", dfs_error());
    for (int i = 0; i < g->nnodes; i++) nn_graph_want_grad(g, i, 1);   /* dL/dy at every kink */
    g->run.no_dropout = 1;
    int64_t nx = BATCH * 3 * size * size;
    float *x = dfs_malloc((size_t)nx * sizeof(float));
    for (int64_t i = 0; i < nx; i++) x[i] = dfs_rng_uniformf(&rng);
    /* running statistics that keep inference-mode activations in range: one training pass */
    for (int i = 0; i < g->nnodes; i++)
        if (g->nodes[i].kind == NN_BATCHNORM) g->nodes[i].momentum = 0.0f;
    CHECK(nn_graph_forward(g, x, BATCH, NN_TRAIN) == 0, "%s", dfs_error());
    for (int i = 0; i < g->nnodes; i++)
        if (g->nodes[i].kind == NN_BATCHNORM) g->nodes[i].momentum = NN_BN_MOMENTUM;
    model m = {.arch = arch, .g = g, .x = x, .target = {0, 1, 0, 1}, .mode = NN_EVAL, .planted = be != NULL};
    snapshot(g, NULL, NULL, &m.nv, &m.na);
    m.vp = dfs_malloc(m.nv * sizeof(float));
    m.vm = dfs_malloc(m.nv * sizeof(float));
    m.ap = dfs_malloc((m.na + 1) * sizeof(int32_t));
    m.am = dfs_malloc((m.na + 1) * sizeof(int32_t));
    /* trainable tensors at CHECK_AT positions through the network; where a tensor admits no usable
     * direction (kinks everywhere) the next deeper one is tried, up to TRIES tensors */
    int train[8192], nt = 0, passed = 0, usable = 0, usable_mode[2] = {0, 0}, crossings = 0, cross = 0, skipped = 0;
    for (int t = 0; t < g->ntensors && nt < 8192; t++)
        if (!g->tensors[t].is_stat) train[nt++] = t;
    static const double at[] = CHECK_AT;
    for (int mode = NN_EVAL; mode <= NN_TRAIN; mode++) {
        m.mode = mode;
        if (sigma[0] < 0 || sigma[1] < 0) {
            sigma[mode] = measure_sigma(&m, &rng);
            printf("# %s %s: rounding spread of the loss %.3g\n", arch, mode ? "train" : "eval", sigma[mode]);
        }
        m.sigma[mode] = sigma[mode];
        for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
            int r = -1, k0 = (int)(at[i] * (nt - 1));
            for (int k = k0; k < nt && k < k0 + TRIES && r < 0; k++) {
                r = check_tensor(&m, train[k], &rng, &cross);
                skipped += r < 0;
            }
            usable += r >= 0;
            usable_mode[mode] += r >= 0;
            passed += r == 1;
            crossings += r >= 0 ? cross : 0;
        }
        /* and a batchnorm's own parameters: a wrong dgamma or dbeta moves no other gradient, so the
         * positions above may miss it (the deepest batchnorm: fewest kinks after it) */
        for (int i = g->nnodes - 1; i >= 0; i--) {
            const nn_node *n = &g->nodes[i];
            if (n->kind != NN_BATCHNORM || n->w < 0 || n->b < 0) continue;
            int rg = check_tensor(&m, n->w, &rng, &cross), rb = check_tensor(&m, n->b, &rng, &cross);
            passed += (rg == 1) + (rb == 1);
            usable += (rg >= 0) + (rb >= 0);
            break;
        }
    }
    if (!m.planted)
        CHECK(usable_mode[0] >= MIN_USABLE && usable_mode[1] >= MIN_USABLE,
          "%s: usable positions: %d in inference mode, %d in training mode, fewer than %d", arch, usable_mode[0],
          usable_mode[1], MIN_USABLE);
    printf("# %s%s: %d of %d directional checks passed, %d tensors skipped as too kinked, %d kinks crossed in those used\n",
           m.planted ? "planted bug: " : "", arch, passed, usable, skipped, crossings);
    free(m.vp);
    free(m.vm);
    free(m.ap);
    free(m.am);
    free(x);
    nn_graph_free(g);
    return m.caught;
}

static void check_arch(const char *arch, int64_t size)
{
    double sigma[2] = {-1, -1};
    check_arch_on(arch, size, NULL, sigma);
}

/* Each planted batchnorm bug must make the architecture's check fail. */
static void check_planted(const char *arch, int64_t size)
{
    double sigma[2] = {-1, -1};
    check_arch_on(arch, size, NULL, sigma);
    planted_table = *nn_backend_cpu();
    planted_table.batchnorm_backward_train = planted_bn_backward_train;
    planted_table.batchnorm_backward_eval = planted_bn_backward_eval;
    static const char *const names[] = {"", "training-mode din without its mean term", "inference-mode din 10% large",
                                        "dbeta 10% large"};
    for (plant = PLANT_TRAIN_DIN_MEAN; plant <= PLANT_DBETA; plant++) {
        int caught = check_arch_on(arch, size, &planted_table, sigma);
        CHECK(caught > 0, "%s: the planted batchnorm bug (%s) passed every check", arch, names[plant]);
        printf("# %s: planted bug (%s) failed %d checks\n", arch, names[plant], caught);
    }
    plant = PLANT_NONE;
}

static void test_meso4(void) { check_arch("meso4", 32); }
static void test_mesoinception4(void) { check_arch("mesoinception4", 32); }
static void test_shallownet(void) { check_arch("shallownet", 24); }
static void test_xception(void) { check_arch("xception", 32); }
static void test_efficientnet_b0(void) { check_arch("efficientnet-b0", 32); }
static void test_planted_bugs_meso4(void) { check_planted("meso4", 32); }
static void test_planted_bugs_efficientnet_b0(void) { check_planted("efficientnet-b0", 32); }

int main(void)
{
    const char *only = getenv("GC_ONLY");
    if (only) {
        check_arch(only, getenv("GC_SIZE") ? atoi(getenv("GC_SIZE")) : 32);
        return CHECK_DONE();
    }
    RUN(test_meso4);
    RUN(test_mesoinception4);
    RUN(test_shallownet);
    RUN(test_xception);
    RUN(test_efficientnet_b0);
    RUN(test_planted_bugs_meso4);
    RUN(test_planted_bugs_efficientnet_b0);
    return CHECK_DONE();
}
