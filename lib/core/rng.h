/* rng.h: the one random number generator of dfstudy (xoshiro256**, seeded through splitmix64).
 * Every tool that draws numbers takes --seed and passes an explicit dfs_rng around (no global
 * state), so outputs are a function of the seed. Streams for independent purposes are derived
 * with dfs_rng_derive(seed, tag) so adding draws in one place does not shift another. */
#ifndef DFS_RNG_H
#define DFS_RNG_H

#include <stdint.h>

typedef struct dfs_rng {
    uint64_t s[4];
} dfs_rng;

void dfs_rng_seed(dfs_rng *r, uint64_t seed);
/* A generator for (seed, tag): e.g. one per identity, per video, per epoch. */
void dfs_rng_derive(dfs_rng *r, uint64_t seed, uint64_t tag);
/* The generator's step and the float draw are inline: dropout draws one number per activation
 * (millions per training step) and a call per draw was a sixth of ShallowNet's step. */
static inline uint64_t dfs_rng_rotl_(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
static inline uint64_t dfs_rng_u64(dfs_rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = dfs_rng_rotl_(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = dfs_rng_rotl_(s[3], 45);
    return out;
}
double dfs_rng_uniform(dfs_rng *r);              /* [0, 1), 53 random bits */
/* [0, 1), 24 random bits */
static inline float dfs_rng_uniformf(dfs_rng *r) { return (float)(dfs_rng_u64(r) >> 40) * 0x1.0p-24f; }
double dfs_rng_range(dfs_rng *r, double lo, double hi);
double dfs_rng_normal(dfs_rng *r);               /* standard normal (Box-Muller, one draw kept) */
uint64_t dfs_rng_below(dfs_rng *r, uint64_t n);  /* uniform in [0, n), unbiased; n > 0 */
void dfs_rng_shuffle(dfs_rng *r, uint64_t *v, uint64_t n);   /* Fisher-Yates */
uint64_t dfs_hash64(uint64_t x);                 /* splitmix64 finaliser, for deriving seeds */
uint64_t dfs_hash_str(const char *s);            /* 64-bit FNV-1a then mixed */

#endif
