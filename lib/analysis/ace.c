/* ace.c: interventional neuron effects and their overlap across datasets (see ace.h). */
#include <float.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/ace.h"
#include "core/lines.h"
#include "nn/backend.h"
#include "core/rng.h"
#include "core/stream.h"

/* The tail graph's activations are kept near cache size: the work per intervention is the same
 * whatever the replication, so a huge replicated batch only adds memory traffic. */
#define ACE_TAIL_BYTES (32u << 20)

void ace_opts_default(ace_opts *o)
{
    o->steps = 4;
    o->batches = 30;
    o->batch = 64;
    o->range = ACE_RANGE_STUDY;
    o->no_tail = 0;
    o->progress_to = NULL;
    o->progress = 0;
}

/* ---------------------------------------------------------------- sampling */

int ace_sample_read(const char *path, int64_t h, int64_t w, int64_t want, uint64_t seed, ace_sample *s)
{
    memset(s, 0, sizeof *s);
    s->h = h;
    s->w = w;
    if (want < 1) return dfs_fail("ace: nothing to sample");
    dfs_reader rd;
    if (dfs_reader_open(&rd, path) < 0) return -1;
    dfs_record rec;
    dfs_record_init(&rec);
    size_t img = (size_t)(h * w * 3), cap = 0;
    dfs_rng rng;
    dfs_rng_derive(&rng, seed, dfs_hash_str("ace.sample"));
    int rc = 0;
    for (;;) {
        int k = dfs_reader_next(&rd, &rec);
        if (k < 0) {
            rc = -1;
            break;
        }
        if (k == 0) break;
        uint64_t idx = rd.index - 1;
        if (rec.dtype != DFS_U8 || rec.rank != 3 || rec.dims[0] != (uint64_t)h || rec.dims[1] != (uint64_t)w ||
            rec.dims[2] != 3) {
            rc = dfs_fail("%s: record %llu: expected a u8 %lldx%lldx3 image (the model's input size)", rd.name,
                          (unsigned long long)idx, (long long)h, (long long)w);
            break;
        }
        s->seen++;
        /* reservoir sampling (Algorithm R): every record ends in the sample with equal chance */
        int64_t slot = -1;
        if (s->n < want) {
            if ((size_t)s->n == cap) {
                cap = cap ? 2 * cap : 64;
                if (cap > (size_t)want) cap = (size_t)want;
                s->px = dfs_realloc(s->px, dfs_mul_size(cap, img));
            }
            slot = s->n++;
        } else {
            uint64_t r = dfs_rng_below(&rng, s->seen);
            if (r < (uint64_t)want) slot = (int64_t)r;
        }
        if (slot >= 0) memcpy(s->px + (size_t)slot * img, rec.data, img);
    }
    dfs_record_free(&rec);
    dfs_reader_close(&rd);
    if (rc < 0) {
        ace_sample_free(s);
        return -1;
    }
    /* the reservoir's order is not random (early records fill it in order): shuffle it */
    uint64_t *perm = dfs_malloc((size_t)(s->n ? s->n : 1) * sizeof *perm);
    for (int64_t i = 0; i < s->n; i++) perm[i] = (uint64_t)i;
    dfs_rng_shuffle(&rng, perm, (uint64_t)s->n);
    uint8_t *px = dfs_malloc(dfs_mul_size((size_t)(s->n ? s->n : 1), img));
    for (int64_t i = 0; i < s->n; i++) memcpy(px + (size_t)i * img, s->px + perm[i] * img, img);
    free(perm);
    free(s->px);
    s->px = px;
    return 0;
}

void ace_sample_free(ace_sample *s)
{
    free(s->px);
    s->px = NULL;
    s->n = 0;
}

void ace_result_free(ace_result *r)
{
    free(r->lo);
    free(r->hi);
    free(r->e);
    free(r->score);
    free(r->rank);
    memset(r, 0, sizeof *r);
}

/* ---------------------------------------------------------------- the analysis */

/* Images [first, first + n) of the sample as NCHW floats in [0, 1]. */
static void to_nchw(const ace_sample *s, int64_t first, int64_t n, float *x)
{
    int64_t hw = s->h * s->w;
    for (int64_t i = 0; i < n; i++) {
        const uint8_t *p = s->px + (size_t)(first + i) * (size_t)(hw * 3);
        float *o = x + (size_t)i * (size_t)(3 * hw);
        for (int64_t q = 0; q < hw; q++)
            for (int c = 0; c < 3; c++) o[c * hw + q] = (float)p[q * 3 + c] * (1.0f / 255.0f);
    }
}

