/* test_cam: Grad-CAM (nn/gradcam.h, analysis/gradcam.h).
 *
 *  - meso4 (48x48, block4.relu, 6x6) and xception (80x80, block14.sepconv2_act, 3x3) against
 *    PyTorch float64 references (tests/fixtures/cam/<arch>.dft, tests/make-fixtures-cam.py), same
 *    weights (the models fixture's hash rule) and inputs, both classes:
 *      raw map sum_k w_k A_k:       |c - ref| <= 2e-3 * max|ref| + 1e-3 * |ref|
 *      final map in [0, 1]:         |c - ref| <= 5e-3
 *      guided input gradient:       |c - ref| <= 2e-3 * max|ref| + 1e-3 * |ref|
 *  - a hand-made network whose output depends on the bottom-right quadrant of the image only:
 *    the fake-class map is positive exactly there and zero elsewhere; the real-class map is zero;
 *    the guided gradient is zero outside the quadrant;
 *  - JET and VIRIDIS against cv2.applyColorMap's tables, and --compat study against the OpenCV
 *    pipeline (tests/fixtures/cam/colormap.dft).
 * With arguments `--make-ckpt ARCH SIZE PATH` it writes a freshly initialised checkpoint (seed 1)
 * for the bats tests (no training tool needed). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fixture_hash.h"
#include "core/common.h"
#include "core/stream.h"
#include "analysis/gradcam.h"
#include "nn/checkpoint.h"
#include "nn/gradcam.h"
#include "nn/graph.h"
#include "nn/models.h"

static const dfs_record *find(const dfs_record_list *l, const char *name)
{
    return dfs_record_list_find(l, "name", name);
}

static int f32_of(const dfs_record *r, int64_t n)
{
    return r && r->dtype == DFS_F32 && (int64_t)dfs_record_elems(r) == n;
}

/* max |c - ref| - tolerance over n values: <= 0 passes; reports the worst index */
static void compare(const char *what, const float *c, const float *ref, int64_t n, double atol_rel, double atol_abs,
                    double rtol)
{
    double mx = 0.0;
    for (int64_t i = 0; i < n; i++) mx = fmax(mx, fabs(ref[i]));
    double atol = atol_rel * mx + atol_abs, worst = -1.0;
    int64_t wi = 0;
    for (int64_t i = 0; i < n; i++) {
        double ex = fabs((double)c[i] - ref[i]) - (atol + rtol * fabs(ref[i]));
        if (ex > worst) {
            worst = ex;
            wi = i;
        }
    }
    CHECK(worst <= 0.0, "%s: at %lld got %g, reference %g (max|ref| %g)", what, (long long)wi, c[wi], ref[wi], mx);
}

static int set_weights(const char *arch, nn_graph *g, const dfs_record_list *fx)
{
    char nm[160];
    for (int t = 0; t < g->ntensors; t++) {
        const nn_tensor *T = &g->tensors[t];
        float *d = nn_tensor_data(g, t);
        snprintf(nm, sizeof nm, T->is_stat ? "eval.stat.%s" : "spec.%s", T->name);
        const dfs_record *r = find(fx, nm);
        if (T->is_stat) {
            CHECK(f32_of(r, T->n), "%s: fixture lacks %s", arch, nm);
            if (!f32_of(r, T->n)) return -1;
            memcpy(d, r->data, (size_t)T->n * sizeof(float));
            continue;
        }
        CHECK(r && r->dtype == DFS_F64 && dfs_record_elems(r) == 3, "%s: fixture lacks %s", arch, nm);
        if (!(r && r->dtype == DFS_F64 && dfs_record_elems(r) == 3)) return -1;
        const double *spec = r->data;
        for (int64_t j = 0; j < T->n; j++) d[j] = hash_value((uint64_t)spec[0], (uint64_t)j, spec[1], spec[2]);
    }
    return 0;
}

