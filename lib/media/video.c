/* video.c: frame decoding with libavformat/libavcodec, RGB conversion with libswscale.
 * See video.h for how frame numbers are defined and why seeking gives the same frames. */
#include "media/video.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>
#include <errno.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

void dfs_video_log(int verbose)
{
    av_log_set_level(verbose ? AV_LOG_WARNING : AV_LOG_QUIET);
}

void dfs_frame_list_free(dfs_frame_list *l)
{
    for (size_t i = 0; i < l->n; i++) dfs_image_free(&l->v[i].im);
    free(l->v);
    memset(l, 0, sizeof *l);
}

int64_t *dfs_video_pick(int64_t nframes, long count, long every, size_t *n)
{
    *n = 0;
    if (nframes <= 0) return dfs_malloc(1);
    int64_t *pick;
    if (every > 0) {
        int64_t m = (nframes - 1) / every + 1;
        if (count > 0 && m > count) m = count;
        pick = dfs_malloc((size_t)m * sizeof *pick);
        for (int64_t i = 0; i < m; i++) pick[i] = i * every;
        *n = (size_t)m;
        return pick;
    }
    if (count <= 0 || count >= nframes) {
        pick = dfs_malloc((size_t)nframes * sizeof *pick);
        for (int64_t i = 0; i < nframes; i++) pick[i] = i;
        *n = (size_t)nframes;
        return pick;
    }
    /* floor(linspace(0, N-1, count)) in exact integer arithmetic; distinct since count < N */
    pick = dfs_malloc((size_t)count * sizeof *pick);
    for (long i = 0; i < count; i++)
        pick[i] = count == 1 ? 0 : (int64_t)((__int128)i * (nframes - 1) / (count - 1));
    *n = (size_t)count;
    return pick;
}

/* ---- one open file ---- */

typedef struct vctx {
    const char *path;
    AVFormatContext *fmt;
    AVCodecContext *dec;
    AVPacket *pkt;
    AVFrame *frame;
    struct SwsContext *sws;
    int si;                 /* video stream index */
    int threads;
    int draining;           /* end of file reached, decoder flushed with NULL */
    /* Two ways to number frames. With timestamps on every packet (MP4, MKV, ...): frame k is
     * the one whose pts is ts[k], ts sorted. Without (AVI and other dts-only containers, where
     * packet k in decode order is frame k): ts holds the packets' dts and decoded frames are
     * counted from a known packet. */
    int counting;
    int64_t *ts;
    int64_t nframes;
    int64_t *keys;          /* frame numbers of keyframes, ascending */
    int64_t nkeys;
    int64_t counter;        /* counting: number of the next frame the decoder puts out */
    int need_counter;       /* counting: set counter from the next packet read (after a seek) */
    int64_t last;           /* number of the last frame decoded, -1 when none since a seek */
    int64_t number;         /* number of the frame in v->frame, -1 when not one of ours */
} vctx;

static int av_fail(const char *path, const char *what, int err)
{
    char buf[AV_ERROR_MAX_STRING_SIZE];
    av_strerror(err, buf, sizeof buf);
    return dfs_fail("%s: %s: %s", path, what, buf);
}

static void vclose(vctx *v)
{
    avcodec_free_context(&v->dec);
    avformat_close_input(&v->fmt);
    av_packet_free(&v->pkt);
    av_frame_free(&v->frame);
    sws_freeContext(v->sws);
    v->sws = NULL;
    free(v->ts);
    free(v->keys);
    v->ts = v->keys = NULL;
}