void ace_rank(ace_result *r)
{
    int64_t *order = dfs_malloc((size_t)r->n * sizeof *order);
    for (int64_t i = 0; i < r->n; i++) order[i] = i;
    /* insertion sort would be quadratic for wide layers: a merge sort by (score desc, index asc) */
    int64_t *tmp = dfs_malloc((size_t)r->n * sizeof *tmp);
    for (int64_t width = 1; width < r->n; width *= 2) {
        for (int64_t lo = 0; lo < r->n; lo += 2 * width) {
            int64_t mid = lo + width < r->n ? lo + width : r->n;
            int64_t hi = lo + 2 * width < r->n ? lo + 2 * width : r->n;
            int64_t a = lo, b = mid, k = lo;
            while (a < mid && b < hi) {
                int64_t x = order[a], y = order[b];
                int take_b = r->score[y] > r->score[x] || (r->score[y] == r->score[x] && y < x);
                tmp[k++] = take_b ? order[b++] : order[a++];
            }
            while (a < mid) tmp[k++] = order[a++];
            while (b < hi) tmp[k++] = order[b++];
        }
        memcpy(order, tmp, (size_t)r->n * sizeof *order);
    }
    for (int64_t k = 0; k < r->n; k++) r->rank[order[k]] = k + 1;
    free(tmp);
    free(order);
}

/* Backend memory for the analysis's own buffers (ranges, values, sums, a saved layer). */
static void *dev_alloc(const nn_backend *be, size_t bytes, int *ok)
{
    if (!*ok) return NULL;
    void *p = be->alloc(bytes ? bytes : 1);
    if (!p) {
        dfs_fail("ace: %zu bytes on %s: %s", bytes, be->name, be->last_error());
        *ok = 0;   /* not dfs_fail's -1: callers test !ok */
    }
    return p;
}

static void dev_free(const nn_backend *be, void *p)
{
    if (p) be->free(p);
}

