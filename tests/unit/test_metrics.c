/* Unit tests of lib/study/metrics.c, lib/study/scoretsv.c and the study config of lib/study/scoretables.c:
 * hand-worked cases, the scikit-learn fixture (tests/make-fixtures-metrics.py), the weighted path
 * against expanded samples, and the bootstrap against a direct resampling. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "core/common.h"
#include "study/metrics.h"
#include "core/rng.h"
#include "study/scoretables.h"
#include "study/scoretsv.h"

#define FIX "tests/fixtures/metrics/"

static dfs_metrics calc(const double *p, const uint8_t *y, size_t n)
{
    dfs_metrics m;
    int rc = dfs_metrics_compute(p, y, NULL, n, &m);
    CHECK(rc == 0, "compute failed: %s", dfs_error());
    return m;
}

/* all scores equal: every threshold takes all or nothing */
static void test_all_equal(void)
{
    double p[] = {0.5, 0.5, 0.5, 0.5, 0.5};
    uint8_t y[] = {1, 0, 1, 0, 0};
    dfs_metrics m = calc(p, y, 5);
    CHECK_CLOSE(m.acc, 0.4, 1e-15, 0);   /* p = 0.5 counts as fake */
    CHECK_CLOSE(m.auc, 0.5, 1e-15, 0);
    CHECK_CLOSE(m.ap, 0.4, 1e-15, 0);    /* one threshold: precision = fake rate, recall 1 */
    CHECK_CLOSE(m.eer, 0.5, 1e-15, 0);   /* the diagonal (0,0)-(1,1) meets FNR = FPR at 0.5 */
    CHECK(m.n == 5 && m.n_pos == 2 && m.n_neg == 3, "counts %g %g %g", m.n, m.n_pos, m.n_neg);
}

static void test_perfect(void)
{
    double p[] = {0.2, 0.9, 0.1, 0.8};
    uint8_t y[] = {0, 1, 0, 1};
    dfs_metrics m = calc(p, y, 4);
    CHECK_CLOSE(m.acc, 1, 0, 0);
    CHECK_CLOSE(m.auc, 1, 0, 0);
    CHECK_CLOSE(m.ap, 1, 0, 0);
    CHECK_CLOSE(m.eer, 0, 0, 0);
}

static void test_inverted(void)
{
    double p[] = {0.1, 0.2, 0.8, 0.9};
    uint8_t y[] = {1, 1, 0, 0};
    dfs_metrics m = calc(p, y, 4);
    CHECK_CLOSE(m.acc, 0, 0, 0);
    CHECK_CLOSE(m.auc, 0, 0, 0);
    /* thresholds 0.9, 0.8 find reals only; 0.2: P = 1/3 at R = 1/2; 0.1: P = 1/2 at R = 1 */
    CHECK_CLOSE(m.ap, 0.5 / 3 + 0.5 * 0.5, 1e-15, 0);
    CHECK_CLOSE(m.eer, 1, 1e-15, 0);
}

/* ties across classes count one half in the AUC; the EER falls between ROC points */
static void test_ties_and_eer_interpolation(void)
{
    double p[] = {0.9, 0.5, 0.5, 0.1};
    uint8_t y[] = {1, 1, 0, 0};
    dfs_metrics m = calc(p, y, 4);
    CHECK_CLOSE(m.acc, 0.75, 1e-15, 0);
    CHECK_CLOSE(m.auc, 3.5 / 4, 1e-15, 0);    /* 0.9 beats both, 0.5 ties one and beats one */
    CHECK_CLOSE(m.ap, 0.5 * 1 + 0.5 * (2.0 / 3), 1e-15, 0);
    /* ROC (0,0) -> (0,1/2) -> (1/2,1): FNR - FPR goes 1/2 -> -1/2, zero halfway at FPR 1/4 */
    CHECK_CLOSE(m.eer, 0.25, 1e-15, 0);

    /* EER on a vertical segment: FNR crosses FPR at a fixed FPR */
    double q[] = {0.9, 0.7, 0.6, 0.3, 0.2};
    uint8_t z[] = {1, 0, 1, 1, 0};
    m = calc(q, z, 5);
    CHECK_CLOSE(m.eer, 0.5, 1e-15, 0);
    CHECK_CLOSE(m.auc, 4.0 / 6, 1e-15, 0);
}

