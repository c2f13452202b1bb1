/* video.h: decoding chosen frames of a video (or a still image) to 8-bit RGB with FFmpeg.
 *
 * Frame numbers are positions in presentation order, counted from 0. They are defined by a
 * demux-only pass over the file (reading packets is cheap; decoding them is what costs): the
 * presentation timestamps of the video stream's packets, sorted, give frame k its timestamp.
 * A frame is then fetched by seeking to the keyframe at or before that timestamp and decoding
 * forward until the frame carrying it comes out, so only the GOPs holding targets are decoded.
 * Containers without presentation timestamps (AVI) number frames by decode order; there a seek
 * is used only when the codec has no B-frame delay, else the file is decoded from the start
 * (a keyframe's place in decode order is then not its frame number).
 * The sequential path (decode everything, count frames) exists to prove both give the same
 * pixels; frame-extract --sequential exposes it and the tests compare the two byte for byte. */
#ifndef DFS_VIDEO_H
#define DFS_VIDEO_H

#include "core/common.h"
#include "media/image.h"

typedef struct dfs_frame {
    int64_t number;   /* 0-based position in presentation order */
    double time;      /* seconds after the first frame */
    dfs_image im;     /* RGB, the video's own size */
} dfs_frame;

typedef struct dfs_frame_list {
    dfs_frame *v;
    size_t n, cap;
} dfs_frame_list;

typedef struct dfs_extract_opts {
    long count;       /* frames evenly spaced over the video (np.linspace(0, N-1, count) floored) */
    long every;       /* > 0: frames 0, every, 2*every, ... (at most count of them when count > 0) */
    int sequential;   /* 1: decode every frame instead of seeking (slow; for verification) */
    int threads;      /* decoder threads; 0 lets FFmpeg choose */
} dfs_extract_opts;

/* Decode the chosen frames of one file into out (appended). 0, or -1 with "path: reason". */
int dfs_video_extract(const char *path, const dfs_extract_opts *o, dfs_frame_list *out);

/* Number of frames of a file (the demux pass only). -1 with an error. */
int64_t dfs_video_frame_count(const char *path);

/* The frame numbers chosen for a video of nframes frames, ascending and distinct (malloc'd;
 * *n of them). count <= 0 with every <= 0 picks every frame. */
int64_t *dfs_video_pick(int64_t nframes, long count, long every, size_t *n);

void dfs_frame_list_free(dfs_frame_list *l);

/* FFmpeg's own log lines on stderr: off (0) unless verbose; errors reach the user via dfs_error. */
void dfs_video_log(int verbose);

#endif