static void check_arch(const char *arch)
{
    char path[256];
    snprintf(path, sizeof path, "tests/fixtures/cam/%s.dft", arch);
    dfs_record_list fx;
    if (dfs_read_all(path, &fx) != 0) {
        CHECK(0, "%s", dfs_error());
        return;
    }
    char *size_s = dfs_meta_dup(&fx.v[0], "size"), *batch_s = dfs_meta_dup(&fx.v[0], "batch");
    long S = 0, N = 0;
    CHECK(size_s && batch_s && !dfs_parse_long(size_s, 1, 1024, &S) && !dfs_parse_long(batch_s, 1, 16, &N),
          "%s: bad fixture header", path);
    free(size_s);
    free(batch_s);
    nn_graph *g = S > 0 ? nn_model_build(arch, S) : NULL;
    CHECK(g != NULL, "%s", dfs_error());
    const dfs_record *xs = find(&fx, "spec.input");
    if (!g || N <= 0 || !xs || xs->dtype != DFS_F64) {
        CHECK(0, "%s: fixture lacks the input", path);
        nn_graph_free(g);
        dfs_record_list_free(&fx);
        return;
    }
    dfs_rng rng;
    dfs_rng_seed(&rng, 1);
    CHECK(nn_graph_alloc_params(g, &rng) == 0, "alloc_params: %s", dfs_error());
    CHECK(nn_graph_set_batch(g, N) == 0, "set_batch: %s", dfs_error());
    int layer = nn_gradcam_layer(g, nn_model_find(arch)->cam_layer);
    CHECK(layer >= 0, "%s", dfs_error());
    if (layer >= 0 && set_weights(arch, g, &fx) == 0) {
        int64_t P = S * S, hw = g->nodes[layer].H * g->nodes[layer].W;
        float *x = dfs_malloc((size_t)(N * 3 * P) * sizeof(float));
        const double *spec = xs->data;
        for (int64_t j = 0; j < N * 3 * P; j++) x[j] = hash_value((uint64_t)spec[0], (uint64_t)j, spec[1], spec[2]);
        float *maps = dfs_malloc((size_t)(N * hw) * sizeof(float)), *gb = dfs_malloc((size_t)(N * 3 * P) * sizeof(float));
        float *up = dfs_malloc((size_t)(N * P) * sizeof(float));
        char what[96];
        for (int cls = 0; cls < 2; cls++) {
            const char *cn = cls == NN_CAM_FAKE ? "fake" : "real";
            char nm[32];
            snprintf(nm, sizeof nm, "raw.%s", cn);
            const dfs_record *raw = find(&fx, nm);
            snprintf(nm, sizeof nm, "cam.%s", cn);
            const dfs_record *cam = find(&fx, nm);
            CHECK(f32_of(raw, N * hw) && f32_of(cam, N * P), "%s: fixture lacks raw/cam.%s of the layer's shape", arch, cn);
            if (!f32_of(raw, N * hw) || !f32_of(cam, N * P)) continue;
            CHECK(nn_gradcam_batch(g, layer, cls, x, N, 0, maps, NULL) == 0, "%s", dfs_error());
            snprintf(what, sizeof what, "%s raw map, class %s", arch, cn);
            compare(what, maps, raw->data, N * hw, 2e-3, 0.0, 1e-3);
            CHECK(nn_gradcam_batch(g, layer, cls, x, N, 1, maps, cls == NN_CAM_FAKE ? gb : NULL) == 0, "%s", dfs_error());
            for (int64_t n = 0; n < N; n++) {
                dfs_cam_resize(maps + n * hw, g->nodes[layer].H, g->nodes[layer].W, up + n * P, S, S);
                dfs_cam_minmax(up + n * P, P);
            }
            snprintf(what, sizeof what, "%s map in [0,1], class %s", arch, cn);
            compare(what, up, cam->data, N * P, 0.0, 5e-3, 0.0);
        }
        const dfs_record *gref = find(&fx, "guided.fake");
        CHECK(f32_of(gref, N * 3 * P), "%s: fixture lacks guided.fake", arch);
        if (f32_of(gref, N * 3 * P)) {
            snprintf(what, sizeof what, "%s guided backpropagation", arch);
            compare(what, gb, gref->data, N * 3 * P, 2e-3, 0.0, 1e-3);
        }
        free(x);
        free(maps);
        free(gb);
        free(up);
    }
    nn_graph_free(g);
    dfs_record_list_free(&fx);
}

static void test_meso4(void) { check_arch("meso4"); }
static void test_xception(void) { check_arch("xception"); }

/* input (3, 8, 8) -> "shift" conv 9x9 'same' with one tap per channel: out(i, j) = x(i + 4, j + 4)
 * (zero where that leaves the image) -> "back" conv: out(i, j) = in(i - 4, j - 4) -> "act" ReLU.
 * So act = x on the bottom-right 4x4 quadrant and 0 elsewhere, for any image. Then global average
 * pooling and a dense logit with positive weights: the output depends on that quadrant only. */
