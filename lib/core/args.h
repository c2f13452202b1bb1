/* args.h: one declarative command-line parser for every tool.
 *
 * A tool describes its options in a table (one dfs_opt per option, ended by DFS_OPT_END) and
 * calls dfs_args_parse once. Each entry names the option (a spelling and an optional second
 * one, e.g. "-m" and "--model"), its kind and where the value goes. Values are the next
 * argument, whatever it looks like ("--min-degradation -5"), or follow '=' in one argument
 * ("--threads=4"), or, for a one-letter option, follow it ("-j4"). Long names are never
 * abbreviated and one-letter flags are not bundled ("-vh" is unknown). "-" is an argument (stdin), "--" ends the options, anything else starting
 * with '-' that is not in the table is an error. A repeated option keeps its last value (a
 * list keeps all of them); `count`, when set, counts the occurrences so a tool can refuse
 * "given twice".
 *
 * A missing value is named as written ("-j needs a value"), a bad one by the long spelling
 * ("--jobs: 'x' is not an integer in [1, 256]").
 *
 * Like the rest of the library the parser never prints or exits: on an error it returns -1 with
 * the message in dfs_error(), already worded for the user ("--batch needs a value",
 * "--batch: 'x' is not an integer in [1, 4096]", "unknown option '--x' (see --help)"), and the
 * tool calls dfs_args_done() (lib/tool/tool.h), which prints and exits. */
#ifndef DFS_ARGS_H
#define DFS_ARGS_H

typedef enum dfs_opt_kind {
    DFS_OPT_END = 0,   /* ends the table */
    DFS_OPT_FLAG,      /* no value; *(int *)dest = 1 */
    DFS_OPT_STR,       /* *(const char **)dest = the value */
    DFS_OPT_LONG,      /* *(long *)dest = the value, an integer in [lo, hi] */
    DFS_OPT_DOUBLE,    /* *(double *)dest = the value, a finite number in [dlo, dhi] */
    DFS_OPT_LIST,      /* appended to *(dfs_arglist *)dest (a repeatable option) */
    DFS_OPT_STOP,      /* no value; parsing stops and dfs_args_parse returns code (--help) */
} dfs_opt_kind;

typedef struct dfs_arglist {
    const char **v;   /* argv's strings, in order; free(v) when done */
    int n;
} dfs_arglist;

typedef struct dfs_opt {
    const char *name, *alias;   /* "-o", "--output"; alias may be NULL */
    dfs_opt_kind kind;
    void *dest;                 /* see the kinds; may be NULL for FLAG and STOP */
    long lo, hi;                /* LONG range */
    double dlo, dhi;            /* DOUBLE range */
    int *count;                 /* if set, incremented at each occurrence */
    int code;                   /* STOP: what dfs_args_parse returns (>= DFS_ARGS_TOOL for a tool's own) */
} dfs_opt;

/* dfs_args_parse's results besides -1 (error) and 0 (parsed to the end) */
enum { DFS_ARGS_HELP = 1, DFS_ARGS_LIST = 2, DFS_ARGS_TOOL = 16 };

#define DFS_OPT_FLAG_(n, a, p) {.name = (n), .alias = (a), .kind = DFS_OPT_FLAG, .dest = (p)}
#define DFS_OPT_STR_(n, a, p) {.name = (n), .alias = (a), .kind = DFS_OPT_STR, .dest = (p)}
#define DFS_OPT_LONG_(n, a, p, l, h) {.name = (n), .alias = (a), .kind = DFS_OPT_LONG, .dest = (p), .lo = (l), .hi = (h)}
#define DFS_OPT_DOUBLE_(n, a, p, l, h) \
    {.name = (n), .alias = (a), .kind = DFS_OPT_DOUBLE, .dest = (p), .dlo = (l), .dhi = (h)}
#define DFS_OPT_LIST_(n, a, p) {.name = (n), .alias = (a), .kind = DFS_OPT_LIST, .dest = (p)}
#define DFS_OPT_STOP_(n, a, c) {.name = (n), .alias = (a), .kind = DFS_OPT_STOP, .code = (c)}
#define DFS_OPT_END_ {.kind = DFS_OPT_END}

/* The options the tools share, spelled and bounded the same everywhere. */
#define DFS_OPT_HELP DFS_OPT_STOP_("-h", "--help", DFS_ARGS_HELP)
#define DFS_OPT_THREADS(p) DFS_OPT_LONG_("--threads", NULL, (p), 1, 1024)   /* OpenMP and BLAS threads */
#define DFS_OPT_DEVICE(p) DFS_OPT_STR_("--device", NULL, (p))               /* nn_device_open's name */
#define DFS_OPT_PROGRESS(p) DFS_OPT_FLAG_("--progress", NULL, (p))
#define DFS_OPT_QUIET(p) DFS_OPT_FLAG_("-q", "--quiet", (p))
#define DFS_OPT_VERBOSE(p) DFS_OPT_FLAG_("--verbose", NULL, (p))
#define DFS_OPT_OUTPUT(p) DFS_OPT_STR_("-o", NULL, (p))

typedef struct dfs_args {
    /* in: the wording of the two generic errors, printf formats with one %s (the argument);
     * NULL for the defaults "unknown option '%s' (see --help)" and "%s needs a value" */
    const char *unknown_fmt, *missing_fmt;
    /* out: the arguments that are not options, in order (free(pos.v) when done) */
    dfs_arglist pos;
} dfs_args;

/* Parse argv[1..argc-1] against opts (ended by DFS_OPT_END). Returns 0 when every argument was
 * taken, a STOP entry's code when one was met (the arguments after it are not looked at), or -1
 * with an error. "--list-options", when the table has no such entry, is a STOP with code
 * DFS_ARGS_LIST: the tests compare a tool's table with its --help text through it. */
int dfs_args_parse(dfs_args *a, const dfs_opt *opts, int argc, char **argv);

/* The option's spellings, one a line ("-m\n--model\n--batch\n"), malloc'd. */
char *dfs_args_names(const dfs_opt *opts);

#endif
