/* crop: detect the largest face in each frame (dlib's HOG detector or a Haar cascade), locate 68
 * landmarks, align and crop. */
#include "core/args.h"
#include "core/common.h"
#include "tool/tool.h"
#include "core/lines.h"
#include "face/face.h"
#include "media/image.h"
#include "core/stream.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
    "usage: crop [options] < frames.dft > faces.dft\n"
    "       crop [options] FRAMES.dft... > faces.dft\n"
    "\n"
    "For each u8 (H, W, 3) RGB record: find the largest face (by box area) with --detector:\n"
    "  haar  a Viola-Jones cascade as OpenCV's detectMultiScale runs it (scale factor 1.1,\n"
    "        3 neighbours, windows from --min-face); the default\n"
    "  hog   dlib's HOG frontal face detector as face_recognition's face_locations(img, 1,\n"
    "        \"hog\") runs it (the image upsampled --upsample times; the study's detector)\n"
    "then locate 68 landmarks with dlib's regression-tree model, map the eye centres and mouth\n"
    "corners onto the ArcFace template by a similarity (zoomed out by --margin) and resample to\n"
    "--size x --size. The models are read from their files by this program.\n"
    "\n"
    "Output records keep the input's metadata and label and add box=x,y,w,h (source pixels) and\n"
    "landmarks=x0,y0,...,x67,y67 (source pixels). Frames without a face are listed on stderr as\n"
    "'crop: KEY: no face' and counted in a summary line; no crop is made up for them.\n"
    "\n"
    "options:\n"
    "      --size N          output side in pixels (default 256)\n"
    "      --margin M        crop scale around the face (default 1.3)\n"
    "      --no-align        crop the square of side margin*max(w,h) around the box, unrotated\n"
    "      --boxes FILE      take boxes from a TSV (key, x, y, w, h per line; '#' comments)\n"
    "                        instead of detecting; frames not listed have no face\n"
    "      --detector NAME   hog or haar (default haar)\n"
    "      --cascade PATH    Haar cascade XML (default " DFS_CASCADE_DEFAULT ")\n"
    "      --hog-model PATH  HOG detector model (default " DFS_FHOG_FILE " of this\n"
    "                        repository; its SHA-256 is checked)\n"
    "      --upsample N      hog: times the image is doubled before detection (default 1)\n"
    "      --landmarks PATH  dlib shape predictor (default " DFS_LANDMARKS_DEFAULT ")\n"
    "      --min-face N      haar: smallest face side searched, in pixels (default 40)\n"
    "      --scale-factor F  haar: detection pyramid step (default 1.1)\n"
    "      --min-neighbors N haar: detections needed to keep a face (default 3)\n"
    "  -o, --output FILE     write to FILE atomically instead of stdout\n"
    "  -j, --jobs N          frames processed in parallel (default 1); output order is kept\n"
    "      --progress        show progress on stderr even when it is not a terminal\n"
    "  -h, --help            this help\n";

typedef struct { char *key; dfs_box box; } boxentry;
typedef struct { boxentry *v; size_t n, cap; } boxtable;

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const boxentry *)a)->key, ((const boxentry *)b)->key);
}

static void load_boxes(const char *path, boxtable *t)
{
    FILE *f = fopen(path, "r");
    if (!f) dfs_die("%s: cannot open: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    long ln = 0;
    ssize_t len;
    while ((len = dfs_getline(&line, &cap, f)) > 0 || len == -2) {
        ln++;
        if (len == -2) dfs_die("%s: line %ld: longer than %u bytes", path, ln, DFS_MAX_LINE);
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0] || line[0] == '#') continue;
        char *fields[5], *save = NULL, *s = line;
        int n = 0;
        for (char *tok; n < 5 && (tok = strtok_r(s, "\t", &save)); s = NULL) fields[n++] = tok;
        long v[4];
        if (n != 5 || strtok_r(NULL, "\t", &save)) dfs_die("%s: line %ld: want key, x, y, w, h", path, ln);
        for (int i = 0; i < 4; i++)
            if (dfs_parse_long(fields[i + 1], i < 2 ? -1000000 : 1, 1000000, &v[i]) != 0)
                dfs_die("%s: line %ld: bad number '%s'", path, ln, fields[i + 1]);
        if (t->n == t->cap) t->v = dfs_realloc(t->v, (t->cap = t->cap ? 2 * t->cap : 64) * sizeof *t->v);
        t->v[t->n++] = (boxentry){dfs_strdup(fields[0]), {(int)v[0], (int)v[1], (int)v[2], (int)v[3]}};
    }
    free(line);
    fclose(f);
    if (t->n) qsort(t->v, t->n, sizeof *t->v, cmp_entry);   /* an empty table has no array (qsort wants one) */
    for (size_t i = 1; i < t->n; i++)
        if (!strcmp(t->v[i].key, t->v[i - 1].key)) dfs_die("%s: key '%s' listed twice", path, t->v[i].key);
}

