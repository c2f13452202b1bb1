/* ace: the causal effect of each neuron of a layer on P(fake), and the overlap of the most causal
 * neurons across datasets (RQ4). The work is in lib/analysis/ace.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/ace.h"
#include "core/args.h"
#include "core/common.h"
#include "tool/tool.h"
#include "nn/checkpoint.h"
#include "tool/device.h"
#include "nn/graph.h"
#include "nn/models.h"

static const char usage[] =
    "usage: ace -m MODEL.ckpt [--layer NAME] [options] [DATA.dft] > ace.tsv\n"
    "       ace --overlap [--top 64,128,256,512] [--markdown] A.tsv B.tsv ...\n"
    "\n"
    "Causal effect of each neuron of a layer on the detector's P(fake) (the study's RQ4).\n"
    "For each neuron i (a dense unit, or a whole channel of a convolution-like layer):\n"
    "  phase A  its range [lo, hi] over the phase-A images; by default as the study's code did it,\n"
    "           lo = min(observed min, 1), hi = max(observed max, 0) (--range observed: plain min/max)\n"
    "  phase B  for STEPS values v evenly spaced over [lo, hi], E[P(fake) | do(h_i = v)]: h_i (for a\n"
    "           channel, its whole map) is set to v for every image, all other neurons as observed,\n"
    "           the rest of the network in eval mode; mean over the phase-B images\n"
    "  score    max - min of the expectations; rank 1 = largest score (ties: smaller index)\n"
    "Images are u8 HxWx3 records of the model's input size, read from DATA.dft or stdin. A seeded\n"
    "sample of 2 x BATCHES x BATCH records is drawn: phase A uses one half, phase B the other; a\n"
    "stream with fewer records uses the same min(count, BATCHES x BATCH) records in both phases\n"
    "(said on stderr).\n"
    "Output TSV: neuron lo hi e1 .. eSTEPS score rank (header line, one line per neuron).\n"
    "\n"
    "  -m, --model FILE   checkpoint (train's format)\n"
    "  --layer NAME       node to analyse (default: the architecture's, e.g. shallownet's\n"
    "                     head.relu = Dense(1024) after ReLU, before batchnorm)\n"
    "  --steps N          values per neuron (default 4)\n"
    "  --batches N        batches per phase (default 30)\n"
    "  --batch N          images per batch (default 64)\n"
    "  --seed S           sampling seed (default 123, the study's)\n"
    "  --range study|observed   see phase A (default study)\n"
    "  --no-tail          rerun the full graph after the layer for every intervention instead of\n"
    "                     a replicated copy of the part after it (same numbers, slower; a check)\n"
    "  -o FILE            write the table to FILE (atomically) instead of stdout\n"
    "  --progress         show progress even when stderr is not a terminal\n"
    "  --threads N        OpenMP and BLAS threads (default: all cores)\n"
    "  --device D         where the network runs: auto (default: cuda when a usable GPU is found,\n"
    "                     else cpu), cpu or cuda (fails without a usable GPU); cpu-split is a test\n"
    "                     device (cpu ops on separate memory, results equal cpu's)\n"
    "                     DFS_DEVICE=D in the environment sets the default (make test: cpu)\n"
    "  --verbose          name the device on stderr (without it, only a GPU that auto chose is named)\n"
    "\n"
    "Overlap mode: for each K of --top, the number of neurons among the top K of exactly j of the\n"
    "n files (j = 1..n), the number expected by chance, N C(n,j) p^j (1-p)^(n-j) with p = K/N, if\n"
    "each file's top K were an independent uniformly random K-subset of the N neurons, and (on the\n"
    "j = n line) the exact p-value P(all-n count >= observed) under that model.\n"
    "Output TSV: k j observed expected p_value ('-' where j < n); --markdown: a table.\n"
    "  -h, --help         show this help\n";

typedef struct ace_args {
    const char *model, *layer, *input, *output, *top, *device;
    int verbose;
    long threads;
    ace_opts o;
    uint64_t seed;
    int overlap, markdown;
    const char **files;
    int nfiles;
} ace_args;

static void parse_args(int argc, char **argv, ace_args *a)
{
    memset(a, 0, sizeof *a);
    ace_opts_default(&a->o);
    a->o.progress_to = stderr;
    a->output = "-";
    a->top = "64,128,256,512";
    long steps = a->o.steps, batches = a->o.batches, batch = a->o.batch, seed = 123;
    const char *range = NULL;
    const dfs_opt opts[] = {
        DFS_OPT_HELP,
        DFS_OPT_STR_("-m", "--model", &a->model),
        DFS_OPT_STR_("--layer", NULL, &a->layer),
        DFS_OPT_LONG_("--steps", NULL, &steps, 1, 1000),
        DFS_OPT_LONG_("--batches", NULL, &batches, 1, 1000000),
        DFS_OPT_LONG_("--batch", NULL, &batch, 1, 65536),
        DFS_OPT_LONG_("--seed", NULL, &seed, 0, 0x7fffffffffffffffL),
        DFS_OPT_STR_("--range", NULL, &range),
        DFS_OPT_FLAG_("--no-tail", NULL, &a->o.no_tail),
        DFS_OPT_OUTPUT(&a->output),
        DFS_OPT_PROGRESS(&a->o.progress),
        DFS_OPT_THREADS(&a->threads),
        DFS_OPT_DEVICE(&a->device),
        DFS_OPT_VERBOSE(&a->verbose),
        DFS_OPT_FLAG_("--overlap", NULL, &a->overlap),
        DFS_OPT_STR_("--top", NULL, &a->top),
        DFS_OPT_FLAG_("--markdown", NULL, &a->markdown),
        DFS_OPT_END_,
    };
    dfs_args args = {.unknown_fmt = "unknown argument '%s' (see --help)"};
    dfs_args_done(dfs_args_parse(&args, opts, argc, argv), opts, usage);
    a->o.steps = (int)steps;
    a->o.batches = (int)batches;
    a->o.batch = (int)batch;
    a->seed = (uint64_t)seed;
    if (range && !strcmp(range, "study")) a->o.range = ACE_RANGE_STUDY;
    else if (range && !strcmp(range, "observed")) a->o.range = ACE_RANGE_OBSERVED;
    else if (range) dfs_die("--range: '%s' is not study or observed", range);
    a->files = args.pos.v;
    a->nfiles = args.pos.n;
}

static int run_overlap(const ace_args *a)
{
    if (a->nfiles < 2) dfs_die("--overlap needs at least two ace tables");
    int n = a->nfiles;
    int64_t **ranks = dfs_malloc((size_t)n * sizeof *ranks), N = 0;
    for (int f = 0; f < n; f++) {
        int64_t nf;
        if (ace_read_ranks(a->files[f], &ranks[f], &nf) < 0) dfs_die_error();
        if (f && nf != N) dfs_die("%s: %lld neurons, %s has %lld", a->files[f], (long long)nf, a->files[0], (long long)N);
        N = nf;
    }
    /* the top list */
    int64_t ks[64];
    int nk = 0;
    char *list = dfs_strdup(a->top), *save = NULL;
    for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (nk == 64) dfs_die("--top: at most 64 values");
        long k;
        if (dfs_parse_long(tok, 1, N, &k) < 0) dfs_die("--top: '%s' is not an integer in [1, %lld]", tok, (long long)N);
        ks[nk++] = k;
    }
    free(list);
    if (!nk) dfs_die("--top: no values");

    dfs_out out;
    if (dfs_out_open(&out, a->output, 0, 1) < 0) dfs_die_error();
    FILE *o = out.f;
    int64_t *count = dfs_malloc((size_t)(n + 1) * sizeof *count);
    if (a->markdown) {
        fprintf(o, "| top k |");
        for (int j = 1; j <= n; j++) fprintf(o, " in exactly %d (chance) |", j);
        fprintf(o, " p (all %d) |\n|---:|", n);
        for (int j = 1; j <= n; j++) fprintf(o, "---:|");
        fprintf(o, "---:|\n");
    } else {
        fprintf(o, "k\tj\tobserved\texpected\tp_value\n");
    }
    for (int q = 0; q < nk; q++) {
        ace_overlap_count(ranks, n, N, ks[q], count);
        double p = ace_overlap_pvalue(N, ks[q], n, count[n]);
        if (a->markdown) fprintf(o, "| %lld |", (long long)ks[q]);
        for (int j = 1; j <= n; j++) {
            double e = ace_overlap_expected(N, ks[q], n, j);
            if (a->markdown) {
                fprintf(o, " %lld (%.1f) |", (long long)count[j], e);
            } else {
                fprintf(o, "%lld\t%d\t%lld\t%.6g\t", (long long)ks[q], j, (long long)count[j], e);
                if (j == n) fprintf(o, "%.6g\n", p);
                else fprintf(o, "-\n");
            }
        }
        if (a->markdown) fprintf(o, " %.3g |\n", p);
    }
    if (ferror(o)) dfs_die("%s: write failed: %s", dfs_out_name(&out), strerror(errno ? errno : EIO));
    if (dfs_out_commit(&out) < 0) dfs_die_error();
    for (int f = 0; f < n; f++) free(ranks[f]);
    free(ranks);
    free(count);
    free(a->files);
    return 0;
}

