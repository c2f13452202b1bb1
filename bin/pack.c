/* pack: PNG files or manifests -> tensor stream, stream -> PNGs, listing, and the study's sampling
 * (take, balance, shuffle, split by video). The rules live in lib/study/dataset.c; this file wires
 * arguments, inputs and outputs. */
#include "core/args.h"
#include "study/dataset.h"
#include "media/image.h"
#include "core/stream.h"
#include "tool/tool.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "usage: pack [options] FILE.png...           PNG files -> stream (needs --label)\n"
    "       pack [options] --manifest M.tsv      PNGs listed in a manifest -> stream\n"
    "       pack [options] [IN.dft...]           stream -> stream (stdin when no file is given)\n"
    "       pack --unpack DIR [options] [IN...]  -> DIR/KEY.png for each image, plus DIR/manifest.tsv\n"
    "       pack --list [IN.dft...]              one line per record: index key label dtype shape\n"
    "\n"
    "Inputs\n"
    "  FILE.png...        PNG files (any colour type and bit depth; converted to 8-bit RGB, alpha\n"
    "                     dropped). Inputs are told apart by content: PNG files and tensor streams\n"
    "                     cannot be mixed in one run. An empty file is a valid, empty stream.\n"
    "                     An input that is a FIFO or process substitution is copied once to\n"
    "                     $TMPDIR (else /tmp) so it can be told apart and then read.\n"
    "  --manifest M.tsv   TSV of path, label[, key[, dataset]] (formats/manifest-tsv.md); paths are\n"
    "                     relative to the manifest's directory. Repeatable; may be combined with\n"
    "                     PNG files.\n"
    "  --label L          label of the PNG files given as arguments: real, fake or unknown (0, 1, -1)\n"
    "  --dataset NAME     dataset= of records made from PNGs (a manifest's dataset column wins);\n"
    "                     default \"unknown\"\n"
    "  --root DIR         derive keys from paths relative to DIR (the files must lie under it)\n"
    "  --key-prefix P     prepend \"P/\" to keys derived from paths\n"
    "                     Key rule: the path (relative to --root), without \"./\" and without the\n"
    "                     extension: `pack --root data --key-prefix fs data/000_003/f05.png` gives\n"
    "                     key fs/000_003/f05. Absolute paths and '..' need --root or manifest keys.\n"
    "  --size N           resize every image to NxN: area averaging when shrinking (OpenCV's\n"
    "                     INTER_AREA), bilinear with half-pixel centres when enlarging (INTER_LINEAR);\n"
    "                     also applies to image records read from streams\n"
    "  --drop-keys FILE   stream input: leave out the records whose key is a line of FILE (before\n"
    "                     any sampling); the study drops test frames seen in training this way\n"
    "  --relabel M.tsv    stream input: set each record's label (and dataset=, when that column is\n"
    "                     there) from the line of its video in a video manifest with a header\n"
    "                     naming video, label[, dataset] (formats/video-manifest.md; other columns\n"
    "                     are ignored). The video of a record is its key without the last '/'\n"
    "                     component; a record whose video is not listed is an error\n"
    "\n"
    "Sampling (applied in this order; deterministic for a given --seed)\n"
    "  --shuffle          random permutation of the records\n"
    "  --balance          keep the first k real and first k fake records, k = min(#real, #fake);\n"
    "                     every record must be labelled real or fake\n"
    "  --take N           keep the first N records (with --balance: at most N/2 of each label)\n"
    "  --split F          two outputs: a fraction F of each label's records goes to the first -o,\n"
    "                     the rest to the second; whole videos are assigned in a seeded random order\n"
    "  --by video|record  the unit of --split (default video). The video of a record is its key\n"
    "                     without the last '/' component: fs/000_003/f05 -> fs/000_003, so no\n"
    "                     video's frames land on both sides; a key without '/' names no video\n"
    "                     and is an error here (--by record splits it)\n"
    "  --seed S           seed for --shuffle and --split (default 0)\n"
    "  --keep L           last: write only the records labelled L (real, fake or unknown); the\n"
    "                     steps above see every label (--balance --take 20 --keep fake: the 10\n"
    "                     fakes of a balanced 20)\n"
    "  Memory: --shuffle, --balance and --split read the whole input stream into memory (PNG\n"
    "  inputs are sampled by name first and decoded one at a time); everything else streams.\n"
    "\n"
    "Outputs\n"
    "  -o, --output FILE  output stream (default stdout; give -o twice with --split). Files appear\n"
    "                     whole or not at all; on stdout a failure leaves the records already\n"
    "                     written and a non-zero exit.\n"
    "  --unpack DIR       write DIR/KEY.png per u8 HxWx3 record (key a/b/f01 -> DIR/a/b/f01.png) and\n"
    "                     DIR/manifest.tsv (path, label, key, dataset), so `pack --manifest\n"
    "                     DIR/manifest.tsv` re-packs it pixel-exactly. DIR must be new or empty and\n"
    "                     appears whole or not at all. Other metadata than key and dataset is not kept.\n"
    "  --list             one line per record on stdout (or -o FILE), tab-separated: index (from 0\n"
    "                     across all inputs), key (else name=VALUE, else -), label (real, fake,\n"
    "                     unknown), dtype, shape (HxWxC, or scalar); reads payloads past, never\n"
    "                     holding more than one record's metadata\n"
    "  --meta KEY         with --list: one more column per --meta (up to 8), the record's KEY=\n"
    "                     metadata value, or - when it has none\n"
    "  --progress         show progress on stderr even when it is not a terminal\n"
    "  -h, --help         this help\n"
    "\n"
    "Examples\n"
    "  pack --label real --dataset celeb --root frames frames/*/*.png -o real.dft\n"
    "  synth ... | pack --shuffle --seed 1 > shuffled.dft\n"
    "  pack --balance --split 0.8 --by video --seed 3 all.dft -o train.dft -o val.dft\n";

