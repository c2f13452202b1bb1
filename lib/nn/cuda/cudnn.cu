/* cudnn.cu: convolutions through cuDNN 9 when the library is there (see common.cuh: cudnn_*).
 *
 * cuDNN is optional and never a build dependency: no cuDNN header is included. The few types,
 * enum values and functions of cuDNN 9's legacy convolution API used here are declared below,
 * from cuDNN 9's public interface as mirrored in generated bindings read for this
 * (cudnn_version.h: CUDNN_VERSION = major * 10000 + minor * 100 + patch; cudnn_graph.h:
 * cudnnMathType_t DEFAULT 0, TENSOR_OP 1, TENSOR_OP_ALLOW_CONVERSION 2, FMA 3, cudnnDeterminism_t;
 * cudnn_cnn.h: the Find/WorkspaceSize/Forward/BackwardData/BackwardFilter signatures and the
 * AlgoPerf structs, whose `reserved` field sits at byte 32 after algo, status, time, memory,
 * determinism and mathType; the cuDNN 9 binding listing these beside cudnnCnnVersionCheck shows
 * they remain in 9's cnn sub-library), and resolved with dlsym at run time. Checked against
 * cuDNN 9.19's own headers (cudnn_graph_v9.h, cudnn_ops_v9.h, cudnn_cnn_v9.h: the prototypes
 * read side by side; enum values and the AlgoPerf structs' size and offsets by static_assert in a
 * throwaway compile that included them), and libcudnn.so.9 itself exports every function used
 * (it forwards the convolutions to libcudnn_cnn.so.9), per nm -D.
 *
 * Loading (first success wins): the folder $DFS_CUDNN_PATH (e.g. a Python wheel's
 * nvidia/cudnn/lib), then the loader's default search path, then $CUDA_PATH/lib64 and
 * /usr/local/cuda/lib64. libcudnn.so.9 loads its sub-libraries (libcudnn_cnn.so.9 holds the
 * convolutions) by soname; those found in the same folder are opened first, so that a folder
 * outside the loader's path works too. DFS_CUDNN=0 skips cuDNN altogether; DFS_CUDNN_DEPTHWISE=0
 * keeps depthwise convolutions on conv.cu's own kernels (to compare their speed with cuDNN's).
 *
 * Padding: the legacy descriptors take one pad per axis, applied on both sides. Our convolutions
 * pad (top, left) before and (bottom, right) after (Keras 'same' puts the odd pixel after). Zero
 * padding that no window reaches changes nothing, so cuDNN is used exactly when padding
 * (pad_t, pad_l) on both sides gives our output size (P, Q): then every window cuDNN computes is
 * ours, reading the same zeros; otherwise (e.g. 'same' with stride 2 on an even size) the
 * im2col path runs for that convolution.
 *
 * Algorithms: chosen once per convolution shape (cached with its descriptors) by cuDNN's own
 * timing (cudnnFind*), fastest first; preferred among the deterministic ones, so a run repeats
 * bit for bit, as the im2col path does. With DFS_CUDA_TF32 off the descriptors ask for FMA math
 * and tensor-op results are refused, so no TF32 creeps in (cuDNN's default math would allow it
 * on Ampere and later). */
#include "nn/cuda/common.cuh"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#pragma GCC visibility push(hidden)

