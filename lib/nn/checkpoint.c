/* checkpoint.c: models as tensor streams (see checkpoint.h and formats/checkpoint.md). */
#include "nn/checkpoint.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/common.h"
#include "nn/models.h"
#include "core/stream.h"

static int set_meta_i64(dfs_record *r, const char *key, int64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", (long long)v);
    return dfs_meta_set(r, key, buf);
}

/* Append "key=value\n" lines of extra (validated) to r's metadata. */
static int add_extra_meta(dfs_record *r, const char *extra)
{
    if (!extra) return 0;
    if (dfs_meta_valid(extra, strlen(extra)) != 0) return dfs_fail_prefix("checkpoint metadata");
    const char *p = extra;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char *line = dfs_malloc(len + 1);
        memcpy(line, p, len);
        line[len] = '\0';
        char *eq = strchr(line, '=');
        int rc = 0;
        if (eq) {
            *eq = '\0';
            rc = dfs_meta_set(r, line, eq + 1);
        }
        free(line);
        if (rc) return -1;
        p += len + (nl ? 1 : 0);
    }
    return 0;
}

static int write_f32(dfs_out *o, dfs_record *r, const nn_tensor *t, const float *data, const char *slot)
{
    uint64_t dims[4];
    for (int i = 0; i < t->rank; i++) dims[i] = (uint64_t)t->dims[i];
    if (dfs_record_shape(r, DFS_F32, t->rank, dims) != 0) return -1;
    memcpy(r->data, data, (size_t)t->n * sizeof(float));
    if (dfs_meta_set(r, "name", t->name) || dfs_meta_set(r, "kind", t->is_stat ? "stat" : "param") ||
        dfs_meta_set(r, "trainable", t->trainable ? "1" : "0"))
        return -1;
    if (slot && dfs_meta_set(r, "slot", slot)) return -1;
    return dfs_write_record(o, r);
}

int nn_checkpoint_save(const nn_graph *g, const char *arch, int64_t size, const char *extra_meta,
                       const nn_ckpt_state *state, const char *path)
{
    const nn_model_info *m = nn_model_find(arch);
    if (!m) return dfs_fail("%s: unknown architecture '%s'", path, arch);
    if (!g->params) return dfs_fail("%s: the model has no parameters to save", path);
    if (state && !g->train.adam_m) return dfs_fail("%s: no optimiser state to save", path);
    /* on a device backend the host mirrors are refreshed first */
    if (nn_graph_sync_params(g, NN_TO_HOST | (state ? NN_SYNC_ADAM : 0)) != 0) return dfs_fail_prefix(path);
    dfs_out o;
    if (dfs_out_open(&o, path, 1, 0) != 0) return -1;
    dfs_record r;
    dfs_record_init(&r);
    uint64_t zero = 0;
    int rc = dfs_record_shape(&r, DFS_U8, 1, &zero);
    rc = rc || dfs_meta_set(&r, "key", arch) || dfs_meta_set(&r, "format", NN_CHECKPOINT_FORMAT) ||
         set_meta_i64(&r, "version", NN_CHECKPOINT_VERSION) || dfs_meta_set(&r, "arch", arch) ||
         set_meta_i64(&r, "size", size) || set_meta_i64(&r, "classes", m->classes) ||
         dfs_meta_set(&r, "output", m->classes == 1 ? "logit; P(fake) = sigmoid(logit)"
                                                    : "2 logits; P(fake) = softmax(logits)[1]") ||
         dfs_meta_set(&r, "labels", "0 real, 1 fake") || set_meta_i64(&r, "tensors", g->ntensors) ||
         set_meta_i64(&r, "train_state", state != NULL) || add_extra_meta(&r, extra_meta) ||
         dfs_write_record(&o, &r);
    for (int i = 0; !rc && i < g->ntensors; i++) rc = write_f32(&o, &r, &g->tensors[i], nn_tensor_data(g, i), NULL);
    if (state) {
        for (int i = 0; !rc && i < g->ntensors; i++) {
            const nn_tensor *t = &g->tensors[i];
            if (t->is_stat) continue;
            rc = write_f32(&o, &r, t, g->train.adam_m + t->off, "adam_m") || write_f32(&o, &r, t, g->train.adam_v + t->off, "adam_v");
        }
        uint64_t four = 4;
        rc = rc || dfs_record_shape(&r, DFS_I64, 1, &four);
        if (!rc) {
            memcpy(r.data, state->rng.s, sizeof state->rng.s);
            rc = dfs_meta_set(&r, "name", "train_state") || set_meta_i64(&r, "adam_steps", state->adam_t) ||
                 set_meta_i64(&r, "epoch", state->epoch) || dfs_write_record(&o, &r);
        }
    }
    dfs_record_free(&r);
    if (rc || dfs_out_commit(&o) != 0) {
        dfs_out_abort(&o);
        return -1;
    }
    return 0;
}