typedef struct {
    dfs_record in, out;
    int status;        /* 1 cropped, 0 no face, -1 error */
    char err[512];
} item;

typedef struct {
    const dfs_cascade *cascade;
    const dfs_fhog *hog;
    int upsample;
    const dfs_shape_model *shape;
    const boxtable *boxes;
    dfs_detect_opts det;
    int size, align;
    double margin;
} settings;

static void process(const settings *s, item *it)
{
    dfs_image im = {0}, gray = {0}, crop = {0};
    it->status = -1;
    if (dfs_image_from_record(&it->in, &im) != 0 || im.c != 3) {
        char shape[128];
        if (im.px) dfs_fail("expected an u8 image of shape HxWx3, got %s %s", dfs_dtype_name(it->in.dtype),
                            dfs_shape_str(&it->in, shape, sizeof shape));   /* one channel: no error was set */
        snprintf(it->err, sizeof it->err, "not an RGB image record (%s)", dfs_error());
        dfs_image_free(&im);
        return;
    }
    if (dfs_face_gray(&im, &gray) != 0) {
        snprintf(it->err, sizeof it->err, "%s", dfs_error());
        dfs_image_free(&im);
        return;
    }
    dfs_box box;
    int found = 0;
    if (s->boxes) {
        char *key = dfs_meta_dup(&it->in, "key");
        boxentry probe = {key ? key : "", {0, 0, 0, 0}};
        boxentry *e = bsearch(&probe, s->boxes->v, s->boxes->n, sizeof *e, cmp_entry);
        if (e) { box = e->box; found = 1; }
        free(key);
    } else if (s->hog) {
        dfs_fhog_face *f = NULL;
        int n = dfs_fhog_detect(s->hog, &im, s->upsample, &f);
        int k = -1;
        for (int i = 0; i < n; i++)
            if (k < 0 || (long)f[i].box.w * f[i].box.h > (long)f[k].box.w * f[k].box.h) k = i;
        if (k >= 0) { box = f[k].box; found = 1; }
        free(f);
    } else {
        dfs_box *b = NULL;
        int n = dfs_cascade_detect(s->cascade, &gray, &s->det, &b);
        int k = dfs_box_largest(b, n);
        if (k >= 0) { box = b[k]; found = 1; }
        free(b);
    }
    if (!found) {
        it->status = 0;
    } else {
        int np = dfs_shape_model_points(s->shape);
        float *pts = dfs_malloc((size_t)np * 2 * sizeof *pts);
        dfs_shape_predict(s->shape, &gray, box, pts);
        int rc = s->align ? dfs_face_align(&im, pts, s->margin, s->size, &crop)
                          : dfs_face_crop_box(&im, box, s->margin, s->size, &crop);
        if (rc != 0 || dfs_image_to_record(&crop, &it->out) != 0) {
            snprintf(it->err, sizeof it->err, "%s", dfs_error());
        } else {
            /* keep the frame's provenance, add where the face was */
            it->out.label = it->in.label;
            size_t len = it->in.meta_len;
            if (len + 1 > it->out.meta_cap) {
                it->out.meta = dfs_realloc(it->out.meta, len + 1);
                it->out.meta_cap = len + 1;
            }
            memcpy(it->out.meta, it->in.meta, len + 1);
            it->out.meta_len = len;
            char buf[64];
            snprintf(buf, sizeof buf, "%d,%d,%d,%d", box.x, box.y, box.w, box.h);
            dfs_meta_set(&it->out, "box", buf);
            char *lm = dfs_malloc((size_t)np * 2 * 16 + 1);
            size_t o = 0;
            for (int i = 0; i < 2 * np; i++) o += (size_t)sprintf(lm + o, i ? ",%.2f" : "%.2f", pts[i]);
            dfs_meta_set(&it->out, "landmarks", lm);
            free(lm);
            it->status = 1;
        }
        free(pts);
    }
    dfs_image_free(&im);
    dfs_image_free(&gray);
    dfs_image_free(&crop);
}

