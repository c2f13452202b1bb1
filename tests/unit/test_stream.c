/* Unit tests of the tensor stream reader and writer (lib/core/stream.c). */
#include "check.h"
#include "core/stream.h"
#include "core/stream_index.h"

#include <stdint.h>
#include <unistd.h>

static const char *tmpdir(void)
{
    static char dir[256];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/dfs-unit-XXXXXX");
        if (!mkdtemp(dir)) { perror("mkdtemp"); exit(1); }
    }
    return dir;
}

static void make_record(dfs_record *r, int n, int label, const char *key)
{
    uint64_t dims[3] = {2, (uint64_t)n, 3};
    dfs_record_shape(r, DFS_F32, 3, dims);
    float *p = r->data;
    for (int i = 0; i < 2 * n * 3; i++) p[i] = (float)i * 0.5f - 3;
    r->label = label;
    dfs_meta_set(r, "key", key);
    dfs_meta_set(r, "dataset", "unit");
}

/* Write records to memory via a temporary file and return its bytes. */
static uint8_t *write_stream(int nrec, size_t *len)
{
    char path[300];
    snprintf(path, sizeof path, "%s/s.dft", tmpdir());
    dfs_out o;
    if (dfs_out_open(&o, path, 1, 1) != 0) { printf("# %s\n", dfs_error()); exit(1); }
    dfs_record r;
    dfs_record_init(&r);
    for (int i = 0; i < nrec; i++) {
        char key[32];
        snprintf(key, sizeof key, "u/v%d/f%02d", i / 2, i);
        make_record(&r, i + 1, i % 2, key);
        if (dfs_write_record(&o, &r) != 0) { printf("# %s\n", dfs_error()); exit(1); }
    }
    dfs_record_free(&r);
    if (dfs_out_commit(&o) != 0) { printf("# %s\n", dfs_error()); exit(1); }
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(*len);
    if (fread(buf, 1, *len, f) != *len) exit(1);
    fclose(f);
    return buf;
}

static void test_round_trip(void)
{
    size_t len;
    uint8_t *buf = write_stream(5, &len);
    CHECK(len % 8 == 0, "stream length %zu not a multiple of 8", len);
    CHECK(dfs_stream_check_buffer(buf, len) == 5, "%s", dfs_error());
    FILE *f = fmemopen(buf, len, "rb");
    dfs_reader rd;
    dfs_reader_from_file(&rd, f, "mem");
    dfs_record r, ref;
    dfs_record_init(&r);
    dfs_record_init(&ref);
    for (int i = 0; i < 5; i++) {
        CHECK(dfs_reader_next(&rd, &r) == 1, "record %d: %s", i, dfs_error());
        char key[32];
        snprintf(key, sizeof key, "u/v%d/f%02d", i / 2, i);
        make_record(&ref, i + 1, i % 2, key);
        CHECK(r.dtype == DFS_F32 && r.rank == 3 && r.dims[1] == (uint64_t)i + 1, "shape");
        CHECK(r.label == i % 2, "label %d", r.label);
        CHECK(r.nbytes == ref.nbytes && memcmp(r.data, ref.data, r.nbytes) == 0, "payload differs");
        size_t n;
        const char *k = dfs_meta_find(&r, "key", &n);
        CHECK(k && n == strlen(key) && memcmp(k, key, n) == 0, "key");
        char *ds = dfs_meta_dup(&r, "dataset");
        CHECK(ds && strcmp(ds, "unit") == 0, "dataset");
        free(ds);
    }
    CHECK(dfs_reader_next(&rd, &r) == 0, "clean end expected");
    dfs_reader_close(&rd);
    fclose(f);
    dfs_record_free(&r);
    dfs_record_free(&ref);
    free(buf);
}

/* Decode a corrupted copy of a 2-record stream and expect an error containing `want`. */
static void expect_error(const uint8_t *buf, size_t len, const char *want, const char *what)
{
    long n = dfs_stream_check_buffer(buf, len);
    CHECK(n < 0, "%s: accepted (%ld records)", what, n);
    if (n < 0) CHECK(strstr(dfs_error(), want) != NULL, "%s: message '%s' lacks '%s'", what, dfs_error(), want);
}

