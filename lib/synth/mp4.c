/* mp4.c: H.264 in MP4 through libavcodec/libavformat, written through a dfs_out so the file
 * appears whole or not at all. x264 at CRF 23 is the quality FF++ calls c23. The encoder runs on
 * one thread and the muxer in bit-exact mode, so the same frames give the same bytes. */
#include <errno.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
#include <stdio.h>
#include <string.h>

#include "synth/synth.h"

struct syn_mp4 {
    dfs_out out;
    AVFormatContext *fmt;
    AVCodecContext *enc;
    AVStream *st;
    AVFrame *frame;
    AVPacket *pkt;
    struct SwsContext *sws;
    AVIOContext *io;
    int64_t pts;
    int w, h, header;
};

static const AVCodec *h264_encoder(void)
{
    const AVCodec *c = avcodec_find_encoder_by_name("libx264");
    if (!c) c = avcodec_find_encoder_by_name("libopenh264");
    return c;
}

int syn_mp4_available(void) { return h264_encoder() != NULL; }

/* Errors go back to FFmpeg as the errno that caused them, so a full disk is reported as one
 * ("No space left on device"), not as a generic I/O error. */
static int write_cb(void *opaque, uint8_t *buf, int n)
{
    syn_mp4 *m = opaque;
    errno = 0;
    if (n > 0 && fwrite(buf, 1, (size_t)n, m->out.f) != (size_t)n) return AVERROR(errno ? errno : EIO);
    return n;
}

static int64_t seek_cb(void *opaque, int64_t off, int whence)
{
    syn_mp4 *m = opaque;
    if (whence == AVSEEK_SIZE) return -1;
    errno = 0;
    if (fflush(m->out.f) != 0 || fseeko(m->out.f, off, whence & ~AVSEEK_FORCE) != 0) return AVERROR(errno ? errno : EIO);
    return ftello(m->out.f);
}

static void release(syn_mp4 *m)
{
    if (m->io) {
        av_freep(&m->io->buffer);
        avio_context_free(&m->io);
    }
    if (m->fmt) m->fmt->pb = NULL;
    avformat_free_context(m->fmt);
    avcodec_free_context(&m->enc);
    av_frame_free(&m->frame);
    av_packet_free(&m->pkt);
    sws_freeContext(m->sws);
    free(m);
}

void syn_mp4_abort(syn_mp4 *m)
{
    if (!m) return;
    dfs_out_abort(&m->out);
    release(m);
}

static int averr(const char *path, const char *what, int e)
{
    char buf[128];
    av_strerror(e, buf, sizeof buf);
    return dfs_fail("%s: %s: %s", path, what, buf);
}

