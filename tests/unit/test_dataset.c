/* Unit tests of lib/study/dataset.c: labels, keys, video ids, the string map and sampling. */
#include "check.h"
#include "study/dataset.h"
#include "study/scoretsv.h"

#include <stdio.h>
#include <unistd.h>

static void test_labels(void)
{
    int l = 99;
    CHECK(dfs_label_parse("real", &l) == 0 && l == 0, "real");
    CHECK(dfs_label_parse("1", &l) == 0 && l == 1, "1");
    CHECK(dfs_label_parse("-1", &l) == 0 && l == -1, "-1");
    CHECK(dfs_label_parse("Real", &l) != 0, "labels are case-sensitive");
    CHECK(dfs_label_parse("", &l) != 0, "empty label");
    CHECK(strcmp(dfs_label_name(1), "fake") == 0 && strcmp(dfs_label_name(-1), "unknown") == 0, "names");
}

static void key_is(const char *path, const char *root, const char *prefix, const char *want)
{
    char *k = NULL;
    int rv = dfs_key_from_path(path, root, prefix, &k);
    if (want) CHECK(rv == 0 && strcmp(k, want) == 0, "%s -> %s (%s)", path, rv ? dfs_error() : k, want);
    else CHECK(rv != 0, "%s should have no key, got %s", path, k ? k : "?");
    free(k);
}

static void test_keys(void)
{
    key_is("a/b/f01.png", NULL, NULL, "a/b/f01");
    key_is("./a//./b/f01.png", NULL, NULL, "a/b/f01");
    key_is("f.tar.png", NULL, "fs", "fs/f.tar");
    key_is("a/.hidden", NULL, NULL, "a/.hidden");
    key_is("/data/x/000_003/f05.png", "/data/x/", "fs", "fs/000_003/f05");
    key_is("data/x/f.png", "./data", NULL, "x/f");
    key_is("/data/x/f.png", NULL, NULL, NULL);
    key_is("a/../b.png", NULL, NULL, NULL);
    key_is("data/f.png", "other", NULL, NULL);
    key_is("data", "data", NULL, NULL);
    CHECK(dfs_key_check("a/b") == 0, "a/b");
    CHECK(dfs_key_check("a//b") != 0, "empty component");
    CHECK(dfs_key_check("a/b/") != 0, "trailing slash");
    CHECK(dfs_key_check("/a") != 0, "absolute");
    CHECK(dfs_key_check("a/./b") != 0, ".");
    CHECK(dfs_key_check("a\tb") != 0, "tab");
    CHECK(dfs_key_check("a\xff") != 0, "invalid UTF-8");
    CHECK(dfs_key_check("caf\xc3\xa9/x") == 0, "UTF-8 is fine");
}

/* One rule for the video of a key, whoever asks: the video id (relabelling), a split by video
 * and video-level scores agree for keys with and without '/'. Before, a key without '/' was its
 * own video for the first two and had no video for the scores. */
