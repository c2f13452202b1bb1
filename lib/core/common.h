/* common.h: what every part of dfstudy shares: errors, checked allocation, atomic output files,
 * number parsing, progress reporting.
 *
 * Errors: library functions never print and never exit. They return -1 (or NULL) and leave a
 * one-line message in a per-thread buffer (dfs_error()), already prefixed with the file name and,
 * for streams, the record number. Tools (bin/) print it as "tool: message" via dfs_die()
 * (lib/tool/tool.h, the one part of the library that prints and exits), so every error a user
 * sees has the same shape: `pack: in.dft: record 3: truncated payload`. The one exception is
 * running out of memory in the checked allocators below (tests/check-layers.sh knows it). */
#ifndef DFS_COMMON_H
#define DFS_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdarg.h>

#if defined(__GNUC__)
#define DFS_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define DFS_NORETURN __attribute__((noreturn))
#else
#define DFS_PRINTF(a, b)
#define DFS_NORETURN
#endif

/* ---- errors ---- */
/* Set the calling thread's error message (printf-style); always returns -1 so callers can
 * `return dfs_fail("...")`. */
int dfs_fail(const char *fmt, ...) DFS_PRINTF(1, 2);
/* The calling thread's last error message ("" when none). */
const char *dfs_error(void);
/* Prefix the current error with "prefix: " (used to add a file name to a lower-level message). */
int dfs_fail_prefix(const char *prefix);

/* The running tool's name, for messages; set once by dfs_tool_init() (lib/tool/tool.h). */
extern const char *dfs_progname;

/* Remove every registered temporary output (files and directory trees): what dfs_die and the
 * tools' fatal-signal handlers do before the process ends. Async-signal-safe. */
void dfs_remove_temporaries(void);

/* ---- checked allocation ----
 * Out of memory prints "tool: out of memory allocating N bytes", removes the temporary outputs
 * and exits 1, as git's xmalloc does: a NULL check after every small allocation would be code no
 * test reaches, and there is nothing sensible to do. This is the library's one exit outside
 * lib/tool/ (docs/guide.md). Large allocations whose size comes from input are checked against
 * a cap by their callers (dfs_mul_size) and fail with an error instead. */
void *dfs_malloc(size_t n);
void *dfs_calloc(size_t count, size_t size);
void *dfs_realloc(void *p, size_t n);
char *dfs_strdup(const char *s);
/* n bytes aligned to align (a power of two, a multiple of sizeof(void *)); free() them. */
void *dfs_aligned_alloc(size_t align, size_t n);
/* A malloc'd string formatted as by printf. */
char *dfs_asprintf(const char *fmt, ...) DFS_PRINTF(1, 2);
char *dfs_vasprintf(const char *fmt, va_list ap);
/* a*b, or SIZE_MAX when it overflows (callers compare against a cap). */
size_t dfs_mul_size(size_t a, size_t b);

/* ---- output files that appear whole or not at all ----
 * dfs_out_open(path) opens "path.tmp.PID" (or stdout for "-" / NULL) and registers it; commit
 * flushes, fsyncs, closes and renames it over path; abort (or a fatal signal, or dfs_die) unlinks
 * it. So `make` never sees a truncated target. Binary output to a terminal is refused unless
 * allow_tty is set (as gzip does). Opening also removes "path.tmp.PID" files left by processes
 * that no longer exist (a SIGKILL'd run), so rerunning an interrupted command leaves no litter. */
typedef struct dfs_out {
    FILE *f;
    char *path;     /* final path; NULL for stdout */
    char *tmp;      /* temporary path; NULL for stdout */
    int slot;       /* registration slot for signal cleanup, -1 for stdout */
} dfs_out;
int dfs_out_open(dfs_out *o, const char *path, int binary, int allow_tty);
int dfs_out_commit(dfs_out *o);
void dfs_out_abort(dfs_out *o);
/* Write n bytes or fail with "path: write failed: reason" (disk full included). */
int dfs_out_write(dfs_out *o, const void *p, size_t n);
const char *dfs_out_name(const dfs_out *o);   /* "path" or "<stdout>" */

