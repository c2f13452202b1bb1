/* metrics.c: acc, ROC AUC, AP and EER in one sweep over the scores sorted in descending order.
 * Samples with equal scores form one group (one threshold), which is what makes ties count one
 * half in the AUC and makes AP and the ROC curve step only at distinct scores, as scikit-learn's
 * curves do. Weights let the bootstrap reuse one sort: a resample is a vector of counts. */
#include "study/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"

typedef struct {
    double p;
    size_t i;
} scored;

/* descending score; equal scores by index so the order is total and the same everywhere */
static int cmp_desc(const void *a, const void *b)
{
    const scored *x = a, *y = b;
    if (x->p > y->p) return -1;
    if (x->p < y->p) return 1;
    return (x->i > y->i) - (x->i < y->i);
}

/* One pass over samples already sorted by descending p; w may be NULL (all ones). */
static void sweep(const double *p, const uint8_t *y, const double *w, size_t n, dfs_metrics *m)
{
    double pos = 0, neg = 0, correct = 0;
    for (size_t k = 0; k < n; k++) {
        double wk = w ? w[k] : 1.0;
        if (y[k]) pos += wk; else neg += wk;
        if ((p[k] >= 0.5) == (y[k] != 0)) correct += wk;
    }
    m->n = pos + neg;
    m->n_pos = pos;
    m->n_neg = neg;
    m->acc = m->n > 0 ? correct / m->n : NAN;
    m->auc = m->ap = m->eer = NAN;
    if (pos <= 0 && neg <= 0) return;

    double tp = 0, fp = 0, auc_sum = 0, ap = 0, prev_recall = 0;
    double prev_fpr = 0, prev_d = 1;   /* d = FNR - FPR at the previous ROC point, (0,0) first */
    int eer_done = 0;
    for (size_t k = 0; k < n;) {
        double gp = 0, gn = 0;
        size_t e = k;
        for (; e < n && p[e] == p[k]; e++) {
            double we = w ? w[e] : 1.0;
            if (y[e]) gp += we; else gn += we;
        }
        k = e;
        if (gp <= 0 && gn <= 0) continue;   /* a threshold no sample of this resample sits at */
        double neg_below = neg - fp - gn;
        auc_sum += gp * (neg_below + 0.5 * gn);
        tp += gp;
        fp += gn;
        if (pos > 0) {
            double recall = tp / pos;
            ap += (recall - prev_recall) * (tp / (tp + fp));
            prev_recall = recall;
        }
        if (pos > 0 && neg > 0 && !eer_done) {
            double fpr = fp / neg, d = (1.0 - tp / pos) - fpr;
            if (d <= 0) {
                /* FNR - FPR changes sign on this segment of the ROC curve: both are linear in
                 * the segment's parameter, so they meet where d reaches zero */
                double t = prev_d / (prev_d - d);
                m->eer = prev_fpr + t * (fpr - prev_fpr);
                eer_done = 1;
            }
            prev_fpr = fpr;
            prev_d = d;
        }
    }
    if (pos > 0 && neg > 0) m->auc = auc_sum / (pos * neg);
    if (pos > 0) m->ap = ap;
}

static int check_inputs(const double *p, const uint8_t *y, const double *w, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!(p[i] >= 0.0 && p[i] <= 1.0))
            return dfs_fail("sample %zu: score %g is not a probability in [0,1]", i, p[i]);
        if (y[i] > 1) return dfs_fail("sample %zu: label %u is not 0 or 1", i, (unsigned)y[i]);
        if (w && !(w[i] >= 0.0 && isfinite(w[i])))
            return dfs_fail("sample %zu: weight %g is not a finite number >= 0", i, w[i]);
    }
    return 0;
}

