/* trainer.c: the study's training stages and prediction (see trainer.h). */
#include <math.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "core/rng.h"
#include "study/scoretsv.h"
#include "core/stream.h"
#include "core/stream_index.h"
#include "nn/backend.h"
#include "nn/batch.h"
#include "nn/checkpoint.h"
#include "nn/graph.h"
#include "nn/models.h"
#include "study/trainer.h"

#define ADAM_EPS 1e-7f

int nn_train_defaults(const char *arch, int stage, double *lr, nn_loss_kind *loss)
{
    const nn_model_info *m = nn_model_find(arch);
    if (!m) return dfs_fail("unknown architecture '%s'", arch);
    *lr = m->stage1_lr;
    *loss = m->loss;
    /* The original ShallowNet stage-2/3 scripts used the Meso settings (Adam 1e-3, MSE), not
     * its stage-1 ones; the facts keep that, and so do we. */
    if (stage != NN_STAGE_SCRATCH && m->classes == 1) {
        *lr = 1e-3;
        *loss = NN_LOSS_MSE;
    }
    return 0;
}

/* ---- losses ---- */

/* The loss a run asks for (o->loss: "mse", "bce" or "bce_softmax2") on an architecture with
 * `classes` outputs: bce on a two-way softmax is its bce_softmax2; mse has no two-way form. */
static int run_loss(const char *name, const char *arch, int classes, nn_loss_kind *k)
{
    if (!strcmp(name, "mse") && classes == 1) *k = NN_LOSS_MSE;
    else if (!strcmp(name, "mse")) return dfs_fail("--loss mse: %s has a two-way softmax output; use bce", arch);
    else if (!strcmp(name, "bce")) *k = classes == 2 ? NN_LOSS_BCE_SOFTMAX2 : NN_LOSS_BCE;
    else if (!strcmp(name, "bce_softmax2") && classes == 2) *k = NN_LOSS_BCE_SOFTMAX2;
    else if (!strcmp(name, "bce_softmax2")) return dfs_fail("loss bce_softmax2: %s has one sigmoid output", arch);
    else return dfs_fail("loss '%s' is not mse, bce or bce_softmax2", name);
    return 0;
}

static int64_t batch_correct(const nn_model_info *m, const float *logits, const float *y, int64_t n, float *pf)
{
    nn_model_pfake(m, logits, n, pf);
    int64_t c = 0;
    for (int64_t i = 0; i < n; i++) c += (pf[i] >= 0.5f) == (y[i] >= 0.5f);
    return c;
}

/* ---- a data stream walked in shuffled passes ---- */

typedef struct walker {
    dfs_index ix;
    int open;
    uint64_t *perm;
    size_t pos;
    uint64_t pass;
    int id;
} walker;

static int walker_open(walker *w, const char *path, int64_t size, int id)
{
    memset(w, 0, sizeof *w);
    if (dfs_index_open(&w->ix, path) != 0) return -1;
    w->open = 1;
    w->id = id;
    if (nn_index_check(&w->ix, size, 1) != 0) return -1;
    w->perm = dfs_malloc(w->ix.n * sizeof *w->perm);
    return 0;
}

static void walker_close(walker *w)
{
    if (w->open) dfs_index_close(&w->ix);
    free(w->perm);
    memset(w, 0, sizeof *w);
}

/* Permutation of the stream for (seed, epoch, pass): stage 1 uses dfs_rng_derive(seed, epoch)
 * exactly; the mixed stages tag stream and pass in the high bits. */
static void walker_shuffle(walker *w, uint64_t seed, int64_t epoch, int mixed)
{
    for (size_t i = 0; i < w->ix.n; i++) w->perm[i] = i;
    dfs_rng r;
    uint64_t tag = (uint64_t)epoch;
    if (mixed) tag |= ((uint64_t)(w->id + 1) << 48) | (w->pass << 32);
    dfs_rng_derive(&r, seed, tag);
    dfs_rng_shuffle(&r, w->perm, w->ix.n);
    w->pos = 0;
}

