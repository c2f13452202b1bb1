/* conv_direct.h: direct (im2col-free) convolution kernels for convolutions with few output
 * channels, the CPU hot path of the Meso models (see conv_direct.c for why they are shaped as
 * they are). nn_conv2d_forward/backward (conv.c) choose them; they are declared here so the unit
 * tests can call them on shapes the dispatcher would not pick. Internal to lib/nn. */
#ifndef DFS_NN_CONV_DIRECT_H
#define DFS_NN_CONV_DIRECT_H

#include "nn/ops.h"

/* Whether the direct kernels can run this convolution: ungrouped and horizontal stride 1 (any
 * vertical stride, dilation and padding) for the forward pass and the weight gradient; the
 * input gradient also needs vertical stride 1. */
int nn_conv_direct_forward_ok(const nn_conv *c);
int nn_conv_direct_din_ok(const nn_conv *c);
/* out (N,K,P,Q) = conv(in, w) + b (b may be NULL); relu != 0 stores max(0, .) instead. */
void nn_conv_direct_forward(float *out, const float *in, const float *w, const float *b, const nn_conv *c, int relu);
/* din (N,C,H,W) += dL/din (needs nn_conv_direct_din_ok) */
void nn_conv_direct_backward_data(float *din, const float *dout, const float *w, const nn_conv *c);
/* dw (K,C,R,S) += dL/dw, summed over the images in order (the same bits at any thread count) */
void nn_conv_direct_backward_weights(float *dw, const float *dout, const float *in, const nn_conv *c);

#endif
