/* train: build, inspect and train the study's detectors (lib/study/trainer.h has the protocol). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <omp.h>
#include <cblas.h>

#include "core/args.h"
#include "core/common.h"
#include "tool/tool.h"
#include "tool/device.h"
#include "nn/graph.h"
#include "nn/models.h"
#include "study/trainer.h"

/* printf format: %s is the architecture list */
static const char usage[] =
    "usage: train --arch NAME [--size S] --summary\n"
    "       train --list-archs\n"
    "       train --arch NAME --train T.dft --val V.dft -o M.ckpt [options]          (stage 1)\n"
    "       train --from M1.ckpt --mode transfer|merge --train T.dft --mix FSNT.dft\n"
    "             --val V.dft --val-mix FSNTV.dft -o M2.ckpt [options]                (stages 2, 3)\n"
    "\n"
    "Train one of the study's detectors on tensor streams of u8 S x S x 3 images labelled 0 (real)\n"
    "or 1 (fake), or print its layer table.\n"
    "\n"
    "  --arch NAME     %s\n"
    "  --size S        input images are S x S RGB (--summary: default 256; training: from the data)\n"
    "  --summary       print one line per node (name, kind, output shape per image, parameters,\n"
    "                  inputs) and a last line 'params: total=N trainable=M'; batchnorm running\n"
    "                  mean and variance count as non-trainable parameters, as Keras counts them\n"
    "  --list-archs    print the architectures, one TSV line each after a header: arch,\n"
    "                  paper_name (the paper's Table 4), outputs (1 sigmoid logit or 2 softmax\n"
    "                  logits), loss and lr (the study's stage 1), cam_layer, ace_layer ('-' for\n"
    "                  none) and head (the nodes stage 2 trains, comma-separated)\n"
    "  --train FILE    training images (a file: records are read by index, never all at once)\n"
    "  --val FILE      validation images; the saved model is the epoch with the best val accuracy\n"
    "  -o FILE         best checkpoint; the last epoch with the full training state goes beside it\n"
    "                  as STEM.last.ckpt (STEM = FILE without .ckpt); STEM.lock holds the pid of\n"
    "                  the run while it lasts, so a second run into the same files is refused\n"
    "  --from FILE     stages 2/3: start from this stage-1 checkpoint\n"
    "  --mode MODE     transfer: train only the architecture's head, everything else frozen\n"
    "                  (batchnorm statistics included); merge: train every layer\n"
    "  --frozen-bn H   transfer: how a frozen batchnorm normalises a training batch: batch\n"
    "                  (default, as the study's Keras/TF1: the batch's own mean and variance) or\n"
    "                  moving (its running statistics, as TF2 and PyTorch's eval()); neither\n"
    "                  updates the frozen layer's statistics\n"
    "  --mix FILE      stages 2/3: second training stream (the study's FS+NT); batches alternate\n"
    "  --val-mix FILE  stages 2/3: second validation stream; validation alternates too\n"
    "  --epochs N      default 100 (stage 1), 50 (stages 2/3)\n"
    "  --batch N       default 32 (stage 1), 64 (stages 2/3)\n"
    "  --steps N       stages 2/3: batches per epoch (default 62 = int(4000/64), as the study)\n"
    "  --lr X          Adam learning rate (beta 0.9/0.999, eps 1e-7); default the study's: the\n"
    "                  architecture's lr of --list-archs, except 1e-3 in stages 2/3 for the\n"
    "                  one-logit models (as the original scripts)\n"
    "  --loss L        mse or bce (on the sigmoid; for the two-way softmax models bce is Keras's\n"
    "                  binary_crossentropy on one-hot targets); default the study's: the\n"
    "                  architecture's loss of --list-archs, except mse in stages 2/3 for the\n"
    "                  one-logit models\n"
    "  --seed N        initial weights, shuffling (dfs_rng_derive(seed, epoch)) and dropout (default 32)\n"
    "  --threads N     OpenMP and BLAS threads (default: all cores); the same seed, data and\n"
    "                  thread count give a byte-identical checkpoint\n"
    "  --resume        continue an interrupted run from STEM.last.ckpt (its last completed epoch);\n"
    "                  ends with the same checkpoint as an uninterrupted run\n"
    "  --log FILE      epoch log TSV (default STEM.log.tsv): epoch, train_loss, train_acc,\n"
    "                  val_loss, val_acc, seconds, images_per_s; rewritten whole after each epoch\n"
    "  --device D      where the network runs: auto (default: cuda when a usable GPU is found,\n"
    "                  else cpu), cpu or cuda (fails without a usable GPU); cpu-split is a test\n"
    "                  device (cpu ops on separate memory, results equal cpu's). The same seed and\n"
    "                  data give the same checkpoint on cpu and cpu-split; on cuda the sums run in\n"
    "                  another order, so results agree to float rounding only\n"
    "                  DFS_DEVICE=D in the environment sets the default (make test: cpu).\n"
    "                  On cuda: convolutions run as im2col, or through cuDNN 9 with DFS_CUDNN=1\n"
    "                  (DFS_CUDNN_PATH=DIR holding libcudnn.so.9); full float32 arithmetic\n"
    "                  unless DFS_CUDA_TF32=1 (TF32 tensor cores: faster, less exact)\n"
    "  --verbose       name the device on stderr (without it, only a GPU that auto chose is named)\n"
    "  --progress      live progress bar even when stderr is not a terminal\n"
    "  --bn-recalibrate N  before each validation (and so before each save), replace every\n"
    "                  batchnorm's running mean and variance by the exact statistics of its input\n"
    "                  over the first N batches of --train in file order (0: the whole set),\n"
    "                  batchnorms on batch statistics, dropout off as in evaluation (\"precise\n"
    "                  BN\"; frozen batchnorms are left alone).\n"
    "                  Off by default: the study's Keras keeps the momentum averages only\n"
    "  -q, --quiet     no per-epoch lines on stderr\n"
    "  -h, --help      show this help\n"
    "\n"
    "Memory: only the record index and one batch of images are held, plus the model. For the\n"
    "paper protocol (16,000 images at 256x256, batch 32, meso4) that is about 2 MB of index, a\n"
    "25 MB input batch and the activations of 32 images: 0.7 GB peak RSS measured for meso4 at\n"
    "256x256, batch 32 (larger for the deeper models), instead of the 3.1 GB of images.\n"
    "Losses are reported as Keras does (the data loss plus the L2 penalty). On a shared machine\n"
    "set OMP_WAIT_POLICY=passive: spinning OpenMP workers slow training many times under load.\n";

