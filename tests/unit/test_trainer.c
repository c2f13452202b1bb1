/* test_trainer: stage 2 (transfer) changes only the head; stage 3 (merge) changes the rest too;
 * batch assembly and input checks. Tiny 64x64 meso4 runs on generated images. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "common.h"
#include "rng.h"
#include "stream.h"
#include "stream_index.h"
#include "nn/batch.h"
#include "nn/checkpoint.h"
#include "nn/models.h"
#include "nn/trainer.h"

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
    o.quiet = 1;
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
    nn_train_opts o = base_opts(b);
    o.stage = NN_STAGE_SCRATCH;
    o.arch = "meso4";
    path(b[3], 128, "m1.ckpt");
    o.out = b[3];
    path(b[4], 128, "m1.last.ckpt");
    o.last = b[4];
    path(b[5], 128, "m1.log.tsv");
    o.log = b[5];
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
    nn_train_opts o = base_opts(b);
    o.stage = NN_STAGE_SCRATCH;
    o.arch = "meso4";
    o.epochs = epochs;
    o.resume = resume;
    o.bn_recalibrate = bn >= 0;
    o.bn_batches = bn >= 0 ? bn : 0;
    snprintf(b[3], 128, "%s/%s.ckpt", dir, name);
    snprintf(b[4], 128, "%s/%s.last.ckpt", dir, name);
    snprintf(b[5], 128, "%s/%s.log.tsv", dir, name);
    o.out = b[3];
    o.last = b[4];
    o.log = b[5];
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
    RUN(test_input_checks);
    RUN(test_bn_recalibrate);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) return 1;
    return CHECK_DONE();
}