/* Next batch of up to B indices; wraps with a new pass when `wrap`, else stops at the end. */
static int64_t walker_take(walker *w, uint64_t *idx, int64_t B, uint64_t seed, int64_t epoch, int wrap)
{
    int64_t n = 0;
    while (n < B) {
        if (w->pos == w->ix.n) {
            if (!wrap) break;
            w->pass++;
            walker_shuffle(w, seed, epoch, 1);
        }
        idx[n++] = w->perm[w->pos++];
    }
    return n;
}

/* ---- the epoch log (rewritten whole after every epoch) ---- */

typedef struct textbuf {
    char *s;
    size_t len, cap;
} textbuf;

static void tb_add(textbuf *t, const char *s)
{
    size_t n = strlen(s);
    if (t->len + n + 1 > t->cap) {
        t->cap = (t->len + n + 1) * 2;
        t->s = dfs_realloc(t->s, t->cap);
    }
    memcpy(t->s + t->len, s, n + 1);
    t->len += n;
}

static const char log_header[] = "epoch\ttrain_loss\ttrain_acc\tval_loss\tval_acc\tseconds\timages_per_s\n";

/* On resume: keep the lines of the epochs already done (a killed run may have logged none or
 * all of them; the log is rewritten whole each epoch, so it is never torn). */
static void log_reload(textbuf *t, const char *path, int64_t done)
{
    tb_add(t, log_header);
    FILE *f = fopen(path, "r");
    if (!f) return;
    char line[1024];
    int first = 1;
    while (fgets(line, sizeof line, f)) {
        if (first) {
            first = 0;
            continue;
        }
        long e = strtol(line, NULL, 10);
        if (e >= 1 && e <= done) tb_add(t, line);
    }
    fclose(f);
}

static int log_write(const textbuf *t, const char *path)
{
    dfs_out o;
    if (dfs_out_open(&o, path, 0, 1) != 0) return -1;
    if (dfs_out_write(&o, t->s, t->len) != 0) {
        dfs_out_abort(&o);
        return -1;
    }
    return dfs_out_commit(&o);
}

/* ---- checkpoint metadata ---- */

/* The settings a resumed run must share with the run it continues. */
static void run_signature(const nn_train_opts *o, const char *arch, int64_t size, double lr, nn_loss_kind loss,
                          int batch, int steps, char *buf, size_t n)
{
    int k = snprintf(buf, n, "stage=%d arch=%s size=%lld seed=%llu lr=%.17g loss=%s batch=%d steps=%d", o->stage,
                     arch, (long long)size, (unsigned long long)o->seed, lr, nn_loss_name(loss), batch, steps);
    /* only when on: the checkpoints of runs without it keep their signature */
    if (o->bn_recalibrate && k > 0 && (size_t)k < n)
        snprintf(buf + k, n - (size_t)k, " bn_recalibrate=%lld", (long long)o->bn_batches);
    if (k > 0 && (size_t)k < n) k += (int)strlen(buf + k);
    if (o->stage == NN_STAGE_TRANSFER && k > 0 && (size_t)k < n)
        snprintf(buf + k, n - (size_t)k, " frozen_bn=%s", o->frozen_bn_moving ? "moving" : "batch");
}

static int meta_get(const char *meta, const char *key, char *val, size_t n)
{
    size_t kl = strlen(key);
    for (const char *p = meta; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (len > kl && !strncmp(p, key, kl) && p[kl] == '=') {
            size_t vl = len - kl - 1;
            if (vl >= n) vl = n - 1;
            memcpy(val, p + kl + 1, vl);
            val[vl] = 0;
            return 0;
        }
        p = nl ? nl + 1 : NULL;
    }
    return -1;
}

/* ---- training ---- */

