/* plan.c: roles, identity pools, splits, video names and record metadata of the synthetic
 * benchmark. Which identities a (role, split) uses is a pure function of the split and the video
 * number, so asking for more videos only appends and never reshuffles the earlier ones. */
#include <stdio.h>
#include <string.h>

#include "synth/synth.h"

static const char *const ROLE_NAMES[SYN_NROLES] = {
    "celeb", "celeb-m", "f2f", "fs", "nt", "df", "dfd", "fs-i", "nt-i",
};
static const int ROLE_POOL[SYN_NROLES] = {
    SYN_POOL_CELEB, SYN_POOL_CELEBM, SYN_POOL_FFPP, SYN_POOL_FFPP, SYN_POOL_FFPP,
    SYN_POOL_FFPP, SYN_POOL_DFD, SYN_POOL_FFPP, SYN_POOL_FFPP,
};
static const int ROLE_METHOD[SYN_NROLES] = {
    SYN_M_CELEB, SYN_M_CELEBM, SYN_M_F2F, SYN_M_FS, SYN_M_NT, SYN_M_DF, SYN_M_DFD, SYN_M_FS, SYN_M_NT,
};
static const char *const SPLIT_NAMES[SYN_NSPLITS] = {"train", "val", "test"};
static const char *const POOL_NAMES[SYN_NPOOLS] = {"ffpp", "celeb", "celeb-m", "dfd"};
static const char *const METHOD_NAMES[SYN_NMETHODS] = {
    "real", "fs", "df", "f2f", "nt", "celeb", "celeb-m", "dfd",
};
/* recordings per identity: one per FF++ source video; Celeb-DF has several interviews per
 * celebrity; DFD filmed each actor in many scenes */
static const int CAPTURES_PER_IDENTITY[SYN_NPOOLS] = {1, 4, 4, 6};
/* fs-i and nt-i take real videos from later in the same recordings as f2f's train split */
#define SYN_FSI_FRAME_OFFSET 500

const char *syn_role_name(int role) { return role >= 0 && role < SYN_NROLES ? ROLE_NAMES[role] : "?"; }
const char *syn_split_name(int split) { return split >= 0 && split < SYN_NSPLITS ? SPLIT_NAMES[split] : "?"; }
const char *syn_pool_name(int pool) { return pool >= 0 && pool < SYN_NPOOLS ? POOL_NAMES[pool] : "?"; }
const char *syn_method_name(int m) { return m >= 0 && m < SYN_NMETHODS ? METHOD_NAMES[m] : "?"; }
int syn_role_pool(int role) { return ROLE_POOL[role]; }
int syn_role_method(int role) { return ROLE_METHOD[role]; }
int syn_pool_captures(int pool) { return CAPTURES_PER_IDENTITY[pool]; }

int syn_role_parse(const char *name)
{
    for (int i = 0; i < SYN_NROLES; i++)
        if (strcmp(name, ROLE_NAMES[i]) == 0) return i;
    return -1;
}

int syn_split_parse(const char *name)
{
    for (int i = 0; i < SYN_NSPLITS; i++)
        if (strcmp(name, SPLIT_NAMES[i]) == 0) return i;
    return -1;
}

int syn_pool_identity(int split, int i) { return 3 * i + split; }

int syn_spec_check(const syn_spec *s)
{
    if (s->role < 0 || s->role >= SYN_NROLES) return dfs_fail("unknown role");
    if (s->split < 0 || s->split >= SYN_NSPLITS) return dfs_fail("unknown split");
    if (s->videos < 2 || s->videos % 2 || s->videos > SYN_MAX_VIDEOS)
        return dfs_fail("--videos: %d is not an even number in [2, %d] (half real, half fake)", s->videos,
                        SYN_MAX_VIDEOS);
    if (s->frames < 1 || s->frames > SYN_MAX_FRAMES)
        return dfs_fail("--frames: %d is not in [1, %d]", s->frames, SYN_MAX_FRAMES);
    if (s->size < SYN_MIN_SIZE || s->size > SYN_MAX_SIZE)
        return dfs_fail("--size: %d is not in [%d, %d]", s->size, SYN_MIN_SIZE, SYN_MAX_SIZE);
    return 0;
}

