/* tiny_archs.h: the five study architectures at the smallest input sizes the whole-graph tests
 * use (ShallowNet's valid convolutions and pools need 24 at least; the others run at 32), and
 * the batch of those tests. */
#ifndef DFS_TINY_ARCHS_H
#define DFS_TINY_ARCHS_H

#include <stdint.h>

#define N 2

static const struct {
    const char *arch;
    int64_t size;
} archs[] = {{"meso4", 32}, {"mesoinception4", 32}, {"shallownet", 24}, {"xception", 32}, {"efficientnet-b0", 32}};
#define NARCH (int)(sizeof archs / sizeof *archs)

#endif
