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

/* -t log p - (1-t) log(1-p) = softplus(z) - t z = max(z, 0) - t z + log1p(exp(-|z|)) */
double nn_loss_bce_sigmoid(float *dlogit, const float *logit, const float *target, int64_t N)
{
    double sum = 0;
    for (int64_t n = 0; n < N; n++) {
        double z = logit[n], t = target[n];
        sum += (z > 0 ? z : 0) - t * z + log1p(exp(-fabs(z)));
        if (dlogit) dlogit[n] = (float)((sigmoid(z) - t) / (double)N);
    }
    return sum / (double)N;
}

/* one-hot (1 - t, t) against softmax(z0, z1): logsumexp(z) - (1-t) z0 - t z1 */
double nn_loss_bce_softmax2(float *dlogits, const float *logits, const float *target, int64_t N)
{
    double sum = 0;
    for (int64_t n = 0; n < N; n++) {
        double z0 = logits[2 * n], z1 = logits[2 * n + 1], t = target[n];
        double m = z0 > z1 ? z0 : z1;
        double e0 = exp(z0 - m), e1 = exp(z1 - m);
        double lse = m + log(e0 + e1);
        sum += lse - (1.0 - t) * z0 - t * z1;
        if (dlogits) {
            double p0 = e0 / (e0 + e1), p1 = e1 / (e0 + e1);
            dlogits[2 * n] = (float)((p0 - (1.0 - t)) / (double)N);
            dlogits[2 * n + 1] = (float)((p1 - t) / (double)N);
        }
    }
    return sum / (double)N;
}
