/* ssim: SSIM between the records of two or more streams matched by key, the pairwise mean per key
 * and the study's histogram of the means (RQ3). The work is in lib/analysis/ssim.c; this file
 * wires arguments and outputs. */
#include "analysis/ssim.h"
#include "core/args.h"
#include "tool/tool.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "usage: ssim [options] A.dft B.dft [C.dft ...] > ssim.tsv\n"
    "\n"
    "Structural similarity between the records of two or more tensor streams, matched by their\n"
    "key= metadata, as scikit-image 0.19's skimage.metrics.structural_similarity computes it (the\n"
    "original study's count_SSIM.py). Records: u8 images (H, W, 3) or (H, W, 1) or (H, W), or f32\n"
    "heatmaps (H, W) or (H, W, C); channels are compared one by one and averaged (skimage's\n"
    "multichannel=True). The records of one key must have the same dtype and shape.\n"
    "\n"
    "Output (TSV, formats/ssim-tsv.md), in the order of the first stream:\n"
    "  key  ssim_1_2  ssim_1_3 ...  ssim_{n-1}_n  mean\n"
    "  ssim_i_j is the SSIM of the records of streams i and j (numbered from 1 in argument order),\n"
    "  mean the mean of the pairwise values; values with 6 decimals.\n"
    "Histogram of the means, the study's bins (Figure 3): <0.7, 0.7-<0.9 (0.7 <= s < 0.9), >=0.9,\n"
    "as TSV (bin, count, percent, then a total row) on stderr, or in --hist FILE instead.\n"
    "\n"
    "Options\n"
    "  --gaussian         Wang et al.'s window: 11x11 Gaussian, sigma 1.5, population covariance\n"
    "                     (skimage gaussian_weights=True, use_sample_covariance=False); the crop\n"
    "                     is 5 pixels. Default: skimage's defaults, as the study used them: 7x7\n"
    "                     uniform window, sample covariance (N/(N-1)), 3-pixel crop; K1 0.01,\n"
    "                     K2 0.03 in both modes. The SSIM map is averaged over the pixels whose\n"
    "                     window lies inside the image.\n"
    "  --data-range R     dynamic range L in C1 = (K1 L)^2, C2 = (K2 L)^2 (R > 0). Default from\n"
    "                     the dtype, as skimage does: 255 for u8, 2 for f32 (skimage takes floats to\n"
    "                     span [-1, 1]). Heatmaps in [0, 1] have range 1: --data-range 1 gives\n"
    "                     Wang's constants; the default keeps skimage's numbers.\n"
    "  --intersect        use only the keys present in every stream, as the study did (it\n"
    "                     compared the file names present in all three model folders); the number\n"
    "                     of skipped records per stream is reported on stderr. Default: every key\n"
    "                     must be in every stream, else an error naming the file and the key.\n"
    "                     A key twice in one stream, or a record without key=, is always an error.\n"
    "  --hist FILE        write the histogram TSV to FILE instead of stderr\n"
    "  -o FILE            write the SSIM TSV to FILE (default stdout)\n"
    "  -h, --help         this help\n"
    "\n"
    "One input may be - (stdin). Streams in the same key order are compared while they are read;\n"
    "records that come early in another order are held in memory until their key's turn. Records\n"
    "are compared in parallel (OMP_NUM_THREADS); the output does not depend on the thread count.\n"
    "\n"
    "Example (the study: three congenetic models' heatmaps of the same fakes)\n"
    "  ssim --intersect --hist hist.tsv heat1.dft heat2.dft heat3.dft > ssim.tsv\n";

int main(int argc, char **argv)
{
    dfs_tool_init(argv[0]);
    dfs_ssim_opts o;
    dfs_ssim_opts_default(&o);
    int intersect = 0;
    const char *hist_path = NULL, *out_path = NULL, *range = NULL;
    const dfs_opt opts[] = {
        DFS_OPT_HELP,
        DFS_OPT_FLAG_("--gaussian", NULL, &o.gaussian),
        DFS_OPT_FLAG_("--intersect", NULL, &intersect),
        DFS_OPT_STR_("--data-range", NULL, &range),
        DFS_OPT_STR_("--hist", NULL, &hist_path),
        DFS_OPT_OUTPUT(&out_path),
        DFS_OPT_END_,
    };
    dfs_args args = {0};
    dfs_args_done(dfs_args_parse(&args, opts, argc, argv), opts, usage);
    if (range) {
        o.data_range = dfs_arg_double("--data-range", range, 0, 1e300);
        if (!(o.data_range > 0)) dfs_die("--data-range: %s is not positive", range);
    }
    const char **inputs = args.pos.v;
    int n = args.pos.n;
    if (n < 2) dfs_die("needs at least two streams (see --help)");
    const char *outs[] = {out_path, hist_path};
    if (dfs_paths_distinct(outs, 2, inputs, (size_t)n) != 0) dfs_die_error();

    dfs_out tsv, hist_out;
    if (dfs_out_open(&tsv, out_path, 0, 1) != 0) dfs_die_error();
    if (hist_path && dfs_out_open(&hist_out, hist_path, 0, 1) != 0) dfs_die_error();
    uint64_t hist[DFS_SSIM_BINS];
    uint64_t *unmatched = dfs_calloc((size_t)n, sizeof *unmatched);
    if (dfs_ssim_streams(inputs, n, &o, intersect, &tsv, hist, unmatched) != 0) dfs_die_error();
    for (int s = 0; s < n; s++)
        if (unmatched[s])
            dfs_warn("%s: %llu record%s without a match in every stream skipped (--intersect)",
                     strcmp(inputs[s], "-") ? inputs[s] : "<stdin>", (unsigned long long)unmatched[s],
                     unmatched[s] == 1 ? "" : "s");
    /* Nothing reaches stderr or the disk for good until every output is written: a full disk
     * fails at the flush, and then neither file appears and no histogram is printed. */
    char *h = dfs_ssim_hist_tsv(hist);
    if (hist_path && dfs_out_write(&hist_out, h, strlen(h)) != 0) dfs_die_error();
    if (hist_path && fflush(hist_out.f) != 0) dfs_die("%s: write failed: %s", hist_path, strerror(errno));
    if (fflush(tsv.f) != 0) dfs_die("%s: write failed: %s", dfs_out_name(&tsv), strerror(errno));
    int tsv_is_file = tsv.tmp != NULL;
    if (dfs_out_commit(&tsv) != 0) dfs_die_error();
    if (hist_path) {
        if (dfs_out_commit(&hist_out) != 0) {
            if (tsv_is_file) unlink(out_path);   /* both outputs or neither */
            dfs_die_error();
        }
    } else {
        fputs(h, stderr);
    }
    free(h);
    free(unmatched);
    free(inputs);
    return 0;
}
