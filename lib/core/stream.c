/* stream.c: reader and writer of the tensor stream format (formats/tensor-stream.md). */
#include "core/stream.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- little-endian field access, independent of the host's byte order ---- */
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get64(const uint8_t *p) { return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32; }
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

/* Header layout (byte offsets). */
enum {
    H_MAGIC = 0, H_VERSION = 4, H_HBYTES = 6, H_DTYPE = 8, H_RANK = 9, H_FLAGS = 10,
    H_META = 12, H_PAYLOAD = 16, H_LABEL = 24, H_RES1 = 28, H_DIMS = 32, H_RES2 = 96
};

static uint64_t pad8(uint64_t n) { return (n + 7) & ~(uint64_t)7; }

size_t dfs_dtype_size(int dtype)
{
    static const size_t sz[] = {0, 1, 1, 2, 2, 4, 8, 2, 2, 4, 8};
    return dtype >= 1 && dtype <= DFS_DTYPE_MAX ? sz[dtype] : 0;
}

static const char *dtype_names[] = {"?", "u8", "i8", "u16", "i16", "i32", "i64", "f16", "bf16", "f32", "f64"};

const char *dfs_dtype_name(int dtype)
{
    return dtype >= 1 && dtype <= DFS_DTYPE_MAX ? dtype_names[dtype] : "?";
}

int dfs_dtype_from_name(const char *name)
{
    for (int i = 1; i <= DFS_DTYPE_MAX; i++)
        if (strcmp(name, dtype_names[i]) == 0) return i;
    return 0;
}

/* ---- records ---- */
void dfs_record_init(dfs_record *r)
{
    memset(r, 0, sizeof *r);
    r->label = DFS_LABEL_UNKNOWN;
    r->meta_cap = 64;
    r->meta = dfs_calloc(r->meta_cap, 1);
}

void dfs_record_free(dfs_record *r)
{
    free(r->meta);
    free(r->data);
    memset(r, 0, sizeof *r);
}

/* Room for an n-byte payload, or -1 with "out of memory allocating N bytes": a payload's size
 * comes from the input, so running out is the input's problem, reported with its file and
 * record by the caller (not the fatal out-of-memory of dfs_malloc). */
static int try_data(dfs_record *r, size_t n)
{
    if (n > r->data_cap) {
        free(r->data);
        /* 64-byte alignment lets SIMD code read payloads directly */
        size_t cap = (n + 63) & ~(size_t)63;
        if (posix_memalign(&r->data, 64, cap) != 0) {
            r->data = NULL;
            r->data_cap = 0;
            return dfs_fail("out of memory allocating %zu bytes", cap);
        }
        r->data_cap = cap;
    }
    return 0;
}

static void ensure_data(dfs_record *r, size_t n)
{
    if (try_data(r, n) != 0) {
        free(dfs_malloc(n));   /* fails the same way: reports out of memory with the size, exits */
        dfs_malloc(SIZE_MAX);  /* (should that malloc succeed after all) */
    }
}

static void ensure_meta(dfs_record *r, size_t n)
{
    if (n + 1 > r->meta_cap) {
        r->meta_cap = n + 1 > 2 * r->meta_cap ? n + 1 : 2 * r->meta_cap;
        r->meta = dfs_realloc(r->meta, r->meta_cap);
    }
}

void dfs_record_copy(dfs_record *dst, const dfs_record *src)
{
    dst->dtype = src->dtype;
    dst->rank = src->rank;
    memcpy(dst->dims, src->dims, sizeof dst->dims);
    dst->label = src->label;
    ensure_meta(dst, src->meta_len);
    memcpy(dst->meta, src->meta, src->meta_len + 1);
    dst->meta_len = src->meta_len;
    ensure_data(dst, src->nbytes);
    if (src->nbytes) memcpy(dst->data, src->data, src->nbytes);
    dst->nbytes = src->nbytes;
}