/* ---- loading ---- */

static int meta_is(const dfs_record *r, const char *key, const char *want)
{
    size_t len;
    const char *v = dfs_meta_find(r, key, &len);
    return v && len == strlen(want) && memcmp(v, want, len) == 0;
}

static int parse_header(const char *path, const dfs_record *r, nn_ckpt_info *info)
{
    memset(info, 0, sizeof *info);
    if (!meta_is(r, "format", NN_CHECKPOINT_FORMAT))
        return dfs_fail("%s: not a dfstudy checkpoint (record 0 lacks format=%s)", path, NN_CHECKPOINT_FORMAT);
    char *ver = dfs_meta_dup(r, "version");
    long v = 0;
    int bad = !ver || dfs_parse_long(ver, 1, 1000000, &v) != 0;
    free(ver);
    if (bad) return dfs_fail("%s: checkpoint has no valid version", path);
    if (v != NN_CHECKPOINT_VERSION)
        return dfs_fail("%s: checkpoint format version %ld is not supported (this build reads %d)", path, v,
                        NN_CHECKPOINT_VERSION);
    char *arch = dfs_meta_dup(r, "arch");
    if (!arch || !nn_model_find(arch)) {
        dfs_fail("%s: checkpoint names an unknown architecture '%s'", path, arch ? arch : "");
        free(arch);
        return -1;
    }
    snprintf(info->arch, sizeof info->arch, "%s", arch);
    free(arch);
    char *sz = dfs_meta_dup(r, "size");
    long s = 0;
    bad = !sz || dfs_parse_long(sz, 1, 4096, &s) != 0;
    free(sz);
    if (bad) return dfs_fail("%s: checkpoint has no valid size", path);
    info->size = s;
    info->meta = dfs_strdup(r->meta);
    return 0;
}

int nn_checkpoint_info(const char *path, nn_ckpt_info *info)
{
    dfs_reader rd;
    memset(info, 0, sizeof *info);
    if (dfs_reader_open(&rd, path) != 0) return -1;
    rd.skip_payload = 1;
    dfs_record r;
    dfs_record_init(&r);
    int got = dfs_reader_next(&rd, &r);
    int rc = got < 0 ? -1 : got == 0 ? dfs_fail("%s: empty file, not a checkpoint", path) : parse_header(path, &r, info);
    dfs_record_free(&r);
    dfs_reader_close(&rd);
    return rc;
}

void nn_ckpt_info_free(nn_ckpt_info *info)
{
    free(info->meta);
    info->meta = NULL;
}

static const char *tensor_shape(char *buf, size_t n, int rank, const int64_t *d64, const uint64_t *du)
{
    size_t o = 0;
    buf[0] = '\0';
    for (int i = 0; i < rank && o < n; i++)
        o += (size_t)snprintf(buf + o, n - o, "%s%llu", i ? "x" : "", d64 ? (unsigned long long)d64[i] : (unsigned long long)du[i]);
    return buf;
}

