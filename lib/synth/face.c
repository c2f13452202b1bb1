/* face.c: procedural faces. An identity is a parameter vector drawn from (seed, pool, number); a
 * capture (one recording) adds background, light, colour temperature, camera noise, clothing and a
 * base pose; a pose adds the per-frame motion and expression. The renderer evaluates, per pixel,
 * layers from back to front (background, hair volume, neck, clothes, ears, head, hair fringe,
 * beard, brows, eyes, nose, mouth, glasses) with about one pixel of antialiasing on every edge. */
#include "synth/face.h"

#include <math.h>
#include <string.h>

#include "synth/synth.h"

static float clampf(float x, float lo, float hi) { return x < lo ? lo : x > hi ? hi : x; }
static float smooth01(float t) { t = clampf(t, 0, 1); return t * t * (3 - 2 * t); }
static float mixf(float a, float b, float t) { return a + (b - a) * t; }
static void mix3(float *c, const float *d, float t)
{
    for (int k = 0; k < 3; k++) c[k] += (d[k] - c[k]) * t;
}
static void set3(float *c, float r, float g, float b) { c[0] = r; c[1] = g; c[2] = b; }
static void scale3(float *c, float s) { c[0] *= s; c[1] *= s; c[2] *= s; }
/* coverage of a shape whose signed distance (negative inside) is d, with edge width pw */
static float cov(float d, float pw) { return clampf(0.5f - d / pw, 0, 1); }
/* approximate signed distance to an ellipse (exact on the axes, good enough for edges) */
static float ell_d(float x, float y, float rx, float ry)
{
    float q = sqrtf(x * x / (rx * rx) + y * y / (ry * ry));
    return (q - 1) * fminf(rx, ry);
}
static float gauss2(float x, float y, float sx, float sy)
{
    return expf(-0.5f * (x * x / (sx * sx) + y * y / (sy * sy)));
}

static uint32_t hash3(int x, int y, uint64_t seed)
{
    uint64_t h = seed ^ ((uint64_t)(uint32_t)x * 0x9E3779B97F4A7C15ULL) ^
                 ((uint64_t)(uint32_t)y * 0xC2B2AE3D27D4EB4FULL);
    h ^= h >> 31;
    h *= 0xBF58476D1CE4E5B9ULL;
    h ^= h >> 29;
    return (uint32_t)(h >> 32);
}

float syn_vnoise(float x, float y, uint64_t seed)
{
    float fx = floorf(x), fy = floorf(y);
    int ix = (int)fx, iy = (int)fy;
    float tx = x - fx, ty = y - fy;
    tx = tx * tx * (3 - 2 * tx);
    ty = ty * ty * (3 - 2 * ty);
    const float k = 1.0f / 4294967296.0f;
    float a = hash3(ix, iy, seed) * k, b = hash3(ix + 1, iy, seed) * k;
    float c = hash3(ix, iy + 1, seed) * k, d = hash3(ix + 1, iy + 1, seed) * k;
    return mixf(mixf(a, b, tx), mixf(c, d, tx), ty);
}

static float rr(dfs_rng *r, float lo, float hi) { return (float)dfs_rng_range(r, lo, hi); }

/* interpolate a palette of n colours at t in [0,1] */
static void palette(float *out, const float (*pal)[3], int n, float t)
{
    float x = clampf(t, 0, 1) * (n - 1);
    int i = (int)x;
    if (i >= n - 1) i = n - 2;
    float f = x - i;
    for (int k = 0; k < 3; k++) out[k] = mixf(pal[i][k], pal[i + 1][k], f);
}

static const float SKIN[][3] = {
    {245, 212, 190}, {228, 184, 152}, {206, 152, 116}, {172, 118, 84}, {128, 84, 58}, {84, 56, 40},
};
static const float HAIR[][3] = {
    {24, 20, 19}, {52, 36, 27}, {94, 62, 40}, {150, 102, 60}, {205, 170, 112}, {150, 62, 32},
    {165, 162, 158}, {70, 60, 55},
};
static const float IRIS[][3] = {
    {82, 50, 28}, {44, 30, 22}, {68, 108, 150}, {78, 110, 72}, {122, 94, 52}, {100, 110, 120},
};

