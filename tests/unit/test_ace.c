/* test_ace: the causal neuron analysis on hand-built graphs whose answer is known, and the overlap
 * counts and chance model on made-up rankings.
 * (Randomly initialised checkpoints for the bats tests and benchmarks: test_cam --make-ckpt.) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analysis/ace.h"
#include "check.h"
#include "nn/backend.h"
#include "nn/checkpoint.h"
#include "nn/graph.h"
#include "nn/models.h"
#include "residual_graph.h"
#include "core/rng.h"
#include "core/stream.h"

static const nn_model_info *sigmoid_info(void)
{
    return nn_model_find("shallownet");   /* one sigmoid logit */
}

/* n images of h x w with seeded random pixels */
static void make_sample(ace_sample *s, int64_t n, int64_t h, int64_t w, uint64_t seed)
{
    memset(s, 0, sizeof *s);
    s->n = n;
    s->h = h;
    s->w = w;
    s->seen = (uint64_t)n;
    s->px = malloc((size_t)(n * h * w * 3));
    dfs_rng r;
    dfs_rng_seed(&r, seed);
    for (int64_t i = 0; i < n * h * w * 3; i++) s->px[i] = (uint8_t)dfs_rng_below(&r, 256);
}

static void set_tensor(nn_graph *g, const char *name, const float *v, int64_t n)
{
    int t = nn_graph_find_tensor(g, name);
    CHECK(t >= 0 && g->tensors[t].n == n, "tensor %s", name);
    if (t >= 0) memcpy(nn_tensor_data(g, t), v, (size_t)n * sizeof(float));
}

/* input (3,1,1) -> dense "hid" (4) -> relu "act" -> dense "logits" (1).
 * hid = W x + b with W, b below (rows permuted by perm[]: unit perm[i] gets row i), logits
 * weights out[] (permuted likewise). */
static const float HID_W[4][3] = {{1.0f, 0.5f, -0.2f}, {0.3f, 1.2f, 0.1f}, {-0.5f, 0.4f, 1.5f}, {0.8f, -0.3f, 0.6f}};
static const float HID_B[4] = {0.1f, -0.2f, 0.05f, 0.3f};
static const float OUT_W[4] = {0.5f, 0.0f, 3.0f, -0.4f};
static const float OUT_B = -0.7f;

static nn_graph *dense_model(const int *perm)
{
    nn_graph *g = nn_graph_new();
    int x = nn_g_input(g, "input", 3, 1, 1);
    x = nn_g_dense(g, "hid", x, 4, 1);
    x = nn_g_act(g, NN_RELU, "act", x);
    nn_g_dense(g, "logits", x, 1, 1);
    CHECK(nn_graph_check(g) == 0, "%s", dfs_error());
    dfs_rng r;
    dfs_rng_seed(&r, 1);
    CHECK(nn_graph_alloc_params(g, &r) == 0, "alloc_params: %s", dfs_error());
    float w[12], b[4], o[4];
    for (int i = 0; i < 4; i++) {
        int u = perm ? perm[i] : i;
        memcpy(w + 3 * u, HID_W[i], sizeof HID_W[i]);
        b[u] = HID_B[i];
        o[u] = OUT_W[i];
    }
    set_tensor(g, "hid.weight", w, 12);
    set_tensor(g, "hid.bias", b, 4);
    set_tensor(g, "logits.weight", o, 4);
    set_tensor(g, "logits.bias", &OUT_B, 1);
    return g;
}

static double sigm(double z) { return 1.0 / (1.0 + exp(-z)); }

/* hidden activations of image i, by hand */
static void hidden_of(const ace_sample *s, int64_t i, double h[4])
{
    const uint8_t *p = s->px + i * 3;
    for (int u = 0; u < 4; u++) {
        double z = HID_B[u];
        for (int c = 0; c < 3; c++) z += HID_W[u][c] * (p[c] / 255.0);
        h[u] = z > 0 ? z : 0;
    }
}