/* Check that r is the f32 record of tensor t (with the given slot) and copy it into dst. */
static int read_tensor(const char *path, uint64_t idx, const dfs_record *r, const nn_tensor *t, const char *slot,
                       float *dst)
{
    char *name = dfs_meta_dup(r, "name");
    if (!name || strcmp(name, t->name) != 0) {
        dfs_fail("%s: record %llu: expected tensor %s%s%s, found '%s'", path, (unsigned long long)idx, t->name,
                 slot ? " " : "", slot ? slot : "", name ? name : "(no name)");
        free(name);
        return -1;
    }
    free(name);
    if (slot ? !meta_is(r, "slot", slot) : dfs_meta_find(r, "slot", NULL) != NULL)
        return dfs_fail("%s: record %llu: tensor %s: expected %s", path, (unsigned long long)idx, t->name,
                        slot ? slot : "the weights, found optimiser state");
    int same = r->dtype == DFS_F32 && r->rank == t->rank;
    for (int i = 0; same && i < t->rank; i++) same = r->dims[i] == (uint64_t)t->dims[i];
    if (!same) {
        char a[96], b[96];
        return dfs_fail("%s: record %llu: tensor %s is %s %s, expected f32 %s", path, (unsigned long long)idx, t->name,
                        dfs_dtype_name(r->dtype), tensor_shape(a, sizeof a, r->rank, NULL, r->dims), 
                        tensor_shape(b, sizeof b, t->rank, t->dims, NULL));
    }
    const float *src = r->data;
    for (int64_t i = 0; i < t->n; i++)
        if (!isfinite(src[i]))
            return dfs_fail("%s: record %llu: tensor %s holds NaN or Inf (element %lld)", path, (unsigned long long)idx,
                            t->name, (long long)i);
    /* a running variance averages batch variances: a negative one is corruption, whose
     * normalisation sqrt(var + eps) would give NaN or a meaningless scale */
    size_t nl = strlen(t->name);
    if (t->is_stat && nl > 12 && strcmp(t->name + nl - 12, ".running_var") == 0)
        for (int64_t i = 0; i < t->n; i++)
            if (src[i] < 0)
                return dfs_fail("%s: record %llu: tensor %s holds a negative variance (element %lld: %g)", path,
                                (unsigned long long)idx, t->name, (long long)i, (double)src[i]);
    memcpy(dst, src, (size_t)t->n * sizeof(float));
    return 0;
}

static int next_or_fail(const char *path, dfs_reader *rd, dfs_record *r, const char *what)
{
    int got = dfs_reader_next(rd, r);
    if (got < 0) return -1;
    if (got == 0) return dfs_fail("%s: checkpoint ends before %s", path, what);
    return 0;
}

