/* lines.h: reading text files line by line with a bound on the line length.
 *
 * getline() grows its buffer to whatever the file holds: one 1 GB line (a corrupt or hostile
 * manifest, a binary file given as a TSV) is a 1 GB allocation before any check runs. Every text
 * format of dfstudy (manifests, score TSVs, ace tables, box lists) has short lines, so readers use
 * dfs_getline and refuse a longer line with "FILE: line N: longer than DFS_MAX_LINE bytes". */
#ifndef DFS_LINES_H
#define DFS_LINES_H

#include <stdio.h>
#include <sys/types.h>

#define DFS_MAX_LINE (1u << 20)   /* 1 MiB, newline included */

/* As getline(&line, &cap, f): the next line with its '\n' (if any), NUL-terminated, its length
 * returned (NUL bytes inside count). -1 at end of file or on a read error (ferror tells), -2 when
 * the line is longer than DFS_MAX_LINE (the buffer then holds at most DFS_MAX_LINE + 1 bytes). */
ssize_t dfs_getline(char **line, size_t *cap, FILE *f);

#endif
