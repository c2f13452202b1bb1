/* montage.h: contact sheets: a grid of equal square RGB tiles with text labels (row labels on
 * the left, column and column-group labels on top) drawn in a small built-in 5x7 bitmap font,
 * written as a PNG. Used by synth --sheet (roles x real|fake) and cam --sheet (detectors x
 * datasets, the paper's Figure 2). */
#ifndef DFS_MONTAGE_H
#define DFS_MONTAGE_H

#include <stdint.h>

#include "media/image.h"

typedef struct dfs_montage {
    int rows, cols;                  /* tiles */
    int tile;                        /* side of a tile in pixels */
    int group;                       /* columns per group; groups are set apart by a wider gap */
    int font;                        /* text scale (glyphs 7 * font px tall), 0: automatic */
    const char *const *row_labels;   /* rows strings, or NULL */
    const char *const *col_labels;   /* cols strings (one per tile column), or NULL */
    const char *const *group_labels; /* cols / group strings (one per group), or NULL */
} dfs_montage;

/* Compose the sheet (tiles[r * cols + c]: tile x tile x 3 RGB, NULL leaves the cell blank) and
 * write it as a PNG (atomically). Text is scaled by font, or when font is 0 by tile / 48 for
 * tiles of 96 px and more (else 1). When two neighbouring group labels would come closer than a
 * glyph's room, the group labels alternate between two header lines.
 * Characters outside the font (letters, digits, " -_./(),:+=") are drawn blank. */
int dfs_montage_write(const char *path, const dfs_montage *m, const uint8_t *const *tiles);

/* Draw s at (x, y) (top left) in the 5x7 font, each font pixel a scale x scale square of the
 * given gray level; a glyph advances 6 * scale pixels. Pixels outside the image are skipped. */
void dfs_draw_text(dfs_image *im, int x, int y, int scale, const char *s, uint8_t gray);

#endif