typedef struct opts {
    const char *manifests[64];
    int nmanifests;
    const char *outs[2];
    int nouts;
    const char *unpack, *dataset, *root, *prefix, *relabel_path, *drop_path;
    const char *meta[8];
    int nmeta;
    dfs_strmap drop;
    dfs_relabel relabel;
    int label, have_label, list, size, progress, by_set;
    int keep, keep_set;   /* --keep: the one label written */
    dfs_sample_opts s;
    char **inputs;
    int ninputs;
} opts;

/* Inputs that are not regular files (a pipe, a FIFO, process substitution) are sniffed, then
 * read: each is copied once (dfs_spool_open); errors name the path given, not the copy. */
static dfs_spool *spools;
static int nspools;

static void die_named(void)
{
    for (int i = 0; i < nspools; i++) dfs_spool_error(&spools[i]);
    dfs_die_error();
}

/* ---- sinks: one or two streams, or a PNG directory ---- */
typedef struct sink {
    dfs_out out[2];
    int nout;
    dfs_pngdir dir;
    int is_dir;
    uint64_t written;
} sink;

static void sink_open(sink *k, const opts *o)
{
    memset(k, 0, sizeof *k);
    if (o->unpack) {
        k->is_dir = 1;
        if (dfs_pngdir_open(&k->dir, o->unpack) != 0) dfs_die_error();
        return;
    }
    k->nout = o->s.split >= 0 ? 2 : 1;
    for (int i = 0; i < k->nout; i++)
        if (dfs_out_open(&k->out[i], o->nouts > i ? o->outs[i] : "-", 1, 0) != 0) dfs_die_error();
}

static void sink_put(sink *k, int part, const dfs_record *r, const char *where)
{
    int rv = k->is_dir ? dfs_pngdir_add(&k->dir, r, where) : dfs_write_record(&k->out[part], r);
    if (rv != 0) {
        if (k->is_dir) dfs_pngdir_abort(&k->dir);
        die_named();
    }
    k->written++;
}

static void sink_commit(sink *k)
{
    if (k->is_dir) {
        if (dfs_pngdir_commit(&k->dir) != 0) dfs_die_error();
        return;
    }
    for (int i = 0; i < k->nout; i++)
        if (dfs_out_commit(&k->out[i]) != 0) dfs_die_error();
}

static void sink_fail(sink *k)
{
    if (k->is_dir) dfs_pngdir_abort(&k->dir);
    die_named();
}

