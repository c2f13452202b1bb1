/* test_dropout_rng: the counter-based dropout generator (lib/nn/counter_rng.h) and the masks the
 * graph draws with it (nn_dropout_mask): known answers, keep rate, independence across keys
 * (steps) and streams (nodes), the same bytes at any thread count and on cpu and cpu-split. */
#include "check.h"
#include "core/common.h"
#include "nn/backend.h"
#include "nn/counter_rng.h"
#include "nn/graph.h"
#include "nn/ops.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* Philox4x32-10 known answers: the kat_vectors file of Random123's tests (D. E. Shaw Research), as quoted by
 * TensorFlow's tensorflow/compiler/tests/stateful_random_ops_test.py (read with the search tool);
 * the third counter and key are the leading hex digits of pi. */
static void test_philox_known_answers(void)
{
    static const uint32_t kat[3][10] = {
        {0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
        {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d, 0x41c83b0e, 0xa20bc7c6,
         0x6d5451fd},
        {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09, 0x94fdcceb, 0x5001e420,
         0x24126ea1},
    };
    for (int t = 0; t < 3; t++) {
        dfs_philox4 c = {{kat[t][0], kat[t][1], kat[t][2], kat[t][3]}};
        dfs_philox4 r = dfs_philox4x32_10(c, kat[t][4], kat[t][5]);
        for (int j = 0; j < 4; j++) CHECK(r.v[j] == kat[t][6 + j], "vector %d word %d: %08x, want %08x", t, j, r.v[j], kat[t][6 + j]);
    }
    /* the block layout: counter (block low, block high, stream, 0), key (key low, key high) */
    dfs_philox4 c = {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0}};
    dfs_philox4 want = dfs_philox4x32_10(c, 0xa4093822, 0x299f31d0);
    dfs_philox4 got = dfs_crng_block(0x299f31d0a4093822ull, 0x13198a2e, 0x85a308d3243f6a88ull);
    CHECK(!memcmp(&want, &got, sizeof want), "block layout");
}

/* The uniform is exact: top 24 bits times 2^-24; keep when uniform >= rate. */
static void test_uniform_conversion(void)
{
    CHECK(dfs_crng_uniform(0) == 0.0f, "0");
    CHECK(dfs_crng_uniform(0xffu) == 0.0f, "low bits ignored");
    CHECK(dfs_crng_uniform(0x100u) == 0x1.0p-24f, "one ulp");
    CHECK(dfs_crng_uniform(0xffffffffu) == 1.0f - 0x1.0p-24f, "largest below 1");
    CHECK(dfs_crng_uniform(0x80000000u) == 0.5f, "half");
    CHECK(dfs_crng_keep(0x80000000u, 0.5f) == 1 && dfs_crng_keep(0x7fffffffu, 0.5f) == 0, "threshold");
    CHECK(dfs_crng_keep(0, 0.0f) == 1 && dfs_crng_keep(0xffffffffu, 1.0f) == 0, "rates 0 and 1");
}

#define BIG (1 << 22)

/* a mask drawn value by value, straight from the definition (no blocks shared across a loop) */
static uint8_t ref_keep(float rate, uint64_t key, uint32_t stream, int64_t i)
{
    dfs_philox4 w = dfs_crng_block(key, stream, (uint64_t)(i / 4));
    return dfs_crng_uniform(w.v[i % 4]) >= rate;
}

static void test_keep_rate(void)
{
    uint8_t *m = malloc(BIG);
    static const float rates[] = {0.5f, 0.25f, 0.1f, 0.9f};
    for (size_t r = 0; r < sizeof rates / sizeof *rates; r++) {
        nn_dropout_mask(m, rates[r], BIG, 0x1234567890abcdefull + r, 7);
        int64_t kept = 0;
        for (int64_t i = 0; i < BIG; i++) kept += m[i];
        double p = 1.0 - rates[r], mean = p * BIG, sd = sqrt(BIG * p * (1.0 - p));
        CHECK(fabs((double)kept - mean) <= 6.0 * sd, "rate %g: kept %lld of %d, expected %.0f +- %.0f", rates[r],
              (long long)kept, BIG, mean, 6.0 * sd);
        /* a partial last block and the values of every lane of a block */
        for (int64_t i = 0; i < 64; i++) CHECK(m[i] == ref_keep(rates[r], 0x1234567890abcdefull + r, 7, i), "value %lld", (long long)i);
    }
    nn_dropout_mask(m, 0.0f, 1001, 5, 1);
    int64_t kept = 0;
    for (int i = 0; i < 1001; i++) kept += m[i];
    CHECK(kept == 1001, "rate 0 keeps all");
    nn_dropout_mask(m, 1.0f, 1001, 5, 1);
    kept = 0;
    for (int i = 0; i < 1001; i++) kept += m[i];
    CHECK(kept == 0, "rate 1 drops all");
    free(m);
}

