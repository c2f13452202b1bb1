/* forge.c: rendering one frame of a synth video, and the forgery methods.
 *
 * A real frame is the target's render plus camera noise. A fake starts from exactly that real
 * frame (as FF++ fakes start from their source video) and replaces a region with pixels made the
 * way the method makes them; the artifacts each method leaves are listed in formats/synth.md:
 *   fs      donor's inner face, donor's own light and colour, small misfit warp, hard mask seam,
 *           mildly over-sharp (a graphics render is crisper than the camera)
 *   df      donor's inner face, partly colour matched then colour shifted, soft elliptical seam
 *   f2f     same person, mouth and eyes re-rendered with another video's expression, resampled
 *           and over-sharpened inside those regions only
 *   nt      same person, mouth region re-rendered at half resolution with checkerboard
 *           (transposed-convolution-like) upsampling patterns, over-sharpened
 *   celeb   colour-matched donor face at full resolution, over-sharpened, wide soft seam, faint
 *           period-4 grid
 *   celeb-m the same method with rougher settings: partial colour match, weaker sharpening and
 *           grid, narrow misaligned mask, brightness flicker
 *   dfd     colour-matched donor face, a trace of sharpening, boxy mask, on its own actors and
 *           recording conditions
 * Forged regions are noise-free or smoothed where the rest of the frame carries camera noise.
 * The training methods (celeb, f2f) sharpen features; the unseen swaps (df, dfd) keep the
 * camera's detail and differ in colour, seam and mask instead. Blurring them made them look more
 * real than the real frames to detectors trained on sharpening (formats/synth.md). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "synth/face.h"
#include "synth/synth.h"

typedef struct box { int x0, y0, x1, y1; } box;

static float clampf(float x, float lo, float hi) { return x < lo ? lo : x > hi ? hi : x; }

static box box_grow(box b, int m, int w, int h)
{
    b.x0 = b.x0 - m < 0 ? 0 : b.x0 - m;
    b.y0 = b.y0 - m < 0 ? 0 : b.y0 - m;
    b.x1 = b.x1 + m > w ? w : b.x1 + m;
    b.y1 = b.y1 + m > h ? h : b.y1 + m;
    return b;
}

/* Soft mask of a superellipse (power n) centred at (cu, cv) in face units with radii (ru, rv),
 * feathered over `feather` face units; fills m (w*h) and returns the bounding box of m > 0. */
static box mask_superellipse(float *m, int w, int h, const syn_pose *p, float cu, float cv, float ru,
                             float rv, float n, float feather)
{
    memset(m, 0, (size_t)w * h * sizeof *m);
    /* only pixels within the circle around the shape can be inside it */
    float cx = p->cx + p->scale * (cosf(p->roll) * cu - sinf(p->roll) * cv);
    float cy = p->cy + p->scale * (sinf(p->roll) * cu + cosf(p->roll) * cv);
    float rad = p->scale * (hypotf(ru, rv) + feather) + 2;
    int sx0 = (int)fmaxf(0, cx - rad), sy0 = (int)fmaxf(0, cy - rad);
    int sx1 = (int)fminf((float)w, cx + rad + 1), sy1 = (int)fminf((float)h, cy + rad + 1);
    box b = {w, h, 0, 0};
    float cr = cosf(p->roll), sr = sinf(p->roll);
    for (int y = sy0; y < sy1; y++)
        for (int x = sx0; x < sx1; x++) {
            float dx = (x + 0.5f - p->cx) / p->scale, dy = (y + 0.5f - p->cy) / p->scale;
            float u = cr * dx + sr * dy, v = -sr * dx + cr * dy;   /* as syn_px_to_face */
            float au = fabsf(u - cu) / ru, av = fabsf(v - cv) / rv, r;
            if (n == 2) r = sqrtf(au * au + av * av);
            else r = powf(powf(au, n) + powf(av, n), 1.0f / n);
            float d = (r - 1) * fminf(ru, rv);
            float t = clampf(0.5f - d / feather, 0, 1);
            t = t * t * (3 - 2 * t);
            m[(size_t)y * w + x] = t;
            if (t > 0) {
                if (x < b.x0) b.x0 = x;
                if (y < b.y0) b.y0 = y;
                if (x + 1 > b.x1) b.x1 = x + 1;
                if (y + 1 > b.y1) b.y1 = y + 1;
            }
        }
    if (b.x1 <= b.x0) b = (box){0, 0, 0, 0};
    return b;
}

