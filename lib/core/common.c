/* common.c: errors, checked allocation, atomic outputs, strict parsing, progress. */
#include "core/common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* ---- errors ---- */
static _Thread_local char err_buf[1024];

int dfs_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err_buf, sizeof err_buf, fmt, ap);
    va_end(ap);
    return -1;
}

const char *dfs_error(void) { return err_buf; }

int dfs_fail_prefix(const char *prefix)
{
    char tmp[sizeof err_buf];
    size_t p = strlen(prefix), e = strlen(err_buf);
    if (p > sizeof tmp - 3) p = sizeof tmp - 3;
    if (e > sizeof tmp - 3 - p) e = sizeof tmp - 3 - p;
    memcpy(tmp, prefix, p);
    memcpy(tmp + p, ": ", 2);
    memcpy(tmp + p + 2, err_buf, e);
    tmp[p + 2 + e] = 0;
    memcpy(err_buf, tmp, sizeof err_buf);
    return -1;
}

/* ---- registry of temporary files and directories, for cleanup on fatal signals ----
 * Signal handlers may only call async-signal-safe functions, so the paths live in a fixed table
 * of preallocated strings and the handler uses system calls only (unlink, and for directories
 * the tree removal below), then re-raises the signal. */
#define DFS_MAX_TMP 64
static char *tmp_paths[DFS_MAX_TMP];
static volatile sig_atomic_t tmp_used[DFS_MAX_TMP];   /* 1: a file, 2: a directory tree */

const char *dfs_progname = "dfstudy";

/* Remove name (relative to dirfd) and, for a directory, everything inside, with async-signal-safe
 * calls only (no malloc, no stdio, no nftw): the raw getdents64 system call into a stack buffer.
 * Entries removed while listing may shift the listing, so a directory is listed again until a
 * pass finds nothing left. Symbolic links are removed, never followed. */
struct dfs_dirent64 {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

static void remove_tree_at(int dirfd, const char *name, int depth)
{
    if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT || depth > 64) return;
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return;
    char buf[4096] __attribute__((aligned(8)));
    for (int again = 1; again;) {
        again = 0;
        long n;
        while ((n = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0)
            for (long off = 0; off < n;) {
                struct dfs_dirent64 *e = (struct dfs_dirent64 *)(buf + off);
                off += e->d_reclen;
                const char *s = e->d_name;
                if (s[0] == '.' && (s[1] == 0 || (s[1] == '.' && s[2] == 0))) continue;
                remove_tree_at(fd, s, depth + 1);
                again = 1;
            }
        if (again && lseek(fd, 0, SEEK_SET) != 0) break;
    }
    close(fd);
    unlinkat(dirfd, name, AT_REMOVEDIR);
}

void dfs_remove_temporaries(void)
{
    int e = errno;
    for (int i = 0; i < DFS_MAX_TMP; i++) {
        if (!tmp_paths[i]) continue;
        if (tmp_used[i] == 1) unlink(tmp_paths[i]);
        else if (tmp_used[i] == 2) remove_tree_at(AT_FDCWD, tmp_paths[i], 0);
    }
    errno = e;
}

/* A free slot of the registry holding a copy of path, or -1. */
static int register_temporary(const char *path, int kind)
{
    for (int i = 0; i < DFS_MAX_TMP; i++)
        if (!tmp_used[i]) {
            free(tmp_paths[i]);
            tmp_paths[i] = dfs_strdup(path);
            __atomic_signal_fence(__ATOMIC_SEQ_CST);   /* the path is in place before a handler can see the slot */
            tmp_used[i] = kind;
            return i;
        }
    return -1;
}

/* ---- allocation ---- */
/* The one place outside lib/tool/ that prints and exits (core/common.h says why); the marker
 * comments let tests/check-layers.sh accept exactly these lines. */
static void oom(size_t n)
{
    fprintf(stderr, "%s: out of memory allocating %zu bytes\n", dfs_progname, n);   /* layers: oom */
    dfs_remove_temporaries();
    exit(1);   /* layers: oom */
}

void *dfs_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) oom(n);
    return p;
}

void *dfs_calloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) oom(dfs_mul_size(count, size));
    return p;
}

void *dfs_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) oom(n);
    return q;
}

char *dfs_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = dfs_malloc(n);
    memcpy(d, s, n);
    return d;
}