typedef struct trainer {
    const nn_train_opts *o;
    const nn_model_info *m;
    nn_graph *g;
    char arch[32];
    int64_t size;
    double lr;
    nn_loss_kind loss;
    int batch, steps;
    walker tr, mix, va, vmix;
    /* two batches in flight: the one computing and the next one, loaded from disk meanwhile
     * (x in pinned memory on a device: nn_graph_host_alloc) */
    float *x[2], *y[2], *dlogits, *pf;
    uint64_t *idx;
    nn_adam adam;
} trainer;

/* One training step on batch `b` (already loaded, n images). `next` (may be NULL) loads the
 * following batch into the other buffers while the device computes this step's backward. */
typedef struct prefetch {
    walker *w;
    int64_t n;
} prefetch;

static int load(trainer *t, int b, const prefetch *p)
{
    return nn_batch_load(&p->w->ix, t->idx, p->n, t->x[b], t->y[b]);
}

static int train_step(trainer *t, int b, int64_t n, const prefetch *next, int64_t epoch, int64_t step,
                      double *loss_sum, int64_t *correct)
{
    nn_graph *g = t->g;
    if (nn_graph_forward(g, t->x[b], n, NN_TRAIN) != 0) return -1;
    const float *logits = nn_graph_output(g);
    if (!logits) return -1;
    double L = nn_loss_apply(t->loss, t->dlogits, logits, t->y[b], n);
    nn_graph_zero_grad(g);
    if (nn_graph_backward(g, t->dlogits) != 0) return -1;
    /* the batch of this step was uploaded before its output came back: its buffers are free */
    if (next && load(t, b ^ 1, next) != 0) return -1;
    double pen;
    if (nn_graph_l2(g, &pen) != 0) return -1;
    L += pen;
    if (!isfinite(L)) {
        /* epochs before this one completed in this run or the one resumed, each saved to last */
        if (epoch > 1)
            return dfs_fail("epoch %lld step %lld: loss is %s (stopped; the last completed epoch, %lld, is in %s)",
                            (long long)epoch, (long long)step, isnan(L) ? "nan" : "inf", (long long)epoch - 1,
                            t->o->last);
        return dfs_fail("epoch 1 step %lld: loss is %s (stopped; no epoch completed, so no checkpoint was written)",
                        (long long)step, isnan(L) ? "nan" : "inf");
    }
    *correct += batch_correct(t->m, logits, t->y[b], n, t->pf);
    nn_graph_adam_step(g, &t->adam);   /* advances adam.t by one, as Keras's iterations */
    *loss_sum += L * (double)n;
    return 0;
}

/* Precise batchnorm: the population statistics over the first o->bn_batches batches of the
 * training set (0: all of it) in file order, not shuffled, so the pass is the same on resume. */
static int bn_recalibrate(trainer *t)
{
    size_t n = t->tr.ix.n, want = t->o->bn_batches > 0 ? (size_t)t->o->bn_batches * (size_t)t->batch : n;
    if (want < n) n = want;
    nn_bn_pop *p = nn_bn_pop_begin(t->g);
    for (size_t at = 0; at < n;) {
        int64_t k = 0;
        while (k < t->batch && at < n) t->idx[k++] = at++;
        if (nn_batch_load(&t->tr.ix, t->idx, k, t->x[0], t->y[0]) != 0 || nn_bn_pop_add(t->g, p, t->x[0], k) != 0) {
            nn_bn_pop_end(t->g, p);
            return -1;
        }
    }
    return nn_bn_pop_end(t->g, p);
}

/* The validation batches in order: file order; the mixed stages alternate the two files batch
 * by batch. Fills idx (batch after batch) and the walker and size of each; returns the count. */
