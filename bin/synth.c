/* synth: generate the synthetic face-forgery benchmark (formats/synth.md). */
#include <errno.h>
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/args.h"
#include "core/common.h"
#include "tool/tool.h"
#include "media/image.h"
#include "media/montage.h"
#include "core/stream.h"
#include "synth/synth.h"

static const char HELP[] =
    "usage: synth --role ROLE [--split S] [--videos N] [--frames K] [--size PX] [--seed X] > out.dft\n"
    "       synth --role ROLE ... --png DIR      PNGs in DIR/{real,fake}/VIDEO/fNN.png + DIR/manifest.tsv\n"
    "       synth --role ROLE ... --video DIR    H.264 MP4s in DIR/{real,fake}/VIDEO.mp4 + DIR/labels.tsv\n"
    "       synth --sheet OUT.png [--split S] [--videos N] [--size PX] [--seed X]\n"
    "\n"
    "Generate the synthetic face-forgery benchmark: procedural faces as short videos, half of\n"
    "them forged. Output is a tensor stream of u8 HxWx3 frames on stdout (label 0 real, 1 fake;\n"
    "metadata key=ROLE/VIDEO/fNN, dataset=ROLE, split, video, frame, method, pool, identity,\n"
    "donor, capture, seed). Same arguments and seed give the same bytes on any thread count.\n"
    "\n"
    "  --role ROLE     celeb | celeb-m | f2f | fs | nt | df | dfd | fs-i | nt-i\n"
    "  --split S       train | val | test (default train); splits never share identities\n"
    "  --videos N      videos in total, even: N/2 real and N/2 forged (default 10)\n"
    "  --frames K      frames per video, 1..1000 (default 8)\n"
    "  --size PX       image side, 32..1024 (default 256; 128 for --sheet)\n"
    "  --seed X        seed (default 1)\n"
    "  --png DIR       write PNG files and a manifest (path, label, key) instead of a stream\n"
    "  --video DIR     write MP4 videos (x264 CRF 23, like FF++ c23; camera framing with the\n"
    "                  face smaller and off-centre) and labels.tsv (path, label, video)\n"
    "  --fps N         frame rate of --video (default 25)\n"
    "  --crf N         x264 constant rate factor of --video (default 23)\n"
    "  --sheet OUT     a contact sheet PNG: one row per role, N/2 real|fake pairs per row\n"
    "                  (default N = 8), frame 0 of each\n"
    "  --threads N     rendering threads (default: OpenMP's choice)\n"
    "  --progress      show progress on stderr even when it is not a terminal\n"
    "  -h, --help      this text\n";

typedef struct opts {
    const char *png, *video, *sheet;
    int fps, crf, progress;
} opts;

/* render and emit in chunks so memory stays small while every thread has work */
#define CHUNK 64

typedef struct chunk {
    int vid[CHUNK], fr[CHUNK];
    uint8_t *buf[CHUNK];
    int n;
} chunk;

static void chunk_init(chunk *c, int size)
{
    for (int i = 0; i < CHUNK; i++) c->buf[i] = dfs_malloc((size_t)size * size * 3);
    c->n = 0;
}

/* Render the next up-to-CHUNK frames, counted over all videos from `done`, into c. */
static void chunk_render(chunk *c, const syn_spec *s, const syn_video *v, long done, long total)
{
    c->n = 0;
    for (long i = done; i < total && c->n < CHUNK; i++, c->n++) {
        c->vid[c->n] = (int)(i / s->frames);
        c->fr[c->n] = (int)(i % s->frames);
    }
    syn_frames(s, v, c->vid, c->fr, c->n, c->buf);
}

static void chunk_free(chunk *c)
{
    for (int i = 0; i < CHUNK; i++) free(c->buf[i]);
}

