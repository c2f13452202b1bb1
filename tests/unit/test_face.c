/* Unit tests of lib/face against OpenCV and dlib themselves: the reference boxes and landmarks in
 * tests/fixtures/face were made by tests/make-fixtures-face.py from the same frames (10 evenly
 * spaced frames of opencv-doc's Megamind.avi and the photo messi5.jpg, decoded by lib/media/video.c), the
 * HOG detector's by tests/make-fixtures-fhog.py (the same and two more photos).
 *
 * The references hold for those pixels only. FFmpeg decodes the same files with other bits on
 * another CPU (its SIMD paths for IDCT and colour conversion differ; on arm64 under qemu most of
 * Megamind.avi's frames differ by up to 46 levels) or in another FFmpeg version, and a detector
 * fed other pixels may rightly pick another window. So tests/fixtures/face/frames.sha256 holds the
 * digest of every frame the fixtures were made from (`build/tests/test_face --digests`), and a
 * frame decoded with other bits is left out of the comparisons, with a count; where no frame is
 * the same, the comparison is skipped with a line saying why. */
#include "check.h"
#include "face/face.h"
#include "media/video.h"

#include <unistd.h>

#define MEDIA "/usr/share/doc/opencv-doc/examples/data/"
#define FIX "tests/fixtures/face/"

static int skipped(const char *name, const char *why)
{
    printf("ok %d - %s # SKIP %s\n", ++check_count, name, why);
    return 1;
}

/* frames.sha256: "key<TAB>sha256 of the frame's RGB bytes" per line */
static char ref_keys[32][64], ref_digests[32][65];
static int n_ref_digests;

static void load_digests(void)
{
    FILE *f = fopen(FIX "frames.sha256", "r");
    char line[256];
    while (f && n_ref_digests < 32 && fgets(line, sizeof line, f))
        if (line[0] != '#' && sscanf(line, "%63s %64s", ref_keys[n_ref_digests], ref_digests[n_ref_digests]) == 2)
            n_ref_digests++;
    if (f) fclose(f);
}

/* is this frame the one the fixtures were made from? */
static int same_pixels(const char *key, const dfs_image *im)
{
    char hex[65];
    dfs_sha256_hex(im->px, (size_t)im->w * im->h * im->c, hex);
    for (int i = 0; i < n_ref_digests; i++)
        if (!strcmp(ref_keys[i], key)) return !strcmp(ref_digests[i], hex);
    return 0;
}

