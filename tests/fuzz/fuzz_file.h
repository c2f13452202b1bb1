/* fuzz_file.h: for fuzz targets whose loader takes a path. The input goes into one memory file
 * per process (memfd), named /proc/self/fd/N: a regular file the loader opens, stats and maps like
 * any other, with no disk and nothing to clean up.
 *
 * Each target defines its body as `static void fuzz_one(const uint8_t *data, size_t size)`; the
 * libFuzzer entry point is added unless DFS_FUZZ_REPLAY is defined (tests/unit/test_fuzz.c
 * includes the targets to replay their regressions and seeds in the normal build). */
#ifndef DFS_FUZZ_FILE_H
#define DFS_FUZZ_FILE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

static const char *fuzz_file(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("fuzz", 0);
        if (fd < 0) { perror("memfd_create"); abort(); }
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0 || (size && pwrite(fd, data, size, 0) != (ssize_t)size)) { perror("fuzz file"); abort(); }
    return path;
}

#endif

#ifndef DFS_FUZZ_REPLAY
#define DFS_FUZZ_ENTRY(fn)                                              \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);       \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)        \
    {                                                                   \
        fn(data, size);                                                 \
        return 0;                                                       \
    }
#else
#define DFS_FUZZ_ENTRY(fn)
#endif