static void test_one_class_and_empty(void)
{
    double p[] = {0.3, 0.7, 0.6};
    uint8_t fakes[] = {1, 1, 1}, reals[] = {0, 0, 0};
    dfs_metrics m = calc(p, fakes, 3);
    CHECK_CLOSE(m.acc, 2.0 / 3, 1e-15, 0);
    CHECK(isnan(m.auc) && isnan(m.eer), "auc %g eer %g should be nan", m.auc, m.eer);
    CHECK_CLOSE(m.ap, 1, 1e-15, 0);           /* every threshold's precision is 1 */
    m = calc(p, reals, 3);
    CHECK_CLOSE(m.acc, 1.0 / 3, 1e-15, 0);
    CHECK(isnan(m.auc) && isnan(m.eer) && isnan(m.ap), "auc %g ap %g eer %g", m.auc, m.ap, m.eer);
    m = calc(p, reals, 0);
    CHECK(m.n == 0 && isnan(m.acc) && isnan(m.auc) && isnan(m.ap) && isnan(m.eer), "empty");
}

static void test_bad_input(void)
{
    dfs_metrics m;
    double p1[] = {0.2, 1.5}, p2[] = {NAN, 0.1}, p3[] = {-0.0, 1.0};
    uint8_t y[] = {0, 1}, y2[] = {0, 2};
    CHECK(dfs_metrics_compute(p1, y, NULL, 2, &m) == -1 && strstr(dfs_error(), "sample 1"),
          "%s", dfs_error());
    CHECK(dfs_metrics_compute(p2, y, NULL, 2, &m) == -1 && strstr(dfs_error(), "sample 0"),
          "%s", dfs_error());
    CHECK(dfs_metrics_compute(p3, y2, NULL, 2, &m) == -1 && strstr(dfs_error(), "label"),
          "%s", dfs_error());
    CHECK(dfs_metrics_compute(p3, y, NULL, 2, &m) == 0, "0 and 1 are probabilities");
}

/* every case of the scikit-learn fixture, at frame and video level, within 1e-9 */
static void test_sklearn_fixture(void)
{
    FILE *f = fopen(FIX "expected.tsv", "r");
    CHECK(f != NULL, "cannot open " FIX "expected.tsv (run from the repository root)");
    if (!f) return;
    char line[1024];
    int rows = 0;
    CHECK(fgets(line, sizeof line, f) != NULL, "no header");
    while (fgets(line, sizeof line, f)) {
        char name[256], level[16];
        size_t n;
        double acc, auc, ap, eer;
        if (sscanf(line, "%255s %15s %zu %lf %lf %lf %lf", name, level, &n, &acc, &auc, &ap, &eer)
            != 7) {
            CHECK(0, "bad fixture line %s", line);
            continue;
        }
        char path[512];
        snprintf(path, sizeof path, FIX "%s.tsv", name);
        dfs_score_file sf;
        if (dfs_score_read(path, &sf) != 0) {
            CHECK(0, "%s", dfs_error());
            continue;
        }
        dfs_score_units u;
        int video = strcmp(level, "video") == 0;
        if (video) CHECK(dfs_score_videos(&sf, &u) == 0, "%s", dfs_error());
        else dfs_score_frames(&sf, &u);
        dfs_metrics m = calc(u.p, u.y, u.n);
        CHECK(u.n == n, "%s %s: n %zu, expected %zu", name, level, u.n, n);
        CHECK_CLOSE(m.acc, acc, 1e-9, 0);
        CHECK_CLOSE(m.auc, auc, 1e-9, 0);
        CHECK_CLOSE(m.ap, ap, 1e-9, 0);
        CHECK_CLOSE(m.eer, eer, 1e-9, 0);
        dfs_score_units_free(&u);
        dfs_score_free(&sf);
        rows++;
    }
    fclose(f);
    CHECK(rows == 10, "%d fixture rows, expected 10", rows);
}

/* integer weights give the metrics of the sample with each item repeated that often */
static void test_weights_are_counts(void)
{
    enum { N = 60 };
    double p[N], w[N], ep[4 * N];
    uint8_t y[N], ey[4 * N];
    dfs_rng r;
    dfs_rng_seed(&r, 7);
    size_t m = 0;
    for (int i = 0; i < N; i++) {
        y[i] = (uint8_t)dfs_rng_below(&r, 2);
        p[i] = (double)dfs_rng_below(&r, 11) / 10.0;   /* many ties, 0.5 included */
        w[i] = (double)dfs_rng_below(&r, 4);
        for (int k = 0; k < (int)w[i]; k++) {
            ep[m] = p[i];
            ey[m++] = y[i];
        }
    }
    dfs_metrics a, b;
    CHECK(dfs_metrics_compute(p, y, w, N, &a) == 0, "%s", dfs_error());
    b = calc(ep, ey, m);
    CHECK_CLOSE(a.n, (double)m, 0, 0);
    CHECK_CLOSE(a.acc, b.acc, 1e-12, 0);
    CHECK_CLOSE(a.auc, b.auc, 1e-12, 0);
    CHECK_CLOSE(a.ap, b.ap, 1e-12, 0);
    CHECK_CLOSE(a.eer, b.eer, 1e-12, 0);
}

