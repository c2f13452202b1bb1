/* device.h: the --device option of the tools that run a network (train, predict, cam, ace).
 *
 *   cpu        the cpu backend
 *   cuda       the CUDA plugin; without a usable GPU the tool stops with one line
 *              "TOOL: no usable CUDA device: ..." before reading or writing anything
 *   auto       cuda when usable, else cpu (the default, unless DFS_DEVICE in the environment
 *              names another: tests/run.sh sets cpu, so the suite checks the oracle everywhere)
 *   cpu-split  a TEST device: the cpu ops on memory of their own, so that every transfer a GPU
 *              needs happens (backend.c); results are the cpu's bit for bit
 * A GPU that auto chose is named on stderr in one line ("train: device cuda: NVIDIA H100 ...
 * (sm_90, 79 GiB), conv im2col"), so nobody wonders where a run went; a device asked for by name
 * (--device, DFS_DEVICE) and the cpu are named only when verbose, so pipes stay quiet and a tool's
 * messages read the same on every device. */
#ifndef DFS_NN_DEVICE_H
#define DFS_NN_DEVICE_H

#include "nn/backend.h"

#define NN_DEVICE_HELP                                                                          \
    "  --device D     where the network runs: auto (default: cuda when a usable GPU is found,\n" \
    "                 else cpu), cpu or cuda (fails without a usable GPU); cpu-split is a test\n"  \
    "                 device (cpu ops on separate memory, results equal cpu's)\n"                  \
    "                 DFS_DEVICE=D in the environment sets the default (make test: cpu)\n"          \
    "  --verbose      name the device on stderr (without it, only a GPU that auto chose is named)\n"

/* The backend for a --device value (NULL: $DFS_DEVICE, else auto), or dfs_die with the reason. */
const nn_backend *nn_device_open(const char *device, int verbose);

#endif