static void test_video_id(void)
{
    static const struct { const char *key, *video; } C[] = {
        {"fs/000_003/f05", "fs/000_003"},                 /* FaceForensics++ method/source_target */
        {"celeb/id3_id7_0004/f05", "celeb/id3_id7_0004"}, /* Celeb-DF */
        {"dfd/01_02__kitchen__ABCD1234/f00", "dfd/01_02__kitchen__ABCD1234"},
        {"a/b/c/d", "a/b/c"},
        {"a/b", "a"},
        {"single", NULL},
        {"f05", NULL},
    };
    char dir[] = "/tmp/test_dataset.XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    char path[64];
    snprintf(path, sizeof path, "%s/s.tsv", dir);
    for (size_t i = 0; i < sizeof C / sizeof C[0]; i++) {
        const char *key = C[i].key, *want = C[i].video;
        char *v = dfs_video_id(key);
        CHECK(want ? v && !strcmp(v, want) : !v && strstr(dfs_error(), "has no video part") != NULL, "%s -> %s (%s)",
              key, v ? v : dfs_error(), want ? want : "none");
        free(v);
        CHECK(dfs_video_len(key) == (want ? strlen(want) : 0), "%s: length %zu", key, dfs_video_len(key));
        /* a split by video: two frames of this key's video (or the key alone and another) */
        char other[64];
        snprintf(other, sizeof other, "%.*s%sother", (int)dfs_video_len(key), key, want ? "/" : "");
        dfs_sample_item items[2] = {{key, 1}, {other, 1}};
        dfs_sample_opts o = {.seed = 1, .take = -1, .split = 0.5, .by_video = 1};
        size_t *a = NULL, *b = NULL, na = 0, nb = 0, bad = 9;
        int rv = dfs_sample(items, 2, &o, &a, &na, &b, &nb, &bad);
        CHECK(want ? rv == 0 && (na == 2 || nb == 2) : rv != 0 && bad == 0 && strstr(dfs_error(), "has no video part"),
              "%s: split by video %s", key, rv ? dfs_error() : "ok");
        free(a);
        free(b);
        /* video-level scores of a file holding this key */
        FILE *f = fopen(path, "w");
        CHECK(f != NULL, "%s", path);
        if (!f) continue;
        fprintf(f, "key\tdataset\tlabel\tp_fake\n%s\tx\t1\t0.5\n", key);
        fclose(f);
        dfs_score_file sf;
        dfs_score_units u;
        CHECK(dfs_score_read(path, &sf) == 0, "%s", dfs_error());
        rv = dfs_score_videos(&sf, &u);
        CHECK(want ? rv == 0 && u.n == 1 : rv != 0 && strstr(dfs_error(), "has no video part") != NULL,
              "%s: video level %s", key, rv ? dfs_error() : "ok");
        dfs_score_units_free(&u);
        dfs_score_free(&sf);
    }
    remove(path);
    rmdir(dir);
}

static void test_strmap(void)
{
    dfs_strmap m;
    dfs_strmap_init(&m);
    char buf[32];
    int found;
    for (size_t i = 0; i < 1000; i++) {
        snprintf(buf, sizeof buf, "k%zu", i);
        CHECK(dfs_strmap_put(&m, buf, i, &found) == i && !found, "insert %zu", i);
    }
    CHECK(m.n == 1000, "n = %zu", m.n);
    size_t v = 0;
    CHECK(dfs_strmap_put(&m, "k417", 5, &found) == 417 && found, "existing value kept");
    CHECK(dfs_strmap_get(&m, "k999", &v) == 1 && v == 999, "get");
    CHECK(dfs_strmap_get(&m, "k1000", &v) == 0, "absent");
    dfs_strmap_free(&m);
    CHECK(dfs_strmap_get(&m, "k1", &v) == 0, "empty map");
}

/* 12 videos x 4 frames, alternating labels per video */
#define NV 12
#define NF 4
static char keybuf[NV * NF][32];
static dfs_sample_item items[NV * NF];

static void make_items(void)
{
    for (int v = 0; v < NV; v++)
        for (int f = 0; f < NF; f++) {
            int i = v * NF + f;
            snprintf(keybuf[i], sizeof keybuf[i], "%s/v%02d/f%d", v % 2 ? "fake" : "real", v, f);
            items[i] = (dfs_sample_item){keybuf[i], v % 2};
        }
}

static void test_sample_basic(void)
{
    make_items();
    size_t *a, *b, na, nb, bad;
    dfs_sample_opts o = {.seed = 1, .take = -1, .split = -1, .by_video = 1};
    CHECK(dfs_sample(items, NV * NF, &o, &a, &na, &b, &nb, &bad) == 0, "%s", dfs_error());
    CHECK(na == NV * NF && nb == 0 && b == NULL, "identity");
    for (size_t i = 0; i < na; i++) CHECK(a[i] == i, "order kept at %zu", i);
    free(a);
    o.take = 5;
    dfs_sample(items, NV * NF, &o, &a, &na, &b, &nb, &bad);
    CHECK(na == 5 && a[4] == 4, "take");
    free(a);
    /* shuffle: a permutation, the same for a seed */
    o.take = -1;
    o.shuffle = 1;
    size_t *a2, na2;
    dfs_sample(items, NV * NF, &o, &a, &na, &b, &nb, &bad);
    dfs_sample(items, NV * NF, &o, &a2, &na2, &b, &nb, &bad);
    int seen[NV * NF] = {0}, same = 1, moved = 0;
    for (size_t i = 0; i < na; i++) {
        seen[a[i]]++;
        same &= a[i] == a2[i];
        moved += a[i] != i;
    }
    for (int i = 0; i < NV * NF; i++) CHECK(seen[i] == 1, "index %d seen %d times", i, seen[i]);
    CHECK(same && moved > NV * NF / 2, "deterministic and shuffled (moved %d)", moved);
    free(a);
    free(a2);
}

