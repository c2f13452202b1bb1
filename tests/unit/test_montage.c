/* Unit tests of lib/media/montage.c: sheet geometry, tile placement, labels, bad layouts. */
#include "check.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/common.h"
#include "media/image.h"
#include "media/montage.h"

static char path[256];

static const uint8_t *px(const dfs_image *im, int x, int y) { return im->px + ((size_t)y * im->w + x) * 3; }

/* any pixel of the box brighter than the background (text is drawn at 235 on 24) */
static int has_text(const dfs_image *im, int x0, int y0, int x1, int y1)
{
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++)
            if (px(im, x, y)[0] == 235) return 1;
    return 0;
}

static void test_grid(void)
{
    enum { T = 32 };
    uint8_t *tiles[6];
    for (int i = 0; i < 6; i++) {
        tiles[i] = malloc(T * T * 3);
        for (int p = 0; p < T * T; p++) {
            tiles[i][p * 3] = (uint8_t)(100 + i);   /* tile id in red, position in green/blue */
            tiles[i][p * 3 + 1] = (uint8_t)(p % T);
            tiles[i][p * 3 + 2] = (uint8_t)(p / T);
        }
    }
    const char *rows[2] = {"MesoNet1", "NT-I"}, *groups[1] = {"CELEB"};
    const uint8_t *grid[6] = {tiles[0], tiles[1], tiles[2], tiles[3], NULL, tiles[5]};
    dfs_montage m = {.rows = 2, .cols = 3, .tile = T, .group = 3, .row_labels = rows, .group_labels = groups};
    CHECK(dfs_montage_write(path, &m, grid) == 0, "%s", dfs_error());
    dfs_image im = {0};
    CHECK(dfs_png_read(path, &im) == 0, "%s", dfs_error());
    /* label column: (longest label 8 + 1) glyphs of 6 px + 4; one header line of 13 px; gap 1 */
    int lw = 9 * 6 + 4, head = 13;
    CHECK(im.w == lw + 3 * T + 2 && im.h == head + 2 * (T + 1), "sheet %dx%d", im.w, im.h);
    for (int r = 0; r < 2; r++)
        for (int c = 0; c < 3; c++) {
            const uint8_t *a = px(&im, lw + c * T + 5, head + r * (T + 1) + 7);
            if (r == 1 && c == 1) {
                CHECK(a[0] == 24 && a[1] == 24, "a NULL tile is left blank");
                continue;
            }
            CHECK(a[0] == 100 + r * 3 + c && a[1] == 5 && a[2] == 7, "tile (%d,%d) at its place: %d %d %d", r, c, a[0],
                  a[1], a[2]);
        }
    CHECK(has_text(&im, 0, head, lw, head + T), "row label drawn");
    CHECK(has_text(&im, lw, 0, im.w, head), "group label drawn");
    CHECK(!has_text(&im, 0, 0, lw, head), "nothing above the row labels");
    dfs_image_free(&im);
    for (int i = 0; i < 6; i++) free(tiles[i]);
}

/* group labels that would run into their neighbours alternate between two header lines; labels
 * with room stay on one; font sets the text scale whatever the tile */
static void test_group_labels(void)
{
    enum { T = 16 };
    const uint8_t *grid[3] = {0};
    const char *wide[3] = {"CELEB", "CELEB-M", "F2F"}, *narrow[3] = {"A", "B", "C"};
    dfs_montage m = {.rows = 1, .cols = 3, .tile = T, .group = 1, .font = 2, .group_labels = wide};
    CHECK(dfs_montage_write(path, &m, grid) == 0, "%s", dfs_error());
    dfs_image im = {0};
    CHECK(dfs_png_read(path, &im) == 0, "%s", dfs_error());
    int lw = 8 * 12 + 8, line = 26;   /* font 2: 8 glyphs of 12 px + 8; 13 px lines doubled; gap 1 */
    CHECK(im.w == lw + 3 * T + 3 * 2 && im.h == 2 * line + T + 1, "staggered sheet %dx%d", im.w, im.h);
    /* CELEB and F2F on the first line, CELEB-M on the second, glyphs 14 px tall from y = 6 */
    CHECK(has_text(&im, lw, line, im.w, 2 * line), "the middle label on the second line");
    CHECK(has_text(&im, lw, 6, lw + T, 7 * 2 + 6) && !has_text(&im, lw, 0, lw + T, 6), "14 px glyphs from y = 6");
    dfs_image_free(&im);
    m.group_labels = narrow;   /* 1 glyph each, 34 px apart: room for (12 + 12) / 2 + 12 */
    m.tile = 2 * T;
    CHECK(dfs_montage_write(path, &m, grid) == 0, "%s", dfs_error());
    CHECK(dfs_png_read(path, &im) == 0, "%s", dfs_error());
    CHECK(im.h == line + 2 * T + 1, "one header line when the labels have room: height %d", im.h);
    dfs_image_free(&im);
    m.font = -1;
    CHECK(dfs_montage_write(path, &m, grid) != 0 && strstr(dfs_error(), "font scale"), "negative font scale");
}

static void test_text(void)
{
    dfs_image im = {0};
    CHECK(dfs_image_alloc(&im, 40, 10, 3) == 0, "alloc");
    memset(im.px, 0, 40 * 10 * 3);
    dfs_draw_text(&im, 0, 0, 1, "~ ~", 200);   /* outside the font: blank */
    CHECK(!has_text(&im, 0, 0, 40, 10) && im.px[0] == 0, "unknown glyphs draw nothing");
    dfs_draw_text(&im, 0, 0, 1, "I", 235);     /* 'I': top row 0x0E = columns 1..3 */
    CHECK(px(&im, 0, 0)[0] == 0 && px(&im, 1, 0)[0] == 235 && px(&im, 3, 0)[0] == 235 && px(&im, 4, 0)[0] == 0,
          "glyph rows are drawn from the font's bits");
    dfs_draw_text(&im, 36, 8, 2, "W", 235);    /* clipped at the image's edge, no overflow */
    dfs_image_free(&im);
}

static void test_bad_layout(void)
{
    unlink(path);
    const uint8_t *grid[4] = {0};
    dfs_montage m = {.rows = 2, .cols = 3, .tile = 8, .group = 2};
    CHECK(dfs_montage_write(path, &m, grid) != 0 && strstr(dfs_error(), "bad layout"), "columns not a multiple of the group");
    m.cols = 2;
    m.tile = 0;
    CHECK(dfs_montage_write(path, &m, grid) != 0, "zero tile");
    CHECK(access(path, F_OK) != 0, "no file written on error");
}

int main(void)
{
    snprintf(path, sizeof path, "%s/dfs-montage-%d.png", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    RUN(test_grid);
    RUN(test_group_labels);
    RUN(test_text);
    RUN(test_bad_layout);
    unlink(path);
    return CHECK_DONE();
}
