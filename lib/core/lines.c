/* lines.c: bounded line reading (see lines.h). */
#include "core/lines.h"

#include "core/common.h"

ssize_t dfs_getline(char **line, size_t *cap, FILE *f)
{
    size_t n = 0;
    int c = EOF;
    flockfile(f);
    while ((c = getc_unlocked(f)) != EOF) {
        if (n + 2 > *cap) {
            if (n >= DFS_MAX_LINE) {
                funlockfile(f);
                return -2;
            }
            size_t want = *cap < 128 ? 128 : 2 * *cap;
            if (want > DFS_MAX_LINE + 2) want = DFS_MAX_LINE + 2;
            *line = dfs_realloc(*line, want);
            *cap = want;
        }
        (*line)[n++] = (char)c;
        if (c == '\n') break;
    }
    funlockfile(f);
    if (n == 0) return -1;
    (*line)[n] = 0;
    return (ssize_t)n;
}
