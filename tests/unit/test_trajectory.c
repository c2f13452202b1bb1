/* test_trajectory: the trainer (nn_train_run) followed for 20 steps of stage 1 (scratch), stage 2
 * (transfer) and stage 3 (merge) against a PyTorch restatement of the study's Keras 2 / TF 1.x
 * training loop (tests/make-fixtures-trajectory.py: Adam as Keras, the clipped loss, frozen layers,
 * frozen batchnorm on the batch's statistics without moving-statistics updates), from the same
 * initial weights (the fixtures' hash rule, handed to the trainer as a checkpoint) on the same
 * batches with dropout off.
 *
 * Tolerance, per tensor: NOISE_FACTOR x the largest |float32 - float64| the fixture measured
 * over the whole tensor (the same PyTorch trajectory run in both precisions), plus
 * ULPS ulps of each reference value. Adam turns rounding on small gradients into moves of order
 * lr, so the float32 spread is the scale of what an exact float32 implementation may differ by; the
 * factor covers that our float32 and PyTorch's differ in summation order, a second draw of that
 * spread. A tensor that must not move (stage 2's frozen layers and statistics) has no noise and
 * is compared within ULPS ulps. Keras's Adam step counter advanced twice per step (the old bug)
 * moves every trained weight by 0.74..0.9 of Keras's amount in the early steps and fails this by
 * orders of magnitude.
 * Only meso4 is followed here yet. efficientnet-b0 (ARCH=efficientnet-b0 with the fixture script,
 * 32 px, batch 8, lr 1e-4) agreed within 4.4 x its float32 spread in every tensor of stages 2 and 3
 * and all but one of stage 1, where block4a.se_reduce.bias (two elements, so a poor estimate of
 * its own spread) was 8.3 x off; a better noise estimate for small tensors is still to do. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "common.h"
#include "fixture_hash.h"
#include "rng.h"
#include "stream.h"
#include "nn/checkpoint.h"
#include "nn/graph.h"
#include "nn/models.h"
#include "nn/trainer.h"

#define NOISE_FACTOR 8.0
#define ULPS 4.0

static char dir[64];

static const dfs_record *find(const dfs_record_list *l, const char *name)
{
    return dfs_record_list_find(l, "name", name);
}

static double ulp(double x)
{
    float f = fabsf((float)x);
    return (double)nextafterf(f, INFINITY) - f;
}

static long meta_long(const dfs_record *r, const char *key)
{
    char *s = dfs_meta_dup(r, key);
    long v = -1;
    if (!s || dfs_parse_long(s, 1, 100000, &v) != 0) v = -1;
    free(s);
    return v;
}

/* Every tensor from the fixture's hash rule; -1 when a name or shape differs. */
static int set_weights(nn_graph *g, const dfs_record_list *fx)
{
    for (int t = 0; t < g->ntensors; t++) {
        const nn_tensor *T = &g->tensors[t];
        char nm[160];
        snprintf(nm, sizeof nm, "spec.%s", T->name);
        const dfs_record *r = find(fx, nm);
        CHECK(r && r->dtype == DFS_F64 && dfs_record_elems(r) == 3, "fixture has no tensor %s", T->name);
        if (!(r && r->dtype == DFS_F64 && dfs_record_elems(r) == 3)) return -1;
        const double *spec = r->data;
        float *d = nn_tensor_data(g, t);
        for (int64_t j = 0; j < T->n; j++) d[j] = hash_value((uint64_t)spec[0], (uint64_t)j, spec[1], spec[2]);
    }
    return 0;
}

/* Compare the weights and statistics of `got` with stage `stage` of the fixture. */
static void compare_stage(const char *arch, int stage, const nn_graph *got, const dfs_record_list *fx)
{
    int compared = 0;
    double worst_ratio = 0;   /* |c - ref| / (largest noise of the tensor), over tensors with noise */
    const char *worst_at = "";
    for (int t = 0; t < got->ntensors; t++) {
        const nn_tensor *T = &got->tensors[t];
        char ni[160], nr[160], nn[160], nx[160];
        snprintf(ni, sizeof ni, "s%d.idx.%s", stage, T->name);
        snprintf(nr, sizeof nr, "s%d.ref.%s", stage, T->name);
        snprintf(nn, sizeof nn, "s%d.noise.%s", stage, T->name);
        snprintf(nx, sizeof nx, "s%d.noisemax.%s", stage, T->name);
        const dfs_record *ri = find(fx, ni), *rr = find(fx, nr), *rn = find(fx, nn), *rx = find(fx, nx);
        int ok = ri && rr && rn && ri->dtype == DFS_I64 && rr->dtype == DFS_F64 && rn->dtype == DFS_F64 &&
                 dfs_record_elems(ri) == dfs_record_elems(rr) && dfs_record_elems(ri) == dfs_record_elems(rn) && rx && rx->dtype == DFS_F64 &&
                 dfs_record_elems(rx) == 1;
        CHECK(ok, "%s stage %d: fixture lacks %s", arch, stage, T->name);
        if (!ok) continue;
        const int64_t *idx = ri->data;
        const double *ref = rr->data, *noise = rn->data;
        int64_t m = (int64_t)dfs_record_elems(ri);
        double nmax = ((const double *)rx->data)[0];
        for (int64_t k = 0; k < m; k++) nmax = fmax(nmax, noise[k]);
        const float *c = nn_tensor_data((nn_graph *)got, t);
        int64_t bad = 0, at = -1;
        double excess = 0, dmax = 0;
        for (int64_t k = 0; k < m; k++) {
            if (idx[k] < 0 || idx[k] >= T->n) {
                bad++;
                continue;
            }
            double d = fabs((double)c[idx[k]] - ref[k]), tol = NOISE_FACTOR * nmax + ULPS * ulp(ref[k]);
            dmax = fmax(dmax, d);
            if (d > tol && (at < 0 || d - tol > excess)) {
                excess = d - tol;
                at = k;
            }
        }
        if (nmax > 0 && dmax / nmax > worst_ratio) {
            worst_ratio = dmax / nmax;
            worst_at = T->name;
        }
        CHECK(bad == 0, "%s stage %d: %s: fixture indices out of range", arch, stage, T->name);
        CHECK(at < 0, "%s stage %d: %s[%lld] is %.9g, the reference %.9g (float32 noise up to %.3g in this tensor)",
              arch, stage, T->name, at < 0 ? 0LL : (long long)idx[at], at < 0 ? 0.0 : (double)c[idx[at]],
              at < 0 ? 0.0 : ref[at], nmax);
        compared++;
    }
    CHECK(compared == got->ntensors, "%s stage %d: %d of %d tensors compared", arch, stage, compared, got->ntensors);
    printf("# %s stage %d: %d tensors; largest |ours - reference| / largest float32 noise %.3g (%s)\n", arch, stage,
           compared, worst_ratio, worst_at);
}

