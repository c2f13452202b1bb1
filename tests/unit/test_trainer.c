/* test_trainer: stage 2 (transfer) changes only the head; stage 3 (merge) changes the rest too;
 * Adam's first step and step counter as Keras's; batch assembly and input checks. Tiny 64x64
 * meso4 runs on generated images. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "core/common.h"
#include "core/rng.h"
#include "study/scoretsv.h"
#include "core/stream.h"
#include "core/stream_index.h"
#include "nn/batch.h"
#include "nn/checkpoint.h"
#include "nn/models.h"
#include "nn/ops.h"
#include "study/trainer.h"

static char dir[64];

static void path(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", dir, name);
}

/* n images of side s, labels alternating 0/1 (or `label` for all when >= -1 and != 2); fakes
 * brighter so there is something to learn. */
static void write_set(const char *name, int n, int s, int label, uint64_t seed)
{
    char p[128];
    path(p, sizeof p, name);
    dfs_out o;
    dfs_out_open(&o, p, 1, 1);
    dfs_record r;
    dfs_record_init(&r);
    uint64_t dims[3] = {(uint64_t)s, (uint64_t)s, 3};
    dfs_record_shape(&r, DFS_U8, 3, dims);
    dfs_rng rng;
    dfs_rng_seed(&rng, seed);
    for (int i = 0; i < n; i++) {
        r.label = label == 2 ? (i & 1) : label;
        uint8_t *d = r.data;
        for (int k = 0; k < s * s * 3; k++) d[k] = (uint8_t)(dfs_rng_below(&rng, 128) + (r.label == 1 ? 100 : 0));
        char key[32];
        snprintf(key, sizeof key, "t/v%d/f%d", i / 2, i);
        dfs_meta_clear(&r);
        dfs_meta_set(&r, "key", key);
        dfs_meta_set(&r, "dataset", "t");
        dfs_write_record(&o, &r);
    }
    dfs_out_commit(&o);
    dfs_record_free(&r);
}

static nn_train_opts base_opts(char bufs[][128])
{
    nn_train_opts o;
    memset(&o, 0, sizeof o);
    path(bufs[0], 128, "train.dft");
    path(bufs[1], 128, "val.dft");
    path(bufs[2], 128, "mix.dft");
    o.train = bufs[0];
    o.val = bufs[1];
    o.mix = bufs[2];
    o.val_mix = bufs[2];
    o.seed = 5;
    o.lr = -1;
    o.batch = 4;
    o.epochs = 1;
        return o;
}

/* Options of a stage-1 meso4 run (seed 5) writing <stem>.ckpt, <stem>.last.ckpt and <stem>.log.tsv */
static nn_train_opts stage1_opts(char b[6][128], const char *stem)
{
    nn_train_opts o = base_opts(b);
    o.stage = NN_STAGE_SCRATCH;
    o.arch = "meso4";
    snprintf(b[3], 128, "%s/%s.ckpt", dir, stem);
    snprintf(b[4], 128, "%s/%s.last.ckpt", dir, stem);
    snprintf(b[5], 128, "%s/%s.log.tsv", dir, stem);
    o.out = b[3];
    o.last = b[4];
    o.log = b[5];
    return o;
}

static int is_head(const nn_model_info *m, const nn_graph *g, const nn_tensor *t)
{
    for (int k = 0; m->head[k]; k++)
        if (!strcmp(g->nodes[t->node].name, m->head[k])) return 1;
    return 0;
}

