/* gradcam.c: upsampling, scaling and colouring class activation maps. */
#include <math.h>
#include <stdlib.h>

#include "core/common.h"
#include "analysis/gradcam.h"

void dfs_cam_resize(const float *src, int64_t h, int64_t w, float *dst, int64_t H, int64_t W)
{
    double sy = (double)h / (double)H, sx = (double)w / (double)W;
    for (int64_t Y = 0; Y < H; Y++) {
        double fy = (Y + 0.5) * sy - 0.5;
        if (fy < 0.0) fy = 0.0;
        int64_t y0 = (int64_t)fy;
        if (y0 > h - 1) y0 = h - 1;
        int64_t y1 = y0 + 1 < h ? y0 + 1 : h - 1;
        double ty = fy - (double)y0;
        for (int64_t X = 0; X < W; X++) {
            double fx = (X + 0.5) * sx - 0.5;
            if (fx < 0.0) fx = 0.0;
            int64_t x0 = (int64_t)fx;
            if (x0 > w - 1) x0 = w - 1;
            int64_t x1 = x0 + 1 < w ? x0 + 1 : w - 1;
            double tx = fx - (double)x0;
            double top = src[y0 * w + x0] * (1.0 - tx) + src[y0 * w + x1] * tx;
            double bot = src[y1 * w + x0] * (1.0 - tx) + src[y1 * w + x1] * tx;
            dst[Y * W + X] = (float)(top * (1.0 - ty) + bot * ty);
        }
    }
}

void dfs_cam_minmax(float *m, int64_t n)
{
    if (n <= 0) return;
    float lo = m[0], hi = m[0];
    for (int64_t i = 1; i < n; i++) {
        if (m[i] < lo) lo = m[i];
        if (m[i] > hi) hi = m[i];
    }
    double range = (double)hi - (double)lo;
    for (int64_t i = 0; i < n; i++) m[i] = range > 0.0 ? (float)(((double)m[i] - lo) / range) : 0.0f;
}

/* Jet as piecewise-linear ramps over the entries v = 0..255, in units of colour levels: each
 * channel rises by 4 levels per entry to 255, stays, and falls by 4 per entry; blue starts at
 * 127.5 and red ends at 127.5. The values are exact multiples of 0.5 here, and OpenCV rounds the
 * ties to even. */
static uint8_t ramp(int v, double up, double down)
{
    double x = fmin(4.0 * v + 255.0 * up, -4.0 * v + 255.0 * down);
    return (uint8_t)nearbyint(x < 0.0 ? 0.0 : x > 255.0 ? 255.0 : x);
}

/* OpenCV's COLORMAP_VIRIDIS at entries 0, 5, ..., 255 (measured with python3-opencv 4.6). */
static const uint8_t viridis_ctrl[52][3] = {
    {68,1,84}, {70,8,92}, {71,16,99}, {72,23,105}, {72,29,111}, {72,36,117}, {71,42,122}, {70,48,126}, {69,55,129}, {67,61,132}, {65,66,135}, {63,72,137}, {61,78,138}, {58,83,139}, {56,89,140}, {53,94,141}, {51,99,141}, {49,104,142}, {46,109,142}, {44,113,142}, {42,118,142}, {41,123,142}, {39,128,142}, {37,132,142}, {35,137,142}, {33,142,141}, {32,146,140}, {31,151,139}, {30,156,137}, {31,161,136}, {33,165,133}, {36,170,131}, {40,174,128}, {46,179,124}, {53,183,121}, {61,188,116}, {70,192,111}, {80,196,106}, {90,200,100}, {101,203,94}, {112,207,87}, {124,210,80}, {137,213,72}, {149,216,64}, {162,218,55}, {176,221,47}, {189,223,38}, {202,225,31}, {216,226,25}, {229,228,25}, {241,229,29}, {253,231,37}
};

void dfs_colormap(int which, uint8_t v, uint8_t rgb[3])
{
    if (which == DFS_CMAP_VIRIDIS) {
        int i = v / 5, j = i < 51 ? i + 1 : 51;
        double t = (v - 5 * i) / 5.0;
        for (int c = 0; c < 3; c++) rgb[c] = (uint8_t)floor(viridis_ctrl[i][c] * (1.0 - t) + viridis_ctrl[j][c] * t + 0.5);
        return;
    }
    rgb[0] = ramp(v, -1.5, 4.5);
    rgb[1] = ramp(v, -0.5, 3.5);
    rgb[2] = ramp(v, 0.5, 2.5);
}

void dfs_cam_color(const float *map, int64_t n, uint8_t *rgb)
{
    for (int64_t i = 0; i < n; i++) {
        float v = map[i] < 0.0f ? 0.0f : map[i] > 1.0f ? 1.0f : map[i];
        dfs_colormap(DFS_CMAP_JET, (uint8_t)lrintf(255.0f * v), rgb + 3 * i);
    }
}

static uint8_t sat_u8(double v)
{
    long r = lrint(v);
    return (uint8_t)(r < 0 ? 0 : r > 255 ? 255 : r);
}

void dfs_cam_blend(const uint8_t *img, const uint8_t *heat, int64_t n, double a, uint8_t *out)
{
    for (int64_t i = 0; i < 3 * n; i++) out[i] = sat_u8(a * img[i] + (1.0 - a) * heat[i]);
}

void dfs_cam_study(const float *raw, int64_t h, int64_t w, const uint8_t *img, int64_t H, int64_t W, uint8_t *out)
{
    int64_t n = H * W;
    float *m = dfs_malloc((size_t)n * sizeof(float));
    dfs_cam_resize(raw, h, w, m, H, W);
    dfs_cam_minmax(m, n);
    /* tf-explain: VIRIDIS of the truncated u8 map, added onto 0.7 x the image (the image went
     * through /255 and x255 in double and a truncating cast) */
    int lo = 255, hi = 0;
    for (int64_t i = 0; i < n; i++) {
        uint8_t c[3];
        dfs_colormap(DFS_CMAP_VIRIDIS, (uint8_t)(255.0f * m[i]), c);
        for (int k = 0; k < 3; k++) {
            uint8_t im = (uint8_t)((img[3 * i + k] / 255.0) * 255.0);
            uint8_t v = sat_u8(0.7 * im + 1.0 * c[k]);
            out[3 * i + k] = v;
            if (v < lo) lo = v;
            if (v > hi) hi = v;
        }
    }
    /* the study: MINMAX over all channels, gray (BGR weights on RGB data), JET */
    double scale = hi > lo ? 255.0 / (hi - lo) : 0.0, shift = -lo * scale;
    for (int64_t i = 0; i < n; i++) {
        uint8_t *p = out + 3 * i;
        int c0 = sat_u8(p[0] * scale + shift), c1 = sat_u8(p[1] * scale + shift), c2 = sat_u8(p[2] * scale + shift);
        int gray = (c0 * 1868 + c1 * 9617 + c2 * 4899 + (1 << 13)) >> 14;
        dfs_colormap(DFS_CMAP_JET, (uint8_t)gray, p);
    }
    free(m);
}
