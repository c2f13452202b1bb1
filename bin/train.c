/* train: build, inspect and (later) train the study's detectors.
 * Now: `train --arch NAME [--size S] --summary` prints the layer table and parameter counts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "nn/graph.h"
#include "nn/models.h"

static const char usage[] =
    "usage: train --arch NAME [--size S] --summary\n"
    "\n"
    "Build one of the study's detectors and print its layer table.\n"
    "\n"
    "  --arch NAME   meso4, mesoinception4, shallownet, xception or efficientnet-b0\n"
    "  --size S      input images are S x S RGB (default 256)\n"
    "  --summary     print one line per node (name, kind, output shape per image, parameters,\n"
    "                inputs) and a last line 'params: total=N trainable=M'; batchnorm running\n"
    "                mean and variance count as non-trainable parameters, as Keras counts them\n"
    "  -h, --help    show this help\n";

typedef struct train_args {
    const char *arch;
    long size;
    int summary;
} train_args;

/* Flags that take a value, then switches; unknown flags are an error. */
static void parse_args(int argc, char **argv, train_args *a)
{
    a->arch = NULL;
    a->size = NN_DEFAULT_SIZE;
    a->summary = 0;
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (!strcmp(f, "-h") || !strcmp(f, "--help")) dfs_print_help(usage);
        if (!strcmp(f, "--summary")) {
            a->summary = 1;
            continue;
        }
        if (!strcmp(f, "--arch") || !strcmp(f, "--size")) {
            if (i + 1 >= argc) dfs_die("%s needs a value", f);
            const char *v = argv[++i];
            if (!strcmp(f, "--arch")) a->arch = v;
            else a->size = dfs_arg_long(f, v, 1, 4096);
            continue;
        }
        dfs_die("unknown argument '%s' (see --help)", f);
    }
    if (!a->arch) dfs_die("--arch is required (see --help)");
    if (!nn_model_find(a->arch))
        dfs_die("--arch: unknown architecture '%s' (meso4, mesoinception4, shallownet, xception, efficientnet-b0)",
                a->arch);
    if (!a->summary) dfs_die("nothing to do: only --summary is implemented so far");
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
    nn_graph *g = nn_model_build(a.arch, a.size);
    if (!g) dfs_die("--size %ld: %s", a.size, dfs_error());
    if (a.summary) print_summary(g);
    nn_graph_free(g);
    if (fflush(stdout) != 0 || ferror(stdout)) dfs_die("<stdout>: write failed");
    return 0;
}
