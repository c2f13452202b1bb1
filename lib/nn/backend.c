/* backend.c: the cpu table, and opening the cuda plugin (see backend.h). */
#include "nn/backend.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/common.h"

/* ---- cpu: host memory, the ops of ops.h ---- */

static const char *cpu_last_error(void) { return dfs_error(); }

static void *cpu_alloc(size_t bytes)
{
    void *p = calloc(1, bytes ? bytes : 1);
    if (!p) dfs_fail("out of memory (%zu bytes)", bytes);
    return p;
}

static int cpu_upload(void *dst, const void *src, size_t bytes)
{
    if (dst != src) memcpy(dst, src, bytes);
    return 0;
}

static void cpu_copy(void *dst, const void *src, size_t bytes)
{
    if (dst != src) memcpy(dst, src, bytes);
}

static void cpu_zero(void *dst, size_t bytes) { memset(dst, 0, bytes); }
static int cpu_sync(void) { return 0; }

static nn_backend cpu_table = {
    .abi = NN_BACKEND_ABI,
    .name = "cpu",
    .host_memory = 1,
    .flags = 0,
    .device_name = "cpu",
    .last_error = cpu_last_error,
    .alloc = cpu_alloc,
    .free = free,
    .upload = cpu_upload,
    .download = cpu_upload,
    .copy = cpu_copy,
    .zero = cpu_zero,
    .sync = cpu_sync,
    .host_alloc = cpu_alloc,
    .host_free = free,
    .conv_scratch = nn_conv_scratch,
    .conv2d_forward = nn_conv2d_forward,
    .conv2d_backward = nn_conv2d_backward,
    .dense_forward = nn_dense_forward,
    .dense_backward = nn_dense_backward,
    .batchnorm_forward_train_ex = nn_batchnorm_forward_train_ex,
    .batchnorm_backward_train = nn_batchnorm_backward_train,
    .batchnorm_forward_eval = nn_batchnorm_forward_eval,
    .batchnorm_backward_eval = nn_batchnorm_backward_eval,
    .relu_forward = nn_relu_forward,
    .relu_backward = nn_relu_backward,
    .guided_relu_backward = nn_guided_relu_backward,
    .leaky_relu_forward = nn_leaky_relu_forward,
    .leaky_relu_backward = nn_leaky_relu_backward,
    .swish_forward = nn_swish_forward,
    .swish_backward = nn_swish_backward,
    .sigmoid_forward = nn_sigmoid_forward,
    .sigmoid_backward = nn_sigmoid_backward,
    .softmax_forward = nn_softmax_forward,
    .softmax_backward = nn_softmax_backward,
    .maxpool_forward = nn_maxpool_forward,
    .maxpool_backward = nn_maxpool_backward,
    .avgpool_forward = nn_avgpool_forward,
    .avgpool_backward = nn_avgpool_backward,
    .global_avgpool_forward = nn_global_avgpool_forward,
    .global_avgpool_backward = nn_global_avgpool_backward,
    .dropout_mask = nn_dropout_mask,
    .dropout_apply = nn_dropout_apply,
    .dropout_backward = nn_dropout_backward,
    .drop_connect_apply = nn_drop_connect_apply,
    .drop_connect_backward = nn_drop_connect_backward,
    .concat_forward = nn_concat_forward,
    .concat_backward = nn_concat_backward,
    .add_forward = nn_add_forward,
    .add_backward = nn_add_backward,
    .scale_channels_forward = nn_scale_channels_forward,
    .scale_channels_backward = nn_scale_channels_backward,
    .adam_update = nn_adam_update,
    .l2_penalty = nn_l2_penalty,
    /* analysis ops */
    .cam_map = nn_cam_map,
    .channel_minmax = nn_channel_minmax,
    .set_neurons = nn_set_neurons,
    .pfake_sum = nn_pfake_sum,
    /* fused by default: bench/cpu-fuse.md measured the fused forward faster */
    .fuse = 1,
    .batchnorm_act_forward = nn_batchnorm_act_forward,
};

const nn_backend *nn_backend_cpu(void) { return &cpu_table; }

/* ---- cpu-split: a TEST device. The cpu ops on memory of its own (host_memory = 0), so the
 * graph treats it as it treats a GPU: every buffer has a backend copy, and results reach the
 * host only through explicit downloads. A missing upload, download or sync then shows as a
 * wrong result (the graph NaN-fills its stale host mirrors on this backend) on a machine
 * without a GPU. Its results equal cpu's bit for bit: same ops, same order. ---- */

/* what crosses, for the tests that bound it (nn_backend_split_traffic); atomic because a
 * test may run graphs on several threads */