/* A stream is binary: waiting for one to be typed on a terminal helps nobody. */
static void check_stdin(char **inputs, int n)
{
    for (int i = 0; i < n; i++)
        if (strcmp(inputs[i], "-") == 0 && isatty(STDIN_FILENO))
            dfs_die("<stdin>: refusing to read a stream from a terminal (give a file, or redirect stdin; see pack --help)");
}

/* An empty result from --balance is legal but almost always a mistake in the inputs. */
static void warn_if_unbalanced(const opts *o, size_t n, size_t kept)
{
    if (o->s.balance && n > 0 && kept == 0 && o->s.take != 0)
        dfs_warn("--balance: the input holds no real or no fake records, so nothing is kept");
}

/* ---- input kinds ---- */
static int is_png_file(const char *path)
{
    int r = dfs_png_sniff(path);
    if (r < 0) dfs_die_error();
    return r;
}

/* --keep: whether a record of this label is written (after sampling) */
static int kept(const opts *o, int label) { return !o->keep_set || label == o->keep; }

/* ---- PNG inputs: sample by name, then decode one at a time ---- */
typedef struct png_item {
    char *path, *key, *where;
    const char *dataset;
    int label;
} png_item;

static void run_png(const opts *o, sink *k)
{
    png_item *items = NULL;
    size_t n = 0, cap = 0;
    dfs_manifest *ms = dfs_calloc((size_t)o->nmanifests + 1, sizeof *ms);
    dfs_strmap keys;
    dfs_strmap_init(&keys);
#define GROW() do { if (n == cap) items = dfs_realloc(items, (cap = cap ? 2 * cap : 64) * sizeof *items); } while (0)
    for (int i = 0; i < o->ninputs; i++) {
        const char *p = o->inputs[i];
        if (!is_png_file(spools[i].path))
            dfs_die("%s: not a PNG file (PNG files and tensor streams cannot be mixed in one run)", p);
        if (!o->have_label) dfs_die("%s: PNG input needs --label real|fake|unknown", p);
        char *key;
        if (dfs_key_from_path(p, o->root, o->prefix, &key) != 0) dfs_die("%s: %s", p, dfs_error());
        GROW();
        items[n++] = (png_item){dfs_strdup(spools[i].path), key, NULL, o->dataset, o->label};
    }
    for (int m = 0; m < o->nmanifests; m++) {
        if (dfs_manifest_read(o->manifests[m], o->prefix, &ms[m]) != 0) dfs_die_error();
        for (size_t j = 0; j < ms[m].n; j++) {
            dfs_manifest_entry *e = &ms[m].v[j];
            size_t wl = strlen(ms[m].name) + 32;
            char *where = dfs_malloc(wl);
            snprintf(where, wl, "%s: line %ld", ms[m].name, e->line);
            GROW();
            items[n++] = (png_item){dfs_strdup(e->path), dfs_strdup(e->key), where,
                                    e->dataset ? e->dataset : o->dataset, e->label};
        }
    }
#undef GROW
    /* a key names one sample: two PNGs under one key would collide when unpacked */
    for (size_t i = 0; i < n; i++) {
        int dup;
        size_t first = dfs_strmap_put(&keys, items[i].key, i, &dup);
        if (dup)
            dfs_die("%s: key '%s' is also the key of %s", items[i].where ? items[i].where : items[i].path,
                    items[i].key, items[first].path);
    }
    dfs_strmap_free(&keys);
    dfs_sample_item *si = dfs_malloc((n ? n : 1) * sizeof *si);
    for (size_t i = 0; i < n; i++) si[i] = (dfs_sample_item){items[i].key, items[i].label};
    size_t *part[2], cnt[2], bad;
    if (dfs_sample(si, n, &o->s, &part[0], &cnt[0], &part[1], &cnt[1], &bad) != 0)
        dfs_die("%s: %s", items[bad].where ? items[bad].where : items[bad].path, dfs_error());
    free(si);
    warn_if_unbalanced(o, n, cnt[0] + cnt[1]);
    sink_open(k, o);
    dfs_progress prog;
    dfs_progress_start(&prog, stderr, "images", cnt[0] + cnt[1], o->progress);
    dfs_record rec;
    dfs_record_init(&rec);
    for (int p = 0; p < 2; p++)
        for (size_t j = 0; j < cnt[p]; j++) {
            png_item *it = &items[part[p][j]];
            if (!kept(o, it->label)) continue;
            if (dfs_png_to_record(it->path, o->size, it->label, it->key, it->dataset, &rec) != 0) {
                if (it->where) dfs_fail_prefix(it->where);
                sink_fail(k);
            }
            sink_put(k, p, &rec, it->where ? it->where : it->path);
            dfs_progress_update(&prog, k->written);
        }
    dfs_progress_end(&prog);
    sink_commit(k);
    dfs_record_free(&rec);
    for (size_t i = 0; i < n; i++) {
        free(items[i].path);
        free(items[i].key);
        free(items[i].where);
    }
    free(items);
    free(part[0]);
    free(part[1]);
    for (int m = 0; m < o->nmanifests; m++) dfs_manifest_free(&ms[m]);
    free(ms);
}

