/* loss.c: the training losses, from logits, in double. Each returns the batch mean and
 * OVERWRITES dlogit (when not NULL) with the gradient of that mean. */
#include "nn/ops.h"

#include <math.h>

static double sigmoid(double z) { return z >= 0 ? 1.0 / (1.0 + exp(-z)) : exp(z) / (1.0 + exp(z)); }

double nn_loss_mse_sigmoid(float *dlogit, const float *logit, const float *target, int64_t N)
{
    double sum = 0;
    for (int64_t n = 0; n < N; n++) {
        double p = sigmoid(logit[n]), e = p - target[n];
        sum += e * e;
        if (dlogit) dlogit[n] = (float)(2.0 * e * p * (1.0 - p) / (double)N);
    }
    return sum / (double)N;
}

/* Binary cross-entropy as Keras 2 / TF1 computes it on a probability output
 * (tensorflow/python/keras/backend.py binary_crossentropy, from_logits=False, the TF 1.x
 * version; keras-team/keras keras/backend/tensorflow_backend.py is the same): the probability is
 * clipped to [K.epsilon(), 1 - K.epsilon()] = [1e-7, 1 - 1e-7] in float32, turned back into a
 * logit log(p / (1 - p)) and fed to sigmoid_cross_entropy_with_logits. Inside the clip range
 * that is the plain cross-entropy; outside it the loss is that of the clip bound and the
 * gradient is zero (clip_by_value passes the gradient only where lo <= p <= hi). So a confidently
 * wrong output costs at most -log(1e-7) = 16.1 and teaches nothing. (TF 2.x instead takes the
 * logit of a Sigmoid output directly and never clips it; the study ran TF 1.x.)
 * The clip test is made on p rounded to float32, as TF's float32 output; the value inside the
 * range is computed from the logit in double (softplus form), so it stays exact near 0 and 1. */
#define BCE_LO 1e-7f
#define BCE_HI (1.0f - 1e-7f)

/* The element-wise BCE of probability p (with q = 1 - p and log p, log q given accurately) for
 * target t; *pass = 1 when the clip lets the gradient through. */
static double bce_clipped(double p, double logp, double logq, double t, int *pass)
{
    float pf = (float)p;
    *pass = pf >= BCE_LO && pf <= BCE_HI;
    if (*pass) return -t * logp - (1.0 - t) * logq;
    double c = pf < BCE_LO ? (double)BCE_LO : (double)BCE_HI;
    return -t * log(c) - (1.0 - t) * log1p(-c);
}

/* log sigmoid(z) = -softplus(-z), log(1 - sigmoid(z)) = -softplus(z) */
static double softplus(double z) { return (z > 0 ? z : 0) + log1p(exp(-fabs(z))); }

double nn_loss_bce_sigmoid(float *dlogit, const float *logit, const float *target, int64_t N)
{
    double sum = 0;
    for (int64_t n = 0; n < N; n++) {
        double z = logit[n], t = target[n], p = sigmoid(z);
        int pass;
        sum += bce_clipped(p, -softplus(-z), -softplus(z), t, &pass);
        if (dlogit) dlogit[n] = pass ? (float)((p - t) / (double)N) : 0.0f;
    }
    return sum / (double)N;
}

/* Keras 'binary_crossentropy' on the softmax (p0, p1) with one-hot targets (1 - t, t): the mean
 * over the two outputs of the clipped element-wise BCE. Unclipped, each element equals the
 * categorical cross-entropy logsumexp(z) - (1-t) z0 - t z1 and has the gradient
 * (p0 - (1-t), p1 - t) with respect to (z0, z1); a clipped element contributes its bound's loss
 * and no gradient. */
double nn_loss_bce_softmax2(float *dlogits, const float *logits, const float *target, int64_t N)
{
    double sum = 0;
    for (int64_t n = 0; n < N; n++) {
        double z0 = logits[2 * n], z1 = logits[2 * n + 1], t = target[n];
        double m = z0 > z1 ? z0 : z1;
        double e0 = exp(z0 - m), e1 = exp(z1 - m);
        double lse = m + log(e0 + e1);
        double p0 = e0 / (e0 + e1), p1 = e1 / (e0 + e1), lp0 = z0 - lse, lp1 = z1 - lse;
        int pass0, pass1;
        double l0 = bce_clipped(p0, lp0, lp1, 1.0 - t, &pass0);
        double l1 = bce_clipped(p1, lp1, lp0, t, &pass1);
        sum += 0.5 * (l0 + l1);
        if (dlogits) {
            double k = 0.5 * (pass0 + pass1) / (double)N;
            dlogits[2 * n] = (float)(k * (p0 - (1.0 - t)));
            dlogits[2 * n + 1] = (float)(k * (p1 - t));
        }
    }
    return sum / (double)N;
}

const char *nn_loss_name(nn_loss_kind k)
{
    switch (k) {
    case NN_LOSS_MSE: return "mse";
    case NN_LOSS_BCE: return "bce";
    case NN_LOSS_BCE_SOFTMAX2: return "bce_softmax2";
    }
    return "?";
}

double nn_loss_apply(nn_loss_kind k, float *dlogits, const float *logits, const float *target, int64_t N)
{
    switch (k) {
    case NN_LOSS_MSE: return nn_loss_mse_sigmoid(dlogits, logits, target, N);
    case NN_LOSS_BCE: return nn_loss_bce_sigmoid(dlogits, logits, target, N);
    case NN_LOSS_BCE_SOFTMAX2: return nn_loss_bce_softmax2(dlogits, logits, target, N);
    }
    return NAN;
}