static void test_quantile(void)
{
    double v[] = {4, 1, 3, 2};
    CHECK_CLOSE(dfs_quantile(v, 4, 0.5), 2.5, 1e-15, 0);
    CHECK_CLOSE(dfs_quantile(v, 4, 0.025), 1.075, 1e-15, 0);
    CHECK_CLOSE(dfs_quantile(v, 4, 1.0), 4, 0, 0);
    CHECK_CLOSE(dfs_quantile(v, 1, 0.975), 1, 0, 0);
    CHECK(isnan(dfs_quantile(v, 0, 0.5)), "empty quantile is nan");
}

/* the bootstrap equals resampling by hand with the same draws */
static void test_bootstrap_matches_direct(void)
{
    enum { N = 40, B = 300 };
    double p[N], rp[N];
    uint8_t y[N], ry[N];
    dfs_rng r;
    dfs_rng_seed(&r, 11);
    for (int i = 0; i < N; i++) {
        y[i] = (uint8_t)(i % 3 == 0);
        p[i] = round(dfs_rng_uniform(&r) * 20) / 20 * 0.6 + 0.4 * y[i];
    }
    dfs_metrics_ci ci, ci2;
    dfs_rng a, b;
    dfs_rng_seed(&a, 99);
    CHECK(dfs_metrics_bootstrap(p, y, N, B, &a, &ci) == 0, "%s", dfs_error());
    dfs_rng_seed(&a, 99);
    CHECK(dfs_metrics_bootstrap(p, y, N, B, &a, &ci2) == 0, "%s", dfs_error());
    CHECK(memcmp(&ci, &ci2, sizeof ci) == 0, "same seed, same intervals");

    double *v[4];
    size_t nv[4] = {0};
    for (int j = 0; j < 4; j++) v[j] = malloc(B * sizeof(double));
    dfs_rng_seed(&b, 99);
    for (int k = 0; k < B; k++) {
        for (int i = 0; i < N; i++) {
            size_t j = dfs_rng_below(&b, N);
            rp[i] = p[j];
            ry[i] = y[j];
        }
        dfs_metrics m = calc(rp, ry, N);
        double x[4] = {m.acc, m.auc, m.ap, m.eer};
        for (int j = 0; j < 4; j++)
            if (!isnan(x[j])) v[j][nv[j]++] = x[j];
    }
    double lo[4] = {ci.lo.acc, ci.lo.auc, ci.lo.ap, ci.lo.eer};
    double hi[4] = {ci.hi.acc, ci.hi.auc, ci.hi.ap, ci.hi.eer};
    for (int j = 0; j < 4; j++) {
        CHECK_CLOSE(lo[j], dfs_quantile(v[j], nv[j], 0.025), 1e-12, 0);
        CHECK_CLOSE(hi[j], dfs_quantile(v[j], nv[j], 0.975), 1e-12, 0);
        CHECK(lo[j] <= hi[j], "metric %d: lo %g > hi %g", j, lo[j], hi[j]);
        free(v[j]);
    }
    dfs_metrics m = calc(p, y, N);
    CHECK(ci.lo.auc <= m.auc && m.auc <= ci.hi.auc, "auc %g outside [%g, %g]", m.auc, ci.lo.auc,
          ci.hi.auc);
    dfs_rng_seed(&a, 100);
    CHECK(dfs_metrics_bootstrap(p, y, N, B, &a, &ci2) == 0, "%s", dfs_error());
    CHECK(memcmp(&ci, &ci2, sizeof ci) != 0, "another seed, other intervals");
}

/* ---- score TSVs ---- */
static char tmpdir[] = "/tmp/dfs_test_metrics_XXXXXX";

static const char *write_tmp(const char *name, const char *text)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

#define H DFS_SCORE_HEADER "\n"

static void expect_read_error(const char *name, const char *text, const char *want)
{
    const char *path = write_tmp(name, text);
    dfs_score_file f;
    int rc = dfs_score_read(path, &f);
    CHECK(rc == -1, "%s: read should fail", name);
    CHECK(strstr(dfs_error(), want) != NULL, "%s: error '%s' lacks '%s'", name, dfs_error(), want);
    CHECK(strstr(dfs_error(), path) != NULL, "%s: error '%s' lacks the path", name, dfs_error());
}