typedef struct train_args {
    nn_train_opts o;
    int summary, verbose, frozen_bn_set, quiet;
    long threads;
    const char *device;
    const char *mode;
    char *last_alloc, *log_alloc;   /* derived file names, freed at the end */
} train_args;

/* the trainer's reports as stderr lines (formats/train.md) */
static void print_report(void *ctx, const nn_train_report *r)
{
    (void)ctx;
    if (r->resumed)
        fprintf(stderr, "%s: resuming after epoch %lld (best val_acc %.4f at epoch %lld)\n", dfs_progname,
                (long long)r->epoch, r->best_val_acc, (long long)r->best_epoch);
    else
        fprintf(stderr, "%s: epoch %lld/%d train_loss %.4f train_acc %.4f val_loss %.4f val_acc %.4f %.1fs %.0f img/s%s\n",
                dfs_progname, (long long)r->epoch, r->epochs, r->train_loss, r->train_acc, r->val_loss, r->val_acc,
                r->seconds, r->images_per_s, r->improved ? " (best)" : "");
}

static char *with_suffix(const char *out, const char *suffix)
{
    size_t n = strlen(out);
    if (n > 5 && !strcmp(out + n - 5, ".ckpt")) n -= 5;
    char *s = dfs_malloc(n + strlen(suffix) + 1);
    memcpy(s, out, n);
    strcpy(s + n, suffix);
    return s;
}

static DFS_NORETURN void print_help(void)
{
    char archs[256];
    printf(usage, nn_model_list(archs, sizeof archs, " or "));
    if (fflush(stdout) != 0 || ferror(stdout)) exit(1);
    exit(0);
}

static DFS_NORETURN void list_archs(void)
{
    printf("arch\tpaper_name\toutputs\tloss\tlr\tcam_layer\tace_layer\thead\n");
    for (const nn_model_info *m = nn_models; m->name; m++) {
        printf("%s\t%s\t%d\t%s\t%g\t%s\t%s\t", m->name, m->paper_name, m->classes, nn_loss_name(m->loss),
               m->stage1_lr, m->cam_layer, m->ace_layer ? m->ace_layer : "-");
        for (int k = 0; m->head[k]; k++) printf("%s%s", k ? "," : "", m->head[k]);
        printf("\n");
    }
    if (fflush(stdout) != 0 || ferror(stdout)) dfs_die("<stdout>: write failed");
    exit(0);
}

