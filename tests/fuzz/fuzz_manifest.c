/* libFuzzer target: the manifest TSV parser (formats/manifest-tsv.md) and the video manifest of
 * pack --relabel (formats/video-manifest.md), both in lib/study/dataset.c, on any bytes; a relabel
 * table that loads is also applied to a record. Run by `make fuzz`. */
#include "study/dataset.h"
#include "fuzz_file.h"
#include "core/stream.h"

#include <fcntl.h>
#include <string.h>

/* The manifest read again by a bare name (no '/'), as `pack --manifest m.tsv` reads one in the
 * current directory: paths in it then get no directory prefix, a path of its own. */
static void manifest_bare(const char *path)
{
    int cwd = open(".", O_RDONLY | O_DIRECTORY);
    if (cwd < 0) return;
    const char *slash = strrchr(path, '/');
    char dir[64];
    snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    if (chdir(dir) == 0) {
        dfs_manifest m;
        if (dfs_manifest_read(slash + 1, NULL, &m) == 0) dfs_manifest_free(&m);
        if (fchdir(cwd) != 0) abort();
    }
    close(cwd);
}

static void fuzz_manifest(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size);
    dfs_manifest m;
    if (dfs_manifest_read(path, "pre", &m) == 0) dfs_manifest_free(&m);
    manifest_bare(path);
    dfs_relabel rl;
    if (dfs_relabel_read(path, &rl) == 0) {
        dfs_record r;
        dfs_record_init(&r);
        dfs_meta_set(&r, "key", "fs/000_003/f05");
        (void)dfs_relabel_apply(&rl, &r);
        dfs_record_free(&r);
        dfs_relabel_free(&rl);
    }
}
DFS_FUZZ_ENTRY(fuzz_manifest)
