/* synth.h: the synthetic face-forgery benchmark (formats/synth.md describes roles, pools, keys,
 * methods and their artifacts).
 *
 * A benchmark is planned, then rendered frame by frame. syn_plan() lists the videos of one
 * (role, split) in output order (real and fake alternate by pair); syn_frame() renders one frame
 * of one video. Every frame is a pure function of (spec, video, frame index): it draws from
 * generators derived from the seed and those numbers only, so frames may be rendered in any order
 * and on any number of threads and the bytes stay the same. */
#ifndef DFS_SYNTH_H
#define DFS_SYNTH_H

#include "core/common.h"
#include "core/stream.h"

/* Dataset roles, mirroring the study's datasets. */
enum {
    SYN_CELEB, SYN_CELEB_M, SYN_F2F, SYN_FS, SYN_NT, SYN_DF, SYN_DFD, SYN_FS_I, SYN_NT_I,
    SYN_NROLES
};
/* Identity pools: the FF++-like pool is shared by f2f, fs, nt, df (and fs-i, nt-i). */
enum { SYN_POOL_FFPP, SYN_POOL_CELEB, SYN_POOL_CELEBM, SYN_POOL_DFD, SYN_NPOOLS };
enum { SYN_TRAIN, SYN_VAL, SYN_TEST, SYN_NSPLITS };
/* Forgery methods; SYN_M_REAL marks an untouched video. */
enum {
    SYN_M_REAL, SYN_M_FS, SYN_M_DF, SYN_M_F2F, SYN_M_NT, SYN_M_CELEB, SYN_M_CELEBM, SYN_M_DFD,
    SYN_NMETHODS
};

#define SYN_MIN_SIZE 32
#define SYN_MAX_SIZE 1024
#define SYN_MAX_VIDEOS 200000
#define SYN_MAX_FRAMES 1000

const char *syn_role_name(int role);     /* "celeb", "celeb-m", ... */
int syn_role_parse(const char *name);    /* role, or -1 */
const char *syn_split_name(int split);
int syn_split_parse(const char *name);   /* split, or -1 */
const char *syn_pool_name(int pool);     /* "ffpp", "celeb", "celeb-m", "dfd" */
const char *syn_method_name(int method); /* "real", "fs", ... */
int syn_role_pool(int role);
int syn_role_method(int role);           /* the role's forgery method */
int syn_pool_captures(int pool);         /* recordings per identity (videos j..j+n-1 share one) */

typedef struct syn_spec {
    int role, split;
    int videos;       /* total videos; even: half real, half fake */
    int frames;       /* frames per video */
    int size;         /* output side in pixels (square) */
    int wide;         /* 0: face crops (face fills the frame); 1: camera framing for --video */
    uint64_t seed;
} syn_spec;

typedef struct syn_video {
    char name[48];    /* video id used in keys: "012", "012_013", "id4_0002", "id4_id5_0002"... */
    int label;        /* 0 real, 1 fake */
    int method;       /* SYN_M_REAL for real videos */
    int pool;
    int target;       /* identity number within the pool (the person in the frame's context) */
    int donor;        /* identity that provides the face (swaps) or expression (reenactment); -1 */
    int capture;      /* which recording of the target */
    int frame_offset; /* fs-i/nt-i: frames from other times of the same recording */
} syn_video;

/* Check a spec; 0, or -1 with a one-line error naming the bad value. */
int syn_spec_check(const syn_spec *s);
/* Fill out[0 .. s->videos-1]: pair j is out[2j] (real) and out[2j+1] (its forgery). */
int syn_plan(const syn_spec *s, syn_video *out);
/* The identity number of the i-th identity of a pool's split (stable for any --videos). */
int syn_pool_identity(int split, int i);
/* Render frame f of video v as size x size x 3 RGB bytes. Thread-safe, no allocation shared. */
void syn_frame(const syn_spec *s, const syn_video *v, int f, uint8_t *rgb);
/* Render n frames (videos[video[i]], frame[i]) into out[i] in parallel (OpenMP). */
void syn_frames(const syn_spec *s, const syn_video *videos, const int *video, const int *frame, int n,
                uint8_t *const *out);
/* The frame's key: "<role>/<video>/f<NN>" (NN zero-padded to 2 digits, 3 when frames > 100). */
void syn_key(const syn_spec *s, const syn_video *v, int f, char *buf, size_t n);
/* Set the record's metadata: key, dataset, split, video, frame, method, pool, identity, donor,
 * capture, seed. 0 or -1. */
int syn_meta(const syn_spec *s, const syn_video *v, int f, dfs_record *r);

/* ---- H.264 MP4 output (libavcodec/libavformat) ---- */
typedef struct syn_mp4 syn_mp4;
/* 1 when an H.264 encoder is available (libx264 preferred). */
int syn_mp4_available(void);
/* Open path (written to a temporary file, renamed on close) for w x h RGB frames. */
syn_mp4 *syn_mp4_open(const char *path, int w, int h, int fps, int crf);
/* One w x h RGB24 frame. swscale's SIMD reads up to 64 bytes past the end of the frame
 * (FFmpeg's AV_INPUT_BUFFER_PADDING_SIZE), so rgb must be allocated with SYN_MP4_PADDING spare
 * bytes after its w*h*3 (valgrind found the overread). */
#define SYN_MP4_PADDING 64
int syn_mp4_frame(syn_mp4 *m, const uint8_t *rgb);
int syn_mp4_close(syn_mp4 *m);   /* flush, finish and commit; frees m */
void syn_mp4_abort(syn_mp4 *m);  /* remove the temporary file; frees m */

#endif
