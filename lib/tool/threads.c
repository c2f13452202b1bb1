/* threads.c (tool): --threads. A file of its own because a static library pulls in whole
 * object files: in tool.c it made every tool (pack, crop, ...) reference OpenBLAS, so the linker
 * (--as-needed) kept libopenblas and its thread pool's memory in tools that do no BLAS, and
 * pack's PNG bomb under `ulimit -v` failed inside libpng instead of at our checked allocation
 * (tests/90-bad-input.bats). */
#include <cblas.h>
#include <omp.h>

#include "tool/tool.h"

void dfs_tool_threads(long n)
{
    if (n <= 0) return;
    omp_set_num_threads((int)n);
    openblas_set_num_threads((int)n);
}
