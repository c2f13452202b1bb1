/* image.h: 8-bit RGB images (HWC, row-major, as PNG stores them), PNG I/O, resizing and
 * conversion to and from stream records. Images in a stream are u8 records of shape (H, W, 3). */
#ifndef DFS_IMAGE_H
#define DFS_IMAGE_H

#include "core/common.h"
#include "core/stream.h"

typedef struct dfs_image {
    int w, h, c;      /* c is 3 (RGB) for images, 1 for gray maps */
    uint8_t *px;      /* h*w*c bytes, row-major, channels interleaved */
} dfs_image;

int dfs_image_alloc(dfs_image *im, int w, int h, int c);   /* fails on absurd sizes */
void dfs_image_free(dfs_image *im);

/* Read a PNG of any colour type and bit depth as 8-bit RGB (gray, palette and 16-bit are
 * converted to 8-bit RGB, alpha is dropped).
 * Errors name the file: "x.png: not a PNG file", "x.png: truncated or corrupt PNG (...)". */
int dfs_png_read(const char *path, dfs_image *im);
/* Whether the file starts with the PNG signature: 1 yes, 0 no (shorter than it, or other bytes),
 * -1 with an error ("FILE: strerror") when it cannot be opened or read. */
int dfs_png_sniff(const char *path);
/* Decode a PNG held in memory (fuzz entry point). */
int dfs_png_read_mem(const uint8_t *buf, size_t len, const char *name, dfs_image *im);
/* Write an 8-bit RGB (c=3) or gray (c=1) PNG atomically (temporary file, then rename). */
int dfs_png_write(const char *path, const dfs_image *im);

/* Resize with bilinear interpolation (half-pixel centres, as OpenCV's INTER_LINEAR) when
 * enlarging, or area averaging (exact box filter, as OpenCV's INTER_AREA) when shrinking.
 * 0, or -1 with dfs_image_alloc's error ("image size WxHxC outside the supported range") and
 * dst untouched. */
int dfs_image_resize(const dfs_image *src, dfs_image *dst, int w, int h);
int dfs_image_resize_bilinear(const dfs_image *src, dfs_image *dst, int w, int h);
int dfs_image_resize_area(const dfs_image *src, dfs_image *dst, int w, int h);

/* Records: an image record is u8 (H, W, C). to_record sets shape and payload (metadata kept
 * empty); from_record checks the dtype and shape and copies the pixels. */
int dfs_image_to_record(const dfs_image *im, dfs_record *r);
int dfs_image_from_record(const dfs_record *r, dfs_image *im);
/* 1 when the record is an u8 (H, W, 3) image. */
int dfs_record_is_image(const dfs_record *r);

#endif