/* min and max of hidden unit u over images [first, first + n), by hand */
static void hidden_range(const ace_sample *s, int64_t first, int64_t n, int u, double *mn, double *mx)
{
    *mn = 1e30;
    *mx = -1e30;
    for (int64_t i = first; i < first + n; i++) {
        double h[4];
        hidden_of(s, i, h);
        if (h[u] < *mn) *mn = h[u];
        if (h[u] > *mx) *mx = h[u];
    }
}

/* mean P(fake) over images [first, first + n) with hidden unit u set to v, by hand */
static double mean_pfake_at(const ace_sample *s, int64_t first, int64_t n, int u, double v)
{
    double e = 0;
    for (int64_t i = first; i < first + n; i++) {
        double h[4], z = OUT_B;
        hidden_of(s, i, h);
        h[u] = v;
        for (int q = 0; q < 4; q++) z += OUT_W[q] * h[q];
        e += sigm(z);
    }
    return e / (double)n;
}

static void test_dense_known_answer(void)
{
    ace_sample s;
    make_sample(&s, 10, 1, 1, 7);
    nn_graph *g = dense_model(NULL);
    ace_opts o;
    ace_opts_default(&o);
    o.batches = 2;
    o.batch = 3;   /* 10 < 2 * 6 images: both phases use the first 6 */
    ace_result r;
    CHECK(ace_run(g, sigmoid_info(), nn_graph_find(g, "act"), &s, &o, &r) == 0, "%s", dfs_error());
    CHECK(r.n == 4 && r.steps == 4 && r.shared == 1 && r.n_a == 6 && r.n_b == 6 && r.tail == 1, "shape");
    /* ranges and expectations by hand (study range: lo <= 1, hi >= 0) */
    for (int u = 0; u < 4; u++) {
        double mn, mx;
        hidden_range(&s, 0, 6, u, &mn, &mx);
        double lo = mn < 1 ? mn : 1, hi = mx > 0 ? mx : 0;
        CHECK_CLOSE(r.lo[u], lo, 1e-6, 1e-6);
        CHECK_CLOSE(r.hi[u], hi, 1e-6, 1e-6);
        for (int k = 0; k < 4; k++)
            CHECK_CLOSE(r.e[u * 4 + k], mean_pfake_at(&s, 0, 6, u, lo + (hi - lo) * k / 3.0), 1e-6, 1e-5);
    }
    /* the neuron wired to the output with the largest weight ranks first; the one with no
     * outgoing weight scores exactly 0 and ranks last */
    CHECK(r.rank[2] == 1, "rank of neuron 2 = %lld", (long long)r.rank[2]);
    CHECK(r.score[1] == 0.0, "score of neuron 1 = %g", r.score[1]);
    CHECK(r.rank[1] == 4, "rank of neuron 1 = %lld", (long long)r.rank[1]);
    CHECK(r.score[2] > 0.1, "score 2 = %g", r.score[2]);

    /* the full-graph path gives the same numbers */
    ace_result r2;
    o.no_tail = 1;
    CHECK(ace_run(g, sigmoid_info(), nn_graph_find(g, "act"), &s, &o, &r2) == 0, "%s", dfs_error());
    CHECK(r2.tail == 0, "no tail");
    for (int i = 0; i < 16; i++) CHECK_CLOSE(r2.e[i], r.e[i], 1e-6, 1e-6);
    for (int u = 0; u < 4; u++) CHECK(r2.rank[u] == r.rank[u], "rank %d", u);

    /* observed ranges: plain min and max */
    ace_result r3;
    o.no_tail = 0;
    o.range = ACE_RANGE_OBSERVED;
    CHECK(ace_run(g, sigmoid_info(), nn_graph_find(g, "act"), &s, &o, &r3) == 0, "%s", dfs_error());
    for (int u = 0; u < 4; u++) {
        double mn, mx;
        hidden_range(&s, 0, 6, u, &mn, &mx);
        CHECK_CLOSE(r3.lo[u], mn, 1e-6, 1e-6);
        CHECK_CLOSE(r3.hi[u], mx, 1e-6, 1e-6);
    }
    ace_result_free(&r);
    ace_result_free(&r2);
    ace_result_free(&r3);
    nn_graph_free(g);
    ace_sample_free(&s);
}