static void check_arch(const char *arch)
{
    char fxp[256], trp[256], mxp[256];
    snprintf(fxp, sizeof fxp, "tests/fixtures/trajectory-%s.dft", arch);
    snprintf(trp, sizeof trp, "tests/fixtures/trajectory-%s-train.dft", arch);
    snprintf(mxp, sizeof mxp, "tests/fixtures/trajectory-%s-mix.dft", arch);
    dfs_record_list fx;
    if (dfs_read_all(fxp, &fx) != 0) {
        CHECK(0, "%s", dfs_error());
        return;
    }
    long size = meta_long(&fx.v[0], "size"), batch = meta_long(&fx.v[0], "batch"), steps = meta_long(&fx.v[0], "steps");
    char *lr_s = dfs_meta_dup(&fx.v[0], "lr"), *loss = dfs_meta_dup(&fx.v[0], "loss");
    double lr = 0;
    int hdr = size > 0 && batch > 0 && steps >= 20 && lr_s && loss && !dfs_parse_double(lr_s, &lr) && lr > 0;
    CHECK(hdr, "%s: bad fixture header", fxp);
    nn_graph *g = hdr ? nn_model_build(arch, size) : NULL;
    if (g) {
        dfs_rng rng;
        dfs_rng_seed(&rng, 1);
        nn_graph_alloc_params(g, &rng);
    }
    char init[160];
    snprintf(init, sizeof init, "%s/%s.init.ckpt", dir, arch);
    if (g && set_weights(g, &fx) == 0 && nn_checkpoint_save(g, arch, size, NULL, NULL, init) == 0) {
        for (int stage = 1; stage <= 3; stage++) {
            char out[160], last[160], log[160];
            snprintf(out, sizeof out, "%s/%s.s%d.ckpt", dir, arch, stage);
            snprintf(last, sizeof last, "%s/%s.s%d.last.ckpt", dir, arch, stage);
            snprintf(log, sizeof log, "%s/%s.s%d.log.tsv", dir, arch, stage);
            nn_train_opts o;
            memset(&o, 0, sizeof o);
            o.stage = stage;
            if (stage == 1) {
                o.arch = arch;
                o.size = size;
                o.init = init;
                o.epochs = (int)steps;   /* one batch per epoch */
            } else {
                o.from = init;
                o.epochs = 1;
                o.steps = (int)steps;
            }
            o.train = trp;
            o.val = trp;
            o.mix = mxp;
            o.val_mix = mxp;
            o.out = out;
            o.last = last;
            o.log = log;
            o.batch = (int)batch;
            o.lr = lr;
            o.loss = loss;
            o.seed = 3;
            o.quiet = 1;
            o.no_dropout = 1;
            int rc = nn_train_run(&o);
            CHECK(rc == 0, "%s stage %d: %s", arch, stage, dfs_error());
            if (rc != 0) continue;
            nn_ckpt_info info;
            nn_graph *got = nn_checkpoint_load(last, arch, &info);
            CHECK(got != NULL, "%s", dfs_error());
            if (!got) continue;
            compare_stage(arch, stage, got, &fx);
            nn_ckpt_info_free(&info);
            nn_graph_free(got);
        }
    } else {
        CHECK(0, "%s: could not set up the initial weights: %s", arch, dfs_error());
    }
    nn_graph_free(g);
    free(lr_s);
    free(loss);
    dfs_record_list_free(&fx);
}

static void test_meso4(void) { check_arch("meso4"); }

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/test_trajectory.XXXXXX");
    if (!mkdtemp(dir)) return 1;
    RUN(test_meso4);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) return 1;
    return CHECK_DONE();
}
