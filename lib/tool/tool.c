/* tool.c: dying, warning, --help and option errors for tools (tool.h). */
#include "tool/tool.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

static void on_fatal_signal(int sig)
{
    dfs_remove_temporaries();
    signal(sig, SIG_DFL);
    raise(sig);
}

void dfs_tool_init(const char *argv0)
{
    const char *slash = argv0 ? strrchr(argv0, '/') : NULL;
    dfs_progname = slash ? slash + 1 : (argv0 ? argv0 : "dfstudy");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fatal_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGPIPE, &sa, NULL);   /* a closed pipe ends the tool; partial files go */
}

void dfs_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", dfs_progname);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void dfs_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fflush(stdout);
    fprintf(stderr, "%s: ", dfs_progname);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    dfs_remove_temporaries();
    exit(1);
}

void dfs_die_error(void) { dfs_die("%s", dfs_error()); }

void dfs_print_help(const char *text)
{
    fputs(text, stdout);
    if (fflush(stdout) != 0 || ferror(stdout)) exit(1);
    exit(0);
}

long dfs_arg_long(const char *flag, const char *s, long lo, long hi)
{
    long v = 0;
    if (!s) dfs_die("%s needs a value", flag);
    if (dfs_parse_long(s, lo, hi, &v) != 0) dfs_die("%s: %s", flag, dfs_error());
    return v;
}

double dfs_arg_double(const char *flag, const char *s, double lo, double hi)
{
    double v = 0;
    if (!s) dfs_die("%s needs a value", flag);
    if (dfs_parse_double(s, &v) != 0) dfs_die("%s: %s", flag, dfs_error());
    if (v < lo || v > hi) dfs_die("%s: %s is outside [%g, %g]", flag, s, lo, hi);
    return v;
}

int dfs_args_done(int rc, const dfs_opt *opts, const char *usage)
{
    if (rc < 0) dfs_die_error();
    if (rc == DFS_ARGS_HELP) dfs_print_help(usage);
    if (rc == DFS_ARGS_LIST) {
        char *s = dfs_args_names(opts);
        dfs_print_help(s);   /* prints and exits 0 */
    }
    return rc;
}
