/* test_fuzz: the fuzz targets of the path-taking loaders (tests/fuzz/fuzz_{checkpoint,manifest,
 * scoretsv,cascade,shape}.c), compiled into the normal build and replayed on
 *  - every seed (tests/fuzz/seeds/<target>/), which must also load: a seed the loader refuses
 *    teaches the fuzzer nothing about the accepting paths;
 *  - every input a fuzzer once found a crash, a leak or a huge allocation with
 *    (tests/fuzz/regressions/<target>/), which must now be refused or loaded without harm;
 *    under `make sanitize` ASan and UBSan watch them. Outside ASan (whose shadow memory needs a
 *    huge address space) the replay runs with 1 GiB of address space to spare, so an input that
 *    once asked for gigabytes fails loudly here ("out of memory allocating N bytes", exit 1)
 *    should its size check ever go, instead of passing on an overcommitting kernel.
 * Run from the repository root (tests/run.sh does). */
#define DFS_FUZZ_REPLAY
#include "../fuzz/fuzz_checkpoint.c"
#include "../fuzz/fuzz_manifest.c"
#include "../fuzz/fuzz_scoretsv.c"
#include "../fuzz/fuzz_cascade.c"
#include "../fuzz/fuzz_shape.c"

#include <dirent.h>
#include <string.h>
#include <sys/resource.h>

#include "check.h"

typedef struct target {
    const char *name;
    void (*one)(const uint8_t *, size_t);
    int (*loads)(const char *path);   /* the seed check: 1 when the file loads */
} target;

static int ckpt_loads(const char *path)
{
    nn_ckpt_info info;
    nn_graph *g = nn_checkpoint_load(path, NULL, &info);
    if (!g) return 0;
    nn_graph_free(g);
    nn_ckpt_info_free(&info);
    return 1;
}

static int manifest_loads(const char *path)
{
    dfs_manifest m;
    dfs_relabel rl;
    if (dfs_manifest_read(path, NULL, &m) == 0) {
        dfs_manifest_free(&m);
        return 1;
    }
    if (dfs_relabel_read(path, &rl) == 0) {
        dfs_relabel_free(&rl);
        return 1;
    }
    return 0;
}

static int scores_load(const char *path)
{
    dfs_score_file f;
    if (dfs_score_read(path, &f) != 0) return 0;
    dfs_score_free(&f);
    return 1;
}

static int cascade_loads(const char *path)
{
    dfs_cascade *c = dfs_cascade_load(path);
    dfs_cascade_free(c);
    return c != NULL;
}

static int shape_loads(const char *path)
{
    dfs_shape_model *m = dfs_shape_model_load(path);
    dfs_shape_model_free(m);
    return m != NULL;
}

static const target targets[] = {
    {"fuzz_checkpoint", fuzz_checkpoint, ckpt_loads},
    {"fuzz_manifest", fuzz_manifest, manifest_loads},
    {"fuzz_scoretsv", fuzz_scoretsv, scores_load},
    {"fuzz_cascade", fuzz_cascade, cascade_loads},
    {"fuzz_shape", fuzz_shape, shape_loads},
};

/* Feed every file of dir to t; seeds must also load. Returns how many files were fed. */
static int replay(const target *t, const char *kind)
{
    char dir[256];
    snprintf(dir, sizeof dir, "tests/fuzz/%s/%s", kind, t->name);
    DIR *d = opendir(dir);
    CHECK(d != NULL, "missing %s (run from the repository root)", dir);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char file[512];
        snprintf(file, sizeof file, "%s/%s", dir, e->d_name);
        FILE *f = fopen(file, "rb");
        CHECK(f != NULL, "cannot read %s", file);
        if (!f) continue;
        fseek(f, 0, SEEK_END);
        long len = ftell(f);
        fseek(f, 0, SEEK_SET);
        uint8_t *buf = dfs_malloc((size_t)len + 1);
        size_t got = fread(buf, 1, (size_t)len, f);
        fclose(f);
        t->one(buf, got);
        if (!strcmp(kind, "seeds")) CHECK(t->loads(file), "seed %s does not load: %s", file, dfs_error());
        free(buf);
        n++;
    }
    closedir(d);
    return n;
}

static void test_seeds(void)
{
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++)
        CHECK(replay(&targets[i], "seeds") > 0, "%s has no seeds", targets[i].name);
}

static void test_regressions(void)
{
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) replay(&targets[i], "regressions");
}

#if !defined(__SANITIZE_ADDRESS__)
/* Address space in use now, from /proc/self/status (VmSize, kB); 0 when unknown. */
static unsigned long long vm_size(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    unsigned long long kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmSize: %llu kB", &kb) == 1) break;
    if (f) fclose(f);
    return kb * 1024;
}
#endif

int main(void)
{
#if !defined(__SANITIZE_ADDRESS__)
    unsigned long long now = vm_size();
    if (now) {
        struct rlimit rl = {now + (1ull << 30), now + (1ull << 30)};
        setrlimit(RLIMIT_AS, &rl);
    }
#endif
    RUN(test_seeds);
    RUN(test_regressions);
    return CHECK_DONE();
}
