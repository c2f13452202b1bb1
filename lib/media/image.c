/* image.c: PNG I/O with libpng, resizing, record conversion, colour maps. */
#include "media/image.h"

#include <errno.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#define DFS_MAX_IMAGE_SIDE 32768
#define DFS_MAX_IMAGE_PIXELS (UINT64_C(1) << 28)

int dfs_image_alloc(dfs_image *im, int w, int h, int c)
{
    if (w <= 0 || h <= 0 || c <= 0 || c > 4 || w > DFS_MAX_IMAGE_SIDE || h > DFS_MAX_IMAGE_SIDE ||
        (uint64_t)w * (uint64_t)h > DFS_MAX_IMAGE_PIXELS)
        return dfs_fail("image size %dx%dx%d outside the supported range", w, h, c);
    im->w = w;
    im->h = h;
    im->c = c;
    im->px = dfs_malloc((size_t)w * h * c);
    return 0;
}

void dfs_image_free(dfs_image *im)
{
    free(im->px);
    memset(im, 0, sizeof *im);
}

/* ---- PNG reading ---- */
typedef struct png_src {
    const char *name;
    FILE *f;
    const uint8_t *buf;
    size_t len, pos;
    char err[256];
} png_src;

static void png_err_cb(png_structp png, png_const_charp msg)
{
    png_src *s = png_get_error_ptr(png);
    snprintf(s->err, sizeof s->err, "%s", msg);
    png_longjmp(png, 1);
}

static void png_warn_cb(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;   /* warnings (e.g. a bad sRGB chunk) are not errors */
}

static void png_read_mem_cb(png_structp png, png_bytep out, png_size_t n)
{
    png_src *s = png_get_io_ptr(png);
    if (n > s->len - s->pos) png_error(png, "truncated file");
    memcpy(out, s->buf + s->pos, n);
    s->pos += n;
}

