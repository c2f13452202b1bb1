/* models.h: the five architectures of the study, built as graphs (graph.h).
 *
 * Authority: docs/study-facts.md section 1 (layer order, padding, dropout, heads).
 * Every model takes an RGB image scaled to [0, 1], NCHW (N, 3, S, S), and ends in LOGITS:
 *   - meso4, mesoinception4, shallownet: one logit per image, node "head.logits" (N, 1);
 *     P(fake) = sigmoid(logit).
 *   - xception, efficientnet-b0: two logits per image (N, 2); P(fake) = softmax(logits)[1],
 *     so softmax index 0 is real and 1 is fake.
 * Labels: 0 real, 1 fake. The original Keras code used flow_from_directory's alphabetical classes
 * (fake = 0, real = 1): its sigmoid models output P(real) and its softmax models
 * [P(fake), P(real)]. Here both conventions are flipped to "higher = fake"; a Keras sigmoid
 * output p corresponds to our sigmoid(logit) = 1 - p, and Keras softmax index 0 to our index 1.
 *
 * Every BatchNormalization uses Keras's defaults: momentum 0.99, epsilon 1e-3, gamma 1, beta 0.
 * Initial kernels are Keras's default Glorot-uniform (biases zero) wherever the study's code sets
 * no initialiser: meso4 and mesoinception4 (DariusAf/MesoNet classifiers.py), shallownet, and
 * xception (Keras applications: Conv2D and both kernels of SeparableConv2D). efficientnet-b0
 * uses qubvel/efficientnet's own initialisers (models.c).
 * Node names are stable (documented per architecture in models.c); the lists below name the
 * nodes other tools address. */
#ifndef DFS_NN_MODELS_H
#define DFS_NN_MODELS_H

#include "nn/graph.h"

#define NN_BN_MOMENTUM 0.99f
#define NN_BN_EPS 1e-3f
#define NN_DEFAULT_SIZE 256

/* One architecture: everything the tools and the trainer know about it. */
typedef struct nn_model_info {
    const char *name;          /* train's name: "meso4", ... */
    const char *paper_name;    /* the detector's name in the paper's Table 4: "MesoNet", ... */
    int classes;               /* 1: sigmoid logit; 2: two-way softmax logits */
    nn_loss_kind loss;         /* stage-1 loss of the study (mse or bce on a sigmoid, bce_softmax2) */
    double stage1_lr;          /* stage-1 Adam learning rate of the study */
    const char *cam_layer;     /* default Grad-CAM layer (docs/study-facts.md section 3) */
    const char *ace_layer;     /* default causal-analysis layer, NULL when the study used none */
    const char *const *head;   /* nodes trained in stage 2 (transfer learning), NULL-terminated */
    void (*build)(nn_graph *g, int64_t size);   /* adds the nodes for S x S inputs */
} nn_model_info;

/* The architectures in a fixed order, ended by an entry whose name is NULL. */
extern const nn_model_info nn_models[];
/* Info for an architecture name, or NULL. */
const nn_model_info *nn_model_find(const char *arch);
/* The architecture names in order, joined by ", " and by `last` (", " or " or ") before the last
 * one, into buf (cut to n - 1 characters); returns buf. */
const char *nn_model_list(char *buf, size_t n, const char *last);
/* Build the graph of `arch` for S x S inputs (parameters not allocated yet). NULL with an error
 * ("unknown architecture ...", or which layer the size does not fit). */
nn_graph *nn_model_build(const char *arch, int64_t size);
/* P(fake) for each of the N samples from the model's output logits. */
void nn_model_pfake(const nn_model_info *m, const float *logits, int64_t N, float *pfake);

#endif
