/* fixture_hash.h: the weight generator shared by the PyTorch model fixtures
 * (tests/make-fixtures-models.py, tests/make-fixtures-cam.py) and their C tests:
 * lowbias32(seed * 0x9E3779B9 + i) mapped to offset + scale * [-1, 1), rounded to float. */
#ifndef DFS_TEST_FIXTURE_HASH_H
#define DFS_TEST_FIXTURE_HASH_H

#include <stdint.h>

static inline float hash_value(uint64_t seed, uint64_t i, double scale, double offset)
{
    uint32_t x = (uint32_t)i + (uint32_t)(seed * 0x9E3779B9u);
    x ^= x >> 16;
    x *= 0x7FEB352Du;
    x ^= x >> 15;
    x *= 0x846CA68Bu;
    x ^= x >> 16;
    double u = (double)x * (1.0 / 4294967296.0);
    return (float)(offset + scale * (2.0 * u - 1.0));
}

#endif
