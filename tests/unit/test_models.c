/* test_models: graph structure, parameter counts, named layers, trainability, checkpoints. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "core/common.h"
#include "nn/checkpoint.h"
#include "nn/graph.h"
#include "nn/models.h"
#include "core/stream.h"

/* Keras's counts for the study's models at 256x256 (running mean/var non-trainable). */
static void test_counts_match_keras(void)
{
    static const struct { const char *arch; int64_t total, trainable; } K[] = {
        {"meso4", 28073, 27977},
        {"mesoinception4", 28725, 28615},
        {"shallownet", 118080289, 118078241},
        {"xception", 20865578, 20811050},        /* Keras Xception 22,910,480 minus 2048*998+998 for 2 classes */
        {"efficientnet-b0", 4052126, 4010110},   /* qubvel B0 5,330,564 minus 1280*998+998 */
    };
    for (size_t i = 0; i < sizeof K / sizeof K[0]; i++) {
        nn_graph *g = nn_model_build(K[i].arch, 256);
        CHECK(g != NULL, "%s: %s", K[i].arch, dfs_error());
        if (!g) continue;
        int64_t t, tr;
        nn_graph_count(g, &t, &tr);
        CHECK(t == K[i].total && tr == K[i].trainable, "%s: total=%lld trainable=%lld", K[i].arch, (long long)t,
              (long long)tr);
        nn_graph_free(g);
    }
}

static void test_named_layers(void)
{
    for (const nn_model_info *m = nn_models; m->name; m++) {
        nn_graph *g = nn_model_build(m->name, 256);
        CHECK(g != NULL, "%s", dfs_error());
        if (!g) continue;
        CHECK(nn_graph_find(g, m->cam_layer) >= 0, "%s: no cam layer %s", m->name, m->cam_layer);
        if (m->ace_layer) CHECK(nn_graph_find(g, m->ace_layer) >= 0, "%s: no ace layer", m->name);
        for (int k = 0; m->head[k]; k++) {
            int n = nn_graph_find(g, m->head[k]);
            CHECK(n >= 0 && nn_node_params(g, n) > 0, "%s: head node %s missing or without parameters", m->name,
                  m->head[k]);
        }
        CHECK(!strcmp(g->nodes[g->output].name, "head.logits"), "%s: output is %s", m->name, g->nodes[g->output].name);
        CHECK(nn_graph_output_size(g) == m->classes, "%s: %lld outputs", m->name, (long long)nn_graph_output_size(g));
        nn_graph_free(g);
    }
    nn_graph *g = nn_model_build("xception", 256);
    int n = nn_graph_find(g, "block14.sepconv2_act");
    CHECK(n >= 0 && g->nodes[n].C == 2048 && g->nodes[n].H == 8 && g->nodes[n].W == 8, "xception final map");
    nn_graph_free(g);
    g = nn_model_build("shallownet", 256);
    n = nn_graph_find(g, "head.flatten");
    CHECK(n >= 0 && g->nodes[n].C == 115200, "shallownet flatten %lld", n >= 0 ? (long long)g->nodes[n].C : -1LL);
    n = nn_graph_find(g, "block1.conv1");
    CHECK(n >= 0 && g->tensors[g->nodes[n].w].l2 == 1e-4f && g->nodes[n].b >= 0 && g->tensors[g->nodes[n].b].l2 == 0,
          "shallownet L2 on kernels only");
    nn_graph_free(g);
    g = nn_model_build("efficientnet-b0", 256);
    n = nn_graph_find(g, "block6d.drop");   /* block index 14 of 16 */
    CHECK(n >= 0 && fabsf(g->nodes[n].rate - 0.2f * 14 / 16) < 1e-7f, "drop-connect rate");
    CHECK(nn_graph_find(g, "block1a.drop") < 0 && nn_graph_find(g, "block2a.add") < 0, "no skip where shapes change");
    n = nn_graph_find(g, "top.conv");
    CHECK(n >= 0 && g->nodes[n].H == 8 && g->nodes[n].C == 1280, "efficientnet top map");
    nn_graph_free(g);
}