static void test_transfer_and_merge(void)
{
    char b[6][128];
    nn_train_opts o = stage1_opts(b, "m1");
    CHECK(nn_train_run(&o) == 0, "stage 1: %s", dfs_error());
    char m1[128];
    snprintf(m1, sizeof m1, "%s", o.out);
    const char *modes[2] = {"m2", "m3"};
    nn_graph *g1 = nn_checkpoint_load(m1, "meso4", NULL);
    CHECK(g1 != NULL, "%s", dfs_error());
    const nn_model_info *m = nn_model_find("meso4");
    for (int s = 0; s < 2 && g1; s++) {
        nn_train_opts o2 = base_opts(b);
        o2.stage = s ? NN_STAGE_MERGE : NN_STAGE_TRANSFER;
        o2.from = m1;
        o2.steps = 4;
        char out[128], last[128], log[128];
        snprintf(out, sizeof out, "%s/%s.ckpt", dir, modes[s]);
        snprintf(last, sizeof last, "%s/%s.last.ckpt", dir, modes[s]);
        snprintf(log, sizeof log, "%s/%s.log.tsv", dir, modes[s]);
        o2.out = out;
        o2.last = last;
        o2.log = log;
        CHECK(nn_train_run(&o2) == 0, "stage %d: %s", o2.stage, dfs_error());
        nn_graph *g2 = nn_checkpoint_load(out, "meso4", NULL);
        CHECK(g2 != NULL, "%s", dfs_error());
        if (!g2) continue;
        int head_changed = 0, body_changed = 0, body_stats_changed = 0;
        for (int t = 0; t < g1->ntensors; t++) {
            const nn_tensor *T = &g1->tensors[t];
            int same = !memcmp(nn_tensor_data(g1, t), nn_tensor_data(g2, t), (size_t)T->n * sizeof(float));
            if (is_head(m, g1, T)) head_changed += !same;
            else if (T->is_stat) body_stats_changed += !same;
            else body_changed += !same;
            if (s == 0 && !T->is_stat)
                CHECK(g2->tensors[t].trainable == is_head(m, g1, T), "%s trainable=%d", T->name, g2->tensors[t].trainable);
        }
        CHECK(head_changed == 4, "%s: %d head tensors changed, expected 4", modes[s], head_changed);
        if (s == 0) {
            CHECK(body_changed == 0, "transfer changed %d body parameters", body_changed);
            CHECK(body_stats_changed == 0, "transfer changed %d batchnorm statistics", body_stats_changed);
        } else {
            CHECK(body_changed > 10, "merge changed only %d body parameters", body_changed);
            CHECK(body_stats_changed > 0, "merge left the batchnorm statistics");
        }
        nn_graph_free(g2);
    }
    nn_graph_free(g1);
}

/* whole-file equality */
static int same_file(const char *a, const char *b)
{
    FILE *x = fopen(a, "rb"), *y = fopen(b, "rb");
    int same = x && y, ca, cb;
    while (same) {
        ca = getc(x);
        cb = getc(y);
        if (ca != cb) same = 0;
        if (ca == EOF || cb == EOF) break;
    }
    if (x) fclose(x);
    if (y) fclose(y);
    return same;
}

/* run NAME: stage 1 meso4, `epochs` epochs, precise batchnorm over `bn` batches (< 0 off) */
static int run_named(const char *name, int epochs, int bn, int resume)
{
    char b[6][128];
    nn_train_opts o = stage1_opts(b, name);
    o.epochs = epochs;
    o.resume = resume;
    o.bn_recalibrate = bn >= 0;
    o.bn_batches = bn >= 0 ? bn : 0;
    return nn_train_run(&o);
}

/* --bn-recalibrate changes the batchnorm statistics only: every weight, and so the training
 * trajectory, is that of a run without it; a resumed run ends with the same files */
static void test_bn_recalibrate(void)
{
    CHECK(run_named("plain", 2, -1, 0) == 0, "%s", dfs_error());
    CHECK(run_named("precise", 2, 0, 0) == 0, "%s", dfs_error());
    CHECK(run_named("two", 2, 2, 0) == 0, "%s", dfs_error());
    char a[128], b[128], c[128];
    snprintf(a, sizeof a, "%s/plain.last.ckpt", dir);
    snprintf(b, sizeof b, "%s/precise.last.ckpt", dir);
    snprintf(c, sizeof c, "%s/two.last.ckpt", dir);
    nn_graph *ga = nn_checkpoint_load(a, "meso4", NULL), *gb = nn_checkpoint_load(b, "meso4", NULL),
             *gc = nn_checkpoint_load(c, "meso4", NULL);
    CHECK(ga && gb && gc, "%s", dfs_error());
    if (ga && gb && gc) {
        int weights_differ = 0, stats_differ = 0, stats_differ_two = 0, nstats = 0;
        for (int t = 0; t < ga->ntensors; t++) {
            size_t bytes = (size_t)ga->tensors[t].n * sizeof(float);
            int same = !memcmp(nn_tensor_data(ga, t), nn_tensor_data(gb, t), bytes);
            if (ga->tensors[t].is_stat) {
                nstats++;
                stats_differ += !same;
                stats_differ_two += !!memcmp(nn_tensor_data(gb, t), nn_tensor_data(gc, t), bytes);
            } else {
                weights_differ += !same;
                weights_differ += !!memcmp(nn_tensor_data(gb, t), nn_tensor_data(gc, t), bytes);
            }
        }
        CHECK(weights_differ == 0, "%d weight tensors differ from the run without the pass", weights_differ);
        CHECK(nstats > 0 && stats_differ == nstats, "%d of %d statistics tensors recalibrated", stats_differ, nstats);
        /* 2 batches of 4 of the 16 training images are not the whole set */
        CHECK(stats_differ_two == nstats, "%d of %d statistics differ between 2 batches and all", stats_differ_two,
              nstats);
    }
    nn_graph_free(ga);
    nn_graph_free(gb);
    nn_graph_free(gc);
    /* one epoch, then resumed to two: the same last checkpoint, byte for byte */
    CHECK(run_named("resumed", 1, 0, 0) == 0, "%s", dfs_error());
    CHECK(run_named("resumed", 2, 0, 1) == 0, "%s", dfs_error());
    snprintf(c, sizeof c, "%s/resumed.last.ckpt", dir);
    CHECK(same_file(b, c), "the resumed run's last checkpoint differs");
    /* a run without the pass cannot resume one with it */
    CHECK(run_named("resumed", 3, -1, 1) != 0, "resumed across --bn-recalibrate");
}