int ace_run(nn_graph *g, const nn_model_info *m, int layer, const ace_sample *s, const ace_opts *o, ace_result *r)
{
    memset(r, 0, sizeof *r);
    if (o->steps < 1 || o->batches < 1 || o->batch < 1) return dfs_fail("ace: steps, batches and batch must be >= 1");
    if (layer < 0 || layer >= g->nnodes) return dfs_fail("ace: no node %d", layer);
    const nn_node *in0 = &g->nodes[0];
    if (in0->kind != NN_INPUT || in0->C != 3 || in0->H != s->h || in0->W != s->w)
        return dfs_fail("ace: the model takes %lldx%lldx%lld inputs, the images are %lldx%lldx3", (long long)in0->C,
                        (long long)in0->H, (long long)in0->W, (long long)s->h, (long long)s->w);
    if (s->n < 1) return dfs_fail("ace: no images");
    if ((m->classes != 1 && m->classes != 2) || nn_graph_output_size(g) != m->classes)
        return dfs_fail("ace: the graph has %lld outputs, %s models have %d", (long long)nn_graph_output_size(g),
                        m->name, m->classes);

    int64_t full = (int64_t)o->batches * o->batch, first_a = 0, first_b, n_a, n_b;
    if (s->n >= 2 * full) {
        n_a = n_b = full;
        first_b = full;
    } else {
        n_a = n_b = s->n < full ? s->n : full;
        first_b = 0;
        r->shared = 1;
    }
    r->n_a = n_a;
    r->n_b = n_b;

    const nn_node *L = &g->nodes[layer];
    int64_t C = L->C, hw = L->H * L->W, S = C * hw;
    int steps = o->steps;
    r->n = C;
    r->steps = steps;
    r->lo = dfs_malloc((size_t)C * sizeof(double));
    r->hi = dfs_malloc((size_t)C * sizeof(double));
    r->e = dfs_calloc((size_t)(C * steps), sizeof(double));
    r->score = dfs_malloc((size_t)C * sizeof(double));
    r->rank = dfs_malloc((size_t)C * sizeof(int64_t));

    /* Everything per batch runs on g's backend: the ranges, the interventions and the sums of
     * P(fake) stay there, and only the images go up. Crossing once: the ranges down after phase A,
     * the intervention values up, the sums down at the end. */
    const nn_backend *be = g->be;
    int64_t B = o->batch;
    /* inference only: the layer's activations stay readable and can be rerun from */
    nn_graph_set_memory(g, NN_MEM_FORWARD);
    nn_graph_keep(g, layer, 1);
    float *x = nn_graph_set_batch(g, B) != 0 ? NULL
             : nn_graph_host_alloc(g, dfs_mul_size((size_t)B, (size_t)(3 * s->h * s->w) * sizeof(float)));
    float *mn = dfs_malloc((size_t)(2 * C) * sizeof(float)), *mx = mn + C, *val = NULL;
    int ok = x != NULL;
    float *d_range = dev_alloc(be, (size_t)(2 * C) * sizeof(float), &ok), *d_val = NULL, *d_saved = NULL;
    double *d_e = NULL;
    nn_graph *t = NULL;
    int rc = -1;
    if (!ok) goto out;

    /* phase A: ranges */
    for (int64_t b0 = 0; b0 < n_a; b0 += B) {
        int64_t nb = n_a - b0 < B ? n_a - b0 : B;
        to_nchw(s, first_a + b0, nb, x);
        if (nn_graph_forward(g, x, nb, NN_EVAL) < 0) goto out;
        const float *h = nn_graph_out_dev(g, layer);
        if (!h) goto out;
        be->channel_minmax(d_range, d_range + C, h, nb, C, hw, b0 == 0);
    }
    if (be->download(mn, d_range, (size_t)(2 * C) * sizeof(float)) != 0 || be->sync() != 0) {
        dfs_fail("ace: phase A on %s: %s", be->name, be->last_error());
        goto out;
    }
    /* values per step, laid out [step][neuron] so that a group of neurons' values are adjacent */
    val = dfs_malloc((size_t)(C * steps) * sizeof(float));
    for (int64_t c = 0; c < C; c++) {
        double lo = mn[c], hi = mx[c];
        if (o->range == ACE_RANGE_STUDY) {
            if (lo > 1) lo = 1;
            if (hi < 0) hi = 0;
        }
        r->lo[c] = lo;
        r->hi[c] = hi;
        for (int k = 0; k < steps; k++)
            val[k * C + c] = (float)(steps == 1 ? lo : lo + (hi - lo) * (double)k / (double)(steps - 1));
    }
    d_val = dev_alloc(be, (size_t)(C * steps) * sizeof(float), &ok);
    d_e = dev_alloc(be, (size_t)(C * steps) * sizeof(double), &ok);
    if (!ok) goto out;
    if (be->upload(d_val, val, (size_t)(C * steps) * sizeof(float)) != 0) {
        dfs_fail("ace: upload on %s: %s", be->name, be->last_error());
        goto out;
    }
    be->zero(d_e, (size_t)(C * steps) * sizeof(double));

    /* phase B: interventions */
    /* NULL (the full graph is rerun) when the output also reads a node before the layer */
    t = o->no_tail ? NULL : nn_graph_tail(g, layer);
    int64_t G = 1;
    if (t) {
        r->tail = 1;
        int64_t per = 0;   /* floats per sample in the tail: activations and their gradients */
        for (int i = 0; i < t->nnodes; i++) per += 2 * nn_node_size(t, i);
        G = (int64_t)(ACE_TAIL_BYTES / ((size_t)(B * per) * sizeof(float)));
        if (G < 1) G = 1;
        if (G > C) G = C;
        nn_graph_set_memory(t, NN_MEM_FORWARD);
        nn_graph_keep(t, 0, 1);   /* the edited copies of the layer, rerun after each edit */
        if (nn_graph_set_batch(t, B * G) != 0) goto out;
    } else {
        d_saved = dev_alloc(be, dfs_mul_size((size_t)B, (size_t)S * sizeof(float)), &ok);
        if (!ok) goto out;
    }
    dfs_progress prog;
    int64_t nbatches = (n_b + B - 1) / B;
    dfs_progress_start(&prog, o->progress_to, "ace", (uint64_t)(nbatches * C), o->progress);
    int64_t done = 0;
    for (int64_t b0 = 0; b0 < n_b; b0 += B) {
        int64_t nb = n_b - b0 < B ? n_b - b0 : B;
        to_nchw(s, first_b + b0, nb, x);
        if (nn_graph_forward(g, x, nb, NN_EVAL) < 0) goto out_prog;
        float *h = nn_graph_out_dev(g, layer);
        if (!h) goto out_prog;
        if (t) {
            /* G copies of the batch in the tail's input, filled once per batch; each
             * intervention sets one neuron per copy and reruns the tail (the last group may
             * leave copies unedited: their outputs are ignored) */
            if (nn_graph_forward_dev(t, h, nb, G, NN_EVAL) < 0) goto out_prog;
            float *h0 = nn_graph_out_dev(t, 0), *logits = nn_graph_out_dev(t, t->output);
            if (!h0 || !logits) goto out_prog;
            for (int64_t c0 = 0; c0 < C; c0 += G) {
                int64_t gc = C - c0 < G ? C - c0 : G;
                for (int k = 0; k < steps; k++) {
                    be->set_neurons(h0, NULL, d_val + k * C + c0, gc, nb, C, hw, c0);
                    if (nn_graph_forward_from(t, 0, NN_EVAL) < 0) goto out_prog;
                    be->pfake_sum(d_e + c0 * steps + k, steps, logits, m->classes, gc, nb);
                }
                be->set_neurons(h0, h, NULL, gc, nb, C, hw, c0);   /* back to the observed values */
                done += gc;
                dfs_progress_update(&prog, (uint64_t)done);
            }
        } else {
            float *logits = nn_graph_out_dev(g, g->output);
            if (!logits) goto out_prog;
            be->copy(d_saved, h, (size_t)(nb * S) * sizeof(float));
            for (int64_t c = 0; c < C; c++) {
                for (int k = 0; k < steps; k++) {
                    be->set_neurons(h, NULL, d_val + k * C + c, 1, nb, C, hw, c);
                    if (nn_graph_forward_from(g, layer, NN_EVAL) < 0) goto out_prog;
                    be->pfake_sum(d_e + c * steps + k, steps, logits, m->classes, 1, nb);
                }
                be->set_neurons(h, d_saved, NULL, 1, nb, C, hw, c);
                dfs_progress_update(&prog, (uint64_t)++done);
            }
        }
    }
    if (be->download(r->e, d_e, (size_t)(C * steps) * sizeof(double)) != 0 || be->sync() != 0) {
        dfs_fail("ace: phase B on %s: %s", be->name, be->last_error());
        goto out_prog;
    }
    for (int64_t c = 0; c < C; c++) {
        double lo = DBL_MAX, hi = -DBL_MAX;
        for (int k = 0; k < steps; k++) {
            double e = r->e[c * steps + k] /= (double)n_b;
            if (e < lo) lo = e;
            if (e > hi) hi = e;
        }
        r->score[c] = hi - lo;
    }
    ace_rank(r);
    rc = 0;
out_prog:
    dfs_progress_end(&prog);
out:
    if (t) nn_graph_free(t);
    nn_graph_host_free(g, x);
    dev_free(be, d_range);
    dev_free(be, d_val);
    dev_free(be, d_e);
    dev_free(be, d_saved);
    free(val);
    free(mn);
    if (rc < 0) ace_result_free(r);
    return rc;
}

