/* libFuzzer target: the score TSV parser (lib/study/scoretsv.c, formats/score-tsv.md) on any bytes,
 * then the frame and video grouping the metrics use. Run by `make fuzz`. */
#include "fuzz_file.h"
#include "study/scoretsv.h"

static void fuzz_scoretsv(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size);
    dfs_score_file f;
    if (dfs_score_read(path, &f) != 0) return;
    dfs_score_units u;
    dfs_score_frames(&f, &u);
    dfs_score_units_free(&u);
    if (dfs_score_videos(&f, &u) == 0) dfs_score_units_free(&u);
    dfs_score_free(&f);
}
DFS_FUZZ_ENTRY(fuzz_scoretsv)
