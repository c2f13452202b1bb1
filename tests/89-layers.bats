#!/usr/bin/env bats
# lib/'s layers (tests/check-layers.sh): which folder may include which, and that nothing outside
# lib/tool/ prints or exits; here, and in a small tree with violations planted to be caught.
load helper

@test "layers: lib/ keeps its include directions, and only lib/tool/ prints or exits" {
    run "$ROOT/tests/check-layers.sh" "$ROOT"
    assert_success
    # what is left of lib/nn/graph.c's exits is reported, never silently passed
    refute_line --regexp '^lib/'
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
    printf '#include "core/common.h"\nvoid g(void) { dfs_die("pending"); }\n' > t/lib/nn/graph_x.c
    git init -q t && git -C t add -A
    run "$ROOT/tests/check-layers.sh" "$TMP/t"
    assert_failure 1
    assert_output "lib/core/a.c:2: core includes study/dataset.h: core may include only core
lib/core/a.c:3: #include \"b.h\" is not path-qualified (\"core/common.h\", with -Ilib)
lib/core/a.c:7: stderr outside lib/tool/: the library returns errors (dfs_fail) and leaves printing and exiting to the tools
lib/core/a.c:8: exit( outside lib/tool/: the library returns errors (dfs_fail) and leaves printing and exiting to the tools
pending: lib/nn/graph_x.c:2: dfs_die( outside lib/tool/: the library returns errors (dfs_fail) and leaves printing and exiting to the tools
lib/nn/n.c:2: nn includes study/trainer.h: nn may include only core, nn
lib/nn/n.c:3: nn includes tool/tool.h: nn may include only core, nn
lib/nn/n.c:4: dfs_die( outside lib/tool/: the library returns errors (dfs_fail) and leaves printing and exiting to the tools
lib/nn/n.c:5: the \"layers: oom\" exception belongs to lib/core/common.c only
lib/nn/n.c:5: exit( outside lib/tool/: the library returns errors (dfs_fail) and leaves printing and exiting to the tools
lib/study/s.c:3: study includes analysis/ace.h: study may include only core, media, nn, study
lib/top.c:1: not in a layer folder of lib/ (analysis, core, face, media, nn, study, synth, tool)
check-layers: 1 pending finding(s) in lib/nn/graph*.c"
}