static void test_scoretsv_errors(void)
{
    expect_read_error("empty.tsv", "", "empty file");
    expect_read_error("header.tsv", "key\tdataset\tlabel\n", "line 1: header");
    expect_read_error("norec.tsv", H, "no records");
    expect_read_error("fields.tsv", H "a/b\tfs\t1\n", "line 2: 3 tab-separated fields");
    expect_read_error("fields5.tsv", H "a/b\tfs\t1\t0.5\tx\n", "line 2: 5 tab-separated");
    expect_read_error("label.tsv", H "a/b\tfs\t1\t0.5\na/c\tfs\t2\t0.5\n", "line 3: label '2'");
    expect_read_error("range.tsv", H "a/b\tfs\t1\t1.0001\n", "line 2: p_fake '1.0001'");
    expect_read_error("neg.tsv", H "a/b\tfs\t1\t-0.1\n", "line 2: p_fake");
    expect_read_error("nan.tsv", H "a/b\tfs\t1\tnan\n", "line 2: p_fake 'nan'");
    expect_read_error("junk.tsv", H "a/b\tfs\t1\t0.5x\n", "line 2: p_fake '0.5x'");
    expect_read_error("emptyp.tsv", H "a/b\tfs\t1\t\n", "line 2: p_fake ''");
    expect_read_error("blank.tsv", H "a/b\tfs\t1\t0.5\n\n", "line 3: 1 tab-separated field,");
    expect_read_error("key.tsv", H "\tfs\t1\t0.5\n", "line 2: empty key");
    expect_read_error("dup.tsv", H "a/b\tfs\t1\t0.5\na/c\tfs\t1\t0.5\na/b\tfs\t1\t0.2\n",
                      "line 4: duplicate key 'a/b' (first on line 2)");
    const char *path = write_tmp("ok.tsv", H "fs/1/f1\tfs\t1\t0.25\r\nfs/1/f2\tfs\t1\t1");
    dfs_score_file f;
    CHECK(dfs_score_read(path, &f) == 0, "%s", dfs_error());
    CHECK(f.n == 2 && f.rec[0].p == 0.25 && f.rec[1].p == 1.0 && f.rec[1].line == 3,
          "CRLF and a last line without newline are read");
    dfs_score_free(&f);
}

static void test_videos(void)
{
    const char *path = write_tmp("v.tsv", H
                                 "nt/000_003/f01\tnt\t1\t0.5\n"
                                 "fs/000_003/f01\tfs\t1\t0.25\n"
                                 "nt/000_003/f02\tnt\t1\t0.75\n"
                                 "real/000/f01\treal\t0\t0.125\n"
                                 "fs/000_003/f02\tfs\t1\t0.75\n");
    dfs_score_file f;
    dfs_score_units u;
    CHECK(dfs_score_read(path, &f) == 0, "%s", dfs_error());
    CHECK(dfs_score_videos(&f, &u) == 0, "%s", dfs_error());
    /* fs/000_003 and nt/000_003 are two videos, in order of first appearance */
    CHECK(u.n == 3, "%zu videos", u.n);
    if (u.n == 3) {
        CHECK(u.p[0] == 0.625 && u.y[0] == 1 && u.first_line[0] == 2, "nt video %g", u.p[0]);
        CHECK(u.p[1] == 0.5 && u.first_line[1] == 3, "fs video %g", u.p[1]);
        CHECK(u.p[2] == 0.125 && u.y[2] == 0 && u.first_line[2] == 5, "real video %g", u.p[2]);
    }
    dfs_score_units_free(&u);
    dfs_score_free(&f);

    path = write_tmp("mixed.tsv", H "v/1/f1\tfs\t1\t0.5\nv/2/f1\tfs\t0\t0.5\nv/1/f2\tfs\t0\t0.5\n");
    CHECK(dfs_score_read(path, &f) == 0, "%s", dfs_error());
    CHECK(dfs_score_videos(&f, &u) == -1, "mixed labels fail");
    CHECK(strstr(dfs_error(), "line 4: video 'v/1' has label 0 here but 1 on line 2"), "%s",
          dfs_error());
    dfs_score_free(&f);
    path = write_tmp("mixds.tsv", H "000/f1\tfs\t1\t0.5\n000/f2\tnt\t1\t0.5\n");
    CHECK(dfs_score_read(path, &f) == 0, "%s", dfs_error());
    CHECK(dfs_score_videos(&f, &u) == -1 && strstr(dfs_error(), "line 3: video '000' mixes datasets"),
          "%s", dfs_error());
    dfs_score_free(&f);
    path = write_tmp("nokey.tsv", H "f1\tfs\t1\t0.5\n");
    CHECK(dfs_score_read(path, &f) == 0, "%s", dfs_error());
    CHECK(dfs_score_videos(&f, &u) == -1 && strstr(dfs_error(), "line 2: key 'f1' has no video"),
          "%s", dfs_error());
    dfs_score_free(&f);
    char *s = dfs_score_stem("runs/x/MesoNet1/CELEB-M.tsv");
    CHECK(strcmp(s, "CELEB-M") == 0, "stem %s", s);
    free(s);
}