static void test_known_region(void)
{
    const int64_t S = 8, P = S * S;
    nn_graph *g = nn_graph_new();
    int x = nn_g_input(g, "input", 3, S, S);
    int a = nn_g_conv(g, "shift", x, 3, 9, 1, 1, 1, 1, 0);
    int b = nn_g_conv(g, "back", a, 3, 9, 1, 1, 1, 1, 0);
    int act = nn_g_act(g, NN_RELU, "act", b);
    int pool = nn_g_global_avgpool(g, "pool", act);
    g->output = nn_g_dense(g, "logit", pool, 1, 1);
    CHECK(nn_graph_check(g) == 0, "%s", dfs_error());
    dfs_rng rng;
    dfs_rng_seed(&rng, 3);
    CHECK(nn_graph_alloc_params(g, &rng) == 0, "alloc_params: %s", dfs_error());
    float *ws = nn_tensor_data(g, nn_graph_find_tensor(g, "shift.weight"));
    float *wb = nn_tensor_data(g, nn_graph_find_tensor(g, "back.weight"));
    memset(ws, 0, 3 * 3 * 81 * sizeof(float));
    memset(wb, 0, 3 * 3 * 81 * sizeof(float));
    for (int c = 0; c < 3; c++) {
        ws[(c * 3 + c) * 81 + 8 * 9 + 8] = 1.0f;   /* tap (8, 8): reads (i + 4, j + 4) */
        wb[(c * 3 + c) * 81 + 0] = 1.0f;           /* tap (0, 0): reads (i - 4, j - 4) */
    }
    float *wd = nn_tensor_data(g, nn_graph_find_tensor(g, "logit.weight"));
    wd[0] = 0.5f;
    wd[1] = 1.0f;
    wd[2] = 2.0f;
    CHECK(nn_graph_set_batch(g, 2) == 0, "set_batch: %s", dfs_error());
    float img[2 * 3 * 64];
    for (int i = 0; i < 2 * 3 * 64; i++) img[i] = 0.05f + 0.9f * (float)dfs_rng_uniform(&rng);
    float maps[2 * 64], gb[2 * 3 * 64];
    CHECK(nn_gradcam_layer(g, "act") == act, "layer lookup");
    CHECK(nn_gradcam_layer(g, "nope") < 0 && strstr(dfs_error(), "act"), "unknown layer error lists layers: %s", dfs_error());
    CHECK(nn_gradcam_layer(g, "pool") < 0, "a 1x1 layer is refused");
    CHECK(nn_gradcam_batch(g, act, NN_CAM_FAKE, img, 2, 1, maps, gb) == 0, "%s", dfs_error());
    int inside_ok = 1, outside_ok = 1, guided_ok = 1;
    for (int n = 0; n < 2; n++)
        for (int64_t p = 0; p < P; p++) {
            int in = p / S >= 4 && p % S >= 4;
            if (in && !(maps[n * P + p] > 0.0f)) inside_ok = 0;
            if (!in && maps[n * P + p] != 0.0f) outside_ok = 0;
            for (int c = 0; c < 3; c++)
                if (!in && gb[(n * 3 + c) * P + p] != 0.0f) guided_ok = 0;
        }
    CHECK(inside_ok, "the quadrant the output depends on lights up");
    CHECK(outside_ok, "nothing else lights up");
    CHECK(guided_ok, "guided gradients vanish outside the quadrant");
    /* expected value: d logit / d act = wd[c] / 64 everywhere (global average over 8x8), so the
     * channel weight is wd[c] / 64 */
    double want = (0.5 * img[0 * 64 + 63] + 1.0 * img[1 * 64 + 63] + 2.0 * img[2 * 64 + 63]) / 64.0;
    CHECK_CLOSE(maps[63], want, 1e-7, 1e-5);
    CHECK(nn_gradcam_batch(g, act, NN_CAM_REAL, img, 2, 1, maps, NULL) == 0, "%s", dfs_error());
    int zero = 1;
    for (int i = 0; i < 2 * 64; i++) zero &= maps[i] == 0.0f;
    CHECK(zero, "the real class (score -logit) has no positive evidence: the map is zero");
    float up[64];
    dfs_cam_resize(maps, 8, 8, up, 8, 8);
    dfs_cam_minmax(up, 64);
    zero = 1;
    for (int i = 0; i < 64; i++) zero &= up[i] == 0.0f;
    CHECK(zero, "an all-zero map stays zero after scaling");
    nn_graph_free(g);
}