/* ---- stream inputs ---- */
static void where_of(char *buf, size_t n, const char *file, uint64_t index)
{
    snprintf(buf, n, "%s: record %llu", file, (unsigned long long)index);
}

static void prepare(const opts *o, sink *k, dfs_record *r, const char *file, uint64_t index)
{
    if ((o->relabel_path && dfs_relabel_apply(&o->relabel, r) != 0) ||
        (o->size > 0 && dfs_record_resize(r, o->size) != 0)) {
        char where[512];
        where_of(where, sizeof where, file, index);
        dfs_fail_prefix(where);
        sink_fail(k);
    }
}

/* --drop-keys: the record's key is listed */
static int dropped(const opts *o, const dfs_record *r)
{
    char *key = dfs_meta_dup(r, "key");
    size_t v;
    int hit = key && dfs_strmap_get(&o->drop, key, &v);
    free(key);
    return hit;
}

static void run_stream(const opts *o, sink *k)
{
    static char *stdin_name[] = {"-"};
    char **inputs = o->ninputs ? o->inputs : stdin_name;
    int ninputs = o->ninputs ? o->ninputs : 1;
    check_stdin(inputs, ninputs);
    int in_memory = o->s.shuffle || o->s.balance || o->s.split >= 0;
    dfs_record_list all = {0};
    typedef struct origin { int input; uint64_t index; } origin;
    origin *from = NULL;
    dfs_progress prog;
    dfs_progress_start(&prog, stderr, "records", 0, o->progress);
    if (!in_memory) sink_open(k, o);
    dfs_record rec;
    dfs_record_init(&rec);
    uint64_t seen = 0, taken = 0;   /* taken: records past --take's count (kept or not) */
    for (int i = 0; i < ninputs; i++) {
        dfs_reader rd;
        if (dfs_reader_open(&rd, o->ninputs ? spools[i].path : "-") != 0) sink_fail(k);
        if (o->ninputs && spools[i].fd >= 0) {
            free(rd.name);
            rd.name = dfs_strdup(inputs[i]);
        }
        for (;;) {
            if (!in_memory && o->s.take >= 0 && taken >= (uint64_t)o->s.take) break;
            dfs_record *r = &rec;
            if (in_memory) {
                if (all.n == all.cap) {
                    all.cap = all.cap ? 2 * all.cap : 64;
                    all.v = dfs_realloc(all.v, all.cap * sizeof *all.v);
                    from = dfs_realloc(from, all.cap * sizeof *from);
                }
                r = &all.v[all.n];
                dfs_record_init(r);
            }
            uint64_t index = rd.index;
            int got = dfs_reader_next(&rd, r);
            if (got < 0) sink_fail(k);
            if (got == 0) {
                if (in_memory) dfs_record_free(r);
                break;
            }
            if (o->drop_path && dropped(o, r)) {
                if (in_memory) dfs_record_free(r);
                continue;
            }
            prepare(o, k, r, rd.name, index);
            if (in_memory) {
                from[all.n++] = (origin){i, index};
            } else if (kept(o, r->label)) {
                char where[512];
                where_of(where, sizeof where, rd.name, index);
                sink_put(k, 0, r, where);
            }
            if (!in_memory) taken++;
            dfs_progress_update(&prog, ++seen);
        }
        dfs_reader_close(&rd);
    }
    dfs_record_free(&rec);
    if (in_memory) {
        dfs_sample_item *si = dfs_malloc((all.n ? all.n : 1) * sizeof *si);
        char **keys = dfs_malloc((all.n ? all.n : 1) * sizeof *keys);
        for (size_t i = 0; i < all.n; i++) {
            keys[i] = dfs_meta_dup(&all.v[i], "key");
            si[i] = (dfs_sample_item){keys[i], all.v[i].label};
        }
        size_t *part[2], cnt[2], bad;
        if (dfs_sample(si, all.n, &o->s, &part[0], &cnt[0], &part[1], &cnt[1], &bad) != 0) {
            /* the library counts samples across inputs; name the file and record instead */
            const char *in = inputs[from[bad].input];
            dfs_die("%s: record %llu: %s", strcmp(in, "-") ? in : "<stdin>", (unsigned long long)from[bad].index,
                    dfs_error());
        }
        warn_if_unbalanced(o, all.n, cnt[0] + cnt[1]);
        sink_open(k, o);
        for (int p = 0; p < 2; p++)
            for (size_t j = 0; j < cnt[p]; j++) {
                size_t i = part[p][j];
                if (!kept(o, all.v[i].label)) continue;
                char where[512];
                const char *in = inputs[from[i].input];
                where_of(where, sizeof where, strcmp(in, "-") == 0 ? "<stdin>" : in, from[i].index);
                sink_put(k, p, &all.v[i], where);
            }
        for (size_t i = 0; i < all.n; i++) free(keys[i]);
        free(keys);
        free(si);
        free(part[0]);
        free(part[1]);
        dfs_record_list_free(&all);
        free(from);
    }
    dfs_progress_end(&prog);
    sink_commit(k);
}