static DFS_NORETURN void die_arch(const char *arch)
{
    char archs[256];
    dfs_die("--arch: unknown architecture '%s' (%s)", arch, nn_model_list(archs, sizeof archs, ", "));
}

static void parse_args(int argc, char **argv, train_args *a)
{
    memset(a, 0, sizeof *a);
    nn_train_opts *o = &a->o;
    o->lr = -1;
    long epochs = -1, batch = -1, steps = 62, size = 0, seed = 32, bn_batches = -1;
    const char *frozen_bn = NULL;
    enum { LIST_ARCHS = DFS_ARGS_TOOL };
    const dfs_opt opts[] = {
        DFS_OPT_HELP,
        DFS_OPT_STOP_("--list-archs", NULL, LIST_ARCHS),
        DFS_OPT_STR_("--arch", NULL, &o->arch),
        DFS_OPT_LONG_("--size", NULL, &size, 1, 4096),
        DFS_OPT_FLAG_("--summary", NULL, &a->summary),
        DFS_OPT_STR_("--train", NULL, &o->train),
        DFS_OPT_STR_("--val", NULL, &o->val),
        DFS_OPT_OUTPUT(&o->out),
        DFS_OPT_STR_("--from", NULL, &o->from),
        DFS_OPT_STR_("--mode", NULL, &a->mode),
        DFS_OPT_STR_("--frozen-bn", NULL, &frozen_bn),
        DFS_OPT_STR_("--mix", NULL, &o->mix),
        DFS_OPT_STR_("--val-mix", NULL, &o->val_mix),
        DFS_OPT_LONG_("--epochs", NULL, &epochs, 1, 1000000),
        DFS_OPT_LONG_("--batch", NULL, &batch, 1, 65536),
        DFS_OPT_LONG_("--steps", NULL, &steps, 1, 100000000),
        DFS_OPT_DOUBLE_("--lr", NULL, &o->lr, 1e-12, 1e30),
        DFS_OPT_STR_("--loss", NULL, &o->loss),
        DFS_OPT_LONG_("--seed", NULL, &seed, 0, 0x7fffffffffffffffL),
        DFS_OPT_THREADS(&a->threads),
        DFS_OPT_FLAG_("--resume", NULL, &o->resume),
        DFS_OPT_STR_("--log", NULL, &o->log),
        DFS_OPT_DEVICE(&a->device),
        DFS_OPT_VERBOSE(&a->verbose),
        DFS_OPT_PROGRESS(&o->progress),
        DFS_OPT_LONG_("--bn-recalibrate", NULL, &bn_batches, 0, 1000000000),
        DFS_OPT_QUIET(&a->quiet),
        DFS_OPT_END_,
    };
    dfs_args args = {.unknown_fmt = "unknown argument '%s' (see --help)"};
    int rc = dfs_args_parse(&args, opts, argc, argv);
    if (rc == DFS_ARGS_HELP) print_help();   /* the usage is a format: the architectures */
    if (dfs_args_done(rc, opts, usage) == LIST_ARCHS) list_archs();
    if (args.pos.n) dfs_die("unknown argument '%s' (see --help)", args.pos.v[0]);
    free(args.pos.v);
    o->seed = (uint64_t)seed;
    if (bn_batches >= 0) {
        o->bn_recalibrate = 1;
        o->bn_batches = bn_batches;
    }
    if (o->loss && strcmp(o->loss, "mse") && strcmp(o->loss, "bce")) dfs_die("--loss: '%s' is not mse or bce", o->loss);
    if (frozen_bn) {
        if (strcmp(frozen_bn, "batch") && strcmp(frozen_bn, "moving"))
            dfs_die("--frozen-bn: '%s' is not batch or moving", frozen_bn);
        o->frozen_bn_moving = !strcmp(frozen_bn, "moving");
        a->frozen_bn_set = 1;
    }
    if (a->summary) {
        if (!o->arch) dfs_die("--arch is required (see --help)");
        if (!nn_model_find(o->arch)) die_arch(o->arch);
        o->size = size ? size : NN_DEFAULT_SIZE;
        return;
    }
    if (a->mode) {
        if (!strcmp(a->mode, "transfer")) o->stage = NN_STAGE_TRANSFER;
        else if (!strcmp(a->mode, "merge")) o->stage = NN_STAGE_MERGE;
        else dfs_die("--mode: '%s' is not transfer or merge", a->mode);
        if (!o->from) dfs_die("--mode %s needs --from M1.ckpt", a->mode);
        if (!o->mix || !o->val_mix) dfs_die("--mode %s needs --mix and --val-mix", a->mode);
        if (o->arch) dfs_die("--arch: stages 2/3 take the architecture from --from");
        if (size) dfs_die("--size: stages 2/3 take the size from --from");
    } else {
        o->stage = NN_STAGE_SCRATCH;
        if (o->from) dfs_die("--from needs --mode transfer|merge");
        if (o->mix || o->val_mix) dfs_die("--mix and --val-mix belong to --mode transfer|merge");
        if (!o->arch && !o->resume) dfs_die("--arch is required (see --help)");
        if (o->arch && !nn_model_find(o->arch)) die_arch(o->arch);
    }
    if (a->frozen_bn_set && o->stage != NN_STAGE_TRANSFER) dfs_die("--frozen-bn belongs to --mode transfer");
    if (!o->train || !o->val) dfs_die("--train and --val are required (see --help)");
    if (!o->out) dfs_die("-o M.ckpt is required (see --help)");
    if (!strcmp(o->out, "-")) dfs_die("-o: a checkpoint needs a file name, not stdout");
    int mixed = o->stage != NN_STAGE_SCRATCH;
    o->size = size;
    o->epochs = (int)(epochs > 0 ? epochs : mixed ? 50 : 100);
    o->batch = (int)(batch > 0 ? batch : mixed ? 64 : 32);
    o->steps = mixed ? (int)steps : 0;
    o->last = a->last_alloc = with_suffix(o->out, ".last.ckpt");
    if (!o->log) o->log = a->log_alloc = with_suffix(o->out, ".log.tsv");
}

