#!/usr/bin/env bats
# lib/'s layers (tests/check-layers.sh): which folder may include which, and that nothing outside
# lib/tool/ prints or exits; here, and in a small tree with violations planted to be caught.
load helper

@test "layers: lib/ keeps its include directions, and only lib/tool/ prints or exits" {
    run "$ROOT/tests/check-layers.sh" "$ROOT"
    assert_success
    assert_output ""   # no finding at all: nothing is let pass as pending
}

@test "layers: check-layers names each violation with its file and line, exit 1" {
    mkdir -p t/lib/core t/lib/nn t/lib/study t/lib/tool t/lib/media
    cat > t/lib/core/a.c <<'EOF'
#include "core/a.h"
#include "study/dataset.h"
#include "b.h"
/* exit(1) and stderr in a comment are words, not calls */
static const char *s = "exit(1) on stderr";   // nor in a string: exit(2)
void a(FILE *f) { fprintf(f, "to the caller's stream\n"); }
void b(void) { fprintf(stderr, "x\n"); }
void c(void) { if (1) exit(1); }
EOF
    cat > t/lib/nn/n.c <<'EOF'
#include "nn/graph.h"
#include "study/trainer.h"
#include "tool/tool.h"
void n(void) { dfs_die("no"); abort(); printf("x"); }
void m(void) { exit(1); }   /* layers: oom */
EOF
    cat > t/lib/study/s.c <<'EOF'
#include "nn/graph.h"
#include "media/image.h"
#include "analysis/ace.h"
EOF
    printf '#include "study/trainer.h"\nvoid t(void) { fprintf(stderr, "ok\\n"); exit(1); }\n' > t/lib/tool/t.c
    printf 'void top(void) {}\n' > t/lib/top.c
    printf '#include "core/common.h"\nvoid g(void) { dfs_die("graph"); }\n' > t/lib/nn/graph_x.c
    git init -q t && git -C t add -A
    run "$ROOT/tests/check-layers.sh" "$TMP/t"
    assert_failure 1
    assert_output "lib/core/a.c:2: core includes study/dataset.h: core may include only core
lib/core/a.c:3: #include \"b.h\" is not path-qualified (\"core/common.h\", with -Ilib)
lib/core/a.c:7: stderr outside lib/tool/: the library returns errors (dfs_fail) and leaves printing and exiting to the tools
lib/core/a.c:8: exit( outside lib/tool/: the library returns errors (dfs_fail) and leaves printing and exiting to the tools
lib/nn/graph_x.c:2: dfs_die( outside lib/tool/: the library returns errors (dfs_fail) and leaves printing and exiting to the tools
lib/nn/n.c:2: nn includes study/trainer.h: nn may include only core, nn
lib/nn/n.c:3: nn includes tool/tool.h: nn may include only core, nn
lib/nn/n.c:4: dfs_die( outside lib/tool/: the library returns errors (dfs_fail) and leaves printing and exiting to the tools
lib/nn/n.c:5: the \"layers: oom\" exception belongs to lib/core/common.c only
lib/nn/n.c:5: exit( outside lib/tool/: the library returns errors (dfs_fail) and leaves printing and exiting to the tools
lib/study/s.c:3: study includes analysis/ace.h: study may include only core, media, nn, study
lib/top.c:1: not in a layer folder of lib/ (analysis, core, face, media, nn, study, synth, tool)"
}

@test "layers: check-layers also catches <layer/x.h>, '..', vprintf, dprintf, assert, err.h, error(), STDERR_FILENO, quick_exit, fd 1 and 2, C++ streams and files not yet added" {
    mkdir -p t/lib/core t/lib/media
    cat > t/lib/core/h.c <<'EOF2'
#include <study/dataset.h>
#include "core/../study/dataset.h"
#include <stdio.h>
void a(const char *f, va_list ap) { vprintf(f, ap); }
void b(void) { dprintf(2, "x"); }
void c(void) { assert(0); }
void d(void) { errx(1, "x"); }
void e(void) { warn("x"); }
void f(void) { error(1, 0, "x"); }
void g(void) { write(STDERR_FILENO, "x", 1); }
void h(void) { quick_exit(1); }
_Static_assert(1, "a compile-time check"); static_assert(1, "nor is this");
void i(void) { write(2, "x", 1); }
void j(void) { FILE *f = fdopen(1, "w"); (void)f; }
void k(int fd) { write(fd, "to the caller's descriptor", 26); }
EOF2
    printf '__global__ void k(void) {}\nvoid h(void) { std::cerr << "x"; }\n' > t/lib/core/c.cu
    printf 'void gone(void) { puts("x"); }\n' > t/lib/media/gone.c
    git init -q t && git -C t add -A
    rm t/lib/media/gone.c   # deleted but still in the index: nothing to read, nothing to report
    printf '#include "core/common.h"\nvoid n(void) { puts("x"); }\n' > t/lib/media/new.c   # not added yet
    run "$ROOT/tests/check-layers.sh" "$TMP/t"
    assert_failure 1
    assert_output "lib/core/c.cu:2: cerr outside lib/tool/: the library returns errors (dfs_fail) and leaves printing and exiting to the tools
lib/core/h.c:1: core includes study/dataset.h: core may include only core
lib/core/h.c:2: #include \"core/../study/dataset.h\" steps out with \"..\": name the header by its layer (\"core/common.h\")
lib/core/h.c:4: vprintf( outside lib/tool/: the library returns errors (dfs_fail) and leaves printing and exiting to the tools
lib/core/h.c:5: dprintf( outside lib/tool/: the library returns errors (dfs_fail) and leaves printing and exiting to the tools
lib/core/h.c:6: assert( outside lib/tool/: the library returns errors (dfs_fail) and leaves printing and exiting to the tools
lib/core/h.c:7: errx( outside lib/tool/: the library returns errors (dfs_fail) and leaves printing and exiting to the tools
lib/core/h.c:8: warn( outside lib/tool/: the library returns errors (dfs_fail) and leaves printing and exiting to the tools
lib/core/h.c:9: error( outside lib/tool/: the library returns errors (dfs_fail) and leaves printing and exiting to the tools
lib/core/h.c:10: STDERR_FILENO outside lib/tool/: the library returns errors (dfs_fail) and leaves printing and exiting to the tools
lib/core/h.c:11: quick_exit( outside lib/tool/: the library returns errors (dfs_fail) and leaves printing and exiting to the tools
lib/core/h.c:13: write(2, outside lib/tool/: the library returns errors (dfs_fail) and leaves printing and exiting to the tools
lib/core/h.c:14: fdopen(1, outside lib/tool/: the library returns errors (dfs_fail) and leaves printing and exiting to the tools
lib/media/new.c:2: puts( outside lib/tool/: the library returns errors (dfs_fail) and leaves printing and exiting to the tools"
}