static box box_union(box a, box b)
{
    if (a.x1 <= a.x0) return b;
    if (b.x1 <= b.x0) return a;
    return (box){a.x0 < b.x0 ? a.x0 : b.x0, a.y0 < b.y0 ? a.y0 : b.y0, a.x1 > b.x1 ? a.x1 : b.x1,
                 a.y1 > b.y1 ? a.y1 : b.y1};
}

static void sample_bilinear(const float *src, int w, int h, float x, float y, float *out)
{
    x -= 0.5f;
    y -= 0.5f;
    x = clampf(x, 0, w - 1.001f);
    y = clampf(y, 0, h - 1.001f);
    int x0 = (int)x, y0 = (int)y;
    int x1 = x0 + 1 < w ? x0 + 1 : x0, y1 = y0 + 1 < h ? y0 + 1 : y0;
    float ax = x - x0, ay = y - y0;
    const float *a = src + ((size_t)y0 * w + x0) * 3, *b = src + ((size_t)y0 * w + x1) * 3;
    const float *c = src + ((size_t)y1 * w + x0) * 3, *d = src + ((size_t)y1 * w + x1) * 3;
    for (int k = 0; k < 3; k++)
        out[k] = (a[k] * (1 - ax) + b[k] * ax) * (1 - ay) + (c[k] * (1 - ax) + d[k] * ax) * ay;
}

/* dst = src seen through a scale about (cx, cy) and a shift, inside box b (landmark misfit) */
static void warp(const float *src, float *dst, int w, int h, box b, float cx, float cy, float scale,
                 float sx, float sy)
{
    for (int y = b.y0; y < b.y1; y++)
        for (int x = b.x0; x < b.x1; x++) {
            float fx = cx + (x + 0.5f - cx) / scale - sx, fy = cy + (y + 0.5f - cy) / scale - sy;
            sample_bilinear(src, w, h, fx, fy, dst + ((size_t)y * w + x) * 3);
        }
}

/* separable Gaussian blur inside box b (reads clamp to the box) */
static void blur(float *img, int w, box b, float sigma)
{
    if (sigma < 0.2f || b.x1 <= b.x0) return;
    int r = (int)ceilf(sigma * 2.5f);
    if (r > 31) r = 31;
    float k[63], s = 0;
    for (int i = -r; i <= r; i++) s += k[i + r] = expf(-0.5f * i * i / (sigma * sigma));
    for (int i = 0; i <= 2 * r; i++) k[i] /= s;
    int bw = b.x1 - b.x0, bh = b.y1 - b.y0;
    float *tmp = dfs_malloc((size_t)bw * bh * 3 * sizeof *tmp);
    for (int y = 0; y < bh; y++)
        for (int x = 0; x < bw; x++)
            for (int c = 0; c < 3; c++) {
                float a = 0;
                for (int i = -r; i <= r; i++) {
                    int xx = x + i < 0 ? 0 : x + i >= bw ? bw - 1 : x + i;
                    a += k[i + r] * img[((size_t)(b.y0 + y) * w + b.x0 + xx) * 3 + c];
                }
                tmp[((size_t)y * bw + x) * 3 + c] = a;
            }
    for (int y = 0; y < bh; y++)
        for (int x = 0; x < bw; x++)
            for (int c = 0; c < 3; c++) {
                float a = 0;
                for (int i = -r; i <= r; i++) {
                    int yy = y + i < 0 ? 0 : y + i >= bh ? bh - 1 : y + i;
                    a += k[i + r] * tmp[((size_t)yy * bw + x) * 3 + c];
                }
                img[((size_t)(b.y0 + y) * w + b.x0 + x) * 3 + c] = a;
            }
    free(tmp);
}

