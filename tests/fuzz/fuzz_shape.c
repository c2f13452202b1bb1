/* libFuzzer target: the dlib shape_predictor loader (lib/face/shape.c) on any bytes; a model that
 * loads predicts landmarks in a small gray image, so every index it accepted is used. Run by
 * `make fuzz`. */
#include "face/face.h"
#include "fuzz_file.h"

static void fuzz_shape(const uint8_t *data, size_t size)
{
    dfs_shape_model *m = dfs_shape_model_load(fuzz_file(data, size));
    if (!m) return;
    static uint8_t px[32 * 32];
    for (int i = 0; i < 32 * 32; i++) px[i] = (uint8_t)(i * 5 + (i / 32) * 11);
    dfs_image gray = {32, 32, 1, px};
    float *pts = malloc((size_t)dfs_shape_model_points(m) * 2 * sizeof *pts);
    dfs_shape_predict(m, &gray, (dfs_box){4, 4, 24, 24}, pts);
    free(pts);
    dfs_shape_model_free(m);
}
DFS_FUZZ_ENTRY(fuzz_shape)
