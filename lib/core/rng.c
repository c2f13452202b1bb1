/* rng.c: xoshiro256** (Blackman and Vigna) with splitmix64 seeding. */
#include "core/rng.h"

#include <math.h>

uint64_t dfs_hash64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

uint64_t dfs_hash_str(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return dfs_hash64(h);
}

void dfs_rng_seed(dfs_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) {
        x += 0x9e3779b97f4a7c15ULL;
        r->s[i] = dfs_hash64(x);
    }
}

void dfs_rng_derive(dfs_rng *r, uint64_t seed, uint64_t tag)
{
    dfs_rng_seed(r, dfs_hash64(seed) ^ dfs_hash64(tag * 0xd1342543de82ef95ULL + 1));
}

double dfs_rng_uniform(dfs_rng *r) { return (dfs_rng_u64(r) >> 11) * 0x1.0p-53; }
double dfs_rng_range(dfs_rng *r, double lo, double hi) { return lo + (hi - lo) * dfs_rng_uniform(r); }

double dfs_rng_normal(dfs_rng *r)
{
    double u1 = dfs_rng_uniform(r), u2 = dfs_rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

uint64_t dfs_rng_below(dfs_rng *r, uint64_t n)
{
    /* rejection keeps the draw unbiased for every n */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do x = dfs_rng_u64(r);
    while (x >= limit);
    return x % n;
}

void dfs_rng_shuffle(dfs_rng *r, uint64_t *v, uint64_t n)
{
    for (uint64_t i = n; i > 1; i--) {
        uint64_t j = dfs_rng_below(r, i), t = v[i - 1];
        v[i - 1] = v[j];
        v[j] = t;
    }
}