/* Move the colour statistics of src (inside mask m) towards those of ref by `strength`. */
static void colour_match(float *src, const float *ref, const float *m, int w, box b, float strength)
{
    double s[3] = {0}, ss[3] = {0}, r[3] = {0}, rs[3] = {0}, n = 0;
    for (int y = b.y0; y < b.y1; y++)
        for (int x = b.x0; x < b.x1; x++) {
            size_t i = (size_t)y * w + x;
            if (m[i] < 0.5f) continue;
            n++;
            for (int c = 0; c < 3; c++) {
                s[c] += src[i * 3 + c];
                ss[c] += (double)src[i * 3 + c] * src[i * 3 + c];
                r[c] += ref[i * 3 + c];
                rs[c] += (double)ref[i * 3 + c] * ref[i * 3 + c];
            }
        }
    if (n < 4) return;
    float ms[3], sd[3], mr[3], sr[3];
    for (int c = 0; c < 3; c++) {
        ms[c] = (float)(s[c] / n);
        mr[c] = (float)(r[c] / n);
        sd[c] = sqrtf(fmaxf((float)(ss[c] / n) - ms[c] * ms[c], 1));
        sr[c] = sqrtf(fmaxf((float)(rs[c] / n) - mr[c] * mr[c], 1));
    }
    for (int y = b.y0; y < b.y1; y++)
        for (int x = b.x0; x < b.x1; x++)
            for (int c = 0; c < 3; c++) {
                float *p = &src[((size_t)y * w + x) * 3 + c];
                float t = (*p - ms[c]) / sd[c] * sr[c] + mr[c];
                *p += (t - *p) * strength;
            }
}

static void blend(float *dst, const float *src, const float *m, int w, box b)
{
    for (int y = b.y0; y < b.y1; y++)
        for (int x = b.x0; x < b.x1; x++) {
            size_t i = (size_t)y * w + x;
            for (int c = 0; c < 3; c++) dst[i * 3 + c] += (src[i * 3 + c] - dst[i * 3 + c]) * m[i];
        }
}

/* per-method settings */
typedef struct method_cfg {
    int swap;            /* 1: donor identity's face; 0: target re-rendered with donor expression */
    float colour;        /* colour-match strength 0..1 */
    float bias;          /* random colour bias amplitude (0..255) */
    float blur;          /* blur sigma in face units */
    float feather;       /* mask feather in face units */
    float power;         /* mask superellipse power */
    float misfit;        /* warp misfit: scale and shift amplitude (face units) */
    float grid, grid_period;   /* periodic upsampling artifact amplitude and period (pixels) */
    float checker;       /* NT: nearest-neighbour upsampling + checkerboard amplitude */
    float sharpen;       /* unsharp-mask amount */
    float jitter;        /* CELEB-M: mask offset amplitude (face units), brightness flicker */
} method_cfg;

static method_cfg config_of(int method)
{
    method_cfg c;
    memset(&c, 0, sizeof c);
    c.power = 2;
    switch (method) {
    case SYN_M_FS:
        c.swap = 1; c.feather = 0.012f; c.power = 2.6f; c.misfit = 0.04f; c.blur = 0.008f;
        c.sharpen = 1;
        break;
    case SYN_M_DF:
        /* no blur: synth's detectors read fine-scale softness as realness (formats/synth.md) */
        c.swap = 1; c.colour = 0.6f; c.bias = 9; c.feather = 0.07f;
        break;
    case SYN_M_F2F:
        c.swap = 0; c.feather = 0.05f; c.misfit = 0.02f; c.sharpen = 2;
        break;
    case SYN_M_NT:
        c.swap = 0; c.feather = 0.06f; c.checker = 7; c.blur = 0.006f; c.sharpen = 4;
        break;
    case SYN_M_CELEB:
        c.swap = 1; c.colour = 1; c.feather = 0.15f; c.sharpen = 2;
        c.grid = 2.5f; c.grid_period = 4;
        break;
    case SYN_M_CELEBM:
        c.swap = 1; c.colour = 0.5f; c.feather = 0.035f; c.sharpen = 0.9f;
        c.grid = 1.8f; c.grid_period = 4; c.jitter = 0.04f;
        break;
    case SYN_M_DFD:
        c.swap = 1; c.colour = 0.85f; c.feather = 0.08f; c.power = 3; c.sharpen = 0.15f;
        break;
    }
    return c;
}

