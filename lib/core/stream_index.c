/* stream_index.c: one pass over a stream file to index its records for random access. */
#include "core/stream_index.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int dfs_index_open(dfs_index *ix, const char *path)
{
    memset(ix, 0, sizeof *ix);
    ix->fd = -1;
    struct stat st;
    if (stat(path, &st) != 0) return dfs_fail("%s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode)) return dfs_fail("%s: not a regular file (training data must be a file, not a pipe)", path);
    dfs_reader rd;
    if (dfs_reader_open(&rd, path) != 0) return -1;
    rd.skip_payload = 1;
    dfs_record rec;
    dfs_record_init(&rec);
    size_t cap = 0;
    int r;
    char want[128], got[128];
    while ((r = dfs_reader_next(&rd, &rec)) == 1) {
        if (ix->n == 0) {
            ix->dtype = rec.dtype;
            ix->rank = rec.rank;
            memcpy(ix->dims, rec.dims, sizeof ix->dims);
        } else if (rec.dtype != ix->dtype || rec.rank != ix->rank || memcmp(rec.dims, ix->dims, sizeof ix->dims)) {
            dfs_record first = rec;
            first.dtype = ix->dtype;
            first.rank = ix->rank;
            memcpy(first.dims, ix->dims, sizeof ix->dims);
            dfs_fail("%s: record %zu: %s %s differs from the first record's %s %s", path, ix->n,
                     dfs_dtype_name(rec.dtype), dfs_shape_str(&rec, got, sizeof got), dfs_dtype_name(ix->dtype),
                     dfs_shape_str(&first, want, sizeof want));
            r = -1;
            break;
        }
        if (ix->n == cap) {
            cap = cap ? 2 * cap : 1024;
            ix->e = dfs_realloc(ix->e, cap * sizeof *ix->e);
        }
        dfs_index_entry *e = &ix->e[ix->n];
        uint64_t payload_bytes = 1;
        {   /* the record just read ends at rd.offset; its payload is the last padded part */
            uint64_t elems = dfs_record_elems(&rec);
            payload_bytes = elems * dfs_dtype_size(rec.dtype);
        }
        e->nbytes = payload_bytes;
        e->payload_offset = rd.offset - ((payload_bytes + 7) & ~(uint64_t)7);
        e->label = rec.label;
        e->key = dfs_meta_dup(&rec, "key");
        if (!e->key) {
            char buf[32];
            snprintf(buf, sizeof buf, "#%zu", ix->n);
            e->key = dfs_strdup(buf);
        }
        e->dataset = dfs_meta_dup(&rec, "dataset");
        if (!e->dataset) e->dataset = dfs_strdup("");
        ix->n++;
    }
    dfs_record_free(&rec);
    dfs_reader_close(&rd);
    if (r < 0) {
        dfs_index_close(ix);
        return -1;
    }
    ix->path = dfs_strdup(path);
    ix->fd = open(path, O_RDONLY);
    if (ix->fd < 0) {
        int e = errno;
        dfs_index_close(ix);
        return dfs_fail("%s: %s", path, strerror(e));
    }
    return 0;
}

void dfs_index_close(dfs_index *ix)
{
    for (size_t i = 0; i < ix->n; i++) {
        free(ix->e[i].key);
        free(ix->e[i].dataset);
    }
    free(ix->e);
    free(ix->path);
    if (ix->fd >= 0) close(ix->fd);
    memset(ix, 0, sizeof *ix);
    ix->fd = -1;
}

int dfs_index_read(const dfs_index *ix, size_t i, void *buf)
{
    if (i >= ix->n) return dfs_fail("%s: record %zu out of range", ix->path, i);
    uint64_t off = ix->e[i].payload_offset, left = ix->e[i].nbytes;
    char *p = buf;
    while (left) {
        ssize_t got = pread(ix->fd, p, left, (off_t)off);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0)
            return dfs_fail("%s: record %zu: %s", ix->path, i, got < 0 ? strerror(errno) : "file shrank while reading");
        p += got;
        off += (uint64_t)got;
        left -= (uint64_t)got;
    }
    return 0;
}

void dfs_index_label_counts(const dfs_index *ix, size_t *real, size_t *fake, size_t *unknown)
{
    *real = *fake = *unknown = 0;
    for (size_t i = 0; i < ix->n; i++) {
        if (ix->e[i].label == 0) (*real)++;
        else if (ix->e[i].label == 1) (*fake)++;
        else (*unknown)++;
    }
}
