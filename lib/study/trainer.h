/* trainer.h: the study's three training stages (docs/study-facts.md section 2) and prediction.
 *
 * Stage 1 (scratch): every epoch is one full pass over the training file in an order shuffled
 * from dfs_rng_derive(seed, epoch), in batches of `batch` (the last one may be smaller, as Keras's
 * flow_from_directory); then one pass over the validation file in file order.
 * Stages 2 (transfer) and 3 (merge) start from a stage-1 checkpoint: every epoch takes `steps`
 * batches alternately from the training file and the mix file (step 0 from train). Each stream
 * is walked in a permutation drawn from (seed, epoch, stream, pass) and reshuffled when it runs
 * out, so an epoch depends only on the seed and its number (resume needs nothing else).
 * Validation alternates batches of the two validation files until both are used up, once each.
 * Transfer trains only the architecture's head (nn_model_info.head; batchnorm layers outside it
 * frozen: no update of gamma, beta or statistics, normalising with the batch's statistics as
 * Keras/TF1 unless frozen_bn_moving); merge trains every layer.
 *
 * After every epoch: the checkpoint with the best validation accuracy so far is saved to `out`
 * (strictly better replaces, as Keras's ModelCheckpoint save_best_only), then the epoch log is
 * rewritten atomically, then the last epoch with the whole training state (Adam moments, step
 * count, epoch, dropout RNG, best so far) goes to `last`. Every write is atomic, so a run killed at
 * any point resumes (nn_train_opts.resume) from `last` and ends byte-identical to an
 * uninterrupted run with the same seed, data and thread count.
 *
 * Memory: the two datasets are read by index with pread, so what is held is the index (about
 * 100 bytes per record plus its key) and one batch: for the paper protocol (16,000 images at
 * 256x256, batch 32) the input batch is 32 x 3 x 256 x 256 floats = 25 MB, plus the model's
 * activations for 32 images. */
#ifndef DFS_NN_TRAINER_H
#define DFS_NN_TRAINER_H

#include <stdint.h>
#include <stdio.h>
#include "nn/ops.h"

struct nn_backend;

enum { NN_STAGE_SCRATCH = 1, NN_STAGE_TRANSFER = 2, NN_STAGE_MERGE = 3 };

/* What a training reports: once at the start of a resumed run (resumed = 1, epoch = the last
 * one done), then after each epoch. */
typedef struct nn_train_report {
    int resumed;
    int64_t epoch;
    int epochs;
    double train_loss, train_acc, val_loss, val_acc, seconds, images_per_s;
    int improved;             /* this epoch's validation accuracy is the best so far (saved) */
    double best_val_acc;
    int64_t best_epoch;
} nn_train_report;

typedef struct nn_train_opts {
    int stage;                /* NN_STAGE_* */
    const char *arch;         /* stage 1: architecture (stages 2/3: taken from `from`) */
    int64_t size;             /* stage 1: input side; 0 = from the training data */
    const char *from;         /* stages 2/3: the stage-1 checkpoint */
    const char *train, *mix;  /* training files (mix: stages 2/3 only) */
    const char *val, *val_mix;
    const char *out, *last, *log;
    int epochs, batch, steps; /* steps: stages 2/3 batches per epoch */
    double lr;
    const char *loss;         /* NULL (the study's), "mse", "bce" (on a two-way softmax: its
                               * bce_softmax2) or "bce_softmax2"; another name is an error */
    uint64_t seed;
    int frozen_bn_moving;     /* transfer: frozen batchnorm normalises with running statistics
                               * (default 0: with the batch's, as Keras/TF1; graph.h) */
    int resume;
    /* tests (the trajectory test against tests/make-fixtures-trajectory.py): stage 1 starts
     * from this checkpoint's weights instead of the seed's; dropout and drop-connect are identity */
    const char *init;
    int no_dropout;
    FILE *progress_to;        /* where the live bar goes (a tool passes stderr); NULL: none */
    int progress;             /* show the bar even when progress_to is not a terminal */
    /* called with each report (the library prints none); NULL: none */
    void (*report)(void *ctx, const nn_train_report *r);
    void *report_ctx;
    int bn_recalibrate;       /* precise batchnorm before each validation (nn_bn_pop_*, graph.h) */
    int64_t bn_batches;       /* its batches: the first bn_batches of --train in file order; 0 all */
    const struct nn_backend *be;   /* where to compute (backend.h); NULL: cpu */
} nn_train_opts;

/* The study's defaults for a stage and architecture: lr and loss; -1 for an unknown architecture. */
int nn_train_defaults(const char *arch, int stage, double *lr, nn_loss_kind *loss);

/* Run a whole training. 0, or -1 with a one-line error (a file and problem, or
 * "epoch E step S: loss is nan"). */
int nn_train_run(const nn_train_opts *o);

/* predict: read the stream `in` (name for messages) record by record in batches of `batch`, write
 * the score TSV (formats/score-tsv.md) to out. A record without key gets "#<index>", without
 * dataset "unknown"; labels are printed as they are (-1 included). A live bar goes to progress_to
 * (NULL: none) when it is a terminal or progress is set. */
struct nn_graph;
struct nn_model_info;
int nn_predict_stream(struct nn_graph *g, const struct nn_model_info *m, int64_t size, const char *in,
                      int batch, FILE *out, FILE *progress_to, int progress);

#endif