static void write_stream(const syn_spec *s, const syn_video *v, const opts *o)
{
    dfs_out out;
    if (dfs_out_open(&out, "-", 1, 0) != 0) dfs_die_error();
    dfs_record rec;
    dfs_record_init(&rec);
    uint64_t dims[3] = {(uint64_t)s->size, (uint64_t)s->size, 3};
    chunk c;
    chunk_init(&c, s->size);
    long total = (long)s->videos * s->frames, done = 0;
    dfs_progress pr;
    dfs_progress_start(&pr, stderr, "frames", (uint64_t)total, o->progress);
    while (done < total) {
        chunk_render(&c, s, v, done, total);
        for (int i = 0; i < c.n; i++) {
            if (dfs_record_shape(&rec, DFS_U8, 3, dims) != 0) dfs_die_error();
            memcpy(rec.data, c.buf[i], rec.nbytes);
            rec.label = v[c.vid[i]].label;
            if (syn_meta(s, &v[c.vid[i]], c.fr[i], &rec) != 0 || dfs_write_record(&out, &rec) != 0)
                dfs_die_error();
        }
        done += c.n;
        dfs_progress_update(&pr, (uint64_t)done);
    }
    dfs_progress_end(&pr);
    if (dfs_out_commit(&out) != 0) dfs_die_error();
    chunk_free(&c);
    dfs_record_free(&rec);
}

static void die_in_outdir(void);

static void mkdir_or_die(const char *dir)
{
    if (dfs_mkdir_p(dir) != 0) die_in_outdir();
}

/* manifest lines accumulate in memory and are written last, so a manifest names only files
 * that exist whole */
typedef struct text {
    char *p;
    size_t n, cap;
} text;

static void text_add(text *t, const char *fmt, ...) DFS_PRINTF(2, 3);
static void text_add(text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char line[512];
    int k = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= sizeof line) dfs_die("manifest line too long");
    if (t->n + (size_t)k + 1 > t->cap) {
        t->cap = (t->cap + (size_t)k + 1) * 2;
        t->p = dfs_realloc(t->p, t->cap);
    }
    memcpy(t->p + t->n, line, (size_t)k + 1);
    t->n += (size_t)k;
}

static void text_write(const text *t, const char *path)
{
    dfs_out out;
    if (dfs_out_open(&out, path, 0, 1) != 0 || dfs_out_write(&out, t->p, t->n) != 0 ||
        dfs_out_commit(&out) != 0)
        die_in_outdir();
}

static void write_png(const syn_spec *s, const syn_video *v, const opts *o, const char *dir)
{
    char path[4096];
    text man = {0};
    text_add(&man, "path\tlabel\tkey\n");
    for (int i = 0; i < s->videos; i++) {
        snprintf(path, sizeof path, "%s/%s/%s", dir, v[i].label ? "fake" : "real", v[i].name);
        mkdir_or_die(path);
    }
    chunk c;
    chunk_init(&c, s->size);
    dfs_image im = {s->size, s->size, 3, NULL};
    long total = (long)s->videos * s->frames, done = 0;
    dfs_progress pr;
    dfs_progress_start(&pr, stderr, "frames", (uint64_t)total, o->progress);
    while (done < total) {
        chunk_render(&c, s, v, done, total);
        for (int i = 0; i < c.n; i++) {
            const syn_video *vi = &v[c.vid[i]];
            char key[160], rel[256];
            syn_key(s, vi, c.fr[i], key, sizeof key);
            snprintf(rel, sizeof rel, "%s/%s/%s.png", vi->label ? "fake" : "real", vi->name, strrchr(key, '/') + 1);
            snprintf(path, sizeof path, "%s/%s", dir, rel);
            im.px = c.buf[i];
            if (dfs_png_write(path, &im) != 0) die_in_outdir();
            text_add(&man, "%s\t%d\t%s\n", rel, vi->label, key);
        }
        done += c.n;
        dfs_progress_update(&pr, (uint64_t)done);
    }
    dfs_progress_end(&pr);
    snprintf(path, sizeof path, "%s/manifest.tsv", dir);
    text_write(&man, path);
    free(man.p);
    chunk_free(&c);
}