void *dfs_aligned_alloc(size_t align, size_t n)
{
    void *p = NULL;
    if (posix_memalign(&p, align, n ? n : 1) != 0) oom(n);
    return p;
}

char *dfs_vasprintf(const char *fmt, va_list ap)
{
    va_list aq;
    va_copy(aq, ap);
    int n = vsnprintf(NULL, 0, fmt, aq);
    va_end(aq);
    if (n < 0) n = 0;   /* only a bad format fails: an empty string then */
    char *s = dfs_malloc((size_t)n + 1);
    if (vsnprintf(s, (size_t)n + 1, fmt, ap) < 0) s[0] = 0;
    return s;
}

char *dfs_asprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = dfs_vasprintf(fmt, ap);
    va_end(ap);
    return s;
}

size_t dfs_mul_size(size_t a, size_t b)
{
    if (a != 0 && b > SIZE_MAX / a) return SIZE_MAX;
    return a * b;
}

/* ---- atomic outputs ---- */
/* A run killed by SIGKILL (or a crash) leaves its "path.tmp.PID"; the next run writing path
 * removes those of processes that no longer exist, so an interrupted job costs no litter. */
static void remove_stale_temporaries(const char *path)
{
    /* files inside our own temporary directory: it is new, nothing stale can be there (and
     * scanning it for each of its thousands of PNGs would cost quadratic time) */
    for (int i = 0; i < DFS_MAX_TMP; i++) {
        size_t n = tmp_used[i] == 2 && tmp_paths[i] ? strlen(tmp_paths[i]) : 0;
        if (n && strncmp(path, tmp_paths[i], n) == 0 && path[n] == '/') return;
    }
    const char *slash = strrchr(path, '/');
    char *dir = slash ? dfs_strdup(path) : dfs_strdup(".");
    if (slash) dir[slash - path > 0 ? slash - path : 1] = 0;
    const char *base = slash ? slash + 1 : path;
    size_t bl = strlen(base);
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            const char *n = e->d_name;
            if (strncmp(n, base, bl) != 0 || strncmp(n + bl, ".tmp.", 5) != 0) continue;
            char *end;
            errno = 0;
            long pid = strtol(n + bl + 5, &end, 10);
            if (errno || *end || end == n + bl + 5 || pid <= 0 || pid == (long)getpid()) continue;
            if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;   /* alive, or not ours to judge */
            size_t fl = strlen(dir) + strlen(n) + 2;
            char *full = dfs_malloc(fl);
            snprintf(full, fl, "%s/%s", dir, n);
            remove_tree_at(AT_FDCWD, full, 0);
            free(full);
        }
        closedir(d);
    }
    free(dir);
}

int dfs_out_open(dfs_out *o, const char *path, int binary, int allow_tty)
{
    memset(o, 0, sizeof *o);
    o->slot = -1;
    if (!path || strcmp(path, "-") == 0) {
        if (binary && !allow_tty && isatty(STDOUT_FILENO))
            return dfs_fail("refusing to write binary data to a terminal (redirect stdout, or use -o FILE)");
        o->f = stdout;   /* layers: - is stdout */
        return 0;
    }
    /* An existing non-regular file (/dev/null, a FIFO, a terminal) is written in place: renaming
     * a temporary file over it would replace the device or pipe with a plain file. */
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        if (S_ISDIR(st.st_mode)) return dfs_fail("%s: is a directory", path);
        o->f = fopen(path, binary ? "wb" : "w");
        if (!o->f) return dfs_fail("%s: cannot open: %s", path, strerror(errno));
        o->path = dfs_strdup(path);
        return 0;
    }
    remove_stale_temporaries(path);
    size_t n = strlen(path) + 32;
    char *tmp = dfs_malloc(n);
    snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
    int slot = register_temporary(tmp, 1);
    free(tmp);
    if (slot < 0) return dfs_fail("%s: too many open outputs", path);
    tmp = tmp_paths[slot];
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (fd < 0) {
        int e = errno;
        tmp_used[slot] = 0;
        return dfs_fail("%s: cannot create: %s", path, strerror(e));
    }
    o->f = fdopen(fd, "wb");
    if (!o->f) {
        int e = errno;
        close(fd);
        unlink(tmp);
        tmp_used[slot] = 0;
        return dfs_fail("%s: cannot open: %s", path, strerror(e));
    }
    o->tmp = tmp;
    o->slot = slot;
    o->path = dfs_strdup(path);
    return 0;
}

