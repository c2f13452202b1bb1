/* stream.h: the dfstudy tensor stream (formats/tensor-stream.md is the authority).
 *
 * A stream is records back to back; each record is a 128-byte little-endian header, key=value
 * metadata, and a row-major payload, both zero-padded to a multiple of 8 bytes. Nothing seeks,
 * so streams flow through pipes and `cat a b` is a valid stream. Readers validate every field
 * before allocating, and every error names the file and the record number (from 0). */
#ifndef DFS_STREAM_H
#define DFS_STREAM_H

#include "core/common.h"

/* dtypes: append-only, explicit values (a stream written today stays readable). */
enum {
    DFS_U8 = 1, DFS_I8 = 2, DFS_U16 = 3, DFS_I16 = 4, DFS_I32 = 5, DFS_I64 = 6,
    DFS_F16 = 7, DFS_BF16 = 8, DFS_F32 = 9, DFS_F64 = 10
};
#define DFS_DTYPE_MAX 10

#define DFS_MAGIC "\x89TNS"
#define DFS_VERSION 1
#define DFS_HEADER_BYTES 128
#define DFS_MAX_RANK 8
#define DFS_MAX_META 65536u
#define DFS_DEFAULT_MAX_PAYLOAD (UINT64_C(1) << 31)   /* 2 GiB; readers may raise it */

/* labels: every detector outputs P(fake) */
#define DFS_LABEL_UNKNOWN (-1)
#define DFS_LABEL_REAL 0
#define DFS_LABEL_FAKE 1

typedef struct dfs_record {
    int dtype;
    int rank;
    uint64_t dims[DFS_MAX_RANK];   /* outermost first; entries >= rank are 0 */
    int32_t label;                 /* -1 unknown, 0 real, 1 fake */
    char *meta;                    /* "key=value\n" lines, NUL-terminated; never NULL after init */
    size_t meta_len;               /* bytes of meta, without the NUL */
    void *data;                    /* payload, nbytes long (buffer reused across reads) */
    uint64_t nbytes;
    size_t meta_cap, data_cap;     /* allocated sizes of meta and data */
} dfs_record;

size_t dfs_dtype_size(int dtype);            /* bytes per element; 0 for an unknown dtype */
const char *dfs_dtype_name(int dtype);       /* "u8", "f32", ...; "?" when unknown */
int dfs_dtype_from_name(const char *name);   /* 0 when unknown */

void dfs_record_init(dfs_record *r);
void dfs_record_free(dfs_record *r);
/* Copy src into dst (dst must be initialised); buffers are reused. */
void dfs_record_copy(dfs_record *dst, const dfs_record *src);
/* Set dtype and shape and size the payload buffer (contents undefined); fails on overflow
 * or a payload above DFS_DEFAULT_MAX_PAYLOAD * 8. Metadata is cleared; label set to unknown. */
int dfs_record_shape(dfs_record *r, int dtype, int rank, const uint64_t *dims);
uint64_t dfs_record_elems(const dfs_record *r);
/* "3x256x256" style shape string into buf. */
const char *dfs_shape_str(const dfs_record *r, char *buf, size_t n);

/* Metadata. Keys are [a-z0-9_.]+; values are UTF-8 without newline or NUL. */
const char *dfs_meta_find(const dfs_record *r, const char *key, size_t *len);
char *dfs_meta_dup(const dfs_record *r, const char *key);      /* malloc'd copy or NULL */
int dfs_meta_set(dfs_record *r, const char *key, const char *value);   /* replace or append */
int dfs_meta_clear(dfs_record *r);
int dfs_meta_valid(const char *meta, size_t len);   /* 0, or -1 with an error (no file prefix) */
int dfs_key_valid(const char *key);                  /* 1 when key matches [a-z0-9_.]+ */

/* ---- reading ---- */
typedef struct dfs_reader {
    FILE *f;
    char *name;            /* file name for messages ("<stdin>" for -) */
    int own;               /* close f at the end */
    uint64_t index;        /* number of the next record */
    uint64_t offset;       /* byte offset of the next record */
    uint64_t max_payload;  /* cap checked before allocating */
    int skip_payload;      /* when set, payloads are skipped, not read (for listing) */
} dfs_reader;

int dfs_reader_open(dfs_reader *rd, const char *path);   /* "-" or NULL: stdin */
void dfs_reader_from_file(dfs_reader *rd, FILE *f, const char *name);
/* 1: a record was read into rec; 0: clean end of stream; -1: error (dfs_error() says which). */
int dfs_reader_next(dfs_reader *rd, dfs_record *rec);
void dfs_reader_close(dfs_reader *rd);

/* Decode and validate one header (exported for tests and the fuzzer). Fills dtype, rank, dims,
 * label; returns the metadata and payload sizes. 0 or -1 with an error (no file prefix). */
int dfs_header_decode(const uint8_t hdr[DFS_HEADER_BYTES], dfs_record *rec, uint32_t *meta_bytes,
                      uint64_t *payload_bytes, uint64_t max_payload);
void dfs_header_encode(uint8_t hdr[DFS_HEADER_BYTES], const dfs_record *rec);
/* Decode a whole in-memory stream (fuzz entry point): number of records or -1. */
long dfs_stream_check_buffer(const uint8_t *buf, size_t len);

/* ---- writing ---- */
int dfs_write_record(dfs_out *o, const dfs_record *rec);

/* Read all records of a stream into a growable array (for small streams: checkpoints, tests). */
typedef struct dfs_record_list {
    dfs_record *v;
    size_t n, cap;
} dfs_record_list;
int dfs_read_all(const char *path, dfs_record_list *out);
void dfs_record_list_free(dfs_record_list *l);
/* The first record whose metadata `key` equals `value` (fixtures name their tensors), or NULL. */
const dfs_record *dfs_record_list_find(const dfs_record_list *l, const char *key, const char *value);

#endif
