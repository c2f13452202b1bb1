/* libFuzzer target: the tensor stream reader must reject or accept any bytes without crashing,
 * leaking or reading out of bounds. Run by `make fuzz`. */
#include "core/stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    (void)dfs_stream_check_buffer(data, size);
    return 0;
}