static void write_video(const syn_spec *s, const syn_video *v, const opts *o, const char *dir)
{
    char path[4096];
    text lab = {0};
    text_add(&lab, "path\tlabel\tvideo\n");
    int n = s->frames;
    int *vid = dfs_malloc(sizeof(int) * (size_t)n), *fr = dfs_malloc(sizeof(int) * (size_t)n);
    uint8_t **buf = dfs_malloc(sizeof(uint8_t *) * (size_t)n);
    for (int f = 0; f < n; f++) buf[f] = dfs_calloc((size_t)s->size * s->size * 3 + SYN_MP4_PADDING, 1);
    dfs_progress pr;
    dfs_progress_start(&pr, stderr, "videos", (uint64_t)s->videos, o->progress);
    for (int i = 0; i < s->videos; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, v[i].label ? "fake" : "real");
        mkdir_or_die(path);
        for (int f = 0; f < n; f++) {
            vid[f] = i;
            fr[f] = f;
        }
        syn_frames(s, v, vid, fr, n, buf);
        char rel[256];
        snprintf(rel, sizeof rel, "%s/%s.mp4", v[i].label ? "fake" : "real", v[i].name);
        snprintf(path, sizeof path, "%s/%s", dir, rel);
        syn_mp4 *m = syn_mp4_open(path, s->size, s->size, o->fps, o->crf);
        if (!m) die_in_outdir();
        for (int f = 0; f < n; f++)
            if (syn_mp4_frame(m, buf[f]) != 0) {
                syn_mp4_abort(m);
                die_in_outdir();
            }
        if (syn_mp4_close(m) != 0) die_in_outdir();
        text_add(&lab, "%s\t%d\t%s/%s\n", rel, v[i].label, syn_role_name(s->role), v[i].name);
        dfs_progress_update(&pr, (uint64_t)i + 1);
    }
    dfs_progress_end(&pr);
    snprintf(path, sizeof path, "%s/labels.tsv", dir);
    text_write(&lab, path);
    free(lab.p);
    for (int f = 0; f < n; f++) free(buf[f]);
    free(buf);
    free(vid);
    free(fr);
}

static void write_sheet(const syn_spec *base, const opts *o)
{
    int pairs = base->videos / 2, cols = 2 * pairs, n = SYN_NROLES * cols;
    uint8_t **tiles = dfs_malloc(sizeof(uint8_t *) * (size_t)n);
    const char *labels[SYN_NROLES];
    for (int r = 0; r < SYN_NROLES; r++) {
        syn_spec s = *base;
        s.role = r;
        s.frames = 1;
        /* one pair per identity: step over the other recordings of the same person */
        int cpi = syn_pool_captures(syn_role_pool(r));
        s.videos = 2 * pairs * cpi;
        syn_video *v = dfs_malloc(sizeof *v * (size_t)s.videos);
        if (syn_plan(&s, v) != 0) dfs_die_error();
        int vid[2 * SYN_MAX_VIDEOS / 1000], fr[2 * SYN_MAX_VIDEOS / 1000];
        for (int c = 0; c < cols; c++) {
            vid[c] = (c / 2) * cpi * 2 + (c % 2);
            fr[c] = 0;
            tiles[r * cols + c] = dfs_malloc((size_t)s.size * s.size * 3);
        }
        syn_frames(&s, v, vid, fr, cols, tiles + r * cols);
        labels[r] = syn_role_name(r);
        free(v);
    }
    const char *col_labels[2 * SYN_MAX_VIDEOS / 1000];
    for (int c = 0; c < cols; c++) col_labels[c] = c % 2 ? "fake" : "real";
    dfs_montage m = {.rows = SYN_NROLES, .cols = cols, .tile = base->size, .group = 2, .row_labels = labels,
                     .col_labels = col_labels};
    if (dfs_montage_write(o->sheet, &m, (const uint8_t *const *)tiles) != 0) dfs_die_error();
    for (int i = 0; i < n; i++) free(tiles[i]);
    free(tiles);
}

/* refuse an output directory that exists as something else, before anything is written */
/* The output directory appears whole or not at all (dfs_outdir): every file is written under
 * DIR.tmp.PID, which dfs_die and fatal signals remove, and renamed to DIR at the end. Errors of
 * files inside name DIR, not the temporary. */
static dfs_outdir outdir;

static void die_in_outdir(void)
{
    dfs_outdir_error(&outdir);
    dfs_die_error();
}