void syn_identity_make(syn_identity *id, uint64_t seed, int pool, int number)
{
    dfs_rng r;
    dfs_rng_derive(&r, seed, dfs_hash64(0x1D000000ULL + (uint64_t)pool * 0x100000000ULL + (uint64_t)number));
    memset(id, 0, sizeof *id);
    id->head_w = rr(&r, 0.70f, 0.84f);
    id->head_h = rr(&r, 0.96f, 1.06f);
    id->jaw = rr(&r, 0.18f, 0.45f);
    float tone = (float)dfs_rng_uniform(&r);
    /* the DFD-like actor pool leans to other skin tones than the FF++/Celeb pools */
    if (pool == SYN_POOL_DFD) tone = clampf(tone * 0.8f + 0.15f, 0, 1);
    palette(id->skin, SKIN, 6, tone);
    for (int k = 0; k < 3; k++) id->skin[k] = clampf(id->skin[k] + rr(&r, -8, 8), 20, 250);
    id->eye_sep = rr(&r, 0.28f, 0.36f);
    id->eye_y = rr(&r, -0.12f, 0.0f);
    id->eye_w = rr(&r, 0.12f, 0.16f);
    id->eye_h = rr(&r, 0.048f, 0.075f);
    id->eye_tilt = rr(&r, -0.12f, 0.15f);
    int ic = (int)dfs_rng_below(&r, 6);
    if (tone > 0.5f) ic = (int)dfs_rng_below(&r, 2);   /* dark skin: dark eyes */
    memcpy(id->iris, IRIS[ic], sizeof id->iris);
    for (int k = 0; k < 3; k++) id->iris[k] *= rr(&r, 0.85f, 1.15f);
    id->iris_r = rr(&r, 0.85f, 1.05f);
    id->brow_gap = rr(&r, 0.10f, 0.16f);
    id->brow_thick = rr(&r, 0.025f, 0.055f);
    id->brow_arch = rr(&r, 0.0f, 0.05f);
    id->brow_len = rr(&r, 0.13f, 0.18f);
    id->brow_tilt = rr(&r, -0.15f, 0.2f);
    id->nose_y = rr(&r, 0.27f, 0.36f);
    id->nose_w = rr(&r, 0.09f, 0.14f);
    id->nose_len = rr(&r, 0.7f, 1.0f);
    id->mouth_y = rr(&r, 0.52f, 0.62f);
    id->mouth_w = rr(&r, 0.18f, 0.27f);
    id->lip_up = rr(&r, 0.025f, 0.05f);
    id->lip_lo = rr(&r, 0.035f, 0.07f);
    float lipc[3] = {rr(&r, 150, 200), rr(&r, 60, 100), rr(&r, 70, 105)};
    for (int k = 0; k < 3; k++) id->lip[k] = mixf(id->skin[k], lipc[k] * (1.0f - 0.45f * tone), 0.55f);
    int hc = (int)dfs_rng_below(&r, 8);
    if (tone > 0.55f) hc = (int)dfs_rng_below(&r, 2);
    memcpy(id->hair, HAIR[hc], sizeof id->hair);
    for (int k = 0; k < 3; k++) id->hair[k] = clampf(id->hair[k] * rr(&r, 0.85f, 1.15f), 5, 240);
    float hs = (float)dfs_rng_uniform(&r);
    id->hair_style = hs < 0.42f ? 0 : hs < 0.78f ? 1 : hs < 0.88f ? 2 : 3;
    id->hairline = rr(&r, -0.78f, -0.48f);
    id->hair_vol = rr(&r, 0.05f, 0.22f);
    id->part = rr(&r, -0.6f, 0.6f);
    id->glasses = dfs_rng_uniform(&r) < 0.22 ? 1 + (int)dfs_rng_below(&r, 2) : 0;
    float gc = rr(&r, 0, 1);
    if (gc < 0.5f) set3(id->glass_col, rr(&r, 15, 50), rr(&r, 15, 40), rr(&r, 15, 40));
    else if (gc < 0.8f) set3(id->glass_col, rr(&r, 90, 140), rr(&r, 50, 80), rr(&r, 30, 50));
    else set3(id->glass_col, 170, 165, 150);
    id->glass_thick = rr(&r, 0.014f, 0.03f);
    id->beard = dfs_rng_uniform(&r) < 0.25 ? rr(&r, 0.3f, 1.0f) : 0;
    id->blush = rr(&r, 0, 0.12f);
    id->freckles = dfs_rng_uniform(&r) < 0.15 ? rr(&r, 0.03f, 0.08f) : 0;
    id->tex = dfs_rng_u64(&r);
}