syn_mp4 *syn_mp4_open(const char *path, int w, int h, int fps, int crf)
{
    const AVCodec *codec = h264_encoder();
    if (!codec) {
        dfs_fail("%s: this FFmpeg has no H.264 encoder (libx264 or libopenh264); install an FFmpeg "
                 "built with libx264 (Debian's libavcodec is)", path);
        return NULL;
    }
    if (w % 2 || h % 2) {
        dfs_fail("%s: H.264 4:2:0 needs an even frame size, not %dx%d", path, w, h);
        return NULL;
    }
    av_log_set_level(AV_LOG_ERROR);
    syn_mp4 *m = dfs_calloc(1, sizeof *m);
    m->w = w;
    m->h = h;
    if (dfs_out_open(&m->out, path, 1, 1) != 0) {
        free(m);
        return NULL;
    }
    int e;
    if ((e = avformat_alloc_output_context2(&m->fmt, NULL, "mp4", NULL)) < 0) {
        averr(path, "mp4 muxer", e);
        goto fail;
    }
    m->fmt->flags |= AVFMT_FLAG_BITEXACT;
    m->enc = avcodec_alloc_context3(codec);
    m->enc->width = w;
    m->enc->height = h;
    m->enc->pix_fmt = AV_PIX_FMT_YUV420P;
    m->enc->time_base = (AVRational){1, fps};
    m->enc->framerate = (AVRational){fps, 1};
    m->enc->gop_size = 2 * fps;
    m->enc->thread_count = 1;
    m->enc->flags |= AV_CODEC_FLAG_BITEXACT;
    if (m->fmt->oformat->flags & AVFMT_GLOBALHEADER) m->enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    if (strcmp(codec->name, "libx264") == 0) {
        char v[16];
        snprintf(v, sizeof v, "%d", crf);
        av_opt_set(m->enc->priv_data, "crf", v, 0);
        av_opt_set(m->enc->priv_data, "preset", "fast", 0);
    } else {
        m->enc->bit_rate = (int64_t)w * h * fps / 8;
    }
    if ((e = avcodec_open2(m->enc, codec, NULL)) < 0) {
        averr(path, codec->name, e);
        goto fail;
    }
    m->st = avformat_new_stream(m->fmt, NULL);
    m->st->time_base = m->enc->time_base;
    if ((e = avcodec_parameters_from_context(m->st->codecpar, m->enc)) < 0) {
        averr(path, "stream parameters", e);
        goto fail;
    }
    uint8_t *iobuf = av_malloc(65536);
    m->io = avio_alloc_context(iobuf, 65536, 1, m, NULL, write_cb, seek_cb);
    m->fmt->pb = m->io;
    if ((e = avformat_write_header(m->fmt, NULL)) < 0) {
        averr(path, "mp4 header", e);
        goto fail;
    }
    m->header = 1;
    m->frame = av_frame_alloc();
    m->frame->format = AV_PIX_FMT_YUV420P;
    m->frame->width = w;
    m->frame->height = h;
    if ((e = av_frame_get_buffer(m->frame, 0)) < 0) {
        averr(path, "frame buffer", e);
        goto fail;
    }
    m->pkt = av_packet_alloc();
    m->sws = sws_getContext(w, h, AV_PIX_FMT_RGB24, w, h, AV_PIX_FMT_YUV420P, SWS_BICUBIC | SWS_BITEXACT |
                                                                                  SWS_ACCURATE_RND,
                            NULL, NULL, NULL);
    if (!m->sws) {
        dfs_fail("%s: cannot convert RGB to YUV 4:2:0", path);
        goto fail;
    }
    return m;
fail:
    syn_mp4_abort(m);
    return NULL;
}

static int drain(syn_mp4 *m)
{
    for (;;) {
        int e = avcodec_receive_packet(m->enc, m->pkt);
        if (e == AVERROR(EAGAIN) || e == AVERROR_EOF) return 0;
        if (e < 0) return averr(dfs_out_name(&m->out), "encode", e);
        /* every frame lasts one tick; without a duration the muxer's edit list ends at the last
         * frame's start and players discard that frame */
        if (m->pkt->duration <= 0) m->pkt->duration = 1;
        av_packet_rescale_ts(m->pkt, m->enc->time_base, m->st->time_base);
        m->pkt->stream_index = m->st->index;
        e = av_interleaved_write_frame(m->fmt, m->pkt);
        if (e < 0) return averr(dfs_out_name(&m->out), "write", e);
    }
}

int syn_mp4_frame(syn_mp4 *m, const uint8_t *rgb)
{
    int e = av_frame_make_writable(m->frame);
    if (e < 0) return averr(dfs_out_name(&m->out), "frame", e);
    const uint8_t *src[1] = {rgb};
    int stride[1] = {3 * m->w};
    sws_scale(m->sws, src, stride, 0, m->h, m->frame->data, m->frame->linesize);
    m->frame->pts = m->pts++;
    if ((e = avcodec_send_frame(m->enc, m->frame)) < 0) return averr(dfs_out_name(&m->out), "encode", e);
    return drain(m);
}

int syn_mp4_close(syn_mp4 *m)
{
    int e = avcodec_send_frame(m->enc, NULL);
    if (e < 0) {
        averr(dfs_out_name(&m->out), "encode", e);
        syn_mp4_abort(m);
        return -1;
    }
    if (drain(m) != 0) {
        syn_mp4_abort(m);
        return -1;
    }
    if ((e = av_write_trailer(m->fmt)) < 0) {
        averr(dfs_out_name(&m->out), "mp4 trailer", e);
        syn_mp4_abort(m);
        return -1;
    }
    avio_flush(m->io);
    if (m->io->error < 0) {
        averr(dfs_out_name(&m->out), "write", m->io->error);
        syn_mp4_abort(m);
        return -1;
    }
    int rc = dfs_out_commit(&m->out);
    release(m);
    return rc;
}
