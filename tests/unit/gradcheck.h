/* gradcheck.h: finite-difference gradient checking for the op unit tests.
 *
 * The scalar loss is L = sum(out * rw) with fixed random weights rw, accumulated in double, so
 * the backward pass is called with dout = rw. Gradient buffers are pre-filled with random values
 * before backward and those are subtracted afterwards: this checks that backward ACCUMULATES.
 * For sampled elements x_i, numeric = (L(x_i + h) - L(x_i - h)) / 2h, and the check is
 * |analytic - numeric| <= atol + rtol * |numeric|. A loss function may set gc_kink when the
 * perturbation crossed a non-differentiable point (relu at 0, a max-pool winner changing);
 * that sample is skipped and counted. */
#ifndef DFS_GRADCHECK_H
#define DFS_GRADCHECK_H

#include "check.h"
#include "core/rng.h"

#include <stdint.h>

static int gc_kink;
static int gc_skipped;

typedef double (*gc_loss_fn)(void *ctx);

static void gc_fill(float *x, int64_t n, dfs_rng *rng, double lo, double hi)
{
    for (int64_t i = 0; i < n; i++) x[i] = (float)dfs_rng_range(rng, lo, hi);
}

static double gc_dot(const float *out, const float *rw, int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)out[i] * rw[i];
    return s;
}

/* Returns the number of mismatches (also recorded as CHECK failures). Checks every element when
 * n <= samples, else `samples` random ones. */
static int gc_check(const char *what, gc_loss_fn f, void *ctx, float *x, const float *grad, int64_t n, int samples,
                    double h, double atol, double rtol, dfs_rng *rng)
{
    int bad = 0;
    int64_t count = n <= samples ? n : samples;
    for (int64_t j = 0; j < count; j++) {
        int64_t i = n <= samples ? j : (int64_t)dfs_rng_below(rng, (uint64_t)n);
        float saved = x[i];
        gc_kink = 0;
        x[i] = (float)(saved + h);
        double hp = x[i] - (double)saved;       /* the step actually taken in float */
        double lp = f(ctx);
        x[i] = (float)(saved - h);
        double hm = (double)saved - x[i];
        double lm = f(ctx);
        x[i] = saved;
        if (gc_kink) {
            gc_skipped++;
            continue;
        }
        double num = (lp - lm) / (hp + hm);
        double ana = grad[i];
        if (!(fabs(ana - num) <= atol + rtol * fabs(num))) {
            if (bad < 5) printf("# %s[%lld]: analytic %.8g numeric %.8g\n", what, (long long)i, ana, num);
            bad++;
        }
    }
    CHECK(bad == 0, "%s: %d of %lld gradient samples off", what, bad, (long long)count);
    return bad;
}

/* The analytic gradient of an accumulating backward: g_after - g_before. */
static void gc_delta(float *g, const float *before, int64_t n)
{
    for (int64_t i = 0; i < n; i++) g[i] -= before[i];
}

#endif