static int png_decode(png_src *s, dfs_image *im)
{
    memset(im, 0, sizeof *im);
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, s, png_err_cb, png_warn_cb);
    if (!png) return dfs_fail("%s: cannot initialise libpng", s->name);
    png_infop info = png_create_info_struct(png);
    /* volatile: both are changed after setjmp and must survive a longjmp to be freed */
    png_bytep *volatile rows = NULL;
    uint8_t *volatile px = NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return dfs_fail("%s: cannot initialise libpng", s->name);
    }
    if (setjmp(png_jmpbuf(png))) {
        free(rows);
        free(px);
        png_destroy_read_struct(&png, &info, NULL);
        return dfs_fail("%s: corrupt PNG (%s)", s->name, s->err[0] ? s->err : "decode error");
    }
    if (s->f) png_init_io(png, s->f);
    else png_set_read_fn(png, s, png_read_mem_cb);
    png_set_sig_bytes(png, 8);
    /* refuse absurd dimensions before libpng allocates anything */
    png_set_user_limits(png, DFS_MAX_IMAGE_SIDE, DFS_MAX_IMAGE_SIDE);
    png_set_chunk_malloc_max(png, 64u << 20);
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    int ct = png_get_color_type(png, info), bd = png_get_bit_depth(png, info);
    if ((uint64_t)w * h > DFS_MAX_IMAGE_PIXELS) png_error(png, "image too large");
    if (bd == 16) png_set_strip_16(png);
    if (ct == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (ct == PNG_COLOR_TYPE_GRAY && bd < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
    if (ct == PNG_COLOR_TYPE_GRAY || ct == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
    png_set_strip_alpha(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if (png_get_channels(png, info) != 3 || png_get_bit_depth(png, info) != 8)
        png_error(png, "unsupported colour format");
    size_t stride = (size_t)w * 3;
    px = malloc(stride * h);
    rows = malloc(sizeof *rows * h);
    if (!px || !rows) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < h; y++) rows[y] = px + y * stride;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    free(rows);
    png_destroy_read_struct(&png, &info, NULL);
    im->w = (int)w;
    im->h = (int)h;
    im->c = 3;
    im->px = px;
    return 0;
}

int dfs_png_sniff(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return dfs_fail("%s: %s", path, strerror(errno));
    uint8_t sig[8];
    size_t n = fread(sig, 1, sizeof sig, f);
    int err = ferror(f) ? errno : 0;
    fclose(f);
    if (err) return dfs_fail("%s: %s", path, strerror(err));
    return n == sizeof sig && png_sig_cmp(sig, 0, sizeof sig) == 0;
}

int dfs_png_read(const char *path, dfs_image *im)
{
    png_src s;
    memset(&s, 0, sizeof s);
    s.name = path;
    s.f = fopen(path, "rb");
    if (!s.f) return dfs_fail("%s: %s", path, strerror(errno));
    uint8_t sig[8];
    size_t got = fread(sig, 1, 8, s.f);
    if (got != 8 || png_sig_cmp(sig, 0, 8) != 0) {
        fclose(s.f);
        return dfs_fail("%s: not a PNG file", path);
    }
    int r = png_decode(&s, im);
    fclose(s.f);
    return r;
}

int dfs_png_read_mem(const uint8_t *buf, size_t len, const char *name, dfs_image *im)
{
    if (len < 8 || png_sig_cmp(buf, 0, 8) != 0) return dfs_fail("%s: not a PNG file", name);
    png_src s;
    memset(&s, 0, sizeof s);
    s.name = name;
    s.buf = buf;
    s.len = len;
    s.pos = 8;
    return png_decode(&s, im);
}

/* ---- PNG writing ---- */
typedef struct png_dst {
    dfs_out *out;
    int failed;
} png_dst;

static void png_write_cb(png_structp png, png_bytep data, png_size_t n)
{
    png_dst *d = png_get_io_ptr(png);
    if (dfs_out_write(d->out, data, n) != 0) {
        d->failed = 1;
        png_error(png, dfs_error());
    }
}

static void png_flush_cb(png_structp png) { (void)png; }

int dfs_png_write(const char *path, const dfs_image *im)
{
    if (im->c != 1 && im->c != 3) return dfs_fail("%s: can only write gray or RGB images", path);
    dfs_out out;
    if (dfs_out_open(&out, path, 1, 1) != 0) return -1;
    png_dst d = {&out, 0};
    png_src msg;   /* png_err_cb leaves libpng's message here */
    memset(&msg, 0, sizeof msg);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &msg, png_err_cb, png_warn_cb);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_write_struct(&png, &info);
        dfs_out_abort(&out);
        return dfs_fail("%s: cannot initialise libpng", path);
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        dfs_out_abort(&out);
        return dfs_fail("%s: %s", path, msg.err[0] ? msg.err : "PNG write failed");
    }
    png_set_write_fn(png, &d, png_write_cb, png_flush_cb);
    png_set_IHDR(png, info, (png_uint_32)im->w, (png_uint_32)im->h, 8,
                 im->c == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_compression_level(png, 6);
    png_write_info(png, info);
    for (int y = 0; y < im->h; y++) png_write_row(png, im->px + (size_t)y * im->w * im->c);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return dfs_out_commit(&out);
}

/* ---- resizing ---- */
int dfs_image_resize_bilinear(const dfs_image *src, dfs_image *dst, int w, int h)
{
    if (dfs_image_alloc(dst, w, h, src->c) != 0) return -1;
    int c = src->c;
    double sx = (double)src->w / w, sy = (double)src->h / h;
    for (int y = 0; y < h; y++) {
        double fy = (y + 0.5) * sy - 0.5;
        if (fy < 0) fy = 0;
        int y0 = (int)fy;
        if (y0 > src->h - 1) y0 = src->h - 1;
        int y1 = y0 + 1 < src->h ? y0 + 1 : src->h - 1;
        double ay = fy - y0;
        for (int x = 0; x < w; x++) {
            double fx = (x + 0.5) * sx - 0.5;
            if (fx < 0) fx = 0;
            int x0 = (int)fx;
            if (x0 > src->w - 1) x0 = src->w - 1;
            int x1 = x0 + 1 < src->w ? x0 + 1 : src->w - 1;
            double ax = fx - x0;
            for (int k = 0; k < c; k++) {
                const uint8_t *p = src->px;
                double v00 = p[((size_t)y0 * src->w + x0) * c + k], v01 = p[((size_t)y0 * src->w + x1) * c + k];
                double v10 = p[((size_t)y1 * src->w + x0) * c + k], v11 = p[((size_t)y1 * src->w + x1) * c + k];
                double v = (1 - ay) * ((1 - ax) * v00 + ax * v01) + ay * ((1 - ax) * v10 + ax * v11);
                dst->px[((size_t)y * w + x) * c + k] = (uint8_t)lrint(v < 0 ? 0 : v > 255 ? 255 : v);
            }
        }
    }
    return 0;
}

int dfs_image_resize_area(const dfs_image *src, dfs_image *dst, int w, int h)
{
    if (dfs_image_alloc(dst, w, h, src->c) != 0) return -1;
    int c = src->c;
    double sx = (double)src->w / w, sy = (double)src->h / h;
    double *acc = dfs_calloc((size_t)c, sizeof *acc);
    for (int y = 0; y < h; y++) {
        double y0 = y * sy, y1 = (y + 1) * sy;
        for (int x = 0; x < w; x++) {
            double x0 = x * sx, x1 = (x + 1) * sx, area = 0;
            memset(acc, 0, (size_t)c * sizeof *acc);
            for (int yy = (int)y0; yy < src->h && yy < y1; yy++) {
                double wy = fmin(yy + 1, y1) - fmax(yy, y0);
                if (wy <= 0) continue;
                for (int xx = (int)x0; xx < src->w && xx < x1; xx++) {
                    double wx = fmin(xx + 1, x1) - fmax(xx, x0);
                    if (wx <= 0) continue;
                    const uint8_t *p = src->px + ((size_t)yy * src->w + xx) * c;
                    for (int k = 0; k < c; k++) acc[k] += wx * wy * p[k];
                    area += wx * wy;
                }
            }
            for (int k = 0; k < c; k++) {
                double v = area > 0 ? acc[k] / area : 0;
                dst->px[((size_t)y * w + x) * c + k] = (uint8_t)lrint(v > 255 ? 255 : v);
            }
        }
    }
    free(acc);
    return 0;
}

int dfs_image_resize(const dfs_image *src, dfs_image *dst, int w, int h)
{
    if (w < src->w || h < src->h) return dfs_image_resize_area(src, dst, w, h);
    return dfs_image_resize_bilinear(src, dst, w, h);
}

/* ---- records ---- */
int dfs_image_to_record(const dfs_image *im, dfs_record *r)
{
    uint64_t dims[3] = {(uint64_t)im->h, (uint64_t)im->w, (uint64_t)im->c};
    if (dfs_record_shape(r, DFS_U8, 3, dims) != 0) return -1;
    memcpy(r->data, im->px, (size_t)r->nbytes);
    return 0;
}

int dfs_record_is_image(const dfs_record *r)
{
    return r->dtype == DFS_U8 && r->rank == 3 && r->dims[2] == 3 && r->dims[0] > 0 && r->dims[1] > 0;
}

int dfs_image_from_record(const dfs_record *r, dfs_image *im)
{
    char shape[128];
    if (r->dtype != DFS_U8 || r->rank != 3 || (r->dims[2] != 3 && r->dims[2] != 1))
        return dfs_fail("expected an u8 image of shape HxWx3, got %s %s", dfs_dtype_name(r->dtype),
                        dfs_shape_str(r, shape, sizeof shape));
    if (r->dims[0] > DFS_MAX_IMAGE_SIDE || r->dims[1] > DFS_MAX_IMAGE_SIDE)
        return dfs_fail("image %s too large", dfs_shape_str(r, shape, sizeof shape));
    if (dfs_image_alloc(im, (int)r->dims[1], (int)r->dims[0], (int)r->dims[2]) != 0) return -1;
    memcpy(im->px, r->data, (size_t)r->nbytes);
    return 0;
}