const char *dfs_out_name(const dfs_out *o) { return o->path ? o->path : "<stdout>"; }

int dfs_out_write(dfs_out *o, const void *p, size_t n)
{
    if (n && fwrite(p, 1, n, o->f) != n)
        return dfs_fail("%s: write failed: %s", dfs_out_name(o), strerror(errno ? errno : EIO));
    return 0;
}

static void release_slot(dfs_out *o)
{
    if (o->slot >= 0) tmp_used[o->slot] = 0;   /* the path string stays allocated for reuse */
    o->slot = -1;
    o->tmp = NULL;
    free(o->path);
    o->path = NULL;
    o->f = NULL;
}

int dfs_out_commit(dfs_out *o)
{
    if (!o->f) return dfs_fail("output already closed");
    if (!o->tmp) {   /* stdout or a device: make sure everything reached it */
        int bad = fflush(o->f) != 0 || ferror(o->f);
        int e = errno;
        if (o->path && fclose(o->f) != 0 && !bad) { bad = 1; e = errno; }
        o->f = NULL;
        if (bad) dfs_fail("%s: write failed: %s", dfs_out_name(o), strerror(e ? e : EIO));
        free(o->path);
        o->path = NULL;
        return bad ? -1 : 0;
    }
    int bad = fflush(o->f) != 0 || ferror(o->f);
    int e = errno;
    if (!bad && fsync(fileno(o->f)) != 0 && errno != EINVAL && errno != EROFS) { bad = 1; e = errno; }
    if (fclose(o->f) != 0 && !bad) { bad = 1; e = errno; }
    o->f = NULL;
    if (bad) {
        unlink(o->tmp);
        dfs_fail("%s: write failed: %s", o->path, strerror(e ? e : EIO));
        release_slot(o);
        return -1;
    }
    if (rename(o->tmp, o->path) != 0) {
        e = errno;
        unlink(o->tmp);
        dfs_fail("%s: cannot rename into place: %s", o->path, strerror(e));
        release_slot(o);
        return -1;
    }
    release_slot(o);
    return 0;
}

void dfs_out_abort(dfs_out *o)
{
    if (o->tmp) {
        if (o->f) fclose(o->f);
        unlink(o->tmp);
        release_slot(o);
    } else {
        if (o->path && o->f) fclose(o->f);
        free(o->path);
        o->path = NULL;
        o->f = NULL;
    }
}

/* ---- atomic output directories ---- */
static int dir_is_empty(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *e;
    int empty = 1;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) { empty = 0; break; }
    closedir(d);
    return empty;
}

int dfs_outdir_open(dfs_outdir *d, const char *dir)
{
    memset(d, 0, sizeof *d);
    d->slot = -1;
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--;
    if (n == 0) return dfs_fail("empty output directory name");
    char *clean = dfs_strdup(dir);
    clean[n] = 0;
    struct stat st;
    if (stat(clean, &st) == 0 && (!S_ISDIR(st.st_mode) || !dir_is_empty(clean))) {
        dfs_fail("%s: %s", clean, !S_ISDIR(st.st_mode) ? "exists and is not a directory"
                                                        : "exists and is not empty (the output is a new directory)");
        free(clean);
        return -1;
    }
    remove_stale_temporaries(clean);
    char *tmp = dfs_malloc(n + 32);
    snprintf(tmp, n + 32, "%s.tmp.%ld", clean, (long)getpid());
    d->slot = register_temporary(tmp, 2);
    free(tmp);
    if (d->slot < 0) {
        free(clean);
        return dfs_fail("%s: too many open outputs", dir);
    }
    d->dir = clean;
    d->tmp = tmp_paths[d->slot];
    char *slash = strrchr(clean, '/');
    if (slash && slash != clean) {   /* parents first, as mkdir -p */
        *slash = 0;
        int rv = dfs_mkdir_p(clean);
        *slash = '/';
        if (rv != 0) {
            tmp_used[d->slot] = 0;
            free(clean);
            memset(d, 0, sizeof *d);
            d->slot = -1;
            return -1;
        }
    }
    if (mkdir(d->tmp, 0777) != 0) {
        dfs_fail("%s: cannot create directory: %s", clean, strerror(errno));
        tmp_used[d->slot] = 0;
        free(clean);
        memset(d, 0, sizeof *d);
        d->slot = -1;
        return -1;
    }
    return 0;
}

