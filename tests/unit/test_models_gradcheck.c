/* test_models_gradcheck: whole-model finite-difference gradient checks of the five architectures,
 * in inference mode (running statistics, calibrated as the batch statistics of the test batch)
 * and training mode (batch statistics), with each model's study loss, all in our float32 graph.
 *
 * Float32 losses cannot be differenced element by element (one weight moves the loss by less than
 * its rounding), so each check is a DIRECTIONAL derivative along a random +-1 direction d over ONE
 * parameter tensor, with a step h chosen for that tensor (h = min(H_REL (rms + H_FLOOR),
 * DL_TARGET / |<g, d>|): the loss moves by ~DL_TARGET), and Richardson's (4 D(h/2) - D(h)) / 3 of
 * central differences D to cancel the h^2 curvature term (training batchnorm over few values
 * curves the loss strongly). Analytic: <dL/dtheta, w+ - w-> / 2h over the float-rounded steps.
 *
 * Kinks: every ReLU/leaky-ReLU input and max-pool argmax is recorded at the centre, +h and -h.
 * Crossing a kink moves L(+h) - L(-h) away from the linear prediction by at most
 * |dL/dy| min(|p+|, |p-|) for a ReLU input p that changes sign, |dL/dout| times the winners' moves
 * for a pool window whose winner changes (the loss is continuous there); their sum is `bound`.
 * A direction is used only when bound <= 0.1 |derivative| (else the step is quartered, up to
 * SHRINKS times, then a new direction is drawn, MAX_DRAWS; then the next deeper tensor, TRIES).
 * Pass when |numeric - analytic| <= RTOL |analytic| + NOISE_GAIN LOSS_NOISE max(1, |L|) / h + bound.
 * A derivative whose predicted loss change is below the rounding term is checked as ~0 (only
 * |numeric| <= rounding), which is weak: such lines show |diff|/|analytic| far above RTOL.
 * Checked tensors: at CHECK_AT fractions through each model's trainable tensors, both modes; at
 * least MIN_USABLE of the five positions per mode must find a usable direction.
 * GC_ONLY=<arch> GC_SIZE=<n> runs one architecture (for development). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "common.h"
#include "nn/graph.h"
#include "nn/models.h"
#include "nn/ops.h"
#include "rng.h"

#define RTOL 3e-2
#define LOSS_NOISE 2e-6   /* float32 rounding of a whole-model loss, relative */
#define DL_TARGET 1e-3
#define H_REL 1e-2
#define H_FLOOR 1e-2
#define MAX_DRAWS 2
#define SHRINKS 3
#define TRIES 8
#define MIN_USABLE 3
#define CHECK_AT {0.0, 0.25, 0.5, 0.75, 1.0}
#define BATCH 4
#define NOISE_GAIN 3.0   /* Richardson (4 D(h/2) - D(h)) / 3 triples the rounding term */

typedef struct {
    const char *arch;
    nn_graph *g;
    const float *x;
    float target[BATCH];
    int mode;
    /* snapshots of every kink input (ReLU/leaky-ReLU input, max-pool input) and max-pool argmax
     * at +h and -h */
    float *vp, *vm;
    int32_t *ap, *am;
    size_t nv, na;
} model;


