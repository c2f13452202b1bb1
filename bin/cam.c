/* cam: Grad-CAM heatmaps of a detector for a stream of images (formats/cam.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include "core/args.h"
#include "core/common.h"
#include "tool/tool.h"
#include "core/strmap.h"
#include "study/dataset.h"
#include "media/image.h"
#include "core/stream.h"
#include "analysis/camsheet.h"
#include "analysis/gradcam.h"
#include "nn/checkpoint.h"
#include "tool/device.h"
#include "nn/gradcam.h"
#include "nn/models.h"

static const char usage[] =
    "usage: cam -m MODEL.ckpt [options] < images.dft > heatmaps.dft\n"
    "       cam --sheet OUT.png [--images IMAGES.dft]... [--per-cell K] [--tile PX] [--font-scale F]\n"
    "                 ROW,COL=HEATMAPS.dft...\n"
    "\n"
    "Grad-CAM heatmaps (Selvaraju et al.) of a detector for every image of a stream of u8\n"
    "(S, S, 3) RGB records, S the model's input size. Output: one f32 (S, S) record per image in\n"
    "[0, 1] with the image's key, dataset and label and layer=, class= (formats/cam.md).\n"
    "\n"
    "  -m, --model FILE  checkpoint (formats/checkpoint.md)\n"
    "  --layer NAME      node whose activations are explained (default: the architecture's\n"
    "                    Grad-CAM layer, the cam_layer column of train --list-archs)\n"
    "  --class C         fake (default) or real: the pre-sigmoid/softmax score explained\n"
    "  --batch N         images per forward pass (default 8); the maps are the same bytes for any N\n"
    "                    (on one OpenBLAS kernel and thread count; README, Numerics)\n"
    "  --guided          Guided Grad-CAM: the map times the largest |guided-backpropagation\n"
    "                    gradient| over the colour channels, scaled to [0, 1]\n"
    "  --png DIR         also write each heatmap as DIR/<key>.png in OpenCV's JET colours; DIR\n"
    "                    must be new or empty and appears whole or not at all\n"
    "                    ('/' and other characters outside [A-Za-z0-9._-] of the key become '_';\n"
    "                    two keys that give one name, a/b_c and a_b/c, are an error)\n"
    "  --overlay         the PNGs blend the image and the heatmap half and half\n"
    "  --compat study    reproduce what the study saved: no ReLU, tf-explain's VIRIDIS overlay on\n"
    "                    the image, then the study's gray conversion and JET; output u8 (S, S, 3)\n"
    "  --device D        where the network runs: auto (default: cuda when a usable GPU is\n"
    "                    found, else cpu), cpu or cuda (fails without a usable GPU); cpu-split\n"
    "                    is a test device (cpu ops on separate memory, results equal cpu's)\n"
    "                    DFS_DEVICE=D in the environment sets the default (make test: cpu)\n"
    "  --verbose         name the device on stderr (without it, only a GPU that auto chose is named)\n"
    "  --threads N       OpenMP and BLAS threads (default: all cores)\n"
    "  --progress        images done on stderr even when it is not a terminal\n"
    "  -o FILE           write the stream to FILE (default stdout)\n"
    "  -h, --help        show this help\n"
    "\n"
    "Contact sheet (the paper's Figure 2): --sheet OUT.png draws a grid with a row per ROW and a\n"
    "column group per COL (both in the order they first appear, labelled), each cell the first K\n"
    "heatmaps of its stream (cam's output, or --compat study's images) in JET colours.\n"
    "  --images FILE     image streams (repeatable): each f32 heatmap is blended half and half with\n"
    "                    the image of the same key=, which must be in one of them\n"
    "  --per-cell K      heatmaps per cell (default 2)\n"
    "  --tile PX         side of each heatmap on the sheet, resized (default 64)\n"
    "  --font-scale F    labels in the 5x7 font scaled by F, 7F px tall (default: tile / 48 for\n"
    "                    tiles of 96 px and more, else 1); test-set labels too wide for their\n"
    "                    column group alternate between two header lines\n";

typedef struct cam_args {
    const char *model, *layer, *png, *out, *sheet, *device;
    int cls, guided, overlay, study, verbose, progress;
    long batch, per_cell, tile, font, threads;
    const char **images;
    int n_images;
    dfs_camsheet_cell *cells;
    int n_cells;
} cam_args;

static void parse_args(int argc, char **argv, cam_args *a)
{
    memset(a, 0, sizeof *a);
    a->batch = 8;
    a->per_cell = 2;
    a->tile = 64;
    const char *cls = NULL, *compat = NULL;
    dfs_arglist images = {0};
    const dfs_opt opts[] = {
        DFS_OPT_HELP,
        DFS_OPT_STR_("-m", "--model", &a->model),
        DFS_OPT_STR_("--layer", NULL, &a->layer),
        DFS_OPT_STR_("--class", NULL, &cls),
        DFS_OPT_LONG_("--batch", NULL, &a->batch, 1, 4096),
        DFS_OPT_FLAG_("--guided", NULL, &a->guided),
        DFS_OPT_STR_("--png", NULL, &a->png),
        DFS_OPT_FLAG_("--overlay", NULL, &a->overlay),
        DFS_OPT_STR_("--compat", NULL, &compat),
        DFS_OPT_THREADS(&a->threads),
        DFS_OPT_DEVICE(&a->device),
        DFS_OPT_VERBOSE(&a->verbose),
        DFS_OPT_PROGRESS(&a->progress),
        DFS_OPT_OUTPUT(&a->out),
        DFS_OPT_STR_("--sheet", NULL, &a->sheet),
        DFS_OPT_LIST_("--images", NULL, &images),
        DFS_OPT_LONG_("--per-cell", NULL, &a->per_cell, 1, 64),
        DFS_OPT_LONG_("--tile", NULL, &a->tile, 8, 1024),
        DFS_OPT_LONG_("--font-scale", NULL, &a->font, 1, 16),
        DFS_OPT_END_,
    };
    dfs_args args = {.unknown_fmt = "unknown argument '%s' (see --help)"};
    dfs_args_done(dfs_args_parse(&args, opts, argc, argv), opts, usage);
    a->images = images.v;
    a->n_images = images.n;
    a->cls = NN_CAM_FAKE;
    if (cls && !strcmp(cls, "real")) a->cls = NN_CAM_REAL;
    else if (cls && strcmp(cls, "fake")) dfs_die("--class: '%s' is neither fake nor real", cls);
    if (compat && strcmp(compat, "study")) dfs_die("--compat: unknown mode '%s' (only 'study')", compat);
    a->study = compat != NULL;
    a->cells = dfs_malloc(sizeof *a->cells * (size_t)(args.pos.n + 1));
    for (int i = 0; i < args.pos.n; i++) {   /* ROW,COL=FILE, with --sheet only */
        const char *f = args.pos.v[i];
        if (!a->sheet) dfs_die("unknown argument '%s' (see --help)", f);
        const char *comma = strchr(f, ','), *eq = comma ? strchr(comma, '=') : NULL;
        if (!comma || !eq || comma == f || eq == comma + 1 || !eq[1]) dfs_die("'%s' is not ROW,COL=HEATMAPS.dft", f);
        dfs_camsheet_cell *c = &a->cells[a->n_cells++];
        c->row = strndup(f, (size_t)(comma - f));
        c->col = strndup(comma + 1, (size_t)(eq - comma - 1));
        c->path = eq + 1;
        if (!c->row || !c->col) dfs_die("out of memory");
    }
    free(args.pos.v);
    if (a->sheet) {
        if (a->model || a->out || a->png) dfs_die("--sheet draws existing heatmaps: drop -m, -o and --png");
        if (!a->n_cells) dfs_die("--sheet needs ROW,COL=HEATMAPS.dft arguments (see --help)");
        return;
    }
    if (a->n_images || a->n_cells) dfs_die("--images and ROW,COL=FILE arguments go with --sheet");
    if (!a->model) dfs_die("-m MODEL.ckpt is required (see --help)");
    if (a->overlay && !a->png) dfs_die("--overlay needs --png DIR");
    if (a->study && (a->guided || a->overlay))
        dfs_die("--compat study already contains the image and has no guided variant; drop --guided/--overlay");
}