static void print_summary(const nn_graph *g)
{
    printf("%-28s %-15s %-16s %12s  %s\n", "node", "kind", "output", "params", "inputs");
    for (int i = 0; i < g->nnodes; i++) {
        const nn_node *n = &g->nodes[i];
        char shape[64], inputs[4 * NN_NAME_MAX + 8] = "";
        if (n->H == 1 && n->W == 1)
            snprintf(shape, sizeof shape, "%lld", (long long)n->C);
        else
            snprintf(shape, sizeof shape, "%lldx%lldx%lld", (long long)n->C, (long long)n->H, (long long)n->W);
        for (int k = 0; k < n->nin; k++) {
            if (k) strcat(inputs, ",");
            strcat(inputs, g->nodes[n->in[k]].name);
        }
        printf("%-28s %-15s %-16s %12lld  %s\n", n->name, nn_kind_name(n->kind), shape,
               (long long)nn_node_params(g, i), inputs);
    }
    int64_t total, trainable;
    nn_graph_count(g, &total, &trainable);
    printf("params: total=%lld trainable=%lld\n", (long long)total, (long long)trainable);
}

int main(int argc, char **argv)
{
    dfs_tool_init(argv[0]);
    train_args a;
    parse_args(argc, argv, &a);
    if (a.summary) {
        nn_graph *g = nn_model_build(a.o.arch, a.o.size);
        if (!g) dfs_die("--size %lld: %s", (long long)a.o.size, dfs_error());
        print_summary(g);
        nn_graph_free(g);
        if (fflush(stdout) != 0 || ferror(stdout)) dfs_die("<stdout>: write failed");
        return 0;
    }
    const char *outs[] = {a.o.out, a.o.last, a.o.log};
    const char *ins[] = {a.o.train, a.o.val, a.o.from, a.o.mix, a.o.val_mix};
    if (dfs_paths_distinct(outs, 3, ins, 5) != 0) dfs_die_error();
    /* one run at a time per output set: a second would interleave its checkpoints with ours */
    char *lockpath = with_suffix(a.o.out, ".lock");
    dfs_lock lock;
    if (dfs_lock_take(&lock, lockpath) != 0) dfs_die_error();
    a.o.be = dfs_tool_device(a.device, a.verbose);   /* before any file is read or written */
    dfs_spool from;   /* --from is opened twice (header, then tensors): a pipe is copied once */
    if (a.o.from) {
        if (dfs_spool_open(&from, a.o.from) != 0) dfs_die_error();
        a.o.from = from.path;
    }
    dfs_tool_threads(a.threads);
    a.o.progress_to = stderr;
    if (!a.quiet) a.o.report = print_report;
    if (nn_train_run(&a.o) != 0) {
        if (a.o.from) dfs_spool_error(&from);
        dfs_die_error();
    }
    if (a.o.from) dfs_spool_close(&from);
    dfs_lock_release(&lock);
    free(lockpath);
    free(a.last_alloc);
    free(a.log_alloc);
    return 0;
}
