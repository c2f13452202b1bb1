/* batch.c: image records -> float NCHW batches (see batch.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "nn/batch.h"

void nn_image_to_chw(const uint8_t *hwc, int64_t H, int64_t W, float *chw)
{
    const int64_t plane = H * W;
    const float s = 1.0f / 255.0f;
    for (int64_t p = 0; p < plane; p++) {
        chw[p] = hwc[3 * p] * s;
        chw[plane + p] = hwc[3 * p + 1] * s;
        chw[2 * plane + p] = hwc[3 * p + 2] * s;
    }
}

static void shape_str(char *buf, size_t n, int rank, const uint64_t *dims)
{
    size_t k = 0;
    buf[0] = 0;
    for (int i = 0; i < rank && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, "%s%llu", i ? "x" : "", (unsigned long long)dims[i]);
    if (rank == 0) snprintf(buf, n, "scalar");
}

int nn_index_check(const dfs_index *ix, int64_t size, int labels_required)
{
    if (ix->n == 0) return dfs_fail("%s: no records", ix->path);
    char got[96];
    shape_str(got, sizeof got, ix->rank, ix->dims);
    if (ix->dtype != DFS_U8)
        return dfs_fail("%s: records are %s %s, expected u8 images %lldx%lldx3", ix->path,
                        dfs_dtype_name(ix->dtype), got, (long long)size, (long long)size);
    if (ix->rank != 3 || ix->dims[0] != (uint64_t)size || ix->dims[1] != (uint64_t)size || ix->dims[2] != 3)
        return dfs_fail("%s: images are %s, the model's input is %lldx%lldx3", ix->path, got,
                        (long long)size, (long long)size);
    for (size_t i = 0; i < ix->n; i++) {
        int32_t l = ix->e[i].label;
        if (l == 0 || l == 1 || (!labels_required && l == -1)) continue;
        return dfs_fail("%s: record %zu (key %s): label %d, expected %s", ix->path, i, ix->e[i].key, (int)l,
                        labels_required ? "0 (real) or 1 (fake)" : "0, 1 or -1");
    }
    return 0;
}

int nn_batch_load(const dfs_index *ix, const uint64_t *idx, int64_t n, float *x, float *y)
{
    const int64_t H = (int64_t)ix->dims[0], W = (int64_t)ix->dims[1];
    const size_t img = (size_t)(H * W * 3);
    int failed = 0;
    char err[512] = "";
#pragma omp parallel
    {
        uint8_t *buf = dfs_malloc(img);
#pragma omp for schedule(static)
        for (int64_t i = 0; i < n; i++) {
            if (dfs_index_read(ix, (size_t)idx[i], buf) != 0) {
#pragma omp critical(nn_batch_err)
                {
                    if (!failed) snprintf(err, sizeof err, "%s", dfs_error());
                    failed = 1;
                }
                continue;
            }
            nn_image_to_chw(buf, H, W, x + (size_t)i * img);
            y[i] = ix->e[idx[i]].label == 1 ? 1.0f : 0.0f;
        }
        free(buf);
    }
    if (failed) return dfs_fail("%s", err);
    return 0;
}

int nn_record_check(const dfs_record *r, uint64_t index, int64_t size)
{
    char got[96];
    shape_str(got, sizeof got, r->rank, r->dims);
    if (r->dtype != DFS_U8)
        return dfs_fail("record %llu: %s %s is not an u8 image; the model's input is %lldx%lldx3",
                        (unsigned long long)index, dfs_dtype_name(r->dtype), got, (long long)size, (long long)size);
    if (r->rank != 3 || r->dims[0] != (uint64_t)size || r->dims[1] != (uint64_t)size || r->dims[2] != 3)
        return dfs_fail("record %llu: image %s does not match the model's input %lldx%lldx3",
                        (unsigned long long)index, got, (long long)size, (long long)size);
    return 0;
}
