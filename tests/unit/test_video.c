/* Unit tests of lib/media/video.c: frame picking, and seeking == sequential decoding on videos with
 * B-frames written here (H.264 in MP4: timestamps on every packet; MPEG-4 in AVI: dts only),
 * where each frame's brightness encodes its number, so the numbering is checked as well. */
#include "check.h"
#include "media/video.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <unistd.h>

#define W 64
#define H 48
#define NF 70

static int bframes = 2;   /* B-frames per group in the test videos */

static const char *tmpdir(void)
{
    static char dir[256];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/dfs-unit-XXXXXX");
        if (!mkdtemp(dir)) { perror("mkdtemp"); exit(1); }
    }
    return dir;
}

/* Frame k carries k in binary in its top band: 8 columns of 8 pixels, bright for a 1 bit. */
static int bit_luma(int k, int x) { return (k >> (x / 8)) & 1 ? 200 : 40; }

static int read_number(const dfs_image *im)
{
    int k = 0;
    for (int b = 0; b < 8; b++) {
        double g = 0;
        for (int y = 4; y < 20; y++)
            for (int x = 8 * b + 2; x < 8 * b + 6; x++) g += im->px[(y * im->w + x) * 3 + 1];
        if (g / 64 > 128) k |= 1 << b;
    }
    return k;
}

static int encode_packets(AVCodecContext *enc, AVFormatContext *fmt, AVStream *st, AVFrame *f, AVPacket *p)
{
    int err = avcodec_send_frame(enc, f);
    if (err < 0) return err;
    while ((err = avcodec_receive_packet(enc, p)) >= 0) {
        av_packet_rescale_ts(p, enc->time_base, st->time_base);
        p->stream_index = st->index;
        if ((err = av_interleaved_write_frame(fmt, p)) < 0) return err;
    }
    return err == AVERROR(EAGAIN) || err == AVERROR_EOF ? 0 : err;
}

/* Write an NF-frame test video; 0 or -1. */
static int write_video(const char *path, const char *codec_name)
{
    const AVCodec *codec = avcodec_find_encoder_by_name(codec_name);
    if (!codec) { printf("# no encoder %s\n", codec_name); return -1; }
    AVFormatContext *fmt = NULL;
    if (avformat_alloc_output_context2(&fmt, NULL, NULL, path) < 0) return -1;
    AVStream *st = avformat_new_stream(fmt, NULL);
    AVCodecContext *enc = avcodec_alloc_context3(codec);
    enc->width = W;
    enc->height = H;
    enc->pix_fmt = AV_PIX_FMT_YUV420P;
    enc->time_base = (AVRational){1, 25};
    enc->framerate = (AVRational){25, 1};
    enc->gop_size = 12;
    enc->max_b_frames = bframes;
    enc->thread_count = 1;
    if (fmt->oformat->flags & AVFMT_GLOBALHEADER) enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    AVDictionary *opts = NULL;
    if (!strcmp(codec_name, "libx264")) {
        av_dict_set(&opts, "crf", "4", 0);
        av_dict_set(&opts, "preset", "ultrafast", 0);
        char nb[8];
        snprintf(nb, sizeof nb, "%d", bframes);
        av_dict_set(&opts, "bframes", nb, 0);   /* ultrafast turns B-frames off; want them */
        av_dict_set(&opts, "x264-params", "scenecut=0:b-pyramid=0", 0);
    } else {
        enc->qmin = enc->qmax = 2;
    }
    int ok = avcodec_open2(enc, codec, &opts) >= 0;
    av_dict_free(&opts);
    ok = ok && avcodec_parameters_from_context(st->codecpar, enc) >= 0;
    st->time_base = enc->time_base;
    ok = ok && avio_open(&fmt->pb, path, AVIO_FLAG_WRITE) >= 0;
    ok = ok && avformat_write_header(fmt, NULL) >= 0;
    AVFrame *f = av_frame_alloc();
    AVPacket *p = av_packet_alloc();
    f->format = AV_PIX_FMT_YUV420P;
    f->width = W;
    f->height = H;
    ok = ok && av_frame_get_buffer(f, 0) >= 0;
    for (int k = 0; ok && k < NF; k++) {
        ok = av_frame_make_writable(f) >= 0;
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                f->data[0][y * f->linesize[0] + x] = y < H / 2 ? bit_luma(k, x) : (uint8_t)(40 + ((x + 3 * k) % W) * 2);
        for (int y = 0; y < H / 2; y++) {
            memset(f->data[1] + y * f->linesize[1], 128, W / 2);
            memset(f->data[2] + y * f->linesize[2], 128, W / 2);
        }
        f->pts = k;
        ok = ok && encode_packets(enc, fmt, st, f, p) >= 0;
    }
    ok = ok && encode_packets(enc, fmt, st, NULL, p) >= 0;
    ok = ok && av_write_trailer(fmt) >= 0;
    av_frame_free(&f);
    av_packet_free(&p);
    avcodec_free_context(&enc);
    avio_closep(&fmt->pb);
    avformat_free_context(fmt);
    return ok ? 0 : -1;
}