/* Element count and byte size of a shape, with overflow checks; -1 when it overflows. */
static int shape_bytes(int dtype, int rank, const uint64_t *dims, uint64_t *elems, uint64_t *bytes)
{
    uint64_t n = 1;
    for (int i = 0; i < rank; i++) {
        if (dims[i] == 0) { n = 0; break; }
    }
    if (n) {
        for (int i = 0; i < rank; i++) {
            if (n > UINT64_MAX / dims[i]) return -1;
            n *= dims[i];
        }
    }
    uint64_t es = dfs_dtype_size(dtype);
    if (es && n > UINT64_MAX / es) return -1;
    *elems = n;
    *bytes = n * es;
    return 0;
}

int dfs_record_shape(dfs_record *r, int dtype, int rank, const uint64_t *dims)
{
    if (!dfs_dtype_size(dtype)) return dfs_fail("unknown dtype %d", dtype);
    if (rank < 0 || rank > DFS_MAX_RANK) return dfs_fail("rank %d is outside 0..%d", rank, DFS_MAX_RANK);
    uint64_t elems, bytes;
    if (shape_bytes(dtype, rank, dims, &elems, &bytes) != 0 || bytes > (DFS_DEFAULT_MAX_PAYLOAD << 3) ||
        bytes > SIZE_MAX)
        return dfs_fail("tensor shape too large");
    r->dtype = dtype;
    r->rank = rank;
    memset(r->dims, 0, sizeof r->dims);
    for (int i = 0; i < rank; i++) r->dims[i] = dims[i];
    r->label = DFS_LABEL_UNKNOWN;
    dfs_meta_clear(r);
    r->nbytes = 0;
    if (try_data(r, (size_t)bytes) != 0) return -1;
    r->nbytes = bytes;
    return 0;
}

uint64_t dfs_record_elems(const dfs_record *r)
{
    uint64_t e, b;
    return shape_bytes(r->dtype ? r->dtype : DFS_U8, r->rank, r->dims, &e, &b) == 0 ? e : 0;
}

const char *dfs_shape_str(const dfs_record *r, char *buf, size_t n)
{
    size_t off = 0;
    buf[0] = 0;
    if (r->rank == 0) { snprintf(buf, n, "scalar"); return buf; }
    for (int i = 0; i < r->rank && off < n; i++)
        off += (size_t)snprintf(buf + off, n - off, i ? "x%llu" : "%llu", (unsigned long long)r->dims[i]);
    return buf;
}

/* ---- metadata ---- */
int dfs_key_valid(const char *key)
{
    if (!*key) return 0;
    for (const char *p = key; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '.')) return 0;
    return 1;
}

/* Length of a valid UTF-8 sequence at p (at most n bytes), 0 when invalid. Rejects overlong
 * forms, surrogates and code points above U+10FFFF. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    if (c < 0x80) return 1;
    size_t len;
    unsigned cp;
    if (c >= 0xC2 && c <= 0xDF) { len = 2; cp = c & 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; cp = c & 0x0F; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; cp = c & 0x07; }
    else return 0;
    if (len > n) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        cp = cp << 6 | (p[i] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

int dfs_meta_valid(const char *meta, size_t len)
{
    const unsigned char *m = (const unsigned char *)meta;
    size_t i = 0;
    int line = 1;
    /* keys seen so far, for the duplicate check: offsets of line starts */
    size_t starts[1024];
    size_t nstarts = 0;
    while (i < len) {
        size_t start = i, eq = 0;
        int have_eq = 0;
        while (i < len && m[i] != '\n') {
            if (m[i] == 0) return dfs_fail("metadata line %d: NUL byte", line);
            if (!have_eq && m[i] == '=') { have_eq = 1; eq = i; }
            size_t s = utf8_seq(m + i, len - i);
            if (!s) return dfs_fail("metadata line %d: invalid UTF-8", line);
            i += s;
        }
        if (i >= len) return dfs_fail("metadata line %d: missing final newline", line);
        if (!have_eq) return dfs_fail("metadata line %d: not key=value", line);
        if (eq == start) return dfs_fail("metadata line %d: empty key", line);
        for (size_t k = start; k < eq; k++) {
            unsigned char c = m[k];
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.'))
                return dfs_fail("metadata line %d: key has a character outside [a-z0-9_.]", line);
        }
        size_t klen = eq - start;
        for (size_t s = 0; s < nstarts; s++) {
            const unsigned char *o = m + starts[s];
            if (memcmp(o, m + start, klen) == 0 && o[klen] == '=')
                return dfs_fail("metadata line %d: duplicate key '%.*s'", line, (int)klen, meta + start);
        }
        if (nstarts == sizeof starts / sizeof starts[0]) return dfs_fail("metadata: more than 1024 keys");
        starts[nstarts++] = start;
        i++;   /* the newline */
        line++;
    }
    return 0;
}

