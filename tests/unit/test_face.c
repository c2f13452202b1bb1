/* Unit tests of lib/face against OpenCV and dlib themselves: the reference boxes and landmarks in
 * tests/fixtures/face were made by tests/make-fixtures-face.py from the same frames (10 evenly
 * spaced frames of opencv-doc's Megamind.avi and the photo messi5.jpg, decoded by lib/video). */
#include "check.h"
#include "face/face.h"
#include "video.h"

#include <unistd.h>

#define MEDIA "/usr/share/doc/opencv-doc/examples/data/"
#define FIX "tests/fixtures/face/"

static int skipped(const char *name, const char *why)
{
    printf("ok %d - %s # SKIP %s\n", ++check_count, name, why);
    return 1;
}

/* the frames, keyed as the fixture script keyed them */
static dfs_frame_list frames;
static char keys[16][64];

static int load_frames(void)
{
    dfs_extract_opts o = {.count = 10};
    if (dfs_video_extract(MEDIA "Megamind.avi", &o, &frames) != 0) return -1;
    if (dfs_video_extract(MEDIA "messi5.jpg", &o, &frames) != 0) return -1;
    for (size_t i = 0; i < frames.n && i < 16; i++)
        snprintf(keys[i], sizeof keys[i], "ref/%s/f%02zu", i < 10 ? "Megamind" : "messi5", i < 10 ? i : 0);
    return frames.n == 11 ? 0 : -1;
}

static int frame_of(const char *key)
{
    for (size_t i = 0; i < frames.n; i++)
        if (!strcmp(keys[i], key)) return (int)i;
    return -1;
}

static double iou(dfs_box a, dfs_box b)
{
    double x0 = fmax(a.x, b.x), y0 = fmax(a.y, b.y);
    double x1 = fmin(a.x + a.w, b.x + b.w), y1 = fmin(a.y + a.h, b.y + b.h);
    double in = x1 > x0 && y1 > y0 ? (x1 - x0) * (y1 - y0) : 0;
    return in / ((double)a.w * a.h + (double)b.w * b.h - in);
}

static void test_detection_matches_opencv(void)
{
    FILE *f = fopen(FIX "opencv-boxes.tsv", "r");
    CHECK(f != NULL, "no " FIX "opencv-boxes.tsv");
    if (!f) return;
    dfs_cascade *c = dfs_cascade_load(DFS_CASCADE_DEFAULT);
    CHECK(c != NULL, "%s", dfs_error());
    if (!c) { fclose(f); return; }
    dfs_detect_opts o;
    dfs_detect_defaults(&o);
    o.min_size = 40;   /* as the fixture script's minSize */
    dfs_box *found[16] = {0};
    int nfound[16];
    for (size_t i = 0; i < frames.n; i++) {
        dfs_image g;
        dfs_face_gray(&frames.v[i].im, &g);
        nfound[i] = dfs_cascade_detect(c, &g, &o, &found[i]);
        dfs_image_free(&g);
    }
    char line[512];
    int nref = 0, matched = 0, nonefaces = 0;
    double worst = 1;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#') continue;
        char key[128], xs[16], ys[16], ws[16], hs[16];
        if (sscanf(line, "%127s %15s %15s %15s %15s", key, xs, ys, ws, hs) != 5) continue;
        int k = frame_of(key);
        CHECK(k >= 0, "fixture key %s not among the frames", key);
        if (k < 0) continue;
        if (xs[0] == '-') {
            CHECK(nfound[k] == 0, "%s: OpenCV finds no face, we find %d", key, nfound[k]);
            nonefaces++;
            continue;
        }
        dfs_box r = {atoi(xs), atoi(ys), atoi(ws), atoi(hs)};
        double best = 0;
        for (int j = 0; j < nfound[k]; j++) best = fmax(best, iou(r, found[k][j]));
        nref++;
        if (best >= 0.8) matched++;
        worst = fmin(worst, best);
        CHECK(best >= 0.8, "%s: OpenCV's box %d,%d,%d,%d has IoU %.3f with our best", key, r.x, r.y, r.w, r.h, best);
    }
    fclose(f);
    printf("# detection: %d/%d OpenCV faces matched with IoU >= 0.8 (worst IoU %.3f), %d frames without a face\n",
           matched, nref, worst, nonefaces);
    CHECK(nref >= 10, "too few reference faces (%d)", nref);
    /* every face we report is one OpenCV reports too */
    int total = 0;
    for (size_t i = 0; i < frames.n; i++) total += nfound[i];
    CHECK(total == nref, "we find %d faces, OpenCV %d", total, nref);
    for (size_t i = 0; i < frames.n; i++) free(found[i]);
    dfs_cascade_free(c);
}