static int64_t val_plan(trainer *t, uint64_t *idx, walker **wb, int64_t *nb)
{
    walker *ws[2] = {&t->va, t->o->stage == NN_STAGE_SCRATCH ? NULL : &t->vmix};
    size_t pos[2] = {0, 0};
    int64_t k = 0, at = 0;
    for (int turn = 0;; turn ^= 1) {
        walker *w = ws[turn];
        int other_left = ws[turn ^ 1] && pos[turn ^ 1] < ws[turn ^ 1]->ix.n;
        if (!w || pos[turn] >= w->ix.n) {
            if (!other_left) break;
            continue;
        }
        int64_t n = 0;
        while (n < t->batch && pos[turn] < w->ix.n) idx[at + n++] = pos[turn]++;
        wb[k] = w;
        nb[k++] = n;
        at += n;
    }
    return k;
}

static int validate(trainer *t, double *loss, double *acc)
{
    double L = 0;
    int64_t c = 0, total = 0;
    size_t nimg = t->va.ix.n + (t->o->stage == NN_STAGE_SCRATCH ? 0 : t->vmix.ix.n), nmax = nimg + 1;
    uint64_t *all = dfs_malloc(nmax * sizeof *all);
    walker **wb = dfs_malloc(nmax * sizeof *wb);
    int64_t *nb = dfs_malloc(nmax * sizeof *nb);
    int64_t K = val_plan(t, all, wb, nb), at = 0;
    int rc = 0;
    for (int64_t k = 0; k < K && !rc; k++) {
        int b = (int)(k & 1);
        if (k == 0) {
            memcpy(t->idx, all, (size_t)nb[0] * sizeof *all);
            rc = nn_batch_load(&wb[0]->ix, t->idx, nb[0], t->x[0], t->y[0]);
            if (rc) break;
        }
        int64_t n = nb[k];
        if (nn_graph_forward(t->g, t->x[b], n, NN_EVAL) != 0) {
            rc = -1;
            break;
        }
        at += n;
        if (k + 1 < K) {   /* the next batch loads while this one computes */
            memcpy(t->idx, all + at, (size_t)nb[k + 1] * sizeof *all);
            if (nn_batch_load(&wb[k + 1]->ix, t->idx, nb[k + 1], t->x[b ^ 1], t->y[b ^ 1]) != 0) {
                rc = -1;
                break;
            }
        }
        const float *logits = nn_graph_output(t->g);
        if (!logits) {
            rc = -1;
            break;
        }
        L += nn_loss_apply(t->loss, NULL, logits, t->y[b], n) * (double)n;
        c += batch_correct(t->m, logits, t->y[b], n, t->pf);
        total += n;
    }
    free(all);
    free(wb);
    free(nb);
    if (rc) return -1;
    double pen;   /* as Keras, the reported loss includes the L2 penalty */
    if (nn_graph_l2(t->g, &pen) != 0) return -1;
    *loss = L / (double)total + pen;
    *acc = (double)c / (double)total;
    return 0;
}

static int run_epoch(trainer *t, int64_t epoch, double *loss, double *acc, int64_t *images)
{
    const nn_train_opts *o = t->o;
    double L = 0;
    int64_t c = 0, seen = 0;
    int mixed = o->stage != NN_STAGE_SCRATCH;
    int64_t nsteps = mixed ? t->steps : (int64_t)((t->tr.ix.n + (size_t)t->batch - 1) / (size_t)t->batch);
    t->tr.pass = 0;
    walker_shuffle(&t->tr, o->seed, epoch, mixed);
    if (mixed) {
        t->mix.pass = 0;
        walker_shuffle(&t->mix, o->seed, epoch, 1);
    }
    char what[64];
    snprintf(what, sizeof what, "epoch %lld/%d", (long long)epoch, o->epochs);
    dfs_progress p;
    dfs_progress_start(&p, o->progress_to, what, (uint64_t)(mixed ? nsteps * t->batch : (int64_t)t->tr.ix.n), o->progress);
    prefetch cur = {&t->tr, 0}, next = {NULL, 0};
    if (nsteps > 0) {
        cur.n = walker_take(cur.w, t->idx, t->batch, o->seed, epoch, mixed);
        if (load(t, 0, &cur) != 0) {
            dfs_progress_end(&p);
            return -1;
        }
    }
    for (int64_t s = 0; s < nsteps; s++) {
        int64_t n = cur.n;
        if (s + 1 < nsteps) {
            next.w = (mixed && ((s + 1) & 1)) ? &t->mix : &t->tr;
            next.n = walker_take(next.w, t->idx, t->batch, o->seed, epoch, mixed);
        }
        if (train_step(t, (int)(s & 1), n, s + 1 < nsteps ? &next : NULL, epoch, s + 1, &L, &c) != 0) {
            dfs_progress_end(&p);
            return -1;
        }
        cur = next;
        seen += n;
        dfs_progress_update(&p, (uint64_t)seen);
    }
    dfs_progress_clear(&p);
    *loss = L / (double)seen;
    *acc = (double)c / (double)seen;
    *images = seen;
    return 0;
}