const char *dfs_meta_find(const dfs_record *r, const char *key, size_t *len)
{
    size_t klen = strlen(key);
    const char *p = r->meta, *end = r->meta + r->meta_len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) nl = end;
        if ((size_t)(nl - p) > klen && memcmp(p, key, klen) == 0 && p[klen] == '=') {
            if (len) *len = (size_t)(nl - p - klen - 1);
            return p + klen + 1;
        }
        p = nl + 1;
    }
    return NULL;
}

char *dfs_meta_dup(const dfs_record *r, const char *key)
{
    size_t n;
    const char *v = dfs_meta_find(r, key, &n);
    if (!v) return NULL;
    char *s = dfs_malloc(n + 1);
    memcpy(s, v, n);
    s[n] = 0;
    return s;
}

int dfs_meta_clear(dfs_record *r)
{
    r->meta_len = 0;
    r->meta[0] = 0;
    return 0;
}

int dfs_meta_set(dfs_record *r, const char *key, const char *value)
{
    if (!dfs_key_valid(key)) return dfs_fail("metadata key '%s' is not [a-z0-9_.]+", key);
    size_t vlen = strlen(value);
    for (size_t i = 0; i < vlen;) {
        if (value[i] == '\n') return dfs_fail("metadata value for '%s' contains a newline", key);
        size_t s = utf8_seq((const unsigned char *)value + i, vlen - i);
        if (!s) return dfs_fail("metadata value for '%s' is not valid UTF-8", key);
        i += s;
    }
    size_t klen = strlen(key);
    /* remove an existing entry */
    size_t old;
    const char *v = dfs_meta_find(r, key, &old);
    if (v) {
        char *line = (char *)v - klen - 1;
        size_t linelen = klen + 1 + old + 1;
        memmove(line, line + linelen, r->meta_len - (size_t)(line - r->meta) - linelen + 1);
        r->meta_len -= linelen;
    }
    size_t add = klen + 1 + vlen + 1;
    if (r->meta_len + add > DFS_MAX_META) return dfs_fail("metadata larger than %u bytes", DFS_MAX_META);
    ensure_meta(r, r->meta_len + add);
    char *p = r->meta + r->meta_len;
    memcpy(p, key, klen);
    p[klen] = '=';
    memcpy(p + klen + 1, value, vlen);
    p[klen + 1 + vlen] = '\n';
    r->meta_len += add;
    r->meta[r->meta_len] = 0;
    return 0;
}

/* ---- header ---- */
void dfs_header_encode(uint8_t h[DFS_HEADER_BYTES], const dfs_record *r)
{
    memset(h, 0, DFS_HEADER_BYTES);
    memcpy(h + H_MAGIC, DFS_MAGIC, 4);
    put16(h + H_VERSION, DFS_VERSION);
    put16(h + H_HBYTES, DFS_HEADER_BYTES);
    h[H_DTYPE] = (uint8_t)r->dtype;
    h[H_RANK] = (uint8_t)r->rank;
    put32(h + H_META, (uint32_t)r->meta_len);
    put64(h + H_PAYLOAD, r->nbytes);
    put32(h + H_LABEL, (uint32_t)r->label);
    for (int i = 0; i < DFS_MAX_RANK; i++) put64(h + H_DIMS + 8 * i, r->dims[i]);
}

static int is_text(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!(p[i] == '\t' || p[i] == '\n' || p[i] == '\r' || (p[i] >= 0x20 && p[i] < 0x7f))) return 0;
    return 1;
}

