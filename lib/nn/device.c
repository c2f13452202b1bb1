/* device.c: the backend for a --device value (device.h). */
#include "nn/device.h"

#include <stdlib.h>
#include <string.h>

#include "core/common.h"

const nn_backend *nn_device_open(const char *device, int *auto_chose)
{
    const char *from = "--device";
    if (!device) {
        /* the environment's default: scripts and the test suite pin a device without a flag */
        const char *env = getenv("DFS_DEVICE");
        device = env && *env ? env : "auto";
        if (env && *env) from = "DFS_DEVICE";
    }
    if (auto_chose) *auto_chose = !strcmp(device, "auto");
    if (strcmp(device, "auto") && strcmp(device, "cpu") && strcmp(device, "cuda") && strcmp(device, "cpu-split")) {
        dfs_fail("%s: unknown device '%s' (auto, cpu, cuda; cpu-split for tests)", from, device);
        return NULL;
    }
    return nn_backend_open(device);
}