static _Atomic uint64_t split_up, split_down;

static int split_upload(void *dst, const void *src, size_t bytes)
{
    memcpy(dst, src, bytes);
    split_up += bytes;
    return 0;
}

static int split_download(void *dst, const void *src, size_t bytes)
{
    memcpy(dst, src, bytes);
    split_down += bytes;
    return 0;
}

void nn_backend_split_traffic(uint64_t *up, uint64_t *down, int reset)
{
    if (up) *up = split_up;
    if (down) *down = split_down;
    if (reset) split_up = split_down = 0;
}

static void split_copy(void *dst, const void *src, size_t bytes) { memmove(dst, src, bytes); }

static nn_backend split_table;

static void split_init(void)
{
    split_table = cpu_table;
    split_table.name = "cpu-split";
    split_table.host_memory = 0;
    split_table.flags = NN_BE_POISON_MIRRORS;
    snprintf(split_table.device_name, sizeof split_table.device_name, "cpu with split memory (test device)");
    split_table.upload = split_upload;
    split_table.download = split_download;
    split_table.copy = split_copy;
}

/* ---- cuda: the plugin ---- */

/* Where the plugin may be: $DFS_CUDA_PLUGIN, else beside the build tree of the running program
 * (bin/<tool> -> build/, build/tests/test_<name> -> build/). */
static void *open_plugin(char *why, size_t whylen)
{
    const char *env = getenv("DFS_CUDA_PLUGIN");
    if (env && *env) {
        void *h = dlopen(env, RTLD_NOW | RTLD_LOCAL);
        if (!h) snprintf(why, whylen, "%s", dlerror());
        return h;
    }
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0) {
        snprintf(why, whylen, "cannot find the running program (/proc/self/exe)");
        return NULL;
    }
    exe[len] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash) *slash = '\0';
    static const char *const rel[] = {"../build/libdfs_cuda.so", "../libdfs_cuda.so", "libdfs_cuda.so"};
    for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
        char path[PATH_MAX + 32];
        snprintf(path, sizeof path, "%s/%s", exe, rel[i]);
        if (access(path, R_OK) != 0) continue;
        void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (!h) snprintf(why, whylen, "%s", dlerror());
        return h;
    }
    snprintf(why, whylen, "CUDA support not built: no libdfs_cuda.so beside %s (build with nvcc on PATH, or set "
                          "DFS_CUDA_PLUGIN)", exe);
    return NULL;
}

static const nn_backend *open_cuda(void)
{
    static int tried;
    static const nn_backend *table;
    static char why[PATH_MAX + 512];
    if (tried) {
        if (!table) dfs_fail("%s", why);
        return table;
    }
    tried = 1;
    /* no driver, no GPU: decided without loading the CUDA runtime (the plugin pulls in cuBLAS,
     * tens of milliseconds at every start) */
    void *driver = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);
    if (!driver) {
        snprintf(why, sizeof why, "no usable CUDA device: no NVIDIA driver (libcuda.so.1 not found)");
        return dfs_fail("%s", why), NULL;
    }
    dlclose(driver);
    void *h = open_plugin(why, sizeof why);
    if (!h) return dfs_fail("%s", why), NULL;
    nn_backend_cuda_entry entry = (nn_backend_cuda_entry)dlsym(h, NN_BACKEND_CUDA_ENTRY);
    if (!entry) {
        snprintf(why, sizeof why, "CUDA plugin has no %s: %s", NN_BACKEND_CUDA_ENTRY, dlerror());
        return dfs_fail("%s", why), NULL;
    }
    char err[400] = "";
    const nn_backend *t = entry(err, sizeof err);
    if (!t) {
        snprintf(why, sizeof why, "no usable CUDA device: %s", err[0] ? err : "unknown reason");
        return dfs_fail("%s", why), NULL;
    }
    if (t->abi != NN_BACKEND_ABI) {
        snprintf(why, sizeof why, "CUDA plugin is from another build (interface %d, expected %d): rebuild", t->abi,
                 NN_BACKEND_ABI);
        return dfs_fail("%s", why), NULL;
    }
    table = t;
    return table;
}

const nn_backend *nn_backend_open(const char *device)
{
    if (!device || !strcmp(device, "auto")) {
        const nn_backend *t = open_cuda();
        return t ? t : &cpu_table;
    }
    if (!strcmp(device, "cpu")) return &cpu_table;
    if (!strcmp(device, "cpu-split")) {
        if (!split_table.abi) split_init();
        return &split_table;
    }
    if (!strcmp(device, "cuda")) return open_cuda();
    dfs_fail("unknown device '%s' (cpu, cuda or auto)", device);
    return NULL;
}