static int bad_magic(const uint8_t *h)
{
    if (memcmp(h, "\x93NUMPY", 6) == 0) return dfs_fail("a NumPy .npy file, not a tensor stream");
    if (memcmp(h, "\x89PNG", 4) == 0) return dfs_fail("a PNG image, not a tensor stream (convert it with pack)");
    if (memcmp(h, "TNS\x89", 4) == 0) return dfs_fail("byte-swapped magic: a big-endian stream, which dfstudy does not read");
    if (is_text(h, 16)) return dfs_fail("text, not a tensor stream (bad magic)");
    return dfs_fail("bad magic %02x %02x %02x %02x: not a tensor stream", h[0], h[1], h[2], h[3]);
}

int dfs_header_decode(const uint8_t h[DFS_HEADER_BYTES], dfs_record *r, uint32_t *meta_bytes,
                      uint64_t *payload_bytes, uint64_t max_payload)
{
    if (memcmp(h + H_MAGIC, DFS_MAGIC, 4) != 0) return bad_magic(h);
    unsigned version = get16(h + H_VERSION);
    if (version != DFS_VERSION) return dfs_fail("unsupported version %u (this build reads %d)", version, DFS_VERSION);
    if (get16(h + H_HBYTES) != DFS_HEADER_BYTES)
        return dfs_fail("header size %u, expected %d", get16(h + H_HBYTES), DFS_HEADER_BYTES);
    int dtype = h[H_DTYPE], rank = h[H_RANK];
    if (!dfs_dtype_size(dtype)) return dfs_fail("unknown dtype %d", dtype);
    if (rank > DFS_MAX_RANK) return dfs_fail("rank %d above %d", rank, DFS_MAX_RANK);
    if (get16(h + H_FLAGS) != 0) return dfs_fail("unknown flags 0x%04x", get16(h + H_FLAGS));
    if (get32(h + H_RES1) != 0) return dfs_fail("reserved header bytes are not zero");
    for (int i = H_RES2; i < DFS_HEADER_BYTES; i++)
        if (h[i]) return dfs_fail("reserved header bytes are not zero");
    uint32_t mb = get32(h + H_META);
    if (mb > DFS_MAX_META) return dfs_fail("metadata size %u above the %u-byte limit", mb, DFS_MAX_META);
    int32_t label = (int32_t)get32(h + H_LABEL);
    if (label < -1 || label > 1) return dfs_fail("label %d is not -1 (unknown), 0 (real) or 1 (fake)", label);
    uint64_t dims[DFS_MAX_RANK];
    for (int i = 0; i < DFS_MAX_RANK; i++) {
        dims[i] = get64(h + H_DIMS + 8 * i);
        if (i >= rank && dims[i] != 0) return dfs_fail("dimension %d is set but rank is %d", i, rank);
    }
    uint64_t pb = get64(h + H_PAYLOAD), elems, bytes;
    if (shape_bytes(dtype, rank, dims, &elems, &bytes) != 0)
        return dfs_fail("absurd dimensions: the element count overflows");
    if (bytes != pb)
        return dfs_fail("payload size %llu does not match the shape (%llu bytes expected)",
                        (unsigned long long)pb, (unsigned long long)bytes);
    if (pb > max_payload)
        return dfs_fail("payload of %llu bytes above the %llu-byte limit", (unsigned long long)pb,
                        (unsigned long long)max_payload);
    r->dtype = dtype;
    r->rank = rank;
    memcpy(r->dims, dims, sizeof dims);
    r->label = label;
    *meta_bytes = mb;
    *payload_bytes = pb;
    return 0;
}

/* ---- reader ---- */
int dfs_reader_open(dfs_reader *rd, const char *path)
{
    memset(rd, 0, sizeof *rd);
    rd->max_payload = DFS_DEFAULT_MAX_PAYLOAD;
    if (!path || strcmp(path, "-") == 0) {
        rd->f = stdin;
        rd->name = dfs_strdup("<stdin>");
        return 0;
    }
    rd->f = fopen(path, "rb");
    if (!rd->f) return dfs_fail("%s: %s", path, strerror(errno));
    rd->own = 1;
    rd->name = dfs_strdup(path);
    return 0;
}

