/* Unit tests of lib/analysis/ssim.c: against scikit-image 0.19 on the committed fixtures
 * (tests/make-fixtures-ssim.py), against closed forms, and the error cases. */
#include "check.h"
#include "analysis/ssim.h"

#include <omp.h>
#include <stdint.h>
#include <unistd.h>

#define FIX "tests/fixtures/ssim/"

static dfs_record_list streams[3];

static void load_fixtures(void)
{
    const char *names[3] = {FIX "a.dft", FIX "b.dft", FIX "c.dft"};
    for (int s = 0; s < 3; s++)
        if (dfs_read_all(names[s], &streams[s]) != 0) {
            printf("# %s\n", dfs_error());
            exit(1);
        }
}

static const dfs_record *by_key(int s, const char *key)
{
    for (size_t i = 0; i < streams[s].n; i++) {
        char *k = dfs_meta_dup(&streams[s].v[i], "key");
        int hit = k && strcmp(k, key) == 0;
        free(k);
        if (hit) return &streams[s].v[i];
    }
    return NULL;
}

/* Every row of reference.tsv (skimage's value for a key, window mode, data range and pair). */
static void test_matches_skimage(void)
{
    FILE *f = fopen(FIX "reference.tsv", "r");
    CHECK(f != NULL, "cannot open reference.tsv");
    if (!f) return;
    char line[512];
    int rows = 0, gray = 0, rgb = 0, heat = 0, gauss = 0;
    double worst = 0, worst_u8 = 0;
    CHECK(fgets(line, sizeof line, f) != NULL, "empty reference");
    while (fgets(line, sizeof line, f)) {
        char key[128], mode[32], dr[32];
        int a, b;
        double want;
        if (sscanf(line, "%127s %31s %31s %d_%d %lf", key, mode, dr, &a, &b, &want) != 6) {
            CHECK(0, "bad reference line: %s", line);
            continue;
        }
        dfs_ssim_opts o;
        dfs_ssim_opts_default(&o);
        o.gaussian = strcmp(mode, "gaussian") == 0;
        o.data_range = strcmp(dr, "dtype") == 0 ? 0 : atof(dr);
        const dfs_record *x = by_key(a - 1, key), *y = by_key(b - 1, key);
        CHECK(x && y, "key %s missing from the fixtures", key);
        if (!x || !y) continue;
        double got = -9;
        CHECK(dfs_ssim_records(x, y, &o, &got) == 0, "%s: %s", key, dfs_error());
        CHECK_CLOSE(got, want, 1e-5, 0);
        if (fabs(got - want) > worst) worst = fabs(got - want);
        /* skimage computes u8 input in float64 as we do; f32 input in float32 */
        if (x->dtype == DFS_U8 && fabs(got - want) > worst_u8) worst_u8 = fabs(got - want);
        rows++;
        gray += strncmp(key, "gray/", 5) == 0;
        rgb += strncmp(key, "rgb/", 4) == 0;
        heat += strncmp(key, "heat/", 5) == 0;
        gauss += o.gaussian;
    }
    fclose(f);
    printf("# %d reference values, largest difference %.3g (u8: %.3g)\n", rows, worst, worst_u8);
    CHECK(worst_u8 < 1e-9, "u8 images differ from skimage by %.3g", worst_u8);
    /* 6 pairs kinds x 3 stream pairs x 2 modes, heatmaps also with data range 1 */
    CHECK(rows == 144 && gray == 36 && rgb == 36 && heat == 72 && gauss == 72,
          "rows %d gray %d rgb %d heat %d gaussian %d", rows, gray, rgb, heat, gauss);
}

static void make_u8(dfs_record *r, int h, int w, int c, int value)
{
    uint64_t dims[3] = {(uint64_t)h, (uint64_t)w, (uint64_t)c};
    dfs_record_shape(r, DFS_U8, c ? 3 : 2, dims);
    memset(r->data, value, r->nbytes);
}

/* Constant images: variances are 0, so SSIM = (2ab + C1) / (a^2 + b^2 + C1) exactly. */
static void test_constant_closed_form(void)
{
    dfs_record a, b;
    dfs_record_init(&a);
    dfs_record_init(&b);
    make_u8(&a, 9, 12, 3, 40);
    make_u8(&b, 9, 12, 3, 200);
    dfs_ssim_opts o;
    dfs_ssim_opts_default(&o);
    double c1 = (0.01 * 255) * (0.01 * 255), want = (2.0 * 40 * 200 + c1) / (40.0 * 40 + 200.0 * 200 + c1);
    double got;
    CHECK(dfs_ssim_records(&a, &b, &o, &got) == 0, "%s", dfs_error());
    CHECK_CLOSE(got, want, 1e-10, 0);
    o.data_range = 100;
    c1 = 1.0;
    want = (2.0 * 40 * 200 + c1) / (40.0 * 40 + 200.0 * 200 + c1);
    CHECK(dfs_ssim_records(&a, &b, &o, &got) == 0, "%s", dfs_error());
    CHECK_CLOSE(got, want, 1e-10, 0);
    dfs_record_free(&a);
    dfs_record_free(&b);
}

