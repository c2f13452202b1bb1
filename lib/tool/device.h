/* device.h (tool): the --device option of the tools that run a network (train, predict, cam,
 * ace): the backend (lib/nn/device.h), the tool's one-line error when there is none, and the
 * device line.
 *
 * A GPU that auto chose is named on stderr in one line ("train: device cuda: NVIDIA H100 ...
 * (sm_90, 79 GiB), conv im2col"), so nobody wonders where a run went; a device asked for by name
 * (--device, DFS_DEVICE) and the cpu are named only when verbose, so pipes stay quiet and a tool's
 * messages read the same on every device. */
#ifndef DFS_TOOL_DEVICE_H
#define DFS_TOOL_DEVICE_H

#include "nn/device.h"

#define NN_DEVICE_HELP                                                                          \
    "  --device D     where the network runs: auto (default: cuda when a usable GPU is found,\n" \
    "                 else cpu), cpu or cuda (fails without a usable GPU); cpu-split is a test\n"  \
    "                 device (cpu ops on separate memory, results equal cpu's)\n"                  \
    "                 DFS_DEVICE=D in the environment sets the default (make test: cpu)\n"          \
    "  --verbose      name the device on stderr (without it, only a GPU that auto chose is named)\n"

/* nn_device_open(device), naming the device on stderr as above, or dfs_die with the reason
 * ("tool: --device: unknown device 'tpu' (...)", "tool: no usable CUDA device: ..."). */
const nn_backend *dfs_tool_device(const char *device, int verbose);

#endif