static void test_phases_disjoint(void)
{
    /* 12 >= 2 * 2 * 3 images: phase A the first 6, phase B the last 6 */
    ace_sample s;
    make_sample(&s, 12, 1, 1, 9);
    nn_graph *g = dense_model(NULL);
    ace_opts o;
    ace_opts_default(&o);
    o.batches = 2;
    o.batch = 3;
    o.steps = 2;
    ace_result r;
    CHECK(ace_run(g, sigmoid_info(), nn_graph_find(g, "act"), &s, &o, &r) == 0, "%s", dfs_error());
    CHECK(r.shared == 0 && r.n_a == 6 && r.n_b == 6, "phases");
    int u = 3;
    double mn, mx;
    hidden_range(&s, 0, 6, u, &mn, &mx);   /* phase A's images */
    double lo = mn < 1 ? mn : 1, hi = mx > 0 ? mx : 0;
    CHECK_CLOSE(r.lo[u], lo, 1e-6, 1e-6);
    CHECK_CLOSE(r.e[u * 2 + 1], mean_pfake_at(&s, 6, 6, u, hi), 1e-6, 1e-5);   /* phase B's */
    ace_result_free(&r);
    nn_graph_free(g);
    ace_sample_free(&s);
}

static void test_permutation(void)
{
    ace_sample s;
    make_sample(&s, 20, 1, 1, 3);
    const int perm[4] = {2, 0, 3, 1};   /* original unit i becomes unit perm[i] */
    nn_graph *g = dense_model(NULL), *gp = dense_model(perm);
    ace_opts o;
    ace_opts_default(&o);
    o.batches = 2;
    o.batch = 4;
    ace_result r, rp;
    CHECK(ace_run(g, sigmoid_info(), nn_graph_find(g, "act"), &s, &o, &r) == 0, "%s", dfs_error());
    CHECK(ace_run(gp, sigmoid_info(), nn_graph_find(gp, "act"), &s, &o, &rp) == 0, "%s", dfs_error());
    for (int i = 0; i < 4; i++) {
        CHECK(rp.rank[perm[i]] == r.rank[i], "unit %d: rank %lld vs %lld", i, (long long)rp.rank[perm[i]],
              (long long)r.rank[i]);
        CHECK_CLOSE(rp.score[perm[i]], r.score[i], 1e-6, 1e-6);
        CHECK_CLOSE(rp.lo[perm[i]], r.lo[i], 1e-7, 1e-6);
    }
    ace_result_free(&r);
    ace_result_free(&rp);
    nn_graph_free(g);
    nn_graph_free(gp);
    ace_sample_free(&s);
}

/* conv channels: input (3,4,4) -> conv "c1" (3 ch, 3x3 same) -> relu "r1" -> maxpool 2 ->
 * global average -> dense logits with channel 1's weight 0. */
