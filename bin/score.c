/* score: metrics of score TSVs, and the study's Tables 4-7. Arguments and output only; the work
 * is in lib/study/scoretables.c, lib/study/scoretsv.c and lib/study/metrics.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/args.h"
#include "core/common.h"
#include "tool/tool.h"
#include "study/scoretables.h"

static const char usage[] =
    "usage: score [OPTIONS] FILE.tsv...            metrics of score TSVs ('-' = stdin)\n"
    "       score --table 4|5|6|7 --dir SCORES [OPTIONS]   the study's tables\n"
    "       score --print-config                    the built-in study config\n"
    "       score --print-detectors [--config FILE] its detectors, one 'detector' line each\n"
    "\n"
    "Score TSVs are what predict writes: a header 'key<TAB>dataset<TAB>label<TAB>p_fake', then one\n"
    "record per line (formats/score-tsv.md). The metric report has the header\n"
    "'name level n acc auc ap eer': name = the file's stem, acc at threshold 0.5 (p >= 0.5 is\n"
    "fake), ROC AUC (ties count one half), average precision (step-wise, as scikit-learn), equal\n"
    "error rate (interpolated). Undefined metrics (one class only) print as 'nan'.\n"
    "\n"
    "  --level frame|video|both  frame: one sample per record; video: the mean P(fake) of a\n"
    "                            video's frames, the video being the key without its last\n"
    "                            component (default frame; tables take frame or video)\n"
    "  --bootstrap N             add 95% percentile-bootstrap intervals from N resamples (of\n"
    "                            records at frame level, of videos at video level)\n"
    "  --seed S                  seed of the bootstrap (default 0)\n"
    "  --markdown                print a Markdown table instead of TSV\n"
    "  -o FILE                   write to FILE (whole or not at all) instead of stdout\n"
    "\n"
    "Tables (SCORES holds <Detector>/<DATASET>.tsv, e.g. SCORES/MesoNet1/CELEB-M.tsv):\n"
    "  --table 4|5|6|7           4: detectors, training set, stage, original accuracy;\n"
    "                            5: accuracy on the unseen sets, their average, degradation\n"
    "                            (original - average, in points), ranked by degradation;\n"
    "                            6/7: the same plus the same-method (6) or same-identity (7)\n"
    "                            sets and the degradation difference, ranked by it\n"
    "  --dir SCORES              the score directory\n"
    "  --config FILE             the study config (default: built in, as the paper's; see\n"
    "                            --print-config)\n"
    "  --auc                     add AUC beside every accuracy\n"
    "  --min-degradation PP      Tables 6/7 keep detectors degrading more than PP points\n"
    "                            (default 30, as the paper)\n"
    "Accuracies and degradations are percentages with two decimals, AUC a fraction. '-' marks a\n"
    "missing score file (and what depends on it), 'n/a' a column that does not apply.\n"
    "  -h, --help                this text\n";

int main(int argc, char **argv)
{
    dfs_tool_init(argv[0]);
    const char *level_s = NULL, *dir = NULL, *config = NULL, *outpath = "-";
    long table = 0, bootstrap = 0;
    long seed = 0;
    int markdown = 0, auc = 0, print_config = 0, print_detectors = 0, boot_given = 0, seed_given = 0;
    double min_degr = 30.0;
    int min_degr_given = 0;
    const dfs_opt opts[] = {
        DFS_OPT_HELP,
        DFS_OPT_STR_("--level", NULL, &level_s),
        {.name = "--bootstrap", .kind = DFS_OPT_LONG, .dest = &bootstrap, .lo = 1, .hi = 1000000, .count = &boot_given},
        {.name = "--seed", .kind = DFS_OPT_LONG, .dest = &seed, .lo = 0, .hi = 0x7fffffffffffffffL, .count = &seed_given},
        DFS_OPT_FLAG_("--markdown", NULL, &markdown),
        DFS_OPT_OUTPUT(&outpath),
        DFS_OPT_LONG_("--table", NULL, &table, 4, 7),
        DFS_OPT_STR_("--dir", NULL, &dir),
        DFS_OPT_STR_("--config", NULL, &config),
        DFS_OPT_FLAG_("--auc", NULL, &auc),
        {.name = "--min-degradation", .kind = DFS_OPT_DOUBLE, .dest = &min_degr, .dlo = -1000, .dhi = 1000,
         .count = &min_degr_given},
        DFS_OPT_FLAG_("--print-config", NULL, &print_config),
        DFS_OPT_FLAG_("--print-detectors", NULL, &print_detectors),
        DFS_OPT_END_,
    };
    dfs_args args = {0};
    dfs_args_done(dfs_args_parse(&args, opts, argc, argv), opts, usage);
    const char **files = args.pos.v;
    size_t nfiles = (size_t)args.pos.n;

    int level = DFS_LEVEL_FRAME;
    if (level_s) {
        if (strcmp(level_s, "frame") == 0) level = DFS_LEVEL_FRAME;
        else if (strcmp(level_s, "video") == 0) level = DFS_LEVEL_VIDEO;
        else if (strcmp(level_s, "both") == 0) level = DFS_LEVEL_BOTH;
        else dfs_die("--level: '%s' is not frame, video or both", level_s);
    }
    if (seed_given && !boot_given) dfs_die("--seed is for --bootstrap");

    const char *outs[] = {outpath};
    const char **ins = dfs_malloc((nfiles + 2) * sizeof *ins);
    for (size_t i = 0; i < nfiles; i++) ins[i] = files[i];
    ins[nfiles] = config;
    ins[nfiles + 1] = dir;
    if (dfs_paths_distinct(outs, 1, ins, nfiles + 2) != 0) dfs_die_error();
    free(ins);

    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (!mem) dfs_die("out of memory");
    int rc;
    if (print_config) {
        if (table || dir || nfiles || config) dfs_die("--print-config takes no other arguments");
        fputs(dfs_study_config_default(), mem);
        rc = 0;
    } else if (print_detectors) {
        if (table || dir || nfiles) dfs_die("--print-detectors takes --config FILE only");
        dfs_study_config c;
        if ((config ? dfs_study_config_read(config, &c)
                    : dfs_study_config_parse(dfs_study_config_default(), "built-in config", &c)) != 0)
            dfs_die_error();
        dfs_study_config_print_detectors(&c, mem);
        dfs_study_config_free(&c);
        rc = 0;
    } else if (table) {
        if (!dir) dfs_die("--table needs --dir SCORES");
        if (nfiles) dfs_die("--table reads --dir, not files ('%s')", files[0]);
        if (boot_given) dfs_die("--bootstrap is for metric reports, not tables");
        if (level == DFS_LEVEL_BOTH) dfs_die("--table: --level must be frame or video");
        dfs_study_config c;
        if ((config ? dfs_study_config_read(config, &c)
                    : dfs_study_config_parse(dfs_study_config_default(), "built-in config", &c)) != 0)
            dfs_die_error();
        dfs_table_opts o = {level, auc, markdown, min_degr};
        rc = dfs_study_table((int)table, dir, &c, &o, mem, stderr);
        dfs_study_config_free(&c);
    } else {
        if (dir || config || auc || min_degr_given)
            dfs_die("--dir, --config, --auc and --min-degradation are for --table");
        if (!nfiles) dfs_die("no score file given (see --help)");
        dfs_report_opts o = {level, (size_t)bootstrap, (uint64_t)seed, markdown};
        rc = dfs_score_report(files, nfiles, &o, mem);
    }
    if (fclose(mem) != 0) dfs_die("out of memory");
    if (rc != 0) dfs_die_error();

    dfs_out out;
    if (dfs_out_open(&out, outpath, 0, 1) != 0 || dfs_out_write(&out, text, len) != 0 ||
        dfs_out_commit(&out) != 0)
        dfs_die_error();
    free(text);
    free(files);
    return 0;
}