static double loss_of(model *m, float *dlogits)
{
    const nn_model_info *info = nn_model_find(m->arch);
    CHECK(nn_graph_forward(m->g, m->x, BATCH, m->mode) == 0, "%s", dfs_error());
    const float *lg = nn_graph_output(m->g);
    if (!strcmp(info->loss, "mse")) return nn_loss_mse_sigmoid(dlogits, lg, m->target, BATCH);
    if (!strcmp(info->loss, "bce")) return nn_loss_bce_sigmoid(dlogits, lg, m->target, BATCH);
    return nn_loss_bce_softmax2(dlogits, lg, m->target, BATCH);
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
    double L = loss_of(m, dl);
    size_t nv, na;
    snapshot(g, m->vp, a0, &nv, &na);
    nn_graph_backward(g, dl);
    double ss = 0;
    for (int64_t i = 0; i < T->n; i++) ss += (double)w0[i] * w0[i];
    double rms = sqrt(ss / (double)T->n), noise = NOISE_GAIN * LOSS_NOISE * fmax(1.0, fabs(L));
    int result = -1, crossed = 0;
    for (int draw = 0; draw < MAX_DRAWS && result < 0; draw++) {
        double an_d = 0;
        for (int64_t i = 0; i < T->n; i++) {
            d[i] = dfs_rng_below(rng, 2) ? 1.0f : -1.0f;
            an_d += (double)gw[i] * d[i];
        }
        double h = H_REL * (rms + H_FLOOR);
        if (fabs(an_d) * h > DL_TARGET) h = DL_TARGET / fabs(an_d);
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
            crossed = c1 + c2;
            if (zero ? bound > noise / h : bound > 0.1 * fabs(an)) continue;
            double tol = RTOL * fabs(an) + noise / h + bound;
            result = fabs(num - an) <= tol;
            CHECK(result, "%s %s %s: numeric %.7g analytic %.7g (|diff| %.3g > tol %.3g, h %.3g, %d kinks crossed)",
                  m->arch, m->mode ? "train" : "eval", T->name, num, an, fabs(num - an), tol, h, crossed);
            printf("# %s %s %s: numeric %.7g analytic %.7g |diff|/|analytic| %.2g (h %.3g, %d kinks crossed)\n",
                   m->arch, m->mode ? "train" : "eval", T->name, num, an, fabs(num - an) / fmax(fabs(an), 1e-30), h,
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

static void check_arch(const char *arch, int64_t size)
{
    nn_graph *g = nn_model_build(arch, size);
    CHECK(g != NULL, "%s", dfs_error());
    if (!g) return;
    dfs_rng rng;
    dfs_rng_derive(&rng, 7, dfs_hash_str(arch));
    nn_graph_alloc_params(g, &rng);
    nn_graph_alloc_train(g);
    nn_graph_set_batch(g, BATCH);
    for (int i = 0; i < g->nnodes; i++) nn_graph_want_grad(g, i, 1);   /* dL/dy at every kink */
    g->no_dropout = 1;
    int64_t nx = BATCH * 3 * size * size;
    float *x = dfs_malloc((size_t)nx * sizeof(float));
    for (int64_t i = 0; i < nx; i++) x[i] = dfs_rng_uniformf(&rng);
    /* running statistics that keep inference-mode activations in range: one training pass */
    for (int i = 0; i < g->nnodes; i++)
        if (g->nodes[i].kind == NN_BATCHNORM) g->nodes[i].momentum = 0.0f;
    CHECK(nn_graph_forward(g, x, BATCH, NN_TRAIN) == 0, "%s", dfs_error());
    for (int i = 0; i < g->nnodes; i++)
        if (g->nodes[i].kind == NN_BATCHNORM) g->nodes[i].momentum = NN_BN_MOMENTUM;
    model m = {arch, g, x, {0, 1, 0, 1}, NN_EVAL, NULL, NULL, NULL, NULL, 0, 0};
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
    }
    CHECK(usable_mode[0] >= MIN_USABLE && usable_mode[1] >= MIN_USABLE,
          "%s: usable positions: %d in inference mode, %d in training mode, fewer than %d", arch, usable_mode[0],
          usable_mode[1], MIN_USABLE);
    printf("# %s: %d of %d directional checks passed, %d tensors skipped as too kinked, %d kinks crossed in those used\n",
           arch, passed, usable, skipped, crossings);
    free(m.vp);
    free(m.vm);
    free(m.ap);
    free(m.am);
    free(x);
    nn_graph_free(g);
}

static void test_meso4(void) { check_arch("meso4", 32); }
static void test_mesoinception4(void) { check_arch("mesoinception4", 32); }
static void test_shallownet(void) { check_arch("shallownet", 24); }
static void test_xception(void) { check_arch("xception", 32); }
static void test_efficientnet_b0(void) { check_arch("efficientnet-b0", 32); }

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
    return CHECK_DONE();
}
