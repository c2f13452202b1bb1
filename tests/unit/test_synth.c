/* Unit tests of the synthetic benchmark (lib/synth): plans, splits and pools, determinism across
 * thread counts, shared real videos, forgeries that stay inside the face and differ in kind
 * (sharpened features, or the real frames' detail), MP4 output. */
#include "check.h"
#include "media/image.h"
#include "synth/synth.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libswscale/swscale.h>
#include <math.h>
#include <omp.h>
#include <unistd.h>

static const char *tmpdir(void)
{
    static char dir[64];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/dfs-synth-XXXXXX");
        if (!mkdtemp(dir)) { perror("mkdtemp"); exit(1); }
    }
    return dir;
}

static syn_spec spec(int role, int split, int videos, int frames, int size)
{
    syn_spec s = {role, split, videos, frames, size, 0, 42};
    return s;
}

static void test_names(void)
{
    for (int r = 0; r < SYN_NROLES; r++) CHECK(syn_role_parse(syn_role_name(r)) == r, "role %d", r);
    CHECK(syn_role_parse("ff") == -1, "unknown role");
    CHECK(syn_split_parse("test") == SYN_TEST && syn_split_parse("dev") == -1, "splits");
    CHECK(syn_role_pool(SYN_FS_I) == SYN_POOL_FFPP && syn_role_method(SYN_NT_I) == SYN_M_NT, "fs-i/nt-i");
}

static void test_spec_check(void)
{
    syn_spec s = spec(SYN_FS, SYN_TRAIN, 4, 2, 64);
    CHECK(syn_spec_check(&s) == 0, "%s", dfs_error());
    s.videos = 0;
    CHECK(syn_spec_check(&s) != 0 && strstr(dfs_error(), "--videos"), "zero videos");
    s.videos = 3;
    CHECK(syn_spec_check(&s) != 0, "odd videos");
    s = spec(SYN_FS, SYN_TRAIN, 4, 2, SYN_MIN_SIZE - 1);
    CHECK(syn_spec_check(&s) != 0 && strstr(dfs_error(), "--size"), "size too small");
    s = spec(SYN_FS, SYN_TRAIN, 4, 0, 64);
    CHECK(syn_spec_check(&s) != 0, "zero frames");
}

static void test_pairs_and_keys(void)
{
    syn_spec s = spec(SYN_CELEB, SYN_VAL, 12, 3, 64);
    syn_video v[12];
    CHECK(syn_plan(&s, v) == 0, "%s", dfs_error());
    for (int j = 0; j < 6; j++) {
        syn_video *r = &v[2 * j], *f = &v[2 * j + 1];
        CHECK(r->label == 0 && r->method == SYN_M_REAL && r->donor == -1, "real %d", j);
        CHECK(f->label == 1 && f->method == SYN_M_CELEB && f->donor >= 0 && f->donor != f->target, "fake %d", j);
        CHECK(f->target == r->target && f->capture == r->capture, "pair %d shares the recording", j);
        CHECK(strcmp(r->name, f->name) != 0 && !strchr(r->name, '/'), "names %s %s", r->name, f->name);
    }
    /* four recordings per celebrity: pairs 0..3 are one person, pair 4 the next */
    CHECK(v[0].target == v[6].target && v[0].target != v[8].target, "recordings per identity");
    char key[128];
    syn_key(&s, &v[3], 2, key, sizeof key);
    CHECK(strcmp(key, "celeb/id1_id4_0001/f02") == 0, "key %s", key);
    s.frames = 101;
    syn_key(&s, &v[3], 7, key, sizeof key);
    CHECK(strcmp(key, "celeb/id1_id4_0001/f007") == 0, "key %s", key);
    dfs_record r;
    dfs_record_init(&r);
    CHECK(syn_meta(&s, &v[1], 0, &r) == 0, "%s", dfs_error());
    char *d = dfs_meta_dup(&r, "donor"), *m = dfs_meta_dup(&r, "method"), *ds = dfs_meta_dup(&r, "dataset");
    CHECK(d && strcmp(d, "celeb:4") == 0, "donor %s", d ? d : "(none)");
    CHECK(m && strcmp(m, "celeb") == 0 && ds && strcmp(ds, "celeb") == 0, "method/dataset");
    free(d);
    free(m);
    free(ds);
    dfs_record_free(&r);
}

/* identities (targets and donors) a (role, split) with n videos uses */
static int idset(int role, int split, int n, int *out)
{
    syn_spec s = spec(role, split, n, 1, 64);
    syn_video *v = malloc(sizeof *v * n);
    syn_plan(&s, v);
    int k = 0;
    for (int i = 0; i < n; i++) {
        out[k++] = v[i].target;
        if (v[i].donor >= 0) out[k++] = v[i].donor;
    }
    free(v);
    return k;
}