/* The PNG file name of a key: characters outside [A-Za-z0-9._-] become '_'. */
static char *png_path(const char *dir, const dfs_record *r, long index)
{
    char *key = dfs_meta_dup(r, "key");
    char buf[32];
    if (!key || !key[0]) {
        free(key);
        snprintf(buf, sizeof buf, "record%ld", index);
        key = dfs_strdup(buf);
    }
    for (char *p = key; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' ||
              *p == '_' || *p == '-'))
            *p = '_';
    size_t n = strlen(dir) + strlen(key) + 8;
    char *path = dfs_malloc(n);
    snprintf(path, n, "%s/%s.png", dir, key);
    free(key);
    return path;
}

typedef struct cam_run {
    const cam_args *a;
    nn_graph *g;
    int layer;
    int64_t S, h, w;
    float *x, *maps, *guided, *up;
    uint8_t *rgb;
    dfs_record *batch;
    dfs_record out;
    dfs_out *o;
    long written;
} cam_run;

/* --png DIR appears whole or not at all: the PNGs go to DIR.tmp.PID (removed by dfs_die and
 * fatal signals), renamed to DIR when the stream is complete. */
static dfs_outdir pngdir;
static dfs_strmap pngnames;   /* file name -> record: two keys must not make one file */

static void write_png(cam_run *c, const dfs_record *in, const uint8_t *rgb)
{
    char *path = png_path(pngdir.tmp, in, c->written);
    int dup;
    size_t first = dfs_strmap_put(&pngnames, path + strlen(pngdir.tmp) + 1, (size_t)c->written, &dup);
    if (dup) {
        char *key = dfs_meta_dup(in, "key");
        dfs_die("<stdin>: record %ld: key '%s' gives the PNG name %s, already written for record %zu (characters "
                "outside [A-Za-z0-9._-] become '_')", c->written, key ? key : "", path + strlen(pngdir.tmp) + 1, first);
    }
    dfs_image im = {0};
    if (dfs_image_alloc(&im, (int)c->S, (int)c->S, 3) != 0) dfs_die_error();
    memcpy(im.px, rgb, (size_t)(c->S * c->S * 3));
    if (dfs_png_write(path, &im) != 0) {
        dfs_outdir_error(&pngdir);
        dfs_die_error();
    }
    dfs_image_free(&im);
    free(path);
}

