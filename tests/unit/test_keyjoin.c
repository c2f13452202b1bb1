/* Unit tests of lib/analysis/keyjoin.c: matching records of several streams by key. */
#include "check.h"
#include "analysis/keyjoin.h"

#include <unistd.h>

static char dir[] = "/tmp/dfs-keyjoin-XXXXXX";

/* Write a stream whose records are 1-element u8 tensors holding their index; keys from the
 * space-separated list. */
static const char *write_keys(const char *name, const char *keys)
{
    static char paths[8][300];
    static int next;
    char *path = paths[next++ % 8];
    snprintf(path, 300, "%s/%s", dir, name);
    dfs_out o;
    if (dfs_out_open(&o, path, 1, 1) != 0) { printf("# %s\n", dfs_error()); exit(1); }
    dfs_record r;
    dfs_record_init(&r);
    char *list = dfs_strdup(keys), *save = NULL;
    int i = 0;
    for (char *k = strtok_r(list, " ", &save); k; k = strtok_r(NULL, " ", &save), i++) {
        uint64_t dims[1] = {1};
        dfs_record_shape(&r, DFS_U8, 1, dims);
        ((uint8_t *)r.data)[0] = (uint8_t)i;
        if (strcmp(k, "-") != 0) dfs_meta_set(&r, "key", k);   /* "-": a record without a key */
        dfs_write_record(&o, &r);
    }
    free(list);
    dfs_record_free(&r);
    if (dfs_out_commit(&o) != 0) { printf("# %s\n", dfs_error()); exit(1); }
    return path;
}

/* Join and describe the result as "k:i,j;k:i,j;..." (record indices per stream), or "ERR:msg". */
static void join(const char *const *paths, int n, int intersect, char *out, size_t cap, uint64_t *unmatched)
{
    out[0] = 0;
    dfs_keyjoin *j = dfs_keyjoin_open(paths, n, intersect);
    if (!j) {
        snprintf(out, cap, "ERR:%s", dfs_error());
        return;
    }
    dfs_record recs[4];
    for (int s = 0; s < n; s++) dfs_record_init(&recs[s]);
    int r;
    while ((r = dfs_keyjoin_next(j, recs)) == 1) {
        char *k = dfs_meta_dup(&recs[0], "key");
        size_t len = strlen(out);
        snprintf(out + len, cap - len, "%s:", k);
        free(k);
        for (int s = 0; s < n; s++) {
            len = strlen(out);
            snprintf(out + len, cap - len, "%s%d", s ? "," : "", ((uint8_t *)recs[s].data)[0]);
        }
        len = strlen(out);
        snprintf(out + len, cap - len, ";");
    }
    if (r < 0) snprintf(out, cap, "ERR:%s", dfs_error());
    else if (unmatched)
        for (int s = 0; s < n; s++) unmatched[s] = dfs_keyjoin_unmatched(j, s);
    for (int s = 0; s < n; s++) dfs_record_free(&recs[s]);
    dfs_keyjoin_close(j);
}

static char got[2048];

static void test_same_order_and_shuffled(void)
{
    const char *p[3] = {write_keys("a", "x y z w"), write_keys("b", "x y z w"), write_keys("c", "w z x y")};
    join(p, 3, 0, got, sizeof got, NULL);
    CHECK(strcmp(got, "x:0,0,2;y:1,1,3;z:2,2,1;w:3,3,0;") == 0, "%s", got);
    join(p, 1, 0, got, sizeof got, NULL);
    CHECK(strcmp(got, "x:0;y:1;z:2;w:3;") == 0, "%s", got);
}

