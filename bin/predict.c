/* predict: a checkpoint's P(fake) for every image of a stream, as a score TSV. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <omp.h>
#include <cblas.h>

#include "core/args.h"
#include "core/common.h"
#include "tool/tool.h"
#include "nn/checkpoint.h"
#include "tool/device.h"
#include "nn/graph.h"
#include "nn/models.h"
#include "study/trainer.h"

static const char usage[] =
    "usage: predict -m M.ckpt [--batch N] [--threads N] [--device D] [-o SCORES.tsv] [IN.dft] > SCORES.tsv\n"
    "\n"
    "Run a trained detector on every record of a tensor stream (a file or stdin, read in batches,\n"
    "so pipes work) and write the score TSV of formats/score-tsv.md: a header\n"
    "'key<TAB>dataset<TAB>label<TAB>p_fake', then one line per record in stream order. P(fake) is\n"
    "sigmoid(logit) for meso4, mesoinception4 and shallownet, softmax(logits)[1] for xception and\n"
    "efficientnet-b0, printed with %.9g. Records must be u8 S x S x 3 images with S the\n"
    "checkpoint's size; any label (-1 unknown is printed as -1). A record without key= is named\n"
    "#INDEX, one without dataset= 'unknown'.\n"
    "\n"
    "  -m FILE        the checkpoint (required; a pipe or FIFO is copied once to $TMPDIR)\n"
    "  --batch N      images per forward pass (default 64); the scores are the same bytes for any N\n"
    "                 (on one OpenBLAS kernel and thread count; README, Numerics)\n"
    "  --threads N    OpenMP and BLAS threads (default: all cores)\n"
    "  -o FILE        write the scores to FILE, whole or not at all (default stdout)\n"
    NN_DEVICE_HELP
    "  --progress     live progress on stderr even when it is not a terminal\n"
    "  -h, --help     show this help\n";

int main(int argc, char **argv)
{
    dfs_tool_init(argv[0]);
    const char *model = NULL, *in = "-", *outp = "-", *device = NULL;
    long batch = 64, threads = 0;
    int progress = 0, verbose = 0;
    const dfs_opt opts[] = {
        DFS_OPT_HELP,
        DFS_OPT_STR_("-m", NULL, &model),
        DFS_OPT_LONG_("--batch", NULL, &batch, 1, 65536),
        DFS_OPT_THREADS(&threads),
        DFS_OPT_OUTPUT(&outp),
        DFS_OPT_DEVICE(&device),
        DFS_OPT_PROGRESS(&progress),
        DFS_OPT_VERBOSE(&verbose),
        DFS_OPT_END_,
    };
    dfs_args args = {.unknown_fmt = "unknown argument '%s' (see --help)"};
    dfs_args_done(dfs_args_parse(&args, opts, argc, argv), opts, usage);
    if (args.pos.n > 1) dfs_die("more than one input stream ('%s'; see --help)", args.pos.v[1]);
    if (args.pos.n == 1) in = args.pos.v[0];
    free(args.pos.v);
    if (!model) dfs_die("-m M.ckpt is required (see --help)");
    const char *outs[] = {outp}, *ins[] = {model, in};
    if (dfs_paths_distinct(outs, 1, ins, 2) != 0) dfs_die_error();
    const nn_backend *be = dfs_tool_device(device, verbose);   /* before any file is read or written */
    dfs_tool_threads(threads);
    nn_ckpt_info info;
    dfs_spool sp;   /* the checkpoint is opened twice (header, then tensors): a pipe is copied once */
    if (dfs_spool_open(&sp, model) != 0) dfs_die_error();
    nn_graph *g = nn_checkpoint_load(sp.path, NULL, &info);
    if (!g) dfs_spool_error(&sp);
    dfs_spool_close(&sp);
    if (!g || nn_graph_set_backend(g, be) != 0) dfs_die_error();
    const nn_model_info *m = nn_model_find(info.arch);
    dfs_out o;
    if (dfs_out_open(&o, outp, 0, 1) != 0) dfs_die_error();
    int rc = nn_predict_stream(g, m, info.size, in, (int)batch, o.f, stderr, progress);
    if (rc == 0 && ferror(o.f))   /* the name now: abort frees it */
        rc = dfs_fail("%s: write failed: %s", dfs_out_name(&o), strerror(errno ? errno : EIO));
    if (rc != 0) dfs_out_abort(&o);
    else rc = dfs_out_commit(&o);
    nn_ckpt_info_free(&info);
    nn_graph_free(g);
    if (rc != 0) dfs_die_error();
    return 0;
}