/* ---- output directories that appear whole or not at all ----
 * dfs_outdir_open(d, dir) refuses a dir that exists and is not an empty directory, makes
 * "dir.tmp.PID" (d->tmp, where the caller writes) and registers it, so dfs_die or a fatal signal
 * removes it with everything inside; commit renames it over dir (replacing an empty one); abort
 * removes it. */
typedef struct dfs_outdir {
    char *dir;      /* final path, without trailing slashes */
    char *tmp;      /* temporary directory; NULL once committed or aborted */
    int slot;
} dfs_outdir;
int dfs_outdir_open(dfs_outdir *d, const char *dir);
int dfs_outdir_commit(dfs_outdir *d);
void dfs_outdir_abort(dfs_outdir *d);
/* Rewrite the current error so it names d->dir where it names the temporary directory (errors of
 * files written inside it); returns -1. */
int dfs_outdir_error(const dfs_outdir *d);

/* ---- outputs that never replace an input ----
 * A tool passes every path it will write (files and directories) and every path it will read,
 * before it reads or writes anything. It fails when an output is the same file as an input,
 * compared by device and inode (another spelling, a hard link or a symlink to the input counts),
 * or when two outputs are one file (one not there yet is compared by its directory's device and
 * inode and its name). NULL and "-" are skipped; an output that exists and is neither a regular
 * file nor a directory (/dev/null, a FIFO) is written in place, replaces nothing and is skipped.
 * Errors: "OUT: is also the input IN: refusing to replace an input", "OUT: given twice as an output". */
int dfs_paths_distinct(const char *const *outs, size_t nouts, const char *const *ins, size_t nins);

/* ---- inputs read more than once, from a pipe ----
 * A loader that opens its file twice (a checkpoint's header, then its tensors) or sniffs a file
 * before reading it could not read a pipe, a FIFO or process substitution (the second open gets
 * nothing, or blocks on the FIFO for ever). dfs_spool_open(s, path) leaves a regular file, a
 * directory and a missing path as they are (s->path == path) and reads anything else ("-" is stdin) once, whole, into an unlinked
 * temporary file in $TMPDIR (else /tmp) that s->path names (/proc/self/fd/N) until
 * dfs_spool_close. dfs_spool_error rewrites the current error to name the original path. */
typedef struct dfs_spool {
    const char *path;   /* what to open */
    const char *name;   /* the path given */
    int fd;             /* the copy, or -1 */
    char buf[40];
} dfs_spool;
int dfs_spool_open(dfs_spool *s, const char *path);
void dfs_spool_close(dfs_spool *s);
int dfs_spool_error(const dfs_spool *s);   /* always -1 */

/* ---- a lock on an output set (train's checkpoints and log) ----
 * dfs_lock_take(l, path) creates path holding this process's pid and holds an exclusive flock on
 * it, or fails with "PATH: pid N is writing the same outputs (...)". The kernel drops a flock when
 * its holder dies, however it dies, so a lock file left by a killed run (SIGKILL) is stale and is
 * simply taken over. dfs_lock_release, dfs_die and SIGINT/SIGTERM/SIGHUP remove the file. */
typedef struct dfs_lock {
    int fd;
    int slot;
} dfs_lock;
int dfs_lock_take(dfs_lock *l, const char *path);
void dfs_lock_release(dfs_lock *l);

/* Make a directory and its parents (mkdir -p); 0 or -1 with an error. */
int dfs_mkdir_p(const char *dir);

/* ---- parsing numbers from arguments and text, strictly (whole string, range-checked) ---- */
int dfs_parse_long(const char *s, long lo, long hi, long *out);
int dfs_parse_double(const char *s, double *out);   /* finite values only */
/* ---- progress on a stream the caller gives (a tool passes stderr): shown when that stream is a
 * terminal, or when forced; never when it is NULL ---- */
typedef struct dfs_progress {
    FILE *to;
    int enabled;
    const char *what;
    uint64_t total, done;
    double t0, last;
} dfs_progress;
void dfs_progress_start(dfs_progress *p, FILE *to, const char *what, uint64_t total, int force);
void dfs_progress_update(dfs_progress *p, uint64_t done);
void dfs_progress_end(dfs_progress *p);
/* erase the bar's line instead of ending it (a bar whose last state is not worth keeping) */
void dfs_progress_clear(dfs_progress *p);
double dfs_now(void);   /* monotonic seconds */

#endif
