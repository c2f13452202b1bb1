/* args.c: the tools' option parser (args.h). */
#include "core/args.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"

static const dfs_opt *find(const dfs_opt *opts, const char *s, size_t n)
{
    for (const dfs_opt *o = opts; o->kind != DFS_OPT_END; o++)
        if ((strlen(o->name) == n && !strncmp(o->name, s, n)) ||
            (o->alias && strlen(o->alias) == n && !strncmp(o->alias, s, n)))
            return o;
    return NULL;
}

static int takes_value(const dfs_opt *o)
{
    return o->kind == DFS_OPT_STR || o->kind == DFS_OPT_LONG || o->kind == DFS_OPT_DOUBLE || o->kind == DFS_OPT_LIST;
}

/* A bad value is named by the option's long spelling ("-j 0": "--jobs: '0' is not ..."), as the
 * getopt tools always named it; an option without one by what was written. */
static int store(const dfs_opt *o, const char *written, const char *v)
{
    const char *flag = o->name[1] == '-' ? o->name : o->alias && o->alias[1] == '-' ? o->alias : written;
    switch (o->kind) {
    case DFS_OPT_STR:
        if (o->dest) *(const char **)o->dest = v;
        return 0;
    case DFS_OPT_LONG: {
        long x;
        if (dfs_parse_long(v, o->lo, o->hi, &x) != 0) return dfs_fail_prefix(flag);
        if (o->dest) *(long *)o->dest = x;
        return 0;
    }
    case DFS_OPT_DOUBLE: {
        double x;
        if (dfs_parse_double(v, &x) != 0) return dfs_fail_prefix(flag);
        if (x < o->dlo || x > o->dhi) return dfs_fail("%s: %s is outside [%g, %g]", flag, v, o->dlo, o->dhi);
        if (o->dest) *(double *)o->dest = x;
        return 0;
    }
    case DFS_OPT_LIST: {
        dfs_arglist *l = o->dest;
        l->v = dfs_realloc(l->v, ((size_t)l->n + 1) * sizeof *l->v);
        l->v[l->n++] = v;
        return 0;
    }
    default:
        return dfs_fail("%s: internal error: option kind %d takes no value", flag, (int)o->kind);
    }
}

int dfs_args_parse(dfs_args *a, const dfs_opt *opts, int argc, char **argv)
{
    const char *unknown = a->unknown_fmt ? a->unknown_fmt : "unknown option '%s' (see --help)";
    const char *missing = a->missing_fmt ? a->missing_fmt : "%s needs a value";
    a->pos.v = dfs_malloc(((size_t)(argc > 0 ? argc : 0) + 1) * sizeof *a->pos.v);
    a->pos.n = 0;
    int only_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (only_pos || s[0] != '-' || !s[1]) {   /* "-" is stdin, an argument */
            a->pos.v[a->pos.n++] = s;
            continue;
        }
        if (!strcmp(s, "--")) {
            only_pos = 1;
            continue;
        }
        /* "--name=value": only long names, only options that take a value */
        const char *eq = s[1] == '-' ? strchr(s, '=') : NULL;
        size_t n = eq ? (size_t)(eq - s) : strlen(s);
        const dfs_opt *o = find(opts, s, n);
        if (eq && o && !takes_value(o)) o = NULL;
        /* "-j4": a one-letter option's value attached, as getopt takes it */
        const char *attached = NULL;
        if (!o && s[1] != '-' && (o = find(opts, s, 2)) != NULL) {
            if (takes_value(o)) {
                attached = s + 2;
                n = 2;
            } else {
                o = NULL;
            }
        }
        if (!o) {
            if (!strcmp(s, "--list-options")) return DFS_ARGS_LIST;
            /* the formats are the tools' string literals (args.h) */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
            return dfs_fail(unknown, s);
#pragma GCC diagnostic pop
        }
        if (o->count) (*o->count)++;
        if (o->kind == DFS_OPT_STOP) return o->code;
        if (o->kind == DFS_OPT_FLAG) {
            if (o->dest) *(int *)o->dest = 1;
            continue;
        }
        char flag[128];
        snprintf(flag, sizeof flag, "%.*s", (int)(n < sizeof flag - 1 ? n : sizeof flag - 1), s);
        const char *v;
        if (eq) v = eq + 1;
        else if (attached) v = attached;
        else if (i + 1 < argc) v = argv[++i];
        else {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
            return dfs_fail(missing, flag);
#pragma GCC diagnostic pop
        }
        if (store(o, flag, v) != 0) return -1;
    }
    return 0;
}

char *dfs_args_names(const dfs_opt *opts)
{
    size_t n = 1;
    for (const dfs_opt *o = opts; o->kind != DFS_OPT_END; o++)
        n += strlen(o->name) + 1 + (o->alias ? strlen(o->alias) + 1 : 0);
    char *s = dfs_malloc(n), *p = s;
    for (const dfs_opt *o = opts; o->kind != DFS_OPT_END; o++) {
        p += sprintf(p, "%s\n", o->name);
        if (o->alias) p += sprintf(p, "%s\n", o->alias);
    }
    *p = 0;
    return s;
}
