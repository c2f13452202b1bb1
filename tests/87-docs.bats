#!/usr/bin/env bats
# The docs stay readable from the top: every file the docs, comments and scripts name exists
# (tests/check-refs.sh), here and in a small tree with references planted to be caught.
load helper

@test "docs: every repository file named by the docs, comments and scripts exists" {
    run "$ROOT/tests/check-refs.sh" "$ROOT"
    assert_success
    assert_output ""
}

# tree: a small repository (git tracks what check-refs takes as the repository's files)
tree() {
    mkdir -p t/lib/nn t/bin t/docs t/formats t/bench t/pipelines/profiles t/tests/unit
    : > t/lib/nn/graph.c; : > t/bin/train.c; : > t/formats/a.md; : > t/bench/x.sh
    : > t/tests/unit/test_a.c
    printf '/build/\n/bin/*\n!/bin/*.c\n/bench/gpu-latest.md\n' > t/.gitignore
    git init -q t
}

# run_check: check-refs over the tree with everything in it tracked
run_check() {
    git -C t add -A
    run "$ROOT/tests/check-refs.sh" "$TMP/t"
}

@test "docs: check-refs passes the allowed kinds of reference" {
    tree
    cat > t/README.md <<'EOF'
lib/nn/graph.c and `lib/nn/` and bin/train (the tool built from bin/train.c), build/libdfstudy.a,
bench/gpu-latest.md (written by a script), tests/fuzz/seeds/<target>/, lib/nn/{graph,ops}.c,
lib/nn/*.c, bin/TOOL, /usr/bin/time, $BUILD/tests/test_cam, tensorflow/compiler/tests/x.py.
[a](formats/a.md) [study](../shared/study/paper.md) [web](https://example.org/lib/none.c) [here](#top)
EOF
    printf '[up](../lib/nn/graph.c)\n' > t/docs/guide.md
    printf '# see lib/nn/graph.c\nx: lib/nothere.c\n' > t/pipelines/profiles/p.mk
    printf '/* lib/nn/graph.c */\nconst char *s = "lib/nothere.c";\n' > t/lib/nn/a.c
    run_check
    assert_success
    assert_output ""
}

@test "docs: check-refs names each dangling reference with its file and line, exit 1" {
    tree
    printf 'x\nsee lib/nn/gone.c, and\n' > t/README.md
    printf '[up](../lib/nn/gone.h) [out](../../elsewhere.md)\n' > t/docs/guide.md
    printf 'ok\n`bin/nothere` and formats/gone.md.\n' > t/bench/notes.md
    printf 'x := 1\n# pipelines/gone.sh does it\n' > t/pipelines/profiles/p.mk
    printf '# tests/gone.bats\n' > t/bench/x.sh
    printf 'int x; /* the one\n * in scripts/gone.sh */\n// lib/*.cu\n' > t/lib/nn/graph.c
    run_check
    assert_failure 1
    assert_line "README.md:2: lib/nn/gone.c: no such file in the repository"
    assert_line "docs/guide.md:1: ../lib/nn/gone.h: no such file in the repository"
    assert_line "docs/guide.md:1: ../../elsewhere.md (outside the repository): no such file in the repository"
    assert_line "bench/notes.md:2: bin/nothere: no such file in the repository"
    assert_line "bench/notes.md:2: formats/gone.md: no such file in the repository"
    assert_line "pipelines/profiles/p.mk:2: pipelines/gone.sh: no such file in the repository"
    assert_line "bench/x.sh:1: tests/gone.bats: no such file in the repository"
    assert_line "lib/nn/graph.c:2: scripts/gone.sh: no such file in the repository"
    assert_line "lib/nn/graph.c:3: lib/*.cu: no such file in the repository"
    [ "${#lines[@]}" -eq 9 ]
}

@test "docs: README's layout table has a row for each top-level folder and each folder of lib/" {
    run "$ROOT/tests/check-layout.sh" "$ROOT"
    assert_success
    assert_output ""
}

@test "docs: check-layout names each folder the table lacks, exit 1" {
    git init -q t
    mkdir -p t/lib/nn/cuda t/lib/face t/bench t/.ci
    : > t/lib/common.c; : > t/lib/nn/cuda/a.cu; : > t/lib/face/f.c; : > t/bench/b.sh; : > t/.ci/run
    printf '# x\n\n## Layout\n\n| path | what |\n|---|---|\n| `lib/` | x |\n| `lib/nn/` | y |\n| `.ci/` | z |\n\n## Other\n\n| `bench/` | not the layout |\n' > t/README.md
    git -C t add -A
    run "$ROOT/tests/check-layout.sh" "$TMP/t"
    assert_failure 1
    assert_output "README.md: Layout has no row for bench/
README.md: Layout has no row for lib/face/
README.md: Layout has no row for lib/nn/cuda/"
}

@test "docs: bench/README.md links every recorded page of bench/" {
    local f missing=""
    for f in "$ROOT"/bench/*.md; do
        f=$(basename "$f")
        [ "$f" = README.md ] && continue
        grep -qF "]($f)" "$ROOT/bench/README.md" || missing="$missing $f"
    done
    assert_equal "$missing" ""
}