/* Pearson correlation of two 0/1 masks */
static double corr(const uint8_t *a, const uint8_t *b, int64_t n)
{
    double sa = 0, sb = 0, sab = 0;
    for (int64_t i = 0; i < n; i++) {
        sa += a[i];
        sb += b[i];
        sab += a[i] & b[i];
    }
    double ma = sa / n, mb = sb / n;
    return (sab / n - ma * mb) / sqrt(ma * (1 - ma) * mb * (1 - mb));
}

/* Under independence the sample correlation of n pairs has sd 1/sqrt(n): 6 sd bounds it. */
static void test_uncorrelated(void)
{
    int64_t n = BIG;
    uint8_t *a = malloc((size_t)n), *b = malloc((size_t)n);
    double bound = 6.0 / sqrt((double)n);
    nn_dropout_mask(a, 0.5f, n, 1000, 3);
    nn_dropout_mask(b, 0.5f, n, 1001, 3);   /* the next step's key, same node */
    double c = corr(a, b, n);
    CHECK(fabs(c) <= bound, "steps: correlation %g > %g", c, bound);
    nn_dropout_mask(b, 0.5f, n, 1000, 4);   /* same step, the next node */
    c = corr(a, b, n);
    CHECK(fabs(c) <= bound, "nodes: correlation %g > %g", c, bound);
    c = corr(a, a + 1, n - 1);               /* neighbours within a mask (lanes of one block) */
    CHECK(fabs(c) <= 6.0 / sqrt((double)(n - 1)), "lag 1: correlation %g", c);
    c = corr(a, a + 4, n - 4);               /* neighbouring blocks */
    CHECK(fabs(c) <= 6.0 / sqrt((double)(n - 4)), "lag 4: correlation %g", c);
    /* not the same mask at all (the bound above would also pass an accidental copy shifted) */
    CHECK(memcmp(a, b, (size_t)n) != 0, "nodes give different masks");
    free(a);
    free(b);
}

/* The parallel loop writes the same bytes with 1 and 2 threads (and as the definition says). */
static void test_thread_count(void)
{
    int64_t n = BIG + 3;
    uint8_t *a = malloc((size_t)n), *b = malloc((size_t)n);
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    nn_dropout_mask(a, 0.3f, n, 42, 9);
    omp_set_num_threads(2);
    nn_dropout_mask(b, 0.3f, n, 42, 9);
    omp_set_num_threads(saved);
    CHECK(!memcmp(a, b, (size_t)n), "1 and 2 threads differ");
    int bad = 0;
    for (int64_t i = 0; i < n; i += 997) bad += a[i] != ref_keep(0.3f, 42, 9, i);
    for (int64_t i = n - 8; i < n; i++) bad += a[i] != ref_keep(0.3f, 42, 9, i);
    CHECK(bad == 0, "%d values differ from the definition", bad);
    free(a);
    free(b);
}

/* cpu and cpu-split: the backend entry draws the same bytes, in backend memory. */
static void test_cpu_split_entry(void)
{
    const nn_backend *cpu = nn_backend_cpu(), *split = nn_backend_open("cpu-split");
    CHECK(split && split->dropout_mask && cpu->dropout_mask, "tables");
    if (!split) return;
    int64_t n = 100003;
    uint8_t *a = malloc((size_t)n), *h = malloc((size_t)n);
    uint8_t *d = split->alloc((size_t)n);
    cpu->dropout_mask(a, 0.2f, n, 77, 12);
    split->dropout_mask(d, 0.2f, n, 77, 12);
    CHECK(split->download(h, d, (size_t)n) == 0 && split->sync() == 0, "download");
    CHECK(!memcmp(a, h, (size_t)n), "cpu and cpu-split masks differ");
    split->free(d);
    free(a);
    free(h);
}

int main(void)
{
    RUN(test_philox_known_answers);
    RUN(test_uniform_conversion);
    RUN(test_keep_rate);
    RUN(test_uncorrelated);
    RUN(test_thread_count);
    RUN(test_cpu_split_entry);
    return CHECK_DONE();
}
