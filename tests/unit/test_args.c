/* test_args: the tools' option parser (lib/core/args.h): kinds, ranges, missing values, unknown
 * options, "--", "--name=value", repeated options, STOP codes, and the error wording the tools'
 * bats suites assert. */
#include <stdlib.h>
#include <string.h>

#include "core/args.h"
#include "check.h"
#include "core/common.h"

typedef struct vals {
    int flag, quiet, nflag, nstr;
    const char *str, *out;
    long n, jobs;
    double x;
    dfs_arglist list;
} vals;

static int parse(vals *v, dfs_args *a, char **argv)
{
    memset(v, 0, sizeof *v);
    v->n = -7;
    v->x = -7;
    const dfs_opt opts[] = {
        DFS_OPT_HELP,
        {.name = "--flag", .kind = DFS_OPT_FLAG, .dest = &v->flag, .count = &v->nflag},
        DFS_OPT_QUIET(&v->quiet),
        {.name = "-s", .alias = "--str", .kind = DFS_OPT_STR, .dest = &v->str, .count = &v->nstr},
        DFS_OPT_LONG_("--n", NULL, &v->n, -3, 10),
        DFS_OPT_DOUBLE_("--x", NULL, &v->x, 0, 1),
        DFS_OPT_LIST_("--item", NULL, &v->list),
        DFS_OPT_OUTPUT(&v->out),
        DFS_OPT_LONG_("-j", "--jobs", &v->jobs, 1, 4),
        DFS_OPT_STOP_("--list-things", NULL, DFS_ARGS_TOOL + 1),
        DFS_OPT_END_,
    };
    int argc = 0;
    while (argv[argc]) argc++;
    return dfs_args_parse(a, opts, argc, argv);
}

#define ARGV(...) ((char *[]){"tool", __VA_ARGS__, NULL})

static void test_kinds(void)
{
    vals v;
    dfs_args a = {0};
    int rc = parse(&v, &a, ARGV("--flag", "in1", "-s", "abc", "--n", "-3", "--x", "0.25", "--item", "p", "-", "--item",
                                "q", "-q", "-o", "out", "in2"));
    CHECK(rc == 0, "rc %d: %s", rc, dfs_error());
    CHECK(v.flag == 1 && v.quiet == 1 && v.nflag == 1, "flags %d %d %d", v.flag, v.quiet, v.nflag);
    CHECK(v.str && !strcmp(v.str, "abc"), "str");
    CHECK(v.n == -3 && v.x == 0.25, "n %ld x %g", v.n, v.x);
    CHECK(v.list.n == 2 && !strcmp(v.list.v[0], "p") && !strcmp(v.list.v[1], "q"), "list %d", v.list.n);
    CHECK(v.out && !strcmp(v.out, "out"), "out");
    CHECK(a.pos.n == 3 && !strcmp(a.pos.v[0], "in1") && !strcmp(a.pos.v[1], "-") && !strcmp(a.pos.v[2], "in2"),
          "positionals %d", a.pos.n);
    free(a.pos.v);
    free(v.list.v);

    /* the alias, "--name=value", a value that looks like an option */
    rc = parse(&v, &a, ARGV("--str=x=y", "--n=10", "--x", "1", "--str", "-5"));
    CHECK(rc == 0 && !strcmp(v.str, "-5") && v.n == 10 && v.x == 1 && v.nstr == 2, "rc %d %s", rc, dfs_error());
    free(a.pos.v);

    /* a one-letter option's value attached ("-sVALUE"), as getopt allows */
    rc = parse(&v, &a, ARGV("-sabc", "-o-", "x"));
    CHECK(rc == 0 && !strcmp(v.str, "abc") && !strcmp(v.out, "-") && a.pos.n == 1, "rc %d %s", rc, dfs_error());
    free(a.pos.v);
}

static void test_repeated(void)
{
    vals v;
    dfs_args a = {0};
    int rc = parse(&v, &a, ARGV("--flag", "--flag", "-s", "a", "--str", "b", "--n", "1", "--n", "2"));
    CHECK(rc == 0 && v.flag == 1 && v.nflag == 2, "flag %d count %d", v.flag, v.nflag);
    CHECK(!strcmp(v.str, "b") && v.nstr == 2 && v.n == 2, "last value wins: %s %ld", v.str, v.n);
    free(a.pos.v);
}

static void test_end_of_options(void)
{
    vals v;
    dfs_args a = {0};
    int rc = parse(&v, &a, ARGV("a", "--", "--flag", "-s", "--", "-"));
    CHECK(rc == 0 && v.flag == 0 && v.str == NULL, "rc %d", rc);
    CHECK(a.pos.n == 5 && !strcmp(a.pos.v[1], "--flag") && !strcmp(a.pos.v[3], "--"), "positionals %d", a.pos.n);
    free(a.pos.v);
}

#define EXPECT_ERROR(msg, ...)                                                          \
    do {                                                                                \
        vals v_;                                                                        \
        dfs_args a_ = {0};                                                              \
        int rc_ = parse(&v_, &a_, ARGV(__VA_ARGS__));                                   \
        CHECK(rc_ == -1 && !strcmp(dfs_error(), msg), "rc %d, error '%s', want '%s'", rc_, dfs_error(), msg); \
        free(a_.pos.v);                                                                 \
        free(v_.list.v);                                                                \
    } while (0)

