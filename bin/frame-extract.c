/* frame-extract: chosen frames of videos (or still images) as a stream of u8 RGB records. */
#include "core/args.h"
#include "core/common.h"
#include "tool/tool.h"
#include "media/image.h"
#include "core/stream.h"
#include "media/video.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
    "usage: frame-extract [options] VIDEO... > frames.dft\n"
    "\n"
    "Decode N frames evenly spaced over each video (frame numbers floor(linspace(0, F-1, N)), F\n"
    "the video's frame count), or every K-th frame, and write them as u8 (H, W, 3) RGB records.\n"
    "Each target is reached by seeking to the keyframe before it and decoding forward; the frames\n"
    "are the same as a full sequential decode gives (--sequential, for verification).\n"
    "Still images FFmpeg can read (PNG, JPEG) are one-frame videos. A video is opened twice and\n"
    "seeked, so it must be a file: a pipe or FIFO is refused (one line, no waiting).\n"
    "\n"
    "Record metadata: key=<dataset>/<video stem>/f<i> (i = 0-based rank among the video's\n"
    "extracted frames, at least two digits), dataset=, frame= (0-based frame number in the\n"
    "video), time= (seconds after the first frame). Labels are -1 (unknown).\n"
    "\n"
    "A video that cannot be opened or decoded is reported as 'frame-extract: FILE: reason' and\n"
    "skipped; the frames of all other videos are written, a summary line counts the failures\n"
    "(when more than one video was given), and the exit status is 2. When no video could be\n"
    "read there is no output file. Other errors exit 1.\n"
    "\n"
    "options:\n"
    "  -n, --frames N     frames per video (default 10); with --every, at most N (when given)\n"
    "      --every K      every K-th frame (0, K, 2K, ...) instead of N evenly spaced frames\n"
    "      --dataset NAME key prefix and dataset= value (default: video)\n"
    "  -o, --output FILE  write to FILE atomically instead of stdout\n"
    "  -j, --jobs N       decode N videos in parallel (default 1); output order stays the\n"
    "                     order of the arguments\n"
    "      --sequential   decode every frame instead of seeking (slow; for verification)\n"
    "      --progress     show progress on stderr even when it is not a terminal\n"
    "  -v, --verbose      let FFmpeg print its warnings; print the summary line always\n"
    "  -h, --help         this help\n"
    "\n"
    "Parallel with GNU parallel instead of --jobs (-k keeps the argument order; streams\n"
    "concatenate, so the outputs can simply be joined):\n"
    "  parallel -k -j2 frame-extract --dataset celeb {} ::: Celeb-real/*.mp4 > frames.dft\n";

/* Key component from a path: the file name without directory and extension. */
static char *video_stem(const char *path)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    char *s = dfs_strdup(b);
    char *dot = strrchr(s, '.');
    if (dot && dot != s) *dot = 0;
    return s;
}

