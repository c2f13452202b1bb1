/* backend.h: where the ops of a graph run. One table of function pointers per backend.
 *
 * `cpu` is the oracle: its entries are the functions of ops.h. `cuda` (cuBLAS + kernels, the
 * .cu files of lib/nn/cuda/) lives in a plugin, build/libdfs_cuda.so, built whenever nvcc is
 * found and opened with dlopen only when a tool asks for it (--device cuda, or auto with a usable
 * GPU).
 * Tools that never compute on a GPU, and machines without one, pay nothing for it: no CUDA
 * library is linked into the tools and none is loaded unless the plugin is.
 *
 * Contracts:
 *  - Every op entry has the contract of the ops.h function of the same name (shapes, layouts,
 *    ACCUMULATE into gradients, NULL gradient = skip), on pointers in the backend's memory
 *    (device memory for cuda; host memory for cpu). Structs passed by pointer (nn_conv, nn_pool)
 *    and scalars are host values.
 *  - Ops are asynchronous on cuda (one stream, in order); `sync` waits and reports the first
 *    error since the last sync. Memory transfers (`upload`, `download`) are ordered with the ops;
 *    `download` returns when the bytes are on the host.
 *  - Dropout masks and drop-connect keeps are drawn where the network runs, by `dropout_mask`,
 *    from the counter-based generator of counter_rng.h that every backend compiles: a mask is a
 *    function of (key, stream, index) only, so it is the same bytes on every backend and thread
 *    count, and nothing but the 8-byte key crosses from the host.
 *  - Losses are computed on the host (the logits are N or 2N values).
 *  - Analyses run where the network runs: Grad-CAM's maps and ACE's ranges, interventions and
 *    P(fake) sums are backend ops, so only their results cross (tests/unit/test_device_traffic.c).
 *  - Errors: an entry that can fail returns 0 or -1; the message is then `last_error()`
 *    (one line naming the op and the CUDA/cuBLAS error, e.g. "conv2d_forward: cublasSgemm:
 *    CUBLAS_STATUS_EXECUTION_FAILED"). Void ops record their first error, reported by the next
 *    `sync`.
 */
#ifndef DFS_NN_BACKEND_H
#define DFS_NN_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "nn/ops.h"

#define NN_BACKEND_ABI 5   /* bumped whenever this struct changes; the plugin must match */

/* nn_backend.flags.
 * NN_BE_POISON_MIRRORS: a checking device (cpu-split) whose memory is not the host's: a graph on
 *   it NaN-fills each host mirror as the backend copy moves on (graph.h "Backends"), so that a
 *   read the caller did not download first reads NaN, not an old value that might pass. Costs a
 *   memset of the stale mirrors per forward, backward and Adam step, which is why a backend used
 *   for real work (cuda) does not set it. */
enum { NN_BE_POISON_MIRRORS = 1 };

