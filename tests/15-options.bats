#!/usr/bin/env bats
# The tools' option tables (lib/core/args.h) against their --help text: every option a tool accepts
# is documented, and the parser's generic errors keep their wording.
load helper

# the tools whose options are parsed by dfs_args_parse (the hidden --list-options prints the table)
TOOLS="predict cam ace train ssim score synth pack crop frame-extract"

@test "options: every option of a tool's table appears in its --help" {
    for t in $TOOLS; do
        run --separate-stderr "$t" --list-options
        assert_success
        [ -n "$output" ]
        local names="$output"
        run --separate-stderr "$t" --help
        assert_success
        local help="$output" n
        for n in $names; do
            # as a word: followed by a space, a comma, ']', '=' or the end of a line
            if ! grep -qE -- "(^|[^A-Za-z0-9-])$n([] ,=]|$)" <<< "$help"; then
                echo "$t: option $n is not in its --help" >&2
                return 1
            fi
        done
    done
}

@test "options: '--name=value', '--' and a value that looks like an option" {
    run --separate-stderr predict --batch=0 -m x
    assert_failure
    assert_equal "$stderr" "predict: --batch: '0' is not an integer in [1, 65536]"
    run --separate-stderr predict -m x -- --nope
    assert_failure
    assert_equal "$stderr" "predict: x: No such file or directory"   # not: unknown argument
    # as getopt did for crop and frame-extract: a bad value named by the long spelling, a value
    # attached to a one-letter option
    run --separate-stderr frame-extract -n 0 x.mp4
    assert_failure
    assert_equal "$stderr" "frame-extract: --frames: '0' is not an integer in [1, 1000000]"
    run --separate-stderr crop -j0
    assert_failure
    assert_equal "$stderr" "crop: --jobs: '0' is not an integer in [1, 256]"
    run --separate-stderr crop -j
    assert_failure
    assert_equal "$stderr" "crop: -j: missing argument (see --help)"
    run --separate-stderr synth --role
    assert_failure
    assert_equal "$stderr" "synth: --role: missing value"
}