/* The image's label and metadata (key, dataset, ...) onto a freshly shaped record. */
static void copy_meta(dfs_record *r, const dfs_record *in)
{
    r->label = in->label;
    const char *p = in->meta, *end = in->meta + in->meta_len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p)), *eq = memchr(p, '=', (size_t)(end - p));
        if (!nl) nl = end;
        if (eq && eq < nl) {
            char *k = strndup(p, (size_t)(eq - p)), *v = strndup(eq + 1, (size_t)(nl - eq - 1));
            if (!k || !v) dfs_die("out of memory");
            if (dfs_meta_set(r, k, v) != 0) dfs_die_error();
            free(k);
            free(v);
        }
        p = nl + 1;
    }
}

static void run_batch(cam_run *c, int64_t N)
{
    const cam_args *a = c->a;
    int64_t S = c->S, P = S * S, hw = c->h * c->w;
    for (int64_t n = 0; n < N; n++) {
        const uint8_t *px = c->batch[n].data;
        for (int64_t p = 0; p < P; p++)
            for (int k = 0; k < 3; k++) c->x[(n * 3 + k) * P + p] = px[p * 3 + k] / 255.0f;
    }
    if (nn_gradcam_batch(c->g, c->layer, a->cls, c->x, N, !a->study, c->maps, a->guided ? c->guided : NULL) != 0)
        dfs_die_error();
    for (int64_t n = 0; n < N; n++) {
        const dfs_record *in = &c->batch[n];
        dfs_record *r = &c->out;
        if (a->study) {
            uint64_t dims[3] = {(uint64_t)S, (uint64_t)S, 3};
            if (dfs_record_shape(r, DFS_U8, 3, dims) != 0) dfs_die_error();
            dfs_cam_study(c->maps + n * hw, c->h, c->w, in->data, S, S, r->data);
        } else {
            uint64_t dims[2] = {(uint64_t)S, (uint64_t)S};
            if (dfs_record_shape(r, DFS_F32, 2, dims) != 0) dfs_die_error();
            float *m = r->data;
            dfs_cam_resize(c->maps + n * hw, c->h, c->w, m, S, S);
            if (a->guided) {
                const float *gb = c->guided + n * 3 * P;
                for (int64_t p = 0; p < P; p++) {
                    float best = 0.0f;
                    for (int k = 0; k < 3; k++) best = fmaxf(best, fabsf(gb[k * P + p]));
                    m[p] *= best;
                }
            }
            dfs_cam_minmax(m, P);
        }
        copy_meta(r, in);
        if (dfs_meta_set(r, "layer", c->g->nodes[c->layer].name) != 0 ||
            dfs_meta_set(r, "class", a->cls == NN_CAM_FAKE ? "fake" : "real") != 0)
            dfs_die_error();
        if (a->study && dfs_meta_set(r, "compat", "study") != 0) dfs_die_error();
        if (a->png) {
            if (a->study) {
                write_png(c, in, r->data);
            } else {
                dfs_cam_color(r->data, P, c->rgb);
                if (a->overlay) dfs_cam_blend(in->data, c->rgb, P, 0.5, c->rgb);
                write_png(c, in, c->rgb);
            }
        }
        if (dfs_write_record(c->o, r) != 0) dfs_die_error();
        c->written++;
    }
}