/* Open the container and the decoder; decoding starts at frame 0. */
static int vopen_streams(vctx *v)
{
    int err = avformat_open_input(&v->fmt, v->path, NULL, NULL);
    if (err < 0) return av_fail(v->path, "cannot open", err);
    err = avformat_find_stream_info(v->fmt, NULL);
    if (err < 0) return av_fail(v->path, "cannot read stream info", err);
    const AVCodec *codec = NULL;
    v->si = av_find_best_stream(v->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (v->si < 0 || !codec) return dfs_fail("%s: no decodable video stream", v->path);
    v->dec = avcodec_alloc_context3(codec);
    if (!v->dec) return dfs_fail("%s: out of memory", v->path);
    err = avcodec_parameters_to_context(v->dec, v->fmt->streams[v->si]->codecpar);
    if (err < 0) return av_fail(v->path, "bad codec parameters", err);
    v->dec->thread_count = v->threads;
    err = avcodec_open2(v->dec, codec, NULL);
    if (err < 0) return av_fail(v->path, "cannot open decoder", err);
    v->draining = 0;
    v->counter = 0;
    v->need_counter = 0;
    v->last = -1;
    return 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Index of t in the sorted array a[0..n), or -1. */
static int64_t find_i64(const int64_t *a, int64_t n, int64_t t)
{
    int64_t lo = 0, hi = n;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (a[mid] < t) lo = mid + 1;
        else hi = mid;
    }
    return lo < n && a[lo] == t ? lo : -1;
}

/* The demux pass: every video packet's pts and dts and keyframe flag, then back to the start. */
static int vindex(vctx *v)
{
    size_t cap = 256;
    int64_t *pts = dfs_malloc(cap * sizeof *pts), *dts = dfs_malloc(cap * sizeof *dts);
    uint8_t *key = dfs_malloc(cap);
    int64_t n = 0;
    int err, have_pts = 1, have_dts = 1;
    while ((err = av_read_frame(v->fmt, v->pkt)) >= 0) {
        /* packets an edit list cuts are not frames of the video (the decoder drops them too) */
        if (v->pkt->stream_index == v->si && v->pkt->size > 0 && !(v->pkt->flags & AV_PKT_FLAG_DISCARD)) {
            if ((size_t)n == cap) {
                cap *= 2;
                pts = dfs_realloc(pts, cap * sizeof *pts);
                dts = dfs_realloc(dts, cap * sizeof *dts);
                key = dfs_realloc(key, cap);
            }
            pts[n] = v->pkt->pts;
            dts[n] = v->pkt->dts;
            key[n] = (v->pkt->flags & AV_PKT_FLAG_KEY) != 0;
            have_pts &= pts[n] != AV_NOPTS_VALUE;
            have_dts &= dts[n] != AV_NOPTS_VALUE && (n == 0 || dts[n] > dts[n - 1]);
            n++;
        }
        av_packet_unref(v->pkt);
    }
    int rc = 0;
    if (n == 0) rc = err != AVERROR_EOF ? av_fail(v->path, "cannot read packets", err)
                                        : dfs_fail("%s: no video frames", v->path);
    else if (!have_pts && !have_dts) rc = dfs_fail("%s: video packets without timestamps", v->path);
    if (rc == 0) {
        v->counting = !have_pts;
        v->nframes = n;
        v->ts = dfs_malloc((size_t)n * sizeof *v->ts);
        memcpy(v->ts, v->counting ? dts : pts, (size_t)n * sizeof *v->ts);
        if (!v->counting) qsort(v->ts, (size_t)n, sizeof *v->ts, cmp_i64);
        for (int64_t i = 1; i < n && rc == 0; i++)
            if (v->ts[i] == v->ts[i - 1]) rc = dfs_fail("%s: two video frames share a timestamp", v->path);
        v->keys = dfs_malloc((size_t)n * sizeof *v->keys);
        v->nkeys = 0;
        for (int64_t i = 0; i < n && rc == 0; i++)
            if (key[i]) v->keys[v->nkeys++] = v->counting ? i : find_i64(v->ts, n, pts[i]);
        qsort(v->keys, (size_t)v->nkeys, sizeof *v->keys, cmp_i64);
    }
    free(pts);
    free(dts);
    free(key);
    if (rc != 0) return rc;
    /* back to the start: reopening is the one rewind every demuxer supports */
    avcodec_free_context(&v->dec);
    avformat_close_input(&v->fmt);
    return vopen_streams(v);
}

static int vopen(vctx *v, const char *path, int threads)
{
    memset(v, 0, sizeof *v);
    v->path = path;
    v->threads = threads;
    v->pkt = av_packet_alloc();
    v->frame = av_frame_alloc();
    if (!v->pkt || !v->frame) return dfs_fail("%s: out of memory", path);
    /* the video is opened twice (indexed, then decoded) and seeked: a FIFO would block the second
     * open for ever, so anything but a file is refused before FFmpeg sees it */
    struct stat st;
    if (stat(path, &st) != 0) return dfs_fail("%s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return dfs_fail("%s: not a regular file: a video is read twice and seeked, so it cannot come from a pipe "
                        "(save it to a file first)", path);
    if (vopen_streams(v) != 0) return -1;
    return vindex(v);
}

/* Next decoded frame into v->frame with its number in v->number: 1, 0 at the end, -1 error. */
static int vnext(vctx *v)
{
    for (;;) {
        int err = avcodec_receive_frame(v->dec, v->frame);
        if (err >= 0) {
            if (v->counting) {
                v->number = v->counter++;
            } else {
                int64_t t = v->frame->best_effort_timestamp;
                if (t == AV_NOPTS_VALUE) t = v->frame->pts;
                v->number = find_i64(v->ts, v->nframes, t);
            }
            if (v->number >= 0) v->last = v->number;
            return 1;
        }
        if (err == AVERROR_EOF) return 0;
        if (err != AVERROR(EAGAIN)) return av_fail(v->path, "decoding failed", err);
        if (v->draining) return 0;
        err = av_read_frame(v->fmt, v->pkt);
        if (err < 0) {
            /* end of data (or a truncated file): flush the frames the decoder still holds */
            v->draining = 1;
            avcodec_send_packet(v->dec, NULL);
            continue;
        }
        if (v->pkt->stream_index == v->si && v->pkt->size > 0) {
            if (v->need_counter) {
                /* after a seek the decoder restarts at this packet: it is frame number i */
                int64_t i = find_i64(v->ts, v->nframes, v->pkt->dts);
                if (i < 0) {
                    av_packet_unref(v->pkt);
                    return dfs_fail("%s: seek landed on an unknown packet", v->path);
                }
                v->counter = i;
                v->need_counter = 0;
            }
            err = avcodec_send_packet(v->dec, v->pkt);
            /* a damaged packet is skipped, as players do; a frame that never comes out is
             * reported by the caller */
            if (err < 0 && err != AVERROR_INVALIDDATA && err != AVERROR(EAGAIN)) {
                av_packet_unref(v->pkt);
                return av_fail(v->path, "decoding failed", err);
            }
        }
        av_packet_unref(v->pkt);
    }
}

/* Convert v->frame to RGB into im. */
static int vconvert(vctx *v, dfs_image *im)
{
    AVFrame *f = v->frame;
    if (dfs_image_alloc(im, f->width, f->height, 3) != 0) return dfs_fail_prefix(v->path);
    enum AVPixelFormat fmt = f->format;
    int full = f->color_range == AVCOL_RANGE_JPEG;
    /* the deprecated yuvj formats are full-range yuv; name them as such for swscale */
    switch (fmt) {
    case AV_PIX_FMT_YUVJ420P: fmt = AV_PIX_FMT_YUV420P; full = 1; break;
    case AV_PIX_FMT_YUVJ422P: fmt = AV_PIX_FMT_YUV422P; full = 1; break;
    case AV_PIX_FMT_YUVJ444P: fmt = AV_PIX_FMT_YUV444P; full = 1; break;
    case AV_PIX_FMT_YUVJ440P: fmt = AV_PIX_FMT_YUV440P; full = 1; break;
    default: break;
    }
    v->sws = sws_getCachedContext(v->sws, f->width, f->height, fmt, f->width, f->height,
                                  AV_PIX_FMT_RGB24, SWS_BILINEAR | SWS_ACCURATE_RND | SWS_BITEXACT,
                                  NULL, NULL, NULL);
    if (!v->sws) {
        dfs_image_free(im);
        return dfs_fail("%s: cannot convert pixel format %s to RGB", v->path,
                        av_get_pix_fmt_name(f->format));
    }
    int cs = f->colorspace == AVCOL_SPC_BT709 ? SWS_CS_ITU709 : SWS_CS_DEFAULT;
    const int *coef = sws_getCoefficients(cs);
    sws_setColorspaceDetails(v->sws, coef, full, coef, 1, 0, 1 << 16, 1 << 16);
    uint8_t *dst[4] = {im->px, NULL, NULL, NULL};
    int dstride[4] = {im->w * 3, 0, 0, 0};
    sws_scale(v->sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, dst, dstride);
    return 0;
}

static int push_frame(vctx *v, dfs_frame_list *out)
{
    if (out->n == out->cap) {
        out->cap = out->cap ? out->cap * 2 : 16;
        out->v = dfs_realloc(out->v, out->cap * sizeof *out->v);
    }
    dfs_frame *fr = &out->v[out->n];
    if (vconvert(v, &fr->im) != 0) return -1;
    fr->number = v->number;
    fr->time = (double)(v->ts[v->number] - v->ts[0]) * av_q2d(v->fmt->streams[v->si]->time_base);
    out->n++;
    return 0;
}

/* Number of the last keyframe at or before frame k (0 when none is). */
static int64_t key_before(const vctx *v, int64_t k)
{
    int64_t best = 0;
    for (int64_t i = 0; i < v->nkeys && v->keys[i] <= k; i++) best = v->keys[i];
    return best;
}

/* Reposition so that decoding forward passes frame k's keyframe; from_start reopens the file
 * (decoding from frame 0 always works; it is the fallback when a seek is refused or lands
 * after the target). */
static int vseek(vctx *v, int64_t k, int from_start)
{
    if (!from_start) {
        int64_t target = v->ts[v->counting ? key_before(v, k) : k];
        if (av_seek_frame(v->fmt, v->si, target, AVSEEK_FLAG_BACKWARD) >= 0) {
            avcodec_flush_buffers(v->dec);
            v->draining = 0;
            v->last = -1;
            v->need_counter = v->counting;
            return 0;
        }
    }
    avcodec_free_context(&v->dec);
    avformat_close_input(&v->fmt);
    return vopen_streams(v);
}

/* Decode forward to frame k: 1 found, 0 passed it or ended without it, -1 error. */
static int decode_to(vctx *v, int64_t k)
{
    for (;;) {
        int r = vnext(v);
        if (r <= 0) return r;
        if (v->number == k) return 1;
        if (v->number > k) return 0;
    }
}

static int extract_sequential(vctx *v, const int64_t *pick, size_t n, dfs_frame_list *out);

static int extract_seek(vctx *v, const int64_t *pick, size_t n, dfs_frame_list *out)
{
    /* Without timestamps, a frame's number after a seek is known only when decode order is
     * display order: with B-frames (a decoder delay), frames decoded after a keyframe can be
     * shown before it, so the keyframe's position in the file is not its frame number. Such
     * files (AVI with B-frames) are decoded forward from the start instead. */
    if (v->counting && (v->dec->has_b_frames > 0 || v->fmt->streams[v->si]->codecpar->video_delay > 0))
        return extract_sequential(v, pick, n, out);
    int at_start = 1;   /* freshly opened: decoding forward starts at frame 0 */
    for (size_t i = 0; i < n; i++) {
        int64_t k = pick[i], key = key_before(v, k);
        /* keep decoding forward when the target's GOP is the one being decoded (or we sit at
         * the start and the target is in the first GOP); seek otherwise */
        int forward = (at_start && key == key_before(v, 0)) || (v->last >= key && v->last < k);
        if (!forward && vseek(v, k, 0) != 0) return -1;
        at_start = 0;
        int r = decode_to(v, k);
        if (r == 0) {
            if (vseek(v, k, 1) != 0) return -1;
            r = decode_to(v, k);
        }
        if (r < 0) return -1;
        if (r == 0) return dfs_fail("%s: frame %lld could not be decoded", v->path, (long long)k);
        if (push_frame(v, out) != 0) return -1;
    }
    return 0;
}

static int extract_sequential(vctx *v, const int64_t *pick, size_t n, dfs_frame_list *out)
{
    /* frames are counted as they come out of the decoder: no timestamps, no index used */
    size_t next = 0;
    int64_t count = 0;
    while (next < n) {
        int r = vnext(v);
        if (r < 0) return -1;
        if (r == 0) break;
        if (count == pick[next]) {
            v->number = count;
            if (push_frame(v, out) != 0) return -1;
            next++;
        }
        count++;
    }
    if (next < n) return dfs_fail("%s: frame %lld could not be decoded", v->path, (long long)pick[next]);
    return 0;
}

int dfs_video_extract(const char *path, const dfs_extract_opts *o, dfs_frame_list *out)
{
    vctx v;
    size_t before = out->n;
    int rc = vopen(&v, path, o->threads);
    if (rc == 0) {
        size_t n;
        int64_t *pick = dfs_video_pick(v.nframes, o->count, o->every, &n);
        rc = o->sequential ? extract_sequential(&v, pick, n, out) : extract_seek(&v, pick, n, out);
        free(pick);
    }
    vclose(&v);
    if (rc != 0) {
        /* all or nothing per video: a half-extracted video is not written */
        for (size_t i = before; i < out->n; i++) dfs_image_free(&out->v[i].im);
        out->n = before;
    }
    return rc;
}

int64_t dfs_video_frame_count(const char *path)
{
    vctx v;
    int rc = vopen(&v, path, 1);
    int64_t n = rc == 0 ? v.nframes : -1;
    vclose(&v);
    return n;
}