static void trainer_free(trainer *t)
{
    walker_close(&t->tr);
    walker_close(&t->mix);
    walker_close(&t->va);
    walker_close(&t->vmix);
    for (int b = 0; b < 2; b++) {
        if (t->g) nn_graph_host_free(t->g, t->x[b]);
        free(t->y[b]);
    }
    free(t->dlogits);
    free(t->pf);
    free(t->idx);
    nn_graph_free(t->g);
}

static int trainer_setup(trainer *t, const nn_train_opts *o, nn_ckpt_state *st, int *has_state, double *best,
                         int64_t *best_epoch)
{
    memset(t, 0, sizeof *t);
    t->o = o;
    t->batch = o->batch;
    t->steps = o->steps;
    *has_state = 0;
    *best = -1;
    *best_epoch = 0;
    nn_ckpt_info info;
    memset(&info, 0, sizeof info);
    const char *src = o->resume ? o->last : (o->stage == NN_STAGE_SCRATCH ? NULL : o->from);
    if (src) {
        if (nn_checkpoint_info(src, &info) != 0) return -1;
        snprintf(t->arch, sizeof t->arch, "%s", info.arch);
        t->size = info.size;
        if (o->stage == NN_STAGE_SCRATCH && o->arch && strcmp(o->arch, t->arch)) {
            nn_ckpt_info_free(&info);
            return dfs_fail("%s: checkpoint is for architecture %s, not %s", src, t->arch, o->arch);
        }
    } else {
        snprintf(t->arch, sizeof t->arch, "%s", o->arch);
        t->size = o->size;
        if (t->size == 0) {   /* from the training data */
            dfs_index ix;
            if (dfs_index_open(&ix, o->train) != 0) return -1;
            t->size = ix.rank == 3 ? (int64_t)ix.dims[0] : NN_DEFAULT_SIZE;
            dfs_index_close(&ix);
        }
    }
    t->m = nn_model_find(t->arch);
    if (!t->m) {
        nn_ckpt_info_free(&info);
        return dfs_fail("unknown architecture '%s'", t->arch);
    }
    if (nn_train_defaults(t->arch, o->stage, &t->lr, &t->loss) != 0) return -1;
    if (o->lr > 0) t->lr = o->lr;
    if (o->loss && run_loss(o->loss, t->arch, t->m->classes, &t->loss) != 0) {
        nn_ckpt_info_free(&info);
        return -1;
    }
    /* data first: a wrong file should fail before any model is built */
    int mixed = o->stage != NN_STAGE_SCRATCH;
    if (walker_open(&t->tr, o->train, t->size, 0) != 0 || (mixed && walker_open(&t->mix, o->mix, t->size, 1) != 0) ||
        walker_open(&t->va, o->val, t->size, 2) != 0 || (mixed && walker_open(&t->vmix, o->val_mix, t->size, 3) != 0)) {
        nn_ckpt_info_free(&info);
        return -1;
    }
    t->g = nn_model_build(t->arch, t->size);
    if (!t->g || nn_graph_set_backend(t->g, o->be ? o->be : nn_backend_cpu()) != 0) {
        nn_ckpt_info_free(&info);
        return -1;
    }
    dfs_rng init;
    dfs_rng_derive(&init, o->seed, dfs_hash_str("init"));
    if (nn_graph_alloc_params(t->g, &init) != 0 || nn_graph_alloc_train(t->g) != 0) {
        nn_ckpt_info_free(&info);
        return -1;
    }
    dfs_rng_derive(&t->g->run.rng, o->seed, dfs_hash_str("dropout"));
    t->g->run.frozen_bn_moving = o->frozen_bn_moving;
    t->g->run.no_dropout = o->no_dropout;
    t->adam.lr = (float)t->lr;
    t->adam.beta1 = 0.9f;
    t->adam.beta2 = 0.999f;
    t->adam.eps = ADAM_EPS;
    t->adam.t = 0;
    if (o->resume) {
        char sig[512], have[512], v[64];
        run_signature(o, t->arch, t->size, t->lr, t->loss, t->batch, t->steps, sig, sizeof sig);
        if (meta_get(info.meta, "run", have, sizeof have) != 0 || strcmp(sig, have)) {
            dfs_fail("%s: written by a run with other settings (%s), not this one (%s)", o->last,
                     meta_get(info.meta, "run", have, sizeof have) ? "none" : have, sig);
            nn_ckpt_info_free(&info);
            return -1;
        }
        if (meta_get(info.meta, "best_val_acc", v, sizeof v) == 0) *best = strtod(v, NULL);
        if (meta_get(info.meta, "best_epoch", v, sizeof v) == 0) *best_epoch = strtoll(v, NULL, 10);
        if (nn_checkpoint_load_into(t->g, t->arch, o->last, st, has_state) != 0) {
            nn_ckpt_info_free(&info);
            return -1;
        }
        if (!*has_state) {
            nn_ckpt_info_free(&info);
            return dfs_fail("%s: no training state to resume from", o->last);
        }
        t->adam.t = st->adam_t;
        t->g->run.rng = st->rng;
    } else if (!mixed && o->init) {
        if (nn_checkpoint_load_into(t->g, t->arch, o->init, NULL, NULL) != 0) {
            nn_ckpt_info_free(&info);
            return -1;
        }
        nn_graph_unfreeze_all(t->g);
    } else if (mixed) {
        if (nn_checkpoint_load_into(t->g, t->arch, o->from, NULL, NULL) != 0) {
            nn_ckpt_info_free(&info);
            return -1;
        }
        if (o->stage == NN_STAGE_TRANSFER) {
            int nh = 0;
            while (t->m->head[nh]) nh++;
            if (nn_graph_train_only(t->g, t->m->head, nh) != 0) {
                nn_ckpt_info_free(&info);
                return -1;
            }
        } else {
            nn_graph_unfreeze_all(t->g);
        }
    }
    nn_ckpt_info_free(&info);
    /* activations for the one backward of each step; their memory serves the gradients once read */
    nn_graph_set_memory(t->g, NN_MEM_TRAIN);
    if (nn_graph_set_batch(t->g, t->batch) != 0) return -1;
    size_t img = (size_t)(3 * t->size * t->size);
    for (int b = 0; b < 2; b++) {
        t->x[b] = nn_graph_host_alloc(t->g, dfs_mul_size(img * sizeof(float), (size_t)t->batch));
        if (!t->x[b]) return -1;
        t->y[b] = dfs_malloc((size_t)t->batch * sizeof(float));
    }
    t->dlogits = dfs_malloc((size_t)t->batch * 2 * sizeof(float));
    t->pf = dfs_malloc((size_t)t->batch * sizeof(float));
    t->idx = dfs_malloc((size_t)t->batch * sizeof(uint64_t));
    return 0;
}