static int contains(const int *a, int n, int x)
{
    for (int i = 0; i < n; i++)
        if (a[i] == x) return 1;
    return 0;
}

static void test_split_disjoint(void)
{
    int a[200], b[200];
    for (int r = 0; r < SYN_NROLES; r++)
        for (int s1 = 0; s1 < SYN_NSPLITS; s1++)
            for (int s2 = s1 + 1; s2 < SYN_NSPLITS; s2++) {
                int na = idset(r, s1, 60, a), nb = idset(r, s2, 60, b), shared = 0;
                for (int i = 0; i < na; i++) shared += contains(b, nb, a[i]);
                CHECK(shared == 0, "%s: %s and %s share %d identities", syn_role_name(r), syn_split_name(s1),
                      syn_split_name(s2), shared);
            }
    /* fs-i/test forges f2f's training identities; fs-i/test never uses f2f/test's */
    int nf = idset(SYN_F2F, SYN_TRAIN, 60, a), ni = idset(SYN_FS_I, SYN_TEST, 20, b), in = 0;
    for (int i = 0; i < ni; i++) in += contains(a, nf, b[i]);
    CHECK(in == ni, "fs-i/test: %d of %d identities in f2f/train", in, ni);
    nf = idset(SYN_F2F, SYN_TEST, 60, a);
    in = 0;
    for (int i = 0; i < ni; i++) in += contains(a, nf, b[i]);
    CHECK(in == 0, "fs-i/test shares %d identities with f2f/test", in);
}

static void test_deterministic_threads(void)
{
    syn_spec s = spec(SYN_F2F, SYN_TEST, 4, 3, 48);
    syn_video v[4];
    syn_plan(&s, v);
    int vid[12], fr[12];
    uint8_t *a[12], *b[12];
    for (int i = 0; i < 12; i++) {
        vid[i] = i / 3;
        fr[i] = i % 3;
        a[i] = malloc(48 * 48 * 3);
        b[i] = malloc(48 * 48 * 3);
    }
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    syn_frames(&s, v, vid, fr, 12, a);
    omp_set_num_threads(3);
    syn_frames(&s, v, vid, fr, 12, b);
    omp_set_num_threads(saved);
    for (int i = 0; i < 12; i++) CHECK(memcmp(a[i], b[i], 48 * 48 * 3) == 0, "frame %d differs by thread count", i);
    CHECK(memcmp(a[0], a[1], 48 * 48 * 3) != 0, "frames of a video move");
    for (int i = 0; i < 12; i++) {
        free(a[i]);
        free(b[i]);
    }
}

static void test_shared_reals(void)
{
    const int n = 64 * 64 * 3;
    uint8_t *x = malloc(n), *y = malloc(n);
    syn_video v[2], w[2];
    syn_spec s1 = spec(SYN_FS, SYN_TRAIN, 2, 1, 64), s2 = spec(SYN_NT, SYN_TRAIN, 2, 1, 64);
    syn_plan(&s1, v);
    syn_plan(&s2, w);
    syn_frame(&s1, &v[0], 0, x);
    syn_frame(&s2, &w[0], 0, y);
    CHECK(memcmp(x, y, n) == 0, "fs and nt share their real videos");
    syn_frame(&s1, &v[1], 0, x);
    syn_frame(&s2, &w[1], 0, y);
    CHECK(memcmp(x, y, n) != 0, "but forge them differently");
    free(x);
    free(y);
}

/* every method changes the face and leaves the corners (background) alone */
static void test_forgeries_local(void)
{
    const int S = 64, n = S * S * 3;
    uint8_t *r = malloc(n), *f = malloc(n);
    for (int role = 0; role < SYN_NROLES; role++)
        for (int pair = 0; pair < 3; pair++) {
            syn_spec s = spec(role, SYN_TEST, 2 * (pair + 1) * syn_pool_captures(syn_role_pool(role)), 1, S);
            syn_video *v = malloc(sizeof *v * s.videos);
            syn_plan(&s, v);
            int j = 2 * pair * syn_pool_captures(syn_role_pool(role));
            syn_frame(&s, &v[j], 0, r);
            syn_frame(&s, &v[j + 1], 0, f);
            double diff = 0;
            int changed = 0, corner = 0;
            for (int y = 0; y < S; y++)
                for (int x = 0; x < S; x++)
                    for (int c = 0; c < 3; c++) {
                        int i = (y * S + x) * 3 + c, d = abs((int)r[i] - (int)f[i]);
                        diff += d;
                        changed += d > 0;
                        if ((x < 6 || x >= S - 6) && y < 6) corner += d;
                    }
            diff /= changed ? changed : 1;
            CHECK(changed > 150 && diff > 2.0, "%s pair %d: %d values changed, mean %.2f", syn_role_name(role), pair,
                  changed, diff);
            CHECK(corner == 0, "%s pair %d: background corners changed", syn_role_name(role), pair);
            free(v);
        }
    free(r);
    free(f);
}