/* Stage 1 of meso4 on `train` (and `val`), seed 5, batch 8, writing <stem>.ckpt/.last.ckpt/.log.tsv. */
static int run_stage1(const char *stem, const char *train, const char *val, int epochs, double lr, int resume)
{
    char b[6][128];
    nn_train_opts o = stage1_opts(b, stem);
    path(b[0], 128, train);
    path(b[1], 128, val);
    o.batch = 8;
    o.epochs = epochs;
    o.lr = lr;
    o.resume = resume;
    return nn_train_run(&o);
}

/* The weights, Adam moments and state of <stem>.last.ckpt (NULL with an error). */
static nn_graph *load_last(const char *stem, nn_ckpt_state *st)
{
    char p[160];
    snprintf(p, sizeof p, "%s/%s.last.ckpt", dir, stem);
    nn_graph *g = nn_model_build("meso4", 64);
    dfs_rng r;
    dfs_rng_seed(&r, 1);
    CHECK(nn_graph_alloc_params(g, &r) == 0, "alloc_params: %s", dfs_error());
    CHECK(nn_graph_alloc_train(g) == 0, "alloc_train: %s", dfs_error());
    int has = 0;
    if (nn_checkpoint_load_into(g, "meso4", p, st, &has) != 0 || !has) {
        nn_graph_free(g);
        return NULL;
    }
    return g;
}

static double ulpf(float x)
{
    return (double)nextafterf(fabsf(x), INFINITY) - fabsf(x);
}

/* Keras's first Adam step (t = 1): lr_t = lr sqrt(1 - b2) / (1 - b1), m = (1 - b1) g,
 * v = (1 - b2) g^2, so a parameter moves by lr sqrt(1 - b2) |g| / (sqrt(1 - b2) |g| + eps): lr
 * itself unless |g| is near eps. One step of meso4 (8 images, batch 8, seed 5) at lr 1e-3 and at
 * lr 1e-12; the gradient is read back from m = (1 - b1) g (m does not depend on t). A counter
 * advanced twice (t = 2) moves the same weights by 0.744 lr. At 1e-12 only the parameters that
 * start at zero (biases, beta) can show a move that small in float32; they are the ones counted. */
static void adam_first_step(double lr)
{
    write_set("one.dft", 8, 64, 2, 11);
    CHECK(run_stage1("one", "one.dft", "one.dft", 1, lr, 0) == 0, "%s", dfs_error());
    nn_ckpt_state st;
    nn_graph *g = load_last("one", &st);
    CHECK(g != NULL, "%s", dfs_error());
    if (!g) return;
    CHECK(st.adam_t == 1, "one batch: %lld Adam steps recorded", (long long)st.adam_t);
    nn_graph *g0 = nn_model_build("meso4", 64);   /* the run's initial weights */
    dfs_rng init;
    dfs_rng_derive(&init, 5, dfs_hash_str("init"));
    CHECK(nn_graph_alloc_params(g0, &init) == 0, "alloc_params: %s", dfs_error());
    const double b1 = 0.9f, b2 = 0.999f, eps = 1e-7f, lrf = (float)lr;
    int64_t moved = 0, at_lr = 0, bad = 0;
    double worst = 0;
    for (int t = 0; t < g->ntensors; t++) {
        const nn_tensor *T = &g->tensors[t];
        if (T->is_stat) continue;
        const float *p0 = nn_tensor_data(g0, t), *p1 = nn_tensor_data(g, t), *m = g->train.adam_m + T->off;
        for (int64_t i = 0; i < T->n; i++) {
            double grad = m[i] / (1 - b1), d = (double)p0[i] - (double)p1[i];
            double want = grad == 0 ? 0 : lrf * sqrt(1 - b2) * grad / (sqrt(1 - b2) * fabs(grad) + eps);
            /* float32 rounding: of p1 (half an ulp of p0 and p1 each) and of the update (a few
             * float ulps relative) */
            double tol = ulpf(p0[i]) + ulpf(p1[i]) + 2e-6 * fabs(want);
            if (fabs(d - want) > tol) {
                if (bad++ < 5)
                    printf("# lr %g: %s[%lld]: moved %.9g, Keras %.9g (g %.3g)\n", lr, T->name, (long long)i, d,
                           want, grad);
            }
            if (d != 0) moved++;
            /* non-negligible gradient (eps changes the move by < 3.2e-4) and a move that float32
             * resolves to better than 1e-4 of it */
            if (fabs(grad) >= 1e-2 && ulpf(p0[i]) + ulpf(p1[i]) < 1e-4 * lrf) {
                at_lr++;
                double r = fabs(d) / lrf - 1;
                if (fabs(r) > worst) worst = fabs(r);
            }
        }
    }
    printf("# lr %g, one step: %lld parameters moved, %lld with |g| >= 1e-2 moved by lr within %.2g (relative)\n",
           lr, (long long)moved, (long long)at_lr, worst);
    CHECK(bad == 0, "lr %g: %lld parameters did not move as Keras's first Adam step", lr, (long long)bad);
    CHECK(at_lr > (lr > 1e-6 ? 100 : 4), "lr %g: only %lld parameters with a non-negligible gradient", lr,
          (long long)at_lr);
    CHECK(worst < 4e-4, "lr %g: a parameter with |g| >= 1e-2 moved by lr x (1 +- %.3g)", lr, worst);
    nn_graph_free(g0);
    nn_graph_free(g);
}