void syn_capture_make(syn_capture *c, uint64_t seed, int pool, int number, int capture)
{
    dfs_rng r;
    dfs_rng_derive(&r, seed, dfs_hash64(0xCA000000ULL + (uint64_t)pool * 0x100000000ULL +
                                        (uint64_t)number * 64 + (uint64_t)capture));
    memset(c, 0, sizeof *c);
    /* recording conditions differ by pool the way the real datasets' sources do: FF++ is mostly
     * frontal news/studio footage, Celeb-DF interviews with varied light and backgrounds, DFD
     * actors filmed indoors under cooler, more directional light with a noisier camera */
    float u = (float)dfs_rng_uniform(&r);
    switch (pool) {
    case SYN_POOL_FFPP:
        c->bg_type = u < 0.65f ? 0 : u < 0.9f ? 1 : 2;
        c->light_x = rr(&r, -0.45f, 0.45f);
        c->light_y = rr(&r, -0.45f, -0.05f);
        c->ambient = rr(&r, 0.42f, 0.55f);
        c->noise = rr(&r, 2.0f, 5.0f);
        set3(c->tint, rr(&r, 0.96f, 1.04f), 1, rr(&r, 0.96f, 1.05f));
        c->yaw = rr(&r, -0.15f, 0.15f);
        c->scale = rr(&r, 0.94f, 1.06f);
        break;
    case SYN_POOL_CELEB:
    case SYN_POOL_CELEBM:
        c->bg_type = u < 0.2f ? 0 : u < 0.55f ? 1 : 2;
        c->light_x = rr(&r, -0.85f, 0.85f);
        c->light_y = rr(&r, -0.6f, 0.1f);
        c->ambient = rr(&r, 0.35f, 0.55f);
        c->noise = rr(&r, 1.8f, 4.0f);
        set3(c->tint, rr(&r, 1.0f, 1.08f), 1, rr(&r, 0.90f, 1.0f));
        c->yaw = rr(&r, -0.3f, 0.3f);
        c->scale = rr(&r, 0.90f, 1.08f);
        break;
    default: /* SYN_POOL_DFD */
        c->bg_type = u < 0.85f ? 1 : 0;
        c->light_x = dfs_rng_uniform(&r) < 0.5 ? rr(&r, -0.95f, -0.5f) : rr(&r, 0.5f, 0.95f);
        c->light_y = rr(&r, -0.7f, -0.2f);
        c->ambient = rr(&r, 0.32f, 0.45f);
        c->noise = rr(&r, 3.0f, 6.5f);
        set3(c->tint, rr(&r, 0.9f, 0.97f), rr(&r, 1.0f, 1.04f), rr(&r, 1.02f, 1.1f));
        c->yaw = rr(&r, -0.25f, 0.25f);
        c->scale = rr(&r, 0.86f, 1.0f);
        break;
    }
    c->intensity = 1.05f - c->ambient * 0.6f;
    for (int i = 0; i < 4; i++) {
        /* muted colours: a grey level plus a modest hue */
        float base = pool == SYN_POOL_DFD ? 125 : pool == SYN_POOL_FFPP ? 105 : 135;
        float grey = base + rr(&r, -60, 70), sat = rr(&r, 0.1f, pool == SYN_POOL_FFPP ? 0.35f : 0.5f);
        float hue[3] = {rr(&r, 0, 1), rr(&r, 0, 1), rr(&r, 0, 1)};
        if (pool == SYN_POOL_FFPP && i < 2) hue[2] += 0.5f;          /* studio blue */
        if (pool == SYN_POOL_DFD) { hue[1] += 0.25f; hue[2] += 0.3f; }   /* cool office light */
        float hm = (hue[0] + hue[1] + hue[2]) / 3;
        for (int k = 0; k < 3; k++) c->bg[i][k] = clampf(grey * (1 + sat * 2 * (hue[k] - hm)), 10, 245);
        c->bg_x[i] = rr(&r, 0.05f, 0.95f);
        c->bg_y[i] = rr(&r, 0.05f, 0.95f);
        c->bg_r[i] = rr(&r, 0.08f, 0.3f);
    }
    c->bg_angle = rr(&r, 0, 6.2832f);
    c->bg_seed = dfs_rng_u64(&r);
    for (int k = 0; k < 3; k++) c->cloth[k] = rr(&r, 20, 220);
    c->pitch = rr(&r, -0.08f, 0.08f);
    c->roll = rr(&r, -0.1f, 0.1f);
    c->x = rr(&r, -0.04f, 0.04f);
    c->y = rr(&r, -0.03f, 0.03f);
    for (int i = 0; i < 12; i++) {
        c->ph[i] = rr(&r, 0, 6.2832f);
        c->fr[i] = rr(&r, 0.15f, 0.9f);
    }
    c->talk = rr(&r, 0.3f, 1.0f);
    c->blink_rate = rr(&r, 0.8f, 1.6f);
    c->smile = rr(&r, -0.3f, 0.6f);
}

void syn_pose_at(syn_pose *p, const syn_capture *c, float t, int size, int wide)
{
    const float *ph = c->ph, *fr = c->fr;
    p->yaw = c->yaw + 0.10f * sinf(fr[0] * t + ph[0]);
    p->pitch = c->pitch + 0.06f * sinf(fr[1] * t + ph[1]);
    p->roll = c->roll + 0.05f * sinf(fr[2] * t + ph[2]);
    float dx = 0.02f * sinf(fr[3] * t + ph[3]), dy = 0.015f * sinf(fr[4] * t + ph[4]);
    float sc = c->scale * (1 + 0.025f * sinf(fr[5] * t + ph[5]));
    if (wide) {
        p->scale = size * 0.15f * sc;
        p->cx = size * (0.5f + 3 * c->x + 2 * dx);
        p->cy = size * (0.44f + 2 * c->y + 2 * dy);
    } else {
        p->scale = size * 0.37f * sc;
        p->cx = size * (0.5f + c->x + dx);
        p->cy = size * (0.53f + c->y + dy);
    }
    float talk = sinf(fr[6] * 2.3f * t + ph[6]);
    p->mouth_open = c->talk * clampf(talk, 0, 1) * (0.55f + 0.45f * sinf(fr[7] * t + ph[7]));
    p->smile = clampf(c->smile + 0.35f * sinf(fr[8] * t + ph[8]), -0.5f, 1);
    float b = sinf(c->blink_rate * 2.9f * t + ph[9]);
    p->blink = b > 0.95f ? 1.0f : b > 0.9f ? 0.55f : 0;
    p->gaze_x = 0.6f * sinf(fr[10] * t + ph[10]);
    p->gaze_y = 0.3f * sinf(fr[11] * t + ph[11]);
    p->brow_raise = 0.025f * sinf(fr[9] * t + ph[3]);
    p->light_x = c->light_x + 0.06f * sinf(fr[1] * 0.7f * t + ph[5]);
    p->light_y = c->light_y;
    p->bright = 1 + 0.03f * sinf(fr[2] * 0.5f * t + ph[6]);
}