void dfs_reader_from_file(dfs_reader *rd, FILE *f, const char *name)
{
    memset(rd, 0, sizeof *rd);
    rd->max_payload = DFS_DEFAULT_MAX_PAYLOAD;
    rd->f = f;
    rd->name = dfs_strdup(name);
}

void dfs_reader_close(dfs_reader *rd)
{
    if (rd->own && rd->f) fclose(rd->f);
    free(rd->name);
    memset(rd, 0, sizeof *rd);
}

static int rec_fail(dfs_reader *rd, const char *what)
{
    return dfs_fail("%s: record %llu: %s", rd->name, (unsigned long long)rd->index, what);
}

/* Read exactly n bytes; 0 ok, -1 on a short read (the caller names the part). */
static int read_exact(dfs_reader *rd, void *p, size_t n, size_t *got)
{
    size_t g = n ? fread(p, 1, n, rd->f) : 0;
    if (got) *got = g;
    return g == n ? 0 : -1;
}

static int skip_bytes(dfs_reader *rd, uint64_t n)
{
    char buf[65536];
    while (n) {
        size_t k = n < sizeof buf ? (size_t)n : sizeof buf;
        if (fread(buf, 1, k, rd->f) != k) return -1;
        n -= k;
    }
    return 0;
}

static int zeros(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i]) return 0;
    return 1;
}

int dfs_reader_next(dfs_reader *rd, dfs_record *rec)
{
    uint8_t h[DFS_HEADER_BYTES];
    size_t got;
    if (read_exact(rd, h, sizeof h, &got) != 0) {
        if (ferror(rd->f)) return rec_fail(rd, strerror(errno ? errno : EIO));
        if (got == 0) return 0;   /* clean end at a record boundary */
        /* a short text file given where a stream belongs: say so, as bad_magic does for longer ones */
        if (rd->offset == 0 && is_text(h, got < 16 ? got : 16)) return rec_fail(rd, "text, not a tensor stream");
        char msg[96];
        snprintf(msg, sizeof msg, "truncated header (%zu of %d bytes)", got, DFS_HEADER_BYTES);
        return rec_fail(rd, msg);
    }
    uint32_t mb;
    uint64_t pb;
    if (dfs_header_decode(h, rec, &mb, &pb, rd->max_payload) != 0) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", dfs_error());
        return rec_fail(rd, msg);
    }
    size_t mpad = (size_t)pad8(mb);
    ensure_meta(rec, mpad);
    if (read_exact(rd, rec->meta, mpad, NULL) != 0) return rec_fail(rd, "truncated metadata");
    if (mpad > mb && !zeros((const uint8_t *)rec->meta + mb, mpad - mb))
        return rec_fail(rd, "metadata padding is not zero");
    rec->meta[mb] = 0;
    rec->meta_len = mb;
    if (dfs_meta_valid(rec->meta, mb) != 0) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", dfs_error());
        return rec_fail(rd, msg);
    }
    uint64_t ppad = pad8(pb);
    if (rd->skip_payload) {
        uint8_t pad[8];   /* listing skips the payload but still checks its padding */
        if (skip_bytes(rd, pb) != 0 || read_exact(rd, pad, (size_t)(ppad - pb), NULL) != 0)
            return rec_fail(rd, "truncated payload");
        if (!zeros(pad, (size_t)(ppad - pb))) return rec_fail(rd, "payload padding is not zero");
        rec->nbytes = 0;
    } else {
        /* in a regular file, a payload claimed past its end is a truncation, not an allocation */
        struct stat st;
        off_t pos;
        if (fstat(fileno(rd->f), &st) == 0 && S_ISREG(st.st_mode) && (pos = ftello(rd->f)) >= 0 &&
            pos <= st.st_size && (uint64_t)(st.st_size - pos) < ppad)
            return rec_fail(rd, "truncated payload");
        if (try_data(rec, (size_t)ppad) != 0) {
            char msg[160];
            snprintf(msg, sizeof msg, "payload of %llu bytes: %s", (unsigned long long)pb, dfs_error());
            return rec_fail(rd, msg);
        }
        if (read_exact(rd, rec->data, (size_t)ppad, NULL) != 0) return rec_fail(rd, "truncated payload");
        if (ppad > pb && !zeros((const uint8_t *)rec->data + pb, (size_t)(ppad - pb)))
            return rec_fail(rd, "payload padding is not zero");
        rec->nbytes = pb;
    }
    rd->offset += DFS_HEADER_BYTES + mpad + ppad;
    rd->index++;
    return 1;
}