namespace dfs_cuda {

/* ---- the part of cuDNN 9's interface used here ---- */

typedef int dnnStatus;                    /* cudnnStatus_t: 0 is success */
typedef struct dnnContext *dnnHandle;
typedef struct dnnTensorStruct *dnnTensorDesc;
typedef struct dnnFilterStruct *dnnFilterDesc;
typedef struct dnnConvStruct *dnnConvDesc;
enum { DNN_TENSOR_NCHW = 0 };             /* cudnnTensorFormat_t */
enum { DNN_DATA_FLOAT = 0 };              /* cudnnDataType_t */
enum { DNN_CROSS_CORRELATION = 1 };       /* cudnnConvolutionMode_t (0 flips the filter) */
enum { DNN_DEFAULT_MATH = 0, DNN_TENSOR_OP_MATH = 1, DNN_TENSOR_OP_MATH_ALLOW_CONVERSION = 2, DNN_FMA_MATH = 3 };
enum { DNN_NON_DETERMINISTIC = 0, DNN_DETERMINISTIC = 1 };

/* cudnnConvolution{Fwd,BwdData,BwdFilter}AlgoPerf_t share this layout (algo is an enum) */
struct dnnAlgoPerf {
    int algo;
    dnnStatus status;
    float time;
    size_t memory;
    int determinism;
    int mathType;
    int reserved[3];
};
static_assert(offsetof(dnnAlgoPerf, reserved) == 32, "cuDNN AlgoPerf layout");

static struct {
    size_t (*GetVersion)(void);
    const char *(*GetErrorString)(dnnStatus);
    dnnStatus (*Create)(dnnHandle *);
    dnnStatus (*SetStream)(dnnHandle, cudaStream_t);
    dnnStatus (*CreateTensorDescriptor)(dnnTensorDesc *);
    dnnStatus (*SetTensor4dDescriptor)(dnnTensorDesc, int format, int type, int n, int c, int h, int w);
    dnnStatus (*CreateFilterDescriptor)(dnnFilterDesc *);
    dnnStatus (*SetFilter4dDescriptor)(dnnFilterDesc, int type, int format, int k, int c, int h, int w);
    dnnStatus (*CreateConvolutionDescriptor)(dnnConvDesc *);
    dnnStatus (*SetConvolution2dDescriptor)(dnnConvDesc, int pad_h, int pad_w, int u, int v, int dil_h, int dil_w,
                                            int mode, int compute_type);
    dnnStatus (*SetConvolutionGroupCount)(dnnConvDesc, int groups);
    dnnStatus (*SetConvolutionMathType)(dnnConvDesc, int math);
    dnnStatus (*FindConvolutionForwardAlgorithm)(dnnHandle, dnnTensorDesc x, dnnFilterDesc w, dnnConvDesc,
                                                 dnnTensorDesc y, int requested, int *returned, dnnAlgoPerf *);
    dnnStatus (*FindConvolutionBackwardDataAlgorithm)(dnnHandle, dnnFilterDesc w, dnnTensorDesc dy, dnnConvDesc,
                                                      dnnTensorDesc dx, int requested, int *returned, dnnAlgoPerf *);
    dnnStatus (*FindConvolutionBackwardFilterAlgorithm)(dnnHandle, dnnTensorDesc x, dnnTensorDesc dy, dnnConvDesc,
                                                        dnnFilterDesc dw, int requested, int *returned,
                                                        dnnAlgoPerf *);
    dnnStatus (*GetConvolutionForwardWorkspaceSize)(dnnHandle, dnnTensorDesc x, dnnFilterDesc w, dnnConvDesc,
                                                    dnnTensorDesc y, int algo, size_t *bytes);
    dnnStatus (*GetConvolutionBackwardDataWorkspaceSize)(dnnHandle, dnnFilterDesc w, dnnTensorDesc dy, dnnConvDesc,
                                                         dnnTensorDesc dx, int algo, size_t *bytes);
    dnnStatus (*GetConvolutionBackwardFilterWorkspaceSize)(dnnHandle, dnnTensorDesc x, dnnTensorDesc dy,
                                                           dnnConvDesc, dnnFilterDesc dw, int algo, size_t *bytes);
    dnnStatus (*ConvolutionForward)(dnnHandle, const void *alpha, dnnTensorDesc x, const void *xp, dnnFilterDesc w,
                                    const void *wp, dnnConvDesc, int algo, void *ws, size_t ws_bytes,
                                    const void *beta, dnnTensorDesc y, void *yp);
    dnnStatus (*ConvolutionBackwardData)(dnnHandle, const void *alpha, dnnFilterDesc w, const void *wp,
                                         dnnTensorDesc dy, const void *dyp, dnnConvDesc, int algo, void *ws,
                                         size_t ws_bytes, const void *beta, dnnTensorDesc dx, void *dxp);
    dnnStatus (*ConvolutionBackwardFilter)(dnnHandle, const void *alpha, dnnTensorDesc x, const void *xp,
                                           dnnTensorDesc dy, const void *dyp, dnnConvDesc, int algo, void *ws,
                                           size_t ws_bytes, const void *beta, dnnFilterDesc dw, void *dwp);
} dnn;

static dnnHandle handle;
static bool depthwise_off;   /* DFS_CUDNN_DEPTHWISE=0: depthwise convolutions keep to conv.cu's kernels */
bool cudnn_on;
char cudnn_why[96];   /* the device line's words on the convolution path */

/* ---- loading ---- */

static const char *const SUBLIBS[] = {"libcudnn_graph.so.9",  "libcudnn_engines_precompiled.so.9",
                                      "libcudnn_engines_runtime_compiled.so.9", "libcudnn_heuristic.so.9",
                                      "libcudnn_ops.so.9",    "libcudnn_cnn.so.9", "libcudnn_adv.so.9"};
static void *subs[sizeof SUBLIBS / sizeof SUBLIBS[0]];

/* libcudnn.so.9 from a folder ("" = the loader's search path). The sub-libraries present there
 * are opened first, in passes until none more opens (their mutual dependencies resolve by
 * soname once one is loaded). */
static void *open_in(const char *dir, char *why, size_t whylen)
{
    char path[4096];
    if (*dir) {
        for (int progress = 1; progress;) {
            progress = 0;
            for (size_t i = 0; i < sizeof SUBLIBS / sizeof SUBLIBS[0]; i++) {
                if (subs[i]) continue;
                snprintf(path, sizeof path, "%s/%s", dir, SUBLIBS[i]);
                if ((subs[i] = dlopen(path, RTLD_NOW | RTLD_GLOBAL))) progress = 1;
            }
        }
        snprintf(path, sizeof path, "%s/libcudnn.so.9", dir);
    } else {
        snprintf(path, sizeof path, "libcudnn.so.9");
    }
    void *h = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
    if (!h) {
        const char *e = dlerror();
        snprintf(why, whylen, "%s", e ? e : path);
    }
    return h;
}

static bool load_symbols(void *h, void *cnn)
{
#define SYM(name)                                                                                    \
    do {                                                                                             \
        void *p = dlsym(h, "cudnn" #name);                                                           \
        if (!p && cnn) p = dlsym(cnn, "cudnn" #name);                                                \
        if (!p) return snprintf(cudnn_why, sizeof cudnn_why, "im2col (cuDNN lacks cudnn" #name ")"), \
                       false;                                                                        \
        memcpy(&dnn.name, &p, sizeof p);                                                             \
    } while (0)
    SYM(GetVersion);
    SYM(GetErrorString);
    SYM(Create);
    SYM(SetStream);
    SYM(CreateTensorDescriptor);
    SYM(SetTensor4dDescriptor);
    SYM(CreateFilterDescriptor);
    SYM(SetFilter4dDescriptor);
    SYM(CreateConvolutionDescriptor);
    SYM(SetConvolution2dDescriptor);
    SYM(SetConvolutionGroupCount);
    SYM(SetConvolutionMathType);
    SYM(FindConvolutionForwardAlgorithm);
    SYM(FindConvolutionBackwardDataAlgorithm);
    SYM(FindConvolutionBackwardFilterAlgorithm);
    SYM(GetConvolutionForwardWorkspaceSize);
    SYM(GetConvolutionBackwardDataWorkspaceSize);
    SYM(GetConvolutionBackwardFilterWorkspaceSize);
    SYM(ConvolutionForward);
    SYM(ConvolutionBackwardData);
    SYM(ConvolutionBackwardFilter);
#undef SYM
    return true;
}

void cudnn_start(void)
{
    cudnn_on = false;
    cudnn_why[0] = '\0';
    const char *off = getenv("DFS_CUDNN");
    if (off && !strcmp(off, "0")) {
        snprintf(cudnn_why, sizeof cudnn_why, "im2col (DFS_CUDNN=0)");
        return;
    }
    char why[512] = "", dir_why[512] = "";
    void *h = NULL;
    const char *dir = getenv("DFS_CUDNN_PATH");
    if (dir && *dir && !(h = open_in(dir, dir_why, sizeof dir_why))) {
        /* a library that is there but does not load (a dependency missing) is worth naming: the
         * loader's message then starts with the missing name rather than the path tried */
        if (strncmp(dir_why, dir, strlen(dir)))
            snprintf(cudnn_why, sizeof cudnn_why, "im2col (DFS_CUDNN_PATH: %.60s)", dir_why);
    }
    if (!h) h = open_in("", why, sizeof why);
    if (!h) {
        const char *cp = getenv("CUDA_PATH");
        char lib[4096];
        if (cp && *cp) {
            snprintf(lib, sizeof lib, "%s/lib64", cp);
            h = open_in(lib, why, sizeof why);
        }
        if (!h) h = open_in("/usr/local/cuda/lib64", why, sizeof why);
    }
    if (!h) {
        if (!strncmp(cudnn_why, "im2col (DFS_CUDNN_PATH", 22)) return;
        snprintf(cudnn_why, sizeof cudnn_why, "im2col (no libcudnn.so.9%s)",
                 dir && *dir ? " in DFS_CUDNN_PATH or the loader path" : "; set DFS_CUDNN_PATH");
        return;
    }
    void *cnn = dlopen("libcudnn_cnn.so.9", RTLD_NOW | RTLD_GLOBAL);
    if (!load_symbols(h, cnn)) return;
    size_t v = dnn.GetVersion();
    if (v < 90000 || v >= 100000) {
        snprintf(cudnn_why, sizeof cudnn_why, "im2col (cuDNN %zu is not version 9)", v);
        return;
    }
    dnnStatus s = dnn.Create(&handle);
    if (s == 0) s = dnn.SetStream(handle, stream);
    if (s != 0) {
        snprintf(cudnn_why, sizeof cudnn_why, "im2col (cudnnCreate: %.60s)", dnn.GetErrorString(s));
        return;
    }
    cudnn_on = true;
    const char *dw = getenv("DFS_CUDNN_DEPTHWISE");
    depthwise_off = dw && !strcmp(dw, "0");
    snprintf(cudnn_why, sizeof cudnn_why, "cuDNN %zu.%zu.%zu%s", v / 10000, v / 100 % 100, v % 100,
             tf32 ? ", TF32" : "");
}

/* ---- per shape: descriptors and chosen algorithms ---- */

struct plan {
    nn_conv c;
    dnnTensorDesc x, y;
    dnnFilterDesc w;
    dnnConvDesc conv;
    int algo[3], math[3];   /* forward, backward data, backward filter; found lazily */
    size_t ws[3];
    bool found[3];
    bool refused[3];        /* cuDNN found no usable algorithm: im2col runs that direction */
};
static plan *plans;
static int nplans, capplans;

static bool dnn_ok(const char *op, const char *call, dnnStatus s)
{
    if (s == 0) return true;
    record_error(op, call, dnn.GetErrorString(s));
    (void)cudaGetLastError();
    return false;
}
#define DNN_OK(fn, ...) dnn_ok(op, "cudnn" #fn, dnn.fn(__VA_ARGS__))

bool cudnn_handles(const nn_conv *c)
{
    if (!cudnn_on) return false;
    if (depthwise_off && c->groups == c->C && c->groups > 1) return false;
    /* the legacy API takes int sizes */
    if (c->N * c->C * c->H * c->W > 0x7fffffff || c->N * c->K * c->P * c->Q > 0x7fffffff) return false;
    int64_t P = (c->H + 2 * c->pad_t - c->dil_h * (c->R - 1) - 1) / c->stride_h + 1;
    int64_t Q = (c->W + 2 * c->pad_l - c->dil_w * (c->S - 1) - 1) / c->stride_w + 1;
    return P == c->P && Q == c->Q;
}

static plan *plan_for(const char *op, const nn_conv *c)
{
    for (int i = 0; i < nplans; i++)
        if (!memcmp(&plans[i].c, c, sizeof *c)) return &plans[i];
    if (nplans == capplans) {
        int cap = capplans ? capplans * 2 : 32;
        plan *p = (plan *)realloc(plans, (size_t)cap * sizeof *p);
        if (!p) return record_error(op, "realloc", "out of memory"), (plan *)NULL;
        plans = p;
        capplans = cap;
    }
    plan *p = &plans[nplans];
    memset(p, 0, sizeof *p);
    p->c = *c;
    if (!DNN_OK(CreateTensorDescriptor, &p->x) || !DNN_OK(CreateTensorDescriptor, &p->y) ||
        !DNN_OK(CreateFilterDescriptor, &p->w) || !DNN_OK(CreateConvolutionDescriptor, &p->conv) ||
        !DNN_OK(SetTensor4dDescriptor, p->x, DNN_TENSOR_NCHW, DNN_DATA_FLOAT, (int)c->N, (int)c->C, (int)c->H,
                (int)c->W) ||
        !DNN_OK(SetTensor4dDescriptor, p->y, DNN_TENSOR_NCHW, DNN_DATA_FLOAT, (int)c->N, (int)c->K, (int)c->P,
                (int)c->Q) ||
        !DNN_OK(SetFilter4dDescriptor, p->w, DNN_DATA_FLOAT, DNN_TENSOR_NCHW, (int)c->K, (int)(c->C / c->groups),
                (int)c->R, (int)c->S) ||
        !DNN_OK(SetConvolution2dDescriptor, p->conv, (int)c->pad_t, (int)c->pad_l, (int)c->stride_h,
                (int)c->stride_w, (int)c->dil_h, (int)c->dil_w, DNN_CROSS_CORRELATION, DNN_DATA_FLOAT) ||
        !DNN_OK(SetConvolutionGroupCount, p->conv, (int)c->groups) ||
        !DNN_OK(SetConvolutionMathType, p->conv, tf32 ? DNN_DEFAULT_MATH : DNN_FMA_MATH))
        return NULL;   /* the descriptors of a failed plan leak: the op has failed anyway */
    nplans++;
    return p;
}

/* The fastest usable result: succeeded, no tensor-op math unless TF32 is on, deterministic if
 * any such is usable. -1 when none. */
static int choose(const dnnAlgoPerf *r, int n)
{
    int any = -1;
    for (int i = 0; i < n; i++) {
        if (r[i].status != 0) continue;
        if (!tf32 && (r[i].mathType == DNN_TENSOR_OP_MATH || r[i].mathType == DNN_TENSOR_OP_MATH_ALLOW_CONVERSION))
            continue;
        if (r[i].determinism == DNN_DETERMINISTIC) return i;
        if (any < 0) any = i;
    }
    return any;
}

enum { FWD, BWD_DATA, BWD_FILTER };

/* Find (once) the algorithm of direction d, and set the math type it was timed with: 1 ready,
 * 0 failed (error recorded), -1 cuDNN has no usable algorithm (or its search failed) for this
 * shape, so the caller runs im2col instead. */
static int prepare(const char *op, plan *p, int d)
{
    if (p->refused[d]) return -1;
    if (!p->found[d]) {
        /* cudnnFind* times the candidates with memory it allocates itself: queued work first */
        if (!CUDA_OK(cudaStreamSynchronize, stream)) return 0;
        dnnAlgoPerf r[16];
        int n = 0;
        dnnStatus st = d == FWD ? dnn.FindConvolutionForwardAlgorithm(handle, p->x, p->w, p->conv, p->y, 16, &n, r)
                       : d == BWD_DATA
                           ? dnn.FindConvolutionBackwardDataAlgorithm(handle, p->w, p->y, p->conv, p->x, 16, &n, r)
                           : dnn.FindConvolutionBackwardFilterAlgorithm(handle, p->x, p->y, p->conv, p->w, 16, &n, r);
        int i = st == 0 ? choose(r, n) : -1;
        if (i < 0) {
            (void)cudaGetLastError();
            p->refused[d] = true;
            return -1;
        }
        p->algo[d] = r[i].algo;
        p->math[d] = tf32 ? r[i].mathType : DNN_FMA_MATH;
        if (!DNN_OK(SetConvolutionMathType, p->conv, p->math[d])) return 0;
        size_t ws = 0;
        bool ok = d == FWD ? DNN_OK(GetConvolutionForwardWorkspaceSize, handle, p->x, p->w, p->conv, p->y, p->algo[d], &ws)
             : d == BWD_DATA
                 ? DNN_OK(GetConvolutionBackwardDataWorkspaceSize, handle, p->w, p->y, p->conv, p->x, p->algo[d], &ws)
                 : DNN_OK(GetConvolutionBackwardFilterWorkspaceSize, handle, p->x, p->y, p->conv, p->w, p->algo[d],
                          &ws);
        if (!ok) return 0;
        p->ws[d] = ws;
        p->found[d] = true;
    }
    return DNN_OK(SetConvolutionMathType, p->conv, p->math[d]) ? 1 : 0;
}

/* Run direction d of plan p on the workspace it needs: 1 done, 0 failed, -1 not handled. */
#define RUN_DIRECTION(d, call)                                               \
    do {                                                                     \
        int ready = prepare(op, p, d);                                       \
        if (ready <= 0) return ready;                                        \
        void *ws = p->ws[d] ? workspace(op, p->ws[d]) : NULL;                \
        if (p->ws[d] && !ws) return 0;                                       \
        return call ? 1 : 0;                                                 \
    } while (0)

/* out = conv(in, w), no bias (the caller adds it): 1 done, 0 failed (error recorded), -1 not
 * handled (run im2col) */
int cudnn_forward(float *out, const float *in, const float *w, const nn_conv *c)
{
    const char *op = "conv2d_forward";
    plan *p = plan_for(op, c);
    if (!p) return 0;
    const float one = 1.0f, zero = 0.0f;
    RUN_DIRECTION(FWD, DNN_OK(ConvolutionForward, handle, &one, p->x, in, p->w, w, p->conv, p->algo[FWD], ws,
                              p->ws[FWD], &zero, p->y, out));
}

/* din += dL/din: as cudnn_forward */
int cudnn_backward_data(float *din, const float *dout, const float *w, const nn_conv *c)
{
    const char *op = "conv2d_backward";
    plan *p = plan_for(op, c);
    if (!p) return 0;
    const float one = 1.0f;
    RUN_DIRECTION(BWD_DATA, DNN_OK(ConvolutionBackwardData, handle, &one, p->w, w, p->y, dout, p->conv,
                                   p->algo[BWD_DATA], ws, p->ws[BWD_DATA], &one, p->x, din));
}

/* dw += dL/dw: as cudnn_forward */
int cudnn_backward_filter(float *dw, const float *dout, const float *in, const nn_conv *c)
{
    const char *op = "conv2d_backward";
    plan *p = plan_for(op, c);
    if (!p) return 0;
    const float one = 1.0f;
    RUN_DIRECTION(BWD_FILTER, DNN_OK(ConvolutionBackwardFilter, handle, &one, p->x, in, p->y, dout, p->conv,
                                     p->algo[BWD_FILTER], ws, p->ws[BWD_FILTER], &one, p->w, dw));
}

}   // namespace dfs_cuda

#pragma GCC visibility pop