static void test_adam_first_step(void)
{
    adam_first_step(1e-3);
    adam_first_step(1e-12);
}

/* The counter is one per batch, survives a resume, and a state saved with the old doubled count
 * (key adam_t) is refused for resume with one line. */
static void test_adam_counter_resume(void)
{
    CHECK(run_stage1("full", "one.dft", "one.dft", 3, 1e-3, 0) == 0, "%s", dfs_error());
    CHECK(run_stage1("part", "one.dft", "one.dft", 1, 1e-3, 0) == 0, "%s", dfs_error());
    CHECK(run_stage1("part", "one.dft", "one.dft", 3, 1e-3, 1) == 0, "resume: %s", dfs_error());
    nn_ckpt_state a, b;
    nn_graph *ga = load_last("full", &a), *gb = load_last("part", &b);
    CHECK(ga && gb, "%s", dfs_error());
    if (ga && gb) {
        CHECK(a.adam_t == 3 && b.adam_t == 3, "Adam steps after 3 one-batch epochs: %lld, resumed %lld",
              (long long)a.adam_t, (long long)b.adam_t);
        CHECK(!memcmp(ga->params, gb->params, ga->nparams * sizeof(float)), "resumed weights differ");
    }
    nn_graph_free(ga);
    nn_graph_free(gb);
    /* an older build's state: the same file with its last record's adam_steps renamed adam_t */
    char src[160], dst[160];
    snprintf(src, sizeof src, "%s/part.last.ckpt", dir);
    snprintf(dst, sizeof dst, "%s/old.last.ckpt", dir);
    dfs_reader rd;
    CHECK(dfs_reader_open(&rd, src) == 0, "%s", dfs_error());
    dfs_out o;
    dfs_out_open(&o, dst, 1, 1);
    dfs_record r;
    dfs_record_init(&r);
    while (dfs_reader_next(&rd, &r) > 0) {
        char *steps = dfs_meta_dup(&r, "adam_steps");
        if (steps) {
            char *ep = dfs_meta_dup(&r, "epoch");
            char twice[32];
            snprintf(twice, sizeof twice, "%lld", 2 * atoll(steps));
            dfs_meta_clear(&r);
            dfs_meta_set(&r, "name", "train_state");
            dfs_meta_set(&r, "adam_t", twice);
            dfs_meta_set(&r, "epoch", ep);
            free(ep);
            free(steps);
        }
        dfs_write_record(&o, &r);
    }
    dfs_out_commit(&o);
    dfs_record_free(&r);
    dfs_reader_close(&rd);
    nn_ckpt_state st;
    nn_graph *g = load_last("old", &st);
    CHECK(g == NULL, "a doubled-count state was accepted");
    CHECK(strstr(dfs_error(), "old.last.ckpt: training state from an older build that counted each Adam step twice") != NULL,
          "%s", dfs_error());
    nn_graph_free(g);
    /* its weights still load */
    g = nn_checkpoint_load(dst, "meso4", NULL);
    CHECK(g != NULL, "%s", dfs_error());
    nn_graph_free(g);
}