/* mean |box3 - box7| of the luma over the pixels where real and fake differ: the contrast of
 * features at the scale of a pixel or two (box3 first, so camera noise weighs little) */
static double band_contrast(const uint8_t *img, const uint8_t *other, int S)
{
    double sum = 0;
    int n = 0;
    for (int y = 3; y < S - 3; y++)
        for (int x = 3; x < S - 3; x++) {
            int i = (y * S + x) * 3;
            if (abs(img[i] - other[i]) + abs(img[i + 1] - other[i + 1]) + abs(img[i + 2] - other[i + 2]) < 6) continue;
            double b3 = 0, b7 = 0;
            for (int dy = -3; dy <= 3; dy++)
                for (int dx = -3; dx <= 3; dx++) {
                    const uint8_t *q = img + ((y + dy) * S + x + dx) * 3;
                    double l = 0.299 * q[0] + 0.587 * q[1] + 0.114 * q[2];
                    b7 += l;
                    if (abs(dx) <= 1 && abs(dy) <= 1) b3 += l;
                }
            sum += fabs(b3 / 9 - b7 / 49);
            n++;
        }
    return n ? sum / n : 0;
}

/* mean |luma - box3| over the pixels where real and fake differ: the energy at the scale of one
 * pixel (edges and camera noise), the finest detail a detector sees */
static double pixel_energy(const uint8_t *img, const uint8_t *other, int S)
{
    double sum = 0;
    int n = 0;
    for (int y = 1; y < S - 1; y++)
        for (int x = 1; x < S - 1; x++) {
            int i = (y * S + x) * 3;
            if (abs(img[i] - other[i]) + abs(img[i + 1] - other[i + 1]) + abs(img[i + 2] - other[i + 2]) < 6) continue;
            double b3 = 0, l0 = 0;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    const uint8_t *q = img + ((y + dy) * S + x + dx) * 3;
                    double l = 0.299 * q[0] + 0.587 * q[1] + 0.114 * q[2];
                    b3 += l;
                    if (!dx && !dy) l0 = l;
                }
            sum += fabs(l0 - b3 / 9);
            n++;
        }
    return n ? sum / n : 0;
}

/* The methods differ in kind (formats/synth.md), which is what keeps a detector trained on one
 * from detecting the others: the training methods (celeb, f2f) and their relatives over-sharpen
 * the replaced features. The unseen swaps (df, dfd) must keep the real frames' pixel-scale
 * detail: softer fakes (as df's and dfd's bottlenecks made them, at 0.24 and 0.45 of the real
 * frames' energy) were ranked as more real than the real frames by detectors trained on celeb
 * or f2f (AUC 0.08-0.42 in bench/synth-cross-role.md before issue 23), an inversion, not an
 * unseen method. */
static void test_forgery_kinds(void)
{
    const int S = 64, n = S * S * 3, pairs = 6;
    const struct { int role, sharper; } want[] = {
        {SYN_CELEB, 1}, {SYN_CELEB_M, 1}, {SYN_F2F, 1}, {SYN_FS, 1}, {SYN_DF, 0}, {SYN_DFD, 0},
    };
    uint8_t *r = malloc(n), *f = malloc(n);
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        int role = want[k].role, cpi = syn_pool_captures(syn_role_pool(role));
        syn_spec s = spec(role, SYN_TEST, 2 * pairs * cpi, 1, S);
        syn_video *v = malloc(sizeof *v * s.videos);
        syn_plan(&s, v);
        double er = 0, ef = 0, pr = 0, pf = 0;
        for (int p = 0; p < pairs; p++) {
            syn_frame(&s, &v[2 * p * cpi], 0, r);
            syn_frame(&s, &v[2 * p * cpi + 1], 0, f);
            er += band_contrast(r, f, S);
            ef += band_contrast(f, r, S);
            pr += pixel_energy(r, f, S);
            pf += pixel_energy(f, r, S);
        }
        if (want[k].sharper)
            CHECK(ef > 1.15 * er, "%s: fakes should be sharper: contrast %.3f vs real %.3f", syn_role_name(role),
                  ef / pairs, er / pairs);
        else
            CHECK(pf > 0.8 * pr && pf < 1.2 * pr, "%s: fakes should keep the real frames' pixel-scale detail: "
                  "%.3f vs real %.3f", syn_role_name(role), pf / pairs, pr / pairs);
        free(v);
    }
    free(r);
    free(f);
}