long dfs_stream_check_buffer(const uint8_t *buf, size_t len)
{
    FILE *f = fmemopen((void *)buf, len ? len : 1, "rb");
    if (!f) return dfs_fail("fmemopen: %s", strerror(errno));
    if (!len) { fclose(f); return 0; }
    dfs_reader rd;
    dfs_reader_from_file(&rd, f, "<buffer>");
    rd.max_payload = 1 << 24;
    dfs_record rec;
    dfs_record_init(&rec);
    long n = 0;
    int r;
    while ((r = dfs_reader_next(&rd, &rec)) == 1) n++;
    dfs_record_free(&rec);
    dfs_reader_close(&rd);
    fclose(f);
    return r < 0 ? -1 : n;
}

/* ---- writer ---- */
int dfs_write_record(dfs_out *o, const dfs_record *r)
{
    uint64_t elems, bytes;
    if (!dfs_dtype_size(r->dtype)) return dfs_fail("%s: cannot write a record of unknown dtype %d", dfs_out_name(o), r->dtype);
    if (r->rank < 0 || r->rank > DFS_MAX_RANK || shape_bytes(r->dtype, r->rank, r->dims, &elems, &bytes) != 0 ||
        bytes != r->nbytes)
        return dfs_fail("%s: record shape and payload size disagree", dfs_out_name(o));
    if (r->label < -1 || r->label > 1) return dfs_fail("%s: label %d is not -1, 0 or 1", dfs_out_name(o), r->label);
    if (r->meta_len > DFS_MAX_META || dfs_meta_valid(r->meta, r->meta_len) != 0)
        return dfs_fail_prefix(dfs_out_name(o));
    uint8_t h[DFS_HEADER_BYTES];
    static const uint8_t zero[8];
    dfs_header_encode(h, r);
    if (dfs_out_write(o, h, sizeof h) || dfs_out_write(o, r->meta, r->meta_len) ||
        dfs_out_write(o, zero, (size_t)(pad8(r->meta_len) - r->meta_len)) ||
        dfs_out_write(o, r->data, (size_t)r->nbytes) ||
        dfs_out_write(o, zero, (size_t)(pad8(r->nbytes) - r->nbytes)))
        return -1;
    return 0;
}

int dfs_read_all(const char *path, dfs_record_list *out)
{
    memset(out, 0, sizeof *out);
    dfs_reader rd;
    if (dfs_reader_open(&rd, path) != 0) return -1;
    for (;;) {
        if (out->n == out->cap) {
            out->cap = out->cap ? 2 * out->cap : 16;
            out->v = dfs_realloc(out->v, out->cap * sizeof *out->v);
        }
        dfs_record_init(&out->v[out->n]);
        int r = dfs_reader_next(&rd, &out->v[out->n]);
        if (r <= 0) {
            dfs_record_free(&out->v[out->n]);
            dfs_reader_close(&rd);
            if (r < 0) { dfs_record_list_free(out); return -1; }
            return 0;
        }
        out->n++;
    }
}

const dfs_record *dfs_record_list_find(const dfs_record_list *l, const char *key, const char *value)
{
    size_t want = strlen(value);
    for (size_t i = 0; i < l->n; i++) {
        size_t len;
        const char *v = dfs_meta_find(&l->v[i], key, &len);
        if (v && len == want && memcmp(v, value, len) == 0) return &l->v[i];
    }
    return NULL;
}

void dfs_record_list_free(dfs_record_list *l)
{
    for (size_t i = 0; i < l->n; i++) dfs_record_free(&l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}