static uint64_t video_tag(const syn_video *v, uint64_t what)
{
    uint64_t t = dfs_hash64(what);
    t = dfs_hash64(t ^ ((uint64_t)v->pool << 56) ^ ((uint64_t)(uint32_t)v->target << 20) ^ (uint64_t)v->capture);
    return dfs_hash64(t ^ ((uint64_t)(uint32_t)(v->donor + 1) << 24) ^ (uint64_t)v->method);
}

static void forge(const syn_spec *s, const syn_video *v, int f, float t, const syn_identity *tid,
                  const syn_capture *tcap, const syn_pose *tp, float *img)
{
    int w = s->size, h = s->size;
    size_t npx = (size_t)w * h;
    method_cfg cfg = config_of(v->method);
    dfs_rng vr, fr;   /* per-video settings, per-frame jitter */
    dfs_rng_derive(&vr, s->seed, video_tag(v, 0xF0F0));
    dfs_rng_derive(&fr, s->seed, video_tag(v, 0xF1F1) + (uint64_t)(f + v->frame_offset));

    syn_identity did;
    syn_capture dcap;
    syn_identity_make(&did, s->seed, v->pool, v->donor);
    syn_capture_make(&dcap, s->seed, v->pool, v->donor, v->capture);
    syn_pose dp;
    syn_pose_at(&dp, &dcap, t, s->size, s->wide);

    syn_marks m;
    syn_marks_get(tid, tp, &m);
    float *mask = dfs_malloc(npx * sizeof *mask);
    float *mask2 = NULL;
    float *src = dfs_calloc(npx * 3, sizeof *src);
    float px = 1.0f / tp->scale;   /* one pixel in face units */
    box b;
    syn_pose rp = *tp;   /* the pose the replacement is rendered in */
    const syn_identity *rid = tid;
    const syn_capture *rcap = tcap;

    if (cfg.swap) {
        /* the donor's face fitted to the target's pose and expression, lit as in the donor's own
         * videos (the swap only moves the face, not the light) */
        rid = &did;
        rcap = &dcap;
        rp.light_x = dp.light_x;
        rp.light_y = dp.light_y;
        rp.bright = dp.bright;
        float top = m.ey - tid->eye_h - tid->brow_gap - 0.08f;
        float bot = m.my + tid->lip_lo + 0.14f;
        float ru = tid->eye_sep + tid->eye_w + 0.07f, rv = (bot - top) / 2;
        float cu = m.fx, cv = (top + bot) / 2;
        if (cfg.jitter > 0) {
            cu += cfg.jitter * (float)dfs_rng_range(&vr, -1, 1);
            cv += cfg.jitter * (float)dfs_rng_range(&vr, -1, 1);
            ru *= (float)dfs_rng_range(&vr, 0.95, 1.05);
        }
        b = mask_superellipse(mask, w, h, tp, cu, cv, ru, rv, cfg.power, cfg.feather + px);
    } else {
        /* reenactment: the target re-rendered with the donor video's expression */
        syn_pose_take_expression(&rp, &dp);
        if (v->method == SYN_M_NT) {
            rp.blink = tp->blink;
            rp.gaze_x = tp->gaze_x;
            rp.gaze_y = tp->gaze_y;
            rp.brow_raise = tp->brow_raise;
            b = mask_superellipse(mask, w, h, tp, m.mx, m.my + 0.05f, tid->mouth_w * 1.5f + 0.06f, 0.24f, 2,
                                  cfg.feather + px);
        } else {
            b = mask_superellipse(mask, w, h, tp, m.mx, m.my + 0.02f, tid->mouth_w * 1.45f,
                                  0.16f + 0.05f * fmaxf(tp->mouth_open, rp.mouth_open), 2, cfg.feather + px);
            mask2 = dfs_malloc(npx * sizeof *mask2);
            for (int e = 0; e < 2; e++) {
                box be = mask_superellipse(mask2, w, h, tp, m.ex[e], m.ey, tid->eye_w * 1.6f,
                                           tid->eye_h * 2.6f + 0.03f, 2, cfg.feather + px);
                for (size_t i = 0; i < npx; i++) mask[i] = fmaxf(mask[i], mask2[i]);
                b = box_union(b, be);
            }
        }
    }
    if (b.x1 <= b.x0) goto done;   /* face entirely outside the frame */
    int margin = (int)ceilf(0.12f * tp->scale) + 3;
    box rb = box_grow(b, margin, w, h);
    syn_render(rid, rcap, &rp, src, w, h, rb.x0, rb.y0, rb.x1, rb.y1);
    if (cfg.swap && v->method == SYN_M_FS) {
        /* FaceSwap's source frames carry the donor camera's noise */
        syn_add_noise(src, w, h, dcap.noise, &fr);
    }
    if (cfg.misfit > 0) {
        float *tmp = dfs_malloc(npx * 3 * sizeof *tmp);
        memcpy(tmp, src, npx * 3 * sizeof *tmp);
        float sc = 1 + cfg.misfit * (float)dfs_rng_range(&vr, 0.4, 1.0) + 0.005f * (float)dfs_rng_normal(&fr);
        float sx = cfg.misfit * tp->scale * ((float)dfs_rng_range(&vr, -0.5, 0.5) + 0.1f * (float)dfs_rng_normal(&fr));
        float sy = cfg.misfit * tp->scale * ((float)dfs_rng_range(&vr, -0.5, 0.5) + 0.1f * (float)dfs_rng_normal(&fr));
        float ccx, ccy;
        ccx = (b.x0 + b.x1) * 0.5f;
        ccy = (b.y0 + b.y1) * 0.5f;
        warp(tmp, src, w, h, b, ccx, ccy, sc, sx, sy);
        free(tmp);
    }
    if (cfg.colour > 0) colour_match(src, img, mask, w, b, cfg.colour);
    if (cfg.bias > 0) {
        float bias[3];
        for (int c = 0; c < 3; c++) bias[c] = cfg.bias * (float)dfs_rng_range(&vr, -1, 1);
        for (int y = rb.y0; y < rb.y1; y++)
            for (int x = rb.x0; x < rb.x1; x++)
                for (int c = 0; c < 3; c++) src[((size_t)y * w + x) * 3 + c] += bias[c];
    }
    blur(src, w, rb, cfg.blur * tp->scale);
    if (cfg.checker > 0) {
        /* a decoder that upsamples by 2 with a transposed convolution: 2x2 cells of one value
         * with an alternating checkerboard on top (cell size grows with the image so the pattern
         * survives at every --size) */
        int cell = s->size >= 192 ? 2 : 1;
        int blk = 2 * cell;
        float amp = cfg.checker * (float)dfs_rng_range(&vr, 0.8, 1.25);
        float wc[3] = {1, (float)dfs_rng_range(&vr, 0.3, 1), (float)dfs_rng_range(&vr, -0.6, 0.6)};
        for (int y = rb.y0; y < rb.y1; y += blk)
            for (int x = rb.x0; x < rb.x1; x += blk) {
                float a[3] = {0, 0, 0};
                int n = 0;
                for (int yy = y; yy < y + blk && yy < rb.y1; yy++)
                    for (int xx = x; xx < x + blk && xx < rb.x1; xx++, n++)
                        for (int c = 0; c < 3; c++) a[c] += src[((size_t)yy * w + xx) * 3 + c];
                for (int yy = y; yy < y + blk && yy < rb.y1; yy++)
                    for (int xx = x; xx < x + blk && xx < rb.x1; xx++) {
                        int ph = ((xx / cell) + (yy / cell)) & 1;
                        int corner = ((xx / cell) & 1) && ((yy / cell) & 1);
                        for (int c = 0; c < 3; c++)
                            src[((size_t)yy * w + xx) * 3 + c] =
                                a[c] / n + amp * wc[c] * (ph ? 1.0f : -1.0f) + (corner ? 0.6f * amp : 0);
                    }
            }
    }
    if (cfg.sharpen > 0) {
        float *lo = dfs_malloc(npx * 3 * sizeof *lo);
        memcpy(lo, src, npx * 3 * sizeof *lo);
        blur(lo, w, rb, fmaxf(1.0f, 0.03f * tp->scale));
        for (int y = rb.y0; y < rb.y1; y++)
            for (int x = rb.x0; x < rb.x1; x++)
                for (int c = 0; c < 3; c++) {
                    size_t i = ((size_t)y * w + x) * 3 + c;
                    src[i] += cfg.sharpen * (src[i] - lo[i]);
                }
        free(lo);
    }
    if (cfg.grid > 0) {
        float amp = cfg.grid * (float)dfs_rng_range(&vr, 0.8, 1.25);
        float ph = (float)dfs_rng_range(&vr, 0, 6.2832);
        float k = 6.2832f / cfg.grid_period;
        for (int y = rb.y0; y < rb.y1; y++)
            for (int x = rb.x0; x < rb.x1; x++) {
                float g = amp * cosf(k * x + ph) * cosf(k * y + ph);
                for (int c = 0; c < 3; c++) src[((size_t)y * w + x) * 3 + c] += g;
            }
    }
    if (cfg.jitter > 0) {
        /* the early method's frames flicker: per-frame brightness and colour of the face */
        for (int c = 0; c < 3; c++) {
            float k = 1 + 0.03f * (float)dfs_rng_normal(&fr);
            for (int y = rb.y0; y < rb.y1; y++)
                for (int x = rb.x0; x < rb.x1; x++) src[((size_t)y * w + x) * 3 + c] *= k;
        }
    }
    blend(img, src, mask, w, b);
done:
    free(mask);
    free(mask2);
    free(src);
}