int main(int argc, char **argv)
{
    dfs_tool_init(argv[0]);
    dfs_extract_opts eo = {.count = 10, .every = 0, .sequential = 0, .threads = 0};
    const char *dataset = "video", *output = "-";
    long jobs = 1;
    int progress = 0, verbose = 0, count_given = 0;
    const dfs_opt opts[] = {
        DFS_OPT_HELP,
        {.name = "-n", .alias = "--frames", .kind = DFS_OPT_LONG, .dest = &eo.count, .lo = 1, .hi = 1000000,
         .count = &count_given},
        DFS_OPT_LONG_("--every", NULL, &eo.every, 1, 1000000000),
        DFS_OPT_STR_("--dataset", NULL, &dataset),
        DFS_OPT_STR_("-o", "--output", &output),
        DFS_OPT_LONG_("-j", "--jobs", &jobs, 1, 256),
        DFS_OPT_FLAG_("--sequential", NULL, &eo.sequential),
        DFS_OPT_PROGRESS(&progress),
        DFS_OPT_FLAG_("-v", "--verbose", &verbose),
        DFS_OPT_END_,
    };
    dfs_args args = {.unknown_fmt = "%s: unknown option (see --help)", .missing_fmt = "%s: missing argument (see --help)"};
    dfs_args_done(dfs_args_parse(&args, opts, argc, argv), opts, help);
    int nfiles = args.pos.n;
    const char **files = args.pos.v;
    if (eo.every > 0 && !count_given) eo.count = 0;
    if (!nfiles) dfs_die("no video given (see --help)");
    if (!dataset[0] || strchr(dataset, '\n') || strchr(dataset, '/'))
        dfs_die("--dataset: '%s' must be non-empty, without '/' or newline", dataset);
    for (int i = 0; i < nfiles; i++)
        if (strchr(files[i], '\n')) dfs_die("a file name with a newline cannot become a key");
    const char *outs[] = {output};
    if (dfs_paths_distinct(outs, 1, files, (size_t)nfiles) != 0) dfs_die_error();
    dfs_video_log(verbose);
    /* with several videos in flight, one decoder thread each keeps the cores busy already */
    eo.threads = jobs > 1 ? 1 : 0;

    dfs_out out;
    if (dfs_out_open(&out, output, 1, 0) != 0) dfs_die_error();
    int nvid = nfiles;
    long failed = 0, written = 0;
    dfs_progress prog;
    dfs_progress_start(&prog, stderr, "videos", (uint64_t)nvid, progress);
    int write_failed = 0;

#pragma omp parallel for schedule(dynamic, 1) ordered num_threads(jobs)
    for (int i = 0; i < nvid; i++) {
        const char *path = files[i];
        dfs_frame_list fl = {0};
        int rc = dfs_video_extract(path, &eo, &fl);
        char err[1024];
        if (rc != 0) snprintf(err, sizeof err, "%s", dfs_error());
        /* writes happen in argument order, whichever thread finished first */
#pragma omp ordered
        {
            if (rc != 0) {
                dfs_warn("%s", err);
                failed++;
            } else if (!write_failed) {
                char *stem = video_stem(path);
                dfs_record r;
                dfs_record_init(&r);
                for (size_t k = 0; k < fl.n && !write_failed; k++) {
                    char key[4096], num[64];
                    if (dfs_image_to_record(&fl.v[k].im, &r) != 0) { write_failed = 1; break; }
                    snprintf(key, sizeof key, "%s/%s/f%02zu", dataset, stem, k);
                    dfs_meta_set(&r, "key", key);
                    dfs_meta_set(&r, "dataset", dataset);
                    snprintf(num, sizeof num, "%lld", (long long)fl.v[k].number);
                    dfs_meta_set(&r, "frame", num);
                    snprintf(num, sizeof num, "%.6f", fl.v[k].time);
                    dfs_meta_set(&r, "time", num);
                    if (dfs_write_record(&out, &r) != 0) write_failed = 1;
                    else written++;
                }
                dfs_record_free(&r);
                free(stem);
                if (write_failed) snprintf(err, sizeof err, "%s", dfs_error());
            }
            if (write_failed == 1) {
                dfs_warn("%s", err);
                write_failed = 2;
            }
            dfs_progress_update(&prog, (uint64_t)i + 1);
        }
        dfs_frame_list_free(&fl);
    }
    dfs_progress_end(&prog);
    if (write_failed) {
        dfs_out_abort(&out);
        exit(1);
    }
    /* Nothing extracted at all: no output file (an empty stream would look like a result). */
    if (failed == nvid) dfs_out_abort(&out);
    else if (dfs_out_commit(&out) != 0) dfs_die_error();
    /* With one video its error line says everything; the count is for many. */
    if ((failed && nvid > 1) || verbose)
        fprintf(stderr, "%s: %d videos: %d extracted (%ld frames), %ld failed\n", dfs_progname, nvid,
                nvid - (int)failed, written, failed);
    free(files);
    return failed ? 2 : 0;
}