/* meso4's loss (MSE, the mean over the batch) for the current weights; dropout is off. */
static double frozen_loss(nn_graph *g, const float *x, const float *y, int64_t N, float *dl)
{
    CHECK(nn_graph_forward(g, x, N, NN_TRAIN) == 0, "%s", dfs_error());
    return nn_loss_mse_sigmoid(dl, nn_graph_output(g), y, N);
}

/* A frozen batchnorm in a training step: by default it normalises with the batch's own
 * statistics (Keras/TF1), with frozen_bn_moving with its running ones; in both its running
 * statistics, gamma and beta stay bitwise unchanged, and the gradient through it is the
 * derivative of what its forward computed (central differences on block1.conv, trained under
 * three frozen batchnorm layers). */
static void test_frozen_batchnorm(void)
{
    enum { N = 8, S = 32 };
    nn_graph *g = nn_model_build("meso4", S);
    dfs_rng r;
    dfs_rng_seed(&r, 21);
    CHECK(nn_graph_alloc_params(g, &r) == 0, "alloc_params: %s", dfs_error());
    CHECK(nn_graph_alloc_train(g) == 0, "alloc_train: %s", dfs_error());
    for (int t = 0; t < g->ntensors; t++) {   /* statistics and affine maps far from 0 and 1 */
        const char *nm = g->tensors[t].name;
        float *d = nn_tensor_data(g, t);
        double lo = 0, hi = 0;
        if (strstr(nm, ".running_mean")) lo = -0.5, hi = 0.5;
        else if (strstr(nm, ".running_var")) lo = 0.5, hi = 2;
        else if (strstr(nm, ".gamma")) lo = 0.5, hi = 1.5;
        else if (strstr(nm, ".beta")) lo = -0.5, hi = 0.5;
        else continue;
        for (int64_t i = 0; i < g->tensors[t].n; i++) d[i] = (float)dfs_rng_range(&r, lo, hi);
    }
    const char *train[] = {"block1.conv", "head.logits"};
    CHECK(nn_graph_train_only(g, train, 2) == 0, "%s", dfs_error());
    g->run.no_dropout = 1;
    CHECK(nn_graph_set_batch(g, N) == 0, "set_batch: %s", dfs_error());
    static float x[N * 3 * S * S];
    float y[N], dl[N];
    for (int i = 0; i < N * 3 * S * S; i++) x[i] = (float)dfs_rng_range(&r, 0, 1);
    for (int i = 0; i < N; i++) y[i] = (float)(i & 1);
    float *stats0 = dfs_malloc(g->nstats * sizeof(float)), *params0 = dfs_malloc(g->nparams * sizeof(float));
    memcpy(stats0, g->stats, g->nstats * sizeof(float));
    int bn = nn_graph_find(g, "block2.bn");
    const nn_node *B = &g->nodes[bn], *A = &g->nodes[B->in[0]];
    const float *gam = nn_tensor_data(g, B->w), *bet = nn_tensor_data(g, B->b);
    const float *rm = nn_tensor_data(g, B->rmean), *rv = nn_tensor_data(g, B->rvar);
    int wt = nn_graph_find_tensor(g, "block1.conv.weight");
    for (int moving = 0; moving <= 1; moving++) {
        g->run.frozen_bn_moving = moving;
        memcpy(params0, g->params, g->nparams * sizeof(float));
        frozen_loss(g, x, y, N, dl);
        /* block2.bn against its definition, in double */
        int64_t HW = A->H * A->W;
        double worst = 0;
        for (int64_t c = 0; c < A->C; c++) {
            double s = 0, sq = 0;
            for (int n = 0; n < N; n++)
                for (int64_t i = 0; i < HW; i++) s += A->out[(n * A->C + c) * HW + i];
            double mean = s / (double)(N * HW);
            for (int n = 0; n < N; n++)
                for (int64_t i = 0; i < HW; i++) {
                    double d = A->out[(n * A->C + c) * HW + i] - mean;
                    sq += d * d;
                }
            double var = sq / (double)(N * HW);
            if (moving) mean = rm[c], var = rv[c];
            for (int n = 0; n < N; n++)
                for (int64_t i = 0; i < HW; i++) {
                    int64_t k = (n * A->C + c) * HW + i;
                    double want = gam[c] * (A->out[k] - mean) / sqrt(var + B->eps) + bet[c];
                    if (fabs(B->out[k] - want) > worst) worst = fabs(B->out[k] - want);
                }
        }
        CHECK(worst < 1e-4, "frozen_bn_moving=%d: block2.bn output off its definition by %.3g", moving, worst);
        /* a whole step: backward, Adam */
        nn_graph_zero_grad(g);
        CHECK(nn_graph_backward(g, dl) == 0, "%s", dfs_error());
        /* the gradient through the frozen layers against central differences */
        float *w = nn_tensor_data(g, wt), *gw = nn_tensor_grad(g, wt);
        int64_t nw = g->tensors[wt].n, pick[4] = {0, 0, 0, 0};
        for (int k = 0; k < 4; k++)   /* the 4 largest gradients */
            for (int64_t i = 0; i < nw; i++) {
                int taken = 0;
                for (int j = 0; j < k; j++) taken |= pick[j] == i;
                if (!taken && fabsf(gw[i]) > fabsf(gw[pick[k]])) pick[k] = i;
            }
        float *ga = dfs_malloc((size_t)nw * sizeof(float));
        memcpy(ga, gw, (size_t)nw * sizeof(float));
        for (int k = 0; k < 4; k++) {
            /* h: small enough to cross no ReLU or max-pool kink here (1e-3 crosses one), large
             * enough that float32 noise in the loss stays below 0.1% of the derivative */
            float w0 = w[pick[k]], h = 3e-4f;
            w[pick[k]] = w0 + h;
            double lp = frozen_loss(g, x, y, N, NULL);
            w[pick[k]] = w0 - h;
            double lm = frozen_loss(g, x, y, N, NULL);
            w[pick[k]] = w0;
            double num = (lp - lm) / ((double)(w0 + h) - (double)(w0 - h));
            CHECK(fabs(num - ga[pick[k]]) <= 1e-5 + 0.02 * fabs(num),
                  "frozen_bn_moving=%d: d loss / d block1.conv.weight[%lld]: analytic %.6g, numeric %.6g", moving,
                  (long long)pick[k], ga[pick[k]], num);
        }
        free(ga);
        frozen_loss(g, x, y, N, dl);
        nn_graph_zero_grad(g);
        CHECK(nn_graph_backward(g, dl) == 0, "%s", dfs_error());
        nn_adam adam = {1e-3f, 0.9f, 0.999f, 1e-7f, 0};
        nn_graph_adam_step(g, &adam);
        CHECK(!memcmp(g->stats, stats0, g->nstats * sizeof(float)), "frozen_bn_moving=%d: running statistics changed",
              moving);
        int changed_frozen = 0, changed_w = 0;
        for (int t = 0; t < g->ntensors; t++) {
            const nn_tensor *T = &g->tensors[t];
            if (T->is_stat) continue;
            int same = !memcmp(g->params + T->off, params0 + T->off, (size_t)T->n * sizeof(float));
            if (!T->trainable) changed_frozen += !same;
            else if (t == wt) changed_w = !same;
        }
        CHECK(changed_frozen == 0, "frozen_bn_moving=%d: %d frozen tensors changed", moving, changed_frozen);
        CHECK(changed_w, "frozen_bn_moving=%d: block1.conv did not train through the frozen layers", moving);
    }
    free(stats0);
    free(params0);
    nn_graph_free(g);
}