/* ---- listing ---- */
static void run_list(const opts *o)
{
    static char *stdin_name[] = {"-"};
    char **inputs = o->ninputs ? o->inputs : stdin_name;
    int ninputs = o->ninputs ? o->ninputs : 1;
    check_stdin(inputs, ninputs);
    dfs_out out;
    if (dfs_out_open(&out, o->nouts ? o->outs[0] : "-", 0, 1) != 0) dfs_die_error();
    dfs_record rec;
    dfs_record_init(&rec);
    uint64_t index = 0;
    for (int i = 0; i < ninputs; i++) {
        dfs_reader rd;
        if (dfs_reader_open(&rd, inputs[i]) != 0) dfs_die_error();
        rd.skip_payload = 1;
        int got;
        while ((got = dfs_reader_next(&rd, &rec)) == 1) {
            char shape[256];
            size_t kl;
            const char *key = dfs_meta_find(&rec, "key", &kl);
            const char *pre = "";
            if (!key && (key = dfs_meta_find(&rec, "name", &kl))) pre = "name=";
            if (!key) { key = "-"; kl = 1; }
            int bad = fprintf(out.f, "%llu\t%s%.*s\t%s\t%s\t%s", (unsigned long long)index++, pre, (int)kl, key,
                              dfs_label_name(rec.label), dfs_dtype_name(rec.dtype),
                              dfs_shape_str(&rec, shape, sizeof shape)) < 0;
            for (int m = 0; m < o->nmeta && !bad; m++) {
                size_t vl;
                const char *v = dfs_meta_find(&rec, o->meta[m], &vl);
                bad = v ? fprintf(out.f, "\t%.*s", (int)vl, v) < 0 : fputs("\t-", out.f) < 0;
            }
            if (bad || fputc('\n', out.f) == EOF)
                dfs_die("%s: write failed: %s", dfs_out_name(&out), strerror(errno));
        }
        if (got < 0) dfs_die_error();
        dfs_reader_close(&rd);
    }
    dfs_record_free(&rec);
    if (dfs_out_commit(&out) != 0) dfs_die_error();
}