static void test_errors(void)
{
    EXPECT_ERROR("--n needs a value", "--n");
    EXPECT_ERROR("-s needs a value", "--flag", "-s");
    EXPECT_ERROR("--n: '11' is not an integer in [-3, 10]", "--n", "11");
    EXPECT_ERROR("--n: 'x' is not an integer in [-3, 10]", "--n", "x");
    EXPECT_ERROR("--n: '2.5' is not an integer in [-3, 10]", "--n=2.5");
    EXPECT_ERROR("--n: empty number", "--n", "");
    EXPECT_ERROR("--x: 1.5 is outside [0, 1]", "--x", "1.5");
    EXPECT_ERROR("--x: 'nan' is not a finite number", "--x", "nan");
    EXPECT_ERROR("unknown option '--bogus' (see --help)", "in", "--bogus");
    EXPECT_ERROR("unknown option '-x' (see --help)", "-x");
    /* a flag takes no "=value"; a prefix is not an abbreviation */
    EXPECT_ERROR("unknown option '--flag=1' (see --help)", "--flag=1");
    EXPECT_ERROR("unknown option '--fl' (see --help)", "--fl");
    EXPECT_ERROR("unknown option '---flag' (see --help)", "---flag");
    /* a bad value is named by the long spelling, a missing one as written */
    EXPECT_ERROR("--jobs: '9' is not an integer in [1, 4]", "-j", "9");
    EXPECT_ERROR("--jobs: '0' is not an integer in [1, 4]", "-j0");
    EXPECT_ERROR("--jobs: '5' is not an integer in [1, 4]", "--jobs=5");
    EXPECT_ERROR("-j needs a value", "-j");
    EXPECT_ERROR("--jobs needs a value", "--jobs");
    /* no bundling of one-letter flags, no attached value on a flag */
    EXPECT_ERROR("unknown option '-qh' (see --help)", "-qh");
    EXPECT_ERROR("unknown option '-q1' (see --help)", "-q1");
    /* the first error wins, in argument order */
    EXPECT_ERROR("--n: '99' is not an integer in [-3, 10]", "--n", "99", "--bogus");
}

static void test_wording(void)
{
    vals v;
    dfs_args a = {.unknown_fmt = "unknown argument '%s' (see --help)", .missing_fmt = "%s: missing value"};
    CHECK(parse(&v, &a, ARGV("--nope")) == -1 && !strcmp(dfs_error(), "unknown argument '--nope' (see --help)"),
          "%s", dfs_error());
    free(a.pos.v);
    CHECK(parse(&v, &a, ARGV("--item")) == -1 && !strcmp(dfs_error(), "--item: missing value"), "%s", dfs_error());
    free(a.pos.v);
}

static void test_stop(void)
{
    vals v;
    dfs_args a = {0};
    /* help stops before a later error is seen; an earlier error wins over help */
    CHECK(parse(&v, &a, ARGV("--flag", "--help", "--bogus")) == DFS_ARGS_HELP && v.flag == 1, "help");
    free(a.pos.v);
    CHECK(parse(&v, &a, ARGV("-h")) == DFS_ARGS_HELP, "-h");
    free(a.pos.v);
    CHECK(parse(&v, &a, ARGV("--bogus", "-h")) == -1, "error before help");
    free(a.pos.v);
    CHECK(parse(&v, &a, ARGV("--list-things", "--n")) == DFS_ARGS_TOOL + 1, "tool stop");
    free(a.pos.v);
    CHECK(parse(&v, &a, ARGV("--list-options")) == DFS_ARGS_LIST, "list-options");
    free(a.pos.v);
    CHECK(parse(&v, &a, ARGV("--", "-h")) == 0 && a.pos.n == 1, "-h after --");
    free(a.pos.v);
}

static void test_names(void)
{
    const dfs_opt opts[] = {DFS_OPT_HELP, DFS_OPT_THREADS(NULL), DFS_OPT_QUIET(NULL), DFS_OPT_END_};
    char *s = dfs_args_names(opts);
    CHECK(!strcmp(s, "-h\n--help\n--threads\n-q\n--quiet\n"), "names '%s'", s);
    free(s);
    /* the shared --threads has the tools' range */
    dfs_args a = {0};
    long t = 0;
    const dfs_opt topts[] = {DFS_OPT_THREADS(&t), DFS_OPT_END_};
    CHECK(dfs_args_parse(&a, topts, 3, ARGV("--threads", "0")) == -1 &&
              !strcmp(dfs_error(), "--threads: '0' is not an integer in [1, 1024]"), "%s", dfs_error());
    free(a.pos.v);
}

int main(void)
{
    RUN(test_kinds);
    RUN(test_repeated);
    RUN(test_end_of_options);
    RUN(test_errors);
    RUN(test_wording);
    RUN(test_stop);
    RUN(test_names);
    return CHECK_DONE();
}