static void test_pick(void)
{
    size_t n;
    int64_t *p = dfs_video_pick(270, 10, 0, &n);
    /* floor(np.linspace(0, 269, 10)) */
    static const int64_t want[10] = {0, 29, 59, 89, 119, 149, 179, 209, 239, 269};
    CHECK(n == 10, "n = %zu", n);
    for (size_t i = 0; i < n && i < 10; i++) CHECK(p[i] == want[i], "pick[%zu] = %lld", i, (long long)p[i]);
    free(p);
    p = dfs_video_pick(5, 10, 0, &n);
    CHECK(n == 5 && p[4] == 4, "short video: all frames (n = %zu)", n);
    free(p);
    p = dfs_video_pick(100, 0, 30, &n);
    CHECK(n == 4 && p[3] == 90, "every 30: n = %zu", n);
    free(p);
    p = dfs_video_pick(100, 2, 30, &n);
    CHECK(n == 2 && p[1] == 30, "every 30 capped at 2: n = %zu", n);
    free(p);
    p = dfs_video_pick(1, 10, 0, &n);
    CHECK(n == 1 && p[0] == 0, "one frame");
    free(p);
}

/* Extract with both paths and compare; check each frame's number against its brightness. */
static void check_video(const char *codec, const char *ext)
{
    char path[300];
    snprintf(path, sizeof path, "%s/t.%s", tmpdir(), ext);
    if (write_video(path, codec) != 0) { CHECK(0, "could not write %s", path); return; }
    /* an MP4 edit list may cut the last B-frame delayed frame: NF - 1 or NF frames */
    int64_t nf = dfs_video_frame_count(path);
    CHECK(nf == NF || nf == NF - 1, "frame count %lld", (long long)nf);
    long counts[] = {10, 3, 40, 0};
    for (int c = 0; c < 4; c++) {
        dfs_extract_opts so = {.count = counts[c], .every = 0, .sequential = 0, .threads = 1};
        dfs_extract_opts qo = so;
        qo.sequential = 1;
        dfs_frame_list a = {0}, b = {0};
        int ra = dfs_video_extract(path, &so, &a), rb = dfs_video_extract(path, &qo, &b);
        CHECK(ra == 0 && rb == 0, "extract: %s", dfs_error());
        CHECK(a.n == b.n, "%zu vs %zu frames", a.n, b.n);
        if (counts[c] == 0) CHECK((int64_t)b.n == nf, "sequential decode gave %zu frames, index %lld", b.n, (long long)nf);
        int before = check_failed_now;
        for (size_t i = 0; i < a.n && i < b.n && check_failed_now - before < 3; i++) {
            CHECK(a.v[i].number == b.v[i].number, "numbers differ");
            CHECK(a.v[i].time == b.v[i].time, "times differ");
            CHECK(a.v[i].im.w == W && a.v[i].im.h == H, "size");
            CHECK(!memcmp(a.v[i].im.px, b.v[i].im.px, (size_t)W * H * 3), "frame %lld: seek != sequential",
                  (long long)a.v[i].number);
            CHECK(read_number(&a.v[i].im) == a.v[i].number, "frame %lld shows number %d",
                  (long long)a.v[i].number, read_number(&a.v[i].im));
            CHECK_CLOSE(a.v[i].time, a.v[i].number / 25.0, 1e-9, 0);
        }
        dfs_frame_list_free(&a);
        dfs_frame_list_free(&b);
    }
    if (!getenv("KEEP")) unlink(path);
}

static void test_h264_mp4(void) { check_video("libx264", "mp4"); }
static void test_mpeg4_avi(void) { check_video("mpeg4", "avi"); }
/* AVI without B-frames: numbered by decode order and seekable */
static void test_mpeg4_avi_no_b(void)
{
    bframes = 0;
    check_video("mpeg4", "avi");
    bframes = 2;
}

static void test_errors(void)
{
    char path[300];
    snprintf(path, sizeof path, "%s/junk.mp4", tmpdir());
    FILE *f = fopen(path, "wb");
    fputs("this is not a video at all", f);
    fclose(f);
    dfs_extract_opts o = {.count = 10};
    dfs_frame_list l = {0};
    CHECK(dfs_video_extract(path, &o, &l) == -1, "junk accepted");
    CHECK(strstr(dfs_error(), path) != NULL, "error names the file: %s", dfs_error());
    CHECK(l.n == 0, "frames from junk");
    CHECK(dfs_video_extract("/nonexistent/v.mp4", &o, &l) == -1, "missing file accepted");
    unlink(path);
}

int main(void)
{
    dfs_video_log(0);
    RUN(test_pick);
    RUN(test_h264_mp4);
    RUN(test_mpeg4_avi);
    RUN(test_mpeg4_avi_no_b);
    RUN(test_errors);
    rmdir(tmpdir());
    return CHECK_DONE();
}