/* ---- the study config ---- */
static void test_default_config(void)
{
    dfs_study_config c;
    CHECK(dfs_study_config_parse(dfs_study_config_default(), "built-in", &c) == 0, "%s",
          dfs_error());
    CHECK(c.n_det == 30, "%zu detectors", c.n_det);
    CHECK(c.unseen.n == 4 && strcmp(c.unseen.v[3], "DFD") == 0, "unseen FS,NT,DF,DFD");
    CHECK(c.n_same_method == 1 && strcmp(c.same_method[0].sets.v[0], "CELEB-M") == 0, "CELEB-M");
    CHECK(c.n_same_identity == 1 && c.same_identity[0].sets.n == 2, "FS-I, NT-I");
    int celeb = 0, merge = 0;
    for (size_t i = 0; i < c.n_det; i++) {
        celeb += strcmp(c.det[i].train, "CELEB") == 0;
        merge += strcmp(c.det[i].stage, "merge") == 0;
    }
    CHECK(celeb == 15 && merge == 10, "celeb %d merge %d", celeb, merge);
    CHECK(strcmp(c.det[13].name, "MesoNet2") == 0 && c.det[13].finetune.n == 3, "MesoNet2");
    dfs_study_config_free(&c);
}

static void expect_config_error(const char *text, const char *want)
{
    dfs_study_config c;
    CHECK(dfs_study_config_parse(text, "cfg", &c) == -1, "config should fail: %s", text);
    CHECK(strstr(dfs_error(), want) != NULL, "error '%s' lacks '%s'", dfs_error(), want);
}

static void test_config_errors(void)
{
    const char *u = "unseen\tFS,NT\n";
    expect_config_error("detector\tA1\tA\tCELEB\toriginal\tnone\n", "no 'unseen'");
    expect_config_error(u, "no 'detector'");
    expect_config_error("unseen\tFS,,NT\n", "line 1: dataset list 'FS,,NT' has an empty item");
    expect_config_error("# c\nunseen\tFS\nwhat\tx\n", "line 3: unknown kind 'what'");
    expect_config_error("unseen\tFS\ndetector\tA1\tA\tCELEB\tstage2\tnone\n",
                        "line 2: stage 'stage2'");
    expect_config_error("unseen\tFS\ndetector\tA1\tA\tCELEB\ttransfer\tnone\n",
                        "line 2: detector A1: FINETUNE must be 'none'");
    expect_config_error("unseen\tFS\ndetector\tA/1\tA\tCELEB\toriginal\tnone\n",
                        "line 2: detector 'A/1' contains '/'");
    expect_config_error("unseen\tFS\ndetector\tA1\tA\tFS\toriginal\tnone\n",
                        "A1 is trained on FS, which is listed as unseen");
    expect_config_error("unseen\tFS\ndetector\tA1\tA\tC\toriginal\tnone\n"
                        "detector\tA1\tA\tC\toriginal\tnone\n", "line 3: detector A1 given twice");
    expect_config_error("unseen\tFS\nsame_method\tC\tC,X\n", "lists C, its own training set");
}

int main(void)
{
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_all_equal);
    RUN(test_perfect);
    RUN(test_inverted);
    RUN(test_ties_and_eer_interpolation);
    RUN(test_one_class_and_empty);
    RUN(test_bad_input);
    RUN(test_sklearn_fixture);
    RUN(test_weights_are_counts);
    RUN(test_quantile);
    RUN(test_bootstrap_matches_direct);
    RUN(test_scoretsv_errors);
    RUN(test_videos);
    RUN(test_default_config);
    RUN(test_config_errors);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) printf("# could not remove %s\n", tmpdir);
    return CHECK_DONE();
}
