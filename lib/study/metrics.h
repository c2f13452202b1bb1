/* metrics.h: the numbers a binary detector is judged by, from P(fake) scores and 0/1 labels
 * (1 = fake, the positive class). Ground layer: depends on nothing but libc and rng.h.
 *
 *   acc  accuracy at threshold 0.5; p >= 0.5 counts as fake (as Keras's `p < 0.5 -> 0 else 1`).
 *   auc  ROC AUC as the Mann-Whitney statistic: the chance that a random fake scores above a random
 *        real, ties counting one half (the same as average ranks).
 *   ap   average precision, step-wise as scikit-learn's average_precision_score:
 *        sum over distinct thresholds (descending) of (R_k - R_{k-1}) * P_k.
 *   eer  equal error rate: where FNR = 1 - TPR meets FPR on the piecewise-linear ROC curve
 *        (points after each distinct threshold, from (0,0) to (1,1)), interpolated linearly.
 *
 * Undefined values are NaN, never an error: auc and eer need both classes; ap needs at least one
 * fake (with fakes only it is 1); acc needs one sample. Callers print NaN as `nan`. */
#ifndef DFS_METRICS_H
#define DFS_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "core/rng.h"

typedef struct dfs_metrics {
    double n;            /* total weight (the number of samples when unweighted) */
    double n_pos, n_neg; /* weight of fakes and of reals */
    double acc, auc, ap, eer;
} dfs_metrics;

/* Metrics of n scores p[i] in [0,1] with labels y[i] in {0,1}; w[i] >= 0 are sample weights
 * (counts), or NULL for all ones. Returns 0, or -1 (dfs_error) on a label not 0/1 or a score
 * outside [0,1] / NaN, naming the index. */
int dfs_metrics_compute(const double *p, const uint8_t *y, const double *w, size_t n,
                        dfs_metrics *out);

/* 95% percentile-bootstrap intervals: lo/hi of each metric over `reps` resamples of the n
 * samples drawn with replacement (each a sample of size n), by the generator r. A resample in
 * which a metric is undefined (one class only) does not count for that metric; a metric with no
 * defined resample gets NaN bounds. Percentiles interpolate linearly between order statistics
 * (numpy's default). */
typedef struct dfs_metrics_ci {
    dfs_metrics lo, hi;  /* only acc, auc, ap, eer are set */
    size_t reps;
} dfs_metrics_ci;
int dfs_metrics_bootstrap(const double *p, const uint8_t *y, size_t n, size_t reps, dfs_rng *r,
                          dfs_metrics_ci *out);

/* The q-quantile (0..1) of v[0..n) by linear interpolation between order statistics; sorts v in
 * place; NaN when n == 0. */
double dfs_quantile(double *v, size_t n, double q);

#endif