int dfs_outdir_commit(dfs_outdir *d)
{
    if (!d->tmp) return dfs_fail("output directory already closed");
    struct stat st;
    int rv = 0;
    if (stat(d->dir, &st) == 0 && rmdir(d->dir) != 0)
        rv = dfs_fail("%s: cannot replace: %s", d->dir, strerror(errno));
    else if (rename(d->tmp, d->dir) != 0)
        rv = dfs_fail("%s: cannot rename into place: %s", d->dir, strerror(errno));
    else
        tmp_used[d->slot] = 0;
    if (rv != 0) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", dfs_error());
        dfs_outdir_abort(d);
        return dfs_fail("%s", msg);
    }
    free(d->dir);
    memset(d, 0, sizeof *d);
    d->slot = -1;
    return 0;
}

void dfs_outdir_abort(dfs_outdir *d)
{
    if (d->tmp && d->slot >= 0 && tmp_used[d->slot] == 2) {
        remove_tree_at(AT_FDCWD, d->tmp, 0);
        tmp_used[d->slot] = 0;
    }
    free(d->dir);
    memset(d, 0, sizeof *d);
    d->slot = -1;
}

int dfs_outdir_error(const dfs_outdir *d)
{
    if (!d->tmp || !d->dir) return -1;
    size_t tl = strlen(d->tmp);
    const char *at = strstr(err_buf, d->tmp);
    if (!at) return -1;
    char tmp[sizeof err_buf];
    snprintf(tmp, sizeof tmp, "%.*s%s%s", (int)(at - err_buf), err_buf, d->dir, at + tl);
    memcpy(err_buf, tmp, sizeof err_buf);
    return -1;
}

/* ---- outputs that never replace an input ---- */
typedef struct file_id {
    dev_t dev;
    ino_t ino;
    const char *name;   /* NULL: the file exists and dev/ino are its own; else its directory's */
} file_id;

/* 1 with the identity of path, 0 when it has none worth comparing (skipped), for an output
 * (is_out: a missing file is identified by its directory) or an input. */
static int path_id(const char *path, int is_out, file_id *id)
{
    if (!path || !*path || strcmp(path, "-") == 0) return 0;
    struct stat st;
    if (stat(path, &st) == 0) {
        if (is_out && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) return 0;
        *id = (file_id){st.st_dev, st.st_ino, NULL};
        return 1;
    }
    if (!is_out || errno != ENOENT) return 0;
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') n--;
    size_t b = n;
    while (b > 0 && path[b - 1] != '/') b--;
    char *dir = b ? dfs_strdup(path) : dfs_strdup(".");
    if (b) dir[b > 1 ? b - 1 : 1] = 0;
    int ok = stat(dir, &st) == 0;
    free(dir);
    if (!ok) return 0;
    *id = (file_id){st.st_dev, st.st_ino, path + b};
    return 1;
}

static int same_id(const file_id *a, const file_id *b)
{
    if (a->dev != b->dev || a->ino != b->ino || !a->name != !b->name) return 0;
    if (!a->name) return 1;
    size_t la = strcspn(a->name, "/"), lb = strcspn(b->name, "/");
    return la == lb && strncmp(a->name, b->name, la) == 0;
}

int dfs_paths_distinct(const char *const *outs, size_t nouts, const char *const *ins, size_t nins)
{
    file_id *in = dfs_malloc((nins ? nins : 1) * sizeof *in), *out = dfs_malloc((nouts ? nouts : 1) * sizeof *out);
    uint8_t *has_in = dfs_calloc(nins ? nins : 1, 1), *has_out = dfs_calloc(nouts ? nouts : 1, 1);
    int rv = 0;
    for (size_t j = 0; j < nins; j++) has_in[j] = (uint8_t)path_id(ins[j], 0, &in[j]);
    for (size_t i = 0; i < nouts && !rv; i++) {
        if (!(has_out[i] = (uint8_t)path_id(outs[i], 1, &out[i]))) continue;
        for (size_t j = 0; j < nins && !rv; j++)
            if (has_in[j] && same_id(&out[i], &in[j]))
                rv = dfs_fail("%s: is also the input %s: refusing to replace an input", outs[i], ins[j]);
        for (size_t k = 0; k < i && !rv; k++)
            if (has_out[k] && same_id(&out[i], &out[k]))
                rv = strcmp(outs[i], outs[k]) == 0 ? dfs_fail("%s: given twice as an output", outs[i])
                                                   : dfs_fail("%s: given twice as an output (also as %s)", outs[i], outs[k]);
    }
    free(in);
    free(out);
    free(has_in);
    free(has_out);
    return rv;
}