/* write a few frames as H.264 MP4, decode them with libavformat/libavcodec, compare */
static void test_mp4_round_trip(void)
{
    if (!syn_mp4_available()) {
        printf("# no H.264 encoder in this FFmpeg: MP4 round trip not run\n");
        return;
    }
    const int S = 64, K = 6, n = S * S * 3;
    syn_spec s = spec(SYN_DFD, SYN_TRAIN, 2, K, S);
    s.wide = 1;
    syn_video v[2];
    syn_plan(&s, v);
    uint8_t *fr[6];
    char path[128];
    snprintf(path, sizeof path, "%s/v.mp4", tmpdir());
    syn_mp4 *m = syn_mp4_open(path, S, S, 25, 23);
    CHECK(m != NULL, "%s", dfs_error());
    if (!m) return;
    for (int f = 0; f < K; f++) {
        fr[f] = malloc(n);
        syn_frame(&s, &v[1], f, fr[f]);
        CHECK(syn_mp4_frame(m, fr[f]) == 0, "%s", dfs_error());
    }
    CHECK(syn_mp4_close(m) == 0, "%s", dfs_error());

    AVFormatContext *fmt = NULL;
    CHECK(avformat_open_input(&fmt, path, NULL, NULL) == 0, "open %s", path);
    if (!fmt) return;
    CHECK(avformat_find_stream_info(fmt, NULL) >= 0, "stream info");
    int si = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    CHECK(si >= 0, "video stream");
    const AVCodec *dec = avcodec_find_decoder(fmt->streams[si]->codecpar->codec_id);
    AVCodecContext *ctx = avcodec_alloc_context3(dec);
    avcodec_parameters_to_context(ctx, fmt->streams[si]->codecpar);
    CHECK(avcodec_open2(ctx, dec, NULL) == 0, "decoder");
    CHECK(ctx->width == S && ctx->height == S && dec->id == AV_CODEC_ID_H264, "%dx%d", ctx->width, ctx->height);
    AVPacket *pkt = av_packet_alloc();
    AVFrame *frame = av_frame_alloc();
    uint8_t *rgb = malloc(n);
    int got = 0;
    double worst_psnr = 1e9;
    for (int flushing = 0;;) {
        if (!flushing) {
            if (av_read_frame(fmt, pkt) < 0) {
                flushing = 1;
                avcodec_send_packet(ctx, NULL);
            } else {
                if (pkt->stream_index == si) avcodec_send_packet(ctx, pkt);
                av_packet_unref(pkt);
            }
        }
        int e;
        while ((e = avcodec_receive_frame(ctx, frame)) == 0) {
            struct SwsContext *sws = sws_getContext(S, S, frame->format, S, S, AV_PIX_FMT_RGB24, SWS_BICUBIC, NULL,
                                                    NULL, NULL);
            uint8_t *dst[1] = {rgb};
            int stride[1] = {3 * S};
            sws_scale(sws, (const uint8_t *const *)frame->data, frame->linesize, 0, S, dst, stride);
            sws_freeContext(sws);
            if (got < K) {
                double se = 0;
                for (int i = 0; i < n; i++) se += (double)(rgb[i] - fr[got][i]) * (rgb[i] - fr[got][i]);
                double psnr = 10 * log10(255.0 * 255.0 / (se / n + 1e-9));
                if (psnr < worst_psnr) worst_psnr = psnr;
            }
            got++;
        }
        if (flushing && e == AVERROR_EOF) break;
        if (flushing && e != 0 && e != AVERROR(EAGAIN)) break;
    }
    CHECK(got == K, "decoded %d frames of %d", got, K);
    CHECK(worst_psnr > 28, "decoded frames match the rendered ones: worst PSNR %.1f dB", worst_psnr);
    free(rgb);
    av_frame_free(&frame);
    av_packet_free(&pkt);
    avcodec_free_context(&ctx);
    avformat_close_input(&fmt);
    for (int f = 0; f < K; f++) free(fr[f]);
    unlink(path);
}

int main(void)
{
    RUN(test_names);
    RUN(test_spec_check);
    RUN(test_pairs_and_keys);
    RUN(test_split_disjoint);
    RUN(test_deterministic_threads);
    RUN(test_shared_reals);
    RUN(test_forgeries_local);
    RUN(test_forgery_kinds);
    RUN(test_mp4_round_trip);
    rmdir(tmpdir());
    return CHECK_DONE();
}
