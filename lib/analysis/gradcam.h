/* gradcam.h: the image half of Grad-CAM: upsampling and scaling a low-resolution class
 * activation map, the JET and VIRIDIS colormaps, overlays, and the study's own post-processing
 * (--compat study, formats/cam.md). The network half is nn/gradcam.h. */
#ifndef DFS_ANALYSIS_GRADCAM_H
#define DFS_ANALYSIS_GRADCAM_H

#include <stdint.h>

/* Bilinear resize of an h x w float map to H x W with half-pixel centres and clamped borders
 * (OpenCV's INTER_LINEAR, PyTorch's align_corners=False without antialiasing). */
void dfs_cam_resize(const float *src, int64_t h, int64_t w, float *dst, int64_t H, int64_t W);

/* Scale n values to [0, 1] by (v - min) / (max - min); a constant map becomes all zeros. */
void dfs_cam_minmax(float *m, int64_t n);

/* 256-entry colour lookups, RGB. JET: OpenCV's COLORMAP_JET (blue 0.5 -> 1 over the first eighth,
 * then cyan, yellow, red, down to red 0.5), rounded to nearest, ties to even; equal to OpenCV
 * 4.6's table except blue at entry 159 (2 here, 1 there: OpenCV's stored ramp value sits just
 * below the tie).
 * VIRIDIS: OpenCV's COLORMAP_VIRIDIS, linearly interpolated from 52 control points (every 5th
 * entry of the table); within 1 level of OpenCV's entries. */
enum { DFS_CMAP_JET = 0, DFS_CMAP_VIRIDIS = 1 };
void dfs_colormap(int which, uint8_t v, uint8_t rgb[3]);

/* n map values in [0, 1] -> n RGB pixels: JET of round(255 * v). */
void dfs_cam_color(const float *map, int64_t n, uint8_t *rgb);

/* out = round(a * img + (1 - a) * heat) per channel, n RGB pixels (out may alias either). */
void dfs_cam_blend(const uint8_t *img, const uint8_t *heat, int64_t n, double a, uint8_t *out);

/* What the study saved (docs/study-facts.md section 3), from the raw map sum_k w_k A_k WITHOUT ReLU
 * (h x w) and the input image (H x W RGB):
 *   tf-explain: resize to H x W, min-max to [0,1], u8 = trunc(255 v), VIRIDIS, saturating
 *     round(0.7 * image + 1.0 * heatmap);
 *   study: cv2.normalize MINMAX to 0..255 over all channels, gray with BGR2GRAY weights applied to
 *     RGB-ordered data (0.114 R + 0.587 G + 0.299 B, OpenCV's 14-bit fixed point), JET.
 * out: H x W RGB (the colours the study's PNG shows). */
void dfs_cam_study(const float *raw, int64_t h, int64_t w, const uint8_t *img, int64_t H, int64_t W, uint8_t *out);

#endif