static void test_conv_channels(void)
{
    nn_graph *g = nn_graph_new();
    int x = nn_g_input(g, "input", 3, 4, 4);
    x = nn_g_conv(g, "c1", x, 3, 3, 1, 1, 1, 1, 1);
    x = nn_g_act(g, NN_RELU, "r1", x);
    x = nn_g_maxpool(g, "pool", x, 2, 2, 0);
    x = nn_g_global_avgpool(g, "gap", x);
    nn_g_dense(g, "logits", x, 1, 1);
    CHECK(nn_graph_check(g) == 0, "%s", dfs_error());
    dfs_rng rng;
    dfs_rng_seed(&rng, 5);
    CHECK(nn_graph_alloc_params(g, &rng) == 0, "alloc_params: %s", dfs_error());
    const float ow[3] = {1.0f, 0.0f, -2.5f};
    set_tensor(g, "logits.weight", ow, 3);
    ace_sample s;
    make_sample(&s, 8, 4, 4, 11);
    ace_opts o;
    ace_opts_default(&o);
    o.batches = 2;
    o.batch = 2;
    o.range = ACE_RANGE_OBSERVED;
    ace_result r, r2;
    int layer = nn_graph_find(g, "r1");
    CHECK(ace_run(g, sigmoid_info(), layer, &s, &o, &r) == 0, "%s", dfs_error());
    CHECK(r.n == 3 && r.tail == 1, "n %lld tail %d", (long long)r.n, r.tail);
    CHECK(r.score[1] == 0.0, "zero-weight channel scores %g", r.score[1]);
    CHECK(r.rank[2] == 1 && r.rank[0] == 2 && r.rank[1] == 3, "ranks %lld %lld %lld", (long long)r.rank[0],
          (long long)r.rank[1], (long long)r.rank[2]);
    /* setting a whole channel map to v: the pooled value is v, so E at v is known by hand */
    {
        int k = 3;   /* the largest value: hi */
        double v = r.hi[2], e = 0;
        CHECK(nn_graph_set_batch(g, 1) == 0, "set_batch: %s", dfs_error());
        float xin[48];
        for (int64_t i = 4; i < 8; i++) {   /* phase B: images 4..7 (8 = 2 * 2 batches * 2) */
            const uint8_t *p = s.px + i * 48;
            for (int q = 0; q < 16; q++)
                for (int c = 0; c < 3; c++) xin[c * 16 + q] = p[q * 3 + c] / 255.0f;
            nn_graph_forward(g, xin, 1, NN_EVAL);
            const float *gap = g->nodes[nn_graph_find(g, "gap")].out;
            double z = ow[0] * gap[0] + ow[2] * v + nn_tensor_data(g, nn_graph_find_tensor(g, "logits.bias"))[0];
            e += sigm(z);
        }
        CHECK_CLOSE(r.e[2 * 4 + k], e / 4, 1e-6, 1e-5);
    }
    o.no_tail = 1;
    CHECK(ace_run(g, sigmoid_info(), layer, &s, &o, &r2) == 0, "%s", dfs_error());
    for (int i = 0; i < 12; i++) CHECK_CLOSE(r2.e[i], r.e[i], 1e-6, 1e-6);
    ace_result_free(&r);
    ace_result_free(&r2);
    nn_graph_free(g);
    ace_sample_free(&s);
}

/* a residual from before the layer: the tail cannot stand alone, the full graph is rerun */
static void test_no_tail_residual(void)
{
    int h, s2;
    nn_graph *g = residual_graph(&h, &s2);
    (void)s2;
    dfs_rng rng;
    dfs_rng_seed(&rng, 2);
    CHECK(nn_graph_alloc_params(g, &rng) == 0, "alloc_params: %s", dfs_error());
    /* act unit 0 reaches nothing: column 0 of b is zero */
    float *bw = nn_tensor_data(g, nn_graph_find_tensor(g, "b.weight"));
    for (int o = 0; o < 4; o++) bw[o * 4 + 0] = 0;
    ace_sample s;
    make_sample(&s, 6, 1, 1, 4);
    ace_opts o;
    ace_opts_default(&o);
    o.batches = 1;
    o.batch = 3;
    ace_result r;
    CHECK(ace_run(g, sigmoid_info(), h, &s, &o, &r) == 0, "%s", dfs_error());
    CHECK(r.tail == 0, "tail used");
    CHECK(r.score[0] == 0.0, "score %g", r.score[0]);
    for (int u = 1; u < 4; u++)
        if (r.score[u] > 0) CHECK(r.rank[u] < r.rank[0], "rank %lld of %d before %lld", (long long)r.rank[u], u, (long long)r.rank[0]);
    ace_result_free(&r);
    nn_graph_free(g);
    ace_sample_free(&s);
}

static void test_rank_ties(void)
{
    double score[5] = {0.5, 0.7, 0.5, 0.0, 0.7};
    int64_t rank[5];
    ace_result r = {0};
    r.n = 5;
    r.score = score;
    r.rank = rank;
    ace_rank(&r);
    CHECK(rank[1] == 1 && rank[4] == 2 && rank[0] == 3 && rank[2] == 4 && rank[3] == 5, "ranks %lld %lld %lld %lld %lld",
          (long long)rank[0], (long long)rank[1], (long long)rank[2], (long long)rank[3], (long long)rank[4]);
}