int main(int argc, char **argv)
{
    dfs_tool_init(argv[0]);
    settings s = {0};
    dfs_detect_defaults(&s.det);
    s.det.min_size = 40;
    s.size = 256;
    s.margin = 1.3;
    s.align = 1;
    const char *detector = "haar", *cascade_path = DFS_CASCADE_DEFAULT, *hog_path = NULL, *landmarks = DFS_LANDMARKS_DEFAULT, *boxes = NULL, *output = "-";
    long jobs = 1;
    int progress = 0, haar_opts = 0;
    s.upsample = 1;
    long size = s.size, upsample = s.upsample, min_face = s.det.min_size, min_neighbors = s.det.min_neighbors;
    double margin = s.margin, scale_factor = s.det.scale_factor;
    int no_align = 0, n_min_face = 0, n_scale = 0, n_neighbors = 0;
    const dfs_opt opts[] = {
        DFS_OPT_HELP,
        DFS_OPT_LONG_("--size", NULL, &size, 8, 4096),
        DFS_OPT_DOUBLE_("--margin", NULL, &margin, 0.5, 10),
        DFS_OPT_FLAG_("--no-align", NULL, &no_align),
        DFS_OPT_STR_("--boxes", NULL, &boxes),
        DFS_OPT_STR_("--detector", NULL, &detector),
        DFS_OPT_STR_("--landmarks", NULL, &landmarks),
        DFS_OPT_STR_("--cascade", NULL, &cascade_path),
        DFS_OPT_STR_("--hog-model", NULL, &hog_path),
        DFS_OPT_LONG_("--upsample", NULL, &upsample, 0, 4),
        {.name = "--min-face", .kind = DFS_OPT_LONG, .dest = &min_face, .lo = 0, .hi = 100000, .count = &n_min_face},
        {.name = "--scale-factor", .kind = DFS_OPT_DOUBLE, .dest = &scale_factor, .dlo = 1.001, .dhi = 4, .count = &n_scale},
        {.name = "--min-neighbors", .kind = DFS_OPT_LONG, .dest = &min_neighbors, .lo = 0, .hi = 1000, .count = &n_neighbors},
        DFS_OPT_STR_("-o", "--output", &output),
        DFS_OPT_LONG_("-j", "--jobs", &jobs, 1, 256),
        DFS_OPT_PROGRESS(&progress),
        DFS_OPT_END_,
    };
    dfs_args args = {.unknown_fmt = "%s: unknown option (see --help)", .missing_fmt = "%s: missing argument (see --help)"};
    dfs_args_done(dfs_args_parse(&args, opts, argc, argv), opts, help);
    s.size = (int)size;
    s.margin = margin;
    s.align = !no_align;
    s.upsample = (int)upsample;
    s.det.min_size = (int)min_face;
    s.det.scale_factor = scale_factor;
    s.det.min_neighbors = (int)min_neighbors;
    haar_opts = n_min_face || n_scale || n_neighbors;
    int nfiles = args.pos.n;
    const char **files = args.pos.v;
    static char hog_default[4096];
    int hog = !strcmp(detector, "hog");
    if (!hog && strcmp(detector, "haar")) dfs_die("--detector: '%s': want hog or haar (a cascade file is --cascade)", detector);
    if (hog && haar_opts) dfs_die("--min-face, --scale-factor and --min-neighbors are for --detector haar");
    {
        size_t nf = (size_t)nfiles;
        const char **ins = dfs_malloc((nf + 4) * sizeof *ins);
        for (size_t i = 0; i < nf; i++) ins[i] = files[i];
        ins[nf] = boxes;
        ins[nf + 1] = boxes || hog ? NULL : cascade_path;
        ins[nf + 2] = landmarks;
        ins[nf + 3] = boxes || !hog ? NULL : hog_path;
        const char *outs[] = {output};
        if (dfs_paths_distinct(outs, 1, ins, nf + 4) != 0) dfs_die_error();
        free(ins);
    }
    boxtable table = {0};
    dfs_cascade *cascade = NULL;
    dfs_fhog *fhog = NULL;
    dfs_spool sp;   /* the models are sized, then read or mapped: a pipe is copied once */
    if (boxes) {
        load_boxes(boxes, &table);
        s.boxes = &table;
    } else if (hog) {
        if (!hog_path) {
            if (dfs_fhog_default_path(hog_default, sizeof hog_default) != 0)
                dfs_die("%s: cannot open: %s (give --hog-model)", hog_default, strerror(errno));
            hog_path = hog_default;
        }
        if (!(fhog = dfs_fhog_load(hog_path))) dfs_die_error();
        s.hog = fhog;
    } else {
        if (dfs_spool_open(&sp, cascade_path) != 0) dfs_die_error();
        if (!(cascade = dfs_cascade_load(sp.path))) dfs_spool_error(&sp), dfs_die_error();
        dfs_spool_close(&sp);
        s.cascade = cascade;
    }
    if (dfs_spool_open(&sp, landmarks) != 0) dfs_die_error();
    dfs_shape_model *shape = dfs_shape_model_load(sp.path);
    if (!shape) dfs_spool_error(&sp), dfs_die_error();
    dfs_spool_close(&sp);
    if (dfs_shape_model_points(shape) != 68) dfs_die("%s: a 68-point model is needed for alignment", landmarks);
    s.shape = shape;

    dfs_out out;
    if (dfs_out_open(&out, output, 1, 0) != 0) dfs_die_error();
    int nin = nfiles ? nfiles : 1;
    size_t batch = (size_t)jobs * 4;
    item *items = dfs_calloc(batch, sizeof *items);
    for (size_t i = 0; i < batch; i++) { dfs_record_init(&items[i].in); dfs_record_init(&items[i].out); }
    long total = 0, cropped = 0, noface = 0;
    dfs_progress prog;
    dfs_progress_start(&prog, stderr, "frames", 0, progress);
    for (int fi = 0; fi < nin; fi++) {
        dfs_reader rd;
        if (dfs_reader_open(&rd, nfiles ? files[fi] : "-") != 0) dfs_die_error();
        for (;;) {
            size_t n = 0;
            int r = 0;
            while (n < batch && (r = dfs_reader_next(&rd, &items[n].in)) == 1) n++;
            if (r < 0) dfs_die_error();
            if (n == 0) break;
#pragma omp parallel for schedule(dynamic, 1) num_threads(jobs)
            for (size_t i = 0; i < n; i++) process(&s, &items[i]);
            for (size_t i = 0; i < n; i++) {
                char *key = dfs_meta_dup(&items[i].in, "key");
                const char *k = key ? key : "(no key)";
                total++;
                if (items[i].status < 0) dfs_die("%s: record %llu (%s): %s", rd.name,
                                                 (unsigned long long)(rd.index - n + i), k, items[i].err);
                if (items[i].status == 0) {
                    dfs_warn("%s: no face", k);
                    noface++;
                } else {
                    if (dfs_write_record(&out, &items[i].out) != 0) dfs_die_error();
                    cropped++;
                }
                free(key);
            }
            dfs_progress_update(&prog, (uint64_t)total);
            if (r == 0) break;
        }
        dfs_reader_close(&rd);
    }
    dfs_progress_end(&prog);
    if (dfs_out_commit(&out) != 0) dfs_die_error();
    if (noface) fprintf(stderr, "%s: %ld frames: %ld cropped, %ld without a face\n", dfs_progname, total, cropped, noface);
    for (size_t i = 0; i < batch; i++) { dfs_record_free(&items[i].in); dfs_record_free(&items[i].out); }
    free(items);
    for (size_t i = 0; i < table.n; i++) free(table.v[i].key);
    free(table.v);
    dfs_cascade_free(cascade);
    dfs_fhog_free(fhog);
    dfs_shape_model_free(shape);
    free(files);
    return 0;
}
