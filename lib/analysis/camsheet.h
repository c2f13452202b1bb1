/* camsheet.h: the paper's Figure 2, a contact sheet of Grad-CAM heatmaps: a row per detector, a
 * column group per dataset, the first few heatmaps of each (detector, dataset) stream shown in
 * JET over their images (cam --sheet). The grid itself is lib/media/montage.c. */
#ifndef DFS_ANALYSIS_CAMSHEET_H
#define DFS_ANALYSIS_CAMSHEET_H

/* One cell: the heatmap stream (cam's output: f32 (S, S) in [0, 1], or --compat study's u8
 * (S, S, 3)) of detector `row` on dataset `col`. */
typedef struct dfs_camsheet_cell {
    const char *row, *col, *path;
} dfs_camsheet_cell;

/* Rows and columns in the order they first appear among the cells; a (row, col) pair without a
 * cell stays blank. Each cell shows the first per_cell heatmaps of its stream (fewer when the
 * stream is shorter), each resized to tile x tile. With images (n_images streams of u8 (S, S, 3)
 * records), an f32 heatmap is blended half and half with the image of the same key=, which must
 * be there; without, the plain JET map is shown. Labels are drawn at font scale `font` (glyphs
 * 7 * font px tall; 0: lib/media/montage.c's automatic scale). Writes the PNG atomically. */
int dfs_cam_sheet(const char *out, const dfs_camsheet_cell *cells, int n_cells, const char *const *images,
                  int n_images, int per_cell, int tile, int font);

#endif