static void test_strict_errors(void)
{
    char want[600];
    const char *a = write_keys("a", "x y z");
    const char *p1[2] = {a, write_keys("b1", "x z")};
    join(p1, 2, 0, got, sizeof got, NULL);
    snprintf(want, sizeof want, "ERR:%s: key 'y' (%s record 1) is missing", p1[1], a);
    CHECK(strcmp(got, want) == 0, "%s", got);

    const char *p2[2] = {a, write_keys("b2", "z y q x")};
    join(p2, 2, 0, got, sizeof got, NULL);
    snprintf(want, sizeof want, "ERR:%s: record 2: key 'q' is not in %s", p2[1], a);
    CHECK(strcmp(got, want) == 0, "%s", got);

    const char *p3[2] = {a, write_keys("b3", "x y z extra")};
    join(p3, 2, 0, got, sizeof got, NULL);
    snprintf(want, sizeof want, "ERR:%s: record 3: key 'extra' is not in %s", p3[1], a);
    CHECK(strcmp(got, want) == 0, "%s", got);

    const char *p4[2] = {a, write_keys("b4", "x y x z")};
    join(p4, 2, 0, got, sizeof got, NULL);
    snprintf(want, sizeof want, "ERR:%s: record 2: duplicate key 'x' (first at record 0)", p4[1]);
    CHECK(strcmp(got, want) == 0, "%s", got);

    const char *p5[2] = {write_keys("a5", "x - y"), write_keys("b5", "x y")};
    join(p5, 2, 0, got, sizeof got, NULL);
    snprintf(want, sizeof want, "ERR:%s: record 1: no key= metadata", p5[0]);
    CHECK(strcmp(got, want) == 0, "%s", got);

    const char *p6[2] = {"-", "-"};
    join(p6, 2, 0, got, sizeof got, NULL);
    CHECK(strstr(got, "standard input can be only one") != NULL, "%s", got);

    char missing[320];
    snprintf(missing, sizeof missing, "%s/nonexistent.dft", dir);
    const char *p7[2] = {a, missing};
    join(p7, 2, 0, got, sizeof got, NULL);
    CHECK(strncmp(got, "ERR:", 4) == 0 && strstr(got, "nonexistent.dft") != NULL, "%s", got);
}

static void test_intersect(void)
{
    const char *p[3] = {write_keys("a", "x only_a y z"), write_keys("b", "z y x only_b"),
                        write_keys("c", "y x z only_c1 only_c2")};
    uint64_t um[3];
    join(p, 3, 1, got, sizeof got, um);
    CHECK(strcmp(got, "x:0,2,1;y:2,1,0;z:3,0,2;") == 0, "%s", got);
    CHECK(um[0] == 1 && um[1] == 1 && um[2] == 2, "unmatched %llu %llu %llu", (unsigned long long)um[0],
          (unsigned long long)um[1], (unsigned long long)um[2]);
    /* a key in streams 1 and 2 but not 3: its records count as unmatched in both */
    const char *q[3] = {write_keys("a2", "x y"), write_keys("b2", "y x"), write_keys("c2", "x")};
    join(q, 3, 1, got, sizeof got, um);
    CHECK(strcmp(got, "x:0,1,0;") == 0, "%s", got);
    CHECK(um[0] == 1 && um[1] == 1 && um[2] == 0, "unmatched %llu %llu %llu", (unsigned long long)um[0],
          (unsigned long long)um[1], (unsigned long long)um[2]);
    /* duplicates stay errors */
    const char *d[2] = {write_keys("a3", "x y"), write_keys("b3", "y y x")};
    join(d, 2, 1, got, sizeof got, um);
    CHECK(strstr(got, "duplicate key 'y'") != NULL, "%s", got);
}

/* Many keys in reverse order: everything is held back and found again (table growth). */
static void test_many_reversed(void)
{
    char *fwd = dfs_malloc(20000), *rev = dfs_malloc(20000);
    fwd[0] = rev[0] = 0;
    for (int i = 0; i < 200; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%d ", i);
        strcat(fwd, k);
        snprintf(k, sizeof k, "k%d ", 199 - i);
        strcat(rev, k);
    }
    const char *p[2] = {write_keys("fwd", fwd), write_keys("rev", rev)};
    static char big[20000];
    join(p, 2, 0, big, sizeof big, NULL);
    int ok = 1;
    char *s = big;
    for (int i = 0; i < 200 && ok; i++) {
        char want[32];
        snprintf(want, sizeof want, "k%d:%d,%d;", i, i % 256, (199 - i) % 256);
        ok = strncmp(s, want, strlen(want)) == 0;
        s += strlen(want);
    }
    CHECK(ok && *s == 0, "reversed join wrong near: %.60s", s);
    free(fwd);
    free(rev);
}

int main(void)
{
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    RUN(test_same_order_and_shuffled);
    RUN(test_strict_errors);
    RUN(test_intersect);
    RUN(test_many_reversed);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) printf("# could not remove %s\n", dir);
    return CHECK_DONE();
}
