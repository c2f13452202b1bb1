/* counter_rng.h: the dropout and drop-connect generator, shared by the cpu ops (C11) and the CUDA
 * kernels (compiled by nvcc), so every backend draws the same masks bit for bit.
 *
 * Philox4x32-10 (Salmon, Moraes, Dror, Shaw, "Parallel random numbers: as easy as 1, 2, 3", SC11,
 * 2011): a keyed bijection of a 128-bit counter, written here from the paper's description:
 * ten rounds of two 32x32->64 multiplications (multipliers 0xD2511F53, 0xCD9E8D57), each round
 *   (c0, c1, c2, c3) -> (hi(M1*c2) ^ c1 ^ k0, lo(M1*c2), hi(M0*c0) ^ c3 ^ k1, lo(M0*c0)),
 * the key (k0, k1) bumped by the Weyl constants (0x9E3779B9, 0xBB67AE85) between rounds.
 * Only integer arithmetic: the same bits on any compiler, CPU or GPU.
 *
 * A mask value is a pure function of (key, stream, index), nothing else:
 *   key    64 bits, one per training forward (the graph draws it from its dropout dfs_rng, so it
 *          is a function of the seed and of the number of training steps before; graph.h);
 *   stream 32 bits, the node's index in the graph;
 *   index  the value's position in the mask (0 .. n-1).
 * Value i is word (i mod 4) of Philox(counter = (i/4 low, i/4 high, stream, 0), key = (key low,
 * key high)). Its uniform is the word's top 24 bits times 2^-24 (exact in float: an integer below
 * 2^24 times a power of two), and the value is kept when that uniform is >= rate, as TensorFlow's
 * dropout keeps a value when its uniform draw is >= rate (then scaled by 1 / (1 - rate)). */
#ifndef DFS_NN_COUNTER_RNG_H
#define DFS_NN_COUNTER_RNG_H

#include <stdint.h>

#ifdef __CUDACC__
#define DFS_CRNG_FN __host__ __device__ static inline
#else
#define DFS_CRNG_FN static inline
#endif

typedef struct dfs_philox4 {
    uint32_t v[4];
} dfs_philox4;

DFS_CRNG_FN dfs_philox4 dfs_philox4x32_10(dfs_philox4 c, uint32_t k0, uint32_t k1)
{
    for (int r = 0; r < 10; r++) {
        if (r > 0) {
            k0 += 0x9E3779B9u;
            k1 += 0xBB67AE85u;
        }
        uint64_t p0 = (uint64_t)0xD2511F53u * c.v[0];
        uint64_t p1 = (uint64_t)0xCD9E8D57u * c.v[2];
        dfs_philox4 d;
        d.v[0] = (uint32_t)(p1 >> 32) ^ c.v[1] ^ k0;
        d.v[1] = (uint32_t)p1;
        d.v[2] = (uint32_t)(p0 >> 32) ^ c.v[3] ^ k1;
        d.v[3] = (uint32_t)p0;
        c = d;
    }
    return c;
}

/* The four words of values 4*block .. 4*block+3 of (key, stream). */
DFS_CRNG_FN dfs_philox4 dfs_crng_block(uint64_t key, uint32_t stream, uint64_t block)
{
    dfs_philox4 c;
    c.v[0] = (uint32_t)block;
    c.v[1] = (uint32_t)(block >> 32);
    c.v[2] = stream;
    c.v[3] = 0;
    return dfs_philox4x32_10(c, (uint32_t)key, (uint32_t)(key >> 32));
}

/* A word's uniform in [0, 1): its top 24 bits times 2^-24, exact. */
DFS_CRNG_FN float dfs_crng_uniform(uint32_t word) { return (float)(word >> 8) * 0x1.0p-24f; }

/* Keep (1) or drop (0) from a word: as TensorFlow, keep when the uniform is >= rate. */
DFS_CRNG_FN uint8_t dfs_crng_keep(uint32_t word, float rate) { return dfs_crng_uniform(word) >= rate; }

/* Bytes 4*block .. min(4*block+4, n)-1 of the keep mask of (key, stream) into mask. */
DFS_CRNG_FN void dfs_crng_keep_block(uint8_t *mask, float rate, int64_t n, uint64_t key, uint32_t stream,
                                     int64_t block)
{
    dfs_philox4 w = dfs_crng_block(key, stream, (uint64_t)block);
    int64_t i0 = block * 4;
    for (int j = 0; j < 4 && i0 + j < n; j++) mask[i0 + j] = dfs_crng_keep(w.v[j], rate);
}

#endif
