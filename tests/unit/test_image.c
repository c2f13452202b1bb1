/* Unit tests of PNG I/O, resizing and image records (lib/media/image.c), plus the fuzz regressions. */
#include "check.h"
#include "media/image.h"

#include <dirent.h>
#include <png.h>
#include <unistd.h>

static char dir[64];

/* Write a PNG of an arbitrary colour type / depth with libpng directly, to test conversions. */
static void write_raw_png(const char *path, int w, int h, int color_type, int depth, const uint8_t *rows_data,
                          size_t stride, const png_color *palette, int npal, const png_byte *trns, int ntrns)
{
    FILE *f = fopen(path, "wb");
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    png_init_io(png, f);
    png_set_IHDR(png, info, w, h, depth, color_type, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (palette) png_set_PLTE(png, info, palette, npal);
    if (trns) png_set_tRNS(png, info, trns, ntrns, NULL);
    png_write_info(png, info);
    for (int y = 0; y < h; y++) png_write_row(png, (png_bytep)(rows_data + y * stride));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    fclose(f);
}

static void test_rgb_round_trip(void)
{
    dfs_image im = {0}, back = {0};
    dfs_image_alloc(&im, 7, 5, 3);
    for (int i = 0; i < 7 * 5 * 3; i++) im.px[i] = (uint8_t)(i * 37 + 11);
    char path[128];
    snprintf(path, sizeof path, "%s/rgb.png", dir);
    CHECK(dfs_png_write(path, &im) == 0, "%s", dfs_error());
    CHECK(dfs_png_read(path, &back) == 0, "%s", dfs_error());
    CHECK(back.w == 7 && back.h == 5 && back.c == 3, "shape %dx%dx%d", back.w, back.h, back.c);
    CHECK(memcmp(im.px, back.px, 7 * 5 * 3) == 0, "pixels differ after round trip");
    dfs_image_free(&im);
    dfs_image_free(&back);
}

static void test_conversions(void)
{
    char path[128];
    dfs_image im;
    /* 8-bit gray -> replicated RGB */
    uint8_t gray[2 * 3] = {0, 50, 100, 150, 200, 255};
    snprintf(path, sizeof path, "%s/gray.png", dir);
    write_raw_png(path, 3, 2, PNG_COLOR_TYPE_GRAY, 8, gray, 3, NULL, 0, NULL, 0);
    CHECK(dfs_png_read(path, &im) == 0, "%s", dfs_error());
    CHECK(im.c == 3 && im.px[3 * 4] == 200 && im.px[3 * 4 + 1] == 200 && im.px[3 * 4 + 2] == 200, "gray");
    dfs_image_free(&im);
    /* 16-bit RGB -> high bytes */
    uint8_t rgb16[1 * 2 * 6] = {0x12, 0x34, 0xab, 0xcd, 0xff, 0xff, 0x00, 0x01, 0x80, 0x00, 0x7f, 0xff};
    snprintf(path, sizeof path, "%s/rgb16.png", dir);
    write_raw_png(path, 2, 1, PNG_COLOR_TYPE_RGB, 16, rgb16, 12, NULL, 0, NULL, 0);
    CHECK(dfs_png_read(path, &im) == 0, "%s", dfs_error());
    CHECK(im.px[0] == 0x12 && im.px[1] == 0xab && im.px[2] == 0xff && im.px[3] == 0 && im.px[4] == 0x80 &&
              im.px[5] == 0x7f, "16-bit: %d %d %d %d %d %d", im.px[0], im.px[1], im.px[2], im.px[3], im.px[4], im.px[5]);
    dfs_image_free(&im);
    /* palette with transparency -> RGB colours, alpha dropped */
    png_color pal[2] = {{10, 20, 30}, {200, 100, 50}};
    png_byte trns[2] = {0, 255};
    uint8_t idx[4] = {0, 1, 1, 0};
    snprintf(path, sizeof path, "%s/pal.png", dir);
    write_raw_png(path, 4, 1, PNG_COLOR_TYPE_PALETTE, 8, idx, 4, pal, 2, trns, 2);
    CHECK(dfs_png_read(path, &im) == 0, "%s", dfs_error());
    CHECK(im.px[0] == 10 && im.px[1] == 20 && im.px[2] == 30 && im.px[3] == 200, "palette");
    dfs_image_free(&im);
    /* RGBA -> RGB (alpha dropped, colour kept) */
    uint8_t rgba[8] = {1, 2, 3, 0, 250, 251, 252, 128};
    snprintf(path, sizeof path, "%s/rgba.png", dir);
    write_raw_png(path, 2, 1, PNG_COLOR_TYPE_RGB_ALPHA, 8, rgba, 8, NULL, 0, NULL, 0);
    CHECK(dfs_png_read(path, &im) == 0, "%s", dfs_error());
    CHECK(im.c == 3 && im.px[0] == 1 && im.px[3] == 250 && im.px[5] == 252, "rgba");
    dfs_image_free(&im);
    /* 1-bit gray */
    uint8_t bits[1] = {0xA0};
    snprintf(path, sizeof path, "%s/bits.png", dir);
    write_raw_png(path, 3, 1, PNG_COLOR_TYPE_GRAY, 1, bits, 1, NULL, 0, NULL, 0);
    CHECK(dfs_png_read(path, &im) == 0, "%s", dfs_error());
    CHECK(im.px[0] == 255 && im.px[3] == 0 && im.px[6] == 255, "1-bit gray %d %d %d", im.px[0], im.px[3], im.px[6]);
    dfs_image_free(&im);
}

static void test_bad_png(void)
{
    char path[128];
    dfs_image im;
    snprintf(path, sizeof path, "%s/text.png", dir);
    FILE *f = fopen(path, "w");
    fputs("not a png at all", f);
    fclose(f);
    CHECK(dfs_png_read(path, &im) != 0 && strstr(dfs_error(), "not a PNG") && strstr(dfs_error(), path),
          "text file: %s", dfs_error());
    /* a truncated PNG */
    dfs_image ok = {0};
    dfs_image_alloc(&ok, 16, 16, 3);
    memset(ok.px, 7, 16 * 16 * 3);
    snprintf(path, sizeof path, "%s/trunc.png", dir);
    dfs_png_write(path, &ok);
    dfs_image_free(&ok);
    CHECK(truncate(path, 60) == 0, "truncate");
    CHECK(dfs_png_read(path, &im) != 0 && strstr(dfs_error(), "corrupt PNG"), "truncated: %s", dfs_error());
    CHECK(dfs_png_read("/nonexistent/x.png", &im) != 0 && strstr(dfs_error(), "/nonexistent/x.png"), "missing");
}

/* the signature decides, not the name: a truncated PNG is one, text and a 7-byte prefix are not */
static void test_png_sniff(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/trunc.png", dir);   /* test_bad_png's 60 bytes of a PNG */
    CHECK(dfs_png_sniff(path) == 1, "truncated PNG: %s", dfs_error());
    CHECK(truncate(path, 7) == 0, "truncate");
    CHECK(dfs_png_sniff(path) == 0, "7 bytes of the signature");
    snprintf(path, sizeof path, "%s/text.png", dir);
    CHECK(dfs_png_sniff(path) == 0, "text");
    CHECK(dfs_png_sniff("/nonexistent/x.png") == -1 && strstr(dfs_error(), "/nonexistent/x.png: No such file"), "%s",
          dfs_error());
    CHECK(dfs_png_sniff(dir) == -1 && strstr(dfs_error(), "Is a directory"), "a directory: %s", dfs_error());
}

static void test_resize(void)
{
    dfs_image a = {0}, b = {0}, c = {0};
    dfs_image_alloc(&a, 4, 4, 3);
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 4; x++)
            for (int k = 0; k < 3; k++) a.px[(y * 4 + x) * 3 + k] = (uint8_t)(x < 2 ? 0 : 200);
    dfs_image_resize_area(&a, &b, 2, 2);
    CHECK(b.px[0] == 0 && b.px[3] == 200, "area 2x: %d %d", b.px[0], b.px[3]);
    dfs_image_resize_area(&a, &c, 3, 3);   /* non-integer factor: middle column mixes 1/2 and 1/2 */
    CHECK(c.px[3] == 100, "area 4->3 middle = %d", c.px[3]);
    dfs_image_free(&c);
    dfs_image_resize_bilinear(&b, &c, 4, 4);   /* half-pixel centres: 0, 50, 150, 200 */
    CHECK(c.px[0] == 0 && c.px[3] == 50 && c.px[6] == 150 && c.px[9] == 200, "bilinear: %d %d %d %d", c.px[0],
          c.px[3], c.px[6], c.px[9]);
    dfs_image_free(&a);
    dfs_image_free(&b);
    dfs_image_free(&c);
}

