/* device.c (tool): opening the --device backend and naming it (device.h). */
#include "tool/device.h"

#include <string.h>

#include "tool/tool.h"

const nn_backend *dfs_tool_device(const char *device, int verbose)
{
    int auto_chose = 0;
    const nn_backend *be = nn_device_open(device, &auto_chose);
    if (!be) dfs_die_error();
    if (verbose || (auto_chose && strcmp(be->name, "cpu"))) {
        if (strcmp(be->name, be->device_name)) fprintf(stderr, "%s: device %s: %s\n", dfs_progname, be->name, be->device_name);
        else fprintf(stderr, "%s: device %s\n", dfs_progname, be->name);
    }
    return be;
}