/* Sort order of p, descending, as an index array. */
static size_t *sort_order(const double *p, size_t n)
{
    scored *s = dfs_malloc(dfs_mul_size(n ? n : 1, sizeof *s));
    for (size_t i = 0; i < n; i++) s[i] = (scored){p[i], i};
    qsort(s, n, sizeof *s, cmp_desc);
    size_t *ord = dfs_malloc(dfs_mul_size(n ? n : 1, sizeof *ord));
    for (size_t i = 0; i < n; i++) ord[i] = s[i].i;
    free(s);
    return ord;
}

int dfs_metrics_compute(const double *p, const uint8_t *y, const double *w, size_t n,
                        dfs_metrics *out)
{
    if (check_inputs(p, y, w, n) != 0) return -1;
    size_t *ord = sort_order(p, n);
    size_t m = n ? n : 1;
    double *sp = dfs_malloc(m * sizeof *sp), *sw = w ? dfs_malloc(m * sizeof *sw) : NULL;
    uint8_t *sy = dfs_malloc(m);
    for (size_t k = 0; k < n; k++) {
        sp[k] = p[ord[k]];
        sy[k] = y[ord[k]];
        if (sw) sw[k] = w[ord[k]];
    }
    sweep(sp, sy, sw, n, out);
    free(ord);
    free(sp);
    free(sy);
    free(sw);
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double dfs_quantile(double *v, size_t n, double q)
{
    if (n == 0) return NAN;
    qsort(v, n, sizeof *v, cmp_double);
    double h = (double)(n - 1) * q;
    size_t lo = (size_t)floor(h);
    if (lo >= n - 1) return v[n - 1];
    return v[lo] + (h - (double)lo) * (v[lo + 1] - v[lo]);
}

int dfs_metrics_bootstrap(const double *p, const uint8_t *y, size_t n, size_t reps, dfs_rng *r,
                          dfs_metrics_ci *out)
{
    if (check_inputs(p, y, NULL, n) != 0) return -1;
    memset(out, 0, sizeof *out);
    out->reps = reps;
    size_t m = n ? n : 1;
    size_t *ord = sort_order(p, n);
    size_t *rank = dfs_malloc(m * sizeof *rank);   /* original index -> sorted position */
    double *sp = dfs_malloc(m * sizeof *sp), *cnt = dfs_malloc(m * sizeof *cnt);
    uint8_t *sy = dfs_malloc(m);
    for (size_t k = 0; k < n; k++) {
        rank[ord[k]] = k;
        sp[k] = p[ord[k]];
        sy[k] = y[ord[k]];
    }
    size_t rr = reps ? reps : 1;
    double *val[4];
    size_t nval[4] = {0, 0, 0, 0};
    for (int j = 0; j < 4; j++) val[j] = dfs_malloc(rr * sizeof(double));
    for (size_t b = 0; b < reps; b++) {
        memset(cnt, 0, m * sizeof *cnt);
        /* draw in the input's order so a resample does not depend on how ties sort */
        for (size_t i = 0; i < n; i++) cnt[rank[dfs_rng_below(r, n)]] += 1.0;
        dfs_metrics mb;
        sweep(sp, sy, cnt, n, &mb);
        double v[4] = {mb.acc, mb.auc, mb.ap, mb.eer};
        for (int j = 0; j < 4; j++)
            if (!isnan(v[j])) val[j][nval[j]++] = v[j];
    }
    double lo[4], hi[4];
    for (int j = 0; j < 4; j++) {
        lo[j] = dfs_quantile(val[j], nval[j], 0.025);
        hi[j] = dfs_quantile(val[j], nval[j], 0.975);
        free(val[j]);
    }
    out->lo.acc = lo[0]; out->lo.auc = lo[1]; out->lo.ap = lo[2]; out->lo.eer = lo[3];
    out->hi.acc = hi[0]; out->hi.auc = hi[1]; out->hi.ap = hi[2]; out->hi.eer = hi[3];
    out->lo.n = out->hi.n = (double)n;
    free(ord);
    free(rank);
    free(sp);
    free(cnt);
    free(sy);
    return 0;
}