/* The table: each entry's builder makes its own architecture's output, its loss fits its output,
 * the names are unique and the lists of names come from it. */
static void test_table(void)
{
    int n = 0;
    for (const nn_model_info *m = nn_models; m->name; m++, n++) {
        CHECK(nn_model_find(m->name) == m, "%s: found another entry", m->name);
        CHECK(m->paper_name && m->paper_name[0] && m->build && m->head && m->cam_layer, "%s: incomplete", m->name);
        CHECK((m->classes == 2) == (m->loss == NN_LOSS_BCE_SOFTMAX2), "%s: loss %s for %d outputs", m->name,
              nn_loss_name(m->loss), m->classes);
        nn_graph *g = nn_model_build(m->name, 64);
        CHECK(g != NULL, "%s", dfs_error());
        if (!g) continue;
        int out = nn_graph_find(g, "head.logits");
        CHECK(out == g->nnodes - 1 && g->nodes[out].C == m->classes, "%s: output is not head.logits of %d", m->name,
              m->classes);
        nn_graph_free(g);
    }
    CHECK(n == 5, "%d architectures", n);
    CHECK(nn_model_find("meso5") == NULL && nn_model_find("") == NULL && nn_model_find(NULL) == NULL, "find");
    char buf[256];
    CHECK(!strcmp(nn_model_list(buf, sizeof buf, " or "), "meso4, mesoinception4, shallownet, xception or efficientnet-b0"),
          "%s", buf);
    CHECK(!strcmp(nn_model_list(buf, 12, ", "), "meso4, meso"), "cut: %s", buf);
    CHECK(nn_model_build("meso5", 256) == NULL &&
              !strcmp(dfs_error(), "unknown architecture 'meso5' (known: meso4, mesoinception4, shallownet, xception, "
                                   "efficientnet-b0)"),
          "%s", dfs_error());
    CHECK(!strcmp(nn_loss_name(NN_LOSS_MSE), "mse") && !strcmp(nn_loss_name(NN_LOSS_BCE), "bce") &&
              !strcmp(nn_loss_name(NN_LOSS_BCE_SOFTMAX2), "bce_softmax2"),
          "loss names");
}

static void test_size_errors(void)
{
    CHECK(nn_model_build("meso5", 256) == NULL && strstr(dfs_error(), "unknown architecture"), "%s", dfs_error());
    CHECK(nn_model_build("shallownet", 16) == NULL && strstr(dfs_error(), "shallownet at 16x16"), "%s", dfs_error());
    nn_graph *g = nn_model_build("meso4", 1);   /* 'same' layers accept any size */
    CHECK(g != NULL, "%s", dfs_error());
    nn_graph_free(g);
}

static void test_train_only(void)
{
    nn_graph *g = nn_model_build("shallownet", 32);
    const nn_model_info *m = nn_model_find("shallownet");
    int nh = 0;
    while (m->head[nh]) nh++;
    CHECK(nn_graph_train_only(g, m->head, nh) == 0, "%s", dfs_error());
    int64_t t, tr;
    nn_graph_count(g, &t, &tr);
    int64_t flat = g->nodes[nn_graph_find(g, "head.flatten")].C;
    CHECK(tr == flat * 1024 + 1024 + 2 * 1024 + 1024 + 1, "head trainable %lld", (long long)tr);
    CHECK(!g->nodes[nn_graph_find(g, "head.bn")].frozen, "head bn trains");
    const char *bad[] = {"head.nothing"};
    CHECK(nn_graph_train_only(g, bad, 1) != 0 && strstr(dfs_error(), "head.nothing"), "unknown name refused");
    nn_graph_unfreeze_all(g);
    int64_t t2, tr2;
    nn_graph_count(g, &t2, &tr2);
    CHECK(t2 == t && tr2 == t - 2 * 1024, "unfreeze all");
    nn_graph_free(g);
}

