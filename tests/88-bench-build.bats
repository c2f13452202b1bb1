#!/usr/bin/env bats
# make bench: the benchmark programs (bench/*.c) are built by the Makefile with its own flags (one
# copy: CFLAGS given to make, as bench/gpu-pack.sh gives its portable ones, reach them), and the
# bench scripts build through make rather than with compiler lines of their own. Dry runs only
# (make -n): a real build of the library takes minutes.
load helper

@test "make bench: each bench/*.c is a target built and linked with the Makefile's flags" {
    run make -s -C "$ROOT" -n BUILD="$TMP/b" bench-build
    assert_success
    local c n=0
    for c in "$ROOT"/bench/*.c; do
        c=$(basename "$c" .c)
        assert_line --regexp "^[^ ]+ .* -Wall -Wextra -Werror .* -c bench/$c\.c -o $TMP/b/bench/$c\.o\$"
        assert_line --regexp "^[^ ]+ .* -o $TMP/b/bench/$c $TMP/b/bench/$c\.o $TMP/b/libdfstudy\.a .*-lopenblas"
        n=$((n + 1))
    done
    [ "$n" -ge 6 ]
    run make -s -C "$ROOT" -n BUILD="$TMP/b" bench
    assert_success
    assert_line "BUILD=$TMP/b bench/quick.sh"
}

@test "make bench: CFLAGS given to make reach the bench programs (bench/gpu-pack.sh's portable build)" {
    run make -s -C "$ROOT" -n BUILD="$TMP/b" CFLAGS="-O2 -g -march=x86-64-v3 -Wl,--as-needed" TOOLS= "$TMP/b/bench/nnbench"
    assert_success
    assert_line --regexp "^[^ ]+ -O2 -g -march=x86-64-v3 -Wl,--as-needed -std=c11 .* -c bench/nnbench\.c -o $TMP/b/bench/nnbench\.o\$"
    refute_line --regexp "march=native"
}

# compile_lines FILE: FILE's commands (continuation lines joined) that run a C compiler on a bench/*.c
compile_lines() {
    sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$1" |
        grep -E '(^|[^+])\<(cc|gcc|clang|\$CC|\$\{CC\})[[:space:]][^|;]*bench/[A-Za-z0-9_-]+\.c'
}

@test "make bench: no bench script compiles a bench/*.c with a compiler line of its own" {
    local f
    for f in "$ROOT"/bench/*.sh; do
        run compile_lines "$f"
        assert_failure 1
        assert_output ""
    done
    # the check sees such a line, continued or not
    printf 'x=1\ncc -O2 -std=c11 -Ilib \\\n    bench/nnbench.c -o n\n' > old.sh
    run compile_lines old.sh
    assert_success
    assert_output "cc -O2 -std=c11 -Ilib     bench/nnbench.c -o n"
}

@test "make bench: quick.sh without the programs: one line naming the make target, exit 2" {
    run --separate-stderr env BUILD="$TMP/none" "$ROOT/bench/quick.sh"
    [ "$status" -eq 2 ]
    assert_equal "$stderr" "quick.sh: $TMP/none/bench/nnbench is missing (make BUILD=$TMP/none bench-build)"
    assert_output ""
}

@test "bench/cpu.sh --base: a name that is no revision is one line and exit 2, before anything is built" {
    run --separate-stderr env BUILD="$TMP/none" "$ROOT/bench/cpu.sh" --base no-such-revision-x --out "$TMP/cpu.md"
    [ "$status" -eq 2 ]
    assert_equal "$stderr" "cpu.sh: --base: 'no-such-revision-x' is not a revision"
    [ ! -e "$TMP/none" ]
    [ ! -e "$TMP/cpu.md" ]
}

@test "synth-noav (the synth bench/gpu-pack.sh carries): loads no FFmpeg library and writes synth's image stream" {
    # the suite's build, up to date: this makes only the FFmpeg-free copy of the library (again
    # whenever the library changed) and the link
    local b=${BUILD:-build}
    run make -s -C "$ROOT" BUILD="$b" "$b/tools/synth-noav"
    assert_success
    case "$b" in /*) ;; *) b=$ROOT/$b ;; esac
    run readelf -d "$b/tools/synth-noav"
    assert_success
    assert_output --partial "libpng"
    refute_output --regexp "NEEDED.*lib(av|sw)"
    local want got
    want=$(synth --role celeb --videos 2 --frames 2 --size 32 --seed 3 | cksum)
    got=$("$b/tools/synth-noav" --role celeb --videos 2 --frames 2 --size 32 --seed 3 | cksum)
    assert_equal "$got" "$want"
}