int main(int argc, char **argv)
{
    dfs_tool_init(argv[0]);
    opts o;
    memset(&o, 0, sizeof o);
    o.dataset = "unknown";
    o.label = DFS_LABEL_UNKNOWN;
    o.s.split = -1;
    o.s.by_video = 1;
    long size = 0, take = -1, seed = 0;
    const char *label = NULL, *by = NULL, *keep = NULL;
    int n_dataset = 0, n_relabel = 0, n_drop = 0, n_keep = 0;
    dfs_arglist manifests = {0}, meta = {0}, outs = {0};
    const dfs_opt opts[] = {
        DFS_OPT_HELP,
        DFS_OPT_STR_("--label", NULL, &label),
        {.name = "--dataset", .kind = DFS_OPT_STR, .dest = &o.dataset, .count = &n_dataset},
        DFS_OPT_STR_("--root", NULL, &o.root),
        DFS_OPT_STR_("--key-prefix", NULL, &o.prefix),
        DFS_OPT_LIST_("--manifest", NULL, &manifests),
        DFS_OPT_LONG_("--size", NULL, &size, 1, 32768),
        DFS_OPT_STR_("--unpack", NULL, &o.unpack),
        {.name = "--relabel", .kind = DFS_OPT_STR, .dest = &o.relabel_path, .count = &n_relabel},
        DFS_OPT_FLAG_("--list", NULL, &o.list),
        DFS_OPT_LIST_("--meta", NULL, &meta),
        {.name = "--drop-keys", .kind = DFS_OPT_STR, .dest = &o.drop_path, .count = &n_drop},
        DFS_OPT_LONG_("--take", NULL, &take, 0, LONG_MAX),
        DFS_OPT_FLAG_("--balance", NULL, &o.s.balance),
        DFS_OPT_FLAG_("--shuffle", NULL, &o.s.shuffle),
        DFS_OPT_LONG_("--seed", NULL, &seed, 0, LONG_MAX),
        DFS_OPT_DOUBLE_("--split", NULL, &o.s.split, 0, 1),
        DFS_OPT_STR_("--by", NULL, &by),
        DFS_OPT_LIST_("-o", "--output", &outs),
        {.name = "--keep", .kind = DFS_OPT_STR, .dest = &keep, .count = &n_keep},
        DFS_OPT_PROGRESS(&o.progress),
        DFS_OPT_END_,
    };
    dfs_args args = {.unknown_fmt = "unknown option '%s' (see pack --help)"};
    dfs_args_done(dfs_args_parse(&args, opts, argc, argv), opts, usage);
    o.inputs = (char **)args.pos.v;   /* argv's strings */
    o.ninputs = args.pos.n;
    o.size = (int)size;
    o.s.take = take;
    o.s.seed = (uint64_t)seed;
    if (label) {
        if (dfs_label_parse(label, &o.label) != 0) dfs_die("--label: %s", dfs_error());
        o.have_label = 1;
    }
    if (n_dataset && !*o.dataset) dfs_die("--dataset: empty name");
    if (o.prefix && dfs_key_check(o.prefix) != 0) dfs_die("--key-prefix: %s", dfs_error());
    if (manifests.n > (int)(sizeof o.manifests / sizeof o.manifests[0])) dfs_die("--manifest: too many manifests");
    for (int i = 0; i < manifests.n; i++) o.manifests[o.nmanifests++] = manifests.v[i];
    if (n_relabel > 1) dfs_die("--relabel: given twice");
    if (meta.n > 8) dfs_die("--meta: at most 8");
    for (int i = 0; i < meta.n; i++) o.meta[o.nmeta++] = meta.v[i];
    if (n_drop > 1) dfs_die("--drop-keys: given twice");
    if (by) {
        if (strcmp(by, "video") == 0) o.s.by_video = 1;
        else if (strcmp(by, "record") == 0) o.s.by_video = 0;
        else dfs_die("--by: '%s' is not video or record", by);
        o.by_set = 1;
    }
    if (outs.n > 2) dfs_die("-o: at most two outputs (the two parts of --split)");
    for (int i = 0; i < outs.n; i++) o.outs[o.nouts++] = outs.v[i];
    if (n_keep > 1) dfs_die("--keep: given twice");
    if (keep) {
        if (dfs_label_parse(keep, &o.keep) != 0) dfs_die("--keep: %s", dfs_error());
        o.keep_set = 1;
    }
    free(manifests.v);
    free(meta.v);
    free(outs.v);
    int sampling = o.s.shuffle || o.s.balance || o.s.take >= 0 || o.s.split >= 0;
    if (o.list && (o.unpack || sampling || o.nmanifests || o.size || o.nouts > 1 || o.relabel_path || o.drop_path ||
                   o.keep_set))
        dfs_die("--list takes only input streams (and -o FILE)");
    if (o.nmeta && !o.list) dfs_die("--meta goes with --list");
    if (o.unpack && o.nouts) dfs_die("--unpack writes a directory; -o does not apply");
    if (o.unpack && o.s.split >= 0) dfs_die("--split writes two streams; it cannot be combined with --unpack");
    if (o.by_set && o.s.split < 0) dfs_die("--by needs --split");
    if (o.s.split >= 0 && o.nouts != 2) dfs_die("--split needs two outputs: -o A -o B");
    if (o.s.split < 0 && o.nouts > 1) dfs_die("two outputs only with --split");
    if (o.nouts == 2 && strcmp(o.outs[0], "-") == 0 && strcmp(o.outs[1], "-") == 0)
        dfs_die("-o: only one output can be stdout");
    {
        const char **ins = dfs_malloc(((size_t)o.ninputs + (size_t)o.nmanifests + 1) * sizeof *ins);
        size_t nins = 0;
        for (int i = 0; i < o.ninputs; i++) ins[nins++] = o.inputs[i];
        for (int i = 0; i < o.nmanifests; i++) ins[nins++] = o.manifests[i];
        ins[nins++] = o.relabel_path;
        const char *outs[] = {o.nouts > 0 ? o.outs[0] : NULL, o.nouts > 1 ? o.outs[1] : NULL, o.unpack};
        if (dfs_paths_distinct(outs, 3, ins, nins) != 0) dfs_die_error();
        free(ins);
    }
    if (o.list) {
        run_list(&o);
        free(o.inputs);
        return 0;
    }
    spools = dfs_calloc((size_t)o.ninputs + 1, sizeof *spools);
    for (int i = 0; i < o.ninputs; i++) {
        if (strcmp(o.inputs[i], "-") == 0) {
            spools[i] = (dfs_spool){.path = "-", .name = "-", .fd = -1};
        } else if (dfs_spool_open(&spools[i], o.inputs[i]) != 0) {
            dfs_die_error();
        }
        nspools = i + 1;
    }
    int png = o.nmanifests > 0;
    for (int i = 0; !png && i < o.ninputs; i++) png = strcmp(o.inputs[i], "-") != 0 && is_png_file(spools[i].path);
    sink k;
    memset(&k, 0, sizeof k);
    if (png) {
        if (o.relabel_path) dfs_die("--relabel applies to stream input only (a PNG manifest carries its own labels)");
        if (o.drop_path) dfs_die("--drop-keys applies to stream input only");
        run_png(&o, &k);
    } else {
        if (o.have_label || o.root || o.prefix || strcmp(o.dataset, "unknown") != 0) {
            for (int i = 0; i < o.ninputs; i++)
                if (strcmp(o.inputs[i], "-") != 0)   /* the first input, which is not a PNG */
                    dfs_die("%s: not a PNG file (--label, --dataset, --root and --key-prefix apply to PNG input only)",
                            o.inputs[i]);
            dfs_die("--label, --dataset, --root and --key-prefix apply to PNG input only");
        }
        if (o.relabel_path && dfs_relabel_read(o.relabel_path, &o.relabel) != 0) dfs_die_error();
        if (o.drop_path && dfs_keylist_read(o.drop_path, &o.drop) != 0) dfs_die_error();
        run_stream(&o, &k);
        if (o.drop_path) dfs_strmap_free(&o.drop);
        if (o.relabel_path) dfs_relabel_free(&o.relabel);
    }
    for (int i = 0; i < nspools; i++) dfs_spool_close(&spools[i]);
    free(spools);
    free(o.inputs);
    return 0;
}