static void test_reader_errors(void)
{
    size_t len;
    uint8_t *good = write_stream(2, &len);
    uint8_t *b = malloc(len);
    size_t rec0 = 0;
    {   /* size of record 0: header + padded meta + padded payload */
        uint32_t mb = good[12] | good[13] << 8;
        uint64_t pb = good[16] | good[17] << 8 | (uint64_t)good[18] << 16;
        rec0 = 128 + ((mb + 7) & ~7u) + ((pb + 7) & ~7ull);
    }
    expect_error(good, 50, "truncated header", "truncated header");
    expect_error(good, rec0 + 60, "record 1: truncated header", "truncated header of record 1");
    expect_error(good, 140, "truncated metadata", "truncated metadata");
    expect_error(good, rec0 - 4, "truncated payload", "truncated payload");
    memcpy(b, good, len); b[0] = 'X';
    expect_error(b, len, "bad magic", "bad magic");
    memcpy(b, good, len); memcpy(b, "\x89PNG", 4);
    expect_error(b, len, "PNG", "png magic");
    memcpy(b, good, len); memcpy(b, "\x93NUMPY", 6);
    expect_error(b, len, ".npy", "npy magic");
    memcpy(b, good, len); memcpy(b, "TNS\x89", 4);
    expect_error(b, len, "byte-swapped", "swapped magic");
    memcpy(b, good, len); memcpy(b, "hello world, this is text", 16);
    expect_error(b, len, "text", "text");
    memcpy(b, good, len); b[4] = 2;
    expect_error(b, len, "unsupported version", "version");
    memcpy(b, good, len); b[6] = 64;
    expect_error(b, len, "header size", "header size");
    memcpy(b, good, len); b[8] = 77;
    expect_error(b, len, "unknown dtype", "dtype");
    memcpy(b, good, len); b[9] = 9;
    expect_error(b, len, "rank", "rank");
    memcpy(b, good, len); b[10] = 1;
    expect_error(b, len, "flags", "flags");
    memcpy(b, good, len); b[100] = 1;
    expect_error(b, len, "reserved", "reserved");
    memcpy(b, good, len); b[24] = 7;
    expect_error(b, len, "label 7", "label");
    memcpy(b, good, len); memset(b + 32, 0xff, 24);   /* absurd dims */
    expect_error(b, len, "absurd dimensions", "overflowing dims");
    memcpy(b, good, len); b[32 + 8] = 200;            /* dims disagree with payload size */
    expect_error(b, len, "does not match the shape", "payload size mismatch");
    memcpy(b, good, len); b[32 + 24] = 1;             /* dim beyond rank */
    expect_error(b, len, "rank is 3", "dim past rank");
    memcpy(b, good, len); b[12] = 0xff; b[13] = 0xff; b[14] = 0x01;
    expect_error(b, len, "limit", "huge metadata");
    {   /* a payload claim of 10^12 bytes must be refused before allocating */
        memcpy(b, good, len);
        uint64_t big = 1000000000000ull / 4, bytes = big * 4 * 1;
        memset(b + 32, 0, 64);
        for (int i = 0; i < 8; i++) b[32 + i] = (uint8_t)(big >> (8 * i));
        b[9] = 1;
        for (int i = 0; i < 8; i++) b[16 + i] = (uint8_t)(bytes >> (8 * i));
        expect_error(b, len, "limit", "10^12-byte payload");
    }
    /* metadata syntax: the first metadata byte follows the header */
    memcpy(b, good, len); b[128] = 'K';
    expect_error(b, len, "outside [a-z0-9_.]", "bad key");
    memcpy(b, good, len); b[131] = ':';   /* "key=" -> "key:" */
    expect_error(b, len, "not key=value", "no equals sign");
    memcpy(b, good, len); b[133] = 0xff;
    expect_error(b, len, "invalid UTF-8", "bad utf-8");
    memcpy(b, good, len); b[133] = 0;
    expect_error(b, len, "NUL", "nul in metadata");
    free(b);
    free(good);
}

static void test_meta(void)
{
    dfs_record r;
    dfs_record_init(&r);
    CHECK(dfs_meta_set(&r, "key", "a/b") == 0, "set");
    CHECK(dfs_meta_set(&r, "dataset", "x") == 0, "set");
    CHECK(dfs_meta_set(&r, "key", "c/d/e") == 0, "replace");
    char *k = dfs_meta_dup(&r, "key");
    CHECK(k && strcmp(k, "c/d/e") == 0, "replaced value %s", k ? k : "(null)");
    free(k);
    CHECK(dfs_meta_valid(r.meta, r.meta_len) == 0, "valid after replace: %s", dfs_error());
    CHECK(dfs_meta_set(&r, "Bad", "x") != 0, "uppercase key accepted");
    CHECK(dfs_meta_set(&r, "k", "a\nb") != 0, "newline accepted");
    CHECK(dfs_meta_set(&r, "k", "caf\xc3\xa9") == 0, "utf-8 rejected");
    CHECK(dfs_meta_set(&r, "k2", "\xc3") != 0, "truncated utf-8 accepted");
    CHECK(dfs_meta_valid("a=1\na=2\n", 8) != 0, "duplicate key accepted");
    CHECK(dfs_meta_find(&r, "ke", NULL) == NULL, "prefix matched");
    dfs_record_free(&r);
}

static void test_rank0_and_empty(void)
{
    dfs_record r;
    dfs_record_init(&r);
    CHECK(dfs_record_shape(&r, DFS_I32, 0, NULL) == 0, "rank 0");
    CHECK(r.nbytes == 4, "rank-0 tensor holds one element, got %llu bytes", (unsigned long long)r.nbytes);
    uint64_t d[2] = {0, 5};
    CHECK(dfs_record_shape(&r, DFS_F32, 2, d) == 0 && r.nbytes == 0, "empty tensor");
    uint8_t h[128];
    dfs_header_encode(h, &r);
    dfs_record q;
    dfs_record_init(&q);
    uint32_t mb;
    uint64_t pb;
    CHECK(dfs_header_decode(h, &q, &mb, &pb, 1000) == 0 && pb == 0 && q.dims[1] == 5, "%s", dfs_error());
    dfs_record_free(&q);
    dfs_record_free(&r);
}