static void test_landmarks_match_dlib(void)
{
    FILE *f = fopen(FIX "dlib-landmarks.tsv", "r");
    CHECK(f != NULL, "no " FIX "dlib-landmarks.tsv");
    if (!f) return;
    dfs_shape_model *m = dfs_shape_model_load(DFS_LANDMARKS_DEFAULT);
    CHECK(m != NULL, "%s", dfs_error());
    if (!m) { fclose(f); return; }
    CHECK(dfs_shape_model_points(m) == 68, "points %d", dfs_shape_model_points(m));
    char line[4096];
    int n = 0;
    double sum = 0, worst = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#') continue;
        char key[128];
        int off;
        dfs_box b;
        if (sscanf(line, "%127s %d %d %d %d%n", key, &b.x, &b.y, &b.w, &b.h, &off) != 5) continue;
        int k = frame_of(key);
        CHECK(k >= 0, "fixture key %s not among the frames", key);
        if (k < 0) continue;
        float ref[136], pts[136];
        const char *p = line + off;
        for (int i = 0; i < 136; i++) {
            char *e;
            ref[i] = strtof(p, &e);
            p = e;
        }
        dfs_image g;
        dfs_face_gray(&frames.v[k].im, &g);
        dfs_shape_predict(m, &g, b, pts);
        dfs_image_free(&g);
        double err = 0;
        for (int i = 0; i < 68; i++) err += hypot(pts[2 * i] - ref[2 * i], pts[2 * i + 1] - ref[2 * i + 1]);
        err /= 68;
        /* dlib rounds its points to integers, which alone costs up to ~0.4 px on average */
        CHECK(err <= 1.0, "%s: mean landmark error %.3f px", key, err);
        sum += err;
        worst = fmax(worst, err);
        n++;
    }
    fclose(f);
    printf("# landmarks: %d faces, mean error %.3f px, worst face %.3f px\n", n, n ? sum / n : 0, worst);
    CHECK(n >= 10, "too few reference faces (%d)", n);
    dfs_shape_model_free(m);
}

static void test_bad_models(void)
{
    char dir[] = "/tmp/dfs-face-XXXXXX";
    if (!mkdtemp(dir)) { CHECK(0, "mkdtemp"); return; }
    char path[300];
    snprintf(path, sizeof path, "%s/cut.dat", dir);
    /* a truncated landmark model is refused with a message, not read past its end */
    FILE *in = fopen(DFS_LANDMARKS_DEFAULT, "rb"), *out = fopen(path, "wb");
    if (in && out) {
        char buf[65536];
        for (int i = 0; i < 16; i++) {
            size_t r = fread(buf, 1, sizeof buf, in);
            fwrite(buf, 1, r, out);
        }
    }
    if (in) fclose(in);
    if (out) fclose(out);
    CHECK(dfs_shape_model_load(path) == NULL, "truncated model accepted");
    CHECK(strstr(dfs_error(), "cut.dat") != NULL, "error: %s", dfs_error());
    CHECK(dfs_cascade_load(path) == NULL, "a .dat accepted as a cascade");
    snprintf(path, sizeof path, "%s/c.xml", dir);
    out = fopen(path, "w");
    fputs("<opencv_storage><cascade><stageType>BOOST</stageType><featureType>HAAR</featureType>"
          "<height>24</height><width>24</width><stages></stages></cascade></opencv_storage>", out);
    fclose(out);
    CHECK(dfs_cascade_load(path) == NULL, "cascade without stages accepted");
    CHECK(strstr(dfs_error(), "no stages") != NULL, "error: %s", dfs_error());
    unlink(path);
    snprintf(path, sizeof path, "%s/cut.dat", dir);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    dfs_video_log(0);
    if (access(MEDIA "Megamind.avi", R_OK) != 0 || access(MEDIA "messi5.jpg", R_OK) != 0 ||
        access(DFS_CASCADE_DEFAULT, R_OK) != 0 || access(DFS_LANDMARKS_DEFAULT, R_OK) != 0) {
        skipped("face tests", "needs opencv-doc, opencv-data and libdlib-data");
        return CHECK_DONE();
    }
    if (load_frames() != 0) {
        printf("not ok 1 - load frames: %s\n1..1\n", dfs_error());
        return 1;
    }
    RUN(test_detection_matches_opencv);
    RUN(test_landmarks_match_dlib);
    RUN(test_bad_models);
    dfs_frame_list_free(&frames);
    return CHECK_DONE();
}