/* Identical images give exactly 1; (H, W) and (H, W, 1) give the same value; the window needs
 * 7 (uniform) or 11 (Gaussian) pixels each way. */
static void test_shapes_and_windows(void)
{
    dfs_ssim_opts o;
    dfs_ssim_opts_default(&o);
    CHECK(dfs_ssim_window(&o) == 7, "uniform window %d", dfs_ssim_window(&o));
    o.gaussian = 1;
    CHECK(dfs_ssim_window(&o) == 11, "gaussian window %d", dfs_ssim_window(&o));
    dfs_ssim_opts_default(&o);
    const dfs_record *x = by_key(0, "gray/noisy"), *y = by_key(1, "gray/noisy");
    dfs_record x2, y2;
    dfs_record_init(&x2);
    dfs_record_init(&y2);
    dfs_record_copy(&x2, x);
    dfs_record_copy(&y2, y);
    x2.rank = y2.rank = 2;
    x2.dims[2] = y2.dims[2] = 0;
    double s3, s2, self;
    CHECK(dfs_ssim_records(x, y, &o, &s3) == 0, "%s", dfs_error());
    CHECK(dfs_ssim_records(&x2, &y2, &o, &s2) == 0, "%s", dfs_error());
    CHECK(s3 == s2, "HxWx1 %.17g vs HxW %.17g", s3, s2);
    CHECK(dfs_ssim_records(x, x, &o, &self) == 0 && self == 1.0, "self-SSIM %.17g", self);
    /* the plane entry point on doubles, reading one channel of an interleaved 2-channel buffer */
    size_t h = (size_t)x->dims[0], w = (size_t)x->dims[1];
    double *dx = calloc(2 * h * w, sizeof *dx), *dy = calloc(2 * h * w, sizeof *dy), sp;
    for (size_t i = 0; i < h * w; i++) {
        dx[2 * i + 1] = ((const uint8_t *)x->data)[i];
        dy[2 * i + 1] = ((const uint8_t *)y->data)[i];
    }
    CHECK(dfs_ssim_plane(dx + 1, dy + 1, h, w, 2 * w, 2, &o, 255, &sp) == 0, "%s", dfs_error());
    CHECK(sp == s3, "plane %.17g vs record %.17g", sp, s3);
    CHECK(dfs_ssim_plane(dx + 1, dy + 1, h, w, 2 * w, 2, &o, 0, &sp) == -1 &&
          strstr(dfs_error(), "not positive"), "%s", dfs_error());
    free(dx);
    free(dy);

    dfs_record a, b;
    dfs_record_init(&a);
    dfs_record_init(&b);
    make_u8(&a, 7, 20, 0, 1);
    make_u8(&b, 7, 20, 0, 2);
    double v;
    CHECK(dfs_ssim_records(&a, &b, &o, &v) == 0, "7 rows fit the 7x7 window: %s", dfs_error());
    o.gaussian = 1;
    CHECK(dfs_ssim_records(&a, &b, &o, &v) == -1 && strstr(dfs_error(), "smaller than the 11x11"),
          "%s", dfs_error());
    o.gaussian = 0;
    make_u8(&a, 6, 20, 0, 1);
    make_u8(&b, 6, 20, 0, 2);
    CHECK(dfs_ssim_records(&a, &b, &o, &v) == -1 && strstr(dfs_error(), "smaller than the 7x7"),
          "%s", dfs_error());
    dfs_record_free(&a);
    dfs_record_free(&b);
    dfs_record_free(&x2);
    dfs_record_free(&y2);
}