/* Initial weights per architecture, by their distribution: Keras's Glorot-uniform kernels for
 * meso4, mesoinception4, shallownet and xception; for efficientnet-b0 (qubvel) VarianceScaling
 * (2, fan_out, truncated normal) convolutions and VarianceScaling(1/3, fan_out, uniform) for the
 * classifier; zero biases, gamma 1, beta 0, running mean 0 and variance 1. Bounds are exact; the
 * mean and variance of every kernel with >= 200 values are within 6 standard errors of the
 * distribution's. The same seed gives the same bits, another seed other ones. */
static void test_initialisers(void)
{
    for (int a = 0; nn_models[a].name; a++) {
        const char *arch = nn_models[a].name;
        int effnet = !strcmp(arch, "efficientnet-b0");
        nn_graph *g = nn_model_build(arch, 64);
        CHECK(g != NULL, "%s", dfs_error());
        if (!g) continue;
        dfs_rng r;
        dfs_rng_derive(&r, 9, 1);
        CHECK(nn_graph_alloc_params(g, &r) == 0, "alloc_params: %s", dfs_error());
        int bad = 0, kernels = 0, tested = 0;
        for (int t = 0; t < g->ntensors; t++) {
            const nn_tensor *T = &g->tensors[t];
            const float *d = nn_tensor_data(g, t);
            const nn_node *nd = &g->nodes[T->node];
            if (T->fan_in == 0) {   /* biases, gamma, beta, statistics: constants */
                float want = (strstr(T->name, ".gamma") || strstr(T->name, ".running_var")) ? 1.0f : 0.0f;
                for (int64_t i = 0; i < T->n; i++) bad += d[i] != want;
                continue;
            }
            kernels++;
            /* the distribution's bound, variance and fourth moment about 0 */
            double bound, var, m4;
            if (effnet && nd->kind == NN_CONV) {
                double sd = sqrt(2.0 / (double)T->fan_out);
                bound = 2 * sd / 0.87962566103423978;
                var = sd * sd;
                m4 = 3 * var * var;   /* less after truncation: a safe overestimate */
            } else {
                double lim = effnet ? sqrt(3.0 / 3.0 / (double)T->fan_out)
                                    : sqrt(6.0 / (double)(T->fan_in + T->fan_out));
                bound = lim;
                var = lim * lim / 3;
                m4 = pow(lim, 4) / 5;
            }
            double s = 0, sq = 0, mx = 0;
            for (int64_t i = 0; i < T->n; i++) {
                s += d[i];
                sq += (double)d[i] * d[i];
                if (fabs(d[i]) > mx) mx = fabs(d[i]);
            }
            if (mx > bound * (1 + 1e-6)) {
                printf("# %s %s: |w| up to %.6g, bound %.6g\n", arch, T->name, mx, bound);
                bad++;
            }
            if (T->n < 200) continue;
            tested++;
            double n = (double)T->n, mean = s / n, msq = sq / n;
            double se_mean = sqrt(var / n), se_msq = sqrt((m4 - var * var) / n);
            if (fabs(mean) > 6 * se_mean || fabs(msq - var) > 6 * se_msq) {
                printf("# %s %s: mean %.4g (se %.2g), mean square %.6g, expected %.6g (se %.2g)\n", arch, T->name,
                       mean, se_mean, msq, var, se_msq);
                bad++;
            }
        }
        CHECK(bad == 0, "%s: %d tensors off their initialiser", arch, bad);
        CHECK(tested > 0 && kernels > 0, "%s: no kernel tested", arch);
        /* the same seed, the same bits; another seed, others */
        float *p0 = dfs_malloc(g->nparams * sizeof(float));
        memcpy(p0, g->params, g->nparams * sizeof(float));
        dfs_rng_derive(&r, 9, 1);
        CHECK(nn_graph_init_params(g, &r) == 0, "init_params: %s", dfs_error());
        CHECK(!memcmp(p0, g->params, g->nparams * sizeof(float)), "%s: same seed, other weights", arch);
        dfs_rng_derive(&r, 10, 1);
        CHECK(nn_graph_init_params(g, &r) == 0, "init_params: %s", dfs_error());
        CHECK(memcmp(p0, g->params, g->nparams * sizeof(float)) != 0, "%s: another seed, same weights", arch);
        free(p0);
        nn_graph_free(g);
    }
}