static void report_other_pixels(const char *what, int other, int total)
{
    if (other)
        printf("# %s: %d of %d frames decoded with other bits than the fixtures' (another CPU or FFmpeg build): "
               "left out\n", what, other, total);
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
    int nfound[16], same[16], nsame = 0;
    for (size_t i = 0; i < frames.n; i++) {
        nsame += same[i] = same_pixels(keys[i], &frames.v[i].im);
        dfs_image g;
        CHECK(dfs_face_gray(&frames.v[i].im, &g) == 0, "%s", dfs_error());
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
        if (k < 0 || !same[k]) continue;
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
    report_other_pixels("detection", (int)frames.n - nsame, (int)frames.n);
    if (nref == 0 && nsame < (int)frames.n) skipped("detection against OpenCV", "no face on a frame with the fixtures' bits");
    if (nsame == (int)frames.n) CHECK(nref >= 10, "too few reference faces (%d)", nref);
    /* every face we report is one OpenCV reports too */
    int total = 0;
    for (size_t i = 0; i < frames.n; i++) total += same[i] ? nfound[i] : 0;
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
    int n = 0, other = 0;
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
        if (!same_pixels(key, &frames.v[k].im)) { other++; continue; }
        float ref[136], pts[136];
        const char *p = line + off;
        for (int i = 0; i < 136; i++) {
            char *e;
            ref[i] = strtof(p, &e);
            p = e;
        }
        dfs_image g;
        CHECK(dfs_face_gray(&frames.v[k].im, &g) == 0, "%s", dfs_error());
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
    if (other) printf("# landmarks: %d faces on frames decoded with other bits than the fixtures': left out\n", other);
    if (other && n == 0) skipped("landmarks against dlib", "no face on a frame with the fixtures' bits");
    else CHECK(n >= 10, "too few reference faces (%d)", n);
    dfs_shape_model_free(m);
}

/* dlib's HOG detector (face_recognition's face_locations(img, 1, "hog")) against dlib itself */
static void test_hog_matches_dlib(void)
{
    static const char *const media[] = {MEDIA "Megamind.avi", MEDIA "messi5.jpg",
                                        "/usr/share/doc/opencv-doc/opencv4/html/facereg.jpg", MEDIA "baboon.jpg"};
    static const char *const stems[] = {"Megamind", "messi5", "facereg", "baboon"};
    dfs_frame_list fl = {0};
    char fkeys[32][64];
    size_t nf = 0;
    for (int i = 0; i < 4; i++) {
        dfs_extract_opts o = {.count = 10};
        size_t before = fl.n;
        CHECK(dfs_video_extract(media[i], &o, &fl) == 0, "%s: %s", media[i], dfs_error());
        for (size_t k = before; k < fl.n && nf < 32; k++, nf++)
            snprintf(fkeys[nf], sizeof fkeys[nf], "ref/%s/f%02zu", stems[i], k - before);
    }
    CHECK(nf == 13, "%zu frames", nf);
    FILE *f = fopen(FIX "dlib-hog.tsv", "r");
    CHECK(f != NULL, "no " FIX "dlib-hog.tsv");
    char path[4096];
    CHECK(dfs_fhog_default_path(path, sizeof path) == 0, "no model at %s", path);
    dfs_fhog *m = dfs_fhog_load(path);
    CHECK(m != NULL, "%s", dfs_error());
    if (!f || !m || nf != 13) {
        if (f) fclose(f);
        dfs_fhog_free(m);
        dfs_frame_list_free(&fl);
        return;
    }
    dfs_fhog_face *found[32] = {0};
    int nfound[32], used[32][16] = {{0}}, same[32], nsame = 0;
    for (size_t i = 0; i < nf; i++) {
        nsame += same[i] = same_pixels(fkeys[i], &fl.v[i].im);
        nfound[i] = dfs_fhog_detect(m, &fl.v[i].im, 1, &found[i]);
        CHECK(nfound[i] >= 0 && nfound[i] <= 16, "%s: %d faces", fkeys[i], nfound[i]);
    }
    int nref[32] = {0}, total_ref = 0, total = 0;
    double worst_iou = 1, worst_score = 0;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#') continue;
        char key[128], l[16];
        int t, r, b, det;
        double score;
        int n = sscanf(line, "%127s %15s %d %d %d %lf %d", key, l, &t, &r, &b, &score, &det);
        int k = -1;
        for (size_t i = 0; i < nf; i++)
            if (!strcmp(fkeys[i], key)) k = (int)i;
        CHECK(k >= 0, "fixture key %s not among the frames", key);
        if (k < 0 || !same[k]) continue;
        if (n == 2 && l[0] == '-') continue;
        CHECK(n == 7, "bad fixture line: %s", line);
        if (n != 7) continue;
        dfs_box ref = {atoi(l), t, r - atoi(l) + 1, b - t + 1};
        nref[k]++;
        total_ref++;
        int best = -1;
        double bi = 0;
        for (int j = 0; j < nfound[k]; j++) {
            double v = iou(ref, found[k][j].box);
            if (!used[k][j] && v > bi) { bi = v; best = j; }
        }
        CHECK(best >= 0 && bi >= 0.95, "%s: dlib's face %d,%d,%d,%d: best IoU %.3f", key, ref.x, ref.y, ref.w, ref.h, bi);
        worst_iou = fmin(worst_iou, bi);
        if (best < 0) continue;
        used[k][best] = 1;
        double ds = fabs(found[k][best].score - score);
        CHECK(ds <= 1e-3, "%s: score %.6f, dlib %.6f", key, found[k][best].score, score);
        CHECK(found[k][best].detector == det, "%s: detector %d, dlib %d", key, found[k][best].detector, det);
        worst_score = fmax(worst_score, ds);
    }
    fclose(f);
    for (size_t i = 0; i < nf; i++) {
        if (same[i]) {
            CHECK(nfound[i] == nref[i], "%s: %d faces, dlib %d", fkeys[i], nfound[i], nref[i]);
            total += nfound[i];
        }
        free(found[i]);
    }
    printf("# hog: %d faces in %d frames (dlib %d), worst IoU %.4f, largest score difference %.2g\n", total, nsame,
           total_ref, worst_iou, worst_score);
    report_other_pixels("hog", (int)nf - nsame, (int)nf);
    if (total_ref == 0 && nsame < (int)nf) skipped("hog against dlib", "no face on a frame with the fixtures' bits");
    if (nsame == (int)nf) CHECK(total_ref >= 15, "too few reference faces (%d)", total_ref);
    /* an image too small for one window, and a non-RGB image */
    dfs_image tiny, gray;
    dfs_image_alloc(&tiny, 20, 10, 3);
    memset(tiny.px, 128, 600);
    dfs_fhog_face *none = NULL;
    CHECK(dfs_fhog_detect(m, &tiny, 1, &none) == 0 && none == NULL, "faces in a flat 20x10 image");
    CHECK(dfs_fhog_detect(m, &tiny, 0, &none) == 0 && none == NULL, "faces in a flat 20x10 image");
    dfs_image_alloc(&gray, 20, 10, 1);
    CHECK(dfs_fhog_detect(m, &gray, 1, &none) == -1, "gray image accepted");
    dfs_image_free(&tiny);
    dfs_image_free(&gray);
    dfs_fhog_free(m);
    dfs_frame_list_free(&fl);
}

