/* device.h: the backend for a --device value (train, predict, cam, ace).
 *
 *   cpu        the cpu backend
 *   cuda       the CUDA plugin; fails without a usable GPU ("no usable CUDA device: ...")
 *   auto       cuda when usable, else cpu (the default, unless DFS_DEVICE in the environment
 *              names another: tests/run.sh sets cpu, so the suite checks the oracle everywhere)
 *   cpu-split  a TEST device: the cpu ops on memory of their own, so that every transfer a GPU
 *              needs happens (backend.c); results are the cpu's bit for bit
 * Naming the device to the user is the tools' part (lib/tool/device.h). */
#ifndef DFS_NN_DEVICE_H
#define DFS_NN_DEVICE_H

#include "nn/backend.h"

/* The backend for a --device value (NULL: $DFS_DEVICE, else auto), or NULL with the reason in
 * dfs_error() ("--device: unknown device 'tpu' (...)", "DFS_DEVICE: unknown device ...", "no
 * usable CUDA device: ..."). *auto_chose (when not NULL) is set to 1 when auto picked the
 * backend, 0 when it was named. */
const nn_backend *nn_device_open(const char *device, int *auto_chose);

#endif