int main(int argc, char **argv)
{
    dfs_tool_init(argv[0]);
    cam_args a;
    parse_args(argc, argv, &a);
    {
        const char **ins = dfs_malloc(((size_t)a.n_images + (size_t)a.n_cells + 1) * sizeof *ins);
        size_t nins = 0;
        for (int i = 0; i < a.n_images; i++) ins[nins++] = a.images[i];
        for (int i = 0; i < a.n_cells; i++) ins[nins++] = a.cells[i].path;
        ins[nins++] = a.model;
        const char *outs[] = {a.sheet, a.out, a.png};
        if (dfs_paths_distinct(outs, 3, ins, nins) != 0) dfs_die_error();
        free(ins);
    }
    if (a.sheet) {
        if (dfs_cam_sheet(a.sheet, a.cells, a.n_cells, a.images, a.n_images, (int)a.per_cell, (int)a.tile,
                          (int)a.font) != 0)
            dfs_die_error();
        for (int i = 0; i < a.n_cells; i++) {
            free((char *)a.cells[i].row);   /* strndup'd by parse_args */
            free((char *)a.cells[i].col);
        }
        free(a.images);
        free(a.cells);
        return 0;
    }

    const nn_backend *be = dfs_tool_device(a.device, a.verbose);   /* before any file is read or written */
    dfs_tool_threads(a.threads);
    nn_ckpt_info info;
    dfs_spool sp;   /* the checkpoint is opened twice (header, then tensors): a pipe is copied once */
    if (dfs_spool_open(&sp, a.model) != 0) dfs_die_error();
    nn_graph *g = nn_checkpoint_load(sp.path, NULL, &info);
    if (!g) dfs_spool_error(&sp);
    dfs_spool_close(&sp);
    if (!g || nn_graph_set_backend(g, be) != 0) dfs_die_error();
    const nn_model_info *mi = nn_model_find(info.arch);
    const char *lname = a.layer ? a.layer : mi ? mi->cam_layer : NULL;
    if (!lname) dfs_die("%s: no default Grad-CAM layer for architecture '%s'; use --layer", a.model, info.arch);
    int layer = nn_gradcam_layer(g, lname);
    if (layer < 0) dfs_die("%s: %s: %s", a.model, info.arch, dfs_error());
    if (a.png && dfs_outdir_open(&pngdir, a.png) != 0) dfs_die_error();
    dfs_strmap_init(&pngnames);

    cam_run c;
    memset(&c, 0, sizeof c);
    c.a = &a;
    c.g = g;
    c.layer = layer;
    c.S = info.size;
    c.h = g->nodes[layer].H;
    c.w = g->nodes[layer].W;
    nn_graph_set_memory(g, NN_MEM_BACKWARD);   /* nn_gradcam_batch marks what it reads */
    if (nn_graph_set_batch(g, a.batch) != 0) dfs_die_error();
    size_t P = (size_t)(c.S * c.S);
    c.x = nn_graph_host_alloc(g, (size_t)a.batch * 3 * P * sizeof(float));
    if (!c.x) dfs_die_error();
    c.maps = dfs_malloc((size_t)(a.batch * c.h * c.w) * sizeof(float));
    if (a.guided) c.guided = dfs_malloc((size_t)a.batch * 3 * P * sizeof(float));
    c.rgb = dfs_malloc(3 * P);
    c.batch = dfs_malloc((size_t)a.batch * sizeof(dfs_record));
    for (long i = 0; i < a.batch; i++) dfs_record_init(&c.batch[i]);
    dfs_record_init(&c.out);

    dfs_reader rd;
    if (dfs_reader_open(&rd, "-") != 0) dfs_die_error();
    dfs_out o;
    if (dfs_out_open(&o, a.out, 1, 0) != 0) dfs_die_error();
    c.o = &o;
    dfs_progress prog;   /* images done; the stream's length is not known ahead */
    dfs_progress_start(&prog, stderr, "images", 0, a.progress);
    int64_t n = 0;
    long index = 0;
    for (;;) {
        int rc = dfs_reader_next(&rd, &c.batch[n]);
        if (rc < 0) dfs_die_error();
        if (rc > 0) {
            const dfs_record *r = &c.batch[n];
            if (!dfs_record_is_image(r) || r->dims[2] != 3)
                dfs_die("<stdin>: record %ld: not an RGB u8 (H, W, 3) image", index);
            if ((int64_t)r->dims[0] != c.S || (int64_t)r->dims[1] != c.S)
                dfs_die("<stdin>: record %ld: image is %llux%llu, the model %s takes %lldx%lld", index,
                        (unsigned long long)r->dims[0], (unsigned long long)r->dims[1], a.model, (long long)c.S,
                        (long long)c.S);
            index++;
            n++;
        }
        if (n == a.batch || (rc == 0 && n > 0)) {
            run_batch(&c, n);
            dfs_progress_update(&prog, (uint64_t)c.written);
            n = 0;
        }
        if (rc == 0) break;
    }
    dfs_progress_end(&prog);
    dfs_reader_close(&rd);
    if (fflush(o.f) != 0) dfs_die("%s: write failed: %s", dfs_out_name(&o), strerror(errno));
    if (a.png && dfs_outdir_commit(&pngdir) != 0) dfs_die_error();
    dfs_strmap_free(&pngnames);
    if (dfs_out_commit(&o) != 0) dfs_die_error();

    for (long i = 0; i < a.batch; i++) dfs_record_free(&c.batch[i]);
    free(c.batch);
    dfs_record_free(&c.out);
    nn_graph_host_free(g, c.x);
    free(c.maps);
    free(c.guided);
    free(c.rgb);
    nn_ckpt_info_free(&info);
    nn_graph_free(g);
    free(a.images);
    free(a.cells);
    return 0;
}