void syn_pose_take_expression(syn_pose *dst, const syn_pose *src)
{
    dst->mouth_open = src->mouth_open;
    dst->smile = src->smile;
    dst->blink = src->blink;
    dst->gaze_x = src->gaze_x;
    dst->gaze_y = src->gaze_y;
    dst->brow_raise = src->brow_raise;
}

void syn_px_to_face(const syn_pose *p, float px, float py, float *u, float *v)
{
    float dx = (px - p->cx) / p->scale, dy = (py - p->cy) / p->scale;
    float cr = cosf(p->roll), sr = sinf(p->roll);
    *u = cr * dx + sr * dy;
    *v = -sr * dx + cr * dy;
}

/* per-frame constants of the renderer */
typedef struct fctx {
    const syn_identity *id;
    const syn_capture *c;
    const syn_pose *p;
    float cr, sr, pw;
    float hx, hy;           /* head outline shift from yaw/pitch */
    float fx, fy;           /* inner feature shift */
    float L[3];
    float open;
    float ex[2], ey, mx, my, nx, ny;
    int w, h;
} fctx;

static float head_halfwidth(const syn_identity *id, float v)
{
    float t = v > 0 ? v / id->head_h : 0;
    return id->head_w * (1 - id->jaw * t * t);
}

static void background(const fctx *f, float x, float y, float *col)
{
    const syn_capture *c = f->c;
    float nx = x / f->w, ny = y / f->h;
    float ca = cosf(c->bg_angle), sa = sinf(c->bg_angle);
    float g = clampf(0.5f + 0.7f * ((nx - 0.5f) * ca + (ny - 0.5f) * sa), 0, 1);
    memcpy(col, c->bg[0], sizeof(float) * 3);
    mix3(col, c->bg[1], g);
    float n = syn_vnoise(nx * 4, ny * 4, c->bg_seed) - 0.5f;
    float n2 = syn_vnoise(nx * 23, ny * 23, c->bg_seed + 1) - 0.5f;
    if (c->bg_type == 1) {
        /* room: wall panels, a door or window, and a shelf line */
        int panel = (nx > c->bg_x[0]) + (nx > c->bg_x[1]);
        if (panel == 1) mix3(col, c->bg[2], 0.7f);
        float in = fminf(fminf(nx - c->bg_x[2] + c->bg_r[2], c->bg_x[2] + c->bg_r[2] - nx),
                         ny - c->bg_y[2] + 0.1f);
        float wcov = clampf(in * f->w, 0, 1);
        mix3(col, c->bg[3], wcov * 0.85f);
        if (fabsf(ny - c->bg_y[3]) < 0.012f) scale3(col, 0.7f);
    } else if (c->bg_type == 2) {
        /* bokeh: soft out-of-focus lights */
        for (int i = 0; i < 4; i++) {
            float d = hypotf(nx - c->bg_x[i], ny - c->bg_y[i]) / c->bg_r[i];
            mix3(col, c->bg[(i + 2) & 3], 0.55f * (1 - smooth01(d)));
        }
    }
    float k = 1 + 0.25f * n + 0.05f * n2;
    scale3(col, k);
}

/* hair colour with strands: fine noise across the strand direction, coarse along it */
static void hair_colour(const fctx *f, float u, float v, float shade, float *col)
{
    const syn_identity *id = f->id;
    float s = syn_vnoise(u * 38 + 3 * sinf(v * 2.5f + id->part), v * 3.5f, id->tex + 7);
    float s2 = syn_vnoise(u * 90, v * 9, id->tex + 8);
    float k = shade * (0.78f + 0.3f * s + 0.12f * s2);
    for (int i = 0; i < 3; i++) col[i] = id->hair[i] * k + 14 * s2;
}

static void shade_skin(const fctx *f, float nxv, float nyv, float nzv, float *col, float base_k)
{
    float n = sqrtf(nxv * nxv + nyv * nyv + nzv * nzv) + 1e-6f;
    float lam = (nxv * f->L[0] + nyv * f->L[1] + nzv * f->L[2]) / n;
    float sh = f->c->ambient + f->c->intensity * fmaxf(lam, 0);
    for (int k = 0; k < 3; k++) col[k] = f->id->skin[k] * sh * base_k;
    /* light that enters skin comes back redder in the shadows */
    col[0] += (1 - sh) * 10;
}

