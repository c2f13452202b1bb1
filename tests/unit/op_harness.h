/* op_harness.h: the op under test for test_layers and test_ops, as globals a forward function
 * reads. Up to three inputs X, W, B (data, weight, bias for a layer; any three tensors for a
 * structural op), their gradients GX, GW, GB (pre-filled with random values G0X, G0W, G0B that
 * `analytic` subtracts after backward, which checks that backward ACCUMULATES), the output OUT
 * of NOUT values and the loss weights RW of gradcheck.h's L = sum(OUT * RW). */
#ifndef DFS_OP_HARNESS_H
#define DFS_OP_HARNESS_H

#include "gradcheck.h"

#include <string.h>

#define FMAX 4096   /* every test tensor fits */

static float X[FMAX], W[FMAX], B[FMAX], OUT[FMAX], RW[FMAX];
static float GX[FMAX], GW[FMAX], GB[FMAX], G0X[FMAX], G0W[FMAX], G0B[FMAX];
static int64_t NOUT;
static void (*fwd)(void);

static double loss(void *ctx)
{
    (void)ctx;
    fwd();
    return gc_dot(OUT, RW, NOUT);
}

static void prefill(dfs_rng *rng, int64_t nx, int64_t nw, int64_t nb)
{
    gc_fill(G0X, nx, rng, -1, 1), gc_fill(G0W, nw, rng, -1, 1), gc_fill(G0B, nb, rng, -1, 1);
    memcpy(GX, G0X, nx * sizeof(float)), memcpy(GW, G0W, nw * sizeof(float)), memcpy(GB, G0B, nb * sizeof(float));
}

static void analytic(int64_t nx, int64_t nw, int64_t nb)
{
    gc_delta(GX, G0X, nx), gc_delta(GW, G0W, nw), gc_delta(GB, G0B, nb);
}

#endif
