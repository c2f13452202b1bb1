/* device.c: the tools' --device choice (device.h). */
#include "nn/device.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

const nn_backend *nn_device_open(const char *device, int verbose)
{
    const char *from = "--device";
    if (!device) {
        /* the environment's default: scripts and the test suite pin a device without a flag */
        const char *env = getenv("DFS_DEVICE");
        device = env && *env ? env : "auto";
        if (env && *env) from = "DFS_DEVICE";
    }
    if (strcmp(device, "auto") && strcmp(device, "cpu") && strcmp(device, "cuda") && strcmp(device, "cpu-split"))
        dfs_die("%s: unknown device '%s' (auto, cpu, cuda; cpu-split for tests)", from, device);
    const nn_backend *be = nn_backend_open(device);
    if (!be) dfs_die_error();
    if (verbose || (!strcmp(device, "auto") && strcmp(be->name, "cpu"))) {
        if (strcmp(be->name, be->device_name)) fprintf(stderr, "%s: device %s: %s\n", dfs_progname, be->name, be->device_name);
        else fprintf(stderr, "%s: device %s\n", dfs_progname, be->name);
    }
    return be;
}
