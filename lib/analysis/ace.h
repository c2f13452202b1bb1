/* ace.h: the causal effect of each neuron of a layer on a detector's P(fake) (RQ4), and the
 * overlap of the most causal neurons across datasets.
 *
 * Authority: docs/study-facts.md section 5. For a layer with activations h (a dense
 * layer: one neuron per unit; a convolution-like (C, H, W) output: one neuron per channel), and for
 * each neuron i:
 *   phase A: the range [lo_i, hi_i] of h_i over the phase-A images (a channel's range is over all
 *            of its positions). The study's code started its running min at 1 and its running max
 *            at 0, so it effectively used lo_i = min(min_i, 1), hi_i = max(max_i, 0): that is
 *            ACE_RANGE_STUDY (the default); ACE_RANGE_OBSERVED uses the plain min and max.
 *   phase B: for `steps` values v evenly spaced over [lo_i, hi_i] (numpy linspace: steps = 1 gives
 *            lo_i), E[P(fake) | do(h_i = v)]: h_i is set to v for every phase-B image (for a
 *            channel, its whole map is set to v) while every other neuron keeps its observed
 *            value; the rest of the network runs in eval mode (dropout off, batchnorm on running
 *            statistics). The expectation is the mean over all phase-B images (with full batches
 *            this equals the study's mean of per-batch means).
 *   score_i = max_v E - min_v E; rank 1 = largest score, ties broken by the smaller index.
 * The study's sigmoid output was P(real) = 1 - P(fake); the expectations here are P(fake), so
 * they are 1 minus the study's, and scores and ranks are the same.
 *
 * Data: the records of a stream are sampled deterministically by seed (reservoir sampling of
 * 2 * batches * batch records, then a seeded shuffle). With at least that many, phase A uses the
 * first half and phase B the second half, as the study drew fresh batches for each phase; with
 * fewer, both phases use the same min(count, batches * batch) records (the caller is told).
 *
 * Efficiency: the network runs once per batch up to the layer. The part after the layer is
 * copied into a small graph of its own (nn_graph_tail) when it depends on nothing else before
 * the layer (true of every dense head); that tail then runs on the batch replicated for many
 * neurons at once.
 * Otherwise every intervention reruns the nodes after the layer in the full graph
 * (nn_graph_forward_from). Both give the same numbers up to float rounding.
 * Everything per batch runs on the graph's backend (its analysis ops: channel ranges, setting a
 * neuron, sums of P(fake)): only the images cross to it per batch; the ranges, the intervention
 * values and the sums cross once per run. */
#ifndef DFS_ANALYSIS_ACE_H
#define DFS_ANALYSIS_ACE_H

#include <stdint.h>
#include "core/common.h"
#include "nn/graph.h"
#include "nn/models.h"

enum { ACE_RANGE_STUDY = 0, ACE_RANGE_OBSERVED = 1 };

typedef struct ace_opts {
    int steps;           /* values per neuron (study: 4) */
    int batches;         /* batches per phase (study: 30) */
    int batch;           /* images per batch (study: 64) */
    int range;           /* ACE_RANGE_STUDY or ACE_RANGE_OBSERVED */
    int no_tail;         /* 1: always rerun the full graph after the layer (for tests) */
    FILE *progress_to;   /* where progress goes (a tool passes stderr); NULL: none */
    int progress;        /* 1: show it even when progress_to is not a terminal */
} ace_opts;
void ace_opts_default(ace_opts *o);

/* The sampled images: u8 HWC RGB, n of them, each h x w x 3, back to back. */
typedef struct ace_sample {
    uint8_t *px;
    int64_t n, h, w;
    uint64_t seen;       /* records in the stream */
} ace_sample;

/* Read the u8 (H, W, 3) records of a stream ("-": stdin) and keep a seeded sample of up to
 * `want` of them in a seeded random order. Every record must be u8 h x w x 3. Errors name the
 * file and record. */
int ace_sample_read(const char *path, int64_t h, int64_t w, int64_t want, uint64_t seed, ace_sample *s);
void ace_sample_free(ace_sample *s);

typedef struct ace_result {
    int64_t n;           /* neurons */
    int steps;
    double *lo, *hi;     /* n each */
    double *e;           /* n x steps: E[P(fake) | do(h_i = v_s)] */
    double *score;       /* n */
    int64_t *rank;       /* n, 1-based */
    int64_t n_a, n_b;    /* images used in phases A and B */
    int shared;          /* 1 when both phases used the same images */
    int tail;            /* 1 when the tail graph was used */
} ace_result;
void ace_result_free(ace_result *r);

/* Run the analysis of node `layer` of g (params loaded) on the sample. m gives the output
 * convention (nn_model_pfake). The graph's input must be (3, s->h, s->w). */
int ace_run(nn_graph *g, const nn_model_info *m, int layer, const ace_sample *s, const ace_opts *o,
            ace_result *r);

/* Fill r->rank from r->score (1 = largest; ties by index). */
void ace_rank(ace_result *r);

/* TSV: header "neuron lo hi e1 .. eS score rank", one line per neuron in index order. */
int ace_write_tsv(dfs_out *out, const ace_result *r);

/* ---- overlap across datasets ----
 * Null model: each file's top-k set is an independent, uniformly random k-subset of the N
 * neurons. Then each neuron is in a given set with probability p = k/N independently across
 * sets, so the expected number of neurons in exactly j of n sets is N C(n,j) p^j (1-p)^(n-j)
 * (exact, by linearity). The size of the intersection of all n sets follows the chain
 * m_1 = k, m_{t+1} ~ Hypergeometric(N, m_t successes, k draws); the p-value is
 * P(intersection >= observed), computed exactly from that chain. */

/* The ranks of one ace TSV (columns "neuron" and "rank"); rank[i] for neuron i = 0..n-1. */
int ace_read_ranks(const char *path, int64_t **rank, int64_t *n);
/* count[j] for j = 0..nfiles: neurons with rank <= k in exactly j of the files. */
void ace_overlap_count(int64_t *const *ranks, int nfiles, int64_t N, int64_t k, int64_t *count);
/* N C(n,j) p^j (1-p)^(n-j), p = k/N */
double ace_overlap_expected(int64_t N, int64_t k, int n, int j);
/* P(|intersection of n random k-subsets of N| >= observed) */
double ace_overlap_pvalue(int64_t N, int64_t k, int n, int64_t observed);

#endif