void syn_frame(const syn_spec *s, const syn_video *v, int f, uint8_t *rgb)
{
    int w = s->size, h = s->size;
    size_t npx = (size_t)w * h;
    syn_identity id;
    syn_capture cap;
    syn_identity_make(&id, s->seed, v->pool, v->target);
    syn_capture_make(&cap, s->seed, v->pool, v->target, v->capture);
    float t = (float)(f + v->frame_offset);
    syn_pose p;
    syn_pose_at(&p, &cap, t, s->size, s->wide);
    float *img = dfs_malloc(npx * 3 * sizeof *img);
    syn_render(&id, &cap, &p, img, w, h, 0, 0, w, h);
    /* the camera noise belongs to the recording: a fake made from this frame has the same noise
     * outside the region it replaces */
    dfs_rng nr;
    dfs_rng_derive(&nr, s->seed,
                   dfs_hash64(0x4015EULL ^ ((uint64_t)v->pool << 56) ^ ((uint64_t)(uint32_t)v->target << 20) ^
                              ((uint64_t)v->capture << 12)) + (uint64_t)(f + v->frame_offset) + ((uint64_t)s->wide << 40));
    syn_add_noise(img, w, h, cap.noise, &nr);
    if (v->label == 1) forge(s, v, f, t, &id, &cap, &p, img);
    for (size_t i = 0; i < npx * 3; i++) {
        float x = img[i] + 0.5f;
        rgb[i] = (uint8_t)(x < 0 ? 0 : x > 255 ? 255 : x);
    }
    free(img);
}

void syn_frames(const syn_spec *s, const syn_video *videos, const int *video, const int *frame, int n,
                uint8_t *const *out)
{
    /* each frame draws only from generators derived from its own numbers, so the schedule and
     * the thread count cannot change the bytes */
#pragma omp parallel for schedule(dynamic, 1)
    for (int i = 0; i < n; i++) syn_frame(s, &videos[video[i]], frame[i], out[i]);
}
