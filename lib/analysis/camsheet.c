/* camsheet.c: Grad-CAM contact sheets (camsheet.h). */
#include <stdlib.h>
#include <string.h>

#include "analysis/camsheet.h"
#include "analysis/gradcam.h"
#include "media/image.h"
#include "media/montage.h"
#include "core/stream.h"

typedef struct sheet_images {
    dfs_record_list *lists;
    int n;
} sheet_images;

static const dfs_record *find_image(const sheet_images *im, const char *key)
{
    for (int i = 0; i < im->n; i++)
        for (size_t j = 0; j < im->lists[i].n; j++) {
            size_t len;
            const char *k = dfs_meta_find(&im->lists[i].v[j], "key", &len);
            if (k && len == strlen(key) && !memcmp(k, key, len)) return &im->lists[i].v[j];
        }
    return NULL;
}

static int index_of(const char **names, int *n, const char *name)
{
    for (int i = 0; i < *n; i++)
        if (!strcmp(names[i], name)) return i;
    names[*n] = name;
    return (*n)++;
}

/* One heatmap record -> a tile x tile RGB tile. */
static int render(const char *path, long index, const dfs_record *h, const sheet_images *images, int tile,
                  uint8_t *out)
{
    int S;
    dfs_image full = {0}, small = {0};
    if (h->dtype == DFS_F32 && h->rank == 2 && h->dims[0] == h->dims[1] && h->dims[0] > 0 && h->dims[0] <= 4096) {
        S = (int)h->dims[0];
        if (dfs_image_alloc(&full, S, S, 3) != 0) return -1;
        dfs_cam_color(h->data, (int64_t)S * S, full.px);
        if (images->n) {
            char *key = dfs_meta_dup(h, "key");
            const dfs_record *img = key ? find_image(images, key) : NULL;
            if (!img) {
                dfs_fail("%s: record %ld: key '%s' is in none of the image streams", path, index, key ? key : "");
                free(key);
                dfs_image_free(&full);
                return -1;
            }
            free(key);
            if (!dfs_record_is_image(img) || img->dims[0] != (uint64_t)S || img->dims[1] != (uint64_t)S) {
                dfs_image_free(&full);
                return dfs_fail("%s: record %ld: the heatmap is %dx%d, its image is not an RGB image of that size", path,
                                index, S, S);
            }
            dfs_cam_blend(img->data, full.px, (int64_t)S * S, 0.5, full.px);
        }
    } else if (dfs_record_is_image(h)) {
        if (dfs_image_from_record(h, &full) != 0) return -1;
    } else {
        return dfs_fail("%s: record %ld: not a heatmap (f32 (S, S)) or an RGB image", path, index);
    }
    if (full.w == tile && full.h == tile) {
        memcpy(out, full.px, (size_t)tile * tile * 3);
    } else {
        if (dfs_image_resize(&full, &small, tile, tile) != 0) {
            dfs_image_free(&full);
            return -1;
        }
        memcpy(out, small.px, (size_t)tile * tile * 3);
        dfs_image_free(&small);
    }
    dfs_image_free(&full);
    return 0;
}

int dfs_cam_sheet(const char *out, const dfs_camsheet_cell *cells, int n_cells, const char *const *images,
                  int n_images, int per_cell, int tile, int font)
{
    if (n_cells < 1) return dfs_fail("%s: no heatmap streams for the sheet", out);
    if (per_cell < 1 || tile < 8) return dfs_fail("%s: per-cell count and tile size must be positive", out);
    const char **rows = calloc((size_t)n_cells, sizeof *rows), **cols = calloc((size_t)n_cells, sizeof *cols);
    sheet_images im = {calloc((size_t)n_images + 1, sizeof(dfs_record_list)), 0};
    uint8_t **tiles = NULL;
    char *used = NULL;
    int nr = 0, nc = 0, rc = -1;
    if (!rows || !cols || !im.lists) {
        dfs_fail("out of memory");
        goto done;
    }
    for (int i = 0; i < n_cells; i++) {
        index_of(rows, &nr, cells[i].row);
        index_of(cols, &nc, cells[i].col);
    }
    for (; im.n < n_images; im.n++)
        if (dfs_read_all(images[im.n], &im.lists[im.n]) != 0) goto done;
    size_t ntiles = (size_t)nr * nc * per_cell;
    tiles = calloc(ntiles, sizeof *tiles);
    used = calloc((size_t)nr * nc, 1);
    if (!tiles || !used) {
        dfs_fail("out of memory");
        goto done;
    }
    for (int i = 0; i < n_cells; i++) {
        int r = index_of(rows, &nr, cells[i].row), c = index_of(cols, &nc, cells[i].col);
        if (used[(size_t)r * nc + c]++) {
            dfs_fail("%s: a second stream for row %s, column %s", cells[i].path, cells[i].row, cells[i].col);
            goto done;
        }
        dfs_reader rd;
        dfs_record h;
        if (dfs_reader_open(&rd, cells[i].path) != 0) goto done;
        dfs_record_init(&h);
        for (int k = 0; k < per_cell; k++) {
            int got = dfs_reader_next(&rd, &h);
            if (got < 0) {
                dfs_record_free(&h);
                dfs_reader_close(&rd);
                goto done;
            }
            if (got == 0) break;
            uint8_t **t = &tiles[((size_t)r * nc + c) * per_cell + k];
            *t = malloc((size_t)tile * tile * 3);
            if (!*t || render(cells[i].path, k, &h, &im, tile, *t) != 0) {
                if (!*t) dfs_fail("out of memory");
                dfs_record_free(&h);
                dfs_reader_close(&rd);
                goto done;
            }
        }
        dfs_record_free(&h);
        dfs_reader_close(&rd);
    }
    dfs_montage m = {.rows = nr, .cols = nc * per_cell, .tile = tile, .group = per_cell, .font = font,
                     .row_labels = rows, .group_labels = cols};
    rc = dfs_montage_write(out, &m, (const uint8_t *const *)tiles);
done:
    if (tiles)
        for (size_t i = 0; i < (size_t)nr * nc * per_cell; i++) free(tiles[i]);
    free(tiles);
    free(used);
    for (int i = 0; i < im.n; i++) dfs_record_list_free(&im.lists[i]);
    free(im.lists);
    free(rows);
    free(cols);
    return rc;
}
