/* libFuzzer target: the PNG loader (lib/media/image.c) on arbitrary bytes. Run by `make fuzz`. */
#include <stdlib.h>
#include "media/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dfs_image im;
    if (dfs_png_read_mem(data, size, "<fuzz>", &im) == 0) {
        dfs_record r;
        dfs_record_init(&r);
        if (dfs_image_to_record(&im, &r) != 0) abort();
        dfs_record_free(&r);
        dfs_image_free(&im);
    }
    return 0;
}
