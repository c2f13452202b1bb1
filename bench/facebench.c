/* facebench: inputs and single-thread timings for bench/face-detectors.sh (built by
 * `make build/bench/facebench`).
 *   facebench video SRC W H N OUT.mp4   N evenly spaced frames of SRC scaled to cover W x H
 *                                       (aspect kept, centre cut), as an H.264 MP4 at 25 fps
 *   facebench detect FRAMES.dft PPMDIR  per frame: CPU time of dfs_fhog_detect (upsample 1) and
 *                                       dfs_cascade_detect (crop's haar settings), one thread;
 *                                       writes each frame as PPMDIR/NNN.ppm for dlib's timing
 * Prints "hog SECONDS FACES" and "haar SECONDS FACES" summed over the frames. */
#include "face/face.h"
#include "core/stream.h"
#include "tool/tool.h"
#include "synth/synth.h"
#include "media/video.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);   /* CPU time: the machine is shared */
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

static int video(const char *src, int w, int h, int n, const char *out)
{
    dfs_frame_list fl = {0};
    dfs_extract_opts o = {.count = n};
    if (dfs_video_extract(src, &o, &fl) != 0) dfs_die_error();
    syn_mp4 *m = syn_mp4_open(out, w, h, 25, 18);
    if (!m) dfs_die_error();
    uint8_t *buf = dfs_malloc((size_t)w * h * 3 + SYN_MP4_PADDING);
    for (size_t i = 0; i < fl.n; i++) {
        const dfs_image *im = &fl.v[i].im;
        double s = (double)w / im->w > (double)h / im->h ? (double)w / im->w : (double)h / im->h;
        int sw = (int)(im->w * s + 0.5), sh = (int)(im->h * s + 0.5);
        sw = sw < w ? w : sw;
        sh = sh < h ? h : sh;
        dfs_image big = {0};
        if (dfs_image_resize_bilinear(im, &big, sw, sh) != 0) dfs_die_error();
        int x0 = (sw - w) / 2, y0 = (sh - h) / 2;
        for (int y = 0; y < h; y++) memcpy(buf + (size_t)y * w * 3, big.px + ((size_t)(y + y0) * sw + x0) * 3, (size_t)w * 3);
        if (syn_mp4_frame(m, buf) != 0) dfs_die_error();
        dfs_image_free(&big);
    }
    if (syn_mp4_close(m) != 0) dfs_die_error();
    free(buf);
    dfs_frame_list_free(&fl);
    return 0;
}

static int detect(const char *frames, const char *dir)
{
    char path[4096];
    if (dfs_fhog_default_path(path, sizeof path) != 0) dfs_die("%s: missing", path);
    dfs_fhog *hog = dfs_fhog_load(path);
    dfs_cascade *haar = dfs_cascade_load(DFS_CASCADE_DEFAULT);
    if (!hog || !haar) dfs_die_error();
    dfs_detect_opts o;
    dfs_detect_defaults(&o);
    o.min_size = 40;   /* crop's default */
    dfs_reader rd;
    if (dfs_reader_open(&rd, frames) != 0) dfs_die_error();
    dfs_record rec;
    dfs_record_init(&rec);
    double th = 0, tc = 0;
    int fh = 0, fc = 0, k = 0;
    while (dfs_reader_next(&rd, &rec) == 1) {
        dfs_image im = {0}, gray = {0};
        if (dfs_image_from_record(&rec, &im) != 0) dfs_die_error();
        snprintf(path, sizeof path, "%s/%03d.ppm", dir, k++);
        FILE *f = fopen(path, "wb");
        if (!f) dfs_die("%s: cannot write", path);
        fprintf(f, "P6\n%d %d\n255\n", im.w, im.h);
        fwrite(im.px, 1, (size_t)im.w * im.h * 3, f);
        fclose(f);
        dfs_fhog_face *faces;
        double t0 = now();
        int n = dfs_fhog_detect(hog, &im, 1, &faces);
        th += now() - t0;
        fh += n > 0;
        free(faces);
        dfs_box *boxes;
        t0 = now();
        if (dfs_face_gray(&im, &gray) != 0) dfs_die_error();
        n = dfs_cascade_detect(haar, &gray, &o, &boxes);
        tc += now() - t0;
        fc += n > 0;
        free(boxes);
        dfs_image_free(&im);
        dfs_image_free(&gray);
    }
    dfs_record_free(&rec);
    dfs_reader_close(&rd);
    printf("hog %.4f %d\nhaar %.4f %d\n", th, fh, tc, fc);
    dfs_fhog_free(hog);
    dfs_cascade_free(haar);
    return 0;
}

int main(int argc, char **argv)
{
    dfs_tool_init(argv[0]);
    dfs_video_log(0);
    if (argc == 7 && !strcmp(argv[1], "video")) return video(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]), argv[6]);
    if (argc == 4 && !strcmp(argv[1], "detect")) return detect(argv[2], argv[3]);
    fprintf(stderr, "usage: facebench video SRC W H N OUT.mp4 | facebench detect FRAMES.dft PPMDIR\n");
    return 2;
}