/* A size past the image limit is an error the caller gets back (the library used to exit). */
static void test_resize_too_large(void)
{
    dfs_image a = {0}, d = {0};
    dfs_image_alloc(&a, 4, 4, 3);
    memset(a.px, 7, 4 * 4 * 3);
    int (*const fns[3])(const dfs_image *, dfs_image *, int, int) = {dfs_image_resize, dfs_image_resize_bilinear,
                                                                     dfs_image_resize_area};
    for (int i = 0; i < 3; i++) {
        dfs_fail("none");
        CHECK(fns[i](&a, &d, 32768, 32768) == -1, "resize %d to 32768x32768", i);
        CHECK(!strcmp(dfs_error(), "image size 32768x32768x3 outside the supported range"), "%d: %s", i, dfs_error());
        CHECK(d.px == NULL && d.w == 0, "dst untouched (%d)", i);
        CHECK(fns[i](&a, &d, 0, 2) == -1, "resize %d to 0x2", i);
    }
    dfs_image_free(&a);
}

static void test_record(void)
{
    dfs_image a = {0}, b = {0};
    dfs_image_alloc(&a, 3, 2, 3);
    for (int i = 0; i < 18; i++) a.px[i] = (uint8_t)i;
    dfs_record r;
    dfs_record_init(&r);
    CHECK(dfs_image_to_record(&a, &r) == 0 && dfs_record_is_image(&r), "to record");
    CHECK(r.dims[0] == 2 && r.dims[1] == 3 && r.dims[2] == 3, "HWC order");
    CHECK(dfs_image_from_record(&r, &b) == 0 && memcmp(a.px, b.px, 18) == 0, "from record");
    uint64_t d[2] = {2, 3};
    dfs_record_shape(&r, DFS_F32, 2, d);
    dfs_image_free(&b);
    CHECK(dfs_image_from_record(&r, &b) != 0 && strstr(dfs_error(), "f32 2x3"), "f32 rejected: %s", dfs_error());
    dfs_record_free(&r);
    dfs_image_free(&a);
}