static void test_input_checks(void)
{
    char p[128];
    path(p, sizeof p, "small.dft");
    dfs_index ix;
    CHECK(dfs_index_open(&ix, p) == 0, "%s", dfs_error());
    CHECK(nn_index_check(&ix, 64, 1) != 0, "32x32 accepted for 64");
    CHECK(strstr(dfs_error(), "images are 32x32x3, the model's input is 64x64x3") != NULL, "%s", dfs_error());
    CHECK(nn_index_check(&ix, 32, 1) == 0, "%s", dfs_error());
    dfs_index_close(&ix);
    path(p, sizeof p, "unlabelled.dft");
    CHECK(dfs_index_open(&ix, p) == 0, "%s", dfs_error());
    CHECK(nn_index_check(&ix, 32, 1) != 0, "label -1 accepted for training");
    CHECK(strstr(dfs_error(), "record 0 (key t/v0/f0): label -1") != NULL, "%s", dfs_error());
    CHECK(nn_index_check(&ix, 32, 0) == 0, "%s", dfs_error());
    /* batch assembly: HWC u8 -> CHW / 255, labels as floats */
    uint64_t idx[2] = {1, 0};
    float x[2 * 3 * 32 * 32], y[2];
    uint8_t raw[32 * 32 * 3];
    CHECK(nn_batch_load(&ix, idx, 2, x, y) == 0, "%s", dfs_error());
    CHECK(dfs_index_read(&ix, 0, raw) == 0, "%s", dfs_error());
    CHECK_CLOSE(x[3 * 32 * 32 + 0], raw[0] / 255.0, 1e-7, 0);               /* R of pixel 0 */
    CHECK_CLOSE(x[3 * 32 * 32 + 32 * 32 + 5], raw[3 * 5 + 1] / 255.0, 1e-7, 0);   /* G of pixel 5 */
    CHECK_CLOSE(x[3 * 32 * 32 + 2 * 32 * 32 + 7], raw[3 * 7 + 2] / 255.0, 1e-7, 0);
    CHECK(y[0] == 0.0f && y[1] == 0.0f, "labels -1 load as 0 (only used by predict, which prints labels)");
    dfs_index_close(&ix);
}