/* identity number of the e-th identity a (role, split) uses */
static int role_identity(int role, int split, int e)
{
    if (role == SYN_FS_I || role == SYN_NT_I) {
        /* f2f's train identities, dealt out so that the test split takes entries 0, 3, 6, ...
         * (always among the first ones f2f/train uses), train 1, 4, ..., val 2, 5, ... */
        static const int order[SYN_NSPLITS] = {1, 2, 0};
        return syn_pool_identity(SYN_TRAIN, 3 * e + order[split]);
    }
    return syn_pool_identity(split, e);
}

int syn_plan(const syn_spec *s, syn_video *out)
{
    if (syn_spec_check(s) != 0) return -1;
    int pool = ROLE_POOL[s->role], cpi = CAPTURES_PER_IDENTITY[pool];
    for (int j = 0; j < s->videos / 2; j++) {
        int e = j / cpi, cap = j % cpi;
        /* the donor is the partner identity of the same split, as FF++ pairs [a, b] give a_b, b_a */
        int target = role_identity(s->role, s->split, e), donor = role_identity(s->role, s->split, e ^ 1);
        syn_video *r = &out[2 * j], *f = &out[2 * j + 1];
        memset(r, 0, sizeof *r);
        r->label = 0;
        r->method = SYN_M_REAL;
        r->pool = pool;
        r->target = target;
        r->donor = -1;
        r->capture = cap;
        r->frame_offset = (s->role == SYN_FS_I || s->role == SYN_NT_I) ? SYN_FSI_FRAME_OFFSET : 0;
        *f = *r;
        f->label = 1;
        f->method = ROLE_METHOD[s->role];
        f->donor = donor;
        switch (pool) {
        case SYN_POOL_FFPP:
            snprintf(r->name, sizeof r->name, "%03d", target);
            snprintf(f->name, sizeof f->name, "%03d_%03d", target, donor);
            break;
        case SYN_POOL_DFD:
            snprintf(r->name, sizeof r->name, "%02d__scene%d", target, cap);
            snprintf(f->name, sizeof f->name, "%02d_%02d__scene%d", target, donor, cap);
            break;
        default:
            snprintf(r->name, sizeof r->name, "id%d_%04d", target, cap);
            snprintf(f->name, sizeof f->name, "id%d_id%d_%04d", target, donor, cap);
            break;
        }
    }
    return 0;
}

void syn_key(const syn_spec *s, const syn_video *v, int f, char *buf, size_t n)
{
    snprintf(buf, n, "%s/%s/f%0*d", ROLE_NAMES[s->role], v->name, s->frames > 100 ? 3 : 2, f);
}

int syn_meta(const syn_spec *s, const syn_video *v, int f, dfs_record *r)
{
    char buf[160];
    syn_key(s, v, f, buf, sizeof buf);
    if (dfs_meta_set(r, "key", buf) != 0) return -1;
    if (dfs_meta_set(r, "dataset", ROLE_NAMES[s->role]) != 0) return -1;
    if (dfs_meta_set(r, "split", SPLIT_NAMES[s->split]) != 0) return -1;
    if (dfs_meta_set(r, "video", v->name) != 0) return -1;
    snprintf(buf, sizeof buf, "%d", f);
    if (dfs_meta_set(r, "frame", buf) != 0) return -1;
    if (dfs_meta_set(r, "method", METHOD_NAMES[v->method]) != 0) return -1;
    if (dfs_meta_set(r, "pool", POOL_NAMES[v->pool]) != 0) return -1;
    snprintf(buf, sizeof buf, "%s:%d", POOL_NAMES[v->pool], v->target);
    if (dfs_meta_set(r, "identity", buf) != 0) return -1;
    if (v->donor >= 0) {
        snprintf(buf, sizeof buf, "%s:%d", POOL_NAMES[v->pool], v->donor);
        if (dfs_meta_set(r, "donor", buf) != 0) return -1;
    }
    snprintf(buf, sizeof buf, "%d", v->capture);
    if (dfs_meta_set(r, "capture", buf) != 0) return -1;
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)s->seed);
    if (dfs_meta_set(r, "seed", buf) != 0) return -1;
    return dfs_meta_set(r, "generator", "synth");
}
