/* tool.h: the part of the library that prints and exits, for tools (bin/) and benchmark
 * programs (bench/) only. Every other function of lib/ returns an error (-1 or NULL with
 * dfs_error() set) and leaves printing and exiting to its caller; tests/check-layers.sh holds
 * the rest of lib/ to that, and no other folder of lib/ includes lib/tool/ headers.
 *
 * Every message has the shape "tool: message" on stderr, one line. */
#ifndef DFS_TOOL_TOOL_H
#define DFS_TOOL_TOOL_H

#include "core/args.h"
#include "core/common.h"

/* Set the tool name (dfs_progname), install signal handlers that remove registered temporary
 * files on SIGINT/SIGTERM/SIGHUP, and make SIGPIPE end the tool quietly. */
void dfs_tool_init(const char *argv0);
/* Print "tool: message" on stderr and exit(1); temporary outputs are removed first. */
void dfs_die(const char *fmt, ...) DFS_PRINTF(1, 2) DFS_NORETURN;
/* dfs_die("%s", dfs_error()). */
void dfs_die_error(void) DFS_NORETURN;
/* Print "tool: message" on stderr (a warning; the tool goes on). */
void dfs_warn(const char *fmt, ...) DFS_PRINTF(1, 2);
/* Print text on stdout and exit 0 (1 when stdout cannot be written): every tool's --help. */
void dfs_print_help(const char *text) DFS_NORETURN;

/* --threads N (N > 0): OpenMP's and OpenBLAS's thread counts both set to N, so a tool's own
 * loops and its matrix products use the same number of cores; N <= 0 leaves the defaults
 * (OMP_NUM_THREADS, else all cores). */
void dfs_tool_threads(long n);

/* For flags: parse or die with "tool: --flag: 'x' is not an integer in [lo, hi]". */
long dfs_arg_long(const char *flag, const char *s, long lo, long hi);
double dfs_arg_double(const char *flag, const char *s, double lo, double hi);

/* After dfs_args_parse: rc -1 prints the error and exits 1 (dfs_die_error), HELP prints usage
 * and exits 0 (dfs_print_help), LIST prints dfs_args_names and exits 0; any other rc is
 * returned (0, or a tool's own STOP code). */
int dfs_args_done(int rc, const dfs_opt *opts, const char *usage);

#endif