int ace_write_tsv(dfs_out *out, const ace_result *r)
{
    FILE *f = out->f;
    fprintf(f, "neuron\tlo\thi");
    for (int k = 0; k < r->steps; k++) fprintf(f, "\te%d", k + 1);
    fprintf(f, "\tscore\trank\n");
    for (int64_t c = 0; c < r->n; c++) {
        fprintf(f, "%lld\t%.9g\t%.9g", (long long)c, r->lo[c], r->hi[c]);
        for (int k = 0; k < r->steps; k++) fprintf(f, "\t%.9g", r->e[c * r->steps + k]);
        fprintf(f, "\t%.9g\t%lld\n", r->score[c], (long long)r->rank[c]);
    }
    if (ferror(f)) return dfs_fail("%s: write failed: %s", dfs_out_name(out), strerror(errno ? errno : EIO));
    return 0;
}

/* ---------------------------------------------------------------- overlap */

int ace_read_ranks(const char *path, int64_t **rank, int64_t *n)
{
    *rank = NULL;
    *n = 0;
    FILE *f = fopen(path, "r");
    if (!f) return dfs_fail("%s: cannot open", path);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int col_neuron = -1, col_rank = -1, rc = 0;
    long lineno = 0;
    int64_t count = 0, alloc = 0;
    int64_t *rk = NULL;
    uint8_t *seen = NULL;
    while ((len = dfs_getline(&line, &cap, f)) > 0 || len == -2) {
        lineno++;
        if (len == -2) {
            rc = dfs_fail("%s: line %ld: longer than %u bytes", path, lineno, DFS_MAX_LINE);
            break;
        }
        if (line[len - 1] == '\n') line[--len] = 0;
        char *save = NULL, *tok;
        int col = 0;
        if (lineno == 1) {
            for (tok = strtok_r(line, "\t", &save); tok; tok = strtok_r(NULL, "\t", &save), col++) {
                if (!strcmp(tok, "neuron")) col_neuron = col;
                if (!strcmp(tok, "rank")) col_rank = col;
            }
            if (col_neuron < 0 || col_rank < 0) {
                rc = dfs_fail("%s: line 1: not an ace table (no 'neuron' and 'rank' columns)", path);
                break;
            }
            continue;
        }
        long nv = -1, rv = -1;
        for (tok = strtok_r(line, "\t", &save); tok; tok = strtok_r(NULL, "\t", &save), col++) {
            if (col == col_neuron && dfs_parse_long(tok, 0, 100000000, &nv) < 0) nv = -1;
            if (col == col_rank && dfs_parse_long(tok, 1, 100000000, &rv) < 0) rv = -1;
        }
        if (nv < 0 || rv < 0) {
            rc = dfs_fail("%s: line %ld: bad neuron or rank", path, lineno);
            break;
        }
        if (nv >= alloc) {
            int64_t na = alloc ? alloc : 256;
            while (na <= nv) na *= 2;
            rk = dfs_realloc(rk, (size_t)na * sizeof *rk);
            seen = dfs_realloc(seen, (size_t)na);
            memset(seen + alloc, 0, (size_t)(na - alloc));
            alloc = na;
        }
        if (seen[nv]) {
            rc = dfs_fail("%s: line %ld: neuron %ld listed twice", path, lineno, nv);
            break;
        }
        seen[nv] = 1;
        rk[nv] = rv;
        count++;
    }
    if (!rc && ferror(f)) rc = dfs_fail("%s: read error", path);
    if (!rc && count == 0) rc = dfs_fail("%s: no neurons", path);
    /* neurons 0..count-1 each once, ranks a permutation of 1..count */
    if (!rc) {
        uint8_t *used = dfs_calloc((size_t)count + 1, 1);
        for (int64_t i = 0; i < count && !rc; i++) {
            if (i >= alloc || !seen[i]) rc = dfs_fail("%s: neuron %lld missing", path, (long long)i);
            else if (rk[i] > count || used[rk[i]]) rc = dfs_fail("%s: ranks are not 1..%lld", path, (long long)count);
            else used[rk[i]] = 1;
        }
        free(used);
    }
    free(line);
    free(seen);
    fclose(f);
    if (rc) {
        free(rk);
        return -1;
    }
    *rank = rk;
    *n = count;
    return 0;
}