static void test_atomic_output(void)
{
    char path[300], tmp[340];
    snprintf(path, sizeof path, "%s/atomic.dft", tmpdir());
    dfs_out o;
    CHECK(dfs_out_open(&o, path, 1, 1) == 0, "%s", dfs_error());
    dfs_out_write(&o, "abc", 3);
    CHECK(access(path, F_OK) != 0, "final file visible before commit");
    snprintf(tmp, sizeof tmp, "%s", o.tmp);
    dfs_out_abort(&o);
    CHECK(access(path, F_OK) != 0 && access(tmp, F_OK) != 0, "abort left a file");
    CHECK(dfs_out_open(&o, "/nonexistent-dir/x.dft", 1, 1) != 0, "opened in a missing directory");
    CHECK(strstr(dfs_error(), "/nonexistent-dir/x.dft") != NULL, "message lacks the path: %s", dfs_error());
    /* a full disk: /dev/full accepts the open and fails the write */
    if (access("/dev/full", W_OK) == 0) {
        FILE *f = fopen("/dev/full", "wb");
        dfs_out full = {f, NULL, NULL, -1};
        char big[1 << 16] = {0};
        int bad = dfs_out_write(&full, big, sizeof big) != 0 || dfs_out_commit(&full) != 0;
        CHECK(bad, "writing to /dev/full did not fail");
        fclose(f);
    }
}

/* the checked formatting and aligned allocation of core/common.h */
static void test_checked_alloc(void)
{
    char *s = dfs_asprintf("%s/%s/%d.tsv", "runs", "det", 7);
    CHECK(!strcmp(s, "runs/det/7.tsv"), "%s", s);
    free(s);
    char big[3000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    s = dfs_asprintf("<%s>", big);   /* longer than any fixed buffer of the library */
    CHECK(strlen(s) == sizeof big + 1 && s[0] == '<' && s[sizeof big] == '>', "%zu", strlen(s));
    free(s);
    s = dfs_asprintf("%s", "");
    CHECK(s && !*s, "empty");
    free(s);
    for (size_t align = 16; align <= 128; align *= 2) {
        void *p = dfs_aligned_alloc(align, 100);
        CHECK(((uintptr_t)p % align) == 0, "%p aligned to %zu", p, align);
        memset(p, 1, 100);
        free(p);
    }
    free(dfs_aligned_alloc(64, 0));   /* 0 bytes: a pointer free() takes */
}

static void test_index(void)
{
    size_t len;
    uint8_t *buf = write_stream(4, &len);   /* leaves tmpdir/s.dft: records of differing shapes */
    free(buf);
    char path[300];
    snprintf(path, sizeof path, "%s/s.dft", tmpdir());
    dfs_index ix;
    CHECK(dfs_index_open(&ix, path) != 0 && strstr(dfs_error(), "record 1") && strstr(dfs_error(), "differs"),
          "mixed shapes accepted: %s", dfs_error());
    /* same shapes: write 5 records of one shape with distinct payloads */
    dfs_out o;
    dfs_out_open(&o, path, 1, 1);
    dfs_record r;
    dfs_record_init(&r);
    for (int i = 0; i < 5; i++) {
        char key[32];
        snprintf(key, sizeof key, "k/v/f%d", i);
        make_record(&r, 3, i % 2, key);
        ((float *)r.data)[0] = (float)i;
        dfs_write_record(&o, &r);
    }
    dfs_out_commit(&o);
    CHECK(dfs_index_open(&ix, path) == 0, "%s", dfs_error());
    CHECK(ix.n == 5 && ix.dtype == DFS_F32 && ix.dims[1] == 3, "n=%zu", ix.n);
    float got[18];
    for (int i = 4; i >= 0; i--) {
        CHECK(dfs_index_read(&ix, (size_t)i, got) == 0, "%s", dfs_error());
        CHECK(got[0] == (float)i && got[1] == -2.5f, "record %d payload %g %g", i, got[0], got[1]);
        CHECK(ix.e[i].label == i % 2, "label");
    }
    CHECK(strcmp(ix.e[3].key, "k/v/f3") == 0 && strcmp(ix.e[3].dataset, "unit") == 0, "key %s", ix.e[3].key);
    size_t re, fa, un;
    dfs_index_label_counts(&ix, &re, &fa, &un);
    CHECK(re == 3 && fa == 2 && un == 0, "counts");
    dfs_index_close(&ix);
    dfs_record_free(&r);
    CHECK(dfs_index_open(&ix, tmpdir()) != 0 && strstr(dfs_error(), "not a regular file"),
          "a directory was accepted: %s", dfs_error());
}

int main(void)
{
    RUN(test_round_trip);
    RUN(test_reader_errors);
    RUN(test_meta);
    RUN(test_rank0_and_empty);
    RUN(test_atomic_output);
    RUN(test_index);
    RUN(test_checked_alloc);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir());
    if (system(cmd) != 0) printf("# could not remove %s\n", tmpdir());
    return CHECK_DONE();
}