/* the model is refused unless its bytes are the committed ones */
static void test_hog_model_checksum(void)
{
    char path[4096];
    if (dfs_fhog_default_path(path, sizeof path) != 0) { CHECK(0, "no model at %s", path); return; }
    FILE *in = fopen(path, "rb");
    char *buf = malloc(1 << 20);
    size_t len = in ? fread(buf, 1, 1 << 20, in) : 0;
    if (in) fclose(in);
    char dir[] = "/tmp/dfs-fhog-XXXXXX";
    if (!mkdtemp(dir) || len < 1000) { CHECK(0, "setup"); free(buf); return; }
    char bad[300];
    snprintf(bad, sizeof bad, "%s/m.txt", dir);
    /* one digit of one filter weight changed */
    char *row = strstr(buf, "\nrow ");
    CHECK(row != NULL, "no filter row in the model");
    if (row) {
        char *d = row + 5;
        while (*d && (*d < '0' || *d > '9')) d++;
        *d = *d == '9' ? '8' : (char)(*d + 1);
    }
    FILE *out = fopen(bad, "wb");
    fwrite(buf, 1, len, out);
    fclose(out);
    CHECK(dfs_fhog_load(bad) == NULL, "altered model accepted");
    CHECK(strstr(dfs_error(), "checksum mismatch") && strstr(dfs_error(), "m.txt"), "error: %s", dfs_error());
    out = fopen(bad, "wb");
    fwrite(buf, 1, len / 2, out);
    fclose(out);
    CHECK(dfs_fhog_load(bad) == NULL, "truncated model accepted");
    CHECK(strstr(dfs_error(), "checksum mismatch") != NULL, "error: %s", dfs_error());
    CHECK(dfs_fhog_load("/nonexistent/m.txt") == NULL && strstr(dfs_error(), "cannot open"), "error: %s", dfs_error());
    /* SHA-256 itself: the FIPS 180-4 examples */
    char hex[65];
    dfs_sha256_hex("abc", 3, hex);
    CHECK(!strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"), "sha256(abc) %s", hex);
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    dfs_sha256_hex(two, strlen(two), hex);
    CHECK(!strcmp(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"), "sha256(448 bits) %s", hex);
    dfs_sha256_hex("", 0, hex);
    CHECK(!strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"), "sha256() %s", hex);
    unlink(bad);
    rmdir(dir);
    free(buf);
}

/* crops and the gray copy return the image limit's error (the library used to exit) */
static void test_crop_too_large(void)
{
    dfs_image im = {0}, out = {0};
    CHECK(dfs_image_alloc(&im, 8, 8, 3) == 0, "%s", dfs_error());
    memset(im.px, 100, 8 * 8 * 3);
    dfs_box box = {2, 2, 4, 4};
    dfs_fail("none");
    CHECK(dfs_face_crop_box(&im, box, 1.0, 40000, &out) == -1, "crop to 40000");
    CHECK(strstr(dfs_error(), "image size 40000x40000x3 outside the supported range") != NULL, "%s", dfs_error());
    CHECK(out.px == NULL, "no crop");
    float pts[136];
    for (int i = 0; i < 68; i++) { pts[2 * i] = (float)(i % 8); pts[2 * i + 1] = (float)(i / 9); }
    CHECK(dfs_face_align(&im, pts, 1.0, 40000, &out) == -1 && out.px == NULL, "align to 40000");
    CHECK(dfs_face_crop_box(&im, box, 1.0, 16, &out) == 0 && out.w == 16, "crop to 16: %s", dfs_error());
    dfs_image_free(&out);
    dfs_image gray = {0};
    CHECK(dfs_face_gray(&im, &gray) == 0 && gray.c == 1 && gray.px[0] == 100, "gray");
    dfs_image_free(&gray);
    dfs_image_free(&im);
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

/* the fixture frames.sha256: every frame the tests compare, Megamind's, messi5's and the HOG test's photos */
static int print_digests(void)
{
    static const char *const more[] = {"/usr/share/doc/opencv-doc/opencv4/html/facereg.jpg", MEDIA "baboon.jpg"};
    static const char *const stems[] = {"facereg", "baboon"};
    char hex[65];
    printf("# key\tsha256 of the frame's RGB bytes   (build/tests/test_face --digests)\n");
    for (size_t i = 0; i < frames.n; i++) {
        dfs_sha256_hex(frames.v[i].im.px, (size_t)frames.v[i].im.w * frames.v[i].im.h * 3, hex);
        printf("%s\t%s\n", keys[i], hex);
    }
    for (int j = 0; j < 2; j++) {
        dfs_frame_list fl = {0};
        dfs_extract_opts o = {.count = 10};
        if (dfs_video_extract(more[j], &o, &fl) != 0 || fl.n != 1) return 1;
        dfs_sha256_hex(fl.v[0].im.px, (size_t)fl.v[0].im.w * fl.v[0].im.h * 3, hex);
        printf("ref/%s/f00\t%s\n", stems[j], hex);
        dfs_frame_list_free(&fl);
    }
    return 0;
}

int main(int argc, char **argv)
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
    if (argc == 2 && !strcmp(argv[1], "--digests")) return print_digests();
    load_digests();
    CHECK(n_ref_digests == 13, "%s: %d frame digests, expected 13", FIX "frames.sha256", n_ref_digests);
    int nsame = 0;
    for (size_t i = 0; i < frames.n; i++) nsame += same_pixels(keys[i], &frames.v[i].im);
    if (nsame == 0) {
        skipped("face detection and landmarks against OpenCV and dlib",
                "no frame decoded with the fixtures' bits (another CPU or FFmpeg build)");
    } else {
        RUN(test_detection_matches_opencv);
        RUN(test_landmarks_match_dlib);
        RUN(test_hog_matches_dlib);
    }
    RUN(test_hog_model_checksum);
    RUN(test_bad_models);
    RUN(test_crop_too_large);
    dfs_frame_list_free(&frames);
    return CHECK_DONE();
}