int main(int argc, char **argv)
{
    dfs_tool_init(argv[0]);
    ace_args a;
    parse_args(argc, argv, &a);
    {
        const char **ins = dfs_malloc(((size_t)a.nfiles + 1) * sizeof *ins);
        for (int i = 0; i < a.nfiles; i++) ins[i] = a.files[i];
        ins[a.nfiles] = a.model;
        const char *outs[] = {a.output};
        if (dfs_paths_distinct(outs, 1, ins, (size_t)a.nfiles + 1) != 0) dfs_die_error();
        free(ins);
    }
    if (a.overlap) return run_overlap(&a);

    if (!a.model) dfs_die("-m MODEL.ckpt is required (see --help)");
    if (a.nfiles > 1) dfs_die("one data stream at a time (got %d)", a.nfiles);
    const char *input = a.nfiles ? a.files[0] : "-";
    const nn_backend *be = dfs_tool_device(a.device, a.verbose);   /* before any file is read or written */
    dfs_tool_threads(a.threads);
    nn_ckpt_info info;
    dfs_spool sp;   /* the checkpoint is opened twice (header, then tensors): a pipe is copied once */
    if (dfs_spool_open(&sp, a.model) != 0) dfs_die_error();
    nn_graph *g = nn_checkpoint_load(sp.path, NULL, &info);
    if (!g) dfs_spool_error(&sp);
    dfs_spool_close(&sp);
    if (!g || nn_graph_set_backend(g, be) != 0) dfs_die_error();
    const nn_model_info *m = nn_model_find(info.arch);
    if (!m) dfs_die("%s: unknown architecture '%s'", a.model, info.arch);
    const char *layer_name = a.layer ? a.layer : m->ace_layer;
    if (!layer_name) dfs_die("%s: %s has no default layer: give --layer", a.model, info.arch);
    int layer = nn_graph_find(g, layer_name);
    if (layer < 0) dfs_die("%s: no layer '%s' in %s", a.model, layer_name, info.arch);

    int64_t want = 2 * (int64_t)a.o.batches * a.o.batch;
    ace_sample s;
    if (ace_sample_read(input, g->nodes[0].H, g->nodes[0].W, want, a.seed, &s) < 0) dfs_die_error();
    const char *in_name = strcmp(input, "-") ? input : "<stdin>";
    if (s.n == 0) dfs_die("%s: no images", in_name);
    if (s.n < want)
        dfs_warn("%s: %llu images, fewer than 2 x %d batches x %d: both phases use the same %lld images", in_name,
                 (unsigned long long)s.seen, a.o.batches, a.o.batch,
                 (long long)(s.n < (int64_t)a.o.batches * a.o.batch ? s.n : (int64_t)a.o.batches * a.o.batch));

    dfs_out out;
    if (dfs_out_open(&out, a.output, 0, 1) < 0) dfs_die_error();
    ace_result r;
    if (ace_run(g, m, layer, &s, &a.o, &r) < 0) dfs_die("%s: %s", a.model, dfs_error());
    if (ace_write_tsv(&out, &r) < 0 || dfs_out_commit(&out) < 0) dfs_die_error();
    ace_result_free(&r);
    ace_sample_free(&s);
    nn_graph_free(g);
    nn_ckpt_info_free(&info);
    free(a.files);
    return 0;
}
