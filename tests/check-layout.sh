#!/usr/bin/env bash
# tests/check-layout.sh [ROOT]: README.md's "## Layout" table has a row (| `DIR/` | ...) for each
# top-level folder that git tracks files in and for each folder under lib/, at any depth, so a
# reader finds where everything lives. Prints "README.md: Layout has no row for DIR/" for each
# missing one and exits 1 if any.
set -uo pipefail
ROOT=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$ROOT" || exit 2
# shellcheck disable=SC2016  # the backquotes are the table's, not a command
rows=$(awk '/^## /{on = ($0 == "## Layout")} on && /^\| `[^`]*\/` \|/' README.md |
       sed -E 's/^\| `([^`]*)\/` \|.*/\1/')
bad=0
while IFS= read -r d; do
    grep -qxF "$d" <<< "$rows" || { echo "README.md: Layout has no row for $d/"; bad=1; }
done < <(git ls-files | awk -F/ 'NF > 1 { print $1 }
    $1 == "lib" { p = "lib"; for (i = 2; i < NF; i++) { p = p "/" $i; print p } }' | sort -u)
exit $bad
