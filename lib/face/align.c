/* align.c: similarity-aligned and box crops with bilinear sampling. */
#include "face/face.h"

#include <math.h>
#include <string.h>

/* ArcFace's 112x112 template (InsightFace): left eye, right eye, left and right mouth corner. */
static const double tmpl[4][2] = {
    {38.2946, 51.6963}, {73.5318, 51.5014}, {41.5493, 92.3655}, {70.7299, 92.2041}};

/* out(u, v) = src(A^-1 ((u, v) - t)) with A = [a -b; b a]; black outside the source. */
static int warp_similarity(const dfs_image *src, double a, double b, double tx, double ty, int size, dfs_image *out)
{
    if (dfs_image_alloc(out, size, size, 3) != 0) return -1;
    double det = a * a + b * b;
    double ia = a / det, ib = b / det;   /* A^-1 = [ia ib; -ib ia] */
    for (int v = 0; v < size; v++) {
        uint8_t *o = out->px + (size_t)v * size * 3;
        for (int u = 0; u < size; u++, o += 3) {
            double du = u - tx, dv = v - ty;
            double x = ia * du + ib * dv, y = -ib * du + ia * dv;
            double fx = floor(x), fy = floor(y);
            int x0 = (int)fx, y0 = (int)fy;
            double ax = x - fx, ay = y - fy;
            double acc[3] = {0, 0, 0};
            for (int k = 0; k < 4; k++) {
                int xx = x0 + (k & 1), yy = y0 + (k >> 1);
                double w = ((k & 1) ? ax : 1 - ax) * ((k >> 1) ? ay : 1 - ay);
                if (w == 0 || xx < 0 || yy < 0 || xx >= src->w || yy >= src->h) continue;
                const uint8_t *p = src->px + ((size_t)yy * src->w + xx) * 3;
                acc[0] += w * p[0]; acc[1] += w * p[1]; acc[2] += w * p[2];
            }
            for (int c = 0; c < 3; c++) o[c] = (uint8_t)lrint(fmin(255, fmax(0, acc[c])));
        }
    }
    return 0;
}

int dfs_face_align(const dfs_image *src, const float *p, double margin, int size, dfs_image *out)
{
    double from[4][2] = {{0, 0}, {0, 0}, {p[2 * 48], p[2 * 48 + 1]}, {p[2 * 54], p[2 * 54 + 1]}};
    for (int i = 36; i < 42; i++) { from[0][0] += p[2 * i] / 6; from[0][1] += p[2 * i + 1] / 6; }
    for (int i = 42; i < 48; i++) { from[1][0] += p[2 * i] / 6; from[1][1] += p[2 * i + 1] / 6; }
    double to[4][2];
    double k = size / 112.0;
    for (int i = 0; i < 4; i++) {
        /* the template fills 112 pixels tightly; the margin zooms out about its centre */
        to[i][0] = ((tmpl[i][0] - 56) / margin + 56) * k - 0.5;
        to[i][1] = ((tmpl[i][1] - 56) / margin + 56) * k - 0.5;
    }
    double mfx = 0, mfy = 0, mtx = 0, mty = 0;
    for (int i = 0; i < 4; i++) { mfx += from[i][0] / 4; mfy += from[i][1] / 4; mtx += to[i][0] / 4; mty += to[i][1] / 4; }
    double sxx = 0, dot = 0, crs = 0;
    for (int i = 0; i < 4; i++) {
        double fx = from[i][0] - mfx, fy = from[i][1] - mfy, tx = to[i][0] - mtx, ty = to[i][1] - mty;
        sxx += fx * fx + fy * fy;
        dot += fx * tx + fy * ty;
        crs += fx * ty - fy * tx;
    }
    double a = sxx > 0 ? dot / sxx : 1, b = sxx > 0 ? crs / sxx : 0;
    double tx = mtx - (a * mfx - b * mfy), ty = mty - (b * mfx + a * mfy);
    return warp_similarity(src, a, b, tx, ty, size, out);
}

int dfs_face_crop_box(const dfs_image *src, dfs_box box, double margin, int size, dfs_image *out)
{
    double side = margin * (box.w > box.h ? box.w : box.h);
    double a = size / side;
    /* the box centre (in pixel-centre coordinates) lands on the crop's centre */
    double cx = box.x + box.w / 2.0 - 0.5, cy = box.y + box.h / 2.0 - 0.5;
    double c = (size - 1) / 2.0;
    return warp_similarity(src, a, 0, c - a * cx, c - a * cy, size, out);
}
