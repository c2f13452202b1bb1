/* libFuzzer target: the Haar cascade XML loader (lib/face/cascade.c) on any bytes; a cascade that
 * loads is run on a small gray image, so every index it accepted is used. Run by `make fuzz`. */
#include "face/face.h"
#include "fuzz_file.h"

static void fuzz_cascade(const uint8_t *data, size_t size)
{
    dfs_cascade *c = dfs_cascade_load(fuzz_file(data, size));
    if (!c) return;
    static uint8_t px[40 * 40];
    for (int i = 0; i < 40 * 40; i++) px[i] = (uint8_t)(i * 7 + (i / 40) * 13);
    dfs_image gray = {40, 40, 1, px};
    dfs_detect_opts o;
    dfs_detect_defaults(&o);
    o.min_neighbors = 0;
    dfs_box *boxes = NULL;
    (void)dfs_cascade_detect(c, &gray, &o, &boxes);
    free(boxes);
    dfs_cascade_free(c);
}
DFS_FUZZ_ENTRY(fuzz_cascade)