static void test_overlap(void)
{
    /* 3 files of N = 4 neurons; ranks per neuron */
    int64_t a[4] = {1, 2, 3, 4}, b[4] = {2, 1, 4, 3}, c[4] = {1, 4, 2, 3};
    int64_t *ranks[3] = {a, b, c};
    int64_t count[4];
    ace_overlap_count(ranks, 3, 4, 2, count);
    /* top 2: a {0,1}, b {0,1}, c {0,2} -> neuron 0 in 3, neuron 1 in 2, neuron 2 in 1, 3 in 0 */
    CHECK(count[0] == 1 && count[1] == 1 && count[2] == 1 && count[3] == 1, "counts %lld %lld %lld %lld",
          (long long)count[0], (long long)count[1], (long long)count[2], (long long)count[3]);
    ace_overlap_count(ranks, 3, 4, 1, count);
    /* top 1: a {0}, b {1}, c {0} */
    CHECK(count[0] == 2 && count[1] == 1 && count[2] == 1 && count[3] == 0, "top1");
    /* chance, p = 1/2, n = 3: 4 * C(3,j) / 8 = 1.5, 1.5, 0.5 */
    CHECK_CLOSE(ace_overlap_expected(4, 2, 3, 1), 1.5, 1e-12, 0);
    CHECK_CLOSE(ace_overlap_expected(4, 2, 3, 2), 1.5, 1e-12, 0);
    CHECK_CLOSE(ace_overlap_expected(4, 2, 3, 3), 0.5, 1e-12, 0);
    /* p = 1/4, n = 2, N = 4: j = 1: 4 * 2 * 1/4 * 3/4 = 1.5; j = 2: 4/16 = 0.25 */
    CHECK_CLOSE(ace_overlap_expected(4, 1, 2, 1), 1.5, 1e-12, 0);
    CHECK_CLOSE(ace_overlap_expected(4, 1, 2, 2), 0.25, 1e-12, 0);
    /* two random 2-subsets of 4 share both with probability 1/C(4,2) = 1/6, at least one 5/6 */
    CHECK_CLOSE(ace_overlap_pvalue(4, 2, 2, 2), 1.0 / 6, 1e-12, 0);
    CHECK_CLOSE(ace_overlap_pvalue(4, 2, 2, 1), 5.0 / 6, 1e-12, 0);
    CHECK_CLOSE(ace_overlap_pvalue(4, 2, 2, 0), 1.0, 1e-12, 0);
    /* three: P(all share both) = 1/36; P(>= 1) = 4/6 * 1/2 + 1/6 * 5/6 = 17/36 */
    CHECK_CLOSE(ace_overlap_pvalue(4, 2, 3, 2), 1.0 / 36, 1e-12, 0);
    CHECK_CLOSE(ace_overlap_pvalue(4, 2, 3, 1), 17.0 / 36, 1e-12, 0);
    /* the study's setting: 512 of 1024 in all 5 by chance ~ 32; observing 32 is unremarkable,
     * observing 100 is not */
    CHECK_CLOSE(ace_overlap_expected(1024, 512, 5, 5), 32.0, 1e-9, 0);
    double p32 = ace_overlap_pvalue(1024, 512, 5, 32), p100 = ace_overlap_pvalue(1024, 512, 5, 100);
    CHECK(p32 > 0.3 && p32 < 0.7, "p(32) = %g", p32);
    CHECK(p100 < 1e-10, "p(100) = %g", p100);
}