static char tmpdir[64];

static void test_checkpoint_roundtrip(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/m.ckpt", tmpdir);
    nn_graph *g = nn_model_build("mesoinception4", 64);
    dfs_rng rng;
    dfs_rng_seed(&rng, 7);
    CHECK(nn_graph_alloc_params(g, &rng) == 0, "alloc_params: %s", dfs_error());
    CHECK(nn_graph_alloc_train(g) == 0, "alloc_train: %s", dfs_error());
    for (size_t i = 0; i < g->nstats; i++) g->stats[i] = 0.5f + (float)i;
    for (size_t i = 0; i < g->nparams; i++) {
        g->train.adam_m[i] = (float)i;
        g->train.adam_v[i] = 2.0f * (float)i;
    }
    const char *head[] = {"head.dense1", "head.logits"};
    nn_graph_train_only(g, head, 2);
    nn_ckpt_state st = {.adam_t = 12, .epoch = 3};
    dfs_rng_seed(&st.rng, 99);
    CHECK(nn_checkpoint_save(g, "mesoinception4", 64, "stage=2\n", &st, path) == 0, "%s", dfs_error());

    nn_ckpt_info info;
    nn_graph *h = nn_checkpoint_load(path, "mesoinception4", &info);
    CHECK(h != NULL, "%s", dfs_error());
    if (h) {
        CHECK(info.size == 64 && !strcmp(info.arch, "mesoinception4") && strstr(info.meta, "stage=2\n"), "info");
        CHECK(!memcmp(h->params, g->params, g->nparams * sizeof(float)), "params equal");
        CHECK(!memcmp(h->stats, g->stats, g->nstats * sizeof(float)), "stats equal");
        int64_t t1, tr1, t2, tr2;
        nn_graph_count(g, &t1, &tr1);
        nn_graph_count(h, &t2, &tr2);
        CHECK(t1 == t2 && tr1 == tr2 && tr1 == 16 * 16 * 4 + 16 + 17, "trainable flags restored (%lld)", (long long)tr2);
        CHECK(h->nodes[nn_graph_find(h, "block1.bn")].frozen, "frozen batchnorm restored");
        CHECK(nn_graph_alloc_train(h) == 0, "alloc_train: %s", dfs_error());
        nn_ckpt_state st2;
        int has = 0;
        CHECK(nn_checkpoint_load_into(h, "mesoinception4", path, &st2, &has) == 0, "%s", dfs_error());
        CHECK(has && st2.adam_t == 12 && st2.epoch == 3 && !memcmp(&st2.rng, &st.rng, sizeof st.rng), "state");
        CHECK(!memcmp(h->train.adam_v, g->train.adam_v, g->nparams * sizeof(float)), "adam v equal");
        nn_ckpt_info_free(&info);
        nn_graph_free(h);
    }
    /* another architecture is refused, naming both */
    CHECK(nn_checkpoint_load(path, "meso4", NULL) == NULL && strstr(dfs_error(), "is for architecture mesoinception4"),
          "%s", dfs_error());
    nn_graph *m4 = nn_model_build("meso4", 64);
    CHECK(nn_graph_alloc_params(m4, &rng) == 0, "alloc_params: %s", dfs_error());
    CHECK(nn_checkpoint_load_into(m4, "meso4", path, NULL, NULL) != 0 && strstr(dfs_error(), path), "%s", dfs_error());
    nn_graph_free(m4);
    nn_graph_free(g);
}

