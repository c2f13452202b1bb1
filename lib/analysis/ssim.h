/* ssim.h: structural similarity (Wang et al. 2004) between records, as scikit-image 0.19's
 * skimage.metrics.structural_similarity computes it, and the study's SSIM table (RQ3).
 *
 * Default = skimage's defaults, which the study used (count_SSIM.py, multichannel=True):
 * a 7x7 uniform window, K1 0.01, K2 0.03, sample (co)variances (times N/(N-1), N = 49), each
 * channel on its own and the channel SSIMs averaged, the SSIM map averaged over the pixels whose
 * window lies inside the image (skimage crops (win-1)/2 pixels from each border), and the data
 * range from the dtype as skimage's dtype_range gives it: 255 for u8, 2 for f32 (skimage takes
 * floats to lie in [-1, 1]; heatmaps in [0, 1] span 1, so pass data_range 1 for Wang's C1, C2).
 * Gaussian mode = Wang et al.'s window: 11x11 Gaussian with sigma 1.5 (skimage's
 * gaussian_weights=True, truncate 3.5), population (co)variances, 5-pixel crop.
 *
 * Records: u8 or f32, shape (H, W) or (H, W, C) with channels last; both records of a pair must
 * have the same dtype and shape. Arithmetic is in double (skimage uses float32 for f32 input;
 * the two agree to about 1e-7). */
#ifndef DFS_ANALYSIS_SSIM_H
#define DFS_ANALYSIS_SSIM_H

#include "core/stream.h"

typedef struct dfs_ssim_opts {
    int gaussian;        /* 0: 7x7 uniform, sample covariance; 1: 11x11 Gaussian, population */
    double data_range;   /* > 0: this range; 0: from the dtype as skimage does (u8 255, f32 2) */
    double k1, k2;       /* 0.01, 0.03 */
} dfs_ssim_opts;

void dfs_ssim_opts_default(dfs_ssim_opts *o);
/* Side of the window the options give (7 or 11). */
int dfs_ssim_window(const dfs_ssim_opts *o);

/* Mean SSIM of two grey images of h x w doubles, each row `stride` values apart and each pixel
 * `step` values apart (so one channel of an HWC image is x + c, step C). 0, or -1 with an error
 * when the image is smaller than the window or data_range <= 0. */
int dfs_ssim_plane(const double *x, const double *y, size_t h, size_t w, size_t stride, size_t step,
                   const dfs_ssim_opts *o, double data_range, double *out);

/* Mean SSIM of two records (see above for dtypes and shapes), averaged over channels. 0, or -1
 * with an error (no file prefix): dtype or shape mismatch, unsupported dtype or rank, image
 * smaller than the window, a non-finite value. */
int dfs_ssim_records(const dfs_record *a, const dfs_record *b, const dfs_ssim_opts *o, double *out);

/* The study's bins of the per-key mean SSIM: 0 for s < 0.7, 1 for 0.7 <= s < 0.9, 2 for s >= 0.9. */
#define DFS_SSIM_BINS 3
int dfs_ssim_bin(double s);
extern const char *const dfs_ssim_bin_names[DFS_SSIM_BINS];   /* "<0.7", "0.7-0.9", ">=0.9" */

/* The histogram as TSV (formats/ssim-tsv.md): header `bin count percent`, one row per bin and a
 * `total` row. Returns a malloc'd string. */
char *dfs_ssim_hist_tsv(const uint64_t hist[DFS_SSIM_BINS]);

/* The ssim tool's work: join the n >= 2 streams by key (keyjoin.h; intersect skips keys that
 * are not in every stream), write the TSV (header `key ssim_1_2 ... ssim_{n-1}_n mean`) to tsv
 * and count the per-key means into hist. Records are compared in parallel (OpenMP) in batches;
 * the output is the same for any thread count. unmatched[s] (n entries, may be NULL) receives
 * the number of records of stream s skipped by intersect. 0, or -1 with an error that names the
 * file and key. */
int dfs_ssim_streams(const char *const *paths, int n, const dfs_ssim_opts *o, int intersect,
                     dfs_out *tsv, uint64_t hist[DFS_SSIM_BINS], uint64_t *unmatched);

#endif