static void test_sample_read(void)
{
    char path[] = "/tmp/test_ace_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp");
    close(fd);
    dfs_out out;
    CHECK(dfs_out_open(&out, path, 1, 1) == 0, "%s", dfs_error());
    dfs_record rec;
    dfs_record_init(&rec);
    uint64_t dims[3] = {2, 2, 3};
    for (int i = 0; i < 10; i++) {
        dfs_record_shape(&rec, DFS_U8, 3, dims);
        memset(rec.data, i, 12);
        dfs_write_record(&out, &rec);
    }
    CHECK(dfs_out_commit(&out) == 0, "%s", dfs_error());
    ace_sample a, b, c;
    CHECK(ace_sample_read(path, 2, 2, 4, 1, &a) == 0, "%s", dfs_error());
    CHECK(ace_sample_read(path, 2, 2, 4, 1, &b) == 0, "%s", dfs_error());
    CHECK(a.n == 4 && a.seen == 10, "n %lld seen %llu", (long long)a.n, (unsigned long long)a.seen);
    CHECK(memcmp(a.px, b.px, 48) == 0, "same seed, same sample");
    int distinct = 1;
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < i; j++) distinct &= a.px[i * 12] != a.px[j * 12];
    CHECK(distinct, "four different records");
    /* all of them when fewer than wanted: a permutation */
    CHECK(ace_sample_read(path, 2, 2, 100, 1, &c) == 0, "%s", dfs_error());
    int seen[10] = {0};
    for (int i = 0; i < c.n; i++) seen[c.px[i * 12]]++;
    for (int i = 0; i < 10; i++) CHECK(seen[i] == 1, "record %d", i);
    ace_sample_free(&a);
    ace_sample_free(&b);
    ace_sample_free(&c);
    /* a record of the wrong size */
    ace_sample d;
    CHECK(ace_sample_read(path, 3, 3, 4, 1, &d) == -1, "wrong size accepted");
    CHECK(strstr(dfs_error(), "record 0: expected a u8 3x3x3 image") != NULL, "%s", dfs_error());
    dfs_record_free(&rec);
    unlink(path);
}

/* The model info must describe the graph's output: P(fake) is read from it on the backend, so a
 * 2-logit convention on a 1-logit graph would read past the logits. */
static void test_output_mismatch(void)
{
    ace_sample s;
    make_sample(&s, 4, 1, 1, 7);
    nn_graph *g = dense_model(NULL);
    ace_opts o;
    ace_opts_default(&o);
    o.batches = 1;
    o.batch = 2;
    ace_result r;
    CHECK(ace_run(g, nn_model_find("xception"), nn_graph_find(g, "act"), &s, &o, &r) < 0 &&
              strstr(dfs_error(), "1 outputs") && strstr(dfs_error(), "xception models have 2"),
          "a 2-logit model's info on a 1-logit graph is refused: %s", dfs_error());
    nn_graph_free(g);
    ace_sample_free(&s);
}

/* A backend allocation of the analysis's own buffers that fails is an error from ace_run, not a
 * NULL pointer handed on to the ops: the test device (cpu-split) refuses the first allocation
 * after the pinned input buffer, which is ace_run's first buffer of its own (the ranges). */
static const nn_backend *split_ops;
static int refuse_next_alloc;
static void *refusing_host_alloc(size_t bytes)
{
    refuse_next_alloc = 1;
    return split_ops->host_alloc(bytes);
}
static void *refusing_alloc(size_t bytes)
{
    if (refuse_next_alloc) {
        refuse_next_alloc = 0;
        return NULL;
    }
    return split_ops->alloc(bytes);
}

static void test_backend_alloc_failure(void)
{
    split_ops = nn_backend_open("cpu-split");
    CHECK(split_ops != NULL, "%s", dfs_error());
    if (!split_ops) return;
    nn_backend be = *split_ops;
    be.alloc = refusing_alloc;
    be.host_alloc = refusing_host_alloc;
    ace_sample s;
    make_sample(&s, 4, 1, 1, 7);
    nn_graph *g = dense_model(NULL);
    CHECK(nn_graph_set_backend(g, &be) == 0, "%s", dfs_error());
    ace_opts o;
    ace_opts_default(&o);
    o.batches = 1;
    o.batch = 2;
    ace_result r;
    CHECK(ace_run(g, sigmoid_info(), nn_graph_find(g, "act"), &s, &o, &r) < 0 &&
              strstr(dfs_error(), "ace: 32 bytes on cpu-split"),
          "a refused allocation of the ranges is ace_run's error: %s", dfs_error());
    ace_result_free(&r);
    nn_graph_free(g);
    ace_sample_free(&s);
}

int main(void)
{
    RUN(test_dense_known_answer);
    RUN(test_phases_disjoint);
    RUN(test_permutation);
    RUN(test_conv_channels);
    RUN(test_no_tail_residual);
    RUN(test_rank_ties);
    RUN(test_overlap);
    RUN(test_sample_read);
    RUN(test_output_mismatch);
    RUN(test_backend_alloc_failure);
    return CHECK_DONE();
}