/* rewrite one record of a checkpoint through a callback and check the loader's complaint */
static void corrupt(const char *src, const char *dst, int which, void (*fn)(dfs_record *))
{
    dfs_record_list l;
    if (dfs_read_all(src, &l) != 0) return;
    fn(&l.v[which]);
    dfs_out o;
    dfs_out_open(&o, dst, 1, 1);
    for (size_t i = 0; i < l.n; i++) dfs_write_record(&o, &l.v[i]);
    dfs_out_commit(&o);
    dfs_record_list_free(&l);
}

static void put_nan(dfs_record *r) { ((float *)r->data)[1] = NAN; }
static void rename_tensor(dfs_record *r) { dfs_meta_set(r, "name", "block1.conv.bogus"); }
static void reshape(dfs_record *r)
{
    uint64_t d[1] = {r->dims[0] * r->dims[1] * r->dims[2] * r->dims[3]};
    r->rank = 1;
    r->dims[0] = d[0];
    r->dims[1] = r->dims[2] = r->dims[3] = 0;
}

static void test_checkpoint_errors(void)
{
    char path[128], bad[128];
    snprintf(path, sizeof path, "%s/a.ckpt", tmpdir);
    snprintf(bad, sizeof bad, "%s/b.ckpt", tmpdir);
    nn_graph *g = nn_model_build("meso4", 32);
    dfs_rng rng;
    dfs_rng_seed(&rng, 3);
    CHECK(nn_graph_alloc_params(g, &rng) == 0, "alloc_params: %s", dfs_error());
    CHECK(nn_checkpoint_save(g, "meso4", 32, NULL, NULL, path) == 0, "%s", dfs_error());

    corrupt(path, bad, 1, put_nan);
    CHECK(nn_checkpoint_load_into(g, "meso4", bad, NULL, NULL) != 0 && strstr(dfs_error(), "block1.conv.weight holds NaN"),
          "%s", dfs_error());
    corrupt(path, bad, 1, rename_tensor);
    CHECK(nn_checkpoint_load_into(g, "meso4", bad, NULL, NULL) != 0 &&
              strstr(dfs_error(), "expected tensor block1.conv.weight, found 'block1.conv.bogus'"),
          "%s", dfs_error());
    corrupt(path, bad, 1, reshape);
    CHECK(nn_checkpoint_load_into(g, "meso4", bad, NULL, NULL) != 0 && strstr(dfs_error(), "is f32 216, expected f32 8x3x3x3"),
          "%s", dfs_error());
    /* a checkpoint of another size has other dense shapes: refused by shape */
    nn_graph *g2 = nn_model_build("meso4", 64);
    CHECK(nn_graph_alloc_params(g2, &rng) == 0, "alloc_params: %s", dfs_error());
    CHECK(nn_checkpoint_load_into(g2, "meso4", path, NULL, NULL) != 0 && strstr(dfs_error(), "head.dense1.weight"), "%s",
          dfs_error());
    nn_graph_free(g2);
    /* a truncated checkpoint */
    dfs_record_list l;
    dfs_read_all(path, &l);
    dfs_out o;
    dfs_out_open(&o, bad, 1, 1);
    for (size_t i = 0; i + 3 < l.n; i++) dfs_write_record(&o, &l.v[i]);
    dfs_out_commit(&o);
    dfs_record_list_free(&l);
    CHECK(nn_checkpoint_load_into(g, "meso4", bad, NULL, NULL) != 0 && strstr(dfs_error(), "ends before tensor"), "%s",
          dfs_error());
    /* not a checkpoint at all */
    FILE *f = fopen(bad, "wb");
    fputs("hello", f);
    fclose(f);
    CHECK(nn_checkpoint_load(bad, NULL, NULL) == NULL && strstr(dfs_error(), bad), "%s", dfs_error());
    nn_graph_free(g);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_models.XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    RUN(test_counts_match_keras);
    RUN(test_named_layers);
    RUN(test_table);
    RUN(test_size_errors);
    RUN(test_train_only);
    RUN(test_checkpoint_roundtrip);
    RUN(test_checkpoint_errors);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) return 1;
    return CHECK_DONE();
}