typedef struct nn_backend {
    int abi;                       /* NN_BACKEND_ABI */
    const char *name;              /* "cpu", "cpu-split" or "cuda" */
    int host_memory;               /* 1: pointers are host pointers (cpu) */
    unsigned flags;                /* NN_BE_* */
    char device_name[128];         /* "NVIDIA H100 80GB HBM3 (sm_90, 79 GiB)" or the CPU's */
    const char *(*last_error)(void);

    /* ---- memory: bytes, pointers in backend memory ---- */
    void *(*alloc)(size_t bytes);                       /* NULL on failure (last_error) */
    void (*free)(void *p);
    int (*upload)(void *dst, const void *host_src, size_t bytes);
    int (*download)(void *host_dst, const void *src, size_t bytes);
    void (*copy)(void *dst, const void *src, size_t bytes);          /* within backend memory */
    void (*zero)(void *dst, size_t bytes);
    int (*sync)(void);
    /* Pinned host memory for staging batches (plain malloc/free on cpu). */
    void *(*host_alloc)(size_t bytes);
    void (*host_free)(void *p);

    /* ---- ops (ops.h) ---- */
    size_t (*conv_scratch)(const nn_conv *c);           /* floats of scratch, backend memory */
    void (*conv2d_forward)(float *out, const float *in, const float *w, const float *b, const nn_conv *c,
                           float *scratch);
    void (*conv2d_backward)(float *din, float *dw, float *db, const float *dout, const float *in, const float *w,
                            const nn_conv *c, float *scratch);
    void (*dense_forward)(float *out, const float *in, const float *w, const float *b, int64_t N, int64_t In,
                          int64_t O);
    void (*dense_backward)(float *din, float *dw, float *db, const float *dout, const float *in, const float *w,
                           int64_t N, int64_t In, int64_t O);
    void (*batchnorm_forward_train_ex)(float *out, float *save_mean, float *save_invstd, const float *in,
                                       const float *gamma, const float *beta, float *running_mean,
                                       float *running_var, float momentum, float eps, int unbiased_running_var,
                                       int64_t N, int64_t C, int64_t HW);
    void (*batchnorm_backward_train)(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                                     const float *gamma, const float *save_mean, const float *save_invstd,
                                     int64_t N, int64_t C, int64_t HW);
    void (*batchnorm_forward_eval)(float *out, const float *in, const float *gamma, const float *beta,
                                   const float *running_mean, const float *running_var, float eps, int64_t N,
                                   int64_t C, int64_t HW);
    void (*batchnorm_backward_eval)(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                                    const float *gamma, const float *running_mean, const float *running_var,
                                    float eps, int64_t N, int64_t C, int64_t HW);
    void (*relu_forward)(float *out, const float *in, int64_t n);
    void (*relu_backward)(float *din, const float *dout, const float *in, int64_t n);
    /* guided backpropagation: din += dout where both in > 0 and dout > 0 (ReLU and leaky ReLU) */
    void (*guided_relu_backward)(float *din, const float *dout, const float *in, int64_t n);
    void (*leaky_relu_forward)(float *out, const float *in, float alpha, int64_t n);
    void (*leaky_relu_backward)(float *din, const float *dout, const float *in, float alpha, int64_t n);
    void (*swish_forward)(float *out, const float *in, int64_t n);
    void (*swish_backward)(float *din, const float *dout, const float *in, int64_t n);
    void (*sigmoid_forward)(float *out, const float *in, int64_t n);
    void (*sigmoid_backward)(float *din, const float *dout, const float *out, int64_t n);
    void (*softmax_forward)(float *out, const float *in, int64_t N, int64_t K);
    void (*softmax_backward)(float *din, const float *dout, const float *out, int64_t N, int64_t K);
    void (*maxpool_forward)(float *out, int32_t *argmax, const float *in, const nn_pool *p);
    void (*maxpool_backward)(float *din, const float *dout, const int32_t *argmax, const nn_pool *p);
    void (*avgpool_forward)(float *out, const float *in, const nn_pool *p);
    void (*avgpool_backward)(float *din, const float *dout, const nn_pool *p);
    void (*global_avgpool_forward)(float *out, const float *in, int64_t N, int64_t C, int64_t HW);
    void (*global_avgpool_backward)(float *din, const float *dout, int64_t N, int64_t C, int64_t HW);
    /* mask (n bytes, backend memory) = nn_dropout_mask(rate, n, key, stream), bit for bit */
    void (*dropout_mask)(uint8_t *mask, float rate, int64_t n, uint64_t key, uint32_t stream);
    /* out = mask ? in / (1 - rate) : 0 */
    void (*dropout_apply)(float *out, const uint8_t *mask, const float *in, float rate, int64_t n);
    void (*dropout_backward)(float *din, const float *dout, const uint8_t *mask, float rate, int64_t n);
    /* the same per sample: keep (N bytes, from dropout_mask with n = N) */
    void (*drop_connect_apply)(float *out, const uint8_t *keep, const float *in, float rate, int64_t N,
                               int64_t per_sample);
    void (*drop_connect_backward)(float *din, const float *dout, const uint8_t *keep, float rate, int64_t N,
                                  int64_t per_sample);
    /* ins/dins and Cs are host arrays of nin backend pointers / channel counts */
    void (*concat_forward)(float *out, const float *const *ins, const int64_t *Cs, int nin, int64_t N, int64_t HW);
    void (*concat_backward)(float *const *dins, const float *dout, const int64_t *Cs, int nin, int64_t N,
                            int64_t HW);
    void (*add_forward)(float *out, const float *a, const float *b, int64_t n);
    void (*add_backward)(float *da, float *db, const float *dout, int64_t n);
    void (*scale_channels_forward)(float *out, const float *in, const float *s, int64_t N, int64_t C, int64_t HW);
    void (*scale_channels_backward)(float *din, float *ds, const float *dout, const float *in, const float *s,
                                    int64_t N, int64_t C, int64_t HW);
    void (*adam_update)(float *p, const float *g, float *m, float *v, const nn_adam *a, int64_t n);
    /* adds 2 * lambda * w to g and returns lambda * sum(w^2) (synchronous on cuda) */
    double (*l2_penalty)(float *g, const float *w, float lambda, int64_t n);

    /* ---- analysis ops (ops.h "analysis"): Grad-CAM's map and ACE's ranges, interventions and
     * P(fake) sums run on the backend, so a Grad-CAM or ACE batch sends only its input (and the
     * class seed) and receives only its results. acc is doubles in backend memory. ---- */
    void (*cam_map)(float *maps, const float *act, const float *grad, int64_t N, int64_t K, int64_t HW, int relu);
    void (*channel_minmax)(float *mn, float *mx, const float *in, int64_t N, int64_t C, int64_t HW, int reset);
    void (*set_neurons)(float *h, const float *src, const float *vals, int64_t copies, int64_t N, int64_t C,
                        int64_t HW, int64_t c0);
    void (*pfake_sum)(double *acc, int64_t stride, const float *logits, int classes, int64_t copies, int64_t N);
    /* ---- fused ops (graph.c "Fusion") ----
     * fuse: 1 when the graph fuses by default on this backend (nn_graph.plan.fuse -1); the op itself
     * is always there. */
    int fuse;
    void (*batchnorm_act_forward)(float *out, float *pre, float *save_mean, float *save_invstd, const float *in,
                                  const float *gamma, const float *beta, float *running_mean, float *running_var,
                                  const nn_bn_act *f, int64_t N, int64_t C, int64_t HW);
} nn_backend;

/* The cpu table (always available). */
const nn_backend *nn_backend_cpu(void);
/* "cpu", "cuda" or "auto". cuda: the plugin's table, or NULL with dfs_error() saying why
 * ("no usable CUDA device: ...", "CUDA support not built: ..."). auto: cuda when usable, else
 * cpu (never NULL). */
const nn_backend *nn_backend_open(const char *device);

/* Bytes moved by the cpu-split test device's upload (host to device) and download (device to
 * host) since the last reset; reset != 0 zeroes them after reading. Either pointer may be NULL. */
void nn_backend_split_traffic(uint64_t *up, uint64_t *down, int reset);

/* The plugin's one exported symbol: its table, or NULL with a reason in err (e.g. no device,
 * driver too old). Called once; the table lives until exit. */
typedef const nn_backend *(*nn_backend_cuda_entry)(char *err, size_t errlen);
#define NN_BACKEND_CUDA_ENTRY "dfs_cuda_backend"

#endif
