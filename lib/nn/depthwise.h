/* depthwise.h: depthwise convolution (groups == C, K = C * multiplier), the kernels behind
 * nn_conv2d_forward/backward for that case (conv.c dispatches here). Private to lib/nn. */
#ifndef DFS_NN_DEPTHWISE_H
#define DFS_NN_DEPTHWISE_H

#include "nn/ops.h"

/* out (N,K,P,Q) = depthwise(in (N,C,H,W), w (K,1,R,S)) + b (K) [b may be NULL] */
void nn_depthwise_forward(float *out, const float *in, const float *w, const float *b, const nn_conv *c);
/* din += dL/din, dw += dL/dw (either may be NULL; the bias gradient is conv.c's) */
void nn_depthwise_backward(float *din, float *dw, const float *dout, const float *in, const float *w,
                           const nn_conv *c);

#endif