/* ---- inputs read more than once, from a pipe ---- */
int dfs_spool_open(dfs_spool *s, const char *path)
{
    memset(s, 0, sizeof *s);
    s->fd = -1;
    s->path = s->name = path;
    int from_stdin = strcmp(path, "-") == 0;
    struct stat st;
    if (!from_stdin) {
        /* a missing file, or a directory, is left to the loader, whose error names it as usual */
        if (stat(path, &st) != 0 || S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) return 0;
    }
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir) dir = "/tmp";
    int fd = open(dir, O_TMPFILE | O_RDWR, 0600);
    if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {   /* no O_TMPFILE there */
        size_t n = strlen(dir) + 32;
        char *t = dfs_malloc(n);
        snprintf(t, n, "%s/dfs-spool.XXXXXX", dir);
        fd = mkstemp(t);
        if (fd >= 0) unlink(t);
        free(t);
    }
    if (fd < 0) return dfs_fail("%s: cannot make a temporary copy of this pipe in %s: %s", path, dir, strerror(errno));
    int in = from_stdin ? STDIN_FILENO : open(path, O_RDONLY);
    if (in < 0) {
        int e = errno;
        close(fd);
        return dfs_fail("%s: %s", path, strerror(e));
    }
    char buf[65536];
    int rv = 0;
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n == 0) break;
        if (n < 0) {
            if (errno == EINTR) continue;
            rv = dfs_fail("%s: read error: %s", path, strerror(errno));
            break;
        }
        for (ssize_t off = 0; off < n && !rv;) {
            ssize_t w = write(fd, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR) continue;
            if (w < 0) rv = dfs_fail("%s: cannot copy this pipe to %s: %s", path, dir, strerror(errno));
            else off += w;
        }
        if (rv) break;
    }
    if (!from_stdin) close(in);
    if (rv) {
        close(fd);
        return -1;
    }
    s->fd = fd;
    snprintf(s->buf, sizeof s->buf, "/proc/self/fd/%d", fd);
    s->path = s->buf;
    return 0;
}

void dfs_spool_close(dfs_spool *s)
{
    if (s->fd >= 0) close(s->fd);
    s->fd = -1;
    s->path = s->name;
}

int dfs_spool_error(const dfs_spool *s)
{
    if (s->fd < 0) return -1;
    const char *name = strcmp(s->name, "-") ? s->name : "<stdin>";
    size_t bl = strlen(s->buf);
    const char *from = err_buf;
    for (int k = 0; k < 8; k++) {
        const char *at = strstr(from, s->buf);
        if (!at) break;
        if (at[bl] >= '0' && at[bl] <= '9') {   /* /proc/self/fd/5 inside /proc/self/fd/57 */
            from = at + bl;
            continue;
        }
        char tmp[sizeof err_buf];
        size_t pre = (size_t)(at - err_buf);
        snprintf(tmp, sizeof tmp, "%.*s%s%s", (int)pre, err_buf, name, at + bl);
        memcpy(err_buf, tmp, sizeof err_buf);
        from = err_buf + pre + strlen(name);
        if (from >= err_buf + sizeof err_buf) break;
    }
    return -1;
}