void ace_overlap_count(int64_t *const *ranks, int nfiles, int64_t N, int64_t k, int64_t *count)
{
    for (int j = 0; j <= nfiles; j++) count[j] = 0;
    for (int64_t i = 0; i < N; i++) {
        int in = 0;
        for (int f = 0; f < nfiles; f++) in += ranks[f][i] <= k;
        count[in]++;
    }
}

static double log_choose(double n, double k)
{
    return lgamma(n + 1) - lgamma(k + 1) - lgamma(n - k + 1);
}

double ace_overlap_expected(int64_t N, int64_t k, int n, int j)
{
    double p = (double)k / (double)N;
    return (double)N * exp(log_choose(n, j)) * pow(p, j) * pow(1 - p, n - j);
}

double ace_overlap_pvalue(int64_t N, int64_t k, int n, int64_t observed)
{
    if (observed <= 0) return 1.0;
    if (k > N) k = N;
    double *d = dfs_calloc((size_t)k + 1, sizeof(double)), *nd = dfs_calloc((size_t)k + 1, sizeof(double));
    d[k] = 1.0;
    for (int t = 1; t < n; t++) {
        for (int64_t x = 0; x <= k; x++) nd[x] = 0;
        for (int64_t mm = 0; mm <= k; mm++) {
            if (d[mm] == 0) continue;
            /* x of the next set's k draws fall in the mm current members */
            int64_t xlo = k - (N - mm) > 0 ? k - (N - mm) : 0;
            for (int64_t xx = xlo; xx <= mm; xx++)
                nd[xx] += d[mm] * exp(log_choose((double)mm, (double)xx) + log_choose((double)(N - mm), (double)(k - xx)) -
                                      log_choose((double)N, (double)k));
        }
        double *sw = d;
        d = nd;
        nd = sw;
    }
    double p = 0;
    for (int64_t x = observed; x <= k; x++) p += d[x];
    free(d);
    free(nd);
    return p > 1 ? 1 : p;
}