int nn_train_run(const nn_train_opts *o)
{
    trainer t;
    nn_ckpt_state st;
    memset(&st, 0, sizeof st);
    int has_state;
    double best;
    int64_t best_epoch;
    if (trainer_setup(&t, o, &st, &has_state, &best, &best_epoch) != 0) {
        trainer_free(&t);
        return -1;
    }
    int64_t start = has_state ? st.epoch : 0;
    char sig[512];
    run_signature(o, t.arch, t.size, t.lr, t.loss, t.batch, t.steps, sig, sizeof sig);
    /* Resuming without the best checkpoint: a run must end with its -o, and only an epoch that
     * beats the recorded best would write one. When the best epoch is the last one saved, its
     * weights are the ones just loaded and -o is written again as that epoch wrote it;
     * otherwise they are lost, which is said now rather than after the remaining epochs. */
    struct stat ost;
    if (o->resume && best_epoch > 0 && stat(o->out, &ost) != 0) {
        if (best_epoch != start) {
            trainer_free(&t);
            return dfs_fail("%s: missing: the best epoch (%lld) is not the last saved one (%lld in %s), so its "
                            "weights are lost: train again without --resume",
                            o->out, (long long)best_epoch, (long long)start, o->last);
        }
        char meta[1024];
        snprintf(meta, sizeof meta, "stage=%d\nepoch=%lld\nval_acc=%.9g\nrun=%s\n", o->stage, (long long)best_epoch,
                 best, sig);
        if (nn_checkpoint_save(t.g, t.arch, t.size, meta, NULL, o->out) != 0) {
            trainer_free(&t);
            return -1;
        }
    }
    textbuf log = {0};
    if (o->resume) log_reload(&log, o->log, start);
    else tb_add(&log, log_header);
    if (start > 0 && o->report)
        o->report(o->report_ctx, &(nn_train_report){.resumed = 1, .epoch = start, .epochs = o->epochs,
                                                    .best_val_acc = best, .best_epoch = best_epoch});
    int rc = 0;
    for (int64_t e = start + 1; e <= o->epochs; e++) {
        double t0 = dfs_now(), tl, ta, vl, va;
        int64_t images;
        if (run_epoch(&t, e, &tl, &ta, &images) != 0) {
            rc = -1;
            break;
        }
        double t1 = dfs_now();
        if ((o->bn_recalibrate && bn_recalibrate(&t) != 0) || validate(&t, &vl, &va) != 0) {
            rc = -1;
            break;
        }
        double secs = dfs_now() - t0, ips = images / (t1 - t0 > 0 ? t1 - t0 : 1e-9);
        int improved = va > best;
        char meta[1024];
        if (improved) {
            best = va;
            best_epoch = e;
            snprintf(meta, sizeof meta, "stage=%d\nepoch=%lld\nval_acc=%.9g\nrun=%s\n", o->stage, (long long)e, va, sig);
            if (nn_checkpoint_save(t.g, t.arch, t.size, meta, NULL, o->out) != 0) {
                rc = -1;
                break;
            }
        }
        /* the log before the last checkpoint: a run killed between them redoes this epoch and
         * its log line, so the log always holds every epoch the last checkpoint has */
        char line[512];
        snprintf(line, sizeof line, "%lld\t%.6f\t%.6f\t%.6f\t%.6f\t%.3f\t%.1f\n", (long long)e, tl, ta, vl, va, secs, ips);
        tb_add(&log, line);
        if (log_write(&log, o->log) != 0) {
            rc = -1;
            break;
        }
        st.adam_t = t.adam.t;
        st.epoch = e;
        st.rng = t.g->run.rng;
        snprintf(meta, sizeof meta, "stage=%d\nepoch=%lld\nval_acc=%.9g\nbest_epoch=%lld\nbest_val_acc=%.17g\nrun=%s\n",
                 o->stage, (long long)e, va, (long long)best_epoch, best, sig);
        if (nn_checkpoint_save(t.g, t.arch, t.size, meta, &st, o->last) != 0) {
            rc = -1;
            break;
        }
        if (o->report)
            o->report(o->report_ctx, &(nn_train_report){.epoch = e, .epochs = o->epochs, .train_loss = tl,
                                                        .train_acc = ta, .val_loss = vl, .val_acc = va,
                                                        .seconds = secs, .images_per_s = ips, .improved = improved,
                                                        .best_val_acc = best, .best_epoch = best_epoch});
    }
    free(log.s);
    trainer_free(&t);
    return rc;
}