/* ---- a lock on an output set ---- */
int dfs_lock_take(dfs_lock *l, const char *path)
{
    l->fd = -1;
    l->slot = -1;
    for (int attempt = 0; attempt < 16; attempt++) {
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
        if (fd < 0) return dfs_fail("%s: cannot create the lock file: %s", path, strerror(errno));
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            int e = errno;
            char buf[32] = "";
            ssize_t n = e == EWOULDBLOCK ? pread(fd, buf, sizeof buf - 1, 0) : -1;
            close(fd);
            if (e != EWOULDBLOCK) return dfs_fail("%s: cannot lock: %s", path, strerror(e));
            long pid = 0;
            if (n > 0) {
                buf[n] = 0;
                pid = strtol(buf, NULL, 10);
            }
            if (pid > 0)
                return dfs_fail("%s: pid %ld is writing the same outputs; wait for it to end, or stop it", path, pid);
            return dfs_fail("%s: another process is writing the same outputs; wait for it to end, or stop it", path);
        }
        /* the holder before us may have removed the file between our open and our flock: the
         * lock counts only on the file that path names now */
        struct stat a, b;
        if (fstat(fd, &a) != 0 || stat(path, &b) != 0 || a.st_dev != b.st_dev || a.st_ino != b.st_ino) {
            close(fd);
            continue;
        }
        char buf[32];
        int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
        if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
            int e = errno;
            unlink(path);   /* ours while we hold the flock */
            close(fd);
            return dfs_fail("%s: cannot write the lock file: %s", path, strerror(e));
        }
        int slot = register_temporary(path, 1);
        if (slot < 0) {
            unlink(path);
            close(fd);
            return dfs_fail("%s: too many open outputs", path);
        }
        l->fd = fd;
        l->slot = slot;
        return 0;
    }
    return dfs_fail("%s: the lock file keeps changing under another process", path);
}

void dfs_lock_release(dfs_lock *l)
{
    if (l->fd < 0) return;
    if (l->slot >= 0) {
        unlink(tmp_paths[l->slot]);   /* while still holding the flock: see dfs_lock_take */
        tmp_used[l->slot] = 0;
    }
    close(l->fd);
    l->fd = -1;
    l->slot = -1;
}

int dfs_mkdir_p(const char *dir)
{
    char *p = dfs_strdup(dir);
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/') p[--n] = 0;
    for (char *s = p + 1; ; s++) {
        int end = *s == 0;
        if (*s == '/' || end) {
            *s = 0;
            if (mkdir(p, 0777) != 0 && errno != EEXIST) {
                int e = errno;
                free(p);
                return dfs_fail("%s: cannot create directory: %s", dir, strerror(e));
            }
            if (end) break;
            *s = '/';
        }
    }
    struct stat st;
    int ok = stat(p, &st) == 0 && S_ISDIR(st.st_mode);
    free(p);
    return ok ? 0 : dfs_fail("%s: not a directory", dir);
}

/* ---- parsing ---- */
int dfs_parse_long(const char *s, long lo, long hi, long *out)
{
    if (!s || !*s) return dfs_fail("empty number");
    errno = 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return dfs_fail("'%s' is not an integer in [%ld, %ld]", s, lo, hi);
    *out = v;
    return 0;
}

int dfs_parse_double(const char *s, double *out)
{
    if (!s || !*s) return dfs_fail("empty number");
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v)) return dfs_fail("'%s' is not a finite number", s);
    *out = v;
    return 0;
}

/* ---- progress ---- */
double dfs_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void dfs_progress_start(dfs_progress *p, FILE *to, const char *what, uint64_t total, int force)
{
    memset(p, 0, sizeof *p);
    p->to = to;
    p->enabled = to && (force || isatty(fileno(to)));
    p->what = what;
    p->total = total;
    p->t0 = p->last = dfs_now();
}

void dfs_progress_update(dfs_progress *p, uint64_t done)
{
    p->done = done;
    if (!p->enabled) return;
    double t = dfs_now();
    if (t - p->last < 0.25 && done != p->total) return;
    p->last = t;
    double el = t - p->t0, rate = el > 0 ? done / el : 0;
    if (p->total) {
        double eta = rate > 0 ? (p->total - done) / rate : 0;
        fprintf(p->to, "\r%s: %s %llu/%llu (%.0f%%) %.1f/s ETA %.0fs   ", dfs_progname, p->what,
                (unsigned long long)done, (unsigned long long)p->total, 100.0 * done / p->total, rate, eta);
    } else {
        fprintf(p->to, "\r%s: %s %llu %.1f/s   ", dfs_progname, p->what, (unsigned long long)done, rate);
    }
}

void dfs_progress_clear(dfs_progress *p)
{
    if (p->enabled) fputs("\r\033[K", p->to);
}

void dfs_progress_end(dfs_progress *p)
{
    if (p->enabled) {
        p->last = 0;
        dfs_progress_update(p, p->done);
        fputc('\n', p->to);
    }
}