static void test_sample_balance(void)
{
    make_items();
    /* make 3 real videos fake: 3 real videos (12 frames), 9 fake (36) */
    dfs_sample_item it[NV * NF];
    memcpy(it, items, sizeof it);
    for (int i = 0; i < 3 * NF; i++) it[i * 2 % (NV * NF)].label = 1;
    int nreal = 0;
    for (int i = 0; i < NV * NF; i++) nreal += it[i].label == 0;
    size_t *a, *b, na, nb, bad;
    dfs_sample_opts o = {.seed = 1, .balance = 1, .take = -1, .split = -1};
    CHECK(dfs_sample(it, NV * NF, &o, &a, &na, &b, &nb, &bad) == 0, "%s", dfs_error());
    int r = 0, f = 0;
    for (size_t i = 0; i < na; i++) { if (it[a[i]].label) f++; else r++; }
    CHECK(r == nreal && f == nreal, "balanced %d/%d of %d", r, f, nreal);
    free(a);
    o.take = 7;
    dfs_sample(it, NV * NF, &o, &a, &na, &b, &nb, &bad);
    CHECK(na == 6, "take 7 balanced -> 3 + 3, got %zu", na);
    free(a);
    it[5].label = -1;
    bad = 0;
    CHECK(dfs_sample(it, NV * NF, &o, &a, &na, &b, &nb, &bad) != 0 && bad == 5 &&
              !strcmp(dfs_error(), "label unknown; balancing needs every sample labelled real or fake"),
          "unknown label refused: %zu %s", bad, dfs_error());
}

static void test_sample_split(void)
{
    make_items();
    for (double frac = 0; frac <= 1.0; frac += 0.25) {
        size_t *a, *b, na, nb, bad;
        dfs_sample_opts o = {.seed = 9, .take = -1, .split = frac, .by_video = 1};
        CHECK(dfs_sample(items, NV * NF, &o, &a, &na, &b, &nb, &bad) == 0, "%s", dfs_error());
        CHECK(na + nb == NV * NF, "everything lands somewhere");
        int side[NV];
        for (int v = 0; v < NV; v++) side[v] = -1;
        int ok = 1, ra = 0;
        for (size_t i = 0; i < na; i++) {
            int v = (int)a[i] / NF;
            ok &= side[v] != 0;
            side[v] = 1;
            ra += items[a[i]].label == 0;
        }
        for (size_t i = 0; i < nb; i++) {
            int v = (int)b[i] / NF;
            ok &= side[v] != 1;
            side[v] = 0;
        }
        CHECK(ok, "a video on both sides at fraction %g", frac);
        /* 6 real videos of 4 frames: A gets the multiple of 4 nearest frac * 24 */
        CHECK(abs(ra - (int)(frac * 24 + 0.5)) <= 2, "fraction %g: %d real frames in A", frac, ra);
        for (size_t i = 1; i < na; i++) CHECK(a[i] > a[i - 1], "input order kept in A");
        free(a);
        free(b);
    }
    /* by record: any division, still exact counts */
    size_t *a, *b, na, nb, bad;
    dfs_sample_opts o = {.seed = 9, .take = -1, .split = 0.3, .by_video = 0};
    dfs_sample(items, NV * NF, &o, &a, &na, &b, &nb, &bad);
    CHECK(na == 14, "round(0.3 * 24) * 2 = 14, got %zu", na);
    free(a);
    free(b);
    dfs_sample_item nokey[2] = {{"a/1", 0}, {NULL, 0}};
    o.by_video = 1;
    bad = 0;
    CHECK(dfs_sample(nokey, 2, &o, &a, &na, &b, &nb, &bad) != 0 && bad == 1 &&
              !strcmp(dfs_error(), "no key; splitting by video needs the key= of every sample"),
          "missing key: %zu %s", bad, dfs_error());
}

int main(void)
{
    RUN(test_labels);
    RUN(test_keys);
    RUN(test_video_id);
    RUN(test_strmap);
    RUN(test_sample_basic);
    RUN(test_sample_balance);
    RUN(test_sample_split);
    return CHECK_DONE();
}