static void render_px(const fctx *f, float x, float y, float *out)
{
    const syn_identity *id = f->id;
    const syn_pose *p = f->p;
    float col[3], tmp[3];
    background(f, x, y, col);

    float dx = (x - p->cx) / p->scale, dy = (y - p->cy) / p->scale;
    float u = f->cr * dx + f->sr * dy, v = -f->sr * dx + f->cr * dy;
    float pw = f->pw;
    float hu = u - f->hx, hv = v - f->hy;   /* head-outline coordinates */
    float a = head_halfwidth(id, hv), b = id->head_h;

    /* hair volume behind the head (and down the back for long hair) */
    if (id->hair_style != 2) {
        float vol = id->hair_vol;
        float d = ell_d(hu, hv + 0.06f, id->head_w + vol, b + vol * 1.1f);
        float lim;
        if (id->hair_style == 1) {
            float dl = fmaxf(fabsf(hu) - (id->head_w + vol * 0.9f), hv - 1.3f);
            d = fminf(d, fmaxf(dl, -hv - 0.2f));
            lim = 2;
        } else {
            lim = 0.05f;
        }
        if (id->hair_style == 3) d = fminf(d, ell_d(hu + 0.05f, hv + b + 0.12f, 0.28f, 0.22f));
        float cv = cov(d, pw) * cov(hv - lim, 0.06f);
        if (cv > 0) {
            hair_colour(f, hu, hv, 0.75f, tmp);
            mix3(col, tmp, cv);
        }
    }
    /* neck */
    {
        float nw = 0.33f * id->head_w / 0.77f;
        float d = fmaxf(fabsf(hu * 0.9f + u * 0.1f) - nw, 0.25f - hv);
        float cv = cov(d, pw);
        if (cv > 0) {
            shade_skin(f, (hu / nw) * 0.6f, 0.2f, 1, tmp, 0.82f);
            float sh = 1 - 0.35f * gauss2(0, hv - 1.0f, 1, 0.12f);
            scale3(tmp, sh);
            mix3(col, tmp, cv);
        }
    }
    /* clothes: shoulders with a neckline */
    {
        float top = 1.28f + 0.22f * u * u;
        float neckline = 1.2f + 0.25f * (1 - fminf(fabsf(u) / 0.35f, 1));
        float d = fmaxf(top - v, fabsf(u) - (1.9f + 0.9f * fmaxf(v - 1.3f, 0)));
        if (fabsf(u) < 0.35f) d = fmaxf(d, neckline + 0.12f - v);
        float cv = cov(d, pw);
        if (cv > 0) {
            float sh = f->c->ambient + f->c->intensity * fmaxf(0, -u / 2.2f * f->L[0] * 0.8f + 0.6f);
            for (int k = 0; k < 3; k++) tmp[k] = f->c->cloth[k] * sh;
            float fold = syn_vnoise(u * 6, v * 2, f->c->bg_seed + 3);
            scale3(tmp, 0.85f + 0.3f * fold);
            mix3(col, tmp, cv);
        }
    }
    /* ears */
    for (int s = -1; s <= 1; s += 2) {
        float ev = f->ey + 0.12f;
        float ecx = s * (head_halfwidth(id, ev - f->hy) + 0.01f) + f->hx - f->fx * 0.3f;
        float d = ell_d(u - ecx, v - ev, 0.085f, 0.16f);
        float cv = cov(d, pw);
        if (cv > 0) {
            shade_skin(f, s * 0.7f, 0, 0.7f, tmp, 0.88f);
            float inner = gauss2(u - ecx + s * 0.01f, v - ev, 0.03f, 0.08f);
            scale3(tmp, 1 - 0.3f * inner);
            mix3(col, tmp, cv);
        }
    }
    /* head */
    float dhead = ell_d(hu / a * b, hv, b, b);
    float chead = cov(dhead, pw);
    if (chead > 0) {
        float q = (hu / a) * (hu / a) + (hv / b) * (hv / b);
        float nz = sqrtf(fmaxf(0, 1 - q));
        float skin[3];
        shade_skin(f, hu / a, hv / b * 0.9f, nz + 0.15f, skin, 1);
        /* texture, blush, freckles */
        float tx = syn_vnoise(u * 14, v * 14, id->tex) - 0.5f;
        scale3(skin, 1 + 0.05f * tx);
        if (id->freckles > 0) {
            float fr = syn_vnoise(u * 70, v * 70, id->tex + 5);
            if (fr > 0.8f) scale3(skin, 1 - id->freckles * (fr - 0.8f) * 5 * gauss2(u - f->fx, v - f->ny, 0.5f, 0.2f));
        }
        for (int s = -1; s <= 1; s += 2) {
            float g = gauss2(u - f->fx - s * (id->eye_sep + 0.06f), v - (f->my - 0.2f), 0.13f, 0.09f);
            skin[0] += id->blush * g * 90;
            skin[1] -= id->blush * g * 20;
            skin[2] -= id->blush * g * 10;
            /* eye sockets */
            float gs = gauss2(u - f->ex[(s + 1) / 2], v - f->ey + 0.01f, id->eye_w * 1.5f, id->eye_h * 2.6f);
            scale3(skin, 1 - 0.14f * gs);
        }
        /* nose: shadowed side away from the light, lit ridge, tip, shadow under it */
        float side = f->L[0] > 0 ? -1.0f : 1.0f;
        float nv = (v - f->ey) / (f->ny - f->ey + 1e-3f);
        if (nv > 0 && nv < 1.15f) {
            float ramp = smooth01(nv * 1.5f) * (1 - smooth01((nv - 1.0f) * 6));
            float dn = (u - f->nx) * side - id->nose_w * (0.35f + 0.3f * nv);
            float sh = gauss2(dn, 0, 0.035f, 1) * ramp * (0.08f + 0.16f * fabsf(f->L[0]));
            scale3(skin, 1 - sh * id->nose_len);
            float hl = gauss2(u - f->nx + side * 0.01f, 0, 0.022f, 1) * ramp;
            scale3(skin, 1 + 0.07f * hl);
        }
        scale3(skin, 1 + 0.06f * gauss2(u - f->nx, v - f->ny + 0.03f, id->nose_w * 0.5f, 0.05f));
        scale3(skin, 1 - 0.22f * gauss2(u - f->nx, v - f->ny - 0.055f, id->nose_w * 0.9f, 0.025f));
        /* shadow under the lower lip and at the mouth corners */
        scale3(skin, 1 - 0.12f * gauss2(u - f->mx, v - (f->my + id->lip_lo + 0.05f + p->mouth_open * 0.05f), id->mouth_w * 0.6f, 0.025f));
        mix3(col, skin, chead);

        /* hair fringe over the forehead and temples */
        if (id->hair_style != 2) {
            float ua = hu / id->head_w;
            float ua2 = ua * ua;
            float hl = id->hairline + 0.55f * ua2 * ua2 + 0.05f * sinf(ua * 5 + id->part * 4) +
                       0.08f * id->part * ua;
            float cv = cov(hv - hl, 0.02f + pw) * chead;
            if (cv > 0) {
                hair_colour(f, hu, hv, 0.65f + 0.45f * smooth01(-(hv + 0.2f) * 2) * (0.6f + 0.4f * -f->L[1]), tmp);
                mix3(col, tmp, cv);
            }
        }
        /* beard and moustache: noisy darkening towards the hair colour */
        if (id->beard > 0) {
            float in_jaw = smooth01((v - (f->ny + 0.06f)) * 12) * chead;
            float lips = gauss2(u - f->mx, v - f->my, id->mouth_w * 1.05f, 0.05f + p->mouth_open * 0.04f);
            float n = syn_vnoise(u * 85, v * 85, id->tex + 9);
            float al = id->beard * in_jaw * (1 - lips) * (0.45f + 0.5f * n) *
                       smooth01((hv - (f->ny - 0.1f)) * 4);
            al *= 1 - smooth01((fabsf(u - f->fx) - (id->mouth_w + 0.25f + 0.4f * (v - f->my))) * 10) * 0.6f;
            if (al > 0) {
                hair_colour(f, u, v, 0.6f, tmp);
                mix3(col, tmp, clampf(al, 0, 0.92f));
            }
        }
        /* brows */
        for (int s = -1; s <= 1; s += 2) {
            float bx = f->ex[(s + 1) / 2], by = f->ey - id->eye_h - id->brow_gap - p->brow_raise;
            float du = (u - bx) * s, dv = v - by;
            float ct = cosf(id->brow_tilt), st = sinf(id->brow_tilt);
            float lu = ct * du + st * dv, lv = -st * du + ct * dv;
            float len = id->brow_len;
            float t = lu / len;
            float yc = -id->brow_arch * (1 - t * t);
            float th = id->brow_thick * (0.75f - 0.35f * t);
            float d = fmaxf(fabsf(lv - yc) - th * 0.5f, (fabsf(lu) - len) * 0.6f);
            float cv = cov(d, pw * 1.5f) * chead;
            if (cv > 0) {
                float n = syn_vnoise(lu * 60, lv * 20, id->tex + 11);
                for (int k = 0; k < 3; k++) tmp[k] = id->hair[k] * 0.65f + 8;
                mix3(col, tmp, cv * (0.7f + 0.3f * n));
            }
        }
        /* eyes */
        for (int s = -1; s <= 1; s += 2) {
            float ex = f->ex[(s + 1) / 2];
            float du = (u - ex) * s, dv = v - f->ey;
            if (fabsf(du) > id->eye_w * 1.3f || fabsf(dv) > id->eye_h * 3.5f + 0.03f) continue;
            float ct = cosf(id->eye_tilt), st = sinf(id->eye_tilt);
            float lu = ct * du - st * dv, lv = st * du + ct * dv;
            float ew = id->eye_w, eh = id->eye_h, o = f->open;
            float t = 1 - (lu / ew) * (lu / ew);
            float tp = t > 0 ? powf(t, 0.6f) : 0;
            float yup = -eh * 1.1f * o * tp + 0.004f, ylo = eh * 0.75f * o * tp - 0.002f;
            float d = fmaxf(fmaxf(yup - lv, lv - ylo), (fabsf(lu) - ew) * 0.3f);
            float cv = cov(d, pw) * chead;
            if (cv > 0) {
                float e[3] = {232, 226, 220};
                scale3(e, 0.72f + 0.2f * (1 - fabsf(lu) / ew));
                /* lu is mirrored per side and gaze is not: mirror the gaze too */
                float gx = p->gaze_x * ew * 0.42f * s, gy = p->gaze_y * eh * 0.35f;
                float ir = eh * 0.95f * id->iris_r;
                float di = hypotf(lu - gx, lv - gy);
                float ci = cov(di - ir, pw);
                if (ci > 0) {
                    float rad = di / ir;
                    float streak = syn_vnoise(atan2f(lv - gy, lu - gx) * 6, rad * 2, id->tex + 13);
                    float ic[3];
                    for (int k = 0; k < 3; k++) ic[k] = id->iris[k] * (1.15f - 0.5f * rad * rad) * (0.8f + 0.4f * streak);
                    float cp = cov(di - ir * 0.42f, pw);
                    set3(tmp, 12, 10, 10);
                    mix3(ic, tmp, cp);
                    mix3(e, ic, ci);
                }
                /* specular highlight, towards the light */
                float hx0 = gx + (f->L[0] * 0.35f - 0.15f) * ir * s, hy0 = gy - ir * 0.4f;
                float ch = cov(hypotf(lu - hx0, lv - hy0) - ir * 0.2f, pw);
                set3(tmp, 250, 250, 250);
                mix3(e, tmp, ch * 0.9f * ci);
                /* the upper lid shades the eyeball */
                scale3(e, 1 - 0.35f * smooth01(1 - (lv - yup) / (eh * 0.6f + 1e-4f)));
                mix3(col, e, cv);
            }
            /* lash line and lid crease */
            float dl = fmaxf(fabsf(lv - (yup - 0.006f)) - (0.012f + 0.004f * (1 - o)), fabsf(lu) - ew * 1.06f);
            float cl = cov(dl, pw) * chead;
            if (cl > 0) {
                set3(tmp, 30, 22, 22);
                mix3(col, tmp, cl * 0.9f);
            }
            float dc = fmaxf(fabsf(lv - (-eh * 1.1f * tp - eh * 0.9f)) - 0.006f, fabsf(lu) - ew * 0.9f);
            float cc = cov(dc, pw * 2) * chead * 0.35f;
            if (cc > 0) scale3(col, 1 - cc * 0.5f);
        }
        /* nostrils */
        for (int s = -1; s <= 1; s += 2) {
            float d = ell_d(u - (f->nx + s * id->nose_w * 0.45f), v - (f->ny + 0.015f), 0.032f, 0.017f);
            float cv = cov(d, pw) * chead;
            if (cv > 0) {
                for (int k = 0; k < 3; k++) tmp[k] = id->skin[k] * 0.3f;
                mix3(col, tmp, cv * 0.85f);
            }
        }
        /* mouth */
        {
            float du = u - f->mx, dv = v - f->my;
            float mw = id->mouth_w * (1 + 0.12f * p->smile - 0.1f * p->mouth_open);
            float t = 1 - (du / mw) * (du / mw);
            if (t > -0.1f) {
                float tp = t > 0 ? sqrtf(t) : 0;
                float yc = -p->smile * 0.05f * (du / mw) * (du / mw) + p->smile * 0.015f;
                float g = p->mouth_open * 0.11f * tp;
                float bow = 1 - 0.4f * gauss2(du, 0, mw * 0.12f, 1);
                float top = yc - g * 0.5f - id->lip_up * tp * bow;
                float bot = yc + g * 0.5f + id->lip_lo * powf(fmaxf(t, 0), 0.6f);
                float dlip = fmaxf(fmaxf(top - dv, dv - bot), (fabsf(du) - mw) * 0.5f);
                float cv = cov(dlip, pw) * chead;
                if (cv > 0) {
                    float lc[3];
                    memcpy(lc, id->lip, sizeof lc);
                    float lam = f->c->ambient + f->c->intensity * fmaxf(0, 0.9f - 0.3f * du * f->L[0]);
                    scale3(lc, lam * (dv < yc ? 0.82f : 1.0f));
                    float hl = gauss2(du, dv - (yc + g * 0.5f + id->lip_lo * 0.45f), mw * 0.35f, id->lip_lo * 0.25f);
                    for (int k = 0; k < 3; k++) lc[k] += 35 * hl;
                    /* mouth opening: dark inside, teeth under the upper lip */
                    float din = fabsf(dv - yc) - g * 0.5f;
                    float co = g > 0.002f ? cov(din, pw) : 0;
                    if (co > 0) {
                        float in[3] = {70, 22, 26};
                        float teeth = cov(fmaxf(dv - (yc - g * 0.5f + g * 0.38f), fabsf(du) - mw * 0.72f), pw);
                        float gap = 0.5f + 0.5f * cosf(du / (mw * 0.18f) * 3.1416f);
                        float tc[3] = {228, 222, 205};
                        scale3(tc, lam * (0.85f + 0.15f * gap));
                        mix3(in, tc, teeth);
                        mix3(lc, in, co);
                    }
                    float cl = cov(fabsf(dv - yc) - 0.006f, pw);
                    if (g <= 0.01f) scale3(lc, 1 - 0.5f * cl);
                    mix3(col, lc, cv);
                }
            }
        }
        /* glasses */
        if (id->glasses) {
            float gw = id->eye_w * 1.55f, gh = id->eye_h * 2.7f, th = id->glass_thick;
            for (int s = -1; s <= 1; s += 2) {
                float gx = u - f->ex[(s + 1) / 2], gy = v - (f->ey + 0.01f);
                float d;
                if (id->glasses == 1) {
                    d = ell_d(gx, gy, gw * 0.92f, gh);
                } else {
                    float rr0 = 0.04f;
                    float qx = fmaxf(fabsf(gx) - gw + rr0, 0), qy = fmaxf(fabsf(gy) - gh + rr0, 0);
                    d = hypotf(qx, qy) - rr0;
                    float inside = fmaxf(fabsf(gx) - gw + rr0, fabsf(gy) - gh + rr0);
                    if (inside < 0) d = inside - rr0;
                }
                float lens = cov(d, pw);
                if (lens > 0) {
                    set3(tmp, 200, 215, 225);
                    mix3(col, tmp, lens * (0.08f + 0.1f * gauss2(gx + gy * 0.7f, 0, 0.03f, 1)));
                }
                float cf = cov(fabsf(d) - th * 0.5f, pw);
                float cb = s > 0 ? cov(fmaxf(fabsf(gy + gh * 0.3f) - th * 0.4f,
                                             fabsf(u - f->fx) - (id->eye_sep - gw * 0.92f) - 0.01f),
                                       pw)
                                 : 0;
                float ctmp = fmaxf(cf, cb);
                /* temple arm towards the ear */
                float tx = (u - f->ex[(s + 1) / 2]) * s;
                if (tx > gw * 0.8f && tx < head_halfwidth(id, gy) + 0.05f)
                    ctmp = fmaxf(ctmp, cov(fabsf(gy + gh * 0.35f) - th * 0.35f, pw));
                if (ctmp > 0) {
                    memcpy(tmp, id->glass_col, sizeof tmp);
                    scale3(tmp, f->c->ambient + f->c->intensity * 0.7f);
                    mix3(col, tmp, ctmp * chead);
                }
            }
        }
    }
    for (int k = 0; k < 3; k++) out[k] = col[k] * f->c->tint[k] * p->bright;
}

