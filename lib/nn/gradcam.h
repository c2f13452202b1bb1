/* gradcam.h: the network half of Grad-CAM (Selvaraju et al., 2017) on a graph (graph.h).
 *
 * For every sample of a batch: the gradient of the class score with respect to the activations A
 * of one node, channel weights w_k = spatial mean of that gradient, and the low-resolution map
 * sum_k w_k A_k (optionally followed by ReLU). Upsampling, scaling and colouring are image work
 * and live in analysis/gradcam.h. The maps are made on the graph's backend (its cam_map op), so
 * per batch only the input and the class seed go to it and the maps (and guided gradients) come back.
 *
 * Class score (the same convention for every architecture, see formats/cam.md): the score is
 * pre-sigmoid / pre-softmax, as Selvaraju et al. use it.
 *   1-logit models (meso4, mesoinception4, shallownet): fake = the logit z, real = -z
 *     (sigmoid(-z) is P(real), so -z is the real class's logit);
 *   2-logit models (xception, efficientnet-b0): the logit of the class (index 1 fake, 0 real). */
#ifndef DFS_NN_GRADCAM_H
#define DFS_NN_GRADCAM_H

#include "nn/graph.h"

enum { NN_CAM_REAL = 0, NN_CAM_FAKE = 1 };

/* A node usable as a Grad-CAM layer: a spatial feature map (H*W > 1) before the head. Returns
 * the node index, or -1 with an error naming the layer and listing some usable ones. */
int nn_gradcam_layer(const nn_graph *g, const char *name);

/* x: N images (N, C, S, S) as the model takes them; g sized for at least N (nn_graph_set_batch).
 * maps: N * H * W floats (the layer's H x W): sum_k w_k A_k, with ReLU when relu is set.
 * guided: when not NULL, N * C * S * S floats: the guided-backpropagation gradient of the class
 * score with respect to the input (a second backward with g->run.guided_relu). 0 or -1. */
int nn_gradcam_batch(nn_graph *g, int layer, int cls, const float *x, int64_t N, int relu, float *maps,
                     float *guided);

#endif
