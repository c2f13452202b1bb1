/* simd.h: the vector type of the hand-vectorised kernels (conv_direct.c, depthwise.c), as wide
 * as the registers the compiler targets: 16 floats with AVX-512, 8 with AVX/AVX2, 4 with SSE2
 * (every x86-64) or NEON (every arm64). Elsewhere 4 as well: GCC then splits the operations into
 * whatever the target has, scalar at worst.
 *
 * Vectors never cross a function boundary by value (loads are a macro, stores and sums take
 * pointers): a vector argument or result wider than the target's registers has no settled calling
 * convention, and GCC rejects it under -Werror (-Wpsabi). Inside a function any width compiles.
 *
 * NN_VREGS is the number of vector registers, which bounds the register tiles: 32 with AVX-512 and
 * on arm64, 16 with AVX and SSE. */
#ifndef DFS_NN_SIMD_H
#define DFS_NN_SIMD_H

#include <stdint.h>

#if defined(__AVX512F__)
#define NN_VL 16
#define NN_VREGS 32
#elif defined(__AVX__)
#define NN_VL 8
#define NN_VREGS 16
#elif defined(__SSE2__)
#define NN_VL 4
#define NN_VREGS 16
#elif defined(__ARM_NEON) || defined(__aarch64__)
#define NN_VL 4
#define NN_VREGS 32
#else
#define NN_VL 4
#define NN_VREGS 16
#endif

typedef float nn_vf __attribute__((vector_size(NN_VL * sizeof(float))));
/* the same, for loads and stores at any float address */
typedef float nn_vfu __attribute__((vector_size(NN_VL * sizeof(float)), aligned(4), may_alias));
typedef int32_t nn_vi __attribute__((vector_size(NN_VL * sizeof(int32_t))));   /* permute indices */

#define NN_VLOAD(p) (*(const nn_vfu *)(p))
static inline void nn_vstore(float *p, const nn_vf *v) { *(nn_vfu *)p = *v; }

#endif