/* ---- prediction ---- */

int nn_predict_stream(nn_graph *g, const nn_model_info *m, int64_t size, const char *in, int batch, FILE *out,
                      FILE *progress_to, int progress)
{
    dfs_reader rd;
    if (dfs_reader_open(&rd, in) != 0) return -1;
    const char *name = in && strcmp(in, "-") ? in : "<stdin>";
    nn_graph_set_memory(g, NN_MEM_FORWARD);   /* only the logits are read */
    size_t img = (size_t)(3 * size * size);
    float *x = nn_graph_set_batch(g, batch) != 0 ? NULL : nn_graph_host_alloc(g, dfs_mul_size(img * sizeof(float), (size_t)batch));
    if (!x) {
        dfs_reader_close(&rd);
        return -1;
    }
    float *pf = dfs_malloc((size_t)batch * sizeof(float));
    char **keys = dfs_calloc((size_t)batch, sizeof *keys), **sets = dfs_calloc((size_t)batch, sizeof *sets);
    int32_t *labels = dfs_malloc((size_t)batch * sizeof *labels);
    dfs_record r;
    dfs_record_init(&r);
    int rc = 0;
    uint64_t index = 0;
    int64_t n = 0;
    dfs_progress p;
    dfs_progress_start(&p, progress_to, "images", 0, progress);
    fputs(DFS_SCORE_HEADER "\n", out);
    for (;;) {
        int got = dfs_reader_next(&rd, &r);
        if (got < 0) {
            rc = -1;
            break;
        }
        if (got > 0) {
            if (nn_record_check(&r, index, size) != 0) {
                rc = dfs_fail_prefix(name);
                break;
            }
            nn_image_to_chw(r.data, size, size, x + (size_t)n * img);
            keys[n] = dfs_meta_dup(&r, "key");
            if (!keys[n] || !keys[n][0]) {
                free(keys[n]);
                char b[32];
                snprintf(b, sizeof b, "#%llu", (unsigned long long)index);
                keys[n] = dfs_strdup(b);
            }
            sets[n] = dfs_meta_dup(&r, "dataset");
            if (!sets[n] || !sets[n][0]) {
                free(sets[n]);
                sets[n] = dfs_strdup("unknown");
            }
            labels[n] = r.label;
            n++;
            index++;
        }
        if (n == batch || (got == 0 && n > 0)) {
            if (nn_graph_forward(g, x, n, NN_EVAL) != 0) {
                rc = -1;
                break;
            }
            const float *logits = nn_graph_output(g);
            if (!logits) {
                rc = -1;
                break;
            }
            nn_model_pfake(m, logits, n, pf);
            for (int64_t i = 0; i < n; i++) {
                fprintf(out, "%s\t%s\t%d\t%.9g\n", keys[i], sets[i], (int)labels[i], (double)pf[i]);
                free(keys[i]);
                free(sets[i]);
                keys[i] = sets[i] = NULL;
            }
            n = 0;
            dfs_progress_update(&p, index);
        }
        if (got == 0) break;
    }
    if (p.enabled) dfs_progress_end(&p);
    for (int i = 0; i < batch; i++) {
        free(keys[i]);
        free(sets[i]);
    }
    free(keys);
    free(sets);
    free(labels);
    nn_graph_host_free(g, x);
    free(pf);
    dfs_record_free(&r);
    dfs_reader_close(&rd);
    return rc;
}