static void test_resize(void)
{
    const float src[4] = {0, 1, 2, 3};   /* 2x2 */
    float dst[16];
    dfs_cam_resize(src, 2, 2, dst, 4, 4);
    /* half-pixel centres: output x 0..3 -> source 0, 0.25, 0.75, 1 (clamped) */
    CHECK_CLOSE(dst[0], 0.0, 1e-7, 0);
    CHECK_CLOSE(dst[1], 0.25, 1e-7, 0);
    CHECK_CLOSE(dst[2], 0.75, 1e-7, 0);
    CHECK_CLOSE(dst[5], 0.25 + 2 * 0.25, 1e-7, 0);
    CHECK_CLOSE(dst[15], 3.0, 1e-7, 0);
    float m[3] = {2, 4, 3};
    dfs_cam_minmax(m, 3);
    CHECK(m[0] == 0.0f && m[1] == 1.0f && m[2] == 0.5f, "minmax");
}

static void test_colormaps(void)
{
    dfs_record_list fx;
    if (dfs_read_all("tests/fixtures/cam/colormap.dft", &fx) != 0) {
        CHECK(0, "%s", dfs_error());
        return;
    }
    const char *names[2] = {"lut.jet", "lut.viridis"};
    for (int k = 0; k < 2; k++) {
        const dfs_record *r = find(&fx, names[k]);
        CHECK(r && r->dtype == DFS_U8 && dfs_record_elems(r) == 768, "fixture lacks %s", names[k]);
        if (!r || dfs_record_elems(r) != 768) continue;
        const uint8_t *lut = r->data;
        int worst = 0, diff = 0;
        for (int v = 0; v < 256; v++) {
            uint8_t c[3];
            dfs_colormap(k == 0 ? DFS_CMAP_JET : DFS_CMAP_VIRIDIS, (uint8_t)v, c);
            for (int j = 0; j < 3; j++) {
                int d = abs((int)c[j] - (int)lut[3 * v + j]);
                worst = d > worst ? d : worst;
                diff += d != 0;
            }
        }
        printf("# %s: %d of 768 entries differ from OpenCV's, by at most %d\n", names[k], diff, worst);
        /* JET: one known tie (see analysis/gradcam.h); VIRIDIS: interpolated from control points */
        CHECK(worst <= 1 && (k == 1 || diff <= 1), "%s: %d entries differ from OpenCV, worst by %d", names[k], diff, worst);
    }
    const dfs_record *raw = find(&fx, "study.raw"), *img = find(&fx, "study.image"), *ref = find(&fx, "study.out");
    CHECK(raw && img && ref && raw->rank == 2 && img->rank == 3 && ref->rank == 3, "fixture lacks the study case");
    if (raw && img && ref && raw->rank == 2 && img->rank == 3) {
        int64_t h = (int64_t)raw->dims[0], w = (int64_t)raw->dims[1], H = (int64_t)img->dims[0], W = (int64_t)img->dims[1];
        uint8_t *out = dfs_malloc((size_t)(H * W * 3));
        dfs_cam_study(raw->data, h, w, img->data, H, W, out);
        const uint8_t *o = ref->data;
        int worst = 0;
        int64_t diff = 0;
        for (int64_t i = 0; i < H * W * 3; i++) {
            int d = abs((int)out[i] - (int)o[i]);
            worst = d > worst ? d : worst;
            diff += d != 0;
        }
        printf("# study pipeline: %lld of %lld values differ from OpenCV's, by at most %d\n", (long long)diff,
               (long long)(H * W * 3), worst);
        CHECK(diff * 20 <= H * W * 3 && worst <= 8, "study pipeline close to OpenCV (%lld differ, worst %d)",
              (long long)diff, worst);
        free(out);
    }
    dfs_record_list_free(&fx);
}

static int make_ckpt(const char *arch, const char *size_s, const char *path)
{
    long size;
    if (dfs_parse_long(size_s, 1, 4096, &size) != 0) return fprintf(stderr, "bad size\n"), 2;
    nn_graph *g = nn_model_build(arch, size);
    if (!g) return fprintf(stderr, "%s\n", dfs_error()), 1;
    dfs_rng rng;
    dfs_rng_seed(&rng, 1);
    CHECK(nn_graph_alloc_params(g, &rng) == 0, "alloc_params: %s", dfs_error());
    int rc = nn_checkpoint_save(g, arch, size, "note=test_cam fresh initialisation\n", NULL, path);
    if (rc != 0) fprintf(stderr, "%s\n", dfs_error());
    nn_graph_free(g);
    return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc == 5 && !strcmp(argv[1], "--make-ckpt")) return make_ckpt(argv[2], argv[3], argv[4]);
    RUN(test_resize);
    RUN(test_known_region);
    RUN(test_colormaps);
    RUN(test_meso4);
    RUN(test_xception);
    return CHECK_DONE();
}