/* The loss of a run: the study's defaults per stage, and the names a run may ask for. A name that
 * does not fit the architecture's output (or no loss at all) fails before anything is written;
 * before, an unknown name trained with bce_softmax2, on a one-logit model reading past its logits. */
static void test_loss_choice(void)
{
    double lr;
    nn_loss_kind k;
    CHECK(nn_train_defaults("shallownet", NN_STAGE_SCRATCH, &lr, &k) == 0 && k == NN_LOSS_BCE && lr == 5e-5, "sn 1");
    CHECK(nn_train_defaults("shallownet", NN_STAGE_TRANSFER, &lr, &k) == 0 && k == NN_LOSS_MSE && lr == 1e-3, "sn 2");
    CHECK(nn_train_defaults("xception", NN_STAGE_MERGE, &lr, &k) == 0 && k == NN_LOSS_BCE_SOFTMAX2 && lr == 5e-5, "x 3");
    CHECK(nn_train_defaults("meso5", NN_STAGE_SCRATCH, &lr, &k) != 0, "meso5 has defaults");
    static const struct { const char *arch, *loss, *err; } C[] = {
        {"meso4", "bce_softmax2", "loss bce_softmax2: meso4 has one sigmoid output"},
        {"meso4", "xyz", "loss 'xyz' is not mse, bce or bce_softmax2"},
        {"meso4", "", "loss '' is not mse, bce or bce_softmax2"},
        {"xception", "mse", "--loss mse: xception has a two-way softmax output; use bce"},
    };
    for (size_t i = 0; i < sizeof C / sizeof C[0]; i++) {
        char b[6][128];
        nn_train_opts o = stage1_opts(b, "loss");
        o.arch = C[i].arch;
        o.loss = C[i].loss;
        CHECK(nn_train_run(&o) != 0 && !strcmp(dfs_error(), C[i].err), "%s %s: %s", C[i].arch, C[i].loss, dfs_error());
        CHECK(access(b[3], F_OK) != 0 && access(b[4], F_OK) != 0 && access(b[5], F_OK) != 0, "%s: files written",
              C[i].loss);
    }
}

/* predict's output is a score file (formats/score-tsv.md): the header the reader expects, then
 * one line per record that the reader accepts. */
static void test_predict_writes_scores(void)
{
    nn_graph *g = nn_model_build("meso4", 64);
    CHECK(g != NULL, "%s", dfs_error());
    if (!g) return;
    dfs_rng r;
    dfs_rng_derive(&r, 1, 1);
    CHECK(nn_graph_alloc_params(g, &r) == 0, "alloc_params: %s", dfs_error());
    char in[128], out[128];
    path(in, sizeof in, "val.dft");
    path(out, sizeof out, "scores.tsv");
    FILE *f = fopen(out, "w");
    CHECK(f != NULL, "%s", out);
    if (!f) {
        nn_graph_free(g);
        return;
    }
    CHECK(nn_predict_stream(g, nn_model_find("meso4"), 64, in, 3, f, NULL, 0) == 0, "%s", dfs_error());
    fclose(f);
    nn_graph_free(g);
    char line[128] = "";
    f = fopen(out, "r");
    CHECK(f && fgets(line, sizeof line, f) && !strcmp(line, DFS_SCORE_HEADER "\n"), "header '%s'", line);
    if (f) fclose(f);
    dfs_score_file sf;
    CHECK(dfs_score_read(out, &sf) == 0, "%s", dfs_error());
    CHECK(sf.n == 8 && !strcmp(sf.rec[0].key, "t/v0/f0") && sf.rec[1].label == 1, "%zu records", sf.n);
    dfs_score_free(&sf);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/test_trainer.XXXXXX");
    if (!mkdtemp(dir)) return 1;
    write_set("train.dft", 16, 64, 2, 1);
    write_set("val.dft", 8, 64, 2, 2);
    write_set("mix.dft", 8, 64, 2, 3);
    write_set("small.dft", 4, 32, 2, 4);
    write_set("unlabelled.dft", 4, 32, -1, 5);
    RUN(test_transfer_and_merge);
    RUN(test_adam_first_step);
    RUN(test_adam_counter_resume);
    RUN(test_frozen_batchnorm);
    RUN(test_initialisers);
    RUN(test_input_checks);
    RUN(test_bn_recalibrate);
    RUN(test_loss_choice);
    RUN(test_predict_writes_scores);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) return 1;
    return CHECK_DONE();
}
