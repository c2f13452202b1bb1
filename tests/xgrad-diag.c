/* xgrad-diag: Xception's training-mode gradients, node by node, against PyTorch dumps.
 * Not part of make test (the dumps are 136 MB each). Evidence for the kink analysis in
 * tests/unit/test_models_ref.c. From the repository root, after make:
 *   /usr/bin/python3 tests/make-fixtures-xgrad.py --dump /tmp/r64.dft 64 4 float64
 *   /usr/bin/python3 tests/make-fixtures-xgrad.py --dump /tmp/r32.dft 64 4 float32
 *   gcc -O2 -march=native -std=c11 -D_GNU_SOURCE -fopenmp -Ilib -Itests $(pkg-config --cflags openblas) \
 *       -o /tmp/xgrad-diag tests/xgrad-diag.c build/libdfstudy.a $(pkg-config --libs libpng zlib \
 *       libavformat libavcodec libswscale libavutil openblas) -lm
 *   /tmp/xgrad-diag tests/fixtures/models-xception.dft /tmp/r64.dft /tmp/r32.dft 64 4
 * prints, from the output backwards, per node: max |dL/dnode| of the float64 reference, and
 * max |C - ref| and max |torch float32 - ref| relative to it. PINS=tests/fixtures/models-xception-pins.dft
 * first takes the reference's side at the listed kinks; PARAMS=1 adds every parameter gradient. */
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <stdlib.h>
#include <stdio.h>
#include "core/common.h"
#include "nn/graph.h"
#include "nn/models.h"
#include "nn/ops.h"
#include "core/stream.h"
#include "unit/fixture_hash.h"
static const dfs_record *find(const dfs_record_list *l, const char *name)
{
    return dfs_record_list_find(l, "name", name);
}
static double maxabs(const float *a, int64_t n){double m=0;for(int64_t i=0;i<n;i++)m=fmax(m,fabs(a[i]));return m;}
static double maxdiff(const float *a, const float *b, int64_t n){double m=0;for(int64_t i=0;i<n;i++)m=fmax(m,fabs((double)a[i]-b[i]));return m;}
int main(int argc, char **argv)
{
    /* diag SPECFILE REF64 REF32 SIZE BATCH */
    if (argc != 6) {
        fprintf(stderr, "usage: xgrad-diag SPECS REF64 REF32 SIZE BATCH\n");
        return 2;
    }
    dfs_record_list fx, r64, r32;
    if (dfs_read_all(argv[1], &fx) || dfs_read_all(argv[2], &r64) || dfs_read_all(argv[3], &r32)) { fprintf(stderr, "%s\n", dfs_error()); return 1; }
    long S = atol(argv[4]), N = atol(argv[5]);
    nn_graph *g = nn_model_build("xception", S);
    dfs_rng rng; dfs_rng_seed(&rng, 1);
    if (nn_graph_alloc_params(g, &rng) || nn_graph_alloc_train(g) || nn_graph_set_batch(g, N)) { fprintf(stderr, "%s\n", dfs_error()); return 1; }
    nn_graph_want_grad(g, 0, 1); g->run.no_dropout = 1;
    char nm[200];
    for (int t = 0; t < g->ntensors; t++) {
        snprintf(nm, sizeof nm, "spec.%s", g->tensors[t].name);
        const dfs_record *r = find(&fx, nm);
        const double *sp = r->data; float *d = nn_tensor_data(g, t);
        for (int64_t j = 0; j < g->tensors[t].n; j++) d[j] = hash_value((uint64_t)sp[0], j, sp[1], sp[2]);
    }
    int64_t nx = N * 3 * S * S; float *x = malloc(nx * 4);
    for (int64_t j = 0; j < nx; j++) x[j] = hash_value(100000, j, 0.5, 0.5);
    float target[16]; for (int i = 0; i < N; i++) target[i] = i % 2;
    nn_graph_zero_grad(g);
    nn_graph_forward(g, x, N, NN_TRAIN);
    float dl[64];
    double L = nn_loss_bce_softmax2(dl, nn_graph_output(g), target, N);
    if (getenv("PINS")) {
        dfs_record_list pl; dfs_read_all(getenv("PINS"), &pl);
        int changed = 0, total = 0;
        for (size_t r = 0; r < pl.n; r++) {
            char *name = dfs_meta_dup(&pl.v[r], "name");
            if (!name || strncmp(name, "pin.", 4)) {
                free(name);
                continue;
            }
            int j = nn_graph_find(g, name + 4);
            const int64_t *p = pl.v[r].data; int64_t m = dfs_record_elems(&pl.v[r]) / 2;
            nn_node *nd = &g->nodes[j];
            for (int64_t q = 0; q < m; q++) {
                int64_t k = p[2*q], d = p[2*q+1]; total++;
                if (nd->kind == NN_RELU) {
                    float *v = &g->nodes[nd->in[0]].out[k];
                    if ((*v > 0) != (d != 0)) { changed++; printf("pin %s %lld: %g -> %s\n", name, (long long)k, *v, d ? "active" : "inactive"); *v = d ? 1e-30f : 0.0f; }
                } else {
                    if (nd->argmax[k] != d) { changed++; printf("pin %s %lld: argmax %d -> %lld\n", name, (long long)k, nd->argmax[k], (long long)d); nd->argmax[k] = (int32_t)d; }
                }
            }
            free(name);
        }
        printf("%d of %d pinned decisions changed\n", changed, total);
    }
    printf("loss C %.9g ref %.9g\n", L, ((double*)find(&r64,"train.loss")->data)[0]);
    if (nn_graph_backward(g, dl) != 0) { fprintf(stderr, "%s\n", dfs_error()); return 1; }
    printf("%-28s %6s %10s %10s %10s\n", "node", "HW", "max|ref|", "C rel", "t32 rel");
    for (int i = g->nnodes - 1; i >= 0; i--) {
        snprintf(nm, sizeof nm, "act.%s", g->nodes[i].name);
        const dfs_record *a = find(&r64, nm), *b = find(&r32, nm);
        if (!a) { printf("%-28s missing\n", g->nodes[i].name); continue; }
        int64_t n = N * nn_node_size(g, i);
        if ((int64_t)dfs_record_elems(a) != n) { printf("%s size mismatch\n", nm); continue; }
        double m = maxabs(a->data, n);
        printf("%-28s %6lld %10.3g %10.3g %10.3g\n", g->nodes[i].name, (long long)(g->nodes[i].H*g->nodes[i].W), m,
               maxdiff(g->nodes[i].dout, a->data, n) / m, maxdiff(b->data, a->data, n) / m);
    }
    if (getenv("PARAMS")) for (int t = 0; t < g->ntensors; t++) {
        if (g->tensors[t].is_stat) continue;
        snprintf(nm, sizeof nm, "grad.%s", g->tensors[t].name);
        const dfs_record *a = find(&r64, nm), *b = find(&r32, nm);
        int64_t n = g->tensors[t].n; double m = maxabs(a->data, n);
        printf("P %-40s %10.3g %10.3g %10.3g\n", g->tensors[t].name, m, maxdiff(nn_tensor_grad(g,t), a->data, n)/m, maxdiff(b->data,a->data,n)/m);
    }
    return 0;
}