/* Every input a fuzzer once crashed on stays a test (tests/fuzz/regressions/<target>/). */
static void test_fuzz_regressions(void)
{
    const char *targets[] = {"fuzz_png", "fuzz_stream"};
    for (int t = 0; t < 2; t++) {
        char path[512];
        snprintf(path, sizeof path, "tests/fuzz/regressions/%s", targets[t]);
        DIR *d = opendir(path);
        CHECK(d != NULL, "missing %s (run from the repository root)", path);
        if (!d) continue;
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.') continue;
            char file[1024];
            snprintf(file, sizeof file, "%s/%s", path, e->d_name);
            FILE *f = fopen(file, "rb");
            static uint8_t buf[1 << 20];
            size_t n = fread(buf, 1, sizeof buf, f);
            fclose(f);
            if (t == 0) {
                dfs_image im;
                if (dfs_png_read_mem(buf, n, file, &im) == 0) dfs_image_free(&im);
            } else {
                (void)dfs_stream_check_buffer(buf, n);
            }
        }
        closedir(d);
    }
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/dfs-image-XXXXXX");
    if (!mkdtemp(dir)) return 1;
    RUN(test_rgb_round_trip);
    RUN(test_conversions);
    RUN(test_bad_png);
    RUN(test_png_sniff);
    RUN(test_resize);
    RUN(test_resize_too_large);
    RUN(test_record);
    RUN(test_fuzz_regressions);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) printf("# could not remove %s\n", dir);
    return CHECK_DONE();
}