void syn_marks_get(const syn_identity *id, const syn_pose *p, syn_marks *m)
{
    m->hx = p->yaw * 0.05f;
    m->hy = p->pitch * 0.03f;
    m->fx = p->yaw * 0.22f;
    m->fy = p->pitch * 0.12f;
    /* the eye on the far side of a turned head looks closer to the nose */
    m->ex[0] = -id->eye_sep * (1 + 0.25f * fminf(p->yaw, 0)) + m->fx;
    m->ex[1] = id->eye_sep * (1 - 0.25f * fmaxf(p->yaw, 0)) + m->fx;
    m->ey = id->eye_y + m->fy;
    m->nx = m->fx * 1.25f;
    m->ny = id->nose_y + m->fy;
    m->mx = m->fx;
    m->my = id->mouth_y + m->fy * 0.8f;
}

void syn_render(const syn_identity *id, const syn_capture *c, const syn_pose *p, float *rgb, int w,
                int h, int x0, int y0, int x1, int y1)
{
    fctx f;
    memset(&f, 0, sizeof f);
    f.id = id;
    f.c = c;
    f.p = p;
    f.cr = cosf(p->roll);
    f.sr = sinf(p->roll);
    f.pw = 1.0f / p->scale;
    f.w = w;
    f.h = h;
    syn_marks m;
    syn_marks_get(id, p, &m);
    f.hx = m.hx;
    f.hy = m.hy;
    f.fx = m.fx;
    f.fy = m.fy;
    float lz = 0.9f, ln = sqrtf(p->light_x * p->light_x + p->light_y * p->light_y + lz * lz);
    f.L[0] = p->light_x / ln;
    f.L[1] = p->light_y / ln;
    f.L[2] = lz / ln;
    f.open = 1 - 0.92f * p->blink;
    f.ex[0] = m.ex[0];
    f.ex[1] = m.ex[1];
    f.ey = m.ey;
    f.nx = m.nx;
    f.ny = m.ny;
    f.mx = m.mx;
    f.my = m.my;
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x1 > w) x1 = w;
    if (y1 > h) y1 = h;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) render_px(&f, x + 0.5f, y + 0.5f, rgb + ((size_t)y * w + x) * 3);
}

/* A near-Gaussian draw from one 64-bit number: the sum of four 16-bit uniforms (Irwin-Hall),
 * standardised. Camera noise needs no tails beyond 3.5 sigma, and this is several times cheaper
 * than Box-Muller, which dominated the frame time. */
static float fast_normal(dfs_rng *r)
{
    uint64_t x = dfs_rng_u64(r);
    float s = (float)(x & 0xFFFF) + (float)((x >> 16) & 0xFFFF) + (float)((x >> 32) & 0xFFFF) +
              (float)(x >> 48);
    return (s * (1.0f / 65536.0f) - 2.0f) * 1.7320508f;
}

void syn_add_noise(float *rgb, int w, int h, float sigma, dfs_rng *rng)
{
    size_t n = (size_t)w * h;
    for (size_t i = 0; i < n; i++) {
        float l = fast_normal(rng) * sigma;
        float cr = fast_normal(rng) * sigma * 0.35f;
        float cb = fast_normal(rng) * sigma * 0.35f;
        rgb[3 * i] += l + cr;
        rgb[3 * i + 1] += l;
        rgb[3 * i + 2] += l + cb;
    }
}
