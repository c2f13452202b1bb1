/* device.c: the tools' --device choice (device.h). */
#include "nn/device.h"

#include <stdio.h>
#include <string.h>

#include "common.h"

const nn_backend *nn_device_open(const char *device, int verbose)
{
    if (!device) device = "auto";
    if (strcmp(device, "auto") && strcmp(device, "cpu") && strcmp(device, "cuda") && strcmp(device, "cpu-split"))
        dfs_die("--device: unknown device '%s' (auto, cpu, cuda; cpu-split for tests)", device);
    const nn_backend *be = nn_backend_open(device);
    if (!be) dfs_die_error();
    if (!strcmp(be->name, "cuda") || verbose) {
        if (strcmp(be->name, be->device_name)) fprintf(stderr, "%s: device %s: %s\n", dfs_progname, be->name, be->device_name);
        else fprintf(stderr, "%s: device %s\n", dfs_progname, be->name);
    }
    return be;
}