int main(int argc, char **argv)
{
    dfs_tool_init(argv[0]);
    syn_spec s = {.role = -1, .split = SYN_TRAIN, .videos = 10, .frames = 8, .size = 256, .seed = 1};
    opts o = {.fps = 25, .crf = 23};
    int size_given = 0, videos_given = 0;
    long videos = s.videos, frames = s.frames, size = s.size, fps = o.fps, crf = o.crf, threads = 0;
    const char *role = NULL, *split = NULL, *seed = NULL;
    const dfs_opt opts[] = {
        DFS_OPT_HELP,
        DFS_OPT_STR_("--role", NULL, &role),
        DFS_OPT_STR_("--split", NULL, &split),
        {.name = "--videos", .kind = DFS_OPT_LONG, .dest = &videos, .lo = 2, .hi = SYN_MAX_VIDEOS, .count = &videos_given},
        DFS_OPT_LONG_("--frames", NULL, &frames, 1, SYN_MAX_FRAMES),
        {.name = "--size", .kind = DFS_OPT_LONG, .dest = &size, .lo = SYN_MIN_SIZE, .hi = SYN_MAX_SIZE, .count = &size_given},
        DFS_OPT_STR_("--seed", NULL, &seed),
        DFS_OPT_STR_("--png", NULL, &o.png),
        DFS_OPT_STR_("--video", NULL, &o.video),
        DFS_OPT_STR_("--sheet", NULL, &o.sheet),
        DFS_OPT_LONG_("--fps", NULL, &fps, 1, 120),
        DFS_OPT_LONG_("--crf", NULL, &crf, 0, 51),
        DFS_OPT_THREADS(&threads),
        DFS_OPT_PROGRESS(&o.progress),
        DFS_OPT_END_,
    };
    dfs_args args = {.missing_fmt = "%s: missing value"};
    dfs_args_done(dfs_args_parse(&args, opts, argc, argv), opts, HELP);
    if (args.pos.n) dfs_die("unknown option '%s' (see --help)", args.pos.v[0]);
    free(args.pos.v);
    s.videos = (int)videos;
    s.frames = (int)frames;
    s.size = (int)size;
    o.fps = (int)fps;
    o.crf = (int)crf;
    if (role && (s.role = syn_role_parse(role)) < 0)
        dfs_die("--role: unknown role '%s' (celeb, celeb-m, f2f, fs, nt, df, dfd, fs-i, nt-i)", role);
    if (split && (s.split = syn_split_parse(split)) < 0) dfs_die("--split: unknown split '%s' (train, val, test)", split);
    if (seed) {   /* the whole uint64 range: dfs_parse_long stops at INT64_MAX */
        char *end;
        errno = 0;
        unsigned long long v = strtoull(seed, &end, 10);
        if (!*seed || *end || errno || *seed == '-') dfs_die("--seed: '%s' is not a non-negative integer", seed);
        s.seed = v;
    }
    if ((o.png != NULL) + (o.video != NULL) + (o.sheet != NULL) > 1)
        dfs_die("--png, --video and --sheet are alternatives: give one");
    dfs_tool_threads(threads);
    if (o.sheet) {
        if (!size_given) s.size = 128;
        if (!videos_given) s.videos = 8;
        if (s.videos % 2 || s.videos > 32) dfs_die("--videos: %d is not an even number in [2, 32] for --sheet", s.videos);
        s.role = SYN_CELEB;
        if (syn_spec_check(&s) != 0) dfs_die_error();
        write_sheet(&s, &o);
        return 0;
    }
    if (s.role < 0) dfs_die("--role is required (see --help)");
    if (syn_spec_check(&s) != 0) dfs_die_error();
    if (o.video) {
        s.wide = 1;
        if (s.size % 2) dfs_die("--size: %d is odd; H.264 video needs an even size", s.size);
        if (!syn_mp4_available()) dfs_die("--video: this FFmpeg has no H.264 encoder (libx264); install one");
    }
    syn_video *v = dfs_malloc(sizeof *v * (size_t)s.videos);
    if (syn_plan(&s, v) != 0) dfs_die_error();
    if (o.png || o.video) {
        const char *dir = o.png ? o.png : o.video;
        if (!*dir) dfs_die("%s: empty directory name", o.png ? "--png" : "--video");
        if (dfs_outdir_open(&outdir, dir) != 0) dfs_die_error();
        if (o.png) write_png(&s, v, &o, outdir.tmp);
        else write_video(&s, v, &o, outdir.tmp);
        if (dfs_outdir_commit(&outdir) != 0) dfs_die_error();
    } else {
        write_stream(&s, v, &o);
    }
    free(v);
    return 0;
}