int nn_checkpoint_load_into(nn_graph *g, const char *arch, const char *path, nn_ckpt_state *state, int *has_state)
{
    if (has_state) *has_state = 0;
    if (!g->params) return dfs_fail("%s: load: the model's parameters are not allocated", path);
    dfs_reader rd;
    if (dfs_reader_open(&rd, path) != 0) return -1;
    dfs_record r;
    dfs_record_init(&r);
    nn_ckpt_info info;
    memset(&info, 0, sizeof info);
    int rc = next_or_fail(path, &rd, &r, "its header") || parse_header(path, &r, &info);
    if (!rc && strcmp(info.arch, arch) != 0)
        rc = dfs_fail("%s: checkpoint is for architecture %s, not %s", path, info.arch, arch);
    int with_state = !rc && meta_is(&r, "train_state", "1");
    uint8_t *trainable = dfs_calloc((size_t)(g->ntensors ? g->ntensors : 1), 1);
    for (int i = 0; !rc && i < g->ntensors; i++) {
        const nn_tensor *t = &g->tensors[i];
        char what[NN_TENSOR_NAME_MAX + 16];
        snprintf(what, sizeof what, "tensor %s", t->name);
        rc = next_or_fail(path, &rd, &r, what) || read_tensor(path, rd.index - 1, &r, t, NULL, nn_tensor_data(g, i));
        if (!rc) trainable[i] = !t->is_stat && meta_is(&r, "trainable", "1");
    }
    if (!rc && state && with_state) {
        if (!g->train.adam_m) rc = dfs_fail("%s: load: no optimiser state allocated to restore into", path);
        for (int i = 0; !rc && i < g->ntensors; i++) {
            const nn_tensor *t = &g->tensors[i];
            if (t->is_stat) continue;
            rc = next_or_fail(path, &rd, &r, "the optimiser state") ||
                 read_tensor(path, rd.index - 1, &r, t, "adam_m", g->train.adam_m + t->off) ||
                 next_or_fail(path, &rd, &r, "the optimiser state") ||
                 read_tensor(path, rd.index - 1, &r, t, "adam_v", g->train.adam_v + t->off);
        }
        rc = rc || next_or_fail(path, &rd, &r, "the training state record");
        /* Builds before the fix counted every Adam step twice under the key adam_t: the
         * moments and weights they saved were shaped by the wrong bias correction, so such a
         * run cannot be continued into what an uninterrupted run gives now. */
        if (!rc && dfs_meta_find(&r, "adam_steps", NULL) == NULL && dfs_meta_find(&r, "adam_t", NULL) != NULL)
            rc = dfs_fail("%s: training state from an older build that counted each Adam step twice (adam_t); "
                          "it cannot resume exactly: start the run again", path);
        if (!rc) {
            char *t = dfs_meta_dup(&r, "adam_steps"), *e = dfs_meta_dup(&r, "epoch");
            long at = 0, ep = 0;
            if (!meta_is(&r, "name", "train_state") || r.dtype != DFS_I64 || r.rank != 1 || r.dims[0] != 4 || !t || !e ||
                dfs_parse_long(t, 0, LONG_MAX, &at) || dfs_parse_long(e, 0, LONG_MAX, &ep))
                rc = dfs_fail("%s: record %llu: not a valid train_state record", path, (unsigned long long)(rd.index - 1));
            free(t);
            free(e);
            if (!rc) {
                memcpy(state->rng.s, r.data, sizeof state->rng.s);
                state->adam_t = at;
                state->epoch = ep;
                if (has_state) *has_state = 1;
            }
        }
    }
    if (!rc && nn_graph_sync_params(g, NN_TO_DEVICE | (state && with_state ? NN_SYNC_ADAM : 0)) != 0)
        rc = dfs_fail_prefix(path);
    if (!rc) {
        for (int i = 0; i < g->ntensors; i++) g->tensors[i].trainable = trainable[i];
        /* a batchnorm whose gamma is frozen is frozen (graph.h: frozen, frozen_bn_moving) */
        for (int i = 0; i < g->nnodes; i++)
            if (g->nodes[i].kind == NN_BATCHNORM) g->nodes[i].frozen = !g->tensors[g->nodes[i].w].trainable;
    }
    free(trainable);
    nn_ckpt_info_free(&info);
    dfs_record_free(&r);
    dfs_reader_close(&rd);
    return rc ? -1 : 0;
}

nn_graph *nn_checkpoint_load(const char *path, const char *expect_arch, nn_ckpt_info *info)
{
    nn_ckpt_info local;
    nn_ckpt_info *in = info ? info : &local;
    if (nn_checkpoint_info(path, in) != 0) return NULL;
    if (expect_arch && strcmp(in->arch, expect_arch) != 0) {
        dfs_fail("%s: checkpoint is for architecture %s, not %s", path, in->arch, expect_arch);
        nn_ckpt_info_free(in);
        return NULL;
    }
    nn_graph *g = nn_model_build(in->arch, in->size);
    if (!g) {
        dfs_fail_prefix(path);
        nn_ckpt_info_free(in);
        return NULL;
    }
    /* The file must hold every tensor of the model it names: a size= far beyond the file (a corrupt
     * or hostile header: shallownet at 4096 has 34 G parameters) is refused before allocating. */
    struct stat st;
    uint64_t need = ((uint64_t)g->nparams + g->nstats) * sizeof(float);
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size < need) {
        dfs_fail("%s: record 0 names %s at size %lld, %llu bytes of parameters, but the file holds only %llu: "
                 "truncated, or the header of another model", path, in->arch, (long long)in->size,
                 (unsigned long long)need, (unsigned long long)st.st_size);
        nn_graph_free(g);
        nn_ckpt_info_free(in);
        return NULL;
    }
    /* every value is overwritten by the load, so no initialisation */
    g->params = dfs_malloc((g->nparams ? g->nparams : 1) * sizeof(float));
    g->stats = dfs_malloc((g->nstats ? g->nstats : 1) * sizeof(float));
    if (nn_graph_params_allocated(g) != 0 || nn_checkpoint_load_into(g, in->arch, path, NULL, NULL) != 0) {
        nn_graph_free(g);
        nn_ckpt_info_free(in);
        return NULL;
    }
    if (!info) nn_ckpt_info_free(in);
    return g;
}