static void test_errors(void)
{
    dfs_ssim_opts o;
    dfs_ssim_opts_default(&o);
    dfs_record a, b;
    dfs_record_init(&a);
    dfs_record_init(&b);
    double v;
    make_u8(&a, 8, 8, 3, 1);
    make_u8(&b, 8, 8, 1, 1);
    CHECK(dfs_ssim_records(&a, &b, &o, &v) == -1 && strstr(dfs_error(), "differs"), "%s", dfs_error());
    uint64_t dims[2] = {8, 8};
    dfs_record_shape(&b, DFS_F32, 2, dims);
    for (int i = 0; i < 64; i++) ((float *)b.data)[i] = 0.5f;
    make_u8(&a, 8, 8, 0, 1);
    CHECK(dfs_ssim_records(&a, &b, &o, &v) == -1 && strstr(dfs_error(), "f32 8x8 differs from u8 8x8"),
          "%s", dfs_error());
    dfs_record_copy(&a, &b);
    ((float *)a.data)[10] = NAN;
    CHECK(dfs_ssim_records(&a, &b, &o, &v) == -1 && strstr(dfs_error(), "element 10 is not finite"),
          "%s", dfs_error());
    dfs_record_shape(&a, DFS_I16, 2, dims);
    CHECK(dfs_ssim_records(&a, &a, &o, &v) == -1 && strstr(dfs_error(), "dtype i16"), "%s", dfs_error());
    uint64_t d1[1] = {64};
    dfs_record_shape(&a, DFS_U8, 1, d1);
    CHECK(dfs_ssim_records(&a, &a, &o, &v) == -1 && strstr(dfs_error(), "not (H, W)"), "%s", dfs_error());
    dfs_record_free(&a);
    dfs_record_free(&b);
}

static void test_bins(void)
{
    CHECK(dfs_ssim_bin(-0.5) == 0 && dfs_ssim_bin(0.6999999) == 0, "below 0.7");
    CHECK(dfs_ssim_bin(0.7) == 1 && dfs_ssim_bin(0.8999999) == 1, "0.7 to below 0.9");
    CHECK(dfs_ssim_bin(0.9) == 2 && dfs_ssim_bin(1.0) == 2, "0.9 and above");
    uint64_t h[3] = {1, 2, 5};
    char *s = dfs_ssim_hist_tsv(h);
    CHECK(strcmp(s, "bin\tcount\tpercent\n<0.7\t1\t12.50\n0.7-<0.9\t2\t25.00\n>=0.9\t5\t62.50\n"
                    "total\t8\t100.00\n") == 0, "%s", s);
    free(s);
    uint64_t z[3] = {0, 0, 0};
    s = dfs_ssim_hist_tsv(z);
    CHECK(strstr(s, "total\t0\t-\n") != NULL, "%s", s);
    free(s);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return dfs_strdup("");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = dfs_malloc((size_t)n + 1);
    s[fread(s, 1, (size_t)n, f)] = 0;
    fclose(f);
    return s;
}

/* The stream loop: same bytes with 1 or 2 threads, histogram of the means, three streams in
 * different orders joined by key. */
static void test_streams_threads(void)
{
    char dir[] = "/tmp/dfs-ssim-XXXXXX", p1[64], p2[64];
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    snprintf(p1, sizeof p1, "%s/one.tsv", dir);
    snprintf(p2, sizeof p2, "%s/two.tsv", dir);
    const char *paths[3] = {FIX "a.dft", FIX "b.dft", FIX "c.dft"};
    dfs_ssim_opts o;
    dfs_ssim_opts_default(&o);
    uint64_t h1[3], h2[3], um[3];
    for (int t = 1; t <= 2; t++) {
        omp_set_num_threads(t);
        dfs_out out;
        CHECK(dfs_out_open(&out, t == 1 ? p1 : p2, 0, 1) == 0, "%s", dfs_error());
        CHECK(dfs_ssim_streams(paths, 3, &o, 0, &out, t == 1 ? h1 : h2, um) == 0, "%s", dfs_error());
        CHECK(dfs_out_commit(&out) == 0, "%s", dfs_error());
    }
    char *a = slurp(p1), *b = slurp(p2);
    CHECK(strcmp(a, b) == 0, "output differs between 1 and 2 threads");
    const char *head = "key\tssim_1_2\tssim_1_3\tssim_2_3\tmean\n"
                       "gray/identical\t1.000000\t1.000000\t1.000000\t1.000000\n";
    CHECK(strncmp(a, head, strlen(head)) == 0, "%.120s", a);
    int lines = 0;
    for (char *p = a; *p; p++) lines += *p == '\n';
    CHECK(lines == 19, "%d lines", lines);
    CHECK(h1[0] + h1[1] + h1[2] == 18 && memcmp(h1, h2, sizeof h1) == 0, "hist %llu %llu %llu",
          (unsigned long long)h1[0], (unsigned long long)h1[1], (unsigned long long)h1[2]);
    CHECK(um[0] == 0 && um[1] == 0 && um[2] == 0, "unmatched records in strict mode");
    free(a);
    free(b);
    unlink(p1);
    unlink(p2);
    rmdir(dir);
    omp_set_num_threads(2);
}

int main(void)
{
    load_fixtures();
    RUN(test_matches_skimage);
    RUN(test_constant_closed_form);
    RUN(test_shapes_and_windows);
    RUN(test_errors);
    RUN(test_bins);
    RUN(test_streams_threads);
    for (int s = 0; s < 3; s++) dfs_record_list_free(&streams[s]);
    return CHECK_DONE();
}
